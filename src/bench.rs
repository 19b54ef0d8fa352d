//! `dl-lab bench`: how fast a device runs what the course needs: matmul
//! GFLOP/s, the course CNN's conv layers (forward and backward, ms), the
//! cnn-mnist lesson's training and inference speed (images per second) and
//! the accuracy that training reached, and the small lessons' whole loops
//! (gd-scalar's 100,000 steps, mlp-regression's 10,000 epochs, in seconds, on
//! the CPU as `dl-lab run` runs them). The last three carry the key names of
//! `../shared/bench/torch_same_work.py`, which does the same work in PyTorch
//! (`tests/bench/compare_torch.py` runs both).
//!
//! Every figure comes after a warm-up run (first-touch page faults, OpenCL's
//! lazy buffer allocation). Matmul and conv time [`Storage`] operations on
//! inputs already on the device, so host↔device copies are left out; an
//! OpenCL queue runs asynchronously, so each timed run ends by reading one
//! number back (a sum of the result: a kernel and a 4-byte copy, small next
//! to the op). Training and inference time the real loop, each batch's copy
//! to the device included, as `dl-lab run` pays it.

use std::path::PathBuf;
use std::time::Instant;

use ndarray::IxDyn;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::backend::{ConvGeometry, Device, Storage};
use crate::data::loader::DataLoader;
use crate::data::mnist::Mnist;
use crate::engine::Array;
use crate::lessons::{self, SmallSession, Task};
use crate::nn::{cross_entropy, Module};
use crate::train::classifier::EVAL_BATCH;
use crate::train::{evaluate, ClassifierRun};
use crate::{no_grad, Error, Result};

/// The matrix sizes of the matmul figure.
pub const MATMUL_SIZES: [usize; 3] = [256, 1024, 2048];
/// Timed runs per matmul and conv figure (the median is reported).
pub const RUNS: usize = 5;
/// The training figure's batch size (the lesson's).
pub const TRAIN_BATCH: usize = 100;
/// At most this many timed training batches: one epoch of the shipped sample.
pub const TRAIN_BATCHES: usize = 40;
/// The inference figure's batch size.
pub const INFER_BATCH: usize = 1000;
/// At most this many timed inference batches.
pub const INFER_BATCHES: usize = 10;
/// gd-scalar's autograd steps (PyTorch's `gd_scalar_100k_s` does as many).
pub const GD_STEPS: usize = 100_000;
/// mlp-regression's full-batch epochs (as PyTorch's `mlp_10k_s`).
pub const MLP_EPOCHS: usize = 10_000;

/// A group of figures that `--only` can pick.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    Matmul,
    Conv,
    /// cnn-train, cnn-infer and cnn-test (one trained model serves all three)
    Cnn,
    GdScalar,
    Mlp,
}

/// What to measure, and on what.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    pub device: Device,
    /// The groups of figures to measure; empty: all of them.
    pub only: Vec<Part>,
    /// MNIST-format directory for the CNN figures; None: the shipped sample.
    pub data: Option<PathBuf>,
    /// One timed run per figure and two batches: a smoke test, not a measurement.
    pub quick: bool,
    /// Train cnn-train on every batch of one epoch (not at most
    /// [`TRAIN_BATCHES`]), so cnn-test is the accuracy of one epoch.
    pub full_epoch: bool,
}

/// Forward or backward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    Forward,
    Backward,
}

impl Pass {
    pub fn name(self) -> &'static str {
        match self {
            Pass::Forward => "forward",
            Pass::Backward => "backward",
        }
    }
}

/// One measured figure.
#[derive(Clone, Debug, PartialEq)]
pub enum Figure {
    Matmul {
        n: usize,
        gflops: f64,
    },
    Conv {
        layer: &'static str,
        pass: Pass,
        ms: f64,
    },
    /// `images` is how many images were timed.
    CnnTrain {
        batch: usize,
        img_per_s: f64,
        images: usize,
    },
    CnnInfer {
        batch: usize,
        img_per_s: f64,
        images: usize,
    },
    /// Accuracy on the `images` held-out images after cnn-train's training.
    CnnTest {
        images: usize,
        acc: f64,
    },
    /// gd-scalar's loop: `steps` steps timed, `secs` scaled to [`GD_STEPS`].
    GdScalar {
        steps: usize,
        secs: f64,
    },
    /// mlp-regression's loop: `epochs` epochs timed, `secs` scaled to
    /// [`MLP_EPOCHS`]; the cost of the last epoch.
    Mlp {
        epochs: usize,
        secs: f64,
        final_loss: f32,
    },
}

/// `v` rounded to `digits` decimals (JSON readers need no 17-digit noise).
fn round(v: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (v * scale).round() / scale
}

