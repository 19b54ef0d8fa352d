//! Reductions on the CPU: sums over dimensions, a broadcast gradient summed
//! back to its operand's shape, max along a dimension with its winners,
//! scatter-add (max's backward), and log-softmax with its backward.
//!
//! Tie rule for `max_dim`: the FIRST maximal element (lowest index along the
//! dimension) wins, what PyTorch's `max(dim)` index points at.

use ndarray::{Axis, IxDyn};
use rayon::prelude::*;

use super::layout;
use crate::engine::Array;

/// Sum `grad` (a broadcast of `shape`) back down to `shape`: over leading
/// dimensions `shape` lacks, and over dimensions where `shape` has size 1.
///
/// The sums are taken in the order ndarray's `sum_axis` takes them, one
/// dimension at a time from the left, so results do not change with the fast
/// path: the first (and largest) reduction, over dimension 0, adds the
/// dimension-0 slices one after another as `sum_axis(Axis(0))` does, but in
/// place and spread over rayon's threads by column (`sum_leading`). What is
/// left (a conv bias's (1, O, H, W) → (1, O, 1, 1)) is small.
pub fn sum_to_shape(grad: &Array, shape: &[usize]) -> Array {
    let g = grad.as_standard_layout();
    if g.shape() == shape {
        return g.into_owned();
    }
    let first_reduced = g.ndim() > shape.len() || (shape.first() == Some(&1) && g.shape()[0] != 1);
    let mut g: Array = if first_reduced && g.ndim() >= 2 {
        let summed = sum_leading(&g);
        if g.ndim() > shape.len() {
            summed
        } else {
            summed.insert_axis(Axis(0))
        }
    } else {
        g.into_owned()
    };
    while g.ndim() > shape.len() {
        g = if g.ndim() >= 2 {
            sum_leading(&g)
        } else {
            g.sum_axis(Axis(0))
        };
    }
    for (i, &n) in shape.iter().enumerate() {
        if n == 1 && g.shape()[i] != 1 {
            g = g.sum_axis(Axis(i)).insert_axis(Axis(i));
        }
    }
    g
}

/// Σ over dimension 0 of a row-major `g` with at least 2 dimensions, in the
/// order `sum_axis(Axis(0))` uses there (0 + g[0] + g[1] + …, element by
/// element). Dimension 0 is never the smallest-stride axis of such an array,
/// the case where ndarray would sum lanes instead.
fn sum_leading(g: &ndarray::ArrayRef<f32, IxDyn>) -> Array {
    let (rows, rest) = (g.shape()[0], &g.shape()[1..]);
    let len: usize = rest.iter().product();
    let gs = g.as_standard_layout();
    let src = gs.as_slice().expect("standard layout is contiguous");
    let mut acc = vec![0.0f32; len];
    let add_rows = |start: usize, acc: &mut [f32]| {
        for r in 0..rows {
            let row = &src[r * len + start..r * len + start + acc.len()];
            acc.iter_mut().zip(row).for_each(|(a, &v)| *a += v);
        }
    };
    const PIECE: usize = 4096;
    if rows * len >= layout::PAR_MIN_ELEMS && len > PIECE {
        acc.par_chunks_mut(PIECE)
            .enumerate()
            .for_each(|(i, a)| add_rows(i * PIECE, a));
    } else if len > 0 && len <= 16 {
        // a Linear bias's (N, F) → (F,) with few features: rows of a length
        // known when compiled, so each row's adds are unrolled (the same sums
        // in the same order as the loop below)
        macro_rules! fixed {
            ($($l:literal)*) => {
                match len {
                    $($l => sum_rows_fixed::<$l>(src, &mut acc),)*
                    _ => unreachable!("len is 1..=16"),
                }
            };
        }
        fixed!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
    } else if len > 0 {
        // whole rows, e.g. a Linear bias's (N, F) → (F,): F independent sums
        for row in src.chunks_exact(len) {
            acc.iter_mut().zip(row).for_each(|(a, &v)| *a += v);
        }
    }
    Array::from_shape_vec(IxDyn(rest), acc).expect("one sum per remaining element")
}

/// acc[j] += row[j] for every row of `src` (rows of `L` values), in row order.
fn sum_rows_fixed<const L: usize>(src: &[f32], acc: &mut [f32]) {
    let mut a = [0.0f32; L];
    for row in src.chunks_exact(L) {
        let row: &[f32; L] = row.try_into().expect("chunks of L");
        for j in 0..L {
            a[j] += row[j];
        }
    }
    acc.copy_from_slice(&a);
}

/// Split a shape around `axis` into (outer, len, inner) so that element
/// (o, k, i) sits at flat index o·len·inner + k·inner + i.
pub(crate) fn split_at_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = shape[..axis].iter().product();
    let inner = shape[axis + 1..].iter().product();
    (outer, shape[axis], inner)
}

