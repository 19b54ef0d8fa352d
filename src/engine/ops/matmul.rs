//! Matrix multiply. a: (m, k), b: (k, n) → (m, n).
//! Backward: da = g·bᵀ (m, k), db = aᵀ·g (k, n).

use ndarray::Ix2;

use super::Op;
use crate::backend;
use crate::engine::graph::GradStore;
use crate::engine::tensor::{Array, Tensor};
use crate::{Error, Result};

fn as_2d<'a>(op: &'static str, a: &'a Array) -> Result<ndarray::ArrayView2<'a, f32>> {
    a.view()
        .into_dimensionality::<Ix2>()
        .map_err(|_| Error::BadArgument {
            op,
            why: format!("expects 2-D matrices, got shape {:?}", a.shape()),
        })
}

impl Tensor {
    /// Matrix product of two 2-D tensors (PyTorch's `matmul` / `@`).
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = (self.data(), other.data());
        let (av, bv) = (as_2d("matmul", &a)?, as_2d("matmul", &b)?);
        if av.ncols() != bv.nrows() {
            return Err(Error::ShapeMismatch {
                op: "matmul",
                lhs: a.shape().to_vec(),
                rhs: b.shape().to_vec(),
                why: format!("inner dimensions differ ({} vs {})", av.ncols(), bv.nrows()),
            });
        }
        let value = backend::current().matmul(av, bv).into_dyn();
        drop((a, b));
        Ok(Tensor::from_op(
            value,
            Op::MatMul(self.clone(), other.clone()),
        ))
    }
}

pub(crate) fn matmul_backward(
    g: &Array,
    a: &Tensor,
    b: &Tensor,
    store: &mut GradStore,
) -> Result<()> {
    let be = backend::current();
    let gv = as_2d("matmul backward", g)?;
    if store.wants(a) {
        let bd = b.data();
        let ga = be.matmul(gv, as_2d("matmul backward", &bd)?.t());
        drop(bd);
        store.accumulate(a, ga.into_dyn());
    }
    if store.wants(b) {
        let ad = a.data();
        let gb = be.matmul(as_2d("matmul backward", &ad)?.t(), gv);
        drop(ad);
        store.accumulate(b, gb.into_dyn());
    }
    Ok(())
}
