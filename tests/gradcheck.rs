//! Finite-difference checks of every op's backward rule (STYLE.md §8), using
//! `dl_lab::engine::gradcheck` (central differences, non-uniform cotangent).
//!
//! Tolerances. The engine is f32, so ε = 1e-2 and a gradient passes when
//! |analytic − numeric| ≤ atol + rtol·|numeric| with atol = 2e-3, rtol = 2e-2.
//! f32 rounding in the difference is about |f|·6e-8 / 2ε ≈ 1e-5 and the
//! truncation error ε²·f'''/6 ≈ 2e-5·f''' (the inputs below keep f''' small or
//! the gradient large), so correct rules pass with a wide margin (with
//! `--nocapture` the worst errors print as ≤ 1e-4 for most ops, 7e-4 for
//! pow −1.5 at x = 0.5, where rtol covers it). Wrong rules cannot hide:
//! - a missing factor of 2 is an error of |n|/2, caught wherever |n| > 4.2e-3;
//! - a wrong sign is an error of 2|n|, caught wherever |n| > 1e-3;
//! - a gradient sent to the wrong element is an error |n_i − n_j|, and the
//!   cotangent is non-uniform, so neighbouring n's differ by O(0.1).
//!
//! [`check`] also asserts that every input's gradient has an entry above 1e-2
//! (> 4.2e-3, so a factor-2 error there would fail), so no test passes
//! vacuously on all-zero or tiny gradients, and the
//! `gradcheck_catches_*` tests show the checker failing on each kind of
//! wrong rule (built with `detach`, so the forward is right and the backward wrong).
//!
//! Inputs come from a fixed seed. Inputs of log/pow/div stay away from 0, and
//! inputs of relu/clamp/max/pooling stay further than ε from kinks and ties
//! (a kink is shown failing on purpose in `gradcheck_reports_failure_at_a_kink`).

// `&[x.clone()]` reads better than `std::slice::from_ref(&x)` next to `&[a, b]`.
#![allow(clippy::cloned_ref_to_slice_refs)]

use dl_lab::engine::gradcheck::{gradcheck, GradcheckOptions, GradcheckReport};
use dl_lab::engine::Array;
use dl_lab::{Result, Tensor};
use ndarray::IxDyn;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

const OPTS: GradcheckOptions = GradcheckOptions {
    eps: 1e-2,
    atol: 2e-3,
    rtol: 2e-2,
};

// ---------------------------------------------------------------- inputs

fn array(shape: &[usize], values: Vec<f32>) -> Array {
    Array::from_shape_vec(IxDyn(shape), values).expect("values fill the shape")
}

/// Uniform in [lo, hi).
fn uniform(seed: u64, shape: &[usize], lo: f32, hi: f32) -> Array {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = shape.iter().product();
    array(shape, (0..n).map(|_| rng.random_range(lo..hi)).collect())
}

/// Uniform in [-1, 1] but at least `margin` away from 0 (for relu's kink).
fn away_from_zero(seed: u64, shape: &[usize], margin: f32) -> Array {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = shape.iter().product();
    let values = (0..n)
        .map(|_| {
            let magnitude = rng.random_range(margin..1.0);
            if rng.random_bool(0.5) {
                magnitude
            } else {
                -magnitude
            }
        })
        .collect();
    array(shape, values)
}

/// All elements distinct, spaced `step` apart, shuffled: no ties for max or
/// pooling, and every gap is wider than 2ε.
fn distinct(seed: u64, shape: &[usize], step: f32) -> Array {
    let mut rng = StdRng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    let mut values: Vec<f32> = (0..n).map(|i| (i as f32 - n as f32 / 2.0) * step).collect();
    values.shuffle(&mut rng);
    array(shape, values)
}

/// Rows of one-hot targets (constant; used for cross-entropy).
fn onehot(classes: &[usize], n_classes: usize) -> Array {
    let mut v = vec![0.0; classes.len() * n_classes];
    for (row, &c) in classes.iter().enumerate() {
        v[row * n_classes + c] = 1.0;
    }
    array(&[classes.len(), n_classes], v)
}

// ---------------------------------------------------------------- checking

/// The same deterministic, non-uniform cotangent the checker uses.
fn cotangent(shape: &[usize]) -> Array {
    let n = shape.iter().product();
    let values = (0..n)
        .map(|i| (i as f32 * 0.7 + 0.3).sin() + 0.1 * (i % 3) as f32)
        .collect();
    array(shape, values)
}

