//! Running the course's tensor code: each statement evaluated on the
//! engine's tensors, with PyTorch's rules for dtypes, broadcasting,
//! reductions by dimension, views and indexing.

use std::collections::HashMap;
use std::io::Write;

use ndarray::{Axis, IxDyn, Slice};

use super::parser::{Expr, Stmt, Subscript};
use super::print::{repr_of, str_of};
use super::value::{DType, TensorValue, Value};
use crate::engine::tensor::Array;
use crate::Tensor;

type R<T> = Result<T, String>;

/// Names and their values, kept across statements (and prompt lines).
#[derive(Default)]
pub struct Scope {
    vars: HashMap<String, Value>,
}

/// Where a statement's output goes: printed text, and warnings (stderr).
pub struct Output<'a> {
    pub out: &'a mut dyn Write,
    pub warn: &'a mut dyn Write,
}

impl Scope {
    pub fn new() -> Scope {
        Scope::default()
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.vars.get(name)
    }

    /// Run one statement; an expression statement's value is returned (the
    /// prompt echoes it, as Python's does).
    pub fn exec(&mut self, stmt: &Stmt, io: &mut Output) -> R<Option<Value>> {
        match stmt {
            Stmt::Import => Ok(None),
            Stmt::Assign(names, e) => {
                let v = self.eval(e, io)?;
                if names.len() == 1 {
                    self.vars.insert(names[0].clone(), v);
                } else {
                    let items = unpack(&v, names.len())?;
                    for (n, v) in names.iter().zip(items) {
                        self.vars.insert(n.clone(), v);
                    }
                }
                Ok(None)
            }
            Stmt::Expr(e) => {
                let v = self.eval(e, io)?;
                Ok(match v {
                    Value::None => None,
                    v => Some(v),
                })
            }
        }
    }

    fn eval(&mut self, e: &Expr, io: &mut Output) -> R<Value> {
        Ok(match e {
            Expr::Int(i) => Value::Int(*i),
            Expr::Float(f) => Value::Float(*f),
            Expr::Str(s) => Value::Str(s.clone()),
            Expr::Bool(b) => Value::Bool(*b),
            Expr::None => Value::None,
            Expr::Name(n) => match n.as_str() {
                "torch" => Value::Module("torch"),
                "np" | "numpy" => Value::Module("np"),
                _ => self
                    .vars
                    .get(n)
                    .cloned()
                    .ok_or_else(|| format!("NameError: name '{n}' is not defined"))?,
            },
            Expr::List(items) => Value::List(self.eval_all(items, io)?),
            Expr::Tuple(items) => Value::Tuple(self.eval_all(items, io)?),
            Expr::Unary(_, x) => {
                let v = self.eval(x, io)?;
                negate(v)?
            }
            Expr::Binary(op, a, b) => {
                let a = self.eval(a, io)?;
                let b = self.eval(b, io)?;
                binary(op, a, b, io)?
            }
            Expr::Attr(obj, name) => {
                let v = self.eval(obj, io)?;
                attribute(&v, name)?
            }
            Expr::Index(obj, subs) => {
                let v = self.eval(obj, io)?;
                let mut idx = Vec::new();
                for s in subs {
                    idx.push(match s {
                        Subscript::At(e) => Index::At(self.eval(e, io)?),
                        Subscript::Slice(a, b, c) => Index::Slice(
                            self.opt_int(a, io)?,
                            self.opt_int(b, io)?,
                            self.opt_int(c, io)?,
                        ),
                    });
                }
                index(&v, &idx)?
            }
            Expr::Call(callee, args, kwargs) => {
                let args = self.eval_all(args, io)?;
                let mut kw = Vec::new();
                for (k, e) in kwargs {
                    kw.push((k.clone(), self.eval(e, io)?));
                }
                let call = Call { args, kwargs: kw };
                match callee.as_ref() {
                    Expr::Name(n) if n == "print" => {
                        let sep = call.kwarg("sep").map(str_of).unwrap_or_else(|| " ".into());
                        let end = call.kwarg("end").map(str_of).unwrap_or_else(|| "\n".into());
                        let text: Vec<String> = call.args.iter().map(str_of).collect();
                        write!(io.out, "{}{end}", text.join(&sep)).map_err(|e| e.to_string())?;
                        Value::None
                    }
                    Expr::Name(n) if !self.vars.contains_key(n) => builtin(n, &call)?,
                    Expr::Attr(obj, method) => {
                        let receiver = self.eval(obj, io)?;
                        match receiver {
                            Value::Module(m) => module_fn(m, method, &call, io)?,
                            Value::Tensor(t) => {
                                // `x.mul_(2.)` changes x in place
                                if let Some(base) = method.strip_suffix('_') {
                                    let v = tensor_method(&t, base, &call, io)?;
                                    if let Expr::Name(n) = obj.as_ref() {
                                        self.vars.insert(n.clone(), v.clone());
                                    }
                                    v
                                } else {
                                    tensor_method(&t, method, &call, io)?
                                }
                            }
                            Value::Size(dims) if method == "numel" => {
                                Value::Int(dims.iter().product::<usize>() as i64)
                            }
                            other => {
                                return Err(format!(
                                    "AttributeError: '{}' object has no attribute '{method}'",
                                    other.type_name()
                                ))
                            }
                        }
                    }
                    other => {
                        let v = self.eval(other, io)?;
                        return Err(format!(
                            "TypeError: '{}' object is not callable",
                            v.type_name()
                        ));
                    }
                }
            }
        })
    }

    fn eval_all(&mut self, items: &[Expr], io: &mut Output) -> R<Vec<Value>> {
        items.iter().map(|e| self.eval(e, io)).collect()
    }

