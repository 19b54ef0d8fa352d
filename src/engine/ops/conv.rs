//! 2-D convolution (cross-correlation, as PyTorch's `conv2d`) by im2col +
//! matrix multiply.
//!
//! x: (N, C, H, W), w: (O, C, kh, kw) → (N, O, H', W') with
//! H' = (H + 2·padding - kh) / stride + 1 (floor), W' likewise.
//!
//! im2col lays every receptive field out as a row: cols (N·H'·W', C·kh·kw),
//! row (n, oy, ox), column (c, ky, kx). Then
//!   out  = cols · w2ᵀ          (N·H'·W', O), with w2 = w as (O, C·kh·kw)
//!   dw2  = gᵀ · cols           (O, C·kh·kw)
//!   dcols = g · w2             (N·H'·W', C·kh·kw), scattered back by col2im.
//! Bias is a separate broadcast add (see nn::Conv2d).

use ndarray::{Array2, ArrayView2, IxDyn};
use rayon::prelude::*;

use super::Op;
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
    pub fn new(x: &[usize], k: (usize, usize), c_w: usize, stride: usize, padding: usize) -> Result<Self> {
        let bad = |why: String| Error::BadArgument { op: "conv2d", why };
        if x.len() != 4 {
            return Err(bad(format!("input must be (N, C, H, W), got {x:?}")));
        }
        if stride == 0 {
            return Err(bad("stride must be at least 1".into()));
        }
        let (n, c, h, w) = (x[0], x[1], x[2], x[3]);
        if c != c_w {
            return Err(bad(format!("input has {c} channels but the weight expects {c_w}")));
        }
        let (hp, wp) = (h + 2 * padding, w + 2 * padding);
        if k.0 > hp || k.1 > wp || k.0 == 0 || k.1 == 0 {
            return Err(bad(format!("kernel {}x{} does not fit the padded input {hp}x{wp}", k.0, k.1)));
        }
        let (oh, ow) = ((hp - k.0) / stride + 1, (wp - k.1) / stride + 1);
        Ok(ConvGeometry { n, c, h, w, kh: k.0, kw: k.1, stride, padding, oh, ow })
    }

    fn rows_per_image(&self) -> usize {
        self.oh * self.ow
    }

    fn patch(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// Input coordinate read by output (oy, ox) at kernel offset (ky, kx), if inside.
    #[inline]
    fn source(&self, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
        let iy = (oy * self.stride + ky).checked_sub(self.padding)?;
        let ix = (ox * self.stride + kx).checked_sub(self.padding)?;
        (iy < self.h && ix < self.w).then_some((iy, ix))
    }
}

/// Lay out every receptive field as a row (zeros where padding is read).
pub fn im2col(x: &[f32], g: &ConvGeometry) -> Array2<f32> {
    let (rows, patch) = (g.rows_per_image(), g.patch());
    let mut cols = vec![0.0f32; g.n * rows * patch];
    cols.par_chunks_mut(rows * patch).enumerate().for_each(|(n, out)| {
        let img = &x[n * g.c * g.h * g.w..(n + 1) * g.c * g.h * g.w];
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let row = &mut out[(oy * g.ow + ox) * patch..][..patch];
                for c in 0..g.c {
                    for ky in 0..g.kh {
                        for kx in 0..g.kw {
                            if let Some((iy, ix)) = g.source(oy, ox, ky, kx) {
                                row[(c * g.kh + ky) * g.kw + kx] = img[(c * g.h + iy) * g.w + ix];
                            }
                        }
                    }
                }
            }
        }
    });
    Array2::from_shape_vec((g.n * rows, patch), cols).expect("sized above")
}

