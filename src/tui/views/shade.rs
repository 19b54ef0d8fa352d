//! Draw a small matrix (a digit, a kernel, a feature map) as shaded
//! terminal cells. Colour mode packs two matrix rows into one text row with
//! the upper-half block '▀' (foreground = upper value, background = lower),
//! so a 28×28 digit takes 28×14 cells. ASCII mode draws one matrix row per
//! text row with a ramp of characters, for terminals without colour. A matrix
//! too large for its room is first shrunk by block means ([`block_mean`]).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};

/// Characters from dark to bright, for ASCII mode.
pub const ASCII_RAMP: &[char] = &[' ', '.', ':', '-', '=', '+', '*', '#', '%', '@'];

/// How values map to shades.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    /// lo → black, hi → white.
    Gray { lo: f32, hi: f32 },
    /// Negative → blue, 0 → black, positive → red, saturating at ±`max` (kernels, gradients).
    Signed { max: f32 },
}

impl Scale {
    /// The range of `values`, as a gray scale (a flat matrix gets 0..1).
    pub fn fit(values: &[f32]) -> Scale {
        let lo = values.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if lo.is_finite() && hi.is_finite() && hi > lo {
            Scale::Gray { lo, hi }
        } else {
            Scale::Gray { lo: 0.0, hi: 1.0 }
        }
    }

    /// A symmetric signed scale for `values`.
    pub fn signed(values: &[f32]) -> Scale {
        let max = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        Scale::Signed {
            max: if max > 0.0 { max } else { 1.0 },
        }
    }

    /// 0..=1 brightness of `v`.
    pub fn level(&self, v: f32) -> f32 {
        let t = match *self {
            Scale::Gray { lo, hi } => (v - lo) / (hi - lo),
            Scale::Signed { max } => v.abs() / max,
        };
        if t.is_finite() {
            t.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    pub fn color(&self, v: f32) -> Color {
        let c = (self.level(v) * 255.0).round() as u8;
        match *self {
            Scale::Gray { .. } => Color::Rgb(c, c, c),
            Scale::Signed { .. } if v < 0.0 => Color::Rgb(c / 4, c / 2, c),
            Scale::Signed { .. } => Color::Rgb(c, c / 3, c / 4),
        }
    }

    pub fn ascii(&self, v: f32) -> char {
        let i = (self.level(v) * (ASCII_RAMP.len() - 1) as f32).round() as usize;
        ASCII_RAMP[i.min(ASCII_RAMP.len() - 1)]
    }
}

/// Cells needed for a rows×cols matrix: (width, height).
pub fn cells_needed(rows: usize, cols: usize, ascii: bool) -> (u16, u16) {
    let h = if ascii { rows } else { rows.div_ceil(2) };
    (cols as u16, h as u16)
}

/// Means of `fy`×`fx` blocks of a row-major rows×cols matrix → (values,
/// rows', cols'); blocks at the bottom and right edges may be partial. How a
/// matrix is shrunk to fit: the Dataset pane's digit in the overview, the
/// Conv/Pool pane's inputs and feature maps.
pub fn block_mean(
    values: &[f32],
    rows: usize,
    cols: usize,
    fy: usize,
    fx: usize,
) -> (Vec<f32>, usize, usize) {
    let (fy, fx) = (fy.max(1), fx.max(1));
    let (r2, c2) = (rows.div_ceil(fy), cols.div_ceil(fx));
    let mut out = Vec::with_capacity(r2 * c2);
    for br in 0..r2 {
        for bc in 0..c2 {
            let (mut sum, mut n) = (0.0f32, 0usize);
            for r in br * fy..((br + 1) * fy).min(rows) {
                for c in bc * fx..((bc + 1) * fx).min(cols) {
                    if let Some(v) = values.get(r * cols + c) {
                        sum += v;
                        n += 1;
                    }
                }
            }
            out.push(if n > 0 { sum / n as f32 } else { 0.0 });
        }
    }
    (out, r2, c2)
}

/// Draw `values` (row-major, `rows`×`cols`) at the top-left of `area`,
/// clipped to it. Nothing is drawn outside `area`.
pub fn draw_matrix(
    values: &[f32],
    rows: usize,
    cols: usize,
    scale: Scale,
    ascii: bool,
    area: Rect,
    buf: &mut Buffer,
) {
    if values.len() < rows * cols {
        return;
    }
    let at = |r: usize, c: usize| values[r * cols + c];
    let (w, h) = cells_needed(rows, cols, ascii);
    for ty in 0..h.min(area.height) {
        for tx in 0..w.min(area.width) {
            let pos = (area.x + tx, area.y + ty);
            let c = tx as usize;
            let Some(cell) = buf.cell_mut(pos) else {
                continue;
            };
            if ascii {
                let v = at(ty as usize, c);
                cell.set_char(scale.ascii(v)).set_style(Style::new());
            } else {
                let top = at(2 * ty as usize, c);
                let bottom_row = 2 * ty as usize + 1;
                let bg = if bottom_row < rows {
                    scale.color(at(bottom_row, c))
                } else {
                    Color::Reset
                };
                cell.set_char('▀')
                    .set_style(Style::new().fg(scale.color(top)).bg(bg));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_means_average_whole_and_partial_blocks() {
        // 3×3 in 2×2 blocks: one whole block, two half blocks, one corner
        let m = [1.0, 3.0, 5.0, 3.0, 5.0, 7.0, 9.0, 11.0, 13.0];
        assert_eq!(
            block_mean(&m, 3, 3, 2, 2),
            (vec![3.0, 6.0, 10.0, 13.0], 2, 2)
        );
        // rows only: 2×1 blocks
        assert_eq!(
            block_mean(&[0.0, 1.0, 2.0, 4.0], 2, 2, 2, 1),
            (vec![1.0, 2.5], 1, 2)
        );
        assert_eq!(block_mean(&m, 3, 3, 1, 1), (m.to_vec(), 3, 3));
    }
}
