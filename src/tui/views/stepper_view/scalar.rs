//! gd-scalar: the chart of y = (x−3)² + 4 with the current point, its
//! tangent (slope dy/dx) and a trail of past points, and the step written out
//! (x ← x − lr·dy/dx = 5.000 − 0.1·4.000 = 4.600).
//!
//! With plain SGD, x − 3 ← (1 − 2·lr)(x − 3): the factor 1 − 2·lr says
//! whether x converges (|k| < 1), bounces 5 ↔ 1 for ever (lr 1) or diverges.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Widget};

use super::{header, lr_text, num, trouble, update_numbers};
use crate::tui::stepper::Stepper;
use crate::tui::views::pane_block;

/// The x window shown while the point stays inside it.
pub const X_WINDOW: [f64; 2] = [-1.0, 7.0];

fn f(x: f64) -> f64 {
    (x - 3.0).powi(2) + 4.0
}

/// The current x (NaN if the session has none).
fn current_x(s: &Stepper) -> f32 {
    s.params()
        .first()
        .and_then(|(_, a)| a.iter().next().copied())
        .unwrap_or(f32::NAN)
}

/// dy/dx at the current x, as backward() computed it.
fn current_grad(s: &Stepper) -> f32 {
    s.now
        .as_ref()
        .and_then(|n| n.grads.first())
        .and_then(|(_, g)| g.iter().next().copied())
        .unwrap_or(f32::NAN)
}

/// A short axis label: 2.5, 120, 4e9.
pub(super) fn tick(v: f64) -> String {
    if v.abs() < 1e4 {
        format!("{v:.1}")
    } else {
        format!("{v:.0e}")
    }
}

/// An axis over `[lo, hi]` labelled at both ends and in the middle.
pub(super) fn ticked_axis(title: &'static str, [lo, hi]: [f64; 2]) -> Axis<'static> {
    Axis::default()
        .title(title)
        .bounds([lo, hi])
        .labels(crate::tui::format::distinct_ticks(vec![
            tick(lo),
            tick((lo + hi) / 2.0),
            tick(hi),
        ]))
}

/// [`X_WINDOW`], grown (with a margin) to hold every point given.
fn window(xs: impl Iterator<Item = f64>) -> [f64; 2] {
    let [mut lo, mut hi] = X_WINDOW;
    for x in xs.filter(|x| x.is_finite()) {
        lo = lo.min(x);
        hi = hi.max(x);
    }
    if [lo, hi] != X_WINDOW {
        let pad = 0.08 * (hi - lo);
        lo -= pad;
        hi += pad;
    }
    [lo, hi]
}

pub(super) fn render_chart(s: &Stepper, ascii: bool, area: Rect, buf: &mut Buffer, focused: bool) {
    let x = f64::from(current_x(s));
    let g = f64::from(current_grad(s));
    let [lo, hi] = window(s.trail.iter().map(|&(tx, _)| f64::from(tx)).chain([x]));
    let top = f(lo).max(f(hi)) * 1.05;
    let n = (usize::from(area.width) * 2).clamp(16, 400);
    let curve: Vec<(f64, f64)> = (0..=n)
        .map(|i| lo + (hi - lo) * i as f64 / n as f64)
        .map(|x| (x, f(x)))
        .collect();
    let half = 0.12 * (hi - lo);
    let tangent: Vec<(f64, f64)> = if x.is_finite() && g.is_finite() {
        vec![(x - half, f(x) - g * half), (x + half, f(x) + g * half)]
    } else {
        Vec::new()
    };
    let trail: Vec<(f64, f64)> = s
        .trail
        .iter()
        .map(|&(tx, ty)| (f64::from(tx), f64::from(ty)))
        .collect();
    let now: Vec<(f64, f64)> = if x.is_finite() {
        vec![(x, f(x))]
    } else {
        Vec::new()
    };
    let (line, slope, past, point) = if ascii {
        (
            Marker::Custom('.'),
            Marker::Custom('+'),
            Marker::Custom('o'),
            Marker::Custom('@'),
        )
    } else {
        (Marker::Braille, Marker::Braille, Marker::Dot, Marker::Block)
    };
    let title = "Dataset: y = (x−3)² + 4";
    // the legend, under the chart in each mark's own colour
    let (now_mark, past_mark, slope_mark) = if ascii {
        ("@", "o", "+")
    } else {
        ("█", "•", "╱")
    };
    let legend = Line::from(vec![
        Span::styled(format!(" {now_mark} x now"), Style::new().fg(Color::Yellow)),
        Span::styled(
            format!(" {past_mark} past x"),
            Style::new().fg(Color::DarkGray),
        ),
        Span::styled(
            format!(" {slope_mark} tangent (dy/dx) "),
            Style::new().fg(Color::Magenta),
        ),
    ]);
    let datasets = vec![
        Dataset::default()
            .data(&curve)
            .graph_type(GraphType::Line)
            .marker(line)
            .style(Style::new().fg(Color::Cyan)),
        Dataset::default()
            .data(&tangent)
            .graph_type(GraphType::Line)
            .marker(slope)
            .style(Style::new().fg(Color::Magenta)),
        Dataset::default()
            .data(&trail)
            .marker(past)
            .style(Style::new().fg(Color::DarkGray)),
        Dataset::default()
            .data(&now)
            .marker(point)
            .style(Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)),
    ];
    Chart::new(datasets)
        .block(pane_block(title, focused, ascii).title_bottom(legend))
        .legend_position(None)
        .x_axis(ticked_axis("x", [lo, hi]))
        .y_axis(ticked_axis("y", [0.0, top]))
        .render(area, buf);
}

