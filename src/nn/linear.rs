//! `Linear(in, out)`: y = x·Wᵀ + b, with W stored (out, in) as in PyTorch.
//! x: (N, in) → (N, out).

use super::init::{uniform_fan_in, InitRng};
use super::Module;
use crate::{Result, Tensor};

pub struct Linear {
    pub weight: Tensor,
    pub bias: Tensor,
}

impl Linear {
    /// PyTorch's default initialisation (uniform ±1/√in for both W and b).
    pub fn new(in_features: usize, out_features: usize, rng: &mut impl InitRng) -> Linear {
        Linear {
            weight: Tensor::param(uniform_fan_in(
                &[out_features, in_features],
                in_features,
                rng,
            )),
            bias: Tensor::param(uniform_fan_in(&[out_features], in_features, rng)),
        }
    }

    pub fn in_features(&self) -> usize {
        self.weight.shape()[1]
    }

    pub fn out_features(&self) -> usize {
        self.weight.shape()[0]
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.linear(&self.weight, &self.bias, false)
    }

    /// relu(x·Wᵀ + b) in one op (the same values).
    fn forward_relu(&self, x: &Tensor) -> Option<Result<Tensor>> {
        Some(x.linear(&self.weight, &self.bias, true))
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        vec![
            ("weight".into(), self.weight.clone()),
            ("bias".into(), self.bias.clone()),
        ]
    }

    fn describe(&self) -> String {
        format!(
            "Linear(in_features={}, out_features={})",
            self.in_features(),
            self.out_features()
        )
    }
}
