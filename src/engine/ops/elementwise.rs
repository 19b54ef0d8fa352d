//! Element-wise ops, forward and backward side by side.
//!
//! Binary ops broadcast with PyTorch's (NumPy's) rules: shapes are aligned on
//! the right, and a dimension of size 1 (or a missing one) stretches to match.
//! x: (2, 3) + b: (3,) → (2, 3). The backward rule computes the gradient at
//! the broadcast shape; `GradStore::accumulate` sums it back over the
//! stretched dimensions.

use ndarray::{IxDyn, Zip};

use super::reduce::sum_to_shape;
use super::{layout, Op};
use crate::engine::graph::GradStore;
use crate::engine::tensor::{Array, Tensor};
use crate::{Error, Result};

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

/// Apply `f` element by element over the broadcast of `a` and `b`
/// (loops in `layout.rs`: a plain slice loop when the shapes are equal).
fn zip_broadcast(
    op: &'static str,
    a: &Array,
    b: &Array,
    f: impl Fn(f32, f32) -> f32 + Sync,
) -> Result<Array> {
    let shape = broadcast_shape(op, a.shape(), b.shape())?;
    let (a, b) = (a.as_standard_layout(), b.as_standard_layout());
    let out = layout::zip_map(
        &shape,
        (
            a.as_slice().expect("standard layout is contiguous"),
            a.shape(),
        ),
        (
            b.as_slice().expect("standard layout is contiguous"),
            b.shape(),
        ),
        f,
    );
    Ok(Array::from_shape_vec(IxDyn(&shape), out).expect("sized by the broadcast shape"))
}

fn binary(
    op: &'static str,
    a: &Tensor,
    b: &Tensor,
    f: impl Fn(f32, f32) -> f32 + Sync,
    make: fn(Tensor, Tensor) -> Op,
) -> Result<Tensor> {
    let value = zip_broadcast(op, &a.data(), &b.data(), f)?;
    Ok(Tensor::from_op(value, make(a.clone(), b.clone())))
}

/// f applied to every element of `x`.
fn map(x: &Array, f: impl Fn(f32) -> f32 + Sync) -> Array {
    match x.as_slice() {
        Some(v) => {
            Array::from_shape_vec(x.raw_dim(), layout::map(v, f)).expect("same element count")
        }
        None => x.mapv(f),
    }
}

fn unary(x: &Tensor, f: impl Fn(f32) -> f32 + Sync, op: Op) -> Tensor {
    let value = map(&x.data(), f);
    Tensor::from_op(value, op)
}

/// `a * g`-style product at the broadcast shape, for backward rules.
fn times(g: &Array, other: &Array, f: impl Fn(f32, f32) -> f32 + Sync) -> Array {
    zip_broadcast("backward", g, other, f).expect("backward shapes come from a checked forward")
}

/// g[i] ← f(g[i], x[i]) in place, for rules whose input has the output's shape
/// (unary ops): the incoming gradient's buffer becomes the input's gradient.
fn scale_in_place(mut g: Array, x: &Array, f: impl Fn(&mut f32, f32) + Sync) -> Array {
    let same = g.shape() == x.shape();
    match (g.as_slice_mut(), x.as_slice()) {
        (Some(gs), Some(xs)) if same => layout::update_with(gs, xs, f),
        _ => Zip::from(&mut g).and(x).for_each(|g, &x| f(g, x)),
    }
    g
}

impl Tensor {
    /// a + b
    pub fn add(&self, other: &Tensor) -> Result<Tensor> {
        binary("add", self, other, |x, y| x + y, Op::Add)
    }
    /// a - b
    pub fn sub(&self, other: &Tensor) -> Result<Tensor> {
        binary("sub", self, other, |x, y| x - y, Op::Sub)
    }
    /// a * b, element-wise
    pub fn mul(&self, other: &Tensor) -> Result<Tensor> {
        binary("mul", self, other, |x, y| x * y, Op::Mul)
    }
    /// a / b, element-wise
    pub fn div(&self, other: &Tensor) -> Result<Tensor> {
        binary("div", self, other, |x, y| x / y, Op::Div)
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
        unary(self, |x| -x, Op::Neg(self.clone()))
    }
    /// a^p for a constant exponent
    pub fn pow(&self, p: f32) -> Tensor {
        unary(self, |x| x.powf(p), Op::Pow(self.clone(), p))
    }
    pub fn exp(&self) -> Tensor {
        unary(self, f32::exp, Op::Exp(self.clone()))
    }
    /// natural logarithm
    pub fn log(&self) -> Tensor {
        unary(self, f32::ln, Op::Log(self.clone()))
    }
    /// min(max(a, lo), hi); the gradient passes only where a is inside [lo, hi].
    pub fn clamp(&self, min: f32, max: f32) -> Tensor {
        unary(
            self,
            |x| x.max(min).min(max),
            Op::Clamp {
                input: self.clone(),
                min,
                max,
            },
        )
    }
    /// max(a, 0)
    pub fn relu(&self) -> Tensor {
        unary(self, |x| x.max(0.0), Op::Relu(self.clone()))
    }
    /// 1 / (1 + e^-a)
    pub fn sigmoid(&self) -> Tensor {
        unary(self, sigmoid, Op::Sigmoid(self.clone()))
    }
    pub fn tanh(&self) -> Tensor {
        unary(self, f32::tanh, Op::Tanh(self.clone()))
    }
}

/// Numerically stable logistic function.
pub fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

