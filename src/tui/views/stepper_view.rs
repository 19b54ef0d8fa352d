//! The small lessons' views: the function or data with the current fit (in
//! the Dataset pane's place) and the parameters with the next update written
//! out with its numbers (in the Model pane's place), e.g.
//! `W ← W − lr·∂cost/∂W = 0.000 − 0.01·(−9.333) = 0.093`.
//!
//! Which picture a lesson gets follows from its task and data, not its name:
//! gd-scalar's parabola (`scalar.rs`); one input → points and the model's
//! curve, several → a table (`fit.rs`); two inputs with binary targets → the
//! plane with decision lines (`plane.rs`); the Model pane of all but
//! gd-scalar in `update.rs`; the cost's graph with values and gradients, in
//! the Conv/Pool pane's place (`graph.rs`). The update is written out as plain
//! SGD's θ ← θ − lr·∂cost/∂θ, which is what the small lessons run.

pub mod activations;
pub mod cost_map;
mod fit;
pub mod graph;
mod hand;
mod plane;
mod scalar;
mod update;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::pane_block;
use super::ViewContext;
use crate::lessons::{LossKind, Task};
use crate::tui::stepper::Stepper;

/// The small lessons' keys, for the help (`?`): (keys, what they do).
pub const KEYS: &[(&str, &str)] = &[
    ("Space", "one step of gradient descent"),
    ("s", "run / pause the steps"),
    ("r", "reset the parameters to their start"),
    ("+ / -", "raise / lower the learning rate"),
    (
        "N",
        "standardise the inputs, (x − mean) / std, and restart (again: raw inputs)",
    ),
    (
        "b",
        "mini-batches: full, 1, 2, 4, … rows a step, shuffled each epoch; restarts",
    ),
    (
        "p",
        "predict: type X (x, or x1,x2,… comma-separated), Enter shows H(X)",
    ),
    (
        "A",
        "sigmoid, tanh and ReLU with their derivatives (in the graph's place)",
    ),
    (
        "m",
        "in the Model pane: edit the layers (a/i add, e edit, d delete); the lesson restarts",
    ),
    ("e", "linear: the fit / the error surface cost(W, b) with the path (side by side when wide); XOR lessons: type the weights by hand (Tab/↓ next field, Enter sets them, Esc leaves), then Space trains on from them"),
];

/// From this width the Dataset pane shows linear's fit and its error
/// surface side by side (else key e switches between them).
pub const SIDE_BY_SIDE: u16 = 100;

/// Models with at most this many numbers get every update written out;
/// bigger ones get one line per tensor.
pub const WRITE_OUT_MAX: usize = 12;

/// What a small lesson's picture is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A scalar objective (gd-scalar, momentum): its curve and the point x.
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
            Task::Classifier { .. }
            | Task::Backprop { .. }
            | Task::TensorCode { .. }
            | Task::Race { .. } => Kind::Table,
        }
    }
}

/// The Dataset pane's place: the function or data with the current fit.
pub fn render_data(cx: &ViewContext, area: Rect, buf: &mut Buffer, focused: bool) {
    let Some(s) = cx.stepper else {
        return Paragraph::new("no small lesson")
            .block(pane_block("Dataset", focused, cx.ascii))
            .render(area, buf);
    };
    match Kind::of(s) {
        Kind::Scalar => scalar::render_chart(s, cx.ascii, area, buf, focused),
        Kind::Curve if cost_map::applies(s) && area.width >= SIDE_BY_SIDE => {
            let [a, b] =
                Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                    .areas(area);
            fit::render_curve(s, cx.ascii, a, buf, focused);
            cost_map::render(s, cx.ascii, cx.mono, b, buf, focused);
        }
        Kind::Curve if cost_map::applies(s) && s.show_surface => {
            cost_map::render(s, cx.ascii, cx.mono, area, buf, focused)
        }
        Kind::Curve => fit::render_curve(s, cx.ascii, area, buf, focused),
        Kind::Table => fit::render_table(s, cx.ascii, area, buf, focused),
        Kind::Plane => plane::render(s, cx.ascii, area, buf, focused),
    }
    // H(X) for the inputs `p` asked for, on the bottom border
    if let Some((x, y)) = s.prediction() {
        let area = area.intersection(*buf.area());
        if area.height >= 3 && area.width > 6 {
            let text = format!(" {} ", crate::lessons::headless::predict_text(&x, y));
            let style = Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD);
            buf.set_stringn(
                area.x + 2,
                area.bottom() - 1,
                text,
                usize::from(area.width - 4),
                style,
            );
        }
    }
}