    fn opt_int(&mut self, e: &Option<Expr>, io: &mut Output) -> R<Option<i64>> {
        match e {
            None => Ok(None),
            Some(e) => {
                let v = self.eval(e, io)?;
                v.as_int()
                    .map(Some)
                    .ok_or_else(|| "TypeError: slice indices must be integers".to_string())
            }
        }
    }
}

fn unpack(v: &Value, n: usize) -> R<Vec<Value>> {
    let items = match v {
        Value::Tuple(items) | Value::List(items) => items.clone(),
        Value::Size(d) => d.iter().map(|&x| Value::Int(x as i64)).collect(),
        Value::Tensor(t) if !t.shape().is_empty() => (0..t.shape()[0])
            .map(|i| index(v, &[Index::At(Value::Int(i as i64))]))
            .collect::<R<Vec<_>>>()?,
        other => return Err(format!("TypeError: cannot unpack a {}", other.type_name())),
    };
    if items.len() != n {
        return Err(format!(
            "ValueError: expected {n} values to unpack, got {}",
            items.len()
        ));
    }
    Ok(items)
}

/// A call's evaluated arguments.
struct Call {
    args: Vec<Value>,
    kwargs: Vec<(String, Value)>,
}

impl Call {
    fn kwarg(&self, name: &str) -> Option<&Value> {
        self.kwargs.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Argument `pos`, or keyword `name`.
    fn arg(&self, pos: usize, name: &str) -> Option<&Value> {
        self.args.get(pos).or_else(|| self.kwarg(name))
    }

    fn int_arg(&self, pos: usize, name: &str) -> R<Option<i64>> {
        match self.arg(pos, name) {
            None | Some(Value::None) => Ok(None),
            Some(v) => v.as_int().map(Some).ok_or_else(|| {
                format!(
                    "TypeError: {name} must be an integer, not {}",
                    v.type_name()
                )
            }),
        }
    }

    fn bool_kwarg(&self, name: &str) -> bool {
        matches!(self.kwarg(name), Some(Value::Bool(true)))
    }

    /// The shape in `f(2, 3)`, `f([2, 3])` or `f((2, 3))`.
    fn dims(&self) -> R<Vec<i64>> {
        let list = match self.args.as_slice() {
            [Value::List(items)] | [Value::Tuple(items)] => items.clone(),
            [Value::Size(d)] => d.iter().map(|&x| Value::Int(x as i64)).collect(),
            _ => self.args.clone(),
        };
        list.iter()
            .map(|v| {
                v.as_int().ok_or_else(|| {
                    format!(
                        "TypeError: a size must be an integer, not {}",
                        v.type_name()
                    )
                })
            })
            .collect()
    }
}

// ---------------------------------------------------------------- building tensors

/// The shape and flat values of a nested list literal, and whether it held
/// floats / only booleans.
fn flatten(
    v: &Value,
    depth: usize,
    shape: &mut Vec<usize>,
    out: &mut Vec<f64>,
    kinds: &mut (bool, bool),
) -> R<()> {
    match v {
        Value::List(items) | Value::Tuple(items) => {
            if shape.len() == depth {
                shape.push(items.len());
            } else if shape[depth] != items.len() {
                return Err(format!(
                    "ValueError: expected sequence of length {} at dim {depth} (got {})",
                    shape[depth],
                    items.len()
                ));
            }
            for item in items {
                flatten(item, depth + 1, shape, out, kinds)?;
            }
            Ok(())
        }
        Value::Tensor(t) => {
            let s = t.shape();
            for (i, d) in s.iter().enumerate() {
                if shape.len() == depth + i {
                    shape.push(*d);
                } else if shape[depth + i] != *d {
                    return Err(format!(
                        "ValueError: expected sequence of length {} at dim {} (got {d})",
                        shape[depth + i],
                        depth + i
                    ));
                }
            }
            kinds.0 |= t.dtype == DType::Float;
            kinds.1 &= t.dtype == DType::Bool;
            out.extend(t.values());
            Ok(())
        }
        scalar => {
            if shape.len() > depth {
                return Err(format!(
                    "ValueError: expected a sequence at dim {depth}, got a number"
                ));
            }
            let x = scalar.as_f64().ok_or_else(|| {
                format!("TypeError: a tensor cannot hold a {}", scalar.type_name())
            })?;
            kinds.0 |= matches!(scalar, Value::Float(_));
            kinds.1 &= matches!(scalar, Value::Bool(_));
            out.push(x);
            Ok(())
        }
    }
}

/// A tensor from a literal; `dtype` None infers it as `torch.tensor` does.
fn make_tensor(v: &Value, dtype: Option<DType>, numpy: bool) -> R<TensorValue> {
    let (mut shape, mut out, mut kinds) = (Vec::new(), Vec::new(), (false, true));
    flatten(v, 0, &mut shape, &mut out, &mut kinds)?;
    // a flat run of numbers below the first level ends at a leaf: fix the shape
    if out.is_empty() && shape.is_empty() {
        shape.push(0);
    }
    let dtype = dtype.unwrap_or(if kinds.0 {
        DType::Float
    } else if kinds.1 && !out.is_empty() {
        DType::Bool
    } else {
        DType::Long
    });
    let data: Vec<f32> = out.iter().map(|&x| x as f32).collect();
    let a = Array::from_shape_vec(IxDyn(&shape), data).map_err(|e| format!("ValueError: {e}"))?;
    Ok(TensorValue::from_array(a, dtype, numpy))
}

fn tensor_arg(v: &Value) -> R<TensorValue> {
    match v {
        Value::Tensor(t) => Ok(t.clone()),
        Value::List(_) | Value::Tuple(_) => make_tensor(v, None, false),
        other => Err(format!(
            "TypeError: expected a Tensor, got {}",
            other.type_name()
        )),
    }
}

fn full(dims: &[i64], value: f32) -> R<TensorValue> {
    let shape = dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("RuntimeError: negative dimension {d}")))
        .collect::<R<Vec<_>>>()?;
    if shape.iter().product::<usize>() > 100_000_000 {
        return Err("RuntimeError: that tensor would hold over 100 million values".into());
    }
    Ok(TensorValue::from_array(
        Array::from_elem(IxDyn(&shape), value),
        DType::Float,
        false,
    ))
}

