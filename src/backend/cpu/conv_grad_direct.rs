//! The weight gradient of a 3×3, stride-1 convolution with few input
//! channels (the course's first conv, C = 1), summed directly on AVX-512.
//!
//! x (N, C, H, W), gy (N, O, H', W') → dw (O, C, 3, 3) with
//!   dw[o, c, ky, kx] = Σ_n Σ_(oy, ox) gy[n, o, oy, ox] · x[n, c, oy + ky − p, ox + kx − p].
//! im2col makes this a (O, H'·W') · (H'·W', 9) product per image and
//! channel: nine output columns, which GEMM kernels handle badly. Here each
//! image's channel plane is copied once into a zero-padded plane, and then,
//! 16 output columns at a time, the nine shifted rows of that plane are
//! loaded once and multiplied into two output channels' gradient rows:
//! 18 vector accumulators (2 channels × 9 taps), each summing 16 lanes of
//! products. The lanes are added only at the end.
//!
//! Order: images go in fixed chunks of [`IMAGES_PER_CHUNK`], each with its
//! own lane accumulators, added in chunk order, and the 16 lanes are then
//! summed in lane order, so dw does not depend on the number of threads.
//! The sum runs in another order than im2col's product: dw differs from it
//! by rounding (a few ulp of the sum of |products|).

use rayon::prelude::*;

use crate::backend::ConvGeometry;

/// Images per partial sum (fixed: see the module's doc).
const IMAGES_PER_CHUNK: usize = 10;

/// Whether dw of `g` runs here: 3×3, stride 1, fewer input channels than
/// Winograd takes, on a CPU with AVX-512 (elsewhere im2col does it).
pub fn applies(g: &ConvGeometry) -> bool {
    g.kh == 3
        && g.kw == 3
        && g.stride == 1
        && g.c < super::winograd::MIN_CHANNELS
        && super::avx512()
        && super::gemm::available()
}

/// dw (O, C, 3, 3), row-major, of the convolution `g` from its input `x`
/// (N, C, H, W) and output gradient `grad` (N, O, H', W'). The caller
/// checked [`applies`].
pub fn conv2d_weight_grad(x: &[f32], grad: &[f32], g: &ConvGeometry) -> Vec<f32> {
    // the CPU itself, not `applies`' policy switch (which tests flip while
    // others run): the kernel's safety rests on this
    let has = super::cpu_has_avx512();
    assert!(
        has && g.kh == 3 && g.kw == 3 && g.stride == 1,
        "the direct dw needs a 3×3 stride-1 conv and AVX-512"
    );
    let (o, c) = (g.o, g.c);
    let part = o * c * 9 * 16;
    let chunks = g.n.div_ceil(IMAGES_PER_CHUNK);
    let mut partials = vec![0.0f32; chunks * part];
    if g.oh * g.ow > 0 {
        partials
            .par_chunks_mut(part.max(1))
            .enumerate()
            .for_each_init(Vec::new, |plane, (i, lanes)| {
                let first = i * IMAGES_PER_CHUNK;
                for n in first..(first + IMAGES_PER_CHUNK).min(g.n) {
                    image(x, grad, g, n, plane, lanes);
                }
            });
    }
    let mut sums = vec![0.0f32; part];
    for p in partials.chunks_exact(part.max(1)) {
        sums.iter_mut().zip(p).for_each(|(s, v)| *s += v);
    }
    sums.chunks_exact(16)
        .map(|l| l.iter().fold(0.0, |s, v| s + v))
        .collect()
}

