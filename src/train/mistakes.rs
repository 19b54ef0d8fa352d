//! What the model gets wrong on the held-out images: its answer for every
//! image ([`Predictions`], recorded as each epoch is evaluated), the 10×10
//! confusion matrix built from them ([`Confusion`]: rows are the true
//! labels, columns the predicted classes, as scikit-learn's
//! `confusion_matrix`), and per-class accuracy (the diagonal over each row's
//! sum, i.e. recall).
//!
//! Everything here is counting; the predictions themselves come from the
//! engine ([`crate::train::classifier::evaluate_held_out`]).

use crate::data::mnist::NUM_CLASSES;

/// The model's answer for every image of a set, in the set's order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Predictions {
    /// The predicted class (the argmax of the logits).
    pub class: Vec<u8>,
    /// Its softmax probability.
    pub prob: Vec<f32>,
}

impl Predictions {
    /// Predictions from softmax probabilities `(N, classes)`, row-major:
    /// each row's argmax (the first of equal maxima, as `argmax`) and its value.
    pub fn from_probs(probs: &[f32], classes: usize) -> Predictions {
        let mut out = Predictions::default();
        for row in probs.chunks(classes.max(1)) {
            let (best, p) =
                row.iter()
                    .copied()
                    .enumerate()
                    .fold((0, f32::NEG_INFINITY), |(bi, bp), (i, p)| {
                        if p > bp {
                            (i, p)
                        } else {
                            (bi, bp)
                        }
                    });
            out.class.push(best as u8);
            out.prob.push(p);
        }
        out
    }

    pub fn len(&self) -> usize {
        self.class.len()
    }

    pub fn is_empty(&self) -> bool {
        self.class.is_empty()
    }

    /// The images predicted wrongly, as indices, given the true `labels`.
    pub fn wrong(&self, labels: &[u8]) -> Vec<usize> {
        self.class
            .iter()
            .zip(labels)
            .enumerate()
            .filter(|(_, (p, l))| p != l)
            .map(|(i, _)| i)
            .collect()
    }
}

/// A confusion matrix: `counts[label][predicted]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Confusion {
    pub counts: [[u32; NUM_CLASSES]; NUM_CLASSES],
}

impl Confusion {
    /// Count each (label, prediction) pair; pairs past the shorter list, or
    /// with a class out of range, are left out.
    pub fn new(labels: &[u8], predicted: &[u8]) -> Confusion {
        let mut c = Confusion::default();
        for (&l, &p) in labels.iter().zip(predicted) {
            if let Some(cell) = c
                .counts
                .get_mut(usize::from(l))
                .and_then(|row| row.get_mut(usize::from(p)))
            {
                *cell += 1;
            }
        }
        c
    }

    /// Images counted.
    pub fn total(&self) -> u32 {
        self.counts.iter().flatten().sum()
    }

    /// Images on the diagonal (predicted right).
    pub fn correct(&self) -> u32 {
        (0..NUM_CLASSES).map(|c| self.counts[c][c]).sum()
    }

    /// The fraction predicted right (0 when empty).
    pub fn accuracy(&self) -> f32 {
        let n = self.total();
        if n == 0 {
            0.0
        } else {
            self.correct() as f32 / n as f32
        }
    }

    /// Images of class `label`.
    pub fn row_total(&self, label: usize) -> u32 {
        self.counts.get(label).map_or(0, |r| r.iter().sum())
    }

    /// The fraction of each class predicted right (None for a class with no images).
    pub fn per_class(&self) -> [Option<f32>; NUM_CLASSES] {
        std::array::from_fn(|c| {
            let n = self.row_total(c);
            (n > 0).then(|| self.counts[c][c] as f32 / n as f32)
        })
    }

    /// The largest off-diagonal cell: (label, predicted, count), None when
    /// nothing is wrong.
    pub fn worst(&self) -> Option<(usize, usize, u32)> {
        let mut best = None;
        for (l, row) in self.counts.iter().enumerate() {
            for (p, &n) in row.iter().enumerate() {
                if l != p && n > 0 && best.is_none_or(|(_, _, b)| n > b) {
                    best = Some((l, p, n));
                }
            }
        }
        best
    }

    /// The matrix as JSON-ready rows (`"confusion"` in `dl-lab eval --json`).
    pub fn rows(&self) -> Vec<Vec<u32>> {
        self.counts.iter().map(|r| r.to_vec()).collect()
    }
}

/// The images of one confusion cell: label `label` predicted as `predicted`.
pub fn cell_images(labels: &[u8], predicted: &[u8], label: u8, pred: u8) -> Vec<usize> {
    labels
        .iter()
        .zip(predicted)
        .enumerate()
        .filter(|(_, (&l, &p))| l == label && p == pred)
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_of_equal_maxima() {
        let p = Predictions::from_probs(&[0.2, 0.4, 0.4, 0.9, 0.05, 0.05], 3);
        assert_eq!(p.class, vec![1, 0]);
        assert_eq!(p.prob, vec![0.4, 0.9]);
    }
}