/// `torch.…` and `np.…` functions.
fn module_fn(module: &str, name: &str, call: &Call, io: &mut Output) -> R<Value> {
    let first = || {
        call.args
            .first()
            .ok_or_else(|| format!("TypeError: {module}.{name}() needs an argument"))
    };
    let numpy = module == "np";
    Ok(match name {
        "tensor" | "array" | "asarray" | "from_numpy" | "FloatTensor" | "LongTensor"
        | "ByteTensor" | "BoolTensor" | "IntTensor" => {
            let dtype = match name {
                "FloatTensor" => Some(DType::Float),
                "LongTensor" | "IntTensor" => Some(DType::Long),
                "ByteTensor" => Some(DType::Uint8),
                "BoolTensor" => Some(DType::Bool),
                _ => match call.kwarg("dtype") {
                    Some(Value::Dtype(d, _)) => Some(*d),
                    _ => None,
                },
            };
            let v = first()?;
            let t = match (v, name) {
                // torch.FloatTensor(2, 3): an uninitialised tensor of that shape (zeros here)
                (Value::Int(_), "FloatTensor" | "LongTensor") => {
                    let mut t = full(&call.dims()?, 0.0)?;
                    t = TensorValue::new(t.t, dtype.unwrap_or(DType::Float), false);
                    t
                }
                (Value::Tensor(t), _) => {
                    TensorValue::new(t.t.clone(), dtype.unwrap_or(t.dtype), numpy)
                }
                _ => make_tensor(v, dtype, numpy)?,
            };
            Value::Tensor(t)
        }
        "ones" | "zeros" => {
            let t = full(&call.dims()?, if name == "ones" { 1.0 } else { 0.0 })?;
            Value::Tensor(TensorValue { numpy, ..t })
        }
        "ones_like" | "zeros_like" => {
            let t = tensor_arg(first()?)?;
            let v = if name == "ones_like" { 1.0 } else { 0.0 };
            Value::Tensor(TensorValue::from_array(
                Array::from_elem(IxDyn(&t.shape()), v),
                t.dtype,
                t.numpy,
            ))
        }
        "arange" => {
            let nums: Vec<f64> = call
                .args
                .iter()
                .map(|v| {
                    v.as_f64()
                        .ok_or_else(|| "TypeError: arange takes numbers".to_string())
                })
                .collect::<R<_>>()?;
            let (start, end, step) = match nums.as_slice() {
                [e] => (0.0, *e, 1.0),
                [s, e] => (*s, *e, 1.0),
                [s, e, st] => (*s, *e, *st),
                _ => return Err("TypeError: arange(end) or arange(start, end[, step])".into()),
            };
            if step == 0.0 {
                return Err("RuntimeError: arange's step must be nonzero".into());
            }
            let n = ((end - start) / step).ceil().max(0.0) as usize;
            if n > 100_000_000 {
                return Err("RuntimeError: that range holds over 100 million values".into());
            }
            let data: Vec<f32> = (0..n).map(|i| (start + i as f64 * step) as f32).collect();
            let float = call.args.iter().any(|v| matches!(v, Value::Float(_)));
            Value::Tensor(TensorValue::from_array(
                Array::from_shape_vec(IxDyn(&[n]), data).map_err(|e| e.to_string())?,
                if float { DType::Float } else { DType::Long },
                numpy,
            ))
        }
        "cat" | "concatenate" | "stack" => {
            let list = match first()? {
                Value::List(items) | Value::Tuple(items) => {
                    items.iter().map(tensor_arg).collect::<R<Vec<_>>>()?
                }
                other => {
                    return Err(format!(
                        "TypeError: {name}() takes a list of tensors, not {}",
                        other.type_name()
                    ))
                }
            };
            if list.is_empty() {
                return Err(format!(
                    "RuntimeError: {name}() needs a non-empty list of tensors"
                ));
            }
            let stacking = name == "stack";
            let ndim = list[0].shape().len() + stacking as usize;
            let dim = norm_dim(
                call.int_arg(1, if numpy { "axis" } else { "dim" })?
                    .unwrap_or(0),
                ndim,
            )?;
            let arrays: Vec<Array> = list.iter().map(|t| t.array()).collect();
            let views: Vec<_> = arrays.iter().map(|a| a.view()).collect();
            let joined = if stacking {
                ndarray::stack(Axis(dim), &views)
            } else {
                ndarray::concatenate(Axis(dim), &views)
            }
            .map_err(|_| {
                let shapes: Vec<String> = list.iter().map(|t| shape_text(&t.shape())).collect();
                format!(
                    "RuntimeError: {name}() needs tensors whose sizes match except in dimension {dim}{}; got {}",
                    if stacking { " (stack: all sizes equal)" } else { "" },
                    shapes.join(", ")
                )
            })?;
            let dtype = list
                .iter()
                .map(|t| t.dtype)
                .reduce(DType::promote)
                .unwrap_or(DType::Float);
            Value::Tensor(TensorValue::from_array(joined, dtype, list[0].numpy))
        }
        "manual_seed" => Value::None,
        "Size" => Value::Size(call.dims()?.iter().map(|&d| d.max(0) as usize).collect()),
        "float32" | "float" | "int64" | "long" | "bool" | "uint8" => {
            return Err(format!("TypeError: '{module}.{name}' is not callable"))
        }
        _ => {
            // torch.mean(t, dim=…) and friends: the method on the first argument
            let t = tensor_arg(first()?)?;
            let rest = Call {
                args: call.args[1..].to_vec(),
                kwargs: call.kwargs.clone(),
            };
            return tensor_method(&t, name, &rest, io).map_err(|e| {
                if e.starts_with("AttributeError") {
                    format!("AttributeError: module '{module}' has no attribute '{name}' (or dl-lab does not know it)")
                } else {
                    e
                }
            });
        }
    })
}

