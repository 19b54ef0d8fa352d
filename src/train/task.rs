//! What a run fits, as data: a scalar objective, a small table with its
//! model and loss, or MNIST images with a layer list. Lessons declare one
//! ([`crate::lessons::Lesson::task`]); the loops in [`super::small`] and
//! [`super::classifier`] run it.
//!
//! A scalar objective is an expression of x in `dl-lab backprop`'s syntax
//! (`+ - * / ^ sigmoid tanh relu exp log`, parsed by
//! [`crate::explain::backprop::Graph`]): the session builds it from engine
//! ops for autograd, the lab evaluates it to draw the curve, and `dl-lab
//! code` writes it in Python, all from the one string.

use std::collections::BTreeMap;

use crate::explain::backprop::{num, Graph, NodeOp};
use crate::nn::LayerSpec;
use crate::{Error, Result, Tensor};

/// What a lesson fits.
#[derive(Clone, Debug, PartialEq)]
pub enum Task {
    /// Minimise an objective y(x) over one variable x.
    Scalar { objective: Objective },
    /// Full-batch regression or binary classification on a small table.
    Regression {
        data: SmallData,
        model: SmallModel,
        loss: LossKind,
    },
    /// Digit classification on MNIST-format images.
    Classifier {
        layers: Vec<LayerSpec>,
        input_shape: Vec<usize>,
    },
    /// Backprop written out on an expression at a point (see
    /// [`crate::explain::backprop`]); nothing is trained.
    Backprop { expr: String, at: String },
    /// The course's tensor code at a `>>>` prompt (`dl-lab tensor`), these
    /// lines first; nothing is trained.
    TensorCode { code: String },
    /// Seven optimizers race down a 2-D surface from `start` (the optimizer race).
    Race {
        surface: crate::train::race::Surface,
        start: [f32; 2],
    },
}

/// The small lessons' data (a `--data FILE.csv` replaces it).
#[derive(Clone, Debug, PartialEq)]
pub enum SmallData {
    /// Fixed rows of inputs and their targets.
    Table { x: Vec<Vec<f32>>, y: Vec<f32> },
    /// `n` points x ~ N(0, 1) with y = x² + 3 (drawn with the run's seed).
    Parabola { n: usize },
    /// `n` points x ~ N(0, 1) with y = x² + 3 + noise·ε, ε ~ N(0, 1) (drawn
    /// with the run's seed, after x).
    NoisyParabola { n: usize, noise: f32 },
}

/// The small lessons' models.
#[derive(Clone, Debug, PartialEq)]
pub enum SmallModel {
    /// H(x) = xW + b with W (features, 1) and b (1) starting at zero.
    Affine,
    /// A stack of layers with PyTorch's initialisation (or `--init`'s).
    Layers(Vec<LayerSpec>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LossKind {
    Mse,
    Bce,
}

impl LossKind {
    /// As a title line names it.
    pub fn words(self) -> &'static str {
        match self {
            LossKind::Mse => "MSE",
            LossKind::Bce => "BCE",
        }
    }
}

/// A function of one variable x to minimise from `start`.
#[derive(Clone, Debug, PartialEq)]
pub struct Objective {
    graph: Graph,
    pub start: f32,
    /// The x range the lab draws (it grows to hold every point visited).
    pub window: [f32; 2],
    /// Where the global minimum is, when known: the lab marks it.
    pub minimum: Option<f32>,
}

impl Objective {
    /// y = `expr` of x, from x = `start`. An expression with a syntax
    /// error or a variable other than x is an error.
    pub fn new(expr: &str, start: f32, window: [f32; 2], minimum: Option<f32>) -> Result<Self> {
        let at = BTreeMap::from([("x".to_string(), f64::from(start))]);
        let graph = Graph::build(expr, &at).map_err(|e| match e {
            // Graph::build names unknown variables with --at's advice
            Error::Config(m) if m.contains("has no value") => {
                Error::Config(format!("objective '{expr}': x is the only variable"))
            }
            other => other,
        })?;
        Ok(Objective {
            graph,
            start,
            window,
            minimum,
        })
    }

