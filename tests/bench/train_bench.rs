//! Train the course's cnn-mnist model for a few batches on the CPU engine and
//! on the first OpenCL device, one after the other in the same process, and
//! print images per second for each: the real training loop (the lesson's
//! layers built by `nn::spec::build_model`, parameters moved with
//! `Tensor::move_to`, each batch moved with `Tensor::to`, cross-entropy, Adam
//! lr 1e-3, `loss.item()` the only read-back).
//!
//! `cargo run --release --example train_bench [-- BATCHES [ROUNDS]]` (the file
//! lives in tests/bench/). BATCHES (default 20) batches of 100 from the
//! shipped sample are timed per round after two warm-up batches; ROUNDS
//! (default 3) rounds alternate CPU and OpenCL, and the median of each is
//! printed. Both devices start from the same weights (seed 1), so their
//! losses should agree to a few decimals. On a shared machine, look at
//! `/proc/loadavg` too.
//!
//! `-- BATCHES ROUNDS ab` instead times two CPU runs alternately: the model's
//! own forward (Conv2d → ReLU → MaxPool2d fused into one op) against the
//! layers with only Conv2d → ReLU fused (the path before that op), with
//! wall and CPU ms per batch: an A/B in one process for the fused pool's
//! backward. Their losses agree to rounding (the bias gradient sums in
//! another order).

use std::time::Instant;

#[path = "cpu_time.rs"]
mod cpu_time;
use cpu_time::cpu_seconds;

