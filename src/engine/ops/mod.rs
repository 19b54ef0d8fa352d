//! The op table: one variant per primitive, each holding the inputs (and any
//! values saved for its backward rule). Each op's forward and backward rules
//! live together in one file of this folder; this file only dispatches.
//!
//! Derived ops (sub-free things like `mean`, `softmax`, `mse_loss`, `flatten`)
//! are built from these primitives and need no rule of their own.

pub mod conv;
pub mod elementwise;
pub mod matmul;
pub mod pool;
pub mod reduce;
pub mod shape;

use super::graph::GradStore;
use super::tensor::Tensor;
use crate::backend::{Indices, Storage, UnaryOp};
use crate::Result;

/// How a tensor was computed.
pub enum Op {
    // elementwise.rs — binary ops broadcast with PyTorch's rules
    Add(Tensor, Tensor),
    Sub(Tensor, Tensor),
    Mul(Tensor, Tensor),
    Div(Tensor, Tensor),
    /// neg, exp, log, relu, sigmoid, tanh, pow (constant exponent), clamp
    Unary(Tensor, UnaryOp),
    /// binary cross-entropy per element: (probability, target)
    Bce(Tensor, Tensor),
    // matmul.rs
    MatMul(Tensor, Tensor),
    /// A Linear layer, x·Wᵀ + b, and ReLU after it when `relu`; backward
    /// reads ReLU's mask from the output.
    Linear {
        input: Tensor,
        weight: Tensor,
        bias: Tensor,
        relu: bool,
    },
    // reduce.rs
    Sum {
        input: Tensor,
        axes: Vec<usize>,
        keepdim: bool,
    },
    /// max over one axis; `argmax` holds, for each output element, the
    /// flat index of the winning input element.
    Max {
        input: Tensor,
        argmax: Indices,
    },
    /// max over all elements (ties share the gradient)
    MaxAll {
        input: Tensor,
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
    /// relu(conv2d + bias) in one pass; backward reads ReLU's mask from
    /// the output.
    Conv2dBiasRelu {
        input: Tensor,
        weight: Tensor,
        bias: Tensor,
        stride: usize,
        padding: usize,
    },
    /// relu(conv2d + bias) then a max pool, in one op. Backward masks the
    /// pooled gradient by the pooled value's sign (the pooled value IS the
    /// winner's relu output) and only then scatters it to the winners, so
    /// ReLU's pass runs over the pool's output (stride² times smaller than
    /// the convolution's, about), and the graph does not keep the latter.
    Conv2dBiasReluMaxPool2d {
        input: Tensor,
        weight: Tensor,
        bias: Tensor,
        stride: usize,
        padding: usize,
        /// each pooled element's winner, a flat index into `conv_shape`
        argmax: Indices,
        /// the convolution's output shape (N, O, H', W')
        conv_shape: Vec<usize>,
    },
    // pool.rs
    MaxPool2d {
        input: Tensor,
        argmax: Indices,
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
            Op::Unary(_, f) => match f {
                UnaryOp::Neg => "neg",
                UnaryOp::Pow(_) => "pow",
                UnaryOp::Exp => "exp",
                UnaryOp::Log => "log",
                UnaryOp::Clamp(..) => "clamp",
                UnaryOp::Relu => "relu",
                UnaryOp::Sigmoid => "sigmoid",
                UnaryOp::Tanh => "tanh",
            },
            Op::Bce(..) => "binary_cross_entropy",
            Op::MatMul(..) => "matmul",
            Op::Linear { relu: false, .. } => "linear",
            Op::Linear { relu: true, .. } => "linear_relu",
            Op::Sum { .. } => "sum",
            Op::Max { .. } | Op::MaxAll { .. } => "max",
            Op::LogSoftmax { .. } => "log_softmax",
            Op::Reshape(_) => "reshape",
            Op::Permute { .. } => "permute",
            Op::Conv2d { .. } => "conv2d",
            Op::Conv2dBiasRelu { .. } => "conv2d_bias_relu",
            Op::Conv2dBiasReluMaxPool2d { .. } => "conv2d_bias_relu_max_pool2d",
            Op::MaxPool2d { .. } => "max_pool2d",
            Op::AvgPool2d { .. } => "avg_pool2d",
        }
    }

    /// The tensors this op read.
    pub fn inputs(&self) -> Vec<&Tensor> {
        let mut v = Vec::with_capacity(2);
        self.for_each_input_ref(|t| v.push(t));
        v
    }

