//! The AVX-512 builds of Winograd's transforms (`winograd.rs`), each one
//! pass over 16 tiles at a time with the whole 4×4 in registers: the input
//! transform reads the 16 patch entries of 16 tiles from the plane's phases
//! and stores V straight into the microkernel's B panels; the output
//! transform reads 16 M values of 16 tiles, applies Aᵀ·M·A and the
//! epilogue, and lays the 2×2 results into the output rows.
//!
//! The same adds and subtracts in the same order as the portable builds'
//! whole-run passes (`bt_runs` twice, `at_runs` twice), so V and Y are the
//! same to the bit; only the products differ (gemm's microkernel against
//! matrixmultiply).

use std::arch::x86_64::*;
use std::mem::MaybeUninit;

use super::gemm::NR;
use super::winograd::{spread, Epilogue, Plan, RowScratch, VLayout};

const _: () = assert!(NR % 16 == 0, "a 16-tile step stays inside one panel");

/// The lanes j of a 16-wide step from t0 with lo ≤ t0 + j < hi.
#[inline(always)]
fn lanes(t0: usize, lo: usize, hi: usize) -> __mmask16 {
    let below = lo.saturating_sub(t0).min(16);
    let upto = hi.saturating_sub(t0).min(16);
    (((1u32 << upto) - 1) & !((1u32 << below) - 1)) as __mmask16
}

/// `winograd::split_plane` 32 columns at a time: one input plane (h, w)
/// into its four phases P_ab, each (th + 2) rows of tw + 1, `phase_len`
/// apart in `rows`, only the places inside the image written (the same
/// ones as the portable build). Column ix of a row goes to the phase of
/// parity (ix + pad) % 2 at (ix + pad) / 2: the even columns of 32 to one
/// phase row, the odd ones to the other, each one permute.
#[inline(always)]
unsafe fn split_plane(plane: &[f32], p: &Plan, rows: &mut [f32]) {
    let (th, tw) = p.tiles();
    let pw = tw + 1;
    let phase_len = (th + 2) * pw;
    assert!(plane.len() >= p.h * p.w && rows.len() >= 4 * phase_len);
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    // where the row's even and odd columns go: (phase b, first place)
    let (ev, od) = if p.pad.is_multiple_of(2) {
        ((0, p.pad / 2), (1, p.pad / 2))
    } else {
        ((1, p.pad / 2), (0, p.pad / 2 + 1))
    };
    // how many of each fit in a phase row
    let (ev_n, od_n) = (
        p.w.div_ceil(2).min(pw.saturating_sub(ev.1)),
        (p.w / 2).min(pw.saturating_sub(od.1)),
    );
    for iy in 0..p.h {
        let (a, yy) = ((iy + p.pad) % 2, (iy + p.pad) / 2);
        if yy >= th + 2 {
            break;
        }
        let row = plane.as_ptr().add(iy * p.w);
        let base = rows.as_mut_ptr().add(2 * a * phase_len + yy * pw);
        let (ev_dst, od_dst) = (
            base.add(ev.0 * phase_len + ev.1),
            base.add(od.0 * phase_len + od.1),
        );
        for x0 in (0..p.w).step_by(32) {
            let lo = _mm512_maskz_loadu_ps(lanes(x0, 0, p.w), row.add(x0));
            let hi = _mm512_maskz_loadu_ps(lanes(x0 + 16, 0, p.w), row.wrapping_add(x0 + 16));
            // entries q = x0 / 2 .. x0 / 2 + 16 of each
            let q = x0 / 2;
            _mm512_mask_storeu_ps(
                ev_dst.wrapping_add(q),
                lanes(q, 0, ev_n),
                _mm512_permutex2var_ps(lo, even, hi),
            );
            _mm512_mask_storeu_ps(
                od_dst.wrapping_add(q),
                lanes(q, 0, od_n),
                _mm512_permutex2var_ps(lo, odd, hi),
            );
        }
    }
}

/// V = Bᵀ·d·B for 16 tiles, `d[4r + s]` the patch entry (r, s): the
/// columns first (e = Bᵀ·d), then the rows (V = e·B), as `bt_runs` does.
#[inline(always)]
unsafe fn bt16(d: [__m512; 16]) -> [__m512; 16] {
    let (add, sub) = (_mm512_add_ps, _mm512_sub_ps);
    let mut e = [_mm512_setzero_ps(); 16];
    for s in 0..4 {
        let (d0, d1, d2, d3) = (d[s], d[4 + s], d[8 + s], d[12 + s]);
        e[s] = sub(d0, d2);
        e[4 + s] = add(d1, d2);
        e[8 + s] = sub(d2, d1);
        e[12 + s] = sub(d1, d3);
    }
    let mut v = [_mm512_setzero_ps(); 16];
    for i in 0..4 {
        let (e0, e1, e2, e3) = (e[4 * i], e[4 * i + 1], e[4 * i + 2], e[4 * i + 3]);
        v[4 * i] = sub(e0, e2);
        v[4 * i + 1] = add(e1, e2);
        v[4 * i + 2] = sub(e2, e1);
        v[4 * i + 3] = sub(e1, e3);
    }
    v
}

