//! One frame of the kernel walk, gathered from an explain walk: what the
//! window slides over, the current output cell and its window, the numbers in
//! the window (and the products, for conv), the multiply-add or max/mean
//! written out, and the output-size formula with explain's notes.

use ndarray::{s, Array2};

use super::text::{factor, num};
use super::ConvPane;
use crate::explain::{conv_size_explanation, format_number, ConvWalk, PoolWalk};
use crate::tui::views::shade::Scale;

/// One axis of the output-size formula: (axis name, N, K, S, P, output).
/// The name is empty when both axes agree and one line says it all.
type AxisSize = (&'static str, usize, usize, usize, usize, usize);

/// One frame of the walk, gathered from an explain walk.
pub(super) struct View {
    /// What the window slides over: the padded digit (conv) or the digit (pool).
    pub(super) input: Array2<f32>,
    pub(super) input_label: String,
    pub(super) output: Array2<f32>,
    pub(super) out_scale: Scale,
    /// The output cell (row, col), its number in reading order, and the count.
    pub(super) cell: (usize, usize),
    pub(super) index: usize,
    pub(super) count: usize,
    /// (top, left, rows, cols) of the window in `input`.
    pub(super) window: (usize, usize, usize, usize),
    /// The max-pool winner in `input` coordinates.
    pub(super) winner: Option<(usize, usize)>,
    pub(super) window_values: Array2<f32>,
    /// Conv only: (name, weights) and the window's products.
    pub(super) kernel: Option<(String, Array2<f32>)>,
    pub(super) products: Option<Array2<f32>>,
    pub(super) result: f32,
    /// `out[r,c] = …` with every number.
    pub(super) arithmetic: String,
    /// The output-size formula's numbers, per axis.
    pub(super) sizes: Vec<AxisSize>,
    /// "convolution with vertical edge (3x3), stride 1, padding 1".
    pub(super) setting: String,
}

impl View {
    pub(super) fn conv(walk: &ConvWalk, pane: &ConvPane, name: String) -> Option<View> {
        let (oh, ow) = walk.output.dim();
        let ((r, c), index) = clamped_cell(pane.pos, (oh, ow))?;
        let step = walk.steps.get(index)?;
        let (kh, kw) = walk.kernel.dim();
        let (top, left) = step.window;
        let window_values = walk
            .padded
            .slice(s![top..top + kh, left..left + kw])
            .to_owned();
        let products =
            Array2::from_shape_vec((kh, kw), step.products.iter().map(|p| p.value).collect())
                .ok()?;
        let terms: Vec<String> = step
            .products
            .iter()
            .map(|p| format!("{}*{}", factor(p.input), factor(p.weight)))
            .collect();
        let (h, w) = walk.input.dim();
        let p = walk.padding;
        let input_label = if p > 0 {
            format!("input {}x{} (padding {p})", h + 2 * p, w + 2 * p)
        } else {
            format!("input {h}x{w}")
        };
        let sizes = axis_sizes((h, w), (kh, kw), walk.stride, p, (oh, ow));
        Some(View {
            input: walk.padded.clone(),
            input_label,
            output: walk.output.clone(),
            out_scale: Scale::signed(walk.output.as_slice().unwrap_or(&[])),
            cell: (r, c),
            index,
            count: walk.steps.len(),
            window: (top, left, kh, kw),
            winner: None,
            window_values,
            setting: format!(
                "convolution with {name} ({kh}x{kw}), stride {}, padding {p}",
                walk.stride
            ),
            kernel: Some((name, walk.kernel.clone())),
            products: Some(products),
            result: step.sum,
            arithmetic: format!("out[{r},{c}] = {} = {}", terms.join(" + "), num(step.sum)),
            sizes,
        })
    }

    pub(super) fn pool(walk: &PoolWalk, pane: &ConvPane) -> Option<View> {
        let (oh, ow) = walk.output.dim();
        let ((r, c), index) = clamped_cell(pane.pos, (oh, ow))?;
        let step = walk.steps.get(index)?;
        let k = walk.size;
        let (top, left) = step.window;
        let window_values = Array2::from_shape_vec((k, k), step.values.clone()).ok()?;
        let values: Vec<String> = step.values.iter().map(|&v| num(v)).collect();
        let arithmetic = match step.winner {
            Some((wr, wc)) => {
                let ties = step.values.iter().filter(|&&v| v == step.result).count();
                let tie = if ties > 1 {
                    format!(", the first of {ties} tied")
                } else {
                    String::new()
                };
                format!(
                    "out[{r},{c}] = max({}) = {}: the winner is input[{wr},{wc}]{tie}",
                    values.join(", "),
                    num(step.result)
                )
            }
            None => {
                let sum: f32 = step.values.iter().sum();
                format!(
                    "out[{r},{c}] = avg({}) = {} / {} = {}",
                    values.join(", "),
                    num(sum),
                    step.values.len(),
                    num(step.result)
                )
            }
        };
        let (h, w) = walk.input.dim();
        let sizes = axis_sizes((h, w), (k, k), walk.stride, 0, (oh, ow));
        Some(View {
            input: walk.input.clone(),
            input_label: format!("input {h}x{w}"),
            output: walk.output.clone(),
            out_scale: Scale::Gray { lo: 0.0, hi: 1.0 },
            cell: (r, c),
            index,
            count: walk.steps.len(),
            window: (top, left, k, k),
            winner: step.winner,
            window_values,
            kernel: None,
            products: None,
            result: step.result,
            arithmetic,
            sizes,
            setting: format!(
                "{} pooling, window {k}x{k}, stride {}, no padding",
                walk.mode, walk.stride
            ),
        })
    }

    /// The size formula filled in, one string per axis.
    pub(super) fn formulas(&self, compact: bool) -> Vec<String> {
        self.sizes
            .iter()
            .map(|&(axis, n, k, s, p, out)| {
                let mut t = if compact {
                    format!("{axis}floor(({n}+2*{p}-{k})/{s})+1")
                } else {
                    format!("{axis}output size = floor((N + 2P - K) / S) + 1 = floor(({n} + 2*{p} - {k}) / {s}) + 1")
                };
                let span = n + 2 * p - k;
                if span % s != 0 && !compact {
                    t += &format!(" = floor({}) + 1", format_number(span as f32 / s as f32));
                }
                t + &format!(" = {out}")
            })
            .collect()
    }

    /// explain's notes on a remainder or skipped inputs (empty when none apply).
    pub(super) fn notes(&self) -> Vec<String> {
        let Some(&(_, n, k, s, p, _)) = self.sizes.first() else {
            return Vec::new();
        };
        let mut in_note = false;
        let mut notes = Vec::new();
        for line in conv_size_explanation(n, k, s, p).unwrap_or_default() {
            // a note and its indented continuation lines; the formula lines are indented too
            in_note = line.starts_with("note:") || (in_note && line.starts_with(' '));
            if in_note {
                notes.push(line.trim().to_string());
            }
        }
        notes
    }
}

/// The output cell `pos` points at, clamped into an oh×ow output, and its
/// number in reading order (None for an empty output).
fn clamped_cell(pos: (usize, usize), (oh, ow): (usize, usize)) -> Option<((usize, usize), usize)> {
    let (r, c) = (pos.0.min(oh.checked_sub(1)?), pos.1.min(ow.checked_sub(1)?));
    Some(((r, c), r * ow + c))
}

/// The size formula's numbers: one line when height and width (and the
/// window's rows and columns) agree, else one per axis.
fn axis_sizes(
    (h, w): (usize, usize),
    (kh, kw): (usize, usize),
    stride: usize,
    padding: usize,
    (oh, ow): (usize, usize),
) -> Vec<AxisSize> {
    if (h, kh) == (w, kw) {
        vec![("", h, kh, stride, padding, oh)]
    } else {
        vec![
            ("height: ", h, kh, stride, padding, oh),
            ("width: ", w, kw, stride, padding, ow),
        ]
    }
}
