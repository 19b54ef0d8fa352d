//! Backend parity: every `BackendStorage` operation of the OpenCL storage
//! against the CPU reference (`Storage::Cpu`), on awkward shapes (1×1, sizes
//! that are no multiple of any tile or work-group, odd strides and paddings,
//! batch 1 and 100, broadcasts both ways, max ties).
//!
//! Tolerances: element-wise maps 1e-5 relative (OpenCL's exp/log/pow may be a
//! few ulp off glibc's); sums, products and convolutions, whose terms are
//! added in another order, 1e-4·√K relative to the largest |value| for K terms.
//!
//! Each test skips, printing why, when no OpenCL device exists, unless
//! `DL_LAB_REQUIRE_OPENCL=1` (then it fails). PoCL (`pocl-opencl-icd`)
//! provides a CPU device anywhere.

mod common;

use dl_lab::backend::opencl::{self, ClDevice, ClStorage};
use dl_lab::backend::{BinaryOp, ConvGeometry, Device, Indices, Storage, UnaryOp, UpdateRule};
use dl_lab::engine::Array;
use ndarray::IxDyn;

/// The device, or return from the test (the skip is printed by common).
macro_rules! device_or_skip {
    () => {
        match common::opencl_device() {
            Some(d) => d,
            None => return,
        }
    };
}

/// Deterministic values in [lo, hi) (xorshift; the same on every machine).
fn values(shape: &[usize], seed: u64, lo: f32, hi: f32) -> Array {
    let n: usize = shape.iter().product();
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let v = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = (s >> 40) as f32 / (1u64 << 24) as f32;
            lo + (hi - lo) * u
        })
        .collect();
    Array::from_shape_vec(IxDyn(shape), v).expect("sized by the shape")
}

fn randn(shape: &[usize], seed: u64) -> Array {
    values(shape, seed, -2.0, 2.0)
}

/// Values with many exact ties (multiples of 0.5 in [-1, 1]).
fn tied(shape: &[usize], seed: u64) -> Array {
    values(shape, seed, -1.0, 1.5).mapv(|v| (v * 2.0).floor() / 2.0)
}

fn cpu(a: &Array) -> Storage {
    Storage::Cpu(a.clone())
}

fn on(d: &Device, a: &Array) -> Storage {
    let s = Storage::Cpu(a.clone()).to_device(d).expect("upload");
    assert_eq!(s.device(), *d);
    s
}

/// |cl - cpu| ≤ atol + rtol·|cpu| everywhere, NaN where the CPU has NaN and
/// equal infinities.
fn assert_close(what: &str, want: &Storage, got: &Storage, rtol: f32, atol: f32) {
    assert!(
        matches!(got, Storage::OpenCl(_)),
        "{what}: result left the device"
    );
    assert_eq!(want.shape(), got.shape(), "{what}: shape");
    let (w, g) = (
        want.to_host().expect("cpu"),
        got.to_host().expect("read back"),
    );
    for (i, (&a, &b)) in w.iter().zip(g.iter()).enumerate() {
        if a.is_nan() || b.is_nan() {
            assert!(
                a.is_nan() && b.is_nan(),
                "{what}: element {i}: cpu {a}, opencl {b}"
            );
            continue;
        }
        if a.is_infinite() || b.is_infinite() {
            assert_eq!(a, b, "{what}: element {i}");
            continue;
        }
        let err = (a - b).abs();
        assert!(
            err <= atol + rtol * a.abs(),
            "{what}: element {i} of {:?}: cpu {a}, opencl {b} (|diff| {err})",
            want.shape()
        );
    }
}

/// Tolerance for sums of k terms of magnitude up to `scale`.
fn sum_tol(k: usize, scale: f32) -> f32 {
    1e-4 * (k as f32).sqrt() * scale
}

const EW_RTOL: f32 = 1e-5;
const EW_ATOL: f32 = 1e-6;

#[test]
fn device_is_named_and_send_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<ClStorage>();
    send_sync::<ClDevice>();
    send_sync::<opencl::ClIndices>();
    send_sync::<Storage>();
    let d = device_or_skip!();
    let name = d.name();
    assert!(name.starts_with("opencl:0 ("), "{name}");
    assert!(name.ends_with(')'), "{name}");
    let list = opencl::list_devices().expect("devices");
    assert!(!list.is_empty());
    assert_eq!(list[0].index, 0);
    assert!(name.contains(&list[0].name), "{name} vs {:?}", list[0]);
    let gpu = opencl::first_gpu().expect("OpenCL works");
    if let Some(i) = gpu {
        assert!(list[i].kind.contains("GPU"));
    } else {
        assert!(list.iter().all(|d| !d.kind.contains("GPU")));
    }
    // a device number past the end is an error naming how many there are
    let err = ClDevice::open(Some(list.len())).expect_err("no such device");
    assert!(
        err.to_string().contains(&format!("opencl:{}", list.len())),
        "{err}"
    );
}

#[test]
fn round_trip_reshape_clone_zeros_matches_cpu() {
    let d = device_or_skip!();
    for shape in [
        vec![],
        vec![1],
        vec![1, 1],
        vec![3, 5, 7],
        vec![0, 4],
        vec![257],
    ] {
        let a = randn(&shape, 1);
        let x = on(&d, &a);
        assert_close("round trip", &cpu(&a), &x, 0.0, 0.0);
        let c = x.try_clone().expect("clone");
        assert_close("clone", &cpu(&a), &c, 0.0, 0.0);
        let z = x.zeros_like(&[2, 3]).expect("zeros");
        assert_close("zeros", &cpu(&Array::zeros(IxDyn(&[2, 3]))), &z, 0.0, 0.0);
        let n: usize = shape.iter().product();
        let r = c.reshape(&[n]).expect("reshape");
        assert_close(
            "reshape",
            &cpu(&a
                .clone()
                .into_shape_with_order(IxDyn(&[n]))
                .expect("same size")),
            &r,
            0.0,
            0.0,
        );
    }
    assert!(on(&d, &randn(&[6], 2)).reshape(&[4]).is_err());
}

