//! The loops under the element-wise ops, and the output builder the other
//! ops share: no maths of their own, only how to walk the elements fast.
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
//!
//! Outputs are made with [`build`] rather than `vec![0.0; n]` and then
//! overwritten: once freed memory is reused (see `backend::cpu::
//! retain_freed_memory`), that zero-fill is a serial memset of the whole
//! buffer on the calling thread, which was a tenth of the CNN's time. `build`
//! hands out the uninitialised buffer piece by piece through [`Piece`], which
//! can only append and counts what it wrote, and checks every piece is full
//! before the vector's length is set (the one `unsafe` line here).

use std::mem::MaybeUninit;

use rayon::prelude::*;

/// Loops shorter than this many elements run on the calling thread: starting
/// rayon's threads costs a few µs, about what 32 K simple element updates take.
pub(crate) const PAR_MIN_ELEMS: usize = 1 << 15;

/// The piece of a long loop one rayon task takes.
const PAR_PIECE: usize = 1 << 14;

/// Loops of at least this many elements take the AVX-512 build (below it,
/// asking whether the CPU has AVX-512 costs more than the wider loop saves).
const WIDE_MIN_ELEMS: usize = 64;

/// `body()`, compiled for AVX-512F when `cond` holds and the CPU has it
/// (`cpu::avx512()`, which `use_avx512(false)` turns off), else as the crate
/// is compiled (baseline x86-64: SSE2). The element-wise loops run their
/// inner loop through this: the closure, and the op's closure inside it, are
/// inlined into each copy, so the same operations run 16 lanes wide with the
/// same results (no FMA contraction either way).
#[inline(always)]
pub(crate) fn wide_if<R>(cond: bool, body: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if cond && super::avx512() {
        #[target_feature(enable = "avx512f")]
        fn avx512<R>(body: impl FnOnce() -> R) -> R {
            body()
        }
        // SAFETY: the CPU has AVX-512F, checked just above
        return unsafe { avx512(body) };
    }
    let _ = cond;
    body()
}

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

    /// The runs from `row` on: each operand's offset at the start of each,
    /// stepped like an odometer (no division per run, which matters when the
    /// runs are short, as a Linear layer's bias row is).
    pub(crate) fn runs_from(&self, row: usize) -> Runs<'_, K> {
        let outer = self.dims.len() - 1;
        let mut index = vec![0; outer];
        let mut rest = row;
        for d in (0..outer).rev() {
            index[d] = rest % self.dims[d];
            rest /= self.dims[d];
        }
        Runs {
            nest: self,
            index,
            offsets: self.row_offsets(row),
        }
    }
}

/// Iterator of [`Nest::runs_from`]; endless (the caller counts elements).
pub(crate) struct Runs<'a, const K: usize> {
    nest: &'a Nest<K>,
    index: Vec<usize>,
    offsets: [usize; K],
}

impl<const K: usize> Iterator for Runs<'_, K> {
    type Item = [usize; K];

    #[inline]
    fn next(&mut self) -> Option<[usize; K]> {
        let current = self.offsets;
        for d in (0..self.index.len()).rev() {
            self.index[d] += 1;
            for (o, s) in self.offsets.iter_mut().zip(&self.nest.strides) {
                *o += s[d];
            }
            if self.index[d] < self.nest.dims[d] {
                break;
            }
            // carry: back to the start of dimension d
            for (o, s) in self.offsets.iter_mut().zip(&self.nest.strides) {
                *o -= s[d] * self.nest.dims[d];
            }
            self.index[d] = 0;
        }
        Some(current)
    }
}

/// The next part of an output vector under construction. It can only be
/// written front to back, whole runs at a time, and counts what it wrote, so
/// [`build`] can check that nothing was left unwritten.
pub(crate) struct Piece<'a, T> {
    buf: &'a mut [MaybeUninit<T>],
    written: usize,
}

impl<T: Copy> Piece<'_, T> {
    /// How many elements this piece holds in all (written or not).
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Append one value.
    #[inline]
    pub(crate) fn push(&mut self, v: T) {
        self.buf[self.written].write(v);
        self.written += 1;
    }

    /// Append f(s) for every s in `src`.
    #[inline]
    pub(crate) fn extend_map<S: Copy>(&mut self, src: &[S], f: impl Fn(S) -> T) {
        let dst = &mut self.buf[self.written..self.written + src.len()];
        dst.iter_mut().zip(src).for_each(|(d, &s)| {
            d.write(f(s));
        });
        self.written += src.len();
    }

    /// Append f(a[i], b[i]) for every i (`a` and `b` of equal length).
    #[inline]
    pub(crate) fn extend_zip(&mut self, a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> T) {
        assert_eq!(a.len(), b.len(), "extend_zip needs equal lengths");
        let dst = &mut self.buf[self.written..self.written + a.len()];
        dst.iter_mut()
            .zip(a.iter().zip(b))
            .for_each(|(d, (&x, &y))| {
                d.write(f(x, y));
            });
        self.written += a.len();
    }

    /// Append `n` copies of `v`.
    #[inline]
    pub(crate) fn extend_fill(&mut self, v: T, n: usize) {
        self.buf[self.written..self.written + n]
            .iter_mut()
            .for_each(|d| {
                d.write(v);
            });
        self.written += n;
    }

    /// Append a copy of `src`.
    #[inline]
    pub(crate) fn extend_from_slice(&mut self, src: &[T]) {
        self.extend_map(src, |v| v);
    }
}

