//! The optimizer race: seven of `crate::optim`'s optimizers start from the
//! same point of a 2-D surface f(x, y) and take their steps side by side.
//!
//! Each racer is one 2-element parameter tensor θ = (x, y) with its own
//! optimizer. A step is the training loop of every lesson: f = surface(θ) by
//! engine ops, zero_grad, backward, step. So the paths drawn in the lab and
//! printed by `dl-lab run optimizer-race` are the optimizers' own update
//! rules, not a re-implementation of them.
//!
//! Settings: with `--lr` every optimizer uses that rate; without it each has
//! PyTorch's default (Adam, AdamW 1e-3; RMSprop, Adagrad 1e-2), except SGD,
//! whose rate PyTorch leaves to the user: the surface's [`Surface::sgd_lr`]
//! (0.1 on the bowl, 1e-3 on Rosenbrock's valley, where 0.1 diverges), shared
//! by `momentum` and `nesterov` (μ = 0.9).

use std::fmt;
use std::io::Write;
use std::str::FromStr;

use ndarray::IxDyn;
use serde_json::json;

use crate::engine::Array;
use crate::optim::{
    AdagradConfig, AdamConfig, Optimizer, OptimizerConfig, RmspropConfig, SgdConfig,
};
use crate::{Error, Result, Tensor};

/// The surfaces the race runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    /// f(x, y) = x²/20 + y²: a long, narrow bowl (curvatures 0.1 and 2).
    Bowl,
    /// f(x, y) = (1 − x)² + 100(y − x²)²: a curved valley, minimum 0 at (1, 1).
    Rosenbrock,
}

impl Surface {
    pub const ALL: [Surface; 2] = [Surface::Bowl, Surface::Rosenbrock];

    pub fn name(self) -> &'static str {
        match self {
            Surface::Bowl => "bowl",
            Surface::Rosenbrock => "rosenbrock",
        }
    }

    pub fn formula(self) -> &'static str {
        match self {
            Surface::Bowl => "f(x, y) = x²/20 + y²",
            Surface::Rosenbrock => "f(x, y) = (1 − x)² + 100(y − x²)²",
        }
    }

    /// f at (x, y), in f64 (for drawing the map).
    pub fn value(self, x: f64, y: f64) -> f64 {
        match self {
            Surface::Bowl => x * x / 20.0 + y * y,
            Surface::Rosenbrock => (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2),
        }
    }

    /// f at θ = (x, y) by engine ops, so backward() gives ∂f/∂θ.
    pub fn forward(self, theta: &Tensor) -> Result<Tensor> {
        let pick = |c: [f32; 2]| -> Result<Tensor> {
            theta
                .mul(&Tensor::from_vec(&[2], c.to_vec())?)
                .map(|t| t.sum())
        };
        match self {
            // x²/20 + y² = Σ θ²·(1/20, 1)
            Surface::Bowl => Ok(theta
                .pow(2.0)
                .mul(&Tensor::from_vec(&[2], vec![0.05, 1.0])?)?
                .sum()),
            Surface::Rosenbrock => {
                let x = pick([1.0, 0.0])?;
                let y = pick([0.0, 1.0])?;
                let a = x.neg().add_scalar(1.0).pow(2.0);
                let b = y.sub(&x.pow(2.0))?.pow(2.0).mul_scalar(100.0);
                a.add(&b)
            }
        }
    }

    /// Where the race starts unless `--start` says otherwise.
    pub fn default_start(self) -> [f32; 2] {
        match self {
            Surface::Bowl => [-8.0, 2.0],
            Surface::Rosenbrock => [-1.2, 1.0],
        }
    }

    /// The minimum.
    pub fn minimum(self) -> [f32; 2] {
        match self {
            Surface::Bowl => [0.0, 0.0],
            Surface::Rosenbrock => [1.0, 1.0],
        }
    }

    /// SGD's learning rate without `--lr` (PyTorch has no default for it).
    pub fn sgd_lr(self) -> f32 {
        match self {
            Surface::Bowl => 0.1,
            Surface::Rosenbrock => 1e-3,
        }
    }

    /// The other surface (the lab's key f).
    pub fn other(self) -> Surface {
        match self {
            Surface::Bowl => Surface::Rosenbrock,
            Surface::Rosenbrock => Surface::Bowl,
        }
    }
}

