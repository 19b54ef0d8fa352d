//! `LayerSpec`: a layer as plain data. Lessons declare models as lists of
//! specs; the model builder edits them; each spec knows its output shape
//! (or why it cannot follow its predecessor) and its parameter count
//! without building anything, and [`memory_estimate`] says what training
//! the whole list would take.

use super::init::InitRng;
use crate::backend::geometry::{output_size, SizeError};
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

/// One number a layer is set by, as [`LayerSpec::params`] lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param {
    /// As the model builder shows it: "in features", "kernel".
    pub name: &'static str,
    /// The label's short name ("k" in `k=3`); empty for a positional argument.
    pub tag: &'static str,
    /// The least value that makes sense (padding may be 0, the rest at least 1).
    pub min: usize,
    pub value: usize,
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
        let params = self.params();
        if params.is_empty() {
            return self.kind_name().into();
        }
        let args: Vec<String> = params
            .iter()
            .map(|p| match p.tag {
                "" => p.value.to_string(),
                tag => format!("{tag}={}", p.value),
            })
            .collect();
        format!("{}({})", self.kind_name(), args.join(", "))
    }

    /// The layer's kind as PyTorch names it: `Conv2d`, `ReLU`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            LayerSpec::Linear { .. } => "Linear",
            LayerSpec::Conv2d { .. } => "Conv2d",
            LayerSpec::MaxPool2d { .. } => "MaxPool2d",
            LayerSpec::AvgPool2d { .. } => "AvgPool2d",
            LayerSpec::ReLU => "ReLU",
            LayerSpec::Sigmoid => "Sigmoid",
            LayerSpec::Tanh => "Tanh",
            LayerSpec::Flatten => "Flatten",
        }
    }

    /// The one table of each kind's numbers, in the order the builder
    /// shows them: name, tag (empty for a positional argument), least
    /// value and where the value lives. Everything that lists a layer's
    /// fields ([`LayerSpec::params`], [`LayerSpec::set_param`], the labels,
    /// the builder's editor) reads it from here.
    fn slots(&mut self) -> Vec<(&'static str, &'static str, usize, &mut usize)> {
        match self {
            LayerSpec::Linear {
                in_features,
                out_features,
            } => vec![
                ("in features", "", 1, in_features),
                ("out features", "", 1, out_features),
            ],
            LayerSpec::Conv2d {
                in_channels,
                out_channels,
                kernel_size,
                stride,
                padding,
            } => vec![
                ("in channels", "", 1, in_channels),
                ("out channels", "", 1, out_channels),
                ("kernel", "k", 1, kernel_size),
                ("stride", "s", 1, stride),
                ("padding", "p", 0, padding),
            ],
            LayerSpec::MaxPool2d {
                kernel_size,
                stride,
            }
            | LayerSpec::AvgPool2d {
                kernel_size,
                stride,
            } => vec![("size", "", 1, kernel_size), ("stride", "s", 1, stride)],
            LayerSpec::ReLU | LayerSpec::Sigmoid | LayerSpec::Tanh | LayerSpec::Flatten => {
                Vec::new()
            }
        }
    }

    /// The numbers this layer is set by, in the builder's order (none for
    /// activations and Flatten).
    pub fn params(&self) -> Vec<Param> {
        let mut copy = self.clone();
        copy.slots()
            .into_iter()
            .map(|(name, tag, min, value)| Param {
                name,
                tag,
                min,
                value: *value,
            })
            .collect()
    }

    /// Set the `i`th of [`LayerSpec::params`] to `value`; false if there is no such number.
    pub fn set_param(&mut self, i: usize, value: usize) -> bool {
        match self.slots().into_iter().nth(i) {
            Some((_, _, _, slot)) => {
                *slot = value;
                true
            }
            None => false,
        }
    }

    /// Build the layer with PyTorch's default initialisation.
    pub fn build(&self, rng: &mut impl InitRng) -> Box<dyn Module> {
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
    rng: &mut impl InitRng,
) -> crate::Result<Sequential> {
    for (i, r) in infer_shapes(specs, input).into_iter().enumerate() {
        if let Err(why) = r {
            return Err(crate::Error::Config(format!(
                "layer {i} ({}): {why}",
                specs[i].label()
            )));
        }
    }
    Ok(Sequential::from_specs(
        specs.iter().map(|s| s.build(rng)).collect(),
        specs,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_model_keeps_its_specs() {
        use rand::SeedableRng;
        let specs = vec![
            LayerSpec::Conv2d {
                in_channels: 1,
                out_channels: 4,
                kernel_size: 3,
                stride: 1,
                padding: 1,
            },
            LayerSpec::ReLU,
            LayerSpec::Flatten,
            LayerSpec::Linear {
                in_features: 4 * 5 * 5,
                out_features: 3,
            },
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let mut model = build_model(&specs, &[1, 5, 5], &mut rng).expect("builds");
        assert_eq!(model.specs(), Some(specs.as_slice()));
        // put together from modules, or grown since: no specs to trust
        assert_eq!(
            Sequential::new(vec![specs[1].build(&mut rng)]).specs(),
            None
        );
        model.layers.push(specs[1].build(&mut rng));
        assert_eq!(model.specs(), None);
    }

    fn all_kinds() -> Vec<LayerSpec> {
        vec![
            LayerSpec::Linear {
                in_features: 784,
                out_features: 10,
            },
            LayerSpec::Conv2d {
                in_channels: 1,
                out_channels: 32,
                kernel_size: 3,
                stride: 1,
                padding: 1,
            },
            LayerSpec::MaxPool2d {
                kernel_size: 2,
                stride: 2,
            },
            LayerSpec::AvgPool2d {
                kernel_size: 3,
                stride: 1,
            },
            LayerSpec::ReLU,
            LayerSpec::Sigmoid,
            LayerSpec::Tanh,
            LayerSpec::Flatten,
        ]
    }

    #[test]
    fn each_kind_lists_the_names_the_builder_shows() {
        let names = |s: &LayerSpec| s.params().iter().map(|p| p.name).collect::<Vec<_>>();
        let kinds = all_kinds();
        assert_eq!(names(&kinds[0]), ["in features", "out features"]);
        assert_eq!(
            names(&kinds[1]),
            ["in channels", "out channels", "kernel", "stride", "padding"]
        );
        assert_eq!(names(&kinds[2]), ["size", "stride"]);
        assert_eq!(names(&kinds[3]), ["size", "stride"]);
        for s in &kinds[4..] {
            assert!(s.params().is_empty(), "{s:?}");
        }
        let mins: Vec<usize> = kinds[1].params().iter().map(|p| p.min).collect();
        assert_eq!(mins, [1, 1, 1, 1, 0]);
        assert_eq!(
            kinds[0]
                .params()
                .iter()
                .map(|p| p.value)
                .collect::<Vec<_>>(),
            [784, 10]
        );
        assert_eq!(
            kinds[1]
                .params()
                .iter()
                .map(|p| p.value)
                .collect::<Vec<_>>(),
            [1, 32, 3, 1, 1]
        );
    }

    #[test]
    fn each_field_round_trips_through_set_and_get() {
        for spec in all_kinds() {
            let n = spec.params().len();
            for i in 0..n {
                let mut s = spec.clone();
                let v = 1000 + i;
                assert!(s.set_param(i, v));
                let got = s.params();
                for (j, p) in got.iter().enumerate() {
                    let want = if j == i { v } else { spec.params()[j].value };
                    assert_eq!(p.value, want, "{spec:?} field {j} after setting {i}");
                }
                assert_eq!(std::mem::discriminant(&s), std::mem::discriminant(&spec));
            }
            let mut s = spec.clone();
            assert!(!s.set_param(n, 7));
            assert_eq!(s, spec);
        }
        // the named fields are the ones set
        let mut c = all_kinds()[1].clone();
        c.set_param(4, 0);
        c.set_param(2, 5);
        assert_eq!(
            c,
            LayerSpec::Conv2d {
                in_channels: 1,
                out_channels: 32,
                kernel_size: 5,
                stride: 1,
                padding: 0,
            }
        );
    }

    #[test]
    fn labels_come_from_the_table() {
        let labels: Vec<String> = all_kinds().iter().map(LayerSpec::label).collect();
        assert_eq!(
            labels,
            [
                "Linear(784, 10)",
                "Conv2d(1, 32, k=3, s=1, p=1)",
                "MaxPool2d(2, s=2)",
                "AvgPool2d(3, s=1)",
                "ReLU",
                "Sigmoid",
                "Tanh",
                "Flatten",
            ]
        );
    }
}
