//! A packed, cache-blocked f32 matrix multiply with an AVX-512 microkernel,
//! for CPUs that have AVX-512 (matrixmultiply's kernel elsewhere, see
//! `matmul.rs`).
//!
//! C (m, n), row-major, = A (m, k) · B (k, n), each of A and B with any
//! strides. The loops, outermost first (the BLIS layout, with A and B's
//! roles swapped because C is row-major and the vectors run along its rows):
//!
//! - rows of A in blocks of `MB`, then k in blocks of at most `KC`: the
//!   block of A is packed into panels of `MR` rows, each panel k-major
//!   (`MR` values per k), the microkernel's broadcasts;
//! - columns of B in blocks of at most `NB` (kc × nb floats fill about half
//!   of the 2 MB L2 cache): the block of B is packed into panels of `NR`
//!   columns, each k-major (`NR` values per k, two vectors);
//! - each panel of A (kc × 12 floats, stays in L1) against every panel of B
//!   (streamed from L2): the microkernel keeps a 12 × 32 tile of C in 24
//!   vector registers and adds one rank-1 update per k, two vector loads
//!   of B and 12 broadcasts of A feeding 24 fused multiply-adds.
//!
//! Edges are padded with zeros in the packed panels; the microkernel
//! stores only the rows and (masked) columns that exist.
//!
//! Values: each element is the sum over k of its products, in k order
//! within a k block, the blocks added to C in turn. matrixmultiply sums in
//! the same order but its k blocks are 256 long, ours up to `KC`: results
//! agree to rounding (a few ulps of the sum of |products|), not to the bit.
//!
//! Packing reads along memory whichever way the operand lies: where the
//! lanes are contiguous (a row-major B) one step of k across every panel
//! at a time; where k is (a row-major A) four lanes by eight steps,
//! transposed in registers. The packing buffers are kept per thread and
//! reused by the next call.

#[cfg(target_arch = "x86_64")]
use std::cell::RefCell;

/// Rows of C per microkernel tile (broadcasts of A).
pub const MR: usize = 12;
/// Columns of C per microkernel tile (two 16-lane vectors of B).
pub const NR: usize = 32;
/// The longest k block.
const KC: usize = 384;
/// The most columns of B packed at once: 384 · 640 · 4 bytes ≈ 1 MB.
const NB: usize = 640;
/// The most rows of A packed at once: 3072 · 384 · 4 bytes ≈ 4.5 MB, in L3
/// (each block of rows packs B again).
const MB: usize = 3072;

/// How C starts before the products are added.
#[derive(Clone, Copy, Debug)]
pub enum Start<'a> {
    /// C = A·B (C's old values are never read)
    Zero,
    /// C = A·B + bias, `bias` (n,) added to every row
    Bias(&'a [f32]),
}

/// Whether this CPU runs [`sgemm`]: AVX-512F, unless `DL_LAB_GEMM=matrixmultiply`
/// asks for the portable path (to compare the two).
pub fn available() -> bool {
    use std::sync::OnceLock;
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        let wanted = std::env::var("DL_LAB_GEMM").map_or(true, |v| v != "matrixmultiply");
        #[cfg(target_arch = "x86_64")]
        let has = std::arch::is_x86_feature_detected!("avx512f");
        #[cfg(not(target_arch = "x86_64"))]
        let has = false;
        wanted && has
    })
}

/// A matrix operand: its first element and its (row, column) strides in
/// elements.
#[derive(Clone, Copy, Debug)]
pub struct Operand {
    pub ptr: *const f32,
    pub rs: isize,
    pub cs: isize,
}

