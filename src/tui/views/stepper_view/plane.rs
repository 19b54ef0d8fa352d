//! XOR: the plane [−0.5, 1.5]² with the 4 points (their target drawn in
//! green when the model gets it right, red when not), the region where the
//! model says p > 0.5 shaded, and the first layer's lines w1·x1 + w2·x2 + b = 0
//! (the perceptron's one decision line, or the MLP's two hidden units).
//! Beside it, each point's p and class; in the Model pane, the cost against
//! ln 2 (BCE when p = 0.5 everywhere, where the perceptron gets stuck).

use ndarray::Array2;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::canvas::{Canvas, Line as Segment};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::fit::predict;
use super::num;
use crate::lessons::{SmallModel, Task};
use crate::nn::LayerSpec;
use crate::tui::stepper::Stepper;
use crate::tui::views::pane_block;

/// The plane shown, in both directions.
pub const BOUNDS: [f64; 2] = [-0.5, 1.5];

/// Below this every weight of a line counts as 0 (no line to draw).
pub const ZERO_WEIGHT: f32 = 1e-3;

const LINE_COLORS: [Color; 4] = [
    Color::Yellow,
    Color::Magenta,
    Color::LightBlue,
    Color::LightRed,
];

/// (name, weight (out, in), bias (out)) of each Linear layer, in order.
fn linears(s: &Stepper) -> Vec<(Array2<f32>, Vec<f32>)> {
    let params = s.params();
    let mut out = Vec::new();
    for pair in params.chunks(2) {
        if let [(_, w), (_, b)] = pair {
            if let Ok(w) = w.clone().into_dimensionality::<ndarray::Ix2>() {
                out.push((w, b.iter().copied().collect()));
            }
        }
    }
    out
}

fn activation_after(s: &Stepper, layer: usize) -> &'static str {
    let Task::Regression {
        model: SmallModel::Layers(specs),
        ..
    } = &s.lesson().task
    else {
        return "";
    };
    let mut seen = 0;
    for (i, spec) in specs.iter().enumerate() {
        if matches!(spec, LayerSpec::Linear { .. }) {
            if seen == layer {
                return match specs.get(i + 1) {
                    Some(LayerSpec::Sigmoid) => "σ",
                    Some(LayerSpec::ReLU) => "relu",
                    _ => "",
                };
            }
            seen += 1;
        }
    }
    ""
}

/// "0.327·x1 + 0.527·x2 − 0.199" with true signs.
fn affine_text(w: &[f32], b: f32, var: &str) -> String {
    let mut s = String::new();
    for (j, &c) in w.iter().enumerate() {
        let term = format!("{}·{var}{}", num(c.abs()), j + 1);
        s += &match (j, c < 0.0) {
            (0, false) => term,
            (0, true) => format!("−{term}"),
            (_, false) => format!(" + {term}"),
            (_, true) => format!(" − {term}"),
        };
    }
    s + &if b < 0.0 {
        format!(" − {}", num(-b))
    } else {
        format!(" + {}", num(b))
    }
}

/// Each unit as a formula with today's numbers: h1 = σ(6.594·x1 + 6.594·x2 − 10.166), p = σ(…).
pub(super) fn unit_formulas(s: &Stepper) -> Vec<Line<'static>> {
    let layers = linears(s);
    let n = layers.len();
    let mut lines = Vec::new();
    for (k, (w, b)) in layers.iter().enumerate() {
        let var = if k == 0 { "x" } else { "h" };
        let act = activation_after(s, k);
        for (j, row) in w.outer_iter().enumerate() {
            let name = if k + 1 == n {
                if w.nrows() == 1 {
                    "p".to_string()
                } else {
                    format!("p{}", j + 1)
                }
            } else {
                format!("h{}", j + 1)
            };
            let inner = affine_text(&row.to_vec(), b.get(j).copied().unwrap_or(f32::NAN), var);
            lines.push(Line::raw(if act.is_empty() {
                format!("{name} = {inner}")
            } else {
                format!("{name} = {act}({inner})")
            }));
        }
    }
    lines
}

/// Whether a single perceptron's weights have all but vanished.
fn weights_vanished(s: &Stepper) -> bool {
    let layers = linears(s);
    layers.len() == 1 && layers[0].0.iter().all(|w| w.abs() < ZERO_WEIGHT)
}

