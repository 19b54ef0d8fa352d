//! Matrix multiply. a: (m, k), b: (k, n) → (m, n).
//! Backward: da = g·bᵀ (m, k), db = aᵀ·g (k, n); these transposes are flags
//! to the device's product, not copies.

use super::Op;
use crate::backend::Storage;
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