/// A vector of `len` values made piece by piece: `fill(state, start, piece)`
/// writes elements start..start + piece_len (shorter at the end), using a
/// per-task scratch `state` from `init`. Pieces run on rayon's threads when
/// `len` is at least [`PAR_MIN_ELEMS`] (or `parallel` asks for it) and there
/// is more than one. Panics if a piece was not written in full.
pub(crate) fn build<T, S>(
    len: usize,
    piece_len: usize,
    parallel: bool,
    init: impl Fn() -> S + Sync + Send,
    fill: impl Fn(&mut S, usize, &mut Piece<'_, T>) + Sync + Send,
) -> Vec<T>
where
    T: Copy + Send + Sync,
{
    let piece_len = piece_len.max(1);
    let mut out: Vec<T> = Vec::with_capacity(len);
    let run = |state: &mut S, i: usize, buf: &mut [MaybeUninit<T>]| {
        let mut piece = Piece { buf, written: 0 };
        fill(state, i * piece_len, &mut piece);
        assert_eq!(
            piece.written,
            piece.buf.len(),
            "an output piece was left partly unwritten"
        );
    };
    let spare = &mut out.spare_capacity_mut()[..len];
    if (parallel || len >= PAR_MIN_ELEMS) && len > piece_len {
        spare
            .par_chunks_mut(piece_len)
            .enumerate()
            .for_each_init(&init, |s, (i, buf)| run(s, i, buf));
    } else {
        let mut state = init();
        spare
            .chunks_mut(piece_len)
            .enumerate()
            .for_each(|(i, buf)| run(&mut state, i, buf));
    }
    // SAFETY: the first `len` elements were split into pieces and every piece
    // was asserted above to be fully written (a `Piece` writes only through
    // `MaybeUninit::write`, front to back, and counts each element once). A
    // panic in a piece unwinds before this line, leaving the length at 0.
    unsafe { out.set_len(len) };
    out
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
    if total == 0 {
        return Vec::new();
    }
    let nest = Nest::new(
        shape,
        [
            broadcast_strides(shape, a_shape),
            broadcast_strides(shape, b_shape),
        ],
    );
    let inner = nest.inner();
    let [sa, sb] = nest.inner_strides();
    // Write out[start..start + piece.len], which may begin and end mid-run.
    let fill = |_: &mut (), start: usize, piece: &mut Piece<'_, f32>| {
        let n = piece.len();
        wide_if(n >= WIDE_MIN_ELEMS, || {
            let (mut done, mut col) = (0, start % inner);
            let mut runs = nest.runs_from(start / inner);
            while done < n {
                let len = (inner - col).min(n - done);
                let [oa, ob] = runs.next().expect("runs never end");
                let (oa, ob) = (oa + col * sa, ob + col * sb);
                col = 0;
                match (sa, sb) {
                    (0, 0) => piece.extend_fill(f(a[oa], b[ob]), len),
                    (0, _) => {
                        let x = a[oa];
                        piece.extend_map(&b[ob..ob + len], |y| f(x, y));
                    }
                    (_, 0) => {
                        let y = b[ob];
                        piece.extend_map(&a[oa..oa + len], |x| f(x, y));
                    }
                    _ => piece.extend_zip(&a[oa..oa + len], &b[ob..ob + len], &f),
                }
                done += len;
            }
        })
    };
    build(total, PAR_PIECE, false, || (), fill)
}

/// `a` (row-major, shape `a_shape`) stretched to the broadcast `shape`.
pub(crate) fn broadcast_to(shape: &[usize], a: (&[f32], &[usize])) -> Vec<f32> {
    // a zip with a 0-d second operand, which broadcasts everywhere
    zip_map(shape, a, (&[0.0], &[]), |x, _| x)
}

/// out[i] = f(x[i]).
pub(crate) fn map(x: &[f32], f: impl Fn(f32) -> f32 + Sync) -> Vec<f32> {
    build(
        x.len(),
        PAR_PIECE,
        false,
        || (),
        |_, start, piece| {
            let n = piece.len();
            wide_if(n >= WIDE_MIN_ELEMS, || {
                piece.extend_map(&x[start..start + n], &f)
            });
        },
    )
}

