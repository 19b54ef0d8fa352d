//! Where a tensor's numbers live and the kernels that compute on them.
//!
//! A tensor's value is a [`Storage`]: an enum with one variant per device, as
//! in candle's `storage.rs`. Every variant implements [`BackendStorage`], a
//! narrow trait of coarse operations (matmul, convolution, pooling,
//! broadcasting element-wise maps, reductions, log-softmax, the optimizers'
//! updates). The engine above validates arguments, records the graph and
//! composes backward rules from these operations; it never loops over
//! elements itself, and it never matches on devices: [`Storage`] checks that
//! both operands of an op live on the same device (a [`crate::Error::DeviceMismatch`]
//! otherwise) and calls that device's implementation.
//!
//! - `cpu/`: the reference implementation over ndarray, always compiled, the
//!   oracle every other backend is tested against
//! - `opencl/`: OpenCL through `opencl3` (loaded at run time, so one binary
//!   runs with or without a driver); kernels in the top-level `cl/`
//!
//! The device belongs to the data, as in PyTorch: `Tensor::to(&device)`,
//! `model.to(&device)`. There is no process-wide backend switch.

pub mod cpu;
pub mod device;
pub mod geometry;
pub mod opencl;

use crate::engine::Array;
use crate::{Error, Result};

pub use device::{Device, DeviceSpec};
pub use geometry::{pool_geometry, ConvGeometry};

/// Element-wise functions of one tensor. Each knows its derivative
/// ([`BackendStorage::unary_backward`]), which reads the input `x` or the
/// output `y` as [`UnaryOp::backward_reads_output`] says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UnaryOp {
    /// -x; d = -1
    Neg,
    /// e^x; d = y
    Exp,
    /// ln x; d = 1/x
    Log,
    /// max(x, 0); d = 1 if x > 0 else 0 (0 at x = 0, as PyTorch)
    Relu,
    /// 1/(1+e^-x), computed stably; d = y(1-y)
    Sigmoid,
    /// tanh x; d = 1 - y²
    Tanh,
    /// x^p for a constant p; d = p·x^(p-1), exactly 0 when p = 0
    Pow(f32),
    /// min(max(x, lo), hi), NaN stays NaN (as PyTorch); d = 1 inside [lo, hi], else 0
    Clamp(f32, f32),
}

impl UnaryOp {
    /// Whether the derivative is computed from the output (exp, sigmoid, tanh)
    /// rather than the input.
    pub fn backward_reads_output(self) -> bool {
        matches!(self, UnaryOp::Exp | UnaryOp::Sigmoid | UnaryOp::Tanh)
    }
}

/// Element-wise functions of two tensors, broadcast with PyTorch's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    /// 1.0 where a == b, else 0.0 (ties of a max; no gradient)
    Eq,
    /// Binary cross-entropy of probability a against target b, per element,
    /// as PyTorch computes it: -(b·max(ln a, -100) + (1-b)·max(ln(1-a), -100))
    BceLoss,
    /// Its derivative with respect to a, as PyTorch's `binary_cross_entropy_backward`:
    /// (a - b) / max(a·(1-a), 1e-12). Finite where a is exactly 0 or 1.
    BceGrad,
}

/// One optimizer update of a parameter in place, given its gradient and its
/// state buffers (each shaped like the parameter). The formulas are the
/// `torch.optim` pages' (written out in `optim/*.rs`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UpdateRule {
    /// state: `[]` when momentum is 0, else `[b]`; `first`: b ← g (this
    /// parameter's first step), otherwise b ← μ·b + (1-τ)·g.
    Sgd {
        lr: f32,
        momentum: f32,
        dampening: f32,
        weight_decay: f32,
        nesterov: bool,
        first: bool,
    },
    /// state: `[m, v]`; `step` is t ≥ 1 (already counted); `decoupled` is AdamW.
    /// `step_size` = lr / (1 - β1^t) and `bias_correction2_sqrt` = √(1 - β2^t)
    /// are computed in f64 by the caller, as PyTorch does in Python floats.
    Adam {
        lr: f32,
        beta1: f32,
        beta2: f32,
        eps: f32,
        weight_decay: f32,
        decoupled: bool,
        step_size: f32,
        bias_correction2_sqrt: f32,
    },
    /// state: `[square_avg, grad_avg, momentum_buffer]` (the last two unused
    /// unless `centered` / momentum > 0, but always present).
    Rmsprop {
        lr: f32,
        alpha: f32,
        eps: f32,
        weight_decay: f32,
        momentum: f32,
        centered: bool,
    },
    /// state: `[state_sum]`; `clr` is the decayed learning rate for this step.
    Adagrad {
        clr: f32,
        eps: f32,
        weight_decay: f32,
    },
}

