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

/// Max pooling with the common 2×2 window and stride 2, one plane: each
/// window's maximum into `vals` and, when `idx` is given, its flat winner
/// (`base` + the index in the plane). The four candidates are taken in
/// row-major order, the first maximum winning (strict '>', as in the general
/// loop), with selects rather than branches.
#[inline(always)]
fn max_2x2_body(
    plane: &[f32],
    w: usize,
    base: usize,
    vals: &mut [f32],
    mut idx: Option<&mut [usize]>,
) {
    let ow = w / 2;
    for (oy, vrow) in vals.chunks_exact_mut(ow.max(1)).enumerate() {
        let top = 2 * oy * w;
        let (r0, r1) = (&plane[top..top + 2 * ow], &plane[top + w..top + w + 2 * ow]);
        let windows = vrow
            .iter_mut()
            .zip(r0.chunks_exact(2).zip(r1.chunks_exact(2)));
        match idx.as_deref_mut() {
            Some(idx) => {
                let irow = &mut idx[oy * ow..(oy + 1) * ow];
                for (ox, ((v, (p0, p1)), i)) in windows.zip(irow).enumerate() {
                    let at = base + top + 2 * ox;
                    let (mut best, mut best_v) = (at, p0[0]);
                    for (j, c) in [(at + 1, p0[1]), (at + w, p1[0]), (at + w + 1, p1[1])] {
                        let better = c > best_v;
                        best = if better { j } else { best };
                        best_v = if better { c } else { best_v };
                    }
                    (*v, *i) = (best_v, best);
                }
            }
            None => {
                for (v, (p0, p1)) in windows {
                    let mut best_v = p0[0];
                    for c in [p0[1], p1[0], p1[1]] {
                        best_v = if c > best_v { c } else { best_v };
                    }
                    *v = best_v;
                }
            }
        }
    }
}

/// [`max_2x2_body`] compiled for AVX-512 (the compiler vectorizes it).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn max_2x2_avx512(
    plane: &[f32],
    w: usize,
    base: usize,
    vals: &mut [f32],
    idx: Option<&mut [usize]>,
) {
    max_2x2_body(plane, w, base, vals, idx);
}

/// 2×2 stride-2 max pooling of every plane: values, and the winners when
/// `with_argmax`. One pass over the input, planes spread over rayon's threads.
fn max_pool_2x2(
    x: &[f32],
    (planes, h, w): (usize, usize, usize),
    with_argmax: bool,
) -> (Vec<f32>, Vec<usize>) {
    let (oh, ow) = (h / 2, w / 2);
    let per_plane = oh * ow;
    let mut vals = vec![0.0f32; planes * per_plane];
    let mut idx = vec![0usize; if with_argmax { planes * per_plane } else { 0 }];
    if per_plane == 0 {
        return (vals, idx);
    }
    #[cfg(target_arch = "x86_64")]
    let wide = super::avx512();
    let one = |p: usize, v: &mut [f32], i: Option<&mut [usize]>| {
        let (base, plane) = (p * h * w, &x[p * h * w..(p + 1) * h * w]);
        #[cfg(target_arch = "x86_64")]
        if wide {
            // SAFETY: the CPU has these AVX-512 extensions, checked above
            return unsafe { max_2x2_avx512(plane, w, base, v, i) };
        }
        max_2x2_body(plane, w, base, v, i);
    };
    // enough planes per task that a task is worth starting
    let per_task = (layout::PAR_MIN_ELEMS / (h * w).max(1)).max(1);
    if with_argmax {
        vals.par_chunks_mut(per_task * per_plane)
            .zip(idx.par_chunks_mut(per_task * per_plane))
            .enumerate()
            .for_each(|(t, (v, i))| {
                for (j, (v, i)) in v
                    .chunks_exact_mut(per_plane)
                    .zip(i.chunks_exact_mut(per_plane))
                    .enumerate()
                {
                    one(t * per_task + j, v, Some(i));
                }
            });
    } else {
        vals.par_chunks_mut(per_task * per_plane)
            .enumerate()
            .for_each(|(t, v)| {
                for (j, v) in v.chunks_exact_mut(per_plane).enumerate() {
                    one(t * per_task + j, v, None);
                }
            });
    }
    (vals, idx)
}