impl fmt::Display for Surface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Surface {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let wanted = s.trim().to_ascii_lowercase();
        Surface::ALL
            .into_iter()
            .find(|k| k.name() == wanted)
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown surface {s:?}: --surface takes bowl or rosenbrock"
                ))
            })
    }
}

/// The seven racers, in the order they are listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Racer {
    Sgd,
    Momentum,
    Nesterov,
    Adam,
    AdamW,
    Rmsprop,
    Adagrad,
}

impl Racer {
    pub const ALL: [Racer; 7] = [
        Racer::Sgd,
        Racer::Momentum,
        Racer::Nesterov,
        Racer::Adam,
        Racer::AdamW,
        Racer::Rmsprop,
        Racer::Adagrad,
    ];

    /// The name in `--json`'s "optimizer" field.
    pub fn name(self) -> &'static str {
        match self {
            Racer::Sgd => "sgd",
            Racer::Momentum => "momentum",
            Racer::Nesterov => "nesterov",
            Racer::Adam => "adam",
            Racer::AdamW => "adamw",
            Racer::Rmsprop => "rmsprop",
            Racer::Adagrad => "adagrad",
        }
    }

    /// The optimizer: `lr` for every one when given, else PyTorch's
    /// defaults (SGD's from the surface); μ = 0.9 for momentum and Nesterov.
    pub fn config(self, surface: Surface, lr: Option<f32>) -> OptimizerConfig {
        let sgd = |momentum: f32, nesterov: bool| {
            OptimizerConfig::Sgd(SgdConfig {
                lr: lr.unwrap_or(surface.sgd_lr()),
                momentum,
                nesterov,
                ..SgdConfig::default()
            })
        };
        match self {
            Racer::Sgd => sgd(0.0, false),
            Racer::Momentum => sgd(0.9, false),
            Racer::Nesterov => sgd(0.9, true),
            Racer::Adam => OptimizerConfig::Adam(AdamConfig {
                lr: lr.unwrap_or(AdamConfig::default().lr),
                ..AdamConfig::default()
            }),
            Racer::AdamW => OptimizerConfig::AdamW(AdamConfig {
                lr: lr.unwrap_or(AdamConfig::adamw().lr),
                ..AdamConfig::adamw()
            }),
            Racer::Rmsprop => OptimizerConfig::Rmsprop(RmspropConfig {
                lr: lr.unwrap_or(RmspropConfig::default().lr),
                ..RmspropConfig::default()
            }),
            Racer::Adagrad => OptimizerConfig::Adagrad(AdagradConfig {
                lr: lr.unwrap_or(AdagradConfig::default().lr),
                ..AdagradConfig::default()
            }),
        }
    }
}

/// One racer under way: its θ, optimizer and path.
pub struct Runner {
    pub racer: Racer,
    theta: Tensor,
    opt: Box<dyn Optimizer>,
    /// (x, y) at step 0 (the start), 1, 2, …
    pub path: Vec<[f32; 2]>,
    /// f at each point of `path`.
    pub losses: Vec<f32>,
    /// The gradient the last step used (None before the first).
    pub last_grad: Option<[f32; 2]>,
}

impl Runner {
    pub fn lr(&self) -> f32 {
        self.opt.lr()
    }

    /// The optimizer's state buffers after the last step (Adam: m, v) and its step count.
    pub fn state(&self) -> Option<(u64, Vec<[f32; 2]>)> {
        let saved = self.opt.state().ok()?.into_iter().next()??;
        let bufs = saved
            .buffers
            .iter()
            .map(|b| {
                let v: Vec<f32> = b.iter().copied().collect();
                [
                    v.first().copied().unwrap_or(f32::NAN),
                    v.get(1).copied().unwrap_or(f32::NAN),
                ]
            })
            .collect();
        Some((saved.step, bufs))
    }

