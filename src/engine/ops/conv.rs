//! 2-D convolution (cross-correlation, as PyTorch's `conv2d`).
//!
//! x: (N, C, H, W), w: (O, C, kh, kw) → (N, O, H', W') with
//! H' = (H + 2·padding - kh) / stride + 1 (floor), W' likewise.
//!
//! Backward, with g = dL/dout:
//!   dx = the transposed convolution of g with w (col2im of w2ᵀ·g)
//!   dw = Σ over images of g_n · im2col(x_n)ᵀ
//! How each device computes these is its own (`backend::cpu::conv` works one
//! image at a time in cache); the engine checks shapes and records the op.
//! Bias is a separate broadcast add (see nn::Conv2d), or, followed by ReLU,
//! fused into the convolution's output pass (`conv2d_bias_relu`), and with a
//! max pool after the ReLU, ReLU's backward runs on the pooled gradient
//! (`conv2d_bias_relu_max_pool2d`).

use super::Op;
use crate::backend::{ConvGeometry, Indices, Storage};
use crate::engine::graph::GradStore;
use crate::engine::tensor::Tensor;
use crate::{Error, Result};

/// The geometry of x ⋆ w, or an error naming the problem.
fn geometry(x: &[usize], w: &[usize], stride: usize, padding: usize) -> Result<ConvGeometry> {
    if w.len() != 4 {
        return Err(Error::BadArgument {
            op: "conv2d",
            why: format!("weight must be (O, C, kh, kw), got {w:?}"),
        });
    }
    if x.len() == 4 && x[1] != w[1] {
        return Err(Error::ShapeMismatch {
            op: "conv2d",
            lhs: x.to_vec(),
            rhs: w.to_vec(),
            why: format!(
                "input has {} channels but the weight expects {}",
                x[1], w[1]
            ),
        });
    }
    ConvGeometry::new(x, w[0], (w[2], w[3]), w[1], stride, padding)
}

impl Tensor {
    /// Convolve `self` (N, C, H, W) with `weight` (O, C, kh, kw).
    pub fn conv2d(&self, weight: &Tensor, stride: usize, padding: usize) -> Result<Tensor> {
        let (x, w) = (self.storage(), weight.storage());
        let g = geometry(x.shape(), w.shape(), stride, padding)?;
        let value = x.conv2d(&w, &g)?;
        drop((x, w));
        let op = Op::Conv2d {
            input: self.clone(),
            weight: weight.clone(),
            stride,
            padding,
        };
        Ok(Tensor::from_op(value, op))
    }
}

impl Tensor {
    /// relu(conv2d(self, weight) + bias), `bias` (O,) per output channel, in
    /// one op: the bias and ReLU are applied as the convolution writes its
    /// output, and nothing else is saved for backward (ReLU's mask is the
    /// output's sign). Same values as the three ops one after another.
    pub fn conv2d_bias_relu(
        &self,
        weight: &Tensor,
        bias: &Tensor,
        stride: usize,
        padding: usize,
    ) -> Result<Tensor> {
        let value = self.conv2d_bias_relu_value(weight, bias, stride, padding)?;
        let op = Op::Conv2dBiasRelu {
            input: self.clone(),
            weight: weight.clone(),
            bias: bias.clone(),
            stride,
            padding,
        };
        Ok(Tensor::from_op(value, op))
    }

    /// max_pool2d(relu(conv2d(self, weight) + bias), pool_kernel,
    /// pool_stride) in one op (the same values as the ops one after
    /// another). Only the pooled output and the pool's winners are kept for
    /// backward, which runs ReLU's mask and the bias's sum over the pooled
    /// gradient (see `conv2d_bias_relu_max_pool2d_backward`). Without a
    /// graph it is the two ops.
    pub fn conv2d_bias_relu_max_pool2d(
        &self,
        weight: &Tensor,
        bias: &Tensor,
        (stride, padding): (usize, usize),
        (pool_kernel, pool_stride): (usize, usize),
    ) -> Result<Tensor> {
        let y = self.conv2d_bias_relu_value(weight, bias, stride, padding)?;
        let tracked = [self, weight, bias].iter().any(|t| t.requires_grad());
        if !(tracked && crate::engine::tensor::is_grad_enabled()) {
            // nothing will ask for the winners (inference, data)
            return Ok(Tensor::from_storage(
                y.max_pool2d_values(pool_kernel, pool_stride)?,
            ));
        }
        crate::backend::pool_geometry("max_pool2d", y.shape(), pool_kernel, pool_stride)?;
        let (value, argmax) = y.max_pool2d(pool_kernel, pool_stride)?;
        let op = Op::Conv2dBiasReluMaxPool2d {
            input: self.clone(),
            weight: weight.clone(),
            bias: bias.clone(),
            stride,
            padding,
            argmax,
            conv_shape: y.shape().to_vec(),
        };
        Ok(Tensor::from_op(value, op))
    }

