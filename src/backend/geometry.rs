//! Sizes of a convolution and of a pooling window, derived once and shared by
//! the engine's checks and every backend's kernels.
//!
//! Convolution: x (N, C, H, W), w (O, C, kh, kw) → (N, O, H', W') with
//! H' = (H + 2·padding − kh) / stride + 1 (floor), W' likewise.
//! Pooling (no padding): H' = (H − k) / stride + 1.

use crate::{Error, Result};

/// Why a window does not fit (see [`output_size`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeError {
    ZeroStride,
    ZeroKernel,
    /// n + 2·padding does not fit in a usize
    Overflow,
    /// the kernel is larger than the padded input (n + 2·padding)
    KernelTooLarge {
        padded: usize,
    },
}

/// The one output-size formula, `floor((n + 2·padding − k) / stride) + 1`
/// (PyTorch's `Conv2d`/`MaxPool2d` with dilation 1), checked: every place
/// that sizes a convolution or a pooling window (the engine, the model
/// builder, `dl-lab conv-size`) asks here and words the error its own way.
pub fn output_size(
    n: usize,
    k: usize,
    stride: usize,
    padding: usize,
) -> std::result::Result<usize, SizeError> {
    if stride == 0 {
        return Err(SizeError::ZeroStride);
    }
    if k == 0 {
        return Err(SizeError::ZeroKernel);
    }
    let padded = padding
        .checked_mul(2)
        .and_then(|p| p.checked_add(n))
        .ok_or(SizeError::Overflow)?;
    if k > padded {
        return Err(SizeError::KernelTooLarge { padded });
    }
    Ok((padded - k) / stride + 1)
}

/// Sizes of one convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    /// output channels (the weight's first dimension)
    pub o: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub padding: usize,
    pub oh: usize,
    pub ow: usize,
}

impl ConvGeometry {
    /// Check x's shape `x` (N, C, H, W) against a weight (o, c_w, k.0, k.1).
    pub fn new(
        x: &[usize],
        o: usize,
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
        let (kh, kw) = k;
        let size = |n: usize, k: usize| match output_size(n, k, stride, padding) {
            Ok(out) => Ok(out),
            Err(SizeError::Overflow) => Err(bad(format!("padding {padding} is too large"))),
            Err(_) => Err(bad(format!(
                "kernel {kh}x{kw} does not fit the padded input {}x{}",
                h.saturating_add(padding.saturating_mul(2)),
                w.saturating_add(padding.saturating_mul(2))
            ))),
        };
        let (oh, ow) = (size(h, k.0)?, size(w, k.1)?);
        Ok(ConvGeometry {
            n,
            c,
            h,
            w,
            o,
            kh: k.0,
            kw: k.1,
            stride,
            padding,
            oh,
            ow,
        })
    }

    /// H'·W': output positions per image and channel.
    pub fn rows_per_image(&self) -> usize {
        self.oh * self.ow
    }

    /// C·kh·kw: the length of one receptive field.
    pub fn patch(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// The output shape (N, O, H', W').
    pub fn out_shape(&self) -> [usize; 4] {
        [self.n, self.o, self.oh, self.ow]
    }

    /// The outputs o in 0..out_len whose input coordinate o·stride + k − padding
    /// (kernel offset k) falls inside 0..in_len, as `lo..hi` (empty: lo == hi).
    /// Outside it the kernel reads padding. The same rule serves rows and columns.
    #[inline]
    pub fn valid(&self, k: usize, out_len: usize, in_len: usize) -> (usize, usize) {
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

/// Output height/width of pooling, with errors naming the problem. A window
/// larger than either input dimension is an error.
pub fn pool_geometry(
    op: &'static str,
    shape: &[usize],
    k: usize,
    stride: usize,
) -> Result<(usize, usize)> {
    let bad = |why: String| Error::BadArgument { op, why };
    if shape.len() != 4 {
        return Err(bad(format!("input must be (N, C, H, W), got {shape:?}")));
    }
    if k == 0 || stride == 0 {
        return Err(bad("kernel size and stride must be at least 1".into()));
    }
    let (h, w) = (shape[2], shape[3]);
    match (output_size(h, k, stride, 0), output_size(w, k, stride, 0)) {
        (Ok(oh), Ok(ow)) => Ok((oh, ow)),
        _ => Err(bad(format!(
            "window {k}x{k} is larger than the input {h}x{w}"
        ))),
    }
}
