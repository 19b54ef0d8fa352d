//! Winograd F(2×2, 3×3): a 3×3, stride-1 convolution with 2.25× fewer
//! multiplies than the direct one (Lavin & Gray, "Fast Algorithms for
//! Convolutional Neural Networks", 2015).
//!
//! The output is cut into 2×2 tiles; tile (ty, tx) reads the 4×4 input patch
//! at (2·ty − padding, 2·tx − padding), zeros outside the image. With
//!   U = G·g·Gᵀ  (4×4, per output channel o and input channel c)
//!   V = Bᵀ·d·B  (4×4, per input channel c and tile t)
//! each tile's output is Y = Aᵀ·M·A with M = Σ_c U_oc ⊙ V_ct. Element by
//! element of the 4×4, that sum is a matrix product, so a group of images
//! costs 16 GEMMs M[ξ] (O, T) = U[ξ] (O, C) · V[ξ] (C, T), ξ = 0..16:
//! 16·O·C·T multiply-adds against im2col's 9·O·C·4·T. Where the CPU has
//! AVX-512 they run gemm.rs's microkernel on panels packed once (U per call,
//! V written in B's panel layout by the input transform, which with the
//! output transform lives in `winograd_avx512.rs`); elsewhere
//! matrixmultiply multiplies plain rows.
//!
//!   G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
//!   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]
//!   Aᵀ = [1 1 1 0; 0 1 −1 −1]
//!
//! Rounding: the transforms add and subtract up to four terms each way, so
//! results differ from the direct convolution by a few ulp of the largest
//! terms summed (the tests bound it at 1e-5 of the output's magnitude).
//!
//! The input-gradient pass of a 3×3 stride-1 convolution with padding p is
//! itself one: g (N, O, H', W') ⋆ w flipped in space and transposed to
//! (C, O, 3, 3), padding 2 − p, gives dx (N, C, H, W) ([`conv2d_input_grad`]).

use std::cell::RefCell;
use std::mem::MaybeUninit;

use ndarray::{ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

use super::gemm::{self, AlignedBuf, MR, NR};
use crate::backend::ConvGeometry;

/// Input channels below which im2col stays faster: with few channels the 16
/// products are too thin (K = C) to run at GEMM speed, and the transforms
/// cost more than the multiplies they save (the course's first conv, C = 1).
pub const MIN_CHANNELS: usize = 8;

/// Images transformed and multiplied together: enough tiles (T) per product
/// to keep the GEMM busy, few enough that V and M stay in cache
/// (16·(C + O)·T floats: 590 KB for the course's second conv at 2 images).
/// 4 images fill whole 32-tile panels there (224 tiles against 112, the
/// last panel half used, which the microkernel's 16-wide edge does not pay
/// for anyway) but made 25 tasks for 2 cores: no faster in op_bench.
const IMAGES_PER_TASK: usize = 2;

/// Whether the forward pass of `g` runs as Winograd.
pub fn applies(g: &ConvGeometry) -> bool {
    g.kh == 3 && g.kw == 3 && g.stride == 1 && g.c >= MIN_CHANNELS && g.o >= MIN_CHANNELS
}

/// Whether the input-gradient pass of `g` runs as Winograd (its convolution
/// has O input channels and padding 2 − p).
pub fn applies_to_input_grad(g: &ConvGeometry) -> bool {
    g.kh == 3 && g.kw == 3 && g.stride == 1 && g.padding <= 2 && g.o >= MIN_CHANNELS
}

/// One Winograd convolution: x (N, cin, h, w) → (N, cout, oh, ow).
#[derive(Clone, Copy)]
pub(super) struct Plan {
    pub(super) n: usize,
    pub(super) cin: usize,
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) cout: usize,
    pub(super) pad: usize,
    pub(super) oh: usize,
    pub(super) ow: usize,
}

impl Plan {
    /// Tile rows and columns (th, tw) of the output.
    pub(super) fn tiles(&self) -> (usize, usize) {
        (self.oh.div_ceil(2), self.ow.div_ceil(2))
    }
}

/// What the output pass adds: a per-channel bias, then ReLU.
#[derive(Clone, Copy, Default)]
pub struct Epilogue<'a> {
    pub bias: Option<&'a [f32]>,
    pub relu: bool,
}

/// ReLU as the element-wise op computes it (NaN stays NaN).
#[inline(always)]
pub(crate) fn relu(v: f32) -> f32 {
    if v < 0.0 {
        0.0
    } else {
        v
    }
}

