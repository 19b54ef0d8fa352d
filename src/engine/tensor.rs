//! The `Tensor` handle: an f32 ndarray value, an optional gradient, and the
//! [`Op`] that produced it (the edge of the autograd graph).
//!
//! A `Tensor` is a cheap reference-counted handle (`Arc`), so the same
//! parameter can sit in a model, in an optimizer and in the graph of a forward
//! pass at once. Values and gradients live behind `RwLock`s so a model can be
//! moved to a training thread (`Tensor: Send + Sync`).

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use ndarray::{ArrayD, IxDyn};

use super::ops::Op;

/// The array type every tensor holds.
pub type Array = ArrayD<f32>;

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// A node of the graph: value, gradient, and how it was made.
pub(crate) struct Node {
    pub(crate) id: usize,
    pub(crate) data: RwLock<Array>,
    pub(crate) grad: RwLock<Option<Array>>,
    pub(crate) requires_grad: bool,
    /// `None` for leaves (inputs, parameters) and for results computed
    /// without grad.
    pub(crate) op: Option<Op>,
}

/// A multi-dimensional f32 array that remembers how it was computed.
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<Node>);

impl Tensor {
    fn from_parts(data: Array, requires_grad: bool, op: Option<Op>) -> Tensor {
        Tensor(Arc::new(Node {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            data: RwLock::new(data),
            grad: RwLock::new(None),
            requires_grad,
            op,
        }))
    }

    /// A constant (no gradient is tracked for it).
    pub fn new(data: Array) -> Tensor {
        Tensor::from_parts(data, false, None)
    }

    /// A leaf whose gradient `backward()` computes: a parameter.
    pub fn param(data: Array) -> Tensor {
        Tensor::from_parts(data, true, None)
    }

    /// A constant from a flat vector and a shape.
    pub fn from_vec(shape: &[usize], values: Vec<f32>) -> crate::Result<Tensor> {
        let n: usize = shape.iter().product();
        let len = values.len();
        Array::from_shape_vec(IxDyn(shape), values)
            .map(Tensor::new)
            .map_err(|_| crate::Error::BadArgument {
                op: "from_vec",
                why: format!("{len} values cannot fill shape {shape:?} ({n} elements)"),
            })
    }

    /// A 0-dimensional constant.
    pub fn scalar(value: f32) -> Tensor {
        Tensor::new(ArrayD::from_elem(IxDyn(&[]), value))
    }

    pub fn zeros(shape: &[usize]) -> Tensor {
        Tensor::new(Array::zeros(IxDyn(shape)))
    }

    pub fn ones(shape: &[usize]) -> Tensor {
        Tensor::new(Array::ones(IxDyn(shape)))
    }

    /// The result of an op: tracked if grad mode is on and any input is.
    pub(crate) fn from_op(data: Array, op: Op) -> Tensor {
        let mut any_tracked = false;
        op.for_each_input(|t| any_tracked |= t.requires_grad());
        if any_tracked && is_grad_enabled() {
            Tensor::from_parts(data, true, Some(op))
        } else {
            Tensor::from_parts(data, false, None)
        }
    }

    /// A new leaf with the same value, cut from the graph (PyTorch's `detach`).
    pub fn detach(&self) -> Tensor {
        Tensor::new(self.to_array())
    }

    /// Turn this handle's node into one that requires grad (for leaves made
    /// with `new`); returns a new leaf sharing nothing with the old one.
    pub fn requires_grad_(self) -> Tensor {
        Tensor::param(self.to_array())
    }

    pub fn id(&self) -> usize {
        self.0.id
    }

    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// Read access to the value.
    pub fn data(&self) -> RwLockReadGuard<'_, Array> {
        self.0.data.read().expect("tensor lock poisoned")
    }

    /// Write access to the value (optimizers update parameters in place).
    pub fn data_mut(&self) -> RwLockWriteGuard<'_, Array> {
        self.0.data.write().expect("tensor lock poisoned")
    }

    /// A copy of the value.
    pub fn to_array(&self) -> Array {
        self.data().clone()
    }

    /// The value as a flat vector in row-major order.
    pub fn to_vec(&self) -> Vec<f32> {
        self.data().iter().copied().collect()
    }

    pub fn shape(&self) -> Vec<usize> {
        self.data().shape().to_vec()
    }

    pub fn ndim(&self) -> usize {
        self.data().ndim()
    }

    pub fn numel(&self) -> usize {
        self.data().len()
    }

    /// The single value of a one-element tensor (PyTorch's `item()`).
    pub fn item(&self) -> f32 {
        let d = self.data();
        assert_eq!(
            d.len(),
            1,
            "item() needs exactly one element, shape {:?}",
            d.shape()
        );
        d.iter().next().copied().unwrap_or(f32::NAN)
    }

    /// The accumulated gradient (`None` before the first backward or after `zero_grad`).
    pub fn grad(&self) -> Option<Array> {
        self.0.grad.read().expect("grad lock poisoned").clone()
    }

    pub(crate) fn grad_mut(&self) -> RwLockWriteGuard<'_, Option<Array>> {
        self.0.grad.write().expect("grad lock poisoned")
    }

    /// Forget the gradient (PyTorch's `zero_grad(set_to_none=True)`).
    pub fn zero_grad(&self) {
        *self.grad_mut() = None;
    }

    /// The name of the op that produced this tensor ("leaf" for inputs and parameters).
    pub fn op_name(&self) -> &'static str {
        self.0.op.as_ref().map_or("leaf", Op::name)
    }

    pub(crate) fn op(&self) -> Option<&Op> {
        self.0.op.as_ref()
    }

    /// Replace the value (same shape expected by callers such as optimizers).
    pub fn set_data(&self, value: Array) {
        *self.data_mut() = value;
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Tensor(shape={:?}, op={}, requires_grad={}, data={})",
            self.shape(),
            self.op_name(),
            self.requires_grad(),
            self.data()
        )
    }
}

/// Whether ops on this thread record the graph.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

/// While alive, ops on this thread record no graph (PyTorch's `torch.no_grad()`).
pub struct NoGradGuard {
    previous: bool,
}

impl NoGradGuard {
    pub fn new() -> Self {
        let previous = GRAD_ENABLED.with(|g| g.replace(false));
        NoGradGuard { previous }
    }
}

impl Default for NoGradGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}

/// Run `f` with no graph recording: `no_grad(|| model.forward(&x))`.
pub fn no_grad<T>(f: impl FnOnce() -> T) -> T {
    let _guard = NoGradGuard::new();
    f()
}
