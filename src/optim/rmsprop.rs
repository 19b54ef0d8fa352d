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

use ndarray::Zip;

use super::{
    add_weight_decay, check_distinct, check_lr, check_non_negative, check_range, fresh_if_reshaped,
    grad_of, zero_grads, Optimizer,
};
use crate::engine::Array;
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

/// One parameter's running averages.
struct Averages {
    /// v: running mean of g²
    square_avg: Array,
    /// ḡ: running mean of g (centered only)
    grad_avg: Option<Array>,
    /// b (momentum > 0 only)
    momentum_buffer: Option<Array>,
}

/// `torch.optim.RMSprop`.
pub struct Rmsprop {
    params: Vec<Tensor>,
    config: RmspropConfig,
    state: Vec<Option<Averages>>,
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
    fn step(&mut self) {
        let RmspropConfig {
            lr,
            alpha,
            eps,
            weight_decay,
            momentum: mu,
            centered,
        } = self.config;
        for (p, slot) in self.params.iter().zip(&mut self.state) {
            let Some(mut g) = grad_of(p) else { continue };
            add_weight_decay(&mut g, p, weight_decay);
            fresh_if_reshaped(slot, g.shape(), |s| s.square_avg.shape());
            let s = slot.get_or_insert_with(|| Averages {
                square_avg: Array::zeros(g.raw_dim()),
                grad_avg: None,
                momentum_buffer: None,
            });
            s.square_avg
                .zip_mut_with(&g, |v, &g| *v = alpha * *v + (1.0 - alpha) * g * g);

            // denom = √ṽ + ε
            let mut denom = s.square_avg.clone();
            if centered {
                let g_avg = s.grad_avg.get_or_insert_with(|| Array::zeros(g.raw_dim()));
                g_avg.zip_mut_with(&g, |a, &g| *a = alpha * *a + (1.0 - alpha) * g);
                denom.zip_mut_with(g_avg, |v, &a| *v -= a * a);
            }
            denom.mapv_inplace(|v| v.max(0.0).sqrt() + eps);

            if mu > 0.0 {
                let b = s
                    .momentum_buffer
                    .get_or_insert_with(|| Array::zeros(g.raw_dim()));
                Zip::from(&mut *b)
                    .and(&g)
                    .and(&denom)
                    .for_each(|b, &g, &d| *b = mu * *b + g / d);
                Zip::from(&mut *p.data_mut())
                    .and(&*b)
                    .for_each(|theta, &b| *theta -= lr * b);
            } else {
                Zip::from(&mut *p.data_mut())
                    .and(&g)
                    .and(&denom)
                    .for_each(|theta, &g, &d| *theta -= lr * g / d);
            }
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
        "rmsprop"
    }

    fn params(&self) -> &[Tensor] {
        &self.params
    }
}
