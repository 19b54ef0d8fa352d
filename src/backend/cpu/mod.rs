//! The CPU backend: the reference implementation of every operation, over
//! ndarray arrays, with rayon spreading the large loops over the cores.
//! Always compiled; every other backend is checked against it, and it is the
//! fallback when no accelerator is available.
//!
//! - `layout.rs`: broadcast loop nests and the output builder the kernels share
//! - `elementwise.rs`, `reduce.rs`, `matmul.rs`, `conv.rs`, `pool.rs`, `optim.rs`

pub mod conv;
pub mod conv_grad;
pub mod conv_grad_direct;
mod elementwise;
pub mod gemm;
pub(crate) mod layout;
pub mod matmul;
mod optim;
pub(crate) mod pool;
pub(crate) mod reduce;
pub mod winograd;
#[cfg(target_arch = "x86_64")]
mod winograd_avx512;

use ndarray::{Ix2, IxDyn};

use super::{BackendStorage, BinaryOp, ConvGeometry, Device, UnaryOp, UpdateRule};
use crate::engine::Array;
use crate::{Error, Result};

pub use elementwise::sigmoid;
pub use reduce::sum_to_shape;

static AVX512_OFF: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the AVX-512 kernels run: the CPU has AVX-512 F, BW, DQ and VL,
/// and [`use_avx512`] did not turn them off. They are the Winograd
/// transforms, 2×2 max pooling, the element-wise loops and the fused ReLU
/// mask + bias sum (the same values to the bit as the portable builds), and
/// Winograd's products, the Winograd and direct weight gradients (our
/// microkernel or loops instead of matrixmultiply or im2col: the same values
/// to rounding, not to the bit).
pub fn avx512() -> bool {
    !AVX512_OFF.load(std::sync::atomic::Ordering::Relaxed) && cpu_has_avx512()
}

/// Whether the CPU itself has AVX-512 F, BW, DQ and VL, whatever
/// [`use_avx512`] says: what a kernel's safety rests on, and what a test
/// checks to know which build ran while other tests flip the switch.
pub fn cpu_has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512dq")
            && std::is_x86_feature_detected!("avx512vl")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Random values in [−1, 1) of `shape`: the kernels' tests' inputs.
#[cfg(test)]
pub(crate) fn random_array(rng: &mut rand::rngs::StdRng, shape: &[usize]) -> Array {
    use rand::Rng;
    let n = shape.iter().product();
    let v = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    Array::from_shape_vec(IxDyn(shape), v).expect("sized by shape")
}

/// Turn the AVX-512 builds off (false) or back on where the CPU has them:
/// for comparing the two in one process (op_bench, and the tests of the
/// portable builds; a test that must know which ran checks the CPU itself).
pub fn use_avx512(on: bool) {
    AVX512_OFF.store(!on, std::sync::atomic::Ordering::Relaxed);
}

fn as_2d(a: &Array) -> Result<ndarray::ArrayView2<'_, f32>> {
    a.view()
        .into_dimensionality::<Ix2>()
        .map_err(|_| Error::BadArgument {
            op: "matmul",
            why: format!("expects 2-D matrices, got shape {:?}", a.shape()),
        })
}

/// `a` (any layout) with a new row-major shape; free when `a` is row-major.
fn reshape_owned(a: Array, shape: &[usize]) -> Array {
    let a = if a.is_standard_layout() {
        a
    } else {
        a.as_standard_layout().into_owned()
    };
    a.into_shape_with_order(IxDyn(shape))
        .expect("element count checked")
}

impl BackendStorage for Array {
    type Indices = Vec<usize>;

    fn shape(&self) -> &[usize] {
        ndarray::ArrayBase::shape(self)
    }

    fn device(&self) -> Device {
        Device::Cpu
    }

    fn to_host(&self) -> Result<Array> {
        Ok(self.clone())
    }

    fn reshape(self, shape: &[usize]) -> Result<Self> {
        let n: usize = shape.iter().product();
        if n != self.len() {
            return Err(Error::ShapeMismatch {
                op: "reshape",
                lhs: ndarray::ArrayBase::shape(&self).to_vec(),
                rhs: shape.to_vec(),
                why: format!("{} elements cannot be viewed as {n}", self.len()),
            });
        }
        Ok(reshape_owned(self, shape))
    }

    fn zeros_like(&self, shape: &[usize]) -> Result<Self> {
        Ok(Array::zeros(IxDyn(shape)))
    }

    fn try_clone(&self) -> Result<Self> {
        Ok(self.clone())
    }

    fn unary(&self, op: UnaryOp) -> Result<Self> {
        Ok(elementwise::unary(self, op))
    }

    fn unary_backward(&self, g: Self, op: UnaryOp) -> Result<Self> {
        Ok(elementwise::unary_backward(self, g, op))
    }

    fn binary(&self, rhs: &Self, op: BinaryOp, shape: &[usize]) -> Result<Self> {
        Ok(elementwise::binary(self, rhs, op, shape))
    }

    fn add_assign(&mut self, rhs: &Self) -> Result<()> {
        *self += rhs;
        Ok(())
    }

    fn sum_to_shape(&self, shape: &[usize]) -> Result<Self> {
        Ok(reduce::sum_to_shape(self, shape))
    }

    fn broadcast_to(&self, shape: &[usize]) -> Result<Self> {
        Ok(reduce::broadcast_to(self, shape))
    }

    fn sum_axes(&self, axes: &[usize], keepdim: bool) -> Result<Self> {
        Ok(reduce::sum_axes(self, axes, keepdim))
    }

