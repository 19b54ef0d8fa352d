//! Draw a digit (Dataset pane, key `d`, MNIST lessons): a 28×28 canvas
//! drawn with the mouse (left button paints, right erases) or the keyboard
//! (arrows move the cursor when the pane is open; Space puts the pen down
//! or lifts it, and a pen that is down paints as it moves; `+`/`-` brush
//! size; `x` or Backspace clears). The trained model's prediction and top-3
//! update as you draw; they are computed in `App::update`, not while drawing.
//!
//! Before the drawing reaches the model it is prepared the way the MNIST
//! digits were (LeCun, Cortes, Burges, "The MNIST database"): the ink's
//! bounding box is scaled to fit a 20×20 box keeping its aspect ratio
//! (area-weighted resampling, so strokes stay anti-aliased), then placed in
//! the 28×28 field so that its centre of mass, counted in pixel indices, is
//! at pixel (14, 14) (to the nearest whole pixel), as in MNIST's own
//! digits. Values stay in 0..1, as the dataset's pixels /255 are. An MNIST
//! digit drawn in comes out unchanged (see tests/tui_canvas.rs). See
//! [`prepare`].

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;

use super::app::{App, PaneId};
use super::views::canvas_view;
use crate::nn::Sequential;

/// The canvas and the model's input are MNIST's 28×28.
pub const SIDE: usize = 28;
/// The box the ink's bounding box is scaled to fit (MNIST: 20×20).
pub const BOX: usize = 20;
/// Brush sizes `+`/`-` reach (the diameter in pixels).
pub const MIN_BRUSH: usize = 1;
pub const MAX_BRUSH: usize = 5;
/// The brush a new canvas starts with: about an MNIST stroke after scaling.
pub const DEFAULT_BRUSH: usize = 2;

/// The canvas's keys, for the help (`?`).
pub const KEYS: &[(&str, &str)] = &[
    ("d", "draw a digit on a 28x28 canvas / back to the images"),
    ("mouse", "drawing: left button paints, right erases"),
    (
        "arrows, Space",
        "drawing (pane open): move the cursor; Space pen down / up",
    ),
    ("+ / -", "drawing: brush size"),
    ("x / Backspace", "drawing: clear the canvas"),
];

/// The canvas's state, and the model's answer for what is drawn.
pub struct Canvas {
    /// The Dataset pane shows the canvas instead of the images.
    pub on: bool,
    /// The drawing, row-major SIDE×SIDE, 0 (paper) … 1 (ink).
    pub ink: Vec<f32>,
    /// The keyboard cursor (row, col).
    pub cursor: (usize, usize),
    /// The pen is down: moving the cursor paints.
    pub pen: bool,
    /// Brush diameter in pixels.
    pub brush: usize,
    /// What the model sees: the drawing after [`prepare`] (empty before any ink).
    pub input: Vec<f32>,
    /// Softmax probabilities for `input` (None: no model or no ink).
    pub probs: Option<Result<Vec<f32>, String>>,
    /// What `probs` was computed for.
    seen: Option<(Vec<f32>, Arc<Sequential>)>,
}

impl Default for Canvas {
    fn default() -> Self {
        Canvas {
            on: false,
            ink: vec![0.0; SIDE * SIDE],
            cursor: (SIDE / 2, SIDE / 2),
            pen: false,
            brush: DEFAULT_BRUSH,
            input: Vec::new(),
            probs: None,
            seen: None,
        }
    }
}

impl Canvas {
    /// Paint (`value` 1) or erase (0) a brush-sized disc centred on pixel
    /// (row, col); the brush's rim gets half ink, as a pen's edge does.
    pub fn paint(&mut self, row: usize, col: usize, erase: bool) {
        let r = self.brush as f32 / 2.0;
        // a 1-pixel brush is the pixel itself; even sizes centre on a corner
        let (cy, cx) = if self.brush % 2 == 0 {
            (row as f32, col as f32)
        } else {
            (row as f32 + 0.5, col as f32 + 0.5)
        };
        let reach = self.brush / 2 + 1;
        for y in row.saturating_sub(reach)..(row + reach + 1).min(SIDE) {
            for x in col.saturating_sub(reach)..(col + reach + 1).min(SIDE) {
                let d = ((y as f32 + 0.5 - cy).powi(2) + (x as f32 + 0.5 - cx).powi(2)).sqrt();
                let v = if d <= r {
                    1.0
                } else if d <= r + 0.5 && self.brush > 1 {
                    0.5
                } else {
                    continue;
                };
                let cell = &mut self.ink[y * SIDE + x];
                *cell = if erase {
                    (*cell - v).max(0.0)
                } else {
                    cell.max(v)
                };
            }
        }
    }

    pub fn clear(&mut self) {
        self.ink.iter_mut().for_each(|v| *v = 0.0);
        self.pen = false;
    }

