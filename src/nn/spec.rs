//! `LayerSpec`: a layer as plain data. Lessons declare models as lists of
//! specs; the model builder edits them; each spec knows its output shape
//! (or why it cannot follow its predecessor) and its parameter count
//! without building anything, and [`memory_estimate`] says what training
//! the whole list would take.

use crate::backend::geometry::{output_size, SizeError};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{
    AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential, Sigmoid, Tanh,
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LayerSpec {
    Linear {
        in_features: usize,
        out_features: usize,
    },
    Conv2d {
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        stride: usize,
        padding: usize,
    },
    MaxPool2d {
        kernel_size: usize,
        stride: usize,
    },
    AvgPool2d {
        kernel_size: usize,
        stride: usize,
    },
    ReLU,
    Sigmoid,
    Tanh,
    Flatten,
}

/// A shape with its batch dimension, as the model builder shows it: `[N,32,28,28]`.
pub fn fmt_shape(s: &[usize]) -> String {
    let dims: Vec<String> = s.iter().map(|d| d.to_string()).collect();
    format!("[N,{}]", dims.join(","))
}

impl LayerSpec {
    /// Output shape for a given input shape (without the batch dimension),
    /// or the reason this layer cannot take that input.
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        match *self {
            LayerSpec::Linear {
                in_features,
                out_features,
            } => match input {
                [f] if *f == in_features => Ok(vec![out_features]),
                [f] => Err(format!("Linear expects {in_features} inputs, gets {f}")),
                _ => Err(format!(
                    "Linear expects [N,{in_features}], gets {} (add a Flatten)",
                    fmt_shape(input)
                )),
            },
            LayerSpec::Conv2d {
                in_channels,
                out_channels,
                kernel_size: k,
                stride,
                padding,
            } => match input {
                [c, h, w] if *c == in_channels => {
                    let size = |n: usize| {
                        output_size(n, k, stride, padding).map_err(|e| match e {
                            SizeError::ZeroStride | SizeError::ZeroKernel => {
                                "kernel size and stride must be at least 1".to_string()
                            }
                            SizeError::Overflow => format!("padding {padding} is too large"),
                            SizeError::KernelTooLarge { .. } => format!(
                                "kernel {k}x{k} is larger than the padded input {}x{}",
                                h + 2 * padding,
                                w + 2 * padding
                            ),
                        })
                    };
                    Ok(vec![out_channels, size(*h)?, size(*w)?])
                }
                [c, _, _] => Err(format!(
                    "Conv2d expects {in_channels} input channels, gets {c}"
                )),
                _ => Err(format!(
                    "Conv2d expects [N,C,H,W], gets {}",
                    fmt_shape(input)
                )),
            },
            LayerSpec::MaxPool2d {
                kernel_size: k,
                stride,
            }
            | LayerSpec::AvgPool2d {
                kernel_size: k,
                stride,
            } => match input {
                [c, h, w] => {
                    let size = |n: usize| {
                        output_size(n, k, stride, 0).map_err(|e| match e {
                            SizeError::ZeroStride | SizeError::ZeroKernel => {
                                "pool size and stride must be at least 1".to_string()
                            }
                            _ => format!("pool window {k}x{k} is larger than the input {h}x{w}"),
                        })
                    };
                    Ok(vec![*c, size(*h)?, size(*w)?])
                }
                _ => Err(format!(
                    "pooling expects [N,C,H,W], gets {}",
                    fmt_shape(input)
                )),
            },
            LayerSpec::ReLU | LayerSpec::Sigmoid | LayerSpec::Tanh => Ok(input.to_vec()),
            LayerSpec::Flatten => Ok(vec![input.iter().product()]),
        }
    }

    /// Number of trainable values this layer adds.
    pub fn param_count(&self) -> usize {
        match *self {
            LayerSpec::Linear {
                in_features,
                out_features,
            } => in_features * out_features + out_features,
            LayerSpec::Conv2d {
                in_channels,
                out_channels,
                kernel_size,
                ..
            } => out_channels * in_channels * kernel_size * kernel_size + out_channels,
            _ => 0,
        }
    }

    /// [`LayerSpec::param_count`] without overflow (saturating), for size checks.
    pub fn param_count_u64(&self) -> u64 {
        let m = |a: usize, b: usize| (a as u64).saturating_mul(b as u64);
        match *self {
            LayerSpec::Linear {
                in_features,
                out_features,
            } => m(in_features, out_features).saturating_add(out_features as u64),
            LayerSpec::Conv2d {
                in_channels,
                out_channels,
                kernel_size,
                ..
            } => m(out_channels, in_channels)
                .saturating_mul(m(kernel_size, kernel_size))
                .saturating_add(out_channels as u64),
            _ => 0,
        }
    }

    /// A short label, PyTorch style: `Conv2d(1, 32, k=3, s=1, p=1)`.
    pub fn label(&self) -> String {
        match *self {
            LayerSpec::Linear {
                in_features,
                out_features,
            } => format!("Linear({in_features}, {out_features})"),
            LayerSpec::Conv2d {
                in_channels,
                out_channels,
                kernel_size,
                stride,
                padding,
            } => {
                format!("Conv2d({in_channels}, {out_channels}, k={kernel_size}, s={stride}, p={padding})")
            }
            LayerSpec::MaxPool2d {
                kernel_size,
                stride,
            } => format!("MaxPool2d({kernel_size}, s={stride})"),
            LayerSpec::AvgPool2d {
                kernel_size,
                stride,
            } => format!("AvgPool2d({kernel_size}, s={stride})"),
            LayerSpec::ReLU => "ReLU".into(),
            LayerSpec::Sigmoid => "Sigmoid".into(),
            LayerSpec::Tanh => "Tanh".into(),
            LayerSpec::Flatten => "Flatten".into(),
        }
    }

    /// Build the layer with PyTorch's default initialisation.
    pub fn build(&self, rng: &mut impl Rng) -> Box<dyn Module> {
        match *self {
            LayerSpec::Linear {
                in_features,
                out_features,
            } => Box::new(Linear::new(in_features, out_features, rng)),
            LayerSpec::Conv2d {
                in_channels,
                out_channels,
                kernel_size,
                stride,
                padding,
            } => Box::new(Conv2d::new(
                in_channels,
                out_channels,
                kernel_size,
                stride,
                padding,
                rng,
            )),
            LayerSpec::MaxPool2d {
                kernel_size,
                stride,
            } => Box::new(MaxPool2d {
                kernel_size,
                stride,
            }),
            LayerSpec::AvgPool2d {
                kernel_size,
                stride,
            } => Box::new(AvgPool2d {
                kernel_size,
                stride,
            }),
            LayerSpec::ReLU => Box::new(ReLU),
            LayerSpec::Sigmoid => Box::new(Sigmoid),
            LayerSpec::Tanh => Box::new(Tanh),
            LayerSpec::Flatten => Box::new(Flatten),
        }
    }
}

