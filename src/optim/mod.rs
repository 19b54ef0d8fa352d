//! Optimizers with PyTorch's names, defaults and update rules.
//!
//! Each file follows the pseudo-code on the matching `torch.optim` page
//! (<https://pytorch.org/docs/stable/optim.html>), written out in its `//!` header:
//!
//! - `sgd.rs`: [`Sgd`] (momentum, dampening, Nesterov, L2 weight decay)
//! - `adam.rs`: [`Adam`] (L2 decay added to the gradient) and [`AdamW`] (decoupled decay)
//! - `rmsprop.rs`: [`Rmsprop`] (momentum, centered)
//! - `adagrad.rs`: [`Adagrad`] (learning-rate decay, initial accumulator)
//!
//! An optimizer holds the parameter handles ([`Tensor`] is an `Arc`, so the model
//! keeps them too) and per-parameter state keyed by position in that list. A
//! parameter without a gradient (`grad()` is `None`) is skipped, state and all,
//! as PyTorch does. What PyTorch has and we leave out: parameter groups,
//! `maximize`, `amsgrad`, `foreach`/`fused` kernels.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use crate::backend::{BinaryOp, Storage, UpdateRule};
use crate::{Error, Result, Tensor};

mod adagrad;
mod adam;
mod rmsprop;
mod sgd;

pub use adagrad::{Adagrad, AdagradConfig};
pub use adam::{Adam, AdamConfig, AdamW};
pub use rmsprop::{Rmsprop, RmspropConfig};
pub use sgd::{Sgd, SgdConfig};

/// What every optimizer offers the training loop (PyTorch's method names).
pub trait Optimizer: Send {
    /// Apply one update to every parameter that has a gradient, on the
    /// parameter's device. Errs only when a device fails.
    fn step(&mut self) -> Result<()>;
    /// Forget every parameter's gradient (PyTorch's `zero_grad(set_to_none=True)`).
    fn zero_grad(&mut self);
    fn lr(&self) -> f32;
    /// Change the learning rate (schedulers, the UI's `SetLr`). Not checked
    /// here: callers taking it from a person run [`check_lr`] first.
    fn set_lr(&mut self, lr: f32);
    /// The CLI name: "sgd", "adam", "adamw", "rmsprop", "adagrad".
    fn name(&self) -> &'static str;
    /// The parameters being optimized, in the order their state is kept.
    fn params(&self) -> &[Tensor];
    /// Every parameter's state copied to the host, in [`params`](Self::params)'
    /// order (`None` for a parameter not stepped yet): what a checkpoint saves.
    fn state(&self) -> Result<Vec<Option<SavedState>>>;
    /// Replace every parameter's state with `saved` (as [`state`](Self::state)
    /// gave it), each buffer on its parameter's device. Errs, changing
    /// nothing, when `saved` does not fit these parameters or this optimizer.
    fn load_state(&mut self, saved: Vec<Option<SavedState>>) -> Result<()>;
}

/// One parameter's optimizer state on the host: how many updates it has had
/// and its buffers (momentum, moments, sums), each shaped like the parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedState {
    pub step: u64,
    pub buffers: Vec<crate::engine::Array>,
}

/// The optimizers `--optimizer` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptimizerKind {
    Sgd,
    Adam,
    AdamW,
    Rmsprop,
    Adagrad,
}

impl OptimizerKind {
    pub const ALL: [OptimizerKind; 5] = [
        OptimizerKind::Sgd,
        OptimizerKind::Adam,
        OptimizerKind::AdamW,
        OptimizerKind::Rmsprop,
        OptimizerKind::Adagrad,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Adam => "adam",
            OptimizerKind::AdamW => "adamw",
            OptimizerKind::Rmsprop => "rmsprop",
            OptimizerKind::Adagrad => "adagrad",
        }
    }

    /// "sgd|adam|adamw|rmsprop|adagrad", for help and error text.
    pub fn names() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|k| k.name()).collect();
        names.join("|")
    }

    /// This optimizer with PyTorch's defaults, learning rate included.
    pub fn default_config(self) -> OptimizerConfig {
        match self {
            OptimizerKind::Sgd => OptimizerConfig::Sgd(SgdConfig::default()),
            OptimizerKind::Adam => OptimizerConfig::Adam(AdamConfig::default()),
            OptimizerKind::AdamW => OptimizerConfig::AdamW(AdamConfig::adamw()),
            OptimizerKind::Rmsprop => OptimizerConfig::Rmsprop(RmspropConfig::default()),
            OptimizerKind::Adagrad => OptimizerConfig::Adagrad(AdagradConfig::default()),
        }
    }
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OptimizerKind {
    type Err = Error;

    /// Case-insensitive; unknown names get the list of known ones.
    fn from_str(s: &str) -> Result<Self> {
        let wanted = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|k| k.name() == wanted)
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown optimizer {s:?}: --optimizer takes one of {}",
                    Self::names()
                ))
            })
    }
}

