//! Max and average pooling over square windows, no padding (PyTorch's
//! defaults; stride defaults to the window size in nn::MaxPool2d).
//!
//! x: (N, C, H, W) → (N, C, H', W'), H' = (H - k) / stride + 1 (floor).
//!
//! Tie rule for max pooling: the FIRST maximum in row-major order within the
//! window wins and receives the whole gradient (strict '>' while scanning).
//! Overlapping windows (stride < k) add their gradients.

use super::Op;
use crate::backend::{Indices, Storage};
use crate::engine::graph::GradStore;
use crate::engine::tensor::Tensor;
use crate::Result;

pub use crate::backend::pool_geometry;

impl Tensor {
    /// Max over each k×k window, moving `stride` cells at a time.
    pub fn max_pool2d(&self, k: usize, stride: usize) -> Result<Tensor> {
        let x = self.storage();
        pool_geometry("max_pool2d", x.shape(), k, stride)?;
        if !(self.requires_grad() && crate::engine::tensor::is_grad_enabled()) {
            // nothing will ask for the winners (inference, data)
            let value = x.max_pool2d_values(k, stride)?;
            drop(x);
            return Ok(Tensor::from_storage(value));
        }
        let (value, argmax) = x.max_pool2d(k, stride)?;
        drop(x);
        Ok(Tensor::from_op(
            value,
            Op::MaxPool2d {
                input: self.clone(),
                argmax,
            },
        ))
    }

    /// Mean over each k×k window, moving `stride` cells at a time.
    pub fn avg_pool2d(&self, k: usize, stride: usize) -> Result<Tensor> {
        let x = self.storage();
        pool_geometry("avg_pool2d", x.shape(), k, stride)?;
        let value = x.avg_pool2d(k, stride)?;
        drop(x);
        Ok(Tensor::from_op(
            value,
            Op::AvgPool2d {
                input: self.clone(),
                kernel: k,
                stride,
            },
        ))
    }
}

// Each window's gradient goes to its winner (overlapping windows add).
pub(crate) fn max_pool2d_backward(
    g: &Storage,
    x: &Tensor,
    argmax: &Indices,
    store: &mut GradStore,
) -> Result<()> {
    let shape = x.shape();
    store.accumulate(x, g.scatter_add(argmax, &shape)?)
}

// Each window's gradient is shared equally by its k² cells.
pub(crate) fn avg_pool2d_backward(
    g: &Storage,
    x: &Tensor,
    k: usize,
    stride: usize,
    store: &mut GradStore,
) -> Result<()> {
    let shape = x.shape();
    store.accumulate(x, g.avg_pool2d_backward(&shape, k, stride)?)
}