/// The analytic vector-Jacobian product for each input.
fn analytic_grads(f: &impl Fn(&[Tensor]) -> Result<Tensor>, inputs: &[Array]) -> Vec<Array> {
    let params: Vec<Tensor> = inputs.iter().map(|a| Tensor::param(a.clone())).collect();
    let out = f(&params).expect("forward runs");
    out.backward_with(cotangent(&out.shape()))
        .expect("backward runs");
    params
        .iter()
        .zip(inputs)
        .map(|(p, a)| p.grad().unwrap_or_else(|| Array::zeros(a.raw_dim())))
        .collect()
}

fn run(f: &impl Fn(&[Tensor]) -> Result<Tensor>, inputs: &[Array]) -> GradcheckReport {
    gradcheck(f, inputs, OPTS).expect("gradcheck runs")
}

/// Assert that `f`'s gradients match finite differences, and that each input's
/// gradient is large enough somewhere for the check to mean something.
#[track_caller]
fn check(name: &str, f: impl Fn(&[Tensor]) -> Result<Tensor>, inputs: &[Array]) {
    let report = run(&f, inputs);
    println!(
        "{name}: worst (|analytic - numeric|, numeric) per input {:?}",
        report.worst
    );
    assert!(
        report.passed,
        "{name}: gradcheck failed; worst (|analytic - numeric|, numeric) per input: {:?}",
        report.worst
    );
    for (i, g) in analytic_grads(&f, inputs).iter().enumerate() {
        let largest = g.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(
            largest > 1e-2,
            "{name}: input {i} has gradient max |g| = {largest}; the check would be vacuous"
        );
    }
}

// ---------------------------------------------------------------- the checker itself

#[test]
fn gradcheck_catches_missing_factor_of_two() {
    // Forward x², but the detached factor gets no gradient: analytic x·c, true 2x·c.
    let x = uniform(1, &[2, 3], -1.0, 1.0);
    let f = |t: &[Tensor]| t[0].detach().mul(&t[0]);
    let report = run(&f, &[x]);
    assert!(
        !report.passed,
        "a missing factor of 2 must fail: {report:?}"
    );
    let (err, numeric) = report.worst[0];
    assert!(
        (err - numeric.abs() / 2.0).abs() < 1e-3,
        "error should be |n|/2: {report:?}"
    );
}

#[test]
fn gradcheck_catches_wrong_sign() {
    // Forward 2x - x = x, analytic -c, true +c.
    let x = uniform(2, &[3, 2], -1.0, 1.0);
    let f = |t: &[Tensor]| t[0].detach().mul_scalar(2.0).sub(&t[0]);
    let report = run(&f, &[x]);
    assert!(!report.passed, "a wrong sign must fail: {report:?}");
    let (err, numeric) = report.worst[0];
    assert!(
        (err - 2.0 * numeric.abs()).abs() < 1e-3,
        "error should be 2|n|: {report:?}"
    );
}

#[test]
fn gradcheck_catches_gradient_sent_to_wrong_element() {
    // Forward xᵀ, but the gradient flows as if it were x (element (i, j) gets
    // c(i, j) instead of c(j, i)): a transposition bug.
    let x = uniform(3, &[3, 3], -1.0, 1.0);
    let f = |t: &[Tensor]| {
        let zero_with_identity_grad = t[0].sub(&t[0].detach())?;
        t[0].t()?.detach().add(&zero_with_identity_grad)
    };
    let report = run(&f, &[x]);
    assert!(!report.passed, "a misrouted gradient must fail: {report:?}");
    assert!(report.worst[0].0 > 0.1, "{report:?}");
}

#[test]
fn gradcheck_reports_failure_at_a_kink() {
    // relu at exactly 0: the rule says 0 (as PyTorch), the central difference
    // sees (ε - 0)/2ε = 1/2. This is why the other tests keep off kinks.
    let x = array(&[3], vec![0.0, 0.0, 0.0]);
    let report = run(&|t: &[Tensor]| Ok(t[0].relu()), &[x]);
    assert!(!report.passed, "{report:?}");
    let (err, numeric) = report.worst[0];
    assert!(
        (err - numeric.abs()).abs() < 1e-6 && numeric.abs() > 0.1,
        "{report:?}"
    );
}

#[test]
fn gradcheck_worst_errors_are_far_below_tolerance_for_correct_rules() {
    let a = uniform(4, &[3, 4], -1.0, 1.0);
    let b = uniform(5, &[4, 2], -1.0, 1.0);
    let report = run(&|t: &[Tensor]| Ok(t[0].matmul(&t[1])?.tanh()), &[a, b]);
    assert!(report.passed);
    for &(err, _) in &report.worst {
        assert!(err < OPTS.atol / 4.0, "{report:?}");
    }
}

// ---------------------------------------------------------------- element-wise

