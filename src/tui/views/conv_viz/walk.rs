//! The kernel walk: the digit (zero-padded for conv) with the current window
//! marked, the kernel, the window's numbers and products, the output map with
//! the current cell marked, that cell's multiply-add (or max/mean) written out
//! and the output-size formula filled in. Compact in the overview, full size
//! when the pane is opened.
//!
//! Every number comes from `explain::conv2d_steps` / `pool2d_steps`: the step of
//! the current output cell gives the window, the products and the sum.

use ndarray::Array2;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::grid::{self, Marks};
use super::text::{num, render_lines, rows_from};
use super::view::View;
use super::ConvPane;
use super::{Learned, Mode};
use crate::explain::{conv2d_steps, pool2d_steps, PoolMode};
use crate::tui::views::shade::Scale;
use crate::tui::views::text::wrap_words;
use crate::tui::views::ViewContext;

const WINDOW_COLOR: Color = Color::Yellow;
const CELL_COLOR: Color = Color::Green;

/// A matrix of the middle column: (label, values, scale, marked cell, block
/// height for [`grid::block_table`], 1 = plain numbers).
type Table<'a> = (String, &'a Array2<f32>, Scale, Option<(usize, usize)>, u16);

pub(super) fn render(
    pane: &ConvPane,
    cx: &ViewContext,
    digit: &Array2<f32>,
    label: u8,
    area: Rect,
    buf: &mut Buffer,
    zoomed: bool,
) {
    let learned = pane.trained.learned();
    let (name, kernel) = pane.kernel(learned);
    let view = match pane.mode {
        Mode::Conv => conv2d_steps(digit, &kernel, pane.stride, pane.padding)
            .map(|w| View::conv(&w, pane, name)),
        Mode::MaxPool | Mode::AvgPool => {
            let mode = if pane.mode == Mode::MaxPool {
                PoolMode::Max
            } else {
                PoolMode::Avg
            };
            pool2d_steps(digit, pane.pool_size, pane.pool_stride, mode)
                .map(|w| View::pool(&w, pane))
        }
    };
    let view = match view {
        Ok(Some(v)) => v,
        Ok(None) => return Line::from("nothing to show").render(area, buf),
        Err(e) => {
            let lines = wrap_words(&e.to_string(), area.width as usize);
            let lines: Vec<Line> = lines.into_iter().map(Line::from).collect();
            return render_lines(&lines, area, buf);
        }
    };
    let digit_text = format!(
        "held-out digit {}/{} (label {label})",
        pane.digit.min(cx.data.test.len().saturating_sub(1)) + 1,
        cx.data.test.len()
    );
    if zoomed {
        render_full(pane, cx, learned, &view, &digit_text, area, buf);
    } else {
        render_compact(pane, cx, &view, area, buf);
    }
}

fn hint(mode: Mode, learned: bool, ascii: bool) -> String {
    let filters = if learned {
        "f filter grid"
    } else {
        "f filters (after training: s)"
    };
    let (lr, ud) = if ascii {
        ("<-/->", "up/down")
    } else {
        ("←/→", "↑/↓")
    };
    let keys = match mode {
        Mode::Conv => {
            "k/K kernel · n/N or LR move · UD row · Enter next ink · p/P padding · t/T stride"
        }
        _ => "n/N or LR move · UD row · Enter next ink · z/Z window · t/T stride",
    };
    let keys = keys.replace("LR", lr).replace("UD", ud);
    format!("{keys} · m conv/max/avg · d/D digit · {filters} · Esc back")
}