/// The cost against ln 2, the BCE of answering p = 0.5 for every point.
pub(super) fn ln2_note(s: &Stepper) -> Vec<Line<'static>> {
    let Some(cost) = s.now.as_ref().map(|n| n.cost) else {
        return Vec::new();
    };
    let ln2 = std::f32::consts::LN_2;
    let (text, color) = if weights_vanished(s) {
        (
            format!(
                "the weights shrank to 0: p = 0.5 everywhere, cost = ln 2 = {}",
                num(ln2)
            ),
            Color::Red,
        )
    } else if (cost - ln2).abs() < 5e-3 {
        (
            format!(
                "cost {} ≈ ln 2 = {}: no better than p = 0.5 everywhere",
                num(cost),
                num(ln2)
            ),
            Color::Red,
        )
    } else if cost < ln2 {
        (
            format!(
                "cost {} < ln 2 = {}: better than p = 0.5 everywhere",
                num(cost),
                num(ln2)
            ),
            Color::Green,
        )
    } else {
        (
            format!(
                "cost {} > ln 2 = {} (p = 0.5 everywhere would do better)",
                num(cost),
                num(ln2)
            ),
            Color::Yellow,
        )
    };
    let mut lines = vec![Line::styled(text, Style::new().fg(color))];
    if linears(s).len() == 1 {
        lines.push(Line::styled(
            "one line can't split XOR's 1s and 0s",
            Style::new().fg(Color::DarkGray),
        ));
    }
    lines
}

/// Both ends of w1·x1 + w2·x2 + b = 0 far outside the plane (the canvas clips).
fn segment(w1: f64, w2: f64, b: f64) -> Option<(f64, f64, f64, f64)> {
    let far = 1e3;
    let ends = if w2.abs() >= w1.abs() {
        (-far, (w1 * far - b) / w2, far, (-w1 * far - b) / w2)
    } else {
        ((w2 * far - b) / w1, -far, (-w2 * far - b) / w1, far)
    };
    [ends.0, ends.1, ends.2, ends.3]
        .iter()
        .all(|v| v.is_finite())
        .then_some(ends)
}

/// The point of the line nearest the plane's centre, for its label.
fn label_at(w1: f64, w2: f64, b: f64) -> (f64, f64) {
    let (cx, cy) = (0.5, 0.5);
    let d = (w1 * cx + w2 * cy + b) / (w1 * w1 + w2 * w2);
    (cx - d * w1, cy - d * w2)
}

pub(super) fn render(s: &Stepper, ascii: bool, area: Rect, buf: &mut Buffer, focused: bool) {
    let block = pane_block("Dataset: XOR, lines, p > 0.5 shaded", focused, ascii);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.is_empty() {
        return;
    }
    // a cell is about twice as tall as wide: keep the plane about square
    let square = inner.height.saturating_mul(2).saturating_add(2);
    let (plane, list) = if inner.width >= 36 {
        let w = (inner.width - 20).min(square);
        let [a, _, b] = Layout::horizontal([
            Constraint::Length(w),
            Constraint::Length(1),
            Constraint::Min(19),
        ])
        .areas(inner);
        (a, Some(b))
    } else {
        (inner, None)
    };
    let (x, y) = s.session.data();
    let p = predict(s, x.clone()).unwrap_or_default();
    let points: Vec<(f64, f64, f32, f32)> = x
        .outer_iter()
        .zip(y.iter())
        .enumerate()
        .map(|(i, (row, &t))| {
            let r: Vec<f32> = row.iter().copied().collect();
            (
                f64::from(r.first().copied().unwrap_or(0.0)),
                f64::from(r.get(1).copied().unwrap_or(0.0)),
                t,
                p.get(i).copied().unwrap_or(f32::NAN),
            )
        })
        .collect();
    render_plane(s, ascii, &points, plane, buf);
    if let Some(list) = list {
        render_list(s, &points, ascii, list, buf);
    }
}

