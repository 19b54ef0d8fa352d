//! The weight gradient of a 3×3, stride-1 convolution by Winograd
//! F(2×2, 3×3): half the multiplies of the direct dw (Lavin & Gray 2015,
//! the same transforms as the forward in `winograd.rs`).
//!
//! x (N, C, H, W), gy (N, O, H', W') → dw (O, C, 3, 3). The forward pass
//! of one 2×2 output tile t is Y_t = Aᵀ·(U ⊙ V_t)·A with U = G·w·Gᵀ and
//! V_t = Bᵀ·d_t·B (d_t the tile's 4×4 input patch, zeros outside the
//! image). Y_t is linear in U, so with GY_t = A·gy_t·Aᵀ (4×4, gy_t the
//! tile's 2×2 output gradient, zeros past H' or W'):
//!   dU[ξ] (O, C) = Σ_t GY[ξ] (O, t) · V[ξ] (C, t)     ξ = 0..16
//!   dw[o, c]     = Gᵀ · dU[o, c] · G                   (3×3)
//! 16 products with k = the number of tiles: 16·O·C·T multiply-adds against
//! the direct 9·O·C·4·T.
//!
//! Layouts, so that the products need no packing:
//! - V is channel-minor, v[(ξ·T + t)·Cp + c] with Cp = C rounded up to 16:
//!   each image is first turned into a zero-padded (H, W, C) copy, and the
//!   transform then works on 16 channels at a time. These are the
//!   microkernel's vector loads.
//! - GY is tile-minor, gw[(ξ·O + o)·T + t]: the output gradient's planes are
//!   split into their four 2×2 phases and transformed as whole runs of
//!   tiles (as `winograd.rs` does its input). These are the microkernel's
//!   broadcasts, O rows read side by side.
//! A is used with its last row's sign flipped (so the transform is adds
//! only); dU's entries in that row or column are negated back at the end.
//!
//! Order: images go in fixed chunks of [`IMAGES_PER_CHUNK`], each summing
//! its own dU over its images in order (steps of [`IMAGES_PER_STEP`]), and
//! the chunks' dU are added in chunk order, so dw does not depend on the
//! number of threads. Rounding: dw differs from the direct sum by a few ulp
//! of the sum of |products| (the tests bound it).

use std::cell::RefCell;

use ndarray::{ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

use crate::backend::ConvGeometry;

/// Images whose tiles are transformed together and multiplied as one k
/// block: their V and GY (16·(Cp + O)·T floats, 600 KB for the course's
/// second conv) stay in the L2 cache.
const IMAGES_PER_STEP: usize = 2;

/// Images per partial dU: fixed, not tied to the thread count, so dw is
/// summed in the same order on every machine. 10 chunks for a batch of 100.
const IMAGES_PER_CHUNK: usize = 10;

/// Channels per vector (AVX-512: 16 f32 lanes).
const LANES: usize = 16;

/// Whether dw of `g` runs here: where the forward runs as Winograd.
pub fn applies(g: &ConvGeometry) -> bool {
    super::winograd::applies(g)
}

/// Sizes of one weight gradient.
#[derive(Clone, Copy)]
struct Plan {
    c: usize,
    /// C rounded up to a multiple of [`LANES`]
    cp: usize,
    o: usize,
    h: usize,
    w: usize,
    pad: usize,
    oh: usize,
    ow: usize,
    /// tile rows and columns
    th: usize,
    tw: usize,
    /// the padded (H, W, C) copy's rows and columns: every tile's patch
    hp: usize,
    wp: usize,
}

impl Plan {
    fn new(g: &ConvGeometry) -> Self {
        let (th, tw) = (g.oh.div_ceil(2), g.ow.div_ceil(2));
        Plan {
            c: g.c,
            cp: g.c.next_multiple_of(LANES),
            o: g.o,
            h: g.h,
            w: g.w,
            pad: g.padding,
            oh: g.oh,
            ow: g.ow,
            th,
            tw,
            hp: 2 * th + 2,
            wp: 2 * tw + 2,
        }
    }

    /// Tiles per image.
    fn tiles(&self) -> usize {
        self.th * self.tw
    }

    /// Floats in one dU: 16 (O, Cp) matrices.
    fn du_len(&self) -> usize {
        16 * self.o * self.cp
    }
}

/// Where the products run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Path {
    /// our AVX-512 microkernel, transforms compiled for AVX-512
    Avx512,
    /// matrixmultiply, transforms compiled for the baseline CPU
    Portable,
}