#[test]
fn add_sub_mul_div_gradcheck() {
    let a = uniform(10, &[2, 3], -1.0, 1.0);
    let b = uniform(11, &[2, 3], -1.0, 1.0);
    let pos = uniform(12, &[2, 3], 0.5, 1.5);
    check("add", |t| t[0].add(&t[1]), &[a.clone(), b.clone()]);
    check("sub", |t| t[0].sub(&t[1]), &[a.clone(), b.clone()]);
    check("mul", |t| t[0].mul(&t[1]), &[a.clone(), b.clone()]);
    check("div", |t| t[0].div(&t[1]), &[a.clone(), pos.clone()]);
    check(
        "div (negative denominator)",
        |t| t[0].div(&t[1].neg()),
        &[a, pos],
    );
}

#[test]
fn neg_exp_log_gradcheck() {
    let x = uniform(20, &[2, 3], -1.0, 1.0);
    check("neg", |t| Ok(t[0].neg()), &[x.clone()]);
    check("exp", |t| Ok(t[0].exp()), &[x]);
    check("log", |t| Ok(t[0].log()), &[uniform(21, &[2, 3], 0.5, 2.0)]);
}

#[test]
fn pow_gradcheck() {
    let x = uniform(30, &[2, 3], -1.0, 1.0);
    let pos = uniform(31, &[2, 3], 0.5, 1.5);
    check("pow 2", |t| Ok(t[0].pow(2.0)), &[x.clone()]);
    check("pow 3", |t| Ok(t[0].pow(3.0)), &[x]);
    check("pow 0.5", |t| Ok(t[0].pow(0.5)), &[pos.clone()]);
    check("pow -1.5", |t| Ok(t[0].pow(-1.5)), &[pos]);
}

#[test]
fn clamp_gradcheck() {
    // Keep 0.05 away from the bounds ±0.5, with elements on both sides of them.
    let mut rng = StdRng::seed_from_u64(40);
    let values: Vec<f32> = std::iter::repeat_with(|| rng.random_range(-1.0f32..1.0))
        .filter(|v| (v.abs() - 0.5).abs() > 0.05)
        .take(12)
        .collect();
    let inside = values.iter().filter(|v| v.abs() < 0.5).count();
    assert!(
        inside > 0 && inside < values.len(),
        "need clamped and unclamped elements"
    );
    check(
        "clamp",
        |t| Ok(t[0].clamp(-0.5, 0.5)),
        &[array(&[3, 4], values)],
    );
}

#[test]
fn relu_sigmoid_tanh_gradcheck() {
    let x = away_from_zero(50, &[3, 4], 0.05);
    assert!(x.iter().any(|&v| v < 0.0) && x.iter().any(|&v| v > 0.0));
    check("relu", |t| Ok(t[0].relu()), &[x]);
    let y = uniform(51, &[3, 4], -3.0, 3.0);
    check("sigmoid", |t| Ok(t[0].sigmoid()), &[y.clone()]);
    check("tanh", |t| Ok(t[0].tanh()), &[y]);
}

#[test]
fn reuse_and_diamond_graphs_gradcheck() {
    let x = uniform(60, &[2, 3], -1.0, 1.0);
    check("x * x", |t| t[0].mul(&t[0]), &[x.clone()]);
    check("x * x * x", |t| t[0].mul(&t[0])?.mul(&t[0]), &[x.clone()]);
    check("x + x", |t| t[0].add(&t[0]), &[x.clone()]);
    check(
        "x / x²",
        |t| t[0].div(&t[0].pow(2.0).add_scalar(1.0)),
        &[x.clone()],
    );
    check(
        "diamond: e = exp(x); e * tanh(e) + e",
        |t| {
            let e = t[0].exp();
            e.mul(&e.tanh())?.add(&e)
        },
        &[x],
    );
}

// ---------------------------------------------------------------- broadcasting

#[test]
fn broadcast_binary_ops_gradcheck() {
    let a23 = uniform(70, &[2, 3], -1.0, 1.0);
    let b3 = uniform(71, &[3], -1.0, 1.0);
    let c21 = uniform(72, &[2, 1], -1.0, 1.0);
    let d13 = uniform(73, &[1, 3], -1.0, 1.0);
    let e413 = uniform(74, &[4, 1, 3], -1.0, 1.0);
    let pos23 = uniform(75, &[2, 3], 0.5, 1.5);
    let pos3 = uniform(76, &[3], 0.5, 1.5);
    check(
        "(2,3) + (3,)",
        |t| t[0].add(&t[1]),
        &[a23.clone(), b3.clone()],
    );
    check(
        "(3,) - (2,3)",
        |t| t[0].sub(&t[1]),
        &[b3.clone(), a23.clone()],
    );
    check(
        "(2,1) * (1,3)",
        |t| t[0].mul(&t[1]),
        &[c21.clone(), d13.clone()],
    );
    check(
        "(4,1,3) / (2,3)",
        |t| t[0].div(&t[1]),
        &[e413.clone(), pos23.clone()],
    );
    check("(2,3) / (3,)", |t| t[0].div(&t[1]), &[a23.clone(), pos3]);
    check("(2,1) - (1,3)", |t| t[0].sub(&t[1]), &[c21, d13]);
    check("(4,1,3) * (2,3)", |t| t[0].mul(&t[1]), &[e413, a23]);
}

