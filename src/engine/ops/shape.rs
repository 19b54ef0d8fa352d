//! Ops that move elements without changing them: reshape (view), permute,
//! transpose, flatten. Their backward rules move the gradient back.

use super::Op;
use crate::backend::Storage;
use crate::engine::graph::GradStore;
use crate::engine::tensor::Tensor;
use crate::{Error, Result};

/// The error for viewing `shape_in` as `shape` when the element counts differ.
fn check_count(op: &'static str, shape_in: &[usize], shape: &[usize]) -> Result<()> {
    let (n, len): (usize, usize) = (shape.iter().product(), shape_in.iter().product());
    if n != len {
        return Err(Error::ShapeMismatch {
            op,
            lhs: shape_in.to_vec(),
            rhs: shape.to_vec(),
            why: format!("{len} elements cannot be viewed as {n}"),
        });
    }
    Ok(())
}

impl Tensor {
    /// Same elements in row-major order, new shape (PyTorch's `reshape`/`view`).
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        let x = self.storage();
        check_count("reshape", x.shape(), shape)?;
        let value = x.try_clone()?.reshape(shape)?;
        drop(x);
        Ok(Tensor::from_op(value, Op::Reshape(self.clone())))
    }

    /// `view` with PyTorch's `-1`: one dimension may be inferred.
    pub fn view(&self, shape: &[isize]) -> Result<Tensor> {
        let n = self.numel();
        let known: usize = shape
            .iter()
            .filter(|&&d| d >= 0)
            .map(|&d| d as usize)
            .product();
        let unknown = shape.iter().filter(|&&d| d < 0).count();
        let bad = |why: String| Error::BadArgument { op: "view", why };
        let resolved: Vec<usize> = match unknown {
            0 => shape.iter().map(|&d| d as usize).collect(),
            1 if known > 0 && n.is_multiple_of(known) => shape
                .iter()
                .map(|&d| if d < 0 { n / known } else { d as usize })
                .collect(),
            1 => {
                return Err(bad(format!(
                    "cannot infer -1 in {shape:?} for {n} elements"
                )))
            }
            _ => return Err(bad("only one dimension can be -1".into())),
        };
        self.reshape(&resolved)
    }

    /// Keep dimension 0 (the batch), flatten the rest: (N, C, H, W) → (N, C·H·W).
    pub fn flatten(&self) -> Result<Tensor> {
        let shape = self.shape();
        let n = shape.first().copied().unwrap_or(1);
        self.reshape(&[n, shape.iter().skip(1).product()])
    }

    /// Reorder dimensions: output dimension i is input dimension `axes[i]`.
    pub fn permute(&self, axes: &[usize]) -> Result<Tensor> {
        let x = self.storage();
        let mut sorted = axes.to_vec();
        sorted.sort_unstable();
        if sorted != (0..x.shape().len()).collect::<Vec<_>>() {
            return Err(Error::BadArgument {
                op: "permute",
                why: format!(
                    "{axes:?} is not an ordering of the {} dimensions",
                    x.shape().len()
                ),
            });
        }
        let value = x.permute(axes)?;
        drop(x);
        Ok(Tensor::from_op(
            value,
            Op::Permute {
                input: self.clone(),
                axes: axes.to_vec(),
            },
        ))
    }

    /// Swap two dimensions.
    pub fn transpose(&self, d0: usize, d1: usize) -> Result<Tensor> {
        let mut axes: Vec<usize> = (0..self.ndim()).collect();
        if d0 >= axes.len() || d1 >= axes.len() {
            return Err(Error::BadArgument {
                op: "transpose",
                why: format!(
                    "dimensions {d0}, {d1} out of range for shape {:?}",
                    self.shape()
                ),
            });
        }
        axes.swap(d0, d1);
        self.permute(&axes)
    }

    /// Transpose of a 2-D tensor.
    pub fn t(&self) -> Result<Tensor> {
        self.transpose(0, 1)
    }
}

// The gradient's elements, in the input's shape (no copy: the buffer is ours).
pub(crate) fn reshape_backward(g: Storage, x: &Tensor, store: &mut GradStore) -> Result<()> {
    let shape = x.shape();
    check_count("reshape backward", g.shape(), &shape)?;
    store.accumulate(x, g.reshape(&shape)?)
}

// Undo the permutation: inverse[axes[i]] = i.
pub(crate) fn permute_backward(
    g: &Storage,
    x: &Tensor,
    axes: &[usize],
    store: &mut GradStore,
) -> Result<()> {
    let mut inverse = vec![0; axes.len()];
    for (i, &a) in axes.iter().enumerate() {
        inverse[a] = i;
    }
    store.accumulate(x, g.permute(&inverse)?)
}