    /// Where the racer is now and f there.
    pub fn now(&self) -> ([f32; 2], f32) {
        (
            self.path.last().copied().unwrap_or([f32::NAN; 2]),
            self.losses.last().copied().unwrap_or(f32::NAN),
        )
    }
}

/// What Adam did in its last step, coordinate by coordinate (the lab's inspector).
#[derive(Clone, Debug, PartialEq)]
pub struct AdamInspect {
    pub t: u64,
    pub lr: f32,
    pub eps: f32,
    pub grad: [f32; 2],
    pub m: [f32; 2],
    pub v: [f32; 2],
    pub m_hat: [f32; 2],
    pub v_hat: [f32; 2],
    /// lr·m̂/(√v̂ + eps): how far θ moved.
    pub step: [f32; 2],
    /// Plain SGD's step lr_sgd·g with the same gradient.
    pub sgd_step: [f32; 2],
}

/// The race: every racer on one surface from one start.
pub struct Race {
    pub surface: Surface,
    pub start: [f32; 2],
    /// `--lr` (every optimizer), or None for the defaults.
    pub lr: Option<f32>,
    pub runners: Vec<Runner>,
    /// Steps taken so far.
    pub steps: usize,
}

/// f at `theta`'s value, no graph.
fn loss_at(surface: Surface, theta: &Tensor) -> f32 {
    crate::no_grad(|| surface.forward(theta))
        .map(|t| t.item())
        .unwrap_or(f32::NAN)
}

