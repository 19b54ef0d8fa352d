//! `dl-lab run LESSON`: run a lesson to the end and print its log, either
//! in the course's style or as one JSON object per logged epoch.

use std::io::Write;

use serde_json::{json, Map, Value};

use super::{Lesson, LossKind, RunConfig, RunFiles, SmallSession, Task};
use crate::backend::Device;
use crate::data::mnist::Mnist;
use crate::engine::Array;
use crate::train::{Checkpoint, ClassifierRun, Control, EpochCsv, Progress, RunState};
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
    run_headless_with(lesson, cfg, device, &RunFiles::default(), out)
}

/// As [`run_headless_on`], with `--load`, `--save` and `--history` (MNIST
/// lessons; see [`RunFiles`]).
pub fn run_headless_with(
    lesson: &Lesson,
    cfg: &RunConfig,
    device: &Device,
    files: &RunFiles,
    out: &mut dyn Write,
) -> Result<()> {
    if lesson.is_classifier() {
        run_classifier(lesson, cfg, device, files, out)
    } else {
        run_small(lesson, cfg, out)
    }
}

/// The lesson's first line: title, name and what it runs.
fn write_title(lesson: &Lesson, out: &mut dyn Write) -> Result<()> {
    writeln!(out, "{}", title_line(lesson)).map_err(io)
}

/// The lesson's first line: `Title (name): summary`.
pub fn title_line(lesson: &Lesson) -> String {
    format!("{} ({}): {}", lesson.title, lesson.name, lesson.summary)
}

/// A small lesson's settings line.
pub fn small_settings_line(h: &super::Hyper) -> String {
    let mut line = format!(
        "optimizer {}, lr {}, epochs 0..={}",
        h.optimizer, h.lr, h.epochs
    );
    if h.batch_size > 0 {
        line.push_str(&format!(
            ", batch {} (rows shuffled each epoch; Cost is the mean of the epoch's steps)",
            h.batch_size
        ));
    }
    if h.normalize {
        line.push_str(", inputs standardised (x - mean) / std");
    }
    line
}

/// Check `--predict`'s inputs against the session's features, before training.
pub fn check_predict(lesson: &Lesson, session: &SmallSession, x: &[f32]) -> Result<()> {
    let want = session.features();
    if want == 0 {
        return Err(Error::Config(format!(
            "--predict: lesson {} has no inputs to predict from (it minimises a function of x)",
            lesson.name
        )));
    }
    if x.len() != want {
        let example = match want {
            1 => "e.g. --predict 2.5".to_string(),
            n => format!(
                "comma-separated, e.g. --predict {}",
                (1..=n).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
            ),
        };
        return Err(Error::Config(format!(
            "--predict: lesson {} takes {want} input{} per row, got {} ({example})",
            lesson.name,
            if want == 1 { "" } else { "s" },
            x.len()
        )));
    }
    Ok(())
}

/// H(x) of the trained session for one row of raw inputs.
pub fn predict_one(session: &SmallSession, x: &[f32]) -> Result<f32> {
    let t = crate::Tensor::from_vec(&[1, x.len()], x.to_vec())?;
    let y = crate::no_grad(|| session.predict(&t))?;
    Ok(y.to_vec().first().copied().unwrap_or(f32::NAN))
}

/// `H([73, 80, 75]) = 152.2983`: inputs as the shortest decimals, the output to 4 decimals.
pub fn predict_text(x: &[f32], output: f32) -> String {
    let xs: Vec<String> = x.iter().map(|v| v.to_string()).collect();
    format!("H([{}]) = {output:.4}", xs.join(", "))
}

/// An MNIST lesson's data and settings line.
pub fn classifier_settings_line(data: &Mnist, h: &super::Hyper, device: &str) -> String {
    format!(
        "data: {} ({} training, {} held-out images); optimizer {}, lr {}, batch {}, epochs {}, device {}",
        data.source,
        crate::tui::format::count(data.train.labels.len()),
        crate::tui::format::count(data.test.labels.len()),
        h.optimizer,
        h.lr,
        h.batch_size,
        h.epochs,
        device
    )
}

