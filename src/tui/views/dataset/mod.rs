//! The Dataset pane: browse the images one at a time. It shows the digit in
//! shaded cells ([`super::shade`]), its label, which data and split are
//! loaded, and the images per class. Once a model has trained, it also shows
//! the model's prediction and top-3 probabilities (softmax of its logits for
//! that one image).
//!
//! The layout follows the room, not the mode. A tall pane gets the digit at
//! twice its size (56×28 cells), a large one at full size (28×14), the
//! four-pane overview a digit averaged over 2×2 pixels (14×7), anything
//! smaller text only, and a pane too small even for that a short notice.
//! ASCII mode first averages pairs of rows, so both modes fill the same cells
//! and keep the digit's shape (a text cell is about twice as tall as it is
//! wide).
//!
//! - `mod.rs`: the pane's state ([`DatasetPane`], [`Split`]), its keys, and
//!   the prediction for the shown image (cached per image and model)
//! - `digit.rs`: how large the digit is drawn and its matrix at that size
//! - `render.rs`: the pane: header, digit beside its text, footer
//! - `fetch.rs`: `D` / `F` download the full MNIST / Fashion-MNIST on a thread; the header
//!   shows its progress

mod digit;
pub mod fetch;
mod render;

pub use render::{render, render_pane};

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

use crate::data::mnist::{scale, ImageSet, Mnist, NUM_CLASSES};
use crate::nn::{Module, Sequential};
use crate::Tensor;

/// Fashion-MNIST's class names, by label (Xiao, Rasul, Vollgraf 2017).
pub const FASHION_CLASSES: [&str; NUM_CLASSES] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Images that ↑/↓ move when the pane is open (PgUp/PgDn and ←/→ move one).
pub const BIG_STEP: usize = 10;
/// Which split the pane browses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Split {
    /// The held-out images (the t10k files): what the model is judged on.
    #[default]
    Test,
    Train,
}

impl Split {
    pub fn name(self) -> &'static str {
        match self {
            Split::Test => "held-out",
            Split::Train => "training",
        }
    }

    pub fn other(self) -> Split {
        match self {
            Split::Test => Split::Train,
            Split::Train => Split::Test,
        }
    }

    pub fn of(self, data: &Mnist) -> &ImageSet {
        match self {
            Split::Test => &data.test,
            Split::Train => &data.train,
        }
    }
}

/// The prediction for the shown image, with what it was computed for.
#[derive(Clone)]
struct Cached {
    split: Split,
    index: usize,
    /// Held (not just its address), so a later model cannot reuse the address.
    model: Arc<Sequential>,
    probs: Result<Vec<f32>, String>,
    /// The model's ten logits and what softmax and cross-entropy make of
    /// them (`S` writes them out).
    written: Result<WrittenOut, String>,
}

/// Softmax and cross-entropy for one image, step by step, each computed
/// by the engine's own op: logits z → exp(z) → softmax p = exp(z)/Σexp(z)
/// → log p → the label's entry, −log p[label] = the loss.
#[derive(Clone, Debug, PartialEq)]
pub struct WrittenOut {
    pub logits: Vec<f32>,
    pub exp: Vec<f32>,
    pub softmax: Vec<f32>,
    pub log_softmax: Vec<f32>,
    pub label: usize,
    /// `nn::cross_entropy` of the logits against the label.
    pub loss: f32,
}

/// Work softmax and cross-entropy out for `logits` (one image) and `label`.
pub fn written_out(logits: &[f32], label: usize) -> crate::Result<WrittenOut> {
    crate::no_grad(|| {
        let z = Tensor::from_vec(&[1, logits.len()], logits.to_vec())?;
        Ok(WrittenOut {
            logits: logits.to_vec(),
            exp: z.exp().to_vec(),
            softmax: z.softmax(1)?.to_vec(),
            log_softmax: z.log_softmax(1)?.to_vec(),
            label,
            loss: crate::nn::cross_entropy(&z, &[label])?.item(),
        })
    })
}

/// The Dataset pane's own state.
#[derive(Default)]
pub struct DatasetPane {
    /// Index of the shown image in `split` (0-based; the pane shows it 1-based).
    pub index: usize,
    pub split: Split,
    /// The index in the other split, restored when `t` switches back.
    other_index: usize,
    /// The download `D` / `F` started, if any.
    pub fetch: Option<fetch::Fetch>,
    /// Computed in `App::update` when the model or the image changes
    /// ([`DatasetPane::refresh`]); drawing only reads it.
    prediction: Option<Cached>,
    /// Browsing only the held-out digits of one confusion cell (chosen
    /// with Enter in the Loss pane's matrix); `x` browses all again.
    pub filter: Option<CellFilter>,
    /// `S`: softmax and cross-entropy written out in place of the top-3.
    pub written: bool,
}

