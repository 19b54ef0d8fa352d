//! A run's settings: epochs, learning rate, the optimizer as a typed value,
//! batch size, seed, logging and initialisation. A lesson carries its
//! defaults; the command line, a checkpoint or the lab change them.
//!
//! [`OptimizerSettings`] holds what an optimizer takes besides the learning
//! rate, one variant per `--optimizer` name, so a setting an optimizer does
//! not have (Adam's momentum) cannot be written down. Each optimizer's
//! defaults come from [`OptimizerKind::default_config`] (PyTorch's), which is
//! the one place AdamW's weight decay of 0.01 is written.

use std::fmt;
use std::str::FromStr;

use crate::nn::init::Init;
use crate::optim::{Optimizer, OptimizerConfig, OptimizerKind};
use crate::{Error, Result, Tensor};

/// Hyper-parameters; every field can be overridden from the command line.
#[derive(Clone, Debug, PartialEq)]
pub struct Hyper {
    /// Small lessons run epochs 0..=epochs (the course's `range(nb_epochs + 1)`);
    /// MNIST lessons run epochs 1..=epochs.
    pub epochs: usize,
    pub lr: f32,
    pub optimizer: OptimizerSettings,
    /// Mini-batch size; 0 means full batch.
    pub batch_size: usize,
    pub seed: u64,
    /// Log epoch 0, every K-th epoch and the last (small lessons).
    pub log_every: usize,
    /// How Linear and Conv2d layers draw their first weights (`--init`).
    pub init: Init,
    /// MNIST lessons: train on the first N training images only (0: all of
    /// them). Set by the lesson (overfit-mnist), not by a flag.
    pub train_subset: usize,
    /// Standardise the inputs with the training data's mean and sample std
    /// (small lessons' tables, `--normalize`; see [`super::normalize`]).
    pub normalize: bool,
}

impl Hyper {
    /// Plain SGD with these numbers, seed 1, PyTorch's initialisation.
    pub fn sgd(epochs: usize, lr: f32, batch_size: usize, log_every: usize) -> Hyper {
        Hyper {
            epochs,
            lr,
            optimizer: OptimizerSettings::new(OptimizerKind::Sgd),
            batch_size,
            seed: 1,
            log_every,
            init: Init::default(),
            train_subset: 0,
            normalize: false,
        }
    }

    /// The same with `optimizer`.
    pub fn with_optimizer(mut self, optimizer: OptimizerSettings) -> Hyper {
        self.optimizer = optimizer;
        self
    }

    /// The optimizer these settings describe, over `params`.
    pub fn build_optimizer(&self, params: Vec<Tensor>) -> Result<Box<dyn Optimizer>> {
        self.optimizer.config(self.lr).build(params)
    }
}

/// An optimizer's settings besides the learning rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OptimizerSettings {
    Sgd {
        momentum: f32,
        nesterov: bool,
        weight_decay: f32,
    },
    Adam {
        weight_decay: f32,
    },
    AdamW {
        weight_decay: f32,
    },
    Rmsprop {
        momentum: f32,
        weight_decay: f32,
    },
    Adagrad {
        weight_decay: f32,
    },
}

impl OptimizerSettings {
    /// `kind` with PyTorch's defaults.
    pub fn new(kind: OptimizerKind) -> Self {
        match kind.default_config() {
            OptimizerConfig::Sgd(c) => OptimizerSettings::Sgd {
                momentum: c.momentum,
                nesterov: c.nesterov,
                weight_decay: c.weight_decay,
            },
            OptimizerConfig::Adam(c) => OptimizerSettings::Adam {
                weight_decay: c.weight_decay,
            },
            OptimizerConfig::AdamW(c) => OptimizerSettings::AdamW {
                weight_decay: c.weight_decay,
            },
            OptimizerConfig::Rmsprop(c) => OptimizerSettings::Rmsprop {
                momentum: c.momentum,
                weight_decay: c.weight_decay,
            },
            OptimizerConfig::Adagrad(c) => OptimizerSettings::Adagrad {
                weight_decay: c.weight_decay,
            },
        }
    }

    /// SGD with `momentum` (PyTorch's other defaults).
    pub fn sgd_momentum(momentum: f32) -> Self {
        OptimizerSettings::Sgd {
            momentum,
            nesterov: false,
            weight_decay: 0.0,
        }
    }

    pub fn kind(&self) -> OptimizerKind {
        match self {
            OptimizerSettings::Sgd { .. } => OptimizerKind::Sgd,
            OptimizerSettings::Adam { .. } => OptimizerKind::Adam,
            OptimizerSettings::AdamW { .. } => OptimizerKind::AdamW,
            OptimizerSettings::Rmsprop { .. } => OptimizerKind::Rmsprop,
            OptimizerSettings::Adagrad { .. } => OptimizerKind::Adagrad,
        }
    }

    /// The CLI name: "sgd", "adam", "adamw", "rmsprop", "adagrad".
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// The momentum (0 for the optimizers without one).
    pub fn momentum(&self) -> f32 {
        match *self {
            OptimizerSettings::Sgd { momentum, .. }
            | OptimizerSettings::Rmsprop { momentum, .. } => momentum,
            _ => 0.0,
        }
    }