/// C (m, n) at `c`, row stride `ldc`, unit column stride, = A (m, k) ·
/// B (k, n), starting from `start`. One thread; the caller splits C across
/// threads.
///
/// # Safety
/// [`available`] returned true; `a` and `b` address live (m, k) and (k, n)
/// matrices with their strides; `c` has room for m rows of `ldc ≥ n`
/// values that no one else touches during the call; a bias has n values.
pub unsafe fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    a: Operand,
    b: Operand,
    c: *mut f32,
    ldc: usize,
    start: Start<'_>,
) {
    #[cfg(target_arch = "x86_64")]
    {
        debug_assert!(available());
        let bias = match start {
            Start::Bias(bias) => {
                debug_assert_eq!(bias.len(), n);
                bias.as_ptr()
            }
            Start::Zero => std::ptr::null(),
        };
        if m == 0 || n == 0 {
            return;
        }
        if k == 0 {
            for i in 0..m {
                let row = std::slice::from_raw_parts_mut(c.add(i * ldc), n);
                match start {
                    Start::Bias(b) => row.copy_from_slice(b),
                    Start::Zero => row.fill(0.0),
                }
            }
            return;
        }
        with_buffers(|bufs| blocked(m, k, n, a, b, c, ldc, bias, bufs));
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (m, k, n, a, b, c, ldc, start);
        unreachable!("sgemm needs AVX-512");
    }
}

/// Equal blocks of at most `most`, each a multiple of `unit` (but the last).
fn block_len(total: usize, most: usize, unit: usize) -> usize {
    let blocks = total.div_ceil(most);
    total.div_ceil(blocks).div_ceil(unit) * unit
}

#[cfg(target_arch = "x86_64")]
struct Buffers {
    a: AlignedBuf,
    b: AlignedBuf,
}

/// f32s starting on a 64-byte line (the microkernel's aligned loads of B).
#[derive(Default)]
pub(crate) struct AlignedBuf(Vec<Line>);

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([f32; 16]);

impl AlignedBuf {
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    fn get(&mut self, len: usize) -> *mut f32 {
        self.slice(len).as_mut_ptr()
    }

    /// `len` values from a 64-byte line; zeros where never written, else
    /// what the last user left there.
    pub(crate) fn slice(&mut self, len: usize) -> &mut [f32] {
        let lines = len.div_ceil(16);
        if self.0.len() < lines {
            self.0.resize(lines, Line([0.0; 16]));
        }
        // SAFETY: `lines` lines of 16 f32s each, with no padding (repr(C))
        unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr() as *mut f32, len) }
    }
}

/// This thread's packing buffers, or fresh ones if they are in use (never
/// the case today: nothing inside [`blocked`] can start another product).
#[cfg(target_arch = "x86_64")]
fn with_buffers<R>(f: impl FnOnce(&mut Buffers) -> R) -> R {
    thread_local! {
        static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers {
            a: AlignedBuf::default(),
            b: AlignedBuf::default(),
        });
    }
    BUFFERS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut bufs) => f(&mut bufs),
        Err(_) => f(&mut Buffers {
            a: AlignedBuf::default(),
            b: AlignedBuf::default(),
        }),
    })
}

#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
unsafe fn blocked(
    m: usize,
    k: usize,
    n: usize,
    a: Operand,
    b: Operand,
    c: *mut f32,
    ldc: usize,
    bias: *const f32,
    bufs: &mut Buffers,
) {
    let kc_max = block_len(k, KC, 1);
    let nb_max = block_len(n, NB, NR);
    let mb_max = block_len(m, MB, MR);
    let ap = bufs.a.get(mb_max * kc_max);
    let bp = bufs.b.get(nb_max * kc_max);
    for i0 in (0..m).step_by(mb_max) {
        let mb = mb_max.min(m - i0);
        for p0 in (0..k).step_by(kc_max) {
            let kc = kc_max.min(k - p0);
            let first = p0 == 0;
            pack::<MR>(
                mb,
                kc,
                a.ptr.offset(i0 as isize * a.rs + p0 as isize * a.cs),
                a.rs,
                a.cs,
                ap,
            );
            for j0 in (0..n).step_by(nb_max) {
                let nb = nb_max.min(n - j0);
                pack::<NR>(
                    nb,
                    kc,
                    b.ptr.offset(p0 as isize * b.rs + j0 as isize * b.cs),
                    b.cs,
                    b.rs,
                    bp,
                );
                for ir in (0..mb).step_by(MR) {
                    let mr = MR.min(mb - ir);
                    let apanel = ap.add(ir * kc);
                    for jr in (0..nb).step_by(NR) {
                        let nr = NR.min(nb - jr);
                        let cij = c.add((i0 + ir) * ldc + j0 + jr);
                        let bias = if first && !bias.is_null() {
                            bias.add(j0 + jr)
                        } else {
                            std::ptr::null()
                        };
                        let bpanel = bp.add(jr * kc);
                        tile((
                            kc,
                            apanel as *const f32,
                            bpanel as *const f32,
                            cij,
                            ldc,
                            mr,
                            nr,
                            first,
                            bias,
                        ));
                    }
                }
            }
        }
    }
}