/// `torch.float32`, `t.shape`, `a.ndim`, …
fn attribute(v: &Value, name: &str) -> R<Value> {
    match (v, name) {
        (Value::Module("torch"), "float32" | "float") => Ok(Value::Dtype(DType::Float, false)),
        (Value::Module("torch"), "int64" | "long") => Ok(Value::Dtype(DType::Long, false)),
        (Value::Module("torch"), "bool") => Ok(Value::Dtype(DType::Bool, false)),
        (Value::Module("torch"), "uint8") => Ok(Value::Dtype(DType::Uint8, false)),
        (Value::Module(m), _) => Ok(Value::Module(if *m == "torch" && name == "nn" {
            "torch"
        } else {
            m
        })),
        (Value::Tensor(t), "shape") if t.numpy => Ok(Value::Tuple(
            t.shape().iter().map(|&d| Value::Int(d as i64)).collect(),
        )),
        (Value::Tensor(t), "shape") => Ok(Value::Size(t.shape())),
        (Value::Tensor(t), "ndim") => Ok(Value::Int(t.shape().len() as i64)),
        (Value::Tensor(t), "size") if t.numpy => Ok(Value::Int(t.t.numel() as i64)),
        (Value::Tensor(t), "dtype") => Ok(Value::Dtype(t.dtype, t.numpy)),
        (Value::Tensor(t), "T") => transpose(t),
        (other, _) => Err(format!(
            "AttributeError: '{}' object has no attribute '{name}'{}",
            other.type_name(),
            if matches!(other, Value::Tensor(_)) {
                " (a method needs its brackets, e.g. t.size())"
            } else {
                ""
            }
        )),
    }
}

fn builtin(name: &str, call: &Call) -> R<Value> {
    let first = call.args.first();
    match (name, first) {
        ("len", Some(Value::Tensor(t))) => t
            .shape()
            .first()
            .map(|&d| Value::Int(d as i64))
            .ok_or_else(|| "TypeError: len() of a 0-d tensor".to_string()),
        ("len", Some(Value::List(v) | Value::Tuple(v))) => Ok(Value::Int(v.len() as i64)),
        ("len", Some(Value::Size(d))) => Ok(Value::Int(d.len() as i64)),
        ("len", Some(Value::Str(s))) => Ok(Value::Int(s.chars().count() as i64)),
        ("float", Some(v)) => scalar_of(v)?
            .as_f64()
            .map(Value::Float)
            .ok_or_else(|| "TypeError: float() needs a number".into()),
        ("int", Some(v)) => scalar_of(v)?
            .as_f64()
            .map(|f| Value::Int(f.trunc() as i64))
            .ok_or_else(|| "TypeError: int() needs a number".into()),
        ("str", Some(v)) => Ok(Value::Str(str_of(v))),
        ("repr", Some(v)) => Ok(Value::Str(repr_of(v))),
        ("type", Some(v)) => Ok(Value::Str(format!(
            "<class '{}'>",
            match v {
                Value::Tensor(t) if !t.numpy => "torch.Tensor",
                other => other.type_name(),
            }
        ))),
        ("list", Some(v)) => Ok(Value::List(match v {
            Value::Size(d) => d.iter().map(|&x| Value::Int(x as i64)).collect(),
            Value::List(x) | Value::Tuple(x) => x.clone(),
            other => return Err(format!("TypeError: list() of a {}", other.type_name())),
        })),
        ("abs", Some(v)) => match v {
            Value::Int(i) => Ok(Value::Int(i.abs())),
            Value::Float(f) => Ok(Value::Float(f.abs())),
            Value::Tensor(t) => tensor_method(
                t,
                "abs",
                &Call {
                    args: vec![],
                    kwargs: vec![],
                },
                &mut Output {
                    out: &mut std::io::sink(),
                    warn: &mut std::io::sink(),
                },
            ),
            other => Err(format!("TypeError: abs() of a {}", other.type_name())),
        },
        _ => Err(format!("NameError: name '{name}' is not defined")),
    }
}

fn scalar_of(v: &Value) -> R<Value> {
    match v {
        Value::Tensor(t) if t.t.numel() == 1 => Ok(t.scalar()),
        Value::Tensor(_) => {
            Err("ValueError: only one element tensors can be converted to Python scalars".into())
        }
        other => Ok(other.clone()),
    }
}

// ---------------------------------------------------------------- arithmetic

fn shape_text(s: &[usize]) -> String {
    match s {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            s.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The broadcast shape of `a` and `b`, or PyTorch's error with the rule
/// that failed written out.
fn broadcast(a: &[usize], b: &[usize]) -> R<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(format!(
                "RuntimeError: The size of tensor a ({da}) must match the size of tensor b ({db}) \
                 at non-singleton dimension {i}\n  broadcasting lines the shapes up from the right: \
                 a is {} and b is {}; in dimension {i} a has {da} and b has {db}, and two sizes fit \
                 only when they are equal or one of them is 1",
                shape_text(a),
                shape_text(b)
            ));
        };
    }
    Ok(out)
}

fn as_operand(v: &Value) -> R<(TensorValue, bool)> {
    match v {
        Value::Tensor(t) => Ok((t.clone(), false)),
        Value::Int(_) | Value::Bool(_) | Value::Float(_) => {
            let x = v.as_f64().unwrap_or(0.0) as f32;
            let dtype = if matches!(v, Value::Float(_)) {
                DType::Float
            } else {
                DType::Long
            };
            Ok((TensorValue::new(Tensor::scalar(x), dtype, false), true))
        }
        other => Err(format!(
            "TypeError: unsupported operand type: {}",
            other.type_name()
        )),
    }
}