    /// The expression as written: "(x - 3)^2 + 4".
    pub fn expr(&self) -> &str {
        &self.graph.expr
    }

    /// y at `x`.
    pub fn eval(&self, x: f64) -> f64 {
        self.graph.eval_at(|_| x)
    }

    /// dy/dx at `x` by a central difference (for the lab's pictures; the
    /// training steps use backward()).
    pub fn slope(&self, x: f64) -> f64 {
        let h = 1e-4 * x.abs().max(1.0);
        (self.eval(x + h) - self.eval(x - h)) / (2.0 * h)
    }

    /// d²y/dx² at `x` by a central difference.
    pub fn curvature(&self, x: f64) -> f64 {
        let h = 1e-3 * x.abs().max(1.0);
        (self.eval(x + h) - 2.0 * self.eval(x) + self.eval(x - h)) / (h * h)
    }

    /// y of the parameter `x` as engine ops, so backward() gives dy/dx. A
    /// constant operand becomes a scalar op (x - 3 is one add_scalar).
    pub fn tensor(&self, x: &Tensor) -> Result<Tensor> {
        enum V {
            C(f32),
            T(Tensor),
        }
        let mut v: Vec<V> = Vec::with_capacity(self.graph.nodes.len());
        for n in &self.graph.nodes {
            let arg = |i: usize| &v[n.inputs[i]];
            let value = match (&n.op, n.inputs.len()) {
                (NodeOp::Var(_), _) => V::T(x.clone()),
                (NodeOp::Const(c), _) => V::C(*c as f32),
                (op, 1) => match arg(0) {
                    V::C(c) => V::C(op.apply(|_| f64::from(*c)) as f32),
                    V::T(t) => V::T(match op {
                        NodeOp::Pow(e) => t.pow(*e as f32),
                        NodeOp::Neg => t.neg(),
                        NodeOp::Sigmoid => t.sigmoid(),
                        NodeOp::Tanh => t.tanh(),
                        NodeOp::Relu => t.relu(),
                        NodeOp::Exp => t.exp(),
                        _ => t.log(),
                    }),
                },
                (op, _) => match (arg(0), arg(1)) {
                    (V::C(a), V::C(b)) => {
                        let (a, b) = (f64::from(*a), f64::from(*b));
                        V::C(op.apply(|i| if i == 0 { a } else { b }) as f32)
                    }
                    (V::T(t), V::C(c)) => V::T(match op {
                        NodeOp::Add => t.add_scalar(*c),
                        NodeOp::Sub => t.add_scalar(-c),
                        NodeOp::Mul => t.mul_scalar(*c),
                        _ => t.mul_scalar(1.0 / c),
                    }),
                    (V::C(c), V::T(t)) => V::T(match op {
                        NodeOp::Add => t.add_scalar(*c),
                        NodeOp::Sub => t.neg().add_scalar(*c),
                        NodeOp::Mul => t.mul_scalar(*c),
                        _ => Tensor::scalar(*c).div(t)?,
                    }),
                    (V::T(a), V::T(b)) => V::T(match op {
                        NodeOp::Add => a.add(b)?,
                        NodeOp::Sub => a.sub(b)?,
                        NodeOp::Mul => a.mul(b)?,
                        _ => a.div(b)?,
                    }),
                },
            };
            v.push(value);
        }
        Ok(match v.pop() {
            Some(V::T(t)) => t,
            // an objective without x: a constant
            Some(V::C(c)) => x.mul_scalar(0.0).add_scalar(c),
            None => Tensor::scalar(f32::NAN),
        })
    }

