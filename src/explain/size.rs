//! Output size of a convolution or pooling window along one axis, and its explanation.
//!
//! `out = floor((N + 2P - K) / S) + 1`, the formula in PyTorch's `Conv2d`/`MaxPool2d`
//! docs with dilation 1. Height and width each use it separately.

use crate::backend::geometry::{output_size, SizeError};
use crate::{Error, Result};

/// `floor((n + 2*padding - k) / stride) + 1`. Errors when `stride` or `k` is 0, or the
/// kernel is larger than the padded input.
pub fn conv_output_size(n: usize, k: usize, stride: usize, padding: usize) -> Result<usize> {
    output_dim("conv-size", "", n, k, stride, padding)
}

/// The shared check-and-compute; `axis` is `""`, `" height"` or `" width"` for the message.
pub(crate) fn output_dim(
    op: &'static str,
    axis: &str,
    n: usize,
    k: usize,
    stride: usize,
    padding: usize,
) -> Result<usize> {
    let bad = |why: String| Error::BadArgument { op, why };
    output_size(n, k, stride, padding).map_err(|e| match e {
        SizeError::ZeroStride => bad("stride must be at least 1 (got 0)".into()),
        SizeError::ZeroKernel => bad(format!("kernel{axis} must be at least 1 (got 0)")),
        SizeError::Overflow => bad(format!(
            "input{axis} {n} with padding {padding} is too large to compute"
        )),
        SizeError::KernelTooLarge { padded } => bad(format!(
            "the kernel{axis} ({k}) is larger than the padded input{axis} ({n} + 2*{padding} = {padded}); \
             use a smaller kernel or more padding"
        )),
    })
}

/// The formula filled in, one line per step, ending with `output size: <number>`.
/// Says when the division is not exact (the kernel never reaches the last rows/columns)
/// and when the stride is larger than the kernel (inputs between windows are skipped).
pub fn conv_size_explanation(
    n: usize,
    k: usize,
    stride: usize,
    padding: usize,
) -> Result<Vec<String>> {
    let out = conv_output_size(n, k, stride, padding)?;
    let mut lines = vec![format!(
        "N = {n} (input), K = {k} (kernel), S = {stride} (stride), P = {padding} (padding)"
    )];
    lines.extend(formula_lines(n, k, stride, padding, out));
    lines.extend(remainder_notes(n, k, stride, padding, ROWS_COLS));
    lines.push(format!(
        "(height and width each use this formula: a {n}x{n} input gives a {out}x{out} output)"
    ));
    lines.push(format!("output size: {out}"));
    Ok(lines)
}

/// `output = floor((N + 2P - K) / S) + 1` and its two filled-in lines.
pub(crate) fn formula_lines(
    n: usize,
    k: usize,
    stride: usize,
    padding: usize,
    out: usize,
) -> Vec<String> {
    let span = n + 2 * padding - k;
    let exact = span.is_multiple_of(stride);
    let mut last = format!("       = floor({span} / {stride}) + 1");
    if !exact {
        let quotient = super::format_number(span as f32 / stride as f32);
        last.push_str(&format!(" = floor({quotient}) + 1"));
    }
    last.push_str(&format!(" = {out}"));
    vec![
        "output = floor((N + 2P - K) / S) + 1".into(),
        format!("       = floor(({n} + 2*{padding} - {k}) / {stride}) + 1"),
        last,
    ]
}

/// What a remainder or a gap counts in: `ROWS_COLS` for a square walk, `ROWS` or `COLS`
/// when height and width are explained separately. (singular, plural)
pub(crate) type Unit = (&'static str, &'static str);
pub(crate) const ROWS_COLS: Unit = ("row/column", "rows/columns");
pub(crate) const ROWS: Unit = ("row", "rows");
pub(crate) const COLS: Unit = ("column", "columns");

/// Notes for an inexact division and for gaps between windows; empty when neither applies.
pub(crate) fn remainder_notes(
    n: usize,
    k: usize,
    stride: usize,
    padding: usize,
    unit: Unit,
) -> Vec<String> {
    let count = |c: usize| format!("{c} {}", if c == 1 { unit.0 } else { unit.1 });
    let span = n + 2 * padding - k;
    let rest = span % stride;
    let mut notes = Vec::new();
    if rest > 0 {
        notes.push(format!(
            "note: {span} / {stride} is not exact; floor drops the remainder {rest}:"
        ));
        let lost = rest.saturating_sub(padding);
        notes.push(if padding == 0 {
            format!(
                "      the kernel never reaches the last {} of the input, so that input never affects the output",
                count(rest)
            )
        } else if lost == 0 {
            format!(
                "      the kernel never reaches the last {} of the padded input, which is padding, so no real input is lost",
                count(rest)
            )
        } else {
            format!(
                "      the kernel never reaches the last {} of the padded input: {} of real input (never reaching the output) and {} of padding",
                count(rest),
                count(lost),
                count(padding)
            )
        });
    }
    if stride > k {
        notes.push(format!(
            "note: stride {stride} > kernel {k}: between windows the kernel skips {} (that input never affects the output)",
            count(stride - k)
        ));
    }
    notes
}
