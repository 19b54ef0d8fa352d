//! The `Tensor` handle: an f32 value in a [`Storage`] on some device, an
//! optional gradient (on the same device), and the [`Op`] that produced it
//! (the edge of the autograd graph).
//!
//! A `Tensor` is a cheap reference-counted handle (`Arc`), so the same
//! parameter can sit in a model, in an optimizer and in the graph of a forward
//! pass at once. Values and gradients live behind `RwLock`s so a model can be
//! moved to a training thread (`Tensor: Send + Sync`).
//!
//! [`Tensor::data`] gives the value as an ndarray on the host (the value
//! itself on the CPU, a copy from any other device); the engine's ops work on
//! the [`Storage`] and never copy between devices.

use std::cell::Cell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use ndarray::{ArrayD, IxDyn};

use super::ops::Op;
use crate::backend::{Device, Storage};

/// The array type every tensor holds.
pub type Array = ArrayD<f32>;

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// A node of the graph: value, gradient, and how it was made.
pub(crate) struct Node {
    pub(crate) id: usize,
    pub(crate) data: RwLock<Storage>,
    pub(crate) grad: RwLock<Option<Storage>>,
    pub(crate) requires_grad: bool,
    /// `None` for leaves (inputs, parameters) and for results computed
    /// without grad.
    pub(crate) op: Option<Op>,
}

/// A multi-dimensional f32 array that remembers how it was computed.
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<Node>);

thread_local! {
    /// How many `Node::drop`s are nested on this thread's stack right now.
    static DROP_DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Nested drops allowed before a graph is unlinked on the heap instead: a
/// few kilobytes of stack, deeper than the models here, and safe on a small
/// thread stack.
const MAX_DROP_DEPTH: usize = 64;

impl Drop for Node {
    /// Drop a long graph without overflowing the stack: a chain of a million
    /// ops would otherwise drop node by node, each inside the last. Up to
    /// [`MAX_DROP_DEPTH`] nested drops recurse as usual (no allocation, the
    /// common case); deeper, inputs that only this graph holds have their op
    /// taken in place (`Arc::get_mut`, no move of the node) onto a heap
    /// stack, so each drops shallowly.
    fn drop(&mut self) {
        let Some(op) = self.op.take() else { return };
        let depth = DROP_DEPTH.with(Cell::get);
        if depth < MAX_DROP_DEPTH {
            DROP_DEPTH.with(|d| d.set(depth + 1));
            drop(op);
            DROP_DEPTH.with(|d| d.set(depth));
            return;
        }
        let mut stack = op.into_inputs();
        while let Some(mut t) = stack.pop() {
            if let Some(node) = Arc::get_mut(&mut t.0) {
                if let Some(op) = node.op.take() {
                    stack.extend(op.into_inputs());
                }
            }
        }
    }
}

/// A copy of a device value on the host; `None` for a CPU value, which is
/// borrowed as it is. Panics if the device cannot be read (a lost device).
fn host_copy(s: &Storage) -> Option<Array> {
    match s {
        Storage::Cpu(_) => None,
        s => Some(
            s.to_host()
                .unwrap_or_else(|e| panic!("reading a tensor from {}: {e}", s.device())),
        ),
    }
}

/// The host array: the copy if there is one, else the CPU value itself.
fn host_view<'a>(copy: &'a Option<Array>, s: &'a Storage) -> &'a Array {
    match (copy, s) {
        (Some(a), _) => a,
        (None, Storage::Cpu(a)) => a,
        (None, _) => unreachable!("a device value is always copied"),
    }
}

/// The host value of a tensor, borrowed on the CPU or copied from a device.
pub struct HostRef<'a> {
    guard: RwLockReadGuard<'a, Storage>,
    copy: Option<Array>,
}

impl Deref for HostRef<'_> {
    type Target = Array;
    fn deref(&self) -> &Array {
        host_view(&self.copy, &self.guard)
    }
}

/// Write access to a tensor's value on the host; a device value is copied in
/// and written back when this is dropped.
pub struct HostMut<'a> {
    guard: RwLockWriteGuard<'a, Storage>,
    copy: Option<Array>,
}

impl Deref for HostMut<'_> {
    type Target = Array;
    fn deref(&self) -> &Array {
        host_view(&self.copy, &self.guard)
    }
}

impl DerefMut for HostMut<'_> {
    fn deref_mut(&mut self) -> &mut Array {
        match (&mut self.copy, &mut *self.guard) {
            (Some(a), _) => a,
            (None, Storage::Cpu(a)) => a,
            (None, _) => unreachable!("a device value is always copied"),
        }
    }
}

impl Drop for HostMut<'_> {
    fn drop(&mut self) {
        if let Some(a) = self.copy.take() {
            let device = self.guard.device();
            match Storage::Cpu(a).to_device(&device) {
                Ok(s) => *self.guard = s,
                Err(e) => panic!("writing a value back to {device}: {e}"),
            }
        }
    }
}

impl Tensor {
    fn from_parts(data: Array, requires_grad: bool, op: Option<Op>) -> Tensor {
        Tensor::from_storage_parts(Storage::Cpu(data), requires_grad, op)
    }

