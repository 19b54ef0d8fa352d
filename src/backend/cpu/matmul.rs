//! Matrix multiply on the CPU: our packed AVX-512 kernel (`gemm.rs`) where
//! the CPU has one and the product is wide enough, else ndarray's (the
//! `matrixmultiply` crate), split across rayon's threads when the product is
//! large.
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

use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

use super::gemm;

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

/// C = A·B into `c` (its old values are overwritten), on this thread: the
/// batched products inside an already parallel loop (Winograd's). The
/// AVX-512 kernel where there is one and C is row-major, ndarray's product
/// otherwise.
pub fn matmul_into(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>, mut c: ArrayViewMut2<'_, f32>) {
    let ((m, k), n) = (a.dim(), b.ncols());
    assert_eq!(k, b.nrows(), "inner dimensions agree");
    assert_eq!(c.dim(), (m, n), "C is (m, n)");
    let ldc = c.strides()[0];
    if packed_pays(m, k, n) && c.strides()[1] == 1 && ldc >= n as isize {
        let operand = |v: &ArrayView2<'_, f32>| gemm::Operand {
            ptr: v.as_ptr(),
            rs: v.strides()[0],
            cs: v.strides()[1],
        };
        // SAFETY: a and b are live views with these strides; c is borrowed
        // mutably, m rows of row stride ldc ≥ n with unit column stride.
        unsafe {
            gemm::sgemm(
                m,
                k,
                n,
                operand(&a),
                operand(&b),
                c.as_mut_ptr(),
                ldc as usize,
                gemm::Start::Zero,
            );
        }
    } else {
        ndarray::linalg::general_mat_mul(1.0, &a, &b, 0.0, &mut c);
    }
}

fn product(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>, bias: Option<&[f32]>) -> Array2<f32> {
    let ((m, k), n) = (a.dim(), b.ncols());
    assert_eq!(k, b.nrows(), "inner dimensions agree");
    let len = m * n;
    let threads = rayon::current_num_threads();
    // Inside a rayon task (a conv's per-image product) the caller already
    // keeps the threads busy.
    let nested = rayon::current_thread_index().is_some();
    let large =
        m.saturating_mul(k).saturating_mul(n) >= PAR_MIN_MACS && m.max(n) >= 2 * PAR_MIN_SPLIT;
    let one_thread = nested || threads < 2 || !large;
    let (sa, sb) = (a.strides(), b.strides());
    let (a_ptr, b_ptr) = (a.as_ptr() as usize, b.as_ptr() as usize);
    // Always a row-major result (`a.dot(&b)` returns a column-major one
    // when both inputs are, and every later op would pay to reorder it).
    // Products too small for a packed GEMM: a row kernel for short k, and
    // for a short, wide-k product (a Linear layer's weight gradient dzᵀ·x
    // over a batch) one that keeps C in registers while A and B stream past
    // once. Either may decline (no AVX2/FMA); matrixmultiply then does it.
    let kernel: Option<small::Kernel> = if len == 0 || n > small::MAX_N {
        None
    } else if one_thread && k > 0 && k <= small::MAX_K {
        Some(small::product)
    } else if k > small::MAX_K && m <= small::MAX_M {
        Some(small::tall)
    } else {
        None
    };
    if let Some(kernel) = kernel {
        let mut c: Vec<f32> = Vec::with_capacity(len);
        // SAFETY: a and b are live views with these strides; C has room for
        // m·n values, all of which the kernel writes when it says so.
        let done = unsafe {
            kernel(
                m,
                k,
                n,
                (a_ptr, sa),
                (b_ptr, sb),
                bias,
                c.as_mut_ptr() as usize,
            )
        };
        if done {
            unsafe { c.set_len(len) };
            return Array2::from_shape_vec((m, n), c).expect("m·n values");
        }
    }
    if len == 0 || k == 0 {
        let c = match bias {
            Some(bias) => bias.repeat(m),
            None => vec![0.0; len],
        };
        return Array2::from_shape_vec((m, n), c).expect("m·n values");
    }
    let c = if packed_pays(m, k, n) {
        packed(m, k, n, (a_ptr, sa), (b_ptr, sb), bias, one_thread, threads)
    } else {
        portable(m, k, n, (a_ptr, sa), (b_ptr, sb), bias, one_thread, threads)
    };
    Array2::from_shape_vec((m, n), c).expect("m·n values")
}

