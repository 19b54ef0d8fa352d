//! Regression data with the current fit: one input → a chart of the points
//! and the model's curve H(x) (a line for linear, the MLP's bends for
//! mlp-regression); several inputs → a table of each sample's inputs,
//! target and prediction.

use ndarray::{Array2, Axis as NdAxis};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::{Chart, Dataset, GraphType, Paragraph, Widget};

use super::num;
use super::scalar::ticked_axis;
use crate::engine::Array;
use crate::lessons::{SmallModel, Task};
use crate::tui::stepper::Stepper;
use crate::tui::views::pane_block;
use crate::Tensor;

/// At most this many data points are drawn (every k-th of a large set).
pub const MAX_POINTS: usize = 300;

/// The x window for an MLP's curve (its data are x ~ N(0, 1)).
pub const MLP_WINDOW: [f64; 2] = [-3.0, 3.0];

/// The model's outputs for inputs `x` (N, F), without recording a graph.
pub(super) fn predict(s: &Stepper, x: Array) -> Option<Vec<f32>> {
    crate::no_grad(|| s.session.predict(&Tensor::new(x)))
        .ok()
        .map(|t| t.to_vec())
}

fn finite_range(vs: impl Iterator<Item = f64>) -> Option<[f64; 2]> {
    let (lo, hi) = vs
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    (lo <= hi).then_some([lo, hi])
}

fn is_mlp(s: &Stepper) -> bool {
    matches!(
        &s.lesson().task,
        Task::Regression {
            model: SmallModel::Layers(_),
            ..
        }
    )
}

pub(super) fn render_curve(s: &Stepper, ascii: bool, area: Rect, buf: &mut Buffer, focused: bool) {
    let (x, y) = s.session.data();
    let data: Vec<(f64, f64)> = x
        .iter()
        .zip(y.iter())
        .map(|(&a, &b)| (f64::from(a), f64::from(b)))
        .collect();
    let [xlo, xhi] = if is_mlp(s) {
        MLP_WINDOW
    } else {
        let [lo, hi] = finite_range(data.iter().map(|p| p.0)).unwrap_or([0.0, 1.0]);
        let pad = ((hi - lo) * 0.5).max(1.0);
        [lo - pad, hi + pad]
    };
    let m = (usize::from(area.width) * 2).clamp(16, 400);
    let grid: Vec<f32> = (0..=m)
        .map(|i| (xlo + (xhi - xlo) * i as f64 / m as f64) as f32)
        .collect();
    let fit = Array2::from_shape_vec((grid.len(), 1), grid.clone())
        .ok()
        .and_then(|g| predict(s, g.into_dyn()));
    let curve: Vec<(f64, f64)> = match &fit {
        Some(p) => grid
            .iter()
            .zip(p)
            .map(|(&a, &b)| (f64::from(a), f64::from(b)))
            .collect(),
        None => Vec::new(),
    };
    // the y window holds the data; the curve may widen it, but not without bound
    let [dlo, dhi] = finite_range(data.iter().map(|p| p.1)).unwrap_or([0.0, 1.0]);
    let span = (dhi - dlo).max(1.0);
    let [clo, chi] = finite_range(curve.iter().map(|p| p.1)).unwrap_or([dlo, dhi]);
    let (ylo, yhi) = (
        (dlo.min(clo)).max(dlo - 1.5 * span),
        (dhi.max(chi)).min(dhi + 1.5 * span),
    );
    let clipped = clo < ylo || chi > yhi;
    let pad = 0.08 * (yhi - ylo).max(1e-3);
    let (ylo, yhi) = (ylo - pad, yhi + pad);
    let stride = data.len().div_ceil(MAX_POINTS).max(1);
    let shown: Vec<(f64, f64)> = data.iter().step_by(stride).copied().collect();
    let (point, line) = match (ascii, shown.len() <= 50) {
        (true, true) => (Marker::Custom('o'), Marker::Custom('*')),
        (true, false) => (Marker::Custom('.'), Marker::Custom('*')),
        (false, true) => (Marker::Dot, Marker::Braille),
        (false, false) => (Marker::Braille, Marker::Braille),
    };
    let mut title = match (&s.lesson().task, s.params().as_slice()) {
        (
            Task::Regression {
                model: SmallModel::Affine,
                ..
            },
            [(_, w), (_, b)],
        ) => {
            let w = w.iter().next().copied().unwrap_or(f32::NAN);
            let b = b.iter().next().copied().unwrap_or(f32::NAN);
            format!("Dataset: H(x) = {}·x + {}", num(w), num(b))
        }
        _ if stride > 1 => format!("Dataset: points (1 in {stride}), model's curve"),
        _ => "Dataset: points, model's curve".to_string(),
    };
    if clipped {
        title.push_str(" (curve leaves the chart)");
    }
    // the point `p` asked for, H(X), marked on the curve
    let asked: Vec<(f64, f64)> = s
        .prediction()
        .and_then(|(x, y)| Some((f64::from(*x.first()?), f64::from(y))))
        .filter(|&(x, y)| (xlo..=xhi).contains(&x) && (ylo..=yhi).contains(&y))
        .into_iter()
        .collect();
    let hint = " (e: error surface)";
    if super::cost_map::applies(s)
        && area.width < super::SIDE_BY_SIDE
        && title.chars().count() + hint.len() + 4 <= usize::from(area.width)
    {
        title.push_str(hint);
    }
    let datasets = vec![
        Dataset::default()
            .data(&shown)
            .marker(point)
            .style(Style::new().fg(Color::Cyan)),
        Dataset::default()
            .data(&curve)
            .graph_type(GraphType::Line)
            .marker(line)
            .style(Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)),
        Dataset::default()
            .data(&asked)
            .marker(Marker::Custom('X'))
            .style(Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD)),
    ];
    Chart::new(datasets)
        .block(pane_block(&title, focused, ascii))
        .legend_position(None)
        .x_axis(ticked_axis("x", [xlo, xhi]))
        .y_axis(ticked_axis("y", [ylo, yhi]))
        .render(area, buf);
}