/// U = G·g·Gᵀ for one 3×3 kernel `k` (row-major).
fn kernel_transform(k: [f32; 9]) -> [f32; 16] {
    // G·g: four rows of three
    let mut q = [[0.0f32; 3]; 4];
    for j in 0..3 {
        let (a, b, c) = (k[j], k[3 + j], k[6 + j]);
        q[0][j] = a;
        q[1][j] = 0.5 * (a + b + c);
        q[2][j] = 0.5 * (a - b + c);
        q[3][j] = c;
    }
    let mut u = [0.0f32; 16];
    for (i, r) in q.iter().enumerate() {
        u[4 * i] = r[0];
        u[4 * i + 1] = 0.5 * (r[0] + r[1] + r[2]);
        u[4 * i + 2] = 0.5 * (r[0] - r[1] + r[2]);
        u[4 * i + 3] = r[2];
    }
    u
}

/// The 16 (cout, cin) matrices U[ξ], ξ-major, from `kernel(o, c)`, the 3×3
/// kernel mapping input channel c to output channel o: plain rows, or
/// `packed` as gemm's microkernel reads A (panels of MR rows, k = c major,
/// the last panel's rows past cout zero), once per call instead of once per
/// product.
fn transform_weights(
    cout: usize,
    cin: usize,
    packed: bool,
    kernel: impl Fn(usize, usize) -> [f32; 9],
) -> Vec<f32> {
    let rows = if packed { cout.div_ceil(MR) * MR } else { cout };
    let mut u = vec![0.0f32; 16 * rows * cin];
    for o in 0..cout {
        for c in 0..cin {
            let at = if packed {
                (o / MR * cin + c) * MR + o % MR
            } else {
                o * cin + c
            };
            for (xi, v) in kernel_transform(kernel(o, c)).into_iter().enumerate() {
                u[xi * rows * cin + at] = v;
            }
        }
    }
    u
}

/// The distance between consecutive ones of the 16 matrices V[ξ] (or M[ξ])
/// of `len` floats: a whole number of 4 KB pages and one 64-byte line, so
/// that the 16 values of one tile, which the transforms read or write
/// together, fall in 16 different sets of the L1 cache (at a multiple of
/// 4 KB apart, as 64 × 112 floats are, they would all compete for one set).
pub(super) fn spread(len: usize) -> usize {
    len.next_multiple_of(1024) + 16
}

/// Where V[ξ] (cin, T) lies in the scratch, for each ξ one after another:
/// plain rows (c, t) for matrixmultiply, or `packed` as gemm's microkernel
/// reads B, so that no product packs it: ⌈T / NR⌉ panels of NR tiles, each
/// c-major (tile t of channel c at `(t / NR)·cin·NR + c·NR + t % NR`).
#[derive(Clone, Copy)]
pub(super) struct VLayout {
    pub(super) packed: bool,
    pub(super) cin: usize,
    pub(super) total: usize,
}

impl VLayout {
    /// From V[ξ] to V[ξ + 1]: see [`spread`].
    pub(super) fn step(&self) -> usize {
        spread(self.len())
    }

    /// Floats per V[ξ] (a whole number of 64-byte lines when packed).
    pub(super) fn len(&self) -> usize {
        if self.packed {
            self.total.div_ceil(NR) * NR * self.cin
        } else {
            self.cin * self.total
        }
    }

    /// Where tile t of channel c lies in V[ξ].
    pub(super) fn at(&self, c: usize, t: usize) -> usize {
        if self.packed {
            (t / NR * self.cin + c) * NR + t % NR
        } else {
            c * self.total + t
        }
    }

    /// How many tiles from t on lie next to each other.
    fn run(&self, t: usize) -> usize {
        if self.packed {
            NR - t % NR
        } else {
            self.total - t
        }
    }

    /// Zero the lanes past T that the microkernel reads (up to a multiple
    /// of 16): V's transform writes tiles 0..T only.
    pub(super) fn clear_tail(&self, v: &mut [f32]) {
        let lane = self.total % NR;
        if !self.packed || lane == 0 {
            return;
        }
        let end = lane.next_multiple_of(16);
        for xi in 0..16 {
            for c in 0..self.cin {
                v[xi * self.step() + self.at(c, self.total)..][..end - lane].fill(0.0);
            }
        }
    }
}

