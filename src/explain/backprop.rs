//! Backprop written out, one product at a time: an expression's
//! computational graph, its forward values, and its backward pass as a
//! list of steps, each the local derivative of one edge times the gradient
//! arriving from above (the chain rule), summed where a value is used twice.
//!
//! Expressions: numbers, variables, `+ - * /`, `^` with a constant exponent,
//! unary minus, parentheses, and `sigmoid tanh relu exp log`. The course's
//! example is f = w*x + b at w = -2, x = 5, b = 3.

use std::collections::BTreeMap;

use crate::script::lexer::{tokenize, Tok, Token};
use crate::{Error, Result};

/// The course's first backprop example.
pub const DEFAULT_EXPR: &str = "w*x + b";
pub const DEFAULT_AT: &str = "w=-2,x=5,b=3";

/// What a node computes from its inputs.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeOp {
    Var(String),
    Const(f64),
    Add,
    Sub,
    Mul,
    Div,
    /// `a ^ p` for a constant p
    Pow(f64),
    Neg,
    Sigmoid,
    Tanh,
    Relu,
    Exp,
    Log,
}

impl NodeOp {
    /// The op's value from its inputs' (`x(i)`: the i-th input); a
    /// variable has none here (NaN): its value comes from outside.
    pub fn apply(&self, x: impl Fn(usize) -> f64) -> f64 {
        match self {
            NodeOp::Var(_) => f64::NAN,
            NodeOp::Const(c) => *c,
            NodeOp::Add => x(0) + x(1),
            NodeOp::Sub => x(0) - x(1),
            NodeOp::Mul => x(0) * x(1),
            NodeOp::Div => x(0) / x(1),
            NodeOp::Pow(e) => x(0).powf(*e),
            NodeOp::Neg => -x(0),
            NodeOp::Sigmoid => 1.0 / (1.0 + (-x(0)).exp()),
            NodeOp::Tanh => x(0).tanh(),
            NodeOp::Relu => x(0).max(0.0),
            NodeOp::Exp => x(0).exp(),
            NodeOp::Log => x(0).ln(),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            NodeOp::Var(_) => "input",
            NodeOp::Const(_) => "const",
            NodeOp::Add => "add",
            NodeOp::Sub => "sub",
            NodeOp::Mul => "mul",
            NodeOp::Div => "div",
            NodeOp::Pow(_) => "pow",
            NodeOp::Neg => "neg",
            NodeOp::Sigmoid => "sigmoid",
            NodeOp::Tanh => "tanh",
            NodeOp::Relu => "relu",
            NodeOp::Exp => "exp",
            NodeOp::Log => "log",
        }
    }
}

/// One node of the graph: its op, its inputs (node indices), the text of
/// the sub-expression it computes, and its forward value.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub op: NodeOp,
    pub inputs: Vec<usize>,
    pub label: String,
    pub value: f64,
}

/// An expression's graph; the last node is the output f. A variable used
/// twice is one node, so its gradient is a sum.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub expr: String,
}

/// One step of the backward pass: the gradient flowing from `parent` into
/// its input `node` is `local` × `upstream`; `grad` is `node`'s gradient so
/// far (summed over the uses seen).
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The input node receiving gradient (its label, e.g. `w` or `w*x`).
    pub node: String,
    pub node_index: usize,
    /// The op of the node the gradient comes through.
    pub op: &'static str,
    pub parent: String,
    pub parent_index: usize,
    /// The receiving node's forward value.
    pub value: f64,
    /// ∂parent/∂node at the forward values.
    pub local: f64,
    /// ∂f/∂parent.
    pub upstream: f64,
    /// ∂f/∂node accumulated so far.
    pub grad: f64,
    /// The local derivative's rule in words, e.g. `∂(a*b)/∂a = b`.
    pub rule: String,
}

/// Parse `--at "w=-2,x=5,b=3"`.
pub fn parse_at(at: &str) -> Result<BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    for part in at.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = part.split_once('=').ok_or_else(|| {
            Error::Config(format!("--at: '{part}' should be NAME=VALUE, e.g. w=-2"))
        })?;
        let v: f64 = value.trim().parse().map_err(|_| {
            Error::Config(format!(
                "--at: '{}' is not a number (in '{part}')",
                value.trim()
            ))
        })?;
        out.insert(name.trim().to_string(), v);
    }
    Ok(out)
}

