//! Adam and AdamW, as in `torch.optim.Adam` and `torch.optim.AdamW`
//! (<https://pytorch.org/docs/stable/generated/torch.optim.Adam.html>, `…AdamW.html`):
//!
//! ```text
//! g ← ∇θ
//! Adam:   if λ ≠ 0:  g ← g + λ·θ          (L2 penalty, goes through m and v)
//! AdamW:  θ ← θ·(1 − γ·λ)                 (decoupled decay, before the update)
//! m ← β1·m + (1 − β1)·g
//! v ← β2·v + (1 − β2)·g²
//! m̂ ← m / (1 − β1^t),  v̂ ← v / (1 − β2^t)   (t counts this parameter's steps)
//! θ ← θ − γ·m̂ / (√v̂ + ε)
//! ```
//!
//! At t = 1, m̂ = g and v̂ = g², so every coordinate moves by about γ·sign(g),
//! whatever the gradient's size. The last line is evaluated as PyTorch does:
//! θ ← θ − (γ / (1 − β1^t))·m / (√v / √(1 − β2^t) + ε). `amsgrad` is not offered.

use super::{
    check_distinct, check_lr, check_non_negative, check_range, export_states, import_states,
    update_each, zero_grads, Optimizer, ParamState, SavedState,
};
use crate::backend::UpdateRule;
use crate::{Result, Tensor};

/// Adam/AdamW settings. `Default` is Adam's; [`AdamConfig::adamw`] is AdamW's
/// (the same, with weight_decay = 0.01).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    pub lr: f32,
    pub betas: (f32, f32),
    pub eps: f32,
    pub weight_decay: f32,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

impl AdamConfig {
    /// PyTorch's AdamW defaults.
    pub fn adamw() -> Self {
        AdamConfig {
            weight_decay: 0.01,
            ..AdamConfig::default()
        }
    }

    pub fn validate(&self) -> Result<()> {
        check_lr(self.lr)?;
        check_range("Adam beta1", self.betas.0, 0.0, 1.0, false)?;
        check_range("Adam beta2", self.betas.1, 0.0, 1.0, false)?;
        check_non_negative("Adam eps", self.eps)?;
        check_non_negative("weight decay (--weight-decay)", self.weight_decay)
    }
}

/// What Adam and AdamW share; `decoupled` picks where the weight decay goes.
struct AdamCore {
    params: Vec<Tensor>,
    config: AdamConfig,
    decoupled: bool,
    /// m (running mean of g) and v (of g²), and the step count t
    state: Vec<Option<ParamState>>,
}

impl AdamCore {
    fn new(params: Vec<Tensor>, config: AdamConfig, decoupled: bool) -> Result<Self> {
        config.validate()?;
        check_distinct(&params)?;
        let state = params.iter().map(|_| None).collect();
        Ok(AdamCore {
            params,
            config,
            decoupled,
            state,
        })
    }

    fn step(&mut self) -> Result<()> {
        let AdamConfig {
            lr,
            betas: (beta1, beta2),
            eps,
            weight_decay,
        } = self.config;
        let decoupled = self.decoupled;
        update_each(&self.params, &mut self.state, 2, 0.0, |s| {
            // Bias corrections in f64, as PyTorch computes them in Python floats.
            let t = s.step as f64;
            let bias_correction1 = 1.0 - f64::from(beta1).powf(t);
            UpdateRule::Adam {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
                decoupled,
                step_size: (f64::from(lr) / bias_correction1) as f32,
                bias_correction2_sqrt: (1.0 - f64::from(beta2).powf(t)).sqrt() as f32,
            }
        })
    }
}

/// `torch.optim.Adam`.
pub struct Adam(AdamCore);

impl Adam {
    pub fn new(params: Vec<Tensor>, config: AdamConfig) -> Result<Self> {
        AdamCore::new(params, config, false).map(Adam)
    }

    pub fn config(&self) -> &AdamConfig {
        &self.0.config
    }
}

/// `torch.optim.AdamW`: Adam with decoupled weight decay (Loshchilov & Hutter).
/// Build it with [`AdamConfig::adamw`] for PyTorch's defaults.
pub struct AdamW(AdamCore);

impl AdamW {
    pub fn new(params: Vec<Tensor>, config: AdamConfig) -> Result<Self> {
        AdamCore::new(params, config, true).map(AdamW)
    }

    pub fn config(&self) -> &AdamConfig {
        &self.0.config
    }
}

/// The trait for both: only the name differs.
macro_rules! impl_optimizer {
    ($ty:ty, $name:literal) => {
        impl Optimizer for $ty {
            fn step(&mut self) -> Result<()> {
                self.0.step()
            }
            fn zero_grad(&mut self) {
                zero_grads(&self.0.params);
            }
            fn lr(&self) -> f32 {
                self.0.config.lr
            }
            fn set_lr(&mut self, lr: f32) {
                self.0.config.lr = lr;
            }
            fn name(&self) -> &'static str {
                $name
            }
            fn params(&self) -> &[Tensor] {
                &self.0.params
            }
            fn state(&self) -> Result<Vec<Option<SavedState>>> {
                export_states(&self.0.state)
            }
            fn load_state(&mut self, saved: Vec<Option<SavedState>>) -> Result<()> {
                self.0.state = import_states($name, &self.0.params, saved, 2)?;
                Ok(())
            }
        }
    };
}

impl_optimizer!(Adam, "adam");
impl_optimizer!(AdamW, "adamw");