/// Sum over `axes` (sorted, distinct).
pub(crate) fn sum_axes(x: &Array, axes: &[usize], keepdim: bool) -> Array {
    if let Some(value) = sum_around_block(x, axes, keepdim) {
        return value;
    }
    let mut value = x.clone();
    for &axis in axes.iter().rev() {
        value = value.sum_axis(Axis(axis));
        if keepdim {
            value = value.insert_axis(Axis(axis));
        }
    }
    value
}

/// Sums over `axes` when the dimensions kept form one consecutive block of a
/// contiguous `x` (a conv bias's gradient, [0, 2, 3] of (N, O, H, W)): element
/// (o, k, i) at o·K·I + k·I + i, out[k] = Σ_o Σ_i. One pass over `x`, no copy;
/// each run of I values is summed in 16 lanes, then the lanes in order. None
/// for any other case, which takes ndarray's `sum_axis` one axis at a time.
fn sum_around_block(x: &Array, axes: &[usize], keepdim: bool) -> Option<Array> {
    let kept: Vec<usize> = (0..x.ndim()).filter(|d| !axes.contains(d)).collect();
    let (first, last) = (*kept.first()?, *kept.last()?);
    if last - first + 1 != kept.len() || axes.is_empty() {
        return None;
    }
    let src = x.as_slice()?;
    let shape = x.shape();
    let outer: usize = shape[..first].iter().product();
    let k: usize = shape[first..=last].iter().product();
    let inner: usize = shape[last + 1..].iter().product();
    if inner < 16 {
        return None;
    }
    let mut out = vec![0.0f32; k];
    for block in src.chunks_exact((k * inner).max(1)).take(outer) {
        for (o, run) in out.iter_mut().zip(block.chunks_exact(inner)) {
            *o += sum_run(run);
        }
    }
    let dims: Vec<usize> = (0..x.ndim())
        .filter_map(|d| match (kept.contains(&d), keepdim) {
            (true, _) => Some(shape[d]),
            (false, true) => Some(1),
            (false, false) => None,
        })
        .collect();
    Some(Array::from_shape_vec(IxDyn(&dims), out).expect("one sum per kept element"))
}

/// Σ run, in 16 lanes (so that the adds vectorize), then the lanes in order.
#[inline(always)]
fn sum_run(run: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 16];
    let mut chunks = run.chunks_exact(16);
    for c in &mut chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l += v;
        }
    }
    for (l, &v) in lanes.iter_mut().zip(chunks.remainder()) {
        *l += v;
    }
    lanes.iter().sum()
}

/// ReLU's backward fused with a conv bias's gradient, for y and g of shape
/// (N, O, H, W), both row-major: dz = g where y > 0, else 0 (a select; a NaN y
/// passes g on, as `UnaryOp::Relu`'s rule), and db (O,) = Σ over (N, H, W)
/// of dz. g's buffer becomes dz. Each (n, o) plane is masked and summed while
/// it is in cache, planes spread over rayon's threads; db then adds the plane
/// sums in n order, so both are the same to the bit as the mask followed by
/// `sum_axes(&[0, 2, 3])`. Gives g back for other shapes or layouts, and for
/// planes under 16 elements (which `sum_axes` sums another way).
pub(crate) fn relu_backward_channel_sum(y: &Array, mut g: Array) -> Result<(Array, Array), Array> {
    let shape = y.shape();
    if shape.len() != 4 || g.shape() != shape || shape[2] * shape[3] < 16 {
        return Err(g);
    }
    let (Some(ys), Some(gs)) = (y.as_slice(), g.as_slice_mut()) else {
        return Err(g);
    };
    let (o, plane) = (shape[1], shape[2] * shape[3]);
    let mut sums = vec![0.0f32; shape[0] * o];
    if sums.is_empty() {
        return Ok((g, Array::zeros(IxDyn(&[o]))));
    }
    #[cfg(target_arch = "x86_64")]
    let wide = super::avx512();
    let run = |g: &mut [f32], y: &[f32], sums: &mut [f32]| {
        #[cfg(target_arch = "x86_64")]
        if wide {
            // SAFETY: the CPU has AVX-512F, checked above
            return unsafe { mask_and_sum_avx512(g, y, plane, sums) };
        }
        mask_and_sum(g, y, plane, sums);
    };
    let per_task = (layout::PAR_MIN_ELEMS / 2 / plane).max(1);
    if gs.len() >= layout::PAR_MIN_ELEMS {
        gs.par_chunks_mut(per_task * plane)
            .zip(ys.par_chunks(per_task * plane))
            .zip(sums.par_chunks_mut(per_task))
            .for_each(|((g, y), s)| run(g, y, s));
    } else {
        run(gs, ys, &mut sums);
    }
    let mut db = vec![0.0f32; o];
    for row in sums.chunks_exact(o) {
        db.iter_mut().zip(row).for_each(|(d, &s)| *d += s);
    }
    Ok((
        g,
        Array::from_shape_vec(IxDyn(&[o]), db).expect("one sum per channel"),
    ))
}

