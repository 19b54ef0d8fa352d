//! The Conv/Pool pane: a kernel (a preset such as "vertical edge", or one of the
//! trained conv1's filters) slides over a held-out digit; the pane shades the
//! input, the kernel and the output feature map, highlights the current window
//! and its output cell, writes that position's multiply-add out with its numbers
//! and fills in the output-size formula. Max and average pooling get the same
//! treatment (which cell wins each window). After training, `f` shows conv1's
//! learned filters and their feature maps for the chosen digit.
//!
//! The arithmetic is not redone here: every number comes from `crate::explain`
//! (`conv2d_steps`, `pool2d_steps`, the same walks `dl-lab conv`/`dl-lab pool`
//! print), and the learned feature maps from the engine's own `Tensor::conv2d`.
//!
//! - `mod.rs`: the pane's state, its keys, the kernels and the render entry
//! - `walk.rs`: the conv/pool view (compact in the overview, full when opened)
//! - `view.rs`: what one frame of that view shows, taken from the explain walk
//! - `text.rs`: numbers as the pane writes them, lines stacked in an area
//! - `grid.rs`: shaded matrices with a highlighted window, and number tables
//! - `filters.rs`: the grid of conv1's learned filters and feature maps
//! - `weights.rs`: a single Linear layer's weight rows as images (softmax-mnist)

mod filters;
pub use filters::feature_maps;
mod grid;
mod text;
mod view;
mod walk;
pub mod weights;
pub use weights::ClassWeights;

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent};
use ndarray::{s, Array2, Ix4};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Widget;

use super::{pane_block, ViewContext};
use crate::data::mnist::Mnist;
use crate::explain::conv_output_size;
use crate::nn::{LayerSpec, Module, Sequential};
use crate::tui::app::App;

/// Hand-made kernels, row-major 3×3: (name, weights).
pub const PRESETS: [(&str, [f32; 9]); 5] = [
    ("identity", [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]),
    // Sobel: bright below dark gives a large positive output
    (
        "horizontal edge",
        [-1.0, -2.0, -1.0, 0.0, 0.0, 0.0, 1.0, 2.0, 1.0],
    ),
    (
        "vertical edge",
        [-1.0, 0.0, 1.0, -2.0, 0.0, 2.0, -1.0, 0.0, 1.0],
    ),
    ("blur", [1.0 / 9.0; 9]),
    ("sharpen", [0.0, -1.0, 0.0, -1.0, 5.0, -1.0, 0.0, -1.0, 0.0]),
];

/// This pane's keys, for the help (`?`): (keys, what they do).
pub const KEYS: &[(&str, &str)] = &[
    (
        "n / N",
        "move the window one step on / back (open: also right / left)",
    ),
    ("down / up", "open: move the window a row down / up"),
    ("Enter", "open: jump to the next window with ink under it"),
    (
        "k / K",
        "next / previous kernel (presets, then the trained filters)",
    ),
    ("m", "convolution / max pool / average pool"),
    ("t / T", "stride up / down"),
    ("p / P", "convolution: padding up / down"),
    ("z / Z", "pooling: window size up / down"),
    ("d / D", "next / previous held-out digit"),
    (
        "f",
        "after training: the learned filters and their feature maps (softmax-mnist: the ten weight images)",
    ),
];

/// The largest stride, padding and pooling window the keys reach.
pub const MAX_STRIDE: usize = 5;
pub const MAX_PADDING: usize = 4;
pub const MAX_POOL: usize = 5;

/// What slides over the digit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Conv,
    MaxPool,
    AvgPool,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::Conv => "convolution",
            Mode::MaxPool => "max pool",
            Mode::AvgPool => "avg pool",
        }
    }

    fn next(self) -> Mode {
        match self {
            Mode::Conv => Mode::MaxPool,
            Mode::MaxPool => Mode::AvgPool,
            Mode::AvgPool => Mode::Conv,
        }
    }
}

