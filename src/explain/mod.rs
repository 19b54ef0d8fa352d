//! Step-by-step arithmetic behind `dl-lab conv`, `dl-lab pool` and `dl-lab conv-size`.
//!
//! Pure functions over small single-channel 2-D matrices, independent of the autograd
//! engine. Each computation is returned as a *walk* (the padded input, the output and one
//! step per output cell) so the TUI's Conv/Pool pane can animate the kernel window from
//! the same data the text explanation is written from. Conventions follow PyTorch:
//! `Conv2d` computes cross-correlation (the kernel is not flipped), output cells are
//! indexed `out[row,col]` from 0, and pooling has no padding by default.
//!
//! The CLI calls one function per command, each returning the lines to print:
//! [`explain_conv`], [`explain_pool`] and [`conv_size_explanation`].

pub mod backprop;
pub mod backprop_mlp;
mod conv;
mod pool;
mod size;

pub use conv::{conv2d_steps, conv_explanation, ConvStep, ConvWalk, Product};
pub use pool::{pool2d_steps, pool_explanation, PoolMode, PoolStep, PoolWalk};
pub use size::{conv_output_size, conv_size_explanation};

use crate::{Error, Result};
use ndarray::Array2;

/// `dl-lab conv`: parse both matrices, walk the convolution, return the lines to print.
pub fn explain_conv(
    input: &str,
    kernel: &str,
    stride: usize,
    padding: usize,
) -> Result<Vec<String>> {
    let input = parse_matrix_as("input", input)?;
    let kernel = parse_matrix_as("kernel", kernel)?;
    Ok(conv_explanation(&conv2d_steps(
        &input, &kernel, stride, padding,
    )?))
}

/// `dl-lab pool`: parse the input, walk the pooling, return the lines to print.
/// `stride: None` means stride = size, PyTorch's default for `MaxPool2d`/`AvgPool2d`.
pub fn explain_pool(
    input: &str,
    size: usize,
    stride: Option<usize>,
    mode: PoolMode,
) -> Result<Vec<String>> {
    let input = parse_matrix_as("input", input)?;
    Ok(pool_explanation(&pool2d_steps(
        &input,
        size,
        stride.unwrap_or(size),
        mode,
    )?))
}

/// Parse `"1,2,3;4,5,6"`: rows separated by `;`, values by `,`, whitespace ignored.
/// A single trailing `;` is allowed. Rows and columns in error messages count from 1.
pub fn parse_matrix(text: &str) -> Result<Array2<f32>> {
    parse_matrix_as("matrix", text)
}

fn parse_matrix_as(what: &'static str, text: &str) -> Result<Array2<f32>> {
    let bad = |why: String| Error::BadArgument { op: what, why };
    let text = text.trim();
    let text = text.strip_suffix(';').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(bad(
            "the matrix is empty; write rows separated by ';' and values by ',', e.g. \"1,2;3,4\""
                .into(),
        ));
    }
    let mut values = Vec::new();
    let mut cols = 0;
    let mut rows = 0;
    for (r, row) in text.split(';').enumerate() {
        let row_values = parse_row(row, r + 1).map_err(bad)?;
        if r == 0 {
            cols = row_values.len();
        } else if row_values.len() != cols {
            return Err(bad(format!(
                "row {} has {} value{} but row 1 has {}; every row needs the same number of values",
                r + 1,
                row_values.len(),
                plural(row_values.len()),
                cols
            )));
        }
        values.extend(row_values);
        rows += 1;
    }
    Array2::from_shape_vec((rows, cols), values).map_err(|e| bad(e.to_string()))
}

/// One row of `parse_matrix`; `row` counts from 1 for the message.
fn parse_row(text: &str, row: usize) -> std::result::Result<Vec<f32>, String> {
    if text.trim().is_empty() {
        return Err(format!("row {row} is empty (two ';' in a row?)"));
    }
    let mut out = Vec::new();
    for (c, cell) in text.split(',').enumerate() {
        let cell = cell.trim();
        let col = c + 1;
        if cell.is_empty() {
            return Err(format!("row {row}, column {col} is empty (a stray ','?)"));
        }
        match cell.parse::<f32>() {
            Ok(v) if v.is_finite() => out.push(v),
            Ok(_) => {
                return Err(format!(
                    "value \"{cell}\" at row {row}, column {col} is not a finite number"
                ))
            }
            Err(_) => {
                return Err(format!(
                    "value \"{cell}\" at row {row}, column {col} is not a number"
                ))
            }
        }
    }
    Ok(out)
}

