//! Time the course CNN's ops one at a time at batch 100, forward and
//! backward: where a training step's time goes, without a profiler.
//!
//! `cargo run --release --example op_bench [-- REPEATS]` (the file lives in tests/bench/)
//!
//! Each figure is the best of REPEATS runs (default 20), in milliseconds. An
//! op's backward time is the backward pass of the graph up to that op minus
//! the one up to the op before, so it is the op's rule plus its share of the
//! graph walk. On a machine shared with compilers the figures are noisy:
//! compare two builds by running them one after the other, more than once.

use std::time::Instant;

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
    Ok(())
}