/// V = Bᵀ·d·B for one 4×4 patch `d` (row-major): the per-tile form of
/// [`transform_input`], kept as the tests' reference.
#[cfg(test)]
fn input_transform(d: &[f32; 16]) -> [f32; 16] {
    let mut t = [0.0f32; 16];
    for j in 0..4 {
        let (r0, r1, r2, r3) = (d[j], d[4 + j], d[8 + j], d[12 + j]);
        t[j] = r0 - r2;
        t[4 + j] = r1 + r2;
        t[8 + j] = r2 - r1;
        t[12 + j] = r1 - r3;
    }
    let mut v = [0.0f32; 16];
    for i in 0..4 {
        let r = &t[4 * i..4 * i + 4];
        v[4 * i] = r[0] - r[2];
        v[4 * i + 1] = r[1] + r[2];
        v[4 * i + 2] = r[2] - r[1];
        v[4 * i + 3] = r[1] - r[3];
    }
    v
}

/// Y = Aᵀ·M·A: the 2×2 outputs of one tile, row-major (the per-tile form
/// of [`transform_output`], kept as the tests' reference).
#[cfg(test)]
fn output_transform(m: &[f32; 16]) -> [f32; 4] {
    let mut a = [[0.0f32; 4]; 2];
    for j in 0..4 {
        a[0][j] = m[j] + m[4 + j] + m[8 + j];
        a[1][j] = m[4 + j] - m[8 + j] - m[12 + j];
    }
    [
        a[0][0] + a[0][1] + a[0][2],
        a[0][1] - a[0][2] - a[0][3],
        a[1][0] + a[1][1] + a[1][2],
        a[1][1] - a[1][2] - a[1][3],
    ]
}

/// Bᵀ's butterfly down four runs of tiles:
/// e = (d0 − d2, d1 + d2, d2 − d1, d1 − d3), element by element.
#[inline(always)]
fn bt_runs(d: [&[f32]; 4], e: [&mut [f32]; 4]) {
    let [e0, e1, e2, e3] = e;
    let n = e0.len();
    let (d0, d1, d2, d3) = (&d[0][..n], &d[1][..n], &d[2][..n], &d[3][..n]);
    let (e1, e2, e3) = (&mut e1[..n], &mut e2[..n], &mut e3[..n]);
    for t in 0..n {
        e0[t] = d0[t] - d2[t];
        e1[t] = d1[t] + d2[t];
        e2[t] = d2[t] - d1[t];
        e3[t] = d1[t] - d3[t];
    }
}

/// Aᵀ's down four runs: y = (m0 + m1 + m2, m1 − m2 − m3).
#[inline(always)]
fn at_runs(m: [&[f32]; 4], y: [&mut [f32]; 2]) {
    let [y0, y1] = y;
    let n = y0.len();
    let (m0, m1, m2, m3) = (&m[0][..n], &m[1][..n], &m[2][..n], &m[3][..n]);
    let y1 = &mut y1[..n];
    for t in 0..n {
        y0[t] = m0[t] + m1[t] + m2[t];
        y1[t] = m1[t] - m2[t] - m3[t];
    }
}

/// V for every (channel, tile) of `nb` images, laid out as `lay` says.
///
/// Tiles are numbered t = (image, ty, tx) row-major with one spare tile per
/// row (tx = tw, whose result is dropped), so that the 16 inputs of every
/// tile of an image are 16 contiguous runs: split the zero-padded plane into
/// its four phases P_ab[i][j] = x[2i + a − p][2j + b − p], and the patch
/// entry (r, s) of tile t is P_(r%2, s%2)[t + (r/2)·(tw + 1) + s/2]. The
/// transform is then whole-run arithmetic (Bᵀ·d down the columns, ·B along
/// the rows) that the compiler vectorizes.
fn transform_input_body(
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
    s.rows.resize(4 * phase_len, 0.0);
    s.cols.resize(16 * per_img, 0.0);
    // the padding: every plane writes the same places, so zeros stay zeros
    s.rows.fill(0.0);
    for img in 0..nb {
        for c in 0..p.cin {
            let plane = &x[(img * p.cin + c) * p.h * p.w..][..p.h * p.w];
            split_plane(plane, p, &mut s.rows);
            // e[4i + s] = (Bᵀ·d)[i][s] over every tile of the image
            let d = |r: usize, col: usize| {
                let at = ((r % 2) * 2 + col % 2) * phase_len + (r / 2) * pw + col / 2;
                &s.rows[at..at + per_img]
            };
            for col in 0..4 {
                let (e, _) = s.cols.split_at_mut(16 * per_img);
                let (e0, rest) = e[col * per_img..].split_at_mut(4 * per_img);
                let (e1, rest) = rest.split_at_mut(4 * per_img);
                let (e2, e3) = rest.split_at_mut(4 * per_img);
                bt_runs(
                    [d(0, col), d(1, col), d(2, col), d(3, col)],
                    [
                        &mut e0[..per_img],
                        &mut e1[..per_img],
                        &mut e2[..per_img],
                        &mut e3[..per_img],
                    ],
                );
            }
            // V[4i + k] = (e[i]·B)[k], written straight into V's layout
            // (a run cut where it crosses a panel)
            let step = lay.step();
            for i in 0..4 {
                let mut l = 0;
                while l < per_img {
                    let t = img * per_img + l;
                    let n = lay.run(t).min(per_img - l);
                    let e = |k: usize| &s.cols[(4 * i + k) * per_img + l..][..n];
                    let (v0, rest) = v[4 * i * step + lay.at(c, t)..].split_at_mut(step);
                    let (v1, rest) = rest.split_at_mut(step);
                    let (v2, v3) = rest.split_at_mut(step);
                    bt_runs(
                        [e(0), e(1), e(2), e(3)],
                        [&mut v0[..n], &mut v1[..n], &mut v2[..n], &mut v3[..n]],
                    );
                    l += n;
                }
            }
        }
    }
    lay.clear_tail(v);
}

