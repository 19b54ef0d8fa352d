//! Data for training: IDX parsing ([`idx`]), MNIST-style image sets and the shipped sample
//! ([`mnist`]), mini-batching ([`loader`]) and small regression tables from CSV ([`csv`]).
//!
//! Everything here works offline: the shipped MNIST sample (`datasets/mnist5k/`, provenance in
//! `datasets/README.md`) is embedded in the binary, and `--data DIR` reads any directory with
//! the four standard MNIST file names (e.g. Debian's Fashion-MNIST). [`download`] fetches the
//! full sets on request (`dl-lab download mnist`), and `--data mnist` then reads them.

pub mod csv;
pub mod download;
pub mod idx;
pub mod loader;
pub mod mnist;

pub use self::csv::{read_regression_csv, RegressionTable};
pub use self::loader::{to_nchw, Batch, Batches, DataLoader};
pub use self::mnist::{ImageSet, Mnist, NUM_CLASSES};
