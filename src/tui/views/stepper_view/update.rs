//! Every lesson's Model pane but gd-scalar's: the formula with today's
//! numbers, each parameter with its gradient, and the next update written
//! out as θ ← θ − lr·∂cost/∂θ = 0.000 − 0.01·(−9.333) = 0.093 (small
//! models), or one line per tensor (the MLP's 155 numbers). What does not
//! fit the pane is left out in a fixed order, the update last.

use ratatui::style::{Color, Style};
use ratatui::text::Line;

use super::{header, lr_text, num, paren, plane, trouble, update_numbers, WRITE_OUT_MAX};
use crate::engine::Array;
use crate::lessons::{LossKind, SmallModel, Task};
use crate::nn::LayerSpec;
use crate::tui::stepper::Stepper;

/// One number of the model: its label, value, gradient, and value before the last step.
struct Elem {
    label: String,
    value: f32,
    grad: f32,
    /// Value before the last step and the gradient it used.
    before: Option<(f32, f32)>,
}

/// Readable names for a tensor's numbers: W1..W3 for a column W, w1, w2
/// and b for a single perceptron, PyTorch's `0.weight[r,c]` otherwise.
fn labels(name: &str, shape: &[usize], single_linear: bool) -> Vec<String> {
    let n: usize = shape.iter().product();
    let base = match (single_linear, name.rsplit('.').next()) {
        (true, Some("weight")) => "w",
        (true, Some("bias")) => "b",
        _ => name,
    };
    if n == 1 {
        return vec![base.to_string()];
    }
    let vector = shape.len() == 1 || shape.iter().filter(|&&d| d > 1).count() == 1;
    if vector && (single_linear || base.len() == 1) {
        return (1..=n).map(|i| format!("{base}{i}")).collect();
    }
    match shape {
        [_, cols] => (0..n)
            .map(|i| format!("{name}[{},{}]", i / cols, i % cols))
            .collect(),
        _ => (0..n).map(|i| format!("{name}[{i}]")).collect(),
    }
}

fn single_linear(s: &Stepper) -> bool {
    match &s.lesson().task {
        Task::Regression {
            model: SmallModel::Layers(specs),
            ..
        } => {
            specs
                .iter()
                .filter(|l| matches!(l, LayerSpec::Linear { .. }))
                .count()
                == 1
        }
        _ => false,
    }
}

fn flat(a: &Array) -> Vec<f32> {
    a.iter().copied().collect()
}

/// The gradient of the parameter called `name` at the current parameters.
fn grad_of<'a>(s: &'a Stepper, name: &str) -> Option<&'a Array> {
    let now = s.now.as_ref()?;
    now.grads.iter().find(|(g, _)| g == name).map(|(_, g)| g)
}

/// Every number of the model with its gradient (NaN when unknown).
fn elements(s: &Stepper) -> Vec<Elem> {
    let single = single_linear(s);
    let mut out = Vec::new();
    for (name, value) in s.params() {
        let grad = grad_of(s, &name).map(flat);
        let before = s.last.as_ref().and_then(|r| {
            let b = s.before.iter().find(|(b, _)| *b == name)?;
            let g = r.grads.iter().find(|(g, _)| *g == name)?;
            Some((flat(&b.1), flat(&g.1)))
        });
        for (i, (label, v)) in labels(&name, value.shape(), single)
            .into_iter()
            .zip(value.iter())
            .enumerate()
        {
            out.push(Elem {
                label,
                value: *v,
                grad: grad
                    .as_ref()
                    .and_then(|g| g.get(i).copied())
                    .unwrap_or(f32::NAN),
                before: before
                    .as_ref()
                    .and_then(|(b, g)| Some((*b.get(i)?, *g.get(i)?))),
            });
        }
    }
    out
}