    /// The input handles, moved out (dropping a graph without recursion).
    pub(crate) fn into_inputs(self) -> Vec<Tensor> {
        match self {
            Op::Add(a, b)
            | Op::Sub(a, b)
            | Op::Mul(a, b)
            | Op::Div(a, b)
            | Op::MatMul(a, b)
            | Op::Bce(a, b)
            | Op::Conv2d {
                input: a,
                weight: b,
                ..
            } => vec![a, b],
            Op::Conv2dBiasRelu {
                input,
                weight,
                bias,
                ..
            }
            | Op::Conv2dBiasReluMaxPool2d {
                input,
                weight,
                bias,
                ..
            }
            | Op::Linear {
                input,
                weight,
                bias,
                ..
            } => vec![input, weight, bias],
            Op::Unary(x, _)
            | Op::Reshape(x)
            | Op::Sum { input: x, .. }
            | Op::Max { input: x, .. }
            | Op::MaxAll { input: x }
            | Op::LogSoftmax { input: x, .. }
            | Op::Permute { input: x, .. }
            | Op::MaxPool2d { input: x, .. }
            | Op::AvgPool2d { input: x, .. } => vec![x],
        }
    }

    fn for_each_input_ref<'a>(&'a self, mut f: impl FnMut(&'a Tensor)) {
        match self {
            Op::Add(a, b)
            | Op::Sub(a, b)
            | Op::Mul(a, b)
            | Op::Div(a, b)
            | Op::MatMul(a, b)
            | Op::Bce(a, b)
            | Op::Conv2d {
                input: a,
                weight: b,
                ..
            } => {
                f(a);
                f(b);
            }
            Op::Conv2dBiasRelu {
                input,
                weight,
                bias,
                ..
            }
            | Op::Conv2dBiasReluMaxPool2d {
                input,
                weight,
                bias,
                ..
            }
            | Op::Linear {
                input,
                weight,
                bias,
                ..
            } => {
                f(input);
                f(weight);
                f(bias);
            }
            Op::Unary(x, _)
            | Op::Reshape(x)
            | Op::Sum { input: x, .. }
            | Op::Max { input: x, .. }
            | Op::MaxAll { input: x }
            | Op::LogSoftmax { input: x, .. }
            | Op::Permute { input: x, .. }
            | Op::MaxPool2d { input: x, .. }
            | Op::AvgPool2d { input: x, .. } => f(x),
        }
    }

    /// The tensors this op read, without allocating (the graph walk asks often).
    pub(crate) fn for_each_input(&self, f: impl FnMut(&Tensor)) {
        self.for_each_input_ref(f)
    }

    /// Add the inputs' gradients to `store`, given the gradient of this op's
    /// output (`grad_out`, by value so that a rule may reuse its buffer) and
    /// its value (`out`).
    pub(crate) fn backward(
        &self,
        grad_out: Storage,
        out: &Storage,
        store: &mut GradStore,
    ) -> Result<()> {
        use elementwise as ew;
        match self {
            Op::Add(a, b) => ew::add_backward(grad_out, a, b, store),
            Op::Sub(a, b) => ew::sub_backward(grad_out, a, b, store),
            Op::Mul(a, b) => ew::mul_backward(grad_out, a, b, store),
            Op::Div(a, b) => ew::div_backward(grad_out, a, b, store),
            Op::Unary(x, f) => ew::unary_backward(grad_out, x, *f, out, store),
            Op::Bce(p, y) => ew::bce_backward(grad_out, p, y, store),
            Op::MatMul(a, b) => matmul::matmul_backward(&grad_out, a, b, store),
            Op::Linear {
                input,
                weight,
                bias,
                relu,
            } => matmul::linear_backward(grad_out, out, (input, weight, bias), *relu, store),
            Op::Sum {
                input,
                axes,
                keepdim,
            } => reduce::sum_backward(grad_out, input, axes, *keepdim, store),
            Op::Max { input, argmax } => reduce::max_backward(&grad_out, input, argmax, store),
            Op::MaxAll { input } => reduce::max_all_backward(&grad_out, input, out, store),
            Op::LogSoftmax { input, axis } => {
                reduce::log_softmax_backward(&grad_out, input, *axis, out, store)
            }
            Op::Reshape(x) => shape::reshape_backward(grad_out, x, store),
            Op::Permute { input, axes } => shape::permute_backward(&grad_out, input, axes, store),
            Op::Conv2d {
                input,
                weight,
                stride,
                padding,
            } => conv::conv2d_backward(&grad_out, input, weight, *stride, *padding, store),
            Op::Conv2dBiasRelu {
                input,
                weight,
                bias,
                stride,
                padding,
            } => conv::conv2d_bias_relu_backward(
                grad_out,
                out,
                (input, weight, bias),
                *stride,
                *padding,
                store,
            ),
            Op::Conv2dBiasReluMaxPool2d {
                input,
                weight,
                bias,
                stride,
                padding,
                argmax,
                conv_shape,
            } => conv::conv2d_bias_relu_max_pool2d_backward(
                grad_out,
                out,
                (input, weight, bias),
                (argmax, conv_shape),
                (*stride, *padding),
                store,
            ),
            Op::MaxPool2d { input, argmax } => {
                pool::max_pool2d_backward(&grad_out, input, argmax, store)
            }
            Op::AvgPool2d {
                input,
                kernel,
                stride,
            } => pool::avg_pool2d_backward(&grad_out, input, *kernel, *stride, store),
        }
    }
}
