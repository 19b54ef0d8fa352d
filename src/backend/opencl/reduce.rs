//! Reductions of [`ClStorage`]: sums over axes (also `sum_to_shape`), max
//! along one axis with its winners, the scatter that is their gradient, and
//! log-softmax with its backward. Kernels: cl/reduce.cl.

use opencl3::memory::Buffer;

use super::pool::DevBuf;
use super::storage::{numel, simplify, split_at_axis, strides_of, too_many_dims, u32_of, v8};
use super::{Arg, ClIndices, ClStorage, Kernel};
use crate::backend::BackendStorage;
use crate::Result;

/// Sums of `this` over `axes` (sorted, distinct), as a flat buffer in
/// the order of the kept dimensions.
fn sum_flat(this: &ClStorage, axes: &[usize]) -> Result<DevBuf<f32>> {
    let dev = this.dev();
    let strides = strides_of(&this.shape);
    let mut kept = (Vec::new(), Vec::new());
    let mut red = (Vec::new(), Vec::new());
    for (d, (&len, &stride)) in this.shape.iter().zip(&strides).enumerate() {
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
    if n_out == 0 {
        return dev.alloc(0); // no output element (a zero-size kept dimension)
    }
    if rd.is_empty() || rcount == 0 {
        // nothing to add up: a copy, or zeros for an empty reduction
        let mut out = dev.alloc(n_out)?;
        if rcount == 0 {
            dev.fill(&mut out, n_out, 0.0)?;
        } else {
            dev.copy(&this.buf, &mut out, n_out)?;
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
        launch(&this.buf, &out, 1, rcount, rcount, &kd, &ks, &rd, &rs)?;
    } else {
        u32_of(n_out * chunks)?;
        let partial = dev.alloc(n_out * chunks)?;
        launch(&this.buf, &partial, chunks, per, rcount, &kd, &ks, &rd, &rs)?;
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

pub(super) fn sum_to_shape(this: &ClStorage, shape: &[usize]) -> Result<ClStorage> {
    let lead = this.shape.len() - shape.len().min(this.shape.len());
    let axes: Vec<usize> = (0..this.shape.len())
        .filter(|&d| d < lead || (shape[d - lead] == 1 && this.shape[d] != 1))
        .collect();
    Ok(this.with_buf(shape, sum_flat(this, &axes)?))
}

pub(super) fn sum_axes(this: &ClStorage, axes: &[usize], keepdim: bool) -> Result<ClStorage> {
    let shape: Vec<usize> = if keepdim {
        (0..this.shape.len())
            .map(|d| if axes.contains(&d) { 1 } else { this.shape[d] })
            .collect()
    } else {
        (0..this.shape.len())
            .filter(|d| !axes.contains(d))
            .map(|d| this.shape[d])
            .collect()
    };
    Ok(this.with_buf(&shape, sum_flat(this, axes)?))
}

pub(super) fn max_dim(
    this: &ClStorage,
    axis: usize,
    keepdim: bool,
) -> Result<(ClStorage, ClIndices)> {
    let (outer, len, inner) = split_at_axis(&this.shape, axis);
    let mut shape = this.shape.clone();
    if keepdim {
        shape[axis] = 1;
    } else {
        shape.remove(axis);
    }
    let out = this.uninit(&shape)?;
    let n = outer * inner;
    let idx = this.dev().alloc::<u32>(n)?;
    this.dev().launch1(
        Kernel::MaxDim,
        &[
            Arg::Mem(&this.buf),
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
            device: this.device.clone(),
            len: n,
            buf: idx,
            unique: true,
        },
    ))
}

pub(super) fn scatter_add(this: &ClStorage, idx: &ClIndices, shape: &[usize]) -> Result<ClStorage> {
    let out = this.zeros_like(shape)?;
    let n = idx.len.min(this.numel());
    let k = if idx.unique {
        Kernel::ScatterUnique
    } else {
        Kernel::ScatterAtomic
    };
    this.dev().launch1(
        k,
        &[
            Arg::Mem(&this.buf),
            Arg::Idx(&idx.buf),
            Arg::Mem(&out.buf),
            Arg::U(u32_of(n)?),
        ],
        n,
    )?;
    Ok(out)
}

pub(super) fn log_softmax(this: &ClStorage, axis: usize) -> Result<ClStorage> {
    let (outer, len, inner) = split_at_axis(&this.shape, axis);
    let out = this.uninit(&this.shape)?;
    this.dev().launch1(
        Kernel::LogSoftmax,
        &[
            Arg::Mem(&this.buf),
            Arg::Mem(&out.buf),
            Arg::U(u32_of(outer)?),
            Arg::U(u32_of(len)?),
            Arg::U(u32_of(inner)?),
        ],
        outer * inner,
    )?;
    Ok(out)
}

pub(super) fn log_softmax_backward(
    this: &ClStorage,
    g: &ClStorage,
    axis: usize,
) -> Result<ClStorage> {
    let (outer, len, inner) = split_at_axis(&this.shape, axis);
    let out = this.uninit(&this.shape)?;
    this.dev().launch1(
        Kernel::LogSoftmaxBackward,
        &[
            Arg::Mem(&this.buf),
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