fn render_full(
    pane: &ConvPane,
    cx: &ViewContext,
    learned: Option<&Learned>,
    v: &View,
    digit_text: &str,
    area: Rect,
    buf: &mut Buffer,
) {
    let width = area.width as usize;
    let dim = Style::new().fg(Color::DarkGray);
    let header = Line::from(vec![
        Span::styled(format!("{digit_text} · "), dim),
        Span::raw(v.setting.clone()),
    ]);

    let mut bottom: Vec<Line> = Vec::new();
    let cell_style = Style::new().fg(CELL_COLOR).add_modifier(Modifier::BOLD);
    for l in wrap_words(&v.arithmetic, width) {
        bottom.push(Line::styled(l, cell_style));
    }
    let (top, left, kh, kw) = v.window;
    let place = format!(
        "window rows {top}-{}, cols {left}-{} of the {} · position {} of {}",
        top + kh - 1,
        left + kw - 1,
        v.input_label.split(" (").next().unwrap_or("input"),
        v.index + 1,
        v.count
    );
    for l in wrap_words(&place, width) {
        bottom.push(Line::styled(l, Style::new().fg(WINDOW_COLOR)));
    }
    let (oh, ow) = v.output.dim();
    if v.kernel.is_some() {
        bottom.push(legend(cx.ascii, area.width));
    }
    for f in v.formulas(false) {
        for l in wrap_words(&f, width) {
            bottom.push(Line::raw(l));
        }
    }
    let mut extra: Vec<Line> = Vec::new();
    for n in v.notes() {
        extra.extend(
            wrap_words(&n, width)
                .into_iter()
                .map(|l| Line::styled(l, dim)),
        );
    }
    let hints: Vec<Line> = wrap_words(&hint(pane.mode, learned.is_some(), cx.ascii), width)
        .into_iter()
        .map(|l| Line::styled(l, dim))
        .collect();
    // the grids want ~8 rows; notes and hint give way first
    let room = (area.height as usize).saturating_sub(1 + bottom.len());
    if room >= 8 + extra.len() + hints.len() {
        bottom.extend(extra);
    }
    let room = (area.height as usize).saturating_sub(1 + bottom.len());
    if room >= 6 + hints.len() {
        bottom.extend(hints);
    }

    header.render(Rect { height: 1, ..area }, buf);
    let grid_h = (area.height as usize).saturating_sub(1 + bottom.len()) as u16;
    let used = if grid_h >= 3 {
        let grids = Rect {
            y: area.y + 1,
            height: grid_h,
            ..area
        };
        render_grids(cx, v, (oh, ow), grids, buf)
    } else {
        0
    };
    // the text follows the grids, one blank row between
    let text_y = area.y + 1 + (used + 1).min(grid_h);
    render_lines(&bottom, rows_from(area, text_y), buf);
}

/// Input | kernel, window and products as numbers | output, with labels.
/// Returns the rows used.
fn render_grids(
    cx: &ViewContext,
    v: &View,
    (oh, ow): (usize, usize),
    area: Rect,
    buf: &mut Buffer,
) -> u16 {
    let ascii = cx.ascii;
    let gray = Scale::Gray { lo: 0.0, hi: 1.0 };
    let mut tables: Vec<Table> = Vec::new();
    if let Some((name, k)) = &v.kernel {
        tables.push((
            format!("kernel: {name}"),
            k,
            Scale::signed(k.as_slice().unwrap_or(&[])),
            None,
            kernel_block(cx, v, area),
        ));
    }
    let winner = v
        .winner
        .and_then(|(r, c)| Some((r.checked_sub(v.window.0)?, c.checked_sub(v.window.1)?)));
    tables.push(("window".into(), &v.window_values, gray, winner, 1));
    if let Some(p) = &v.products {
        tables.push((
            "products".into(),
            p,
            Scale::signed(p.as_slice().unwrap_or(&[])),
            None,
            1,
        ));
    }
    let result = match (&v.kernel, v.winner) {
        (Some(_), _) => format!("sum = {}", num(v.result)),
        (None, Some(_)) => format!("max = {}", num(v.result)),
        (None, None) => format!("mean = {}", num(v.result)),
    };
    let mid_need = tables
        .iter()
        .map(|(l, m, _, _, b)| {
            grid::block_table_size(m, num, ascii, *b)
                .0
                .max(l.chars().count() as u16)
        })
        .chain(std::iter::once(result.chars().count() as u16))
        .max()
        .unwrap_or(0);
    let mid_w = mid_need.min(area.width / 3);
    let side = area.width.saturating_sub(mid_w + 4) / 2;
    let (in_x, mid_x) = (area.x, area.x + side + 2);
    let out_x = mid_x + mid_w + 2;
    let body = |x: u16, w: u16| Rect::new(x, area.y + 1, w, area.height.saturating_sub(1));
    let label = |x: u16, w: u16, text: String, color: Color, buf: &mut Buffer| {
        Line::styled(text, Style::new().fg(color)).render(Rect::new(x, area.y, w, 1), buf);
    };

    let input_marks = Marks {
        window: Some(v.window),
        cell: v.winner,
        mono: cx.mono,
    };
    let mut used = 0;
    let drawn = grid::draw(&v.input, gray, ascii, body(in_x, side), buf, input_marks);
    let scale_note = |f: usize| {
        if f > 1 {
            format!(" (1 cell = {f}x{f})")
        } else {
            String::new()
        }
    };
    if let Some((_, h, f)) = drawn {
        label(
            in_x,
            side,
            format!("{}{}", v.input_label, scale_note(f)),
            WINDOW_COLOR,
            buf,
        );
        used = used.max(h + 1);
    }
    let out_marks = Marks {
        window: None,
        cell: Some(v.cell),
        mono: cx.mono,
    };
    if let Some((_, h, f)) = grid::draw(
        &v.output,
        v.out_scale,
        ascii,
        body(out_x, side),
        buf,
        out_marks,
    ) {
        label(
            out_x,
            side,
            format!("output {oh}x{ow}{}", scale_note(f)),
            CELL_COLOR,
            buf,
        );
        used = used.max(h + 1);
    }

    let mut y = area.y;
    for (text, m, scale, mark, block) in tables {
        let room = Rect::new(mid_x, y + 1, mid_w, area.bottom().saturating_sub(y + 1));
        let size = grid::block_table(m, num, scale, ascii, room, buf, mark, block).or_else(|| {
            grid::draw(
                m,
                scale,
                ascii,
                room,
                buf,
                Marks {
                    window: None,
                    cell: mark,
                    mono: false,
                },
            )
            .map(|(w, h, _)| (w, h))
        });
        let Some((_, h)) = size else { break };
        Line::raw(text).render(Rect::new(mid_x, y, mid_w, 1), buf);
        y += h + 2;
    }
    if y < area.bottom() {
        Line::styled(result, Style::new().fg(CELL_COLOR))
            .render(Rect::new(mid_x, y, mid_w, 1), buf);
        used = used.max(y + 1 - area.y);
    }
    used.min(area.height)
}

