//! The matrix product and the convolution of [`ClStorage`]: im2col, the
//! GEMM of `matmul.rs` (cl/matmul.cl), and col2im for the input's gradient.
//! Kernels: cl/conv.cl, cl/layout.cl's `swap_outer`.

use opencl3::memory::Buffer;

use super::matmul::{gemm, Mat};
use super::pool::DevBuf;
use super::storage::u32_of;
use super::{Arg, ClStorage, Kernel};
use crate::backend::{BackendStorage, ConvGeometry};
use crate::Result;

pub(super) fn matmul(this: &ClStorage, rhs: &ClStorage, ta: bool, tb: bool) -> Result<ClStorage> {
    let (m, k) = if ta {
        (this.shape[1], this.shape[0])
    } else {
        (this.shape[0], this.shape[1])
    };
    let n = if tb { rhs.shape[0] } else { rhs.shape[1] };
    if k == 0 {
        return this.zeros_like(&[m, n]);
    }
    let out = this.uninit(&[m, n])?;
    gemm(
        this.dev(),
        Mat::dense(&this.buf, if ta { m } else { k }),
        Mat::dense(&rhs.buf, if tb { k } else { n }),
        Mat::dense(&out.buf, n),
        (m, n, k),
        ta,
        tb,
    )?;
    Ok(out)
}

/// x (N, C, H, W) → cols (C·kh·kw, N·H'·W').
fn im2col(this: &ClStorage, g: &ConvGeometry) -> Result<DevBuf<f32>> {
    let dev = this.dev();
    let rows = g.patch();
    let ncols = g.n * g.rows_per_image();
    u32_of(rows * ncols)?;
    let cols = dev.alloc(rows * ncols)?;
    // one item per (r, image): planes r, one row of images
    dev.launch_planes(
        Kernel::Im2colImage,
        &[
            Arg::Mem(&this.buf),
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
        rows,
        1,
        g.n,
    )?;
    Ok(cols)
}

/// (a, b, c) → (b, a, c); `None` when a or b is 1 (the layouts agree).
fn swap_outer(
    this: &ClStorage,
    src: &Buffer<f32>,
    (a, b, c): (usize, usize, usize),
) -> Result<Option<DevBuf<f32>>> {
    if a == 1 || b == 1 {
        return Ok(None);
    }
    let dev = this.dev();
    let out = dev.alloc(a * b * c)?;
    dev.launch_planes(
        Kernel::SwapOuter,
        &[
            Arg::Mem(src),
            Arg::Mem(&out),
            Arg::U(u32_of(a)?),
            Arg::U(u32_of(b)?),
            Arg::U(u32_of(c)?),
        ],
        b,
        a,
        c,
    )?;
    Ok(Some(out))
}

pub(super) fn conv2d(this: &ClStorage, w: &ClStorage, geom: &ConvGeometry) -> Result<ClStorage> {
    let g = geom;
    let p = g.rows_per_image();
    let cols = im2col(this, g)?;
    // (O, C·kh·kw) · (C·kh·kw, N·P) → (O, N, P). (Multiplying image by
    // image with a batched GEMM, straight into (N, O, P), measured no faster
    // on PoCL than this one product and swap_outer.)
    let ncols = g.n * p;
    u32_of(g.o * ncols)?;
    let prod = this.dev().alloc(g.o * ncols)?;
    gemm(
        this.dev(),
        Mat::dense(&w.buf, g.patch()),
        Mat::dense(&cols, ncols),
        Mat::dense(&prod, ncols),
        (g.o, ncols, g.patch()),
        false,
        false,
    )?;
    drop(cols);
    let out = swap_outer(this, &prod, (g.o, g.n, p))?.unwrap_or(prod);
    Ok(this.with_buf(&g.out_shape(), out))
}

pub(super) fn conv2d_backward(
    this: &ClStorage,
    w: &ClStorage,
    grad: &ClStorage,
    geom: &ConvGeometry,
    want_x: bool,
    want_w: bool,
) -> Result<(Option<ClStorage>, Option<ClStorage>)> {
    let g = geom;
    let dev = this.dev();
    let p = g.rows_per_image();
    let ncols = g.n * p;
    // g (N, O, P) → g' (O, N·P)
    let swapped = swap_outer(this, &grad.buf, (g.n, g.o, p))?;
    let gt = swapped.as_ref().unwrap_or(&grad.buf);
    let dw = if want_w {
        let cols = im2col(this, g)?;
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
        Some(this.with_buf(&w.shape, dw))
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
        let dx = this.uninit(&this.shape)?;
        // one item per (image, channel): planes the channels, one row of images
        dev.launch_planes(
            Kernel::Col2imImage,
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
            g.c,
            1,
            g.n,
        )?;
        Some(dx)
    } else {
        None
    };
    Ok((dx, dw))
}
