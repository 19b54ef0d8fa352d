//! 2-D convolution (cross-correlation, as PyTorch's `conv2d`) by im2col +
//! matrix multiply.
//!
//! x: (N, C, H, W), w: (O, C, kh, kw) → (N, O, H', W') with
//! H' = (H + 2·padding - kh) / stride + 1 (floor), W' likewise.
//!
//! The engine works one image at a time (rayon spreads the images over the
//! threads). im2col lays image n's receptive fields out as columns:
//! cols_n (C·kh·kw, H'·W'), row (c, ky, kx), column (oy, ox). With
//! w2 = w as (O, C·kh·kw) and g_n the gradient's (O, H'·W') block of image n:
//!   out_n  = w2 · cols_n         (O, H'·W'), already NCHW order: no permute
//!   dw2   += g_n · cols_nᵀ       (O, C·kh·kw), summed over the images
//!   dcols_n = w2ᵀ · g_n          (C·kh·kw, H'·W'), scattered back by col2im.
//! One image's cols (C·kh·kw·H'·W' floats, 225 KB for the course's second
//! conv) stays in cache between im2col and the product, where the whole
//! batch's (22 MB) would not; backward redoes im2col rather than keep it.
//! The forward output and dx come out bit for bit as from the batch-wide
//! formulation; dw does not (see `conv2d_backward`).
//!
//! The public [`im2col`] / [`col2im`] keep the row layout, (N·H'·W', C·kh·kw)
//! with row (n, oy, ox), for callers that want the classic picture.
//! Bias is a separate broadcast add (see nn::Conv2d).

use ndarray::{Array2, ArrayView2, IxDyn};
use rayon::prelude::*;

use super::{layout, Op};
use crate::backend;
use crate::engine::graph::GradStore;
use crate::engine::tensor::{Array, Tensor};
use crate::{Error, Result};

/// Sizes of one convolution, derived once and shared by forward and backward.
#[derive(Clone, Copy, Debug)]
pub struct ConvGeometry {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub padding: usize,
    pub oh: usize,
    pub ow: usize,
}

impl ConvGeometry {
    pub fn new(
        x: &[usize],
        k: (usize, usize),
        c_w: usize,
        stride: usize,
        padding: usize,
    ) -> Result<Self> {
        let bad = |why: String| Error::BadArgument { op: "conv2d", why };
        if x.len() != 4 {
            return Err(bad(format!("input must be (N, C, H, W), got {x:?}")));
        }
        if stride == 0 {
            return Err(bad("stride must be at least 1".into()));
        }
        let (n, c, h, w) = (x[0], x[1], x[2], x[3]);
        if c != c_w {
            return Err(bad(format!(
                "input has {c} channels but the weight expects {c_w}"
            )));
        }
        let (hp, wp) = (h + 2 * padding, w + 2 * padding);
        if k.0 > hp || k.1 > wp || k.0 == 0 || k.1 == 0 {
            return Err(bad(format!(
                "kernel {}x{} does not fit the padded input {hp}x{wp}",
                k.0, k.1
            )));
        }
        let (oh, ow) = ((hp - k.0) / stride + 1, (wp - k.1) / stride + 1);
        Ok(ConvGeometry {
            n,
            c,
            h,
            w,
            kh: k.0,
            kw: k.1,
            stride,
            padding,
            oh,
            ow,
        })
    }

    fn rows_per_image(&self) -> usize {
        self.oh * self.ow
    }