/// An optimizer and all its settings, as data (for lessons and the model builder).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerConfig {
    Sgd(SgdConfig),
    Adam(AdamConfig),
    AdamW(AdamConfig),
    Rmsprop(RmspropConfig),
    Adagrad(AdagradConfig),
}

impl OptimizerConfig {
    pub fn kind(&self) -> OptimizerKind {
        match self {
            OptimizerConfig::Sgd(_) => OptimizerKind::Sgd,
            OptimizerConfig::Adam(_) => OptimizerKind::Adam,
            OptimizerConfig::AdamW(_) => OptimizerKind::AdamW,
            OptimizerConfig::Rmsprop(_) => OptimizerKind::Rmsprop,
            OptimizerConfig::Adagrad(_) => OptimizerKind::Adagrad,
        }
    }

    /// Check the settings and make the optimizer.
    pub fn build(self, params: Vec<Tensor>) -> Result<Box<dyn Optimizer>> {
        Ok(match self {
            OptimizerConfig::Sgd(c) => Box::new(Sgd::new(params, c)?),
            OptimizerConfig::Adam(c) => Box::new(Adam::new(params, c)?),
            OptimizerConfig::AdamW(c) => Box::new(AdamW::new(params, c)?),
            OptimizerConfig::Rmsprop(c) => Box::new(Rmsprop::new(params, c)?),
            OptimizerConfig::Adagrad(c) => Box::new(Adagrad::new(params, c)?),
        })
    }
}

/// The CLI's `--optimizer NAME --lr --momentum --weight-decay`. Everything not
/// given keeps PyTorch's default. `weight_decay` is used as given, so AdamW's
/// default of 0.01 applies only if the caller passes 0.01. `momentum` must be 0
/// for adam, adamw and adagrad, which have no such setting (Adam's betas play
/// that part): better an error than a flag silently ignored.
pub fn build_optimizer(
    name: &str,
    params: Vec<Tensor>,
    lr: f32,
    momentum: f32,
    weight_decay: f32,
) -> Result<Box<dyn Optimizer>> {
    let kind: OptimizerKind = name.parse()?;
    let mut config = kind.default_config();
    match &mut config {
        OptimizerConfig::Sgd(c) => {
            c.lr = lr;
            c.momentum = momentum;
            c.weight_decay = weight_decay;
        }
        OptimizerConfig::Rmsprop(c) => {
            c.lr = lr;
            c.momentum = momentum;
            c.weight_decay = weight_decay;
        }
        OptimizerConfig::Adam(c) | OptimizerConfig::AdamW(c) => {
            no_momentum(kind, momentum, "its betas (0.9, 0.999) play that part")?;
            c.lr = lr;
            c.weight_decay = weight_decay;
        }
        OptimizerConfig::Adagrad(c) => {
            no_momentum(kind, momentum, "use sgd or rmsprop for momentum")?;
            c.lr = lr;
            c.weight_decay = weight_decay;
        }
    }
    config.build(params)
}

fn no_momentum(kind: OptimizerKind, momentum: f32, hint: &str) -> Result<()> {
    if momentum == 0.0 {
        return Ok(());
    }
    Err(Error::Config(format!(
        "{kind} has no momentum setting (--momentum {momentum} given); {hint}"
    )))
}

// ---- checks shared by the constructors ----

/// The learning rate must be a positive finite number (PyTorch allows 0; a
/// run that cannot move is more likely a typo than a wish).
pub fn check_lr(lr: f32) -> Result<()> {
    if lr.is_finite() && lr > 0.0 {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "learning rate (--lr) must be a positive number, got {lr}"
        )))
    }
}

/// `lo <= value < hi` (or `<= hi` when `hi_inclusive`), and finite.
pub(crate) fn check_range(
    what: &str,
    value: f32,
    lo: f32,
    hi: f32,
    hi_inclusive: bool,
) -> Result<()> {
    let below_hi = if hi_inclusive {
        value <= hi
    } else {
        value < hi
    };
    if value.is_finite() && value >= lo && below_hi {
        return Ok(());
    }
    let close = if hi_inclusive { ']' } else { ')' };
    Err(Error::Config(format!(
        "{what} must be in [{lo}, {hi}{close}, got {value}"
    )))
}

/// `value >= 0` and finite (weight decay, eps, lr_decay, …).
pub(crate) fn check_non_negative(what: &str, value: f32) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "{what} must be a number >= 0, got {value}"
        )))
    }
}

/// The same tensor twice would be updated twice per step (PyTorch warns; we refuse).
pub(crate) fn check_distinct(params: &[Tensor]) -> Result<()> {
    let mut seen = HashSet::new();
    match params.iter().position(|p| !seen.insert(p.id())) {
        None => Ok(()),
        Some(i) => Err(Error::Config(format!(
            "parameter {i} (shape {:?}) appears twice in the optimizer's list",
            params[i].shape()
        ))),
    }
}