fn binary(op: &str, a: Value, b: Value, io: &mut Output) -> R<Value> {
    // Python numbers among themselves
    if let (Some(x), Some(y)) = (
        (!matches!(a, Value::Tensor(_)))
            .then(|| a.as_f64())
            .flatten(),
        (!matches!(b, Value::Tensor(_)))
            .then(|| b.as_f64())
            .flatten(),
    ) {
        let ints = matches!(a, Value::Int(_)) && matches!(b, Value::Int(_));
        return Ok(match op {
            "+" | "-" | "*" if ints => {
                let (i, j) = (x as i64, y as i64);
                Value::Int(match op {
                    "+" => i + j,
                    "-" => i - j,
                    _ => i * j,
                })
            }
            "+" => Value::Float(x + y),
            "-" => Value::Float(x - y),
            "*" => Value::Float(x * y),
            "/" if y == 0.0 => return Err("ZeroDivisionError: division by zero".into()),
            "/" => Value::Float(x / y),
            "**" if ints && y >= 0.0 => Value::Int((x as i64).pow(y as u32)),
            "**" => Value::Float(x.powf(y)),
            "==" => Value::Bool(x == y),
            "!=" => Value::Bool(x != y),
            "<" => Value::Bool(x < y),
            "<=" => Value::Bool(x <= y),
            ">" => Value::Bool(x > y),
            ">=" => Value::Bool(x >= y),
            _ => return Err(format!("TypeError: unsupported operand for {op}")),
        });
    }
    if let (Value::Str(x), Value::Str(y), "+") = (&a, &b, op) {
        return Ok(Value::Str(format!("{x}{y}")));
    }
    let (ta, sa) = as_operand(&a)?;
    let (tb, sb) = as_operand(&b)?;
    let numpy = ta.numpy || tb.numpy;
    if op == "@" {
        return matmul(&ta, &tb).map(|t| Value::Tensor(TensorValue { numpy, ..t }));
    }
    if op == "**" {
        let p = b
            .as_f64()
            .ok_or_else(|| "TypeError: ** takes a number as the exponent".to_string())?;
        let dtype = if p.fract() == 0.0 && p >= 0.0 {
            ta.dtype
        } else {
            DType::Float
        };
        return Ok(Value::Tensor(TensorValue::new(
            ta.t.pow(p as f32),
            dtype,
            numpy,
        )));
    }
    let (sha, shb) = (ta.shape(), tb.shape());
    let out = broadcast(&sha, &shb)?;
    let n_out: usize = out.iter().product();
    let (na, nb) = (ta.t.numel(), tb.t.numel());
    // (3,) - (3, 1) makes a (3, 3): a vector met a column, which is rarely
    // what was meant (PyTorch's mse_loss warns about the same thing)
    if !sa && !sb && n_out > na.max(nb) && na > 1 && nb > 1 && sha.len() != shb.len() {
        let _ = writeln!(
            io.warn,
            "Warning: {} {op} {} broadcasts to {}: every value of one meets every value of the \
             other ({n_out} results from {na} and {nb} values). If you meant element by element, \
             give both the same shape (e.g. with .view(-1)).",
            shape_text(&sha),
            shape_text(&shb),
            shape_text(&out)
        );
    }
    // a Python number keeps the tensor's dtype unless it brings a float
    let dtype = match (sa, sb) {
        (true, false) if ta.dtype != DType::Float => tb.dtype,
        (false, true) if tb.dtype != DType::Float => ta.dtype,
        _ => DType::promote(ta.dtype, tb.dtype),
    };
    let cmp = |f: fn(f32, f32) -> bool| -> R<Value> {
        let (x, y) = (ta.array(), tb.array());
        let xb = x.broadcast(IxDyn(&out)).ok_or("broadcast")?;
        let yb = y.broadcast(IxDyn(&out)).ok_or("broadcast")?;
        let r = ndarray::Zip::from(&xb)
            .and(&yb)
            .map_collect(|&p, &q| f(p, q) as u8 as f32);
        Ok(Value::Tensor(TensorValue::from_array(
            r,
            DType::Bool,
            numpy,
        )))
    };
    let engine = |r: crate::Result<Tensor>, dtype: DType| -> R<Value> {
        r.map(|t| Value::Tensor(TensorValue::new(t, dtype, numpy)))
            .map_err(|e| format!("RuntimeError: {e}"))
    };
    match op {
        "+" => engine(ta.t.add(&tb.t), dtype),
        "-" => engine(ta.t.sub(&tb.t), dtype),
        "*" => engine(ta.t.mul(&tb.t), dtype),
        // true division: integers give a float
        "/" => engine(ta.t.div(&tb.t), DType::Float),
        "==" => cmp(|p, q| p == q),
        "!=" => cmp(|p, q| p != q),
        "<" => cmp(|p, q| p < q),
        "<=" => cmp(|p, q| p <= q),
        ">" => cmp(|p, q| p > q),
        ">=" => cmp(|p, q| p >= q),
        _ => Err(format!("TypeError: unsupported operand for {op}")),
    }
}

fn negate(v: Value) -> R<Value> {
    match v {
        Value::Int(i) => Ok(Value::Int(-i)),
        Value::Float(f) => Ok(Value::Float(-f)),
        Value::Bool(b) => Ok(Value::Int(-(b as i64))),
        Value::Tensor(t) => Ok(Value::Tensor(TensorValue { t: t.t.neg(), ..t })),
        other => Err(format!(
            "TypeError: bad operand type for unary -: '{}'",
            other.type_name()
        )),
    }
}