impl Figure {
    /// The figure as one `--json` line's object, fields in this order.
    pub fn json(&self, device: &Device) -> Value {
        let device = device.name();
        match self {
            Figure::Matmul { n, gflops } => {
                json!({"bench": "matmul", "device": device, "n": n, "gflops": round(*gflops, 3)})
            }
            Figure::Conv { layer, pass, ms } => json!({
                "bench": "conv", "device": device, "layer": layer, "pass": pass.name(), "ms": round(*ms, 4)
            }),
            Figure::CnnTrain {
                batch, img_per_s, ..
            } => {
                json!({"bench": "cnn-train", "device": device, "batch": batch, "img_per_s": round(*img_per_s, 1)})
            }
            Figure::CnnInfer {
                batch, img_per_s, ..
            } => {
                json!({"bench": "cnn-infer", "device": device, "batch": batch, "img_per_s": round(*img_per_s, 1)})
            }
            Figure::CnnTest { images, acc } => {
                json!({"bench": "cnn-test", "device": device, "images": images, "cnn_test_acc": round(*acc, 4)})
            }
            // the small lessons always run on the CPU
            Figure::GdScalar { steps, secs } => {
                json!({"bench": "gd-scalar", "device": "cpu", "steps": steps, "gd_scalar_100k_s": round(*secs, 4)})
            }
            Figure::Mlp {
                epochs,
                secs,
                final_loss,
            } => json!({
                "bench": "mlp", "device": "cpu", "epochs": epochs, "mlp_10k_s": round(*secs, 4),
                "mlp_final_loss": crate::lessons::headless::f32_json(*final_loss)
            }),
        }
    }

    /// The figure as one row of the table.
    pub fn row(&self) -> String {
        match self {
            Figure::Matmul { n, gflops } => {
                format!(
                    "{:<10} {:<24} {gflops:>10.1} GFLOP/s",
                    "matmul",
                    format!("{n}x{n}")
                )
            }
            Figure::Conv { layer, pass, ms } => {
                let what = match *layer {
                    "conv1" => "1->32 on 28x28",
                    "conv2" => "32->64 on 14x14",
                    _ => "",
                };
                format!(
                    "{:<10} {:<24} {ms:>10.2} ms",
                    layer,
                    format!("{} {what}", pass.name())
                )
            }
            Figure::CnnTrain {
                batch,
                img_per_s,
                images,
            } => format!(
                "{:<10} {:<24} {img_per_s:>10.0} img/s ({images} images)",
                "cnn-train",
                format!("batch {batch}, Adam")
            ),
            Figure::CnnInfer {
                batch,
                img_per_s,
                images,
            } => format!(
                "{:<10} {:<24} {img_per_s:>10.0} img/s ({images} images)",
                "cnn-infer",
                format!("batch {batch}, no_grad")
            ),
            Figure::CnnTest { images, acc } => format!(
                "{:<10} {:<24} {acc:>10.4} accuracy",
                "cnn-test",
                format!("{images} held-out images")
            ),
            Figure::GdScalar { steps, secs } => format!(
                "{:<10} {:<24} {secs:>10.3} s{}",
                "gd-scalar",
                format!("{GD_STEPS} steps, on cpu"),
                scaled_note(*steps, GD_STEPS)
            ),
            Figure::Mlp {
                epochs,
                secs,
                final_loss,
            } => format!(
                "{:<10} {:<24} {secs:>10.3} s (final loss {final_loss:.6}){}",
                "mlp",
                format!("{MLP_EPOCHS} epochs, on cpu"),
                scaled_note(*epochs, MLP_EPOCHS)
            ),
        }
    }
}

/// ", from N timed" when a figure was scaled up from fewer steps (`--quick`).
fn scaled_note(timed: usize, full: usize) -> String {
    if timed == full {
        String::new()
    } else {
        format!(" (scaled from {timed})")
    }
}

/// The table's first lines: what runs where.
pub fn header(device: &Device) -> Vec<String> {
    let threads = if device.is_cpu() {
        format!(" ({} threads)", rayon::current_num_threads())
    } else {
        String::new()
    };
    vec![
        format!("dl-lab bench on {device}{threads}"),
        format!("{:<10} {:<24} {:>10}", "bench", "case", "result"),
    ]
}