impl Race {
    pub fn new(surface: Surface, start: [f32; 2], lr: Option<f32>) -> Result<Race> {
        if !start.iter().all(|v| v.is_finite()) {
            return Err(Error::Config(format!(
                "--start must be two finite numbers, got {},{}",
                start[0], start[1]
            )));
        }
        let runners = Racer::ALL
            .into_iter()
            .map(|racer| {
                let theta = Tensor::param(
                    Array::from_shape_vec(IxDyn(&[2]), start.to_vec()).expect("2 values"),
                );
                let opt = racer.config(surface, lr).build(vec![theta.clone()])?;
                let loss = loss_at(surface, &theta);
                Ok(Runner {
                    racer,
                    theta,
                    opt,
                    path: vec![start],
                    losses: vec![loss],
                    last_grad: None,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Race {
            surface,
            start,
            lr,
            runners,
            steps: 0,
        })
    }

    /// Every racer takes one step: f = surface(θ); zero_grad; backward; step.
    /// A racer whose θ turned NaN or infinite keeps stepping (its numbers
    /// stay non-finite; nothing panics).
    pub fn step(&mut self) -> Result<()> {
        for r in &mut self.runners {
            r.opt.zero_grad();
            let f = self.surface.forward(&r.theta)?;
            f.backward()?;
            let g = r
                .theta
                .grad()
                .map(|g| g.iter().copied().collect::<Vec<f32>>())
                .unwrap_or_default();
            r.last_grad = Some([
                g.first().copied().unwrap_or(f32::NAN),
                g.get(1).copied().unwrap_or(f32::NAN),
            ]);
            r.opt.step()?;
            let v = r.theta.to_vec();
            r.path.push([v[0], v[1]]);
            r.losses.push(loss_at(self.surface, &r.theta));
        }
        self.steps += 1;
        Ok(())
    }

    /// Change every racer's learning rate (the lab's +/-); from now on `lr` is set.
    pub fn set_lr(&mut self, lr: f32) {
        self.lr = Some(lr);
        for r in &mut self.runners {
            r.opt.set_lr(lr);
        }
    }

    pub fn runner(&self, racer: Racer) -> Option<&Runner> {
        self.runners.iter().find(|r| r.racer == racer)
    }

    /// Adam's last step taken apart (None before the first step).
    pub fn adam_inspect(&self) -> Option<AdamInspect> {
        let adam = self.runner(Racer::Adam)?;
        let grad = adam.last_grad?;
        let (t, bufs) = adam.state()?;
        let (m, v) = (*bufs.first()?, *bufs.get(1)?);
        let c = AdamConfig::default();
        let (b1, b2) = c.betas;
        let bc1 = 1.0 - f64::from(b1).powf(t as f64);
        let bc2 = 1.0 - f64::from(b2).powf(t as f64);
        let lr = adam.lr();
        let m_hat = m.map(|m| (f64::from(m) / bc1) as f32);
        let v_hat = v.map(|v| (f64::from(v) / bc2) as f32);
        let step = [0, 1].map(|i| lr * m_hat[i] / (v_hat[i].sqrt() + c.eps));
        let sgd_lr = self
            .runner(Racer::Sgd)
            .map_or(self.surface.sgd_lr(), Runner::lr);
        Some(AdamInspect {
            t,
            lr,
            eps: c.eps,
            grad,
            m,
            v,
            m_hat,
            v_hat,
            step,
            sgd_step: grad.map(|g| sgd_lr * g),
        })
    }
}

/// `--start X,Y`.
pub fn parse_start(s: &str) -> std::result::Result<[f32; 2], String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let bad = || format!("--start takes two numbers X,Y (e.g. -1.2,1), got '{s}'");
    let [x, y] = parts.as_slice() else {
        return Err(bad());
    };
    let (x, y): (f32, f32) = (x.parse().map_err(|_| bad())?, y.parse().map_err(|_| bad())?);
    if !(x.is_finite() && y.is_finite()) {
        return Err(bad());
    }
    Ok([x, y])
}

/// A number for the text table: fixed 6 decimals, or "inf"/"NaN".
fn cell(v: f32) -> String {
    if v.is_finite() {
        format!("{v:.6}")
    } else {
        v.to_string()
    }
}

/// `dl-lab run optimizer-race`: `steps` steps; with `json` one line per
/// racer per step (step 0 the start), else a table every `log_every` steps
/// (and the last).
pub fn write_race(
    race: &mut Race,
    steps: usize,
    json: bool,
    log_every: usize,
    out: &mut dyn Write,
) -> Result<()> {
    let io = |e| Error::io("<stdout>", e);
    let every = log_every.max(1);
    if !json {
        let lrs: Vec<String> = race
            .runners
            .iter()
            .map(|r| format!("{} {}", r.racer.name(), r.lr()))
            .collect();
        writeln!(
            out,
            "surface {}: {}, start ({}, {}), {steps} steps; lr: {}",
            race.surface,
            race.surface.formula(),
            race.start[0],
            race.start[1],
            lrs.join(", ")
        )
        .map_err(io)?;
        writeln!(
            out,
            "{:>5}  {:<9}{:>14}{:>14}{:>16}",
            "step", "optimizer", "x", "y", "loss"
        )
        .map_err(io)?;
    }
    // the step at which each racer's x, y or loss stopped being finite
    let mut diverged: Vec<Option<usize>> = vec![None; race.runners.len()];
    for k in 0..=steps {
        if k > 0 {
            race.step()?;
        }
        for (d, r) in diverged.iter_mut().zip(&race.runners) {
            let ([x, y], loss) = r.now();
            if d.is_none() && !(x.is_finite() && y.is_finite() && loss.is_finite()) {
                *d = Some(k);
            }
        }
        let logged = k % every == 0 || k == steps;
        if !json && !logged {
            continue;
        }
        if !json && k > 0 {
            writeln!(out).map_err(io)?;
        }
        for r in &race.runners {
            let ([x, y], loss) = r.now();
            let line = if json {
                use crate::lessons::headless::f32_json;
                json!({"optimizer": r.racer.name(), "step": k, "x": f32_json(x), "y": f32_json(y), "loss": f32_json(loss)})
                    .to_string()
            } else {
                format!(
                    "{k:>5}  {:<9}{:>14}{:>14}{:>16}",
                    r.racer.name(),
                    cell(x),
                    cell(y),
                    cell(loss)
                )
            };
            writeln!(out, "{line}").map_err(io)?;
        }
    }
    if !json {
        for (d, r) in diverged.iter().zip(&race.runners) {
            if let Some(k) = d {
                writeln!(out, "{}", diverged_line(r.racer.name(), *k)).map_err(io)?;
            }
        }
    }
    Ok(())
}

/// The text table's note on a racer that left the finite numbers.
pub fn diverged_line(name: &str, step: usize) -> String {
    format!("{name} diverged at step {step}: x, y or the loss is no longer a finite number")
}

/// The surface and start `cfg` races on: the lesson's unless `--surface` /
/// `--start` change them (another surface without `--start` starts at that
/// surface's own default point).
fn surface_and_start(
    lesson: &crate::lessons::Lesson,
    cfg: &crate::lessons::RunConfig,
) -> Result<(Surface, [f32; 2])> {
    let crate::lessons::Task::Race { surface, start } = lesson.task else {
        return Err(Error::Config(format!(
            "lesson {} is not a race",
            lesson.name
        )));
    };
    let chosen = cfg.race.surface.unwrap_or(surface);
    let start = cfg.race.start.unwrap_or(if chosen == surface {
        start
    } else {
        chosen.default_start()
    });
    Ok((chosen, start))
}

/// `dl-lab run optimizer-race` with `cfg`: the lesson's surface and start
/// unless `--surface` / `--start` change them (another surface without
/// `--start` starts at that surface's own default point).
pub fn run_lesson(
    lesson: &crate::lessons::Lesson,
    cfg: &crate::lessons::RunConfig,
    out: &mut dyn Write,
) -> Result<()> {
    let (chosen, start) = surface_and_start(lesson, cfg)?;
    let mut race = Race::new(chosen, start, cfg.race.lr)?;
    if !cfg.json {
        writeln!(
            out,
            "{}",
            crate::lessons::headless::title_line(lesson, cfg, None)
        )
        .map_err(|e| Error::io("<stdout>", e))?;
    }
    write_race(
        &mut race,
        cfg.hyper.epochs,
        cfg.json,
        cfg.hyper.log_every,
        out,
    )
}

/// `dl-lab code optimizer-race`: the same race with `torch.optim`, printing
/// the same lines as `dl-lab run optimizer-race` with the same flags (the
/// JSON fields with `--json`; the table otherwise).
pub fn python_code(
    lesson: &crate::lessons::Lesson,
    cfg: &crate::lessons::RunConfig,
) -> Result<String> {
    use std::fmt::Write as _;
    let (chosen, start) = surface_and_start(lesson, cfg)?;
    let lr = cfg.race.lr;
    let f = match chosen {
        // x²/20 + y² as dl-lab computes it: Σ θ²·(1/20, 1) in float32
        Surface::Bowl => {
            "(p ** 2 * torch.tensor([0.05, 1.0])).sum()  # x²/20 + y², as dl-lab computes it"
        }
        Surface::Rosenbrock => "(1 - x) ** 2 + 100 * (y - x ** 2) ** 2",
    };
    let py_lr = |v: f32| format!("{v}");
    let mut optimizers = String::new();
    for r in Racer::ALL {
        let ctor = match r.config(chosen, lr) {
            OptimizerConfig::Sgd(c) => format!(
                "torch.optim.SGD([p], lr={}, momentum={}, nesterov={})",
                py_lr(c.lr),
                c.momentum,
                if c.nesterov { "True" } else { "False" }
            ),
            OptimizerConfig::Adam(c) => format!("torch.optim.Adam([p], lr={})", py_lr(c.lr)),
            OptimizerConfig::AdamW(c) => format!(
                "torch.optim.AdamW([p], lr={}, weight_decay={})",
                py_lr(c.lr),
                c.weight_decay
            ),
            OptimizerConfig::Rmsprop(c) => format!("torch.optim.RMSprop([p], lr={})", py_lr(c.lr)),
            OptimizerConfig::Adagrad(c) => format!("torch.optim.Adagrad([p], lr={})", py_lr(c.lr)),
        };
        let _ = writeln!(optimizers, "    (\"{}\", lambda p: {ctor}),", r.name());
    }
    let mut flags = String::new();
    if let Some(sf) = cfg.race.surface {
        let _ = write!(flags, " --surface {}", sf.name());
    }
    if let Some([x, y]) = cfg.race.start {
        let _ = write!(flags, " --start {x},{y}");
    }
    let steps = cfg.hyper.epochs;
    if steps != lesson.defaults.epochs {
        let _ = write!(flags, " --steps {steps}");
    }
    if let Some(lr) = lr {
        let _ = write!(flags, " --lr {lr}");
    }
    if cfg.json {
        flags.push_str(" --json");
    }
    let every = cfg.hyper.log_every.max(1);
    // the text table's first lines, as `dl-lab run` writes them
    let mut head = Vec::new();
    if !cfg.json {
        head.push(crate::lessons::headless::title_line(lesson, cfg, None));
        let mut table = Vec::new();
        let steps = cfg.hyper.epochs;
        write_race(
            &mut Race::new(chosen, start, lr)?,
            steps,
            false,
            steps.max(1),
            &mut table,
        )?;
        let table = String::from_utf8_lossy(&table).into_owned();
        // the surface line and the column names, not step 0's rows
        head.extend(table.lines().take(2).map(str::to_string));
    }
    let head: Vec<String> = head
        .iter()
        .map(|l| format!("print({})", serde_json::to_string(l).unwrap_or_default()))
        .collect();
    Ok(format!(
        r#"# {title}: the dl-lab lesson `{name}` in PyTorch.
# Written by `dl-lab code {name}{flags}`; it prints what `dl-lab run {name}{flags}` prints.
# Run it with: python3 optimizer_race.py   (needs PyTorch and numpy)
import json
import math

import numpy as np
import torch


def f32(v):
    """A float32 as the shortest decimal that reads back as the same float32 (dl-lab's --json)."""
    v = float(v)
    return float(str(np.float32(v))) if math.isfinite(v) else None


def cell(v):
    """A number in the text table: 6 decimals, or inf / NaN."""
    return f"{{v:.6f}}" if math.isfinite(v) else ("NaN" if math.isnan(v) else ("inf" if v > 0 else "-inf"))


def surface(p):
    x, y = p[0], p[1]
    return {f}


json_lines = {json}
steps = {steps}
log_every = {every}
# every optimizer starts at the same point, each with its own copy of it
racers = [
{optimizers}]
runners = []
for name, make in racers:
    p = torch.tensor([{x}, {y}], dtype=torch.float32, requires_grad=True)
    runners.append((name, p, make(p)))

{head}
diverged = {{}}  # the step at which a racer's x, y or loss stopped being finite
for k in range(steps + 1):
    if k > 0:
        for name, p, opt in runners:
            opt.zero_grad()
            surface(p).backward()
            opt.step()
    for name, p, opt in runners:
        with torch.no_grad():
            finite = math.isfinite(surface(p).item()) and all(math.isfinite(v) for v in p.tolist())
        if not finite and name not in diverged:
            diverged[name] = k
    if not json_lines and k % log_every != 0 and k != steps:
        continue
    if not json_lines and k > 0:
        print()
    for name, p, opt in runners:
        with torch.no_grad():
            loss = surface(p).item()
        x, y = p[0].item(), p[1].item()
        if json_lines:
            print(json.dumps({{"optimizer": name, "step": k, "x": f32(x), "y": f32(y), "loss": f32(loss)}}, separators=(",", ":")))
        else:
            print(f"{{k:>5}}  {{name:<9}}{{cell(x):>14}}{{cell(y):>14}}{{cell(loss):>16}}")
if not json_lines:
    for name, p, opt in runners:
        if name in diverged:
            print(f"{{name}} diverged at step {{diverged[name]}}: x, y or the loss is no longer a finite number")
"#,
        head = head.join("\n"),
        title = lesson.title,
        name = lesson.name,
        json = if cfg.json { "True" } else { "False" },
        x = start[0],
        y = start[1],
    ))
}
