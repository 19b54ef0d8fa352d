//! `Sequential`: layers applied in order; parameters named "0.weight",
//! "0.bias", … as PyTorch's `state_dict` names them. A model built from
//! layer specs ([`build_model`](super::spec::build_model)) keeps them, so
//! its architecture can be asked of the model itself.

use super::{LayerSpec, Module};
use crate::backend::Device;
use crate::{Result, Tensor};

#[derive(Default)]
pub struct Sequential {
    pub layers: Vec<Box<dyn Module>>,
    /// The specs `layers` were built from, one per layer (empty when the
    /// model was put together from modules).
    specs: Vec<LayerSpec>,
}

impl Sequential {
    pub fn new(layers: Vec<Box<dyn Module>>) -> Self {
        Sequential {
            layers,
            specs: Vec::new(),
        }
    }

    /// Layers built from `specs` (one layer per spec, in order), keeping the specs.
    pub fn from_specs(layers: Vec<Box<dyn Module>>, specs: &[LayerSpec]) -> Self {
        Sequential {
            layers,
            specs: specs.to_vec(),
        }
    }

    /// The layer specs the model was built from; None when it was put
    /// together from modules, or layers were added since (then the specs
    /// no longer describe it).
    pub fn specs(&self) -> Option<&[LayerSpec]> {
        (!self.specs.is_empty() && self.specs.len() == self.layers.len())
            .then_some(self.specs.as_slice())
    }

    /// Run the layers in order, keeping every intermediate output
    /// (the visualizer shows feature maps).
    pub fn forward_all(&self, x: &Tensor) -> Result<Vec<Tensor>> {
        let mut outs = Vec::with_capacity(self.layers.len());
        let mut h = x.clone();
        for layer in &self.layers {
            h = layer.forward(&h)?;
            outs.push(h.clone());
        }
        Ok(outs)
    }

    /// Total number of trainable values.
    pub fn num_parameters(&self) -> usize {
        self.parameters().iter().map(Tensor::numel).sum()
    }
}

impl Module for Sequential {
    /// The layers in order; a layer followed by ReLU runs as one fused op
    /// where it has one (Conv2d: bias and ReLU in the convolution's output
    /// pass), with the same values. `forward_all` keeps every layer's output.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        let mut i = 0;
        while let Some(layer) = self.layers.get(i) {
            let next_is_relu = self.layers.get(i + 1).is_some_and(|l| l.is_relu());
            match next_is_relu.then(|| layer.forward_relu(&h)).flatten() {
                Some(fused) => {
                    h = fused?;
                    i += 2;
                }
                None => {
                    h = layer.forward(&h)?;
                    i += 1;
                }
            }
        }
        Ok(h)
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        self.layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| {
                l.named_parameters()
                    .into_iter()
                    .map(move |(n, t)| (format!("{i}.{n}"), t))
            })
            .collect()
    }

    /// Each layer moves its own parameters.
    fn to(&self, device: &Device) -> Result<()> {
        self.layers.iter().try_for_each(|l| l.to(device))
    }

    fn describe(&self) -> String {
        let mut s = String::from("Sequential(\n");
        for (i, l) in self.layers.iter().enumerate() {
            s += &format!("  ({i}): {}\n", l.describe());
        }
        s + ")"
    }
}