/// The model's formula with today's numbers ("H(x) = 0.093·x + 0.040").
fn formula(s: &Stepper, elems: &[Elem]) -> Vec<Line<'static>> {
    let Task::Regression { model, loss, .. } = &s.lesson().task else {
        return Vec::new();
    };
    match model {
        SmallModel::Affine => {
            let n = elems.len().saturating_sub(1);
            let terms: Vec<String> = elems[..n]
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    if n == 1 {
                        format!("{}·x", num(e.value))
                    } else {
                        format!("{}·x{}", num(e.value), i + 1)
                    }
                })
                .collect();
            let b = elems.last().map_or(0.0, |e| e.value);
            vec![Line::raw(format!(
                "H(x) = {} + {}",
                terms.join(" + "),
                num(b)
            ))]
        }
        SmallModel::Layers(specs) => {
            let mut lines = vec![Line::styled(
                architecture(specs),
                Style::new().fg(Color::DarkGray),
            )];
            if *loss == LossKind::Bce {
                lines.extend(plane::unit_formulas(s));
            }
            lines
        }
    }
}

/// "layers 1→6→10→6→1 · ReLU after each but the last".
fn architecture(specs: &[LayerSpec]) -> String {
    let mut sizes = Vec::new();
    let mut acts = Vec::new();
    for l in specs {
        match l {
            LayerSpec::Linear {
                in_features,
                out_features,
            } => {
                if sizes.is_empty() {
                    sizes.push(in_features.to_string());
                }
                sizes.push(out_features.to_string());
            }
            LayerSpec::ReLU => acts.push("ReLU"),
            LayerSpec::Sigmoid => acts.push("σ"),
            _ => acts.push("other"),
        }
    }
    let linears = sizes.len().saturating_sub(1);
    let noun = if linears == 1 { "layer" } else { "layers" };
    let after = match (acts.first(), acts.len()) {
        (None, _) => String::new(),
        (Some(a), 1) if linears == 1 => format!(" · then {a}"),
        (Some(a), n) if acts.iter().all(|b| b == a) && n == linears => format!(" · {a} after each"),
        (Some(a), n) if acts.iter().all(|b| b == a) && n + 1 == linears => {
            format!(" · {a} between")
        }
        _ => format!(" · {}", acts.join(", ")),
    };
    format!("{noun} {}{after}", sizes.join("→"))
}

/// Rows a line takes at `width` when wrapped.
pub(super) fn rows(line: &Line, width: u16) -> usize {
    line.width().div_ceil(usize::from(width.max(1))).max(1)
}

