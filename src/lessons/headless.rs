//! `dl-lab run LESSON`: run a lesson to the end and print its log, either
//! in the course's style or as one JSON object per logged epoch.

use std::io::Write;

use serde_json::{json, Map, Value};

use super::{Lesson, LossKind, RunConfig, RunFiles, SmallData, SmallModel, SmallSession, Task};
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
    if lesson.is_worked() {
        return super::worked::run(lesson, cfg, out);
    }
    if let Task::Race { .. } = lesson.task {
        return crate::train::race::run_lesson(lesson, cfg, out);
    }
    if lesson.is_classifier() {
        run_classifier(lesson, cfg, device, files, out)
    } else {
        run_small(lesson, cfg, out)
    }
}

/// The lesson's first line: `Title (name): what runs`, built from the
/// lesson's task, the data that runs (`cfg.data`'s CSV: `shape` is its
/// (rows, input columns)) and the settings, so a flag never leaves it
/// saying something else. `dl-lab lessons` prints the fixed `summary`.
pub fn title_line(lesson: &Lesson, cfg: &RunConfig, shape: Option<(usize, usize)>) -> String {
    let what = match &lesson.task {
        Task::Scalar { objective } => format!(
            "minimise y = {} from x = {} by autograd",
            objective.expr(),
            objective.start
        ),
        Task::Regression { data, model, loss } => {
            let data = match (&cfg.data, shape) {
                (Some(path), Some((rows, cols))) => {
                    format!("{}: {}", path.display(), rows_words(rows, cols))
                }
                _ => data_words(data),
            };
            let model = match model {
                SmallModel::Affine => {
                    let f = shape.map_or(1, |(_, c)| c);
                    format!("H(x) = xW + b, W zeros({f},1), b = 0")
                }
                SmallModel::Layers(specs) => layers_words(specs),
            };
            format!("{data}; {model}; {} loss", loss.words())
        }
        Task::Classifier { layers, .. } => format!("{}; cross-entropy loss", layers_words(layers)),
        // what runs: --expr and --at when given
        Task::Backprop { expr, at } => {
            let (e, a) = (
                cfg.expr.as_deref().unwrap_or(expr),
                cfg.at.as_deref().unwrap_or(at),
            );
            format!("f = {e} at {a}: every local derivative times the gradient from above")
        }
        Task::TensorCode { .. } | Task::Race { .. } => lesson.summary.to_string(),
    };
    format!("{} ({}): {what}", lesson.title, lesson.name)
}

fn rows_words(rows: usize, cols: usize) -> String {
    let s = |n: usize| if n == 1 { "" } else { "s" };
    format!(
        "{rows} row{} of {cols} input{} and a target",
        s(rows),
        s(cols)
    )
}

/// A small table inline when it is short (x = [1, 2, 3], y = [1, 2, 3]),
/// else its size.
fn data_words(data: &SmallData) -> String {
    let n = |v: f32| format!("{v}");
    match data {
        SmallData::Table { x, y } => {
            let cols = x.first().map_or(0, Vec::len);
            if x.len() * (cols + 1) > 12 {
                return rows_words(x.len(), cols);
            }
            let rows: Vec<String> = x
                .iter()
                .map(|r| match r.as_slice() {
                    [v] => n(*v),
                    r => format!(
                        "[{}]",
                        r.iter().map(|v| n(*v)).collect::<Vec<_>>().join(", ")
                    ),
                })
                .collect();
            let ys: Vec<String> = y.iter().map(|v| n(*v)).collect();
            format!("x = [{}], y = [{}]", rows.join(", "), ys.join(", "))
        }
        SmallData::Parabola { n } => format!("{n} points x ~ N(0,1), y = x^2 + 3"),
        SmallData::NoisyParabola { n, noise } => {
            format!("{n} points x ~ N(0,1), y = x^2 + 3 + {noise}*noise")
        }
    }
}