/// The Conv/Pool pane's own state.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvPane {
    /// Index of the digit in the held-out set.
    pub digit: usize,
    /// Index into [`PRESETS`], then into conv1's learned filters.
    pub kernel: usize,
    /// The output cell (row, col) whose window is highlighted.
    pub pos: (usize, usize),
    pub stride: usize,
    pub padding: usize,
    pub mode: Mode,
    /// Pooling window (square) and its stride; pooling has no padding.
    pub pool_size: usize,
    pub pool_stride: usize,
    /// Show conv1's learned filters and feature maps instead of the walk.
    pub show_filters: bool,
    /// conv1 of the trained model and its feature maps, computed in
    /// `App::update` when the model or the digit changes (drawing only reads).
    pub trained: TrainedConv,
}

/// conv1's feature maps for one digit, or why they could not be computed.
pub type Maps = Result<Vec<Array2<f32>>, String>;

/// What the pane shows of the trained model: conv1's filters and their
/// feature maps for the pane's digit, with the model and digit they are of.
#[derive(Clone, Default)]
pub struct TrainedConv {
    model: Option<Arc<Sequential>>,
    learned: Option<Learned>,
    /// (digit, conv1 on that digit).
    maps: Option<(usize, Maps)>,
    /// A single Linear layer's weight rows as images (softmax-mnist).
    classes: Option<ClassWeights>,
}

impl std::fmt::Debug for TrainedConv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainedConv")
            .field("model", &self.model.is_some())
            .field("learned", &self.learned)
            .finish_non_exhaustive()
    }
}

impl PartialEq for TrainedConv {
    fn eq(&self, other: &Self) -> bool {
        let same_model = match (&self.model, &other.model) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        same_model
            && self.learned == other.learned
            && self.maps == other.maps
            && self.classes == other.classes
    }
}

impl TrainedConv {
    /// conv1 of the model (None before training or for a model without one).
    pub fn learned(&self) -> Option<&Learned> {
        self.learned.as_ref()
    }

    /// The model's weight rows as images, when it is one Linear layer.
    pub fn classes(&self) -> Option<&ClassWeights> {
        self.classes.as_ref()
    }

    /// conv1's feature maps for `digit`, if they were computed for it.
    pub fn maps(&self, digit: usize) -> Option<&Maps> {
        self.maps
            .as_ref()
            .filter(|(d, _)| *d == digit)
            .map(|(_, m)| m)
    }

    /// Follow `model` and the pane's digit: conv1 again when the model is a
    /// new one, the maps again when either changed; nothing otherwise.
    fn refresh(&mut self, model: Option<&Arc<Sequential>>, digit: usize, data: &Mnist) {
        let same = match (&self.model, model) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if !same {
            self.model = model.cloned();
            self.learned = model.and_then(|m| Learned::from_model(m));
            self.classes =
                model.and_then(|m| ClassWeights::from_model(m, data.test.rows, data.test.cols));
            self.maps = None;
        }
        let Some(learned) = &self.learned else {
            self.maps = None;
            return;
        };
        if self.maps.as_ref().is_some_and(|(d, _)| *d == digit) {
            return;
        }
        let Some(img) = data.test.image(digit) else {
            self.maps = None;
            return;
        };
        let maps = feature_maps(learned, &img.to_owned()).map_err(|e| e.to_string());
        self.maps = Some((digit, maps));
    }
}

/// conv1 of the trained model: one (kh, kw) kernel per output channel (input
/// channel 0, the only one MNIST has), its biases and its stride/padding.
#[derive(Clone, Debug, PartialEq)]
pub struct Learned {
    pub filters: Vec<Array2<f32>>,
    /// (O, C, kh, kw) weight as the engine holds it, for the feature maps.
    pub weight: crate::engine::Array,
    pub bias: Vec<f32>,
    pub stride: usize,
    pub padding: usize,
}

impl Learned {
    /// conv1's filters of the lab's trained model (as last computed in
    /// `App::update`), when it exists and starts with a `Conv2d`.
    pub fn of(app: &App) -> Option<Learned> {
        app.conv.trained.learned().cloned()
    }

