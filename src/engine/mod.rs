//! The tensor engine: a [`Tensor`] records the ops of a forward pass, and
//! `backward()` walks them in reverse, applying each op's hand-written rule.
//!
//! - `tensor.rs`: the handle (value, grad, producing op), no-grad mode
//! - `graph.rs`: topological order, [`GradStore`], `backward()`
//! - `ops/`: the op table and each op's forward + backward
//! - `gradcheck.rs`: finite-difference checking of those rules

pub mod gradcheck;
pub mod graph;
pub mod ops;
pub mod tensor;

pub use graph::GradStore;
pub use ops::Op;
pub use tensor::{is_grad_enabled, no_grad, Array, NoGradGuard, Tensor};
