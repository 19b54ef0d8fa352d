//! Hand-computed cases for the autograd engine (STYLE.md §8, after candle's
//! `grad_tests.rs`): each test writes the derivative in a comment and asserts
//! exact small vectors. Also: accumulation, no-grad mode, typed errors with
//! the op and shapes in the message, the tie rules, and forward values.

use dl_lab::engine::{no_grad, Array};
use dl_lab::{Error, Tensor};
use ndarray::IxDyn;

fn t(shape: &[usize], values: &[f32]) -> Tensor {
    Tensor::from_vec(shape, values.to_vec()).expect("values fill the shape")
}

fn param(shape: &[usize], values: &[f32]) -> Tensor {
    t(shape, values).requires_grad_()
}

/// 1, 2, …, n as a tensor of `shape`.
fn iota(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    t(shape, &(1..=n).map(|i| i as f32).collect::<Vec<_>>())
}

fn grad_vec(x: &Tensor) -> Vec<f32> {
    x.grad()
        .expect("a gradient was computed")
        .iter()
        .copied()
        .collect()
}

#[track_caller]
fn assert_close(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "got {got:?}, want {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol, "got {got:?}, want {want:?}");
    }
}

fn err_text<T: std::fmt::Debug>(r: dl_lab::Result<T>) -> String {
    r.expect_err("should fail").to_string()
}

// ---------------------------------------------------------------- hand-computed gradients

#[test]
fn quadratic_at_3() {
    // y = x² + 5x + 4, dy/dx = 2x + 5 = 11 at x = 3; y(3) = 28.
    let x = param(&[], &[3.0]);
    let y = x.pow(2.0).add(&x.mul_scalar(5.0)).unwrap().add_scalar(4.0);
    assert_eq!(y.item(), 28.0);
    y.backward().unwrap();
    assert_eq!(grad_vec(&x), [11.0]);
}

#[test]
fn x_times_x_accumulates_both_uses() {
    // y = Σ x·x, dy/dx = 2x (each use contributes x; accumulate, never assign).
    let x = param(&[3], &[1.0, -2.0, 3.0]);
    x.mul(&x).unwrap().sum().backward().unwrap();
    assert_eq!(grad_vec(&x), [2.0, -4.0, 6.0]);
}

#[test]
fn x_used_three_ways() {
    // y = Σ (x·x·x + x + x), dy/dx = 3x² + 2.
    let x = param(&[3], &[1.0, -2.0, 0.5]);
    let y = x
        .mul(&x)
        .unwrap()
        .mul(&x)
        .unwrap()
        .add(&x)
        .unwrap()
        .add(&x)
        .unwrap();
    y.sum().backward().unwrap();
    assert_eq!(grad_vec(&x), [5.0, 14.0, 2.75]);
}

#[test]
fn gradients_accumulate_across_backward_calls_until_zero_grad() {
    // y = Σ 3x, dy/dx = 3 per call.
    let x = param(&[2], &[1.0, 2.0]);
    assert!(x.grad().is_none(), "no gradient before backward");
    let y = x.mul_scalar(3.0).sum();
    y.backward().unwrap();
    assert_eq!(grad_vec(&x), [3.0, 3.0]);
    y.backward().unwrap();
    assert_eq!(grad_vec(&x), [6.0, 6.0]);
    x.zero_grad();
    assert!(x.grad().is_none());
    y.backward().unwrap();
    assert_eq!(grad_vec(&x), [3.0, 3.0]);
}

#[test]
fn add_sub_mul_div_hand_gradients() {
    // y = Σ (a·b + a/b - b), with a = [2, 3], b = [4, 0.5]:
    // dy/da = b + 1/b = [4.25, 2.5]; dy/db = a - a/b² - 1 = [2 - 0.125 - 1, 3 - 12 - 1].
    let a = param(&[2], &[2.0, 3.0]);
    let b = param(&[2], &[4.0, 0.5]);
    let y = a
        .mul(&b)
        .unwrap()
        .add(&a.div(&b).unwrap())
        .unwrap()
        .sub(&b)
        .unwrap();
    y.sum().backward().unwrap();
    assert_eq!(grad_vec(&a), [4.25, 2.5]);
    assert_eq!(grad_vec(&b), [0.875, -10.0]);
}