/// One input plane (h, w) into its four phases P_ab, each (th + 2) rows of
/// tw + 1, `phase_len` apart in `rows`: only the places inside the image
/// are written (the same ones for every plane), the padding is left as it is.
#[inline(always)]
pub(super) fn split_plane(plane: &[f32], p: &Plan, rows: &mut [f32]) {
    let (th, tw) = p.tiles();
    let pw = tw + 1;
    let phase_len = (th + 2) * pw;
    for (iy, row) in plane.chunks_exact(p.w.max(1)).enumerate() {
        let (a, yy) = ((iy + p.pad) % 2, (iy + p.pad) / 2);
        if yy >= th + 2 {
            break;
        }
        let (even, odd) = rows[2 * a * phase_len..][..2 * phase_len].split_at_mut(phase_len);
        let (even, odd) = (&mut even[yy * pw..][..pw], &mut odd[yy * pw..][..pw]);
        split_row(row, p.pad, even, odd);
    }
}

/// One input row into its two phase rows: column ix goes to the phase of
/// parity (ix + pad) % 2, at (ix + pad) / 2; entries past the phase rows'
/// length are not needed. Read in pairs (ix, ix + 1), which the compiler
/// turns into whole-vector shuffles, straight from the input.
#[inline(always)]
fn split_row(row: &[f32], pad: usize, even: &mut [f32], odd: &mut [f32]) {
    // where row[0] and row[1] land
    let ((first, of), (second, os)) = if pad % 2 == 0 {
        ((even, pad / 2), (odd, pad / 2))
    } else {
        ((odd, pad / 2), (even, pad / 2 + 1))
    };
    let (of, os) = (of.min(first.len()), os.min(second.len()));
    let mut n = 0;
    for ((f, s), pair) in first[of..]
        .iter_mut()
        .zip(second[os..].iter_mut())
        .zip(row.chunks_exact(2))
    {
        (*f, *s) = (pair[0], pair[1]);
        n += 1;
    }
    // the pair cut short by the second phase's end, or an odd width's last column
    if let (Some(f), Some(&v)) = (first.get_mut(of + n), row.get(2 * n)) {
        *f = v;
    }
}

/// V for `nb` images, laid out as `lay` says: the AVX-512 build (packed
/// layout) when `wide`, else the portable one.
fn transform_input(
    x: &[f32],
    p: &Plan,
    nb: usize,
    v: &mut [f32],
    lay: VLayout,
    s: &mut RowScratch,
    wide: bool,
) {
    #[cfg(target_arch = "x86_64")]
    if wide {
        debug_assert!(lay.packed);
        // SAFETY: `wide` only where the CPU has AVX-512 (`Gemm::pick`)
        return unsafe { super::winograd_avx512::transform_input(x, p, nb, v, lay, s) };
    }
    let _ = wide;
    transform_input_body(x, p, nb, v, lay, s);
}

