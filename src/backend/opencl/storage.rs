//! [`ClStorage`]: a row-major f32 buffer on an OpenCL device, and its
//! [`BackendStorage`] operations: the data movement here, the rest by
//! concern in `elementwise.rs`, `reduce.rs`, `conv.rs` (also the matmul),
//! `pooling.rs` and `optim.rs`, which this file's trait impl calls. Each operation queues a few kernels on the
//! device's in-order queue and returns at once; nothing waits except
//! [`ClStorage::to_host`] and [`ClIndices::to_host`]. Shapes are simplified on
//! the host first (dimensions of size 1 dropped, adjacent dimensions that
//! stay contiguous for every operand merged), which picks the fast kernels
//! (equal shapes, a scalar, the bias pattern) and keeps the general ones
//! within rank 8.
//!
//! Tolerances against the CPU (tests/opencl_parity.rs): element-wise maps
//! agree to 1e-5 relative (OpenCL's exp/log/pow may differ by a few ulp);
//! sums and products are accumulated in another order, so they agree to
//! about 1e-4·√K relative for K terms.

use std::sync::Arc;

use ndarray::IxDyn;

use super::pool::DevBuf;
use super::{conv, elementwise, optim, pooling, reduce};
use super::{Arg, ClDevice, Kernel};
use crate::backend::{BackendStorage, BinaryOp, ConvGeometry, Device, UnaryOp, UpdateRule};
use crate::engine::Array;
use crate::{Error, Result};

/// A row-major f32 buffer on a device.
#[derive(Debug)]
pub struct ClStorage {
    pub(super) device: Arc<ClDevice>,
    pub(super) shape: Vec<usize>,
    pub(super) buf: DevBuf<f32>,
}

/// Flat u32 indices on a device.
#[derive(Debug)]
pub struct ClIndices {
    pub(super) device: Arc<ClDevice>,
    pub(super) len: usize,
    pub(super) buf: DevBuf<u32>,
    /// No index repeats (max along a dimension, max-pool with stride ≥ k),
    /// so a scatter needs no atomics.
    pub(super) unique: bool,
}

impl ClIndices {
    pub fn to_host(&self) -> Result<Vec<usize>> {
        Ok(self
            .device
            .read(&self.buf, self.len)?
            .into_iter()
            .map(|i| i as usize)
            .collect())
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// `n` as a kernel's uint, or an error: the kernels index with 32 bits.
pub(super) fn u32_of(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::OpenCl {
        stage: "size",
        message: format!(
            "{n} elements: the OpenCL kernels index with 32 bits (at most {})",
            u32::MAX
        ),
    })
}

pub(super) fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major strides of `shape`.
pub(super) fn strides_of(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Strides of a row-major operand of shape `operand` read through the
/// broadcast `shape` (aligned on the right): 0 where it has size 1 or is missing.
pub(super) fn broadcast_strides(shape: &[usize], operand: &[usize]) -> Vec<usize> {
    let own = strides_of(operand);
    let lead = shape.len() - operand.len().min(shape.len());
    let skip = operand.len().saturating_sub(shape.len());
    (0..shape.len())
        .map(|d| {
            if d < lead {
                return 0;
            }
            let j = d - lead + skip;
            if operand[j] == 1 {
                0
            } else {
                own[j]
            }
        })
        .collect()
}

/// Drop dimensions of size 1 and merge a dimension into the next one when
/// every operand's stride says they are one run (stride[d] = stride[d+1]·len[d+1],
/// which also holds for broadcast dimensions with stride 0 in both).
pub(super) fn simplify<const K: usize>(
    shape: &[usize],
    strides: [Vec<usize>; K],
) -> (Vec<usize>, [Vec<usize>; K]) {
    let mut dims: Vec<usize> = Vec::new();
    let mut out: [Vec<usize>; K] = std::array::from_fn(|_| Vec::new());
    for d in 0..shape.len() {
        if shape[d] == 1 {
            continue;
        }
        if let Some(&last) = dims.last() {
            let merge = (0..K).all(|k| {
                let prev = *out[k].last().expect("same length as dims");
                prev == strides[k][d] * shape[d]
            });
            if merge {
                let l = dims.len() - 1;
                dims[l] = last * shape[d];
                for k in 0..K {
                    let s = strides[k][d];
                    *out[k].last_mut().expect("same length as dims") = s;
                }
                continue;
            }
        }
        dims.push(shape[d]);
        for k in 0..K {
            out[k].push(strides[k][d]);
        }
    }
    (dims, out)
}

/// Up to 8 values as an OpenCL uint8 (unused slots 1 for shapes, 0 for strides).
pub(super) fn v8(values: &[usize], pad: u32) -> Result<[u32; 8]> {
    let mut v = [pad; 8];
    for (slot, &x) in v.iter_mut().zip(values) {
        *slot = u32_of(x)?;
    }
    Ok(v)
}

pub(super) fn too_many_dims(op: &'static str, rank: usize) -> Error {
    Error::BadArgument {
        op,
        why: format!("the OpenCL kernels take at most 8 dimensions after merging, got {rank}"),
    }
}

/// (outer, len, inner) around `axis`.
pub(super) fn split_at_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        numel(&shape[..axis]),
        shape[axis],
        numel(&shape[axis + 1..]),
    )
}