    /// conv1's filters when `model` starts with a `Conv2d`. (A `Box<dyn
    /// Module>` cannot be downcast, so the model's layer specs say what
    /// `parameters()[0]` and `[1]` are.)
    pub fn from_model(model: &Sequential) -> Option<Learned> {
        let Some(&LayerSpec::Conv2d {
            stride, padding, ..
        }) = model.specs()?.first()
        else {
            return None;
        };
        let params = model.parameters();
        let weight = params.first()?.to_array();
        let w4 = weight.view().into_dimensionality::<Ix4>().ok()?;
        let (o, c, _, _) = w4.dim();
        if o == 0 || c == 0 {
            return None;
        }
        let filters = (0..o)
            .map(|i| w4.slice(s![i, 0, .., ..]).to_owned())
            .collect();
        let bias = params
            .get(1)
            .map(|b| b.to_vec())
            .filter(|b| b.len() == o)
            .unwrap_or_else(|| vec![0.0; o]);
        Some(Learned {
            filters,
            weight,
            bias,
            stride,
            padding,
        })
    }
}

impl ConvPane {
    /// The pane on the first held-out digit, its window on the first
    /// position that touches ink (not on the padding around the digit).
    pub fn new(data: &Mnist) -> Self {
        let mut pane = ConvPane {
            digit: 0,
            kernel: 2, // vertical edge: the clearest first picture
            pos: (0, 0),
            stride: 1,
            padding: 1,
            mode: Mode::Conv,
            pool_size: 2,
            pool_stride: 2,
            show_filters: false,
            trained: TrainedConv::default(),
        };
        pane.first_ink(data);
        pane
    }

    /// Follow the trained `model` (conv1's filters, their maps for the digit).
    pub fn refresh(&mut self, model: Option<&Arc<Sequential>>, data: &Mnist) {
        let digit = self.digit.min(data.test.len().saturating_sub(1));
        self.trained.refresh(model, digit, data);
    }

    /// Put the window on the first position (in reading order) that covers ink.
    pub fn first_ink(&mut self, data: &Mnist) {
        if let Some((h, w)) = self.out_dims(data.test.rows, data.test.cols, None) {
            // next_ink searches from the position after this one, wrapping to (0, 0)
            self.pos = (h - 1, w - 1);
            self.next_ink(data, None);
        }
    }

    /// Number of kernels `k` cycles through: the presets, then conv1's filters.
    pub fn kernel_count(learned: Option<&Learned>) -> usize {
        PRESETS.len() + learned.map_or(0, |l| l.filters.len())
    }

    /// The chosen kernel: (name, weights). A learned filter that is gone (the
    /// lesson was reset) falls back to the identity.
    pub fn kernel(&self, learned: Option<&Learned>) -> (String, Array2<f32>) {
        if let Some((name, w)) = PRESETS.get(self.kernel) {
            return (name.to_string(), preset(w));
        }
        let i = self.kernel - PRESETS.len();
        match learned.and_then(|l| l.filters.get(i).map(|f| (l.filters.len(), f))) {
            Some((n, f)) => (format!("conv1 filter {}/{n}", i + 1), f.clone()),
            None => (
                "identity (train to see conv1's filters)".into(),
                preset(&PRESETS[0].1),
            ),
        }
    }

    /// (window rows, window cols, stride, padding) of the current mode.
    pub fn window(&self, learned: Option<&Learned>) -> (usize, usize, usize, usize) {
        match self.mode {
            Mode::Conv => {
                let (kh, kw) = self.kernel(learned).1.dim();
                (kh, kw, self.stride, self.padding)
            }
            Mode::MaxPool | Mode::AvgPool => (self.pool_size, self.pool_size, self.pool_stride, 0),
        }
    }

    /// Output (rows, cols) for a rows×cols input, or None when the window does not fit.
    pub fn out_dims(
        &self,
        rows: usize,
        cols: usize,
        learned: Option<&Learned>,
    ) -> Option<(usize, usize)> {
        let (kh, kw, stride, padding) = self.window(learned);
        Some((
            conv_output_size(rows, kh, stride, padding).ok()?,
            conv_output_size(cols, kw, stride, padding).ok()?,
        ))
    }