/// PyTorch's `matmul`: a dot product for two vectors, a matrix product for
/// two matrices, a vector on either side of a matrix.
fn matmul(a: &TensorValue, b: &TensorValue) -> R<TensorValue> {
    let (sa, sb) = (a.shape(), b.shape());
    if sa.is_empty() || sb.is_empty() {
        return Err("RuntimeError: both arguments to matmul need to be at least 1D".into());
    }
    let a2 = if sa.len() == 1 {
        vec![1, sa[0]]
    } else {
        sa.clone()
    };
    let b2 = if sb.len() == 1 {
        vec![sb[0], 1]
    } else {
        sb.clone()
    };
    if a2.len() > 2 || b2.len() > 2 {
        return Err(
            "RuntimeError: dl-lab's matmul takes vectors and matrices (1-D and 2-D)".into(),
        );
    }
    if a2[1] != b2[0] {
        return Err(if sa.len() == 1 && sb.len() == 1 {
            format!(
                "RuntimeError: inconsistent tensor size, expected tensor [{}] and src [{}] to have \
                 the same number of elements, but got {} and {} elements respectively",
                sa[0], sb[0], sa[0], sb[0]
            )
        } else {
            format!(
                "RuntimeError: mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})\n  \
                 a matrix product needs the columns of the first ({}) to equal the rows of the \
                 second ({}); for element by element products use * or .mul()",
                a2[0], a2[1], b2[0], b2[1], a2[1], b2[0]
            )
        });
    }
    let x = a.t.reshape(&a2).map_err(|e| e.to_string())?;
    let y = b.t.reshape(&b2).map_err(|e| e.to_string())?;
    let r = x.matmul(&y).map_err(|e| format!("RuntimeError: {e}"))?;
    let mut shape = Vec::new();
    if sa.len() == 2 {
        shape.push(a2[0]);
    }
    if sb.len() == 2 {
        shape.push(b2[1]);
    }
    let r = r.reshape(&shape).map_err(|e| e.to_string())?;
    Ok(TensorValue::new(r, DType::promote(a.dtype, b.dtype), false))
}

// ---------------------------------------------------------------- methods

/// A dimension, negative ones counted from the end.
fn norm_dim(d: i64, ndim: usize) -> R<usize> {
    let n = ndim as i64;
    let lo = -n.max(1);
    let hi = n.max(1) - 1;
    if d < lo || d > hi {
        return Err(format!(
            "IndexError: Dimension out of range (expected to be in range of [{lo}, {hi}], but got {d})"
        ));
    }
    Ok(if d < 0 {
        (d + n.max(1)) as usize
    } else {
        d as usize
    })
}

fn transpose(t: &TensorValue) -> R<Value> {
    match t.shape().len() {
        0 | 1 => Ok(Value::Tensor(t.clone())),
        2 => Ok(Value::Tensor(TensorValue {
            t: t.t.t().map_err(|e| e.to_string())?,
            ..t.clone()
        })),
        n => Err(format!(
            "RuntimeError: t() expects a tensor with <= 2 dimensions, but self is {n}D"
        )),
    }
}

fn reshaped(t: &TensorValue, shape: &[usize]) -> R<Value> {
    Ok(Value::Tensor(TensorValue {
        t: t.t
            .reshape(shape)
            .map_err(|e| format!("RuntimeError: {e}"))?,
        ..t.clone()
    }))
}

