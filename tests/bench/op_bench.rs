//! Time the course CNN's ops one at a time at batch 100, forward and
//! backward: where a training step's time goes, without a profiler.
//!
//! `cargo run --release --example op_bench [-- REPEATS [kernels]]` (the file
//! lives in tests/bench/); `kernels` times only the conv 32→64 kernels.
//!
//! Each figure is the best of REPEATS runs (default 20), in milliseconds. An
//! op's backward time is the backward pass of the graph up to that op minus
//! the one up to the op before, so it is the op's rule plus its share of the
//! graph walk. On a machine shared with compilers the figures are noisy:
//! compare two builds by running them one after the other, more than once.

use std::time::Instant;

#[path = "cpu_time.rs"]
mod cpu_time;
use cpu_time::cpu_seconds;

use dl_lab::engine::Array;
use dl_lab::{Result, Tensor};
use ndarray::IxDyn;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn random(rng: &mut StdRng, shape: &[usize]) -> Array {
    let n = shape.iter().product();
    Array::from_shape_vec(
        IxDyn(shape),
        (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect(),
    )
    .expect("sized by shape")
}

/// Best of `repeats` timings; `f` returns the seconds it wants counted.
fn best_ms(repeats: usize, mut f: impl FnMut() -> Result<f64>) -> Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..repeats {
        best = best.min(f()? * 1e3);
    }
    Ok(best)
}