fn path() -> Path {
    if super::avx512() && super::gemm::available() {
        Path::Avx512
    } else {
        Path::Portable
    }
}

/// dw (O, C, 3, 3), row-major, of the convolution `g` (3×3, stride 1: the
/// caller checked [`applies`]) from its input `x` (N, C, H, W) and output
/// gradient `grad` (N, O, H', W').
pub fn conv2d_weight_grad(x: &[f32], grad: &[f32], g: &ConvGeometry) -> Vec<f32> {
    weight_grad(x, grad, g, path())
}

fn weight_grad(x: &[f32], grad: &[f32], g: &ConvGeometry, path: Path) -> Vec<f32> {
    let p = Plan::new(g);
    let mut dw = vec![0.0f32; g.o * g.c * 9];
    let chunks = g.n.div_ceil(IMAGES_PER_CHUNK);
    if chunks == 0 || p.tiles() == 0 || dw.is_empty() {
        return dw;
    }
    let mut partials = vec![0.0f32; chunks * p.du_len()];
    partials
        .par_chunks_mut(p.du_len())
        .enumerate()
        .for_each(|(i, du)| {
            let first = i * IMAGES_PER_CHUNK;
            let images = IMAGES_PER_CHUNK.min(g.n - first);
            with_scratch(|s| chunk(x, grad, &p, (first, images), du, s, path));
        });
    let (du, rest) = partials.split_at_mut(p.du_len());
    for more in rest.chunks_exact(p.du_len()) {
        du.iter_mut().zip(more).for_each(|(a, b)| *a += b);
    }
    for o in 0..p.o {
        for c in 0..p.c {
            let m: [f32; 16] = std::array::from_fn(|xi| {
                let v = du[(xi * p.o + o) * p.cp + c];
                // A's last row was used with its sign flipped
                if (xi / 4 == 3) != (xi % 4 == 3) {
                    -v
                } else {
                    v
                }
            });
            dw[(o * p.c + c) * 9..][..9].copy_from_slice(&gt_m_g(&m));
        }
    }
    dw
}

/// Gᵀ·M·G for one 4×4 `m` (row-major): the 3×3 kernel gradient.
fn gt_m_g(m: &[f32; 16]) -> [f32; 9] {
    // Gᵀ·M: three rows of four
    let mut r = [[0.0f32; 4]; 3];
    for j in 0..4 {
        let (m0, m1, m2, m3) = (m[j], m[4 + j], m[8 + j], m[12 + j]);
        r[0][j] = m0 + 0.5 * (m1 + m2);
        r[1][j] = 0.5 * (m1 - m2);
        r[2][j] = 0.5 * (m1 + m2) + m3;
    }
    let mut out = [0.0f32; 9];
    for (i, r) in r.iter().enumerate() {
        out[3 * i] = r[0] + 0.5 * (r[1] + r[2]);
        out[3 * i + 1] = 0.5 * (r[1] - r[2]);
        out[3 * i + 2] = 0.5 * (r[1] + r[2]) + r[3];
    }
    out
}

