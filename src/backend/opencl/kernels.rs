//! The OpenCL C sources (the top-level `cl/`, one concern per file, embedded
//! with one `include_str!` each, as candle-metal-kernels' `source.rs`) and
//! the table of kernels the backend launches. Every program is built once,
//! when a device is opened, and its kernels are created then and kept
//! (candle's `kernel.rs` caches the same way).
//!
//! Kernel objects carry their arguments, and `clSetKernelArg` is the one
//! OpenCL call that is not thread-safe, so each kernel sits behind a
//! `Mutex` held from the first argument to the enqueue (which copies the
//! arguments). Creating kernels per call instead measured slower on PoCL
//! (see `ClDevice::launch`).

use std::collections::HashMap;
use std::sync::Mutex;

use opencl3::context::Context;
use opencl3::kernel::Kernel as ClKernel;
use opencl3::program::Program;

use super::cl_err;
use crate::{Error, Result};

pub const ELEMENTWISE: &str = include_str!("../../../cl/elementwise.cl");
pub const REDUCE: &str = include_str!("../../../cl/reduce.cl");
pub const LAYOUT: &str = include_str!("../../../cl/layout.cl");
pub const POOL: &str = include_str!("../../../cl/pool.cl");
pub const CONV: &str = include_str!("../../../cl/conv.cl");
pub const OPTIM: &str = include_str!("../../../cl/optim.cl");
pub const MATMUL: &str = include_str!("../../../cl/matmul.cl");

/// The source files, with the names build errors show.
pub const SOURCES: [(&str, &str); 7] = [
    ("elementwise.cl", ELEMENTWISE),
    ("reduce.cl", REDUCE),
    ("layout.cl", LAYOUT),
    ("pool.cl", POOL),
    ("conv.cl", CONV),
    ("optim.cl", OPTIM),
    ("matmul.cl", MATMUL),
];

/// Every kernel the backend launches, named as in its `.cl` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// `unary_<name>`, by [`UNARY_NAMES`] index
    Unary(u8),
    /// `unary_backward_<name>`
    UnaryBackward(u8),
    /// `binary_same_<name>`, by [`BINARY_NAMES`] index
    BinarySame(u8),
    /// `binary_scalar_<name>`
    BinaryScalar(u8),
    /// `binary_mid_<name>`
    BinaryMid(u8),
    BinaryBcast,
    AddAssign,
    SumAxes,
    MaxDim,
    ScatterUnique,
    ScatterAtomic,
    LogSoftmax,
    LogSoftmaxBackward,
    GatherStrided,
    SwapOuter,
    MaxPool,
    AvgPool,
    AvgPoolBackward,
    /// one item per (row of cols, image), many images per work-group
    Im2colImage,
    /// one item per (image, channel) plane of dx
    Col2imImage,
    Sgd,
    Adam,
    Rmsprop,
    Adagrad,
    /// C = A·B
    MatmulNN,
    /// C = A·Bᵀ
    MatmulNT,
    /// C = Aᵀ·B
    MatmulTN,
    /// C = Aᵀ·Bᵀ
    MatmulTT,
}

/// The unary functions, in the order of their codes (storage.rs `unary_code`).
pub const UNARY_NAMES: [&str; 8] = [
    "neg", "exp", "log", "relu", "sigmoid", "tanh", "pow", "clamp",
];

/// The binary functions, in the order of their codes (`binary_code` in
/// elementwise.rs, the `binary_f` switch in cl/elementwise.cl).
pub const BINARY_NAMES: [&str; 7] = ["add", "sub", "mul", "div", "eq", "bce_loss", "bce_grad"];

impl Kernel {
    /// Every kernel, each built when a device opens.
    pub fn all() -> Vec<Kernel> {
        use Kernel::*;
        let n = UNARY_NAMES.len() as u8;
        let nb = BINARY_NAMES.len() as u8;
        (0..n)
            .map(Unary)
            .chain((0..n).map(UnaryBackward))
            .chain((0..nb).map(BinarySame))
            .chain((0..nb).map(BinaryScalar))
            .chain((0..nb).map(BinaryMid))
            .chain([
                BinaryBcast,
                AddAssign,
                SumAxes,
                MaxDim,
                ScatterUnique,
                ScatterAtomic,
                LogSoftmax,
                LogSoftmaxBackward,
                GatherStrided,
                SwapOuter,
                MaxPool,
                AvgPool,
                AvgPoolBackward,
                Im2colImage,
                Col2imImage,
                Sgd,
                Adam,
                Rmsprop,
                Adagrad,
                MatmulNN,
                MatmulNT,
                MatmulTN,
                MatmulTT,
            ])
            .collect()
    }