/// C (m, n) at `c`, row stride `ldc`, = A (m, k) · B (k, n) from panels
/// packed once by the caller, in [`pack`]'s layout with the whole of k in
/// each panel: A as ⌈m / MR⌉ panels of k × MR (row i, step p at
/// `(i / MR)·k·MR + p·MR + i % MR`), B as ⌈n / NR⌉ panels of k × NR
/// (column j at `(j / NR)·k·NR + p·NR + j % NR`), B's on 64-byte lines.
/// Lanes past m and n may hold anything (their results are not stored),
/// except that B's lanes up to the next multiple of 16 are read. For
/// products repeated over fixed A and B layouts (Winograd's 16 per group
/// of images), where packing for each would cost as much as the product.
///
/// # Safety
/// [`available`] returned true; `ap` and `bp` address whole panels as
/// above, `bp` 64-byte aligned; `c` has room for m rows of `ldc ≥ n`
/// values that no one else touches during the call.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn packed_product(
    m: usize,
    k: usize,
    n: usize,
    ap: *const f32,
    bp: *const f32,
    c: *mut f32,
    ldc: usize,
) {
    #[cfg(target_arch = "x86_64")]
    {
        debug_assert!(available() && (bp as usize).is_multiple_of(64));
        if k == 0 {
            for i in 0..m {
                std::slice::from_raw_parts_mut(c.add(i * ldc), n).fill(0.0);
            }
            return;
        }
        // k blocks of at most KC: a panel's block starts p0 steps in
        let kc_max = block_len(k, KC, 1);
        for p0 in (0..k).step_by(kc_max) {
            let kc = kc_max.min(k - p0);
            for ir in (0..m).step_by(MR) {
                let apanel = ap.add(ir * k + p0 * MR);
                for jr in (0..n).step_by(NR) {
                    tile((
                        kc,
                        apanel,
                        bp.add(jr * k + p0 * NR),
                        c.add(ir * ldc + jr),
                        ldc,
                        MR.min(m - ir),
                        NR.min(n - jr),
                        p0 == 0,
                        std::ptr::null(),
                    ));
                }
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (m, k, n, ap, bp, c, ldc);
        unreachable!("packed_product needs AVX-512");
    }
}

/// One tile of C through the [`kernel`] that covers it: only the rows (4, 8
/// or 12) and vectors (1 or 2) that hold some of C.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn tile(args: KernelArgs) {
    let (mr, nr) = (args.5, args.6);
    match (mr.div_ceil(4), nr > 16) {
        (3, true) => kernel::<12, 2>(args),
        (3, false) => kernel::<12, 1>(args),
        (2, true) => kernel::<8, 2>(args),
        (2, false) => kernel::<8, 1>(args),
        (_, true) => kernel::<4, 2>(args),
        (_, false) => kernel::<4, 1>(args),
    }
}

/// `lanes` rows of A (or columns of B), each `kc` long, into panels of `W`
/// lanes, each k-major (element p of lane r at `p * W + r`), the last panel
/// padded with zero lanes. `ls` steps from one lane to the next, `ks` along
/// a lane: A's panels are `pack::<MR>(mb, kc, a, rs, cs, ..)`, B's
/// `pack::<NR>(nb, kc, b, cs, rs, ..)`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn pack<const W: usize>(
    lanes: usize,
    kc: usize,
    src: *const f32,
    ls: isize,
    ks: isize,
    out: *mut f32,
) {
    if ls == 1 {
        return pack_across::<W>(lanes, kc, src, ks, out);
    }
    for l0 in (0..lanes).step_by(W) {
        let w = W.min(lanes - l0);
        let panel = out.add(l0 * kc);
        let src = src.offset(l0 as isize * ls);
        if ks == 1 {
            pack_transposing::<W>(w, kc, src, ls, panel);
        } else {
            // neither along lanes nor along k contiguous: one value at a time
            for r in 0..w {
                let lane = src.offset(r as isize * ls);
                for p in 0..kc {
                    *panel.add(p * W + r) = *lane.offset(p as isize * ks);
                }
            }
        }
        if w < W {
            for p in 0..kc {
                for r in w..W {
                    *panel.add(p * W + r) = 0.0;
                }
            }
        }
    }
}

