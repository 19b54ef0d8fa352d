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

use ndarray::Zip;

use super::{
    add_weight_decay, check_distinct, check_lr, check_non_negative, check_range, fresh_if_reshaped,
    grad_of, zero_grads, Optimizer,
};
use crate::engine::Array;
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
    /// The momentum buffer b of each parameter; `None` until its first step.
    momentum_buffers: Vec<Option<Array>>,
}

impl Sgd {
    pub fn new(params: Vec<Tensor>, config: SgdConfig) -> Result<Self> {
        config.validate()?;
        check_distinct(&params)?;
        let momentum_buffers = vec![None; params.len()];
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
    fn step(&mut self) {
        let SgdConfig {
            lr,
            momentum: mu,
            dampening,
            weight_decay,
            nesterov,
        } = self.config;
        for (p, slot) in self.params.iter().zip(&mut self.momentum_buffers) {
            let Some(mut g) = grad_of(p) else { continue };
            add_weight_decay(&mut g, p, weight_decay);
            if mu != 0.0 {
                fresh_if_reshaped(slot, g.shape(), |b| b.shape());
                let b = match slot {
                    Some(b) => {
                        b.zip_mut_with(&g, |b, &g| *b = mu * *b + (1.0 - dampening) * g);
                        b
                    }
                    None => slot.insert(g.clone()),
                };
                if nesterov {
                    g.zip_mut_with(b, |g, &b| *g += mu * b);
                } else {
                    g.assign(b);
                }
            }
            Zip::from(&mut *p.data_mut())
                .and(&g)
                .for_each(|theta, &g| *theta -= lr * g);
        }
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
}