/// Y from M for `nb` images, with the epilogue, into `out` (nb, cout, oh, ow).
///
/// Whole-run arithmetic over the tiles as in [`transform_input`]: Aᵀ·M·A
/// for every tile of an image, then the 2×2 results are laid into the
/// output rows (spare tiles dropped), bias and ReLU applied on the way.
fn transform_output_body(
    m: &[f32],
    p: &Plan,
    nb: usize,
    epi: Epilogue<'_>,
    out: &mut [MaybeUninit<f32>],
    s: &mut RowScratch,
) {
    let (th, tw) = p.tiles();
    let (pw, per_img) = (tw + 1, th * (tw + 1));
    let total = nb * per_img;
    let mstep = spread(p.cout * total);
    let plane = p.oh * p.ow;
    s.rows.resize(8 * per_img, 0.0);
    s.cols.resize(4 * per_img, 0.0);
    for img in 0..nb {
        for o in 0..p.cout {
            let mp = |xi: usize| &m[xi * mstep + o * total + img * per_img..][..per_img];
            // a[j] = (Aᵀ·M)[0][j], a[4 + j] = (Aᵀ·M)[1][j]
            for j in 0..4 {
                let (m0, m1, m2, m3) = (mp(j), mp(4 + j), mp(8 + j), mp(12 + j));
                let (a0, a1) = s.rows.split_at_mut(4 * per_img);
                at_runs(
                    [m0, m1, m2, m3],
                    [
                        &mut a0[j * per_img..][..per_img],
                        &mut a1[j * per_img..][..per_img],
                    ],
                );
            }
            // y[2r + k] = (Aᵀ·M·A)[r][k]
            for r in 0..2 {
                let a = |j: usize| &s.rows[(4 * r + j) * per_img..][..per_img];
                let (y0, y1) = s.cols[2 * r * per_img..][..2 * per_img].split_at_mut(per_img);
                at_runs([a(0), a(1), a(2), a(3)], [y0, y1]);
            }
            let bias = epi.bias.map_or(0.0, |b| b[o]);
            let act = |y: f32| MaybeUninit::new(if epi.relu { relu(y + bias) } else { y + bias });
            let dst = &mut out[(img * p.cout + o) * plane..][..plane];
            for (oy, row) in dst.chunks_exact_mut(p.ow.max(1)).enumerate() {
                let r = oy % 2;
                let first = (oy / 2) * pw;
                let y0 = &s.cols[2 * r * per_img + first..][..tw];
                let y1 = &s.cols[(2 * r + 1) * per_img + first..][..tw];
                let mut pairs = row.chunks_exact_mut(2);
                for ((pair, &a), &b) in (&mut pairs).zip(y0).zip(y1) {
                    pair[0] = act(a);
                    pair[1] = act(b);
                }
                if let [last] = pairs.into_remainder() {
                    *last = act(y0[tw - 1]); // odd width
                }
            }
        }
    }
}

/// Y from M into `out`, every value written: the AVX-512 build when
/// `wide`, else the portable one.
fn transform_output(
    m: &[f32],
    p: &Plan,
    nb: usize,
    epi: Epilogue<'_>,
    out: &mut [MaybeUninit<f32>],
    s: &mut RowScratch,
    wide: bool,
) {
    #[cfg(target_arch = "x86_64")]
    if wide {
        // SAFETY: `wide` only where the CPU has AVX-512 (`Gemm::pick`)
        return unsafe { super::winograd_avx512::transform_output(m, p, nb, epi, out, s) };
    }
    let _ = wide;
    transform_output_body(m, p, nb, epi, out, s);
}

/// Row buffers of the transforms.
#[derive(Default)]
pub(super) struct RowScratch {
    pub(super) rows: Vec<f32>,
    pub(super) cols: Vec<f32>,
}

/// Per-thread scratch: V and M of one group of images, kept for the next
/// group and the next call (no zero-filled buffers per group).
#[derive(Default)]
struct Scratch {
    v: AlignedBuf,
    m: Vec<f32>,
    rows: RowScratch,
}

/// This thread's scratch, or a fresh one if it is in use (never the case
/// today: nothing inside a group starts another convolution).
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    thread_local! {
        static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
    }
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut Scratch::default()),
    })
}

/// Who multiplies: gemm's AVX-512 microkernel over panels packed once
/// (U per call, V as transformed), with the AVX-512 transforms; or, on
/// other CPUs or with `use_avx512(false)`, matrixmultiply over plain rows
/// and the portable transforms.
#[derive(Clone, Copy, PartialEq)]
enum Gemm {
    Packed,
    Portable,
}