fn render_compact(pane: &ConvPane, cx: &ViewContext, v: &View, area: Rect, buf: &mut Buffer) {
    // spelled out ("stride 1 pad 1") where the pane is wide enough, else "s1 p1"
    let (long, short) = match (&v.kernel, pane.mode) {
        (Some((name, _)), _) => (
            format!("{name} stride {} pad {}", pane.stride, pane.padding),
            format!("{name} s{} p{}", pane.stride, pane.padding),
        ),
        (None, mode) => (
            format!(
                "{} {k}x{k} stride {}",
                mode.label(),
                pane.pool_stride,
                k = pane.pool_size
            ),
            format!(
                "{} {k}x{k} s{}",
                mode.label(),
                pane.pool_stride,
                k = pane.pool_size
            ),
        ),
    };
    let (r, c) = v.cell;
    let out_len = format!("out[{r},{c}]={}", num(v.result)).chars().count();
    let what = if long.chars().count() + 1 + out_len <= area.width as usize {
        long
    } else {
        short
    };
    let header = Line::from(vec![
        Span::raw(format!("{what} ")),
        Span::styled(
            format!("out[{r},{c}]={}", num(v.result)),
            Style::new().fg(CELL_COLOR),
        ),
    ]);
    let mut bottom: Vec<Line> = Vec::new();
    if v.kernel.is_some() {
        bottom.push(legend(cx.ascii, area.width));
    }
    bottom.extend(
        v.formulas(true)
            .into_iter()
            .map(|f| Line::raw(format!("size {f}"))),
    );
    if area.height >= 12 {
        let hint = "k kernel · n move · m mode · Enter open";
        bottom.push(Line::styled(hint, Style::new().fg(Color::DarkGray)));
    }
    header.render(Rect { height: 1, ..area }, buf);
    // one row of labels over the three pictures
    let grid_h = area.height.saturating_sub(2 + bottom.len() as u16);
    let text_y = area.y + 2 + grid_h;
    render_lines(&bottom, rows_from(area, text_y), buf);
    if grid_h == 0 {
        return;
    }
    let ascii = cx.ascii;
    // the kernel's numbers where they fit (a third of the width), else shaded
    let kernel = v.kernel.as_ref().map(|(_, k)| {
        let scale = Scale::signed(k.as_slice().unwrap_or(&[]));
        let (tw, th) = grid::table_size(k, num);
        let numbers = tw <= area.width / 3 && th <= grid_h;
        (k, scale, numbers)
    });
    let kernel_w = kernel.as_ref().map_or(0, |(k, _, numbers)| {
        let w = if *numbers {
            grid::table_size(k, num).0
        } else {
            k.ncols() as u16
        };
        // a number table ends in a blank column already
        w.max(KERNEL_LABEL.len() as u16) + u16::from(!*numbers)
    });
    // input (padded, so a little larger) | kernel | output
    let split = |kernel_w: u16| {
        let rest = area.width.saturating_sub(kernel_w + 1);
        (rest - rest / 2 + 1, rest / 2 - 1.min(rest / 2))
    };
    let (side, out_w) = split(kernel_w);
    // where the input and output keep their size with a larger kernel, the
    // kernel's numbers grow into a shaded picture of blocks
    let fits =
        |m: &Array2<f32>, w: u16| grid::fit_factor(m.nrows(), m.ncols(), cx.ascii, w, grid_h);
    let (in_f, out_f) = (fits(&v.input, side), fits(&v.output, out_w));
    let block = match &kernel {
        Some((k, _, true)) => (2..=grid::MAX_BLOCK)
            .rev()
            .map(|b| (b, grid::block_table_size(k, num, cx.ascii, b)))
            .find(|&(_, (bw, bh))| {
                let (side, out_w) = split(bw + 1);
                bh <= grid_h && fits(&v.input, side) == in_f && fits(&v.output, out_w) == out_f
            })
            .map_or((1, kernel_w), |(b, (bw, _))| {
                (b, bw.max(KERNEL_LABEL.len() as u16) + 1)
            }),
        _ => (1, kernel_w),
    };
    let (block, kernel_w) = if cx.ascii { (1, kernel_w) } else { block };
    let (side, out_w) = split(kernel_w);
    let row = |x: u16, w: u16| Rect::new(x, area.y + 2, w, grid_h);
    let label = |x: u16, w: u16, long: String, short: &str, buf: &mut Buffer| {
        let text = if long.chars().count() <= w as usize {
            long
        } else {
            short.to_string()
        };
        Line::styled(text, Style::new().fg(Color::DarkGray))
            .render(Rect::new(x, area.y + 1, w, 1), buf);
    };
    let gray = Scale::Gray { lo: 0.0, hi: 1.0 };
    let (ih, iw) = v.input.dim();
    label(area.x, side, format!("input {ih}x{iw}"), "input", buf);
    grid::draw(
        &v.input,
        gray,
        ascii,
        row(area.x, side),
        buf,
        Marks {
            window: Some(v.window),
            cell: v.winner,
            mono: cx.mono,
        },
    );
    if let Some((k, scale, numbers)) = kernel {
        let at = row(area.x + side + 1, kernel_w);
        let (kh, kw) = k.dim();
        label(
            at.x,
            at.width,
            format!("kernel {kh}x{kw}"),
            KERNEL_LABEL,
            buf,
        );
        let drawn =
            numbers && grid::block_table(k, num, scale, ascii, at, buf, None, block).is_some();
        if !drawn {
            grid::draw(k, scale, ascii, at, buf, Marks::default());
        }
    }
    let out = row(area.x + side + 1 + kernel_w, out_w);
    let (oh, ow) = v.output.dim();
    label(out.x, out.width, format!("output {oh}x{ow}"), "output", buf);
    grid::draw(
        &v.output,
        v.out_scale,
        ascii,
        out,
        buf,
        Marks {
            window: None,
            cell: Some(v.cell),
            mono: cx.mono,
        },
    );
}