fn tensor_method(t: &TensorValue, name: &str, call: &Call, io: &mut Output) -> R<Value> {
    let shape = t.shape();
    let dim_arg = || call.int_arg(0, if t.numpy { "axis" } else { "dim" });
    let keepdim = call.bool_kwarg("keepdim") || call.bool_kwarg("keepdims");
    let other = || {
        call.args
            .first()
            .cloned()
            .ok_or_else(|| format!("TypeError: {name}() needs an argument"))
    };
    match name {
        "matmul" | "mm" | "dot" => {
            let o = tensor_arg(&other()?)?;
            matmul(t, &o).map(Value::Tensor)
        }
        "mul" | "add" | "sub" | "div" | "eq" | "gt" | "lt" | "ge" | "le" | "ne" => {
            let op = match name {
                "mul" => "*",
                "add" => "+",
                "sub" => "-",
                "div" => "/",
                "eq" => "==",
                "gt" => ">",
                "lt" => "<",
                "ge" => ">=",
                "le" => "<=",
                _ => "!=",
            };
            binary(op, Value::Tensor(t.clone()), other()?, io)
        }
        "pow" => binary("**", Value::Tensor(t.clone()), other()?, io),
        "sum" | "mean" => {
            if name == "mean" && t.dtype != DType::Float && !t.numpy {
                return Err(format!(
                    "RuntimeError: mean(): could not infer output dtype. Input dtype must be either \
                     a floating point or complex dtype. Got: {}",
                    match t.dtype {
                        DType::Bool => "Bool",
                        DType::Uint8 => "Byte",
                        _ => "Long",
                    }
                ));
            }
            let dtype = match (name, t.dtype) {
                ("mean", _) => DType::Float,
                (_, DType::Bool | DType::Uint8) => DType::Long,
                (_, d) => d,
            };
            let r = match dim_arg()? {
                None => {
                    if name == "sum" { t.t.try_sum() } else { t.t.try_mean() }
                }
                Some(d) => {
                    let d = norm_dim(d, shape.len())?;
                    if shape.is_empty() {
                        Ok(t.t.clone())
                    } else if name == "sum" {
                        t.t.sum_dim(d, keepdim)
                    } else {
                        t.t.mean_dim(d, keepdim)
                    }
                }
            }
            .map_err(|e| format!("RuntimeError: {e}"))?;
            Ok(Value::Tensor(TensorValue::new(r, dtype, t.numpy)))
        }
        "max" | "min" | "argmax" | "argmin" => {
            if t.t.numel() == 0 {
                return Err(format!("RuntimeError: {name}(): Expected reduction dim to be specified for input.numel() == 0"));
            }
            let is_min = name.ends_with("min");
            // min is max of the negation
            let src = if is_min { t.t.neg() } else { t.t.clone() };
            let arg_only = name.starts_with("arg");
            match dim_arg()? {
                None => {
                    let flat = src.reshape(&[src.numel()]).map_err(|e| e.to_string())?;
                    let (vals, idx) = flat.max_dim(0, false).map_err(|e| format!("RuntimeError: {e}"))?;
                    if arg_only {
                        Ok(index_value(idx[0] as f32, t.numpy))
                    } else {
                        let v = if is_min { vals.neg() } else { vals };
                        let r = TensorValue::new(v, t.dtype, t.numpy);
                        Ok(if t.numpy { r.scalar() } else { Value::Tensor(r) })
                    }
                }
                Some(d) => {
                    let d = norm_dim(d, shape.len())?;
                    let (vals, idx) = src.max_dim(d, keepdim).map_err(|e| format!("RuntimeError: {e}"))?;
                    let idx_shape = vals.shape();
                    let idx = Array::from_shape_vec(
                        IxDyn(&idx_shape),
                        idx.iter().map(|&i| i as f32).collect(),
                    )
                    .map_err(|e| e.to_string())?;
                    let indices = TensorValue::from_array(idx, DType::Long, t.numpy);
                    if arg_only {
                        return Ok(Value::Tensor(indices));
                    }
                    let v = if is_min { vals.neg() } else { vals };
                    let values = TensorValue::new(v, t.dtype, t.numpy);
                    if t.numpy {
                        Ok(Value::Tensor(values))
                    } else {
                        Ok(Value::Tuple(vec![Value::Tensor(values), Value::Tensor(indices)]))
                    }
                }
            }
        }
        "view" | "reshape" => {
            let dims = call.dims()?;
            let n = t.t.numel();
            let known: i64 = dims.iter().filter(|&&d| d != -1).product();
            let unknown = dims.iter().filter(|&&d| d == -1).count();
            let bad = || {
                format!(
                    "RuntimeError: shape '[{}]' is invalid for input of size {n}\n  a view keeps \
                     all {n} values, so the sizes must multiply to {n} (-1 stands for the one size \
                     that makes it so)",
                    dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
                )
            };
            if unknown > 1 {
                return Err("RuntimeError: only one dimension can be inferred (-1)".into());
            }
            if dims.iter().any(|&d| d < -1) {
                return Err(format!("RuntimeError: invalid shape dimension {}", dims.iter().find(|&&d| d < -1).unwrap_or(&-2)));
            }
            let shape: Vec<usize> = if unknown == 1 {
                if known == 0 || n as i64 % known != 0 {
                    return Err(bad());
                }
                dims.iter().map(|&d| if d == -1 { (n as i64 / known) as usize } else { d as usize }).collect()
            } else {
                if known != n as i64 {
                    return Err(bad());
                }
                dims.iter().map(|&d| d as usize).collect()
            };
            reshaped(t, &shape)
        }
        "squeeze" => {
            let s: Vec<usize> = match dim_arg()? {
                None => shape.iter().copied().filter(|&d| d != 1).collect(),
                Some(d) => {
                    let d = norm_dim(d, shape.len())?;
                    let mut s = shape.clone();
                    if !s.is_empty() && s[d] == 1 {
                        s.remove(d);
                    }
                    s
                }
            };
            reshaped(t, &s)
        }
        "unsqueeze" => {
            let d = dim_arg()?.ok_or("TypeError: unsqueeze() needs dim")?;
            let d = norm_dim(d, shape.len() + 1)?;
            let mut s = shape.clone();
            s.insert(d, 1);
            reshaped(t, &s)
        }
        "flatten" => reshaped(t, &[t.t.numel()]),
        "t" => transpose(t),
        "transpose" | "permute" => {
            let dims: Vec<usize> = call
                .dims()?
                .iter()
                .map(|&d| norm_dim(d, shape.len()))
                .collect::<R<_>>()?;
            let r = if name == "transpose" {
                if dims.len() != 2 {
                    return Err("TypeError: transpose(dim0, dim1)".into());
                }
                t.t.transpose(dims[0], dims[1])
            } else {
                t.t.permute(&dims)
            };
            Ok(Value::Tensor(TensorValue {
                t: r.map_err(|e| format!("RuntimeError: {e}"))?,
                ..t.clone()
            }))
        }
        "size" => match dim_arg()? {
            None => Ok(Value::Size(shape)),
            Some(d) => Ok(Value::Int(shape[norm_dim(d, shape.len())?] as i64)),
        },
        "dim" | "ndimension" => Ok(Value::Int(shape.len() as i64)),
        "numel" | "nelement" => Ok(Value::Int(t.t.numel() as i64)),
        "item" => {
            if t.t.numel() != 1 {
                return Err(format!(
                    "RuntimeError: a Tensor with {} elements cannot be converted to Scalar",
                    t.t.numel()
                ));
            }
            Ok(t.scalar())
        }
        "tolist" => Ok(to_list(t)),
        "float" | "double" => Ok(Value::Tensor(TensorValue::new(t.t.clone(), DType::Float, t.numpy))),
        "long" | "int" => Ok(Value::Tensor(TensorValue::new(t.t.clone(), DType::Long, t.numpy))),
        "bool" => Ok(Value::Tensor(TensorValue::new(t.t.clone(), DType::Bool, t.numpy))),
        "byte" => Ok(Value::Tensor(TensorValue::new(t.t.clone(), DType::Uint8, t.numpy))),
        "numpy" => Ok(Value::Tensor(TensorValue { numpy: true, ..t.clone() })),
        "clone" | "detach" | "contiguous" | "copy" => Ok(Value::Tensor(t.clone())),
        "exp" | "log" | "sigmoid" | "tanh" | "relu" | "abs" | "sqrt" | "neg" => {
            let r = match name {
                "exp" => t.t.exp(),
                "log" => t.t.log(),
                "sigmoid" => t.t.sigmoid(),
                "tanh" => t.t.tanh(),
                "relu" => t.t.relu(),
                "neg" => t.t.neg(),
                "sqrt" => t.t.pow(0.5),
                _ => Tensor::new(t.array().mapv(f32::abs)),
            };
            let dtype = if matches!(name, "relu" | "abs" | "neg") { t.dtype } else { DType::Float };
            Ok(Value::Tensor(TensorValue::new(r, dtype, t.numpy)))
        }
        _ => match attribute(&Value::Tensor(t.clone()), name) {
            // `t.shape()`: an attribute, not a method
            Ok(v) => Err(format!(
                "TypeError: '{}' object is not callable (t.{name} without brackets)",
                v.type_name()
            )),
            Err(_) => Err(format!(
                "AttributeError: 'Tensor' object has no attribute '{name}' (or dl-lab does not know it)"
            )),
        },
    }
}

