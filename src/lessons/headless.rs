//! `dl-lab run LESSON`: run a lesson to the end and print its log, either
//! in the course's style or as one JSON object per logged epoch.

use std::io::Write;

use serde_json::{json, Map, Value};

use super::{Lesson, LossKind, RunConfig, SmallSession, Task};
use crate::backend::Device;
use crate::data::download::resolve_data_arg;
use crate::data::mnist::Mnist;
use crate::engine::Array;
use crate::train::{ClassifierRun, Control, Progress};
use crate::{Error, Result};

/// An f32 as the shortest decimal that reads back as the same f32 (4.6, not
/// 4.599999904632568).
pub fn f32_json(v: f32) -> Value {
    if !v.is_finite() {
        return Value::Null;
    }
    let shortest: f64 = v.to_string().parse().unwrap_or(v as f64);
    json!(shortest)
}

/// A parameter as JSON: a number if it holds one value, else nested lists
/// shaped like the tensor (PyTorch's `tolist()`).
fn param_json(a: &Array) -> Value {
    fn nest(values: &[f32], shape: &[usize]) -> Value {
        match shape.split_first() {
            None => f32_json(values.first().copied().unwrap_or(f32::NAN)),
            Some((&n, rest)) => {
                let step = rest.iter().product::<usize>();
                Value::Array(
                    (0..n)
                        .map(|i| nest(&values[i * step..(i + 1) * step], rest))
                        .collect(),
                )
            }
        }
    }
    let flat: Vec<f32> = a.iter().copied().collect();
    if flat.len() == 1 {
        f32_json(flat[0])
    } else {
        nest(&flat, a.shape())
    }
}

/// `W: 0.873, b: 0.289`, when there are few enough values to read (an MLP's
/// hundreds are left out of the line; `--json` has them all).
fn params_text(params: &[(String, Array)]) -> String {
    const READABLE: usize = 12;
    if params.iter().map(|(_, a)| a.len()).sum::<usize>() > READABLE {
        return String::new();
    }
    let mut parts = Vec::new();
    for (name, a) in params {
        match a.len() {
            1 => parts.push(format!(
                "{name}: {:.3}",
                a.iter().next().copied().unwrap_or(f32::NAN)
            )),
            _ => {
                let v: Vec<String> = a.iter().map(|x| format!("{x:.3}")).collect();
                parts.push(format!("{name}: [{}]", v.join(", ")));
            }
        }
    }
    parts.join(", ")
}

fn io(e: std::io::Error) -> Error {
    Error::io("<stdout>", e)
}

/// Run `lesson` with `cfg` on the CPU, writing the log to `out`.
pub fn run_headless(lesson: &Lesson, cfg: &RunConfig, out: &mut dyn Write) -> Result<()> {
    run_headless_on(lesson, cfg, &Device::Cpu, out)
}

/// Run `lesson` with `cfg`, an MNIST lesson training on `device` (`--device`);
/// the small lessons always run on the CPU engine (their tensors hold a
/// handful of numbers).
pub fn run_headless_on(
    lesson: &Lesson,
    cfg: &RunConfig,
    device: &Device,
    out: &mut dyn Write,
) -> Result<()> {
    if lesson.is_classifier() {
        run_classifier(lesson, cfg, device, out)
    } else {
        run_small(lesson, cfg, out)
    }
}

/// The lesson's first line: title, name and what it runs.
fn write_title(lesson: &Lesson, out: &mut dyn Write) -> Result<()> {
    writeln!(
        out,
        "{} ({}): {}",
        lesson.title, lesson.name, lesson.summary
    )
    .map_err(io)
}

fn run_small(lesson: &Lesson, cfg: &RunConfig, out: &mut dyn Write) -> Result<()> {
    let h = &cfg.hyper;
    let mut session = SmallSession::new(lesson, h, cfg.data.as_deref())?;
    if !cfg.json {
        write_title(lesson, out)?;
        writeln!(
            out,
            "optimizer {}, lr {}, epochs 0..={}",
            h.optimizer, h.lr, h.epochs
        )
        .map_err(io)?;
    }
    let every = h.log_every.max(1);
    let mut last = None;
    while !session.done() {
        let r = session.step()?;
        if r.epoch == 0 || r.epoch % every == 0 || r.epoch == h.epochs {
            if cfg.json {
                let params: Map<String, Value> = r
                    .params
                    .iter()
                    .map(|(n, a)| (n.clone(), param_json(a)))
                    .collect();
                let line = json!({ "epoch": r.epoch, "cost": f32_json(r.cost), "params": params });
                writeln!(out, "{line}").map_err(io)?;
            } else {
                let p = params_text(&r.params);
                let sep = if p.is_empty() { "" } else { " " };
                writeln!(
                    out,
                    "Epoch {:4}/{} {p}{sep}Cost: {:.6}",
                    r.epoch, h.epochs, r.cost
                )
                .map_err(io)?;
            }
        }
        last = Some(r);
    }
    if !cfg.json {
        if let Some(r) = last {
            small_summary(lesson, &session, r.cost, out)?;
        }
    }
    Ok(())
}