/// Per-thread buffers, kept between calls.
#[derive(Default)]
struct Scratch {
    /// one image as a zero-padded (hp, wp, Cp) block
    xt: Vec<f32>,
    /// V of one step: (16, T, Cp)
    v: Vec<f32>,
    /// GY of one step: (16, O, T)
    gw: Vec<f32>,
    /// one output channel's four phase planes over the step's tiles, then
    /// the transform's two middle rows: (8, T)
    phases: Vec<f32>,
}

fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    thread_local! {
        static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
    }
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut Scratch::default()),
    })
}

/// dU of images first..first + images into `du`, one step at a time.
fn chunk(
    x: &[f32],
    grad: &[f32],
    p: &Plan,
    (first, images): (usize, usize),
    du: &mut [f32],
    s: &mut Scratch,
    path: Path,
) {
    let (in_img, out_img) = (p.c * p.h * p.w, p.o * p.oh * p.ow);
    for (step, at) in (first..first + images).step_by(IMAGES_PER_STEP).enumerate() {
        let nb = IMAGES_PER_STEP.min(first + images - at);
        let t = nb * p.tiles();
        s.v.resize(16 * t * p.cp, 0.0);
        s.gw.resize(16 * p.o * t, 0.0);
        s.phases.resize(8 * t, 0.0);
        s.xt.resize(p.hp * p.wp * p.cp, 0.0);
        let x = &x[at * in_img..(at + nb) * in_img];
        let grad = &grad[at * out_img..(at + nb) * out_img];
        match path {
            Path::Avx512 => {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `path()` checked the CPU has AVX-512
                unsafe {
                    transform_avx512(x, grad, p, nb, s)
                };
            }
            Path::Portable => transform_body(x, grad, p, nb, s),
        }
        products(p, t, &s.v, &s.gw, du, step == 0, path);
    }
}

/// Both transforms of one step, compiled for AVX-512.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn transform_avx512(x: &[f32], grad: &[f32], p: &Plan, nb: usize, s: &mut Scratch) {
    transform_body(x, grad, p, nb, s);
}

#[inline(always)]
fn transform_body(x: &[f32], grad: &[f32], p: &Plan, nb: usize, s: &mut Scratch) {
    let t = nb * p.tiles();
    for img in 0..nb {
        let x = &x[img * p.c * p.h * p.w..][..p.c * p.h * p.w];
        transpose_padded(x, p, &mut s.xt);
        transform_input(&s.xt, p, img * p.tiles(), t, &mut s.v);
    }
    transform_grad(grad, p, nb, &mut s.phases, &mut s.gw);
}

/// One image x (C, H, W) as `xt` (hp, wp, Cp): entry (r, s, c) is
/// x[c][r − pad][s − pad], zero outside the image and past C.
#[inline(always)]
fn transpose_padded(x: &[f32], p: &Plan, xt: &mut [f32]) {
    xt.fill(0.0);
    let rows = p.h.min(p.hp.saturating_sub(p.pad));
    let cols = p.w.min(p.wp.saturating_sub(p.pad));
    for c in 0..p.c {
        let plane = &x[c * p.h * p.w..][..p.h * p.w];
        for iy in 0..rows {
            let src = &plane[iy * p.w..][..cols];
            let dst = &mut xt[((iy + p.pad) * p.wp + p.pad) * p.cp + c..];
            for (ix, &v) in src.iter().enumerate() {
                dst[ix * p.cp] = v;
            }
        }
    }
}

type Lanes = [f32; LANES];

#[inline(always)]
fn lanes(s: &[f32]) -> Lanes {
    s[..LANES].try_into().expect("LANES values")
}

#[inline(always)]
fn sub(a: Lanes, b: Lanes) -> Lanes {
    std::array::from_fn(|i| a[i] - b[i])
}

#[inline(always)]
fn add(a: Lanes, b: Lanes) -> Lanes {
    std::array::from_fn(|i| a[i] + b[i])
}

