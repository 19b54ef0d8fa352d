//! The error surface of a one-input line H(x) = Wx + b: the cost
//! mean((Wx + b − y)²) over (W, b) as a heat/contour map (see
//! `views/surface.rs`), computed from the session's data (the lesson's, or a
//! `--data` CSV), with the gradient-descent path drawn one point per step and
//! the current (W, b) marked. The window holds the path and the minimum.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::widgets::Widget;

use crate::lessons::{LossKind, SmallModel, Task};
use crate::tui::stepper::Stepper;
use crate::tui::views::pane_block;
use crate::tui::views::surface::{self, HeatMap, Track};

/// Whether the lesson's model is H(x) = Wx + b on one input with MSE (linear).
pub fn applies(s: &Stepper) -> bool {
    matches!(
        &s.lesson().task,
        Task::Regression {
            model: SmallModel::Affine,
            loss: LossKind::Mse,
            ..
        }
    ) && !s.path.is_empty()
}

/// The data as (x, y) pairs in f64, x as the model takes it (standardised
/// with `N` / `--normalize`, so W and b are the ones being trained).
fn pairs(s: &Stepper) -> Vec<(f64, f64)> {
    let (_, y) = s.session.data();
    let x = s.session.model_inputs();
    x.iter()
        .zip(y.iter())
        .map(|(&a, &b)| (f64::from(a), f64::from(b)))
        .collect()
}

/// The cost at (W, b): mean((W·x + b − y)²) over the data.
pub fn cost_fn(s: &Stepper) -> impl Fn(f64, f64) -> f64 {
    let data = pairs(s);
    move |w, b| {
        let n = data.len().max(1) as f64;
        data.iter()
            .map(|&(x, y)| (w * x + b - y).powi(2))
            .sum::<f64>()
            / n
    }
}

/// The least-squares (W, b), where the cost is lowest (None when every x is the same).
pub fn minimum(s: &Stepper) -> Option<[f64; 2]> {
    let data = pairs(s);
    let n = data.len() as f64;
    let (mx, my) = data
        .iter()
        .fold((0.0, 0.0), |(a, b), &(x, y)| (a + x / n, b + y / n));
    let var: f64 = data.iter().map(|&(x, _)| (x - mx).powi(2)).sum();
    let cov: f64 = data.iter().map(|&(x, y)| (x - mx) * (y - my)).sum();
    (var > 0.0).then(|| {
        let w = cov / var;
        [w, my - w * mx]
    })
}

/// The (W, b) window: the path and the minimum, with a margin.
pub fn window(s: &Stepper) -> ([f64; 2], [f64; 2]) {
    let min = minimum(s);
    let pts = s.path.iter().map(|p| [f64::from(p[0]), f64::from(p[1])]);
    let all: Vec<[f64; 2]> = pts.chain(min).collect();
    (
        surface::window(all.iter().map(|p| p[0]), 0.15, 0.5),
        surface::window(all.iter().map(|p| p[1]), 0.15, 0.5),
    )
}

pub(super) fn render(
    s: &Stepper,
    ascii: bool,
    mono: bool,
    area: Rect,
    buf: &mut Buffer,
    focused: bool,
) {
    let title = match s.path.last() {
        Some(p) if area.width >= 50 => format!(
            "Error surface: cost(W, b), W = {}, b = {} (e: fit)",
            super::num(p[0]),
            super::num(p[1])
        ),
        _ => "Error surface (e: fit)".to_string(),
    };
    let block = pane_block(&title, focused, ascii);
    let inner = block.inner(area);
    block.render(area, buf);
    let f = cost_fn(s);
    let (x, y) = window(s);
    let (glyph, trail) = if ascii { ('@', 'o') } else { ('●', '•') };
    HeatMap {
        f: &f,
        x,
        y,
        log: true,
        tracks: vec![Track {
            points: &s.path,
            glyph,
            trail,
            color: Color::LightRed,
        }],
        minimum: minimum(s),
        ascii,
        mono,
    }
    .render(inner, buf);
    // the axes' names, in the corners the numbers leave free
    if inner.width > 10 && inner.height > 2 {
        let dim = ratatui::style::Style::new().fg(Color::DarkGray);
        buf.set_string(inner.x, inner.y + inner.height - 1, "b↑ W→", dim);
        if ascii {
            buf.set_string(inner.x, inner.y + inner.height - 1, "b^ W>", dim);
        }
    }
}
