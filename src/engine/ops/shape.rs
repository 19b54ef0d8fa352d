//! Ops that move elements without changing them: reshape (view), permute,
//! transpose, flatten. Their backward rules move the gradient back.

use ndarray::IxDyn;

use super::Op;
use crate::engine::graph::GradStore;
use crate::engine::tensor::{Array, Tensor};
use crate::{Error, Result};

/// The error for viewing `a` as `shape` when the element counts differ.
fn check_count(op: &'static str, a: &Array, shape: &[usize]) -> Result<()> {
    let n: usize = shape.iter().product();
    if n != a.len() {
        return Err(Error::ShapeMismatch {
            op,
            lhs: a.shape().to_vec(),
            rhs: shape.to_vec(),
            why: format!("{} elements cannot be viewed as {n}", a.len()),
        });
    }
    Ok(())
}

fn reshaped(op: &'static str, a: &Array, shape: &[usize]) -> Result<Array> {
    check_count(op, a, shape)?;
    // a row-major copy (a memcpy when `a` is already row-major), then a new shape
    Ok(reshape_owned(a.as_standard_layout().into_owned(), shape))
}

/// `a` (any layout) with a new row-major shape; free when `a` is row-major.
fn reshape_owned(a: Array, shape: &[usize]) -> Array {
    let a = if a.is_standard_layout() {
        a
    } else {
        a.as_standard_layout().into_owned()
    };
    a.into_shape_with_order(IxDyn(shape))
        .expect("element count checked")
}

impl Tensor {
    /// Same elements in row-major order, new shape (PyTorch's `reshape`/`view`).
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        let value = reshaped("reshape", &self.data(), shape)?;
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
        let data = self.data();
        let mut sorted = axes.to_vec();
        sorted.sort_unstable();
        if sorted != (0..data.ndim()).collect::<Vec<_>>() {
            return Err(Error::BadArgument {
                op: "permute",
                why: format!(
                    "{axes:?} is not an ordering of the {} dimensions",
                    data.ndim()
                ),
            });
        }
        let value = data
            .view()
            .permuted_axes(IxDyn(axes))
            .as_standard_layout()
            .into_owned();
        drop(data);
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

// The gradient's elements, in the input's shape (no copy: it is ours).
pub(crate) fn reshape_backward(g: Array, x: &Tensor, store: &mut GradStore) -> Result<()> {
    let shape = x.shape();
    check_count("reshape backward", &g, &shape)?;
    store.accumulate(x, reshape_owned(g, &shape)); // no copy: the buffer is ours
    Ok(())
}

// Undo the permutation: inverse[axes[i]] = i.
pub(crate) fn permute_backward(g: &Array, x: &Tensor, axes: &[usize], store: &mut GradStore) {
    let mut inverse = vec![0; axes.len()];
    for (i, &a) in axes.iter().enumerate() {
        inverse[a] = i;
    }
    let gx = g
        .view()
        .permuted_axes(IxDyn(&inverse))
        .as_standard_layout()
        .into_owned();
    store.accumulate(x, gx);
}