    pub fn weight_decay(&self) -> f32 {
        match *self {
            OptimizerSettings::Sgd { weight_decay, .. }
            | OptimizerSettings::Adam { weight_decay }
            | OptimizerSettings::AdamW { weight_decay }
            | OptimizerSettings::Rmsprop { weight_decay, .. }
            | OptimizerSettings::Adagrad { weight_decay } => weight_decay,
        }
    }

    /// With `--momentum m`; an error for adam, adamw and adagrad unless m
    /// is 0 (better an error than a flag silently ignored).
    pub fn with_momentum(mut self, m: f32) -> Result<Self> {
        match &mut self {
            OptimizerSettings::Sgd { momentum, .. }
            | OptimizerSettings::Rmsprop { momentum, .. } => *momentum = m,
            _ if m == 0.0 => {}
            other => {
                let hint = match other {
                    OptimizerSettings::Adagrad { .. } => "use sgd or rmsprop for momentum",
                    _ => "its betas (0.9, 0.999) play that part",
                };
                return Err(Error::Config(format!(
                    "{} has no momentum setting (--momentum {m} given); {hint}",
                    other.name()
                )));
            }
        }
        Ok(self)
    }

    /// With `--weight-decay wd`.
    pub fn with_weight_decay(mut self, wd: f32) -> Self {
        match &mut self {
            OptimizerSettings::Sgd { weight_decay, .. }
            | OptimizerSettings::Adam { weight_decay }
            | OptimizerSettings::AdamW { weight_decay }
            | OptimizerSettings::Rmsprop { weight_decay, .. }
            | OptimizerSettings::Adagrad { weight_decay } => *weight_decay = wd,
        }
        self
    }

    /// The full optimizer configuration with learning rate `lr` (PyTorch's
    /// defaults for everything these settings leave out).
    pub fn config(&self, lr: f32) -> OptimizerConfig {
        let mut config = self.kind().default_config();
        match (&mut config, *self) {
            (
                OptimizerConfig::Sgd(c),
                OptimizerSettings::Sgd {
                    momentum,
                    nesterov,
                    weight_decay,
                },
            ) => {
                c.lr = lr;
                c.momentum = momentum;
                c.nesterov = nesterov;
                c.weight_decay = weight_decay;
            }
            (
                OptimizerConfig::Rmsprop(c),
                OptimizerSettings::Rmsprop {
                    momentum,
                    weight_decay,
                },
            ) => {
                c.lr = lr;
                c.momentum = momentum;
                c.weight_decay = weight_decay;
            }
            (OptimizerConfig::Adam(c), OptimizerSettings::Adam { weight_decay })
            | (OptimizerConfig::AdamW(c), OptimizerSettings::AdamW { weight_decay }) => {
                c.lr = lr;
                c.weight_decay = weight_decay;
            }
            (OptimizerConfig::Adagrad(c), OptimizerSettings::Adagrad { weight_decay }) => {
                c.lr = lr;
                c.weight_decay = weight_decay;
            }
            _ => unreachable!("default_config follows the kind"),
        }
        config
    }

    /// The name with the settings that are not zero: "sgd", "sgd
    /// (momentum 0.9)", "adamw (weight decay 0.01)".
    pub fn describe(&self) -> String {
        let mut extra = Vec::new();
        if self.momentum() != 0.0 {
            extra.push(format!("momentum {}", self.momentum()));
        }
        if matches!(self, OptimizerSettings::Sgd { nesterov: true, .. }) {
            extra.push("Nesterov".to_string());
        }
        if self.weight_decay() != 0.0 {
            extra.push(format!("weight decay {}", self.weight_decay()));
        }
        if extra.is_empty() {
            self.name().to_string()
        } else {
            format!("{} ({})", self.name(), extra.join(", "))
        }
    }
}

impl Default for OptimizerSettings {
    fn default() -> Self {
        OptimizerSettings::new(OptimizerKind::Sgd)
    }
}

impl From<OptimizerKind> for OptimizerSettings {
    fn from(kind: OptimizerKind) -> Self {
        OptimizerSettings::new(kind)
    }
}

/// Printed by its CLI name, as `--optimizer` takes it.
impl fmt::Display for OptimizerSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The CLI name (case-insensitive) with PyTorch's defaults.
impl FromStr for OptimizerSettings {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(OptimizerSettings::new(s.parse()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adamw_takes_pytorchs_weight_decay_and_the_rest_none() {
        for kind in OptimizerKind::ALL {
            let s = OptimizerSettings::new(kind);
            let want = if kind == OptimizerKind::AdamW {
                0.01
            } else {
                0.0
            };
            assert_eq!((s.weight_decay(), s.momentum()), (want, 0.0), "{kind}");
            assert_eq!(s.to_string(), kind.name());
            assert_eq!(s.config(0.5).kind(), kind);
        }
    }

    #[test]
    fn momentum_only_where_the_optimizer_has_it() {
        let sgd = OptimizerSettings::new(OptimizerKind::Sgd)
            .with_momentum(0.9)
            .expect("sgd has momentum");
        assert_eq!(sgd.momentum(), 0.9);
        assert_eq!(sgd.describe(), "sgd (momentum 0.9)");
        let err = OptimizerSettings::new(OptimizerKind::Adam)
            .with_momentum(0.9)
            .expect_err("adam has none");
        assert!(err.to_string().contains("betas"), "{err}");
        assert!(OptimizerSettings::new(OptimizerKind::Adam)
            .with_momentum(0.0)
            .is_ok());
    }
}