const KERNEL_LABEL: &str = "kernel";

/// The open view's kernel block height: as large as the middle column allows
/// (a third of the width, the rows left by the window and products tables,
/// no taller than the input picture), 1 = plain numbers.
fn kernel_block(cx: &ViewContext, v: &View, area: Rect) -> u16 {
    let Some((_, k)) = &v.kernel else { return 1 };
    let (ih, iw) = v.input.dim();
    let body_h = area.height.saturating_sub(1);
    let Some(f) = grid::fit_factor(ih, iw, cx.ascii, area.width / 3, body_h) else {
        return 1;
    };
    let (pic_w, pic_h) =
        crate::tui::views::shade::cells_needed(ih.div_ceil(f), iw.div_ceil(f), cx.ascii);
    // label and blank row around each table, the sum line
    let others = (v.window_values.nrows() as u16 + 2) * 2 + 1;
    let h = body_h
        .saturating_sub(others + 1)
        .min(pic_h.max(k.nrows() as u16));
    let w = (area.width / 3).min(area.width.saturating_sub(4 + 2 * pic_w));
    grid::block_scale(k, num, cx.ascii, w, h)
}

/// What the kernel's and the output's shades mean, as long as fits `width`.
pub(super) fn legend(ascii: bool, width: u16) -> Line<'static> {
    if ascii {
        let long = "kernel & output: denser character = larger value, + or -";
        let short = "denser character = larger value";
        let text = if long.len() <= width as usize {
            long
        } else {
            short
        };
        return Line::styled(text, Style::new().fg(Color::DarkGray));
    }
    let red = Style::new().fg(Color::Rgb(255, 85, 64));
    let blue = Style::new().fg(Color::Rgb(64, 128, 255));
    let dim = Style::new().fg(Color::DarkGray);
    let (pos, neg) = if width >= 58 {
        (
            " = positive: the pattern is there · ",
            " = negative: its opposite · black 0",
        )
    } else {
        (" = positive · ", " = negative")
    };
    Line::from(vec![
        Span::styled("red", red),
        Span::styled(pos, dim),
        Span::styled("blue", blue),
        Span::styled(neg, dim),
    ])
}
