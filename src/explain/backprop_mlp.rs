//! Backprop through the XOR MLP, written out: Linear(2,2) → σ → Linear(2,1)
//! → σ with BCE on one XOR row, every parameter's gradient as the chain
//! rule's products with their numbers. The weights are the xor-mlp
//! lesson's (seed 1, PyTorch's initialisation), or any others given.
//!
//! Names follow the course's notation: W1 (2×2, PyTorch's `0.weight`, rows
//! are hidden units), b1 (`0.bias`), W2 (1×2, `2.weight`), b2 (`2.bias`);
//! z1 = W1·x + b1, h = σ(z1), z2 = W2·h + b2, p = σ(z2),
//! L = −(y·ln p + (1−y)·ln(1−p)).

use super::backprop::num;

/// The MLP's weights in f64.
#[derive(Clone, Debug, PartialEq)]
pub struct MlpParams {
    /// W1[j][i]: input i → hidden unit j.
    pub w1: [[f64; 2]; 2],
    pub b1: [f64; 2],
    pub w2: [f64; 2],
    pub b2: f64,
}

impl MlpParams {
    /// From the session's named parameters (`0.weight`, `0.bias`,
    /// `2.weight`, `2.bias`), None if they are not the XOR MLP's.
    pub fn from_named(params: &[(String, Vec<f32>)]) -> Option<MlpParams> {
        let get = |name: &str, n: usize| {
            params
                .iter()
                .find(|(k, v)| k == name && v.len() == n)
                .map(|(_, v)| v.iter().map(|&x| x as f64).collect::<Vec<f64>>())
        };
        let (w1, b1, w2, b2) = (
            get("0.weight", 4)?,
            get("0.bias", 2)?,
            get("2.weight", 2)?,
            get("2.bias", 1)?,
        );
        Some(MlpParams {
            w1: [[w1[0], w1[1]], [w1[2], w1[3]]],
            b1: [b1[0], b1[1]],
            w2: [w2[0], w2[1]],
            b2: b2[0],
        })
    }
}

/// The xor-mlp lesson's starting weights (its seed, PyTorch's initialisation).
pub fn lesson_params() -> crate::Result<MlpParams> {
    let lesson = crate::lessons::find("xor-mlp")?;
    let session = crate::lessons::SmallSession::new(&lesson, &lesson.defaults, None)?;
    let named: Vec<(String, Vec<f32>)> = session
        .params()
        .into_iter()
        .map(|(n, t)| (n, t.to_array().iter().copied().collect()))
        .collect();
    MlpParams::from_named(&named).ok_or_else(|| {
        crate::Error::Config(
            "xor-mlp's model is not Linear(2,2)-Sigmoid-Linear(2,1)-Sigmoid".into(),
        )
    })
}

/// The forward pass on one row.
#[derive(Clone, Debug, PartialEq)]
pub struct MlpForward {
    pub x: [f64; 2],
    pub y: f64,
    pub z1: [f64; 2],
    pub h: [f64; 2],
    pub z2: f64,
    pub p: f64,
    pub loss: f64,
}

