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

mod fit;
pub mod graph;
mod plane;
mod scalar;
mod update;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::pane_block;
use crate::lessons::{LossKind, Task};
use crate::tui::app::App;
use crate::tui::stepper::Stepper;

/// The small lessons' keys, for the help (`?`): (keys, what they do).
pub const KEYS: &[(&str, &str)] = &[
    ("Space", "one step of gradient descent"),
    ("s", "run / pause the steps"),
    ("r", "reset the parameters to their start"),
    ("+ / -", "raise / lower the learning rate"),
];

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
        return Paragraph::new("no small lesson")
            .block(pane_block("Dataset", focused, app.ascii))
            .render(area, buf);
    };
    match Kind::of(s) {
        Kind::Scalar => scalar::render_chart(s, app.ascii, area, buf, focused),
        Kind::Curve => fit::render_curve(s, app.ascii, area, buf, focused),
        Kind::Table => fit::render_table(s, app.ascii, area, buf, focused),
        Kind::Plane => plane::render(s, app.ascii, area, buf, focused),
    }
}

/// The Conv/Pool pane's place: the cost's computational graph, with values
/// and gradients.
pub fn render_graph(app: &App, area: Rect, buf: &mut Buffer, focused: bool) {
    if let Some(s) = app.stepper.as_ref() {
        graph::render(s, app.ascii, area, buf, focused);
    }
}

/// The Model pane's place: parameters, gradients and the update written out.
pub fn render_model(app: &App, area: Rect, buf: &mut Buffer, focused: bool) {
    let block = pane_block("Model: parameters & update", focused, app.ascii);
    let inner = block.inner(area);
    let Some(s) = app.stepper.as_ref() else {
        return Paragraph::new("no small lesson")
            .block(block)
            .render(area, buf);
    };
    // one row stays for "What to watch", whatever the update takes
    let height = inner.height.saturating_sub(1);
    let mut lines = match Kind::of(s) {
        Kind::Scalar => scalar::model_lines(s, inner.width),
        _ => update::model_lines(s, inner.width, height),
    };
    if app.ascii {
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
        app.ascii,
    );
    let [top, bottom] = Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(watch.len() as u16),
    ])
    .areas(inner);
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

/// A number to 3 decimals, with a true minus sign; tiny or huge values in
/// scientific form so they do not read as 0.000 or run off the pane.
pub fn num(v: f32) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "inf".into()
        } else {
            "−inf".into()
        };
    }
    let a = v.abs();
    let s = if a != 0.0 && !(1e-3..1e6).contains(&a) {
        format!("{v:.3e}")
    } else {
        format!("{v:.3}")
    };
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

/// A learning rate below 0.001 in scientific form, 1e-5, as the lessons write it.
pub fn lr_text(lr: f32) -> String {
    if lr != 0.0 && lr.abs() < 1e-3 {
        format!("{lr:e}")
    } else {
        format!("{lr}")
    }
}

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

/// "epoch 12/1000 · lr 0.01 · cost now 4.667", and whether it runs or is
/// done; the cost goes to a line of its own when `width` is short.
fn header(s: &Stepper, width: u16) -> Vec<Line<'static>> {
    let e = &s.session;
    // the epoch last run, as the Loss pane and `dl-lab run` count it
    let epoch = match &s.last {
        Some(r) => format!("epoch {}/{}", r.epoch, e.epochs),
        None => format!("before epoch 0/{}", e.epochs),
    };
    let mut first = vec![Span::styled(
        epoch,
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
    let Some(now) = &s.now else {
        return vec![Line::from(first)];
    };
    let cost = format!("cost now {}", num(now.cost));
    let mut one = Line::from(first.clone());
    one.push_span(Span::raw(format!(" · {cost}")));
    if one.width() <= usize::from(width) {
        vec![one]
    } else {
        vec![Line::from(first), Line::raw(cost)]
    }
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