/// The Conv/Pool pane's place: the cost's computational graph, with values
/// and gradients.
pub fn render_graph(cx: &ViewContext, area: Rect, buf: &mut Buffer, focused: bool) {
    match cx.stepper {
        Some(s) if s.show_activations => activations::render(cx.ascii, cx.mono, area, buf, focused),
        Some(s) => graph::render(s, cx.ascii, area, buf, focused),
        None => {}
    }
}

/// The Model pane's place: parameters, gradients and the update written out.
pub fn render_model(cx: &ViewContext, area: Rect, buf: &mut Buffer, focused: bool) {
    let title = match cx.stepper.and_then(|s| s.hand.as_ref()) {
        Some(_) => "Model: weights typed by hand (e)",
        None => "Model: parameters & update",
    };
    let block = pane_block(title, focused, cx.ascii);
    let inner = block.inner(area);
    let Some(s) = cx.stepper else {
        return Paragraph::new("no small lesson")
            .block(block)
            .render(area, buf);
    };
    // one row stays for "What to watch", whatever the update takes
    let height = inner.height.saturating_sub(1);
    let mut lines = match (&s.hand, Kind::of(s)) {
        (Some(form), _) => hand::lines(form, inner.width),
        (None, Kind::Scalar) => scalar::model_lines(s, inner.width),
        (None, _) => update::model_lines(s, inner.width, height),
    };
    if cx.ascii {
        lines = super::plain::ascii_lines(lines);
    }
    let mut used = 0;
    lines.retain(|l| {
        used += update::rows(l, inner.width);
        used <= usize::from(height)
    });
    // drawn under the update, not after it in one paragraph: word wrap may
    // take more rows than estimated, and the note must not be pushed out
    let watch = watch_lines(
        s.lesson().notes,
        inner.width,
        usize::from(inner.height).saturating_sub(used.min(usize::from(height))),
        cx.ascii,
    );
    let [top, bottom] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(watch.len() as u16)]).areas(inner);
    block.render(area, buf);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(top, buf);
    Paragraph::new(watch).render(bottom, buf);
}

/// The lesson's "What to watch" in `room` rows: whole (after a blank line
/// when there is room for one), or one line cut with "… (?)" — the help
/// (`?`) has it whole.
fn watch_lines(notes: &str, width: u16, room: usize, ascii: bool) -> Vec<Line<'static>> {
    let dim = Style::new().fg(Color::DarkGray);
    let full = format!("What to watch: {notes}");
    let rows = super::text::wrap_words(&full, usize::from(width)).len();
    if room == 0 {
        Vec::new()
    } else if rows <= room {
        let blank = (rows < room).then(|| Line::raw(""));
        blank
            .into_iter()
            .chain(
                super::text::wrap_words(&full, usize::from(width))
                    .into_iter()
                    .map(|l| Line::styled(l, dim)),
            )
            .collect()
    } else {
        let more = if ascii { "... (?)" } else { "… (?)" };
        let keep = usize::from(width).saturating_sub(super::text::width_of(more));
        let mut cut = String::new();
        for ch in full.chars() {
            cut.push(ch);
            if super::text::width_of(&cut) > keep {
                cut.pop();
                break;
            }
        }
        vec![Line::styled(format!("{}{more}", cut.trim_end()), dim)]
    }
}

