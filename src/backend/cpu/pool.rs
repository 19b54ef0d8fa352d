//! Max and average pooling on the CPU over square windows, no padding.
//!
//! x: (N, C, H, W) → (N, C, H', W'), H' = (H - k) / stride + 1 (floor).
//!
//! Tie rule for max pooling: the FIRST maximum in row-major order within the
//! window wins and receives the whole gradient (strict '>' while scanning).
//! Overlapping windows (stride < k) add their gradients.

use ndarray::IxDyn;
use rayon::prelude::*;

use super::layout;
use crate::engine::Array;

/// Max pooling's winners for the common 2×2 window with stride 2, one plane:
/// the four candidates in row-major order, the first maximum winning (strict
/// '>', as in the general loop), with selects rather than branches.
fn argmax_2x2(
    plane: &[f32],
    w: usize,
    (oh, ow): (usize, usize),
    base: usize,
    piece: &mut layout::Piece<'_, usize>,
) {
    for oy in 0..oh {
        let top = 2 * oy * w;
        let (r0, r1) = (&plane[top..top + 2 * ow], &plane[top + w..top + w + 2 * ow]);
        piece.extend_map_iter(
            r0.chunks_exact(2).zip(r1.chunks_exact(2)).enumerate(),
            |(ox, (p0, p1))| {
                let i = base + top + 2 * ox;
                let (mut best, mut best_v) = (i, p0[0]);
                for (j, v) in [(i + 1, p0[1]), (i + w, p1[0]), (i + w + 1, p1[1])] {
                    let better = v > best_v;
                    best = if better { j } else { best };
                    best_v = if better { v } else { best_v };
                }
                best
            },
        );
    }
}

/// Max over each k×k window: values and flat winners. The caller checked the
/// geometry (`pool_geometry`), giving (oh, ow).
pub(crate) fn max_pool2d(
    x: &Array,
    k: usize,
    stride: usize,
    (oh, ow): (usize, usize),
) -> (Array, Vec<usize>) {
    let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let xs = x.as_standard_layout();
    let src = xs.as_slice().expect("standard layout is contiguous");
    // One plane per piece. Each window's rows are sliced once, so the scan
    // is over short slices with no per-element bounds arithmetic.
    let per_plane = oh * ow;
    let argmax = layout::build(
        n * c * per_plane,
        per_plane,
        false,
        || (),
        |_, start, piece| {
            let base = start / per_plane.max(1) * h * w;
            let plane = &src[base..base + h * w];
            if k == 2 && stride == 2 {
                return argmax_2x2(plane, w, (oh, ow), base, piece);
            }
            for oy in 0..oh {
                for ox in 0..ow {
                    let first = oy * stride * w + ox * stride;
                    let (mut best, mut best_v) = (first, plane[first]);
                    for ky in 0..k {
                        let row0 = first + ky * w;
                        for (kx, &v) in plane[row0..row0 + k].iter().enumerate() {
                            // strict '>' keeps the first maximum (tie rule)
                            let better = v > best_v;
                            best = if better { row0 + kx } else { best };
                            best_v = if better { v } else { best_v };
                        }
                    }
                    piece.push(base + best);
                }
            }
        },
    );
    let out = layout::map_indices(&argmax, src);
    let value = Array::from_shape_vec(IxDyn(&[n, c, oh, ow]), out).expect("sized above");
    (value, argmax)
}

/// Mean over each k×k window (geometry checked by the caller).
pub(crate) fn avg_pool2d(x: &Array, k: usize, stride: usize, (oh, ow): (usize, usize)) -> Array {
    let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let xs = x.as_standard_layout();
    let src = xs.as_slice().expect("standard layout is contiguous");
    let scale = 1.0 / (k * k) as f32;
    let mut out = vec![0.0f32; n * c * oh * ow];
    out.par_chunks_mut(oh * ow)
        .enumerate()
        .for_each(|(plane, o)| {
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
    Array::from_shape_vec(IxDyn(&[n, c, oh, ow]), out).expect("sized above")
}

// Each window's gradient goes to its winner. A winner lies in its window's
// plane, so planes are built in parallel, each in window order (overlapping
// windows add), in a scratch plane that is then copied out.
//
// Used for every scatter-add on a 4-D shape whose winners stay in their own
// plane (max pooling's always do); `None` when one does not (a max over the
// channel dimension), and the caller scatters serially instead.
pub(crate) fn max_pool2d_backward(g: &Array, argmax: &[usize], shape: &[usize]) -> Option<Array> {
    if shape.len() != 4 || g.len() != argmax.len() {
        return None;
    }
    let outside = std::sync::atomic::AtomicBool::new(false);
    let plane = shape[2] * shape[3];
    let gs = g.as_standard_layout();
    let gsrc = gs.as_slice().expect("standard layout is contiguous");
    let planes = (shape[0] * shape[1]).max(1);
    if gsrc.len() % planes != 0 {
        return None;
    }
    let per_plane = gsrc.len() / planes;
    let len = shape.iter().product();
    let gx = layout::build(
        len,
        plane,
        false,
        Vec::new,
        |scratch: &mut Vec<f32>, start, piece| {
            let p = start / plane.max(1);
            scratch.clear();
            scratch.resize(plane, 0.0);
            let windows = p * per_plane..(p + 1) * per_plane;
            for (&gi, &idx) in gsrc[windows.clone()].iter().zip(&argmax[windows]) {
                match scratch.get_mut(idx.wrapping_sub(start)) {
                    Some(s) => *s += gi,
                    None => outside.store(true, std::sync::atomic::Ordering::Relaxed),
                }
            }
            piece.extend_from_slice(scratch);
        },
    );
    if outside.into_inner() {
        return None;
    }
    Some(Array::from_shape_vec(IxDyn(shape), gx).expect("same element count"))
}

// Each window's gradient is shared equally by its k² cells.
pub(crate) fn avg_pool2d_backward(g: &Array, shape: &[usize], k: usize, stride: usize) -> Array {
    let (h, w) = (shape[2], shape[3]);
    let (oh, ow) = (g.shape()[2], g.shape()[3]);
    let gs = g.as_standard_layout();
    let gsrc = gs.as_slice().expect("standard layout is contiguous");
    let scale = 1.0 / (k * k) as f32;
    let mut gx = vec![0.0f32; shape.iter().product()];
    gx.par_chunks_mut(h * w)
        .enumerate()
        .for_each(|(plane, dst)| {
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
    Array::from_shape_vec(IxDyn(shape), gx).expect("same element count")
}
