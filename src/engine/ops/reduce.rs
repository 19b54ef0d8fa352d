//! Reductions: sum, max, log-softmax over a dimension (or all).
//! `mean` and `softmax` are derived from these.
//!
//! Tie rules for `max`: `max_dim` (PyTorch's `max(dim)`) gives the FIRST
//! maximal element (lowest index along the dimension) the whole gradient,
//! which is what its index points at; `max()` over all elements splits the
//! gradient evenly between tied maxima, as PyTorch's `max()` does.

use super::Op;
use crate::backend::{BinaryOp, Indices, Storage, UnaryOp};
use crate::engine::graph::GradStore;
use crate::engine::tensor::Tensor;
use crate::{Error, Result};

pub use crate::backend::cpu::sum_to_shape;

/// Split a shape around `axis` into (outer, len, inner) so that element
/// (o, k, i) sits at flat index o·len·inner + k·inner + i.
pub(crate) fn split_at_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = shape[..axis].iter().product();
    let inner = shape[axis + 1..].iter().product();
    (outer, shape[axis], inner)
}

fn check_axis(op: &'static str, shape: &[usize], axis: usize) -> Result<()> {
    if axis >= shape.len() {
        return Err(Error::BadArgument {
            op,
            why: format!("dimension {axis} is out of range for shape {shape:?}"),
        });
    }
    Ok(())
}

impl Tensor {
    /// Sum of all elements → a 0-d tensor.
    pub fn sum(&self) -> Tensor {
        self.try_sum()
            .unwrap_or_else(|e| panic!("sum on {}: {e}", self.device()))
    }

    /// [`sum`](Self::sum), with a device's failure as an error.
    pub fn try_sum(&self) -> Result<Tensor> {
        let axes: Vec<usize> = (0..self.ndim()).collect();
        self.sum_axes(&axes, false)
    }

    /// Sum over one dimension (PyTorch's `sum(dim, keepdim)`).
    pub fn sum_dim(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        self.sum_axes(&[axis], keepdim)
    }

    /// Sum over several dimensions.
    pub fn sum_axes(&self, axes: &[usize], keepdim: bool) -> Result<Tensor> {
        let mut axes = axes.to_vec();
        axes.sort_unstable();
        axes.dedup();
        let x = self.storage();
        for &axis in &axes {
            check_axis("sum", x.shape(), axis)?;
        }
        let value = x.sum_axes(&axes, keepdim)?;
        drop(x);
        Ok(Tensor::from_op(
            value,
            Op::Sum {
                input: self.clone(),
                axes,
                keepdim,
            },
        ))
    }

    /// Mean of all elements (derived: sum / n).
    pub fn mean(&self) -> Tensor {
        self.try_mean()
            .unwrap_or_else(|e| panic!("mean on {}: {e}", self.device()))
    }

    /// [`mean`](Self::mean), with a device's failure as an error.
    pub fn try_mean(&self) -> Result<Tensor> {
        let n = self.numel().max(1) as f32;
        self.try_sum()?.try_mul_scalar(1.0 / n)
    }

    /// Mean over one dimension (derived: sum / n).
    pub fn mean_dim(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        let n = *self.shape().get(axis).unwrap_or(&1) as f32;
        self.sum_dim(axis, keepdim)?.try_mul_scalar(1.0 / n)
    }

    /// Largest element → a 0-d tensor. Tied maxima share the gradient evenly.
    pub fn max(&self) -> Result<Tensor> {
        let x = self.storage();
        if x.numel() == 0 {
            return Err(Error::BadArgument {
                op: "max",
                why: "cannot take the max of an empty tensor".into(),
            });
        }
        let flat = x.try_clone()?.reshape(&[x.numel()])?;
        drop(x);
        let (value, _) = flat.max_dim(0, false)?;
        Ok(Tensor::from_op(
            value,
            Op::MaxAll {
                input: self.clone(),
            },
        ))
    }