impl Gemm {
    fn pick() -> Gemm {
        if super::avx512() && gemm::available() {
            Gemm::Packed
        } else {
            Gemm::Portable
        }
    }
}

/// Run `p` with transformed weights `u` (16 (cout, cin) matrices, packed
/// for `how`).
fn run(x: &[f32], u: &[f32], p: &Plan, epi: Epilogue<'_>, how: Gemm) -> Vec<f32> {
    let (th, tw) = p.tiles();
    let (in_img, out_img) = (p.cin * p.h * p.w, p.cout * p.oh * p.ow);
    let len = p.n * out_img;
    let mut out: Vec<f32> = Vec::with_capacity(len);
    if len == 0 {
        return out;
    }
    let packed = how == Gemm::Packed;
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(IMAGES_PER_TASK * out_img)
        .enumerate()
        .for_each(|(i, out)| {
            with_scratch(|s| {
                let first = i * IMAGES_PER_TASK;
                let nb = out.len() / out_img;
                let total = nb * th * (tw + 1); // a spare tile per row
                let lay = VLayout {
                    packed,
                    cin: p.cin,
                    total,
                };
                let v = s.v.slice(16 * lay.step());
                let mlen = 16 * spread(p.cout * total);
                if s.m.len() < mlen {
                    s.m.resize(mlen, 0.0);
                }
                let x = &x[first * in_img..(first + nb) * in_img];
                transform_input(x, p, nb, v, lay, &mut s.rows, packed);
                multiply(u, v, &mut s.m, p, lay, how);
                transform_output(&s.m, p, nb, epi, out, &mut s.rows, packed);
            })
        });
    // SAFETY: the output pass wrote every value of every chunk
    unsafe { out.set_len(len) };
    out
}

/// M[ξ] (cout, T) = U[ξ] (cout, cin) · V[ξ] (cin, T) for ξ = 0..16, into
/// `m` as plain rows, [`spread`] apart.
fn multiply(u: &[f32], v: &[f32], m: &mut [f32], p: &Plan, lay: VLayout, how: Gemm) {
    let total = lay.total;
    let (ulen, mlen, mstep) = (u.len() / 16, p.cout * total, spread(p.cout * total));
    for xi in 0..16 {
        let (u, v) = (&u[xi * ulen..][..ulen], &v[xi * lay.step()..][..lay.len()]);
        let m = &mut m[xi * mstep..][..mlen];
        if how == Gemm::Packed {
            // SAFETY: `Gemm::pick` checked `gemm::available()`; u holds
            // ⌈cout / MR⌉ panels of cin × MR, v ⌈T / NR⌉ panels of cin × NR
            // from a 64-byte line (AlignedBuf, and lay.step() is a multiple
            // of 16), with zeros past T; m holds cout rows of T
            unsafe {
                gemm::packed_product(
                    p.cout,
                    p.cin,
                    total,
                    u.as_ptr(),
                    v.as_ptr(),
                    m.as_mut_ptr(),
                    total,
                )
            };
        } else {
            let a = ArrayView2::from_shape((p.cout, p.cin), u).expect("sized by the plan");
            let b = ArrayView2::from_shape((p.cin, total), v).expect("sized by the plan");
            let c = ArrayViewMut2::from_shape((p.cout, total), m).expect("sized by the plan");
            super::matmul::matmul_into(a, b, c);
        }
    }
}

/// x (N, C, H, W) ⋆ w (O, C, 3, 3), stride 1, then the epilogue: the
/// (N, O, H', W') output, row-major. The caller checked [`applies`].
pub fn conv2d(x: &[f32], w: &[f32], g: &ConvGeometry, epi: Epilogue<'_>) -> Vec<f32> {
    let how = Gemm::pick();
    let u = transform_weights(g.o, g.c, how == Gemm::Packed, |o, c| {
        w[(o * g.c + c) * 9..][..9].try_into().expect("nine taps")
    });
    let plan = Plan {
        n: g.n,
        cin: g.c,
        h: g.h,
        w: g.w,
        cout: g.o,
        pad: g.padding,
        oh: g.oh,
        ow: g.ow,
    };
    run(x, &u, &plan, epi, how)
}

