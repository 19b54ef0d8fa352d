//! The CPU backend: ndarray's matrix multiply (the `matrixmultiply` crate,
//! threaded). Always compiled; the reference every other backend is checked
//! against, and the fallback when no accelerator is available.

use ndarray::{Array2, ArrayView2};

use super::Backend;

/// The reference backend.
pub struct Cpu;

impl Backend for Cpu {
    fn name(&self) -> String {
        "cpu".into()
    }

    fn matmul(&self, a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> Array2<f32> {
        a.dot(&b)
    }
}