/// The adjoint of im2col: add each row's entries back where they were read.
pub fn col2im(cols: ArrayView2<'_, f32>, g: &ConvGeometry) -> Vec<f32> {
    let (rows, patch) = (g.rows_per_image(), g.patch());
    let cols = cols.as_standard_layout();
    let cols = cols.as_slice().expect("standard layout is contiguous");
    let mut x = vec![0.0f32; g.n * g.c * g.h * g.w];
    x.par_chunks_mut(g.c * g.h * g.w).enumerate().for_each(|(n, img)| {
        let src = &cols[n * rows * patch..(n + 1) * rows * patch];
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let row = &src[(oy * g.ow + ox) * patch..][..patch];
                for c in 0..g.c {
                    for ky in 0..g.kh {
                        for kx in 0..g.kw {
                            if let Some((iy, ix)) = g.source(oy, ox, ky, kx) {
                                img[(c * g.h + iy) * g.w + ix] += row[(c * g.kh + ky) * g.kw + kx];
                            }
                        }
                    }
                }
            }
        }
    });
    x
}

/// (N·H'·W', O) rows → (N, O, H', W').
fn rows_to_nchw(m: &Array2<f32>, g: &ConvGeometry, o: usize) -> Array {
    let rows = g.rows_per_image();
    let m = m.as_standard_layout();
    let src = m.as_slice().expect("standard layout is contiguous");
    let mut out = vec![0.0f32; g.n * o * rows];
    out.par_chunks_mut(o * rows).enumerate().for_each(|(n, dst)| {
        for r in 0..rows {
            for oc in 0..o {
                dst[oc * rows + r] = src[(n * rows + r) * o + oc];
            }
        }
    });
    Array::from_shape_vec(IxDyn(&[g.n, o, g.oh, g.ow]), out).expect("sized above")
}

/// (N, O, H', W') → (N·H'·W', O) rows.
fn nchw_to_rows(a: &Array, g: &ConvGeometry, o: usize) -> Array2<f32> {
    let rows = g.rows_per_image();
    let a = a.as_standard_layout();
    let src = a.as_slice().expect("standard layout is contiguous");
    let mut out = vec![0.0f32; g.n * rows * o];
    out.par_chunks_mut(rows * o).enumerate().for_each(|(n, dst)| {
        for oc in 0..o {
            for r in 0..rows {
                dst[r * o + oc] = src[(n * o + oc) * rows + r];
            }
        }
    });
    Array2::from_shape_vec((g.n * rows, o), out).expect("sized above")
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
                why: format!("input has {} channels but the weight expects {}", x.shape()[1], w.shape()[1]),
            });
        }
        let o = w.shape()[0];
        let g = ConvGeometry::new(x.shape(), (w.shape()[2], w.shape()[3]), w.shape()[1], stride, padding)?;
        let xs = x.as_standard_layout();
        let cols = im2col(xs.as_slice().expect("standard layout is contiguous"), &g);
        let w2 = weight_2d(&w);
        let out_rows = backend::current().matmul(cols.view(), w2.t());
        let value = rows_to_nchw(&out_rows, &g, o);
        drop(xs);
        drop(x);
        drop(w);
        let op = Op::Conv2d { input: self.clone(), weight: weight.clone(), stride, padding, cols };
        Ok(Tensor::from_op(value, op))
    }
}

pub(crate) fn conv2d_backward(
    grad_out: &Array,
    input: &Tensor,
    weight: &Tensor,
    stride: usize,
    padding: usize,
    cols: &Array2<f32>,
    store: &mut GradStore,
) -> Result<()> {
    // Copy what is needed and release the weight's lock before `accumulate`,
    // which reads `weight` again (a recursive RwLock read can deadlock).
    let (w_shape, w2) = {
        let w = weight.data();
        (w.shape().to_vec(), weight_2d(&w))
    };
    let o = w_shape[0];
    let g = ConvGeometry::new(&input.shape(), (w_shape[2], w_shape[3]), w_shape[1], stride, padding)?;
    let g_rows = nchw_to_rows(grad_out, &g, o);
    let be = backend::current();
    if store.wants(weight) {
        let dw2 = be.matmul(g_rows.t(), cols.view());
        let dw = dw2.into_shape_with_order(IxDyn(&w_shape)).expect("O·C·kh·kw elements");
        store.accumulate(weight, dw);
    }
    if store.wants(input) {
        let dcols = be.matmul(g_rows.view(), w2.view());
        let dx = col2im(dcols.view(), &g);
        store.accumulate(input, Array::from_shape_vec(IxDyn(&[g.n, g.c, g.h, g.w]), dx).expect("sized by col2im"));
    }
    Ok(())
}
