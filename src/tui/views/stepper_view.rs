//! The small lessons' views: the function or data with the current fit (in
//! the Dataset pane's place) and the parameters with the next update written
//! out with its numbers (in the Model pane's place), e.g.
//! `W ← W − lr·∂cost/∂W = 0.000 − 0.01·(−9.333) = 0.093`.
//!
//! Which picture a lesson gets follows from its task and data, not its name:
//! gd-scalar's parabola (`scalar.rs`); one input → points and the model's
//! curve, several → a table (`fit.rs`); two inputs with binary targets → the
//! plane with decision lines (`plane.rs`). The update is written out as plain
//! SGD's p ← p − lr·∂cost/∂p, which is what the small lessons run.

mod fit;
mod plane;
mod scalar;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::pane_block;
use crate::engine::Array;
use crate::lessons::{LossKind, SmallModel, Task};
use crate::nn::LayerSpec;
use crate::tui::app::App;
use crate::tui::stepper::Stepper;

/// Models with at most this many numbers get every update written out;
/// bigger ones get one line per tensor.
pub const WRITE_OUT_MAX: usize = 12;

/// What a small lesson's picture is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// gd-scalar: y = (x−3)² + 4 and the point x.
    Scalar,
    /// One input: the points and the model's curve.
    Curve,
    /// Several inputs: a table of samples and predictions.
    Table,
    /// Two inputs, binary targets: the plane, the points and decision lines.
    Plane,
}

impl Kind {
    fn of(s: &Stepper) -> Kind {
        match &s.lesson().task {
            Task::Scalar { .. } => Kind::Scalar,
            Task::Regression { loss, .. } => {
                let (x, _) = s.session.data();
                match (x.shape().get(1).copied().unwrap_or(0), loss) {
                    (1, _) => Kind::Curve,
                    (2, LossKind::Bce) => Kind::Plane,
                    _ => Kind::Table,
                }
            }
            Task::Classifier { .. } => Kind::Table,
        }
    }
}

/// The Dataset pane's place: the function or data with the current fit.
pub fn render_data(app: &App, area: Rect, buf: &mut Buffer, focused: bool) {
    let Some(s) = app.stepper.as_ref() else {
        return Paragraph::new("no small lesson").block(pane_block("Dataset", focused)).render(area, buf);
    };
    match Kind::of(s) {
        Kind::Scalar => scalar::render_chart(s, app.ascii, area, buf, focused),
        Kind::Curve => fit::render_curve(s, app.ascii, area, buf, focused),
        Kind::Table => fit::render_table(s, area, buf, focused),
        Kind::Plane => plane::render(s, app.ascii, area, buf, focused),
    }
}

/// The Model pane's place: parameters, gradients and the update written out.
pub fn render_model(app: &App, area: Rect, buf: &mut Buffer, focused: bool) {
    let block = pane_block("Parameters & update", focused);
    let inner = block.inner(area);
    let Some(s) = app.stepper.as_ref() else {
        return Paragraph::new("no small lesson").block(block).render(area, buf);
    };
    let lines = match Kind::of(s) {
        Kind::Scalar => scalar::model_lines(s, inner.width),
        _ => model_lines(s, inner.width, inner.height),
    };
    Paragraph::new(lines).wrap(Wrap { trim: false }).block(block).render(area, buf);
}

/// A number to 3 decimals, with a true minus sign; tiny or huge values in
/// scientific form so they do not read as 0.000 or run off the pane.
pub fn num(v: f32) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "−inf".into() };
    }
    let a = v.abs();
    let s = if a != 0.0 && !(1e-3..1e6).contains(&a) { format!("{v:.3e}") } else { format!("{v:.3}") };
    match s.strip_prefix('-') {
        Some("0.000") => "0.000".into(),
        Some(rest) => format!("−{rest}"),
        None => s,
    }
}

/// `num`, in parentheses when negative (for "lr·(−9.333)").
pub fn paren(v: f32) -> String {
    if v < 0.0 {
        format!("({})", num(v))
    } else {
        num(v)
    }
}

/// The learning rate as a learner typed it: 0.1, 0.00001, 1.5.
pub fn lr_text(lr: f32) -> String {
    format!("{lr}")
}

/// "5.000 − 0.1·4.000 = 4.600": one SGD update with its numbers.
pub fn update_numbers(p: f32, lr: f32, g: f32) -> String {
    format!("{} − {}·{} = {}", num(p), lr_text(lr), paren(g), num(p - lr * g))
}

