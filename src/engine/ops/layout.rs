//! The loops under the element-wise ops: no maths of their own, only how to
//! walk the elements fast.
//!
//! A broadcast such as (N, O, H, W) + (1, O, 1, 1) is walked as a short loop
//! nest: dimensions of size 1 are dropped and neighbouring dimensions that
//! every operand steps through as one are merged, here (N, O, H·W) with the
//! bias's strides (0, 1, 0). The innermost run then has stride 1 or 0 for each
//! operand, so the inner loop is a plain slice loop the compiler vectorizes,
//! with no per-element index arithmetic (ndarray's `Zip` over `IxDyn`
//! broadcast views pays that). Long loops are cut into fixed pieces and run on
//! rayon's threads; each output element is still computed by the same
//! expression, so results do not depend on the number of threads.

use rayon::prelude::*;

/// Loops shorter than this many elements run on the calling thread: starting
/// rayon's threads costs a few µs, about what 32 K simple element updates take.
pub(crate) const PAR_MIN_ELEMS: usize = 1 << 15;

/// The piece of a long loop one rayon task takes.
const PAR_PIECE: usize = 1 << 14;

/// Strides (in elements) of a row-major operand of shape `operand`, seen
/// through the broadcast `shape` (aligned on the right): 0 along the
/// dimensions where it has size 1 or is missing. Extra leading dimensions of
/// `operand` (all of size 1 for a valid broadcast) are ignored.
pub(crate) fn broadcast_strides(shape: &[usize], operand: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; shape.len()];
    let mut step = 1;
    for (i, d) in operand.iter().rev().take(shape.len()).enumerate() {
        let at = shape.len() - 1 - i;
        strides[at] = if *d == 1 { 0 } else { step };
        step *= d;
    }
    strides
}

/// A loop nest over a row-major output, for `K` operands with given strides.
pub(crate) struct Nest<const K: usize> {
    /// Outermost first; the last is the innermost run. Never empty.
    dims: Vec<usize>,
    /// Each operand's stride along each of `dims`.
    strides: [Vec<usize>; K],
}

impl<const K: usize> Nest<K> {
    pub(crate) fn new(shape: &[usize], strides: [Vec<usize>; K]) -> Self {
        // Built innermost first, then reversed.
        let mut dims: Vec<usize> = Vec::with_capacity(shape.len());
        let mut out: [Vec<usize>; K] = std::array::from_fn(|_| Vec::with_capacity(shape.len()));
        for i in (0..shape.len()).rev() {
            if shape[i] == 1 {
                continue;
            }
            if let Some(run) = dims.last_mut() {
                // merge when every operand steps over dim i as over `run` more elements
                if (0..K).all(|k| strides[k][i] == out[k].last().copied().unwrap_or(0) * *run) {
                    *run *= shape[i];
                    continue;
                }
            }
            dims.push(shape[i]);
            for k in 0..K {
                out[k].push(strides[k][i]);
            }
        }
        if dims.is_empty() {
            dims.push(1);
            for s in &mut out {
                s.push(0);
            }
        }
        dims.reverse();
        for s in &mut out {
            s.reverse();
        }
        Nest { dims, strides: out }
    }

    /// Length of the innermost run.
    pub(crate) fn inner(&self) -> usize {
        self.dims[self.dims.len() - 1]
    }

    /// Each operand's stride along the innermost run (0 or 1 for row-major operands).
    pub(crate) fn inner_strides(&self) -> [usize; K] {
        std::array::from_fn(|k| self.strides[k][self.dims.len() - 1])
    }

    /// Each operand's offset at the start of run `row`.
    #[inline]
    pub(crate) fn row_offsets(&self, mut row: usize) -> [usize; K] {
        let mut offsets = [0; K];
        for d in (0..self.dims.len() - 1).rev() {
            let i = row % self.dims[d];
            row /= self.dims[d];
            for (o, s) in offsets.iter_mut().zip(&self.strides) {
                *o += i * s[d];
            }
        }
        offsets
    }
}

