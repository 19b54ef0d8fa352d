//! After training: conv1's learned filters, each beside its feature map for
//! the chosen digit. The maps come from the engine's own `Tensor::conv2d`
//! (under `no_grad`, with conv1's stride and padding, plus its bias), so they
//! are what the trained network computes, before its ReLU.

use ndarray::{Array2, Axis, IxDyn};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::grid::{self, Marks};
use super::text::render_lines;
use super::ConvPane;
use super::{Learned, PRESETS};
use crate::tui::views::shade::{cells_needed, Scale};
use crate::tui::views::text::wrap_words;
use crate::tui::views::ViewContext;
use crate::{no_grad, Tensor};

/// conv1 applied to `digit`: one (H', W') map per filter, bias added.
pub fn feature_maps(learned: &Learned, digit: &Array2<f32>) -> crate::Result<Vec<Array2<f32>>> {
    let (h, w) = digit.dim();
    let x = digit
        .clone()
        .into_shape_with_order(IxDyn(&[1, 1, h, w]))
        .map_err(|e| crate::Error::Config(e.to_string()))?;
    let out = no_grad(|| {
        Tensor::new(x).conv2d(
            &Tensor::new(learned.weight.clone()),
            learned.stride,
            learned.padding,
        )
    })?;
    let out = out.to_array();
    if out.ndim() != 4 {
        return Err(crate::Error::Config(format!(
            "conv1 gave shape {:?}",
            out.shape()
        )));
    }
    let batch = out.index_axis(Axis(0), 0);
    let maps = batch
        .axis_iter(Axis(0))
        .zip(&learned.bias)
        .filter_map(|(m, &b)| {
            m.into_dimensionality::<ndarray::Ix2>()
                .ok()
                .map(|m| m.mapv(|v| v + b))
        })
        .collect();
    Ok(maps)
}

/// Tile geometry: columns, tile width and height.
struct Tiles {
    cols: usize,
    w: u16,
    h: u16,
}

/// The largest maps that let all `n` tiles fit `area` (a blank row between
/// tile rows when it costs nothing in size).
fn layout(
    n: usize,
    filter: (usize, usize),
    map: (usize, usize),
    ascii: bool,
    area: Rect,
) -> Option<Tiles> {
    let (fw, fh) = cells_needed(filter.0, filter.1, ascii);
    let label_w = 2; // up to "32"
    for f in 1..=map.0.max(map.1).max(1) {
        let (mw, mh) = cells_needed(map.0.div_ceil(f), map.1.div_ceil(f), ascii);
        for gap in [1u16, 0] {
            let w = fw.max(label_w) + 1 + mw + 1;
            let h = (fh + 1).max(mh) + gap;
            let rows_fit = (area.height / h.max(1)) as usize;
            if rows_fit == 0 {
                continue;
            }
            let cols = n.div_ceil(rows_fit).max(1);
            if cols as u16 * w <= area.width + 1 {
                return Some(Tiles { cols, w, h });
            }
        }
    }
    None
}