/// What x does under this lr: x − lr·2(x−3) − 3 = (1 − 2·lr)(x − 3), so
/// x − 3 is multiplied by k = 1 − 2·lr each step.
fn verdict(lr: f32, width: u16) -> String {
    let k = 1.0 - 2.0 * lr;
    let what = if k.abs() < 1e-6 {
        "lands on 3 at once"
    } else if (k.abs() - 1.0).abs() < 1e-6 {
        if k < 0.0 {
            "bounces for ever"
        } else {
            "x never moves"
        }
    } else if k.abs() > 1.0 {
        "diverges"
    } else if k < 0.0 {
        "converges, zig-zag"
    } else {
        "converges to 3"
    };
    let short = format!("(x−3) × {} per step: {what}", num(k));
    if width >= 60 {
        format!("x−3 ← (1−2·lr)(x−3): {short}")
    } else {
        short
    }
}

/// The update written out: before the first step, what Space will do.
pub(super) fn model_lines(s: &Stepper, width: u16) -> Vec<Line<'static>> {
    let x = current_x(s);
    let g = current_grad(s);
    let lr = s.lr();
    let dim = Style::new().fg(Color::DarkGray);
    let mut lines = header(s, width);
    lines.extend(trouble(s));
    lines.push(Line::raw(format!("x = {}", num(x))));
    lines.push(Line::raw(format!(
        "y = (x−3)² + 4 = {}",
        num((x - 3.0).powi(2) + 4.0)
    )));
    lines.push(Line::raw(format!("dy/dx = 2(x−3) = {}", num(g))));
    let next = update_numbers(x, lr, g);
    let full = format!("next (Space): x ← x − lr·dy/dx = {next}");
    if full.chars().count() <= usize::from(width) {
        lines.push(Line::raw(full));
    } else {
        lines.push(Line::raw("next (Space): x ← x − lr·dy/dx"));
        lines.push(Line::raw(format!("  = {next}")));
    }
    if let (Some(r), Some(b)) = (
        &s.last,
        s.before.first().and_then(|(_, a)| a.iter().next().copied()),
    ) {
        let gl = r
            .grads
            .first()
            .and_then(|(_, a)| a.iter().next().copied())
            .unwrap_or(f32::NAN);
        let after = r
            .params
            .first()
            .and_then(|(_, a)| a.iter().next().copied())
            .unwrap_or(f32::NAN);
        lines.push(Line::styled(
            format!(
                "last: {} − {}·{} = {} (y was {})",
                num(b),
                lr_text(s.last_lr),
                super::paren(gl),
                num(after),
                num(r.cost)
            ),
            dim,
        ));
    }
    if s.plain_sgd() {
        lines.push(Line::styled(verdict(lr, width), dim));
    }
    if (x - 3.0).abs() < 5e-4 {
        lines.push(Line::styled(
            "at the minimum: x = 3, y = 4, dy/dx = 0",
            Style::new().fg(Color::Green),
        ));
    }
    lines
}
