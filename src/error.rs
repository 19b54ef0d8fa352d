//! The crate-wide error type: one enum, grouped by area, each variant carrying
//! what a person needs to fix the problem (the op and shapes, the file and line).

use std::path::PathBuf;

/// Errors from the library (engine, data, nn, optim, lessons).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // ---- engine ----
    #[error("{op}: shapes {lhs:?} and {rhs:?} do not fit: {why}")]
    ShapeMismatch {
        op: &'static str,
        lhs: Vec<usize>,
        rhs: Vec<usize>,
        why: String,
    },
    #[error("{op}: {why}")]
    BadArgument { op: &'static str, why: String },
    #[error(
        "{op}: the operands are on different devices ({lhs} and {rhs}); move one with .to(&device)"
    )]
    DeviceMismatch {
        op: &'static str,
        lhs: String,
        rhs: String,
    },
    #[error("backward() needs a scalar (one element) output, got shape {shape:?}")]
    BackwardNotScalar { shape: Vec<usize> },

    // ---- data ----
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {why}")]
    BadFile { path: PathBuf, why: String },
    #[error("{path}:{line}: {why}")]
    BadCsv {
        path: PathBuf,
        line: usize,
        why: String,
    },
    /// IDX parse errors before a path is known (the parser works on bytes).
    #[error("{0}")]
    Idx(String),
    /// Files `dl-lab download` could not fetch and verify, each with why (every mirror's reason).
    #[error("{}", download_failures(.failures))]
    Download { failures: Vec<(String, String)> },

    // ---- configuration / lessons ----
    #[error("{0}")]
    Config(String),
    /// `at` says where: "epoch 12" or "epoch 2, step 340".
    #[error("the loss became {value} at {at}: training diverged. Try a smaller learning rate (now {lr}), e.g. --lr {suggest}")]
    Diverged {
        at: String,
        value: f32,
        lr: f32,
        suggest: f32,
    },
    #[error("OpenCL {stage}: {message}")]
    OpenCl {
        stage: &'static str,
        message: String,
    },
}

/// `lr` to one significant digit, as a person would type it: 0.0009999999 → 0.001.
pub fn round_lr(lr: f32) -> f32 {
    if !lr.is_finite() || lr <= 0.0 {
        return lr;
    }
    format!("{lr:.0e}").parse().unwrap_or(lr)
}

fn download_failures(failures: &[(String, String)]) -> String {
    let lines: Vec<String> = failures
        .iter()
        .map(|(file, why)| format!("  {file}: {why}"))
        .collect();
    let n = failures.len();
    let files = if n == 1 { "file" } else { "files" };
    format!(
        "could not download {n} {files} (any verified file was kept):\n{}",
        lines.join("\n")
    )
}

/// `Result` with the crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The divergence error, suggesting a learning rate ten times smaller,
    /// rounded to one significant digit (`--lr 0.001`, not `0.0009999999`).
    pub fn diverged(at: impl Into<String>, value: f32, lr: f32) -> Self {
        Error::Diverged {
            at: at.into(),
            value,
            lr,
            suggest: round_lr(lr / 10.0),
        }
    }

    /// Attach a path to an I/O error.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