/// The held-out digits of one confusion-matrix cell.
#[derive(Clone, Debug, PartialEq)]
pub struct CellFilter {
    pub label: u8,
    pub predicted: u8,
    /// Their indices in the held-out set, in order.
    pub images: Vec<usize>,
}

impl CellFilter {
    /// The shown image's place in the cell (0-based), if it is one of them.
    pub fn position(&self, index: usize) -> Option<usize> {
        self.images.iter().position(|&i| i == index)
    }
}

/// This pane's keys, for the help (`?`): (keys, what they do). Arrows
/// reach the pane when it is open; in the overview they move the focus.
pub const KEYS: &[(&str, &str)] = &[
    (
        "PgDn / PgUp",
        "next / previous image (open: also right / left)",
    ),
    ("down / up", "open: 10 images on / back"),
    ("Home / End", "first / last image"),
    ("0-9", "the next image of that class"),
    ("t", "training set / held-out set"),
    (
        "m",
        "after an epoch: the next held-out digit the model gets wrong",
    ),
    (
        "x",
        "browse every digit again (after choosing a confusion cell)",
    ),
    (
        "S",
        "softmax and cross-entropy written out: logits, exp, softmax, log, one-hot, the loss",
    ),
    (
        "d",
        "draw a digit for the trained model (see tui/canvas.rs)",
    ),
    (
        "D / F",
        "download the full MNIST / Fashion-MNIST (then reopen with --data mnist)",
    ),
];

impl DatasetPane {
    pub fn new(_data: &Mnist) -> Self {
        DatasetPane::default()
    }