const UNARY: [UnaryOp; 10] = [
    UnaryOp::Neg,
    UnaryOp::Exp,
    UnaryOp::Log,
    UnaryOp::Relu,
    UnaryOp::Sigmoid,
    UnaryOp::Tanh,
    UnaryOp::Pow(2.0),
    UnaryOp::Pow(0.5),
    UnaryOp::Pow(0.0),
    UnaryOp::Clamp(-0.5, 0.75),
];

/// Inputs the op is defined on, with exact zeros (relu's kink) and a NaN
/// for clamp.
fn unary_input(op: UnaryOp, shape: &[usize], seed: u64) -> Array {
    let mut a = match op {
        UnaryOp::Log | UnaryOp::Pow(_) => values(shape, seed, 0.05, 3.0),
        UnaryOp::Sigmoid | UnaryOp::Tanh => values(shape, seed, -30.0, 30.0),
        _ => tied(shape, seed),
    };
    if let (UnaryOp::Clamp(..), Some(v)) = (op, a.iter_mut().next()) {
        *v = f32::NAN;
    }
    a
}

#[test]
fn unary_matches_cpu() {
    let d = device_or_skip!();
    for shape in [
        vec![],
        vec![1, 1],
        vec![7, 13],
        vec![3, 5, 17],
        vec![100, 257],
    ] {
        for op in UNARY {
            let a = unary_input(op, &shape, 3);
            let want = cpu(&a).unary(op).expect("cpu");
            let got = on(&d, &a).unary(op).expect("opencl");
            assert_close(&format!("{op:?} {shape:?}"), &want, &got, EW_RTOL, EW_ATOL);
        }
    }
}

#[test]
fn unary_backward_matches_cpu() {
    let d = device_or_skip!();
    for shape in [vec![1, 1], vec![7, 13], vec![2, 3, 37]] {
        for op in UNARY
            .into_iter()
            .chain([UnaryOp::Pow(3.0), UnaryOp::Pow(1.0)])
        {
            let x = unary_input(op, &shape, 4);
            let g = randn(&shape, 5);
            // the saved value is x, or y for the ops whose derivative reads the output
            let saved = if op.backward_reads_output() {
                cpu(&x).unary(op).expect("cpu").to_host().expect("host")
            } else {
                x
            };
            let want = cpu(&saved).unary_backward(cpu(&g), op).expect("cpu");
            let got = on(&d, &saved)
                .unary_backward(on(&d, &g), op)
                .expect("opencl");
            assert_close(&format!("{op:?}' {shape:?}"), &want, &got, EW_RTOL, EW_ATOL);
        }
    }
}

const BINARY: [BinaryOp; 7] = [
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Eq,
    BinaryOp::BceLoss,
    BinaryOp::BceGrad,
];

/// The broadcast of two shapes (PyTorch's rule), for the test's own use.
fn broadcast(a: &[usize], b: &[usize]) -> Vec<usize> {
    let r = a.len().max(b.len());
    (0..r)
        .map(|i| {
            let da = if i + a.len() >= r {
                a[i + a.len() - r]
            } else {
                1
            };
            let db = if i + b.len() >= r {
                b[i + b.len() - r]
            } else {
                1
            };
            if da == 1 {
                db
            } else {
                da
            }
        })
        .collect()
}

fn binary_inputs(op: BinaryOp, sa: &[usize], sb: &[usize], seed: u64) -> (Array, Array) {
    match op {
        // a probability (with exact 0 and 1) against a target in [0, 1]
        BinaryOp::BceLoss | BinaryOp::BceGrad => {
            let mut a = values(sa, seed, 0.0, 1.0);
            let mut it = a.iter_mut();
            if let Some(v) = it.next() {
                *v = 0.0;
            }
            if let Some(v) = it.next() {
                *v = 1.0;
            }
            (a, values(sb, seed + 1, 0.0, 1.0).mapv(|v| v.round()))
        }
        BinaryOp::Eq => (tied(sa, seed), tied(sb, seed + 1)),
        BinaryOp::Div => (randn(sa, seed), values(sb, seed + 1, 0.5, 2.0)),
        _ => (randn(sa, seed), randn(sb, seed + 1)),
    }
}

#[test]
fn binary_matches_cpu() {
    let d = device_or_skip!();
    let pairs: &[(&[usize], &[usize])] = &[
        (&[1, 1], &[1, 1]),
        (&[7, 13], &[7, 13]),
        (&[1000], &[1000]),
        // CPU-style 0-d scalars on either side
        (&[5, 3], &[]),
        (&[], &[5, 3]),
        (&[], &[]),
        // the conv bias pattern, both ways
        (&[3, 5, 4, 7], &[1, 5, 1, 1]),
        (&[1, 5, 1, 1], &[3, 5, 4, 7]),
        // ... with rows wider than a work-group's 64 columns
        (&[2, 3, 5, 67], &[1, 3, 1, 1]),
        (&[1, 3, 1, 1], &[2, 3, 5, 67]),
        // Linear's bias (N, F) + (F), both ways
        (&[9, 11], &[11]),
        (&[11], &[9, 11]),
        // a column
        (&[9, 11], &[9, 1]),
        // both operands broadcast
        (&[3, 1, 5], &[1, 4, 1]),
        (&[4, 1], &[3]),
        // rank 6 with mixed broadcasts (the general kernel)
        (&[2, 1, 3, 1, 2, 5], &[1, 3, 3, 4, 1, 5]),
        (&[1, 1, 1], &[2, 3, 4]),
    ];
    for &(sa, sb) in pairs {
        let shape = broadcast(sa, sb);
        for op in BINARY {
            let (a, b) = binary_inputs(op, sa, sb, 7);
            let want = cpu(&a).binary(&cpu(&b), op, &shape).expect("cpu");
            let what = format!("{op:?} {sa:?} {sb:?}");
            let got = on(&d, &a).binary(&on(&d, &b), op, &shape).expect("opencl");
            assert_close(&what, &want, &got, EW_RTOL, EW_ATOL);
            // a 0-d CPU operand mixed with a device operand moves to the device
            if sb.is_empty() {
                let got = on(&d, &a).binary(&cpu(&b), op, &shape).expect("mixed");
                assert_close(
                    &format!("{what} (cpu scalar)"),
                    &want,
                    &got,
                    EW_RTOL,
                    EW_ATOL,
                );
            }
            if sa.is_empty() {
                let got = cpu(&a).binary(&on(&d, &b), op, &shape).expect("mixed");
                assert_close(
                    &format!("{what} (cpu scalar)"),
                    &want,
                    &got,
                    EW_RTOL,
                    EW_ATOL,
                );
            }
        }
    }
    // a non-scalar CPU operand is a device mismatch, not a silent copy
    let err = on(&d, &randn(&[2, 2], 1))
        .binary(&cpu(&randn(&[2, 2], 2)), BinaryOp::Add, &[2, 2])
        .expect_err("mismatch");
    assert!(matches!(err, dl_lab::Error::DeviceMismatch { .. }), "{err}");
}

