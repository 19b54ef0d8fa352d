//! Cases a mutation run over the engine and optimizers showed untested, and
//! the engine fixes that came with them (each asserts values that change if
//! the behaviour breaks):
//! - max pooling's tie rule outside the 2×2 stride-2 fast path;
//! - a pooling window larger than only one input dimension is an error;
//! - `max_dim`/`argmax` along an axis with inner elements;
//! - `max()` with two tied maxima splits the gradient evenly;
//! - `set_data` and `model_from_params` install the values they are given;
//! - binary cross-entropy: PyTorch's gradient rule, finite at p = 0 and 1,
//!   and the xor-perceptron lesson on OR data no longer turning NaN;
//! - `clamp` keeps NaN, so a NaN probability ends a lesson as diverged;
//! - a graph of a million ops drops (and back-propagates) without
//!   overflowing the stack.

use std::path::PathBuf;

use dl_lab::engine::gradcheck::{gradcheck, GradcheckOptions};
use dl_lab::engine::Array;
use dl_lab::lessons::{self, run_headless, RunConfig, SmallSession};
use dl_lab::nn::{self, LayerSpec, Module};
use dl_lab::Tensor;
use ndarray::IxDyn;

fn t(shape: &[usize], values: &[f32]) -> Tensor {
    Tensor::from_vec(shape, values.to_vec()).expect("values fill the shape")
}

fn param(shape: &[usize], values: &[f32]) -> Tensor {
    t(shape, values).requires_grad_()
}

fn arr(shape: &[usize], values: &[f32]) -> Array {
    Array::from_shape_vec(IxDyn(shape), values.to_vec()).expect("values fill the shape")
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

/// |got - want| ≤ rel·|want| element-wise (for values up to 1e12).
#[track_caller]
fn assert_rel(got: &[f32], want: &[f32], rel: f32) {
    assert_eq!(got.len(), want.len(), "got {got:?}, want {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            g.is_finite() && (g - w).abs() <= rel * w.abs() + 1e-7,
            "got {got:?}, want {want:?}"
        );
    }
}

/// A CSV file of this test's own (removed when dropped).
struct Csv(PathBuf);

impl Csv {
    fn new(name: &str, text: &str) -> Csv {
        let path = std::env::temp_dir().join(format!(
            "dl-lab-engine-gaps-{}-{name}.csv",
            std::process::id()
        ));
        std::fs::write(&path, text).expect("write a temporary CSV");
        Csv(path)
    }
}