/// Image n's products added to `lanes` ((O, C, 9) × 16 lanes).
fn image(
    x: &[f32],
    grad: &[f32],
    g: &ConvGeometry,
    n: usize,
    plane: &mut Vec<f32>,
    lanes: &mut [f32],
) {
    let (vecs, stride) = (g.ow.div_ceil(16), g.ow.div_ceil(16) * 16 + 2);
    let rows = g.oh + 2;
    let in_plane = g.h * g.w;
    let out_plane = g.oh * g.ow;
    for c in 0..g.c {
        // the zero-padded plane: (r, s) holds x[r − p][s − p]
        plane.clear();
        plane.resize(rows * stride, 0.0);
        let src = &x[(n * g.c + c) * in_plane..][..in_plane];
        for (iy, row) in src.chunks_exact(g.w.max(1)).enumerate() {
            let r = iy + g.padding;
            if r >= rows {
                break;
            }
            let cols = g.w.min(stride.saturating_sub(g.padding));
            plane[r * stride + g.padding..][..cols].copy_from_slice(&row[..cols]);
        }
        for o0 in (0..g.o).step_by(2) {
            let pair = 2.min(g.o - o0);
            let gy = &grad[(n * g.o + o0) * out_plane..][..pair * out_plane];
            let acc = &mut lanes[(o0 * g.c + c) * 9 * 16..];
            // SAFETY: the CPU has AVX-512F (checked above); the plane holds rows
            // oh + 2 of `stride` ≥ 16·vecs + 2 values, every load below
            // lies within it; gy holds `pair` planes of H'·W' (masked
            // loads past each row's end read nothing); acc holds the
            // channels' 9 × 16 lanes, C·9·16 apart
            #[cfg(target_arch = "x86_64")]
            unsafe {
                let args = (
                    plane.as_ptr(),
                    stride,
                    gy.as_ptr(),
                    g,
                    vecs,
                    acc.as_mut_ptr(),
                    g.c * 9 * 16,
                );
                if pair == 2 {
                    avx512::taps::<2>(args);
                } else {
                    avx512::taps::<1>(args);
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            unreachable!("no AVX-512 off x86-64 ({acc:p}, {gy:p}, {vecs})");
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use crate::backend::ConvGeometry;

    /// (padded plane, its row stride, P gradient planes, geometry, vectors
    /// per output row, lane accumulators, their stride between channels)
    pub(super) type Args<'a> = (
        *const f32,
        usize,
        *const f32,
        &'a ConvGeometry,
        usize,
        *mut f32,
        usize,
    );

    /// The nine taps' products of P output channels, added to their lanes.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn taps<const P: usize>(
        (plane, stride, gy, g, vecs, acc, acc_step): Args<'_>,
    ) {
        let mut sum = [[_mm512_setzero_ps(); 9]; P];
        let out_plane = g.oh * g.ow;
        for oy in 0..g.oh {
            for v in 0..vecs {
                let left = g.ow - 16 * v;
                let mask = if left >= 16 {
                    0xffff
                } else {
                    ((1u32 << left) - 1) as __mmask16
                };
                let mut xs = [_mm512_setzero_ps(); 9];
                for (k, xs) in xs.iter_mut().enumerate() {
                    let (ky, kx) = (k / 3, k % 3);
                    // lanes past the output row stay 0, as gy's do: an inf
                    // there would make 0·inf = NaN in taps im2col never sums
                    *xs = _mm512_maskz_loadu_ps(mask, plane.add((oy + ky) * stride + 16 * v + kx));
                }
                for (p, sum) in sum.iter_mut().enumerate() {
                    let gv =
                        _mm512_maskz_loadu_ps(mask, gy.add(p * out_plane + oy * g.ow + 16 * v));
                    for k in 0..9 {
                        sum[k] = _mm512_fmadd_ps(gv, xs[k], sum[k]);
                    }
                }
            }
        }
        for (p, sum) in sum.iter().enumerate() {
            for (k, &s) in sum.iter().enumerate() {
                let at = acc.add(p * acc_step + 16 * k);
                _mm512_storeu_ps(at, _mm512_add_ps(_mm512_loadu_ps(at), s));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::IxDyn;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::backend::cpu::conv::conv2d_backward_im2col;
    use crate::backend::cpu::random_array as random;
    use crate::engine::Array;

    /// The CPU's own AVX-512 and the GEMM's choice, not the `use_avx512`
    /// switch that other tests flip while these run.
    fn cpu_has_avx512() -> bool {
        crate::backend::cpu::cpu_has_avx512() && crate::backend::cpu::gemm::available()
    }

    #[test]
    fn direct_dw_matches_im2col_on_random_shapes() {
        let mut rng = StdRng::seed_from_u64(3);
        if !cpu_has_avx512() {
            eprintln!("skipped: this CPU has no AVX-512 (dw runs as im2col there)");
            return;
        }
        let mut worst = 0.0f32;
        for case in 0..40 {
            // widths either side of 16 and 32 lanes, odd channel counts,
            // batches not a multiple of the chunk
            let (n, c, o) = (
                rng.random_range(1..25),
                rng.random_range(1..8),
                rng.random_range(1..12),
            );
            let pad = rng.random_range(0..3);
            let (h, w) = (
                rng.random_range(3 - 2 * pad.min(1)..20),
                rng.random_range(3 - 2 * pad.min(1)..40),
            );
            let g = ConvGeometry::new(&[n, c, h, w], o, (3, 3), c, 1, pad).expect("geometry");
            // the shape qualifies (other tests may turn the AVX-512 switch
            // off meanwhile; the kernel itself checks the CPU)
            assert!(g.kh == 3 && g.kw == 3 && g.stride == 1 && g.c < 8);
            let (x, gy) = (
                random(&mut rng, &[n, c, h, w]),
                random(&mut rng, &g.out_shape()),
            );
            let k = Array::zeros(IxDyn(&[o, c, 3, 3]));
            let dw = |x: &Array, gy: &Array| {
                let (_, dw) = conv2d_backward_im2col(x, &k, gy, &g, false, true);
                dw.expect("dw").into_raw_vec_and_offset().0
            };
            let (want, sums) = (dw(&x, &gy), dw(&x.mapv(f32::abs), &gy.mapv(f32::abs)));
            let got = conv2d_weight_grad(
                x.as_slice().expect("contiguous"),
                gy.as_slice().expect("contiguous"),
                &g,
            );
            let shape = [n, c, h, w];
            for (i, ((a, b), s)) in got.iter().zip(&want).zip(&sums).enumerate() {
                // rounding of a sum of up to N·H'·W' products, another order
                assert!(
                    (a - b).abs() <= 2e-6 * s + 1e-30,
                    "case {case}: x {shape:?} o {o} pad {pad} [{i}]: {a} vs {b} (sum of |products| {s})"
                );
                worst = worst.max((a - b).abs() / s.max(f32::MIN_POSITIVE));
            }
        }
        eprintln!("worst error {worst:e} of the sum of |products|");
    }

    /// An inf in the input's last column reaches only the taps that read it
    /// (kx = 2 at padding 0): the lanes past the output row multiply zeros,
    /// so the other taps stay what im2col gives.
    #[test]
    fn an_inf_reaches_only_the_taps_that_read_it() {
        if !cpu_has_avx512() {
            eprintln!("skipped: this CPU has no AVX-512");
            return;
        }
        let mut rng = StdRng::seed_from_u64(9);
        let g = ConvGeometry::new(&[2, 1, 5, 20], 3, (3, 3), 1, 1, 0).expect("geometry");
        let mut x = random(&mut rng, &[2, 1, 5, 20]);
        x[[0, 0, 2, 19]] = f32::INFINITY;
        let gy = random(&mut rng, &g.out_shape());
        let k = Array::zeros(IxDyn(&[3, 1, 3, 3]));
        let (_, want) = conv2d_backward_im2col(&x, &k, &gy, &g, false, true);
        let want = want.expect("dw").into_raw_vec_and_offset().0;
        let got = conv2d_weight_grad(
            x.as_slice().expect("contiguous"),
            gy.as_slice().expect("contiguous"),
            &g,
        );
        let finite = want.iter().filter(|v| v.is_finite()).count();
        assert_eq!(finite, 3 * 6, "im2col: only the kx = 2 taps read column 19");
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            if b.is_finite() {
                assert!(
                    (a - b).abs() <= 1e-4 * b.abs().max(1.0),
                    "[{i}]: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn direct_dw_is_the_same_on_any_number_of_threads() {
        let mut rng = StdRng::seed_from_u64(4);
        let g = ConvGeometry::new(&[23, 1, 28, 28], 7, (3, 3), 1, 1, 1).expect("geometry");
        if !cpu_has_avx512() {
            eprintln!("skipped: this CPU has no AVX-512");
            return;
        }
        let (x, gy) = (
            random(&mut rng, &[23, 1, 28, 28]),
            random(&mut rng, &g.out_shape()),
        );
        let (xs, gs) = (
            x.as_slice().expect("contiguous"),
            gy.as_slice().expect("contiguous"),
        );
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("thread pool");
            let dw = pool.install(|| conv2d_weight_grad(xs, gs, &g));
            dw.iter().map(|f| f.to_bits()).collect::<Vec<_>>()
        };
        let one = on(1);
        for threads in [2, 3, 8] {
            assert_eq!(on(threads), one, "{threads} threads");
        }
    }
}
