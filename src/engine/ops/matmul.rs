//! Matrix multiply. a: (m, k), b: (k, n) → (m, n).
//! Backward: da = g·bᵀ (m, k), db = aᵀ·g (k, n); these transposes are flags
//! to the device's product, not copies.
//!
//! And a Linear layer in one op, y = x·Wᵀ + b (ReLU after it if asked),
//! W (out, in) as PyTorch keeps it, so that no transposed copy of W is made.

use super::Op;
use crate::backend::{Storage, UnaryOp};
use crate::engine::graph::GradStore;
use crate::engine::tensor::Tensor;
use crate::{Error, Result};

fn check_2d(op: &'static str, shape: &[usize]) -> Result<()> {
    if shape.len() == 2 {
        return Ok(());
    }
    Err(Error::BadArgument {
        op,
        why: format!("expects 2-D matrices, got shape {shape:?}"),
    })
}

impl Tensor {
    /// Matrix product of two 2-D tensors (PyTorch's `matmul` / `@`).
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        let a = self.storage();
        // one read guard for `x.matmul(&x)` (a second read may deadlock behind a writer)
        let b_guard = (!self.same_node(other)).then(|| other.storage());
        let b = b_guard.as_deref().unwrap_or(&a);
        check_2d("matmul", a.shape())?;
        check_2d("matmul", b.shape())?;
        if a.shape()[1] != b.shape()[0] {
            return Err(Error::ShapeMismatch {
                op: "matmul",
                lhs: a.shape().to_vec(),
                rhs: b.shape().to_vec(),
                why: format!(
                    "inner dimensions differ ({} vs {})",
                    a.shape()[1],
                    b.shape()[0]
                ),
            });
        }
        let value = a.matmul(b, false, false)?;
        drop(b_guard);
        drop(a);
        Ok(Tensor::from_op(
            value,
            Op::MatMul(self.clone(), other.clone()),
        ))
    }
}

pub(crate) fn matmul_backward(
    g: &Storage,
    a: &Tensor,
    b: &Tensor,
    store: &mut GradStore,
) -> Result<()> {
    check_2d("matmul backward", g.shape())?;
    if store.wants(a) {
        let ga = g.matmul(&b.storage(), false, true)?;
        store.accumulate(a, ga)?;
    }
    if store.wants(b) {
        let gb = a.storage().matmul(g, true, false)?;
        store.accumulate(b, gb)?;
    }
    Ok(())
}

impl Tensor {
    /// A Linear layer's output, `self` (N, in) · weightᵀ + bias, with
    /// `weight` (out, in) and `bias` (out,); then ReLU when `relu`. The same
    /// values as `matmul(weight.t())`, `add(bias)` and `relu()` in turn.
    pub fn linear(&self, weight: &Tensor, bias: &Tensor, relu: bool) -> Result<Tensor> {
        let (x, w, b) = (self.storage(), weight.storage(), bias.storage());
        check_2d("linear", x.shape())?;
        check_2d("linear", w.shape())?;
        if x.shape()[1] != w.shape()[1] {
            return Err(Error::ShapeMismatch {
                op: "linear",
                lhs: x.shape().to_vec(),
                rhs: w.shape().to_vec(),
                why: format!(
                    "the input has {} features but the weight expects {}",
                    x.shape()[1],
                    w.shape()[1]
                ),
            });
        }
        if b.shape() != [w.shape()[0]] {
            return Err(Error::ShapeMismatch {
                op: "linear",
                lhs: w.shape().to_vec(),
                rhs: b.shape().to_vec(),
                why: format!("the bias must be ({},), one per output", w.shape()[0]),
            });
        }
        let value = x.linear(&w, &b, relu)?;
        drop((x, w, b));
        let op = Op::Linear {
            input: self.clone(),
            weight: weight.clone(),
            bias: bias.clone(),
            relu,
        };
        Ok(Tensor::from_op(value, op))
    }
}

/// y = relu?(z), z = x·Wᵀ + b. With g = dL/dy (and, after a ReLU, the
/// saved y, positive exactly where z is):
///   dz = g, or g where y > 0 else 0
///   db = Σ over rows of dz    dx = dz·W    dW = dzᵀ·x
pub(crate) fn linear_backward(
    grad_out: Storage,
    out: &Storage,
    (input, weight, bias): (&Tensor, &Tensor, &Tensor),
    relu: bool,
    store: &mut GradStore,
) -> Result<()> {
    let dz = if relu {
        out.unary_backward(grad_out, UnaryOp::Relu)?
    } else {
        grad_out
    };
    if store.wants(bias) {
        let db = dz.sum_to_shape(&[dz.shape()[1]])?;
        store.accumulate(bias, db)?;
    }
    if store.wants(input) {
        let dx = dz.matmul(&weight.storage(), false, false)?;
        store.accumulate(input, dx)?;
    }
    if store.wants(weight) {
        let dw = dz.matmul(&input.storage(), true, false)?;
        store.accumulate(weight, dw)?;
    }
    Ok(())
}