/// The coarse operations every device provides. Kernels never know about
/// gradients: backward rules are composed from these by the engine. Every
/// result is a new contiguous row-major value; inputs are not modified except
/// by [`add_assign`](BackendStorage::add_assign) and [`update`](BackendStorage::update).
///
/// Argument checks (shapes that fit, axes in range) are the engine's job; a
/// backend may assume them.
pub trait BackendStorage: Sized {
    /// Flat element indices into an input (max's and max-pool's winners).
    type Indices;

    fn shape(&self) -> &[usize];
    fn device(&self) -> Device;
    /// A host copy of the value.
    fn to_host(&self) -> Result<Array>;
    /// The same elements (row-major) with a new shape of the same size.
    fn reshape(self, shape: &[usize]) -> Result<Self>;
    /// Zeros of `shape` on the same device.
    fn zeros_like(&self, shape: &[usize]) -> Result<Self>;
    /// A copy (optimizer state such as SGD's first momentum buffer).
    fn try_clone(&self) -> Result<Self>;

    // ---- element-wise ----
    fn unary(&self, op: UnaryOp) -> Result<Self>;
    /// dx = g · f'(·), where `saved` is x, or y when `op.backward_reads_output()`.
    /// May reuse `g`'s buffer.
    fn unary_backward(&self, g: Self, op: UnaryOp) -> Result<Self>;
    /// f(self, rhs) over the broadcast `shape` (already checked).
    fn binary(&self, rhs: &Self, op: BinaryOp, shape: &[usize]) -> Result<Self>;
    /// self += rhs, same shape (gradient accumulation).
    fn add_assign(&mut self, rhs: &Self) -> Result<()>;

    // ---- reductions ----
    /// Sum a broadcast of `shape` back down to `shape` (PyTorch's rule for
    /// the gradient of a broadcast operand).
    fn sum_to_shape(&self, shape: &[usize]) -> Result<Self>;
    /// Stretch to the broadcast `shape`.
    fn broadcast_to(&self, shape: &[usize]) -> Result<Self>;
    /// Sum over `axes` (sorted, distinct, in range).
    fn sum_axes(&self, axes: &[usize], keepdim: bool) -> Result<Self>;
    /// Max along `axis` (non-empty) and, per output element, the flat input
    /// index of the FIRST maximal element.
    fn max_dim(&self, axis: usize, keepdim: bool) -> Result<(Self, Self::Indices)>;
    /// out (of `shape`, zeros) with out[idx[i]] += g[i]: the gradient of a
    /// max or a max-pool sent to the winners.
    fn scatter_add(&self, idx: &Self::Indices, shape: &[usize]) -> Result<Self>;
    /// log(softmax) along `axis`, stably (x - max - ln Σ e^(x - max)).
    fn log_softmax(&self, axis: usize) -> Result<Self>;
    /// dx = g - e^y · Σ_axis g, with `self` = y the log-softmax output.
    fn log_softmax_backward(&self, g: &Self, axis: usize) -> Result<Self>;

    // ---- shape ----
    /// Output dimension i is input dimension `axes[i]`.
    fn permute(&self, axes: &[usize]) -> Result<Self>;