impl ClStorage {
    /// A copy of `value` on `device`. The driver copies during the call (no
    /// queue command, no wait), which keeps a 0-d CPU scalar mixed into a
    /// device op cheap.
    pub fn from_host(device: &Arc<ClDevice>, value: &Array) -> Result<ClStorage> {
        u32_of(value.len())?;
        let std = value.as_standard_layout();
        let data = std.as_slice().expect("standard layout is contiguous");
        Ok(ClStorage {
            device: device.clone(),
            shape: value.shape().to_vec(),
            buf: device.upload(data)?,
        })
    }

    pub fn cl_device(&self) -> &Arc<ClDevice> {
        &self.device
    }

    pub(super) fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// A new value of `shape` whose buffer is not yet written.
    pub(super) fn uninit(&self, shape: &[usize]) -> Result<ClStorage> {
        u32_of(numel(shape))?;
        Ok(ClStorage {
            device: self.device.clone(),
            shape: shape.to_vec(),
            buf: self.device.alloc(numel(shape))?,
        })
    }

    pub(super) fn dev(&self) -> &ClDevice {
        &self.device
    }

    /// out = self read through `strides` (rank ≤ 8 after merging) as `shape`.
    pub(super) fn gather(
        &self,
        op: &'static str,
        shape: &[usize],
        strides: Vec<usize>,
    ) -> Result<ClStorage> {
        let mut out = self.uninit(shape)?;
        let n = numel(shape);
        let (dims, [st]) = simplify(shape, [strides]);
        if dims.len() > 8 {
            return Err(too_many_dims(op, dims.len()));
        }
        if dims.len() <= 1 && st.first().is_none_or(|&s| s == 1) {
            // the same elements in the same order
            self.dev().copy(&self.buf, &mut out.buf, n)?;
            return Ok(out);
        }
        self.dev().launch1(
            Kernel::GatherStrided,
            &[
                Arg::Mem(&self.buf),
                Arg::Mem(&out.buf),
                Arg::U(u32_of(n)?),
                Arg::U(dims.len() as u32),
                Arg::V8(v8(&dims, 1)?),
                Arg::V8(v8(&st, 0)?),
            ],
            n,
        )?;
        Ok(out)
    }

    pub(super) fn with_buf(&self, shape: &[usize], buf: DevBuf<f32>) -> ClStorage {
        ClStorage {
            device: self.device.clone(),
            shape: shape.to_vec(),
            buf,
        }
    }
}

impl BackendStorage for ClStorage {
    type Indices = ClIndices;

    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn device(&self) -> Device {
        Device::OpenCl(self.device.clone())
    }

    fn to_host(&self) -> Result<Array> {
        let v = self.dev().read(&self.buf, self.numel())?;
        Ok(Array::from_shape_vec(IxDyn(&self.shape), v).expect("sized by the shape"))
    }

    fn reshape(mut self, shape: &[usize]) -> Result<Self> {
        if numel(shape) != self.numel() {
            return Err(Error::ShapeMismatch {
                op: "reshape",
                lhs: self.shape.clone(),
                rhs: shape.to_vec(),
                why: "the element counts differ".into(),
            });
        }
        self.shape = shape.to_vec();
        Ok(self)
    }

