//! Stochastic gradient descent, as in `torch.optim.SGD`
//! (<https://pytorch.org/docs/stable/generated/torch.optim.SGD.html>):
//!
//! ```text
//! g ← ∇θ
//! if λ ≠ 0:  g ← g + λ·θ                       (weight decay)
//! if μ ≠ 0:  b ← g             at this param's first step
//!            b ← μ·b + (1 − τ)·g  afterwards    (τ = dampening)
//!            g ← g + μ·b  if nesterov,  else g ← b
//! θ ← θ − γ·g
//! ```
//!
//! Nesterov needs μ > 0 and τ = 0, as PyTorch requires.

use super::{
    check_distinct, check_lr, check_non_negative, check_range, export_states, import_states,
    update_each, zero_grads, Optimizer, ParamState, SavedState,
};
use crate::backend::UpdateRule;
use crate::{Error, Result, Tensor};

/// SGD settings; `Default` is PyTorch's (lr = 1e-3 as in PyTorch 2.x; older versions required lr).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    pub lr: f32,
    pub momentum: f32,
    pub dampening: f32,
    pub weight_decay: f32,
    pub nesterov: bool,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        }
    }
}

impl SgdConfig {
    pub fn validate(&self) -> Result<()> {
        check_lr(self.lr)?;
        check_range("SGD momentum (--momentum)", self.momentum, 0.0, 1.0, false)?;
        check_range("SGD dampening", self.dampening, 0.0, 1.0, true)?;
        check_non_negative("weight decay (--weight-decay)", self.weight_decay)?;
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(Error::Config(format!(
                "Nesterov momentum needs momentum > 0 and dampening = 0, got momentum {} and dampening {}",
                self.momentum, self.dampening
            )));
        }
        Ok(())
    }
}

/// `torch.optim.SGD`.
pub struct Sgd {
    params: Vec<Tensor>,
    config: SgdConfig,
    /// The momentum buffer b of each parameter (none when momentum is 0);
    /// `None` until its first step.
    momentum_buffers: Vec<Option<ParamState>>,
}

impl Sgd {
    pub fn new(params: Vec<Tensor>, config: SgdConfig) -> Result<Self> {
        config.validate()?;
        check_distinct(&params)?;
        let momentum_buffers = params.iter().map(|_| None).collect();
        Ok(Sgd {
            params,
            config,
            momentum_buffers,
        })
    }

    pub fn config(&self) -> &SgdConfig {
        &self.config
    }
}

impl Optimizer for Sgd {
    fn step(&mut self) -> Result<()> {
        let SgdConfig {
            lr,
            momentum,
            dampening,
            weight_decay,
            nesterov,
        } = self.config;
        let buffers = usize::from(momentum != 0.0);
        update_each(
            &self.params,
            &mut self.momentum_buffers,
            buffers,
            0.0,
            |s| UpdateRule::Sgd {
                lr,
                momentum,
                dampening,
                weight_decay,
                nesterov,
                first: s.step == 1,
            },
        )
    }

    fn zero_grad(&mut self) {
        zero_grads(&self.params);
    }

    fn lr(&self) -> f32 {
        self.config.lr
    }

    fn set_lr(&mut self, lr: f32) {
        self.config.lr = lr;
    }

    fn name(&self) -> &'static str {
        "sgd"
    }

    fn params(&self) -> &[Tensor] {
        &self.params
    }

    fn state(&self) -> Result<Vec<Option<SavedState>>> {
        export_states(&self.momentum_buffers)
    }

    fn load_state(&mut self, saved: Vec<Option<SavedState>>) -> Result<()> {
        self.momentum_buffers = import_states(
            self.name(),
            &self.params,
            saved,
            usize::from(self.config.momentum != 0.0),
        )?;
        Ok(())
    }
}
