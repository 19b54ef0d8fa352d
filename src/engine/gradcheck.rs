//! Finite-difference gradient checking: compare the gradients `backward()`
//! computes with central differences (f(x+ε) - f(x-ε)) / 2ε.
//!
//! A non-scalar output is contracted with a fixed, non-uniform cotangent
//! (Σ out·c) rather than summed, so wrong gradients cannot cancel out. The
//! engine is f32; the contraction and the difference are taken in f64, and ε
//! is sized for f32 rounding (≈1e-2 relative), with tolerances to match.

use ndarray::IxDyn;

use super::tensor::{no_grad, Array, Tensor};
use crate::backend::Device;
use crate::Result;

/// The worst disagreement found, per input.
#[derive(Debug, Clone)]
pub struct GradcheckReport {
    /// For each input: (max |analytic - numeric|, the numeric value there).
    pub worst: Vec<(f64, f64)>,
    pub passed: bool,
}

/// Options: step size and tolerances (|a - n| ≤ atol + rtol·|n|).
#[derive(Debug, Clone, Copy)]
pub struct GradcheckOptions {
    pub eps: f64,
    pub atol: f64,
    pub rtol: f64,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions {
            eps: 1e-2,
            atol: 2e-3,
            rtol: 2e-2,
        }
    }
}

/// A fixed cotangent: deterministic, non-uniform, of both signs.
fn cotangent(shape: &[usize]) -> Array {
    let n: usize = shape.iter().product();
    let values = (0..n)
        .map(|i| (i as f32 * 0.7 + 0.3).sin() + 0.1 * (i % 3) as f32)
        .collect();
    Array::from_shape_vec(IxDyn(shape), values).expect("n elements")
}

fn contract(out: &Array, cot: &Array) -> f64 {
    out.iter()
        .zip(cot.iter())
        .map(|(&o, &c)| o as f64 * c as f64)
        .sum()
}

/// Check `f`'s gradients with respect to each of `inputs`, on the CPU.
pub fn gradcheck(
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
    inputs: &[Array],
    opts: GradcheckOptions,
) -> Result<GradcheckReport> {
    gradcheck_on(&Device::Cpu, f, inputs, opts)
}

/// [`gradcheck`] with the inputs (parameters and the moved copies alike)
/// on `device`: the backward rules are checked as that device computes them.
/// Constants that `f` makes itself must follow `t[0].device()`.
pub fn gradcheck_on(
    device: &Device,
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
    inputs: &[Array],
    opts: GradcheckOptions,
) -> Result<GradcheckReport> {
    let params = inputs
        .iter()
        .map(|a| Tensor::param(a.clone()).to(device))
        .collect::<Result<Vec<Tensor>>>()?;
    let out = f(&params)?;
    let cot = cotangent(&out.shape());
    out.backward_with(cot.clone())?;

    let mut worst = Vec::new();
    let mut passed = true;
    for (i, input) in inputs.iter().enumerate() {
        let analytic = params[i]
            .grad()
            .unwrap_or_else(|| Array::zeros(input.raw_dim()));
        let mut worst_here = (0.0f64, 0.0f64);
        for j in 0..input.len() {
            let eval = |delta: f64| -> Result<f64> {
                let mut moved = input.clone();
                let slot = moved.iter_mut().nth(j).expect("index in range");
                *slot = (*slot as f64 + delta) as f32;
                let args = inputs
                    .iter()
                    .enumerate()
                    .map(|(k, a)| {
                        Tensor::new(if k == i { moved.clone() } else { a.clone() }).to(device)
                    })
                    .collect::<Result<Vec<Tensor>>>()?;
                let y = no_grad(|| f(&args))?;
                let value = contract(&y.data(), &cot);
                Ok(value)
            };
            let numeric = (eval(opts.eps)? - eval(-opts.eps)?) / (2.0 * opts.eps);
            let a = *analytic.iter().nth(j).expect("same shape") as f64;
            let err = (a - numeric).abs();
            if err > opts.atol + opts.rtol * numeric.abs() {
                passed = false;
            }
            if err > worst_here.0 {
                worst_here = (err, numeric);
            }
        }
        worst.push(worst_here);
    }
    Ok(GradcheckReport { worst, passed })
}