/// One line of the backward pass: `∂L/∂name = factor_a × factor_b = value`.
#[derive(Clone, Debug, PartialEq)]
pub struct MlpStep {
    /// What the gradient is of: `p`, `z2`, `W2[0]`, `h[1]`, `W1[1,0]`, …
    pub of: String,
    /// The chain rule in symbols: `∂L/∂z2 · h[0]`.
    pub rule: String,
    /// The two factors' values and their product.
    pub a: f64,
    pub b: f64,
    pub value: f64,
    /// The parameter this gradient is of, as (PyTorch name, flat index),
    /// e.g. ("0.weight", 1) for W1[0,1]; None for p, z2, h, z1.
    pub param: Option<(&'static str, usize)>,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The forward pass on input `x` with target `y`.
pub fn forward(m: &MlpParams, x: [f64; 2], y: f64) -> MlpForward {
    let z1 = [0, 1].map(|j| m.w1[j][0] * x[0] + m.w1[j][1] * x[1] + m.b1[j]);
    let h = z1.map(sigmoid);
    let z2 = m.w2[0] * h[0] + m.w2[1] * h[1] + m.b2;
    let p = sigmoid(z2);
    let loss = -(y * p.ln() + (1.0 - y) * (1.0 - p).ln());
    MlpForward {
        x,
        y,
        z1,
        h,
        z2,
        p,
        loss,
    }
}

/// The backward pass, one product per line, from ∂L/∂p down to W1.
pub fn backward(m: &MlpParams, f: &MlpForward) -> Vec<MlpStep> {
    let mut out = Vec::new();
    let mut push = |of: String, rule: String, a: f64, b: f64, param| {
        out.push(MlpStep {
            of,
            rule,
            a,
            b,
            value: a * b,
            param,
        });
        a * b
    };
    // ∂L/∂p = −y/p + (1−y)/(1−p), written as one factor times 1
    let dp = -f.y / f.p + (1.0 - f.y) / (1.0 - f.p);
    push("p".into(), "−y/p + (1−y)/(1−p)".into(), dp, 1.0, None);
    let dz2 = push(
        "z2".into(),
        "∂L/∂p · σ′(z2)".into(),
        dp,
        f.p * (1.0 - f.p),
        None,
    );
    for j in 0..2 {
        push(
            format!("W2[{j}]"),
            format!("∂L/∂z2 · h[{j}]"),
            dz2,
            f.h[j],
            Some(("2.weight", j)),
        );
    }
    push(
        "b2".into(),
        "∂L/∂z2 · 1".into(),
        dz2,
        1.0,
        Some(("2.bias", 0)),
    );
    for j in 0..2 {
        let dh = push(
            format!("h[{j}]"),
            format!("∂L/∂z2 · W2[{j}]"),
            dz2,
            m.w2[j],
            None,
        );
        let dz1 = push(
            format!("z1[{j}]"),
            format!("∂L/∂h[{j}] · σ′(z1[{j}])"),
            dh,
            f.h[j] * (1.0 - f.h[j]),
            None,
        );
        for i in 0..2 {
            push(
                format!("W1[{j},{i}]"),
                format!("∂L/∂z1[{j}] · x[{i}]"),
                dz1,
                f.x[i],
                Some(("0.weight", j * 2 + i)),
            );
        }
        push(
            format!("b1[{j}]"),
            format!("∂L/∂z1[{j}] · 1"),
            dz1,
            1.0,
            Some(("0.bias", j)),
        );
    }
    out
}

/// The forward pass in words, one line per layer.
pub fn forward_lines(m: &MlpParams, f: &MlpForward) -> Vec<String> {
    let v2 = |a: [f64; 2]| format!("({}, {})", short(a[0]), short(a[1]));
    vec![
        format!(
            "x = ({}, {}), y = {}   W1 = [[{}, {}], [{}, {}]], b1 = {}, W2 = {}, b2 = {}",
            num(f.x[0]),
            num(f.x[1]),
            num(f.y),
            short(m.w1[0][0]),
            short(m.w1[0][1]),
            short(m.w1[1][0]),
            short(m.w1[1][1]),
            v2(m.b1),
            v2(m.w2),
            short(m.b2)
        ),
        format!("z1 = W1·x + b1 = {}   h = σ(z1) = {}", v2(f.z1), v2(f.h)),
        format!(
            "z2 = W2·h + b2 = {}   p = σ(z2) = {}   L = −(y·ln p + (1−y)·ln(1−p)) = {}",
            short(f.z2),
            short(f.p),
            short(f.loss)
        ),
    ]
}

/// One backward line: `∂L/∂W2[0] = ∂L/∂z2 · h[0] = −0.4712 × 0.6225 = −0.2933`.
pub fn step_line(s: &MlpStep) -> String {
    if s.of == "p" {
        return format!("∂L/∂p = {} = {}", s.rule, short(s.value));
    }
    format!(
        "∂L/∂{} = {} = {} × {} = {}",
        s.of,
        s.rule,
        short(s.a),
        short(s.b),
        short(s.value)
    )
}

/// A number to 4 decimals (integers without them).
pub fn short(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e9 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

/// The four XOR rows: (x, y).
pub const XOR_ROWS: [([f64; 2], f64); 4] = [
    ([0.0, 0.0], 0.0),
    ([0.0, 1.0], 1.0),
    ([1.0, 0.0], 1.0),
    ([1.0, 1.0], 0.0),
];