    /// The split being browsed.
    pub fn set<'a>(&self, data: &'a Mnist) -> &'a ImageSet {
        self.split.of(data)
    }

    /// Keys for this pane; true if used. Arrows only arrive here when the
    /// pane is open (in the overview the keymap moves focus with them).
    pub fn handle_key(&mut self, key: KeyEvent, data: &Mnist) -> bool {
        if key.kind == KeyEventKind::Release {
            return false;
        }
        // a failed download's reason may take the digit's rows: browsing on
        // puts the digit back (D or F tries again)
        if self.fetch.as_ref().is_some_and(fetch::Fetch::has_failed) {
            self.fetch = None;
        }
        let len = self.set(data).len();
        let by = match key.code {
            KeyCode::PageDown | KeyCode::Right => Some(1),
            KeyCode::PageUp | KeyCode::Left => Some(-1),
            KeyCode::Down => Some(BIG_STEP as isize),
            KeyCode::Up => Some(-(BIG_STEP as isize)),
            _ => None,
        };
        if let (Some(by), Some(f)) = (by, &self.filter) {
            if self.split == Split::Test && !f.images.is_empty() {
                // within the chosen cell's digits
                let n = f.images.len();
                let at = f.position(self.index).unwrap_or(0) as isize;
                self.index = f.images[(at + by).rem_euclid(n as isize) as usize];
                return true;
            }
        }
        match key.code {
            KeyCode::Char('x') if self.filter.is_some() => self.filter = None,
            KeyCode::Char('S') => self.written = !self.written,
            KeyCode::PageDown | KeyCode::Right => self.step(1, len),
            KeyCode::PageUp | KeyCode::Left => self.step(-1, len),
            KeyCode::Down => self.step(BIG_STEP as isize, len),
            KeyCode::Up => self.step(-(BIG_STEP as isize), len),
            KeyCode::Home => self.index = 0,
            KeyCode::End => self.index = len.saturating_sub(1),
            KeyCode::Char('t') => {
                self.filter = None;
                self.split = self.split.other();
                std::mem::swap(&mut self.index, &mut self.other_index);
                self.index = self.index.min(self.set(data).len().saturating_sub(1));
            }
            KeyCode::Char(c @ '0'..='9') => self.next_of_class(c as u8 - b'0', data),
            KeyCode::Char(c @ ('D' | 'F')) => {
                if !self.fetch.as_ref().is_some_and(fetch::Fetch::is_running) {
                    let name = if c == 'D' { "mnist" } else { "fashion-mnist" };
                    self.fetch = Some(fetch::Fetch::start_named(name));
                }
            }
            _ => return false,
        }
        true
    }

    /// Show held-out image `index` (a jump from the mistakes).
    pub fn show_held_out(&mut self, index: usize) {
        if self.split != Split::Test {
            std::mem::swap(&mut self.index, &mut self.other_index);
            self.split = Split::Test;
        }
        self.index = index;
    }

    /// Browse only `filter`'s digits, from its first.
    pub fn set_filter(&mut self, filter: CellFilter) {
        if let Some(&first) = filter.images.first() {
            self.show_held_out(first);
        }
        self.filter = Some(filter);
    }

    /// Move by `by` images, wrapping around at either end.
    fn step(&mut self, by: isize, len: usize) {
        if len == 0 {
            return;
        }
        let i = (self.index.min(len - 1) as isize + by).rem_euclid(len as isize);
        self.index = i as usize;
    }

    /// Jump to the next image labelled `class` (wrapping); stay if there is none.
    fn next_of_class(&mut self, class: u8, data: &Mnist) {
        let labels = &self.set(data).labels;
        let n = labels.len();
        if let Some(i) = (1..=n)
            .map(|k| (self.index + k) % n)
            .find(|&i| labels[i] == class)
        {
            self.index = i;
        }
    }

    /// Follow the trained `model`: its softmax probabilities for the shown
    /// image, computed again only when the model, the split or the image
    /// changed. `input_shape` is one image's shape as the model takes it.
    pub fn refresh(
        &mut self,
        data: &Mnist,
        input_shape: &[usize],
        model: Option<&Arc<Sequential>>,
    ) {
        let Some(model) = model else {
            self.prediction = None;
            return;
        };
        let fresh = |c: &Cached| {
            c.split == self.split && c.index == self.index && Arc::ptr_eq(&c.model, model)
        };
        if self.prediction.as_ref().is_some_and(fresh) {
            return;
        }
        let set = self.set(data);
        let logits = match set.images.outer_iter().nth(self.index) {
            Some(row) => {
                let pixels: Vec<f32> = row.iter().map(|&p| scale(p)).collect();
                logits(model, input_shape, &pixels).map_err(|e| format!("cannot predict: {e}"))
            }
            None => Err("no image to predict".into()),
        };
        let label = set.labels.get(self.index).map_or(0, |&l| usize::from(l));
        let written = logits.clone().and_then(|z| {
            written_out(&z, label).map_err(|e| format!("cannot work out softmax: {e}"))
        });
        let probs = match &written {
            Ok(w) => Ok(w.softmax.clone()),
            Err(e) => Err(e.clone()),
        };
        self.prediction = Some(Cached {
            split: self.split,
            index: self.index,
            model: model.clone(),
            probs,
            written,
        });
    }

    /// The probabilities for the shown image, as last computed by
    /// [`refresh`](Self::refresh); None when there is no model (or they are
    /// of another image).
    pub fn prediction(&self) -> Option<&Result<Vec<f32>, String>> {
        self.prediction
            .as_ref()
            .filter(|c| c.split == self.split && c.index == self.index)
            .map(|c| &c.probs)
    }

    /// Softmax and cross-entropy written out for the shown image (see
    /// [`refresh`](Self::refresh)).
    pub fn written_out(&self) -> Option<&Result<WrittenOut, String>> {
        self.prediction
            .as_ref()
            .filter(|c| c.split == self.split && c.index == self.index)
            .map(|c| &c.written)
    }
}

/// The logits of `model` for one image (`input_shape` as in [`predict`]).
pub fn logits(
    model: &Sequential,
    input_shape: &[usize],
    pixels: &[f32],
) -> crate::Result<Vec<f32>> {
    let mut shape = vec![1];
    shape.extend_from_slice(input_shape);
    crate::no_grad(|| {
        let x = Tensor::from_vec(&shape, pixels.to_vec())?;
        Ok(model.forward(&x)?.to_vec())
    })
}

/// Class probabilities of `model` for one image: softmax of its logits.
/// `input_shape` is the lesson's per-image shape (`[784]` or `[1, 28, 28]`).
pub fn predict(
    model: &Sequential,
    input_shape: &[usize],
    pixels: &[f32],
) -> crate::Result<Vec<f32>> {
    let z = logits(model, input_shape, pixels)?;
    crate::no_grad(|| {
        Tensor::from_vec(&[1, z.len()], z)?
            .softmax(1)
            .map(|p| p.to_vec())
    })
}

/// The `k` most probable classes, most probable first.
pub fn top_k(probs: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut ranked: Vec<(usize, f32)> = probs.iter().copied().enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked.truncate(k);
    ranked
}

/// Whether `source` names Fashion-MNIST (then labels get class names).
pub fn is_fashion(source: &str) -> bool {
    source.to_lowercase().contains("fashion")
}

/// "7", or "7 Sneaker" for Fashion-MNIST.
pub fn class_name(class: usize, fashion: bool) -> String {
    match FASHION_CLASSES.get(class) {
        Some(name) if fashion => format!("{class} {name}"),
        _ => class.to_string(),
    }
}