impl Graph {
    /// Parse `expr` and compute every node's value at `at`.
    pub fn build(expr: &str, at: &BTreeMap<String, f64>) -> Result<Graph> {
        let bad = |why: String| Error::Config(format!("--expr '{expr}': {why}"));
        let tokens = tokenize(expr).map_err(|(_, m)| bad(m))?;
        let mut b = Builder {
            tokens: &tokens,
            pos: 0,
            graph: Graph {
                nodes: Vec::new(),
                expr: expr.trim().to_string(),
            },
            at,
        };
        b.expr().map_err(bad)?;
        if !matches!(b.peek(), Tok::Newline) {
            return Err(bad(format!(
                "unexpected {} after the expression",
                describe(b.peek())
            )));
        }
        if b.graph.nodes.is_empty() {
            return Err(bad("the expression is empty".into()));
        }
        Ok(b.graph)
    }

    /// f with every variable given by `var` (the graph's values stay as
    /// built): what a lesson's objective draws and checks, at any point.
    pub fn eval_at(&self, var: impl Fn(&str) -> f64) -> f64 {
        let mut v: Vec<f64> = Vec::with_capacity(self.nodes.len());
        for n in &self.nodes {
            let value = match &n.op {
                NodeOp::Var(name) => var(name),
                op => op.apply(|i| v[n.inputs[i]]),
            };
            v.push(value);
        }
        v.last().copied().unwrap_or(f64::NAN)
    }

    pub fn output(&self) -> &Node {
        self.nodes.last().expect("a graph has a node")
    }

    /// The variables in order of first use.
    pub fn variables(&self) -> Vec<(usize, &str)> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| match &n.op {
                NodeOp::Var(name) => Some((i, name.as_str())),
                _ => None,
            })
            .collect()
    }

    /// The backward pass, one edge at a time, from f down to the inputs.
    /// Nodes are visited in reverse order of creation, which is a reverse
    /// topological order: a node's gradient is complete before it flows on.
    pub fn backward(&self) -> (Vec<Step>, Vec<f64>) {
        let mut grad = vec![0.0; self.nodes.len()];
        let out = self.nodes.len() - 1;
        grad[out] = 1.0;
        let mut steps = Vec::new();
        for p in (0..self.nodes.len()).rev() {
            let parent = &self.nodes[p];
            for (k, &c) in parent.inputs.iter().enumerate() {
                let (local, rule) = self.local(p, k);
                grad[c] += local * grad[p];
                steps.push(Step {
                    node: self.nodes[c].label.clone(),
                    node_index: c,
                    op: parent.op.name(),
                    parent: parent.label.clone(),
                    parent_index: p,
                    value: self.nodes[c].value,
                    local,
                    upstream: grad[p],
                    grad: grad[c],
                    rule,
                });
            }
        }
        (steps, grad)
    }

    /// ∂node/∂(its k-th input) at the forward values, and the rule.
    fn local(&self, p: usize, k: usize) -> (f64, String) {
        let n = &self.nodes[p];
        let v = |i: usize| self.nodes[n.inputs[i]].value;
        match (&n.op, k) {
            (NodeOp::Add, _) => (1.0, "∂(a+b)/∂a = ∂(a+b)/∂b = 1".into()),
            (NodeOp::Sub, 0) => (1.0, "∂(a-b)/∂a = 1".into()),
            (NodeOp::Sub, _) => (-1.0, "∂(a-b)/∂b = -1".into()),
            (NodeOp::Mul, 0) => (v(1), format!("∂(a*b)/∂a = b = {}", num(v(1)))),
            (NodeOp::Mul, _) => (v(0), format!("∂(a*b)/∂b = a = {}", num(v(0)))),
            (NodeOp::Div, 0) => (1.0 / v(1), format!("∂(a/b)/∂a = 1/b = 1/{}", num(v(1)))),
            (NodeOp::Div, _) => (
                -v(0) / (v(1) * v(1)),
                format!("∂(a/b)/∂b = -a/b² = -({})/{}²", num(v(0)), num(v(1))),
            ),
            (NodeOp::Pow(e), _) => (
                e * v(0).powf(e - 1.0),
                format!(
                    "∂(a^{e})/∂a = {e}·a^{} = {e}·{}^{}",
                    num(e - 1.0),
                    num(v(0)),
                    num(e - 1.0)
                ),
            ),
            (NodeOp::Neg, _) => (-1.0, "∂(-a)/∂a = -1".into()),
            (NodeOp::Sigmoid, _) => {
                let s = n.value;
                (
                    s * (1.0 - s),
                    format!("σ′(z) = σ(z)(1−σ(z)) = {}·(1−{})", num(s), num(s)),
                )
            }
            (NodeOp::Tanh, _) => {
                let t = n.value;
                (
                    1.0 - t * t,
                    format!("tanh′(z) = 1 − tanh²(z) = 1 − {}²", num(t)),
                )
            }
            (NodeOp::Relu, _) => {
                let d = if v(0) > 0.0 { 1.0 } else { 0.0 };
                (
                    d,
                    format!("relu′(z) = 1 if z > 0 else 0 (z = {})", num(v(0))),
                )
            }
            (NodeOp::Exp, _) => (n.value, format!("exp′(z) = exp(z) = {}", num(n.value))),
            (NodeOp::Log, _) => (1.0 / v(0), format!("log′(z) = 1/z = 1/{}", num(v(0)))),
            (NodeOp::Var(_) | NodeOp::Const(_), _) => (0.0, String::new()),
        }
    }
}