#[test]
fn broadcast_with_0d_scalar_gradcheck() {
    let x = uniform(80, &[2, 3], -1.0, 1.0);
    let pos = uniform(81, &[2, 3], 0.5, 1.5);
    let s = array(&[], vec![0.7]);
    check("x + s", |t| t[0].add(&t[1]), &[x.clone(), s.clone()]);
    check("s - x", |t| t[1].sub(&t[0]), &[x.clone(), s.clone()]);
    check("x * s", |t| t[0].mul(&t[1]), &[x.clone(), s.clone()]);
    check("x / s", |t| t[0].div(&t[1]), &[x, s.clone()]);
    check("s / x", |t| t[1].div(&t[0]), &[pos, s.clone()]);
    check("s * s (0-d only)", |t| t[0].mul(&t[0]), &[s]);
}

// ---------------------------------------------------------------- matmul

#[test]
fn matmul_gradcheck() {
    let a = uniform(90, &[3, 4], -1.0, 1.0);
    let b = uniform(91, &[4, 2], -1.0, 1.0);
    check(
        "matmul (3,4)(4,2)",
        |t| t[0].matmul(&t[1]),
        &[a.clone(), b.clone()],
    );
    let row = uniform(92, &[1, 5], -1.0, 1.0);
    let col = uniform(93, &[5, 1], -1.0, 1.0);
    check("matmul (1,5)(5,1)", |t| t[0].matmul(&t[1]), &[row, col]);
    check("matmul aᵀ·a", |t| t[0].t()?.matmul(&t[0]), &[a.clone()]);
    check("matmul (bᵀ aᵀ)", |t| t[1].t()?.matmul(&t[0].t()?), &[a, b]);
}

// ---------------------------------------------------------------- reductions

#[test]
fn sum_gradcheck() {
    let x = uniform(100, &[2, 3, 4], -1.0, 1.0);
    let one = || [x.clone()];
    check("sum all", |t| Ok(t[0].sum()), &one());
    for axis in 0..3 {
        for keepdim in [false, true] {
            check(
                &format!("sum_dim({axis}, {keepdim})"),
                |t| t[0].sum_dim(axis, keepdim),
                &one(),
            );
        }
    }
    check(
        "sum_axes([0, 2], false)",
        |t| t[0].sum_axes(&[0, 2], false),
        &one(),
    );
    check(
        "sum_axes([2, 0], true)",
        |t| t[0].sum_axes(&[2, 0], true),
        &one(),
    );
    check(
        "sum_axes([1, 2], false)",
        |t| t[0].sum_axes(&[1, 2], false),
        &one(),
    );
    check(
        "sum_axes([0, 1, 2], true)",
        |t| t[0].sum_axes(&[0, 1, 2], true),
        &one(),
    );
    check("sum of 0-d", |t| Ok(t[0].sum()), &[array(&[], vec![0.4])]);
}

#[test]
fn mean_gradcheck() {
    let x = uniform(110, &[3, 4], -1.0, 1.0);
    check("mean", |t| Ok(t[0].mean()), &[x.clone()]);
    check(
        "mean_dim(0, false)",
        |t| t[0].mean_dim(0, false),
        &[x.clone()],
    );
    check(
        "mean_dim(1, true)",
        |t| t[0].mean_dim(1, true),
        &[x.clone()],
    );
    check("mean of squares", |t| Ok(t[0].pow(2.0).mean()), &[x]);
}

#[test]
fn max_gradcheck() {
    let x = distinct(120, &[3, 4], 0.1);
    check("max all", |t| t[0].max(), &[x.clone()]);
    check(
        "max_dim(0, false)",
        |t| Ok(t[0].max_dim(0, false)?.0),
        &[x.clone()],
    );
    check("max_dim(1, true)", |t| Ok(t[0].max_dim(1, true)?.0), &[x]);
    let y = distinct(121, &[2, 3, 4], 0.1);
    check(
        "max_dim(1, false) 3-d",
        |t| Ok(t[0].max_dim(1, false)?.0),
        &[y.clone()],
    );
    check(
        "max_dim(2, true) 3-d",
        |t| Ok(t[0].max_dim(2, true)?.0),
        &[y],
    );
}

