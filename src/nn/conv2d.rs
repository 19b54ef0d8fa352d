//! `Conv2d(in, out, kernel_size, stride, padding)`: the engine's conv2d op
//! plus a per-channel bias. x: (N, C, H, W) → (N, O, H', W').

use super::init::{uniform_fan_in, InitRng};
use super::Module;
use crate::{Result, Tensor};

pub struct Conv2d {
    /// (O, C, k, k)
    pub weight: Tensor,
    /// (O,)
    pub bias: Tensor,
    pub stride: usize,
    pub padding: usize,
}

impl Conv2d {
    /// PyTorch's default initialisation (uniform ±1/√(C·k·k)).
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        stride: usize,
        padding: usize,
        rng: &mut impl InitRng,
    ) -> Conv2d {
        let fan_in = in_channels * kernel_size * kernel_size;
        Conv2d {
            weight: Tensor::param(uniform_fan_in(
                &[out_channels, in_channels, kernel_size, kernel_size],
                fan_in,
                rng,
            )),
            bias: Tensor::param(uniform_fan_in(&[out_channels], fan_in, rng)),
            stride,
            padding,
        }
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let o = self.bias.numel();
        let y = x.conv2d(&self.weight, self.stride, self.padding)?;
        y.add(&self.bias.reshape(&[1, o, 1, 1])?)
    }

    /// relu(conv + bias) in one pass (the same values).
    fn forward_relu(&self, x: &Tensor) -> Option<Result<Tensor>> {
        Some(x.conv2d_bias_relu(&self.weight, &self.bias, self.stride, self.padding))
    }

    /// max_pool(relu(conv + bias)) as one op (the same values); its
    /// backward runs ReLU's mask over the pooled gradient.
    fn forward_relu_max_pool(&self, x: &Tensor, pool: (usize, usize)) -> Option<Result<Tensor>> {
        Some(x.conv2d_bias_relu_max_pool2d(
            &self.weight,
            &self.bias,
            (self.stride, self.padding),
            pool,
        ))
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        vec![
            ("weight".into(), self.weight.clone()),
            ("bias".into(), self.bias.clone()),
        ]
    }

    fn describe(&self) -> String {
        let s = self.weight.shape();
        format!(
            "Conv2d({}, {}, kernel_size=({}, {}), stride=({}, {}), padding=({}, {}))",
            s[1], s[0], s[2], s[3], self.stride, self.stride, self.padding, self.padding
        )
    }
}