/// Whether the AVX-512 kernel runs (m, k) · (k, n): where the CPU has it,
/// and C has a whole tile's worth of columns and rows and k is not tiny.
/// Narrower products (a conv1 weight gradient's 9 columns, the classifier's
/// 10) would leave most of its 32 lanes padding, and k of a few is all
/// packing: matrixmultiply's 16 × 16 tiles do those better. So do, as
/// measured (CPU time, alternating), the CNN's products of up to a few
/// million multiply-adds (im2col's 64 × 288 · 288 × 196, Winograd's
/// 64 × 32 · 32 × 112): there repacking A and B for each image and the
/// 12 × 32 tile's edges cost more than the wider kernel gains.
fn packed_pays(m: usize, k: usize, n: usize) -> bool {
    gemm::available()
        && n >= gemm::NR
        && m >= 8
        && k >= 8
        && m.saturating_mul(k).saturating_mul(n) >= PACKED_MIN_MACS
}

/// The fewest multiply-adds (m·k·n) the AVX-512 kernel takes.
const PACKED_MIN_MACS: usize = 1 << 23;

/// Rows r0..r1 and columns c0..c1 of C for each thread: the longer side of
/// C split across the threads, each share a multiple of `unit` (rows,
/// columns) and at least `PAR_MIN_SPLIT`. The values do not depend on the
/// split or the number of threads.
fn split(
    m: usize,
    n: usize,
    threads: usize,
    unit: (usize, usize),
    block: impl Fn((usize, usize), (usize, usize)) + Sync,
) {
    if m >= n {
        let rows = m
            .div_ceil(threads)
            .max(PAR_MIN_SPLIT)
            .next_multiple_of(unit.0);
        (0..m.div_ceil(rows))
            .into_par_iter()
            .for_each(|i| block((i * rows, ((i + 1) * rows).min(m)), (0, n)));
    } else {
        let cols = n
            .div_ceil(threads)
            .max(PAR_MIN_SPLIT)
            .next_multiple_of(unit.1);
        (0..n.div_ceil(cols))
            .into_par_iter()
            .for_each(|j| block((0, m), (j * cols, ((j + 1) * cols).min(n))));
    }
}

/// The product by the packed AVX-512 kernel (`gemm.rs`), bias included.
#[allow(clippy::too_many_arguments)]
fn packed(
    m: usize,
    k: usize,
    n: usize,
    (a_ptr, sa): (usize, &[isize]),
    (b_ptr, sb): (usize, &[isize]),
    bias: Option<&[f32]>,
    one_thread: bool,
    threads: usize,
) -> Vec<f32> {
    let len = m * n;
    let mut c: Vec<f32> = Vec::with_capacity(len);
    let c_ptr = c.as_mut_ptr() as usize;
    let block = |(r0, r1): (usize, usize), (c0, c1): (usize, usize)| {
        let start = match bias {
            Some(bias) => gemm::Start::Bias(&bias[c0..c1]),
            None => gemm::Start::Zero,
        };
        // SAFETY: as in `portable`; `gemm::available()` was checked, and
        // with `Start::Zero` or a bias sgemm writes C without reading it.
        unsafe {
            let a = gemm::Operand {
                ptr: (a_ptr as *const f32).offset(r0 as isize * sa[0]),
                rs: sa[0],
                cs: sa[1],
            };
            let b = gemm::Operand {
                ptr: (b_ptr as *const f32).offset(c0 as isize * sb[1]),
                rs: sb[0],
                cs: sb[1],
            };
            let c = (c_ptr as *mut f32).add(r0 * n + c0);
            gemm::sgemm(r1 - r0, k, c1 - c0, a, b, c, n, start);
        }
    };
    if one_thread {
        block((0, m), (0, n));
    } else {
        split(m, n, threads, (gemm::MR, gemm::NR), block);
    }
    // SAFETY: every one of the m·n elements was written by exactly one block.
    unsafe { c.set_len(len) };
    c
}

