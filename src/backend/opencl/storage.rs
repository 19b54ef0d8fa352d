//! [`ClStorage`]: a row-major f32 buffer on an OpenCL device, and its
//! [`BackendStorage`] operations. Each operation queues a few kernels on the
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
use opencl3::memory::Buffer;

use super::matmul::{gemm, Mat};
use super::pool::DevBuf;
use super::{Arg, ClDevice, Kernel};
use crate::backend::{
    pool_geometry, BackendStorage, BinaryOp, ConvGeometry, Device, UnaryOp, UpdateRule,
};
use crate::engine::Array;
use crate::{Error, Result};

/// A row-major f32 buffer on a device.
#[derive(Debug)]
pub struct ClStorage {
    device: Arc<ClDevice>,
    shape: Vec<usize>,
    buf: DevBuf<f32>,
}

/// Flat u32 indices on a device.
#[derive(Debug)]
pub struct ClIndices {
    device: Arc<ClDevice>,
    len: usize,
    buf: DevBuf<u32>,
    /// No index repeats (max along a dimension, max-pool with stride ≥ k),
    /// so a scatter needs no atomics.
    unique: bool,
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
fn u32_of(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::OpenCl {
        stage: "size",
        message: format!(
            "{n} elements: the OpenCL kernels index with 32 bits (at most {})",
            u32::MAX
        ),
    })
}

fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major strides of `shape`.
fn strides_of(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Strides of a row-major operand of shape `operand` read through the
/// broadcast `shape` (aligned on the right): 0 where it has size 1 or is missing.
fn broadcast_strides(shape: &[usize], operand: &[usize]) -> Vec<usize> {
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
fn simplify<const K: usize>(
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
fn v8(values: &[usize], pad: u32) -> Result<[u32; 8]> {
    let mut v = [pad; 8];
    for (slot, &x) in v.iter_mut().zip(values) {
        *slot = u32_of(x)?;
    }
    Ok(v)
}

fn too_many_dims(op: &'static str, rank: usize) -> Error {
    Error::BadArgument {
        op,
        why: format!("the OpenCL kernels take at most 8 dimensions after merging, got {rank}"),
    }
}

/// (outer, len, inner) around `axis`.
fn split_at_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        numel(&shape[..axis]),
        shape[axis],
        numel(&shape[axis + 1..]),
    )
}

/// The index into `kernels::UNARY_NAMES` and the two parameters.
fn unary_code(op: UnaryOp) -> (u8, f32, f32) {
    match op {
        UnaryOp::Neg => (0, 0.0, 0.0),
        UnaryOp::Exp => (1, 0.0, 0.0),
        UnaryOp::Log => (2, 0.0, 0.0),
        UnaryOp::Relu => (3, 0.0, 0.0),
        UnaryOp::Sigmoid => (4, 0.0, 0.0),
        UnaryOp::Tanh => (5, 0.0, 0.0),
        UnaryOp::Pow(p) => (6, p, 0.0),
        UnaryOp::Clamp(lo, hi) => (7, lo, hi),
    }
}

fn binary_code(op: BinaryOp) -> i32 {
    match op {
        BinaryOp::Add => 0,
        BinaryOp::Sub => 1,
        BinaryOp::Mul => 2,
        BinaryOp::Div => 3,
        BinaryOp::Eq => 4,
        BinaryOp::BceLoss => 5,
        BinaryOp::BceGrad => 6,
    }
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

    fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// A new value of `shape` whose buffer is not yet written.
    fn uninit(&self, shape: &[usize]) -> Result<ClStorage> {
        u32_of(numel(shape))?;
        Ok(ClStorage {
            device: self.device.clone(),
            shape: shape.to_vec(),
            buf: self.device.alloc(numel(shape))?,
        })
    }

    fn dev(&self) -> &ClDevice {
        &self.device
    }

    /// out = self read through `strides` (rank ≤ 8 after merging) as `shape`.
    fn gather(&self, op: &'static str, shape: &[usize], strides: Vec<usize>) -> Result<ClStorage> {
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

    /// Sums of `self` over `axes` (sorted, distinct), as a flat buffer in
    /// the order of the kept dimensions.
    fn sum_flat(&self, axes: &[usize]) -> Result<DevBuf<f32>> {
        let dev = self.dev();
        let strides = strides_of(&self.shape);
        let mut kept = (Vec::new(), Vec::new());
        let mut red = (Vec::new(), Vec::new());
        for (d, (&len, &stride)) in self.shape.iter().zip(&strides).enumerate() {
            let side = if axes.contains(&d) {
                &mut red
            } else {
                &mut kept
            };
            side.0.push(len);
            side.1.push(stride);
        }
        let (kd, [ks]) = simplify(&kept.0, [kept.1]);
        let (rd, [rs]) = simplify(&red.0, [red.1]);
        let n_out = numel(&kd);
        let rcount = numel(&rd);
        if kd.len() > 8 || rd.len() > 8 {
            return Err(too_many_dims("sum", kd.len().max(rd.len())));
        }
        if rd.is_empty() || rcount == 0 {
            // nothing to add up: a copy, or zeros for an empty reduction
            let mut out = dev.alloc(n_out)?;
            if rcount == 0 {
                dev.fill(&mut out, n_out, 0.0)?;
            } else {
                dev.copy(&self.buf, &mut out, n_out)?;
            }
            return Ok(out);
        }
        // Few long sums (a bias gradient over N·H·W): split each into chunks
        // so that enough work items run, then add the chunks' partial sums.
        const TARGET_ITEMS: usize = 8192;
        const MIN_PER: usize = 256;
        let chunks = if n_out >= TARGET_ITEMS || rcount <= MIN_PER {
            1
        } else {
            (TARGET_ITEMS / n_out).clamp(1, rcount.div_ceil(MIN_PER))
        };
        let per = rcount.div_ceil(chunks);
        let chunks = rcount.div_ceil(per);
        let launch = |x: &Buffer<f32>,
                      out: &Buffer<f32>,
                      chunks: usize,
                      per: usize,
                      rcount: usize,
                      kd: &[usize],
                      ks: &[usize],
                      rd: &[usize],
                      rs: &[usize]|
         -> Result<()> {
            dev.launch1(
                Kernel::SumAxes,
                &[
                    Arg::Mem(x),
                    Arg::Mem(out),
                    Arg::U(u32_of(n_out)?),
                    Arg::U(u32_of(chunks)?),
                    Arg::U(u32_of(per)?),
                    Arg::U(u32_of(rcount)?),
                    Arg::U(kd.len() as u32),
                    Arg::V8(v8(kd, 1)?),
                    Arg::V8(v8(ks, 0)?),
                    Arg::U(rd.len() as u32),
                    Arg::V8(v8(rd, 1)?),
                    Arg::V8(v8(rs, 0)?),
                ],
                n_out * chunks,
            )
        };
        let out = dev.alloc(n_out)?;
        if chunks == 1 {
            launch(&self.buf, &out, 1, rcount, rcount, &kd, &ks, &rd, &rs)?;
        } else {
            u32_of(n_out * chunks)?;
            let partial = dev.alloc(n_out * chunks)?;
            launch(&self.buf, &partial, chunks, per, rcount, &kd, &ks, &rd, &rs)?;
            // partial is (n_out, chunks): sum its rows
            let (pk, pks) = if n_out > 1 {
                (vec![n_out], vec![chunks])
            } else {
                (vec![], vec![])
            };
            launch(
                &partial,
                &out,
                1,
                chunks,
                chunks,
                &pk,
                &pks,
                &[chunks],
                &[1],
            )?;
        }
        Ok(out)
    }

    fn with_buf(&self, shape: &[usize], buf: DevBuf<f32>) -> ClStorage {
        ClStorage {
            device: self.device.clone(),
            shape: shape.to_vec(),
            buf,
        }
    }

    /// x (N, C, H, W) → cols (C·kh·kw, N·H'·W').
    fn im2col(&self, g: &ConvGeometry) -> Result<DevBuf<f32>> {
        let dev = self.dev();
        let rows = g.patch();
        let ncols = g.n * g.rows_per_image();
        u32_of(rows * ncols)?;
        let cols = dev.alloc(rows * ncols)?;
        dev.launch_rows(
            Kernel::Im2col,
            &[
                Arg::Mem(&self.buf),
                Arg::Mem(&cols),
                Arg::U(u32_of(g.n)?),
                Arg::U(u32_of(g.c)?),
                Arg::U(u32_of(g.h)?),
                Arg::U(u32_of(g.w)?),
                Arg::U(u32_of(g.kh)?),
                Arg::U(u32_of(g.kw)?),
                Arg::U(u32_of(g.stride)?),
                Arg::U(u32_of(g.padding)?),
                Arg::U(u32_of(g.oh)?),
                Arg::U(u32_of(g.ow)?),
            ],
            rows * g.n * g.oh,
            g.ow,
        )?;
        Ok(cols)
    }

    /// (a, b, c) → (b, a, c); `None` when a or b is 1 (the layouts agree).
    fn swap_outer(
        &self,
        src: &Buffer<f32>,
        (a, b, c): (usize, usize, usize),
    ) -> Result<Option<DevBuf<f32>>> {
        if a == 1 || b == 1 {
            return Ok(None);
        }
        let dev = self.dev();
        let out = dev.alloc(a * b * c)?;
        dev.launch_rows(
            Kernel::SwapOuter,
            &[
                Arg::Mem(src),
                Arg::Mem(&out),
                Arg::U(u32_of(a)?),
                Arg::U(u32_of(b)?),
                Arg::U(u32_of(c)?),
            ],
            a * b,
            c,
        )?;
        Ok(Some(out))
    }

    fn pool_args<'a>(
        &self,
        n: usize,
        oh: usize,
        ow: usize,
        k: usize,
        stride: usize,
    ) -> Result<[Arg<'a>; 7]> {
        Ok([
            Arg::U(u32_of(n)?),
            Arg::U(u32_of(self.shape[2])?),
            Arg::U(u32_of(self.shape[3])?),
            Arg::U(u32_of(oh)?),
            Arg::U(u32_of(ow)?),
            Arg::U(u32_of(k)?),
            Arg::U(u32_of(stride)?),
        ])
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

    // ---- element-wise ----

    fn unary(&self, op: UnaryOp) -> Result<Self> {
        let out = self.uninit(&self.shape)?;
        let (code, p0, p1) = unary_code(op);
        let n = self.numel();
        self.dev().launch1(
            Kernel::Unary(code),
            &[
                Arg::Mem(&self.buf),
                Arg::Mem(&out.buf),
                Arg::U(u32_of(n)?),
                Arg::F(p0),
                Arg::F(p1),
            ],
            n,
        )?;
        Ok(out)
    }

    fn unary_backward(&self, g: Self, op: UnaryOp) -> Result<Self> {
        // in place in g's buffer
        let (code, p0, p1) = unary_code(op);
        let n = g.numel();
        self.dev().launch1(
            Kernel::UnaryBackward(code),
            &[
                Arg::Mem(&self.buf),
                Arg::Mem(&g.buf),
                Arg::U(u32_of(n)?),
                Arg::F(p0),
                Arg::F(p1),
            ],
            n,
        )?;
        Ok(g)
    }

    fn binary(&self, rhs: &Self, op: BinaryOp, shape: &[usize]) -> Result<Self> {
        let dev = self.dev();
        let out = self.uninit(shape)?;
        let n = numel(shape);
        let nu = u32_of(n)?;
        let code = binary_code(op);
        let sa = broadcast_strides(shape, &self.shape);
        let sb = broadcast_strides(shape, &rhs.shape);
        let (dims, [sa, sb]) = simplify(shape, [sa, sb]);
        let (a, b, o) = (&self.buf, &rhs.buf, &out.buf);
        let contiguous = |s: &[usize]| s == strides_of(&dims).as_slice();
        match dims.len() {
            // a single element, or equal shapes
            0 => dev.launch1(
                Kernel::BinarySame,
                &[
                    Arg::Mem(a),
                    Arg::Mem(b),
                    Arg::Mem(o),
                    Arg::U(nu),
                    Arg::I(code),
                ],
                n,
            )?,
            1 if sa[0] == sb[0] => dev.launch1(
                Kernel::BinarySame,
                &[
                    Arg::Mem(a),
                    Arg::Mem(b),
                    Arg::Mem(o),
                    Arg::U(nu),
                    Arg::I(code),
                ],
                n,
            )?,
            // one operand is a single element
            1 => {
                let (full, scalar, scalar_is_lhs) = if sb[0] == 0 { (a, b, 0) } else { (b, a, 1) };
                dev.launch1(
                    Kernel::BinaryScalar,
                    &[
                        Arg::Mem(full),
                        Arg::Mem(scalar),
                        Arg::Mem(o),
                        Arg::U(nu),
                        Arg::I(code),
                        Arg::I(scalar_is_lhs),
                    ],
                    n,
                )?
            }
            _ => {
                // the bias pattern: one operand full, the other indexed by one
                // dimension only, (outer, mid, inner) with strides (0, 1, 0)
                let mid_of = |s: &[usize]| -> Option<(usize, usize)> {
                    let nz: Vec<usize> = (0..dims.len()).filter(|&d| s[d] != 0).collect();
                    match nz.as_slice() {
                        [d] if s[*d] == 1 => Some((dims[*d], numel(&dims[d + 1..]))),
                        _ => None,
                    }
                };
                let mid = if contiguous(&sa) {
                    mid_of(&sb).map(|m| (a, b, 0, m))
                } else if contiguous(&sb) {
                    mid_of(&sa).map(|m| (b, a, 1, m))
                } else {
                    None
                };
                if let Some((full, part, part_is_lhs, (mid, inner))) = mid {
                    let rows = n / inner;
                    dev.launch_rows(
                        Kernel::BinaryMid,
                        &[
                            Arg::Mem(full),
                            Arg::Mem(part),
                            Arg::Mem(o),
                            Arg::U(u32_of(rows)?),
                            Arg::U(u32_of(mid)?),
                            Arg::U(u32_of(inner)?),
                            Arg::I(code),
                            Arg::I(part_is_lhs),
                        ],
                        rows,
                        inner,
                    )?
                } else {
                    if dims.len() > 8 {
                        return Err(too_many_dims("element-wise op", dims.len()));
                    }
                    dev.launch1(
                        Kernel::BinaryBcast,
                        &[
                            Arg::Mem(a),
                            Arg::Mem(b),
                            Arg::Mem(o),
                            Arg::U(nu),
                            Arg::I(code),
                            Arg::U(dims.len() as u32),
                            Arg::V8(v8(&dims, 1)?),
                            Arg::V8(v8(&sa, 0)?),
                            Arg::V8(v8(&sb, 0)?),
                        ],
                        n,
                    )?
                }
            }
        }
        Ok(out)
    }

    fn add_assign(&mut self, rhs: &Self) -> Result<()> {
        let n = self.numel();
        self.dev().launch1(
            Kernel::AddAssign,
            &[Arg::Mem(&self.buf), Arg::Mem(&rhs.buf), Arg::U(u32_of(n)?)],
            n,
        )
    }

    // ---- reductions ----

    fn sum_to_shape(&self, shape: &[usize]) -> Result<Self> {
        let lead = self.shape.len() - shape.len().min(self.shape.len());
        let axes: Vec<usize> = (0..self.shape.len())
            .filter(|&d| d < lead || (shape[d - lead] == 1 && self.shape[d] != 1))
            .collect();
        Ok(self.with_buf(shape, self.sum_flat(&axes)?))
    }

    fn broadcast_to(&self, shape: &[usize]) -> Result<Self> {
        self.gather("broadcast_to", shape, broadcast_strides(shape, &self.shape))
    }

    fn sum_axes(&self, axes: &[usize], keepdim: bool) -> Result<Self> {
        let shape: Vec<usize> = if keepdim {
            (0..self.shape.len())
                .map(|d| if axes.contains(&d) { 1 } else { self.shape[d] })
                .collect()
        } else {
            (0..self.shape.len())
                .filter(|d| !axes.contains(d))
                .map(|d| self.shape[d])
                .collect()
        };
        Ok(self.with_buf(&shape, self.sum_flat(axes)?))
    }

    fn max_dim(&self, axis: usize, keepdim: bool) -> Result<(Self, ClIndices)> {
        let (outer, len, inner) = split_at_axis(&self.shape, axis);
        let mut shape = self.shape.clone();
        if keepdim {
            shape[axis] = 1;
        } else {
            shape.remove(axis);
        }
        let out = self.uninit(&shape)?;
        let n = outer * inner;
        let idx = self.dev().alloc::<u32>(n)?;
        self.dev().launch1(
            Kernel::MaxDim,
            &[
                Arg::Mem(&self.buf),
                Arg::Mem(&out.buf),
                Arg::Idx(&idx),
                Arg::U(u32_of(outer)?),
                Arg::U(u32_of(len)?),
                Arg::U(u32_of(inner)?),
            ],
            n,
        )?;
        Ok((
            out,
            ClIndices {
                device: self.device.clone(),
                len: n,
                buf: idx,
                unique: true,
            },
        ))
    }

    fn scatter_add(&self, idx: &ClIndices, shape: &[usize]) -> Result<Self> {
        let out = self.zeros_like(shape)?;
        let n = idx.len.min(self.numel());
        let k = if idx.unique {
            Kernel::ScatterUnique
        } else {
            Kernel::ScatterAtomic
        };
        self.dev().launch1(
            k,
            &[
                Arg::Mem(&self.buf),
                Arg::Idx(&idx.buf),
                Arg::Mem(&out.buf),
                Arg::U(u32_of(n)?),
            ],
            n,
        )?;
        Ok(out)
    }

    fn log_softmax(&self, axis: usize) -> Result<Self> {
        let (outer, len, inner) = split_at_axis(&self.shape, axis);
        let out = self.uninit(&self.shape)?;
        self.dev().launch1(
            Kernel::LogSoftmax,
            &[
                Arg::Mem(&self.buf),
                Arg::Mem(&out.buf),
                Arg::U(u32_of(outer)?),
                Arg::U(u32_of(len)?),
                Arg::U(u32_of(inner)?),
            ],
            outer * inner,
        )?;
        Ok(out)
    }

    fn log_softmax_backward(&self, g: &Self, axis: usize) -> Result<Self> {
        let (outer, len, inner) = split_at_axis(&self.shape, axis);
        let out = self.uninit(&self.shape)?;
        self.dev().launch1(
            Kernel::LogSoftmaxBackward,
            &[
                Arg::Mem(&self.buf),
                Arg::Mem(&g.buf),
                Arg::Mem(&out.buf),
                Arg::U(u32_of(outer)?),
                Arg::U(u32_of(len)?),
                Arg::U(u32_of(inner)?),
            ],
            outer * inner,
        )?;
        Ok(out)
    }

    // ---- shape ----

    fn permute(&self, axes: &[usize]) -> Result<Self> {
        let strides = strides_of(&self.shape);
        let shape: Vec<usize> = axes.iter().map(|&a| self.shape[a]).collect();
        let st: Vec<usize> = axes.iter().map(|&a| strides[a]).collect();
        self.gather("permute", &shape, st)
    }

    // ---- linear algebra ----

    fn matmul(&self, rhs: &Self, ta: bool, tb: bool) -> Result<Self> {
        let (m, k) = if ta {
            (self.shape[1], self.shape[0])
        } else {
            (self.shape[0], self.shape[1])
        };
        let n = if tb { rhs.shape[0] } else { rhs.shape[1] };
        if k == 0 {
            return self.zeros_like(&[m, n]);
        }
        let out = self.uninit(&[m, n])?;
        gemm(
            self.dev(),
            Mat::dense(&self.buf, if ta { m } else { k }),
            Mat::dense(&rhs.buf, if tb { k } else { n }),
            Mat::dense(&out.buf, n),
            (m, n, k),
            ta,
            tb,
        )?;
        Ok(out)
    }

    fn conv2d(&self, w: &Self, geom: &ConvGeometry) -> Result<Self> {
        let g = geom;
        let p = g.rows_per_image();
        let cols = self.im2col(g)?;
        // (O, C·kh·kw) · (C·kh·kw, N·P) → (O, N, P)
        let ncols = g.n * p;
        u32_of(g.o * ncols)?;
        let prod = self.dev().alloc(g.o * ncols)?;
        gemm(
            self.dev(),
            Mat::dense(&w.buf, g.patch()),
            Mat::dense(&cols, ncols),
            Mat::dense(&prod, ncols),
            (g.o, ncols, g.patch()),
            false,
            false,
        )?;
        drop(cols);
        let out = self.swap_outer(&prod, (g.o, g.n, p))?.unwrap_or(prod);
        Ok(self.with_buf(&g.out_shape(), out))
    }

    fn conv2d_backward(
        &self,
        w: &Self,
        grad: &Self,
        geom: &ConvGeometry,
        want_x: bool,
        want_w: bool,
    ) -> Result<(Option<Self>, Option<Self>)> {
        let g = geom;
        let dev = self.dev();
        let p = g.rows_per_image();
        let ncols = g.n * p;
        // g (N, O, P) → g' (O, N·P)
        let swapped = self.swap_outer(&grad.buf, (g.n, g.o, p))?;
        let gt = swapped.as_ref().unwrap_or(&grad.buf);
        let dw = if want_w {
            let cols = self.im2col(g)?;
            // (O, N·P) · (C·kh·kw, N·P)ᵀ → (O, C·kh·kw)
            let dw = dev.alloc(g.o * g.patch())?;
            gemm(
                dev,
                Mat::dense(gt, ncols),
                Mat::dense(&cols, ncols),
                Mat::dense(&dw, g.patch()),
                (g.o, g.patch(), ncols),
                false,
                true,
            )?;
            Some(self.with_buf(&w.shape, dw))
        } else {
            None
        };
        let dx = if want_x {
            // (O, C·kh·kw)ᵀ · (O, N·P) → dcols (C·kh·kw, N·P)
            u32_of(g.patch() * ncols)?;
            let dcols = dev.alloc(g.patch() * ncols)?;
            gemm(
                dev,
                Mat::dense(&w.buf, g.patch()),
                Mat::dense(gt, ncols),
                Mat::dense(&dcols, ncols),
                (g.patch(), ncols, g.o),
                true,
                false,
            )?;
            let dx = self.uninit(&self.shape)?;
            dev.launch_rows(
                Kernel::Col2im,
                &[
                    Arg::Mem(&dcols),
                    Arg::Mem(&dx.buf),
                    Arg::U(u32_of(g.n)?),
                    Arg::U(u32_of(g.c)?),
                    Arg::U(u32_of(g.h)?),
                    Arg::U(u32_of(g.w)?),
                    Arg::U(u32_of(g.kh)?),
                    Arg::U(u32_of(g.kw)?),
                    Arg::U(u32_of(g.stride)?),
                    Arg::U(u32_of(g.padding)?),
                    Arg::U(u32_of(g.oh)?),
                    Arg::U(u32_of(g.ow)?),
                ],
                g.n * g.c * g.h,
                g.w,
            )?;
            Some(dx)
        } else {
            None
        };
        Ok((dx, dw))
    }

    // ---- pooling ----

    fn max_pool2d(&self, k: usize, stride: usize) -> Result<(Self, ClIndices)> {
        let (oh, ow) = pool_geometry("max_pool2d", &self.shape, k, stride)?;
        let shape = [self.shape[0], self.shape[1], oh, ow];
        let out = self.uninit(&shape)?;
        let n = numel(&shape);
        let idx = self.dev().alloc::<u32>(n)?;
        let rows = n / ow.max(1);
        let [a0, a1, a2, a3, a4, a5, a6] = self.pool_args(rows, oh, ow, k, stride)?;
        self.dev().launch_rows(
            Kernel::MaxPool,
            &[
                Arg::Mem(&self.buf),
                Arg::Mem(&out.buf),
                Arg::Idx(&idx),
                a0,
                a1,
                a2,
                a3,
                a4,
                a5,
                a6,
            ],
            rows,
            ow,
        )?;
        Ok((
            out,
            ClIndices {
                device: self.device.clone(),
                len: n,
                buf: idx,
                unique: stride >= k,
            },
        ))
    }

    fn avg_pool2d(&self, k: usize, stride: usize) -> Result<Self> {
        let (oh, ow) = pool_geometry("avg_pool2d", &self.shape, k, stride)?;
        let shape = [self.shape[0], self.shape[1], oh, ow];
        let out = self.uninit(&shape)?;
        let n = numel(&shape);
        let rows = n / ow.max(1);
        let [a0, a1, a2, a3, a4, a5, a6] = self.pool_args(rows, oh, ow, k, stride)?;
        let scale = 1.0 / (k * k) as f32;
        self.dev().launch_rows(
            Kernel::AvgPool,
            &[
                Arg::Mem(&self.buf),
                Arg::Mem(&out.buf),
                a0,
                a1,
                a2,
                a3,
                a4,
                a5,
                a6,
                Arg::F(scale),
            ],
            rows,
            ow,
        )?;
        Ok(out)
    }

    fn avg_pool2d_backward(&self, in_shape: &[usize], k: usize, stride: usize) -> Result<Self> {
        let (oh, ow) = (self.shape[2], self.shape[3]);
        let dx = self.uninit(in_shape)?;
        let (w, rows) = (in_shape[3], numel(in_shape) / in_shape[3].max(1));
        let scale = 1.0 / (k * k) as f32;
        self.dev().launch_rows(
            Kernel::AvgPoolBackward,
            &[
                Arg::Mem(&self.buf),
                Arg::Mem(&dx.buf),
                Arg::U(u32_of(rows)?),
                Arg::U(u32_of(in_shape[2])?),
                Arg::U(u32_of(in_shape[3])?),
                Arg::U(u32_of(oh)?),
                Arg::U(u32_of(ow)?),
                Arg::U(u32_of(k)?),
                Arg::U(u32_of(stride)?),
                Arg::F(scale),
            ],
            rows,
            w,
        )?;
        Ok(dx)
    }

    // ---- optimizers ----

    fn update(&mut self, grad: &Self, state: &mut [Self], rule: &UpdateRule) -> Result<()> {
        let n = self.numel();
        let nu = u32_of(n)?;
        let bad_state = |want: &str| Error::BadArgument {
            op: "optimizer step",
            why: format!("expected state {want}, got {} buffers", state.len()),
        };
        let (p, g) = (&self.buf, &grad.buf);
        let dev = &self.device;
        match *rule {
            UpdateRule::Sgd {
                lr,
                momentum,
                dampening,
                weight_decay,
                nesterov,
                first,
            } => {
                let b = match (momentum != 0.0, &*state) {
                    (false, _) => None,
                    (true, [b, ..]) => Some(&b.buf),
                    (true, []) => return Err(bad_state("[momentum_buffer]")),
                };
                dev.launch1(
                    Kernel::Sgd,
                    &[
                        Arg::Mem(p),
                        Arg::Mem(g),
                        Arg::Mem(b.unwrap_or(g)),
                        Arg::U(nu),
                        Arg::F(lr),
                        Arg::F(momentum),
                        Arg::F(dampening),
                        Arg::F(weight_decay),
                        Arg::I(nesterov as i32),
                        Arg::I(first as i32),
                        Arg::I(b.is_some() as i32),
                    ],
                    n,
                )
            }
            UpdateRule::Adam {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
                decoupled,
                step_size,
                bias_correction2_sqrt,
            } => {
                let [m, v, ..] = &*state else {
                    return Err(bad_state("[exp_avg, exp_avg_sq]"));
                };
                dev.launch1(
                    Kernel::Adam,
                    &[
                        Arg::Mem(p),
                        Arg::Mem(g),
                        Arg::Mem(&m.buf),
                        Arg::Mem(&v.buf),
                        Arg::U(nu),
                        Arg::F(lr),
                        Arg::F(beta1),
                        Arg::F(beta2),
                        Arg::F(eps),
                        Arg::F(weight_decay),
                        Arg::I(decoupled as i32),
                        Arg::F(step_size),
                        Arg::F(bias_correction2_sqrt),
                    ],
                    n,
                )
            }
            UpdateRule::Rmsprop {
                lr,
                alpha,
                eps,
                weight_decay,
                momentum,
                centered,
            } => {
                let [sq, ga, b, ..] = &*state else {
                    return Err(bad_state("[square_avg, grad_avg, momentum_buffer]"));
                };
                dev.launch1(
                    Kernel::Rmsprop,
                    &[
                        Arg::Mem(p),
                        Arg::Mem(g),
                        Arg::Mem(&sq.buf),
                        Arg::Mem(&ga.buf),
                        Arg::Mem(&b.buf),
                        Arg::U(nu),
                        Arg::F(lr),
                        Arg::F(alpha),
                        Arg::F(eps),
                        Arg::F(weight_decay),
                        Arg::F(momentum),
                        Arg::I(centered as i32),
                    ],
                    n,
                )
            }
            UpdateRule::Adagrad {
                clr,
                eps,
                weight_decay,
            } => {
                let [sum, ..] = &*state else {
                    return Err(bad_state("[state_sum]"));
                };
                dev.launch1(
                    Kernel::Adagrad,
                    &[
                        Arg::Mem(p),
                        Arg::Mem(g),
                        Arg::Mem(&sum.buf),
                        Arg::U(nu),
                        Arg::F(clr),
                        Arg::F(eps),
                        Arg::F(weight_decay),
                    ],
                    n,
                )
            }
        }
    }
}
