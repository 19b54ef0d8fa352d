//! Parameter-free layers: activations and Flatten.

use super::Module;
use crate::backend::UnaryOp;
use crate::{Result, Tensor};

pub struct ReLU;
pub struct Sigmoid;
pub struct Tanh;
/// (N, d1, d2, …) → (N, d1·d2·…)
pub struct Flatten;

impl Module for ReLU {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.try_map(UnaryOp::Relu)
    }
    fn is_relu(&self) -> bool {
        true
    }
    fn describe(&self) -> String {
        "ReLU()".into()
    }
}

impl Module for Sigmoid {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.try_map(UnaryOp::Sigmoid)
    }
    fn describe(&self) -> String {
        "Sigmoid()".into()
    }
}

impl Module for Tanh {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.try_map(UnaryOp::Tanh)
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
