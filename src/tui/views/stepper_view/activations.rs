//! `A` in the small lessons: sigmoid, tanh and ReLU on [−5, 5] beside
//! their derivatives, the nonlinearities a network puts between its
//! Linear layers (without them the layers collapse into one straight line).
//!
//! The curves are the closed forms (σ' = σ(1 − σ), tanh' = 1 − tanh²,
//! ReLU' = 1 for x > 0 and 0 for x ≤ 0, the engine's choice at 0);
//! tests/small_lab.rs checks the samples against the engine's forward and
//! backward.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::{Chart, Dataset, GraphType, Paragraph, Widget};

use super::scalar::ticked_axis;
use crate::tui::views::pane_block;

/// The plotted interval.
pub const X_RANGE: [f64; 2] = [-5.0, 5.0];
/// Value chart's y bounds (ReLU leaves it above 2, as a line going up).
pub const VALUE_Y: [f64; 2] = [-1.2, 2.0];
/// Derivative chart's y bounds.
pub const SLOPE_Y: [f64; 2] = [-0.1, 1.1];

/// The three activation functions the lab plots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Sigmoid,
    Tanh,
    Relu,
}

impl Activation {
    pub const ALL: [Activation; 3] = [Activation::Sigmoid, Activation::Tanh, Activation::Relu];

    pub fn name(self) -> &'static str {
        match self {
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "ReLU",
        }
    }

    /// f(x) and f'(x).
    pub fn eval(self, x: f64) -> (f64, f64) {
        match self {
            Activation::Sigmoid => {
                let s = 1.0 / (1.0 + (-x).exp());
                (s, s * (1.0 - s))
            }
            Activation::Tanh => {
                let t = x.tanh();
                (t, 1.0 - t * t)
            }
            Activation::Relu => {
                if x > 0.0 {
                    (x, 1.0)
                } else {
                    (0.0, 0.0)
                }
            }
        }
    }

    fn colour(self) -> Color {
        match self {
            Activation::Sigmoid => Color::Cyan,
            Activation::Tanh => Color::Yellow,
            Activation::Relu => Color::Green,
        }
    }

    /// The letter that marks the curve where colours cannot tell the curves
    /// apart (`NO_COLOR`) or Braille cannot be drawn (`--ascii`).
    pub fn letter(self) -> char {
        match self {
            Activation::Sigmoid => 's',
            Activation::Tanh => 't',
            Activation::Relu => 'r',
        }
    }
}

/// `n + 1` samples (x, f(x), f'(x)) evenly over [`X_RANGE`].
pub fn samples(a: Activation, n: usize) -> Vec<(f64, f64, f64)> {
    let n = n.max(1);
    let [lo, hi] = X_RANGE;
    (0..=n)
        .map(|i| {
            let x = lo + (hi - lo) * i as f64 / n as f64;
            let (f, d) = a.eval(x);
            (x, f, d)
        })
        .collect()
}

/// The pane: values left, derivatives right, a key line naming the curves.
/// In colour each curve is a Braille line of its own colour; with `mono`
/// (`NO_COLOR`) or `ascii` each is drawn with its own letter instead, and the
/// key line shows the letter.
pub fn render(ascii: bool, mono: bool, area: Rect, buf: &mut Buffer, focused: bool) {
    let letters = ascii || mono;
    let block = pane_block("Activations: f and f' (A: the graph)", focused, ascii);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width < 20 || inner.height < 5 {
        if !inner.is_empty() {
            Paragraph::new("too small").render(inner, buf);
        }
        return;
    }
    let [key, charts] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    let mut spans = Vec::new();
    for a in Activation::ALL {
        let mark = if letters { a.letter() } else { '━' };
        spans.push(ratatui::text::Span::styled(
            format!("{mark} {}  ", a.name()),
            Style::new().fg(a.colour()),
        ));
    }
    Paragraph::new(Line::from(spans)).render(key, buf);
    // a column between the charts: the left one's x label ends at its edge,
    // where the right one's y labels begin
    let [left, right] = Layout::horizontal([Constraint::Fill(1), Constraint::Fill(1)])
        .spacing(1)
        .areas(charts);
    let n = (usize::from(inner.width) * 2).clamp(20, 400);
    // drawn last to first: where curves meet the later one's mark stays,
    // and sigmoid's small bump would vanish under the others
    let series: Vec<(Activation, Vec<(f64, f64)>, Vec<(f64, f64)>)> = Activation::ALL
        .iter()
        .rev()
        .map(|&a| {
            let s = samples(a, n);
            (
                a,
                s.iter().map(|&(x, f, _)| (x, f)).collect(),
                s.iter().map(|&(x, _, d)| (x, d)).collect(),
            )
        })
        .collect();
    let marker = |a: Activation| {
        if letters {
            Marker::Custom(a.letter())
        } else {
            Marker::Braille
        }
    };
    let values: Vec<Dataset> = series
        .iter()
        .map(|(a, v, _)| {
            Dataset::default()
                .data(v)
                .graph_type(GraphType::Line)
                .marker(marker(*a))
                .style(Style::new().fg(a.colour()))
        })
        .collect();
    let slopes: Vec<Dataset> = series
        .iter()
        .map(|(a, _, d)| {
            Dataset::default()
                .data(d)
                .graph_type(GraphType::Line)
                .marker(marker(*a))
                .style(Style::new().fg(a.colour()))
        })
        .collect();
    Chart::new(values)
        .legend_position(None)
        .x_axis(ticked_axis("x", X_RANGE))
        .y_axis(ticked_axis("f", VALUE_Y))
        .render(left, buf);
    Chart::new(slopes)
        .legend_position(None)
        .x_axis(ticked_axis("x", X_RANGE))
        .y_axis(ticked_axis("f'", SLOPE_Y))
        .render(right, buf);
}
