//! Single-channel 2-D convolution, one output cell at a time, as PyTorch's `Conv2d`
//! computes it: cross-correlation (the kernel is *not* flipped), zero padding, no bias.
//!
//! Shapes: input (H, W), kernel (kh, kw) → output (H', W') with
//! `H' = floor((H + 2P - kh) / S) + 1` and likewise for W'.

use super::size::{formula_lines, output_dim, remainder_notes, COLS, ROWS, ROWS_COLS};
use super::{bounded_matrix_lines, bounded_steps, factor, format_number, shape};
use crate::Result;
use ndarray::{s, Array2};

/// One `input * weight` term of an output cell's sum.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    /// Position of the input value in the *padded* input.
    pub input_pos: (usize, usize),
    /// Position of the weight in the kernel.
    pub kernel_pos: (usize, usize),
    pub input: f32,
    pub weight: f32,
    pub value: f32,
}

/// How one output cell was computed.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvStep {
    pub out_row: usize,
    pub out_col: usize,
    /// Top-left corner of the kernel window in the padded input: `(out_row*S, out_col*S)`.
    pub window: (usize, usize),
    /// The kernel-sized window's products in row-major order.
    pub products: Vec<Product>,
    /// Sum of the products, added in the order listed.
    pub sum: f32,
}

/// A whole convolution, step by step.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvWalk {
    pub input: Array2<f32>,
    pub kernel: Array2<f32>,
    pub stride: usize,
    pub padding: usize,
    /// The input with `padding` zeros on every side (equal to `input` when padding is 0).
    pub padded: Array2<f32>,
    pub output: Array2<f32>,
    /// One step per output cell, row-major.
    pub steps: Vec<ConvStep>,
}

/// The most zero padding a walk-through lays out (each side); more only
/// adds rows of zeros, and a huge value would exhaust memory.
pub const MAX_PADDING: usize = 100;

/// Slide `kernel` over `input` with the given stride and zero padding.
pub fn conv2d_steps(
    input: &Array2<f32>,
    kernel: &Array2<f32>,
    stride: usize,
    padding: usize,
) -> Result<ConvWalk> {
    let (kh, kw) = kernel.dim();
    if padding > MAX_PADDING {
        return Err(crate::Error::BadArgument {
            op: "conv",
            why: format!(
                "--padding {padding} is more than this walk-through shows (at most {MAX_PADDING})"
            ),
        });
    }
    let out_h = output_dim("conv", " height", input.nrows(), kh, stride, padding)?;
    let out_w = output_dim("conv", " width", input.ncols(), kw, stride, padding)?;
    let padded = pad(input, padding);
    let mut output = Array2::zeros((out_h, out_w));
    let mut steps = Vec::with_capacity(out_h * out_w);
    for out_row in 0..out_h {
        for out_col in 0..out_w {
            let window = (out_row * stride, out_col * stride);
            let mut products = Vec::with_capacity(kh * kw);
            let mut sum = 0.0f32;
            for ((i, j), &weight) in kernel.indexed_iter() {
                let input_pos = (window.0 + i, window.1 + j);
                let x = padded[input_pos];
                let value = x * weight;
                sum += value;
                products.push(Product {
                    input_pos,
                    kernel_pos: (i, j),
                    input: x,
                    weight,
                    value,
                });
            }
            output[(out_row, out_col)] = sum;
            steps.push(ConvStep {
                out_row,
                out_col,
                window,
                products,
                sum,
            });
        }
    }
    Ok(ConvWalk {
        input: input.clone(),
        kernel: kernel.clone(),
        stride,
        padding,
        padded,
        output,
        steps,
    })
}

/// `input` with `padding` zeros on each side.
fn pad(input: &Array2<f32>, padding: usize) -> Array2<f32> {
    let (h, w) = input.dim();
    let mut padded = Array2::zeros((h + 2 * padding, w + 2 * padding));
    padded
        .slice_mut(s![padding..padding + h, padding..padding + w])
        .assign(input);
    padded
}

/// The text for `dl-lab conv`: input, kernel, output size, one multiply-add line per
/// output cell (`out[0,0] = 1*1 + 2*0 + 4*0 + 5*1 = 6`), and last the output matrix
/// under an `output (HxW):` header, one row per line.
pub fn conv_explanation(walk: &ConvWalk) -> Vec<String> {
    let mut lines = Vec::new();
    if walk.padding > 0 {
        lines.push(format!(
            "input ({}), zero-padded with P = {} on every side to {}:",
            shape(&walk.input),
            walk.padding,
            shape(&walk.padded)
        ));
        lines.extend(bounded_matrix_lines(&walk.padded));
    } else {
        lines.push(format!("input ({}):", shape(&walk.input)));
        lines.extend(bounded_matrix_lines(&walk.input));
    }
    lines.push(format!("kernel ({}):", shape(&walk.kernel)));
    lines.extend(bounded_matrix_lines(&walk.kernel));
    lines.push(String::new());
    lines.extend(size_lines(walk));
    lines.push(String::new());
    lines.push(format!(
        "each output cell: lay the kernel on the window (moved by S = {} per step) and add up the products",
        walk.stride
    ));
    lines.push(
        "(cross-correlation, as PyTorch's Conv2d computes it: the kernel is not flipped)".into(),
    );
    lines.extend(bounded_steps(&walk.steps, step_line));
    lines.push(String::new());
    lines.push(format!("output ({}):", shape(&walk.output)));
    lines.extend(bounded_matrix_lines(&walk.output));
    lines
}

/// `out[r,c] = a*b + ... = sum`.
fn step_line(step: &ConvStep) -> String {
    let terms: Vec<String> = step
        .products
        .iter()
        .map(|p| format!("{}*{}", factor(p.input), factor(p.weight)))
        .collect();
    format!(
        "out[{},{}] = {} = {}",
        step.out_row,
        step.out_col,
        terms.join(" + "),
        format_number(step.sum)
    )
}

/// The size formula for height, and for width too when it differs.
fn size_lines(walk: &ConvWalk) -> Vec<String> {
    let (h, w) = walk.input.dim();
    let (kh, kw) = walk.kernel.dim();
    let (out_h, out_w) = walk.output.dim();
    let (s, p) = (walk.stride, walk.padding);
    let mut lines = Vec::new();
    if (h, kh) == (w, kw) {
        lines.push(format!(
            "output size (same for height and width): {out_h}x{out_w}"
        ));
        lines.extend(formula_lines(h, kh, s, p, out_h));
        lines.extend(remainder_notes(h, kh, s, p, ROWS_COLS));
    } else {
        lines.push(format!("output size: {out_h}x{out_w}"));
        lines.push(format!("height: N = {h}, K = {kh}"));
        lines.extend(formula_lines(h, kh, s, p, out_h));
        lines.extend(remainder_notes(h, kh, s, p, ROWS));
        lines.push(format!("width: N = {w}, K = {kw}"));
        lines.extend(formula_lines(w, kw, s, p, out_w));
        lines.extend(remainder_notes(w, kw, s, p, COLS));
    }
    lines
}