/// Mask each plane of `g` by `y > 0` (NaN passes) and put its sum in `sums`.
#[inline(always)]
fn mask_and_sum(g: &mut [f32], y: &[f32], plane: usize, sums: &mut [f32]) {
    for ((g, y), s) in g
        .chunks_exact_mut(plane)
        .zip(y.chunks_exact(plane))
        .zip(sums)
    {
        g.iter_mut()
            .zip(y)
            .for_each(|(g, &y)| *g = if y <= 0.0 { 0.0 } else { *g });
        *s = sum_run(g);
    }
}

/// [`mask_and_sum`] compiled for AVX-512 (the same operations, wider).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn mask_and_sum_avx512(g: &mut [f32], y: &[f32], plane: usize, sums: &mut [f32]) {
    mask_and_sum(g, y, plane, sums);
}

/// `x` stretched to the broadcast `shape`.
pub(crate) fn broadcast_to(x: &Array, shape: &[usize]) -> Array {
    let xs = x.as_standard_layout();
    let v = layout::broadcast_to(
        shape,
        (
            xs.as_slice().expect("standard layout is contiguous"),
            xs.shape(),
        ),
    );
    Array::from_shape_vec(IxDyn(shape), v).expect("sized by the shape")
}

/// Max along `axis`, and the flat input index of each output's winner.
pub(crate) fn max_dim(x: &Array, axis: usize, keepdim: bool) -> (Array, Vec<usize>) {
    let (outer, len, inner) = split_at_axis(x.shape(), axis);
    let flat = x.as_standard_layout();
    let x_ = flat.as_slice().expect("standard layout is contiguous");
    let mut values = Vec::with_capacity(outer * inner);
    let mut argmax = Vec::with_capacity(outer * inner);
    for o in 0..outer {
        for i in 0..inner {
            let base = o * len * inner + i;
            let mut best = 0;
            for k in 1..len {
                // strict '>' keeps the first maximum (tie rule)
                if x_[base + k * inner] > x_[base + best * inner] {
                    best = k;
                }
            }
            values.push(x_[base + best * inner]);
            argmax.push(base + best * inner);
        }
    }
    let mut shape = x.shape().to_vec();
    if keepdim {
        shape[axis] = 1;
    } else {
        shape.remove(axis);
    }
    let value = Array::from_shape_vec(IxDyn(&shape), values).expect("one value per output element");
    (value, argmax)
}

/// out (zeros of `shape`) with out[idx[i]] += g[i], in order.
pub(crate) fn scatter_add(g: &Array, idx: &[usize], shape: &[usize]) -> Array {
    let mut gx = vec![0.0f32; shape.iter().product()];
    for (gi, &i) in g.iter().zip(idx) {
        gx[i] += gi;
    }
    Array::from_shape_vec(IxDyn(shape), gx).expect("same element count")
}

/// log(softmax(x)) along `axis`, stably: x - max - log Σ e^(x - max).
pub(crate) fn log_softmax(x: &Array, axis: usize) -> Array {
    let (outer, len, inner) = split_at_axis(x.shape(), axis);
    let mut out = x.as_standard_layout().into_owned();
    let y = out.as_slice_mut().expect("standard layout is contiguous");
    for o in 0..outer {
        for i in 0..inner {
            let at = |k: usize| o * len * inner + k * inner + i;
            let m = (0..len).map(|k| y[at(k)]).fold(f32::NEG_INFINITY, f32::max);
            let lse = m + (0..len).map(|k| (y[at(k)] - m).exp()).sum::<f32>().ln();
            for k in 0..len {
                y[at(k)] -= lse;
            }
        }
    }
    out
}

