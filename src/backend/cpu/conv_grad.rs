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
//! Layouts, so that the products need no packing: each image of x and of
//! gy is first transposed to channel-minor, (H, W, C) zero-padded to whole
//! tiles, 16 × 16 blocks at a time; the transforms then work on 16
//! channels at once and write V and GY tile-major, channel-minor:
//! v[(ξ·T + t)·Cp + c] and gw[(ξ·T + t)·Op + o], Cp and Op the channel
//! counts rounded up to 16 (zeros past them). For each k = t the
//! microkernel loads vectors of V's row and broadcasts GY's.
//! A is used with its last row's sign flipped (so the transform is adds
//! only); dU's entries in that row or column are negated back at the end.
//!
//! Order: images go in fixed chunks of [`IMAGES_PER_CHUNK`], each summing
//! its own dU over its images in order (steps of [`IMAGES_PER_STEP`]), and
//! the chunks' dU are added in chunk order, so dw does not depend on the
//! number of threads. Rounding: dw differs from the direct sum by a few ulp
//! of the sum of |products| (the tests bound it).

use std::cell::RefCell;

use ndarray::{s, ArrayView2, ArrayViewMut2};
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
    /// O rounded up to a multiple of [`LANES`]
    op: usize,
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
            op: g.o.next_multiple_of(LANES),
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
    /// one image of x, channel-minor and zero-padded: (hp, wp, Cp)
    xt: Vec<f32>,
    /// one image of gy, channel-minor and zero-padded: (2·th, 2·tw, Op)
    gt: Vec<f32>,
    /// V of one step: (16, T, Cp)
    v: Vec<f32>,
    /// GY of one step: (16, T, Op)
    gw: Vec<f32>,
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
        s.xt.resize(p.hp * p.wp * p.cp, 0.0);
        s.gt.resize(4 * p.tiles() * p.op, 0.0);
        s.v.resize(16 * t * p.cp, 0.0);
        s.gw.resize(16 * t * p.op, 0.0);
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
            Path::Portable => transform_body::<false>(x, grad, p, nb, s),
        }
        products(p, t, &s.v, &s.gw, du, step == 0, path);
    }
}

/// Both transforms of one step, compiled for AVX-512.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn transform_avx512(x: &[f32], grad: &[f32], p: &Plan, nb: usize, s: &mut Scratch) {
    transform_body::<true>(x, grad, p, nb, s);
}

/// V and GY of the step's `nb` images, image by image.
#[inline(always)]
fn transform_body<const WIDE: bool>(x: &[f32], grad: &[f32], p: &Plan, nb: usize, s: &mut Scratch) {
    let t = nb * p.tiles();
    let (in_img, out_img) = (p.c * p.h * p.w, p.o * p.oh * p.ow);
    for img in 0..nb {
        let t0 = img * p.tiles();
        transpose_input::<WIDE>(&x[img * in_img..][..in_img], p, &mut s.xt);
        transform_input::<WIDE>(&s.xt, p, t0, t, &mut s.v);
        transpose_grad::<WIDE>(&grad[img * out_img..][..out_img], p, &mut s.gt);
        transform_grad::<WIDE>(&s.gt, p, t0, t, &mut s.gw);
    }
}

/// One image x (C, H, W) as `xt` (hp, wp, Cp): entry (r, s, c) is
/// x[c][r − pad][s − pad], zero outside the image and past C.
#[inline(always)]
fn transpose_input<const WIDE: bool>(x: &[f32], p: &Plan, xt: &mut [f32]) {
    let (cp, row) = (p.cp, p.wp * p.cp);
    // the padding: rows above and below, then columns left and right
    xt[..p.pad * row].fill(0.0);
    xt[(p.pad + p.h) * row..].fill(0.0);
    for r in p.pad..p.pad + p.h {
        let line = &mut xt[r * row..][..row];
        line[..p.pad * cp].fill(0.0);
        line[(p.pad + p.w) * cp..].fill(0.0);
    }
    for c0 in (0..p.c).step_by(LANES) {
        for iy in 0..p.h {
            let dst = &mut xt[((iy + p.pad) * p.wp + p.pad) * cp + c0..];
            let src = &x[(c0 * p.h + iy) * p.w..];
            transpose_row::<WIDE>(src, p.h * p.w, p.c - c0, p.w, dst, cp);
        }
    }
}