/// "epoch 12/1000 · lr 0.01 · cost 4.667", and whether it runs or is done.
fn header(s: &Stepper) -> Line<'static> {
    let e = &s.session;
    // the epoch last run, as the Loss pane and `dl-lab run` count it
    let epoch = match &s.last {
        Some(r) => format!("epoch {}/{}", r.epoch, e.epochs),
        None => format!("before epoch 0/{}", e.epochs),
    };
    let mut spans = vec![Span::styled(epoch, Style::new().add_modifier(Modifier::BOLD))];
    spans.push(Span::raw(format!(" · lr {}", lr_text(s.lr()))));
    if let Some(now) = &s.now {
        spans.push(Span::raw(format!(" · cost {}", num(now.cost))));
    }
    if e.done() {
        spans.push(Span::styled(" · done", Style::new().fg(Color::Green)));
    } else if s.auto {
        spans.push(Span::styled(" · running", Style::new().fg(Color::Green)));
    }
    Line::from(spans)
}

/// Red lines for a diverged or run-away cost.
fn trouble(s: &Stepper) -> Vec<Line<'static>> {
    let red = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
    let mut lines: Vec<Line<'static>> = s.diverged.iter().map(|m| Line::styled(m.clone(), red)).collect();
    if s.running_away.is_some() {
        // the whole sentence is in the status bar; here, short
        lines.push(Line::styled(format!("diverging: the cost keeps rising, lr {} is too large", lr_text(s.lr())), red));
    }
    lines
}

/// One number of the model: its label, value, gradient, and value before the last step.
struct Elem {
    label: String,
    value: f32,
    grad: f32,
    before: Option<f32>,
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
        [_, cols] => (0..n).map(|i| format!("{name}[{},{}]", i / cols, i % cols)).collect(),
        _ => (0..n).map(|i| format!("{name}[{i}]")).collect(),
    }
}

fn single_linear(s: &Stepper) -> bool {
    match &s.lesson().task {
        Task::Regression { model: SmallModel::Layers(specs), .. } => {
            specs.iter().filter(|l| matches!(l, LayerSpec::Linear { .. })).count() == 1
        }
        _ => false,
    }
}

fn flat(a: &Array) -> Vec<f32> {
    a.iter().copied().collect()
}

/// Every number of the model with its gradient (NaN when unknown).
fn elements(s: &Stepper) -> Vec<Elem> {
    let single = single_linear(s);
    let mut out = Vec::new();
    for (name, value) in s.params() {
        let grad = s.now.as_ref().and_then(|n| n.grads.iter().find(|(g, _)| *g == name)).map(|(_, g)| flat(g));
        let before = s.last.as_ref().and_then(|_| s.before.iter().find(|(b, _)| *b == name)).map(|(_, b)| flat(b));
        for (i, (label, v)) in labels(&name, value.shape(), single).into_iter().zip(value.iter()).enumerate() {
            out.push(Elem {
                label,
                value: *v,
                grad: grad.as_ref().and_then(|g| g.get(i).copied()).unwrap_or(f32::NAN),
                before: before.as_ref().and_then(|b| b.get(i).copied()),
            });
        }
    }
    out
}

/// The model's formula with today's numbers ("H(x) = 0.093·x + 0.040").
fn formula(s: &Stepper, elems: &[Elem]) -> Vec<Line<'static>> {
    let Task::Regression { model, loss, .. } = &s.lesson().task else { return Vec::new() };
    match model {
        SmallModel::Affine => {
            let n = elems.len().saturating_sub(1);
            let terms: Vec<String> = elems[..n]
                .iter()
                .enumerate()
                .map(|(i, e)| if n == 1 { format!("{}·x", num(e.value)) } else { format!("{}·x{}", num(e.value), i + 1) })
                .collect();
            let b = elems.last().map_or(0.0, |e| e.value);
            vec![Line::raw(format!("H(x) = {} + {}", terms.join(" + "), num(b)))]
        }
        SmallModel::Layers(specs) => {
            let mut lines = vec![Line::styled(architecture(specs), Style::new().fg(Color::DarkGray))];
            if *loss == LossKind::Bce {
                lines.extend(plane::unit_formulas(s));
            }
            lines
        }
    }
}

