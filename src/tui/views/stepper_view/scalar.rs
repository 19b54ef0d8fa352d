//! A scalar objective (gd-scalar, momentum): the chart of the lesson's
//! y(x) over its window with the current point, its tangent (slope dy/dx), a
//! trail of past points and the known minimum, and the step written out
//! (x ← x − lr·dy/dx = 5.000 − 0.1·4.000 = 4.600).
//!
//! Near a minimum m with curvature c = y″(m), plain SGD does
//! x − m ← (1 − c·lr)(x − m): the factor says whether x converges (|k| < 1),
//! bounces for ever (gd-scalar's lr 1: 5 ↔ 1) or diverges. For a parabola
//! that holds everywhere, not only near m.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Widget};

use super::{header, lr_text, num, trouble, update_numbers};
use crate::lessons::Objective;
use crate::tui::stepper::Stepper;
use crate::tui::views::pane_block;

/// The lesson's objective (every lesson drawn here has one).
fn objective(s: &Stepper) -> Option<&Objective> {
    s.lesson().objective()
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

/// The objective's window, grown (with a margin) to hold every point given.
fn window(start: [f64; 2], xs: impl Iterator<Item = f64>) -> [f64; 2] {
    let [mut lo, mut hi] = start;
    for x in xs.filter(|x| x.is_finite()) {
        lo = lo.min(x);
        hi = hi.max(x);
    }
    if [lo, hi] != start {
        let pad = 0.08 * (hi - lo);
        lo -= pad;
        hi += pad;
    }
    [lo, hi]
}

pub(super) fn render_chart(s: &Stepper, ascii: bool, area: Rect, buf: &mut Buffer, focused: bool) {
    let Some(o) = objective(s) else {
        return ratatui::widgets::Paragraph::new("no objective")
            .block(pane_block("Dataset", focused, ascii))
            .render(area, buf);
    };
    let f = |x: f64| o.eval(x);
    let x = f64::from(current_x(s));
    let g = f64::from(current_grad(s));
    let [lo, hi] = window(
        o.window.map(f64::from),
        s.trail.iter().map(|&(tx, _)| f64::from(tx)).chain([x]),
    );
    let n = (usize::from(area.width) * 2).clamp(16, 400);
    let curve: Vec<(f64, f64)> = (0..=n)
        .map(|i| lo + (hi - lo) * i as f64 / n as f64)
        .map(|x| (x, f(x)))
        .filter(|(_, y)| y.is_finite())
        .collect();
    // y from the curve's lowest point (or 0, whichever is lower) to 5% over its highest
    let (ymin, ymax) = curve
        .iter()
        .fold((0.0f64, f64::NEG_INFINITY), |(a, b), &(_, y)| {
            (a.min(y), b.max(y))
        });
    let ymax = if ymax.is_finite() { ymax } else { 1.0 };
    let bottom = if ymin < 0.0 {
        ymin - 0.05 * (ymax - ymin)
    } else {
        0.0
    };
    let top = ymax + 0.05 * (ymax - bottom).max(f64::MIN_POSITIVE);
    let minimum: Vec<(f64, f64)> = o
        .minimum
        .map(f64::from)
        .filter(|m| (lo..=hi).contains(m))
        .map(|m| vec![(m, f(m))])
        .unwrap_or_default();
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
    let title = format!("Dataset: y = {}", o.expr());
    // the legend, under the chart in each mark's own colour
    let (now_mark, past_mark, slope_mark, min_mark) = if ascii {
        ("@", "o", "+", "*")
    } else {
        ("█", "•", "╱", "◆")
    };
    let mut legend = vec![
        Span::styled(format!(" {now_mark} x now"), Style::new().fg(Color::Yellow)),
        Span::styled(
            format!(" {past_mark} past x"),
            Style::new().fg(Color::DarkGray),
        ),
        Span::styled(
            format!(" {slope_mark} tangent (dy/dx) "),
            Style::new().fg(Color::Magenta),
        ),
    ];
    // the minimum's mark when the legend has room for it
    let min_span = Span::styled(
        format!("{min_mark} minimum "),
        Style::new().fg(Color::Green),
    );
    let width: usize = legend.iter().map(Span::width).sum();
    if !minimum.is_empty() && width + min_span.width() + 2 <= usize::from(area.width) {
        legend.push(min_span);
    }
    let legend = Line::from(legend);
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
            .data(&minimum)
            .marker(Marker::Custom(if ascii { '*' } else { '◆' }))
            .style(Style::new().fg(Color::Green)),
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
        .block(pane_block(&title, focused, ascii).title_bottom(legend))
        .legend_position(None)
        .x_axis(ticked_axis("x", [lo, hi]))
        .y_axis(ticked_axis("y", [bottom, top]))
        .render(area, buf);
}

/// What x does under this lr near the minimum `m` of curvature `c`:
/// x − m ← (1 − c·lr)(x − m), so x − m is multiplied by k = 1 − c·lr each
/// step (gd-scalar: c = 2, k = 1 − 2·lr).
fn verdict(lr: f32, m: f32, c: f32, width: u16) -> String {
    let k = 1.0 - c * lr;
    let what = if k.abs() < 1e-6 {
        format!("lands on {} at once", short(m))
    } else if (k.abs() - 1.0).abs() < 1e-6 {
        if k < 0.0 {
            "bounces for ever".to_string()
        } else {
            "x never moves".to_string()
        }
    } else if k.abs() > 1.0 {
        "diverges".to_string()
    } else if k < 0.0 {
        "converges, zig-zag".to_string()
    } else {
        format!("converges to {}", short(m))
    };
    let d = format!("x−{}", short(m));
    let short_text = format!("({d}) × {} per step: {what}", num(k));
    if width >= 60 {
        format!("{d} ← (1−{}·lr)({d}): {short_text}", short(c))
    } else {
        short_text
    }
}

/// 3, −1.473: a number without trailing zeros (for formulas).
fn short(v: f32) -> String {
    crate::explain::backprop::num(f64::from((v * 1000.0).round() / 1000.0))
}

/// The update written out: before the first step, what Space will do.
pub(super) fn model_lines(s: &Stepper, width: u16) -> Vec<Line<'static>> {
    let x = current_x(s);
    let g = current_grad(s);
    let lr = s.lr();
    let dim = Style::new().fg(Color::DarkGray);
    let mut lines = header(s, width);
    lines.extend(trouble(s));
    let Some(o) = objective(s) else {
        return lines;
    };
    lines.push(Line::raw(format!("x = {}", num(x))));
    lines.push(Line::raw(format!(
        "y = {} = {}",
        o.expr(),
        num(o.eval(f64::from(x)) as f32)
    )));
    lines.push(Line::raw(format!("dy/dx = {} (by backward())", num(g))));
    let next = update_numbers(x, lr, g);
    let full = format!("next (Space): x ← x − lr·dy/dx = {next}");
    if !s.plain_sgd() {
        // momentum: x ← x − lr·v with v ← μ·v + dy/dx, v summing past slopes
        lines.push(Line::raw(format!(
            "next (Space): one {} step",
            s.hyper().optimizer.describe()
        )));
        if s.hyper().optimizer.momentum() != 0.0 {
            lines.push(Line::styled(
                format!(
                    "v ← {}·v + dy/dx, x ← x − lr·v",
                    s.hyper().optimizer.momentum()
                ),
                dim,
            ));
        }
    } else if full.chars().count() <= usize::from(width) {
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
        if s.plain_sgd() {
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
        } else {
            lines.push(Line::styled(
                format!(
                    "last: {} → {} by {} (y was {})",
                    num(b),
                    num(after),
                    s.hyper().optimizer.describe(),
                    num(r.cost)
                ),
                dim,
            ));
        }
    }
    if let Some(m) = o.minimum {
        if s.plain_sgd() {
            let c = o.curvature(f64::from(m)) as f32;
            lines.push(Line::styled(verdict(lr, m, c, width), dim));
        }
    }
    lines
}
