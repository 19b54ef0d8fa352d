//! `--normalize`: standardise each input column of a small lesson's table
//! with the training data's mean and standard deviation, x' = (x − mean) / std,
//! as the course's PyTorch code does with `(x - x.mean(dim=0)) / x.std(dim=0)`.
//!
//! The standard deviation is the *sample* one (divides by N − 1, PyTorch's
//! `torch.std` default). A column with no spread (or a table of one row)
//! keeps std 1, so it is only shifted, never divided by zero.

use ndarray::{Array2, Axis};

/// Per-column mean and sample standard deviation of the training inputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Standardizer {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Standardizer {
    /// The mean and sample std of each column of `x` (N, F).
    pub fn fit(x: &Array2<f32>) -> Standardizer {
        let n = x.nrows();
        let mut mean = Vec::with_capacity(x.ncols());
        let mut std = Vec::with_capacity(x.ncols());
        for col in x.axis_iter(Axis(1)) {
            // in f64: scores around 90 lose digits in an f32 sum of squares
            let m = col.iter().map(|&v| f64::from(v)).sum::<f64>() / n.max(1) as f64;
            let ss: f64 = col.iter().map(|&v| (f64::from(v) - m).powi(2)).sum();
            let s = if n > 1 {
                (ss / (n - 1) as f64).sqrt()
            } else {
                0.0
            };
            mean.push(m as f32);
            std.push(if s > 0.0 && s.is_finite() {
                s as f32
            } else {
                1.0
            });
        }
        Standardizer { mean, std }
    }

    /// `x` (N, F) standardised column by column.
    pub fn apply(&self, x: &Array2<f32>) -> Array2<f32> {
        let mut out = x.clone();
        for (j, mut col) in out.axis_iter_mut(Axis(1)).enumerate() {
            let (m, s) = (self.mean[j], self.std[j]);
            col.mapv_inplace(|v| (v - m) / s);
        }
        out
    }
}