/// One layer of the course's CNN, as a function of the previous output.
type Layer = (&'static str, Box<dyn Fn(&Tensor) -> Result<Tensor>>);

fn main() -> Result<()> {
    let repeats: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    // as `dl-lab` does at start-up: keep freed activations mapped for reuse
    dl_lab::backend::cpu::retain_freed_memory();
    let mut rng = StdRng::seed_from_u64(1);
    if std::env::args().nth(2).as_deref() == Some("kernels") {
        return conv_kernels(&mut rng, repeats);
    }
    let params: Vec<Tensor> = [
        &[32, 1, 3, 3][..],
        &[1, 32, 1, 1],
        &[64, 32, 3, 3],
        &[1, 64, 1, 1],
        &[3136, 10],
    ]
    .iter()
    .map(|s| Tensor::param(random(&mut rng, s)))
    .collect();
    let [w1, b1, w2, b2, wl] = <[Tensor; 5]>::try_from(params.clone()).expect("five parameters");
    let x = Tensor::new(random(&mut rng, &[100, 1, 28, 28]));
    let layers: Vec<Layer> = vec![
        ("conv 1→32", Box::new(move |h| h.conv2d(&w1, 1, 1))),
        ("bias add", Box::new(move |h| h.add(&b1))),
        ("relu", Box::new(|h| Ok(h.relu()))),
        ("max_pool", Box::new(|h| h.max_pool2d(2, 2))),
        ("conv 32→64", Box::new(move |h| h.conv2d(&w2, 1, 1))),
        ("bias add", Box::new(move |h| h.add(&b2))),
        ("relu", Box::new(|h| Ok(h.relu()))),
        ("max_pool", Box::new(|h| h.max_pool2d(2, 2))),
        ("flatten", Box::new(|h| h.flatten())),
        ("matmul 3136→10", Box::new(move |h| h.matmul(&wl))),
    ];
    let forward_to = |last: usize| -> Result<Tensor> {
        let mut h = x.clone();
        for (_, layer) in &layers[..=last] {
            h = layer(&h)?;
        }
        Ok(h)
    };

    println!("{:<16} {:>8} {:>8}", "op", "fwd ms", "bwd ms");
    let (mut input, mut bwd_before) = (x.clone(), 0.0);
    let (mut total_fwd, mut total_bwd) = (0.0, 0.0);
    for (i, (name, layer)) in layers.iter().enumerate() {
        let fwd = best_ms(repeats, || {
            let t = Instant::now();
            layer(&input)?;
            Ok(t.elapsed().as_secs_f64())
        })?;
        let bwd_to_here = best_ms(repeats, || {
            params.iter().for_each(Tensor::zero_grad);
            let loss = forward_to(i)?.sum();
            let t = Instant::now();
            loss.backward()?;
            Ok(t.elapsed().as_secs_f64())
        })?;
        let bwd = (bwd_to_here - bwd_before).max(0.0);
        println!("{name:<16} {fwd:>8.2} {bwd:>8.2}");
        (total_fwd, total_bwd, bwd_before) = (total_fwd + fwd, total_bwd + bwd, bwd_to_here);
        input = layer(&input)?;
    }
    println!("{:<16} {total_fwd:>8.2} {total_bwd:>8.2}", "total");
    conv_kernels(&mut rng, repeats)
}

/// The second conv's kernels side by side, alternating in one run: the
/// im2col + GEMM passes against Winograd F(2×2, 3×3) (forward, and dx), and
/// the forward with bias and ReLU fused into its output pass; then the
/// AVX-512 builds of the Winograd transforms and of 2×2 max pooling against
/// the plain ones (`cpu::use_avx512`), the pool on conv1's output; conv1's
/// memory-bound backward passes: ReLU's mask with the bias's sum in one pass
/// against the two ops, and max-pool's scatter; and the first conv's weight
/// gradient by im2col and by the direct kernel (0 where the CPU lacks AVX-512).
fn conv_kernels(rng: &mut StdRng, repeats: usize) -> Result<()> {
    use dl_lab::backend::cpu::conv::{conv2d_backward_im2col, conv2d_im2col};
    use dl_lab::backend::cpu::winograd::{self, Epilogue};
    use dl_lab::backend::cpu::{conv_grad, conv_grad_direct};
    use dl_lab::backend::ConvGeometry;
    let g = ConvGeometry::new(&[100, 32, 14, 14], 64, (3, 3), 32, 1, 1)?;
    let (x, w) = (
        random(rng, &[100, 32, 14, 14]),
        random(rng, &[64, 32, 3, 3]),
    );
    let gy = random(rng, &g.out_shape());
    let conv1_out = Tensor::param(random(rng, &[100, 32, 28, 28]));
    // the first conv's weight gradient: im2col against the direct kernel
    let g1 = ConvGeometry::new(&[100, 1, 28, 28], 32, (3, 3), 1, 1, 1)?;
    let (x1, w1) = (random(rng, &[100, 1, 28, 28]), random(rng, &[32, 1, 3, 3]));
    let gy1 = random(rng, &g1.out_shape());
    let (x1s, gy1s) = (
        x1.as_slice().expect("contiguous"),
        gy1.as_slice().expect("contiguous"),
    );
    let plain = |f: &dyn Fn()| {
        dl_lab::backend::cpu::use_avx512(false);
        f();
        dl_lab::backend::cpu::use_avx512(true);
    };
    let bias: Vec<f32> = (0..64).map(|i| i as f32 / 64.0).collect();
    let (xs, ws, gs) = (
        x.as_slice().expect("contiguous"),
        w.as_slice().expect("contiguous"),
        gy.as_slice().expect("contiguous"),
    );
    let fused = Epilogue {
        bias: Some(&bias),
        relu: true,
    };
    // conv1's output as ReLU leaves it (a third zeros) and a gradient for it,
    // and 2×2 pooling's winners on it: the memory-bound backward passes
    use dl_lab::backend::{Storage, UnaryOp};
    let (y1, dy1) = (
        Storage::Cpu(conv1_out.to_array().mapv(|v| v.max(0.0) - 0.3)),
        random(rng, &[100, 32, 28, 28]),
    );
    let (pooled, winners) = y1.max_pool2d(2, 2)?;
    let (gp, in_shape) = (
        Storage::Cpu(random(rng, pooled.shape())),
        y1.shape().to_vec(),
    );
    let fused_relu = || drop(y1.relu_backward_channel_sum(Storage::Cpu(dy1.clone()), true));
    let two_ops = || {
        let dz = y1.unary_backward(Storage::Cpu(dy1.clone()), UnaryOp::Relu);
        drop(dz.and_then(|dz| dz.sum_axes(&[0, 2, 3], false)));
    };
    let scatter = || drop(gp.scatter_add(&winners, &in_shape));
    // pool1's and relu1's backward together: the scatter then the mask over
    // the full tensor (the ops apart), or the mask over the pooled gradient
    // then the scatter (conv2d_bias_relu_max_pool2d's backward)
    let pool_relu_apart = || {
        let dz = gp.scatter_add(&winners, &in_shape);
        drop(dz.and_then(|dz| y1.relu_backward_channel_sum(dz, true)));
    };
    let pool_relu_fused = || {
        let dp = pooled.relu_backward_channel_sum(gp.try_clone().expect("copy"), true);
        drop(dp.and_then(|(dp, _)| dp.scatter_add(&winners, &in_shape)));
    };
    type Kernel<'a> = (&'static str, Box<dyn Fn() + 'a>);
    let kernels: Vec<Kernel<'_>> = vec![
        (
            "fwd im2col",
            Box::new(|| drop(conv2d_im2col(&x, &w, &g, Epilogue::default()))),
        ),
        (
            "fwd winograd",
            Box::new(|| drop(winograd::conv2d(xs, ws, &g, Epilogue::default()))),
        ),
        (
            "fwd+bias+relu wino",
            Box::new(|| drop(winograd::conv2d(xs, ws, &g, fused))),
        ),
        (
            "dx im2col",
            Box::new(|| drop(conv2d_backward_im2col(&x, &w, &gy, &g, true, false))),
        ),
        (
            "dx winograd",
            Box::new(|| drop(winograd::conv2d_input_grad(gs, ws, &g))),
        ),
        (
            "dw im2col",
            Box::new(|| drop(conv2d_backward_im2col(&x, &w, &gy, &g, false, true))),
        ),
        (
            "dw winograd",
            Box::new(|| drop(conv_grad::conv2d_weight_grad(xs, gs, &g))),
        ),
        (
            "dw wino no-avx512",
            Box::new(|| plain(&|| drop(conv_grad::conv2d_weight_grad(xs, gs, &g)))),
        ),
        (
            "fwd wino no-avx512",
            Box::new(|| plain(&|| drop(winograd::conv2d(xs, ws, &g, fused)))),
        ),
        (
            "dx wino no-avx512",
            Box::new(|| plain(&|| drop(winograd::conv2d_input_grad(gs, ws, &g)))),
        ),
        (
            "conv1 dw im2col",
            Box::new(|| drop(conv2d_backward_im2col(&x1, &w1, &gy1, &g1, false, true))),
        ),
        (
            "conv1 dw direct",
            Box::new(|| {
                if conv_grad_direct::applies(&g1) {
                    drop(conv_grad_direct::conv2d_weight_grad(x1s, gy1s, &g1))
                }
            }),
        ),
        ("pool1 fwd", Box::new(|| drop(conv1_out.max_pool2d(2, 2)))),
        (
            "pool1 fwd no-avx512",
            Box::new(|| plain(&|| drop(conv1_out.max_pool2d(2, 2)))),
        ),
        (
            "pool1 fwd no_grad",
            Box::new(|| drop(dl_lab::no_grad(|| conv1_out.max_pool2d(2, 2)))),
        ),
        ("relu1+bias bwd fused", Box::new(fused_relu)),
        ("relu1+bias bwd plain", Box::new(|| plain(&fused_relu))),
        ("relu1 bwd, then sum", Box::new(two_ops)),
        ("pool1 bwd scatter", Box::new(scatter)),
        ("pool1+relu1 bwd apart", Box::new(pool_relu_apart)),
        ("pool1+relu1 bwd fused", Box::new(pool_relu_fused)),
    ];
    // wall time, and the process's CPU time (less disturbed by other
    // programs on a shared machine: compare CPU ms with RAYON_NUM_THREADS=1)
    let (mut wall, mut cpu) = (
        vec![f64::INFINITY; kernels.len()],
        vec![f64::INFINITY; kernels.len()],
    );
    for _ in 0..repeats {
        for ((w, c), (_, f)) in wall.iter_mut().zip(cpu.iter_mut()).zip(&kernels) {
            let (t, c0) = (Instant::now(), cpu_seconds());
            f();
            *c = c.min((cpu_seconds() - c0) * 1e3);
            *w = w.min(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    println!("\nconv 32→64 kernels (batch 100), best of {repeats}, alternating:");
    println!("{:<22} {:>8} {:>8}", "kernel", "wall ms", "CPU ms");
    for ((w, c), (name, _)) in wall.iter().zip(&cpu).zip(&kernels) {
        println!("{name:<22} {w:>8.2} {c:>8.2}");
    }
    Ok(())
}