/// Compact number for explanations: integers without decimals (`6`), otherwise at most
/// 4 decimals with trailing zeros trimmed (`0.5`, `-1.25`, `0.3333`). Non-zero values
/// too small for 4 decimals use exponent form (`1e-5`) so they never print as `0`.
pub fn format_number(x: f32) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    if x == 0.0 {
        return "0".into(); // also turns -0 into 0
    }
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{x:.0}");
    }
    if x.abs() < 5e-5 {
        return trim_exponent(&format!("{x:.3e}"));
    }
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// `"1.500e-5"` → `"1.5e-5"`.
fn trim_exponent(s: &str) -> String {
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
            format!("{mantissa}e{exp}")
        }
        None => s.into(),
    }
}

/// A number as a factor in `a*b`: negative values get parentheses, `2*(-1)`.
pub(crate) fn factor(x: f32) -> String {
    let s = format_number(x);
    if s.starts_with('-') {
        format!("({s})")
    } else {
        s
    }
}

/// The matrix one row per line, columns right-aligned; each line splits on whitespace
/// back into the row's numbers.
pub fn matrix_lines(m: &Array2<f32>) -> Vec<String> {
    let cells: Vec<Vec<String>> = m
        .rows()
        .into_iter()
        .map(|r| r.iter().map(|&v| format_number(v)).collect())
        .collect();
    let widths: Vec<usize> = (0..m.ncols())
        .map(|c| cells.iter().map(|row| row[c].len()).max().unwrap_or(0))
        .collect();
    cells
        .iter()
        .map(|row| {
            row.iter()
                .zip(&widths)
                .map(|(s, &w)| format!("{s:>w$}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// Windows written out one per line before the rest are summarised: a
/// learner reads the pattern from the first few, and a 1×20,000 input would
/// otherwise print hundreds of megabytes.
pub const MAX_STEP_LINES: usize = 100;

/// Rows and columns of a matrix printed before it is cut with `…`.
pub const MAX_MATRIX_SIDE: usize = 40;

/// The step lines for `n` windows: the first [`MAX_STEP_LINES`] of them, then
/// one line saying how many more there are.
pub(crate) fn bounded_steps<T>(steps: &[T], line: impl Fn(&T) -> String) -> Vec<String> {
    let mut lines: Vec<String> = steps.iter().take(MAX_STEP_LINES).map(line).collect();
    if steps.len() > MAX_STEP_LINES {
        let rest = steps.len() - MAX_STEP_LINES;
        lines.push(format!(
            "… and {rest} more window{} computed the same way (not written out)",
            plural(rest)
        ));
    }
    lines
}

/// [`matrix_lines`] for a matrix of at most [`MAX_MATRIX_SIDE`] rows and
/// columns; a larger one shows its top-left corner with `…` where it is cut.
pub fn bounded_matrix_lines(m: &Array2<f32>) -> Vec<String> {
    let (rows, cols) = m.dim();
    if rows <= MAX_MATRIX_SIDE && cols <= MAX_MATRIX_SIDE {
        return matrix_lines(m);
    }
    let corner = m
        .slice(ndarray::s![
            ..rows.min(MAX_MATRIX_SIDE),
            ..cols.min(MAX_MATRIX_SIDE)
        ])
        .to_owned();
    let mut lines = matrix_lines(&corner);
    if cols > MAX_MATRIX_SIDE {
        for l in &mut lines {
            l.push_str(" …");
        }
    }
    if rows > MAX_MATRIX_SIDE {
        lines.push("…".into());
    }
    lines.push(format!(
        "(the first {} of {rows} rows and {} of {cols} columns)",
        rows.min(MAX_MATRIX_SIDE),
        cols.min(MAX_MATRIX_SIDE)
    ));
    lines
}

/// `"3x4"` for a matrix of 3 rows and 4 columns.
pub(crate) fn shape(m: &Array2<f32>) -> String {
    format!("{}x{}", m.nrows(), m.ncols())
}

pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