    /// Whether anything is drawn.
    pub fn has_ink(&self) -> bool {
        self.ink.iter().any(|&v| v > 0.0)
    }

    /// The canvas's keys when it is shown; `open` says whether the pane is
    /// open (then the arrows move the cursor, else they move the focus).
    /// True if the key was the canvas's.
    pub fn handle_key(&mut self, key: KeyEvent, open: bool) -> bool {
        if key.kind == KeyEventKind::Release {
            return false;
        }
        let (r, c) = self.cursor;
        let moved = match key.code {
            KeyCode::Up if open => Some((r.saturating_sub(1), c)),
            KeyCode::Down if open => Some(((r + 1).min(SIDE - 1), c)),
            KeyCode::Left if open => Some((r, c.saturating_sub(1))),
            KeyCode::Right if open => Some((r, (c + 1).min(SIDE - 1))),
            KeyCode::Char(' ') => {
                self.pen = !self.pen;
                if self.pen {
                    self.paint(r, c, false);
                }
                return true;
            }
            KeyCode::Char('+') | KeyCode::Char('=') => {
                self.brush = (self.brush + 1).min(MAX_BRUSH);
                return true;
            }
            KeyCode::Char('-') => {
                self.brush = self.brush.saturating_sub(1).max(MIN_BRUSH);
                return true;
            }
            KeyCode::Char('x') | KeyCode::Backspace => {
                self.clear();
                return true;
            }
            _ => None,
        };
        let Some((r, c)) = moved else {
            return false;
        };
        self.cursor = (r, c);
        if self.pen {
            self.paint(r, c, false);
        }
        true
    }

    /// Prepare the drawing and ask `model` about it (again only when the
    /// drawing or the model changed). `input_shape` is one image's shape
    /// as the model takes it.
    pub fn refresh(&mut self, input_shape: &[usize], model: Option<&Arc<Sequential>>) {
        if !self.on {
            return;
        }
        let input = prepare(&self.ink).unwrap_or_default();
        let Some(model) = model else {
            self.input = input;
            self.probs = None;
            self.seen = None;
            return;
        };
        let same = self
            .seen
            .as_ref()
            .is_some_and(|(i, m)| *i == input && Arc::ptr_eq(m, model));
        if same {
            return;
        }
        self.probs = (!input.is_empty()).then(|| {
            crate::tui::views::dataset::predict(model, input_shape, &input)
                .map_err(|e| format!("cannot predict: {e}"))
        });
        self.seen = Some((input.clone(), model.clone()));
        self.input = input;
    }
}

impl App {
    /// Where the Dataset pane is on screen now, if it is shown.
    fn dataset_area(&self) -> Option<Rect> {
        let [main, _] = ratatui::layout::Layout::vertical([
            ratatui::layout::Constraint::Min(0),
            ratatui::layout::Constraint::Length(1),
        ])
        .areas(self.area);
        match (self.zoomed, self.focus) {
            (true, PaneId::Dataset) => Some(main),
            (true, _) => None,
            (false, _) => Some(super::views::pane_areas(self.area)[0]),
        }
    }

    /// The canvas's keys (`d` toggles it, in the MNIST lessons' Dataset
    /// pane); true if the key was the canvas's.
    pub fn canvas_key(&mut self, key: KeyEvent) -> bool {
        if self.focus != PaneId::Dataset || self.stepper.is_some() {
            return false;
        }
        if key.kind != KeyEventKind::Release && key.code == KeyCode::Char('d') {
            self.canvas.on = !self.canvas.on;
            self.message = Some(if self.canvas.on {
                "draw a digit: mouse, or open the pane (Enter) and use the arrows and Space; d: back".into()
            } else {
                "back to the images".into()
            });
            return true;
        }
        self.canvas.on && self.canvas.handle_key(key, self.zoomed)
    }

    /// A mouse press or drag on the canvas paints (left) or erases
    /// (right); true if it was on the canvas.
    pub fn canvas_mouse(&mut self, m: MouseEvent) -> bool {
        if !self.canvas.on || self.stepper.is_some() {
            return false;
        }
        let erase =
            match m.kind {
                MouseEventKind::Down(MouseButton::Left)
                | MouseEventKind::Drag(MouseButton::Left) => false,
                MouseEventKind::Down(MouseButton::Right)
                | MouseEventKind::Drag(MouseButton::Right) => true,
                _ => return false,
            };
        let Some(pane) = self.dataset_area() else {
            return false;
        };
        let inner = Rect {
            x: pane.x + 1,
            y: pane.y + 1,
            width: pane.width.saturating_sub(2),
            height: pane.height.saturating_sub(2),
        };
        let Some((size, rect)) = canvas_view::geometry(inner) else {
            return false;
        };
        let Some((r, c)) = canvas_view::pixel_at(size, rect, m.column, m.row) else {
            return false;
        };
        self.focus = PaneId::Dataset;
        self.canvas.cursor = (r, c);
        self.canvas.paint(r, c, erase);
        true
    }
}

