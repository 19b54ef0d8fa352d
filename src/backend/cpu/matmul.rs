//! Matrix multiply on the CPU: ndarray's (the `matrixmultiply` crate), split
//! across rayon's threads when the product is large.
//!
//! Why rayon and not matrixmultiply's own threading: the convolution already
//! runs one small product per image on rayon's threads. matrixmultiply's pool
//! would then be entered from both rayon threads at once and queue them behind
//! one helper thread, on top of rayon's, on a 2-core machine. With rayon doing
//! all the threading there is one pool, and a product started inside a rayon
//! task stays on that task's thread.
//!
//! matrixmultiply picks its kernel when it runs; Cargo.toml turns on its
//! AVX-512 one (ndarray builds it without), a quarter faster on the course's
//! CNN where the CPU has AVX-512. It and the AVX2+FMA kernel used before sum
//! each element's products in the same order, with fused multiply-adds, so
//! the switch changes no result.
//!
//! The product is asked of `matrixmultiply::sgemm` directly rather than
//! through ndarray, so that C need not be zeroed first (with β = 0 sgemm
//! never reads it) and so that a Linear layer's bias can be C's starting
//! value (β = 1): `x·Wᵀ + b` in one pass over C instead of a product and a
//! broadcast add. Each element is still the same dot product over the same k
//! blocks, so neither changes a value.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

/// Below this many multiply-adds (m·k·n) one thread is faster than splitting:
/// about 0.1 ms of work against a few µs to wake the other threads.
const PAR_MIN_MACS: usize = 1 << 20;

/// Each thread's share is at least this many rows (or columns) of the result,
/// so that the packed panels stay worth their copy.
const PAR_MIN_SPLIT: usize = 32;

/// (m, k) @ (k, n) → (m, n), row-major. Views may be transposed (any strides).
pub fn matmul(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> Array2<f32> {
    product(a, b, None)
}

/// (m, k) @ (k, n) + bias, `bias` (n,) added to every row: a Linear layer's
/// x·Wᵀ + b with C starting at the bias (the same values as the product
/// followed by a broadcast add).
pub fn matmul_bias(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>, bias: &[f32]) -> Array2<f32> {
    assert_eq!(bias.len(), b.ncols(), "one bias per output column");
    product(a, b, Some(bias))
}

fn product(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>, bias: Option<&[f32]>) -> Array2<f32> {
    let ((m, k), n) = (a.dim(), b.ncols());
    assert_eq!(k, b.nrows(), "inner dimensions agree");
    let len = m * n;
    // Always a row-major result (`a.dot(&b)` returns a column-major one
    // when both inputs are, and every later op would pay to reorder it).
    let mut c: Vec<f32> = match bias {
        Some(bias) => {
            let mut c = Vec::with_capacity(len);
            (0..m).for_each(|_| c.extend_from_slice(bias));
            c
        }
        None if k == 0 => vec![0.0; len],
        // filled by sgemm below, which with β = 0 never reads C
        None => Vec::with_capacity(len),
    };
    if len == 0 || k == 0 {
        return Array2::from_shape_vec((m, n), c).expect("m·n values");
    }
    let beta = if bias.is_some() { 1.0 } else { 0.0 };
    let (sa, sb) = (a.strides(), b.strides());
    let (a_ptr, b_ptr) = (a.as_ptr() as usize, b.as_ptr() as usize);
    let c_ptr = c.as_mut_ptr() as usize;
    // rows r0..r1 and columns c0..c1 of C
    let block = |(r0, r1): (usize, usize), (c0, c1): (usize, usize)| {
        // SAFETY: a and b are live views whose strides are given with them;
        // the block offsets stay inside them (r1 ≤ m, c1 ≤ n). C has room for
        // m·n values, row stride n, and blocks given to different threads
        // are disjoint. With β = 0 sgemm only writes C ("if β is zero, then
        // C does not need to be initialized", matrixmultiply's docs).
        unsafe {
            let a = (a_ptr as *const f32).offset(r0 as isize * sa[0]);
            let b = (b_ptr as *const f32).offset(c0 as isize * sb[1]);
            let c = (c_ptr as *mut f32).add(r0 * n + c0);
            matrixmultiply::sgemm(
                r1 - r0,
                k,
                c1 - c0,
                1.0,
                a,
                sa[0],
                sa[1],
                b,
                sb[0],
                sb[1],
                beta,
                c,
                n as isize,
                1,
            );
        }
    };
    let threads = rayon::current_num_threads();
    // Inside a rayon task (a conv's per-image product) the caller already
    // keeps the threads busy.
    let nested = rayon::current_thread_index().is_some();
    let large =
        m.saturating_mul(k).saturating_mul(n) >= PAR_MIN_MACS && m.max(n) >= 2 * PAR_MIN_SPLIT;
    if nested || threads < 2 || !large {
        block((0, m), (0, n));
    } else if m >= n {
        // Split the longer side of C across the threads; as above, the
        // values do not depend on the split or the number of threads.
        let rows = m.div_ceil(threads).max(PAR_MIN_SPLIT);
        (0..m.div_ceil(rows))
            .into_par_iter()
            .for_each(|i| block((i * rows, ((i + 1) * rows).min(m)), (0, n)));
    } else {
        let cols = n.div_ceil(threads).max(PAR_MIN_SPLIT);
        (0..n.div_ceil(cols))
            .into_par_iter()
            .for_each(|j| block((0, m), (j * cols, ((j + 1) * cols).min(n))));
    }
    // SAFETY: every one of the m·n elements was written by exactly one block
    // above (or C was filled with the bias, already len long).
    unsafe { c.set_len(len) };
    Array2::from_shape_vec((m, n), c).expect("m·n values")
}
