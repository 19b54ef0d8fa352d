//! The Dataset pane while drawing a digit (`d`, see `tui::canvas`): the
//! 28×28 canvas with its cursor, the brush and pen, the model's prediction
//! and top-3 for the drawing, and what the model is given (the drawing
//! centred and scaled as MNIST's digits are).
//!
//! The canvas is drawn as large as the pane allows: two cells per pixel
//! (56×28 cells) when opened on a large terminal, half-blocks (28×14 cells,
//! two pixels per cell) otherwise, and in a pane smaller than that a 14×7
//! preview (2×2 pixels a cell) with a hint to open the pane to draw.
//! A frame (rounded, `+-|` in `--ascii`) surrounds the 28×28 field so its
//! edge shows on a blank canvas; the header above names the brush and keys.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Widget, Wrap};

use super::shade::{block_mean, draw_matrix, Scale};
use super::text::wrap_words;
use super::{pane_block, ViewContext};
use crate::tui::canvas::{Canvas, SIDE};

/// How the canvas is laid out in the pane's inner area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// Two cells (columns) per pixel: 56×28 cells.
    Big,
    /// Half-blocks, two pixels per cell: 28×14 cells.
    Half,
    /// 2×2 pixels per cell, 14×7: no room to draw, only to look.
    Preview,
}

/// Columns the text beside the canvas wants at least.
const TEXT_MIN: u16 = 22;

/// The canvas's size and cells in `inner` (the pane inside its border):
/// under a one-row header, at the left, inside a one-cell frame (see
/// [`frame`]). None: no room even for a preview.
pub fn geometry(inner: Rect) -> Option<(Size, Rect)> {
    let body = Rect {
        y: inner.y + 1,
        height: inner.height.saturating_sub(1),
        ..inner
    };
    let side = SIDE as u16;
    // the frame takes a cell on each side
    let fits = |w: u16, h: u16| body.width >= w + 2 + TEXT_MIN && body.height >= h + 2;
    let (size, w, h) = if fits(2 * side, side) {
        (Size::Big, 2 * side, side)
    } else if fits(side, side / 2) {
        (Size::Half, side, side / 2)
    } else if fits(side / 2, side / 4) {
        (Size::Preview, side / 2, side / 4)
    } else {
        return None;
    };
    Some((size, Rect::new(body.x + 1, body.y + 1, w, h)))
}

/// The frame around the canvas cells `rect`: one cell wider on each side.
pub fn frame(rect: Rect) -> Rect {
    Rect::new(
        rect.x.saturating_sub(1),
        rect.y.saturating_sub(1),
        rect.width + 2,
        rect.height + 2,
    )
}

/// The pixel (row, col) under terminal cell (x, y), if the canvas has it
/// and can be drawn on at this size. A half-block cell holds two rows: the
/// pixel returned is the lower one, which an even brush paints together
/// with the one above it.
pub fn pixel_at(size: Size, rect: Rect, x: u16, y: u16) -> Option<(usize, usize)> {
    if !rect.contains(ratatui::layout::Position::new(x, y)) {
        return None;
    }
    let (dx, dy) = (usize::from(x - rect.x), usize::from(y - rect.y));
    match size {
        Size::Big => Some((dy, dx / 2)),
        Size::Half => Some(((2 * dy + 1).min(SIDE - 1), dx)),
        Size::Preview => None,
    }
}

/// The Dataset pane drawing `canvas`.
pub fn render(canvas: &Canvas, cx: &ViewContext, area: Rect, buf: &mut Buffer, focused: bool) {
    let block = pane_block("Dataset: draw a digit", focused, cx.ascii);
    let inner = block.inner(area);
    block.render(area, buf);
    let dim = Style::new().fg(Color::DarkGray);
    let Some((size, rect)) = geometry(inner) else {
        return Paragraph::new("too small to draw: open the pane (Enter)")
            .style(dim)
            .wrap(Wrap { trim: true })
            .render(inner, buf);
    };
    let pen = if canvas.pen { "down" } else { "up" };
    let mut header = format!(
        "brush {} (+/-) · pen {pen} (Space) · x clear · d images",
        canvas.brush
    );
    if header.chars().count() > usize::from(inner.width) {
        header = format!("brush {} +/- · pen {pen} · x clear", canvas.brush);
    }
    Line::styled(header, dim).render(Rect { height: 1, ..inner }, buf);
    let border = frame(rect);
    let block = Block::new().borders(Borders::ALL).border_style(dim);
    let block = if cx.ascii {
        block.border_set(super::ASCII_BORDER)
    } else {
        block.border_type(BorderType::Rounded)
    };
    block.render(border.intersection(inner), buf);
    draw_canvas(canvas, size, rect, cx.ascii, focused, buf);
    let text = Rect {
        x: border.right() + 1,
        y: rect.y,
        width: inner.right().saturating_sub(border.right() + 1),
        height: inner.bottom().saturating_sub(rect.y),
    };
    side_text(canvas, cx, size, text, buf);
}