#[test]
fn add_assign_matches_cpu() {
    let d = device_or_skip!();
    for shape in [vec![1], vec![7, 13], vec![32, 1, 3, 3]] {
        let (a, b) = (randn(&shape, 1), randn(&shape, 2));
        let mut want = cpu(&a);
        want.add_assign(&cpu(&b)).expect("cpu");
        let mut got = on(&d, &a);
        got.add_assign(&on(&d, &b)).expect("opencl");
        got.add_assign(&on(&d, &b)).expect("twice");
        want.add_assign(&cpu(&b)).expect("twice");
        assert_close("add_assign", &want, &got, EW_RTOL, EW_ATOL);
    }
}

#[test]
fn sum_axes_matches_cpu() {
    let d = device_or_skip!();
    let cases: &[(&[usize], &[usize])] = &[
        (&[1, 1], &[0, 1]),
        (&[1, 1], &[1]),
        (&[7, 13], &[0]),
        (&[7, 13], &[1]),
        (&[7, 13], &[0, 1]),
        (&[5000], &[0]),
        (&[3, 4, 5, 6], &[1, 3]),
        (&[3, 4, 5, 6], &[0, 2]),
        (&[3, 4, 5, 6], &[2]),
        (&[3, 1, 5], &[1]),
        // the conv bias gradient: (N, O, H, W) over (0, 2, 3), long sums
        (&[100, 32, 28, 28], &[0, 2, 3]),
        // Linear's bias gradient over the batch
        (&[100, 10], &[0]),
        (&[2, 3, 2, 3, 2, 3, 2, 3, 2], &[0, 2, 4, 6, 8]),
    ];
    for &(shape, axes) in cases {
        let a = randn(shape, 11);
        let k: usize = axes.iter().map(|&ax| shape[ax]).product();
        for keepdim in [false, true] {
            let want = cpu(&a).sum_axes(axes, keepdim).expect("cpu");
            let got = on(&d, &a).sum_axes(axes, keepdim).expect("opencl");
            let tol = sum_tol(k, 2.0);
            assert_close(
                &format!("sum {shape:?} over {axes:?} keepdim {keepdim}"),
                &want,
                &got,
                0.0,
                tol,
            );
        }
    }
}

#[test]
fn sum_to_shape_and_broadcast_to_matches_cpu() {
    let d = device_or_skip!();
    let cases: &[(&[usize], &[usize])] = &[
        (&[1, 1], &[1, 1]),
        (&[1, 1], &[]),
        (&[7, 13], &[13]),
        (&[7, 13], &[7, 1]),
        (&[7, 13], &[1, 13]),
        (&[7, 13], &[]),
        (&[100, 32, 28, 28], &[1, 32, 1, 1]),
        (&[100, 32, 28, 28], &[32, 1, 1]),
        (&[2, 3, 4, 5], &[3, 1, 5]),
        (&[2, 3, 4, 5], &[2, 3, 4, 5]),
    ];
    for &(big, small) in cases {
        let g = randn(big, 13);
        let k = big.iter().product::<usize>() / small.iter().product::<usize>().max(1);
        let want = cpu(&g).sum_to_shape(small).expect("cpu");
        let got = on(&d, &g).sum_to_shape(small).expect("opencl");
        assert_close(
            &format!("sum_to_shape {big:?} -> {small:?}"),
            &want,
            &got,
            0.0,
            sum_tol(k, 2.0),
        );

        let x = randn(small, 14);
        let want = cpu(&x).broadcast_to(big).expect("cpu");
        let got = on(&d, &x).broadcast_to(big).expect("opencl");
        assert_close(
            &format!("broadcast_to {small:?} -> {big:?}"),
            &want,
            &got,
            0.0,
            0.0,
        );
    }
}

fn indices(i: &Indices) -> Vec<usize> {
    i.to_host().expect("indices")
}

#[test]
fn max_dim_matches_cpu() {
    let d = device_or_skip!();
    let cases: &[(&[usize], usize)] = &[
        (&[1, 1], 0),
        (&[1, 1], 1),
        (&[7, 13], 0),
        (&[7, 13], 1),
        (&[100, 10], 1),
        (&[3, 4, 5], 1),
        (&[1000], 0),
    ];
    for &(shape, axis) in cases {
        // many ties: the FIRST maximum wins on both devices
        let a = tied(shape, 17);
        for keepdim in [false, true] {
            let (wv, wi) = cpu(&a).max_dim(axis, keepdim).expect("cpu");
            let (gv, gi) = on(&d, &a).max_dim(axis, keepdim).expect("opencl");
            let what = format!("max {shape:?} axis {axis}");
            assert_close(&what, &wv, &gv, 0.0, 0.0);
            assert_eq!(indices(&wi), indices(&gi), "{what}: winners");
            // the gradient sent to the winners
            let g = randn(wv.shape(), 18);
            let want = cpu(&g).scatter_add(&wi, shape).expect("cpu");
            let got = on(&d, &g).scatter_add(&gi, shape).expect("opencl");
            assert_close(&format!("scatter {what}"), &want, &got, 0.0, 0.0);
        }
    }
}