    // ---- linear algebra ----
    /// op(self) · op(rhs) for 2-D values, op = transpose when the flag says so.
    fn matmul(&self, rhs: &Self, transpose_self: bool, transpose_rhs: bool) -> Result<Self>;
    /// A Linear layer: self (N, I) · wᵀ (w is (O, I)) + b (O,) on every
    /// row, then ReLU if `relu`. By default a product, a broadcast add and a
    /// ReLU; a backend may start the product's output at the bias instead.
    fn linear(&self, w: &Self, b: &Self, relu: bool) -> Result<Self> {
        let z = self.matmul(w, false, true)?;
        let shape = z.shape().to_vec();
        let b = b.try_clone()?.reshape(&[1, shape[1]])?;
        let y = z.binary(&b, BinaryOp::Add, &shape)?;
        if relu {
            y.unary(UnaryOp::Relu)
        } else {
            Ok(y)
        }
    }
    /// x (N, C, H, W) ⋆ w (O, C, kh, kw) → (N, O, H', W'), no bias.
    fn conv2d(&self, w: &Self, geom: &ConvGeometry) -> Result<Self>;
    /// relu(x ⋆ w + b), b (O,) per output channel. By default the three
    /// ops one after another; a backend may fuse them into one pass.
    fn conv2d_bias_relu(&self, w: &Self, b: &Self, geom: &ConvGeometry) -> Result<Self> {
        let z = self.conv2d(w, geom)?;
        let b = b.try_clone()?.reshape(&[1, geom.o, 1, 1])?;
        let shape = geom.out_shape();
        z.binary(&b, BinaryOp::Add, &shape)?.unary(UnaryOp::Relu)
    }
    /// Given x = self, w, and g = dL/dout, the gradients (dx, dw) that are wanted.
    fn conv2d_backward(
        &self,
        w: &Self,
        g: &Self,
        geom: &ConvGeometry,
        want_x: bool,
        want_w: bool,
    ) -> Result<(Option<Self>, Option<Self>)>;

    // ---- pooling (square windows, no padding) ----
    /// Max over each k×k window: the values and each window's winner
    /// (the first maximum in row-major order within the window).
    fn max_pool2d(&self, k: usize, stride: usize) -> Result<(Self, Self::Indices)>;
    fn avg_pool2d(&self, k: usize, stride: usize) -> Result<Self>;
    /// self = g (N, C, H', W') → dx of `in_shape`: each window's gradient
    /// shared equally by its k² cells, overlapping windows adding.
    fn avg_pool2d_backward(&self, in_shape: &[usize], k: usize, stride: usize) -> Result<Self>;

    // ---- optimizers ----
    /// Update `self` (a parameter) in place from `grad` and `state`.
    fn update(&mut self, grad: &Self, state: &mut [Self], rule: &UpdateRule) -> Result<()>;
}

/// A value on some device.
#[derive(Debug)]
pub enum Storage {
    Cpu(Array),
    OpenCl(opencl::ClStorage),
}

/// Flat indices on some device (max's and max-pool's winners).
#[derive(Debug)]
pub enum Indices {
    Cpu(Vec<usize>),
    OpenCl(opencl::ClIndices),
}

impl Indices {
    /// A host copy.
    pub fn to_host(&self) -> Result<Vec<usize>> {
        match self {
            Indices::Cpu(v) => Ok(v.clone()),
            Indices::OpenCl(i) => i.to_host(),
        }
    }
}

/// Both operands on one device, or the error naming both. A 0-d CPU value
/// (a constant such as the 2 in `x * 2`) goes to the other operand's device,
/// as PyTorch lets CPU scalars mix with GPU tensors.
macro_rules! same_device {
    ($op:expr, $a:expr, $b:expr, |$x:ident, $y:ident| $cpu:expr, |$p:ident, $q:ident| $ocl:expr) => {{
        match ($a, $b) {
            (Storage::Cpu($x), Storage::Cpu($y)) => $cpu,
            (Storage::OpenCl($p), Storage::OpenCl($q)) => $ocl,
            (Storage::OpenCl($p), Storage::Cpu(c)) if c.ndim() == 0 => {
                let moved = opencl::ClStorage::from_host($p.cl_device(), c)?;
                let $q = &moved;
                $ocl
            }
            (Storage::Cpu(c), Storage::OpenCl($q)) if c.ndim() == 0 => {
                let moved = opencl::ClStorage::from_host($q.cl_device(), c)?;
                let $p = &moved;
                $ocl
            }
            (a, b) => Err(Error::DeviceMismatch {
                op: $op,
                lhs: a.device().name(),
                rhs: b.device().name(),
            }),
        }
    }};
}