#[test]
fn log_softmax_and_softmax_gradcheck() {
    let x = uniform(130, &[3, 4], -2.0, 2.0);
    for axis in [0, 1] {
        check(
            &format!("log_softmax({axis})"),
            |t| t[0].log_softmax(axis),
            &[x.clone()],
        );
        check(
            &format!("softmax({axis})"),
            |t| t[0].softmax(axis),
            &[x.clone()],
        );
    }
    let y = uniform(131, &[2, 3, 4], -2.0, 2.0);
    check("log_softmax(1) 3-d", |t| t[0].log_softmax(1), &[y.clone()]);
    check("softmax(2) 3-d", |t| t[0].softmax(2), &[y]);
}

// ---------------------------------------------------------------- shape ops

#[test]
fn shape_ops_gradcheck() {
    let x = uniform(140, &[2, 3, 4], -1.0, 1.0);
    let one = || [x.clone()];
    check("reshape (2,3,4)→(4,6)", |t| t[0].reshape(&[4, 6]), &one());
    check("reshape to 1-d", |t| t[0].reshape(&[24]), &one());
    check("view [-1, 8]", |t| t[0].view(&[-1, 8]), &one());
    check("view [3, -1, 2]", |t| t[0].view(&[3, -1, 2]), &one());
    check("flatten", |t| t[0].flatten(), &one());
    check("permute [2, 0, 1]", |t| t[0].permute(&[2, 0, 1]), &one());
    check("permute [1, 2, 0]", |t| t[0].permute(&[1, 2, 0]), &one());
    check("transpose(0, 2)", |t| t[0].transpose(0, 2), &one());
    check("transpose(1, 2)", |t| t[0].transpose(1, 2), &one());
    let m = uniform(141, &[3, 5], -1.0, 1.0);
    check("t()", |t| t[0].t(), &[m.clone()]);
    // A shape op between non-linear ops, so a misrouted gradient meets
    // different local derivatives.
    check(
        "x * reshape(permute(x))",
        |t| t[0].mul(&t[0].permute(&[1, 0])?.reshape(&[3, 5])?),
        &[m],
    );
    let img = uniform(142, &[2, 3, 2, 2], -1.0, 1.0);
    check("flatten (2,3,2,2)", |t| t[0].flatten(), &[img]);
}

// ---------------------------------------------------------------- conv2d

/// conv2d of x: (N, C, H, W) with w: (O, C, kh, kw).
fn check_conv(name: &str, seed: u64, x: [usize; 4], w: [usize; 4], stride: usize, padding: usize) {
    let xa = uniform(seed, &x, -1.0, 1.0);
    let wa = uniform(seed + 1, &w, -1.0, 1.0);
    check(name, |t| t[0].conv2d(&t[1], stride, padding), &[xa, wa]);
}

#[test]
fn conv2d_gradcheck() {
    check_conv(
        "1x1x5x5 * 1x1x3x3, s1 p0",
        150,
        [1, 1, 5, 5],
        [1, 1, 3, 3],
        1,
        0,
    );
    check_conv(
        "2x3x7x5 * 4x3x3x3, s1 p1",
        152,
        [2, 3, 7, 5],
        [4, 3, 3, 3],
        1,
        1,
    );
    check_conv(
        "2x2x7x5 * 3x2x2x2, s2 p0 (edges dropped)",
        154,
        [2, 2, 7, 5],
        [3, 2, 2, 2],
        2,
        0,
    );
    check_conv(
        "1x2x6x6 * 2x2x3x3, s2 p2",
        156,
        [1, 2, 6, 6],
        [2, 2, 3, 3],
        2,
        2,
    );
    check_conv(
        "2x2x7x5 * 2x2x3x3, s2 p1",
        158,
        [2, 2, 7, 5],
        [2, 2, 3, 3],
        2,
        1,
    );
    check_conv(
        "1x3x5x6 * 2x3x2x2, s1 p2",
        160,
        [1, 3, 5, 6],
        [2, 3, 2, 2],
        1,
        2,
    );
    check_conv(
        "2x2x6x5 * 3x2x3x2 (non-square kernel), s1 p1",
        162,
        [2, 2, 6, 5],
        [3, 2, 3, 2],
        1,
        1,
    );
    check_conv(
        "1x1x4x4 * 1x1x1x1, s1 p0",
        164,
        [1, 1, 4, 4],
        [1, 1, 1, 1],
        1,
        0,
    );
}

#[test]
fn conv2d_with_bias_gradcheck() {
    // bias (O,) broadcast as (O, 1, 1) over (N, O, H', W'), as nn::Conv2d does.
    let x = uniform(170, &[2, 2, 5, 4], -1.0, 1.0);
    let w = uniform(171, &[3, 2, 3, 3], -1.0, 1.0);
    let b = uniform(172, &[3, 1, 1], -1.0, 1.0);
    check(
        "conv2d + bias",
        |t| t[0].conv2d(&t[1], 1, 1)?.add(&t[2]),
        &[x, w, b],
    );
}