/// V for every (channel, tile) of `nb` images into `v`, packed as `lay`
/// says (tile t of image i is t + i·per_img of the group). The 16-tile steps
/// start at multiples of 16 of the group's numbering, so each lies inside
/// one panel: an image's first and last step are masked to its own tiles.
///
/// # Safety
/// The CPU has AVX-512 F, BW, DQ and VL; `lay.packed`.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) unsafe fn transform_input(
    x: &[f32],
    p: &Plan,
    nb: usize,
    v: &mut [f32],
    lay: VLayout,
    s: &mut RowScratch,
) {
    let (th, tw) = p.tiles();
    let (pw, per_img) = (tw + 1, th * (tw + 1));
    let phase_len = (th + 2) * pw;
    assert!(lay.packed && lay.total == nb * per_img && v.len() >= 16 * lay.step());
    s.rows.resize(4 * phase_len, 0.0);
    // the padding: every plane writes the same places, so zeros stay zeros
    s.rows.fill(0.0);
    // where patch entry (r, s) of tile 0 lies in the phases
    let entry: [usize; 16] = std::array::from_fn(|i| {
        let (r, col) = (i / 4, i % 4);
        ((r % 2) * 2 + col % 2) * phase_len + (r / 2) * pw + col / 2
    });
    let step = lay.step();
    for img in 0..nb {
        let (lo, hi) = (img * per_img, (img + 1) * per_img);
        for c in 0..p.cin {
            let plane = &x[(img * p.cin + c) * p.h * p.w..][..p.h * p.w];
            split_plane(plane, p, &mut s.rows);
            let rows = s.rows.as_ptr();
            let mut t0 = lo / 16 * 16;
            while t0 < hi {
                let k = lanes(t0, lo, hi);
                // lane j is tile t0 + j − lo of the image: the masked-off
                // lanes (other images' tiles) are neither read nor written
                let l = t0 as isize - lo as isize;
                let d = std::array::from_fn(|i| {
                    _mm512_maskz_loadu_ps(k, rows.wrapping_offset(entry[i] as isize + l))
                });
                let vv = bt16(d);
                let dst = v.as_mut_ptr().add(lay.at(c, t0));
                for (xi, val) in vv.into_iter().enumerate() {
                    _mm512_mask_storeu_ps(dst.add(xi * step), k, val);
                }
                t0 += 16;
            }
        }
    }
    lay.clear_tail(v);
}

/// Y from M (16 (cout, T) matrices, plain rows, [`spread`] apart) for `nb` images, with the
/// epilogue, into `out` (nb, cout, oh, ow), every value written. For each
/// (image, channel): 16 tiles at a time into two runs of (Y[r][0], Y[r][1])
/// pairs, tile after tile (r = 0, 1), then each output row copied out of
/// its run (the spare tile's pair and an odd width's last column dropped).
///
/// # Safety
/// The CPU has AVX-512 F, BW, DQ and VL.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) unsafe fn transform_output(
    m: &[f32],
    p: &Plan,
    nb: usize,
    epi: Epilogue<'_>,
    out: &mut [MaybeUninit<f32>],
    s: &mut RowScratch,
) {
    let (add, sub) = (_mm512_add_ps, _mm512_sub_ps);
    let (th, tw) = p.tiles();
    let (pw, per_img) = (tw + 1, th * (tw + 1));
    let total = nb * per_img;
    let plane = p.oh * p.ow;
    let mstep = spread(p.cout * total);
    assert!(m.len() >= 16 * mstep && out.len() == nb * p.cout * plane);
    // two runs of pairs, each whole 16-tile steps long (32 floats a step)
    let run = 2 * per_img.next_multiple_of(16);
    s.cols.resize(2 * run, 0.0);
    let y = s.cols.as_mut_ptr();
    // (a, b) → a0 b0 a1 b1 … of the low and the high eight lanes
    let lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    let hi_idx = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    for img in 0..nb {
        for o in 0..p.cout {
            let bias = _mm512_set1_ps(epi.bias.map_or(0.0, |b| b[o]));
            let act = |v: __m512| {
                let v = add(v, bias);
                // max(0, v) returns v where v is NaN, as `winograd::relu` does
                if epi.relu {
                    _mm512_max_ps(_mm512_setzero_ps(), v)
                } else {
                    v
                }
            };
            let mrow = m.as_ptr().add(o * total + img * per_img);
            for l in (0..per_img).step_by(16) {
                let k = lanes(l, 0, per_img);
                let mm: [__m512; 16] =
                    std::array::from_fn(|xi| _mm512_maskz_loadu_ps(k, mrow.add(xi * mstep + l)));
                // a0[j] = (Aᵀ·M)[0][j], a1[j] = (Aᵀ·M)[1][j]
                let a0: [__m512; 4] =
                    std::array::from_fn(|j| add(add(mm[j], mm[4 + j]), mm[8 + j]));
                let a1: [__m512; 4] =
                    std::array::from_fn(|j| sub(sub(mm[4 + j], mm[8 + j]), mm[12 + j]));
                for (r, a) in [a0, a1].iter().enumerate() {
                    let y0 = act(add(add(a[0], a[1]), a[2]));
                    let y1 = act(sub(sub(a[1], a[2]), a[3]));
                    let at = y.add(r * run + 2 * l);
                    _mm512_storeu_ps(at, _mm512_permutex2var_ps(y0, lo_idx, y1));
                    _mm512_storeu_ps(at.add(16), _mm512_permutex2var_ps(y0, hi_idx, y1));
                }
            }
            let dst = (out.as_mut_ptr() as *mut f32).add((img * p.cout + o) * plane);
            for oy in 0..p.oh {
                let src = y.add((oy % 2) * run + 2 * (oy / 2) * pw);
                let row = dst.add(oy * p.ow);
                for x0 in (0..p.ow).step_by(16) {
                    let k = lanes(x0, 0, p.ow);
                    let v = _mm512_maskz_loadu_ps(k, src.add(x0));
                    _mm512_mask_storeu_ps(row.add(x0), k, v);
                }
            }
        }
    }
}
