//! Conv2d → ReLU → MaxPool2d as one op (`conv2d_bias_relu_max_pool2d`),
//! against the same ops apart (`conv2d_bias_relu` then `max_pool2d`): the
//! fused backward masks the pooled gradient before the scatter instead of
//! after it, so dz has the same values and dx, dw come out equal to the bit;
//! db is the same sum in another order (f32 rounding). On the CPU and, where
//! there is one, the OpenCL device (whose scatter for overlapping windows adds
//! in a varying order, so there dx, dw match to rounding too).

mod common;

use dl_lab::backend::Device;
use dl_lab::engine::{no_grad, Array};
use dl_lab::nn::{Conv2d, MaxPool2d, Module, ReLU, Sequential};
use dl_lab::Tensor;
use ndarray::IxDyn;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn random(seed: u64, shape: &[usize]) -> Array {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = shape.iter().product();
    Array::from_shape_vec(
        IxDyn(shape),
        (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect(),
    )
    .expect("sized")
}

/// (x, w, conv stride, conv padding, pool kernel, pool stride)
type Case = ([usize; 4], [usize; 4], usize, usize, usize, usize);

const CASES: [Case; 6] = [
    // cnn-mnist's conv1 shape at a small batch: kernel 3 stride 1, pool 2/2
    ([3, 1, 12, 12], [8, 1, 3, 3], 1, 1, 2, 2),
    // odd H and W: the pool drops the last row and column
    ([2, 3, 9, 7], [4, 3, 3, 3], 1, 1, 2, 2),
    // N = 1, Winograd's path (3×3, s1, ≥ 8 channels)
    ([1, 8, 8, 8], [8, 8, 3, 3], 1, 1, 2, 2),
    // overlapping windows (3, stride 2): one winner can take two windows' gradients
    ([2, 2, 9, 9], [5, 2, 3, 3], 1, 1, 3, 2),
    ([1, 3, 11, 10], [4, 3, 3, 3], 1, 0, 3, 2),
    // a strided convolution (im2col's path) and pooled planes under 16
    // elements (the mask and bias sum as two ops)
    ([2, 2, 9, 8], [3, 2, 3, 3], 2, 1, 2, 2),
];

/// What one backward gives: (loss, y, dx, dw, db).
struct Run {
    loss: f32,
    y: Vec<f32>,
    dx: Vec<f32>,
    dw: Vec<f32>,
    db: Vec<f32>,
}

/// loss = Σ y·ct through the fused op or the two ops, on `device`.
fn run(device: &Device, (xs, ws, s, p, k, ps): Case, seed: u64, fused: bool) -> Run {
    let on = |a: Array| Tensor::param(a).to(device).expect("moves to the device");
    let (x, w, b) = (
        on(random(seed, &xs)),
        on(random(seed + 1, &ws)),
        // shifted down so that some whole windows are negative (pooled to 0)
        on(random(seed + 2, &[ws[0]]) - 1.5),
    );
    let y = if fused {
        x.conv2d_bias_relu_max_pool2d(&w, &b, (s, p), (k, ps))
    } else {
        x.conv2d_bias_relu(&w, &b, s, p)
            .and_then(|z| z.max_pool2d(k, ps))
    }
    .expect("forward");
    let name = if fused {
        "conv2d_bias_relu_max_pool2d"
    } else {
        "max_pool2d"
    };
    assert_eq!(y.op_name(), name);
    let ct = Tensor::new(random(seed + 3, &y.shape()))
        .to(device)
        .expect("moves");
    let loss = y.mul(&ct).expect("mul").sum();
    loss.backward().expect("backward");
    let grad = |t: &Tensor| t.grad().expect("has a gradient").iter().copied().collect();
    Run {
        loss: loss.to_vec()[0],
        y: y.to_vec(),
        dx: grad(&x),
        dw: grad(&w),
        db: grad(&b),
    }
}

#[track_caller]
fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-5 * (1.0 + w.abs()),
            "{what}[{i}]: {g} vs {w}"
        );
    }
}