    /// The expression in Python (`**` for `^`, `torch.sigmoid(…)`), for
    /// `dl-lab code`.
    pub fn python(&self) -> String {
        let nodes = &self.graph.nodes;
        let mut text: Vec<String> = Vec::with_capacity(nodes.len());
        for n in nodes {
            // a sub-expression in brackets where Python's precedence needs
            // them: `loose` says which ops bind too loosely at this place
            let wrap = |i: usize, loose: fn(&NodeOp) -> bool| {
                let child = &nodes[n.inputs[i]];
                let t = &text[n.inputs[i]];
                if loose(&child.op) {
                    format!("({t})")
                } else {
                    t.clone()
                }
            };
            fn sum(op: &NodeOp) -> bool {
                matches!(op, NodeOp::Add | NodeOp::Sub)
            }
            fn product(op: &NodeOp) -> bool {
                matches!(op, NodeOp::Add | NodeOp::Sub | NodeOp::Mul | NodeOp::Div)
            }
            fn not_atom(op: &NodeOp) -> bool {
                match op {
                    NodeOp::Var(_) => false,
                    NodeOp::Const(c) => *c < 0.0,
                    NodeOp::Sigmoid | NodeOp::Tanh | NodeOp::Relu | NodeOp::Exp | NodeOp::Log => {
                        false
                    }
                    _ => true,
                }
            }
            let t = match &n.op {
                NodeOp::Var(name) => name.clone(),
                NodeOp::Const(c) => py_float(*c),
                NodeOp::Add => format!("{} + {}", text[n.inputs[0]], text[n.inputs[1]]),
                NodeOp::Sub => format!("{} - {}", text[n.inputs[0]], wrap(1, sum)),
                NodeOp::Mul => format!("{} * {}", wrap(0, sum), wrap(1, sum)),
                NodeOp::Div => format!("{} / {}", wrap(0, sum), wrap(1, product)),
                NodeOp::Pow(e) => format!("{} ** {}", wrap(0, not_atom), py_float(*e)),
                NodeOp::Neg => format!("-{}", wrap(0, not_atom)),
                NodeOp::Sigmoid => format!("torch.sigmoid({})", text[n.inputs[0]]),
                NodeOp::Tanh => format!("torch.tanh({})", text[n.inputs[0]]),
                NodeOp::Relu => format!("torch.relu({})", text[n.inputs[0]]),
                NodeOp::Exp => format!("torch.exp({})", text[n.inputs[0]]),
                NodeOp::Log => format!("torch.log({})", text[n.inputs[0]]),
            };
            text.push(t);
        }
        text.pop().unwrap_or_default()
    }
}

/// A number for Python: 3 stays 3, 0.5 stays 0.5.
fn py_float(v: f64) -> String {
    num(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_objective_evaluates_differentiates_and_writes_python() {
        let o = Objective::new("x^4 - 4*x^2 + x", 2.0, [-3.0, 3.0], None).expect("parses");
        assert_eq!(o.eval(2.0), 16.0 - 16.0 + 2.0);
        // dy/dx = 4x³ - 8x + 1 = 17 at x = 2
        let x = Tensor::param(crate::engine::Array::from_elem(ndarray::IxDyn(&[]), 2.0));
        let y = o.tensor(&x).expect("builds");
        assert_eq!(y.item(), 2.0);
        y.backward().expect("backward");
        let g = x.grad().expect("x has a gradient");
        assert!((g.iter().next().copied().unwrap_or(0.0) - 17.0).abs() < 1e-4);
        assert!((o.slope(2.0) - 17.0).abs() < 1e-4);
        // d²y/dx² = 12x² - 8 = 40 at x = 2
        assert!((o.curvature(2.0) - 40.0).abs() < 1e-2);
        assert_eq!(o.python(), "x ** 4 - 4 * x ** 2 + x");
        let q = Objective::new("(x - 3)^2 + 4", 5.0, [-1.0, 7.0], Some(3.0)).expect("parses");
        assert_eq!(q.python(), "(x - 3) ** 2 + 4");
        assert_eq!(q.expr(), "(x - 3)^2 + 4");
        let err = Objective::new("x + y", 0.0, [0.0, 1.0], None).expect_err("y is not x");
        assert!(err.to_string().contains("x is the only variable"), "{err}");
    }
}