#[test]
fn conv2d_winograd_gradcheck() {
    // 3×3 stride-1 convolutions with ≥ 8 channels run as Winograd F(2×2, 3×3)
    // (forward and dx); odd sizes leave partial 2×2 tiles, every padding
    // it takes (dx's is 2 − p)
    check_conv(
        "1x8x5x6 * 8x8x3x3, s1 p1 (Winograd)",
        180,
        [1, 8, 5, 6],
        [8, 8, 3, 3],
        1,
        1,
    );
    check_conv(
        "2x9x4x5 * 8x9x3x3, s1 p0 (Winograd)",
        182,
        [2, 9, 4, 5],
        [8, 9, 3, 3],
        1,
        0,
    );
    check_conv(
        "1x8x3x3 * 9x8x3x3, s1 p2 (Winograd)",
        184,
        [1, 8, 3, 3],
        [9, 8, 3, 3],
        1,
        2,
    );
}

/// Inputs (x, w, b) for relu(conv2d(x, w, s, p) + b) whose pre-activations
/// all lie at least `margin` from ReLU's kink (the first such seed from
/// `seed`, deterministic), so that an ε-step cannot cross it: a step of ε in
/// one element moves each pre-activation by at most ε (all values in [-1, 1]).
fn conv_relu_inputs(seed: u64, x: [usize; 4], w: [usize; 4], s: usize, p: usize) -> [Array; 3] {
    let margin = 4.0 * OPTS.eps as f32;
    (seed..seed + 1000)
        .map(|k| {
            [
                uniform(k * 10, &x, -1.0, 1.0),
                uniform(k * 10 + 1, &w, -1.0, 1.0),
                uniform(k * 10 + 2, &[w[0]], -1.0, 1.0),
            ]
        })
        .find(|[x, w, b]| {
            let z = dl_lab::no_grad(|| {
                let b = Tensor::new(b.clone()).reshape(&[1, b.len(), 1, 1])?;
                Tensor::new(x.clone())
                    .conv2d(&Tensor::new(w.clone()), s, p)?
                    .add(&b)
            })
            .expect("conv runs");
            z.to_vec().iter().all(|v| v.abs() > margin)
        })
        .expect("some seed keeps clear of ReLU's kink")
}

#[test]
fn conv2d_bias_relu_gradcheck() {
    // the fused op on the Winograd path and on the im2col path (stride 2)
    for (name, x, w, s, p) in [
        (
            "1x8x3x3 * 8x8x3x3 s1 p1 (Winograd)",
            [1, 8, 3, 3],
            [8, 8, 3, 3],
            1,
            1,
        ),
        (
            "2x2x5x4 * 3x2x3x3 s2 p1 (im2col)",
            [2, 2, 5, 4],
            [3, 2, 3, 3],
            2,
            1,
        ),
        (
            // output planes of 5×4 ≥ 16: the mask and the bias's sum in one pass
            "2x2x5x4 * 3x2x3x3 s1 p1 (fused backward)",
            [2, 2, 5, 4],
            [3, 2, 3, 3],
            1,
            1,
        ),
    ] {
        let inputs = conv_relu_inputs(190, x, w, s, p);
        check(
            &format!("conv2d_bias_relu {name}"),
            |t| t[0].conv2d_bias_relu(&t[1], &t[2], s, p),
            &inputs,
        );
    }
}

/// Inputs (x, w, b) for max_pool(relu(conv2d(x, w, s, p) + b)) clear of
/// ReLU's kink (as `conv_relu_inputs`) whose pool windows' winners also lead
/// the runner-up by more than the margin: an ε-step moves each
/// pre-activation by at most ε, so it can change no window's winner.
fn conv_relu_pool_inputs(
    seed: u64,
    (x, w, s, p): ([usize; 4], [usize; 4], usize, usize),
    (k, ps): (usize, usize),
) -> [Array; 3] {
    let margin = 4.0 * OPTS.eps as f32;
    (seed..seed + 1000)
        .map(|start| conv_relu_inputs(start, x, w, s, p))
        .find(|[x, w, b]| {
            let y = dl_lab::no_grad(|| {
                Tensor::new(x.clone()).conv2d_bias_relu(
                    &Tensor::new(w.clone()),
                    &Tensor::new(b.clone()),
                    s,
                    p,
                )
            })
            .expect("conv runs")
            .to_array();
            let (oh, ow) = ((y.shape()[2] - k) / ps + 1, (y.shape()[3] - k) / ps + 1);
            let plane = y.shape()[2] * y.shape()[3];
            let values = y.as_slice().expect("contiguous");
            (0..y.shape()[0] * y.shape()[1]).all(|z| {
                (0..oh * ow).all(|o| {
                    let (oy, ox) = (o / ow * ps, o % ow * ps);
                    let mut window: Vec<f32> = (0..k * k)
                        .map(|i| values[z * plane + (oy + i / k) * y.shape()[3] + ox + i % k])
                        .collect();
                    window.sort_by(|a, b| b.total_cmp(a));
                    window[0] == 0.0 || window[0] - window[1] > margin
                })
            })
        })
        .expect("some seed keeps clear of ReLU's kink and the pool's ties")
}