pub(super) fn render(
    pane: &ConvPane,
    cx: &ViewContext,
    learned: Option<&Learned>,
    label: u8,
    area: Rect,
    buf: &mut Buffer,
) {
    let dim = Style::new().fg(Color::DarkGray);
    let Some(learned) = learned else {
        let single = match &cx.lesson.task {
            crate::lessons::Task::Classifier { layers, .. } => {
                super::weights::applies(layers, cx.data.test.pixels())
            }
            _ => false,
        };
        let why = if single && cx.run.trained().is_none() {
            "The model's ten weight rows, one 28x28 image per digit, appear here once training starts: press s, then come back."
        } else if cx.run.trained().is_some() {
            "This model does not start with a Conv2d layer, so there are no conv1 filters to show."
        } else {
            "conv1's 32 learned filters and their feature maps appear here after training: press s to train, then come back."
        };
        let mut lines: Vec<Line> = wrap_words(why, area.width as usize)
            .into_iter()
            .map(Line::raw)
            .collect();
        lines.push(Line::styled("f: back to the kernel walk", dim));
        return render_lines(&lines, area, buf);
    };
    // computed in `App::update` (see `ConvPane::refresh`)
    let digit_at = pane.digit.min(cx.data.test.len().saturating_sub(1));
    let maps = match pane.trained.maps(digit_at) {
        Some(Ok(m)) => m,
        Some(Err(e)) => {
            return Line::raw(format!("cannot run conv1 on this digit: {e}")).render(area, buf)
        }
        None => return Line::raw("conv1's feature maps are not ready").render(area, buf),
    };
    let n = learned.filters.len().min(maps.len());
    let (kh, kw) = learned.filters.first().map_or((3, 3), |f| f.dim());
    let (mh, mw) = maps.first().map_or((0, 0), |m| m.dim());
    let live = if cx.run.state == crate::tui::app::TrainState::Running {
        " (learning live)"
    } else {
        ""
    };
    // the colour legend first, on its own row, so no width cuts it off
    let legend = "red +, blue - (before ReLU, each on its own scale) · k walks one · f back";
    let header = format!(
        "conv1{live}: {n} learned {kh}x{kw} filters, each beside its {mh}x{mw} feature map for held-out digit {} (label {label})",
        pane.digit.min(cx.data.test.len().saturating_sub(1)) + 1
    );
    let chosen = pane.kernel.checked_sub(PRESETS.len());
    let mut head = wrap_words(legend, area.width as usize);
    head.extend(wrap_words(&header, area.width as usize));
    let head = &head[..head.len().min(HEAD_ROWS)];
    let body = below(head, area);
    let Some(t) = layout(n, (kh, kw), (mh, mw), cx.ascii, body) else {
        // no room for the maps (e.g. the overview): the filters alone, and
        // in one line what they are and what their colours mean
        let what = if live.is_empty() {
            "learned conv1 filters"
        } else {
            "conv1 filters, live"
        };
        let legend = if cx.ascii {
            Line::styled(format!("{what} (dense = large)"), dim)
        } else {
            Line::from(vec![
                Span::styled(format!("{what}: "), dim),
                Span::styled("red +", Style::new().fg(Color::Rgb(255, 85, 64))),
                Span::raw(" "),
                Span::styled("blue −", Style::new().fg(Color::Rgb(64, 128, 255))),
            ])
        };
        legend.render(Rect { height: 1, ..area }, buf);
        let body = Rect {
            y: area.y + 1,
            height: area.height.saturating_sub(1),
            ..area
        };
        return filters_only(&learned.filters[..n], chosen, cx.ascii, body, buf);
    };
    draw_head(head, area, buf);
    for (i, (filter, map)) in learned.filters.iter().zip(maps).take(n).enumerate() {
        let (x, y) = (
            body.x + (i % t.cols) as u16 * t.w,
            body.y + (i / t.cols) as u16 * t.h,
        );
        let tile = Rect::new(x, y, t.w.saturating_sub(1), t.h).intersection(body);
        if tile.is_empty() {
            continue;
        }
        let fscale = Scale::signed(filter.as_slice().unwrap_or(&[]));
        let f_area = Rect {
            width: (kw as u16).max(2).min(tile.width),
            ..tile
        };
        let drawn = grid::draw(filter, fscale, cx.ascii, f_area, buf, Marks::default());
        let fh = drawn.map_or(0, |(_, h, _)| h);
        let style = if chosen == Some(i) {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            dim
        };
        Line::styled(format!("{}", i + 1), style).render(
            Rect {
                y: tile.y + fh,
                height: 1,
                ..f_area
            }
            .intersection(tile),
            buf,
        );
        let m_x = tile.x + f_area.width + 1;
        let m_area = Rect::new(m_x, tile.y, tile.right().saturating_sub(m_x), tile.height)
            .intersection(tile);
        let mscale = Scale::signed(map.as_slice().unwrap_or(&[]));
        grid::draw(map, mscale, cx.ascii, m_area, buf, Marks::default());
    }
}

/// `area` below `head`'s lines.
/// Header rows above the filters and their maps: the legend and what they are.
const HEAD_ROWS: usize = 3;

fn below(head: &[String], area: Rect) -> Rect {
    let top = (head.len() as u16).min(area.height);
    Rect {
        y: area.y + top,
        height: area.height - top,
        ..area
    }
}

/// `head`'s lines, dimmed, from the top of `area`.
fn draw_head(head: &[String], area: Rect, buf: &mut Buffer) {
    let dim = Style::new().fg(Color::DarkGray);
    let lines: Vec<Line> = head.iter().map(|l| Line::styled(l.as_str(), dim)).collect();
    render_lines(&lines, area, buf);
}

/// The filters alone, shaded, a column apart (a row apart when there is room);
/// the one `k` picked for the walk is underlined by its marker row.
fn filters_only(
    filters: &[Array2<f32>],
    chosen: Option<usize>,
    ascii: bool,
    area: Rect,
    buf: &mut Buffer,
) {
    let (kh, kw) = filters.first().map_or((3, 3), |f| f.dim());
    let (fw, fh) = cells_needed(kh, kw, ascii);
    let n = filters.len();
    let fits = |gap: u16| {
        let per_row = ((area.width + 1) / (fw + 1)) as usize;
        let rows = n.div_ceil(per_row.max(1));
        (per_row > 0 && rows as u16 * (fh + gap) <= area.height + gap).then_some((per_row, gap))
    };
    let Some((per_row, gap)) = fits(1).or_else(|| fits(0)) else {
        return Line::raw("too small for the filter grid").render(area, buf);
    };
    for (i, filter) in filters.iter().enumerate() {
        let x = area.x + (i % per_row) as u16 * (fw + 1);
        let y = area.y + (i / per_row) as u16 * (fh + gap);
        let cell = Rect::new(x, y, fw, fh).intersection(area);
        let scale = Scale::signed(filter.as_slice().unwrap_or(&[]));
        grid::draw(filter, scale, ascii, cell, buf, Marks::default());
        if chosen == Some(i) && gap > 0 {
            let mark = Rect::new(x, y + fh, fw, 1).intersection(area);
            Line::styled("^".repeat(fw as usize), Style::new().fg(Color::Yellow)).render(mark, buf);
        }
    }
}