fn index_value(i: f32, numpy: bool) -> Value {
    if numpy {
        Value::Int(i as i64)
    } else {
        Value::Tensor(TensorValue::new(Tensor::scalar(i), DType::Long, false))
    }
}

fn to_list(t: &TensorValue) -> Value {
    let shape = t.shape();
    if shape.is_empty() {
        return t.scalar();
    }
    Value::List(
        (0..shape[0])
            .map(|i| {
                let sub = t.array().index_axis(Axis(0), i).to_owned();
                to_list(&TensorValue::from_array(sub, t.dtype, t.numpy))
            })
            .collect(),
    )
}

// ---------------------------------------------------------------- indexing

enum Index {
    At(Value),
    Slice(Option<i64>, Option<i64>, Option<i64>),
}

fn index(v: &Value, idx: &[Index]) -> R<Value> {
    match v {
        Value::Tensor(t) => index_tensor(t, idx),
        Value::List(_) | Value::Tuple(_) | Value::Size(_) if idx.len() == 1 => {
            let items: Vec<Value> = match v {
                Value::Size(d) => d.iter().map(|&x| Value::Int(x as i64)).collect(),
                Value::List(items) | Value::Tuple(items) => items.clone(),
                _ => Vec::new(),
            };
            match &idx[0] {
                Index::At(i) => {
                    let i = i.as_int().ok_or("TypeError: indices must be integers")?;
                    let n = items.len() as i64;
                    let j = if i < 0 { i + n } else { i };
                    if j < 0 || j >= n {
                        return Err(format!(
                            "IndexError: index {i} is out of range for length {n}"
                        ));
                    }
                    Ok(items[j as usize].clone())
                }
                Index::Slice(a, b, c) => {
                    let (start, stop, step) = slice_bounds(*a, *b, *c, items.len())?;
                    let picked: Vec<Value> = (start..stop)
                        .step_by(step)
                        .map(|i| items[i].clone())
                        .collect();
                    Ok(match v {
                        Value::Tuple(_) => Value::Tuple(picked),
                        Value::Size(_) => Value::Size(
                            picked
                                .iter()
                                .filter_map(|x| x.as_int())
                                .map(|x| x as usize)
                                .collect(),
                        ),
                        _ => Value::List(picked),
                    })
                }
            }
        }
        other => Err(format!(
            "TypeError: '{}' object is not subscriptable",
            other.type_name()
        )),
    }
}

/// Python's slice rules: negative ends count from the back, out-of-range
/// ends are clamped.
fn slice_bounds(
    a: Option<i64>,
    b: Option<i64>,
    c: Option<i64>,
    n: usize,
) -> R<(usize, usize, usize)> {
    let step = c.unwrap_or(1);
    if step <= 0 {
        return Err("ValueError: step must be greater than zero".into());
    }
    let n = n as i64;
    let clamp = |x: i64| -> i64 {
        if x < 0 {
            (x + n).max(0)
        } else {
            x.min(n)
        }
    };
    let start = a.map_or(0, clamp);
    let stop = b.map_or(n, clamp).max(start);
    Ok((start as usize, stop as usize, step as usize))
}

fn index_tensor(t: &TensorValue, idx: &[Index]) -> R<Value> {
    let mut a = t.array();
    let shape = t.shape();
    if idx.len() > shape.len() {
        return Err(format!(
            "IndexError: too many indices for tensor of dimension {}",
            shape.len()
        ));
    }
    // walk the dimensions; an integer index removes its dimension
    let mut axis = 0;
    for (k, ix) in idx.iter().enumerate() {
        let size = shape[k] as i64;
        match ix {
            Index::At(v) => {
                let i = v.as_int().ok_or_else(|| {
                    format!(
                        "IndexError: tensors are indexed with integers or slices, not {}",
                        v.type_name()
                    )
                })?;
                let j = if i < 0 { i + size } else { i };
                if j < 0 || j >= size {
                    return Err(format!(
                        "IndexError: index {i} is out of bounds for dimension {k} with size {size}"
                    ));
                }
                a = a.index_axis(Axis(axis), j as usize).to_owned();
            }
            Index::Slice(s, e, st) => {
                let (start, stop, step) = slice_bounds(*s, *e, *st, size as usize)?;
                a = a
                    .slice_axis(
                        Axis(axis),
                        Slice::new(start as isize, Some(stop as isize), step as isize),
                    )
                    .to_owned();
                axis += 1;
            }
        }
    }
    let r = TensorValue::from_array(a, t.dtype, t.numpy);
    Ok(if t.numpy && r.shape().is_empty() {
        r.scalar()
    } else {
        Value::Tensor(r)
    })
}
