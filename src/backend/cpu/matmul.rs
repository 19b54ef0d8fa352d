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

use ndarray::linalg::general_mat_mul;
use ndarray::parallel::prelude::*;
use ndarray::{Array2, ArrayView2, Axis};

/// Below this many multiply-adds (m·k·n) one thread is faster than splitting:
/// about 0.1 ms of work against a few µs to wake the other threads.
const PAR_MIN_MACS: usize = 1 << 20;

/// Each thread's share is at least this many rows (or columns) of the result,
/// so that the packed panels stay worth their copy.
const PAR_MIN_SPLIT: usize = 32;

/// (m, k) @ (k, n) → (m, n), row-major. Views may be transposed (any strides).
pub fn matmul(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> Array2<f32> {
    let ((m, k), n) = (a.dim(), b.ncols());
    // Always a row-major result (`a.dot(&b)` returns a column-major one
    // when both inputs are, and every later op would pay to reorder it).
    // The layout of C does not change its values: each element is the
    // same dot product over the same k blocks.
    let mut c = Array2::<f32>::zeros((m, n));
    let threads = rayon::current_num_threads();
    // Inside a rayon task (a conv's per-image product) the caller already
    // keeps the threads busy.
    let nested = rayon::current_thread_index().is_some();
    let large =
        m.saturating_mul(k).saturating_mul(n) >= PAR_MIN_MACS && m.max(n) >= 2 * PAR_MIN_SPLIT;
    if nested || threads < 2 || !large {
        general_mat_mul(1.0, &a, &b, 0.0, &mut c);
        return c;
    }
    // Split the longer side of C across the threads; as above, the values
    // do not depend on the split or the number of threads.
    if m >= n {
        let rows = m.div_ceil(threads).max(PAR_MIN_SPLIT);
        c.axis_chunks_iter_mut(Axis(0), rows)
            .into_par_iter()
            .zip(a.axis_chunks_iter(Axis(0), rows))
            .for_each(|(mut c, a)| general_mat_mul(1.0, &a, &b, 0.0, &mut c));
    } else {
        let cols = n.div_ceil(threads).max(PAR_MIN_SPLIT);
        c.axis_chunks_iter_mut(Axis(1), cols)
            .into_par_iter()
            .zip(b.axis_chunks_iter(Axis(1), cols))
            .for_each(|(mut c, b)| general_mat_mul(1.0, &a, &b, 0.0, &mut c));
    }
    c
}