fn render_plane(
    s: &Stepper,
    ascii: bool,
    points: &[(f64, f64, f32, f32)],
    area: Rect,
    buf: &mut Buffer,
) {
    let layers = linears(s);
    let lines: Vec<(f64, f64, f64)> = layers
        .first()
        .map(|(w, b)| {
            w.outer_iter()
                .zip(b)
                .map(|(r, &b)| {
                    (
                        f64::from(r.get(0).copied().unwrap_or(0.0)),
                        f64::from(r.get(1).copied().unwrap_or(0.0)),
                        f64::from(b),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let vanished = weights_vanished(s);
    let many = lines.len() > 1;
    Canvas::default()
        .x_bounds(BOUNDS)
        .y_bounds(BOUNDS)
        .marker(if ascii {
            Marker::Custom('*')
        } else {
            Marker::Braille
        })
        .paint(|ctx| {
            let faint = Style::new().fg(Color::DarkGray);
            ctx.print(BOUNDS[1] - 0.2, BOUNDS[0], Span::styled("x1→", faint));
            ctx.print(BOUNDS[0], BOUNDS[1], Span::styled("x2↑", faint));
            for (k, &(w1, w2, b)) in lines.iter().enumerate() {
                if w1.abs().max(w2.abs()) < f64::from(ZERO_WEIGHT) {
                    continue;
                }
                let color = LINE_COLORS[k % LINE_COLORS.len()];
                if let Some((x1, y1, x2, y2)) = segment(w1, w2, b) {
                    ctx.draw(&Segment::new(x1, y1, x2, y2, color));
                }
                // where a unit's output is 0.5: the decision line itself, or h = 0.5
                let name = if many {
                    format!("h{}", k + 1)
                } else {
                    "p=0.5".to_string()
                };
                let (lx, ly) = label_at(w1, w2, b);
                ctx.print(lx, ly, Span::styled(name, Style::new().fg(color)));
            }
            for &(px, py, t, p) in points {
                let right = (p > 0.5) == (t > 0.5);
                let color = if right { Color::Green } else { Color::Red };
                ctx.print(
                    px,
                    py,
                    Span::styled(
                        format!("{t}"),
                        Style::new().fg(color).add_modifier(Modifier::BOLD),
                    ),
                );
            }
            if vanished {
                ctx.print(
                    0.0,
                    0.5,
                    Span::styled("w ≈ 0: no line", Style::new().fg(Color::Red)),
                );
            }
        })
        .render(area, buf);
    shade(s, ascii, area, buf);
}

/// Tint (or dot, in ASCII) the cells where the model says p > 0.5.
fn shade(s: &Stepper, ascii: bool, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    let (w, h) = (usize::from(area.width), usize::from(area.height));
    let span = BOUNDS[1] - BOUNDS[0];
    let centres: Vec<f32> = (0..h)
        .flat_map(|r| (0..w).map(move |c| (c, r)))
        .flat_map(|(c, r)| {
            let wx = BOUNDS[0] + (c as f64 + 0.5) / w as f64 * span;
            let wy = BOUNDS[1] - (r as f64 + 0.5) / h as f64 * span;
            [wx as f32, wy as f32]
        })
        .collect();
    let Some(p) = Array2::from_shape_vec((w * h, 2), centres)
        .ok()
        .and_then(|g| predict(s, g.into_dyn()))
    else {
        return;
    };
    for (i, &pi) in p.iter().enumerate() {
        if pi <= 0.5 {
            continue;
        }
        let pos = (area.x + (i % w) as u16, area.y + (i / w) as u16);
        let Some(cell) = buf.cell_mut(pos) else {
            continue;
        };
        if ascii {
            if cell.symbol() == " " {
                cell.set_char('.');
            }
        } else {
            cell.set_bg(Color::Rgb(20, 50, 30));
        }
    }
}

/// Each point: inputs, target, p and class, and the tally.
fn render_list(
    s: &Stepper,
    points: &[(f64, f64, f32, f32)],
    ascii: bool,
    area: Rect,
    buf: &mut Buffer,
) {
    let (yes, no) = if ascii { ("ok", "X") } else { ("✓", "✗") };
    let mut lines = vec![Line::styled(
        "x1 x2 y     p  →",
        Style::new().add_modifier(Modifier::BOLD),
    )];
    let mut right = 0;
    for &(x1, x2, t, p) in points {
        let class = u8::from(p > 0.5);
        let ok = (p > 0.5) == (t > 0.5);
        right += usize::from(ok);
        let color = if ok { Color::Green } else { Color::Red };
        lines.push(Line::from(vec![
            // fixed notation: a tiny p (hand-set weights) must not widen the column
            Span::raw(format!("{x1:>2}{x2:>3}{t:>2} {p:>5.3} ")),
            Span::styled(
                format!("{class} {}", if ok { yes } else { no }),
                Style::new().fg(color),
            ),
        ]));
    }
    // the legend of the points' colours on the plane, with the tally
    let n = points.len();
    lines.push(Line::styled(
        format!("{yes} right {right}/{n}"),
        Style::new().fg(Color::Green),
    ));
    lines.push(Line::styled(
        format!("{no} wrong {}/{n}", n - right),
        Style::new().fg(Color::Red),
    ));
    lines.push(Line::styled(
        "p = P(y = 1)",
        Style::new().fg(Color::DarkGray),
    ));
    lines.push(Line::styled(
        "→ 1 if p > 0.5",
        Style::new().fg(Color::DarkGray),
    ));
    lines.extend(ln2_note(s));
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(area, buf);
}