// ---- helpers for `step` ----

/// One parameter's optimizer state: how many updates it has had and its
/// buffers (momentum, moments, sums; each shaped like the parameter, on its
/// device).
pub(crate) struct ParamState {
    pub(crate) step: u64,
    pub(crate) buffers: Vec<Storage>,
}

/// Update every parameter that has a gradient: `buffers` state buffers each,
/// filled with `init` when a parameter's state is (re)made, and `rule(state)`
/// giving this step's update (the state's step already counted).
///
/// A parameter is skipped, state and all, when it has no gradient or its
/// value was replaced (`set_data`) with another shape since `backward`, so
/// the gradient no longer describes it; its state is then made afresh.
pub(crate) fn update_each(
    params: &[Tensor],
    state: &mut [Option<ParamState>],
    buffers: usize,
    init: f32,
    mut rule: impl FnMut(&ParamState) -> UpdateRule,
) -> Result<()> {
    for (p, slot) in params.iter().zip(state.iter_mut()) {
        let grad = p.grad_storage();
        let Some(g) = grad.as_ref() else { continue };
        if g.shape() != p.storage().shape() {
            continue;
        }
        let shape = g.shape();
        if slot
            .as_ref()
            .is_some_and(|s| s.buffers.first().is_some_and(|b| b.shape() != shape))
        {
            *slot = None;
        }
        let s = match slot {
            Some(s) => s,
            None => {
                let mut made = Vec::with_capacity(buffers);
                for _ in 0..buffers {
                    let zeros = g.zeros_like(shape)?;
                    made.push(if init == 0.0 {
                        zeros
                    } else {
                        zeros.binary(
                            &Storage::Cpu(crate::engine::Array::from_elem(
                                ndarray::IxDyn(&[]),
                                init,
                            )),
                            BinaryOp::Add,
                            shape,
                        )?
                    });
                }
                slot.insert(ParamState {
                    step: 0,
                    buffers: made,
                })
            }
        };
        // the parameter moved (model.to(&device)) since the state was made:
        // the state follows it, as PyTorch's optimizer state follows its
        // parameters when they are loaded onto another device
        let device = g.device();
        for b in s.buffers.iter_mut() {
            if b.device() != device {
                *b = b.to_device(&device)?;
            }
        }
        s.step += 1;
        let r = rule(s);
        p.storage_mut().update(g, &mut s.buffers, &r)?;
    }
    Ok(())
}

/// Copy each parameter's state to the host (shared by the `state` impls).
pub(crate) fn export_states(state: &[Option<ParamState>]) -> Result<Vec<Option<SavedState>>> {
    state
        .iter()
        .map(|slot| {
            slot.as_ref()
                .map(|s| {
                    let buffers = s
                        .buffers
                        .iter()
                        .map(Storage::to_host)
                        .collect::<Result<_>>()?;
                    Ok(SavedState {
                        step: s.step,
                        buffers,
                    })
                })
                .transpose()
        })
        .collect()
}

/// Check `saved` against `params` (one entry each, `buffers` buffers shaped
/// like the parameter, at least one step) and move it to the parameters'
/// devices (shared by the `load_state` impls).
pub(crate) fn import_states(
    name: &str,
    params: &[Tensor],
    saved: Vec<Option<SavedState>>,
    buffers: usize,
) -> Result<Vec<Option<ParamState>>> {
    if saved.len() != params.len() {
        return Err(Error::Config(format!(
            "{name} state for {} parameters, but the optimizer has {}",
            saved.len(),
            params.len()
        )));
    }
    params
        .iter()
        .zip(saved)
        .enumerate()
        .map(|(i, (p, slot))| {
            let Some(s) = slot else { return Ok(None) };
            let shape = p.shape();
            if s.buffers.len() != buffers || s.step == 0 {
                return Err(Error::Config(format!(
                    "{name} state of parameter {i}: {} buffers after {} steps, {name} keeps {buffers} \
                     (after at least one step)",
                    s.buffers.len(),
                    s.step
                )));
            }
            if let Some(b) = s.buffers.iter().find(|b| b.shape() != shape.as_slice()) {
                return Err(Error::Config(format!(
                    "{name} state of parameter {i}: a buffer of shape {:?} for a parameter of shape {shape:?}",
                    b.shape()
                )));
            }
            let device = p.device();
            let buffers = s
                .buffers
                .into_iter()
                .map(|b| Storage::Cpu(b).to_device(&device))
                .collect::<Result<_>>()?;
            Ok(Some(ParamState {
                step: s.step,
                buffers,
            }))
        })
        .collect()
}

/// Zero every parameter's gradient (shared by the `zero_grad` impls).
pub(crate) fn zero_grads(params: &[Tensor]) {
    for p in params {
        p.zero_grad();
    }
}
