//! The gradient checks of `gradcheck.rs`, run on the OpenCL device: every
//! op's backward rule as the device computes it, against central
//! differences of the device's own forward pass (same tolerances, see
//! `gradcheck.rs` for why they catch wrong rules). Skips with the reason when
//! there is no OpenCL device, unless `DL_LAB_REQUIRE_OPENCL=1` (CI).

mod common;

use dl_lab::backend::Device;
use dl_lab::engine::gradcheck::{gradcheck_on, GradcheckOptions};
use dl_lab::engine::Array;
use dl_lab::{Result, Tensor};
use ndarray::IxDyn;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const OPTS: GradcheckOptions = GradcheckOptions {
    eps: 1e-2,
    atol: 2e-3,
    rtol: 2e-2,
};

fn uniform(seed: u64, shape: &[usize], lo: f32, hi: f32) -> Array {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = shape.iter().product();
    Array::from_shape_vec(
        IxDyn(shape),
        (0..n).map(|_| rng.random_range(lo..hi)).collect(),
    )
    .expect("sized")
}

/// Uniform in [-1, 1] but at least `margin` away from 0 (relu's kink).
fn away_from_zero(seed: u64, shape: &[usize], margin: f32) -> Array {
    uniform(seed, shape, margin, 1.0) * &uniform(seed + 1, shape, -1.0, 1.0).mapv(f32::signum)
}

/// Distinct values (no ties within `step`), shuffled by a seed.
fn distinct(seed: u64, shape: &[usize], step: f32) -> Array {
    let n: usize = shape.iter().product();
    let mut v: Vec<f32> = (0..n).map(|i| (i as f32 - n as f32 / 2.0) * step).collect();
    let mut rng = StdRng::seed_from_u64(seed);
    for i in (1..n).rev() {
        v.swap(i, rng.random_range(0..=i));
    }
    Array::from_shape_vec(IxDyn(shape), v).expect("sized")
}

#[track_caller]
fn check(device: &Device, name: &str, f: impl Fn(&[Tensor]) -> Result<Tensor>, inputs: &[Array]) {
    let report = gradcheck_on(device, f, inputs, OPTS).expect("gradcheck runs on the device");
    assert!(
        report.passed,
        "{name} on {device}: gradcheck failed; worst (|analytic - numeric|, numeric) per input: {:?}",
        report.worst
    );
}

/// A constant on the inputs' device.
fn on(t: &[Tensor], a: Array) -> Tensor {
    Tensor::new(a).to(&t[0].device()).expect("to device")
}

#[test]
fn elementwise_gradcheck_on_opencl() {
    let Some(dev) = common::opencl_device() else {
        return;
    };
    let a = uniform(1, &[3, 5], 0.5, 2.0);
    let b = uniform(2, &[3, 5], 0.5, 2.0);
    check(&dev, "add", |t| t[0].add(&t[1]), &[a.clone(), b.clone()]);
    check(&dev, "sub", |t| t[0].sub(&t[1]), &[a.clone(), b.clone()]);
    check(&dev, "mul", |t| t[0].mul(&t[1]), &[a.clone(), b.clone()]);
    check(&dev, "div", |t| t[0].div(&t[1]), &[a.clone(), b.clone()]);
    check(&dev, "neg", |t| Ok(t[0].neg()), &[a.clone()]);
    check(&dev, "exp", |t| Ok(t[0].exp()), &[a.clone()]);
    check(&dev, "log", |t| Ok(t[0].log()), &[a.clone()]);
    check(&dev, "pow 3", |t| Ok(t[0].pow(3.0)), &[a.clone()]);
    check(&dev, "pow -1.5", |t| Ok(t[0].pow(-1.5)), &[a.clone()]);
    let z = away_from_zero(3, &[4, 7], 0.05);
    check(&dev, "relu", |t| Ok(t[0].relu()), &[z.clone()]);
    check(&dev, "sigmoid", |t| Ok(t[0].sigmoid()), &[z.clone()]);
    check(&dev, "tanh", |t| Ok(t[0].tanh()), &[z.clone()]);
    check(
        &dev,
        "clamp",
        |t| Ok(t[0].clamp(-0.5, 0.5)),
        &[distinct(4, &[4, 7], 0.037)],
    );
    // x·x: both uses accumulate
    check(&dev, "x*x", |t| t[0].mul(&t[0]), &[a.clone()]);
    // with a 0-d CPU constant, as mul_scalar makes
    check(
        &dev,
        "x*2+1",
        |t| Ok(t[0].mul_scalar(2.0).add_scalar(1.0)),
        &[a],
    );
}

