//! Element-wise kernels on the CPU: unary maps and their derivatives, and
//! broadcasting binary maps (the loop nests are in `layout.rs`).

use ndarray::{IxDyn, Zip};

use super::layout;
use crate::backend::{BinaryOp, UnaryOp};
use crate::engine::Array;

/// Numerically stable logistic function.
pub fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// min(max(x, lo), hi) with NaN kept (f32::max would drop it), as PyTorch's clamp.
#[inline]
fn clamp(x: f32, lo: f32, hi: f32) -> f32 {
    if x.is_nan() {
        x
    } else {
        x.max(lo).min(hi)
    }
}

/// f applied to every element of `x`.
pub(crate) fn map(x: &Array, f: impl Fn(f32) -> f32 + Sync) -> Array {
    match x.as_slice() {
        Some(v) => {
            Array::from_shape_vec(x.raw_dim(), layout::map(v, f)).expect("same element count")
        }
        None => x.mapv(f),
    }
}

pub(crate) fn unary(x: &Array, op: UnaryOp) -> Array {
    match op {
        UnaryOp::Neg => map(x, |v| -v),
        UnaryOp::Exp => map(x, f32::exp),
        UnaryOp::Log => map(x, f32::ln),
        // a select that keeps NaN (f32::max would turn it into 0), as PyTorch
        UnaryOp::Relu => map(x, |v| if v < 0.0 { 0.0 } else { v }),
        UnaryOp::Sigmoid => map(x, sigmoid),
        UnaryOp::Tanh => map(x, f32::tanh),
        // x² as x·x: glibc's powf(x, 2) equals x·x for every f32 (checked
        // exhaustively) and costs several times more; MSE squares every step
        UnaryOp::Pow(p) if p == 2.0 => map(x, |v| v * v),
        UnaryOp::Pow(p) => map(x, |v| v.powf(p)),
        UnaryOp::Clamp(lo, hi) => map(x, |v| clamp(v, lo, hi)),
    }
}

/// g[i] ← f(g[i], s[i]) in place, for rules whose saved value has the
/// output's shape: the incoming gradient's buffer becomes the input's gradient.
fn scale_in_place(mut g: Array, s: &Array, f: impl Fn(&mut f32, f32) + Sync) -> Array {
    let same = g.shape() == s.shape();
    match (g.as_slice_mut(), s.as_slice()) {
        (Some(gs), Some(ss)) if same => layout::update_with(gs, ss, f),
        _ => Zip::from(&mut g).and(s).for_each(|g, &s| f(g, s)),
    }
    g
}

/// dx = g · f'(saved), `saved` being x, or y for exp, sigmoid and tanh.
pub(crate) fn unary_backward(saved: &Array, g: Array, op: UnaryOp) -> Array {
    match op {
        UnaryOp::Neg => {
            let mut g = g;
            g.mapv_inplace(|v| -v);
            g
        }
        // d(e^x)/dx = e^x, the output itself
        UnaryOp::Exp => scale_in_place(g, saved, |g, e| *g *= e),
        // d(ln x)/dx = 1/x
        UnaryOp::Log => scale_in_place(g, saved, |g, x| *g /= x),
        // 1 if x > 0 else 0; a select, not a branch, so that the loop vectorizes
        UnaryOp::Relu => scale_in_place(g, saved, |g, x| *g = if x <= 0.0 { 0.0 } else { *g }),
        // dσ/dx = σ(1-σ), from the output
        UnaryOp::Sigmoid => scale_in_place(g, saved, |g, s| *g *= s * (1.0 - s)),
        // d tanh/dx = 1 - tanh², from the output
        UnaryOp::Tanh => scale_in_place(g, saved, |g, t| *g *= 1.0 - t * t),
        // p·x^(p-1); exactly 0 for p = 0 (not 0·0⁻¹ = NaN at x = 0)
        UnaryOp::Pow(p) => {
            if p == 0.0 {
                return Array::zeros(g.raw_dim());
            }
            // x^1 is x: glibc's powf(x, 1) returns x for every f32 (checked
            // exhaustively), and the call costs more than the rest of this
            // loop (MSE's square hits it every step)
            let e = p - 1.0;
            if e == 1.0 {
                scale_in_place(g, saved, |g, x| *g *= p * x)
            } else {
                scale_in_place(g, saved, |g, x| *g *= p * x.powf(e))
            }
        }
        // 1 inside [lo, hi], 0 where clamped (a NaN input passes its gradient on)
        UnaryOp::Clamp(lo, hi) => scale_in_place(g, saved, |g, x| {
            if x < lo || x > hi {
                *g = 0.0
            }
        }),
    }
}

/// PyTorch's per-element binary cross-entropy, logs clamped at -100.
#[inline]
fn bce(p: f32, y: f32) -> f32 {
    let log_p = (p.ln()).max(-100.0);
    let log_1mp = ((1.0 - p).ln()).max(-100.0);
    // keep a NaN probability visible (max would drop it)
    if p.is_nan() {
        return p;
    }
    -(y * log_p + (1.0 - y) * log_1mp)
}

/// d bce / dp as PyTorch's `binary_cross_entropy_backward`.
#[inline]
fn bce_grad(p: f32, y: f32) -> f32 {
    (p - y) / (p * (1.0 - p)).max(1e-12)
}

/// f(a, b) over the broadcast `shape`.
pub(crate) fn binary(a: &Array, b: &Array, op: BinaryOp, shape: &[usize]) -> Array {
    match op {
        BinaryOp::Add => zip(a, b, shape, |x, y| x + y),
        BinaryOp::Sub => zip(a, b, shape, |x, y| x - y),
        BinaryOp::Mul => zip(a, b, shape, |x, y| x * y),
        BinaryOp::Div => zip(a, b, shape, |x, y| x / y),
        BinaryOp::Eq => zip(a, b, shape, |x, y| if x == y { 1.0 } else { 0.0 }),
        BinaryOp::BceLoss => zip(a, b, shape, bce),
        BinaryOp::BceGrad => zip(a, b, shape, bce_grad),
    }
}

fn zip(a: &Array, b: &Array, shape: &[usize], f: impl Fn(f32, f32) -> f32 + Sync) -> Array {
    // one element on each side (every op of gd-scalar's 100,000 steps): no
    // loop nest to build
    if let (Some(&x), Some(&y), 1) = (a.first(), b.first(), a.len() * b.len()) {
        return Array::from_elem(IxDyn(shape), f(x, y));
    }
    let (a, b) = (a.as_standard_layout(), b.as_standard_layout());
    let out = layout::zip_map(
        shape,
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
    Array::from_shape_vec(IxDyn(shape), out).expect("sized by the broadcast shape")
}