#[test]
fn unary_hand_gradients() {
    // d exp/dx = e^x; d ln/dx = 1/x; d relu/dx = [x > 0] (0 at 0); d tanh = 1 - tanh²;
    // dσ = σ(1-σ) = 0.25 at 0; clamp passes inside [min, max] (bounds included).
    let x = param(&[3], &[0.0, 1.0, 2.0]);
    x.exp().sum().backward().unwrap();
    assert_close(&grad_vec(&x), &[1.0, 1.0f32.exp(), 2.0f32.exp()], 1e-6);

    let x = param(&[2], &[0.5, 4.0]);
    x.log().sum().backward().unwrap();
    assert_eq!(grad_vec(&x), [2.0, 0.25]);

    let x = param(&[4], &[-1.0, 0.0, 0.5, 2.0]);
    x.relu().sum().backward().unwrap();
    assert_eq!(grad_vec(&x), [0.0, 0.0, 1.0, 1.0]);

    let x = param(&[1], &[0.0]);
    x.sigmoid().sum().backward().unwrap();
    assert_eq!(grad_vec(&x), [0.25]);

    let x = param(&[2], &[0.0, 0.5]);
    x.tanh().sum().backward().unwrap();
    assert_close(&grad_vec(&x), &[1.0, 1.0 - 0.5f32.tanh().powi(2)], 1e-6);

    let x = param(&[5], &[-2.0, -1.0, 0.0, 1.0, 2.0]);
    let y = x.clamp(-1.0, 1.0);
    assert_eq!(y.to_vec(), [-1.0, -1.0, 0.0, 1.0, 1.0]);
    y.sum().backward().unwrap();
    assert_eq!(grad_vec(&x), [0.0, 1.0, 1.0, 1.0, 0.0]);

    // d(-x)/dx = -1; d x^3 = 3x² at x = 2 → 12; d x^-1 = -1/x² at x = 2 → -0.25.
    let x = param(&[], &[2.0]);
    x.neg()
        .add(&x.pow(3.0))
        .unwrap()
        .add(&x.pow(-1.0))
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(grad_vec(&x), [-1.0 + 12.0 - 0.25]);
}