/// A number written short: integers without a dot, others with up to 6
/// significant decimals.
pub fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Newline => "end".into(),
        Tok::Sym(s) => format!("'{s}'"),
        Tok::Name(n) => format!("'{n}'"),
        Tok::Int(i) => i.to_string(),
        Tok::Float(f) => f.to_string(),
        Tok::Str(s) => format!("'{s}'"),
    }
}

/// The variables `expr` names, in order of first use (empty if it does not
/// even tokenize; [`Graph::build`] says why).
pub fn variables_in(expr: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tokenize(expr).unwrap_or_default() {
        if let Tok::Name(n) = t.tok {
            if !FUNCTIONS.contains(&n.as_str()) && !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

const FUNCTIONS: [&str; 5] = ["sigmoid", "tanh", "relu", "exp", "log"];

struct Builder<'a> {
    tokens: &'a [Token],
    pos: usize,
    graph: Graph,
    at: &'a BTreeMap<String, f64>,
}

type B<T> = std::result::Result<T, String>;

impl Builder<'_> {
    fn peek(&self) -> &Tok {
        &self.tokens[self.pos.min(self.tokens.len() - 1)].tok
    }

    fn eat(&mut self, sym: &str) -> bool {
        if matches!(self.peek(), Tok::Sym(s) if *s == sym) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn push(&mut self, op: NodeOp, inputs: Vec<usize>, label: String) -> B<usize> {
        let value = match &op {
            NodeOp::Var(name) => *self.at.get(name).ok_or_else(|| {
                format!("{name} has no value; give it one with --at, e.g. --at \"{name}=1\"")
            })?,
            op => op.apply(|i| self.graph.nodes[inputs[i]].value),
        };
        // a variable used twice is one node: its gradients add up
        if let NodeOp::Var(name) = &op {
            if let Some(i) = self
                .graph
                .nodes
                .iter()
                .position(|n| n.op == NodeOp::Var(name.clone()))
            {
                return Ok(i);
            }
        }
        self.graph.nodes.push(Node {
            op,
            inputs,
            label,
            value,
        });
        Ok(self.graph.nodes.len() - 1)
    }

    fn label(&self, i: usize) -> String {
        self.graph.nodes[i].label.clone()
    }

    fn expr(&mut self) -> B<usize> {
        let mut lhs = self.term()?;
        loop {
            let (op, sym) = if self.eat("+") {
                (NodeOp::Add, "+")
            } else if self.eat("-") {
                (NodeOp::Sub, "-")
            } else {
                return Ok(lhs);
            };
            let rhs = self.term()?;
            let label = format!("{} {sym} {}", self.label(lhs), self.label(rhs));
            lhs = self.push(op, vec![lhs, rhs], label)?;
        }
    }

    fn term(&mut self) -> B<usize> {
        let mut lhs = self.unary()?;
        loop {
            let (op, sym) = if self.eat("*") {
                (NodeOp::Mul, "*")
            } else if self.eat("/") {
                (NodeOp::Div, "/")
            } else {
                return Ok(lhs);
            };
            let rhs = self.unary()?;
            let label = format!("{}{sym}{}", self.wrap(lhs), self.wrap(rhs));
            lhs = self.push(op, vec![lhs, rhs], label)?;
        }
    }

    /// A label in brackets when it holds a sum (so `(a + b)*c` reads right).
    fn wrap(&self, i: usize) -> String {
        let n = &self.graph.nodes[i];
        if matches!(n.op, NodeOp::Add | NodeOp::Sub) {
            format!("({})", n.label)
        } else {
            n.label.clone()
        }
    }

    fn unary(&mut self) -> B<usize> {
        if self.eat("-") {
            let x = self.unary()?;
            // -3 is a number, not a negation node
            if let NodeOp::Const(c) = self.graph.nodes[x].op {
                if self.graph.nodes.len() == x + 1 {
                    self.graph.nodes.pop();
                    return self.push(NodeOp::Const(-c), vec![], num(-c));
                }
            }
            let label = format!("-{}", self.wrap(x));
            return self.push(NodeOp::Neg, vec![x], label);
        }
        self.power()
    }

    fn power(&mut self) -> B<usize> {
        let base = self.atom()?;
        if self.eat("^") || self.eat("**") {
            let e = self.exponent()?;
            let label = format!("{}^{}", self.wrap(base), num(e));
            return self.push(NodeOp::Pow(e), vec![base], label);
        }
        Ok(base)
    }

    /// The exponent after `^`: a constant (a number, maybe negative or in brackets).
    fn exponent(&mut self) -> B<f64> {
        let neg = self.eat("-");
        let bracket = self.eat("(");
        let neg2 = bracket && self.eat("-");
        let v = match self.peek().clone() {
            Tok::Int(i) => i as f64,
            Tok::Float(f) => f,
            other => {
                return Err(format!(
                    "the exponent after ^ must be a number, found {}",
                    describe(&other)
                ))
            }
        };
        self.pos += 1;
        if bracket && !self.eat(")") {
            return Err("expected ')' after the exponent".into());
        }
        Ok(if neg ^ neg2 { -v } else { v })
    }

    fn atom(&mut self) -> B<usize> {
        let tok = self.peek().clone();
        self.pos += 1;
        match tok {
            Tok::Int(i) => self.push(NodeOp::Const(i as f64), vec![], i.to_string()),
            Tok::Float(f) => self.push(NodeOp::Const(f), vec![], num(f)),
            Tok::Name(name) if FUNCTIONS.contains(&name.as_str()) => {
                if !self.eat("(") {
                    return Err(format!("{name} needs brackets: {name}(…)"));
                }
                let x = self.expr()?;
                if !self.eat(")") {
                    return Err(format!("expected ')' to close {name}("));
                }
                let op = match name.as_str() {
                    "sigmoid" => NodeOp::Sigmoid,
                    "tanh" => NodeOp::Tanh,
                    "relu" => NodeOp::Relu,
                    "exp" => NodeOp::Exp,
                    _ => NodeOp::Log,
                };
                let label = format!("{name}({})", self.label(x));
                self.push(op, vec![x], label)
            }
            Tok::Name(name) if matches!(self.peek(), Tok::Sym("(")) => Err(format!(
                "unknown function {name}(…); the functions are {}",
                FUNCTIONS.join(", ")
            )),
            Tok::Name(name) => self.push(NodeOp::Var(name.clone()), vec![], name),
            Tok::Sym("(") => {
                let x = self.expr()?;
                if !self.eat(")") {
                    return Err("expected ')'".into());
                }
                Ok(x)
            }
            other => {
                self.pos -= 1;
                Err(format!(
                    "expected a number, a variable or '(', found {}",
                    describe(&other)
                ))
            }
        }
    }
}

/// The headless lesson's JSON lines: one per backward step, then
/// `{"value": f, "grads": {…}}`.
pub fn json_lines(graph: &Graph) -> Vec<String> {
    let (steps, grads) = graph.backward();
    let mut out: Vec<String> = steps
        .iter()
        .map(|s| {
            serde_json::json!({
                "node": s.node,
                "op": s.op,
                "value": s.value,
                "local": s.local,
                "upstream": s.upstream,
                "grad": s.grad,
            })
            .to_string()
        })
        .collect();
    let mut g = serde_json::Map::new();
    for (i, name) in graph.variables() {
        g.insert(name.to_string(), serde_json::json!(grads[i]));
    }
    out.push(serde_json::json!({"value": graph.output().value, "grads": g}).to_string());
    out
}

/// The headless lesson's text: the forward values, then every product of
/// the backward pass, then the gradients.
pub fn text_lines(graph: &Graph) -> Vec<String> {
    let (steps, grads) = graph.backward();
    let vars: Vec<String> = graph
        .variables()
        .iter()
        .map(|(i, n)| format!("{n} = {}", num(graph.nodes[*i].value)))
        .collect();
    let mut out = vec![
        format!("f = {} at {}", graph.expr, vars.join(", ")),
        "Forward pass, one node at a time:".into(),
    ];
    for n in &graph.nodes {
        if !matches!(n.op, NodeOp::Var(_) | NodeOp::Const(_)) {
            out.push(format!("  {:<24} = {}", n.label, num(n.value)));
        }
    }
    out.push(format!(
        "Backward pass: ∂f/∂f = 1, then each input gets local derivative × the gradient from above:"
    ));
    for s in &steps {
        if s.rule.is_empty() {
            continue;
        }
        out.push(format!(
            "  ∂f/∂({}) += {} × {} = {}   [{} → {}: {}]   so far {}",
            s.node,
            num(s.local),
            num(s.upstream),
            num(s.local * s.upstream),
            s.parent,
            s.node,
            s.rule,
            num(s.grad)
        ));
    }
    let g: Vec<String> = graph
        .variables()
        .iter()
        .map(|(i, n)| format!("∂f/∂{n} = {}", num(grads[*i])))
        .collect();
    out.push(format!(
        "f = {};  {}",
        num(graph.output().value),
        g.join(", ")
    ));
    out
}