/// Run every figure, handing each to `on` as soon as it is measured.
pub fn run(cfg: &BenchConfig, mut on: impl FnMut(&Figure) -> Result<()>) -> Result<()> {
    let runs = if cfg.quick { 1 } else { RUNS };
    let wanted = |part: Part| cfg.only.is_empty() || cfg.only.contains(&part);
    let mut rng = StdRng::seed_from_u64(1);
    let matmul_sizes: &[usize] = if wanted(Part::Matmul) {
        &MATMUL_SIZES
    } else {
        &[]
    };
    for &n in matmul_sizes {
        let gflops = matmul_gflops(&cfg.device, n, runs, &mut rng)?;
        on(&Figure::Matmul { n, gflops })?;
    }
    let conv_layers: &[ConvLayer] = if wanted(Part::Conv) {
        &CONV_LAYERS
    } else {
        &[]
    };
    for layer in conv_layers {
        let (forward, backward) = conv_ms(&cfg.device, layer, runs, &mut rng)?;
        on(&Figure::Conv {
            layer: layer.name,
            pass: Pass::Forward,
            ms: forward,
        })?;
        on(&Figure::Conv {
            layer: layer.name,
            pass: Pass::Backward,
            ms: backward,
        })?;
    }
    if wanted(Part::Cnn) {
        cnn(cfg, &mut on)?;
    }
    if wanted(Part::GdScalar) {
        let steps = if cfg.quick { GD_STEPS / 100 } else { GD_STEPS };
        let secs = small_lesson_secs("gd-scalar", steps)?.0;
        on(&Figure::GdScalar {
            steps,
            secs: secs * GD_STEPS as f64 / steps as f64,
        })?;
    }
    if !wanted(Part::Mlp) {
        return Ok(());
    }
    let epochs = if cfg.quick {
        MLP_EPOCHS / 100
    } else {
        MLP_EPOCHS
    };
    let (secs, final_loss) = small_lesson_secs("mlp-regression", epochs)?;
    on(&Figure::Mlp {
        epochs,
        secs: secs * MLP_EPOCHS as f64 / epochs as f64,
        final_loss,
    })
}

/// Seconds for `steps` epochs of a small lesson with its defaults, as
/// `dl-lab run` loops it (set-up and data not timed), and the last epoch's
/// cost.
pub fn small_lesson_secs(name: &str, steps: usize) -> Result<(f64, f32)> {
    let lesson = lessons::find(name)?;
    let mut hyper = lesson.defaults.clone();
    // epochs 0..=epochs: `steps` in all
    hyper.epochs = steps.saturating_sub(1);
    let mut session = SmallSession::new(&lesson, &hyper, None)?;
    let start = Instant::now();
    let mut cost = f32::NAN;
    while !session.done() {
        cost = session.step()?.cost;
    }
    Ok((start.elapsed().as_secs_f64().max(1e-9), cost))
}

/// A value of `shape` with entries uniform in [-1, 1), on `device`.
fn random(rng: &mut StdRng, shape: &[usize], device: &Device) -> Result<Storage> {
    let n = shape.iter().product();
    let values = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let host = Array::from_shape_vec(IxDyn(shape), values).map_err(|_| Error::BadArgument {
        op: "bench",
        why: format!("{n} values for shape {shape:?}"),
    })?;
    Storage::Cpu(host).to_device(device)
}

/// Wait until `s` is computed: CPU ops are done when they return; on a
/// device, read back one number that depends on every element.
fn sync(s: &Storage) -> Result<()> {
    if let Storage::Cpu(_) = s {
        return Ok(());
    }
    let axes: Vec<usize> = (0..s.shape().len()).collect();
    s.sum_axes(&axes, false)?.to_host().map(drop)
}

/// The median time of `runs` runs of `f` in seconds, after one warm-up run.
fn median_secs(runs: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2].max(1e-9))
}

/// GFLOP/s of an n×n by n×n product (2n³ floating-point operations).
fn matmul_gflops(device: &Device, n: usize, runs: usize, rng: &mut StdRng) -> Result<f64> {
    let a = random(rng, &[n, n], device)?;
    let b = random(rng, &[n, n], device)?;
    let secs = median_secs(runs, || sync(&a.matmul(&b, false, false)?))?;
    Ok(2.0 * (n as f64).powi(3) / secs / 1e9)
}

/// One of the course CNN's conv layers at batch 100 (3×3, stride 1, padding 1).
struct ConvLayer {
    name: &'static str,
    in_channels: usize,
    out_channels: usize,
    size: usize,
    /// Whether training needs the input's gradient (not for the first layer:
    /// its input is the image).
    input_grad: bool,
}

const CONV_LAYERS: [ConvLayer; 2] = [
    ConvLayer {
        name: "conv1",
        in_channels: 1,
        out_channels: 32,
        size: 28,
        input_grad: false,
    },
    ConvLayer {
        name: "conv2",
        in_channels: 32,
        out_channels: 64,
        size: 14,
        input_grad: true,
    },
];

