//! Parameter-free layers: activations and Flatten.

use super::Module;
use crate::{Result, Tensor};

pub struct ReLU;
pub struct Sigmoid;
pub struct Tanh;
/// (N, d1, d2, …) → (N, d1·d2·…)
pub struct Flatten;

impl Module for ReLU {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.relu())
    }
    fn describe(&self) -> String {
        "ReLU()".into()
    }
}

impl Module for Sigmoid {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.sigmoid())
    }
    fn describe(&self) -> String {
        "Sigmoid()".into()
    }
}

impl Module for Tanh {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.tanh())
    }
    fn describe(&self) -> String {
        "Tanh()".into()
    }
}

impl Module for Flatten {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.flatten()
    }
    fn describe(&self) -> String {
        "Flatten(start_dim=1, end_dim=-1)".into()
    }
}