/// Each layer's output shape (or error) in turn, starting from `input`
/// (without the batch dimension). After the first error, later layers
/// report that they follow a broken layer.
pub fn infer_shapes(specs: &[LayerSpec], input: &[usize]) -> Vec<Result<Vec<usize>, String>> {
    let mut shape = Some(input.to_vec());
    specs
        .iter()
        .map(|spec| {
            let r = match &shape {
                Some(s) => spec.output_shape(s),
                None => Err("follows a layer with an error".into()),
            };
            shape = r.as_ref().ok().cloned();
            r
        })
        .collect()
}

/// Bytes per value: the engine computes in f32.
pub const F32_BYTES: u64 = 4;

/// What training a model takes, in values, before anything is allocated
/// (an allocation failure in Rust aborts the process without unwinding, so
/// the lab checks this first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// Trainable values (each also has a gradient and two Adam moments).
    pub params: u64,
    /// Activations of one batch: the input and every layer's output.
    pub activations: u64,
    pub batch: u64,
}

impl MemoryEstimate {
    /// Parameters, their gradients and Adam's two moments: 4 values each.
    pub fn param_bytes(&self) -> u64 {
        self.params.saturating_mul(4 * F32_BYTES)
    }

    /// Activations and their gradients: 2 values each.
    pub fn activation_bytes(&self) -> u64 {
        self.activations.saturating_mul(2 * F32_BYTES)
    }

    /// Everything a training step holds at once.
    pub fn total_bytes(&self) -> u64 {
        self.param_bytes().saturating_add(self.activation_bytes())
    }
}

/// The memory a training step of `specs` needs for `batch` images of shape
/// `input` (without the batch dimension), in f32: parameters, gradients, Adam
/// state (4 values per parameter) and activations with their gradients (2
/// values per activation: the input and each layer's output). Layers after a
/// shape error add their parameters only. Arithmetic saturates, so absurd
/// sizes compare as huge instead of overflowing.
pub fn memory_estimate(specs: &[LayerSpec], input: &[usize], batch: usize) -> MemoryEstimate {
    let size = |s: &[usize]| s.iter().fold(1u64, |a, &d| a.saturating_mul(d as u64));
    let per_image = infer_shapes(specs, input)
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .fold(size(input), |a, s| a.saturating_add(size(s)));
    MemoryEstimate {
        params: specs
            .iter()
            .map(|s| s.param_count_u64())
            .fold(0u64, u64::saturating_add),
        activations: per_image.saturating_mul(batch as u64),
        batch: batch as u64,
    }
}

/// Build a `Sequential` from specs, checking every shape first.
pub fn build_model(
    specs: &[LayerSpec],
    input: &[usize],
    rng: &mut impl Rng,
) -> crate::Result<Sequential> {
    for (i, r) in infer_shapes(specs, input).into_iter().enumerate() {
        if let Err(why) = r {
            return Err(crate::Error::Config(format!(
                "layer {i} ({}): {why}",
                specs[i].label()
            )));
        }
    }
    Ok(Sequential::new(
        specs.iter().map(|s| s.build(rng)).collect(),
    ))
}
