//! Matrices for the Conv/Pool pane: shaded cells (via `shade::draw_matrix`),
//! shrunk by block averaging until they fit, with the kernel window and one
//! chosen cell (the output cell, or the max-pool winner) marked on top; and
//! small matrices written out as numbers on shaded backgrounds.
//!
//! Marks are drawn over the shaded cells: in colour the marked half-cells are
//! re-shaded yellow (window) or green (cell) at the same brightness, so the
//! values stay readable; in ASCII mode the window is shown reversed and the
//! cell as a reversed `X`.

use ndarray::Array2;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};

use crate::tui::views::shade::{block_mean, cells_needed, draw_matrix, Scale};

/// What to mark over a matrix, in its own (row, col) coordinates.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Marks {
    /// (top row, left col, rows, cols) of the kernel window.
    pub window: Option<(usize, usize, usize, usize)>,
    pub cell: Option<(usize, usize)>,
    /// Also mark in reverse video (for `NO_COLOR`, where the mark colours are
    /// dropped and the shaded cells become shade characters).
    pub mono: bool,
}

#[derive(Clone, Copy)]
enum MarkKind {
    Window,
    Cell,
}

impl MarkKind {
    /// The mark's colour at brightness `t` (0..=1).
    fn color(self, t: f32) -> Color {
        let ramp = |lo: f32, hi: f32| (lo + (hi - lo) * t).round().clamp(0.0, 255.0) as u8;
        match self {
            MarkKind::Window => Color::Rgb(ramp(90.0, 255.0), ramp(70.0, 240.0), ramp(0.0, 90.0)),
            MarkKind::Cell => Color::Rgb(ramp(0.0, 120.0), ramp(110.0, 255.0), ramp(40.0, 140.0)),
        }
    }
}

/// The smallest block size `f` (1 = full size) that fits a rows×cols matrix
/// into `w`×`h` cells; None when not even one cell fits.
pub fn fit_factor(rows: usize, cols: usize, ascii: bool, w: u16, h: u16) -> Option<usize> {
    if rows == 0 || cols == 0 || w == 0 || h == 0 {
        return None;
    }
    (1..=rows.max(cols)).find(|&f| {
        let (cw, ch) = cells_needed(rows.div_ceil(f), cols.div_ceil(f), ascii);
        cw <= w && ch <= h
    })
}

/// Draw `m` at the top-left of `area`, shrunk to fit, with `marks` on top.
/// Returns the cells used (width, height) and the block size, or None when
/// nothing fits.
pub fn draw(
    m: &Array2<f32>,
    scale: Scale,
    ascii: bool,
    area: Rect,
    buf: &mut Buffer,
    marks: Marks,
) -> Option<(u16, u16, usize)> {
    let (rows, cols) = m.dim();
    let f = fit_factor(rows, cols, ascii, area.width, area.height)?;
    let values: Vec<f32> = m.iter().copied().collect();
    let small = if f == 1 {
        values
    } else {
        block_mean(&values, rows, cols, f, f).0
    };
    let (r2, c2) = (rows.div_ceil(f), cols.div_ceil(f));
    draw_matrix(&small, r2, c2, scale, ascii, area, buf);
    let mark = |r: usize, c: usize, kind: MarkKind, buf: &mut Buffer| {
        let Some(&v) = small.get(r * c2 + c).filter(|_| r < r2 && c < c2) else {
            return;
        };
        let (x, y) = (
            area.x as usize + c,
            area.y as usize + if ascii { r } else { r / 2 },
        );
        if x >= area.right() as usize || y >= area.bottom() as usize {
            return;
        }
        let Some(cell) = buf.cell_mut((x as u16, y as u16)) else {
            return;
        };
        if ascii || marks.mono {
            cell.modifier.insert(Modifier::REVERSED);
            if let (MarkKind::Cell, true) = (kind, ascii) {
                cell.set_char('X');
            }
            if let MarkKind::Cell = kind {
                cell.modifier.insert(Modifier::BOLD);
            }
        } else if r.is_multiple_of(2) {
            cell.fg = kind.color(scale.level(v));
        } else {
            cell.bg = kind.color(scale.level(v));
        }
    };
    if let Some((r0, c0, h, w)) = marks.window.filter(|&(_, _, h, w)| h > 0 && w > 0) {
        for r in r0 / f..=(r0 + h - 1) / f {
            for c in c0 / f..=(c0 + w - 1) / f {
                mark(r, c, MarkKind::Window, buf);
            }
        }
    }
    if let Some((r, c)) = marks.cell {
        mark(r / f, c / f, MarkKind::Cell, buf);
    }
    let (w, h) = cells_needed(r2, c2, ascii);
    Some((w.min(area.width), h.min(area.height), f))
}

/// Size (width, height) of [`number_table`] for `m` written with `fmt`.
pub fn table_size(m: &Array2<f32>, fmt: fn(f32) -> String) -> (u16, u16) {
    let cell = m.iter().map(|&v| fmt(v).chars().count()).max().unwrap_or(1) + 1;
    ((cell * m.ncols()) as u16, m.nrows() as u16)
}