/// What the run showed, in words: the XOR predictions, the ln 2 stall.
fn small_summary(
    lesson: &Lesson,
    session: &SmallSession,
    cost: f32,
    out: &mut dyn Write,
) -> Result<()> {
    let Task::Regression {
        loss: LossKind::Bce,
        ..
    } = lesson.task
    else {
        return Ok(());
    };
    let (x, y) = session.data();
    let p = crate::no_grad(|| session.predict(&crate::Tensor::new(x.clone())))?.to_array();
    let features = x.shape()[1];
    let mut correct = 0;
    for (i, (&pi, &yi)) in p.iter().zip(y.iter()).enumerate() {
        let class = if pi > 0.5 { 1.0 } else { 0.0 };
        correct += usize::from(class == yi);
        let xi: Vec<String> = (0..features).map(|j| format!("{}", x[[i, j]])).collect();
        writeln!(
            out,
            "x = [{}] -> p = {pi:.4} -> {class} (target {yi})",
            xi.join(", ")
        )
        .map_err(io)?;
    }
    writeln!(out, "accuracy: {correct}/{}", p.len()).map_err(io)?;
    let ln2 = std::f32::consts::LN_2;
    if (cost - ln2).abs() < 1e-3 {
        writeln!(
            out,
            "The cost stalled at {cost:.6}, ln 2 = {ln2:.6}: the model answers about 0.5 everywhere. \
             A single perceptron draws one line, and no line separates XOR's classes."
        )
        .map_err(io)?;
    }
    Ok(())
}

fn run_classifier(
    lesson: &Lesson,
    cfg: &RunConfig,
    device: &Device,
    out: &mut dyn Write,
) -> Result<()> {
    let Task::Classifier {
        layers,
        input_shape,
    } = &lesson.task
    else {
        return Err(Error::Config(format!(
            "lesson {} is not a classifier",
            lesson.name
        )));
    };
    let data_arg = cfg.data.as_deref().map(resolve_data_arg).transpose()?;
    let data = match &data_arg {
        Some(dir) if dir.is_dir() => Mnist::load_dir(dir)?,
        Some(path) => {
            return Err(Error::Config(format!(
                "--data {}: lesson {} needs a directory holding the four MNIST files \
                 (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-…)",
                path.display(),
                lesson.name
            )))
        }
        None => Mnist::shipped()?,
    };
    let h = &cfg.hyper;
    if !cfg.json {
        write_title(lesson, out)?;
        writeln!(
            out,
            "data: {} ({} training, {} held-out images); optimizer {}, lr {}, batch {}, epochs {}, device {}",
            data.source,
            data.train.labels.len(),
            data.test.labels.len(),
            h.optimizer,
            h.lr,
            h.batch_size,
            h.epochs,
            device
        )
        .map_err(io)?;
    }
    let mut run = ClassifierRun::on_device(
        layers,
        input_shape,
        data.train,
        data.test,
        h,
        device.clone(),
    )?;
    let mut write_err = None;
    run.train(|p, _, _| {
        let s = match p {
            Progress::Epoch(s) => s,
            // headless, a diverged loss ends the run with its error
            Progress::Diverged { .. } => return Control::Stop,
            Progress::Batch { .. } => return Control::Continue,
        };
        let line = if cfg.json {
            serde_json::to_string(s).unwrap_or_default()
        } else {
            format!(
                "Epoch: {:04} loss = {:.6} test_acc = {:.4} ({:.0} img/s)",
                s.epoch, s.loss, s.test_acc, s.img_per_s
            )
        };
        match writeln!(out, "{line}").and_then(|_| out.flush()) {
            Ok(()) => Control::Continue,
            Err(e) => {
                write_err = Some(e);
                Control::Stop
            }
        }
    })?;
    match write_err {
        Some(e) => Err(io(e)),
        None => Ok(()),
    }
}
