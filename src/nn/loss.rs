//! Losses, derived from engine primitives (so they need no backward rule of
//! their own and are gradient-checked through them):
//! - MSE: mean((p - y)²)
//! - BCE: -mean(y·log p + (1-y)·log(1-p)), each log clamped at -100 as PyTorch does,
//!   one primitive per element with PyTorch's gradient (finite at p = 0 or 1)
//! - cross-entropy: NLL of log_softmax (the numerically stable form)

use crate::backend::UnaryOp;
use crate::{Error, Result, Tensor};

/// mean((pred - target)²)
pub fn mse_loss(pred: &Tensor, target: &Tensor) -> Result<Tensor> {
    pred.sub(target)?.try_map(UnaryOp::Pow(2.0))?.try_mean()
}

/// Binary cross-entropy of probabilities `pred` in [0, 1] against 0/1 targets.
pub fn bce_loss(pred: &Tensor, target: &Tensor) -> Result<Tensor> {
    pred.bce_elementwise(target)?.try_mean()
}

/// Cross-entropy of raw scores `logits` (N, C) against class indices:
/// -(1/N) Σ log_softmax(logits)[n, label[n]].
pub fn cross_entropy(logits: &Tensor, labels: &[usize]) -> Result<Tensor> {
    let shape = logits.shape();
    if shape.len() != 2 || shape[0] != labels.len() {
        return Err(Error::ShapeMismatch {
            op: "cross_entropy",
            lhs: shape,
            rhs: vec![labels.len()],
            why: "expects logits (N, C) and N labels".into(),
        });
    }
    let (n, c) = (shape[0], shape[1]);
    if let Some(&bad) = labels.iter().find(|&&l| l >= c) {
        return Err(Error::BadArgument {
            op: "cross_entropy",
            why: format!("label {bad} is not below {c} classes"),
        });
    }
    let mut onehot = vec![0.0f32; n * c];
    for (i, &l) in labels.iter().enumerate() {
        onehot[i * c + l] = 1.0;
    }
    let onehot = Tensor::from_vec(&[n, c], onehot)?.to(&logits.device())?;
    let picked = logits.log_softmax(1)?.mul(&onehot)?.try_sum()?;
    picked.try_mul_scalar(-1.0 / n.max(1) as f32)
}

/// PyTorch-style loss objects, for code that mirrors the course.
pub struct MSELoss;
pub struct BCELoss;
pub struct CrossEntropyLoss;

impl MSELoss {
    pub fn forward(&self, pred: &Tensor, target: &Tensor) -> Result<Tensor> {
        mse_loss(pred, target)
    }
}

impl BCELoss {
    pub fn forward(&self, pred: &Tensor, target: &Tensor) -> Result<Tensor> {
        bce_loss(pred, target)
    }
}

impl CrossEntropyLoss {
    pub fn forward(&self, logits: &Tensor, labels: &[usize]) -> Result<Tensor> {
        cross_entropy(logits, labels)
    }
}