/// "Linear 1→6 · ReLU · … · Linear 6→1".
fn architecture(specs: &[LayerSpec]) -> String {
    specs
        .iter()
        .map(|l| match l {
            LayerSpec::Linear { in_features, out_features } => format!("Linear {in_features}→{out_features}"),
            LayerSpec::ReLU => "ReLU".into(),
            LayerSpec::Sigmoid => "σ".into(),
            other => format!("{other:?}"),
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Rows a line takes at `width` when wrapped.
fn rows(line: &Line, width: u16) -> usize {
    line.width().div_ceil(usize::from(width.max(1))).max(1)
}

/// The Model pane for every lesson but gd-scalar.
fn model_lines(s: &Stepper, width: u16, height: u16) -> Vec<Line<'static>> {
    let elems = elements(s);
    let dim = Style::new().fg(Color::DarkGray);
    let mut lines = vec![header(s)];
    lines.extend(trouble(s));
    if matches!(&s.lesson().task, Task::Regression { loss: LossKind::Bce, .. }) {
        lines.extend(plane::ln2_note(s));
    }
    lines.extend(formula(s, &elems));
    if elems.len() > WRITE_OUT_MAX {
        lines.extend(tensor_lines(s, width));
        return lines;
    }
    let lr = s.lr();
    let full = |e: &Elem| format!("{l} ← {l} − lr·∂cost/∂{l} = {}", update_numbers(e.value, lr, e.grad), l = e.label);
    let short = |e: &Elem| format!("{} ← {}", e.label, update_numbers(e.value, lr, e.grad));
    let fits_full = elems.iter().all(|e| full(e).chars().count() <= usize::from(width));
    let values: Vec<Line> = elems
        .iter()
        .map(|e| Line::raw(format!("{} = {}   ∂cost/∂{} = {}", e.label, num(e.value), e.label, num(e.grad))))
        .collect();
    let updates: Vec<Line> = if !s.plain_sgd() {
        vec![Line::styled(format!("next: one {} step (not plain p − lr·∂cost/∂p)", s.hyper().optimizer), dim)]
    } else if fits_full {
        std::iter::once(Line::styled("next update (Space):", dim)).chain(elems.iter().map(|e| Line::raw(full(e)))).collect()
    } else {
        std::iter::once(Line::styled("next update (Space), p ← p − lr·∂cost/∂p:", dim))
            .chain(elems.iter().map(|e| Line::raw(short(e))))
            .collect()
    };
    let last: Vec<Line> = match &s.last {
        Some(r) if elems.iter().all(|e| e.before.is_some()) => std::iter::once(Line::styled(
            format!("last update (epoch {}, cost then {}):", r.epoch, num(r.cost)),
            dim,
        ))
        .chain(elems.iter().map(|e| Line::raw(format!("{}: {} → {}", e.label, num(e.before.unwrap_or(f32::NAN)), num(e.value)))))
        .collect(),
        _ => Vec::new(),
    };
    // the update carries value and gradient too, so with little room it goes first
    let used: usize = lines.iter().map(|l| rows(l, width)).sum();
    let need = |ls: &[Line]| ls.iter().map(|l| rows(l, width)).sum::<usize>();
    let room = usize::from(height).saturating_sub(used);
    let (nv, nu, nl) = (need(&values), need(&updates), need(&last));
    if nv + nu <= room {
        lines.extend(values);
        lines.extend(updates);
        if nl <= room - nv - nu {
            lines.extend(last);
        }
    } else {
        lines.extend(updates);
    }
    lines
}

/// One line per tensor (too many numbers to write each update out).
fn tensor_lines(s: &Stepper, width: u16) -> Vec<Line<'static>> {
    let lr = s.lr();
    let mut lines = vec![Line::styled(
        "next update, every number: p ← p − lr·∂cost/∂p; first of each:",
        Style::new().fg(Color::DarkGray),
    )];
    for (name, value) in s.params() {
        let grad = s.now.as_ref().and_then(|n| n.grads.iter().find(|(g, _)| *g == name)).map(|(_, g)| g.clone());
        let shape: Vec<String> = value.shape().iter().map(usize::to_string).collect();
        let norm = grad.as_ref().map_or(f32::NAN, |g| g.iter().map(|v| v * v).sum::<f32>().sqrt());
        let p0 = value.iter().next().copied().unwrap_or(f32::NAN);
        let g0 = grad.as_ref().and_then(|g| g.iter().next().copied()).unwrap_or(f32::NAN);
        let label = labels(&name, value.shape(), false).into_iter().next().unwrap_or_default();
        let head = format!("{name} ({}) ‖∂cost/∂‖ = {}", shape.join("×"), num(norm));
        let upd = format!("{label} ← {}", update_numbers(p0, lr, g0));
        if head.chars().count() + upd.chars().count() + 3 <= usize::from(width) {
            lines.push(Line::raw(format!("{head} · {upd}")));
        } else {
            lines.push(Line::raw(head));
            lines.push(Line::styled(format!("  {upd}"), Style::new().fg(Color::DarkGray)));
        }
    }
    lines
}