fn run_small(lesson: &Lesson, cfg: &RunConfig, out: &mut dyn Write) -> Result<()> {
    let h = &cfg.hyper;
    let mut session = SmallSession::new(lesson, h, cfg.data.as_deref())?;
    if let Some(x) = &cfg.predict {
        check_predict(lesson, &session, x)?;
    }
    if !cfg.json {
        write_title(lesson, out)?;
        writeln!(out, "{}", small_settings_line(h)).map_err(io)?;
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
    if let Some(x) = &cfg.predict {
        let y = predict_one(&session, x)?;
        let line = if cfg.json {
            let xs: Vec<Value> = x.iter().map(|&v| f32_json(v)).collect();
            json!({ "predict": xs, "output": f32_json(y) }).to_string()
        } else {
            predict_text(x, y)
        };
        writeln!(out, "{line}").map_err(io)?;
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
    files: &RunFiles,
    out: &mut dyn Write,
) -> Result<()> {
    let (layers, input_shape) = super::files::classifier_model(lesson, "run")?;
    let h = &cfg.hyper;
    // before any header: a resume with nothing left to train is an error
    if let Some(ck) = &files.load {
        check_resume_epochs(lesson, ck, h.epochs)?;
    }
    let data = super::files::load_mnist(lesson, cfg.data.as_deref())?;
    if !cfg.json {
        write_title(lesson, out)?;
        writeln!(
            out,
            "{}",
            classifier_settings_line(&data, h, &device.to_string())
        )
        .map_err(io)?;
    }
    let source = data.source.clone();
    let mut run = ClassifierRun::on_device(
        layers,
        input_shape,
        data.train,
        data.test,
        h,
        device.clone(),
    )?;
    if let Some(ck) = &files.load {
        for note in resume(&mut run, ck, h, &source)? {
            if !cfg.json {
                writeln!(out, "{note}").map_err(io)?;
            }
        }
    }
    let resumed_after = files
        .load
        .as_ref()
        .and_then(|c| c.run.as_ref())
        .map(|r| r.epoch);
    let mut history = files
        .history
        .as_deref()
        .map(|p| EpochCsv::open_after(p, resumed_after))
        .transpose()?;
    let saved_run = |epoch: usize, lr: f32| RunState {
        lesson: lesson.name.to_string(),
        layers: layers.to_vec(),
        input_shape: input_shape.to_vec(),
        epoch,
        seed: h.seed,
        data: source.clone(),
        optimizer: h.optimizer.clone(),
        lr,
        momentum: h.momentum,
        weight_decay: h.weight_decay,
        batch_size: h.batch_size,
    };
    let mut failed = None;
    run.train(|p, opt, model| {
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
        let mut after_epoch = || -> Result<()> {
            // the checkpoint first: a reader gone from stdout loses no epoch
            if let Some(path) = &files.save {
                Checkpoint::capture(saved_run(s.epoch, opt.lr()), model, opt)?.save(path)?;
            }
            if let Some(csv) = history.as_mut() {
                csv.push(s)?;
            }
            writeln!(out, "{line}")
                .and_then(|_| out.flush())
                .map_err(io)
        };
        match after_epoch() {
            Ok(()) => Control::Continue,
            Err(e) => {
                failed = Some(e);
                Control::Stop
            }
        }
    })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// A dl-lab checkpoint saved after epoch k resumes only with `epochs` above k.
fn check_resume_epochs(lesson: &Lesson, ck: &Checkpoint, epochs: usize) -> Result<()> {
    let Some(saved) = &ck.run else { return Ok(()) };
    if epochs > saved.epoch {
        return Ok(());
    }
    // `epochs` is the lesson's default unless --epochs gave another number
    let asked = if epochs == lesson.defaults.epochs {
        format!("the lesson's default of {epochs} epochs")
    } else {
        format!("--epochs {epochs}")
    };
    Err(Error::Config(format!(
        "{asked}: {} was saved after epoch {}; give --epochs above {} to train on",
        ck.path.display(),
        saved.epoch,
        saved.epoch
    )))
}

/// Start `run` from a checkpoint: its weights; for a dl-lab checkpoint also
/// its epoch and (same optimizer) the optimizer's state. Returns notes for
/// the log.
fn resume(
    run: &mut ClassifierRun,
    ck: &Checkpoint,
    h: &super::Hyper,
    data: &str,
) -> Result<Vec<String>> {
    ck.apply(&run.model)?;
    let path = ck.path.display();
    let Some(saved) = &ck.run else {
        return Ok(vec![format!(
            "starting from the weights in {path} (fresh optimizer)"
        )]);
    };
    run.done_epochs = saved.epoch;
    let mut notes = vec![format!(
        "resuming from {path} after epoch {}: epochs {}..={}",
        saved.epoch,
        saved.epoch + 1,
        h.epochs
    )];
    if saved.optimizer.eq_ignore_ascii_case(&h.optimizer) {
        // a failed load leaves the optimizer fresh
        match run.opt.load_state(ck.optimizer_state.clone()) {
            Ok(()) => {}
            // e.g. --momentum 0.9 after a run without: SGD now keeps a buffer it did not
            Err(_) if saved.momentum != h.momentum || saved.weight_decay != h.weight_decay => {
                notes.push(format!(
                    "note: {path} was trained with momentum {}, weight decay {}; its {} state \
                     does not fit momentum {}, weight decay {}, so the optimizer starts fresh",
                    saved.momentum, saved.weight_decay, h.optimizer, h.momentum, h.weight_decay
                ));
            }
            Err(e) => {
                return Err(Error::BadFile {
                    path: ck.path.clone(),
                    why: format!("optimizer state: {e}"),
                })
            }
        }
    } else {
        notes.push(format!(
            "note: {path} was trained with {}; {} starts with a fresh state",
            saved.optimizer, h.optimizer
        ));
    }
    if saved.data != data {
        notes.push(format!(
            "note: {path} was trained on {}, this run uses {data}",
            saved.data
        ));
    }
    Ok(notes)
}