/// y = x - lse(x): dx = g - softmax(x)·Σ g, with softmax = e^y (from the output).
pub(crate) fn log_softmax_backward(y: &Array, g: &Array, axis: usize) -> Array {
    let g_sum = g.sum_axis(Axis(axis)).insert_axis(Axis(axis));
    g - &(y.mapv(f32::exp) * &g_sum)
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    #[test]
    fn relu_backward_channel_sum_matches_the_two_ops() {
        // odd plane sizes (not multiples of the 16 lanes), a plane count past
        // one task's share, y with zeros, negatives and NaNs (NaN passes g
        // on), on the AVX-512 build (where the CPU has it) and the plain one;
        // dz and db must equal the mask then sum_axes to the bit
        let mut rng = StdRng::seed_from_u64(11);
        for case in 0..24 {
            let shape = if case == 0 {
                [40, 30, 7, 9]
            } else {
                [
                    rng.random_range(1..5),
                    rng.random_range(1..6),
                    rng.random_range(1..9),
                    rng.random_range(2..11),
                ]
            };
            let n: usize = shape.iter().product();
            let y: Vec<f32> = (0..n)
                .map(|_| match rng.random_range(0..12) {
                    0 => f32::NAN,
                    1 | 2 => 0.0,
                    l => l as f32 - 6.0,
                })
                .collect();
            let g: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            let (y, g) = (
                Array::from_shape_vec(IxDyn(&shape), y).expect("sized"),
                Array::from_shape_vec(IxDyn(&shape), g).expect("sized"),
            );
            let want_dz = crate::backend::cpu::elementwise::unary_backward(
                &y,
                g.clone(),
                crate::backend::UnaryOp::Relu,
            );
            let want_db = sum_axes(&want_dz, &[0, 2, 3], false);
            for wide in [true, false] {
                crate::backend::cpu::use_avx512(wide);
                let got = relu_backward_channel_sum(&y, g.clone());
                crate::backend::cpu::use_avx512(true);
                let what = format!("case {case} {shape:?} avx512 {wide}");
                if shape[2] * shape[3] < 16 {
                    assert!(got.is_err(), "{what}: small planes go the other way");
                    continue;
                }
                let (dz, db) = got.expect("fused");
                let bits = |a: &Array| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&dz), bits(&want_dz), "{what}: dz");
                assert_eq!(db.shape(), &[shape[1]], "{what}: db shape");
                assert_eq!(bits(&db), bits(&want_db), "{what}: db");
            }
        }
    }

    /// The plain ndarray version `sum_to_shape` replaced: the order of its
    /// sums is the one to keep.
    fn by_sum_axis(grad: &Array, shape: &[usize]) -> Array {
        let mut g = grad.clone();
        while g.ndim() > shape.len() {
            g = g.sum_axis(Axis(0));
        }
        for (i, &n) in shape.iter().enumerate() {
            if n == 1 && g.shape()[i] != 1 {
                g = g.sum_axis(Axis(i)).insert_axis(Axis(i));
            }
        }
        g
    }

    #[test]
    fn sum_axes_around_a_block_matches_sum_axis() {
        // a conv bias's [0, 2, 3], with and without keepdim, odd sizes and a
        // run length that is not a multiple of the 16 lanes; then shapes the
        // fast path declines (kept axes apart, short runs)
        let mut rng = StdRng::seed_from_u64(4);
        let cases: [(&[usize], &[usize]); 6] = [
            (&[7, 5, 9, 7], &[0, 2, 3]),
            (&[1, 3, 4, 4], &[0, 2, 3]),
            (&[3, 17, 33], &[0, 2]),
            (&[2, 3, 40], &[2]),
            (&[4, 3, 5, 6], &[1, 3]),
            (&[6, 2, 3], &[0, 2]),
        ];
        for (shape, axes) in cases {
            let n = shape.iter().product();
            let v = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            let x = Array::from_shape_vec(IxDyn(shape), v).expect("sized");
            for keepdim in [false, true] {
                let mut want = x.clone();
                for &axis in axes.iter().rev() {
                    want = want.sum_axis(Axis(axis));
                    if keepdim {
                        want = want.insert_axis(Axis(axis));
                    }
                }
                let got = sum_axes(&x, axes, keepdim);
                assert_eq!(got.shape(), want.shape(), "{shape:?} {axes:?}");
                for (g, w) in got.iter().zip(want.iter()) {
                    assert!(
                        (g - w).abs() <= 1e-5 * (1.0 + w.abs()),
                        "{shape:?} {axes:?}: {g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn sum_to_shape_sums_in_sum_axis_order() {
        let mut rng = StdRng::seed_from_u64(3);
        let cases: [(&[usize], &[usize]); 8] = [
            (&[1000, 6], &[6]),              // Linear bias
            (&[1000, 1], &[1]),              // Linear bias, one output
            (&[40, 8, 9, 7], &[1, 8, 1, 1]), // conv bias
            (&[3, 5000, 7], &[5000, 7]),     // long rows, in parallel
            (&[4, 3, 5], &[5]),              // two leading dims dropped
            (&[4, 3, 5], &[3, 1]),           // a dropped dim and a kept 1
            (&[2, 3], &[]),                  // to a scalar
            (&[5000], &[1]),                 // 1-D
        ];
        for (from, to) in cases {
            let n = from.iter().product();
            let g = Array::from_shape_vec(
                IxDyn(from),
                (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect(),
            )
            .expect("sized");
            let (got, want) = (sum_to_shape(&g, to), by_sum_axis(&g, to));
            assert_eq!(got.shape(), want.shape(), "{from:?} → {to:?}");
            let bits = |a: &Array| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&got),
                bits(&want),
                "{from:?} → {to:?}: not bit for bit"
            );
        }
    }
}
