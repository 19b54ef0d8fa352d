//! Compute backends behind one narrow trait, so the CPU reference and an
//! accelerator (OpenCL, a later addition) are interchangeable. Autodiff lives
//! above this layer: kernels never know about gradients.
//!
//! The engine calls [`current()`] for its heavy primitive (matrix multiply;
//! convolution is im2col + matmul), so switching backends is one call to
//! [`set_backend`].

pub mod cpu;

use std::sync::{Arc, RwLock};

use ndarray::{Array2, ArrayView2};

/// The coarse operations a backend provides.
pub trait Backend: Send + Sync {
    /// A short name for status lines ("cpu", "opencl: <device>").
    fn name(&self) -> String;
    /// (m, k) @ (k, n) → (m, n). Views may be transposed (any strides).
    fn matmul(&self, a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> Array2<f32>;
}

static CURRENT: RwLock<Option<Arc<dyn Backend>>> = RwLock::new(None);

/// The backend the engine uses now (the CPU one unless another was set).
pub fn current() -> Arc<dyn Backend> {
    if let Some(b) = CURRENT.read().expect("backend lock poisoned").as_ref() {
        return b.clone();
    }
    Arc::new(cpu::Cpu)
}

/// Make every later op use `backend`.
pub fn set_backend(backend: Arc<dyn Backend>) {
    *CURRENT.write().expect("backend lock poisoned") = Some(backend);
}

/// More threads than any machine this runs on could use.
pub const MAX_THREADS: usize = 256;

/// Limit the threads the CPU kernels use (rayon loops, and the matmul, which
/// splits large products on rayon's pool too). Call before any tensor work;
/// later calls cannot shrink rayon's pool.
pub fn set_threads(threads: usize) -> crate::Result<()> {
    if !(1..=MAX_THREADS).contains(&threads) {
        return Err(crate::Error::Config(format!(
            "--threads must be between 1 and {MAX_THREADS}, got {threads}"
        )));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .map_err(|e| crate::Error::Config(format!("--threads {threads}: {e}")))
}