#[test]
fn matmul_hand_gradients() {
    // y = Σ A·B, A (2,2), B (2,1): dA = 1·Bᵀ per row, dB = column sums of A.
    let a = param(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
    let b = param(&[2, 1], &[5.0, 6.0]);
    let y = a.matmul(&b).unwrap();
    assert_eq!(y.to_vec(), [17.0, 39.0]);
    y.sum().backward().unwrap();
    assert_eq!(grad_vec(&a), [5.0, 6.0, 5.0, 6.0]);
    assert_eq!(grad_vec(&b), [4.0, 6.0]);
}

#[test]
fn mse_and_cross_entropy_hand_gradients() {
    // MSE = mean((p - y)²) with p = [1, 2], y = 0: loss 2.5, dp = 2(p - y)/N = [1, 2].
    let p = param(&[2], &[1.0, 2.0]);
    let loss = p.sub(&Tensor::zeros(&[2])).unwrap().pow(2.0).mean();
    assert_eq!(loss.item(), 2.5);
    loss.backward().unwrap();
    assert_eq!(grad_vec(&p), [1.0, 2.0]);

    // CE = -Σ log_softmax(x)·onehot / N with x = [[0, 0]], class 0:
    // loss ln 2, dx = (softmax - onehot)/N = [-0.5, 0.5].
    let x = param(&[1, 2], &[0.0, 0.0]);
    let onehot = t(&[1, 2], &[1.0, 0.0]);
    let loss = x
        .log_softmax(1)
        .unwrap()
        .mul(&onehot)
        .unwrap()
        .sum()
        .mul_scalar(-1.0);
    assert_close(&[loss.item()], &[std::f32::consts::LN_2], 1e-6);
    loss.backward().unwrap();
    assert_close(&grad_vec(&x), &[-0.5, 0.5], 1e-6);
}

#[test]
fn broadcast_add_values_and_gradients() {
    // (2,3) + (3,): b is added to each row. With y = Σ c·(a + b):
    // da = c, db = column sums of c = [1+4, 2+5, 3+6].
    let a = param(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let b = param(&[3], &[10.0, 20.0, 30.0]);
    let s = a.add(&b).unwrap();
    assert_eq!(s.shape(), [2, 3]);
    assert_eq!(s.to_vec(), [11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
    let c = iota(&[2, 3]);
    s.mul(&c).unwrap().sum().backward().unwrap();
    assert_eq!(grad_vec(&a), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(grad_vec(&b), [5.0, 7.0, 9.0]);
}

#[test]
fn broadcast_outer_product_and_scalar() {
    // (2,1) * (1,3) → (2,3) outer product; d Σ/du = Σ v, d Σ/dv = Σ u.
    let u = param(&[2, 1], &[1.0, 2.0]);
    let v = param(&[1, 3], &[3.0, 4.0, 5.0]);
    let p = u.mul(&v).unwrap();
    assert_eq!(p.shape(), [2, 3]);
    assert_eq!(p.to_vec(), [3.0, 4.0, 5.0, 6.0, 8.0, 10.0]);
    p.sum().backward().unwrap();
    assert_eq!(grad_vec(&u), [12.0, 12.0]);
    assert_eq!(grad_vec(&v), [3.0, 3.0, 3.0]);

    // A 0-d scalar s broadcast over (2,2): d Σ(x·s)/ds = Σ x = 10, shape [].
    let s = param(&[], &[2.0]);
    iota(&[2, 2]).mul(&s).unwrap().sum().backward().unwrap();
    assert_eq!(s.grad().unwrap().shape(), [] as [usize; 0]);
    assert_eq!(grad_vec(&s), [10.0]);
}

#[test]
fn sum_and_mean_hand_gradients() {
    // sum_dim(1) of (2,3): [6, 15]; weighted by [1, 2], dx = [1,1,1, 2,2,2].
    let x = param(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let s = x.sum_dim(1, false).unwrap();
    assert_eq!(s.shape(), [2]);
    assert_eq!(s.to_vec(), [6.0, 15.0]);
    s.mul(&t(&[2], &[1.0, 2.0]))
        .unwrap()
        .sum()
        .backward()
        .unwrap();
    assert_eq!(grad_vec(&x), [1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);

    // keepdim keeps a 1; mean_dim(0) of (2,3) = [2.5, 3.5, 4.5], dx = 1/2 each.
    assert_eq!(x.sum_dim(0, true).unwrap().shape(), [1, 3]);
    let x = param(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let m = x.mean_dim(0, false).unwrap();
    assert_eq!(m.to_vec(), [2.5, 3.5, 4.5]);
    m.sum().backward().unwrap();
    assert_eq!(grad_vec(&x), [0.5; 6]);

    // sum over axes [0, 2] of (2,2,2) = [1+2+5+6, 3+4+7+8].
    let y = iota(&[2, 2, 2]).sum_axes(&[0, 2], false).unwrap();
    assert_eq!(y.to_vec(), [14.0, 22.0]);
    assert_eq!(
        iota(&[2, 2, 2]).sum_axes(&[2, 0], true).unwrap().shape(),
        [1, 2, 1]
    );
}

// ---------------------------------------------------------------- no_grad

#[test]
fn no_grad_records_nothing() {
    let w = param(&[2], &[1.0, 2.0]);
    let y = no_grad(|| w.mul_scalar(3.0).sum());
    assert!(!y.requires_grad());
    assert_eq!(y.op_name(), "leaf");
    assert_eq!(y.item(), 9.0);
    y.backward().unwrap(); // nothing to do
    assert!(w.grad().is_none());
    // Recording resumes afterwards.
    let z = w.mul_scalar(3.0).sum();
    assert!(z.requires_grad());
    assert_eq!(z.op_name(), "sum");
}

#[test]
fn constants_and_detach_get_no_gradient() {
    let c = t(&[2], &[1.0, 2.0]);
    assert!(!c.requires_grad());
    let w = param(&[2], &[3.0, 4.0]);
    // y = Σ w·detach(w) + c: only the first factor carries a gradient → d/dw = w.
    let y = w.mul(&w.detach()).unwrap().add(&c).unwrap().sum();
    y.backward().unwrap();
    assert_eq!(grad_vec(&w), [3.0, 4.0]);
    assert!(c.grad().is_none());
}

// ---------------------------------------------------------------- errors

#[test]
fn backward_on_non_scalar_is_an_error() {
    let x = param(&[2, 3], &[0.0; 6]);
    let y = x.mul_scalar(2.0);
    match y.backward() {
        Err(Error::BackwardNotScalar { shape }) => assert_eq!(shape, [2, 3]),
        other => panic!("expected BackwardNotScalar, got {other:?}"),
    }
    assert!(x.grad().is_none());
}

#[test]
fn shape_errors_name_the_op_and_shapes() {
    let a = iota(&[2, 3]);
    let b = iota(&[4, 2]);
    let r = a.matmul(&b);
    assert!(
        matches!(r, Err(Error::ShapeMismatch { op: "matmul", .. })),
        "{r:?}"
    );
    let msg = err_text(r);
    assert!(
        msg.contains("matmul") && msg.contains("[2, 3]") && msg.contains("[4, 2]"),
        "{msg}"
    );

    let r = a.add(&iota(&[2]));
    assert!(
        matches!(r, Err(Error::ShapeMismatch { op: "add", .. })),
        "{r:?}"
    );
    let msg = err_text(r);
    assert!(
        msg.contains("add") && msg.contains("[2, 3]") && msg.contains("[2]"),
        "{msg}"
    );

    let msg = err_text(a.mul(&iota(&[3, 3])));
    assert!(
        msg.contains("mul") && msg.contains("[2, 3]") && msg.contains("[3, 3]"),
        "{msg}"
    );

    let r = a.reshape(&[4]);
    assert!(
        matches!(r, Err(Error::ShapeMismatch { op: "reshape", .. })),
        "{r:?}"
    );
    let msg = err_text(r);
    assert!(
        msg.contains("reshape") && msg.contains("[2, 3]") && msg.contains("[4]"),
        "{msg}"
    );

    let x = iota(&[1, 3, 5, 5]);
    let w = iota(&[4, 2, 3, 3]);
    let r = x.conv2d(&w, 1, 0);
    assert!(
        matches!(r, Err(Error::ShapeMismatch { op: "conv2d", .. })),
        "{r:?}"
    );
    let msg = err_text(r);
    assert!(
        msg.contains("conv2d") && msg.contains("3") && msg.contains("2"),
        "{msg}"
    );
    assert!(
        msg.contains("[1, 3, 5, 5]") && msg.contains("[4, 2, 3, 3]"),
        "{msg}"
    );

    let msg = err_text(iota(&[3]).matmul(&iota(&[3, 1])));
    assert!(msg.contains("matmul") && msg.contains("[3]"), "{msg}");
    let msg = err_text(iota(&[1, 1, 2, 2]).max_pool2d(3, 1));
    assert!(
        msg.contains("max_pool2d") && msg.contains("3x3") && msg.contains("2x2"),
        "{msg}"
    );
    let msg = err_text(iota(&[2, 2]).sum_dim(2, false));
    assert!(msg.contains("sum") && msg.contains("[2, 2]"), "{msg}");
    let msg = err_text(iota(&[2, 2]).permute(&[0, 0]));
    assert!(msg.contains("permute"), "{msg}");
    let msg = err_text(Tensor::from_vec(&[2, 2], vec![1.0; 3]));
    assert!(msg.contains("from_vec") && msg.contains("[2, 2]"), "{msg}");
}

// ---------------------------------------------------------------- tie rules

#[test]
fn max_dim_tie_goes_to_the_first_index() {
    // max over [1, 3, 3] = 3; the first 3 (index 1) takes the whole gradient.
    let x = param(&[3], &[1.0, 3.0, 3.0]);
    let (m, idx) = x.max_dim(0, false).unwrap();
    assert_eq!(m.item(), 3.0);
    assert_eq!(idx, [1]);
    m.backward().unwrap();
    assert_eq!(grad_vec(&x), [0.0, 1.0, 0.0]);

    // max() over everything splits the gradient evenly between tied maxima,
    // as PyTorch's max() does.
    let x = param(&[2, 2], &[5.0, 1.0, 5.0, 5.0]);
    x.max().unwrap().backward().unwrap();
    let third = 1.0f32 / 3.0;
    assert_eq!(grad_vec(&x), [third, 0.0, third, third]);

    // Column-wise over (2,2) [[2, 5], [2, 1]]: column 0 ties → row 0.
    let x = param(&[2, 2], &[2.0, 5.0, 2.0, 1.0]);
    let (m, idx) = x.max_dim(0, true).unwrap();
    assert_eq!(m.shape(), [1, 2]);
    assert_eq!(idx, [0, 0]);
    m.sum().backward().unwrap();
    assert_eq!(grad_vec(&x), [1.0, 1.0, 0.0, 0.0]);
}

#[test]
fn max_pool_tie_goes_to_the_first_max_in_row_major_order() {
    // One 2x2 window [[1, 5], [5, 5]]: the 5 at (0, 1) wins.
    let x = param(&[1, 1, 2, 2], &[1.0, 5.0, 5.0, 5.0]);
    let y = x.max_pool2d(2, 2).unwrap();
    assert_eq!(y.to_vec(), [5.0]);
    y.sum().backward().unwrap();
    assert_eq!(grad_vec(&x), [0.0, 1.0, 0.0, 0.0]);

    // Two windows over a 2x4 input, [[7, 7 | 0, 0], [7, 1 | 0, 0]]: each
    // window's first maximum, (0,0) and (0,2), gets its gradient (weights 2 and 3).
    let x = param(&[1, 1, 2, 4], &[7.0, 7.0, 0.0, 0.0, 7.0, 1.0, 0.0, 0.0]);
    let y = x.max_pool2d(2, 2).unwrap();
    assert_eq!(y.to_vec(), [7.0, 0.0]);
    y.mul(&t(&[1, 1, 1, 2], &[2.0, 3.0]))
        .unwrap()
        .sum()
        .backward()
        .unwrap();
    assert_eq!(grad_vec(&x), [2.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
}

// ---------------------------------------------------------------- conv2d

#[test]
fn conv2d_forward_hand_example() {
    // x = 1..9 as 3x3, kernel [[1, 0], [0, 1]]: out(i, j) = x(i, j) + x(i+1, j+1).
    let x = iota(&[1, 1, 3, 3]);
    let w = t(&[1, 1, 2, 2], &[1.0, 0.0, 0.0, 1.0]);
    let y = x.conv2d(&w, 1, 0).unwrap();
    assert_eq!(y.shape(), [1, 1, 2, 2]);
    assert_eq!(y.to_vec(), [6.0, 8.0, 12.0, 14.0]);

    // Padding 1: (3 + 2 - 2)/1 + 1 = 4, zeros read outside.
    let y = x.conv2d(&w, 1, 1).unwrap();
    assert_eq!(y.shape(), [1, 1, 4, 4]);
    #[rustfmt::skip]
    assert_eq!(y.to_vec(), [
        1.0, 2.0, 3.0, 0.0,
        4.0, 6.0, 8.0, 3.0,
        7.0, 12.0, 14.0, 6.0,
        0.0, 7.0, 8.0, 9.0,
    ]);
}

#[test]
fn conv2d_stride_and_channels_hand_example() {
    // 1..16 as 4x4, 2x2 ones kernel, stride 2: sums of the four 2x2 blocks.
    let y = iota(&[1, 1, 4, 4])
        .conv2d(&Tensor::ones(&[1, 1, 2, 2]), 2, 0)
        .unwrap();
    assert_eq!(y.shape(), [1, 1, 2, 2]);
    assert_eq!(y.to_vec(), [14.0, 22.0, 46.0, 54.0]);

    // Two input channels (1..9 and all ones), 1x1 kernel [2, 10]: out = 2x + 10.
    // Two output channels with kernels [2, 10] and [0, -1], batch 2 (same image twice).
    let mut v: Vec<f32> = (1..=9).map(|i| i as f32).collect();
    v.extend([1.0; 9]);
    let v2 = [v.clone(), v].concat();
    let x = t(&[2, 2, 3, 3], &v2);
    let w = t(&[2, 2, 1, 1], &[2.0, 10.0, 0.0, -1.0]);
    let y = x.conv2d(&w, 1, 0).unwrap();
    assert_eq!(y.shape(), [2, 2, 3, 3]);
    let plane0: Vec<f32> = (1..=9).map(|i| 2.0 * i as f32 + 10.0).collect();
    let want = [plane0.clone(), vec![-1.0; 9], plane0, vec![-1.0; 9]].concat();
    assert_eq!(y.to_vec(), want);
}

#[test]
fn conv2d_hand_gradients() {
    // y = Σ conv(x, w), x = 1..9 (3x3), w = [[1, 0], [0, 1]].
    // dx(i, j) = Σ over outputs reading x(i, j), times the weight it meets:
    //   [[1, 1, 0], [1, 2, 1], [0, 1, 1]]
    // dw(ky, kx) = Σ of the input under that tap over all 4 positions:
    //   [[1+2+4+5, 2+3+5+6], [4+5+7+8, 5+6+8+9]] = [[12, 16], [24, 28]]
    let x = iota(&[1, 1, 3, 3]).requires_grad_();
    let w = param(&[1, 1, 2, 2], &[1.0, 0.0, 0.0, 1.0]);
    x.conv2d(&w, 1, 0).unwrap().sum().backward().unwrap();
    assert_eq!(grad_vec(&x), [1.0, 1.0, 0.0, 1.0, 2.0, 1.0, 0.0, 1.0, 1.0]);
    assert_eq!(grad_vec(&w), [12.0, 16.0, 24.0, 28.0]);
}

// ---------------------------------------------------------------- pooling

#[test]
fn pool_forward_values() {
    // 1..16 as 4x4, k = 2, s = 2.
    let x = iota(&[1, 1, 4, 4]);
    assert_eq!(x.max_pool2d(2, 2).unwrap().to_vec(), [6.0, 8.0, 14.0, 16.0]);
    assert_eq!(x.avg_pool2d(2, 2).unwrap().to_vec(), [3.5, 5.5, 11.5, 13.5]);

    // 1..25 as 5x5, k = 2, s = 2: (5 - 2)/2 + 1 = 2, the last row and column are dropped.
    let x = iota(&[1, 1, 5, 5]);
    let m = x.max_pool2d(2, 2).unwrap();
    assert_eq!(m.shape(), [1, 1, 2, 2]);
    assert_eq!(m.to_vec(), [7.0, 9.0, 17.0, 19.0]);
    assert_eq!(x.avg_pool2d(2, 2).unwrap().to_vec(), [4.0, 6.0, 14.0, 16.0]);

    // Overlapping k = 3, s = 2 on 5x5: windows at 0 and 2; avg = the window's centre.
    assert_eq!(
        x.max_pool2d(3, 2).unwrap().to_vec(),
        [13.0, 15.0, 23.0, 25.0]
    );
    assert_eq!(x.avg_pool2d(3, 2).unwrap().to_vec(), [7.0, 9.0, 17.0, 19.0]);
}

#[test]
fn avg_pool_hand_gradients() {
    // 5x5, k = 2, s = 2: each used cell gets 1/4, row 4 and column 4 get 0.
    let x = iota(&[1, 1, 5, 5]).requires_grad_();
    x.avg_pool2d(2, 2).unwrap().sum().backward().unwrap();
    let g = grad_vec(&x);
    for (i, &v) in g.iter().enumerate() {
        let (r, c) = (i / 5, i % 5);
        assert_eq!(
            v,
            if r < 4 && c < 4 { 0.25 } else { 0.0 },
            "cell ({r}, {c})"
        );
    }

    // 5x5, k = 3, s = 2: a cell gets (number of windows covering it)/9;
    // the centre (2, 2) is in all 4 windows, (0, 2) in 2, (0, 0) in 1.
    let x = iota(&[1, 1, 5, 5]).requires_grad_();
    x.avg_pool2d(3, 2).unwrap().sum().backward().unwrap();
    let g = x.grad().unwrap();
    let at = |r: usize, c: usize| g[IxDyn(&[0, 0, r, c])];
    assert_close(
        &[at(2, 2), at(0, 2), at(0, 0), at(4, 4)],
        &[4.0 / 9.0, 2.0 / 9.0, 1.0 / 9.0, 1.0 / 9.0],
        1e-6,
    );
}

#[test]
fn max_pool_hand_gradients_overlapping() {
    // 1..25 as 5x5, k = 3, s = 2: the winners are 13, 15, 23, 25 (bottom-right of
    // each window), each gets 1; nothing else does.
    let x = iota(&[1, 1, 5, 5]).requires_grad_();
    x.max_pool2d(3, 2).unwrap().sum().backward().unwrap();
    let g = grad_vec(&x);
    for (i, &v) in g.iter().enumerate() {
        let want = if [12, 14, 22, 24].contains(&i) {
            1.0
        } else {
            0.0
        };
        assert_eq!(v, want, "flat index {i}");
    }
    // Overlap that shares a winner: 3x3 of all 1 except a 9 in the centre,
    // k = 2, s = 1: the 9 wins all four windows and gets 4.
    let x = param(
        &[1, 1, 3, 3],
        &[1.0, 1.0, 1.0, 1.0, 9.0, 1.0, 1.0, 1.0, 1.0],
    );
    x.max_pool2d(2, 1).unwrap().sum().backward().unwrap();
    assert_eq!(grad_vec(&x), [0.0, 0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 0.0]);
}

// ---------------------------------------------------------------- softmax, sigmoid stability

#[test]
fn log_softmax_rows_normalise_and_are_stable() {
    let x = t(&[2, 3], &[1.0, 2.0, 3.0, -1.0, 0.0, 5.0]);
    let ls = x.log_softmax(1).unwrap();
    for row in ls.to_array().rows() {
        let total: f32 = row.iter().map(|v| v.exp()).sum();
        assert!((total - 1.0).abs() < 1e-6, "row {row} sums to {total}");
    }
    let sm = x.softmax(0).unwrap().to_array();
    for col in sm.columns() {
        assert!((col.sum() - 1.0).abs() < 1e-6);
    }

    // [1000, 1001]: exp overflows f32, the stable form gives -ln(1 + e), -ln(1 + e⁻¹).
    let big = t(&[1, 2], &[1000.0, 1001.0])
        .log_softmax(1)
        .unwrap()
        .to_vec();
    assert!(big.iter().all(|v| v.is_finite()), "{big:?}");
    assert_close(&big, &[-1.313_261_7, -0.313_261_7], 1e-4);
    let sm = t(&[1, 2], &[1000.0, 1001.0]).softmax(1).unwrap().to_vec();
    // softmax = exp(log_softmax): x − lse rounds at f32's spacing near 1000
    // (6e-5), so the probabilities are right to about 1e-4 relative.
    assert_close(&sm, &[0.268_941_4, 0.731_058_6], 1e-4);
    let low = t(&[1, 2], &[-1000.0, -1001.0])
        .log_softmax(1)
        .unwrap()
        .to_vec();
    assert_close(&low, &[-0.313_261_7, -1.313_261_7], 1e-4);
}

#[test]
fn sigmoid_is_stable_at_extremes() {
    let x = param(&[3], &[-1000.0, 0.0, 1000.0]);
    let y = x.sigmoid();
    assert_eq!(y.to_vec(), [0.0, 0.5, 1.0]);
    y.sum().backward().unwrap();
    // σ(1 - σ) = 0, 0.25, 0 — and no NaN.
    assert_eq!(grad_vec(&x), [0.0, 0.25, 0.0]);
}

// ---------------------------------------------------------------- shapes, argmax, names

#[test]
fn argmax_values() {
    let x = t(&[2, 3], &[1.0, 5.0, 2.0, 7.0, 0.0, 7.0]);
    assert_eq!(x.argmax(1).unwrap(), [1, 0]); // tie in row 1 → first
    assert_eq!(x.argmax(0).unwrap(), [1, 0, 1]);
    assert!(x.argmax(2).is_err());
}

#[test]
fn view_infers_minus_one() {
    let x = iota(&[2, 3, 4]);
    assert_eq!(x.view(&[-1, 4]).unwrap().shape(), [6, 4]);
    assert_eq!(x.view(&[2, -1]).unwrap().shape(), [2, 12]);
    assert_eq!(x.view(&[-1]).unwrap().shape(), [24]);
    let v = x.view(&[4, -1, 2]).unwrap();
    assert_eq!(v.shape(), [4, 3, 2]);
    assert_eq!(v.to_vec(), x.to_vec(), "row-major order is kept");
    assert!(err_text(x.view(&[-1, -1])).contains("view"));
    assert!(err_text(x.view(&[5, -1])).contains("view"));
}

#[test]
fn shape_op_values_and_gradients() {
    // permute moves elements; its gradient moves them back.
    let x = iota(&[2, 3]).requires_grad_();
    let y = x.t().unwrap();
    assert_eq!(y.shape(), [3, 2]);
    assert_eq!(y.to_vec(), [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    // weight the transposed elements by 1..6: x(i, j) gets the weight at (j, i).
    y.mul(&iota(&[3, 2])).unwrap().sum().backward().unwrap();
    assert_eq!(grad_vec(&x), [1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);

    let f = iota(&[2, 3, 2, 2]).flatten().unwrap();
    assert_eq!(f.shape(), [2, 12]);
    let p = iota(&[2, 3, 4]).permute(&[2, 0, 1]).unwrap();
    assert_eq!(p.shape(), [4, 2, 3]);
    assert_eq!(&p.to_vec()[..3], [1.0, 5.0, 9.0]);
}

#[test]
fn op_names_are_recorded() {
    let a = param(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
    let b = param(&[2, 2], &[1.0, 0.0, 0.0, 1.0]);
    assert_eq!(a.op_name(), "leaf");
    assert_eq!(t(&[1], &[1.0]).op_name(), "leaf");
    let m = a.matmul(&b).unwrap();
    assert_eq!(m.op_name(), "matmul");
    let s = m.add(&b).unwrap();
    assert_eq!(s.op_name(), "add");
    assert_eq!(s.relu().op_name(), "relu");
    assert_eq!(s.sub(&a).unwrap().op_name(), "sub");
    assert_eq!(s.sum().op_name(), "sum");
    assert_eq!(s.max().unwrap().op_name(), "max");
    assert_eq!(s.log_softmax(1).unwrap().op_name(), "log_softmax");
    assert_eq!(
        s.softmax(1).unwrap().op_name(),
        "exp",
        "softmax is derived: exp(log_softmax)"
    );
    assert_eq!(s.mean().op_name(), "mul", "mean is derived: sum · 1/n");
    assert_eq!(s.reshape(&[4]).unwrap().op_name(), "reshape");
    assert_eq!(s.t().unwrap().op_name(), "permute");
    let img = param(&[1, 1, 4, 4], &[0.5; 16]);
    let k = param(&[1, 1, 3, 3], &[0.1; 9]);
    assert_eq!(img.conv2d(&k, 1, 1).unwrap().op_name(), "conv2d");
    assert_eq!(img.max_pool2d(2, 2).unwrap().op_name(), "max_pool2d");
    assert_eq!(img.avg_pool2d(2, 2).unwrap().op_name(), "avg_pool2d");
}

#[test]
fn backward_with_a_leaf_root_and_from_a_given_cotangent() {
    // y = 2x, backward_with(c) gives dx = 2c (a vector-Jacobian product).
    let x = param(&[3], &[1.0, 2.0, 3.0]);
    let c = Array::from_shape_vec(IxDyn(&[3]), vec![1.0, -1.0, 0.5]).unwrap();
    x.mul_scalar(2.0).backward_with(c).unwrap();
    assert_eq!(grad_vec(&x), [2.0, -2.0, 1.0]);
    // A one-element leaf is its own loss: d x/dx = 1.
    let s = param(&[1], &[4.0]);
    s.backward().unwrap();
    assert_eq!(grad_vec(&s), [1.0]);
}

#[test]
fn backward_with_a_wrongly_shaped_cotangent_is_an_error() {
    // The cotangent must have the output's shape; a (3,) one for a (2, 3)
    // output would otherwise leave x with a (3,)-shaped "gradient".
    let x = param(&[2, 3], &[1.0; 6]);
    let y = x.mul_scalar(2.0);
    let c = Array::from_shape_vec(IxDyn(&[3]), vec![1.0; 3]).unwrap();
    let r = y.backward_with(c);
    assert!(matches!(r, Err(Error::ShapeMismatch { .. })), "{r:?}");
    let msg = err_text(r);
    assert!(
        msg.contains("backward") && msg.contains("[2, 3]") && msg.contains("[3]"),
        "{msg}"
    );
    assert!(x.grad().is_none());
}

#[test]
fn pow_zero_has_zero_gradient_even_at_zero() {
    // d(x⁰)/dx = 0 everywhere (PyTorch too), not 0·0⁻¹ = NaN at x = 0.
    let x = param(&[2], &[0.0, 3.0]);
    let y = x.pow(0.0);
    assert_eq!(y.to_vec(), [1.0, 1.0]);
    y.sum().backward().unwrap();
    assert_eq!(grad_vec(&x), [0.0, 0.0]);
}

// ---------------------------------------------------------------- fused conv + bias + ReLU

fn random(seed: u64, shape: &[usize]) -> Array {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let n = shape.iter().product();
    Array::from_shape_vec(
        IxDyn(shape),
        (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect(),
    )
    .expect("sized")
}

#[test]
fn conv2d_bias_relu_equals_the_three_ops() {
    // Winograd (3×3, s1, ≥ 8 channels) and im2col (stride 2) paths
    for (i, (xs, ws, s, p)) in [
        ([3, 8, 7, 6], [9, 8, 3, 3], 1, 1),
        ([2, 3, 7, 6], [4, 3, 3, 3], 2, 1),
    ]
    .into_iter()
    .enumerate()
    {
        let seed = 40 + 10 * i as u64;
        let (x, w, b) = (
            Tensor::param(random(seed, &xs)),
            Tensor::param(random(seed + 1, &ws)),
            Tensor::param(random(seed + 2, &[ws[0]])),
        );
        let fused = x.conv2d_bias_relu(&w, &b, s, p).expect("fused");
        assert_eq!(fused.op_name(), "conv2d_bias_relu");
        let plain = x
            .conv2d(&w, s, p)
            .and_then(|z| z.add(&b.reshape(&[1, ws[0], 1, 1])?))
            .expect("conv + bias")
            .relu();
        // the same arithmetic in the same order: equal to the bit
        assert_eq!(fused.to_vec(), plain.to_vec(), "case {i}: values");
        assert!(
            fused.to_vec().iter().any(|&v| v == 0.0) && fused.to_vec().iter().any(|&v| v > 0.0)
        );
        let ct = Tensor::new(random(seed + 3, &fused.shape()));
        let grads = |y: &Tensor| {
            for t in [&x, &w, &b] {
                t.zero_grad();
            }
            y.mul(&ct).expect("mul").sum().backward().expect("backward");
            [&x, &w, &b].map(grad_vec)
        };
        let (gf, gp) = (grads(&fused), grads(&plain));
        for (what, (f, p)) in ["dx", "dw", "db"].iter().zip(gf.iter().zip(&gp)) {
            let scale = p.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            for (a, b) in f.iter().zip(p) {
                assert!((a - b).abs() <= 1e-5 * scale, "case {i} {what}: {a} vs {b}");
            }
        }
    }
}

#[test]
fn linear_equals_matmul_add_and_relu() {
    // small (one thread), large enough to split rows or columns across
    // threads, one input feature, and no features at all (k = 0)
    for (i, (n, k, o)) in [
        (5, 3, 4),
        (300, 64, 70),
        (40, 64, 700),
        (1000, 1, 6),
        (7, 0, 3),
    ]
    .into_iter()
    .enumerate()
    {
        let seed = 500 + 10 * i as u64;
        let (x, w, b) = (
            Tensor::param(random(seed, &[n, k])),
            Tensor::param(random(seed + 1, &[o, k])),
            Tensor::param(random(seed + 2, &[o])),
        );
        for relu in [false, true] {
            let fused = x.linear(&w, &b, relu).expect("linear");
            assert_eq!(fused.op_name(), if relu { "linear_relu" } else { "linear" });
            let z = x
                .matmul(&w.t().expect("t"))
                .and_then(|z| z.add(&b))
                .expect("x·Wᵀ + b");
            let plain = if relu { z.relu() } else { z };
            // the same sums in the same order: equal to the bit
            assert_eq!(fused.shape(), vec![n, o]);
            assert_eq!(
                fused.to_vec(),
                plain.to_vec(),
                "case {i} relu={relu}: values"
            );
            let ct = Tensor::new(random(seed + 3, &[n, o]));
            let grads = |y: &Tensor| {
                for t in [&x, &w, &b] {
                    t.zero_grad();
                }
                y.mul(&ct).expect("mul").sum().backward().expect("backward");
                [&x, &w, &b].map(|t| {
                    t.grad()
                        .map(|g| g.iter().copied().collect::<Vec<f32>>())
                        .unwrap_or_default()
                })
            };
            let (gf, gp) = (grads(&fused), grads(&plain));
            for (what, (f, p)) in ["dx", "dw", "db"].iter().zip(gf.iter().zip(&gp)) {
                assert_eq!(f.len(), p.len(), "case {i} {what}");
                let scale = p.iter().fold(1.0f32, |m, v| m.max(v.abs()));
                for (a, b) in f.iter().zip(p) {
                    assert!(
                        (a - b).abs() <= 1e-5 * scale,
                        "case {i} relu={relu} {what}: {a} vs {b}"
                    );
                }
            }
        }
    }
}

#[test]
fn linear_refuses_mismatched_shapes() {
    let x = Tensor::new(random(70, &[2, 3]));
    let w = Tensor::param(random(71, &[4, 5]));
    let b = Tensor::param(random(72, &[4]));
    let e = err_text(x.linear(&w, &b, false));
    assert!(
        e.contains("linear") && e.contains("3 features") && e.contains("expects 5"),
        "{e}"
    );
    let w = Tensor::param(random(73, &[4, 3]));
    let b = Tensor::param(random(74, &[1, 4]));
    let e = err_text(x.linear(&w, &b, false));
    assert!(e.contains("linear") && e.contains("(4,)"), "{e}");
}

#[test]
fn conv2d_bias_relu_refuses_a_bias_of_the_wrong_shape() {
    let x = Tensor::new(random(60, &[1, 2, 4, 4]));
    let w = Tensor::param(random(61, &[3, 2, 3, 3]));
    let b = Tensor::param(random(62, &[1, 3, 1, 1]));
    let e = err_text(x.conv2d_bias_relu(&w, &b, 1, 1));
    assert!(e.contains("conv2d_bias_relu") && e.contains("(3,)"), "{e}");
}

#[test]
fn sequential_fuses_conv_and_relu_with_the_same_values() {
    use dl_lab::nn::{Conv2d, MaxPool2d, Module, ReLU, Sequential};
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(70);
    let model = Sequential::new(vec![
        Box::new(Conv2d::new(1, 8, 3, 1, 1, &mut rng)),
        Box::new(ReLU),
        Box::new(MaxPool2d {
            kernel_size: 2,
            stride: 2,
        }),
        Box::new(Conv2d::new(8, 8, 3, 1, 1, &mut rng)),
        Box::new(ReLU),
    ]);
    let x = Tensor::new(random(71, &[3, 1, 9, 8]));
    let y = model.forward(&x).expect("forward");
    let all = model.forward_all(&x).expect("forward_all");
    assert_eq!(y.to_vec(), all[4].to_vec());
    // the fused op made the output; forward_all kept the layers apart
    assert_eq!(y.op_name(), "conv2d_bias_relu");
    assert_eq!(all[4].op_name(), "relu");
    // and inference under no_grad records nothing, with the same values
    let z = no_grad(|| model.forward(&x)).expect("forward");
    assert_eq!(z.op_name(), "leaf");
    assert!(!z.requires_grad());
    assert_eq!(z.to_vec(), y.to_vec());
}