/// [`pack`] where the lanes are contiguous (`ls == 1`: B's columns of a
/// row-major B, A's rows of a transposed A): step k in the outer loop, so
/// each step's values are read in one sweep along memory (a row of B
/// across every panel) rather than a panel at a time, which would jump a
/// whole row ahead for every 128 bytes read, where no prefetcher follows.
/// Masked loads fill the last panel's missing lanes with zeros.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn pack_across<const W: usize>(
    lanes: usize,
    kc: usize,
    src: *const f32,
    ks: isize,
    out: *mut f32,
) {
    use std::arch::x86_64::*;
    const { assert!(W <= 32, "at most two vectors per step") };
    let mask = first_lanes;
    // W lanes in vectors of 16 (W = 12: one vector of 12)
    let store_mask = [mask(W), mask(W.saturating_sub(16))];
    for p in 0..kc {
        let row = src.offset(p as isize * ks);
        for l0 in (0..lanes).step_by(W) {
            let w = W.min(lanes - l0);
            let dst = out.add(l0 * kc + p * W);
            for v in 0..W.div_ceil(16) {
                // wrapping: past a last panel of 16 or fewer lanes the
                // second vector's address may lie beyond B (nothing loaded)
                let x = _mm512_maskz_loadu_ps(
                    mask(w.saturating_sub(16 * v)),
                    row.wrapping_add(l0 + 16 * v),
                );
                _mm512_mask_storeu_ps(dst.add(16 * v), store_mask[v], x);
            }
        }
    }
}

