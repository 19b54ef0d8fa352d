//! Draw a small matrix (a digit, a kernel, a feature map) as shaded
//! terminal cells. Colour mode packs two matrix rows into one text row with
//! the upper-half block '▀' (foreground = upper value, background = lower),
//! so a 28×28 digit takes 28×14 cells. ASCII mode draws one matrix row per
//! text row with a ramp of characters, for terminals without colour.

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
        Scale::Signed { max: if max > 0.0 { max } else { 1.0 } }
    }

    /// 0..=1 brightness of `v`.
    pub fn level(&self, v: f32) -> f32 {
        let t = match *self {
            Scale::Gray { lo, hi } => (v - lo) / (hi - lo),
            Scale::Signed { max } => v.abs() / max,
        };
        if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 }
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

/// Draw `values` (row-major, `rows`×`cols`) at the top-left of `area`,
/// clipped to it. Nothing is drawn outside `area`.
pub fn draw_matrix(values: &[f32], rows: usize, cols: usize, scale: Scale, ascii: bool, area: Rect, buf: &mut Buffer) {
    if values.len() < rows * cols {
        return;
    }
    let at = |r: usize, c: usize| values[r * cols + c];
    let (w, h) = cells_needed(rows, cols, ascii);
    for ty in 0..h.min(area.height) {
        for tx in 0..w.min(area.width) {
            let pos = (area.x + tx, area.y + ty);
            let c = tx as usize;
            let Some(cell) = buf.cell_mut(pos) else { continue };
            if ascii {
                let v = at(ty as usize, c);
                cell.set_char(scale.ascii(v)).set_style(Style::new());
            } else {
                let top = at(2 * ty as usize, c);
                let bottom_row = 2 * ty as usize + 1;
                let bg = if bottom_row < rows { scale.color(at(bottom_row, c)) } else { Color::Reset };
                cell.set_char('▀').set_style(Style::new().fg(scale.color(top)).bg(bg));
            }
        }
    }
}