#[test]
fn broadcast_gradcheck_on_opencl() {
    let Some(dev) = common::opencl_device() else {
        return;
    };
    let cases: [(&[usize], &[usize]); 5] = [
        (&[2, 3, 4, 5], &[1, 3, 1, 1]), // conv bias
        (&[7, 3], &[3]),                // linear bias
        (&[3, 1], &[1, 4]),             // outer broadcast
        (&[4], &[2, 1, 4]),
        (&[2, 3], &[]),
    ];
    for (i, (sa, sb)) in cases.into_iter().enumerate() {
        let (a, b) = (
            uniform(10 + i as u64, sa, 0.5, 2.0),
            uniform(20 + i as u64, sb, 0.5, 2.0),
        );
        check(
            &dev,
            "broadcast add",
            |t| t[0].add(&t[1]),
            &[a.clone(), b.clone()],
        );
        check(
            &dev,
            "broadcast mul",
            |t| t[0].mul(&t[1]),
            &[a.clone(), b.clone()],
        );
        check(&dev, "broadcast div", |t| t[0].div(&t[1]), &[a, b]);
    }
}

#[test]
fn matmul_reduce_shape_gradcheck_on_opencl() {
    let Some(dev) = common::opencl_device() else {
        return;
    };
    let a = uniform(30, &[5, 7], -1.0, 1.0);
    let b = uniform(31, &[7, 3], -1.0, 1.0);
    check(&dev, "matmul", |t| t[0].matmul(&t[1]), &[a.clone(), b]);
    check(
        &dev,
        "matmul with t()",
        |t| t[0].matmul(&t[1].t()?),
        &[a.clone(), uniform(32, &[4, 7], -1.0, 1.0)],
    );
    let x = uniform(33, &[2, 3, 4], -1.0, 1.0);
    check(&dev, "sum", |t| Ok(t[0].sum()), &[x.clone()]);
    check(&dev, "sum dim 1", |t| t[0].sum_dim(1, false), &[x.clone()]);
    check(
        &dev,
        "sum dims 0,2 keepdim",
        |t| t[0].sum_axes(&[0, 2], true),
        &[x.clone()],
    );
    check(&dev, "mean", |t| Ok(t[0].mean()), &[x.clone()]);
    let d = distinct(34, &[3, 4, 2], 0.05);
    check(
        &dev,
        "max dim 1",
        |t| Ok(t[0].max_dim(1, false)?.0),
        &[d.clone()],
    );
    check(&dev, "max", |t| t[0].max(), &[d]);
    check(&dev, "log_softmax", |t| t[0].log_softmax(1), &[x.clone()]);
    check(&dev, "softmax dim 2", |t| t[0].softmax(2), &[x.clone()]);
    check(&dev, "reshape", |t| t[0].reshape(&[6, 4]), &[x.clone()]);
    check(&dev, "permute", |t| t[0].permute(&[2, 0, 1]), &[x]);
}

#[test]
fn conv_pool_gradcheck_on_opencl() {
    let Some(dev) = common::opencl_device() else {
        return;
    };
    let cases = [
        ([2, 3, 6, 5], [4, 3, 3, 3], 1, 1),
        ([1, 2, 7, 7], [3, 2, 3, 2], 2, 1),
        ([3, 1, 5, 5], [2, 1, 1, 1], 1, 0),
        ([2, 2, 4, 5], [3, 2, 2, 3], 3, 2),
    ];
    for (i, (xs, ws, s, p)) in cases.into_iter().enumerate() {
        let x = uniform(40 + i as u64, &xs, -1.0, 1.0);
        let w = uniform(50 + i as u64, &ws, -1.0, 1.0);
        check(&dev, "conv2d", |t| t[0].conv2d(&t[1], s, p), &[x, w]);
    }
    // the fused conv + bias + ReLU (composed from the device's kernels),
    // at a seed whose pre-activations keep clear of ReLU's kink
    let (xs, ws) = ([1, 8, 3, 3], [8, 8, 3, 3]);
    let inputs = (0..1000u64)
        .map(|k| {
            [
                uniform(70 + 3 * k, &xs, -1.0, 1.0),
                uniform(71 + 3 * k, &ws, -1.0, 1.0),
                uniform(72 + 3 * k, &[8], -1.0, 1.0),
            ]
        })
        .find(|[x, w, b]| {
            let y = Tensor::new(x.clone())
                .conv2d(&Tensor::new(w.clone()), 1, 1)
                .and_then(|z| z.add(&Tensor::new(b.clone()).reshape(&[1, 8, 1, 1])?))
                .expect("conv runs");
            y.to_vec().iter().all(|v| v.abs() > 4.0 * OPTS.eps as f32)
        })
        .expect("some seed keeps clear of ReLU's kink");
    check(
        &dev,
        "conv2d_bias_relu",
        |t| t[0].conv2d_bias_relu(&t[1], &t[2], 1, 1),
        &inputs,
    );
    for (shape, k, s) in [
        ([2, 3, 6, 6], 2, 2),
        ([1, 2, 7, 5], 3, 1),
        ([2, 1, 5, 7], 2, 3),
    ] {
        let x = distinct(60, &shape, 0.05);
        check(&dev, "max_pool2d", |t| t[0].max_pool2d(k, s), &[x.clone()]);
        check(&dev, "avg_pool2d", |t| t[0].avg_pool2d(k, s), &[x]);
    }
}