/// `m` written out as numbers, right-aligned in equal columns on backgrounds
/// shaded by `scale` (plain text in ASCII mode); `mark` is shown on green
/// (reversed in ASCII mode). Draws nothing and returns None unless the whole table fits.
pub fn number_table(
    m: &Array2<f32>,
    fmt: fn(f32) -> String,
    scale: Scale,
    ascii: bool,
    area: Rect,
    buf: &mut Buffer,
    mark: Option<(usize, usize)>,
) -> Option<(u16, u16)> {
    let (w, h) = table_size(m, fmt);
    let area = area.intersection(buf.area);
    if w > area.width || h > area.height {
        return None;
    }
    let cell_w = (w as usize / m.ncols().max(1)).max(1);
    for ((r, c), &v) in m.indexed_iter() {
        let mut style = if ascii {
            Style::new()
        } else {
            let bg = scale.color(v);
            Style::new().fg(readable_on(bg)).bg(bg)
        };
        if mark == Some((r, c)) {
            style = if ascii {
                style.add_modifier(Modifier::REVERSED | Modifier::BOLD)
            } else {
                Style::new()
                    .fg(Color::Black)
                    .bg(MarkKind::Cell.color(1.0))
                    .add_modifier(Modifier::BOLD)
            };
        }
        // the shaded number, then one plain column between numbers
        let num_w = cell_w.saturating_sub(1).max(1);
        let text = format!("{:>num_w$}", fmt(v));
        let x = area.x + (c * cell_w) as u16;
        buf.set_stringn(x, area.y + r as u16, text, num_w, style);
    }
    Some((w, h))
}

/// The largest block height (2..=`MAX_BLOCK`) at which [`block_table`] fits
/// `m` into `w`×`h` cells, else 1 (the plain [`number_table`]).
pub const MAX_BLOCK: u16 = 8;
pub fn block_scale(m: &Array2<f32>, fmt: fn(f32) -> String, ascii: bool, w: u16, h: u16) -> u16 {
    (2..=MAX_BLOCK)
        .rev()
        .find(|&s| {
            let (bw, bh) = block_table_size(m, fmt, ascii, s);
            bw <= w && bh <= h
        })
        .unwrap_or(1)
}

/// Size (width, height) of [`block_table`] at block height `s`.
pub fn block_table_size(
    m: &Array2<f32>,
    fmt: fn(f32) -> String,
    ascii: bool,
    s: u16,
) -> (u16, u16) {
    if s <= 1 || ascii {
        return table_size(m, fmt);
    }
    let num_w = m.iter().map(|&v| fmt(v).chars().count()).max().unwrap_or(1) as u16;
    // about square blocks (a cell is twice as tall as wide), the number plus a margin
    let bw = (num_w + 2).max(2 * s);
    (bw * m.ncols() as u16, s * m.nrows() as u16)
}

/// `m` as a shaded picture of `s`-row blocks, each with its number in the
/// middle: the number table scaled up where there is room. `s` ≤ 1 (or ASCII
/// mode) is the plain [`number_table`]. None (nothing drawn) unless it fits.
#[allow(clippy::too_many_arguments)]
pub fn block_table(
    m: &Array2<f32>,
    fmt: fn(f32) -> String,
    scale: Scale,
    ascii: bool,
    area: Rect,
    buf: &mut Buffer,
    mark: Option<(usize, usize)>,
    s: u16,
) -> Option<(u16, u16)> {
    if s <= 1 || ascii {
        return number_table(m, fmt, scale, ascii, area, buf, mark);
    }
    let (w, h) = block_table_size(m, fmt, ascii, s);
    let area = area.intersection(buf.area);
    if w > area.width || h > area.height {
        return None;
    }
    let bw = w / m.ncols().max(1) as u16;
    for ((r, c), &v) in m.indexed_iter() {
        let bg = scale.color(v);
        let mut style = Style::new().fg(readable_on(bg)).bg(bg);
        if mark == Some((r, c)) {
            style = Style::new()
                .fg(Color::Black)
                .bg(MarkKind::Cell.color(1.0))
                .add_modifier(Modifier::BOLD);
        }
        let (x, y) = (area.x + c as u16 * bw, area.y + r as u16 * s);
        for dy in 0..s {
            buf.set_stringn(x, y + dy, " ".repeat(bw as usize), bw as usize, style);
        }
        // the number centred in the block's middle row
        let text = fmt(v);
        let tw = text.chars().count() as u16;
        let tx = x + bw.saturating_sub(tw).div_ceil(2);
        buf.set_stringn(tx, y + s / 2, text, bw as usize, style);
    }
    Some((w, h))
}

/// Black or white text, whichever reads better on `bg` (by luma).
fn readable_on(bg: Color) -> Color {
    match bg {
        Color::Rgb(r, g, b) if 0.299 * r as f32 + 0.587 * g as f32 + 0.114 * b as f32 > 150.0 => {
            Color::Black
        }
        _ => Color::White,
    }
}
