//! The kernel walk: the digit (zero-padded for conv) with the current window
//! marked, the kernel, the window's numbers and products, the output map with
//! the current cell marked, that cell's multiply-add (or max/mean) written out
//! and the output-size formula filled in. Compact in the overview, full size
//! when the pane is opened.
//!
//! Every number comes from `explain::conv2d_steps` / `pool2d_steps`: the step of
//! the current output cell gives the window, the products and the sum.

use ndarray::{s, Array2};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::grid::{self, Marks};
use super::{factor, num, ConvPane, Learned, Mode};
use crate::explain::{conv2d_steps, conv_size_explanation, format_number, pool2d_steps, ConvWalk, PoolMode, PoolWalk};
use crate::tui::app::App;
use crate::tui::views::shade::Scale;

const WINDOW_COLOR: Color = Color::Yellow;
const CELL_COLOR: Color = Color::Green;

/// One frame of the walk, gathered from an explain walk.
struct View {
    /// What the window slides over: the padded digit (conv) or the digit (pool).
    input: Array2<f32>,
    input_label: String,
    output: Array2<f32>,
    out_scale: Scale,
    /// The output cell (row, col), its number in reading order, and the count.
    cell: (usize, usize),
    index: usize,
    count: usize,
    /// (top, left, rows, cols) of the window in `input`.
    window: (usize, usize, usize, usize),
    /// The max-pool winner in `input` coordinates.
    winner: Option<(usize, usize)>,
    window_values: Array2<f32>,
    /// Conv only: (name, weights) and the window's products.
    kernel: Option<(String, Array2<f32>)>,
    products: Option<Array2<f32>>,
    result: f32,
    /// `out[r,c] = …` with every number.
    arithmetic: String,
    /// Per axis: (axis name, N, K, S, P, output).
    sizes: Vec<(&'static str, usize, usize, usize, usize, usize)>,
    /// "convolution with vertical edge (3x3), stride 1, padding 1".
    setting: String,
}

impl View {
    fn conv(walk: &ConvWalk, pane: &ConvPane, name: String) -> Option<View> {
        let (oh, ow) = walk.output.dim();
        let (r, c) = (pane.pos.0.min(oh.checked_sub(1)?), pane.pos.1.min(ow.checked_sub(1)?));
        let index = r * ow + c;
        let step = walk.steps.get(index)?;
        let (kh, kw) = walk.kernel.dim();
        let (top, left) = step.window;
        let window_values = walk.padded.slice(s![top..top + kh, left..left + kw]).to_owned();
        let products = Array2::from_shape_vec((kh, kw), step.products.iter().map(|p| p.value).collect()).ok()?;
        let terms: Vec<String> =
            step.products.iter().map(|p| format!("{}*{}", factor(p.input), factor(p.weight))).collect();
        let (h, w) = walk.input.dim();
        let p = walk.padding;
        let input_label = if p > 0 {
            format!("input {}x{} (the {h}x{w} digit padded with {p} zero{})", h + 2 * p, w + 2 * p, plural(p))
        } else {
            format!("input {h}x{w}")
        };
        let mut sizes = vec![("", h, kh, walk.stride, p, oh)];
        if (h, kh) != (w, kw) {
            sizes = vec![("height: ", h, kh, walk.stride, p, oh), ("width: ", w, kw, walk.stride, p, ow)];
        }
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
            setting: format!("convolution with {name} ({kh}x{kw}), stride {}, padding {p}", walk.stride),
            kernel: Some((name, walk.kernel.clone())),
            products: Some(products),
            result: step.sum,
            arithmetic: format!("out[{r},{c}] = {} = {}", terms.join(" + "), num(step.sum)),
            sizes,
        })
    }

    fn pool(walk: &PoolWalk, pane: &ConvPane) -> Option<View> {
        let (oh, ow) = walk.output.dim();
        let (r, c) = (pane.pos.0.min(oh.checked_sub(1)?), pane.pos.1.min(ow.checked_sub(1)?));
        let index = r * ow + c;
        let step = walk.steps.get(index)?;
        let k = walk.size;
        let (top, left) = step.window;
        let window_values = Array2::from_shape_vec((k, k), step.values.clone()).ok()?;
        let values: Vec<String> = step.values.iter().map(|&v| num(v)).collect();
        let arithmetic = match step.winner {
            Some((wr, wc)) => {
                let ties = step.values.iter().filter(|&&v| v == step.result).count();
                let tie = if ties > 1 { format!(", the first of {ties} tied") } else { String::new() };
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
        let mut sizes = vec![("", h, k, walk.stride, 0, oh)];
        if h != w {
            sizes = vec![("height: ", h, k, walk.stride, 0, oh), ("width: ", w, k, walk.stride, 0, ow)];
        }
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
            setting: format!("{} pooling, window {k}x{k}, stride {}, no padding", walk.mode, walk.stride),
        })
    }

    /// The size formula filled in, one string per axis.
    fn formulas(&self, compact: bool) -> Vec<String> {
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
    fn notes(&self) -> Vec<String> {
        let Some(&(_, n, k, s, p, _)) = self.sizes.first() else { return Vec::new() };
        let lines = conv_size_explanation(n, k, s, p).unwrap_or_default();
        lines.into_iter().filter(|l| l.starts_with("note:") || l.starts_with("      ")).map(|l| l.trim().to_string()).collect()
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

pub(super) fn render(
    app: &App,
    learned: Option<&Learned>,
    digit: &Array2<f32>,
    label: u8,
    area: Rect,
    buf: &mut Buffer,
    zoomed: bool,
) {
    let pane = &app.conv;
    let (name, kernel) = pane.kernel(learned);
    let view = match pane.mode {
        Mode::Conv => conv2d_steps(digit, &kernel, pane.stride, pane.padding)
            .map(|w| View::conv(&w, pane, name)),
        Mode::MaxPool | Mode::AvgPool => {
            let mode = if pane.mode == Mode::MaxPool { PoolMode::Max } else { PoolMode::Avg };
            pool2d_steps(digit, pane.pool_size, pane.pool_stride, mode).map(|w| View::pool(&w, pane))
        }
    };
    let view = match view {
        Ok(Some(v)) => v,
        Ok(None) => return Line::from("nothing to show").render(area, buf),
        Err(e) => {
            let lines = wrap(&e.to_string(), area.width as usize);
            let lines: Vec<Line> = lines.into_iter().map(Line::from).collect();
            return render_lines(&lines, area, buf);
        }
    };
    let digit_text = format!("digit #{} of {} (a {label})", pane.digit.min(app.data.test.len().saturating_sub(1)), app.data.test.len());
    if zoomed {
        render_full(app, learned, &view, &digit_text, area, buf);
    } else {
        render_compact(app, &view, area, buf);
    }
}

/// Lines from the top of `area`, as many as fit.
fn render_lines(lines: &[Line], area: Rect, buf: &mut Buffer) {
    for (i, line) in lines.iter().enumerate().take(area.height as usize) {
        line.render(Rect { y: area.y + i as u16, height: 1, ..area }, buf);
    }
}

/// Greedy word wrap at spaces; words longer than `width` are cut.
pub(super) fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word = word.to_string();
        while word.chars().count() > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            let rest: String = word.chars().skip(width).collect();
            lines.push(word.chars().take(width).collect());
            word = rest;
        }
        let need = line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
        if need > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

fn hint(mode: Mode, learned: bool) -> String {
    let filters = if learned { "f filter grid" } else { "f filters (after training: s)" };
    let keys = match mode {
        Mode::Conv => "k/K kernel · n/N or ←/→ move · ↑/↓ row · Enter next ink · p/P padding · t/T stride",
        _ => "n/N or ←/→ move · ↑/↓ row · Enter next ink · z/Z window · t/T stride",
    };
    format!("{keys} · m conv/max/avg · d/D digit · {filters} · Esc back")
}

fn render_full(app: &App, learned: Option<&Learned>, v: &View, digit_text: &str, area: Rect, buf: &mut Buffer) {
    let width = area.width as usize;
    let dim = Style::new().fg(Color::DarkGray);
    let header = Line::from(vec![Span::styled(format!("{digit_text} · "), dim), Span::raw(v.setting.clone())]);

    let mut bottom: Vec<Line> = Vec::new();
    let cell_style = Style::new().fg(CELL_COLOR).add_modifier(Modifier::BOLD);
    for l in wrap(&v.arithmetic, width) {
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
    for l in wrap(&place, width) {
        bottom.push(Line::styled(l, Style::new().fg(WINDOW_COLOR)));
    }
    let (oh, ow) = v.output.dim();
    for f in v.formulas(false) {
        for l in wrap(&f, width) {
            bottom.push(Line::raw(l));
        }
    }
    let mut extra: Vec<Line> = Vec::new();
    for n in v.notes() {
        extra.extend(wrap(&n, width).into_iter().map(|l| Line::styled(l, dim)));
    }
    let hints: Vec<Line> = wrap(&hint(app.conv.mode, learned.is_some()), width).into_iter().map(|l| Line::styled(l, dim)).collect();
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
    let text_y = area.y + 1 + grid_h;
    render_lines(&bottom, Rect { y: text_y, height: area.bottom().saturating_sub(text_y), ..area }, buf);
    if grid_h < 3 {
        return;
    }
    let grids = Rect { y: area.y + 1, height: grid_h, ..area };
    render_grids(app, v, (oh, ow), grids, buf);
}

/// Input | kernel, window and products as numbers | output, with labels.
fn render_grids(app: &App, v: &View, (oh, ow): (usize, usize), area: Rect, buf: &mut Buffer) {
    let ascii = app.ascii;
    let gray = Scale::Gray { lo: 0.0, hi: 1.0 };
    // the middle column: (label, matrix, scale, marked cell)
    let mut tables: Vec<(String, &Array2<f32>, Scale, Option<(usize, usize)>)> = Vec::new();
    if let Some((name, k)) = &v.kernel {
        tables.push((format!("kernel: {name}"), k, Scale::signed(k.as_slice().unwrap_or(&[])), None));
    }
    let winner = v.winner.map(|(r, c)| (r - v.window.0, c - v.window.1));
    tables.push(("window".into(), &v.window_values, gray, winner));
    if let Some(p) = &v.products {
        tables.push(("products".into(), p, Scale::signed(p.as_slice().unwrap_or(&[])), None));
    }
    let result = match (&v.kernel, v.winner) {
        (Some(_), _) => format!("sum = {}", num(v.result)),
        (None, Some(_)) => format!("max = {}", num(v.result)),
        (None, None) => format!("mean = {}", num(v.result)),
    };
    let mid_need = tables
        .iter()
        .map(|(l, m, _, _)| grid::table_size(m, num).0.max(l.chars().count() as u16))
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

    let input_marks = Marks { window: Some(v.window), cell: v.winner };
    let drawn = grid::draw(&v.input, gray, ascii, body(in_x, side), buf, input_marks);
    let scale_note = |f: usize| if f > 1 { format!(" (1 cell = {f}x{f})") } else { String::new() };
    if let Some((_, _, f)) = drawn {
        label(in_x, side, format!("{}{}", v.input_label, scale_note(f)), WINDOW_COLOR, buf);
    }
    let out_marks = Marks { window: None, cell: Some(v.cell) };
    if let Some((_, _, f)) = grid::draw(&v.output, v.out_scale, ascii, body(out_x, side), buf, out_marks) {
        label(out_x, side, format!("output {oh}x{ow}{}", scale_note(f)), CELL_COLOR, buf);
    }

    let mut y = area.y;
    for (text, m, scale, mark) in tables {
        let room = Rect::new(mid_x, y + 1, mid_w, area.bottom().saturating_sub(y + 1));
        let size = grid::number_table(m, num, scale, ascii, room, buf, mark)
            .or_else(|| grid::draw(m, scale, ascii, room, buf, Marks { window: None, cell: mark }).map(|(w, h, _)| (w, h)));
        let Some((_, h)) = size else { break };
        Line::raw(text).render(Rect::new(mid_x, y, mid_w, 1), buf);
        y += h + 2;
    }
    if y < area.bottom() {
        Line::styled(result, Style::new().fg(CELL_COLOR)).render(Rect::new(mid_x, y, mid_w, 1), buf);
    }
}

fn render_compact(app: &App, v: &View, area: Rect, buf: &mut Buffer) {
    let pane = &app.conv;
    let what = match (&v.kernel, pane.mode) {
        (Some((name, _)), _) => format!("{name} s{} p{}", pane.stride, pane.padding),
        (None, mode) => format!("{} {k}x{k} s{}", mode.label(), pane.pool_stride, k = pane.pool_size),
    };
    let (r, c) = v.cell;
    let header = Line::from(vec![
        Span::raw(format!("{what} ")),
        Span::styled(format!("out[{r},{c}]={}", num(v.result)), Style::new().fg(CELL_COLOR)),
    ]);
    let mut bottom: Vec<Line> = v.formulas(true).into_iter().map(|f| Line::raw(format!("size {f}"))).collect();
    if area.height >= 12 {
        let hint = "k kernel · n move · m mode · Enter open";
        bottom.push(Line::styled(hint, Style::new().fg(Color::DarkGray)));
    }
    header.render(Rect { height: 1, ..area }, buf);
    let grid_h = area.height.saturating_sub(1 + bottom.len() as u16);
    let text_y = area.y + 1 + grid_h;
    render_lines(&bottom, Rect { y: text_y, height: area.bottom().saturating_sub(text_y), ..area }, buf);
    if grid_h == 0 {
        return;
    }
    let kernel_w = v.kernel.as_ref().map_or(0, |(_, k)| k.ncols() as u16 + 1);
    let side = area.width.saturating_sub(kernel_w + 1) / 2;
    let row = |x: u16, w: u16| Rect::new(x, area.y + 1, w, grid_h);
    let gray = Scale::Gray { lo: 0.0, hi: 1.0 };
    let ascii = app.ascii;
    grid::draw(&v.input, gray, ascii, row(area.x, side), buf, Marks { window: Some(v.window), cell: v.winner });
    if let Some((_, k)) = &v.kernel {
        let scale = Scale::signed(k.as_slice().unwrap_or(&[]));
        grid::draw(k, scale, ascii, row(area.x + side + 1, kernel_w), buf, Marks::default());
    }
    let out = row(area.x + side + 1 + kernel_w, side);
    grid::draw(&v.output, v.out_scale, ascii, out, buf, Marks { window: None, cell: Some(v.cell) });
}
