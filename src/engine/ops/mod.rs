//! The op table: one variant per primitive, each holding the inputs (and any
//! values saved for its backward rule). Each op's forward and backward rules
//! live together in one file of this folder; this file only dispatches.
//!
//! Derived ops (sub-free things like `mean`, `softmax`, `mse_loss`, `flatten`)
//! are built from these primitives and need no rule of their own.

pub mod conv;
pub mod elementwise;
mod layout;
pub mod matmul;
pub mod pool;
pub mod reduce;
pub mod shape;

use super::graph::GradStore;
use super::tensor::{Array, Tensor};
use crate::Result;

/// How a tensor was computed.
pub enum Op {
    // elementwise.rs — binary ops broadcast with PyTorch's rules
    Add(Tensor, Tensor),
    Sub(Tensor, Tensor),
    Mul(Tensor, Tensor),
    Div(Tensor, Tensor),
    Neg(Tensor),
    /// x^p for a constant exponent p
    Pow(Tensor, f32),
    Exp(Tensor),
    Log(Tensor),
    Clamp {
        input: Tensor,
        min: f32,
        max: f32,
    },
    Relu(Tensor),
    Sigmoid(Tensor),
    Tanh(Tensor),
    // matmul.rs
    MatMul(Tensor, Tensor),
    // reduce.rs
    Sum {
        input: Tensor,
        axes: Vec<usize>,
        keepdim: bool,
    },
    /// max over one axis (or all, `axis: None`); `argmax` holds, for each
    /// output element, the flat index of the winning input element.
    Max {
        input: Tensor,
        argmax: Vec<usize>,
    },
    LogSoftmax {
        input: Tensor,
        axis: usize,
    },
    // shape.rs
    Reshape(Tensor),
    Permute {
        input: Tensor,
        axes: Vec<usize>,
    },
    // conv.rs
    /// Backward redoes im2col image by image, in cache, instead of keeping
    /// the batch's (N·H'·W', C·kh·kw) matrix alive between passes.
    Conv2d {
        input: Tensor,
        weight: Tensor,
        stride: usize,
        padding: usize,
    },
    // pool.rs
    MaxPool2d {
        input: Tensor,
        argmax: Vec<usize>,
    },
    AvgPool2d {
        input: Tensor,
        kernel: usize,
        stride: usize,
    },
}