/// The product by `matrixmultiply::sgemm` (CPUs without AVX-512).
#[allow(clippy::too_many_arguments)]
fn portable(
    m: usize,
    k: usize,
    n: usize,
    (a_ptr, sa): (usize, &[isize]),
    (b_ptr, sb): (usize, &[isize]),
    bias: Option<&[f32]>,
    one_thread: bool,
    threads: usize,
) -> Vec<f32> {
    let len = m * n;
    // Past matrixmultiply's k-block (256) C would take the bias before the
    // second block's sums, not after all of them: there the bias is added
    // after the product, as a separate add would.
    let (bias, bias_after) = match bias {
        Some(bias) if k > small::MAX_K => (None, Some(bias)),
        bias => (bias, None),
    };
    let mut c: Vec<f32> = match bias {
        Some(bias) => bias.repeat(m),
        // filled by sgemm below, which with β = 0 never reads C
        None => Vec::with_capacity(len),
    };
    let beta = if bias.is_some() { 1.0 } else { 0.0 };
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
    if one_thread {
        block((0, m), (0, n));
    } else {
        split(m, n, threads, (1, 1), block);
    }
    // SAFETY: every one of the m·n elements was written by exactly one block
    // above (or C was filled with the bias, already len long).
    unsafe { c.set_len(len) };
    if let Some(bias) = bias_after {
        for row in c.chunks_exact_mut(n) {
            row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
        }
    }
    c
}

/// Products with few output columns and a short inner dimension, as the
/// small lessons' MLPs make (1000 × 6 · 6 × 10): matrixmultiply would pack
/// all of A into panels first, which costs as much as the product. Here
/// each row of C is computed straight from A's row and B (copied once into
/// a small contiguous block).
///
/// The arithmetic is matrixmultiply's: every element is one fused
/// multiply-add chain over k in order, starting at 0, then added to the bias
/// (or to 0), so the values are the same to the bit. Only with k up to
/// matrixmultiply's k-block (256), where it too makes a single chain.
///
/// [`tall`](small::tall) takes the other small case, few rows and columns
/// of C but a long k (dzᵀ·x, (6 × 1000) · (1000 × 10)), where
/// matrixmultiply spends most of its time packing A's and B's 1000-long
/// panels for a single tile. It keeps C in registers and sums k in
/// matrixmultiply's blocks of 256: each block one fused multiply-add chain
/// from 0, the blocks added to C in order, the bias after them; the same
/// values to the bit again.
mod small {
    pub(super) const MAX_N: usize = 16;
    pub(super) const MAX_K: usize = 256;
    /// The most rows of C [`tall`] takes.
    pub(super) const MAX_M: usize = 16;

    /// C (m, n), row-major at `c`, = A·B (+ bias). Returns false, writing
    /// nothing, where the CPU lacks FMA or AVX2.
    ///
    /// # Safety
    /// `a` and `b` point at live (m, k) and (k, n) matrices with the strides
    /// given; `c` has room for m·n values; n ≤ MAX_N, k ≤ MAX_K.
    /// [`product`] or [`tall`]: (m, k, n, A, B, bias, C) → whether it ran.
    pub(super) type Kernel = unsafe fn(
        usize,
        usize,
        usize,
        (usize, &[isize]),
        (usize, &[isize]),
        Option<&[f32]>,
        usize,
    ) -> bool;

    pub(super) unsafe fn product(
        m: usize,
        k: usize,
        n: usize,
        a: (usize, &[isize]),
        b: (usize, &[isize]),
        bias: Option<&[f32]>,
        c: usize,
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx2")
        {
            let (ap, sa) = (a.0 as *const f32, (a.1[0], a.1[1]));
            let bp = b.0 as *const f32;
            // B padded with zero columns to a whole vector of 8 or 16
            let width = if n <= 8 { 8 } else { 16 };
            let mut bb = vec![0.0f32; k * width];
            for p in 0..k {
                for j in 0..n {
                    bb[p * width + j] = *bp.offset(p as isize * b.1[0] + j as isize * b.1[1]);
                }
            }
            let mut bias_row = [0.0f32; MAX_N];
            if let Some(bias) = bias {
                bias_row[..n].copy_from_slice(bias);
            }
            let c = c as *mut f32;
            match width {
                8 => rows::<1>(m, k, n, ap, sa, &bb, &bias_row, c),
                _ => rows::<2>(m, k, n, ap, sa, &bb, &bias_row, c),
            }
            return true;
        }
        let _ = (m, k, n, a, b, bias, c);
        false
    }

