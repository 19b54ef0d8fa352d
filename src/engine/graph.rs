//! Reverse-mode differentiation: order the graph, walk it backwards, and let
//! each op's backward rule (in `ops/`) add its inputs' gradients to a
//! [`GradStore`]. Leaves that require grad keep their gradient in
//! `Tensor::grad`, accumulated across calls until `zero_grad`.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use super::tensor::{Array, Tensor};
use crate::backend::Storage;
use crate::{Error, Result};

/// Hashes a node id by one multiplication (Fibonacci hashing). Ids are
/// distinct counters, not attacker-chosen keys, so std's SipHash buys
/// nothing here, and on a small graph (gd-scalar's three ops) hashing them
/// was a tenth of a whole training step.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // only ids (`write_usize`) are hashed; anything else still works
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(ID_MIX);
        }
    }
    fn write_usize(&mut self, id: usize) {
        self.0 = (id as u64).wrapping_mul(ID_MIX);
    }
}

/// 2⁶⁴ / φ, odd: spreads consecutive ids over the high bits hashbrown reads.
const ID_MIX: u64 = 0x9E37_79B9_7F4A_7C15;

type IdMap<V> = HashMap<usize, V, BuildHasherDefault<IdHasher>>;
type IdSet = HashSet<usize, BuildHasherDefault<IdHasher>>;

/// Gradients of the intermediate nodes during one backward pass, keyed by node id.
#[derive(Default)]
pub struct GradStore {
    grads: IdMap<Storage>,
}

impl GradStore {
    /// Whether `t` wants a gradient at all (skip the work if not).
    pub fn wants(&self, t: &Tensor) -> bool {
        t.requires_grad()
    }

    /// Add `grad` to `t`'s gradient. A gradient shaped like a broadcast of `t`
    /// is summed back down to `t`'s shape (PyTorch's broadcasting rule).
    /// Always adds, never assigns: a tensor used twice gets both contributions.
    pub fn accumulate(&mut self, t: &Tensor, grad: Storage) -> Result<()> {
        if !t.requires_grad() {
            return Ok(());
        }
        let grad = {
            let data = t.storage();
            let grad = if grad.shape() == data.shape() {
                grad
            } else {
                grad.sum_to_shape(data.shape())?
            };
            // a CPU scalar mixed into a device op gets its gradient back home
            let device = data.device();
            if grad.device() == device {
                grad
            } else {
                grad.to_device(&device)?
            }
        };
        match self.grads.get_mut(&t.id()) {
            Some(g) => g.add_assign(&grad)?,
            None => {
                self.grads.insert(t.id(), grad);
            }
        }
        Ok(())
    }

    fn take(&mut self, t: &Tensor) -> Option<Storage> {
        self.grads.remove(&t.id())
    }
}

/// Every node reachable from `root` that requires grad, inputs before outputs.
fn topological_order(root: &Tensor) -> Vec<Tensor> {
    // room for a small model's graph, so that one grows no vector or set
    const SMALL_GRAPH: usize = 32;
    let mut order = Vec::with_capacity(SMALL_GRAPH);
    let mut seen = IdSet::with_capacity_and_hasher(SMALL_GRAPH, Default::default());
    // Iterative post-order DFS: (node, children already pushed?)
    let mut stack = Vec::with_capacity(SMALL_GRAPH);
    stack.push((root.clone(), false));
    while let Some((node, expanded)) = stack.pop() {
        if expanded {
            order.push(node);
            continue;
        }
        if !seen.insert(node.id()) {
            continue;
        }
        stack.push((node.clone(), true));
        if let Some(op) = node.op() {
            op.for_each_input(|input| {
                if input.requires_grad() && !seen.contains(&input.id()) {
                    stack.push((input.clone(), false));
                }
            });
        }
    }
    order
}

impl Tensor {
    /// Compute d(self)/d(leaf) for every leaf that requires grad and add it to
    /// the leaf's `grad`. `self` must hold exactly one element (a loss).
    pub fn backward(&self) -> Result<()> {
        if self.numel() != 1 {
            return Err(Error::BackwardNotScalar {
                shape: self.shape(),
            });
        }
        if !self.requires_grad() {
            return Ok(()); // nothing in this graph needs a gradient
        }
        let seed = self.storage().unary(crate::backend::UnaryOp::Pow(0.0))?; // ones, where self lives
        self.backward_storage(seed)
    }

    /// Backward from a given output gradient (vector-Jacobian product).
    /// `grad_out` must have exactly the output's shape.
    pub fn backward_with(&self, grad_out: Array) -> Result<()> {
        let device = self.device();
        self.backward_storage(Storage::Cpu(grad_out).to_device(&device)?)
    }

    fn backward_storage(&self, grad_out: Storage) -> Result<()> {
        if grad_out.shape() != self.storage().shape() {
            return Err(Error::ShapeMismatch {
                op: "backward",
                lhs: self.shape(),
                rhs: grad_out.shape().to_vec(),
                why: "the output gradient must have the output's shape".into(),
            });
        }
        let order = topological_order(self);
        let mut store = GradStore {
            grads: IdMap::with_capacity_and_hasher(order.len(), Default::default()),
        };
        store.accumulate(self, grad_out)?;
        for node in order.iter().rev() {
            let Some(grad) = store.take(node) else {
                continue;
            };
            match node.op() {
                Some(op) => {
                    let out = node.storage();
                    op.backward(grad, &out, &mut store)?;
                }
                None => {
                    let mut slot = node.grad_mut();
                    match slot.as_mut() {
                        Some(g) => g.add_assign(&grad)?,
                        None => *slot = Some(grad),
                    }
                }
            }
        }
        Ok(())
    }
}
