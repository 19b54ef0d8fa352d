//! Single-channel 2-D max/average pooling, one output cell at a time, as PyTorch's
//! `MaxPool2d`/`AvgPool2d` with a square window, no padding and no dilation.
//!
//! Shapes: input (H, W), window K, stride S → output (H', W') with
//! `H' = floor((H - K) / S) + 1` and likewise for W'.
//!
//! Tie rule for max: the FIRST maximum in row-major order within the window wins
//! (scan left to right, top to bottom, replace only on a strictly larger value). It
//! decides which input cell is reported, and which cell the engine's backward pass
//! sends the gradient to.

use super::size::{formula_lines, output_dim, remainder_notes, Unit, COLS, ROWS, ROWS_COLS};
use super::{bounded_matrix_lines, bounded_steps, format_number, shape};
use crate::{Error, Result};
use ndarray::Array2;
use std::fmt;
use std::str::FromStr;

/// Which reduction the window applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolMode {
    Max,
    Avg,
}

impl fmt::Display for PoolMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PoolMode::Max => "max",
            PoolMode::Avg => "avg",
        })
    }
}

/// `"max"` or `"avg"` (also `"mean"`/`"average"`), any case: what `--mode` accepts.
impl FromStr for PoolMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "max" => Ok(PoolMode::Max),
            "avg" | "mean" | "average" => Ok(PoolMode::Avg),
            other => Err(Error::BadArgument {
                op: "pool",
                why: format!("unknown mode \"{other}\"; use max or avg"),
            }),
        }
    }
}

/// How one output cell was computed.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolStep {
    pub out_row: usize,
    pub out_col: usize,
    /// Top-left corner of the window in the input: `(out_row*S, out_col*S)`.
    pub window: (usize, usize),
    /// The window's values in row-major order.
    pub values: Vec<f32>,
    pub result: f32,
    /// For max: the input cell (row, col) that won, ties going to the first in
    /// row-major order. `None` for avg.
    pub winner: Option<(usize, usize)>,
}

/// A whole pooling, step by step.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolWalk {
    pub input: Array2<f32>,
    pub size: usize,
    pub stride: usize,
    pub mode: PoolMode,
    pub output: Array2<f32>,
    /// One step per output cell, row-major.
    pub steps: Vec<PoolStep>,
}

/// Slide a `size`x`size` window over `input` with `stride`, no padding.
pub fn pool2d_steps(
    input: &Array2<f32>,
    size: usize,
    stride: usize,
    mode: PoolMode,
) -> Result<PoolWalk> {
    if size == 0 {
        return Err(Error::BadArgument {
            op: "pool",
            why: "the window size (--size) must be at least 1 (got 0)".into(),
        });
    }
    let out_h = output_dim("pool", " height", input.nrows(), size, stride, 0)?;
    let out_w = output_dim("pool", " width", input.ncols(), size, stride, 0)?;
    let mut output = Array2::zeros((out_h, out_w));
    let mut steps = Vec::with_capacity(out_h * out_w);
    for out_row in 0..out_h {
        for out_col in 0..out_w {
            let window = (out_row * stride, out_col * stride);
            let mut values = Vec::with_capacity(size * size);
            // First maximum in row-major order: replace only on a strictly larger value.
            let mut best: Option<(f32, (usize, usize))> = None;
            for i in 0..size {
                for j in 0..size {
                    let pos = (window.0 + i, window.1 + j);
                    let v = input[pos];
                    values.push(v);
                    if best.is_none_or(|(b, _)| v > b) {
                        best = Some((v, pos));
                    }
                }
            }
            let (result, winner) = match (mode, best) {
                (PoolMode::Max, Some((v, pos))) => (v, Some(pos)),
                _ => (values.iter().sum::<f32>() / values.len() as f32, None),
            };
            output[(out_row, out_col)] = result;
            steps.push(PoolStep {
                out_row,
                out_col,
                window,
                values,
                result,
                winner,
            });
        }
    }
    Ok(PoolWalk {
        input: input.clone(),
        size,
        stride,
        mode,
        output,
        steps,
    })
}

/// The text for `dl-lab pool`: input, settings, output size, one line per window
/// (`out[0,1] = max(2, 3, 5, 6) = 6 (input[1,2])`, `out[0,0] = avg(1, 2, 5, 6) = 14 / 4 = 3.5`),
/// and last the output matrix under an `output (HxW):` header, one row per line.
pub fn pool_explanation(walk: &PoolWalk) -> Vec<String> {
    let (h, w) = walk.input.dim();
    let (out_h, out_w) = walk.output.dim();
    let (k, s) = (walk.size, walk.stride);
    let mut lines = vec![format!("input ({}):", shape(&walk.input))];
    lines.extend(bounded_matrix_lines(&walk.input));
    lines.push(String::new());
    let torch = match walk.mode {
        PoolMode::Max => "MaxPool2d",
        PoolMode::Avg => "AvgPool2d",
    };
    lines.push(format!(
        "{} pool: window {k}x{k}, stride {s}, no padding (as PyTorch's {torch})",
        walk.mode
    ));
    lines.push(format!("output size: {out_h}x{out_w}"));
    let dims: &[(&str, usize, usize, Unit)] = if h == w {
        &[("", h, out_h, ROWS_COLS)]
    } else {
        &[("height", h, out_h, ROWS), ("width", w, out_w, COLS)]
    };
    for &(axis, n, out, unit) in dims {
        if !axis.is_empty() {
            lines.push(format!("{axis}: N = {n}, K = {k}"));
        }
        lines.extend(formula_lines(n, k, s, 0, out));
        lines.extend(remainder_notes(n, k, s, 0, unit));
    }
    lines.push(String::new());
    match walk.mode {
        PoolMode::Max => lines.push(
            "each output cell is the largest value in its window; on a tie the first maximum \
             (left to right, top to bottom) wins"
                .into(),
        ),
        PoolMode::Avg => {
            lines.push("each output cell is the mean of the values in its window".into())
        }
    }
    lines.extend(bounded_steps(&walk.steps, step_line));
    lines.push(String::new());
    lines.push(format!("output ({}):", shape(&walk.output)));
    lines.extend(bounded_matrix_lines(&walk.output));
    lines
}

fn step_line(step: &PoolStep) -> String {
    let values: Vec<String> = step.values.iter().map(|&v| format_number(v)).collect();
    let head = format!("out[{},{}]", step.out_row, step.out_col);
    match step.winner {
        Some((r, c)) => {
            let ties = step.values.iter().filter(|&&v| v == step.result).count();
            let tie = if ties > 1 {
                format!(", first of {ties} tied")
            } else {
                String::new()
            };
            format!(
                "{head} = max({}) = {} (input[{r},{c}]{tie})",
                values.join(", "),
                format_number(step.result)
            )
        }
        None => {
            let sum: f32 = step.values.iter().sum();
            format!(
                "{head} = avg({}) = {} / {} = {}",
                values.join(", "),
                format_number(sum),
                step.values.len(),
                format_number(step.result)
            )
        }
    }
}