/// V = Bᵀ·d·B of every tile of one image, 16 channels at a time, into
/// v[(ξ·T + t)·Cp + c] for t = t0.. (the image's tiles, row-major).
#[inline(always)]
fn transform_input(xt: &[f32], p: &Plan, t0: usize, t_all: usize, v: &mut [f32]) {
    let cp = p.cp;
    for ty in 0..p.th {
        for tx in 0..p.tw {
            let t = t0 + ty * p.tw + tx;
            for c0 in (0..cp).step_by(LANES) {
                let d =
                    |i: usize, j: usize| lanes(&xt[((2 * ty + i) * p.wp + 2 * tx + j) * cp + c0..]);
                // e = Bᵀ·d, row by row
                let mut e = [[[0.0f32; LANES]; 4]; 4];
                for j in 0..4 {
                    let (d0, d1, d2, d3) = (d(0, j), d(1, j), d(2, j), d(3, j));
                    e[0][j] = sub(d0, d2);
                    e[1][j] = add(d1, d2);
                    e[2][j] = sub(d2, d1);
                    e[3][j] = sub(d1, d3);
                }
                for (i, e) in e.iter().enumerate() {
                    let out = [
                        sub(e[0], e[2]),
                        add(e[1], e[2]),
                        sub(e[2], e[1]),
                        sub(e[1], e[3]),
                    ];
                    for (j, o) in out.iter().enumerate() {
                        let at = ((4 * i + j) * t_all + t) * cp + c0;
                        v[at..at + LANES].copy_from_slice(o);
                    }
                }
            }
        }
    }
}

/// GY' = A'·gy·A'ᵀ of every tile of the step's `nb` images, a whole run of
/// tiles at a time, into gw[(ξ·O + o)·T + t]. A' is A with its last row
/// negated: each 2-vector (a, b) becomes (a, a + b, a − b, b).
#[inline(always)]
fn transform_grad(grad: &[f32], p: &Plan, nb: usize, ph: &mut [f32], gw: &mut [f32]) {
    let (per_img, plane) = (p.tiles(), p.oh * p.ow);
    let t = nb * per_img;
    let (ph, mid) = ph.split_at_mut(4 * t);
    for o in 0..p.o {
        // the four phases P_ab[t] = gy[2ty + a][2tx + b], zero past the edges
        for img in 0..nb {
            let gy = &grad[(img * p.o + o) * plane..][..plane];
            for ty in 0..p.th {
                for a in 0..2 {
                    let oy = 2 * ty + a;
                    let at = img * per_img + ty * p.tw;
                    let (even, odd) = ph[2 * a * t..][..2 * t].split_at_mut(t);
                    let (even, odd) = (&mut even[at..][..p.tw], &mut odd[at..][..p.tw]);
                    if oy >= p.oh {
                        even.fill(0.0);
                        odd.fill(0.0);
                        continue;
                    }
                    let row = &gy[oy * p.ow..][..p.ow];
                    let mut n = 0;
                    for ((e, d), pair) in
                        even.iter_mut().zip(odd.iter_mut()).zip(row.chunks_exact(2))
                    {
                        (*e, *d) = (pair[0], pair[1]);
                        n += 1;
                    }
                    if n < p.tw {
                        // odd width: the last tile's second column is past the edge
                        (even[n], odd[n]) = (row[2 * n], 0.0);
                    }
                }
            }
        }
        // rows of A'·gy: Q0 = P0, Q1 = P0 + P1, Q2 = P0 − P1, Q3 = P1 (each
        // with its two columns b)
        let (p00, rest) = ph.split_at(t);
        let (p01, rest) = rest.split_at(t);
        let (p10, p11) = rest.split_at(t);
        let (q10, rest) = mid.split_at_mut(t);
        let (q11, rest) = rest.split_at_mut(t);
        let (q20, q21) = rest.split_at_mut(t);
        let q21 = &mut q21[..t];
        for i in 0..t {
            q10[i] = p00[i] + p10[i];
            q11[i] = p01[i] + p11[i];
            q20[i] = p00[i] - p10[i];
            q21[i] = p01[i] - p11[i];
        }
        let rows: [(&[f32], &[f32]); 4] = [(p00, p01), (q10, q11), (q20, q21), (p10, p11)];
        for (i, (a, b)) in rows.into_iter().enumerate() {
            let out = |j: usize| (4 * i + j) * p.o + o;
            gw[out(0) * t..][..t].copy_from_slice(a);
            gw[out(3) * t..][..t].copy_from_slice(b);
            for (g, (&a, &b)) in gw[out(1) * t..][..t].iter_mut().zip(a.iter().zip(b)) {
                *g = a + b;
            }
            for (g, (&a, &b)) in gw[out(2) * t..][..t].iter_mut().zip(a.iter().zip(b)) {
                *g = a - b;
            }
        }
    }
}