    /// relu(conv2d(self, weight) + bias)'s value, shapes checked.
    fn conv2d_bias_relu_value(
        &self,
        weight: &Tensor,
        bias: &Tensor,
        stride: usize,
        padding: usize,
    ) -> Result<Storage> {
        let (x, w, b) = (self.storage(), weight.storage(), bias.storage());
        let g = geometry(x.shape(), w.shape(), stride, padding)?;
        if b.shape() != [g.o] {
            return Err(Error::ShapeMismatch {
                op: "conv2d_bias_relu",
                lhs: w.shape().to_vec(),
                rhs: b.shape().to_vec(),
                why: format!("the bias must be ({},), one per output channel", g.o),
            });
        }
        x.conv2d_bias_relu(&w, &b, &g)
    }
}

/// y = relu(z), z = conv + b. With g = dL/dy and the saved y:
///   dz = g where y > 0, else 0   (y > 0 exactly where z > 0)
///   db = Σ over (N, H', W') of dz
///   dx, dw = conv2d's backward of dz
pub(crate) fn conv2d_bias_relu_backward(
    grad_out: Storage,
    out: &Storage,
    (input, weight, bias): (&Tensor, &Tensor, &Tensor),
    stride: usize,
    padding: usize,
    store: &mut GradStore,
) -> Result<()> {
    // the mask and the bias's sum in one pass over g
    let (dz, db) = out.relu_backward_channel_sum(grad_out, store.wants(bias))?;
    if let Some(db) = db {
        store.accumulate(bias, db)?;
    }
    conv2d_backward(&dz, input, weight, stride, padding, store)
}

/// p = max_pool(y), y = relu(z), z = conv + b. With gp = dL/dp and the
/// saved p: at a window's winner y = p, so ReLU's mask there is p > 0 and
///   dp' = gp where p > 0, else 0   (over the pooled shape)
///   dz  = dp' scattered to the winners (overlapping windows add)
///   db  = Σ over (N, H', W') of dp' (= Σ of dz, summed in another order)
///   dx, dw = conv2d's backward of dz
/// dz has the same values as the pool's backward followed by
/// `conv2d_bias_relu_backward`, as masking commutes with the scatter.
pub(crate) fn conv2d_bias_relu_max_pool2d_backward(
    grad_out: Storage,
    out: &Storage,
    (input, weight, bias): (&Tensor, &Tensor, &Tensor),
    (argmax, conv_shape): (&Indices, &[usize]),
    (stride, padding): (usize, usize),
    store: &mut GradStore,
) -> Result<()> {
    let (dp, db) = out.relu_backward_channel_sum(grad_out, store.wants(bias))?;
    if let Some(db) = db {
        store.accumulate(bias, db)?;
    }
    if !store.wants(weight) && !store.wants(input) {
        return Ok(());
    }
    let dz = dp.scatter_add(argmax, conv_shape)?;
    conv2d_backward(&dz, input, weight, stride, padding, store)
}

pub(crate) fn conv2d_backward(
    grad_out: &Storage,
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
    // Release the locks before `accumulate`, which reads the tensors again
    // (a recursive RwLock read can deadlock).
    let (dx, dw) = {
        let (x, w) = (input.storage(), weight.storage());
        let g = geometry(x.shape(), w.shape(), stride, padding)?;
        x.conv2d_backward(&w, grad_out, &g, want_x, want_w)?
    };
    if let Some(dw) = dw {
        store.accumulate(weight, dw)?;
    }
    if let Some(dx) = dx {
        store.accumulate(input, dx)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::backend::cpu::conv::{col2im, im2col};
    use crate::engine::tensor::Array;
    use ndarray::IxDyn;

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
        let g = ConvGeometry::new(xs, ws[0], (ws[2], ws[3]), ws[1], s, p).expect("geometry");
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
        let g = ConvGeometry::new(&[3, 2, 7, 6], 1, (3, 2), 2, 2, 1).expect("geometry");
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
