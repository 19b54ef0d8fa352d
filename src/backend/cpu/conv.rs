//! 2-D convolution on the CPU (cross-correlation, as PyTorch's `conv2d`) by
//! im2col + matrix multiply.
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
//! Bias is a separate broadcast add (see nn::Conv2d). Sizes: [`ConvGeometry`].

use ndarray::{Array2, ArrayView2, IxDyn};
use rayon::prelude::*;

use super::conv_grad;
use super::conv_grad_direct;
use super::layout;
use super::matmul::matmul;
use super::winograd::{self, Epilogue};
use crate::backend::ConvGeometry;
use crate::engine::Array;

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

/// x (N, C, H, W) ⋆ w (O, C, kh, kw) → (N, O, H', W'), then the epilogue
/// (bias, ReLU) applied as the output is written.
///
/// 3×3 stride-1 convolutions with enough channels run as Winograd
/// F(2×2, 3×3) ([`winograd::applies`]); the rest as im2col + GEMM
/// ([`conv2d_im2col`]).
pub(crate) fn conv2d(x: &Array, w: &Array, g: &ConvGeometry, epi: Epilogue<'_>) -> Array {
    if !winograd::applies(g) {
        return conv2d_im2col(x, w, g, epi);
    }
    let (xs, ws) = (x.as_standard_layout(), w.as_standard_layout());
    let out = winograd::conv2d(
        xs.as_slice().expect("standard layout is contiguous"),
        ws.as_slice().expect("standard layout is contiguous"),
        g,
        epi,
    );
    Array::from_shape_vec(IxDyn(&g.out_shape()), out).expect("sized by the geometry")
}

/// [`conv2d`] by im2col + GEMM, whatever the geometry.
///
/// Image by image, on rayon's threads: im2col into a per-thread buffer
/// (C·kh·kw, H'·W') that stays in cache, then out_n = w2 · cols_t, which is
/// already this image's (O, H'·W') block of the NCHW output.
pub fn conv2d_im2col(x: &Array, w: &Array, g: &ConvGeometry, epi: Epilogue<'_>) -> Array {
    let (g, o) = (*g, g.o);
    let (hw, patch, chw) = (g.rows_per_image(), g.patch(), g.c * g.h * g.w);
    let w2 = weight_2d(w);
    let xs = x.as_standard_layout();
    let src = xs.as_slice().expect("standard layout is contiguous");
    // one piece of the output per image, each with its thread's im2col buffer
    let out = layout::build(
        g.n * o * hw,
        o * hw,
        true,
        || vec![0.0f32; patch * hw],
        |cols_t, start, piece| {
            let n = start / (o * hw).max(1);
            im2col_image(&src[n * chw..(n + 1) * chw], &g, cols_t);
            let cols_t =
                ArrayView2::from_shape((patch, hw), &cols_t[..]).expect("sized by the geometry");
            let y = matmul(w2.view(), cols_t); // (O, H'·W')
            let y = y.as_standard_layout();
            let y = y.as_slice().expect("standard layout is contiguous");
            if epi.bias.is_none() && !epi.relu {
                return piece.extend_from_slice(y);
            }
            for (oc, row) in y.chunks_exact(hw.max(1)).enumerate() {
                let b = epi.bias.map_or(0.0, |b| b[oc]);
                if epi.relu {
                    piece.extend_map(row, |v| winograd::relu(v + b));
                } else {
                    piece.extend_map(row, |v| v + b);
                }
            }
        },
    );
    Array::from_shape_vec(IxDyn(&[g.n, o, g.oh, g.ow]), out).expect("sized above")
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
///
/// For 3×3 stride-1 convolutions dx is a Winograd convolution instead
/// ([`winograd::conv2d_input_grad`]), within a few ulp of this one, and so
/// is dw where the forward is one ([`conv_grad::conv2d_weight_grad`]); with
/// fewer input channels dw is summed directly on AVX-512
/// ([`conv_grad_direct::conv2d_weight_grad`]).
pub(crate) fn conv2d_backward(
    x: &Array,
    w: &Array,
    grad_out: &Array,
    g: &ConvGeometry,
    want_x: bool,
    want_w: bool,
) -> (Option<Array>, Option<Array>) {
    let wino_x = want_x && winograd::applies_to_input_grad(g);
    let wino_w = want_w && conv_grad::applies(g);
    let direct_w = want_w && !wino_w && conv_grad_direct::applies(g);
    // what is left to im2col (nothing: (None, None))
    let (mut dx, mut dw) = conv2d_backward_im2col(
        x,
        w,
        grad_out,
        g,
        want_x && !wino_x,
        want_w && !wino_w && !direct_w,
    );
    let gs = grad_out.as_standard_layout();
    let gsrc = gs.as_slice().expect("standard layout is contiguous");
    if wino_x {
        // dx as a Winograd convolution of the gradient
        let ws = w.as_standard_layout();
        let ws = ws.as_slice().expect("standard layout is contiguous");
        let v = winograd::conv2d_input_grad(gsrc, ws, g);
        dx = Some(Array::from_shape_vec(IxDyn(&[g.n, g.c, g.h, g.w]), v).expect("sized"));
    }
    if wino_w || direct_w {
        let xs = x.as_standard_layout();
        let xs = xs.as_slice().expect("standard layout is contiguous");
        let v = if wino_w {
            conv_grad::conv2d_weight_grad(xs, gsrc, g)
        } else {
            conv_grad_direct::conv2d_weight_grad(xs, gsrc, g)
        };
        dw = Some(Array::from_shape_vec(IxDyn(w.shape()), v).expect("O·C·3·3 values"));
    }
    (dx, dw)
}

/// [`conv2d_backward`] by im2col + GEMM, whatever the geometry.
pub fn conv2d_backward_im2col(
    x: &Array,
    w: &Array,
    grad_out: &Array,
    g: &ConvGeometry,
    want_x: bool,
    want_w: bool,
) -> (Option<Array>, Option<Array>) {
    if !want_w && !want_x {
        return (None, None);
    }
    let (w_shape, w2) = (w.shape().to_vec(), weight_2d(w));
    let (g, o) = (*g, g.o);
    let (hw, patch, chw) = (g.rows_per_image(), g.patch(), g.c * g.h * g.w);
    let xs = x.as_standard_layout();
    let xsrc = xs.as_slice().expect("standard layout is contiguous");
    let gs = grad_out.as_standard_layout();
    let gsrc = gs.as_slice().expect("standard layout is contiguous");

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
                    let d = matmul(g_n, cols_n.t());
                    match &mut dw2 {
                        Some(acc) => *acc += &d,
                        None => dw2 = Some(d),
                    }
                }
                if let Some(dx) = dx.as_deref_mut() {
                    let dcols = matmul(w2.t(), g_n);
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
    let dw = want_w.then(|| {
        let mut dw2 = Array2::<f32>::zeros((o, patch));
        for p in partials.iter().flatten() {
            dw2 += p;
        }
        dw2.into_shape_with_order(IxDyn(&w_shape))
            .expect("O·C·kh·kw elements")
    });
    let dx = want_x
        .then(|| Array::from_shape_vec(IxDyn(&[g.n, g.c, g.h, g.w]), dx).expect("sized by col2im"));
    (dx, dw)
}