#[test]
fn log_softmax_matches_cpu() {
    let d = device_or_skip!();
    let cases: &[(&[usize], usize)] = &[
        (&[1, 1], 1),
        (&[7, 13], 1),
        (&[7, 13], 0),
        (&[100, 10], 1),
        (&[3, 4, 5], 1),
    ];
    for &(shape, axis) in cases {
        let mut a = values(shape, 19, -20.0, 20.0);
        // a row with a huge value, to exercise the stabilising max
        if let Some(v) = a.iter_mut().next() {
            *v = 80.0;
        }
        let want = cpu(&a).log_softmax(axis).expect("cpu");
        let got = on(&d, &a).log_softmax(axis).expect("opencl");
        let what = format!("log_softmax {shape:?} axis {axis}");
        assert_close(&what, &want, &got, 1e-5, 1e-5);
        let g = randn(shape, 20);
        let want_b = want.log_softmax_backward(&cpu(&g), axis).expect("cpu");
        let got_b = got.log_softmax_backward(&on(&d, &g), axis).expect("opencl");
        assert_close(
            &format!("{what} backward"),
            &want_b,
            &got_b,
            1e-5,
            sum_tol(shape[axis], 2.0),
        );
    }
}

#[test]
fn permute_matches_cpu() {
    let d = device_or_skip!();
    let cases: &[(&[usize], &[usize])] = &[
        (&[1, 1], &[1, 0]),
        (&[7, 13], &[1, 0]),
        (&[7, 13], &[0, 1]),
        (&[2, 3, 4, 5], &[0, 2, 3, 1]),
        (&[2, 3, 4, 5], &[3, 2, 1, 0]),
        (&[2, 1, 4, 1], &[3, 2, 1, 0]),
        (&[10, 64, 7, 7], &[1, 0, 2, 3]),
    ];
    for &(shape, axes) in cases {
        let a = randn(shape, 21);
        let want = cpu(&a).permute(axes).expect("cpu");
        let got = on(&d, &a).permute(axes).expect("opencl");
        assert_close(
            &format!("permute {shape:?} {axes:?}"),
            &want,
            &got,
            0.0,
            0.0,
        );
    }
}

#[test]
fn matmul_matches_cpu() {
    let d = device_or_skip!();
    // (m, k, n): 1×1, sizes no multiple of any tile, tall and skinny, the
    // cnn-mnist classifier (100×3136·3136×10), and a conv's shape
    let sizes = [
        (1, 1, 1),
        (1, 7, 1),
        (17, 33, 9),
        (64, 64, 64),
        (65, 1, 3),
        (100, 3136, 10),
        (64, 288, 1960),
    ];
    for (m, k, n) in sizes {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = randn(&if ta { [k, m] } else { [m, k] }, 23);
            let b = randn(&if tb { [n, k] } else { [k, n] }, 24);
            let want = cpu(&a).matmul(&cpu(&b), ta, tb).expect("cpu");
            let got = on(&d, &a).matmul(&on(&d, &b), ta, tb).expect("opencl");
            let what = format!("matmul {m}x{k}x{n} ta {ta} tb {tb}");
            assert_close(&what, &want, &got, 0.0, sum_tol(k, 4.0));
        }
    }
    // an empty inner dimension gives zeros
    let want = cpu(&randn(&[3, 0], 1))
        .matmul(&cpu(&randn(&[0, 4], 2)), false, false)
        .expect("cpu");
    let got = on(&d, &randn(&[3, 0], 1))
        .matmul(&on(&d, &randn(&[0, 4], 2)), false, false)
        .expect("opencl");
    assert_close("matmul k = 0", &want, &got, 0.0, 0.0);
}