/// The drawing at `size` in `rect`, the keyboard cursor marked when focused.
fn draw_canvas(
    canvas: &Canvas,
    size: Size,
    rect: Rect,
    ascii: bool,
    focused: bool,
    buf: &mut Buffer,
) {
    let scale = Scale::Gray { lo: 0.0, hi: 1.0 };
    match size {
        Size::Big => {
            for r in 0..SIDE {
                for c in 0..SIDE {
                    let v = canvas.ink[r * SIDE + c];
                    for k in 0..2u16 {
                        let pos = (rect.x + 2 * c as u16 + k, rect.y + r as u16);
                        if let Some(cell) = buf.cell_mut(pos) {
                            if ascii {
                                cell.set_char(scale.ascii(v)).set_style(Style::new());
                            } else {
                                cell.set_char(' ')
                                    .set_style(Style::new().bg(scale.color(v)));
                            }
                        }
                    }
                }
            }
        }
        Size::Half => {
            if ascii {
                let (pairs, rows, cols) = block_mean(&canvas.ink, SIDE, SIDE, 2, 1);
                draw_matrix(&pairs, rows, cols, scale, true, rect, buf);
            } else {
                draw_matrix(&canvas.ink, SIDE, SIDE, scale, false, rect, buf);
            }
        }
        Size::Preview => {
            let (fy, fx) = if ascii { (4, 2) } else { (2, 2) };
            let (small, rows, cols) = block_mean(&canvas.ink, SIDE, SIDE, fy, fx);
            draw_matrix(&small, rows, cols, scale, ascii, rect, buf);
            return;
        }
    }
    if focused {
        let (r, c) = canvas.cursor;
        let (x, y) = match size {
            Size::Big => (rect.x + 2 * c as u16, rect.y + r as u16),
            _ => (rect.x + c as u16, rect.y + (r / 2) as u16),
        };
        if let Some(cell) = buf.cell_mut((x, y)) {
            cell.set_char(if canvas.pen { '+' } else { 'o' })
                .set_style(Style::new().fg(Color::Yellow).bg(Color::DarkGray));
        }
    }
}

/// The prediction, the top 3, what the model sees, and how to draw.
fn side_text(canvas: &Canvas, cx: &ViewContext, size: Size, area: Rect, buf: &mut Buffer) {
    if area.width < 8 || area.height == 0 {
        return;
    }
    let dim = Style::new().fg(Color::DarkGray);
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut lines: Vec<Line> = Vec::new();
    match &canvas.probs {
        None if cx.run.trained().is_none() => {
            let hint = "no trained model yet: press s to train (or o to open one); \
                        then the prediction updates as you draw";
            for line in wrap_words(hint, usize::from(area.width)) {
                lines.push(Line::raw(line));
            }
        }
        None => {
            lines.push(Line::raw("draw a digit:"));
            lines.push(Line::raw("the model's guess shows here"));
        }
        Some(Err(e)) => lines.push(Line::styled(e.clone(), Style::new().fg(Color::Red))),
        Some(Ok(probs)) => {
            let top = super::dataset::top_k(probs, 3);
            if let Some(&(class, p)) = top.first() {
                lines.push(Line::styled(
                    format!("prediction: {class} ({:.1} %)", p * 100.0),
                    bold.fg(Color::Green),
                ));
            }
            lines.push(Line::styled("top 3:", dim));
            let bar = usize::from(area.width).saturating_sub(12).min(20);
            for (class, p) in top {
                let n = (p * bar as f32).round() as usize;
                let fill = if cx.ascii { "#" } else { "█" };
                lines.push(Line::raw(format!(
                    "{class} {:>5.1} % {}",
                    p * 100.0,
                    fill.repeat(n)
                )));
            }
        }
    }
    let hint = match size {
        Size::Preview => "Enter: open to draw",
        _ if cx.ascii => "mouse: left paints, right erases",
        _ => "mouse: left paints, right erases; open: arrows move",
    };
    lines.push(Line::styled(hint, dim));
    let used = lines.len() as u16;
    Paragraph::new(lines).render(area, buf);
    // what the model is given, when there is room under the text
    let see = Rect {
        y: area.y + used + 2,
        height: area.height.saturating_sub(used + 2),
        ..area
    };
    let (cells_h, cells_w) = (7, 14);
    if canvas.input.len() == SIDE * SIDE && see.height > cells_h && see.width >= cells_w {
        Line::styled("the model sees (centred, 20x20 box):", dim)
            .render(Rect { height: 1, ..see }, buf);
        let (fy, fx) = if cx.ascii { (4, 2) } else { (2, 2) };
        let (small, rows, cols) = block_mean(&canvas.input, SIDE, SIDE, fy, fx);
        let at = Rect {
            y: see.y + 1,
            height: see.height - 1,
            ..see
        };
        draw_matrix(
            &small,
            rows,
            cols,
            Scale::Gray { lo: 0.0, hi: 1.0 },
            cx.ascii,
            at,
            buf,
        );
    }
}