use dl_lab::backend::{opencl, Device};
use dl_lab::data::mnist::Mnist;
use dl_lab::lessons::{self, Task};
use dl_lab::nn::{self, Module};
use dl_lab::optim::{Adam, AdamConfig, Optimizer};
use dl_lab::{Result, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;

const BATCH: usize = 100;

struct Run {
    model: nn::Sequential,
    opt: Adam,
    device: Device,
    next: usize,
    /// run the layers with only Conv2d → ReLU fused (see `forward_apart`)
    apart: bool,
}

impl Run {
    fn new(device: Device) -> Result<Run> {
        let lesson = lessons::find("cnn-mnist")?;
        let Task::Classifier {
            layers,
            input_shape,
        } = &lesson.task
        else {
            unreachable!("cnn-mnist is a classifier")
        };
        let mut rng = StdRng::seed_from_u64(1);
        let model = nn::spec::build_model(layers, input_shape, &mut rng)?;
        for p in model.parameters() {
            p.move_to(&device)?;
        }
        let config = AdamConfig {
            lr: 1e-3,
            ..AdamConfig::default()
        };
        let opt = Adam::new(model.parameters(), config)?;
        Ok(Run {
            model,
            opt,
            device,
            next: 0,
            apart: false,
        })
    }

    /// One training step on the next batch; returns the loss.
    fn step(&mut self, data: &Mnist) -> Result<f32> {
        let set = &data.train;
        let n = set.len() / BATCH;
        let start = (self.next % n) * BATCH;
        self.next += 1;
        let images = set
            .images
            .slice(ndarray::s![start..start + BATCH, ..])
            .mapv(dl_lab::data::mnist::scale)
            .into_shape_with_order((BATCH, 1, set.rows, set.cols))
            .expect("rows × cols pixels per image")
            .into_dyn();
        let labels: Vec<usize> = set.labels[start..start + BATCH]
            .iter()
            .map(|&l| usize::from(l))
            .collect();
        let x = Tensor::new(images).to(&self.device)?;
        self.opt.zero_grad();
        let logits = if self.apart {
            forward_apart(&self.model, &x)?
        } else {
            self.model.forward(&x)?
        };
        let loss = nn::cross_entropy(&logits, &labels)?;
        loss.backward()?;
        self.opt.step()?;
        Ok(loss.item())
    }
}

/// The layers in order, a layer followed by ReLU fused where it has a fused
/// op, a max pool after it kept apart: `Sequential::forward` before
/// Conv2d → ReLU → MaxPool2d was one op.
fn forward_apart(model: &nn::Sequential, x: &Tensor) -> Result<Tensor> {
    let (mut h, mut i) = (x.clone(), 0);
    while let Some(layer) = model.layers.get(i) {
        let next_is_relu = model.layers.get(i + 1).is_some_and(|l| l.is_relu());
        match next_is_relu.then(|| layer.forward_relu(&h)).flatten() {
            Some(fused) => (h, i) = (fused?, i + 2),
            None => (h, i) = (layer.forward(&h)?, i + 1),
        }
    }
    Ok(h)
}

/// Fused pool (A) against the layers apart (B), on the CPU, alternating.
fn ab(data: &Mnist, batches: usize, rounds: usize) -> Result<()> {
    let mut runs = [Run::new(Device::Cpu)?, Run::new(Device::Cpu)?];
    runs[1].apart = true;
    let names = ["fused pool", "pool apart"];
    let mut losses = [Vec::new(), Vec::new()];
    for (run, l) in runs.iter_mut().zip(&mut losses) {
        for _ in 0..2 {
            l.push(run.step(data)?);
        }
    }
    let (mut wall, mut cpu) = ([vec![], vec![]], [vec![], vec![]]);
    for round in 0..rounds {
        // each goes first in turn
        for i in [round % 2, 1 - round % 2] {
            let (t, c0) = (Instant::now(), cpu_seconds());
            for _ in 0..batches {
                losses[i].push(runs[i].step(data)?);
            }
            let per = |s: f64| s * 1e3 / batches as f64;
            wall[i].push(per(t.elapsed().as_secs_f64()));
            cpu[i].push(per(cpu_seconds() - c0));
            println!(
                "round {round} {:<10} {:7.2} ms/batch wall {:7.2} CPU ms/batch (loss {:.4})",
                names[i],
                wall[i][round],
                cpu[i][round],
                losses[i].last().copied().unwrap_or(f32::NAN)
            );
        }
    }
    for i in 0..2 {
        println!(
            "median {:<10} {:7.2} ms/batch wall {:7.2} CPU ms/batch over {rounds} rounds of {batches}; losses at batch 1, 10, last: {:.4} {:.4} {:.4}",
            names[i],
            median(&mut wall[i]),
            median(&mut cpu[i]),
            losses[i][0],
            losses[i].get(9).copied().unwrap_or(f32::NAN),
            losses[i].last().copied().unwrap_or(f32::NAN),
        );
    }
    Ok(())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    v[v.len() / 2]
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let batches: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20);
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    let data = Mnist::shipped()?;
    if args.next().as_deref() == Some("ab") {
        return ab(&data, batches, rounds);
    }
    let mut devices = vec![Device::Cpu];
    match opencl::ClDevice::open(None) {
        Ok(d) => devices.push(Device::OpenCl(d)),
        Err(e) => println!("no OpenCL device: {e}"),
    }
    let mut runs: Vec<Run> = devices.into_iter().map(Run::new).collect::<Result<_>>()?;
    let mut losses = vec![Vec::new(); runs.len()];
    for (run, l) in runs.iter_mut().zip(&mut losses) {
        for _ in 0..2 {
            l.push(run.step(&data)?);
        }
    }
    let mut rates = vec![Vec::new(); runs.len()];
    for round in 0..rounds {
        for (i, run) in runs.iter_mut().enumerate() {
            let t = Instant::now();
            for _ in 0..batches {
                losses[i].push(run.step(&data)?);
            }
            let s = t.elapsed().as_secs_f64();
            let rate = (batches * BATCH) as f64 / s;
            println!(
                "round {round} {:<12} {:7.1} ms/batch {:7.0} img/s (loss {:.4})",
                short(&run.device),
                s * 1e3 / batches as f64,
                rate,
                losses[i].last().copied().unwrap_or(f32::NAN)
            );
            rates[i].push(rate);
        }
    }
    for (i, run) in runs.iter().enumerate() {
        println!(
            "median {:<12} {:7.0} img/s over {rounds} rounds of {batches} batches; losses at batch 1, 10, last: {:.4} {:.4} {:.4}",
            short(&run.device),
            median(&mut rates[i]),
            losses[i][0],
            losses[i].get(9).copied().unwrap_or(f32::NAN),
            losses[i].last().copied().unwrap_or(f32::NAN),
        );
    }
    if let Ok(l) = std::fs::read_to_string("/proc/loadavg") {
        println!("loadavg: {}", l.trim());
    }
    Ok(())
}

fn short(d: &Device) -> String {
    match d {
        Device::Cpu => "cpu".into(),
        _ => "opencl".into(),
    }
}