#[test]
fn conv2d_bias_relu_max_pool2d_gradcheck() {
    for (name, shapes, pool) in [
        // odd W: the pool drops the last column; pooled planes under 16
        (
            "1x2x6x5 * 3x2x3x3 s1 p1, pool 2/2",
            ([1, 2, 6, 5], [3, 2, 3, 3], 1, 1),
            (2, 2),
        ),
        // overlapping windows: a winner can take two windows' gradients
        (
            "2x2x6x5 * 3x2x3x3 s1 p1, pool 3/2",
            ([2, 2, 6, 5], [3, 2, 3, 3], 1, 1),
            (3, 2),
        ),
        // pooled planes of 4×4: the mask and the bias's sum in one pass
        (
            "1x1x8x8 * 2x1x3x3 s1 p1, pool 2/2",
            ([1, 1, 8, 8], [2, 1, 3, 3], 1, 1),
            (2, 2),
        ),
    ] {
        let inputs = conv_relu_pool_inputs(400, shapes, pool);
        let (s, p) = (shapes.2, shapes.3);
        check(
            &format!("conv2d_bias_relu_max_pool2d {name}"),
            |t| t[0].conv2d_bias_relu_max_pool2d(&t[1], &t[2], (s, p), pool),
            &inputs,
        );
    }
}

#[test]
fn linear_gradcheck() {
    // x·Wᵀ + b, and with ReLU after it (inputs drawn clear of ReLU's kink)
    let margin = 4.0 * OPTS.eps as f32;
    for relu in [false, true] {
        let inputs = (300u64..1300)
            .map(|k| {
                [
                    uniform(k * 10, &[5, 3], -1.0, 1.0),
                    uniform(k * 10 + 1, &[4, 3], -1.0, 1.0),
                    uniform(k * 10 + 2, &[4], -1.0, 1.0),
                ]
            })
            .find(|[x, w, b]| {
                let z = dl_lab::no_grad(|| {
                    Tensor::new(x.clone()).linear(
                        &Tensor::new(w.clone()),
                        &Tensor::new(b.clone()),
                        false,
                    )
                })
                .expect("linear runs");
                z.to_vec().iter().all(|v| v.abs() > margin)
            })
            .expect("some seed keeps clear of ReLU's kink");
        check(
            &format!("linear relu={relu}"),
            |t| t[0].linear(&t[1], &t[2], relu),
            &inputs,
        );
    }
}

// ---------------------------------------------------------------- pooling

fn check_pools(seed: u64, shape: [usize; 4], k: usize, stride: usize) {
    let x = distinct(seed, &shape, 0.05);
    let name = format!("{shape:?} k={k} s={stride}");
    check(
        &format!("max_pool2d {name}"),
        |t| t[0].max_pool2d(k, stride),
        &[x.clone()],
    );
    check(
        &format!("avg_pool2d {name}"),
        |t| t[0].avg_pool2d(k, stride),
        &[x],
    );
}

#[test]
fn pool2d_gradcheck() {
    check_pools(180, [1, 2, 4, 6], 2, 2); // non-overlapping, exact fit
    check_pools(181, [2, 1, 7, 7], 3, 2); // overlapping windows share cells
    check_pools(182, [1, 2, 5, 7], 2, 2); // odd sizes: last row/column dropped
    check_pools(183, [2, 2, 6, 5], 3, 2); // overlapping, odd width with a dropped column
    check_pools(184, [1, 1, 5, 5], 3, 1); // stride 1, heavy overlap
    check_pools(185, [2, 1, 8, 7], 2, 3); // stride > k: cells between windows get 0
    check_pools(186, [1, 2, 7, 6], 3, 3); // k = stride = 3, a dropped row
}

// ---------------------------------------------------------------- losses

#[test]
fn mse_loss_gradcheck() {
    // MSE = ((p - y)²).mean()
    let p = uniform(190, &[3, 4], -1.0, 1.0);
    let y = uniform(191, &[3, 4], -1.0, 1.0);
    check("mse", |t| Ok(t[0].sub(&t[1])?.pow(2.0).mean()), &[p, y]);
}