/// out = f(a, b) over the broadcast `shape`, with `a` and `b` row-major of the
/// shapes given. The caller has checked that they broadcast to `shape`.
pub(crate) fn zip_map(
    shape: &[usize],
    (a, a_shape): (&[f32], &[usize]),
    (b, b_shape): (&[f32], &[usize]),
    f: impl Fn(f32, f32) -> f32 + Sync,
) -> Vec<f32> {
    let total: usize = shape.iter().product();
    let mut out = vec![0.0f32; total];
    if total == 0 {
        return out;
    }
    let nest = Nest::new(shape, [broadcast_strides(shape, a_shape), broadcast_strides(shape, b_shape)]);
    let inner = nest.inner();
    let [sa, sb] = nest.inner_strides();
    // Fill out[start..start + piece.len()], which may begin and end mid-run.
    let fill = |start: usize, piece: &mut [f32]| {
        let mut done = 0;
        while done < piece.len() {
            let (row, col) = ((start + done) / inner, (start + done) % inner);
            let len = (inner - col).min(piece.len() - done);
            let [oa, ob] = nest.row_offsets(row);
            let (oa, ob) = (oa + col * sa, ob + col * sb);
            let o = &mut piece[done..done + len];
            match (sa, sb) {
                (0, 0) => o.fill(f(a[oa], b[ob])),
                (0, _) => {
                    let x = a[oa];
                    o.iter_mut().zip(&b[ob..ob + len]).for_each(|(o, &y)| *o = f(x, y));
                }
                (_, 0) => {
                    let y = b[ob];
                    o.iter_mut().zip(&a[oa..oa + len]).for_each(|(o, &x)| *o = f(x, y));
                }
                _ => o
                    .iter_mut()
                    .zip(a[oa..oa + len].iter().zip(&b[ob..ob + len]))
                    .for_each(|(o, (&x, &y))| *o = f(x, y)),
            }
            done += len;
        }
    };
    if total >= PAR_MIN_ELEMS {
        out.par_chunks_mut(PAR_PIECE).enumerate().for_each(|(i, piece)| fill(i * PAR_PIECE, piece));
    } else {
        fill(0, &mut out);
    }
    out
}

/// out[i] = f(x[i]).
pub(crate) fn map(x: &[f32], f: impl Fn(f32) -> f32 + Sync) -> Vec<f32> {
    if x.len() >= PAR_MIN_ELEMS {
        let mut out = vec![0.0f32; x.len()];
        out.par_chunks_mut(PAR_PIECE).zip(x.par_chunks(PAR_PIECE)).for_each(|(o, x)| {
            o.iter_mut().zip(x).for_each(|(o, &x)| *o = f(x));
        });
        out
    } else {
        x.iter().map(|&x| f(x)).collect()
    }
}

/// f(&mut g[i], x[i]) for every i: backward rules that scale the incoming
/// gradient in place.
pub(crate) fn update_with(g: &mut [f32], x: &[f32], f: impl Fn(&mut f32, f32) + Sync) {
    debug_assert_eq!(g.len(), x.len());
    if g.len() >= PAR_MIN_ELEMS {
        g.par_chunks_mut(PAR_PIECE).zip(x.par_chunks(PAR_PIECE)).for_each(|(g, x)| {
            g.iter_mut().zip(x).for_each(|(g, &x)| f(g, x));
        });
    } else {
        g.iter_mut().zip(x).for_each(|(g, &x)| f(g, x));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nest_merges_what_steps_together() {
        // (N, O, H, W) + (1, O, 1, 1) → (N, O, H·W), bias strides (0, 1, 0)
        let shape = [2, 3, 4, 5];
        let n = Nest::new(&shape, [broadcast_strides(&shape, &shape), broadcast_strides(&shape, &[1, 3, 1, 1])]);
        assert_eq!(n.dims, vec![2, 3, 20]);
        assert_eq!(n.strides[1], vec![0, 1, 0]);
        assert_eq!(n.row_offsets(4), [4 * 20, 1]);
    }

    #[test]
    fn zip_map_matches_index_arithmetic() {
        let (a_shape, b_shape, shape) = ([2, 1, 3], [4, 1], [2, 4, 3]);
        let a: Vec<f32> = (0..6).map(|v| v as f32).collect();
        let b: Vec<f32> = (0..4).map(|v| 10.0 * v as f32).collect();
        let out = zip_map(&shape, (&a, &a_shape), (&b, &b_shape), |x, y| x + y);
        for i in 0..2 {
            for j in 0..4 {
                for k in 0..3 {
                    assert_eq!(out[(i * 4 + j) * 3 + k], a[i * 3 + k] + b[j]);
                }
            }
        }
    }
}
