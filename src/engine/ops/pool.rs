//! Max and average pooling over square windows, no padding (PyTorch's
//! defaults; stride defaults to the window size in nn::MaxPool2d).
//!
//! x: (N, C, H, W) → (N, C, H', W'), H' = (H - k) / stride + 1 (floor).
//!
//! Tie rule for max pooling: the FIRST maximum in row-major order within the
//! window wins and receives the whole gradient (strict '>' while scanning).
//! Overlapping windows (stride < k) add their gradients.

use ndarray::IxDyn;
use rayon::prelude::*;

use super::Op;
use crate::engine::graph::GradStore;
use crate::engine::tensor::{Array, Tensor};
use crate::{Error, Result};

/// Output height/width of pooling, with errors naming the problem.
pub fn pool_geometry(op: &'static str, shape: &[usize], k: usize, stride: usize) -> Result<(usize, usize)> {
    let bad = |why: String| Error::BadArgument { op, why };
    if shape.len() != 4 {
        return Err(bad(format!("input must be (N, C, H, W), got {shape:?}")));
    }
    if k == 0 || stride == 0 {
        return Err(bad("kernel size and stride must be at least 1".into()));
    }
    let (h, w) = (shape[2], shape[3]);
    if k > h || k > w {
        return Err(bad(format!("window {k}x{k} is larger than the input {h}x{w}")));
    }
    Ok(((h - k) / stride + 1, (w - k) / stride + 1))
}

impl Tensor {
    /// Max over each k×k window, moving `stride` cells at a time.
    pub fn max_pool2d(&self, k: usize, stride: usize) -> Result<Tensor> {
        let x = self.data();
        let (oh, ow) = pool_geometry("max_pool2d", x.shape(), k, stride)?;
        let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
        let xs = x.as_standard_layout();
        let src = xs.as_slice().expect("standard layout is contiguous");
        let mut out = vec![0.0f32; n * c * oh * ow];
        let mut argmax = vec![0usize; n * c * oh * ow];
        // One plane per task. Each window's rows are sliced once, so the scan
        // is over short slices with no per-element bounds arithmetic.
        out.par_chunks_mut((oh * ow).max(1)).zip(argmax.par_chunks_mut((oh * ow).max(1))).enumerate().for_each(
            |(plane, (o, a))| {
                let base = plane * h * w;
                let src = &src[base..base + h * w];
                for oy in 0..oh {
                    let (o, a) = (&mut o[oy * ow..(oy + 1) * ow], &mut a[oy * ow..(oy + 1) * ow]);
                    for (ox, (o, a)) in o.iter_mut().zip(a.iter_mut()).enumerate() {
                        let first = oy * stride * w + ox * stride;
                        let (mut best, mut best_v) = (first, src[first]);
                        for ky in 0..k {
                            let row0 = first + ky * w;
                            for (kx, &v) in src[row0..row0 + k].iter().enumerate() {
                                // strict '>' keeps the first maximum (tie rule)
                                if v > best_v {
                                    best = row0 + kx;
                                    best_v = v;
                                }
                            }
                        }
                        *o = best_v;
                        *a = base + best;
                    }
                }
            },
        );
        drop(xs);
        drop(x);
        let value = Array::from_shape_vec(IxDyn(&[n, c, oh, ow]), out).expect("sized above");
        Ok(Tensor::from_op(value, Op::MaxPool2d { input: self.clone(), argmax }))
    }

    /// Mean over each k×k window, moving `stride` cells at a time.
    pub fn avg_pool2d(&self, k: usize, stride: usize) -> Result<Tensor> {
        let x = self.data();
        let (oh, ow) = pool_geometry("avg_pool2d", x.shape(), k, stride)?;
        let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
        let xs = x.as_standard_layout();
        let src = xs.as_slice().expect("standard layout is contiguous");
        let scale = 1.0 / (k * k) as f32;
        let mut out = vec![0.0f32; n * c * oh * ow];
        out.par_chunks_mut(oh * ow).enumerate().for_each(|(plane, o)| {
            let base = plane * h * w;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut s = 0.0;
                    for ky in 0..k {
                        for kx in 0..k {
                            s += src[base + (oy * stride + ky) * w + ox * stride + kx];
                        }
                    }
                    o[oy * ow + ox] = s * scale;
                }
            }
        });
        drop(xs);
        drop(x);
        let value = Array::from_shape_vec(IxDyn(&[n, c, oh, ow]), out).expect("sized above");
        Ok(Tensor::from_op(value, Op::AvgPool2d { input: self.clone(), kernel: k, stride }))
    }
}

// Each window's gradient goes to its winner. A winner lies in its window's
// plane, so planes are filled in parallel, each in window order.
pub(crate) fn max_pool2d_backward(g: &Array, x: &Tensor, argmax: &[usize], store: &mut GradStore) {
    let shape = x.shape();
    let plane = shape[2] * shape[3];
    let gs = g.as_standard_layout();
    let gsrc = gs.as_slice().expect("standard layout is contiguous");
    let per_plane = gsrc.len() / (shape[0] * shape[1]).max(1);
    let mut gx = vec![0.0f32; shape.iter().product()];
    gx.par_chunks_mut(plane.max(1))
        .zip(gsrc.par_chunks(per_plane.max(1)).zip(argmax.par_chunks(per_plane.max(1))))
        .enumerate()
        .for_each(|(p, (dst, (g, a)))| {
            for (&gi, &idx) in g.iter().zip(a) {
                dst[idx - p * plane] += gi;
            }
        });
    store.accumulate(x, Array::from_shape_vec(IxDyn(&shape), gx).expect("same element count"));
}

// Each window's gradient is shared equally by its k² cells.
pub(crate) fn avg_pool2d_backward(g: &Array, x: &Tensor, k: usize, stride: usize, store: &mut GradStore) {
    let shape = x.shape();
    let (h, w) = (shape[2], shape[3]);
    let (oh, ow) = (g.shape()[2], g.shape()[3]);
    let gs = g.as_standard_layout();
    let gsrc = gs.as_slice().expect("standard layout is contiguous");
    let scale = 1.0 / (k * k) as f32;
    let mut gx = vec![0.0f32; shape.iter().product()];
    gx.par_chunks_mut(h * w).enumerate().for_each(|(plane, dst)| {
        for oy in 0..oh {
            for ox in 0..ow {
                let gv = gsrc[plane * oh * ow + oy * ow + ox] * scale;
                for ky in 0..k {
                    for kx in 0..k {
                        dst[(oy * stride + ky) * w + ox * stride + kx] += gv;
                    }
                }
            }
        }
    });
    store.accumulate(x, Array::from_shape_vec(IxDyn(&shape), gx).expect("same element count"));
}