/// du[ξ] (O, Cp) (+)= GY[ξ] (O, T) · V[ξ] (T, Cp), ξ = 0..16; `first`
/// overwrites du instead of adding to it.
fn products(p: &Plan, t: usize, v: &[f32], gw: &[f32], du: &mut [f32], first: bool, path: Path) {
    let (o, cp) = (p.o, p.cp);
    for xi in 0..16 {
        let a = &gw[xi * o * t..][..o * t];
        let b = &v[xi * t * cp..][..t * cp];
        let c = &mut du[xi * o * cp..][..o * cp];
        match path {
            Path::Avx512 => {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `path()` checked AVX-512F; the slices hold the
                // (O, T), (T, Cp) and (O, Cp) matrices the kernels read
                unsafe {
                    avx512::product(o, t, cp, a, b, c, first)
                };
            }
            Path::Portable => {
                let a = ArrayView2::from_shape((o, t), a).expect("sized by the plan");
                let b = ArrayView2::from_shape((t, cp), b).expect("sized by the plan");
                let mut c = ArrayViewMut2::from_shape((o, cp), c).expect("sized by the plan");
                let beta = if first { 0.0 } else { 1.0 };
                ndarray::linalg::general_mat_mul(1.0, &a, &b, beta, &mut c);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    /// Rows of C (output channels, broadcasts) per microkernel tile.
    const ROWS: usize = 8;
    /// Vectors of C's row (input channels) per microkernel tile.
    const VECS: usize = 2;

    /// C (m, n) (+)= A (m, k) · B (k, n), all row-major and contiguous, n a
    /// multiple of 16.
    ///
    /// # Safety
    /// AVX-512F; a, b and c hold m·k, k·n and m·n values.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn product(
        m: usize,
        k: usize,
        n: usize,
        a: &[f32],
        b: &[f32],
        c: &mut [f32],
        first: bool,
    ) {
        debug_assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
        debug_assert_eq!(n % 16, 0);
        let (a, b, c) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
        for i0 in (0..m).step_by(ROWS) {
            let rows = ROWS.min(m - i0);
            for j0 in (0..n).step_by(16 * VECS) {
                let vecs = VECS.min((n - j0) / 16);
                let args = (k, a.add(i0 * k), b.add(j0), n, c.add(i0 * n + j0), first);
                macro_rules! tile {
                    ($($r:literal)*) => {
                        match (rows, vecs) {
                            $(($r, 2) => kernel::<$r, 2>(args),)*
                            $(($r, _) => kernel::<$r, 1>(args),)*
                            _ => unreachable!("at most ROWS rows"),
                        }
                    };
                }
                tile!(1 2 3 4 5 6 7 8);
            }
        }
    }

    /// (k, A rows, B, row stride of B and C, C, first)
    type Args = (usize, *const f32, *const f32, usize, *mut f32, bool);

    /// R rows × 16·V columns of C: each row of A (k long, rows k apart)
    /// broadcast against V vectors of B's row, k times, then added to C (or
    /// stored, when `first`).
    #[target_feature(enable = "avx512f")]
    unsafe fn kernel<const R: usize, const V: usize>((k, a, b, ldb, c, first): Args) {
        let mut acc = [[_mm512_setzero_ps(); V]; R];
        for p in 0..k {
            let row = b.add(p * ldb);
            let bv: [__m512; V] = std::array::from_fn(|v| _mm512_loadu_ps(row.add(16 * v)));
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*a.add(r * k + p));
                for v in 0..V {
                    acc[v] = _mm512_fmadd_ps(x, bv[v], acc[v]);
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            let row = c.add(r * ldb);
            for (v, &sum) in acc.iter().enumerate() {
                let at = row.add(16 * v);
                let sum = if first {
                    sum
                } else {
                    _mm512_add_ps(_mm512_loadu_ps(at), sum)
                };
                _mm512_storeu_ps(at, sum);
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
    use crate::engine::Array;

    fn random(rng: &mut StdRng, shape: &[usize]) -> Array {
        let n = shape.iter().product();
        let v = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        Array::from_shape_vec(IxDyn(shape), v).expect("sized")
    }

    /// The direct dw, and the sum of |products| behind each entry (the
    /// direct dw of |x| and |gy|).
    fn reference(x: &Array, gy: &Array, g: &ConvGeometry) -> (Vec<f32>, Vec<f32>) {
        let w = Array::zeros(IxDyn(&[g.o, g.c, 3, 3]));
        let dw = |x: &Array, gy: &Array| {
            let (_, dw) = conv2d_backward_im2col(x, &w, gy, g, false, true);
            dw.expect("dw").into_raw_vec_and_offset().0
        };
        (dw(x, gy), dw(&x.mapv(f32::abs), &gy.mapv(f32::abs)))
    }

    /// Largest |got − want| / sum of |products| over the entries.
    fn worst(got: &[f32], want: &[f32], scale: &[f32]) -> f32 {
        assert_eq!(got.len(), want.len());
        got.iter()
            .zip(want)
            .zip(scale)
            .map(|((g, w), s)| (g - w).abs() / s.max(f32::MIN_POSITIVE))
            .fold(0.0, f32::max)
    }

    #[test]
    fn winograd_dw_matches_im2col_on_random_shapes() {
        let mut rng = StdRng::seed_from_u64(5);
        let paths = if path() == Path::Avx512 {
            vec![Path::Avx512, Path::Portable]
        } else {
            vec![Path::Portable]
        };
        let mut worst_seen = 0.0f32;
        for case in 0..40 {
            // sizes not multiples of the tile, the step, the chunk, 16
            // lanes or the kernel's 8 rows
            let (n, c, o) = (
                rng.random_range(1..24),
                rng.random_range(8..40),
                rng.random_range(8..30),
            );
            let pad = rng.random_range(0..3);
            let (h, w) = (
                rng.random_range(3 - 2 * pad.min(1)..13),
                rng.random_range(3 - 2 * pad.min(1)..13),
            );
            let g = ConvGeometry::new(&[n, c, h, w], o, (3, 3), c, 1, pad).expect("geometry");
            assert!(applies(&g));
            let (x, gy) = (
                random(&mut rng, &[n, c, h, w]),
                random(&mut rng, &g.out_shape()),
            );
            let (want, scale) = reference(&x, &gy, &g);
            for &path in &paths {
                let got = weight_grad(
                    x.as_slice().expect("contiguous"),
                    gy.as_slice().expect("contiguous"),
                    &g,
                    path,
                );
                let err = worst(&got, &want, &scale);
                assert!(
                    err <= 1e-5,
                    "case {case} {path:?}: x {:?} o {o} pad {pad}: error {err:e} of the sum of |products|",
                    [n, c, h, w]
                );
                worst_seen = worst_seen.max(err);
            }
        }
        eprintln!("worst error {worst_seen:e} of the sum of |products|");
    }
}