/// out[i] = src[index[i]] (max pooling's winners).
pub(crate) fn map_indices(index: &[usize], src: &[f32]) -> Vec<f32> {
    build(
        index.len(),
        PAR_PIECE,
        false,
        || (),
        |_, start, piece| {
            let n = piece.len();
            piece.extend_map(&index[start..start + n], |i| src[i]);
        },
    )
}

/// f(&mut g[i], x[i]) for every i: backward rules that scale the incoming
/// gradient in place.
pub(crate) fn update_with(g: &mut [f32], x: &[f32], f: impl Fn(&mut f32, f32) + Sync) {
    debug_assert_eq!(g.len(), x.len());
    let run = |g: &mut [f32], x: &[f32]| {
        wide_if(g.len() >= WIDE_MIN_ELEMS, || {
            g.iter_mut().zip(x).for_each(|(g, &x)| f(g, x))
        })
    };
    if g.len() >= PAR_MIN_ELEMS {
        g.par_chunks_mut(PAR_PIECE)
            .zip(x.par_chunks(PAR_PIECE))
            .for_each(|(g, x)| run(g, x));
    } else {
        run(g, x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nest_merges_what_steps_together() {
        // (N, O, H, W) + (1, O, 1, 1) → (N, O, H·W), bias strides (0, 1, 0)
        let shape = [2, 3, 4, 5];
        let n = Nest::new(
            &shape,
            [
                broadcast_strides(&shape, &shape),
                broadcast_strides(&shape, &[1, 3, 1, 1]),
            ],
        );
        assert_eq!(n.dims, vec![2, 3, 20]);
        assert_eq!(n.strides[1], vec![0, 1, 0]);
        assert_eq!(n.row_offsets(4), [4 * 20, 1]);
        // the odometer agrees with the division, across a carry
        let stepped: Vec<[usize; 2]> = n.runs_from(2).take(4).collect();
        let divided: Vec<[usize; 2]> = (2..6).map(|r| n.row_offsets(r)).collect();
        assert_eq!(stepped, divided);
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

    #[test]
    fn wide_and_plain_builds_agree_with_index_arithmetic() {
        // broadcasts along the last axis and others, lengths around the
        // 16-lane width and WIDE_MIN_ELEMS, NaNs and signed zeros; each
        // element compared to the bit with a plain indexed loop, on the
        // AVX-512 build (where the CPU has it) and on the plain one
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(12);
        let value = |rng: &mut StdRng| match rng.random_range(0..20) {
            0 => f32::NAN,
            1 => -0.0,
            2 => 0.0,
            _ => rng.random_range(-2.0f32..2.0),
        };
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for case in 0..60 {
            let shape = [
                rng.random_range(1..4),
                rng.random_range(1..5),
                [1, 15, 16, 17, 63, 64, 65, 100][case % 8],
            ];
            let total: usize = shape.iter().product();
            // b: the whole shape, the last axis only, or a column
            let b_shape = match case % 3 {
                0 => shape.to_vec(),
                1 => vec![shape[2]],
                _ => vec![shape[0], shape[1], 1],
            };
            let a: Vec<f32> = (0..total).map(|_| value(&mut rng)).collect();
            let b: Vec<f32> = (0..b_shape.iter().product::<usize>())
                .map(|_| value(&mut rng))
                .collect();
            let sb = broadcast_strides(&shape, &b_shape);
            let mut want_zip = Vec::with_capacity(total);
            for i in 0..shape[0] {
                for j in 0..shape[1] {
                    for k in 0..shape[2] {
                        let (x, y) = (
                            a[(i * shape[1] + j) * shape[2] + k],
                            b[i * sb[0] + j * sb[1] + k * sb[2]],
                        );
                        want_zip.push(x * y - y);
                    }
                }
            }
            let relu = |x: f32| if x < 0.0 { 0.0 } else { x };
            let want_map: Vec<f32> = a.iter().map(|&x| relu(x)).collect();
            let g: Vec<f32> = (0..total).map(|_| value(&mut rng)).collect();
            let mask = |g: &mut f32, x: f32| *g = if x <= 0.0 { 0.0 } else { *g };
            let want_mask: Vec<f32> = g
                .iter()
                .zip(&a)
                .map(|(&g, &x)| if x <= 0.0 { 0.0 } else { g })
                .collect();
            for wide in [true, false] {
                crate::backend::cpu::use_avx512(wide);
                let zipped = zip_map(&shape, (&a, &shape), (&b, &b_shape), |x, y| x * y - y);
                let mapped = map(&a, relu);
                let mut masked = g.clone();
                update_with(&mut masked, &a, mask);
                crate::backend::cpu::use_avx512(true);
                let what = format!("case {case} {shape:?} b {b_shape:?} avx512 {wide}");
                assert_eq!(bits(&zipped), bits(&want_zip), "{what}: zip_map");
                assert_eq!(bits(&mapped), bits(&want_map), "{what}: map");
                assert_eq!(bits(&masked), bits(&want_mask), "{what}: update_with");
            }
        }
    }
}