impl Op {
    /// The op's name, as the graph view and error messages show it.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Add(..) => "add",
            Op::Sub(..) => "sub",
            Op::Mul(..) => "mul",
            Op::Div(..) => "div",
            Op::Neg(_) => "neg",
            Op::Pow(..) => "pow",
            Op::Exp(_) => "exp",
            Op::Log(_) => "log",
            Op::Clamp { .. } => "clamp",
            Op::Relu(_) => "relu",
            Op::Sigmoid(_) => "sigmoid",
            Op::Tanh(_) => "tanh",
            Op::MatMul(..) => "matmul",
            Op::Sum { .. } => "sum",
            Op::Max { .. } => "max",
            Op::LogSoftmax { .. } => "log_softmax",
            Op::Reshape(_) => "reshape",
            Op::Permute { .. } => "permute",
            Op::Conv2d { .. } => "conv2d",
            Op::MaxPool2d { .. } => "max_pool2d",
            Op::AvgPool2d { .. } => "avg_pool2d",
        }
    }

    /// The tensors this op read.
    pub fn inputs(&self) -> Vec<&Tensor> {
        match self {
            Op::Add(a, b) | Op::Sub(a, b) | Op::Mul(a, b) | Op::Div(a, b) | Op::MatMul(a, b) => {
                vec![a, b]
            }
            Op::Conv2d { input, weight, .. } => vec![input, weight],
            Op::Neg(x)
            | Op::Pow(x, _)
            | Op::Exp(x)
            | Op::Log(x)
            | Op::Relu(x)
            | Op::Sigmoid(x)
            | Op::Tanh(x)
            | Op::Reshape(x) => vec![x],
            Op::Clamp { input, .. }
            | Op::Sum { input, .. }
            | Op::Max { input, .. }
            | Op::LogSoftmax { input, .. }
            | Op::Permute { input, .. }
            | Op::MaxPool2d { input, .. }
            | Op::AvgPool2d { input, .. } => vec![input],
        }
    }

    /// The tensors this op read, without allocating (the graph walk asks often).
    pub(crate) fn for_each_input(&self, mut f: impl FnMut(&Tensor)) {
        match self {
            Op::Add(a, b) | Op::Sub(a, b) | Op::Mul(a, b) | Op::Div(a, b) | Op::MatMul(a, b) => {
                f(a);
                f(b);
            }
            Op::Conv2d { input, weight, .. } => {
                f(input);
                f(weight);
            }
            Op::Neg(x)
            | Op::Pow(x, _)
            | Op::Exp(x)
            | Op::Log(x)
            | Op::Relu(x)
            | Op::Sigmoid(x)
            | Op::Tanh(x)
            | Op::Reshape(x) => f(x),
            Op::Clamp { input, .. }
            | Op::Sum { input, .. }
            | Op::Max { input, .. }
            | Op::LogSoftmax { input, .. }
            | Op::Permute { input, .. }
            | Op::MaxPool2d { input, .. }
            | Op::AvgPool2d { input, .. } => f(input),
        }
    }

    /// Add the inputs' gradients to `store`, given the gradient of this op's
    /// output (`grad_out`, by value so that a rule may reuse its buffer) and
    /// its value (`out`).
    pub(crate) fn backward(
        &self,
        grad_out: Array,
        out: &Array,
        store: &mut GradStore,
    ) -> Result<()> {
        use elementwise as ew;
        match self {
            Op::Add(a, b) => ew::add_backward(grad_out, a, b, store),
            Op::Sub(a, b) => ew::sub_backward(grad_out, a, b, store),
            Op::Mul(a, b) => ew::mul_backward(grad_out, a, b, store),
            Op::Div(a, b) => ew::div_backward(grad_out, a, b, store),
            Op::Neg(x) => ew::neg_backward(grad_out, x, store),
            Op::Pow(x, p) => ew::pow_backward(grad_out, x, *p, store),
            Op::Exp(x) => ew::exp_backward(grad_out, x, out, store),
            Op::Log(x) => ew::log_backward(grad_out, x, store),
            Op::Clamp { input, min, max } => ew::clamp_backward(grad_out, input, *min, *max, store),
            Op::Relu(x) => ew::relu_backward(grad_out, x, store),
            Op::Sigmoid(x) => ew::sigmoid_backward(grad_out, x, out, store),
            Op::Tanh(x) => ew::tanh_backward(grad_out, x, out, store),
            Op::MatMul(a, b) => matmul::matmul_backward(&grad_out, a, b, store)?,
            Op::Sum {
                input,
                axes,
                keepdim,
            } => reduce::sum_backward(grad_out, input, axes, *keepdim, store),
            Op::Max { input, argmax } => reduce::max_backward(&grad_out, input, argmax, store),
            Op::LogSoftmax { input, axis } => {
                reduce::log_softmax_backward(grad_out, input, *axis, out, store)
            }
            Op::Reshape(x) => shape::reshape_backward(grad_out, x, store)?,
            Op::Permute { input, axes } => shape::permute_backward(&grad_out, input, axes, store),
            Op::Conv2d {
                input,
                weight,
                stride,
                padding,
            } => conv::conv2d_backward(&grad_out, input, weight, *stride, *padding, store)?,
            Op::MaxPool2d { input, argmax } => {
                pool::max_pool2d_backward(&grad_out, input, argmax, store)
            }
            Op::AvgPool2d {
                input,
                kernel,
                stride,
            } => pool::avg_pool2d_backward(&grad_out, input, *kernel, *stride, store),
        }
        Ok(())
    }
}