/// (x shape, (O, kh, kw), stride, padding)
type ConvCase = (&'static [usize], (usize, usize, usize), usize, usize);

const CONV_CASES: [ConvCase; 13] = [
    (&[1, 1, 1, 1], (1, 1, 1), 1, 0),
    (&[1, 1, 5, 5], (1, 3, 3), 1, 1),
    (&[2, 3, 7, 9], (5, 3, 3), 1, 1),
    (&[2, 3, 7, 9], (4, 3, 2), 2, 0),
    (&[3, 2, 11, 6], (3, 5, 3), 3, 2),
    (&[1, 4, 6, 6], (2, 6, 6), 1, 0),
    // rows wider than a work-group's 64 columns
    (&[2, 2, 3, 70], (3, 3, 3), 1, 1),
    // batch 100 (past a work-group's 64 images), odd sizes, stride 2,
    // padding 2, kh ≠ kw
    (&[100, 3, 9, 7], (4, 2, 3), 2, 2),
    // stride 2, padding 1, a one-column kernel
    (&[1, 3, 10, 10], (2, 3, 1), 2, 1),
    // stride past the kernel (inputs no window reads), 65 images
    (&[65, 2, 5, 8], (3, 2, 2), 3, 1),
    // a 1×1 image: most windows lie wholly in the padding
    (&[1, 2, 1, 1], (2, 5, 3), 1, 2),
    // cnn-mnist's two convolutions at batch 100 and 3
    (&[100, 1, 28, 28], (32, 3, 3), 1, 1),
    (&[3, 32, 14, 14], (64, 3, 3), 1, 1),
];

#[test]
fn conv2d_matches_cpu() {
    let d = device_or_skip!();
    for (shape, (o, kh, kw), stride, padding) in CONV_CASES {
        let c = shape[1];
        let x = randn(shape, 29);
        let w = randn(&[o, c, kh, kw], 30);
        let geom = ConvGeometry::new(shape, o, (kh, kw), c, stride, padding).expect("geometry");
        let what = format!(
            "conv2d x {shape:?} w {:?} stride {stride} pad {padding}",
            w.shape()
        );
        let want = cpu(&x).conv2d(&cpu(&w), &geom).expect("cpu");
        let got = on(&d, &x).conv2d(&on(&d, &w), &geom).expect("opencl");
        assert_close(&what, &want, &got, 0.0, sum_tol(geom.patch(), 4.0));
    }
}

#[test]
fn conv2d_bias_relu_matches_cpu() {
    let d = device_or_skip!();
    for (shape, (o, kh, kw), stride, padding) in CONV_CASES {
        let c = shape[1];
        let x = randn(shape, 34);
        let w = randn(&[o, c, kh, kw], 35);
        let b = randn(&[o], 36);
        let geom = ConvGeometry::new(shape, o, (kh, kw), c, stride, padding).expect("geometry");
        let what = format!(
            "conv2d_bias_relu x {shape:?} w {:?} stride {stride} pad {padding}",
            w.shape()
        );
        let want = cpu(&x)
            .conv2d_bias_relu(&cpu(&w), &cpu(&b), &geom)
            .expect("cpu");
        let got = on(&d, &x)
            .conv2d_bias_relu(&on(&d, &w), &on(&d, &b), &geom)
            .expect("opencl");
        assert_close(&what, &want, &got, 0.0, sum_tol(geom.patch(), 4.0));
    }
}

#[test]
fn conv2d_backward_matches_cpu() {
    let d = device_or_skip!();
    for (shape, (o, kh, kw), stride, padding) in CONV_CASES {
        let c = shape[1];
        let x = randn(shape, 31);
        let w = randn(&[o, c, kh, kw], 32);
        let geom = ConvGeometry::new(shape, o, (kh, kw), c, stride, padding).expect("geometry");
        let g = randn(&geom.out_shape(), 33);
        let what = format!(
            "conv2d backward x {shape:?} w {:?} stride {stride} pad {padding}",
            w.shape()
        );
        for (want_x, want_w) in [(true, true), (true, false), (false, true)] {
            let (wx, ww) = cpu(&x)
                .conv2d_backward(&cpu(&w), &cpu(&g), &geom, want_x, want_w)
                .expect("cpu");
            let (gx, gw) = on(&d, &x)
                .conv2d_backward(&on(&d, &w), &on(&d, &g), &geom, want_x, want_w)
                .expect("opencl");
            assert_eq!(wx.is_some(), gx.is_some());
            assert_eq!(ww.is_some(), gw.is_some());
            if let (Some(wx), Some(gx)) = (wx, gx) {
                assert_close(
                    &format!("{what} dx"),
                    &wx,
                    &gx,
                    0.0,
                    sum_tol(o * kh * kw, 4.0),
                );
            }
            if let (Some(ww), Some(gw)) = (ww, gw) {
                let k = shape[0] * geom.rows_per_image();
                assert_close(&format!("{what} dw"), &ww, &gw, 0.0, sum_tol(k, 4.0));
            }
        }
    }
}

/// (x shape, k, stride): non-overlapping, overlapping (stride < k), ragged
/// edges (H - k not a multiple of the stride), 1×1 windows, a window as big
/// as the input, output rows wider than a work-group's 64 columns, and cnn-mnist's first pool at batch 100.
const POOL_CASES: [(&[usize], usize, usize); 9] = [
    (&[1, 1, 1, 1], 1, 1),
    (&[1, 1, 4, 4], 2, 2),
    (&[2, 3, 7, 9], 2, 2),
    (&[2, 3, 7, 9], 3, 2),
    (&[2, 3, 7, 9], 3, 1),
    (&[1, 2, 5, 5], 5, 1),
    (&[3, 2, 9, 6], 2, 3),
    (&[1, 2, 5, 140], 2, 2),
    (&[100, 32, 28, 28], 2, 2),
];

#[test]
fn max_pool2d_matches_cpu() {
    let d = device_or_skip!();
    for (shape, k, stride) in POOL_CASES {
        // ties everywhere: the first maximum in row-major order wins
        let x = tied(shape, 37);
        let what = format!("max_pool2d {shape:?} k {k} stride {stride}");
        let (wv, wi) = cpu(&x).max_pool2d(k, stride).expect("cpu");
        let (gv, gi) = on(&d, &x).max_pool2d(k, stride).expect("opencl");
        assert_close(&what, &wv, &gv, 0.0, 0.0);
        assert_eq!(indices(&wi), indices(&gi), "{what}: winners");
        // the backward: each window's gradient to its winner, overlaps adding
        let g = randn(wv.shape(), 38);
        let want = cpu(&g).scatter_add(&wi, shape).expect("cpu");
        let got = on(&d, &g).scatter_add(&gi, shape).expect("opencl");
        assert_close(
            &format!("{what} backward"),
            &want,
            &got,
            1e-6,
            sum_tol(k * k, 2.0),
        );
    }
}

#[test]
fn avg_pool2d_matches_cpu() {
    let d = device_or_skip!();
    for (shape, k, stride) in POOL_CASES {
        let x = randn(shape, 41);
        let what = format!("avg_pool2d {shape:?} k {k} stride {stride}");
        let want = cpu(&x).avg_pool2d(k, stride).expect("cpu");
        let got = on(&d, &x).avg_pool2d(k, stride).expect("opencl");
        assert_close(
            &what,
            &want,
            &got,
            1e-6,
            sum_tol(k * k, 2.0) / (k * k) as f32,
        );
        let g = randn(want.shape(), 42);
        let want_b = cpu(&g).avg_pool2d_backward(shape, k, stride).expect("cpu");
        let got_b = on(&d, &g)
            .avg_pool2d_backward(shape, k, stride)
            .expect("opencl");
        assert_close(
            &format!("{what} backward"),
            &want_b,
            &got_b,
            1e-6,
            sum_tol(k * k, 2.0),
        );
    }
}

/// Run `rule_at(step)` for a few steps on both devices from the same start
/// and compare the parameter and every state buffer after each step.
fn check_updates(d: &Device, what: &str, n_state: usize, rule_at: impl Fn(u32) -> UpdateRule) {
    for shape in [vec![1], vec![7, 13], vec![32, 1, 3, 3]] {
        let p0 = randn(&shape, 43);
        let (mut pc, mut pd) = (cpu(&p0), on(d, &p0));
        let zeros = Array::zeros(IxDyn(&shape));
        let mut sc: Vec<Storage> = (0..n_state).map(|_| cpu(&zeros)).collect();
        let mut sd: Vec<Storage> = (0..n_state).map(|_| on(d, &zeros)).collect();
        for step in 1..=4u32 {
            let g = randn(&shape, 44 + u64::from(step));
            let rule = rule_at(step);
            pc.update(&cpu(&g), &mut sc, &rule).expect("cpu");
            pd.update(&on(d, &g), &mut sd, &rule).expect("opencl");
            let at = format!("{what} {shape:?} step {step}");
            assert_close(&at, &pc, &pd, 1e-5, 1e-6);
            for (i, (a, b)) in sc.iter().zip(&sd).enumerate() {
                assert_close(&format!("{at} state {i}"), a, b, 1e-5, 1e-6);
            }
        }
    }
}

#[test]
fn update_sgd_matches_cpu() {
    let d = device_or_skip!();
    check_updates(&d, "sgd plain", 0, |_| UpdateRule::Sgd {
        lr: 0.1,
        momentum: 0.0,
        dampening: 0.0,
        weight_decay: 0.0,
        nesterov: false,
        first: false,
    });
    for (momentum, dampening, weight_decay, nesterov) in [
        (0.9, 0.0, 0.0, false),
        (0.9, 0.1, 0.01, false),
        (0.8, 0.0, 0.05, true),
    ] {
        check_updates(
            &d,
            &format!("sgd μ {momentum} τ {dampening} λ {weight_decay} nesterov {nesterov}"),
            1,
            |step| UpdateRule::Sgd {
                lr: 0.05,
                momentum,
                dampening,
                weight_decay,
                nesterov,
                first: step == 1,
            },
        );
    }
}

fn adam_rule(step: u32, weight_decay: f32, decoupled: bool) -> UpdateRule {
    let (lr, beta1, beta2) = (1e-2f32, 0.9f32, 0.999f32);
    let t = f64::from(step);
    UpdateRule::Adam {
        lr,
        beta1,
        beta2,
        eps: 1e-8,
        weight_decay,
        decoupled,
        step_size: (f64::from(lr) / (1.0 - f64::from(beta1).powf(t))) as f32,
        bias_correction2_sqrt: (1.0 - f64::from(beta2).powf(t)).sqrt() as f32,
    }
}

#[test]
fn update_adam_matches_cpu() {
    let d = device_or_skip!();
    check_updates(&d, "adam", 2, |s| adam_rule(s, 0.0, false));
    check_updates(&d, "adam L2", 2, |s| adam_rule(s, 0.01, false));
    check_updates(&d, "adamw", 2, |s| adam_rule(s, 0.01, true));
}

#[test]
fn update_rmsprop_matches_cpu() {
    let d = device_or_skip!();
    for (momentum, centered, weight_decay) in [
        (0.0, false, 0.0),
        (0.9, false, 0.01),
        (0.0, true, 0.0),
        (0.5, true, 0.1),
    ] {
        check_updates(
            &d,
            &format!("rmsprop μ {momentum} centered {centered} λ {weight_decay}"),
            3,
            |_| UpdateRule::Rmsprop {
                lr: 0.01,
                alpha: 0.99,
                eps: 1e-8,
                weight_decay,
                momentum,
                centered,
            },
        );
    }
}

#[test]
fn update_adagrad_matches_cpu() {
    let d = device_or_skip!();
    for weight_decay in [0.0, 0.1] {
        check_updates(&d, &format!("adagrad λ {weight_decay}"), 1, |step| {
            UpdateRule::Adagrad {
                clr: 0.1 / (1.0 + (step - 1) as f32 * 0.01),
                eps: 1e-10,
                weight_decay,
            }
        });
    }
}

/// Run by `no_platform_is_a_clear_error` in a child process whose ICD loader
/// finds no vendor files: every entry point must return a clear error.
#[test]
#[ignore = "run by no_platform_is_a_clear_error in a child process"]
fn probe_without_platforms() {
    if std::env::var("DL_LAB_OPENCL_PROBE").as_deref() != Ok("1") {
        return;
    }
    for err in [
        opencl::list_devices().map(|_| ()).expect_err("no platform"),
        opencl::first_gpu().map(|_| ()).expect_err("no platform"),
        ClDevice::open(None).map(|_| ()).expect_err("no platform"),
    ] {
        let msg = err.to_string();
        assert!(matches!(err, dl_lab::Error::OpenCl { .. }), "{msg}");
        assert!(msg.contains("pocl-opencl-icd"), "{msg}");
    }
    println!("PROBE-OK");
}

#[test]
fn no_platform_is_a_clear_error() {
    // Needs the ICD loader (the skip only matters where OpenCL is absent anyway).
    if common::opencl_device().is_none() {
        return;
    }
    let empty = common::TempDir::new("no-icd-vendors");
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "probe_without_platforms",
            "--ignored",
            "--nocapture",
        ])
        .env("OCL_ICD_VENDORS", empty.path())
        .env("DL_LAB_OPENCL_PROBE", "1")
        .output()
        .expect("run the probe");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("PROBE-OK"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One cnn-mnist training step (batch 100) written with storage operations
/// only, as the engine will issue them: conv 1→32 3×3 pad 1, ReLU, max-pool 2,
/// conv 32→64 3×3 pad 1, ReLU, max-pool 2, Linear 3136→10, log-softmax
/// cross-entropy, the backward, Adam on the six parameters, and the loss read
/// back. Prints ms per step and images per second on each device, and with
/// `DL_LAB_PROFILE=1` the time of each op (waiting after each one, so the
/// total is then a little higher). Not a pass/fail test:
/// `cargo test --release --test opencl_parity -- --ignored --nocapture cnn_mnist`.
#[test]
#[ignore = "a benchmark: prints figures"]
fn cnn_mnist_step_timing() {
    let cl = device_or_skip!();
    let steps: usize = std::env::var("DL_LAB_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    for d in [Device::Cpu, cl] {
        let mut step = CnnStep::new(&d);
        for _ in 0..2 {
            step.run(false);
        }
        let t = std::time::Instant::now();
        for _ in 0..steps {
            step.run(false);
        }
        let per = t.elapsed().as_secs_f64() / steps as f64;
        println!(
            "cnn-mnist step on {}: {:.1} ms/step, {:.0} img/s (loss {:.4})",
            d.name(),
            per * 1e3,
            100.0 / per,
            step.last_loss
        );
        if std::env::var("DL_LAB_PROFILE").as_deref() == Ok("1") {
            step.run(true);
        }
    }
}

struct CnnStep {
    d: Device,
    params: Vec<Storage>,
    state: Vec<Vec<Storage>>,
    x: Array,
    neg_onehot: Storage,
    t: u32,
    last_loss: f32,
}

impl CnnStep {
    fn new(d: &Device) -> CnnStep {
        let shapes: [&[usize]; 6] = [
            &[32, 1, 3, 3],
            &[1, 32, 1, 1],
            &[64, 32, 3, 3],
            &[1, 64, 1, 1],
            &[10, 3136],
            &[10],
        ];
        let params: Vec<Storage> = shapes
            .iter()
            .enumerate()
            .map(|(i, s)| on(d, &values(s, 100 + i as u64, -0.05, 0.05)))
            .collect();
        let state = shapes
            .iter()
            .map(|s| (0..2).map(|_| on(d, &Array::zeros(IxDyn(s)))).collect())
            .collect();
        let mut onehot = Array::zeros(IxDyn(&[100, 10]));
        for i in 0..100 {
            onehot[[i, (i * 7) % 10]] = -1.0 / 100.0;
        }
        CnnStep {
            d: d.clone(),
            params,
            state,
            x: values(&[100, 1, 28, 28], 99, 0.0, 1.0),
            neg_onehot: on(d, &onehot),
            t: 0,
            last_loss: 0.0,
        }
    }

    fn run(&mut self, profile: bool) {
        let d = self.d.clone();
        let mut last = std::time::Instant::now();
        let mut mark = |what: &str, s: &Storage| {
            if profile {
                if let Device::OpenCl(c) = &d {
                    c.synchronize().expect("finish");
                }
                let _ = s.shape();
                println!("  {what:<24} {:7.2} ms", last.elapsed().as_secs_f64() * 1e3);
                last = std::time::Instant::now();
            }
        };
        let p = &self.params;
        let g1 = ConvGeometry::new(&[100, 1, 28, 28], 32, (3, 3), 1, 1, 1).expect("geometry");
        let g2 = ConvGeometry::new(&[100, 32, 14, 14], 64, (3, 3), 32, 1, 1).expect("geometry");
        let x = on(&d, &self.x);
        mark("upload x", &x);
        let c1 = x.conv2d(&p[0], &g1).expect("conv1");
        mark("conv1", &c1);
        let a1 = c1
            .binary(&p[1], BinaryOp::Add, &[100, 32, 28, 28])
            .expect("bias1");
        mark("bias1", &a1);
        let r1 = a1.unary(UnaryOp::Relu).expect("relu1");
        mark("relu1", &r1);
        let (p1, i1) = r1.max_pool2d(2, 2).expect("pool1");
        mark("pool1", &p1);
        let c2 = p1.conv2d(&p[2], &g2).expect("conv2");
        mark("conv2", &c2);
        let a2 = c2
            .binary(&p[3], BinaryOp::Add, &[100, 64, 14, 14])
            .expect("bias2");
        mark("bias2", &a2);
        let r2 = a2.unary(UnaryOp::Relu).expect("relu2");
        mark("relu2", &r2);
        let (p2, i2) = r2.max_pool2d(2, 2).expect("pool2");
        mark("pool2", &p2);
        let f = p2.reshape(&[100, 3136]).expect("flatten");
        let z = f.matmul(&p[4], false, true).expect("linear");
        mark("linear", &z);
        let logits = z.binary(&p[5], BinaryOp::Add, &[100, 10]).expect("bias3");
        let y = logits.log_softmax(1).expect("log_softmax");
        mark("log_softmax", &y);
        let loss = y
            .binary(&self.neg_onehot, BinaryOp::Mul, &[100, 10])
            .and_then(|l| l.sum_axes(&[0, 1], false))
            .expect("loss");
        self.last_loss = loss.to_host().expect("loss")[[]];
        mark("loss (read back)", &loss);
        // backward
        let dlogits = y
            .log_softmax_backward(&self.neg_onehot, 1)
            .expect("dlogits");
        let db3 = dlogits.sum_to_shape(&[10]).expect("db3");
        let dw3 = dlogits.matmul(&f, true, false).expect("dw3");
        let df = dlogits.matmul(&p[4], false, false).expect("df");
        mark("linear backward", &df);
        let dp2 = df.reshape(&[100, 64, 7, 7]).expect("unflatten");
        let dr2 = dp2
            .scatter_add(&i2, &[100, 64, 14, 14])
            .expect("pool2 backward");
        mark("pool2 backward", &dr2);
        let da2 = a2
            .unary_backward(dr2, UnaryOp::Relu)
            .expect("relu2 backward");
        mark("relu2 backward", &da2);
        let db2 = da2.sum_to_shape(&[1, 64, 1, 1]).expect("db2");
        mark("bias2 backward", &db2);
        let (dp1, dw2) = p1
            .conv2d_backward(&p[2], &da2, &g2, true, true)
            .expect("conv2 backward");
        mark("conv2 backward", &da2);
        let dr1 = dp1
            .expect("dx")
            .scatter_add(&i1, &[100, 32, 28, 28])
            .expect("pool1 backward");
        mark("pool1 backward", &dr1);
        let da1 = a1
            .unary_backward(dr1, UnaryOp::Relu)
            .expect("relu1 backward");
        mark("relu1 backward", &da1);
        let db1 = da1.sum_to_shape(&[1, 32, 1, 1]).expect("db1");
        mark("bias1 backward", &db1);
        let (_, dw1) = x
            .conv2d_backward(&p[0], &da1, &g1, false, true)
            .expect("conv1 backward");
        mark("conv1 backward", &db1);
        let grads = [dw1.expect("dw1"), db1, dw2.expect("dw2"), db2, dw3, db3];
        self.t += 1;
        let rule = adam_rule(self.t, 0.0, false);
        for ((param, grad), st) in self.params.iter_mut().zip(&grads).zip(&mut self.state) {
            param.update(grad, st, &rule).expect("adam");
        }
        mark("adam", &self.params[0]);
    }
}

/// Times of single operations at cnn-mnist's sizes (each waited for), to
/// see where a training step's time goes. Not a pass/fail test.
#[test]
#[ignore = "a benchmark: prints figures"]
fn op_timing() {
    let d = device_or_skip!();
    let Device::OpenCl(cl) = &d else {
        unreachable!()
    };
    // DL_LAB_ONLY=text times only the ops whose name contains it;
    // DL_LAB_REPS=n (default 5) repeats. The process's CPU time (all
    // threads, from /proc/self/stat) is printed next to the wall time: on a
    // machine shared with other jobs it varies less.
    let only = std::env::var("DL_LAB_ONLY").unwrap_or_default();
    let reps: usize = std::env::var("DL_LAB_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let cpu_ms = || -> f64 {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let after = stat.rsplit(')').next().unwrap_or("");
        let f: Vec<f64> = after
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0.0))
            .collect();
        // utime and stime are fields 14 and 15 (12 and 13 after the name), in ticks of 10 ms
        f.get(11)
            .zip(f.get(12))
            .map_or(0.0, |(u, s)| (u + s) * 10.0)
    };
    let time = |what: &str, f: &dyn Fn() -> Storage| {
        if !what.contains(only.as_str()) {
            return;
        }
        let _ = f();
        cl.synchronize().expect("finish");
        let (t, c) = (std::time::Instant::now(), cpu_ms());
        for _ in 0..reps {
            let _ = f();
        }
        cl.synchronize().expect("finish");
        println!(
            "  {what:<40} {:8.2} ms {:8.2} ms cpu",
            t.elapsed().as_secs_f64() * 1e3 / reps as f64,
            (cpu_ms() - c) / reps as f64
        );
    };
    let big = on(&d, &randn(&[100, 32, 28, 28], 1));
    let big2 = on(&d, &randn(&[100, 32, 28, 28], 2));
    let bias = on(&d, &randn(&[1, 32, 1, 1], 3));
    time("zeros (100,32,28,28)", &|| {
        big.zeros_like(&[100, 32, 28, 28]).expect("zeros")
    });
    time("clone (100,32,28,28)", &|| big.try_clone().expect("clone"));
    time("relu (32 elements)", &|| {
        bias.unary(UnaryOp::Relu).expect("relu")
    });
    time("relu (100,32,28,28)", &|| {
        big.unary(UnaryOp::Relu).expect("relu")
    });
    time("exp (100,32,28,28)", &|| {
        big.unary(UnaryOp::Exp).expect("exp")
    });
    time("add same (100,32,28,28)", &|| {
        big.binary(&big2, BinaryOp::Add, &[100, 32, 28, 28])
            .expect("add")
    });
    time("add bias (100,32,28,28)+(1,32,1,1)", &|| {
        big.binary(&bias, BinaryOp::Add, &[100, 32, 28, 28])
            .expect("add")
    });
    time("sum_to_shape -> (1,32,1,1)", &|| {
        big.sum_to_shape(&[1, 32, 1, 1]).expect("sum")
    });
    time("max_pool 2x2", &|| big.max_pool2d(2, 2).expect("pool").0);
    time("permute (1,0,2,3)", &|| {
        big.permute(&[1, 0, 2, 3]).expect("permute")
    });
    for (m, n, k, ta, tb) in [
        (64, 19600, 288, false, false),
        (64, 288, 19600, false, true),
        (288, 19600, 64, true, false),
        (32, 78400, 9, false, false),
        (32, 9, 78400, false, true),
        (100, 10, 3136, false, true),
        (10, 3136, 100, true, false),
    ] {
        let a = on(&d, &randn(&if ta { [k, m] } else { [m, k] }, 5));
        let b = on(&d, &randn(&if tb { [n, k] } else { [k, n] }, 6));
        let what = format!("matmul {m}x{n}x{k} ta {ta} tb {tb}");
        time(&what, &|| a.matmul(&b, ta, tb).expect("matmul"));
    }
    let x2 = on(&d, &randn(&[100, 32, 14, 14], 7));
    let w2 = on(&d, &randn(&[64, 32, 3, 3], 8));
    let g2 = ConvGeometry::new(&[100, 32, 14, 14], 64, (3, 3), 32, 1, 1).expect("geometry");
    let gout = on(&d, &randn(&g2.out_shape(), 9));
    time("conv2 forward", &|| x2.conv2d(&w2, &g2).expect("conv"));
    // one output channel: almost all of it is im2col (no transpose is needed)
    let w1 = on(&d, &randn(&[1, 32, 3, 3], 8));
    let g21 = ConvGeometry::new(&[100, 32, 14, 14], 1, (3, 3), 32, 1, 1).expect("geometry");
    time("conv2 forward, 1 output channel", &|| {
        x2.conv2d(&w1, &g21).expect("conv")
    });
    time("conv2 backward dx", &|| {
        x2.conv2d_backward(&w2, &gout, &g2, true, false)
            .expect("conv")
            .0
            .expect("dx")
    });
    time("conv2 backward dw", &|| {
        x2.conv2d_backward(&w2, &gout, &g2, false, true)
            .expect("conv")
            .1
            .expect("dw")
    });
}