/// Max over each k×k window, values only (inference: no winners kept).
pub(crate) fn max_pool2d_values(
    x: &Array,
    k: usize,
    stride: usize,
    (oh, ow): (usize, usize),
) -> Array {
    let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    if k != 2 || stride != 2 {
        return max_pool2d(x, k, stride, (oh, ow)).0;
    }
    let xs = x.as_standard_layout();
    let src = xs.as_slice().expect("standard layout is contiguous");
    let (vals, _) = max_pool_2x2(src, (n * c, h, w), false);
    Array::from_shape_vec(IxDyn(&[n, c, oh, ow]), vals).expect("sized above")
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
    let (vals, argmax) = if k == 2 && stride == 2 {
        max_pool_2x2(src, (n * c, h, w), true)
    } else {
        max_pool_any(src, (n * c, h, w), k, stride, (oh, ow))
    };
    let value = Array::from_shape_vec(IxDyn(&[n, c, oh, ow]), vals).expect("sized above");
    (value, argmax)
}

/// Max pooling with any window and stride, every plane: values and winners.
fn max_pool_any(
    src: &[f32],
    (planes, h, w): (usize, usize, usize),
    k: usize,
    stride: usize,
    (oh, ow): (usize, usize),
) -> (Vec<f32>, Vec<usize>) {
    // One plane per piece. Each window's rows are sliced once, so the scan
    // is over short slices with no per-element bounds arithmetic.
    let per_plane = oh * ow;
    let argmax = layout::build(
        planes * per_plane,
        per_plane,
        false,
        || (),
        |_, start, piece| {
            let base = start / per_plane.max(1) * h * w;
            let plane = &src[base..base + h * w];
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
    (layout::map_indices(&argmax, src), argmax)
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

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    #[test]
    fn max_pool_2x2_matches_the_general_loop() {
        // odd sizes (a last row and column no window covers), one plane and
        // many, values from a few levels so that windows tie (the first
        // maximum must win), a NaN now and then (never wins, as with '>'),
        // and a plane count past one task's share
        let mut rng = StdRng::seed_from_u64(5);
        for case in 0..30 {
            let planes = if case == 0 {
                700
            } else {
                rng.random_range(1..9)
            };
            let (h, w) = (rng.random_range(2..12), rng.random_range(2..12));
            let x: Vec<f32> = (0..planes * h * w)
                .map(|_| match rng.random_range(0..40) {
                    0 => f32::NAN,
                    l => (l % 5) as f32 - 2.0,
                })
                .collect();
            let out = (h / 2, w / 2);
            let (want_v, want_i) = max_pool_any(&x, (planes, h, w), 2, 2, out);
            let (got_v, got_i) = max_pool_2x2(&x, (planes, h, w), true);
            let (only_v, none) = max_pool_2x2(&x, (planes, h, w), false);
            // and the plain build (where the CPU has AVX-512, the test ran that one)
            crate::backend::cpu::use_avx512(false);
            let (plain_v, plain_i) = max_pool_2x2(&x, (planes, h, w), true);
            crate::backend::cpu::use_avx512(true);
            assert_eq!(plain_i, want_i, "case {case}: plain build's winners");
            let what = format!("case {case}: {planes} planes {h}×{w}");
            assert_eq!(got_i, want_i, "{what}: winners");
            assert!(none.is_empty(), "{what}: no winners asked for");
            for v in [&got_v, &only_v, &plain_v] {
                let same = v
                    .iter()
                    .zip(&want_v)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same && v.len() == want_v.len(), "{what}: values");
            }
        }
    }
}
