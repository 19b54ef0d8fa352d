//! Element-wise ops, forward and backward side by side.
//!
//! Binary ops broadcast with PyTorch's (NumPy's) rules: shapes are aligned on
//! the right, and a dimension of size 1 (or a missing one) stretches to match.
//! x: (2, 3) + b: (3,) → (2, 3). The backward rule computes the gradient at
//! the broadcast shape; `GradStore::accumulate` sums it back over the
//! stretched dimensions. The loops themselves are the device's
//! (`backend::*::elementwise`).

use super::Op;
use crate::backend::{BinaryOp, Storage, UnaryOp};
use crate::engine::graph::GradStore;
use crate::engine::tensor::Tensor;
use crate::{Error, Result};

pub use crate::backend::cpu::sigmoid;

/// The shape two operands broadcast to, or an error naming both.
pub fn broadcast_shape(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i < n - a.len() {
            1
        } else {
            a[i - (n - a.len())]
        };
        let db = if i < n - b.len() {
            1
        } else {
            b[i - (n - b.len())]
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(Error::ShapeMismatch {
                    op,
                    lhs: a.to_vec(),
                    rhs: b.to_vec(),
                    why: format!(
                        "dimension {i} is {da} vs {db}, and neither is 1 (broadcasting rule)"
                    ),
                })
            }
        };
    }
    Ok(out)
}

/// f(a, b) over their broadcast shape, on their device.
pub(crate) fn zip(op: &'static str, a: &Storage, b: &Storage, f: BinaryOp) -> Result<Storage> {
    let shape = broadcast_shape(op, a.shape(), b.shape())?;
    a.binary(b, f, &shape)
}

fn binary(
    name: &'static str,
    a: &Tensor,
    b: &Tensor,
    f: BinaryOp,
    make: fn(Tensor, Tensor) -> Op,
) -> Result<Tensor> {
    // one read guard when both operands are the same tensor (`x * x`): a
    // second read of one RwLock on one thread may deadlock behind a writer
    let value = if a.same_node(b) {
        let x = a.storage();
        zip(name, &x, &x, f)?
    } else {
        zip(name, &a.storage(), &b.storage(), f)?
    };
    Ok(Tensor::from_op(value, make(a.clone(), b.clone())))
}

/// f(x), or the device's error (on the CPU it cannot fail; the infallible
/// methods below, `relu()` and the like, panic on a device error, as
/// PyTorch's raise).
fn try_unary(x: &Tensor, f: UnaryOp) -> Result<Tensor> {
    let value = x.storage().unary(f)?;
    Ok(Tensor::from_op(value, Op::Unary(x.clone(), f)))
}

fn unary(x: &Tensor, f: UnaryOp) -> Tensor {
    try_unary(x, f).unwrap_or_else(|e| panic!("{f:?} on {}: {e}", x.device()))
}

impl Tensor {
    /// a + b
    pub fn add(&self, other: &Tensor) -> Result<Tensor> {
        binary("add", self, other, BinaryOp::Add, Op::Add)
    }
    /// a - b
    pub fn sub(&self, other: &Tensor) -> Result<Tensor> {
        binary("sub", self, other, BinaryOp::Sub, Op::Sub)
    }
    /// a * b, element-wise
    pub fn mul(&self, other: &Tensor) -> Result<Tensor> {
        binary("mul", self, other, BinaryOp::Mul, Op::Mul)
    }
    /// a / b, element-wise
    pub fn div(&self, other: &Tensor) -> Result<Tensor> {
        binary("div", self, other, BinaryOp::Div, Op::Div)
    }
    /// An element-wise function, with a device's failure as an error (what
    /// layers and losses use, so a failing device ends a run with a message).
    pub fn try_map(&self, f: UnaryOp) -> Result<Tensor> {
        try_unary(self, f)
    }
    /// a + c, with a device's failure as an error.
    pub fn try_add_scalar(&self, c: f32) -> Result<Tensor> {
        self.add(&Tensor::scalar(c))
    }
    /// a * c, with a device's failure as an error.
    pub fn try_mul_scalar(&self, c: f32) -> Result<Tensor> {
        self.mul(&Tensor::scalar(c))
    }
    /// a + c for a constant c
    pub fn add_scalar(&self, c: f32) -> Tensor {
        self.add(&Tensor::scalar(c))
            .expect("a 0-d tensor broadcasts to any shape")
    }
    /// a * c for a constant c
    pub fn mul_scalar(&self, c: f32) -> Tensor {
        self.mul(&Tensor::scalar(c))
            .expect("a 0-d tensor broadcasts to any shape")
    }
    /// -a
    pub fn neg(&self) -> Tensor {
        unary(self, UnaryOp::Neg)
    }
    /// a^p for a constant exponent
    pub fn pow(&self, p: f32) -> Tensor {
        unary(self, UnaryOp::Pow(p))
    }
    pub fn exp(&self) -> Tensor {
        unary(self, UnaryOp::Exp)
    }
    /// natural logarithm
    pub fn log(&self) -> Tensor {
        unary(self, UnaryOp::Log)
    }
    /// min(max(a, lo), hi), NaN kept as NaN; the gradient passes only where a
    /// is inside [lo, hi].
    pub fn clamp(&self, min: f32, max: f32) -> Tensor {
        unary(self, UnaryOp::Clamp(min, max))
    }
    /// max(a, 0)
    pub fn relu(&self) -> Tensor {
        unary(self, UnaryOp::Relu)
    }
    /// 1 / (1 + e^-a)
    pub fn sigmoid(&self) -> Tensor {
        unary(self, UnaryOp::Sigmoid)
    }
    pub fn tanh(&self) -> Tensor {
        unary(self, UnaryOp::Tanh)
    }