/// Median forward and backward times in ms.
fn conv_ms(device: &Device, l: &ConvLayer, runs: usize, rng: &mut StdRng) -> Result<(f64, f64)> {
    let x_shape = [TRAIN_BATCH, l.in_channels, l.size, l.size];
    let geom = ConvGeometry::new(&x_shape, l.out_channels, (3, 3), l.in_channels, 1, 1)?;
    let x = random(rng, &x_shape, device)?;
    let w = random(rng, &[l.out_channels, l.in_channels, 3, 3], device)?;
    let g = random(
        rng,
        &[TRAIN_BATCH, l.out_channels, geom.oh, geom.ow],
        device,
    )?;
    let forward = median_secs(runs, || sync(&x.conv2d(&w, &geom)?))?;
    let backward = median_secs(runs, || {
        let (dx, dw) = x.conv2d_backward(&w, &g, &geom, l.input_grad, true)?;
        dx.iter().chain(&dw).try_for_each(sync)
    })?;
    Ok((forward * 1e3, backward * 1e3))
}

/// Training and inference speed of the cnn-mnist lesson's model.
fn cnn(cfg: &BenchConfig, on: &mut impl FnMut(&Figure) -> Result<()>) -> Result<()> {
    let lesson = lessons::find("cnn-mnist")?;
    let Task::Classifier {
        layers,
        input_shape,
    } = &lesson.task
    else {
        return Err(Error::Config("cnn-mnist is not a classifier".into()));
    };
    let data = match &cfg.data {
        Some(dir) => Mnist::load_dir(crate::data::download::resolve_data_arg(dir)?)?,
        None => Mnist::shipped()?,
    };
    let mut hyper = lesson.defaults.clone();
    hyper.batch_size = TRAIN_BATCH;
    let mut run = ClassifierRun::on_device(
        layers,
        input_shape,
        data.train,
        data.test,
        &hyper,
        cfg.device.clone(),
    )?;
    let (max_train, max_infer) = if cfg.quick {
        (2, 1)
    } else if cfg.full_epoch {
        (usize::MAX, INFER_BATCHES)
    } else {
        (TRAIN_BATCHES, INFER_BATCHES)
    };

    let loader = DataLoader::from_set(&run.train, TRAIN_BATCH)?
        .shuffle(hyper.seed)
        .drop_last(run.train.labels.len() >= TRAIN_BATCH);
    let train_step = |run: &mut ClassifierRun, images, labels: Vec<usize>| -> Result<()> {
        let x = run.input(images)?;
        let loss = cross_entropy(&run.model.forward(&x)?, &labels)?;
        loss.item();
        run.step(&loss)
    };
    // warm-up; not with --full-epoch, which trains exactly one epoch
    if !cfg.full_epoch {
        if let Some((images, labels)) = loader.epoch(0).next() {
            train_step(&mut run, images, labels)?;
        }
    }
    let start = Instant::now();
    let mut seen = 0;
    for (images, labels) in loader.epoch(1).take(max_train) {
        seen += labels.len();
        train_step(&mut run, images, labels)?;
    }
    // the last step's update may still be queued on a device
    finish(&run.model)?;
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    on(&Figure::CnnTrain {
        batch: TRAIN_BATCH,
        img_per_s: seen as f64 / secs,
        images: seen,
    })?;

    if run.test.labels.is_empty() {
        return Err(Error::Config(
            "bench: the data has no held-out (t10k) images to time inference on".into(),
        ));
    }
    let loader = DataLoader::from_set(&run.test, INFER_BATCH)?;
    let predict = |run: &ClassifierRun, images| -> Result<usize> {
        let logits = no_grad(|| run.model.forward(&run.input(images)?))?;
        Ok(logits.argmax(1)?.len())
    };
    if let Some((images, _)) = loader.epoch(0).next() {
        predict(&run, images)?;
    }
    let start = Instant::now();
    let mut seen = 0;
    for (images, _) in loader.epoch(0).take(max_infer) {
        seen += predict(&run, images)?;
    }
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    on(&Figure::CnnInfer {
        batch: INFER_BATCH,
        img_per_s: seen as f64 / secs,
        images: seen,
    })?;

    let test = if cfg.quick {
        run.test.subset(0..run.test.len().min(INFER_BATCH))?
    } else {
        run.test.clone()
    };
    let acc = evaluate(&run.model, &test, &run.input_shape, EVAL_BATCH, &run.device)?;
    on(&Figure::CnnTest {
        images: test.len(),
        acc: f64::from(acc),
    })
}

/// Wait for the model's queued updates (reads one parameter back).
fn finish(model: &dyn Module) -> Result<()> {
    match model.parameters().first() {
        Some(p) => sync(&p.storage()),
        None => Ok(()),
    }
}