// ---- backward rules: (upstream grad, saved inputs, store) ----
// The upstream gradient comes by value: a rule that can reuse its buffer for
// an input's gradient does so instead of copying it.

// d(a+b)/da = 1, d(a+b)/db = 1
pub(crate) fn add_backward(g: Array, a: &Tensor, b: &Tensor, store: &mut GradStore) {
    match (store.wants(a), store.wants(b)) {
        // A broadcast operand (a bias) gets its sum straight from `g`, and the
        // operand with g's shape takes the buffer itself: no copy of g.
        (true, true) => {
            if a.data().shape() == g.shape() {
                let gb = sum_to_shape(&g, &b.shape()); // a copy only if b is full-size too
                store.accumulate(a, g);
                store.accumulate(b, gb);
            } else {
                store.accumulate(a, sum_to_shape(&g, &a.shape()));
                store.accumulate(b, g);
            }
        }
        (true, false) => store.accumulate(a, g),
        (false, true) => store.accumulate(b, g),
        (false, false) => {}
    }
}

// d(a-b)/da = 1, d(a-b)/db = -1
pub(crate) fn sub_backward(g: Array, a: &Tensor, b: &Tensor, store: &mut GradStore) {
    let gb = store.wants(b).then(|| map(&g, |x| -x));
    store.accumulate(a, g); // a before b, as for add (x - x adds in a fixed order)
    if let Some(gb) = gb {
        store.accumulate(b, gb);
    }
}

// d(ab)/da = b, d(ab)/db = a
pub(crate) fn mul_backward(g: Array, a: &Tensor, b: &Tensor, store: &mut GradStore) {
    if store.wants(a) {
        let ga = times(&g, &b.data(), |g, b| g * b);
        store.accumulate(a, ga);
    }
    if store.wants(b) {
        let gb = times(&g, &a.data(), |g, a| g * a);
        store.accumulate(b, gb);
    }
}

// d(a/b)/da = 1/b, d(a/b)/db = -a/b²
pub(crate) fn div_backward(g: Array, a: &Tensor, b: &Tensor, store: &mut GradStore) {
    if store.wants(a) {
        let ga = times(&g, &b.data(), |g, b| g / b);
        store.accumulate(a, ga);
    }
    if store.wants(b) {
        // -g·a/b² = -(g·a)/b², computed at the broadcast shape
        let ga = times(&g, &a.data(), |g, a| g * a);
        let gb = times(&ga, &b.data(), |ga, b| -ga / (b * b));
        store.accumulate(b, gb);
    }
}

pub(crate) fn neg_backward(mut g: Array, x: &Tensor, store: &mut GradStore) {
    g.mapv_inplace(|v| -v);
    store.accumulate(x, g);
}

// d(x^p)/dx = p·x^(p-1); exactly 0 for p = 0 (not 0·0⁻¹ = NaN at x = 0)
pub(crate) fn pow_backward(g: Array, x: &Tensor, p: f32, store: &mut GradStore) {
    if p == 0.0 {
        store.accumulate(x, Array::zeros(g.raw_dim()));
        return;
    }
    // x^1 is x: glibc's powf(x, 1) returns x for every f32 (checked
    // exhaustively), and the call costs more than the rest of this loop
    // (MSE's square hits it every step)
    let e = p - 1.0;
    let gx = if e == 1.0 {
        scale_in_place(g, &x.data(), |g, x| *g *= p * x)
    } else {
        scale_in_place(g, &x.data(), |g, x| *g *= p * x.powf(e))
    };
    store.accumulate(x, gx);
}

// d(e^x)/dx = e^x, the output itself
pub(crate) fn exp_backward(g: Array, x: &Tensor, out: &Array, store: &mut GradStore) {
    store.accumulate(x, scale_in_place(g, out, |g, e| *g *= e));
}

// d(ln x)/dx = 1/x
pub(crate) fn log_backward(g: Array, x: &Tensor, store: &mut GradStore) {
    let gx = scale_in_place(g, &x.data(), |g, x| *g /= x); // lock released here, before `accumulate` reads x again
    store.accumulate(x, gx);
}

// 1 inside [min, max], 0 where clamped
pub(crate) fn clamp_backward(g: Array, x: &Tensor, min: f32, max: f32, store: &mut GradStore) {
    let gx = scale_in_place(g, &x.data(), |g, x| {
        if x < min || x > max {
            *g = 0.0
        }
    });
    store.accumulate(x, gx);
}

// d relu(x)/dx = 1 if x > 0 else 0 (0 at x = 0, as PyTorch)
pub(crate) fn relu_backward(g: Array, x: &Tensor, store: &mut GradStore) {
    // a select, not a branch, so that the loop vectorizes
    let gx = scale_in_place(g, &x.data(), |g, x| *g = if x <= 0.0 { 0.0 } else { *g });
    store.accumulate(x, gx);
}

// dσ/dx = σ(1-σ), from the output
pub(crate) fn sigmoid_backward(g: Array, x: &Tensor, out: &Array, store: &mut GradStore) {
    store.accumulate(x, scale_in_place(g, out, |g, s| *g *= s * (1.0 - s)));
}

// d tanh/dx = 1 - tanh², from the output
pub(crate) fn tanh_backward(g: Array, x: &Tensor, out: &Array, store: &mut GradStore) {
    store.accumulate(x, scale_in_place(g, out, |g, t| *g *= 1.0 - t * t));
}