impl Drop for Csv {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

// ---------------------------------------------------------------- max pooling ties

#[test]
fn max_pool_3x1_ties_go_to_the_first_max_in_row_major_order() {
    // 4x4, k = 3, stride 1 (the general loop, not the 2x2/2 fast path):
    //   0 5 5 0
    //   5 0 0 5
    //   0 0 0 0
    //   5 0 5 5
    // window (0,0) rows 0-2 cols 0-2: 5s at (0,1),(0,2),(1,0) → (0,1) = flat 1
    // window (0,1) rows 0-2 cols 1-3: 5s at (0,1),(0,2),(1,3) → (0,1) = flat 1
    // window (1,0) rows 1-3 cols 0-2: 5s at (1,0),(3,0),(3,2) → (1,0) = flat 4
    // window (1,1) rows 1-3 cols 1-3: 5s at (1,3),(3,2),(3,3) → (1,3) = flat 7
    // With upstream weights 1, 2, 3, 4 the winners get 1+2, 3 and 4.
    // (A "last maximum" rule would pick flat 4, 7, 14, 15 instead.)
    #[rustfmt::skip]
    let x = param(&[1, 1, 4, 4], &[
        0.0, 5.0, 5.0, 0.0,
        5.0, 0.0, 0.0, 5.0,
        0.0, 0.0, 0.0, 0.0,
        5.0, 0.0, 5.0, 5.0,
    ]);
    let y = x.max_pool2d(3, 1).unwrap();
    assert_eq!(y.shape(), [1, 1, 2, 2]);
    assert_eq!(y.to_vec(), [5.0; 4]);
    y.mul(&t(&[1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0]))
        .unwrap()
        .sum()
        .backward()
        .unwrap();
    let mut want = [0.0f32; 16];
    want[1] = 3.0;
    want[4] = 3.0;
    want[7] = 4.0;
    assert_eq!(grad_vec(&x), want);
}

#[test]
fn max_pool_ties_outside_the_fast_path_k2_s1_and_k3_s3() {
    // k = 2, stride 1 over a 2x3 plane [[4, 4, 4], [4, 4, 4]]: both windows
    // are all ties; each gives its top-left cell (flat 0 and 1) its gradient.
    let x = param(&[1, 1, 2, 3], &[4.0; 6]);
    let y = x.max_pool2d(2, 1).unwrap();
    assert_eq!(y.to_vec(), [4.0, 4.0]);
    y.mul(&t(&[1, 1, 1, 2], &[10.0, 20.0]))
        .unwrap()
        .sum()
        .backward()
        .unwrap();
    assert_eq!(grad_vec(&x), [10.0, 20.0, 0.0, 0.0, 0.0, 0.0]);

    // k = 3, stride 3, two channels: channel 0 ties at (1,1) and (2,0) → (1,1);
    // channel 1 ties at (0,2) and (2,2) → (0,2). Plane offsets are 0 and 9.
    #[rustfmt::skip]
    let x = param(&[1, 2, 3, 3], &[
        1.0, 2.0, 3.0,
        0.0, 8.0, 1.0,
        8.0, 0.0, 0.0,
        // channel 1
        -5.0, -4.0, -1.0,
        -3.0, -2.0, -6.0,
        -7.0, -8.0, -1.0,
    ]);
    let y = x.max_pool2d(3, 3).unwrap();
    assert_eq!(y.to_vec(), [8.0, -1.0]);
    y.sum().backward().unwrap();
    let mut want = [0.0f32; 18];
    want[4] = 1.0;
    want[9 + 2] = 1.0;
    assert_eq!(grad_vec(&x), want);
}

// ---------------------------------------------------------------- pooling window vs one dimension

#[test]
fn a_pool_window_larger_than_one_input_dimension_is_an_error() {
    // (1,1,2,5) with k = 3: the width fits, the height does not; so does
    // the transpose. Neither may wrap around into the next row or plane.
    for shape in [[1, 1, 2, 5], [1, 1, 5, 2], [2, 3, 2, 9]] {
        let n: usize = shape.iter().product();
        let x = t(&shape, &(0..n).map(|i| i as f32).collect::<Vec<_>>()).requires_grad_();
        for (name, r) in [
            ("max_pool2d", x.max_pool2d(3, 1)),
            ("avg_pool2d", x.avg_pool2d(3, 1)),
            ("max_pool2d", x.max_pool2d(3, 3)),
            ("avg_pool2d", x.avg_pool2d(3, 3)),
        ] {
            let err = r.expect_err(&format!("{name} k=3 over {shape:?} must fail"));
            let msg = err.to_string();
            assert!(
                msg.contains(name) && msg.contains("larger than the input"),
                "{name} {shape:?}: {msg}"
            );
        }
        // through the layers too
        let pool = nn::MaxPool2d {
            kernel_size: 3,
            stride: 3,
        };
        assert!(pool.forward(&x).is_err(), "MaxPool2d over {shape:?}");
        let pool = nn::AvgPool2d {
            kernel_size: 3,
            stride: 1,
        };
        assert!(pool.forward(&x).is_err(), "AvgPool2d over {shape:?}");
    }
    // the boundary: a window exactly as tall as the input is fine
    let x = t(
        &[1, 1, 3, 5],
        &(0..15).map(|i| i as f32).collect::<Vec<_>>(),
    );
    let y = x.max_pool2d(3, 1).unwrap();
    assert_eq!(y.shape(), [1, 1, 1, 3]);
    assert_eq!(y.to_vec(), [12.0, 13.0, 14.0]);
    // and the model builder refuses the same geometry
    let shapes = nn::spec::infer_shapes(
        &[LayerSpec::MaxPool2d {
            kernel_size: 3,
            stride: 3,
        }],
        &[1, 2, 5],
    );
    assert!(shapes[0].is_err(), "{shapes:?}");
}

// ---------------------------------------------------------------- max_dim with inner elements

#[test]
fn max_dim_along_an_axis_with_inner_elements() {
    // [[1, 0], [5, 0], [3, 0]] along 0: column 0 → 5 at index 1; column 1 is
    // all ties → index 0. Elements of a column are `inner` = 2 apart.
    let x = param(&[3, 2], &[1.0, 0.0, 5.0, 0.0, 3.0, 0.0]);
    let (m, idx) = x.max_dim(0, false).unwrap();
    assert_eq!(m.shape(), [2]);
    assert_eq!(m.to_vec(), [5.0, 0.0]);
    assert_eq!(idx, [1, 0]);
    assert_eq!(x.argmax(0).unwrap(), [1, 0]);
    m.mul(&t(&[2], &[2.0, 3.0]))
        .unwrap()
        .sum()
        .backward()
        .unwrap();
    assert_eq!(grad_vec(&x), [0.0, 3.0, 2.0, 0.0, 0.0, 0.0]);

    // keepdim keeps a size-1 axis; the same winners
    let (m, idx) = x.max_dim(0, true).unwrap();
    assert_eq!((m.shape(), idx), (vec![1, 2], vec![1, 0]));
}

#[test]
fn max_dim_middle_axis_matches_a_brute_force_reference() {
    // (2, 3, 2) along axis 1: outer 2, len 3, inner 2, with a tie in one
    // column (the first of the tied indices wins).
    #[rustfmt::skip]
    let values = [
        1.0, 9.0,   7.0, 2.0,   3.0, 9.0,    // o = 0: col 0 → k=1; col 1 tie 9,9 → k=0
        -1.0, 0.0, -2.0, 4.0,  -0.5, 4.5,    // o = 1: col 0 → k=2; col 1 → k=2
    ];
    let x = param(&[2, 3, 2], &values);
    let (m, idx) = x.max_dim(1, false).unwrap();
    assert_eq!(m.shape(), [2, 2]);
    assert_eq!(idx, [1, 0, 2, 2]);
    assert_eq!(m.to_vec(), [7.0, 9.0, -0.5, 4.5]);
    assert_eq!(x.argmax(1).unwrap(), [1, 0, 2, 2]);
    // brute force: for each (o, i), the first k with the largest value
    let mut want_idx = Vec::new();
    for o in 0..2 {
        for i in 0..2 {
            let col: Vec<f32> = (0..3).map(|k| values[o * 6 + k * 2 + i]).collect();
            let best = col.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            want_idx.push(col.iter().position(|&v| v == best).unwrap());
        }
    }
    assert_eq!(idx, want_idx);
    // the gradient lands on exactly those elements
    m.mul(&t(&[2, 2], &[1.0, 2.0, 3.0, 4.0]))
        .unwrap()
        .sum()
        .backward()
        .unwrap();
    let mut want = [0.0f32; 12];
    want[2] = 1.0; // o0, k1, i0
    want[1] = 2.0; // o0, k0, i1
    want[6 + 4] = 3.0; // o1, k2, i0
    want[6 + 5] = 4.0; // o1, k2, i1
    assert_eq!(grad_vec(&x), want);

    // along the last axis (inner = 1) and the first (outer = 1) as well
    assert_eq!(x.argmax(2).unwrap(), [1, 0, 1, 1, 1, 1]);
    assert_eq!(x.argmax(0).unwrap(), [0, 0, 0, 1, 0, 0]);
}

// ---------------------------------------------------------------- max() ties

#[test]
fn max_all_splits_the_gradient_between_two_ties() {
    // max([3, 7, 1, 7]) = 7, tied at 1 and 3: each gets half of the
    // upstream 4 (PyTorch's max()), i.e. 2; the others 0.
    let x = param(&[4], &[3.0, 7.0, 1.0, 7.0]);
    let m = x.max().unwrap();
    assert_eq!(m.item(), 7.0);
    m.mul_scalar(4.0).backward().unwrap();
    assert_eq!(grad_vec(&x), [0.0, 2.0, 0.0, 2.0]);

    // 2-D, the max used alongside the tensor itself:
    // z = 2·max(x) + Σx → dz/dx = 1 + [x == max]·2/2 = 1 + [x == max]
    let x = param(&[2, 3], &[-1.0, 0.5, -1.0, 0.5, 0.25, -3.0]);
    let z = x.max().unwrap().mul_scalar(2.0).add(&x.sum()).unwrap();
    assert_eq!(z.item(), 2.0 * 0.5 + (-1.0 + 0.5 - 1.0 + 0.5 + 0.25 - 3.0));
    z.backward().unwrap();
    assert_eq!(grad_vec(&x), [1.0, 2.0, 1.0, 2.0, 1.0, 1.0]);

    // without ties the whole gradient goes to the one maximum (gradcheck)
    let report = gradcheck(
        |xs| xs[0].max()?.mul_scalar(3.0).add(&xs[0].pow(2.0).sum()),
        &[arr(&[2, 2], &[0.3, -1.2, 2.5, 0.7])],
        GradcheckOptions::default(),
    )
    .unwrap();
    assert!(report.passed, "{report:?}");
}

// ---------------------------------------------------------------- set_data, model_from_params

#[test]
fn set_data_installs_values_that_forward_and_backward_use() {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let lin = nn::Linear::new(3, 2, &mut rng);
    let (wid, bid) = (lin.weight.id(), lin.bias.id());
    lin.weight
        .set_data(arr(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    lin.bias.set_data(arr(&[2], &[0.5, -0.5]));
    assert_eq!(lin.weight.to_vec(), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(lin.bias.to_vec(), [0.5, -0.5]);
    // same tensors (an optimizer holding them sees the new values), still parameters
    assert_eq!((lin.weight.id(), lin.bias.id()), (wid, bid));
    assert!(lin.weight.requires_grad() && lin.bias.requires_grad());

    // y = x·Wᵀ + b with x = [[1, 0, -1], [2, 1, 0]]:
    //   row 0: [1 - 3 + 0.5, 4 - 6 - 0.5] = [-1.5, -2.5]
    //   row 1: [2 + 2 + 0.5, 8 + 5 - 0.5] = [4.5, 12.5]
    let x = param(&[2, 3], &[1.0, 0.0, -1.0, 2.0, 1.0, 0.0]);
    let y = lin.forward(&x).unwrap();
    assert_eq!(y.to_vec(), [-1.5, -2.5, 4.5, 12.5]);
    // d Σy: dW[o] = Σ_n x[n] = [3, 1, -1]; db = [2, 2]; dx[n] = Σ_o W[o] = [5, 7, 9]
    y.sum().backward().unwrap();
    assert_eq!(grad_vec(&lin.weight), [3.0, 1.0, -1.0, 3.0, 1.0, -1.0]);
    assert_eq!(grad_vec(&lin.bias), [2.0, 2.0]);
    assert_eq!(grad_vec(&x), [5.0, 7.0, 9.0, 5.0, 7.0, 9.0]);

    // an optimizer built before set_data updates the installed values
    let mut opt = dl_lab::optim::build_optimizer("sgd", lin.parameters(), 0.5, 0.0, 0.0).unwrap();
    lin.bias.set_data(arr(&[2], &[10.0, 20.0]));
    opt.step().expect("step"); // b - 0.5·db = [10 - 1, 20 - 1]
    assert_eq!(lin.bias.to_vec(), [9.0, 19.0]);
    assert_eq!(
        lin.weight.to_vec(),
        [
            1.0 - 1.5,
            2.0 - 0.5,
            3.0 + 0.5,
            4.0 - 1.5,
            5.0 - 0.5,
            6.0 + 0.5
        ]
    );
}

#[test]
fn set_data_with_a_transposed_array_keeps_its_logical_order() {
    // A column-major (transposed) array holds the same logical values; the
    // ops must read them logically, not in memory order.
    let w = Tensor::param(Array::zeros(IxDyn(&[2, 3])));
    let logical = arr(&[3, 2], &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]).reversed_axes(); // [[1,2,3],[4,5,6]]
    assert!(!logical.is_standard_layout());
    w.set_data(logical);
    assert_eq!(w.to_vec(), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let x = t(&[1, 3], &[1.0, 10.0, 100.0]);
    // x·Wᵀ = [1 + 20 + 300, 4 + 50 + 600]
    assert_eq!(x.matmul(&w.t().unwrap()).unwrap().to_vec(), [321.0, 654.0]);
    assert_eq!(w.add_scalar(1.0).to_vec(), [2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
    let s = w.sum_dim(1, false).unwrap();
    assert_eq!(s.to_vec(), [6.0, 15.0]);
    s.mul(&t(&[2], &[1.0, -1.0]))
        .unwrap()
        .sum()
        .backward()
        .unwrap();
    assert_eq!(grad_vec(&w), [1.0, 1.0, 1.0, -1.0, -1.0, -1.0]);
}

#[test]
fn model_from_params_installs_the_snapshot() {
    use dl_lab::tui::views::model_from_params;
    let specs = [
        LayerSpec::Linear {
            in_features: 2,
            out_features: 2,
        },
        LayerSpec::ReLU,
        LayerSpec::Linear {
            in_features: 2,
            out_features: 1,
        },
    ];
    let params = vec![
        arr(&[2, 2], &[1.0, 2.0, -3.0, 4.0]),
        arr(&[2], &[0.5, -1.0]),
        arr(&[1, 2], &[2.0, -1.0]),
        arr(&[1], &[0.25]),
    ];
    let model = model_from_params(&specs, &[2], &params).unwrap();
    let got: Vec<Array> = model.parameters().iter().map(|p| p.to_array()).collect();
    assert_eq!(got, params);
    // x = [[1, 1], [2, -1]]:
    //   h0 = [1 + 2 + 0.5, -3 + 4 - 1] = [3.5, 0]  → relu → 2·3.5 - 0 + 0.25 = 7.25
    //   h1 = [2 - 2 + 0.5, -6 - 4 - 1] = [0.5, -11] → relu → 2·0.5 - 0 + 0.25 = 1.25
    let y = model.forward(&t(&[2, 2], &[1.0, 1.0, 2.0, -1.0])).unwrap();
    assert_eq!(y.shape(), [2, 1]);
    assert_eq!(y.to_vec(), [7.25, 1.25]);

    // a conv model: kernel [[1, 0], [0, 1]], bias 0.5 over 1..9 as 3x3 gives
    // x(i,j) + x(i+1,j+1) + 0.5 = [6.5, 8.5, 12.5, 14.5]; then Linear(4, 1)
    // with W = [1, 0, 0, -1], b = 1: 6.5 - 14.5 + 1 = -7.
    let specs = [
        LayerSpec::Conv2d {
            in_channels: 1,
            out_channels: 1,
            kernel_size: 2,
            stride: 1,
            padding: 0,
        },
        LayerSpec::Flatten,
        LayerSpec::Linear {
            in_features: 4,
            out_features: 1,
        },
    ];
    let params = vec![
        arr(&[1, 1, 2, 2], &[1.0, 0.0, 0.0, 1.0]),
        arr(&[1], &[0.5]),
        arr(&[1, 4], &[1.0, 0.0, 0.0, -1.0]),
        arr(&[1], &[1.0]),
    ];
    let model = model_from_params(&specs, &[1, 3, 3], &params).unwrap();
    let x = t(
        &[1, 1, 3, 3],
        &(1..=9).map(|i| i as f32).collect::<Vec<_>>(),
    );
    let all = model.forward_all(&x).unwrap();
    assert_eq!(all[0].to_vec(), [6.5, 8.5, 12.5, 14.5]);
    assert_eq!(model.forward(&x).unwrap().to_vec(), [-7.0]);

    // a snapshot that does not fit is refused, not half-installed
    let wrong_count = &params[..3];
    assert!(model_from_params(&specs, &[1, 3, 3], wrong_count).is_err());
    let mut wrong_shape = params.clone();
    wrong_shape[2] = arr(&[4, 1], &[1.0, 0.0, 0.0, -1.0]);
    assert!(model_from_params(&specs, &[1, 3, 3], &wrong_shape).is_err());
}

// ---------------------------------------------------------------- binary cross-entropy

/// PyTorch's `binary_cross_entropy_backward`: (p - y) / max(p(1 - p), 1e-12).
fn torch_bce_grad(p: f32, y: f32) -> f32 {
    (p - y) / ((1.0 - p) * p).max(1e-12)
}

#[test]
fn bce_elementwise_values_and_pytorch_gradient_at_0_and_1() {
    let ps = [1.0f32, 1.0, 0.0, 0.0, 0.3, 0.9];
    let ys = [1.0f32, 0.0, 0.0, 1.0, 1.0, 0.25];
    let p = param(&[6], &ps);
    let l = p.bce_elementwise(&t(&[6], &ys)).unwrap();
    // logs clamped at -100: a sure wrong answer costs 100, a sure right one 0
    let want = [
        0.0,
        100.0,
        0.0,
        100.0,
        -(0.3f32.ln()),
        -(0.25 * 0.9f32.ln() + 0.75 * 0.1f32.ln()),
    ];
    assert_close(&l.to_vec(), &want, 1e-5);
    l.sum().backward().unwrap();
    let g = grad_vec(&p);
    let want: Vec<f32> = ps
        .iter()
        .zip(&ys)
        .map(|(&p, &y)| torch_bce_grad(p, y))
        .collect();
    // 0 at a sure right answer, ±1e12 at a sure wrong one: finite
    assert_eq!(g[0], 0.0);
    assert_eq!(g[2], 0.0);
    assert!(g[1] > 9.9e11 && g[1] < 1.01e12, "{g:?}");
    assert!(g[3] < -9.9e11 && g[3] > -1.01e12, "{g:?}");
    assert_rel(&g, &want, 1e-6);
    // the usual rule where p(1-p) is not tiny: (0.3 - 1)/0.21, (0.9 - 0.25)/0.09
    assert_close(&g[4..], &[-0.7 / 0.21, 0.65 / 0.09], 1e-4);
}

#[test]
fn bce_loss_gradient_is_finite_and_pytorchs_where_p_is_exactly_1() {
    // p = σ(20) rounds to exactly 1.0 in f32.
    let x = param(&[2], &[20.0, 20.0]);
    let p = x.sigmoid();
    assert_eq!(p.to_vec(), [1.0, 1.0]);
    let loss = nn::bce_loss(&p, &t(&[2], &[1.0, 0.0])).unwrap();
    // mean(0, 100)
    assert_close(&[loss.item()], &[50.0], 1e-4);
    loss.backward().unwrap();
    // d/dx = (1/2)·(p - y)/max(p(1-p), 1e-12) · p(1-p) = 0 where p(1-p) = 0
    let gx = grad_vec(&x);
    assert!(gx.iter().all(|g| g.is_finite()), "dL/dx = {gx:?}");
    assert_eq!(gx, [0.0, 0.0]);

    // p itself as the leaf: mean over 3 → (1/3)·(p - y)/max(p(1-p), 1e-12)
    let ps = [1.0f32, 1.0, 0.5];
    let ys = [1.0f32, 0.0, 0.0];
    let p = param(&[3], &ps);
    let loss = nn::bce_loss(&p, &t(&[3], &ys)).unwrap();
    assert_close(
        &[loss.item()],
        &[(100.0 + std::f32::consts::LN_2) / 3.0],
        1e-4,
    );
    loss.backward().unwrap();
    let g = grad_vec(&p);
    let want: Vec<f32> = ps
        .iter()
        .zip(&ys)
        .map(|(&p, &y)| torch_bce_grad(p, y) / 3.0)
        .collect();
    assert_rel(&g, &want, 1e-5); // [0, 3.33e11, 0.6667]

    // and matches finite differences away from the ends (gradcheck)
    let y = t(&[4], &[1.0, 0.0, 1.0, 0.3]);
    let report = gradcheck(
        |xs| nn::bce_loss(&xs[0].sigmoid(), &y),
        &[arr(&[4], &[0.3, -1.5, 2.0, 0.1])],
        GradcheckOptions::default(),
    )
    .unwrap();
    assert!(report.passed, "{report:?}");
}

fn lesson_hyper(name: &str) -> (lessons::Lesson, lessons::Hyper) {
    let l = lessons::find(name).expect("lesson exists");
    let h = l.defaults.clone();
    (l, h)
}

const OR_CSV: &str = "x1,x2,y\n0,0,0\n0,1,1\n1,0,1\n1,1,1\n";

#[test]
fn xor_perceptron_on_or_data_converges_without_nan() {
    // With BCE built from log/clamp, the gradient at p = 1 is 0/0: the run
    // turned NaN at epoch 2,828 of 10,000. PyTorch's rule keeps it finite
    // and the cost keeps falling (0.000906 at epoch 10,000 here, seed 1;
    // PyTorch reaches about 0.002 with its own initialisation).
    let csv = Csv::new("or", OR_CSV);
    let (l, h) = lesson_hyper("xor-perceptron");
    assert_eq!(h.epochs, 10_000);
    let mut s = SmallSession::new(&l, &h, Some(&csv.0)).unwrap();
    let mut costs = Vec::with_capacity(h.epochs + 1);
    while !s.done() {
        let epoch = s.epoch;
        let r = s
            .step()
            .unwrap_or_else(|e| panic!("OR data, epoch {epoch}: {e}"));
        assert!(r.cost.is_finite(), "epoch {epoch}: cost {}", r.cost);
        for (name, g) in &r.grads {
            assert!(
                g.iter().all(|v| v.is_finite()),
                "epoch {epoch}: d{name} = {g}"
            );
        }
        costs.push(r.cost);
    }
    assert_eq!(costs.len(), 10_001);
    let last = *costs.last().unwrap();
    assert!(last < 0.002, "final cost {last}");
    assert!(
        costs[2_828] < 0.0035,
        "cost at epoch 2828: {}",
        costs[2_828]
    );
    // OR is separable: the cost falls every epoch after the first few
    for (i, w) in costs[100..].windows(2).enumerate() {
        assert!(w[1] <= w[0], "cost rose at epoch {}: {w:?}", i + 101);
    }

    // the headless run (`dl-lab run xor-perceptron --data or.csv`) ends well too
    let cfg = RunConfig {
        hyper: h,
        data: Some(csv.0.clone()),
        json: false,
        predict: None,
        expr: None,
        at: None,
        race: Default::default(),
    };
    let mut out = Vec::new();
    run_headless(&l, &cfg, &mut out).unwrap_or_else(|e| panic!("headless run: {e}"));
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("accuracy: 4/4"), "{text}");
    let last_epoch = text
        .lines()
        .find(|l| l.starts_with("Epoch 10000/10000"))
        .unwrap_or_else(|| panic!("no last epoch line in\n{text}"));
    let cost: f32 = last_epoch
        .rsplit("Cost: ")
        .next()
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or_else(|| panic!("no cost in {last_epoch:?}"));
    assert!((cost - last).abs() < 1e-6, "{last_epoch} vs {last}");
}

// ---------------------------------------------------------------- clamp keeps NaN

#[test]
fn clamp_keeps_nan_and_bce_of_a_nan_probability_is_nan() {
    let x = t(&[5], &[f32::NAN, -5.0, 5.0, 0.5, f32::NEG_INFINITY]);
    let y = x.clamp(0.0, 1.0).to_vec();
    assert!(y[0].is_nan(), "clamp(NaN) = {}", y[0]);
    assert_eq!(&y[1..], [0.0, 1.0, 0.5, 0.0]);
    // a one-sided clamp (what a log-clamped BCE uses) keeps NaN as well
    let y = x.clamp(-100.0, f32::INFINITY).to_vec();
    assert!(y[0].is_nan(), "clamp(NaN, -100, inf) = {}", y[0]);
    assert_eq!(&y[1..], [-5.0, 5.0, 0.5, -100.0]);
    // gradient: 1 inside, 0 where clamped
    let x = param(&[4], &[-5.0, 0.0, 0.5, 5.0]);
    x.clamp(0.0, 1.0).sum().backward().unwrap();
    assert_eq!(grad_vec(&x), [0.0, 1.0, 1.0, 0.0]);

    // a NaN probability gives a NaN cost, not the clamped 100
    let p = t(&[2], &[f32::NAN, 0.5]);
    let target = t(&[2], &[1.0, 0.0]);
    let cost = nn::bce_loss(&p, &target).unwrap().item();
    assert!(cost.is_nan(), "bce_loss of a NaN probability = {cost}");
    let per = p.bce_elementwise(&target).unwrap().to_vec();
    assert!(per[0].is_nan(), "{per:?}");
    assert_close(&per[1..], &[std::f32::consts::LN_2], 1e-6);
}

#[test]
fn a_nan_probability_stops_a_lesson_as_diverged() {
    // All targets 0 and features 0 or 6; lr = f32::MAX. With the lesson's
    // seed the first update overflows both weights to -inf, so in epoch 1
    // every row computes 0·(-inf) = NaN (or -inf + NaN): p = NaN. A clamp
    // that drops NaN made every row's log -100 and printed `Cost: 100.000000`
    // for ever; the NaN cost must stop the run as diverged instead.
    let csv = Csv::new("nan-p", "a,b,y\n0,0,0\n6,0,0\n0,6,0\n");
    let (l, mut h) = lesson_hyper("xor-perceptron");
    h.lr = f32::MAX;
    h.epochs = 20;
    h.log_every = 1;
    let cfg = RunConfig {
        hyper: h,
        data: Some(csv.0.clone()),
        json: false,
        predict: None,
        expr: None,
        at: None,
        race: Default::default(),
    };
    let mut out = Vec::new();
    let result = run_headless(&l, &cfg, &mut out);
    let text = String::from_utf8(out).unwrap();
    let err = match result {
        Ok(()) => panic!("the run should stop as diverged; it printed\n{text}"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("NaN") && err.contains("diverged") && err.contains("epoch 1"),
        "{err}\n{text}"
    );
    assert!(!text.contains("Cost: 100.000000"), "{text}");
    // epoch 0 was still finite and logged
    let first = text
        .lines()
        .find(|l| l.starts_with("Epoch    0/20"))
        .unwrap_or_else(|| panic!("no epoch 0 line in\n{text}"));
    assert!(!first.contains("Cost: NaN"), "{first}");
}

// ---------------------------------------------------------------- very long graphs

const LONG: usize = 1_000_000;

/// Run `f` on a thread with a small stack (256 KiB): recursion over a
/// graph of a million nodes would overflow it many times over.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .expect("thread starts")
        .join()
        .expect("the thread finished without a panic");
}

#[test]
fn dropping_a_million_op_graph_does_not_overflow_the_stack() {
    on_small_stack(|| {
        let x = param(&[1], &[0.5]);
        let mut y = x.clone();
        for _ in 0..LONG {
            y = y.add_scalar(1.0);
        }
        assert_eq!(y.op_name(), "add");
        assert_eq!(y.item(), 0.5 + LONG as f32);
        drop(y); // the whole chain goes here
                 // the leaf outlives its graph unharmed
        assert_eq!(x.to_vec(), [0.5]);

        // a graph whose nodes have two graph inputs each (y = y·w + y)
        let w = param(&[1], &[0.0]);
        let mut y = x.clone();
        for _ in 0..LONG / 4 {
            y = y.mul(&w).unwrap().add(&y).unwrap();
        }
        assert_eq!(y.item(), 0.5);
        drop(y);
        assert_eq!(w.to_vec(), [0.0]);
    });
}

#[test]
fn backward_through_a_long_chain_is_iterative() {
    on_small_stack(|| {
        let n = 200_000;
        let x = param(&[2], &[1.0, -2.0]);
        let mut y = x.clone();
        for i in 0..n {
            // alternate ops so that more than one backward rule is on the path
            y = if i % 2 == 0 {
                y.add_scalar(0.5)
            } else {
                y.mul_scalar(1.0)
            };
        }
        let t0 = std::time::Instant::now();
        y.mul(&t(&[2], &[3.0, -4.0]))
            .unwrap()
            .sum()
            .backward()
            .unwrap();
        // d/dx of Σ c·(x + n/4) = c
        assert_eq!(grad_vec(&x), [3.0, -4.0]);
        assert_eq!(y.to_vec(), [1.0 + n as f32 / 4.0, -2.0 + n as f32 / 4.0]);
        drop(y);
        eprintln!("backward over {n} ops took {:?}", t0.elapsed());
    });
}

#[test]
fn relu_keeps_nan_as_pytorch() {
    let x = Tensor::from_vec(&[4], vec![1.0, f32::NAN, -2.0, 0.5]).expect("x");
    let y = x.relu().to_vec();
    assert_eq!((y[0], y[2], y[3]), (1.0, 0.0, 0.5));
    assert!(y[1].is_nan(), "{y:?}");
}

/// Without a graph a batch of more than `INFER_CHUNK` images runs through
/// the model in pieces: the logits equal, to the bit, those of the same
/// batch run whole (with a graph, which never splits), for a batch that is
/// not a multiple of the piece, and a Sequential put together from modules
/// (no specs) is never split.
#[test]
fn a_large_batch_without_a_graph_runs_in_pieces_with_the_same_logits() {
    use rand::{Rng, SeedableRng};
    let lesson = lessons::find("cnn-mnist").expect("lesson");
    let lessons::Task::Classifier {
        layers,
        input_shape,
    } = &lesson.task
    else {
        panic!("cnn-mnist is a classifier")
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let model = nn::spec::build_model(layers, input_shape, &mut rng).expect("builds");
    let n = 2 * nn::sequential::INFER_CHUNK + 37;
    let x: Vec<f32> = (0..n * 784).map(|_| rng.random_range(0.0..1.0)).collect();
    let x = Tensor::from_vec(&[n, 1, 28, 28], x).expect("sized");
    let whole = model.forward(&x).expect("forward").to_array();
    let pieces = dl_lab::no_grad(|| model.forward(&x))
        .expect("forward")
        .to_array();
    assert_eq!(pieces.shape(), &[n, 10]);
    let same = whole
        .iter()
        .zip(pieces.iter())
        .all(|(a, b)| a.to_bits() == b.to_bits());
    assert!(same, "logits differ:\n{whole}\n{pieces}");
    // the row of each piece's first image is that image's own logits
    let one = dl_lab::no_grad(|| {
        let first = x.to_array();
        let img = first
            .slice_axis(ndarray::Axis(0), ndarray::Slice::from(200..201))
            .to_owned();
        model.forward(&Tensor::new(img))
    })
    .expect("forward")
    .to_array();
    for (a, b) in one
        .iter()
        .zip(pieces.index_axis(ndarray::Axis(0), 200).iter())
    {
        assert_eq!(a.to_bits(), b.to_bits(), "image 200");
    }
}
