//! RMSprop, as in `torch.optim.RMSprop`
//! (<https://pytorch.org/docs/stable/generated/torch.optim.RMSprop.html>):
//!
//! ```text
//! g ← ∇θ
//! if λ ≠ 0:  g ← g + λ·θ
//! v ← α·v + (1 − α)·g²                    (v starts at 0)
//! ṽ ← v
//! if centered:  ḡ ← α·ḡ + (1 − α)·g;  ṽ ← ṽ − ḡ²
//! if μ > 0:  b ← μ·b + g / (√ṽ + ε);  θ ← θ − γ·b    (b starts at 0)
//! else:      θ ← θ − γ·g / (√ṽ + ε)
//! ```
//!
//! Centered: ṽ is mathematically ≥ 0 (a weighted mean of squares minus the
//! square of the mean), but rounding can push it a hair below; we clamp at 0
//! where PyTorch would produce NaN.

use super::{
    check_distinct, check_lr, check_non_negative, check_range, export_states, import_states,
    update_each, zero_grads, Optimizer, ParamState, SavedState,
};
use crate::backend::UpdateRule;
use crate::{Result, Tensor};

/// RMSprop settings; `Default` is PyTorch's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmspropConfig {
    pub lr: f32,
    pub alpha: f32,
    pub eps: f32,
    pub weight_decay: f32,
    pub momentum: f32,
    pub centered: bool,
}

impl Default for RmspropConfig {
    fn default() -> Self {
        RmspropConfig {
            lr: 0.01,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
        }
    }
}

impl RmspropConfig {
    pub fn validate(&self) -> Result<()> {
        check_lr(self.lr)?;
        check_range("RMSprop alpha", self.alpha, 0.0, 1.0, false)?;
        check_non_negative("RMSprop eps", self.eps)?;
        check_non_negative("weight decay (--weight-decay)", self.weight_decay)?;
        check_range(
            "RMSprop momentum (--momentum)",
            self.momentum,
            0.0,
            1.0,
            false,
        )
    }
}

/// `torch.optim.RMSprop`.
pub struct Rmsprop {
    params: Vec<Tensor>,
    config: RmspropConfig,
    /// each parameter's v (running mean of g²), ḡ (of g; centered only) and
    /// momentum buffer b (momentum > 0 only)
    state: Vec<Option<ParamState>>,
}

impl Rmsprop {
    pub fn new(params: Vec<Tensor>, config: RmspropConfig) -> Result<Self> {
        config.validate()?;
        check_distinct(&params)?;
        let state = params.iter().map(|_| None).collect();
        Ok(Rmsprop {
            params,
            config,
            state,
        })
    }

    pub fn config(&self) -> &RmspropConfig {
        &self.config
    }
}

impl Optimizer for Rmsprop {
    fn step(&mut self) -> Result<()> {
        let RmspropConfig {
            lr,
            alpha,
            eps,
            weight_decay,
            momentum,
            centered,
        } = self.config;
        update_each(&self.params, &mut self.state, 3, 0.0, |_| {
            UpdateRule::Rmsprop {
                lr,
                alpha,
                eps,
                weight_decay,
                momentum,
                centered,
            }
        })
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
        "rmsprop"
    }

    fn params(&self) -> &[Tensor] {
        &self.params
    }

    fn state(&self) -> Result<Vec<Option<SavedState>>> {
        export_states(&self.state)
    }

    fn load_state(&mut self, saved: Vec<Option<SavedState>>) -> Result<()> {
        self.state = import_states(self.name(), &self.params, saved, 3)?;
        Ok(())
    }
}