impl Storage {
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
            Storage::OpenCl(s) => s.device(),
        }
    }

    pub fn shape(&self) -> &[usize] {
        match self {
            Storage::Cpu(a) => a.shape(),
            Storage::OpenCl(s) => s.shape(),
        }
    }

    pub fn numel(&self) -> usize {
        self.shape().iter().product()
    }

    /// A host copy of the value.
    pub fn to_host(&self) -> Result<Array> {
        match self {
            Storage::Cpu(a) => Ok(a.clone()),
            Storage::OpenCl(s) => s.to_host(),
        }
    }

    /// This value on `device` (a copy; the same value if already there).
    pub fn to_device(&self, device: &Device) -> Result<Storage> {
        match (self, device) {
            (Storage::Cpu(a), Device::Cpu) => Ok(Storage::Cpu(a.clone())),
            (Storage::Cpu(a), Device::OpenCl(d)) => {
                Ok(Storage::OpenCl(opencl::ClStorage::from_host(d, a)?))
            }
            (Storage::OpenCl(s), Device::Cpu) => Ok(Storage::Cpu(s.to_host()?)),
            (Storage::OpenCl(s), Device::OpenCl(d)) => {
                if s.device() == *device {
                    Ok(Storage::OpenCl(s.try_clone()?))
                } else {
                    Ok(Storage::OpenCl(opencl::ClStorage::from_host(
                        d,
                        &s.to_host()?,
                    )?))
                }
            }
        }
    }

    pub fn reshape(self, shape: &[usize]) -> Result<Storage> {
        Ok(match self {
            Storage::Cpu(a) => Storage::Cpu(a.reshape(shape)?),
            Storage::OpenCl(s) => Storage::OpenCl(s.reshape(shape)?),
        })
    }

    pub fn zeros_like(&self, shape: &[usize]) -> Result<Storage> {
        Ok(match self {
            Storage::Cpu(a) => Storage::Cpu(a.zeros_like(shape)?),
            Storage::OpenCl(s) => Storage::OpenCl(s.zeros_like(shape)?),
        })
    }

    pub fn try_clone(&self) -> Result<Storage> {
        Ok(match self {
            Storage::Cpu(a) => Storage::Cpu(a.clone()),
            Storage::OpenCl(s) => Storage::OpenCl(s.try_clone()?),
        })
    }

    pub fn unary(&self, op: UnaryOp) -> Result<Storage> {
        Ok(match self {
            Storage::Cpu(a) => Storage::Cpu(a.unary(op)?),
            Storage::OpenCl(s) => Storage::OpenCl(s.unary(op)?),
        })
    }

    /// dx = g · f'(saved); `self` is the saved x (or y).
    pub fn unary_backward(&self, g: Storage, op: UnaryOp) -> Result<Storage> {
        match (self, g) {
            (Storage::Cpu(x), Storage::Cpu(g)) => Ok(Storage::Cpu(x.unary_backward(g, op)?)),
            (Storage::OpenCl(x), Storage::OpenCl(g)) => {
                Ok(Storage::OpenCl(x.unary_backward(g, op)?))
            }
            (x, g) => Err(Error::DeviceMismatch {
                op: "backward",
                lhs: x.device().name(),
                rhs: g.device().name(),
            }),
        }
    }

    pub fn binary(&self, rhs: &Storage, op: BinaryOp, shape: &[usize]) -> Result<Storage> {
        same_device!(
            "element-wise op",
            self,
            rhs,
            |a, b| Ok(Storage::Cpu(a.binary(b, op, shape)?)),
            |a, b| Ok(Storage::OpenCl(a.binary(b, op, shape)?))
        )
    }

    pub fn add_assign(&mut self, rhs: &Storage) -> Result<()> {
        match (self, rhs) {
            (Storage::Cpu(a), Storage::Cpu(b)) => a.add_assign(b),
            (Storage::OpenCl(a), Storage::OpenCl(b)) => a.add_assign(b),
            (a, b) => Err(Error::DeviceMismatch {
                op: "gradient accumulation",
                lhs: a.device().name(),
                rhs: b.device().name(),
            }),
        }
    }

    pub fn sum_to_shape(&self, shape: &[usize]) -> Result<Storage> {
        Ok(match self {
            Storage::Cpu(a) => Storage::Cpu(a.sum_to_shape(shape)?),
            Storage::OpenCl(s) => Storage::OpenCl(s.sum_to_shape(shape)?),
        })
    }

    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Storage> {
        Ok(match self {
            Storage::Cpu(a) => Storage::Cpu(a.broadcast_to(shape)?),
            Storage::OpenCl(s) => Storage::OpenCl(s.broadcast_to(shape)?),
        })
    }

    pub fn sum_axes(&self, axes: &[usize], keepdim: bool) -> Result<Storage> {
        Ok(match self {
            Storage::Cpu(a) => Storage::Cpu(a.sum_axes(axes, keepdim)?),
            Storage::OpenCl(s) => Storage::OpenCl(s.sum_axes(axes, keepdim)?),
        })
    }

    pub fn max_dim(&self, axis: usize, keepdim: bool) -> Result<(Storage, Indices)> {
        Ok(match self {
            Storage::Cpu(a) => {
                let (v, i) = a.max_dim(axis, keepdim)?;
                (Storage::Cpu(v), Indices::Cpu(i))
            }
            Storage::OpenCl(s) => {
                let (v, i) = s.max_dim(axis, keepdim)?;
                (Storage::OpenCl(v), Indices::OpenCl(i))
            }
        })
    }

    /// out (zeros of `shape`) with out[idx[i]] += self[i].
    pub fn scatter_add(&self, idx: &Indices, shape: &[usize]) -> Result<Storage> {
        match (self, idx) {
            (Storage::Cpu(g), Indices::Cpu(i)) => Ok(Storage::Cpu(g.scatter_add(i, shape)?)),
            (Storage::OpenCl(g), Indices::OpenCl(i)) => {
                Ok(Storage::OpenCl(g.scatter_add(i, shape)?))
            }
            (g, _) => Err(Error::DeviceMismatch {
                op: "scatter_add",
                lhs: g.device().name(),
                rhs: "indices on another device".into(),
            }),
        }
    }

    pub fn log_softmax(&self, axis: usize) -> Result<Storage> {
        Ok(match self {
            Storage::Cpu(a) => Storage::Cpu(a.log_softmax(axis)?),
            Storage::OpenCl(s) => Storage::OpenCl(s.log_softmax(axis)?),
        })
    }

    /// `self` is the log-softmax output y.
    pub fn log_softmax_backward(&self, g: &Storage, axis: usize) -> Result<Storage> {
        same_device!(
            "log_softmax backward",
            self,
            g,
            |y, g| Ok(Storage::Cpu(y.log_softmax_backward(g, axis)?)),
            |y, g| Ok(Storage::OpenCl(y.log_softmax_backward(g, axis)?))
        )
    }

    pub fn permute(&self, axes: &[usize]) -> Result<Storage> {
        Ok(match self {
            Storage::Cpu(a) => Storage::Cpu(a.permute(axes)?),
            Storage::OpenCl(s) => Storage::OpenCl(s.permute(axes)?),
        })
    }

    pub fn matmul(&self, rhs: &Storage, ta: bool, tb: bool) -> Result<Storage> {
        same_device!(
            "matmul",
            self,
            rhs,
            |a, b| Ok(Storage::Cpu(a.matmul(b, ta, tb)?)),
            |a, b| Ok(Storage::OpenCl(a.matmul(b, ta, tb)?))
        )
    }

    pub fn linear(&self, w: &Storage, b: &Storage, relu: bool) -> Result<Storage> {
        match (self, w, b) {
            (Storage::Cpu(x), Storage::Cpu(w), Storage::Cpu(b)) => {
                Ok(Storage::Cpu(x.linear(w, b, relu)?))
            }
            (Storage::OpenCl(x), Storage::OpenCl(w), Storage::OpenCl(b)) => {
                Ok(Storage::OpenCl(x.linear(w, b, relu)?))
            }
            (x, w, b) => Err(Error::DeviceMismatch {
                op: "linear",
                lhs: x.device().name(),
                rhs: if w.device() == x.device() { b } else { w }.device().name(),
            }),
        }
    }

    pub fn conv2d(&self, w: &Storage, geom: &ConvGeometry) -> Result<Storage> {
        same_device!(
            "conv2d",
            self,
            w,
            |x, w| Ok(Storage::Cpu(x.conv2d(w, geom)?)),
            |x, w| Ok(Storage::OpenCl(x.conv2d(w, geom)?))
        )
    }

    pub fn conv2d_bias_relu(
        &self,
        w: &Storage,
        b: &Storage,
        geom: &ConvGeometry,
    ) -> Result<Storage> {
        match (self, w, b) {
            (Storage::Cpu(x), Storage::Cpu(w), Storage::Cpu(b)) => {
                Ok(Storage::Cpu(x.conv2d_bias_relu(w, b, geom)?))
            }
            (Storage::OpenCl(x), Storage::OpenCl(w), Storage::OpenCl(b)) => {
                Ok(Storage::OpenCl(x.conv2d_bias_relu(w, b, geom)?))
            }
            (x, w, b) => Err(Error::DeviceMismatch {
                op: "conv2d_bias_relu",
                lhs: x.device().name(),
                rhs: if w.device() == x.device() { b } else { w }.device().name(),
            }),
        }
    }

    pub fn conv2d_backward(
        &self,
        w: &Storage,
        g: &Storage,
        geom: &ConvGeometry,
        want_x: bool,
        want_w: bool,
    ) -> Result<(Option<Storage>, Option<Storage>)> {
        match (self, w, g) {
            (Storage::Cpu(x), Storage::Cpu(w), Storage::Cpu(g)) => {
                let (dx, dw) = x.conv2d_backward(w, g, geom, want_x, want_w)?;
                Ok((dx.map(Storage::Cpu), dw.map(Storage::Cpu)))
            }
            (Storage::OpenCl(x), Storage::OpenCl(w), Storage::OpenCl(g)) => {
                let (dx, dw) = x.conv2d_backward(w, g, geom, want_x, want_w)?;
                Ok((dx.map(Storage::OpenCl), dw.map(Storage::OpenCl)))
            }
            (x, w, _) => Err(Error::DeviceMismatch {
                op: "conv2d backward",
                lhs: x.device().name(),
                rhs: w.device().name(),
            }),
        }
    }

    pub fn max_pool2d(&self, k: usize, stride: usize) -> Result<(Storage, Indices)> {
        Ok(match self {
            Storage::Cpu(a) => {
                let (v, i) = a.max_pool2d(k, stride)?;
                (Storage::Cpu(v), Indices::Cpu(i))
            }
            Storage::OpenCl(s) => {
                let (v, i) = s.max_pool2d(k, stride)?;
                (Storage::OpenCl(v), Indices::OpenCl(i))
            }
        })
    }

    /// [`Storage::max_pool2d`]'s values alone (no graph to remember the
    /// winners for): the CPU skips writing them.
    pub fn max_pool2d_values(&self, k: usize, stride: usize) -> Result<Storage> {
        Ok(match self {
            Storage::Cpu(a) => {
                let out = pool_geometry("max_pool2d", a.shape(), k, stride)?;
                Storage::Cpu(cpu::pool::max_pool2d_values(a, k, stride, out))
            }
            Storage::OpenCl(s) => Storage::OpenCl(s.max_pool2d(k, stride)?.0),
        })
    }

    /// ReLU's backward through its saved output `self` = y (N, O, H, W):
    /// dz = g where y > 0, else 0 (a NaN y passes g on, as `UnaryOp::Relu`'s
    /// rule), and with `want_sum` also Σ over (N, H, W) of dz, a conv bias's
    /// gradient (O,). One pass over g on the CPU (the same values as the
    /// two ops); the two ops elsewhere.
    pub fn relu_backward_channel_sum(
        &self,
        g: Storage,
        want_sum: bool,
    ) -> Result<(Storage, Option<Storage>)> {
        let g = match (self, g) {
            (Storage::Cpu(y), Storage::Cpu(g)) if want_sum => {
                match cpu::reduce::relu_backward_channel_sum(y, g) {
                    Ok((dz, db)) => return Ok((Storage::Cpu(dz), Some(Storage::Cpu(db)))),
                    Err(g) => Storage::Cpu(g),
                }
            }
            (_, g) => g,
        };
        let dz = self.unary_backward(g, UnaryOp::Relu)?;
        let db = if want_sum {
            Some(dz.sum_axes(&[0, 2, 3], false)?)
        } else {
            None
        };
        Ok((dz, db))
    }

    pub fn avg_pool2d(&self, k: usize, stride: usize) -> Result<Storage> {
        Ok(match self {
            Storage::Cpu(a) => Storage::Cpu(a.avg_pool2d(k, stride)?),
            Storage::OpenCl(s) => Storage::OpenCl(s.avg_pool2d(k, stride)?),
        })
    }

    pub fn avg_pool2d_backward(
        &self,
        in_shape: &[usize],
        k: usize,
        stride: usize,
    ) -> Result<Storage> {
        Ok(match self {
            Storage::Cpu(a) => Storage::Cpu(a.avg_pool2d_backward(in_shape, k, stride)?),
            Storage::OpenCl(s) => Storage::OpenCl(s.avg_pool2d_backward(in_shape, k, stride)?),
        })
    }

    /// Update this parameter in place. `state` must be on the parameter's device.
    pub fn update(
        &mut self,
        grad: &Storage,
        state: &mut [Storage],
        rule: &UpdateRule,
    ) -> Result<()> {
        let device = self.device();
        // every buffer is checked before any is taken, so an error leaves
        // the optimizer's state as it was
        if let Some(other) = std::iter::once(&*grad)
            .chain(state.iter())
            .map(Storage::device)
            .find(|d| *d != device)
        {
            return Err(Error::DeviceMismatch {
                op: "optimizer step",
                lhs: device.name(),
                rhs: other.name(),
            });
        }
        let mismatch = |other: Device| Error::DeviceMismatch {
            op: "optimizer step",
            lhs: device.name(),
            rhs: other.name(),
        };
        match (self, grad) {
            (Storage::Cpu(p), Storage::Cpu(g)) => {
                let mut st = Vec::with_capacity(state.len());
                for s in state.iter_mut() {
                    match s {
                        Storage::Cpu(a) => st.push(std::mem::take(a)),
                        other => return Err(mismatch(other.device())),
                    }
                }
                let result = p.update(g, &mut st, rule);
                for (s, a) in state.iter_mut().zip(st) {
                    *s = Storage::Cpu(a);
                }
                result
            }
            (Storage::OpenCl(p), Storage::OpenCl(g)) => {
                let mut st = Vec::with_capacity(state.len());
                for s in state.iter_mut() {
                    match std::mem::replace(s, Storage::Cpu(Array::zeros(ndarray::IxDyn(&[0])))) {
                        Storage::OpenCl(c) => st.push(c),
                        other => {
                            let d = other.device();
                            *s = other;
                            return Err(mismatch(d));
                        }
                    }
                }
                let result = p.update(g, &mut st, rule);
                for (s, c) in state.iter_mut().zip(st) {
                    *s = Storage::OpenCl(c);
                }
                result
            }
            (_, g) => Err(mismatch(g.device())),
        }
    }
}

/// More threads than any machine this runs on could use.
pub const MAX_THREADS: usize = 256;

/// Limit the threads the CPU kernels use (rayon loops, and the matmul, which
/// splits large products on rayon's pool too). Call before any tensor work;
/// later calls cannot shrink rayon's pool.
pub fn set_threads(threads: usize) -> crate::Result<()> {
    if !(1..=MAX_THREADS).contains(&threads) {
        return Err(crate::Error::Config(format!(
            "--threads must be between 1 and {MAX_THREADS}, got {threads}"
        )));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .map_err(|e| crate::Error::Config(format!("--threads {threads}: {e}")))
}