    fn max_dim(&self, axis: usize, keepdim: bool) -> Result<(Self, Vec<usize>)> {
        Ok(reduce::max_dim(self, axis, keepdim))
    }

    fn scatter_add(&self, idx: &Vec<usize>, shape: &[usize]) -> Result<Self> {
        // max pooling's winners stay in their plane: scatter plane by plane in parallel
        Ok(match pool::max_pool2d_backward(self, idx, shape) {
            Some(gx) => gx,
            None => reduce::scatter_add(self, idx, shape),
        })
    }

    fn log_softmax(&self, axis: usize) -> Result<Self> {
        Ok(reduce::log_softmax(self, axis))
    }

    fn log_softmax_backward(&self, g: &Self, axis: usize) -> Result<Self> {
        Ok(reduce::log_softmax_backward(self, g, axis))
    }

    fn permute(&self, axes: &[usize]) -> Result<Self> {
        Ok(self
            .view()
            .permuted_axes(IxDyn(axes))
            .as_standard_layout()
            .into_owned())
    }

    fn matmul(&self, rhs: &Self, ta: bool, tb: bool) -> Result<Self> {
        let (a, b) = (as_2d(self)?, as_2d(rhs)?);
        let a = if ta { a.reversed_axes() } else { a };
        let b = if tb { b.reversed_axes() } else { b };
        Ok(matmul::matmul(a, b).into_dyn())
    }

    fn linear(&self, w: &Self, b: &Self, relu: bool) -> Result<Self> {
        let (x, w) = (as_2d(self)?, as_2d(w)?);
        let b = b.as_standard_layout();
        let bias = b.as_slice().expect("standard layout is contiguous");
        let mut y = matmul::matmul_bias(x, w.reversed_axes(), bias);
        if relu {
            // as UnaryOp::Relu: negatives to 0, a NaN kept
            y.mapv_inplace(|v| if v < 0.0 { 0.0 } else { v });
        }
        Ok(y.into_dyn())
    }

    fn conv2d(&self, w: &Self, geom: &ConvGeometry) -> Result<Self> {
        Ok(conv::conv2d(self, w, geom, winograd::Epilogue::default()))
    }

    fn conv2d_bias_relu(&self, w: &Self, b: &Self, geom: &ConvGeometry) -> Result<Self> {
        let b = b.as_standard_layout();
        let epi = winograd::Epilogue {
            bias: Some(b.as_slice().expect("standard layout is contiguous")),
            relu: true,
        };
        Ok(conv::conv2d(self, w, geom, epi))
    }

    fn conv2d_backward(
        &self,
        w: &Self,
        g: &Self,
        geom: &ConvGeometry,
        want_x: bool,
        want_w: bool,
    ) -> Result<(Option<Self>, Option<Self>)> {
        Ok(conv::conv2d_backward(self, w, g, geom, want_x, want_w))
    }

    fn max_pool2d(&self, k: usize, stride: usize) -> Result<(Self, Vec<usize>)> {
        let out = super::pool_geometry("max_pool2d", ndarray::ArrayBase::shape(self), k, stride)?;
        Ok(pool::max_pool2d(self, k, stride, out))
    }

    fn avg_pool2d(&self, k: usize, stride: usize) -> Result<Self> {
        let out = super::pool_geometry("avg_pool2d", ndarray::ArrayBase::shape(self), k, stride)?;
        Ok(pool::avg_pool2d(self, k, stride, out))
    }

    fn avg_pool2d_backward(&self, in_shape: &[usize], k: usize, stride: usize) -> Result<Self> {
        Ok(pool::avg_pool2d_backward(self, in_shape, k, stride))
    }

    fn update(&mut self, grad: &Self, state: &mut [Self], rule: &UpdateRule) -> Result<()> {
        optim::update(self, grad, state, rule);
        Ok(())
    }
}

/// Ask the C allocator to keep freed memory mapped for reuse.
///
/// A training step allocates and frees the same large buffers every batch
/// (the CNN's first conv layer alone makes several 10 MB activations and
/// gradients). glibc's defaults hand such buffers back to the kernel when
/// they are freed (`munmap`, or trimming the heap top), so the next batch
/// takes a page fault on every 4 KB page again, and each unmap of pages that
/// rayon's threads touched interrupts the other cores to flush their TLBs. In
/// the course's CNN that was about half of all CPU time (2.3 s of 5 s in the
/// kernel, 690 K page faults per epoch of 4,000 images). With the thresholds
/// below, buffers up to 32 MB come from the heap and stay there for reuse;
/// memory held is the peak of one step, as before, but kept.
///
/// Called once at start-up (`main`, and the benches); idempotent, a no-op
/// off glibc.
pub fn retain_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::ffi::c_int;
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            extern "C" {
                fn mallopt(param: c_int, value: c_int) -> c_int;
            }
            // <malloc.h>
            const M_TRIM_THRESHOLD: c_int = -1;
            const M_MMAP_THRESHOLD: c_int = -3;
            // SAFETY: mallopt only changes glibc's malloc tuning; it takes
            // malloc's own lock, so other threads may allocate meanwhile, and
            // memory already handed out is not affected. The values are in the
            // ranges glibc accepts (mmap threshold ≤ HEAP_MAX_SIZE / 2 = 32 MB on
            // 64-bit; it returns 0 and changes nothing otherwise).
            unsafe {
                mallopt(M_MMAP_THRESHOLD, 32 << 20);
                mallopt(M_TRIM_THRESHOLD, 1 << 30);
            }
        });
    }
}
