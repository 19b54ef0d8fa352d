//! Layers and losses with PyTorch's names and default initialisation.
//!
//! A model is described by a list of [`LayerSpec`]s (plain data: the model
//! builder edits it, lessons declare it, shapes are inferred from it) and
//! built into a [`Sequential`] of [`Module`]s that own their parameters.

pub mod activation;
pub mod conv2d;
pub mod init;
pub mod linear;
pub mod loss;
pub mod pool;
pub mod sequential;
pub mod spec;

pub use activation::{Flatten, ReLU, Sigmoid, Tanh};
pub use conv2d::Conv2d;
pub use linear::Linear;
pub use loss::{bce_loss, cross_entropy, mse_loss, BCELoss, CrossEntropyLoss, MSELoss};
pub use pool::{AvgPool2d, MaxPool2d};
pub use sequential::Sequential;
pub use spec::{LayerSpec, Param};

use crate::backend::Device;
use crate::{Result, Tensor};

/// A layer: a function of its input and its own parameters.
pub trait Module: Send + Sync {
    /// The layer applied to a batch.
    fn forward(&self, x: &Tensor) -> Result<Tensor>;
    /// Parameters with PyTorch's names ("weight", "bias"); empty for
    /// parameter-free layers.
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }
    /// The layer as PyTorch prints it: `Linear(in_features=2, out_features=1)`.
    fn describe(&self) -> String;

    /// This layer followed by ReLU as one fused op, where the layer has one
    /// (`Sequential` uses it for a layer followed by [`ReLU`]); `None` if not.
    fn forward_relu(&self, _x: &Tensor) -> Option<Result<Tensor>> {
        None
    }

    /// Whether this layer is [`ReLU`] (what `forward_relu` stands in for).
    fn is_relu(&self) -> bool {
        false
    }

    /// This layer, ReLU, then a max pool of `(kernel, stride)` as one fused
    /// op, where the layer has one (`Sequential` uses it for a layer
    /// followed by [`ReLU`] and [`MaxPool2d`] while a graph is recorded);
    /// `None` if not.
    fn forward_relu_max_pool(&self, _x: &Tensor, _pool: (usize, usize)) -> Option<Result<Tensor>> {
        None
    }

    /// `(kernel, stride)` when this layer is [`MaxPool2d`] (what
    /// `forward_relu_max_pool` stands in for).
    fn max_pool(&self) -> Option<(usize, usize)> {
        None
    }

    /// The parameters in a fixed order (what an optimizer receives).
    fn parameters(&self) -> Vec<Tensor> {
        self.named_parameters()
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    }

    /// Move every parameter to `device` in place (PyTorch's `model.to(device)`).
    /// The parameters keep their identity, so an optimizer that already holds
    /// them keeps working (its state follows them at its next step); their
    /// gradients move with them.
    fn to(&self, device: &Device) -> Result<()> {
        for p in self.parameters() {
            p.move_to(device)?;
        }
        Ok(())
    }
}