/// One image gy (O, H', W') as `gt` (2·th, 2·tw, Op): zeros past H', W'
/// and O.
#[inline(always)]
fn transpose_grad<const WIDE: bool>(gy: &[f32], p: &Plan, gt: &mut [f32]) {
    let (op, cols) = (p.op, 2 * p.tw);
    let row = cols * op;
    gt[p.oh * row..].fill(0.0);
    for r in 0..p.oh {
        gt[(r * cols + p.ow) * op..(r + 1) * row].fill(0.0);
    }
    for o0 in (0..p.o).step_by(LANES) {
        for oy in 0..p.oh {
            let dst = &mut gt[oy * row + o0..];
            let src = &gy[(o0 * p.oh + oy) * p.ow..];
            transpose_row::<WIDE>(src, p.oh * p.ow, p.o - o0, p.ow, dst, op);
        }
    }
}

/// One row of `n` positions of up to 16 channel planes, channel-minor:
/// dst[q·ld + i] = src[i·plane + q] for q < n, i < 16, rows i ≥ `channels`
/// read as 0.
#[inline(always)]
fn transpose_row<const WIDE: bool>(
    src: &[f32],
    plane: usize,
    channels: usize,
    n: usize,
    dst: &mut [f32],
    ld: usize,
) {
    let ch = channels.min(LANES);
    assert!(n == 0 || (src.len() > (ch - 1) * plane + n - 1 && dst.len() >= (n - 1) * ld + LANES));
    #[cfg(target_arch = "x86_64")]
    if WIDE {
        for q0 in (0..n).step_by(LANES) {
            // SAFETY: WIDE only in the AVX-512 build; the bounds were checked
            // above for the whole row
            unsafe {
                avx512::transpose16(
                    src.as_ptr().add(q0),
                    plane,
                    ch,
                    LANES.min(n - q0),
                    dst.as_mut_ptr().add(q0 * ld),
                    ld,
                )
            };
        }
        return;
    }
    for q in 0..n {
        let out = &mut dst[q * ld..][..LANES];
        for (i, v) in out.iter_mut().enumerate() {
            *v = if i < ch { src[i * plane + q] } else { 0.0 };
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
fn transform_input<const WIDE: bool>(xt: &[f32], p: &Plan, t0: usize, t_all: usize, v: &mut [f32]) {
    let cp = p.cp;
    assert!(xt.len() >= p.hp * p.wp * cp && v.len() >= 16 * t_all * cp && t0 + p.tiles() <= t_all);
    for ty in 0..p.th {
        for tx in 0..p.tw {
            let t = t0 + ty * p.tw + tx;
            #[cfg(target_arch = "x86_64")]
            if WIDE {
                // SAFETY: WIDE only in the AVX-512 build; the patch's 4 rows
                // of 4 positions lie in xt (hp = 2·th + 2, wp = 2·tw + 2) and
                // V's 16 rows of Cp in v (t < T), as asserted above
                unsafe {
                    avx512::input_tile(
                        xt.as_ptr().add((2 * ty * p.wp + 2 * tx) * cp),
                        p.wp * cp,
                        cp,
                        v.as_mut_ptr().add(t * cp),
                        t_all * cp,
                    )
                };
                continue;
            }
            for c0 in (0..cp).step_by(LANES) {
                let d =
                    |i: usize, j: usize| lanes(&xt[((2 * ty + i) * p.wp + 2 * tx + j) * cp + c0..]);
                // row i of Bᵀ·d from two rows of d, then ·B along it
                for i in 0..4 {
                    let e: [Lanes; 4] = std::array::from_fn(|j| match i {
                        0 => sub(d(0, j), d(2, j)),
                        1 => add(d(1, j), d(2, j)),
                        2 => sub(d(2, j), d(1, j)),
                        _ => sub(d(1, j), d(3, j)),
                    });
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

/// GY' = A'·gy·A'ᵀ of every tile of one image, 16 output channels at a
/// time, into gw[(ξ·T + t)·Op + o]. A' is A with its last row negated: each
/// 2-vector (a, b) becomes (a, a + b, a − b, b).
#[inline(always)]
fn transform_grad<const WIDE: bool>(gt: &[f32], p: &Plan, t0: usize, t_all: usize, gw: &mut [f32]) {
    let (op, cols) = (p.op, 2 * p.tw);
    assert!(
        gt.len() >= 4 * p.tiles() * op && gw.len() >= 16 * t_all * op && t0 + p.tiles() <= t_all
    );
    for ty in 0..p.th {
        for tx in 0..p.tw {
            let t = t0 + ty * p.tw + tx;
            #[cfg(target_arch = "x86_64")]
            if WIDE {
                // SAFETY: WIDE only in the AVX-512 build; the tile's 2×2 rows
                // of Op lie in gt (2·th rows of 2·tw) and GY's 16 rows of Op
                // in gw (t < T), as asserted above
                unsafe {
                    avx512::grad_tile(
                        gt.as_ptr().add((2 * ty * cols + 2 * tx) * op),
                        cols * op,
                        op,
                        gw.as_mut_ptr().add(t * op),
                        t_all * op,
                    )
                };
                continue;
            }
            for o0 in (0..op).step_by(LANES) {
                let g =
                    |a: usize, b: usize| lanes(&gt[((2 * ty + a) * cols + 2 * tx + b) * op + o0..]);
                let (g00, g01, g10, g11) = (g(0, 0), g(0, 1), g(1, 0), g(1, 1));
                let rows = [
                    (g00, g01),
                    (add(g00, g10), add(g01, g11)),
                    (sub(g00, g10), sub(g01, g11)),
                    (g10, g11),
                ];
                for (i, (a, b)) in rows.into_iter().enumerate() {
                    for (j, o) in [a, add(a, b), sub(a, b), b].iter().enumerate() {
                        let at = ((4 * i + j) * t_all + t) * op + o0;
                        gw[at..at + LANES].copy_from_slice(o);
                    }
                }
            }
        }
    }
}

/// du[ξ] (O, Cp) (+)= GY[ξ]ᵀ (O, T) · V[ξ] (T, Cp), ξ = 0..16, with GY[ξ]
/// stored (T, Op); `first` overwrites du instead of adding to it.
fn products(p: &Plan, t: usize, v: &[f32], gw: &[f32], du: &mut [f32], first: bool, path: Path) {
    let (o, op, cp) = (p.o, p.op, p.cp);
    for xi in 0..16 {
        let a = &gw[xi * t * op..][..t * op];
        let b = &v[xi * t * cp..][..t * cp];
        let c = &mut du[xi * o * cp..][..o * cp];
        match path {
            Path::Avx512 => {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `path()` checked AVX-512F; the slices hold the
                // (T, Op), (T, Cp) and (O, Cp) matrices
                unsafe {
                    avx512::product(o, t, cp, (a, op), b, c, first)
                };
            }
            Path::Portable => {
                let a = ArrayView2::from_shape((t, op), a).expect("sized by the plan");
                let a = a.slice(s![.., ..o]).reversed_axes();
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

    /// C (m, n) (+)= Aᵀ (m, k) · B (k, n): A stored (k, lda ≥ m), B and C
    /// row-major with n columns, n a multiple of 16.
    ///
    /// # Safety
    /// AVX-512F; a, b and c hold k·lda, k·n and m·n values.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn product(
        m: usize,
        k: usize,
        n: usize,
        (a, lda): (&[f32], usize),
        b: &[f32],
        c: &mut [f32],
        first: bool,
    ) {
        assert!(a.len() >= k * lda && lda >= m && b.len() >= k * n && c.len() >= m * n);
        debug_assert_eq!(n % 16, 0);
        let (a, b, c) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
        for i0 in (0..m).step_by(ROWS) {
            let rows = ROWS.min(m - i0);
            for j0 in (0..n).step_by(16 * VECS) {
                let vecs = VECS.min((n - j0) / 16);
                let args = (k, a.add(i0), lda, b.add(j0), n, c.add(i0 * n + j0), first);
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

    /// (k, A, lda, B, row stride of B and C, C, first)
    type Args = (usize, *const f32, usize, *const f32, usize, *mut f32, bool);

    /// R rows × 16·V columns of C: for each of k steps, R values of A's row
    /// broadcast against V vectors of B's row; then added to C (or stored,
    /// when `first`).
    #[target_feature(enable = "avx512f")]
    unsafe fn kernel<const R: usize, const V: usize>((k, a, lda, b, ldb, c, first): Args) {
        let mut acc = [[_mm512_setzero_ps(); V]; R];
        let (mut a, mut b) = (a, b);
        for _ in 0..k {
            let mut bv = [_mm512_setzero_ps(); V];
            for (v, bv) in bv.iter_mut().enumerate() {
                *bv = _mm512_loadu_ps(b.add(16 * v));
            }
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*a.add(r));
                for v in 0..V {
                    acc[v] = _mm512_fmadd_ps(x, bv[v], acc[v]);
                }
            }
            a = a.add(lda);
            b = b.add(ldb);
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

    /// [`super::transform_input`] for one tile, `cp` channels: `d` is its
    /// 4×4 patch (rows `rs` apart, positions `cp` apart), `v` its V at
    /// ξ = 0 (ξ rows `vs` apart).
    ///
    /// # Safety
    /// AVX-512F; d and v address those rows.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn input_tile(d: *const f32, rs: usize, cp: usize, v: *mut f32, vs: usize) {
        for c0 in (0..cp).step_by(16) {
            let mut x = [[_mm512_setzero_ps(); 4]; 4];
            for (i, row) in x.iter_mut().enumerate() {
                for (j, x) in row.iter_mut().enumerate() {
                    *x = _mm512_loadu_ps(d.add(i * rs + j * cp + c0));
                }
            }
            for i in 0..4 {
                // row i of Bᵀ·d
                let mut e = [_mm512_setzero_ps(); 4];
                for (j, e) in e.iter_mut().enumerate() {
                    *e = match i {
                        0 => _mm512_sub_ps(x[0][j], x[2][j]),
                        1 => _mm512_add_ps(x[1][j], x[2][j]),
                        2 => _mm512_sub_ps(x[2][j], x[1][j]),
                        _ => _mm512_sub_ps(x[1][j], x[3][j]),
                    };
                }
                let out = [
                    _mm512_sub_ps(e[0], e[2]),
                    _mm512_add_ps(e[1], e[2]),
                    _mm512_sub_ps(e[2], e[1]),
                    _mm512_sub_ps(e[1], e[3]),
                ];
                for (j, &o) in out.iter().enumerate() {
                    _mm512_storeu_ps(v.add((4 * i + j) * vs + c0), o);
                }
            }
        }
    }

    /// [`super::transform_grad`] for one tile, `op` channels: `g` is its
    /// 2×2 gradient (rows `rs` apart, positions `op` apart), `gw` its GY' at
    /// ξ = 0 (ξ rows `ws` apart).
    ///
    /// # Safety
    /// AVX-512F; g and gw address those rows.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn grad_tile(g: *const f32, rs: usize, op: usize, gw: *mut f32, ws: usize) {
        for o0 in (0..op).step_by(16) {
            let g00 = _mm512_loadu_ps(g.add(o0));
            let g01 = _mm512_loadu_ps(g.add(op + o0));
            let g10 = _mm512_loadu_ps(g.add(rs + o0));
            let g11 = _mm512_loadu_ps(g.add(rs + op + o0));
            let rows = [
                (g00, g01),
                (_mm512_add_ps(g00, g10), _mm512_add_ps(g01, g11)),
                (_mm512_sub_ps(g00, g10), _mm512_sub_ps(g01, g11)),
                (g10, g11),
            ];
            for (i, &(a, b)) in rows.iter().enumerate() {
                let out = [a, _mm512_add_ps(a, b), _mm512_sub_ps(a, b), b];
                for (j, &o) in out.iter().enumerate() {
                    _mm512_storeu_ps(gw.add((4 * i + j) * ws + o0), o);
                }
            }
        }
    }

    /// dst[q·ld + i] = src[i·cs + q] for q < n ≤ 16, i < 16; rows
    /// i ≥ `ch` read as 0. Four rounds of shuffles (16 × 16 in 64 ops).
    ///
    /// # Safety
    /// AVX-512F; src holds rows i < ch of n values, cs apart; dst holds n
    /// rows of 16 values, ld apart.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn transpose16(
        src: *const f32,
        cs: usize,
        ch: usize,
        n: usize,
        dst: *mut f32,
        ld: usize,
    ) {
        let mask = ((1u32 << n) - 1) as __mmask16;
        let mut r = [_mm512_setzero_ps(); 16];
        for (i, r) in r.iter_mut().enumerate() {
            // rows past `ch` load nothing (a zero mask reads no memory)
            let mask = if i < ch { mask } else { 0 };
            *r = _mm512_maskz_loadu_ps(mask, src.wrapping_add(i * cs));
        }
        // 32-bit interleave of row pairs, within 128-bit lanes
        let mut t = [_mm512_setzero_ps(); 16];
        for m in 0..8 {
            t[2 * m] = _mm512_unpacklo_ps(r[2 * m], r[2 * m + 1]);
            t[2 * m + 1] = _mm512_unpackhi_ps(r[2 * m], r[2 * m + 1]);
        }
        // 64-bit: u[4g + k], lane L = rows 4g..4g + 4 of column 4L + k
        let mut u = [_mm512_setzero_ps(); 16];
        for g in 0..4 {
            let t = &t[4 * g..4 * g + 4];
            u[4 * g] = _mm512_shuffle_ps::<0x44>(t[0], t[2]);
            u[4 * g + 1] = _mm512_shuffle_ps::<0xEE>(t[0], t[2]);
            u[4 * g + 2] = _mm512_shuffle_ps::<0x44>(t[1], t[3]);
            u[4 * g + 3] = _mm512_shuffle_ps::<0xEE>(t[1], t[3]);
        }
        // 128-bit lanes: column 4L + k gathers lane L of u[k], u[4 + k],
        // u[8 + k], u[12 + k]
        for k in 0..4 {
            let x0 = _mm512_shuffle_f32x4::<0x44>(u[k], u[4 + k]);
            let x1 = _mm512_shuffle_f32x4::<0xEE>(u[k], u[4 + k]);
            let y0 = _mm512_shuffle_f32x4::<0x44>(u[8 + k], u[12 + k]);
            let y1 = _mm512_shuffle_f32x4::<0xEE>(u[8 + k], u[12 + k]);
            let cols = [
                _mm512_shuffle_f32x4::<0x88>(x0, y0),
                _mm512_shuffle_f32x4::<0xDD>(x0, y0),
                _mm512_shuffle_f32x4::<0x88>(x1, y1),
                _mm512_shuffle_f32x4::<0xDD>(x1, y1),
            ];
            for (l, col) in cols.into_iter().enumerate() {
                let q = 4 * l + k;
                if q < n {
                    _mm512_storeu_ps(dst.add(q * ld), col);
                }
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

    /// The direct dw, and the scale of each entry's rounding error: the
    /// largest sum of |products| (the direct dw of |x| and |gy|) among the
    /// nine taps of its kernel. Not the entry's own: the transforms mix
    /// all nine taps of a kernel, so a tap that sees only a corner of the
    /// image (little sum) carries the rounding of its neighbours'.
    fn reference(x: &Array, gy: &Array, g: &ConvGeometry) -> (Vec<f32>, Vec<f32>) {
        let w = Array::zeros(IxDyn(&[g.o, g.c, 3, 3]));
        let dw = |x: &Array, gy: &Array| {
            let (_, dw) = conv2d_backward_im2col(x, &w, gy, g, false, true);
            dw.expect("dw").into_raw_vec_and_offset().0
        };
        let sums = dw(&x.mapv(f32::abs), &gy.mapv(f32::abs));
        let scale = sums
            .chunks_exact(9)
            .flat_map(|k| [k.iter().fold(0.0f32, |m, &v| m.max(v)); 9])
            .collect();
        (dw(x, gy), scale)
    }

    /// Largest |got − want| / scale over the entries.
    fn worst(got: &[f32], want: &[f32], scale: &[f32]) -> f32 {
        assert_eq!(got.len(), want.len());
        got.iter()
            .zip(want)
            .zip(scale)
            .map(|((g, w), s)| (g - w).abs() / s.max(f32::MIN_POSITIVE))
            .fold(0.0, f32::max)
    }

    /// The CPU's own AVX-512 (F, BW, DQ, VL) and the GEMM's choice, not the
    /// `use_avx512` switch that other tests flip while these run.
    fn real_path() -> Path {
        if crate::backend::cpu::cpu_has_avx512() && crate::backend::cpu::gemm::available() {
            Path::Avx512
        } else {
            Path::Portable
        }
    }

    #[test]
    fn winograd_dw_matches_im2col_on_random_shapes() {
        let mut rng = StdRng::seed_from_u64(5);
        let paths = if real_path() == Path::Avx512 {
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
            // widths past one 16-lane block too
            let (h, w) = (
                rng.random_range(3 - 2 * pad.min(1)..13),
                rng.random_range(3 - 2 * pad.min(1)..21),
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
                    err <= 2e-6,
                    "case {case} {path:?}: x {:?} o {o} pad {pad}: error {err:e} of the scale",
                    [n, c, h, w]
                );
                worst_seen = worst_seen.max(err);
            }
        }
        eprintln!("worst error {worst_seen:e} of the scale");
    }

    #[test]
    fn winograd_dw_is_the_same_on_any_number_of_threads() {
        // 23 images: two full chunks and a short one, the last step short
        let mut rng = StdRng::seed_from_u64(7);
        let g = ConvGeometry::new(&[23, 19, 9, 11], 21, (3, 3), 19, 1, 1).expect("geometry");
        let (x, gy) = (
            random(&mut rng, &[23, 19, 9, 11]),
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
            pool.install(|| weight_grad(xs, gs, &g, real_path()))
        };
        let one = on(1);
        for threads in [2, 3, 8] {
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&on(threads)), bits(&one), "{threads} threads");
        }
    }
}