/// Runs every case fused and apart on `device`; `exact_scatter` says whether
/// the device's scatter adds overlapping windows in a fixed order.
fn fused_matches_the_ops_apart(device: &Device, exact_scatter: bool) {
    for (i, case) in CASES.into_iter().enumerate() {
        let seed = 500 + 10 * i as u64;
        let (f, a) = (
            run(device, case, seed, true),
            run(device, case, seed, false),
        );
        let what = format!("{device} case {i} {case:?}");
        assert_eq!(f.y, a.y, "{what}: values");
        // both signs reach the pool, so the mask does some work
        assert!(
            f.y.contains(&0.0) && f.y.iter().any(|&v| v > 0.0),
            "{what}: the pooled values are all zero or all positive"
        );
        assert_eq!(f.loss.to_bits(), a.loss.to_bits(), "{what}: loss");
        let overlapping = case.5 < case.4;
        if exact_scatter || !overlapping {
            assert_eq!(f.dx, a.dx, "{what}: dx");
            assert_eq!(f.dw, a.dw, "{what}: dw");
        } else {
            assert_close(&format!("{what}: dx"), &f.dx, &a.dx);
            assert_close(&format!("{what}: dw"), &f.dw, &a.dw);
        }
        assert_close(&format!("{what}: db"), &f.db, &a.db);
        assert!(f.db.iter().any(|&v| v.abs() > 1e-2), "{what}: db is ~0");
    }
}

#[test]
fn conv_relu_pool_fused_matches_the_ops_apart_on_cpu() {
    fused_matches_the_ops_apart(&Device::Cpu, true);
}

#[test]
fn conv_relu_pool_fused_matches_the_ops_apart_on_opencl() {
    let Some(dev) = common::opencl_device() else {
        return;
    };
    fused_matches_the_ops_apart(&dev, false);
}

#[test]
fn conv_relu_pool_fused_without_a_graph_is_the_two_ops() {
    let (xs, ws, s, p, k, ps) = CASES[1];
    let (x, w, b) = (
        Tensor::new(random(1, &xs)),
        Tensor::param(random(2, &ws)),
        Tensor::param(random(3, &[ws[0]])),
    );
    let want = x
        .conv2d_bias_relu(&w, &b, s, p)
        .and_then(|z| z.max_pool2d(k, ps))
        .expect("ops");
    let got = no_grad(|| x.conv2d_bias_relu_max_pool2d(&w, &b, (s, p), (k, ps))).expect("fused");
    assert_eq!(got.op_name(), "leaf");
    assert!(!got.requires_grad());
    assert_eq!(got.to_vec(), want.to_vec());
}

#[test]
fn conv_relu_pool_fused_refuses_a_pool_larger_than_the_image() {
    let x = Tensor::param(random(4, &[1, 1, 3, 3]));
    let w = Tensor::param(random(5, &[2, 1, 3, 3]));
    let b = Tensor::param(random(6, &[2]));
    let e = x
        .conv2d_bias_relu_max_pool2d(&w, &b, (1, 0), (2, 2))
        .map(|_| ())
        .expect_err("a 1×1 output has no 2×2 window");
    assert!(e.to_string().contains("max_pool2d"), "{e}");
}

/// Conv2d → ReLU → MaxPool2d twice, then a linear head: cnn-mnist's shape.
fn small_cnn(seed: u64) -> Sequential {
    let mut rng = StdRng::seed_from_u64(seed);
    Sequential::new(vec![
        Box::new(Conv2d::new(1, 4, 3, 1, 1, &mut rng)),
        Box::new(ReLU),
        Box::new(MaxPool2d {
            kernel_size: 2,
            stride: 2,
        }),
        Box::new(Conv2d::new(4, 6, 3, 1, 1, &mut rng)),
        Box::new(ReLU),
        Box::new(MaxPool2d {
            kernel_size: 3,
            stride: 2,
        }),
        Box::new(dl_lab::nn::Flatten),
        Box::new(dl_lab::nn::Linear::new(6 * 2 * 2, 3, &mut rng)),
    ])
}

