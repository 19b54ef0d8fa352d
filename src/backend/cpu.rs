//! The CPU backend: ndarray's matrix multiply (the `matrixmultiply` crate),
//! split across rayon's threads when the product is large. Always compiled;
//! the reference every other backend is checked against, and the fallback
//! when no accelerator is available.
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

use super::Backend;

/// The reference backend.
pub struct Cpu;

/// Below this many multiply-adds (m·k·n) one thread is faster than splitting:
/// about 0.1 ms of work against a few µs to wake the other threads.
const PAR_MIN_MACS: usize = 1 << 20;

/// Each thread's share is at least this many rows (or columns) of the result,
/// so that the packed panels stay worth their copy.
const PAR_MIN_SPLIT: usize = 32;

impl Backend for Cpu {
    fn name(&self) -> String {
        "cpu".into()
    }

    fn matmul(&self, a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> Array2<f32> {
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
}

/// Ask the C allocator to keep freed memory mapped for reuse.
///
/// A training step allocates and frees the same large buffers every batch
/// (the CNN's first conv layer alone makes several 10 MB activations and
/// gradients). glibc's defaults hand such buffers back to the kernel when
/// they are freed (`munmap`, or trimming the heap top), so the next batch
/// takes a page fault on every 4 KB page again, and each unmap of pages that
/// rayon's threads touched interrupts the other cores to flush their TLBs. In
/// the course's CNN that was about half of all CPU time (2.3 s of 5 s in the
/// kernel, 690 K page faults per epoch of 4,000 images). With the thresholds
/// below, buffers up to 32 MB come from the heap and stay there for reuse;
/// memory held is the peak of one step, as before, but kept.
///
/// Idempotent and cheap after the first call; a no-op off glibc.
pub(crate) fn retain_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::ffi::c_int;
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            extern "C" {
                fn mallopt(param: c_int, value: c_int) -> c_int;
            }
            // <malloc.h>
            const M_TRIM_THRESHOLD: c_int = -1;
            const M_MMAP_THRESHOLD: c_int = -3;
            // SAFETY: mallopt only changes glibc's malloc tuning; it takes
            // malloc's own lock, so other threads may allocate meanwhile, and
            // memory already handed out is not affected. The values are in the
            // ranges glibc accepts (mmap threshold ≤ HEAP_MAX_SIZE / 2 = 32 MB on
            // 64-bit; it returns 0 and changes nothing otherwise).
            unsafe {
                mallopt(M_MMAP_THRESHOLD, 32 << 20);
                mallopt(M_TRIM_THRESHOLD, 1 << 30);
            }
        });
    }
}