    fn from_storage_parts(data: Storage, requires_grad: bool, op: Option<Op>) -> Tensor {
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

    /// A constant holding `storage` (on its device).
    pub fn from_storage(storage: Storage) -> Tensor {
        Tensor::from_storage_parts(storage, false, None)
    }

    /// The result of an op: tracked if grad mode is on and any input is.
    pub(crate) fn from_op(data: Storage, op: Op) -> Tensor {
        let mut any_tracked = false;
        op.for_each_input(|t| any_tracked |= t.requires_grad());
        if any_tracked && is_grad_enabled() {
            Tensor::from_storage_parts(data, true, Some(op))
        } else {
            Tensor::from_storage_parts(data, false, None)
        }
    }

    /// A new leaf with the same value, cut from the graph (PyTorch's `detach`).
    pub fn detach(&self) -> Tensor {
        Tensor::from_storage(self.copy_storage())
    }

    /// Turn this handle's node into one that requires grad (for leaves made
    /// with `new`); returns a new leaf sharing nothing with the old one.
    pub fn requires_grad_(self) -> Tensor {
        Tensor::from_storage_parts(self.copy_storage(), true, None)
    }

    fn copy_storage(&self) -> Storage {
        self.storage()
            .try_clone()
            .unwrap_or_else(|e| panic!("copying a tensor on {}: {e}", self.device()))
    }

    /// The device this tensor's value lives on.
    pub fn device(&self) -> Device {
        self.storage().device()
    }

    /// This tensor on `device` (PyTorch's `to`): itself if it is already
    /// there, else a copy that is a leaf of the new device's graph, keeping
    /// `requires_grad` (PyTorch's `to` would be a differentiable op; here
    /// moving is done to leaves: data and parameters).
    pub fn to(&self, device: &Device) -> crate::Result<Tensor> {
        if self.device() == *device {
            return Ok(self.clone());
        }
        let moved = self.storage().to_device(device)?;
        Ok(Tensor::from_storage_parts(
            moved,
            self.requires_grad(),
            None,
        ))
    }

    /// Move this tensor's value (and gradient) to `device` in place, keeping
    /// its identity: how `model.to(&device)` moves parameters that an
    /// optimizer may already hold.
    pub fn move_to(&self, device: &Device) -> crate::Result<()> {
        if self.device() == *device {
            return Ok(());
        }
        let moved = self.storage().to_device(device)?;
        let grad = match self.grad_storage().as_ref() {
            Some(g) => Some(g.to_device(device)?),
            None => None,
        };
        *self.0.data.write().expect("tensor lock poisoned") = moved;
        *self.grad_mut() = grad;
        Ok(())
    }

    /// Whether both handles are the same tensor.
    pub fn same_node(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    pub fn id(&self) -> usize {
        self.0.id
    }

    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// The value where it lives (what ops and optimizers work on).
    pub fn storage(&self) -> RwLockReadGuard<'_, Storage> {
        self.0.data.read().expect("tensor lock poisoned")
    }

    /// Write access to the value where it lives (optimizers update in place).
    pub fn storage_mut(&self) -> RwLockWriteGuard<'_, Storage> {
        self.0.data.write().expect("tensor lock poisoned")
    }

    /// The value on the host: the value itself on the CPU, a copy otherwise.
    /// Panics if a device cannot be read (a lost device).
    pub fn data(&self) -> HostRef<'_> {
        let guard = self.storage();
        let copy = host_copy(&guard);
        HostRef { guard, copy }
    }

    /// Write access to the value on the host (written back to its device on drop).
    pub fn data_mut(&self) -> HostMut<'_> {
        let guard = self.storage_mut();
        let copy = host_copy(&guard);
        HostMut { guard, copy }
    }

    /// A copy of the value on the host.
    pub fn to_array(&self) -> Array {
        self.data().clone()
    }

    /// The value as a flat vector in row-major order.
    pub fn to_vec(&self) -> Vec<f32> {
        self.data().iter().copied().collect()
    }

    pub fn shape(&self) -> Vec<usize> {
        self.storage().shape().to_vec()
    }

    pub fn ndim(&self) -> usize {
        self.storage().shape().len()
    }

    pub fn numel(&self) -> usize {
        self.storage().numel()
    }

    /// [`item`](Self::item), with a device's failure (or a tensor of more
    /// than one element) as an error: how a training loop reads its loss.
    pub fn try_item(&self) -> crate::Result<f32> {
        let s = self.storage();
        if s.numel() != 1 {
            return Err(crate::Error::BadArgument {
                op: "item",
                why: format!("needs exactly one element, shape {:?}", s.shape()),
            });
        }
        let host = s.to_host()?;
        Ok(host.iter().next().copied().unwrap_or(f32::NAN))
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

    /// The accumulated gradient on the host (`None` before the first
    /// backward or after `zero_grad`).
    pub fn grad(&self) -> Option<Array> {
        self.grad_storage().as_ref().map(|g| {
            g.to_host()
                .unwrap_or_else(|e| panic!("reading a gradient from {}: {e}", g.device()))
        })
    }

    /// The accumulated gradient where it lives.
    pub fn grad_storage(&self) -> RwLockReadGuard<'_, Option<Storage>> {
        self.0.grad.read().expect("grad lock poisoned")
    }

    pub(crate) fn grad_mut(&self) -> RwLockWriteGuard<'_, Option<Storage>> {
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

    /// Replace the value with `value` (a host array), on this tensor's device.
    pub fn set_data(&self, value: Array) {
        let storage = match self.device() {
            Device::Cpu => Storage::Cpu(value),
            device => Storage::Cpu(value)
                .to_device(&device)
                .unwrap_or_else(|e| panic!("writing a tensor to {device}: {e}")),
        };
        *self.storage_mut() = storage;
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
            *self.data()
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