    fn patch(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// The outputs o in 0..out_len whose input coordinate o·stride + k − padding
    /// (kernel offset k) falls inside 0..in_len, as `lo..hi` (empty: lo == hi).
    /// Outside it the kernel reads padding. The same rule serves rows and columns.
    #[inline]
    fn valid(&self, k: usize, out_len: usize, in_len: usize) -> (usize, usize) {
        // o·stride ≥ padding − k
        let lo = self
            .padding
            .saturating_sub(k)
            .div_ceil(self.stride)
            .min(out_len);
        // o·stride ≤ in_len − 1 + padding − k
        let hi = match (in_len + self.padding).checked_sub(k + 1) {
            Some(last) => (last / self.stride + 1).min(out_len),
            None => 0,
        };
        (lo, hi.max(lo))
    }
}

/// The public im2col layout: rows (n, oy, ox), columns (c, ky, kx), zeros
/// where padding is read. The engine itself works on one image's transposed
/// block (`im2col_image`); this is that block turned over.
pub fn im2col(x: &[f32], g: &ConvGeometry) -> Array2<f32> {
    let (rows, patch, chw) = (g.rows_per_image(), g.patch(), g.c * g.h * g.w);
    let mut cols = vec![0.0f32; g.n * rows * patch];
    cols.par_chunks_mut((rows * patch).max(1))
        .enumerate()
        .for_each_init(
            || vec![0.0f32; patch * rows],
            |cols_t, (n, out)| {
                im2col_image(&x[n * chw..(n + 1) * chw], g, cols_t);
                for (r, col) in cols_t.chunks_exact(rows.max(1)).enumerate() {
                    for (p, &v) in col.iter().enumerate() {
                        out[p * patch + r] = v;
                    }
                }
            },
        );
    Array2::from_shape_vec((g.n * rows, patch), cols).expect("sized above")
}

/// The adjoint of [`im2col`]: add each row's entries back where they were read.
pub fn col2im(cols: ArrayView2<'_, f32>, g: &ConvGeometry) -> Vec<f32> {
    let (rows, patch, chw) = (g.rows_per_image(), g.patch(), g.c * g.h * g.w);
    let cols = cols.as_standard_layout();
    let cols = cols.as_slice().expect("standard layout is contiguous");
    let mut x = vec![0.0f32; g.n * chw];
    x.par_chunks_mut(chw.max(1)).enumerate().for_each_init(
        || vec![0.0f32; patch * rows],
        |cols_t, (n, img)| {
            let src = &cols[n * rows * patch..(n + 1) * rows * patch];
            for (p, row) in src.chunks_exact(patch.max(1)).enumerate() {
                for (r, &v) in row.iter().enumerate() {
                    cols_t[r * rows + p] = v;
                }
            }
            col2im_image(cols_t, g, img);
        },
    );
    x
}

/// One image's receptive fields as columns: `cols_t` (C·kh·kw, H'·W'), row
/// (c, ky, kx), column (oy, ox); zeros where padding is read. In this layout
/// each (c, ky, kx) row is, output row by output row, a shifted copy of one
/// input row, so the valid part is found once per kernel offset
/// ([`ConvGeometry::valid`]) and the inner loop is a plain copy with no
/// padding test per element.
fn im2col_image(img: &[f32], g: &ConvGeometry, cols_t: &mut [f32]) {
    let (hw, plane) = (g.rows_per_image(), g.h * g.w);
    for c in 0..g.c {
        let src_plane = &img[c * plane..(c + 1) * plane];
        for ky in 0..g.kh {
            let (y_lo, y_hi) = g.valid(ky, g.oh, g.h);
            for kx in 0..g.kw {
                let (x_lo, x_hi) = g.valid(kx, g.ow, g.w);
                let row = &mut cols_t[((c * g.kh + ky) * g.kw + kx) * hw..][..hw];
                row[..y_lo * g.ow].fill(0.0); // padding rows above
                row[y_hi * g.ow..].fill(0.0); // and below
                let ix0 = x_lo * g.stride + kx - g.padding;
                for oy in y_lo..y_hi {
                    let iy = oy * g.stride + ky - g.padding;
                    let src = &src_plane[iy * g.w..(iy + 1) * g.w];
                    let dst = &mut row[oy * g.ow..(oy + 1) * g.ow];
                    dst[..x_lo].fill(0.0);
                    dst[x_hi..].fill(0.0);
                    let dst = &mut dst[x_lo..x_hi];
                    if g.stride == 1 {
                        dst.copy_from_slice(&src[ix0..ix0 + dst.len()]);
                    } else {
                        for (d, &s) in dst.iter_mut().zip(src[ix0..].iter().step_by(g.stride)) {
                            *d = s;
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col_image`]: add each column entry back into `img`
/// (which the caller zeroed) where it was read; padding reads are dropped.
fn col2im_image(cols_t: &[f32], g: &ConvGeometry, img: &mut [f32]) {
    let (hw, plane) = (g.rows_per_image(), g.h * g.w);
    for c in 0..g.c {
        let dst_plane = &mut img[c * plane..(c + 1) * plane];
        // Kernel offsets last to first: each input pixel then receives its
        // terms in output-position order (oy, ox ascending), the order of the
        // classic row-by-row col2im, so the sums round exactly as they did.
        for ky in (0..g.kh).rev() {
            let (y_lo, y_hi) = g.valid(ky, g.oh, g.h);
            for kx in (0..g.kw).rev() {
                let (x_lo, x_hi) = g.valid(kx, g.ow, g.w);
                let row = &cols_t[((c * g.kh + ky) * g.kw + kx) * hw..][..hw];
                let ix0 = x_lo * g.stride + kx - g.padding;
                for oy in y_lo..y_hi {
                    let iy = oy * g.stride + ky - g.padding;
                    let dst = &mut dst_plane[iy * g.w..(iy + 1) * g.w];
                    let src = &row[oy * g.ow + x_lo..oy * g.ow + x_hi];
                    if g.stride == 1 {
                        for (d, &s) in dst[ix0..ix0 + src.len()].iter_mut().zip(src) {
                            *d += s;
                        }
                    } else {
                        for (d, &s) in dst[ix0..].iter_mut().step_by(g.stride).zip(src) {
                            *d += s;
                        }
                    }
                }
            }
        }
    }
}

fn weight_2d(w: &Array) -> Array2<f32> {
    let o = w.shape()[0];
    let k = w.len() / o.max(1);
    w.as_standard_layout()
        .into_owned()
        .into_shape_with_order((o, k))
        .expect("weight element count is O·C·kh·kw")
}

impl Tensor {
    /// Convolve `self` (N, C, H, W) with `weight` (O, C, kh, kw).
    ///
    /// Image by image, on rayon's threads: im2col into a per-thread buffer
    /// (C·kh·kw, H'·W') that stays in cache, then out_n = w2 · cols_t, which is
    /// already this image's (O, H'·W') block of the NCHW output.
    pub fn conv2d(&self, weight: &Tensor, stride: usize, padding: usize) -> Result<Tensor> {
        let (x, w) = (self.data(), weight.data());
        if w.ndim() != 4 {
            return Err(Error::BadArgument {
                op: "conv2d",
                why: format!("weight must be (O, C, kh, kw), got {:?}", w.shape()),
            });
        }
        if x.ndim() == 4 && x.shape()[1] != w.shape()[1] {
            return Err(Error::ShapeMismatch {
                op: "conv2d",
                lhs: x.shape().to_vec(),
                rhs: w.shape().to_vec(),
                why: format!(
                    "input has {} channels but the weight expects {}",
                    x.shape()[1],
                    w.shape()[1]
                ),
            });
        }
        let o = w.shape()[0];
        let g = ConvGeometry::new(
            x.shape(),
            (w.shape()[2], w.shape()[3]),
            w.shape()[1],
            stride,
            padding,
        )?;
        let (hw, patch, chw) = (g.rows_per_image(), g.patch(), g.c * g.h * g.w);
        // convolutions make the large activations; see retain_freed_memory
        backend::cpu::retain_freed_memory();
        let w2 = weight_2d(&w);
        drop(w);
        let xs = x.as_standard_layout();
        let src = xs.as_slice().expect("standard layout is contiguous");
        let be = backend::current();
        // one piece of the output per image, each with its thread's im2col buffer
        let out = layout::build(
            g.n * o * hw,
            o * hw,
            true,
            || vec![0.0f32; patch * hw],
            |cols_t, start, piece| {
                let n = start / (o * hw).max(1);
                im2col_image(&src[n * chw..(n + 1) * chw], &g, cols_t);
                let cols_t = ArrayView2::from_shape((patch, hw), &cols_t[..])
                    .expect("sized by the geometry");
                let y = be.matmul(w2.view(), cols_t); // (O, H'·W')
                piece.extend_from_slice(
                    y.as_standard_layout()
                        .as_slice()
                        .expect("standard layout is contiguous"),
                );
            },
        );
        drop(xs);
        drop(x);
        let value = Array::from_shape_vec(IxDyn(&[g.n, o, g.oh, g.ow]), out).expect("sized above");
        let op = Op::Conv2d {
            input: self.clone(),
            weight: weight.clone(),
            stride,
            padding,
        };
        Ok(Tensor::from_op(value, op))
    }
}

/// Images per partial weight gradient in the backward pass. Fixed (not tied
/// to the thread count) so that dw is summed in the same order on every
/// machine and every run.
const IMAGES_PER_PARTIAL: usize = 4;

/// grad_out (N, O, H', W'). Per image n, with g_n its (O, H'·W') block:
///   dw2  += g_n · cols_nᵀ         (O, C·kh·kw), cols_n recomputed by im2col
///   dcols_n = w2ᵀ · g_n           (C·kh·kw, H'·W'), scattered into dx_n by col2im
/// Images go in fixed groups of [`IMAGES_PER_PARTIAL`], each summing its own
/// dw2 in image order; the groups' sums are then added in order.
///
/// dx is bit for bit what the classic batch-wide im2col/col2im gave (same dot
/// products, and col2im adds in the same order). dw is not: one product over
/// k = N·H'·W' sums in blocks of matrixmultiply's k step (256) that run across
/// images, and keeping that order meant writing and reading the batch's whole
/// im2col matrix (22 MB for the course's second conv), which cost a third of
/// the training speed. So dw differs in the last bits (a few ulp).
pub(crate) fn conv2d_backward(
    grad_out: &Array,
    input: &Tensor,
    weight: &Tensor,
    stride: usize,
    padding: usize,
    store: &mut GradStore,
) -> Result<()> {
    let (want_w, want_x) = (store.wants(weight), store.wants(input));
    if !want_w && !want_x {
        return Ok(());
    }
    // Copy what is needed and release the weight's lock before `accumulate`,
    // which reads `weight` again (a recursive RwLock read can deadlock).
    let (w_shape, w2) = {
        let w = weight.data();
        (w.shape().to_vec(), weight_2d(&w))
    };
    let o = w_shape[0];
    let x = input.data();
    let g = ConvGeometry::new(
        x.shape(),
        (w_shape[2], w_shape[3]),
        w_shape[1],
        stride,
        padding,
    )?;
    let (hw, patch, chw) = (g.rows_per_image(), g.patch(), g.c * g.h * g.w);
    let xs = x.as_standard_layout();
    let xsrc = xs.as_slice().expect("standard layout is contiguous");
    let gs = grad_out.as_standard_layout();
    let gsrc = gs.as_slice().expect("standard layout is contiguous");
    let be = backend::current();

    // One group of images: its dx slice is filled, its dw2 returned.
    let group =
        |first: usize, mut dx: Option<&mut [f32]>, cols_t: &mut Vec<f32>| -> Option<Array2<f32>> {
            let mut dw2: Option<Array2<f32>> = None;
            for (j, n) in (first..(first + IMAGES_PER_PARTIAL).min(g.n)).enumerate() {
                let g_n = ArrayView2::from_shape((o, hw), &gsrc[n * o * hw..(n + 1) * o * hw])
                    .expect("sized");
                if want_w {
                    im2col_image(&xsrc[n * chw..(n + 1) * chw], &g, cols_t);
                    let cols_n = ArrayView2::from_shape((patch, hw), &cols_t[..]).expect("sized");
                    let d = be.matmul(g_n, cols_n.t());
                    match &mut dw2 {
                        Some(acc) => *acc += &d,
                        None => dw2 = Some(d),
                    }
                }
                if let Some(dx) = dx.as_deref_mut() {
                    let dcols = be.matmul(w2.t(), g_n);
                    let dcols = dcols.as_standard_layout();
                    let dcols = dcols.as_slice().expect("standard layout is contiguous");
                    col2im_image(dcols, &g, &mut dx[j * chw..(j + 1) * chw]);
                }
            }
            dw2
        };
    let buffer = || vec![0.0f32; if want_w { patch * hw } else { 0 }];
    let mut dx = vec![0.0f32; if want_x { g.n * chw } else { 0 }];
    let partials: Vec<Option<Array2<f32>>> = if want_x {
        dx.par_chunks_mut((IMAGES_PER_PARTIAL * chw).max(1))
            .enumerate()
            .map_init(buffer, |cols_t, (i, dx)| {
                group(i * IMAGES_PER_PARTIAL, Some(dx), cols_t)
            })
            .collect()
    } else {
        (0..g.n.div_ceil(IMAGES_PER_PARTIAL))
            .into_par_iter()
            .map_init(buffer, |cols_t, i| {
                group(i * IMAGES_PER_PARTIAL, None, cols_t)
            })
            .collect()
    };
    drop(xs);
    drop(x);
    if want_w {
        let mut dw2 = Array2::<f32>::zeros((o, patch));
        for p in partials.iter().flatten() {
            dw2 += p;
        }
        let dw = dw2
            .into_shape_with_order(IxDyn(&w_shape))
            .expect("O·C·kh·kw elements");
        store.accumulate(weight, dw);
    }
    if want_x {
        store.accumulate(
            input,
            Array::from_shape_vec(IxDyn(&[g.n, g.c, g.h, g.w]), dx).expect("sized by col2im"),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn random(rng: &mut StdRng, shape: &[usize]) -> Array {
        let n = shape.iter().product();
        Array::from_shape_vec(
            IxDyn(shape),
            (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect(),
        )
        .expect("sized")
    }

    /// Direct convolution in f64 and its gradients for the cotangent `ct`:
    /// (out, dx, dw), all row-major.
    fn direct(
        x: &Array,
        w: &Array,
        ct: &Array,
        s: usize,
        p: usize,
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (xs, ws) = (x.shape(), w.shape());
        let g = ConvGeometry::new(xs, (ws[2], ws[3]), ws[1], s, p).expect("geometry");
        let o = ws[0];
        let mut out = vec![0.0f64; g.n * o * g.oh * g.ow];
        let (mut dx, mut dw) = (vec![0.0f64; x.len()], vec![0.0f64; w.len()]);
        for n in 0..g.n {
            for oc in 0..o {
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let at = ((n * o + oc) * g.oh + oy) * g.ow + ox;
                        for c in 0..g.c {
                            for ky in 0..g.kh {
                                for kx in 0..g.kw {
                                    let (iy, ix) = (
                                        (oy * s + ky) as isize - p as isize,
                                        (ox * s + kx) as isize - p as isize,
                                    );
                                    if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize
                                    {
                                        continue;
                                    }
                                    let xi = [n, c, iy as usize, ix as usize];
                                    let wi = [oc, c, ky, kx];
                                    let xf = ((xi[0] * g.c + xi[1]) * g.h + xi[2]) * g.w + xi[3];
                                    let wf = ((wi[0] * g.c + wi[1]) * g.kh + wi[2]) * g.kw + wi[3];
                                    out[at] += f64::from(x[&xi[..]]) * f64::from(w[&wi[..]]);
                                    let gv = f64::from(ct.as_slice().expect("contiguous")[at]);
                                    dx[xf] += gv * f64::from(w[&wi[..]]);
                                    dw[wf] += gv * f64::from(x[&xi[..]]);
                                }
                            }
                        }
                    }
                }
            }
        }
        (out, dx, dw)
    }

    fn assert_close(what: &str, got: &[f32], want: &[f64]) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            assert!(
                (f64::from(g) - w).abs() <= 1e-4 * (1.0 + w.abs()),
                "{what}[{i}]: {g} vs {w}"
            );
        }
    }

    #[test]
    fn conv2d_matches_direct_loops() {
        // N = 9 spans three groups of IMAGES_PER_PARTIAL (4, 4, 1) in backward;
        // odd sizes, strides, paddings wider than the kernel's reach, a 1×1
        // and a non-square kernel.
        let cases = [
            ([9, 3, 7, 6], [5, 3, 3, 3], 1, 1),
            ([9, 2, 8, 7], [3, 2, 3, 2], 2, 1),
            ([5, 2, 6, 6], [4, 2, 3, 3], 3, 2),
            ([6, 1, 5, 5], [2, 1, 1, 1], 1, 0),
            ([2, 2, 4, 5], [3, 2, 2, 3], 1, 3),
        ];
        let mut rng = StdRng::seed_from_u64(7);
        for (xs, ws, s, p) in cases {
            let (xa, wa) = (random(&mut rng, &xs), random(&mut rng, &ws));
            let (x, w) = (Tensor::param(xa.clone()), Tensor::param(wa.clone()));
            let y = x.conv2d(&w, s, p).expect("conv");
            let ct = random(&mut rng, &y.shape());
            let (out, dx, dw) = direct(&xa, &wa, &ct, s, p);
            let name = format!("x {xs:?} w {ws:?} s{s} p{p}");
            assert_close(&format!("{name} out"), &y.to_vec(), &out);
            y.mul(&Tensor::new(ct))
                .expect("mul")
                .sum()
                .backward()
                .expect("backward");
            assert_close(
                &format!("{name} dx"),
                x.grad().expect("dx").as_slice().expect("contiguous"),
                &dx,
            );
            assert_close(
                &format!("{name} dw"),
                w.grad().expect("dw").as_slice().expect("contiguous"),
                &dw,
            );
        }
    }

    #[test]
    fn conv2d_weight_gradient_without_input_gradient() {
        // the first layer's case: the input is data, only dw is wanted
        let mut rng = StdRng::seed_from_u64(8);
        let (xa, wa) = (
            random(&mut rng, &[7, 1, 6, 5]),
            random(&mut rng, &[4, 1, 3, 3]),
        );
        let w = Tensor::param(wa.clone());
        let y = Tensor::new(xa.clone()).conv2d(&w, 1, 1).expect("conv");
        let ct = random(&mut rng, &y.shape());
        let (_, _, dw) = direct(&xa, &wa, &ct, 1, 1);
        y.mul(&Tensor::new(ct))
            .expect("mul")
            .sum()
            .backward()
            .expect("backward");
        assert_close(
            "dw",
            w.grad().expect("dw").as_slice().expect("contiguous"),
            &dw,
        );
    }

    #[test]
    fn public_im2col_and_col2im_are_adjoint() {
        // ⟨im2col(x), C⟩ = ⟨x, col2im(C)⟩, with stride and padding
        let mut rng = StdRng::seed_from_u64(9);
        let g = ConvGeometry::new(&[3, 2, 7, 6], (3, 2), 2, 2, 1).expect("geometry");
        let x = random(&mut rng, &[3, 2, 7, 6]);
        let cols = im2col(x.as_slice().expect("contiguous"), &g);
        assert_eq!(cols.dim(), (3 * g.oh * g.ow, 2 * 3 * 2));
        let c = random(&mut rng, &[cols.nrows(), cols.ncols()])
            .into_dimensionality::<ndarray::Ix2>()
            .expect("2-D");
        let back = col2im(c.view(), &g);
        let lhs: f64 = cols
            .iter()
            .zip(c.iter())
            .map(|(&a, &b)| f64::from(a) * f64::from(b))
            .sum();
        let rhs: f64 = x
            .iter()
            .zip(&back)
            .map(|(&a, &b)| f64::from(a) * f64::from(b))
            .sum();
        assert!(
            (lhs - rhs).abs() < 1e-4 * (1.0 + lhs.abs()),
            "{lhs} vs {rhs}"
        );
        // and a row is the receptive field: image 1, output (1, 2), channel 1, offset (2, 0)
        let (oy, ox, c_, ky, kx) = (1, 2, 1, 2, 0);
        let (iy, ix) = (oy * 2 + ky - 1, ox * 2 + kx - 1);
        let row = g.oh * g.ow + oy * g.ow + ox;
        assert_eq!(cols[[row, (c_ * 3 + ky) * 2 + kx]], x[[1, c_, iy, ix]]);
    }
}
