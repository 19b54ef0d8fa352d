//! Initialisation of Linear and Conv2d weights, with PyTorch's formulas.
//!
//! PyTorch's default for both layers is `kaiming_uniform_(a=√5)` for the
//! weight, which works out to U(-1/√fan_in, 1/√fan_in), and the same bound
//! for the bias ([`uniform_fan_in`]). `--init` chooses another scheme for the
//! weights ([`Init`]), applied after the default as a PyTorch script calls
//! `torch.nn.init.*` on a built layer (`torch/nn/init.py`):
//!
//! - zeros: `zeros_` on weight and bias (every unit starts the same)
//! - xavier: `xavier_uniform_(w)`, U(-b, b) with b = √(6 / (fan_in + fan_out))
//! - kaiming: `kaiming_uniform_(w, nonlinearity='relu')`, b = √2·√(3 / fan_in)
//!
//! with fan_in = in·k·k and fan_out = out·k·k for a weight (out, in, k, k)
//! (k = 1 for Linear's (out, in)). xavier and kaiming leave the bias at
//! PyTorch's default.

use std::fmt;
use std::str::FromStr;

use ndarray::IxDyn;
use ndarray_rand::rand_distr::Uniform;
use ndarray_rand::RandomExt;
use rand::Rng;

use super::Sequential;
use crate::engine::Array;
use crate::rng::SplitMix64;
use crate::{Error, Result};

/// Where initial weights come from: any `rand` generator (the small
/// lessons' `StdRng`, drawing with `rand_distr::Uniform`) or the portable
/// [`SplitMix64`] the MNIST lessons use, whose draws a Python script repeats
/// bit for bit (see [`crate::rng`]). Either way the bound is the f32 the
/// formulas below compute.
pub trait InitRng {
    /// U(-bound, bound) of `shape`, `bound` positive and finite, in row-major order.
    fn uniform(&mut self, shape: &[usize], bound: f32) -> Array;
}

impl<R: Rng + ?Sized> InitRng for R {
    fn uniform(&mut self, shape: &[usize], bound: f32) -> Array {
        let dist = Uniform::new(-bound, bound).expect("bound is positive and finite");
        Array::random_using(IxDyn(shape), dist, self)
    }
}

impl InitRng for SplitMix64 {
    fn uniform(&mut self, shape: &[usize], bound: f32) -> Array {
        let n = shape.iter().product();
        let values = (0..n).map(|_| SplitMix64::uniform(self, bound)).collect();
        Array::from_shape_vec(IxDyn(shape), values).expect("one value per element")
    }
}

/// U(-1/√fan_in, 1/√fan_in) of the given shape.
pub fn uniform_fan_in(shape: &[usize], fan_in: usize, rng: &mut impl InitRng) -> Array {
    let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
    uniform(shape, bound, rng)
}

/// U(-bound, bound) of the given shape (zeros for a bound of 0).
fn uniform(shape: &[usize], bound: f32, rng: &mut impl InitRng) -> Array {
    if !(bound > 0.0 && bound.is_finite()) {
        return Array::zeros(IxDyn(shape));
    }
    rng.uniform(shape, bound)
}

/// PyTorch's `_calculate_fan_in_and_fan_out` for a weight of `shape`
/// ((out, in) or (out, in, kh, kw)).
pub fn fans(shape: &[usize]) -> (usize, usize) {
    let field: usize = shape.iter().skip(2).product();
    let fan_in = shape.get(1).copied().unwrap_or(1) * field;
    let fan_out = shape.first().copied().unwrap_or(1) * field;
    (fan_in, fan_out)
}

/// How `--init` draws Linear and Conv2d weights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Init {
    /// Weights and biases 0.
    Zeros,
    /// PyTorch's default: U(±1/√fan_in) for weight and bias.
    #[default]
    Uniform,
    /// `xavier_uniform_` on the weights.
    Xavier,
    /// `kaiming_uniform_(nonlinearity='relu')` on the weights.
    Kaiming,
}

impl Init {
    pub const ALL: [Init; 4] = [Init::Zeros, Init::Uniform, Init::Xavier, Init::Kaiming];

    pub fn name(self) -> &'static str {
        match self {
            Init::Zeros => "zeros",
            Init::Uniform => "uniform",
            Init::Xavier => "xavier",
            Init::Kaiming => "kaiming",
        }
    }

    /// The bound b of U(-b, b) this scheme draws a weight of `shape` from
    /// (0 for zeros).
    pub fn bound(self, shape: &[usize]) -> f32 {
        let (fan_in, fan_out) = fans(shape);
        match self {
            Init::Zeros => 0.0,
            Init::Uniform => 1.0 / (fan_in.max(1) as f32).sqrt(),
            Init::Xavier => (6.0 / (fan_in + fan_out).max(1) as f32).sqrt(),
            Init::Kaiming => 2f32.sqrt() * (3.0 / fan_in.max(1) as f32).sqrt(),
        }
    }

    /// Redraw the weights of `model`'s Linear and Conv2d layers, built with
    /// PyTorch's default (a no-op for [`Init::Uniform`]); in layer order, one
    /// draw per weight from `rng`.
    pub fn apply(self, model: &Sequential, rng: &mut impl InitRng) {
        if self == Init::Uniform {
            return;
        }
        for layer in &model.layers {
            for (name, t) in layer.named_parameters() {
                let shape = t.shape();
                let value = match (self, name.as_str()) {
                    (Init::Zeros, _) => Array::zeros(IxDyn(&shape)),
                    (_, "weight") if shape.len() >= 2 => uniform(&shape, self.bound(&shape), rng),
                    _ => continue,
                };
                t.set_data(value);
            }
        }
    }

    /// What a PyTorch script writes for a layer `layer` (a Python expression
    /// of a Linear or Conv2d), or None for PyTorch's default.
    pub fn torch_calls(self, layer: &str) -> Option<String> {
        match self {
            Init::Uniform => None,
            Init::Zeros => Some(format!(
                "torch.nn.init.zeros_({layer}.weight)\ntorch.nn.init.zeros_({layer}.bias)"
            )),
            Init::Xavier => Some(format!("torch.nn.init.xavier_uniform_({layer}.weight)")),
            Init::Kaiming => Some(format!(
                "torch.nn.init.kaiming_uniform_({layer}.weight, nonlinearity=\"relu\")"
            )),
        }
    }
}

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Init {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let wanted = s.trim().to_ascii_lowercase();
        Init::ALL
            .into_iter()
            .find(|i| i.name() == wanted)
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown initialisation {s:?}: --init takes zeros, uniform, xavier or kaiming"
                ))
            })
    }
}
