//! "Study the mistakes": the held-out predictions of the model the lab
//! shows, kept per epoch. The worker sends every held-out image's predicted
//! class with each epoch's summary (it computed them while evaluating); a
//! checkpoint opened with `o` is evaluated once in `App::update`. From them:
//! the confusion matrix and per-class accuracy (the Loss pane's `c` view),
//! the next misclassified digit (`m` in the Dataset pane), the digits of one
//! cell (Enter on it), and how one digit's prediction changed epoch by epoch.

use std::sync::Arc;

use crate::data::mnist::NUM_CLASSES;
use crate::train::mistakes::cell_images;
use crate::train::{Confusion, Predictions};

/// Epochs of predictions kept (the oldest go first): 10,000 held-out
/// images cost 50 KB an epoch.
pub const MAX_EPOCHS: usize = 200;

/// The lab's record of the held-out predictions.
#[derive(Clone, Debug, Default)]
pub struct Mistakes {
    /// The latest predictions (after the last epoch, or of an opened file).
    pub latest: Option<Arc<Predictions>>,
    /// Their confusion matrix.
    pub confusion: Confusion,
    /// (epoch, predictions) for every epoch of the run so far.
    pub history: Vec<(usize, Arc<Predictions>)>,
    /// The matrix cell the arrows are on: (true label, predicted class).
    pub cursor: (usize, usize),
}

impl Mistakes {
    /// Take a new set of predictions for the held-out `labels`; `epoch` is
    /// the epoch they are of (None for an opened file, which starts a new
    /// history).
    pub fn record(&mut self, epoch: Option<usize>, preds: Arc<Predictions>, labels: &[u8]) {
        self.confusion = Confusion::new(labels, &preds.class);
        match epoch {
            Some(e) => {
                self.history.retain(|(k, _)| *k < e);
                self.history.push((e, preds.clone()));
                if self.history.len() > MAX_EPOCHS {
                    self.history.remove(0);
                }
            }
            None => self.history.clear(),
        }
        if self.latest.is_none() {
            // start on the most confused pair, the one worth looking at first
            if let Some((l, p, _)) = self.confusion.worst() {
                self.cursor = (l, p);
            }
        }
        self.latest = Some(preds);
    }

    /// Forget everything (a new run, a reset).
    pub fn clear(&mut self) {
        *self = Mistakes::default();
    }

    /// The first misclassified image after `from` (wrapping), if any.
    pub fn next_wrong(&self, from: usize, labels: &[u8]) -> Option<usize> {
        let p = self.latest.as_ref()?;
        let n = labels.len().min(p.class.len());
        (1..=n)
            .map(|k| (from + k) % n)
            .find(|&i| p.class[i] != labels[i])
    }

    /// The images of the cursor's cell.
    pub fn cell_images(&self, labels: &[u8]) -> Vec<usize> {
        let Some(p) = &self.latest else {
            return Vec::new();
        };
        let (l, c) = self.cursor;
        cell_images(labels, &p.class, l as u8, c as u8)
    }

    /// Move the cursor by (rows, cols), staying in the matrix.
    pub fn move_cursor(&mut self, rows: isize, cols: isize) {
        let clamp =
            |v: usize, d: isize| (v as isize + d).clamp(0, NUM_CLASSES as isize - 1) as usize;
        self.cursor = (clamp(self.cursor.0, rows), clamp(self.cursor.1, cols));
    }

    /// Image `index`'s prediction after each recorded epoch: (epoch, class, probability).
    pub fn digit_history(&self, index: usize) -> Vec<(usize, u8, f32)> {
        self.history
            .iter()
            .filter_map(|(e, p)| Some((*e, *p.class.get(index)?, *p.prob.get(index)?)))
            .collect()
    }
}
