//! `MaxPool2d(k, stride)` and `AvgPool2d(k, stride)`: stride defaults to k,
//! no padding, as in PyTorch.

use super::Module;
use crate::{Result, Tensor};

pub struct MaxPool2d {
    pub kernel_size: usize,
    pub stride: usize,
}

pub struct AvgPool2d {
    pub kernel_size: usize,
    pub stride: usize,
}

impl Module for MaxPool2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.max_pool2d(self.kernel_size, self.stride)
    }
    fn max_pool(&self) -> Option<(usize, usize)> {
        Some((self.kernel_size, self.stride))
    }
    fn describe(&self) -> String {
        format!(
            "MaxPool2d(kernel_size={}, stride={}, padding=0)",
            self.kernel_size, self.stride
        )
    }
}

impl Module for AvgPool2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.avg_pool2d(self.kernel_size, self.stride)
    }
    fn describe(&self) -> String {
        format!(
            "AvgPool2d(kernel_size={}, stride={}, padding=0)",
            self.kernel_size, self.stride
        )
    }
}