/// An input as written in the data: 73, or 0.25.
fn short(v: f32) -> String {
    if v.fract() == 0.0 && v.abs() < 1e5 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Cells a column of `values` written with [`short`] needs: the widest,
/// at least `min`, plus one for the gap before it.
fn column_width(values: &Array, min: usize) -> usize {
    values
        .iter()
        .map(|&v| short(v).chars().count())
        .max()
        .unwrap_or(1)
        .max(min)
        + 1
}

/// Each sample: inputs │ target, prediction H(x), error; then the cost.
pub(super) fn render_table(s: &Stepper, ascii: bool, area: Rect, buf: &mut Buffer, focused: bool) {
    let (x, y) = s.session.data();
    let block = pane_block("Dataset: samples, target y, H(x)", focused, ascii);
    let inner = block.inner(area);
    let width = usize::from(inner.width);
    let rows = x.shape().first().copied().unwrap_or(0);
    let features = x.shape().get(1).copied().unwrap_or(0);
    let preds = predict(s, x.clone()).unwrap_or_else(|| vec![f32::NAN; rows]);
    let x2 = x.view().into_dimensionality::<ndarray::Ix2>().ok();
    // column widths from the numbers themselves; the error column goes first when narrow
    let in_w = column_width(&x, 2);
    let y_w = column_width(&y, 1);
    let fixed = 1 + y_w + 9;
    let with_err = features * in_w + fixed + 9 <= width;
    let fixed = if with_err { fixed + 9 } else { fixed };
    let fit = (width.saturating_sub(fixed) / in_w).clamp(1, features.max(1));
    let cut = if fit < features { "…" } else { "" };
    let mut head: String = (1..=fit.min(features))
        .map(|j| format!("{:>in_w$}", format!("x{j}")))
        .collect();
    head += &format!("{cut}│{:>y_w$}{:>9}", "y", "H(x)");
    if with_err {
        head += &format!("{:>9}", "H(x)−y");
    }
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut lines = vec![Line::styled(head, bold)];
    let room = usize::from(inner.height).saturating_sub(3).max(1);
    for i in 0..rows.min(room) {
        let row = x2
            .as_ref()
            .map(|a| a.index_axis(NdAxis(0), i).to_vec())
            .unwrap_or_default();
        let mut line: String = row
            .iter()
            .take(fit)
            .map(|&v| format!("{:>in_w$}", short(v)))
            .collect();
        let t = y.iter().nth(i).copied().unwrap_or(f32::NAN);
        let p = preds.get(i).copied().unwrap_or(f32::NAN);
        line += &format!("{cut}│{:>y_w$}{:>9}", short(t), num(p));
        if with_err {
            line += &format!("{:>9}", num(p - t));
        }
        lines.push(Line::raw(line));
    }
    if rows > room {
        lines.push(Line::styled(
            format!("… {} more rows", rows - room),
            Style::new().fg(Color::DarkGray),
        ));
    }
    let terms: Vec<String> = (1..=features.min(4))
        .map(|j| format!("x{j}·W{j}"))
        .collect();
    let more = if features > 4 { " + …" } else { "" };
    lines.push(Line::styled(
        format!("H(x) = {}{more} + b", terms.join(" + ")),
        Style::new().fg(Color::DarkGray),
    ));
    if let Some(now) = &s.now {
        lines.push(Line::raw(format!(
            "cost = mean((H(x) − y)²) = {}",
            num(now.cost)
        )));
    }
    Paragraph::new(lines).block(block).render(area, buf);
}