/// dx (N, C, H, W) of the convolution `g` from its output gradient
/// `grad` (N, O, H', W'): the 3×3 convolution of `grad` with w flipped and
/// transposed, padding 2 − p. The caller checked [`applies_to_input_grad`].
pub fn conv2d_input_grad(grad: &[f32], w: &[f32], g: &ConvGeometry) -> Vec<f32> {
    let how = Gemm::pick();
    let u = transform_weights(g.c, g.o, how == Gemm::Packed, |c, o| {
        let k = &w[(o * g.c + c) * 9..][..9];
        std::array::from_fn(|i| k[8 - i])
    });
    let plan = Plan {
        n: g.n,
        cin: g.o,
        h: g.oh,
        w: g.ow,
        cout: g.c,
        pad: 2 - g.padding,
        oh: g.h,
        ow: g.w,
    };
    run(grad, &u, &plan, Epilogue::default(), how)
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::backend::cpu::conv::{conv2d_backward_im2col, conv2d_im2col};
    use crate::backend::cpu::random_array as random;

    /// |got − want| ≤ 1e-5 · max|want| (+ a floor for all-zero outputs):
    /// Winograd's transforms round differently from a direct sum, by a few
    /// ulp of the largest values summed, never relative to each element.
    fn assert_close(what: &str, got: &[f32], want: &[f32]) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        let scale = want.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-5 * scale,
                "{what}[{i}]: {g} vs {w} (scale {scale})"
            );
        }
    }

    /// The plain build (portable transforms, matrixmultiply) also matches
    /// `want`. Not to the bit against the AVX-512 build any more: that one
    /// multiplies with gemm's microkernel, whose k-sums round differently
    /// from matrixmultiply's (the transforms themselves still do the same
    /// adds and subtracts in the same order). Other tests running meanwhile
    /// may take the plain build too, which they check the same way.
    fn assert_plain_close(what: &str, want: &[f32], run: impl Fn() -> Vec<f32>) {
        crate::backend::cpu::use_avx512(false);
        let plain = run();
        crate::backend::cpu::use_avx512(true);
        assert_close(&format!("{what} (plain build)"), &plain, want);
    }

    #[test]
    fn winograd_matches_im2col_on_random_shapes() {
        let mut rng = StdRng::seed_from_u64(11);
        for case in 0..44 {
            // sizes that are not multiples of the 2×2 tile, of the images
            // per task, of the microkernel's MR × NR tile (channels past
            // three panels of 12, tiles per group past several panels of 32)
            // or of matrixmultiply's blocks; the last cases have more input
            // channels than gemm's k block (384) in the forward pass, then
            // in the input gradient's
            let (n, c, o) = match case {
                40 => (2, 390, 9),
                41 => (1, 9, 390),
                _ => (
                    rng.random_range(1..6),
                    rng.random_range(8..41),
                    rng.random_range(8..41),
                ),
            };
            let pad = rng.random_range(0..3);
            let (h, w) = (
                rng.random_range(3 - 2 * pad.min(1)..16),
                rng.random_range(3 - 2 * pad.min(1)..16),
            );
            let g = ConvGeometry::new(&[n, c, h, w], o, (3, 3), c, 1, pad).expect("geometry");
            assert!(applies(&g) && applies_to_input_grad(&g));
            let (x, k) = (
                random(&mut rng, &[n, c, h, w]),
                random(&mut rng, &[o, c, 3, 3]),
            );
            let bias: Vec<f32> = (0..o).map(|_| rng.random_range(-1.0..1.0)).collect();
            let name = format!("case {case}: x {:?} o {o} pad {pad}", [n, c, h, w]);
            for epi in [
                Epilogue::default(),
                Epilogue {
                    bias: Some(&bias),
                    relu: true,
                },
            ] {
                let want = conv2d_im2col(&x, &k, &g, epi);
                let run = || {
                    conv2d(
                        x.as_slice().expect("contiguous"),
                        k.as_slice().expect("contiguous"),
                        &g,
                        epi,
                    )
                };
                let want = want.as_slice().expect("contiguous");
                assert_close(&format!("{name} out"), &run(), want);
                assert_plain_close(&format!("{name} out"), want, run);
            }
            let gy = random(&mut rng, &g.out_shape());
            let (want, _) = conv2d_backward_im2col(&x, &k, &gy, &g, true, false);
            let run = || {
                conv2d_input_grad(
                    gy.as_slice().expect("contiguous"),
                    k.as_slice().expect("contiguous"),
                    &g,
                )
            };
            let want = want.expect("dx");
            let want = want.as_slice().expect("contiguous");
            assert_close(&format!("{name} dx"), &run(), want);
            assert_plain_close(&format!("{name} dx"), want, run);
        }
    }

    /// The AVX-512 transforms (16 tiles a step, V in panels) give the
    /// portable ones' values to the bit, on every tile of every image of a
    /// group, for sizes that are not multiples of the 16-tile step or of a
    /// panel; V's lanes past the group that the microkernel reads are zero.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx512_transforms_match_the_portable_ones_to_the_bit() {
        use crate::backend::cpu::winograd_avx512 as wide;
        // not `cpu::avx512()`, which another test may have turned off meanwhile
        if !crate::backend::cpu::cpu_has_avx512() {
            eprintln!("skipped: this CPU lacks one of AVX-512 F, BW, DQ, VL");
            return;
        }
        let mut rng = StdRng::seed_from_u64(5);
        for case in 0..40 {
            let (nb, cin, cout) = (
                rng.random_range(1..4),
                rng.random_range(1..20),
                rng.random_range(1..20),
            );
            let pad = rng.random_range(0..3);
            // rows past the 32 columns of one split step too
            let (h, w) = (
                rng.random_range(3 - 2 * pad.min(1)..16),
                rng.random_range(3 - 2 * pad.min(1)..40),
            );
            let (oh, ow) = (h + 2 * pad - 2, w + 2 * pad - 2);
            let p = Plan {
                n: nb,
                cin,
                h,
                w,
                cout,
                pad,
                oh,
                ow,
            };
            let name = format!("case {case}: {nb} × {cin} × {h} × {w} → {cout}, pad {pad}");
            let (th, tw) = p.tiles();
            let total = nb * th * (tw + 1);
            let x = random(&mut rng, &[nb * cin * h * w]);
            let x = x.as_slice().expect("contiguous");
            let plain = VLayout {
                packed: false,
                cin,
                total,
            };
            let packed = VLayout {
                packed: true,
                ..plain
            };
            let mut want = vec![f32::NAN; 16 * plain.step()];
            transform_input_body(x, &p, nb, &mut want, plain, &mut RowScratch::default());
            let mut buf = AlignedBuf::default();
            let got = buf.slice(16 * packed.step());
            got.fill(f32::NAN);
            // SAFETY: the CPU has AVX-512 (checked above)
            unsafe { wide::transform_input(x, &p, nb, got, packed, &mut RowScratch::default()) };
            for xi in 0..16 {
                for c in 0..cin {
                    for t in 0..total.next_multiple_of(16) {
                        let g = got[xi * packed.step() + packed.at(c, t)];
                        if t >= total {
                            assert_eq!(g, 0.0, "{name}: V[{xi}] lane {t} past the tiles");
                            continue;
                        }
                        let w = want[xi * plain.step() + plain.at(c, t)];
                        assert_eq!(g.to_bits(), w.to_bits(), "{name}: V[{xi}] ({c}, {t})");
                    }
                }
            }
            let m = random(&mut rng, &[16 * spread(cout * total)]);
            let m = m.as_slice().expect("contiguous");
            let bias: Vec<f32> = (0..cout).map(|_| rng.random_range(-1.0..1.0)).collect();
            for epi in [
                Epilogue::default(),
                Epilogue {
                    bias: Some(&bias),
                    relu: true,
                },
            ] {
                let len = nb * cout * oh * ow;
                let mut outs = [Vec::with_capacity(len), Vec::with_capacity(len)];
                for (i, out) in outs.iter_mut().enumerate() {
                    let (dst, s) = (
                        &mut out.spare_capacity_mut()[..len],
                        &mut RowScratch::default(),
                    );
                    if i == 0 {
                        transform_output_body(m, &p, nb, epi, dst, s);
                    } else {
                        // SAFETY: as above
                        unsafe { wide::transform_output(m, &p, nb, epi, dst, s) };
                    }
                    // SAFETY: both write every value
                    unsafe { out.set_len(len) };
                }
                let [want, got]: [Vec<f32>; 2] = outs;
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert_eq!(g.to_bits(), w.to_bits(), "{name}: Y[{i}] {g} vs {w}");
                }
            }
        }
    }

    #[test]
    fn kernel_transform_of_a_delta_picks_one_tap() {
        // the centre tap alone: every 4×4 input patch's inner 2×2 comes out
        let mut k = [0.0f32; 9];
        k[4] = 1.0;
        let u = kernel_transform(k);
        let d: [f32; 16] = std::array::from_fn(|i| i as f32);
        let v = input_transform(&d);
        let m: [f32; 16] = std::array::from_fn(|i| u[i] * v[i]);
        assert_eq!(output_transform(&m), [5.0, 6.0, 9.0, 10.0]);
    }
}
