//! Adagrad, as in `torch.optim.Adagrad`
//! (<https://pytorch.org/docs/stable/generated/torch.optim.Adagrad.html>):
//!
//! ```text
//! state_sum ← initial_accumulator_value       (at the start)
//! g ← ∇θ
//! γ̃ ← γ / (1 + (t − 1)·η)                   (η = lr_decay, t = this parameter's step)
//! if λ ≠ 0:  g ← g + λ·θ
//! state_sum ← state_sum + g²
//! θ ← θ − γ̃·g / (√state_sum + ε)
//! ```
//!
//! Each coordinate's step shrinks as its squared gradients pile up, so rarely
//! updated coordinates keep larger steps.

use super::{
    check_distinct, check_lr, check_non_negative, export_states, import_states, update_each,
    zero_grads, Optimizer, ParamState, SavedState,
};
use crate::backend::UpdateRule;
use crate::{Result, Tensor};

/// Adagrad settings; `Default` is PyTorch's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdagradConfig {
    pub lr: f32,
    pub lr_decay: f32,
    pub weight_decay: f32,
    pub initial_accumulator_value: f32,
    pub eps: f32,
}

impl Default for AdagradConfig {
    fn default() -> Self {
        AdagradConfig {
            lr: 0.01,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
        }
    }
}

impl AdagradConfig {
    pub fn validate(&self) -> Result<()> {
        check_lr(self.lr)?;
        check_non_negative("Adagrad lr_decay", self.lr_decay)?;
        check_non_negative("weight decay (--weight-decay)", self.weight_decay)?;
        check_non_negative(
            "Adagrad initial_accumulator_value",
            self.initial_accumulator_value,
        )?;
        check_non_negative("Adagrad eps", self.eps)
    }
}

/// `torch.optim.Adagrad`.
pub struct Adagrad {
    params: Vec<Tensor>,
    config: AdagradConfig,
    /// each parameter's step count and sum of squared gradients
    state: Vec<Option<ParamState>>,
}

impl Adagrad {
    pub fn new(params: Vec<Tensor>, config: AdagradConfig) -> Result<Self> {
        config.validate()?;
        check_distinct(&params)?;
        let state = params.iter().map(|_| None).collect();
        Ok(Adagrad {
            params,
            config,
            state,
        })
    }

    pub fn config(&self) -> &AdagradConfig {
        &self.config
    }
}

impl Optimizer for Adagrad {
    fn step(&mut self) -> Result<()> {
        let AdagradConfig {
            lr,
            lr_decay,
            weight_decay,
            initial_accumulator_value,
            eps,
        } = self.config;
        // PyTorch fills state_sum when the optimizer is built; filling it at
        // the first step gives the same numbers.
        update_each(
            &self.params,
            &mut self.state,
            1,
            initial_accumulator_value,
            |s| UpdateRule::Adagrad {
                clr: (f64::from(lr) / (1.0 + (s.step - 1) as f64 * f64::from(lr_decay))) as f32,
                eps,
                weight_decay,
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
        "adagrad"
    }

    fn params(&self) -> &[Tensor] {
        &self.params
    }

    fn state(&self) -> Result<Vec<Option<SavedState>>> {
        export_states(&self.state)
    }

    fn load_state(&mut self, saved: Vec<Option<SavedState>>) -> Result<()> {
        self.state = import_states(self.name(), &self.params, saved, 1)?;
        Ok(())
    }
}