    /// Binary cross-entropy of probabilities `self` against `target`, per
    /// element, as PyTorch's `binary_cross_entropy` computes it (logs clamped
    /// at -100). Its gradient is PyTorch's, (p - y) / max(p(1 - p), 1e-12),
    /// finite where p is exactly 0 or 1 (an f32 sigmoid rounds to 1 for
    /// inputs above about 17). The target gets no gradient.
    pub fn bce_elementwise(&self, target: &Tensor) -> Result<Tensor> {
        binary(
            "binary_cross_entropy",
            self,
            target,
            BinaryOp::BceLoss,
            Op::Bce,
        )
    }
}

// ---- backward rules: (upstream grad, saved inputs, store) ----
// The upstream gradient comes by value: a rule that can reuse its buffer for
// an input's gradient does so instead of copying it.

// d(a+b)/da = 1, d(a+b)/db = 1
pub(crate) fn add_backward(
    g: Storage,
    a: &Tensor,
    b: &Tensor,
    store: &mut GradStore,
) -> Result<()> {
    match (store.wants(a), store.wants(b)) {
        // A broadcast operand (a bias) gets its sum straight from `g`, and the
        // operand with g's shape takes the buffer itself: no copy of g.
        (true, true) => {
            // (each guard is released before `accumulate` reads the tensor again)
            let a_full = a.storage().shape() == g.shape();
            if a_full {
                let gb = g.sum_to_shape(b.storage().shape())?; // a copy only if b is full-size too
                store.accumulate(a, g)?;
                store.accumulate(b, gb)
            } else {
                let ga = g.sum_to_shape(a.storage().shape())?;
                store.accumulate(a, ga)?;
                store.accumulate(b, g)
            }
        }
        (true, false) => store.accumulate(a, g),
        (false, true) => store.accumulate(b, g),
        (false, false) => Ok(()),
    }
}

// d(a-b)/da = 1, d(a-b)/db = -1
pub(crate) fn sub_backward(
    g: Storage,
    a: &Tensor,
    b: &Tensor,
    store: &mut GradStore,
) -> Result<()> {
    let gb = if store.wants(b) {
        Some(g.unary(UnaryOp::Neg)?)
    } else {
        None
    };
    store.accumulate(a, g)?; // a before b, as for add (x - x adds in a fixed order)
    match gb {
        Some(gb) => store.accumulate(b, gb),
        None => Ok(()),
    }
}

// d(ab)/da = b, d(ab)/db = a
pub(crate) fn mul_backward(
    g: Storage,
    a: &Tensor,
    b: &Tensor,
    store: &mut GradStore,
) -> Result<()> {
    if store.wants(a) {
        let ga = zip("mul backward", &g, &b.storage(), BinaryOp::Mul)?;
        store.accumulate(a, ga)?;
    }
    if store.wants(b) {
        let gb = zip("mul backward", &g, &a.storage(), BinaryOp::Mul)?;
        store.accumulate(b, gb)?;
    }
    Ok(())
}

// d(a/b)/da = 1/b, d(a/b)/db = -a/b²
pub(crate) fn div_backward(
    g: Storage,
    a: &Tensor,
    b: &Tensor,
    store: &mut GradStore,
) -> Result<()> {
    if store.wants(a) {
        let ga = zip("div backward", &g, &b.storage(), BinaryOp::Div)?;
        store.accumulate(a, ga)?;
    }
    if store.wants(b) {
        // -g·a/b² = -((g·a)/b)/b, computed at the broadcast shape
        let bs = b.storage();
        let ga = zip("div backward", &g, &a.storage(), BinaryOp::Mul)?;
        let q = zip("div backward", &ga, &bs, BinaryOp::Div)?;
        let gb = zip("div backward", &q, &bs, BinaryOp::Div)?.unary(UnaryOp::Neg)?;
        drop(bs);
        store.accumulate(b, gb)?;
    }
    Ok(())
}

// dx = g · f'(x or y)
pub(crate) fn unary_backward(
    g: Storage,
    x: &Tensor,
    f: UnaryOp,
    out: &Storage,
    store: &mut GradStore,
) -> Result<()> {
    if !store.wants(x) {
        return Ok(());
    }
    let gx = if f.backward_reads_output() {
        out.unary_backward(g, f)?
    } else {
        x.storage().unary_backward(g, f)? // lock released before `accumulate` reads x again
    };
    store.accumulate(x, gx)
}

// d bce/dp = (p - y) / max(p(1-p), 1e-12), PyTorch's rule; no gradient for the target
pub(crate) fn bce_backward(
    g: Storage,
    p: &Tensor,
    y: &Tensor,
    store: &mut GradStore,
) -> Result<()> {
    if !store.wants(p) {
        return Ok(());
    }
    let local = zip(
        "binary_cross_entropy backward",
        &p.storage(),
        &y.storage(),
        BinaryOp::BceGrad,
    )?;
    let gp = zip("binary_cross_entropy backward", &g, &local, BinaryOp::Mul)?;
    store.accumulate(p, gp)
}