    /// Keys for this pane; true if used. `learned` is conv1 of the trained
    /// model (see [`Learned::of`]), so `k` can reach its filters.
    pub fn handle_key(&mut self, key: KeyEvent, data: &Mnist, learned: Option<&Learned>) -> bool {
        let pool = self.mode != Mode::Conv;
        match key.code {
            KeyCode::Char('k') | KeyCode::Char('K') => {
                let n = Self::kernel_count(learned);
                let k = self.kernel.min(n - 1);
                self.kernel = if key.code == KeyCode::Char('k') {
                    (k + 1) % n
                } else {
                    (k + n - 1) % n
                };
                self.mode = Mode::Conv;
            }
            KeyCode::Char('n') | KeyCode::Right => self.move_by(data, learned, 1),
            KeyCode::Enter => self.next_ink(data, learned),
            KeyCode::Char('N') | KeyCode::Left => self.move_by(data, learned, -1),
            KeyCode::Down => self.move_rows(data, learned, true),
            KeyCode::Up => self.move_rows(data, learned, false),
            KeyCode::Char('p') if !pool => self.padding = (self.padding + 1).min(MAX_PADDING),
            KeyCode::Char('P') if !pool => self.padding = self.padding.saturating_sub(1),
            KeyCode::Char('t') if pool => self.pool_stride = (self.pool_stride + 1).min(MAX_STRIDE),
            KeyCode::Char('T') if pool => {
                self.pool_stride = self.pool_stride.saturating_sub(1).max(1)
            }
            KeyCode::Char('t') => self.stride = (self.stride + 1).min(MAX_STRIDE),
            KeyCode::Char('T') => self.stride = self.stride.saturating_sub(1).max(1),
            KeyCode::Char('z') | KeyCode::Char('Z') if pool => {
                // the stride follows the window while they are equal (PyTorch's default)
                let follow = self.pool_stride == self.pool_size;
                self.pool_size = if key.code == KeyCode::Char('z') {
                    (self.pool_size + 1).min(MAX_POOL)
                } else {
                    self.pool_size.saturating_sub(1).max(1)
                };
                if follow {
                    self.pool_stride = self.pool_size;
                }
            }
            KeyCode::Char('m') => self.mode = self.mode.next(),
            KeyCode::Char('d') | KeyCode::Char('D') => {
                let n = data.test.len();
                if n == 0 {
                    return false;
                }
                let d = self.digit.min(n - 1);
                let next = if key.code == KeyCode::Char('d') {
                    (d + 1) % n
                } else {
                    (d + n - 1) % n
                };
                self.set_digit(next, data, learned);
            }
            KeyCode::Char('f') => self.show_filters = !self.show_filters,
            _ => return false,
        }
        if let Some((h, w)) = self.out_dims(data.test.rows, data.test.cols, learned) {
            self.pos = (self.pos.0.min(h - 1), self.pos.1.min(w - 1));
        }
        true
    }

    /// Step the window `by` positions in reading order, wrapping at the ends.
    fn move_by(&mut self, data: &Mnist, learned: Option<&Learned>, by: isize) {
        let Some((h, w)) = self.out_dims(data.test.rows, data.test.cols, learned) else {
            return;
        };
        let n = (h * w) as isize;
        let i = (self.pos.0.min(h - 1) * w + self.pos.1.min(w - 1)) as isize;
        let j = (i + by).rem_euclid(n) as usize;
        self.pos = (j / w, j % w);
    }