/// One panel of [`pack`] where each lane is contiguous along k (`ks ==
/// 1`: A's rows of a row-major A, B's columns of a transposed B): four
/// lanes by eight steps at a time, transposed in registers; the lanes and
/// steps left over one value at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn pack_transposing<const W: usize>(
    w: usize,
    kc: usize,
    src: *const f32,
    ls: isize,
    panel: *mut f32,
) {
    use std::arch::x86_64::*;
    let (w4, kc8) = (w / 4 * 4, kc / 8 * 8);
    for r0 in (0..w4).step_by(4) {
        let lane = |i: usize| src.offset((r0 + i) as isize * ls);
        let (l0, l1, l2, l3) = (lane(0), lane(1), lane(2), lane(3));
        for p in (0..kc8).step_by(8) {
            let (a, b) = (_mm256_loadu_ps(l0.add(p)), _mm256_loadu_ps(l1.add(p)));
            let (c, d) = (_mm256_loadu_ps(l2.add(p)), _mm256_loadu_ps(l3.add(p)));
            // [a0 b0 a1 b1 | a4 b4 a5 b5], [a2 b2 a3 b3 | a6 b6 a7 b7], same for c, d
            let (ab_lo, ab_hi) = (_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
            let (cd_lo, cd_hi) = (_mm256_unpacklo_ps(c, d), _mm256_unpackhi_ps(c, d));
            // step i in the low half, step i + 4 in the high half
            let steps = [
                _mm256_shuffle_ps::<0x44>(ab_lo, cd_lo),
                _mm256_shuffle_ps::<0xEE>(ab_lo, cd_lo),
                _mm256_shuffle_ps::<0x44>(ab_hi, cd_hi),
                _mm256_shuffle_ps::<0xEE>(ab_hi, cd_hi),
            ];
            for (i, v) in steps.into_iter().enumerate() {
                _mm_storeu_ps(panel.add((p + i) * W + r0), _mm256_castps256_ps128(v));
                _mm_storeu_ps(
                    panel.add((p + 4 + i) * W + r0),
                    _mm256_extractf128_ps::<1>(v),
                );
            }
        }
        for p in kc8..kc {
            for i in 0..4 {
                *panel.add(p * W + r0 + i) = *lane(i).add(p);
            }
        }
    }
    for r in w4..w {
        let lane = src.offset(r as isize * ls);
        for p in 0..kc {
            *panel.add(p * W + r) = *lane.add(p);
        }
    }
}

/// The mask of a 16-lane vector's first `n` lanes (all 16 when n ≥ 16).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn first_lanes(n: usize) -> std::arch::x86_64::__mmask16 {
    if n >= 16 {
        0xffff
    } else {
        ((1u32 << n) - 1) as u16
    }
}

/// (kc, A panel, B panel, C, ldc, mr, nr, first, bias) of [`kernel`].
#[cfg(target_arch = "x86_64")]
type KernelArgs = (
    usize,
    *const f32,
    *const f32,
    *mut f32,
    usize,
    usize,
    usize,
    bool,
    *const f32,
);

/// The first R rows and 16·V columns of the MR × NR tile of C at `c`
/// (R ≥ mr, 16·V ≥ nr): its first `mr` rows and `nr` columns get
/// the panels' product over kc, added to C's values unless `first`, where
/// they start at the bias (or at 0 when `bias` is null).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn kernel<const R: usize, const V: usize>(
    (kc, a, b, c, ldc, mr, nr, first, bias): KernelArgs,
) {
    use std::arch::x86_64::*;
    // C's tile is read or written after the loop: fetch its lines meanwhile
    for i in 0..mr {
        let row = c.add(i * ldc) as *const i8;
        for byte in [0, 64, 124] {
            _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(byte.min(4 * (nr - 1))));
        }
    }
    let mut acc = [[_mm512_setzero_ps(); V]; R];
    let (mut a, mut b) = (a, b);
    for _ in 0..kc {
        let mut bv = [_mm512_setzero_ps(); V];
        for (v, bv) in bv.iter_mut().enumerate() {
            *bv = _mm512_load_ps(b.add(16 * v));
        }
        for (i, acc) in acc.iter_mut().enumerate() {
            let x = _mm512_set1_ps(*a.add(i));
            for v in 0..V {
                acc[v] = _mm512_fmadd_ps(x, bv[v], acc[v]);
            }
        }
        a = a.add(MR);
        b = b.add(NR);
    }
    let masks = [first_lanes(nr), first_lanes(nr.saturating_sub(16))];
    let start = if !first {
        None
    } else if bias.is_null() {
        Some([_mm512_setzero_ps(); 2])
    } else {
        Some([
            _mm512_maskz_loadu_ps(masks[0], bias),
            _mm512_maskz_loadu_ps(masks[1], bias.wrapping_add(16)),
        ])
    };
    for (i, acc) in acc.iter().enumerate().take(mr) {
        let row = c.add(i * ldc);
        for v in 0..V {
            let base = match start {
                Some(s) => s[v],
                None => _mm512_maskz_loadu_ps(masks[v], row.wrapping_add(16 * v)),
            };
            _mm512_mask_storeu_ps(
                row.wrapping_add(16 * v),
                masks[v],
                _mm512_add_ps(base, acc[v]),
            );
        }
    }
}