    fn zeros_like(&self, shape: &[usize]) -> Result<Self> {
        u32_of(numel(shape))?;
        Ok(self.with_buf(shape, self.dev().zeros(numel(shape))?))
    }

    fn try_clone(&self) -> Result<Self> {
        let mut out = self.uninit(&self.shape)?;
        self.dev().copy(&self.buf, &mut out.buf, self.numel())?;
        Ok(out)
    }

    // ---- element-wise (elementwise.rs) ----

    fn unary(&self, op: UnaryOp) -> Result<Self> {
        elementwise::unary(self, op)
    }

    fn unary_backward(&self, g: Self, op: UnaryOp) -> Result<Self> {
        elementwise::unary_backward(self, g, op)
    }

    fn binary(&self, rhs: &Self, op: BinaryOp, shape: &[usize]) -> Result<Self> {
        elementwise::binary(self, rhs, op, shape)
    }

    fn add_assign(&mut self, rhs: &Self) -> Result<()> {
        elementwise::add_assign(self, rhs)
    }

    // ---- reductions (reduce.rs) ----

    fn sum_to_shape(&self, shape: &[usize]) -> Result<Self> {
        reduce::sum_to_shape(self, shape)
    }

    fn broadcast_to(&self, shape: &[usize]) -> Result<Self> {
        self.gather("broadcast_to", shape, broadcast_strides(shape, &self.shape))
    }

    fn sum_axes(&self, axes: &[usize], keepdim: bool) -> Result<Self> {
        reduce::sum_axes(self, axes, keepdim)
    }

    fn max_dim(&self, axis: usize, keepdim: bool) -> Result<(Self, ClIndices)> {
        reduce::max_dim(self, axis, keepdim)
    }

    fn scatter_add(&self, idx: &ClIndices, shape: &[usize]) -> Result<Self> {
        reduce::scatter_add(self, idx, shape)
    }

    fn log_softmax(&self, axis: usize) -> Result<Self> {
        reduce::log_softmax(self, axis)
    }

    fn log_softmax_backward(&self, g: &Self, axis: usize) -> Result<Self> {
        reduce::log_softmax_backward(self, g, axis)
    }

    // ---- shape ----

    fn permute(&self, axes: &[usize]) -> Result<Self> {
        let strides = strides_of(&self.shape);
        let shape: Vec<usize> = axes.iter().map(|&a| self.shape[a]).collect();
        let st: Vec<usize> = axes.iter().map(|&a| strides[a]).collect();
        self.gather("permute", &shape, st)
    }

    // ---- linear algebra (conv.rs) ----

    fn matmul(&self, rhs: &Self, ta: bool, tb: bool) -> Result<Self> {
        conv::matmul(self, rhs, ta, tb)
    }

    fn conv2d(&self, w: &Self, geom: &ConvGeometry) -> Result<Self> {
        conv::conv2d(self, w, geom)
    }

    fn conv2d_backward(
        &self,
        w: &Self,
        grad: &Self,
        geom: &ConvGeometry,
        want_x: bool,
        want_w: bool,
    ) -> Result<(Option<Self>, Option<Self>)> {
        conv::conv2d_backward(self, w, grad, geom, want_x, want_w)
    }

    // ---- pooling (pooling.rs) ----

    fn max_pool2d(&self, k: usize, stride: usize) -> Result<(Self, ClIndices)> {
        pooling::max_pool2d(self, k, stride)
    }

    fn avg_pool2d(&self, k: usize, stride: usize) -> Result<Self> {
        pooling::avg_pool2d(self, k, stride)
    }

    fn avg_pool2d_backward(&self, in_shape: &[usize], k: usize, stride: usize) -> Result<Self> {
        pooling::avg_pool2d_backward(self, in_shape, k, stride)
    }

    // ---- optimizers (optim.rs) ----

    fn update(&mut self, grad: &Self, state: &mut [Self], rule: &UpdateRule) -> Result<()> {
        optim::update(self, grad, state, rule)
    }
}