    /// Whether the window at output cell (r, c) covers some ink of the
    /// pane's digit (most windows of a digit see only background).
    fn touches_ink(&self, data: &Mnist, learned: Option<&Learned>, (r, c): (usize, usize)) -> bool {
        let Some(img) = data
            .test
            .image(self.digit.min(data.test.len().saturating_sub(1)))
        else {
            return false;
        };
        let (kh, kw, stride, padding) = self.window(learned);
        // the window in unpadded coordinates, clipped to the image
        let (top, left) = (
            (r * stride).saturating_sub(padding),
            (c * stride).saturating_sub(padding),
        );
        let bottom = (r * stride + kh).saturating_sub(padding).min(img.nrows());
        let right = (c * stride + kw).saturating_sub(padding).min(img.ncols());
        top < bottom
            && left < right
            && img
                .slice(s![top..bottom, left..right])
                .iter()
                .any(|&v| v > 0.0)
    }

    /// Jump to the next position (in reading order, wrapping) whose window
    /// covers some ink: most windows of a digit see only background.
    fn next_ink(&mut self, data: &Mnist, learned: Option<&Learned>) {
        let Some((h, w)) = self.out_dims(data.test.rows, data.test.cols, learned) else {
            return;
        };
        let start = self.pos.0.min(h - 1) * w + self.pos.1.min(w - 1);
        if let Some(j) = (1..=h * w)
            .map(|d| (start + d) % (h * w))
            .find(|&j| self.touches_ink(data, learned, (j / w, j % w)))
        {
            self.pos = (j / w, j % w);
        }
    }

    /// Show held-out digit `digit`; a window that now sees only background
    /// moves on to the next one that touches ink.
    pub fn set_digit(&mut self, digit: usize, data: &Mnist, learned: Option<&Learned>) {
        if digit == self.digit {
            return;
        }
        self.digit = digit;
        if let Some((h, w)) = self.out_dims(data.test.rows, data.test.cols, learned) {
            self.pos = (self.pos.0.min(h - 1), self.pos.1.min(w - 1));
            if !self.touches_ink(data, learned, self.pos) {
                self.next_ink(data, learned);
            }
        }
    }

    /// Move the window one output row down (or up), wrapping.
    fn move_rows(&mut self, data: &Mnist, learned: Option<&Learned>, down: bool) {
        let Some((h, _)) = self.out_dims(data.test.rows, data.test.cols, learned) else {
            return;
        };
        let r = self.pos.0.min(h - 1);
        self.pos.0 = if down { (r + 1) % h } else { (r + h - 1) % h };
    }
}

fn preset(w: &[f32; 9]) -> Array2<f32> {
    Array2::from_shape_fn((3, 3), |(r, c)| w[r * 3 + c])
}

/// The digit the pane shows, (rows, cols) in [0, 1], and its label.
fn digit(pane: &ConvPane, cx: &ViewContext) -> Option<(Array2<f32>, u8)> {
    let set = &cx.data.test;
    let i = pane.digit.min(set.len().checked_sub(1)?);
    Some((set.image(i)?.to_owned(), *set.labels.get(i)?))
}

/// The smallest inner area the pane draws anything but a notice in.
const MIN_INNER: (u16, u16) = (16, 3);

pub fn render(app: &App, area: Rect, buf: &mut Buffer, focused: bool, zoomed: bool) {
    render_pane(&app.conv, &app.view_context(), area, buf, focused, zoomed);
}

/// The pane from its own state and the lab's read-only context.
pub fn render_pane(
    pane: &ConvPane,
    cx: &ViewContext,
    area: Rect,
    buf: &mut Buffer,
    focused: bool,
    zoomed: bool,
) {
    let area = area.intersection(buf.area);
    let block = pane_block("Conv/Pool", focused, cx.ascii);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width < MIN_INNER.0 || inner.height < MIN_INNER.1 {
        Line::from("too small").render(inner, buf);
        return;
    }
    let Some((digit, label)) = digit(pane, cx) else {
        Line::from("no held-out images to show").render(inner, buf);
        return;
    };
    let learned = pane.trained.learned();
    if let (true, None, Some(w)) = (pane.show_filters, learned, pane.trained.classes()) {
        weights::render(w, cx, inner, buf);
    } else if pane.show_filters {
        filters::render(pane, cx, learned, label, inner, buf);
    } else {
        walk::render(pane, cx, &digit, label, inner, buf, zoomed);
    }
}