/// "Linear(2, 2) - Sigmoid - Linear(2, 1) - Sigmoid"
fn layers_words(specs: &[crate::nn::LayerSpec]) -> String {
    let labels: Vec<String> = specs.iter().map(|l| l.label()).collect();
    labels.join(" - ")
}

/// A small lesson's settings line.
pub fn small_settings_line(h: &super::Hyper) -> String {
    let mut line = format!(
        "optimizer {}, lr {}, epochs 0..={}{}",
        h.optimizer.describe(),
        h.lr,
        h.epochs,
        init_words(h)
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

/// ", init xavier" when `--init` chose another than PyTorch's default.
fn init_words(h: &super::Hyper) -> String {
    if h.init == crate::nn::init::Init::default() {
        String::new()
    } else {
        format!(", init {}", h.init)
    }
}

/// An MNIST lesson's data and settings line.
pub fn classifier_settings_line(data: &Mnist, h: &super::Hyper, device: &str) -> String {
    format!(
        "data: {} ({} training, {} held-out images); optimizer {}, lr {}, batch {}, epochs {}{}, device {}",
        data.source,
        crate::tui::format::count(data.train.labels.len()),
        crate::tui::format::count(data.test.labels.len()),
        h.optimizer.describe(),
        h.lr,
        h.batch_size,
        h.epochs,
        init_words(h),
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
        let (x, _) = session.data();
        let shape = (x.ndim() == 2).then(|| (x.shape()[0], x.shape()[1]));
        writeln!(out, "{}", title_line(lesson, cfg, shape)).map_err(io)?;
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

/// What the run showed: a classifier's prediction for each row, then the
/// lesson's findings that hold for this run ([`Lesson::findings`]).
fn small_summary(
    lesson: &Lesson,
    session: &SmallSession,
    cost: f32,
    out: &mut dyn Write,
) -> Result<()> {
    if let Task::Regression {
        loss: LossKind::Bce,
        ..
    } = lesson.task
    {
        let (x, y) = session.data();
        let p = session.predictions()?;
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
    }
    for line in lesson.findings(session, cost)? {
        writeln!(out, "{line}").map_err(io)?;
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
    let mut data = super::files::load_mnist(lesson, cfg.data.as_deref())?;
    data.train = super::files::training_images(data.train, h)?;
    if !cfg.json {
        writeln!(out, "{}", title_line(lesson, cfg, None)).map_err(io)?;
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
    let resumed_init = files
        .load
        .as_ref()
        .and_then(|c| c.run.as_ref())
        .map(|r| r.init.clone());
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
        optimizer: h.optimizer.name().to_string(),
        lr,
        momentum: h.optimizer.momentum(),
        weight_decay: h.optimizer.weight_decay(),
        batch_size: h.batch_size,
        // a resumed run's weights were first drawn as the checkpoint says
        init: resumed_init
            .clone()
            .unwrap_or_else(|| h.init.name().to_string()),
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
                "Epoch: {:04} loss = {:.6} train_acc = {:.4} test_loss = {:.6} test_acc = {:.4} ({:.0} img/s)",
                s.epoch, s.loss, s.train_acc, s.test_loss, s.test_acc, s.img_per_s
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
    if saved.init != crate::nn::init::Init::default().name() {
        notes.push(format!(
            "note: {path} started from --init {} weights (kept in what this run saves)",
            saved.init
        ));
    }
    let (momentum, weight_decay) = (h.optimizer.momentum(), h.optimizer.weight_decay());
    if saved.optimizer.eq_ignore_ascii_case(h.optimizer.name()) {
        // a failed load leaves the optimizer fresh
        match run.opt.load_state(ck.optimizer_state.clone()) {
            Ok(()) => {}
            // e.g. --momentum 0.9 after a run without: SGD now keeps a buffer it did not
            Err(_) if saved.momentum != momentum || saved.weight_decay != weight_decay => {
                notes.push(format!(
                    "note: {path} was trained with momentum {}, weight decay {}; its {} state \
                     does not fit momentum {}, weight decay {}, so the optimizer starts fresh",
                    saved.momentum, saved.weight_decay, h.optimizer, momentum, weight_decay
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