#[test]
fn conv2d_bias_relu_max_pool2d_gradcheck_on_opencl() {
    // the fused conv → ReLU → max pool (the device's conv, pool and scatter
    // kernels), overlapping windows included, at a seed whose pre-activations
    // keep clear of ReLU's kink and whose windows have a clear winner
    let Some(dev) = common::opencl_device() else {
        return;
    };
    let margin = 4.0 * OPTS.eps as f32;
    for (xs, ws, k, ps) in [
        ([1, 2, 6, 5], [3, 2, 3, 3], 2, 2),
        ([2, 2, 6, 5], [3, 2, 3, 3], 3, 2),
    ] {
        let clear = |[x, w, b]: &[Array; 3]| {
            let (x, w, b) = (
                Tensor::new(x.clone()),
                Tensor::new(w.clone()),
                Tensor::new(b.clone()),
            );
            let z = x
                .conv2d(&w, 1, 1)
                .and_then(|z| z.add(&b.reshape(&[1, 3, 1, 1])?));
            let z = z.expect("conv runs").to_array();
            let (h, w) = (z.shape()[2], z.shape()[3]);
            let windows = (0..z.len() / (h * w)).flat_map(|plane| {
                (0..(h - k) / ps + 1).flat_map(move |oy| {
                    (0..(w - k) / ps + 1).map(move |ox| (plane, oy * ps, ox * ps))
                })
            });
            let zs = z.as_slice().expect("contiguous");
            zs.iter().all(|v| v.abs() > margin)
                && windows.into_iter().all(|(plane, y0, x0)| {
                    let mut win: Vec<f32> = (0..k * k)
                        .map(|i| zs[(plane * h + y0 + i / k) * w + x0 + i % k].max(0.0))
                        .collect();
                    win.sort_by(|a, b| b.total_cmp(a));
                    win[0] == 0.0 || win[0] - win[1] > margin
                })
        };
        let inputs = (0..2000u64)
            .map(|seed| {
                [
                    uniform(700 + 3 * seed, &xs, -1.0, 1.0),
                    uniform(701 + 3 * seed, &ws, -1.0, 1.0),
                    uniform(702 + 3 * seed, &[3], -1.0, 1.0),
                ]
            })
            .find(clear)
            .expect("some seed keeps clear of ReLU's kink and the pool's ties");
        check(
            &dev,
            &format!("conv2d_bias_relu_max_pool2d pool {k}/{ps}"),
            |t| t[0].conv2d_bias_relu_max_pool2d(&t[1], &t[2], (1, 1), (k, ps)),
            &inputs,
        );
    }
}

#[test]
fn losses_gradcheck_on_opencl() {
    let Some(dev) = common::opencl_device() else {
        return;
    };
    let p = uniform(70, &[2, 4], 0.1, 0.9);
    let y = Array::from_shape_vec(IxDyn(&[2, 4]), vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0])
        .expect("sized");
    check(
        &dev,
        "bce",
        |t| dl_lab::nn::bce_loss(&t[0], &on(t, y.clone())),
        &[p],
    );
    let pred = uniform(71, &[5, 1], -1.0, 1.0);
    let target = uniform(72, &[5, 1], -1.0, 1.0);
    check(
        &dev,
        "mse",
        |t| dl_lab::nn::mse_loss(&t[0], &on(t, target.clone())),
        &[pred],
    );
    let logits = uniform(73, &[4, 5], -2.0, 2.0);
    check(
        &dev,
        "cross_entropy",
        |t| dl_lab::nn::cross_entropy(&t[0], &[0, 3, 4, 3]),
        &[logits],
    );
}
