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

use std::time::Instant;

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
        let logits = self.model.forward(&x)?;
        let loss = nn::cross_entropy(&logits, &labels)?;
        loss.backward()?;
        self.opt.step()?;
        Ok(loss.item())
    }
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
