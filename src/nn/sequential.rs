//! `Sequential`: layers applied in order; parameters named "0.weight",
//! "0.bias", … as PyTorch's `state_dict` names them. A model built from
//! layer specs ([`build_model`](super::spec::build_model)) keeps them, so
//! its architecture can be asked of the model itself.

use super::{LayerSpec, Module};
use crate::backend::Device;
use crate::{Result, Tensor};
use ndarray::{Axis, Slice};

/// Images per piece of a batch run without a graph (`forward`).
pub const INFER_CHUNK: usize = 100;

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

    /// The layers in order, on the whole batch (see `forward`).
    fn forward_whole(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        let mut i = 0;
        let graph = crate::engine::is_grad_enabled();
        while let Some(layer) = self.layers.get(i) {
            let next_is_relu = self.layers.get(i + 1).is_some_and(|l| l.is_relu());
            // layer → ReLU → MaxPool2d, while a graph is recorded (without
            // one there is no backward to shorten)
            let pool = self.layers.get(i + 2).and_then(|l| l.max_pool());
            let with_pool = pool
                .filter(|_| next_is_relu && graph)
                .and_then(|p| layer.forward_relu_max_pool(&h, p));
            if let Some(fused) = with_pool {
                h = fused?;
                i += 3;
                continue;
            }
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

    /// Without a graph (`no_grad`: evaluation, inference), a CPU batch of
    /// more than [`INFER_CHUNK`] images through a model built from layer
    /// specs (every one of them works image by image) runs
    /// [`INFER_CHUNK`] images at a time, the outputs stacked: the same
    /// values, while each layer's output stays a few MB (the course's CNN
    /// at batch 1000 otherwise writes and reads a 100 MB activation, past
    /// every cache, in fresh pages). None where that does not apply.
    fn forward_in_chunks(&self, x: &Tensor) -> Result<Option<Tensor>> {
        let batch = x.shape().first().copied().unwrap_or(0);
        if crate::engine::is_grad_enabled()
            || self.specs().is_none()
            || x.shape().len() != 4
            || batch <= INFER_CHUNK
            || x.device() != Device::Cpu
        {
            return Ok(None);
        }
        let whole = x.to_array();
        let mut outs = Vec::with_capacity(batch.div_ceil(INFER_CHUNK));
        for first in (0..batch).step_by(INFER_CHUNK) {
            let part = whole
                .slice_axis(
                    Axis(0),
                    Slice::from(first..(first + INFER_CHUNK).min(batch)),
                )
                .to_owned();
            outs.push(self.forward_whole(&Tensor::new(part))?.to_array());
        }
        let views: Vec<_> = outs.iter().map(|o| o.view()).collect();
        let out = ndarray::concatenate(Axis(0), &views).map_err(|e| crate::Error::BadArgument {
            op: "forward",
            why: format!("the pieces of a batch gave outputs of different shapes: {e}"),
        })?;
        Ok(Some(Tensor::new(out)))
    }

    /// Total number of trainable values.
    pub fn num_parameters(&self) -> usize {
        self.parameters().iter().map(Tensor::numel).sum()
    }
}

impl Module for Sequential {
    /// The layers in order; a layer followed by ReLU runs as one fused op
    /// where it has one (Conv2d: bias and ReLU in the convolution's output
    /// pass; with a MaxPool2d after the ReLU too, while a graph is recorded,
    /// so that ReLU's backward runs on the pooled gradient), with the same
    /// values. Without a graph, a large CPU batch of
    /// images runs in pieces (`forward_in_chunks`). `forward_all` keeps
    /// every layer's output.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if let Some(out) = self.forward_in_chunks(x)? {
            return Ok(out);
        }
        self.forward_whole(x)
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