    /// Largest element along `axis` and where it is (PyTorch's `max(dim)`).
    pub fn max_dim(&self, axis: usize, keepdim: bool) -> Result<(Tensor, Vec<usize>)> {
        let x = self.storage();
        check_axis("max", x.shape(), axis)?;
        if x.shape()[axis] == 0 {
            return Err(Error::BadArgument {
                op: "max",
                why: "cannot take the max of an empty dimension".into(),
            });
        }
        let (_, len, inner) = split_at_axis(x.shape(), axis);
        let (value, argmax) = x.max_dim(axis, keepdim)?;
        drop(x);
        // positions along the axis, from the flat winners
        let index = argmax
            .to_host()?
            .into_iter()
            .map(|flat| (flat / inner.max(1)) % len)
            .collect();
        Ok((
            Tensor::from_op(
                value,
                Op::Max {
                    input: self.clone(),
                    argmax,
                },
            ),
            index,
        ))
    }

    /// Index of the largest element along `axis` (no gradient), as PyTorch's `argmax(dim)`.
    pub fn argmax(&self, axis: usize) -> Result<Vec<usize>> {
        let _no_graph = crate::engine::tensor::NoGradGuard::new();
        self.max_dim(axis, false).map(|(_, i)| i)
    }

    /// log(softmax(x)) along `axis`, computed stably as x - max - log Σ e^(x - max).
    pub fn log_softmax(&self, axis: usize) -> Result<Tensor> {
        let x = self.storage();
        check_axis("log_softmax", x.shape(), axis)?;
        let value = x.log_softmax(axis)?;
        drop(x);
        Ok(Tensor::from_op(
            value,
            Op::LogSoftmax {
                input: self.clone(),
                axis,
            },
        ))
    }

    /// softmax along `axis` (derived: exp of log_softmax).
    pub fn softmax(&self, axis: usize) -> Result<Tensor> {
        self.log_softmax(axis)?.try_map(UnaryOp::Exp)
    }
}

// d(sum)/dx = 1 for every summed element: broadcast the gradient back.
pub(crate) fn sum_backward(
    g: Storage,
    x: &Tensor,
    axes: &[usize],
    keepdim: bool,
    store: &mut GradStore,
) -> Result<()> {
    let shape = x.shape();
    let g = if keepdim {
        g
    } else {
        // put the summed axes back as size 1
        let mut kept = shape.clone();
        for &a in axes {
            kept[a] = 1;
        }
        g.reshape(&kept)?
    };
    store.accumulate(x, g.broadcast_to(&shape)?)
}

// The winner of each max gets the gradient; every other element gets 0.
pub(crate) fn max_backward(
    g: &Storage,
    x: &Tensor,
    argmax: &Indices,
    store: &mut GradStore,
) -> Result<()> {
    let shape = x.shape();
    store.accumulate(x, g.scatter_add(argmax, &shape)?)
}

// Every element equal to the max gets g / (number of such elements).
pub(crate) fn max_all_backward(
    g: &Storage,
    x: &Tensor,
    out: &Storage,
    store: &mut GradStore,
) -> Result<()> {
    let xs = x.storage();
    let shape = xs.shape().to_vec();
    let mask = xs.binary(out, BinaryOp::Eq, &shape)?;
    drop(xs);
    let all: Vec<usize> = (0..shape.len()).collect();
    let count = mask.sum_axes(&all, false)?;
    let share = g.binary(&count, BinaryOp::Div, &[])?;
    store.accumulate(x, mask.binary(&share, BinaryOp::Mul, &shape)?)
}

// y = x - lse(x): dx = g - softmax(x)·Σ g, with softmax = e^y (from the output)
pub(crate) fn log_softmax_backward(
    g: &Storage,
    x: &Tensor,
    axis: usize,
    out: &Storage,
    store: &mut GradStore,
) -> Result<()> {
    store.accumulate(x, out.log_softmax_backward(g, axis)?)
}