    /// C (m, n), row-major at `c`, = A·B (+ bias) for k past one k-block
    /// (see the module docs). Returns false, writing nothing, where the CPU
    /// lacks FMA or AVX2.
    ///
    /// # Safety
    /// `a` and `b` point at live (m, k) and (k, n) matrices with the strides
    /// given; `c` has room for m·n values; m ≤ MAX_M, n ≤ MAX_N.
    pub(super) unsafe fn tall(
        m: usize,
        k: usize,
        n: usize,
        a: (usize, &[isize]),
        b: (usize, &[isize]),
        bias: Option<&[f32]>,
        c: usize,
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx2")
        {
            let a = (a.0 as *const f32, (a.1[0], a.1[1]));
            let b = (b.0 as *const f32, (b.1[0], b.1[1]));
            let c = std::slice::from_raw_parts_mut(c as *mut f32, m * n);
            // rows of C in groups of 4, then 2, then 1, each group's sums in
            // registers (4 · V vectors)
            let mut i = 0;
            while i < m {
                let rows = match m - i {
                    1 => 1,
                    2 | 3 => 2,
                    _ => 4,
                };
                let a_rows = (a.0.offset(i as isize * a.1 .0), a.1);
                let sums = &mut c[i * n..(i + rows) * n];
                match (rows, n <= 8) {
                    (4, true) => tall_rows::<4, 1>(k, n, a_rows, b, sums),
                    (4, false) => tall_rows::<4, 2>(k, n, a_rows, b, sums),
                    (2, true) => tall_rows::<2, 1>(k, n, a_rows, b, sums),
                    (2, false) => tall_rows::<2, 2>(k, n, a_rows, b, sums),
                    (_, true) => tall_rows::<1, 1>(k, n, a_rows, b, sums),
                    (_, false) => tall_rows::<1, 2>(k, n, a_rows, b, sums),
                }
                i += rows;
            }
            if let Some(bias) = bias {
                for row in c.chunks_exact_mut(n) {
                    row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
                }
            }
            return true;
        }
        let _ = (m, k, n, a, b, bias, c);
        false
    }