#[test]
fn sequential_fuses_conv_relu_pool_with_the_same_gradients() {
    // `forward` fuses the conv → relu → pool runs (the next test checks
    // which runs it fuses); `forward_all` keeps every layer apart (the
    // feature maps the lab shows)
    let model = small_cnn(80);
    let x = Tensor::new(random(81, &[3, 1, 11, 10]));
    let ct = Tensor::new(random(82, &[3, 3]));
    let grads = |y: Tensor| {
        model.parameters().iter().for_each(Tensor::zero_grad);
        let loss = y.mul(&ct).expect("mul").sum();
        loss.backward().expect("backward");
        let g: Vec<Vec<f32>> = model
            .parameters()
            .iter()
            .map(|p| p.grad().expect("grad").iter().copied().collect())
            .collect();
        (loss.to_vec()[0], g)
    };
    let all = model.forward_all(&x).expect("forward_all");
    assert_eq!(all[1].op_name(), "relu");
    assert_eq!(all[2].op_name(), "max_pool2d");
    let fused = model.forward(&x).expect("forward");
    assert_eq!(fused.to_vec(), all[7].to_vec());
    let (fused_loss, fused_grads) = grads(fused);
    let (apart_loss, apart_grads) = grads(all[7].clone());
    assert_eq!(fused_loss.to_bits(), apart_loss.to_bits());
    let names: Vec<String> = model
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    for ((name, f), a) in names.iter().zip(&fused_grads).zip(&apart_grads) {
        if name.ends_with("bias") && !name.starts_with('7') {
            assert_close(name, f, a);
        } else {
            // the weights (and the head, which no fusion touches): to the bit
            assert_eq!(f, a, "{name}");
        }
    }
}

#[test]
fn sequential_fuses_only_conv_then_relu_then_max_pool() {
    let mut rng = StdRng::seed_from_u64(90);
    let pool = || MaxPool2d {
        kernel_size: 2,
        stride: 2,
    };
    let conv = |rng: &mut StdRng| Conv2d::new(2, 3, 3, 1, 1, rng);
    let x = Tensor::new(random(91, &[2, 2, 6, 6]));
    let last_op = |layers: Vec<Box<dyn Module>>| {
        Sequential::new(layers)
            .forward(&x)
            .expect("forward")
            .op_name()
    };
    let fused: Vec<Box<dyn Module>> =
        vec![Box::new(conv(&mut rng)), Box::new(ReLU), Box::new(pool())];
    assert_eq!(last_op(fused), "conv2d_bias_relu_max_pool2d");
    // two runs in a row: the second is fused too (the first took 3 layers)
    let two: Vec<Box<dyn Module>> = vec![
        Box::new(conv(&mut rng)),
        Box::new(ReLU),
        Box::new(pool()),
        Box::new(Conv2d::new(3, 2, 3, 1, 1, &mut rng)),
        Box::new(ReLU),
        Box::new(MaxPool2d {
            kernel_size: 3,
            stride: 1,
        }),
    ];
    assert_eq!(last_op(two), "conv2d_bias_relu_max_pool2d");
    // no ReLU between: the conv's own ops, then the pool
    let no_relu: Vec<Box<dyn Module>> = vec![Box::new(conv(&mut rng)), Box::new(pool())];
    assert_eq!(last_op(no_relu), "max_pool2d");
    // an average pool is not fused
    let avg: Vec<Box<dyn Module>> = vec![
        Box::new(conv(&mut rng)),
        Box::new(ReLU),
        Box::new(dl_lab::nn::AvgPool2d {
            kernel_size: 2,
            stride: 2,
        }),
    ];
    assert_eq!(last_op(avg), "avg_pool2d");
    // and without a graph nothing is recorded, with the same values
    let model = Sequential::new(vec![
        Box::new(conv(&mut rng)),
        Box::new(ReLU),
        Box::new(pool()),
    ]);
    let with = model.forward(&x).expect("forward");
    let without = no_grad(|| model.forward(&x)).expect("forward");
    assert_eq!(without.op_name(), "leaf");
    assert_eq!(without.to_vec(), with.to_vec());
}
