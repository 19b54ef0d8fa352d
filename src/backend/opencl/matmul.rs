//! How `cl/matmul.cl`'s GEMM is launched: row-major C (M, N) = op(A) · op(B),
//! A stored (M, K) or, transposed, (K, M); B stored (K, N) or (N, K). The
//! kernels' names, arguments and work sizes are documented in that file's
//! header (one kernel per transpose pair, each with its own register tile
//! and required work-group); this is the one place that knows them.

use opencl3::memory::Buffer;

use super::{Arg, ClDevice, Kernel};
use crate::{Error, Result};

/// One operand of a GEMM: a buffer, the element offset of its (0, 0), and
/// its row stride as stored.
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a> {
    pub buf: &'a Buffer<f32>,
    pub off: usize,
    pub ld: usize,
}

impl<'a> Mat<'a> {
    /// A whole row-major matrix with `cols` columns as stored.
    pub fn dense(buf: &'a Buffer<f32>, cols: usize) -> Self {
        Mat {
            buf,
            off: 0,
            ld: cols,
        }
    }
}

/// The kernels index with 32-bit ints.
fn int(n: usize) -> Result<i32> {
    i32::try_from(n).map_err(|_| Error::OpenCl {
        stage: "size",
        message: format!("matmul: {n} is past the GEMM kernel's 32-bit indexing"),
    })
}

/// c (m × n) ← op(a) · op(b) with inner dimension k (queued, no wait).
/// Nothing is launched when m or n is 0; k = 0 writes zeros.
pub(crate) fn gemm(
    dev: &ClDevice,
    a: Mat<'_>,
    b: Mat<'_>,
    c: Mat<'_>,
    (m, n, k): (usize, usize, usize),
    ta: bool,
    tb: bool,
) -> Result<()> {
    if m == 0 || n == 0 {
        return Ok(());
    }
    // the last element each touches must be addressable with 32 bits
    int(a.off + (if ta { k } else { m }) * a.ld)?;
    int(b.off + (if tb { n } else { k }) * b.ld)?;
    int(c.off + m * c.ld)?;
    let (kernel, global, local) = match (ta, tb) {
        (false, false) => (
            Kernel::MatmulNN,
            [n.div_ceil(32), rup(m.div_ceil(8), 16)],
            [1, 16],
        ),
        (true, false) => (
            Kernel::MatmulTN,
            [n.div_ceil(32), rup(m.div_ceil(8), 16)],
            [1, 16],
        ),
        (true, true) => (
            Kernel::MatmulTT,
            [rup(n.div_ceil(8), 16), m.div_ceil(32)],
            [16, 1],
        ),
        (false, true) => (
            Kernel::MatmulNT,
            [rup(n.div_ceil(4), 4), rup(m.div_ceil(4), 4)],
            [4, 4],
        ),
    };
    dev.launch(
        kernel,
        &[
            Arg::I(int(m)?),
            Arg::I(int(n)?),
            Arg::I(int(k)?),
            Arg::Mem(a.buf),
            Arg::I(int(a.off)?),
            Arg::I(int(a.ld)?),
            Arg::Mem(b.buf),
            Arg::I(int(b.off)?),
            Arg::I(int(b.ld)?),
            Arg::Mem(c.buf),
            Arg::I(int(c.off)?),
            Arg::I(int(c.ld)?),
        ],
        &global,
        Some(&local),
    )
}

/// a rounded up to a multiple of b.
fn rup(a: usize, b: usize) -> usize {
    a.div_ceil(b) * b
}