/// The drawing as MNIST prepared its digits (see the module notes): None
/// when nothing is drawn.
pub fn prepare(ink: &[f32]) -> Option<Vec<f32>> {
    let (top, bottom, left, right) = bounding_box(ink)?;
    let (h, w) = (bottom - top + 1, right - left + 1);
    // the longer side becomes BOX pixels, the other keeps the aspect ratio
    let scale = BOX as f32 / h.max(w) as f32;
    let th = ((h as f32 * scale).round() as usize).clamp(1, BOX);
    let tw = ((w as f32 * scale).round() as usize).clamp(1, BOX);
    let crop: Vec<f32> = (top..=bottom)
        .flat_map(|y| ink[y * SIDE + left..=y * SIDE + right].iter().copied())
        .collect();
    let scaled = resample(&crop, (h, w), (th, tw));
    // centre of mass in pixel indices (MNIST's: over its test set the mean
    // centre of mass is (13.99, 14.00) counted so)
    let mass: f32 = scaled.iter().sum();
    let (mut my, mut mx) = (0.0f32, 0.0f32);
    for y in 0..th {
        for x in 0..tw {
            let v = scaled[y * tw + x];
            my += v * y as f32;
            mx += v * x as f32;
        }
    }
    let centre = (SIDE / 2) as f32;
    let place = |m: f32, len: usize| -> usize {
        let at = (centre - m / mass).round().max(0.0) as usize;
        at.min(SIDE - len)
    };
    let (oy, ox) = (place(my, th), place(mx, tw));
    let mut out = vec![0.0; SIDE * SIDE];
    for y in 0..th {
        for x in 0..tw {
            out[(oy + y) * SIDE + ox + x] = scaled[y * tw + x].clamp(0.0, 1.0);
        }
    }
    Some(out)
}

/// (top, bottom, left, right), inclusive, of the pixels with ink.
pub fn bounding_box(ink: &[f32]) -> Option<(usize, usize, usize, usize)> {
    let mut b: Option<(usize, usize, usize, usize)> = None;
    for (i, _) in ink.iter().enumerate().filter(|(_, &v)| v > 0.0) {
        let (y, x) = (i / SIDE, i % SIDE);
        b = Some(match b {
            None => (y, y, x, x),
            Some((t, bo, l, r)) => (t.min(y), bo.max(y), l.min(x), r.max(x)),
        });
    }
    b
}

/// How much of source pixel k falls in target pixel i when `from` pixels
/// become `to` (each target pixel spans from/to source pixels): one row
/// of weights per target pixel, summing to 1.
fn weights(from: usize, to: usize) -> Vec<Vec<(usize, f32)>> {
    let span = from as f32 / to as f32;
    (0..to)
        .map(|i| {
            let (a, b) = (i as f32 * span, (i + 1) as f32 * span);
            (a.floor() as usize..(b.ceil() as usize).min(from))
                .filter_map(|k| {
                    let overlap = b.min(k as f32 + 1.0) - a.max(k as f32);
                    (overlap > 0.0).then_some((k, overlap / span))
                })
                .collect()
        })
        .collect()
}

/// Area-weighted resampling of an (h, w) image to (th, tw): each target
/// pixel is the mean of the source over the area it covers.
pub fn resample(src: &[f32], (h, w): (usize, usize), (th, tw): (usize, usize)) -> Vec<f32> {
    let (wy, wx) = (weights(h, th), weights(w, tw));
    let mut out = vec![0.0; th * tw];
    for (i, row) in wy.iter().enumerate() {
        for (j, col) in wx.iter().enumerate() {
            out[i * tw + j] = row
                .iter()
                .flat_map(|&(k, a)| col.iter().map(move |&(l, b)| a * b * src[k * w + l]))
                .sum();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampling_keeps_the_mean_and_an_equal_size_is_the_identity() {
        let src: Vec<f32> = (0..12).map(|v| v as f32 / 11.0).collect();
        assert_eq!(resample(&src, (3, 4), (3, 4)), src);
        let up = resample(&src, (3, 4), (7, 9));
        let down = resample(&src, (3, 4), (2, 2));
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        assert!((mean(&up) - mean(&src)).abs() < 1e-5);
        assert!((mean(&down) - mean(&src)).abs() < 1e-5);
    }

    #[test]
    fn weights_cover_each_target_pixel_once() {
        for (from, to) in [(5, 20), (20, 20), (27, 20), (3, 7)] {
            for row in weights(from, to) {
                let total: f32 = row.iter().map(|w| w.1).sum();
                assert!((total - 1.0).abs() < 1e-5, "{from}->{to}: {row:?}");
            }
        }
    }
}