/// BCE = -(y·log p + (1-y)·log(1-p)).mean()
fn bce(p: &Tensor, y: &Tensor) -> Result<Tensor> {
    let one_minus = |t: &Tensor| t.neg().add_scalar(1.0);
    let pos = y.mul(&p.log())?;
    let neg = one_minus(y).mul(&one_minus(p).log())?;
    Ok(pos.add(&neg)?.mean().neg())
}

#[test]
fn bce_loss_gradcheck() {
    let p = uniform(200, &[2, 4], 0.1, 0.9);
    let y = array(&[2, 4], vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
    check("bce", |t| bce(&t[0], &t[1]), &[p, y]);
    let logits = uniform(201, &[2, 4], -2.0, 2.0);
    let y = uniform(202, &[2, 4], 0.0, 1.0); // soft targets
    check(
        "bce(sigmoid(z))",
        |t| bce(&t[0].sigmoid(), &t[1]),
        &[logits, y],
    );
}

/// Cross-entropy = -(log_softmax(x, 1) · onehot).sum() / N
fn cross_entropy(logits: &Tensor, onehot: &Tensor) -> Result<Tensor> {
    let n = logits.shape()[0] as f32;
    Ok(logits
        .log_softmax(1)?
        .mul(onehot)?
        .sum()
        .mul_scalar(-1.0 / n))
}

#[test]
fn cross_entropy_loss_gradcheck() {
    let x = uniform(210, &[4, 5], -2.0, 2.0);
    let targets = Tensor::new(onehot(&[0, 3, 4, 3], 5));
    check("cross-entropy", |t| cross_entropy(&t[0], &targets), &[x]);
}

// ---------------------------------------------------------------- a tiny CNN end to end

/// conv(p0) → relu → maxpool(2, 2) → flatten → matmul → + bias → log_softmax → CE.
fn tiny_cnn(t: &[Tensor], targets: &Tensor) -> Result<Tensor> {
    let (x, w1, w2, b2) = (&t[0], &t[1], &t[2], &t[3]);
    let h = x.conv2d(w1, 1, 0)?.relu().max_pool2d(2, 2)?.flatten()?;
    cross_entropy(&h.matmul(w2)?.add(b2)?, targets)
}

/// Whether the relu inputs and the pooling windows are far enough from kinks
/// and ties that an ε-step cannot cross one. A step of ε in one x or w
/// element moves each conv output by at most ε·max(|w|, |x|) ≤ ε (all in [-1, 1]).
fn far_from_kinks(x: &Array, w1: &Array, margin: f32) -> bool {
    let z = dl_lab::no_grad(|| Tensor::new(x.clone()).conv2d(&Tensor::new(w1.clone()), 1, 0))
        .expect("conv runs")
        .to_array();
    if z.iter().any(|v| v.abs() < margin) {
        return false;
    }
    let r = z.mapv(|v| v.max(0.0));
    let s = r.shape().to_vec();
    for n in 0..s[0] {
        for c in 0..s[1] {
            for oy in 0..s[2] / 2 {
                for ox in 0..s[3] / 2 {
                    let mut window: Vec<f32> = (0..4)
                        .map(|i| r[[n, c, 2 * oy + i / 2, 2 * ox + i % 2]])
                        .collect();
                    window.sort_by(|a, b| b.total_cmp(a));
                    // an all-zero window stays all-zero; otherwise the max must be clear
                    if window[0] > 0.0 && window[0] - window[1] < margin {
                        return false;
                    }
                }
            }
        }
    }
    true
}

#[test]
fn tiny_cnn_end_to_end_gradcheck() {
    let targets = Tensor::new(onehot(&[2, 0], 3));
    // x (2,1,6,6) → conv 2×(3×3) → (2,2,4,4) → pool → (2,2,2,2) → (2,8) → (2,3).
    // Pick the first seed whose activations are clear of kinks (deterministic).
    let seed = (0..1000u64)
        .find(|&s| {
            let x = uniform(s * 10, &[2, 1, 6, 6], -1.0, 1.0);
            let w1 = uniform(s * 10 + 1, &[2, 1, 3, 3], -1.0, 1.0);
            far_from_kinks(&x, &w1, 4.0 * OPTS.eps as f32)
        })
        .expect("some seed keeps clear of relu/max kinks");
    let inputs = [
        uniform(seed * 10, &[2, 1, 6, 6], -1.0, 1.0),
        uniform(seed * 10 + 1, &[2, 1, 3, 3], -1.0, 1.0),
        uniform(seed * 10 + 2, &[8, 3], -1.0, 1.0),
        uniform(seed * 10 + 3, &[3], -1.0, 1.0),
    ];
    check("tiny CNN", |t| tiny_cnn(t, &targets), &inputs);
}