/// A number to 3 decimals (see [`crate::tui::format::cost`]): the panes
/// and the status line write every cost this one way.
pub use crate::tui::format::cost as num;

/// `num`, in parentheses when negative (for "lr·(−9.333)").
pub fn paren(v: f32) -> String {
    if v < 0.0 {
        format!("({})", num(v))
    } else {
        num(v)
    }
}

/// A learning rate in the lab's one notation (see [`crate::tui::format::lr`]).
pub use crate::tui::format::lr as lr_text;

/// "5.000 − 0.1·4.000 = 4.600": one SGD update with its numbers.
pub fn update_numbers(p: f32, lr: f32, g: f32) -> String {
    format!(
        "{} − {}·{} = {}",
        num(p),
        lr_text(lr),
        paren(g),
        num(p - lr * g)
    )
}

/// The epoch of the last step, numbered as `dl-lab run` logs it: after one
/// press of Space "epoch 0/100", before any "before epoch 0/100".
pub fn epoch_text(s: &Stepper) -> String {
    match &s.last {
        Some(r) => format!("epoch {}/{}", r.epoch, s.session.epochs),
        None => format!("before epoch 0/{}", s.session.epochs),
    }
}

/// The cost around the last step, as (before, after): `dl-lab run` logs the
/// cost before each epoch's step. Before any step only `after` (the cost now).
pub fn costs(s: &Stepper) -> (Option<f32>, Option<f32>) {
    (
        s.last.as_ref().map(|r| r.cost),
        s.now.as_ref().map(|n| n.cost),
    )
}

/// "cost before this step 5.638 · after 5.049" (shorter as `width` needs),
/// or "cost now 8.000" before the first step; the Loss pane writes the same.
pub fn cost_text(s: &Stepper, width: usize) -> Option<String> {
    match costs(s) {
        (Some(b), Some(a)) => {
            let long = format!("cost before this step {} · after {}", num(b), num(a));
            if long.chars().count() <= width {
                Some(long)
            } else {
                Some(format!("cost before {} · after {}", num(b), num(a)))
            }
        }
        (Some(b), None) => Some(format!("cost before this step {}", num(b))),
        (None, Some(a)) => Some(format!("cost now {}", num(a))),
        (None, None) => None,
    }
}

/// "epoch 12/1000 · lr 0.01", whether it runs or is done, and the cost
/// before and after that step on a line of its own.
fn header(s: &Stepper, width: u16) -> Vec<Line<'static>> {
    let e = &s.session;
    let mut first = vec![Span::styled(
        epoch_text(s),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    first.push(Span::raw(format!(" · lr {}", lr_text(s.lr()))));
    if e.done() {
        let next = crate::lessons::next(s.lesson().name)
            .map_or(String::new(), |n| format!(" · next: {} (L)", n.name));
        first.push(Span::styled(
            format!(" · done{next}"),
            Style::new().fg(Color::Green),
        ));
    } else if s.auto {
        first.push(Span::styled(" · running", Style::new().fg(Color::Green)));
    }
    let mut lines = vec![Line::from(first)];
    lines.extend(cost_text(s, usize::from(width)).map(Line::raw));
    // the lesson's findings: all along for an objective (x at a minimum),
    // at the end for the others (their panes show the fit as it goes)
    if e.done() || s.lesson().objective().is_some() {
        let green = Style::new().fg(Color::Green);
        lines.extend(s.findings.iter().map(|f| Line::styled(f.clone(), green)));
    }
    lines
}

/// Red lines for a diverged or run-away cost.
fn trouble(s: &Stepper) -> Vec<Line<'static>> {
    let red = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
    let mut lines: Vec<Line<'static>> = s
        .diverged
        .iter()
        .map(|m| Line::styled(m.clone(), red))
        .collect();
    if s.running_away.is_some() {
        // the whole sentence is in the status bar; here, short
        lines.push(Line::styled(
            format!(
                "diverging: the cost keeps rising, lr {} is too large",
                lr_text(s.lr())
            ),
            red,
        ));
    }
    lines
}
