//! dl-lab: a deep-learning lab that runs in a terminal.
//!
//! - [`engine`]: tensors with hand-written reverse-mode gradients
//! - [`backend`]: the compute backends (CPU reference; accelerators behind one trait)
//! - [`nn`]: layers and losses with PyTorch's names
//! - [`optim`]: optimizers with PyTorch's update rules
//! - [`data`]: IDX/MNIST, CSV, the data loader
//! - [`lessons`]: the course's lessons as data, runnable headless
//! - [`explain`]: step-by-step convolution and pooling arithmetic
//! - [`code`]: `dl-lab code`, a lesson as a runnable PyTorch script
//! - [`script`]: `dl-lab tensor`, the course's PyTorch tensor code run on the engine
//! - [`devices`], [`bench`]: `dl-lab devices` and `dl-lab bench`

pub mod backend;
pub mod bench;
pub mod cli;
pub mod code;
pub mod data;
pub mod devices;
pub mod engine;
pub mod error;
pub mod explain;
pub mod lessons;
pub mod nn;
pub mod optim;
pub mod rng;
pub mod script;
pub mod train;
pub mod tui;

pub use engine::{no_grad, Tensor};
pub use error::{Error, Result};