/// The Model pane for every lesson but gd-scalar.
pub(super) fn model_lines(s: &Stepper, width: u16, height: u16) -> Vec<Line<'static>> {
    let elems = elements(s);
    let dim = Style::new().fg(Color::DarkGray);
    let mut lines = header(s, width);
    lines.extend(trouble(s));
    if matches!(
        &s.lesson().task,
        Task::Regression {
            loss: LossKind::Bce,
            ..
        }
    ) {
        lines.extend(plane::ln2_note(s));
    }
    let formula = formula(s, &elems);
    if elems.len() > WRITE_OUT_MAX {
        lines.extend(formula);
        lines.extend(tensor_lines(s, width));
        return lines;
    }
    let lr = s.lr();
    let full = |e: &Elem| {
        format!(
            "{l} ← {l} − lr·∂cost/∂{l} = {}",
            update_numbers(e.value, lr, e.grad),
            l = e.label
        )
    };
    let short = |e: &Elem| format!("{} ← {}", e.label, update_numbers(e.value, lr, e.grad));
    let fits_full = elems
        .iter()
        .all(|e| full(e).chars().count() <= usize::from(width));
    let values: Vec<Line> = elems
        .iter()
        .map(|e| {
            Line::raw(format!(
                "{} = {}   ∂cost/∂{} = {}",
                e.label,
                num(e.value),
                e.label,
                num(e.grad)
            ))
        })
        .collect();
    let updates: Vec<Line> = if !s.plain_sgd() {
        vec![Line::styled(
            format!(
                "next: one {} step (not plain θ − lr·∂cost/∂θ)",
                s.hyper().optimizer.describe()
            ),
            dim,
        )]
    } else if fits_full {
        std::iter::once(Line::styled("next update (Space):", dim))
            .chain(elems.iter().map(|e| Line::raw(full(e))))
            .collect()
    } else {
        std::iter::once(Line::styled("next (Space): θ ← θ − lr·∂cost/∂θ", dim))
            .chain(elems.iter().map(|e| Line::raw(short(e))))
            .collect()
    };
    let last: Vec<Line> = match &s.last {
        Some(r) if elems.iter().all(|e| e.before.is_some()) => std::iter::once(Line::styled(
            format!(
                "last update (epoch {}, cost then {}):",
                r.epoch,
                num(r.cost)
            ),
            dim,
        ))
        .chain(elems.iter().map(|e| {
            let (b, g) = e.before.unwrap_or((f32::NAN, f32::NAN));
            Line::raw(format!(
                "{} ← {} − {}·{} = {}",
                e.label,
                num(b),
                lr_text(s.last_lr),
                paren(g),
                num(e.value)
            ))
        }))
        .collect(),
        _ => Vec::new(),
    };
    // with little room the update goes first (it carries value and gradient
    // too), then the formula, the values, the last update; shown in reading order
    let need = |ls: &[Line]| ls.iter().map(|l| rows(l, width)).sum::<usize>();
    let mut room = usize::from(height).saturating_sub(need(&lines) + need(&updates));
    let mut take = |block: &[Line]| {
        let n = need(block);
        let fits = n <= room;
        if fits {
            room -= n;
        }
        fits
    };
    let (show_formula, show_values, show_last) = (take(&formula), take(&values), take(&last));
    if show_formula {
        lines.extend(formula);
    }
    if show_values {
        lines.extend(values);
    }
    lines.extend(updates);
    if show_last {
        lines.extend(last);
    }
    lines
}

/// One line per tensor (too many numbers to write each update out): its
/// shape and gradient size, and the first number's update as an example.
fn tensor_lines(s: &Stepper, width: u16) -> Vec<Line<'static>> {
    let lr = s.lr();
    let dim = Style::new().fg(Color::DarkGray);
    let wide = width >= 72;
    let mut lines = vec![Line::styled(
        if wide {
            "next (Space): every θ ← θ − lr·∂cost/∂θ; per tensor, its first:"
        } else {
            "next (Space): θ ← θ − lr·∂cost/∂θ"
        },
        dim,
    )];
    let mut example = None;
    let mut sizes = Vec::new();
    for (name, value) in s.params() {
        let grad = grad_of(s, &name);
        let shape: Vec<String> = value.shape().iter().map(usize::to_string).collect();
        let norm = grad
            .as_ref()
            .map_or(f32::NAN, |g| g.iter().map(|v| v * v).sum::<f32>().sqrt());
        let p0 = value.iter().next().copied().unwrap_or(f32::NAN);
        let g0 = grad
            .as_ref()
            .and_then(|g| g.iter().next().copied())
            .unwrap_or(f32::NAN);
        let label = labels(&name, value.shape(), false)
            .into_iter()
            .next()
            .unwrap_or_default();
        let upd = format!("{label} ← {}", update_numbers(p0, lr, g0));
        let size = format!("{name} ({}) ‖∂cost/∂‖ = {}", shape.join("×"), num(norm));
        if wide {
            sizes.push(Line::raw(format!("{size:<36} {upd}")));
        } else {
            example.get_or_insert(upd);
            sizes.push(Line::raw(size));
        }
    }
    if let Some(e) = example {
        lines.push(Line::raw(format!("e.g. {e}")));
        lines.push(Line::styled("gradient size per tensor:", dim));
    }
    lines.extend(sizes);
    lines
}