    /// R rows of C for [`tall`], into `c` (R rows of n, row-major): A's
    /// rows at `a`. For each k of a block, B's row k is loaded once (8·V
    /// lanes, those past `n` zero) and each of the R rows takes A[i, k]
    /// times it, R·V independent chains in registers.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tall_rows<const R: usize, const V: usize>(
        k: usize,
        n: usize,
        (a, (ra, ca)): (*const f32, (isize, isize)),
        (b, (rb, cb)): (*const f32, (isize, isize)),
        c: &mut [f32],
    ) {
        use std::arch::x86_64::*;
        debug_assert!(n <= 8 * V && V * 8 <= MAX_N && c.len() == R * n);
        let mut mask = [_mm256_setzero_si256(); V];
        for (v, mask) in mask.iter_mut().enumerate() {
            let lanes: [i32; 8] = std::array::from_fn(|l| if 8 * v + l < n { -1 } else { 0 });
            *mask = _mm256_loadu_si256(lanes.as_ptr().cast());
        }
        for p0 in (0..k).step_by(MAX_K) {
            let mut acc = [[_mm256_setzero_ps(); V]; R];
            for p in p0..(p0 + MAX_K).min(k) {
                let b_row = b.offset(p as isize * rb);
                let mut bv = [_mm256_setzero_ps(); V];
                if cb == 1 {
                    // masked lanes are neither read nor faulted on
                    for v in 0..V {
                        bv[v] = _mm256_maskload_ps(b_row.add(8 * v), mask[v]);
                    }
                } else {
                    let mut lanes = [0.0f32; MAX_N];
                    for (j, lane) in lanes.iter_mut().enumerate().take(n) {
                        *lane = *b_row.offset(j as isize * cb);
                    }
                    for (v, bv) in bv.iter_mut().enumerate() {
                        *bv = _mm256_loadu_ps(lanes.as_ptr().add(8 * v));
                    }
                }
                let a_col = a.offset(p as isize * ca);
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = _mm256_set1_ps(*a_col.offset(r as isize * ra));
                    for (acc, bv) in acc.iter_mut().zip(&bv) {
                        *acc = _mm256_fmadd_ps(x, *bv, *acc);
                    }
                }
            }
            // matrixmultiply's C ← block (first), then C ← C + block
            for (row, acc) in c.chunks_exact_mut(n).zip(&acc) {
                let mut lanes = [0.0f32; MAX_N];
                for v in 0..V {
                    _mm256_storeu_ps(lanes.as_mut_ptr().add(8 * v), acc[v]);
                }
                for (s, l) in row.iter_mut().zip(&lanes) {
                    *s = if p0 == 0 { *l } else { *s + *l };
                }
            }
        }
    }

    /// Every row of C: V vectors of 8 lanes (8 or 16 columns) in
    /// registers, the first `n` of them kept. A row's whole vectors are
    /// stored where they fit in C (lanes past `n` land on the next row,
    /// which is written after), the last rows lane by lane.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn rows<const V: usize>(
        m: usize,
        k: usize,
        n: usize,
        a: *const f32,
        (ra, ca): (isize, isize),
        b: &[f32],
        bias: &[f32; MAX_N],
        c: *mut f32,
    ) {
        use std::arch::x86_64::*;
        let w = 8 * V;
        debug_assert!(b.len() >= k * w && n <= w);
        let mut bv = [_mm256_setzero_ps(); V];
        for (v, bv) in bv.iter_mut().enumerate() {
            *bv = _mm256_loadu_ps(bias.as_ptr().add(8 * v));
        }
        let bp = b.as_ptr();
        // four rows at a time: four independent chains per vector, so the
        // fused multiply-adds' latency overlaps (one row's chain alone waits
        // on each); every element is still its own chain over k in order
        const R: usize = 4;
        let groups = m / R * R;
        for i in (0..groups).step_by(R) {
            let mut acc = [[_mm256_setzero_ps(); V]; R];
            for p in 0..k {
                let b_p = bp.add(p * w);
                let mut bvs = [_mm256_setzero_ps(); V];
                for (v, b) in bvs.iter_mut().enumerate() {
                    *b = _mm256_loadu_ps(b_p.add(8 * v));
                }
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = _mm256_set1_ps(*a.offset((i + r) as isize * ra + p as isize * ca));
                    for v in 0..V {
                        acc[v] = _mm256_fmadd_ps(x, bvs[v], acc[v]);
                    }
                }
            }
            // in row order: a row's spilled lanes are overwritten by the next
            for (r, acc) in acc.iter().enumerate() {
                store_row::<V>(c, i + r, m, n, acc, &bv);
            }
        }
        for i in groups..m {
            let row = a.offset(i as isize * ra);
            let mut acc = [_mm256_setzero_ps(); V];
            for p in 0..k {
                let x = _mm256_set1_ps(*row.offset(p as isize * ca));
                for (v, acc) in acc.iter_mut().enumerate() {
                    *acc = _mm256_fmadd_ps(x, _mm256_loadu_ps(bp.add(p * w + 8 * v)), *acc);
                }
            }
            store_row::<V>(c, i, m, n, &acc, &bv);
        }
    }

    /// Row i of C (m, n) at `c` ← acc + bias: whole vectors where they fit
    /// in C (lanes past `n` land on the next row), the last rows lane by lane.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn store_row<const V: usize>(
        c: *mut f32,
        i: usize,
        m: usize,
        n: usize,
        acc: &[std::arch::x86_64::__m256; V],
        bias: &[std::arch::x86_64::__m256; V],
    ) {
        use std::arch::x86_64::*;
        let out = c.add(i * n);
        if i * n + 8 * V <= m * n {
            for v in 0..V {
                _mm256_storeu_ps(out.add(8 * v), _mm256_add_ps(acc[v], bias[v]));
            }
        } else {
            let mut lanes = [0.0f32; MAX_N];
            for v in 0..V {
                _mm256_storeu_ps(
                    lanes.as_mut_ptr().add(8 * v),
                    _mm256_add_ps(acc[v], bias[v]),
                );
            }
            std::ptr::copy_nonoverlapping(lanes.as_ptr(), out, n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::linalg::general_mat_mul;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn random(rng: &mut StdRng, r: usize, c: usize) -> Array2<f32> {
        Array2::from_shape_fn((r, c), |_| rng.random_range(-1.0f32..1.0))
    }

    /// ndarray's product (matrixmultiply through ndarray, C zeroed first),
    /// plus the bias added afterwards: the reference every path must equal.
    fn reference(
        a: ArrayView2<'_, f32>,
        b: ArrayView2<'_, f32>,
        bias: Option<&[f32]>,
    ) -> Array2<f32> {
        let mut c = Array2::<f32>::zeros((a.nrows(), b.ncols()));
        general_mat_mul(1.0, &a, &b, 0.0, &mut c);
        if let Some(bias) = bias {
            for mut row in c.rows_mut() {
                row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
            }
        }
        c
    }

    /// Within k·ε·Σ|products| of `want` (twice the bound of one recursive
    /// f32 sum, as both sides are one).
    fn assert_close(
        got: &Array2<f32>,
        want: &Array2<f32>,
        a: ArrayView2<'_, f32>,
        b: ArrayView2<'_, f32>,
        what: &str,
    ) {
        let abs = a.mapv(f32::abs).dot(&b.mapv(f32::abs));
        let k = a.ncols() as f32;
        for ((g, w), s) in got.iter().zip(want).zip(&abs) {
            assert!(
                (g - w).abs() <= 2.0 * (k + 1.0) * f32::EPSILON * (s + 1.0),
                "{what}: {g} vs {w}"
            );
        }
    }

    #[test]
    fn small_products_equal_matrixmultiply_to_the_bit() {
        let mut rng = StdRng::seed_from_u64(7);
        // the small kernel (n ≤ 16, k ≤ 256, 8- and 16-lane rows, groups of
        // four rows and the rows after them, rows whose vectors spill into
        // the next row and the last rows that cannot) and the tall one
        // (m, n ≤ 16, k past 256: groups of 4, 2 and 1 rows, B's rows loaded
        // masked or gathered when B is transposed) equal matrixmultiply to
        // the bit: the mlp-regression lesson's
        // products, which its figures rely on. The rest go to the AVX-512
        // kernel where the CPU has one, whose k blocks (up to 384) differ
        // from matrixmultiply's (256): there the sums agree within rounding
        // (tests/gemm.rs checks every path against f64); elsewhere they
        // are matrixmultiply's, to the bit, threaded split by rows and by
        // columns included.
        let shapes = [
            (1, 1, 1, true),
            (3, 1, 6, true),
            (1000, 6, 10, true),
            (1000, 10, 6, true),
            (1000, 6, 1, true),
            (5, 3, 2, true),
            (17, 256, 16, true),
            (9, 7, 9, true),
            (4, 257, 5, true),
            (6, 1000, 10, true),
            (10, 1000, 6, true),
            (1, 1000, 6, true),
            (16, 513, 16, true),
            (9, 769, 1, true),
            (3, 300, 9, true),
            (7, 600, 13, true),
            (2, 258, 8, true),
            (17, 300, 3, false),
            (3, 300, 17, false),
            (33, 20, 17, false),
            (600, 64, 40, false),
            (40, 64, 700, false),
        ];
        for (m, k, n, small) in shapes {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = if ta {
                    random(&mut rng, k, m)
                } else {
                    random(&mut rng, m, k)
                };
                let b = if tb {
                    random(&mut rng, n, k)
                } else {
                    random(&mut rng, k, n)
                };
                let av = if ta { a.t() } else { a.view() };
                let bv = if tb { b.t() } else { b.view() };
                let bias: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
                let what = format!("{m}x{k}x{n} ta={ta} tb={tb}");
                let pairs = [
                    (matmul(av, bv), reference(av, bv, None)),
                    (matmul_bias(av, bv, &bias), reference(av, bv, Some(&bias))),
                ];
                for (got, want) in pairs {
                    if small || !packed_pays(m, k, n) {
                        assert_eq!(got, want, "{what}");
                    } else {
                        assert_close(&got, &want, av, bv, &what);
                    }
                }
            }
        }
    }

    #[test]
    fn empty_products() {
        let a = Array2::<f32>::zeros((3, 0));
        let b = Array2::<f32>::zeros((0, 2));
        assert_eq!(matmul(a.view(), b.view()), Array2::<f32>::zeros((3, 2)));
        let c = matmul_bias(a.view(), b.view(), &[1.5, -2.0]);
        assert_eq!(c, ndarray::arr2(&[[1.5, -2.0], [1.5, -2.0], [1.5, -2.0]]));
        let a = Array2::<f32>::zeros((0, 4));
        let b = Array2::<f32>::ones((4, 3));
        assert_eq!(matmul(a.view(), b.view()).dim(), (0, 3));
    }
}
