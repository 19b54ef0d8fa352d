//! Max and average pooling of [`ClStorage`] (max-pool's backward is
//! `reduce.rs`'s scatter). Kernels: cl/pool.cl.

use super::storage::{numel, u32_of};
use super::{Arg, ClIndices, ClStorage, Kernel};
use crate::backend::pool_geometry;
use crate::Result;

fn pool_args<'a>(
    this: &ClStorage,
    n: usize,
    oh: usize,
    ow: usize,
    k: usize,
    stride: usize,
) -> Result<[Arg<'a>; 7]> {
    Ok([
        Arg::U(u32_of(n)?),
        Arg::U(u32_of(this.shape[2])?),
        Arg::U(u32_of(this.shape[3])?),
        Arg::U(u32_of(oh)?),
        Arg::U(u32_of(ow)?),
        Arg::U(u32_of(k)?),
        Arg::U(u32_of(stride)?),
    ])
}

pub(super) fn max_pool2d(
    this: &ClStorage,
    k: usize,
    stride: usize,
) -> Result<(ClStorage, ClIndices)> {
    let (oh, ow) = pool_geometry("max_pool2d", &this.shape, k, stride)?;
    let shape = [this.shape[0], this.shape[1], oh, ow];
    let out = this.uninit(&shape)?;
    let n = numel(&shape);
    let idx = this.dev().alloc::<u32>(n)?;
    let planes = this.shape[0] * this.shape[1];
    let [a0, a1, a2, a3, a4, a5, a6] = pool_args(this, planes, oh, ow, k, stride)?;
    this.dev().launch_planes(
        Kernel::MaxPool,
        &[
            Arg::Mem(&this.buf),
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
        planes,
        oh,
        ow,
    )?;
    Ok((
        out,
        ClIndices {
            device: this.device.clone(),
            len: n,
            buf: idx,
            unique: stride >= k,
        },
    ))
}

pub(super) fn avg_pool2d(this: &ClStorage, k: usize, stride: usize) -> Result<ClStorage> {
    let (oh, ow) = pool_geometry("avg_pool2d", &this.shape, k, stride)?;
    let shape = [this.shape[0], this.shape[1], oh, ow];
    let out = this.uninit(&shape)?;
    let planes = this.shape[0] * this.shape[1];
    let [a0, a1, a2, a3, a4, a5, a6] = pool_args(this, planes, oh, ow, k, stride)?;
    let scale = 1.0 / (k * k) as f32;
    this.dev().launch_planes(
        Kernel::AvgPool,
        &[
            Arg::Mem(&this.buf),
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
        planes,
        oh,
        ow,
    )?;
    Ok(out)
}

pub(super) fn avg_pool2d_backward(
    this: &ClStorage,
    in_shape: &[usize],
    k: usize,
    stride: usize,
) -> Result<ClStorage> {
    let (oh, ow) = (this.shape[2], this.shape[3]);
    let dx = this.uninit(in_shape)?;
    let planes = in_shape[0] * in_shape[1];
    let scale = 1.0 / (k * k) as f32;
    this.dev().launch_planes(
        Kernel::AvgPoolBackward,
        &[
            Arg::Mem(&this.buf),
            Arg::Mem(&dx.buf),
            Arg::U(u32_of(planes)?),
            Arg::U(u32_of(in_shape[2])?),
            Arg::U(u32_of(in_shape[3])?),
            Arg::U(u32_of(oh)?),
            Arg::U(u32_of(ow)?),
            Arg::U(u32_of(k)?),
            Arg::U(u32_of(stride)?),
            Arg::F(scale),
        ],
        planes,
        in_shape[2],
        in_shape[3],
    )?;
    Ok(dx)
}
