//! Values written the way PyTorch and numpy print them: `tensor([[1., 2.],
//! [3., 4.]])` with values right-aligned to one width, `tensor(2.5000)`,
//! integer tensors without a dot, `torch.Size([2, 2])`, numpy's `[0. 1. 2.]`.

use super::value::{DType, TensorValue, Value};

/// PyTorch's print options: 4 decimals, 80 columns, summarised past 1,000
/// elements with 3 at each edge.
const PRECISION: usize = 4;
const LINE_WIDTH: usize = 80;
const THRESHOLD: usize = 1000;
const EDGE_ITEMS: usize = 3;

/// What `print(v)` writes (Python's `str`).
pub fn str_of(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::Tensor(t) if t.numpy => numpy_str(t),
        other => repr_of(other),
    }
}

/// What the prompt echoes and containers show (Python's `repr`).
pub fn repr_of(v: &Value) -> String {
    match v {
        Value::None => "None".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => py_float(*f),
        Value::Str(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::List(items) => format!(
            "[{}]",
            items.iter().map(repr_of).collect::<Vec<_>>().join(", ")
        ),
        Value::Tuple(items) if items.len() == 1 => format!("({},)", repr_of(&items[0])),
        Value::Tuple(items) => format!(
            "({})",
            items.iter().map(repr_of).collect::<Vec<_>>().join(", ")
        ),
        Value::Size(dims) => format!(
            "torch.Size([{}])",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Tensor(t) if t.numpy => numpy_repr(t),
        Value::Tensor(t) => torch_repr(t),
        Value::Module(name) => format!("<module '{name}'>"),
        Value::Dtype(d, numpy) => d.name(*numpy).to_string(),
    }
}

/// Python's `repr(float)`: the shortest text that reads back the same value.
pub fn py_float(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        let s = format!("{v:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        return format!("{mant}e{}", py_exponent(exp));
    }
    let s = format!("{v}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// An exponent written as Python writes it: a sign and at least two digits.
fn py_exponent(exp: &str) -> String {
    let n: i32 = exp.parse().unwrap_or(0);
    format!("{}{:02}", if n < 0 { '-' } else { '+' }, n.abs())
}

/// `{:.4e}` as Python formats it (`1.0000e+05`, not Rust's `1.0000e5`).
fn sci(v: f64, precision: usize) -> String {
    let s = format!("{v:.precision$e}");
    match s.split_once('e') {
        Some((mant, exp)) => format!("{mant}e{}", py_exponent(exp)),
        None => s,
    }
}

// ---------------------------------------------------------------- PyTorch

/// How one tensor's elements are written: PyTorch's `_Formatter`.
struct Formatter {
    dtype: DType,
    int_mode: bool,
    sci_mode: bool,
    width: usize,
}

impl Formatter {
    fn new(dtype: DType, values: &[f64]) -> Formatter {
        let mut f = Formatter {
            dtype,
            int_mode: true,
            sci_mode: false,
            width: 1,
        };
        if dtype != DType::Float {
            f.width = values
                .iter()
                .map(|&v| f.format_raw(v).len())
                .max()
                .unwrap_or(1);
            return f;
        }
        let finite: Vec<f64> = values
            .iter()
            .copied()
            .filter(|v| v.is_finite() && *v != 0.0)
            .collect();
        if finite.is_empty() {
            return f;
        }
        let abs_max = finite.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let abs_min = finite.iter().fold(f64::INFINITY, |m, v| m.min(v.abs()));
        f.int_mode = finite.iter().all(|v| v.fract() == 0.0);
        f.sci_mode = if f.int_mode {
            abs_max / abs_min > 1000.0 || abs_max > 1e8
        } else {
            abs_max / abs_min > 1000.0 || abs_max > 1e8 || abs_min < 1e-4
        };
        f.width = finite
            .iter()
            .map(|&v| f.format_raw(v).len())
            .max()
            .unwrap_or(1);
        f
    }

    fn format_raw(&self, v: f64) -> String {
        match self.dtype {
            DType::Float => {
                if self.sci_mode {
                    sci(v, PRECISION)
                } else if self.int_mode {
                    if v.is_finite() {
                        format!("{v:.0}.")
                    } else {
                        py_float(v)
                    }
                } else if v.is_finite() {
                    format!("{v:.PRECISION$}")
                } else {
                    py_float(v)
                }
            }
            DType::Bool => if v != 0.0 { "True" } else { "False" }.into(),
            DType::Long | DType::Uint8 => format!("{}", v as i64),
        }
    }

    fn format(&self, v: f64) -> String {
        let s = self.format_raw(v);
        format!("{s:>width$}", width = self.width)
    }
}

/// `tensor([[1., 2.], [3., 4.]])` on as many lines as PyTorch uses.
pub fn torch_repr(t: &TensorValue) -> String {
    let shape = t.shape();
    let values = t.values();
    let suffix = match t.dtype {
        DType::Uint8 => ", dtype=torch.uint8",
        _ => "",
    };
    if values.is_empty() {
        let dtype = match t.dtype {
            DType::Float => "",
            DType::Long => ", dtype=torch.int64",
            DType::Bool => ", dtype=torch.bool",
            DType::Uint8 => ", dtype=torch.uint8",
        };
        return if shape.len() == 1 {
            format!("tensor([]{dtype})")
        } else {
            let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            format!("tensor([], size=({}){dtype})", dims.join(", "))
        };
    }
    let summarize = values.len() > THRESHOLD;
    let shown = if summarize {
        summarized(&values, &shape)
    } else {
        values.clone()
    };
    let fmt = Formatter::new(t.dtype, &shown);
    let body = if shape.is_empty() {
        fmt.format(values[0]).trim_start().to_string()
    } else {
        tensor_str(&values, &shape, 7, summarize, &fmt)
    };
    format!("tensor({body}{suffix})")
}

/// The values PyTorch looks at to choose a format when it summarises.
fn summarized(values: &[f64], shape: &[usize]) -> Vec<f64> {
    if shape.is_empty() {
        return values.to_vec();
    }
    let inner: usize = shape[1..].iter().product();
    let rows: Vec<usize> = if shape[0] > 2 * EDGE_ITEMS {
        (0..EDGE_ITEMS)
            .chain(shape[0] - EDGE_ITEMS..shape[0])
            .collect()
    } else {
        (0..shape[0]).collect()
    };
    rows.into_iter()
        .flat_map(|r| summarized(&values[r * inner..(r + 1) * inner], &shape[1..]))
        .collect()
}

fn tensor_str(
    values: &[f64],
    shape: &[usize],
    indent: usize,
    summarize: bool,
    fmt: &Formatter,
) -> String {
    if shape.len() == 1 {
        let element_length = fmt.width + 2;
        let per_line = ((LINE_WIDTH.saturating_sub(indent)) / element_length).max(1);
        let mut data: Vec<String> = Vec::new();
        if summarize && shape[0] > 2 * EDGE_ITEMS {
            data.extend(values[..EDGE_ITEMS].iter().map(|&v| fmt.format(v)));
            data.push(" ...".into());
            data.extend(
                values[shape[0] - EDGE_ITEMS..]
                    .iter()
                    .map(|&v| fmt.format(v)),
            );
        } else {
            data.extend(values.iter().map(|&v| fmt.format(v)));
        }
        let lines: Vec<String> = data.chunks(per_line).map(|c| c.join(", ")).collect();
        return format!(
            "[{}]",
            lines.join(&format!(",\n{}", " ".repeat(indent + 1)))
        );
    }
    let inner: usize = shape[1..].iter().product();
    let slice = |i: usize| {
        tensor_str(
            &values[i * inner..(i + 1) * inner],
            &shape[1..],
            indent + 1,
            summarize,
            fmt,
        )
    };
    let mut slices: Vec<String> = Vec::new();
    if summarize && shape[0] > 2 * EDGE_ITEMS {
        slices.extend((0..EDGE_ITEMS).map(slice));
        slices.push("...".into());
        slices.extend((shape[0] - EDGE_ITEMS..shape[0]).map(slice));
    } else {
        slices.extend((0..shape[0]).map(slice));
    }
    let sep = format!(
        ",{}{}",
        "\n".repeat(shape.len() - 1),
        " ".repeat(indent + 1)
    );
    format!("[{}]", slices.join(&sep))
}

// ---------------------------------------------------------------- numpy

/// numpy's element text: floats with up to 8 decimals and the trailing
/// zeros dropped (`2.`, `0.5`), integers as they are.
fn numpy_elements(t: &TensorValue, values: &[f64]) -> Vec<String> {
    match t.dtype {
        DType::Float => {
            let finite: Vec<f64> = values
                .iter()
                .copied()
                .filter(|v| v.is_finite() && *v != 0.0)
                .collect();
            let max = finite.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let min = finite.iter().fold(f64::INFINITY, |m, v| m.min(v.abs()));
            let sci_mode = !finite.is_empty() && (max >= 1e8 || min < 1e-4 || max / min > 1e3);
            let raw: Vec<String> = values
                .iter()
                .map(|&v| {
                    if !v.is_finite() {
                        return py_float(v);
                    }
                    if sci_mode {
                        let s = sci(v, 8);
                        let (m, e) = s.split_once('e').unwrap_or((&s, ""));
                        let m = m.trim_end_matches('0');
                        return format!("{m}e{e}");
                    }
                    let s = format!("{v:.8}");
                    let s = s.trim_end_matches('0');
                    s.to_string()
                })
                .collect();
            if sci_mode {
                return raw;
            }
            // pad the fractional parts on the right, as numpy does
            let frac = raw
                .iter()
                .map(|s| s.split_once('.').map_or(0, |(_, f)| f.len()))
                .max()
                .unwrap_or(0);
            raw.into_iter()
                .map(|s| match s.split_once('.') {
                    Some((_, f)) => format!("{s}{}", " ".repeat(frac - f.len())),
                    None => s,
                })
                .collect()
        }
        DType::Bool => values
            .iter()
            .map(|&v| if v != 0.0 { "True" } else { "False" }.to_string())
            .collect(),
        DType::Long | DType::Uint8 => values.iter().map(|&v| format!("{}", v as i64)).collect(),
    }
}

fn numpy_body(t: &TensorValue, sep: &str, indent: usize) -> String {
    let shape = t.shape();
    let values = t.values();
    let elems = numpy_elements(t, &values);
    let width = elems.iter().map(|s| s.len()).max().unwrap_or(1);
    let elems: Vec<String> = elems.iter().map(|s| format!("{s:>width$}")).collect();
    if shape.is_empty() {
        return elems[0].trim().to_string();
    }
    numpy_nested(&elems, &shape, sep, indent)
}

fn numpy_nested(elems: &[String], shape: &[usize], sep: &str, indent: usize) -> String {
    if shape.len() == 1 {
        return format!("[{}]", elems.join(sep));
    }
    let inner: usize = shape[1..].iter().product();
    let parts: Vec<String> = (0..shape[0])
        .map(|i| {
            numpy_nested(
                &elems[i * inner..(i + 1) * inner],
                &shape[1..],
                sep,
                indent + 1,
            )
        })
        .collect();
    let row_sep = format!(
        "{}{}{}",
        sep.trim_end(),
        "\n".repeat(shape.len() - 1),
        " ".repeat(indent + 1)
    );
    format!("[{}]", parts.join(&row_sep))
}

/// `print(a)` of a numpy array: `[0. 1. 2.]`.
fn numpy_str(t: &TensorValue) -> String {
    numpy_body(t, " ", 0)
}

/// The prompt's echo of a numpy array: `array([0., 1., 2.])`.
fn numpy_repr(t: &TensorValue) -> String {
    format!("array({})", numpy_body(t, ", ", 6))
}
