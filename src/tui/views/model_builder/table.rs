//! The Model pane's layer table: marker, index, layer, output shape and
//! parameter count, one row per layer after an "input" row. Columns fit the
//! width in steps (full labels, short labels, no parameter column), a
//! layer's error may take the parameter column, and the selection stays in
//! view when the list scrolls.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};

use super::glyphs::{fit, Glyphs};
use crate::tui::format;
use crate::tui::views::text::width_of;

/// One table row, before layout.
pub(super) struct Row {
    pub(super) index: String,
    pub(super) label: String,
    pub(super) short: String,
    pub(super) shape: Result<String, String>,
    pub(super) params: Option<usize>,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn draw_table(
    rows: &[Row],
    highlight: Option<usize>,
    pending: bool,
    zoomed: bool,
    area: Rect,
    buf: &mut Buffer,
    g: &Glyphs,
    total: usize,
) {
    if area.is_empty() {
        return;
    }
    let avail = area.width as usize;
    let h = area.height as usize;
    // the column names stay while at least four rows fit beside them and
    // the line saying what scrolled out of view
    let show_header = h >= 4 && (zoomed || h > rows.len() + 1 || h >= 6);
    let show_total = zoomed && h >= 3 + show_header as usize;

    // ---- columns: marker, index, label, shape, params (right-aligned)
    let idx_w = rows.iter().map(|r| r.index.len()).max().unwrap_or(1).max(1);
    let lead = 1 + idx_w + 1;
    let shape_w = rows
        .iter()
        .filter_map(|r| r.shape.as_ref().ok())
        .map(|s| width_of(s))
        .chain(show_header.then_some(6))
        .max()
        .unwrap_or(0);
    let reason_w = rows
        .iter()
        .filter_map(|r| r.shape.as_ref().err())
        .map(|s| width_of(s))
        .max()
        .unwrap_or(0);
    let params_w = rows
        .iter()
        .filter_map(|r| r.params)
        .chain(show_total.then_some(total))
        .map(|p| format::count(p).len())
        .chain(show_header.then_some(6))
        .max()
        .unwrap_or(1);
    let full_w = rows
        .iter()
        .map(|r| width_of(&r.label))
        .chain(Some(5))
        .max()
        .unwrap_or(5);
    let short_w = rows
        .iter()
        .map(|r| width_of(&r.short))
        .chain(Some(5))
        .max()
        .unwrap_or(5);
    let fits = |label: usize, gap: usize, params: bool| {
        lead + label + gap + shape_w + if params { 2 + params_w } else { 0 } <= avail
    };
    let (use_short, label_w, gap, show_params) = if fits(full_w, 2, true) {
        (false, full_w, 2, true)
    } else if fits(short_w, 1, true) {
        (true, short_w, 1, true)
    } else if fits(short_w, 1, false) {
        (true, short_w, 1, false)
    } else {
        (
            true,
            avail
                .saturating_sub(lead + 1 + shape_w)
                .max(avail.saturating_sub(lead) / 2),
            1,
            false,
        )
    };
    let x_label = lead;
    let x_shape = (x_label + label_w + gap).min(avail);
    let rest = avail.saturating_sub(x_shape);
    let params_room = if show_params { 2 + params_w } else { 0 };
    let shape_col = rest
        .saturating_sub(params_room)
        .min(shape_w.max(reason_w))
        .max(shape_w.min(rest));
    let x_params = x_shape + shape_col + 2;

    let dim = Style::new().fg(Color::DarkGray);
    let mut y = area.y;
    let bottom = area.bottom();
    let put = |buf: &mut Buffer, x: usize, y: u16, text: &str, w: usize, style: Style| {
        if x < avail && w > 0 {
            buf.set_stringn(area.x + x as u16, y, text, w.min(avail - x), style);
        }
    };

    if show_header {
        let style = dim.add_modifier(Modifier::BOLD);
        put(buf, 1, y, &format!("{:>idx_w$}", "#"), idx_w, style);
        put(buf, x_label, y, "layer", label_w, style);
        put(buf, x_shape, y, "output", shape_col, style);
        if show_params {
            put(
                buf,
                x_params,
                y,
                &format!("{:>params_w$}", "params"),
                params_w,
                style,
            );
        }
        y += 1;
    }
    let mut visible = (bottom.saturating_sub(y) as usize).saturating_sub(show_total as usize);
    // rows that do not fit scroll, and the last row says how many are hidden
    let scrolls = rows.len() > visible && visible >= 2;
    if scrolls {
        visible -= 1;
    }
    let offset = match highlight {
        Some(sel) if rows.len() > visible => {
            sel.saturating_sub(visible / 2).min(rows.len() - visible)
        }
        _ => 0,
    };
    for (i, row) in rows.iter().enumerate().skip(offset).take(visible) {
        let is_sel = highlight == Some(i);
        let base = if is_sel {
            let s = Style::new()
                .bg(Color::DarkGray)
                .add_modifier(Modifier::BOLD);
            if pending {
                s.fg(Color::Cyan)
            } else {
                s
            }
        } else if i == 0 {
            dim
        } else {
            Style::new()
        };
        if is_sel {
            buf.set_style(Rect::new(area.x, y, area.width, 1), base);
            put(buf, 0, y, g.selected, 1, base);
        }
        put(buf, 1, y, &format!("{:>idx_w$}", row.index), idx_w, base);
        let label = if use_short { &row.short } else { &row.label };
        put(buf, x_label, y, &fit(label, label_w, g.more), label_w, base);
        match &row.shape {
            Ok(shape) => {
                put(
                    buf,
                    x_shape,
                    y,
                    &fit(shape, shape_col, g.more),
                    shape_col,
                    base,
                );
                if let (true, Some(p)) = (show_params, row.params) {
                    put(
                        buf,
                        x_params,
                        y,
                        &format!("{:>params_w$}", format::count(p)),
                        params_w,
                        base,
                    );
                }
            }
            Err(why) => {
                let red = base.fg(Color::Red);
                if width_of(why) <= shape_col || !show_params {
                    put(
                        buf,
                        x_shape,
                        y,
                        &fit(why, shape_col, g.more),
                        shape_col,
                        red,
                    );
                    if let (true, Some(p)) = (show_params, row.params) {
                        put(
                            buf,
                            x_params,
                            y,
                            &format!("{:>params_w$}", format::count(p)),
                            params_w,
                            base,
                        );
                    }
                } else {
                    // the reason matters more than this row's count: let it take the params column
                    let room = avail.saturating_sub(x_shape);
                    put(buf, x_shape, y, &fit(why, room, g.more), room, red);
                }
            }
        }
        y += 1;
    }
    if scrolls {
        let below = rows.len().saturating_sub(offset + visible);
        let line = crate::tui::views::help::scroll_line(offset, below, g.ascii);
        buf.set_line(area.x, y, &line, area.width);
        y += 1;
    }
    if show_total && y < bottom {
        let style = Style::new().add_modifier(Modifier::BOLD);
        put(buf, x_label, y, "total", label_w, style);
        if show_params {
            put(
                buf,
                x_params,
                y,
                &format!("{:>params_w$}", format::count(total)),
                params_w,
                style,
            );
        }
    }
}