    /// (source file, kernel function name)
    pub fn source(self) -> (&'static str, String) {
        use Kernel::*;
        let (file, name) = match self {
            Unary(k) => {
                return (
                    "elementwise.cl",
                    format!("unary_{}", UNARY_NAMES[k as usize]),
                )
            }
            UnaryBackward(k) => {
                return (
                    "elementwise.cl",
                    format!("unary_backward_{}", UNARY_NAMES[k as usize]),
                )
            }
            BinarySame(k) | BinaryScalar(k) | BinaryMid(k) => {
                let pattern = match self {
                    BinarySame(_) => "same",
                    BinaryScalar(_) => "scalar",
                    _ => "mid",
                };
                return (
                    "elementwise.cl",
                    format!("binary_{pattern}_{}", BINARY_NAMES[k as usize]),
                );
            }
            BinaryBcast => ("elementwise.cl", "binary_bcast"),
            AddAssign => ("elementwise.cl", "add_assign"),
            SumAxes => ("reduce.cl", "sum_axes"),
            MaxDim => ("reduce.cl", "max_dim"),
            ScatterUnique => ("reduce.cl", "scatter_unique"),
            ScatterAtomic => ("reduce.cl", "scatter_atomic"),
            LogSoftmax => ("reduce.cl", "log_softmax"),
            LogSoftmaxBackward => ("reduce.cl", "log_softmax_backward"),
            GatherStrided => ("layout.cl", "gather_strided"),
            SwapOuter => ("layout.cl", "swap_outer"),
            MaxPool => ("pool.cl", "max_pool"),
            AvgPool => ("pool.cl", "avg_pool"),
            AvgPoolBackward => ("pool.cl", "avg_pool_backward"),
            Im2colImage => ("conv.cl", "im2col_image"),
            Col2imImage => ("conv.cl", "col2im_image"),
            Sgd => ("optim.cl", "sgd"),
            Adam => ("optim.cl", "adam"),
            Rmsprop => ("optim.cl", "rmsprop"),
            Adagrad => ("optim.cl", "adagrad"),
            MatmulNN => ("matmul.cl", "matmul_nn"),
            MatmulNT => ("matmul.cl", "matmul_nt"),
            MatmulTN => ("matmul.cl", "matmul_tn"),
            MatmulTT => ("matmul.cl", "matmul_tt"),
        };
        (file, name.to_string())
    }
}

/// The built programs of one context and a kernel object per [`Kernel`].
pub struct Kernels {
    // The programs must outlive their kernels; kept for that and for debugging.
    _programs: Vec<Program>,
    kernels: HashMap<Kernel, Mutex<ClKernel>>,
}

impl Kernels {
    /// Build every source file for the context's device. A failure names the
    /// file and carries the device's build log.
    pub fn build(context: &Context, options: &str) -> Result<Kernels> {
        let device = context.default_device();
        let mut programs = HashMap::new();
        for (file, src) in SOURCES {
            let mut program =
                Program::create_from_source(context, src).map_err(cl_err("create program"))?;
            if let Err(e) = program.build(context.devices(), options) {
                let log = program
                    .get_build_log(device)
                    .unwrap_or_else(|l| format!("(no build log: {l})"));
                return Err(Error::OpenCl {
                    stage: "build",
                    message: format!("cl/{file} failed to build ({e}); build log:\n{log}"),
                });
            }
            programs.insert(file, program);
        }
        let mut kernels = HashMap::new();
        for k in Kernel::all() {
            let (file, name) = k.source();
            let program = &programs[file];
            let kernel = ClKernel::create(program, &name).map_err(|e| Error::OpenCl {
                stage: "create kernel",
                message: format!("{name} in cl/{file}: {e}"),
            })?;
            kernels.insert(k, Mutex::new(kernel));
        }
        Ok(Kernels {
            _programs: programs.into_values().collect(),
            kernels,
        })
    }

    pub fn get(&self, k: Kernel) -> &Mutex<ClKernel> {
        &self.kernels[&k]
    }
}

impl std::fmt::Debug for Kernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kernels({} built)", self.kernels.len())
    }
}
