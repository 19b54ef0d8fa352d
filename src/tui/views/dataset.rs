//! The Dataset pane: browse the images one at a time. It shows the digit in
//! shaded cells ([`super::shade`]), its label, which data and split are
//! loaded, and the images per class. Once a model has trained, it also shows
//! the model's prediction and top-3 probabilities (softmax of its logits for
//! that one image).
//!
//! The layout follows the room, not the mode. A tall pane gets the digit at
//! twice its size (56×28 cells), a large one at full size (28×14), the
//! four-pane overview a digit averaged over 2×2 pixels (14×7), anything
//! smaller text only, and a pane too small even for that a short notice. ASCII mode first averages pairs of rows,
//! so both modes fill the same cells and keep the digit's shape (a text cell
//! is about twice as tall as it is wide).

use std::sync::{Arc, Mutex};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::pane_block;
use super::shade::{cells_needed, draw_matrix, Scale};
use crate::data::mnist::{ImageSet, Mnist, NUM_CLASSES};
use crate::lessons::Task;
use crate::nn::{Module, Sequential};
use crate::tui::app::App;
use crate::Tensor;

/// Fashion-MNIST's class names, by label (Xiao, Rasul, Vollgraf 2017).
pub const FASHION_CLASSES: [&str; NUM_CLASSES] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Images that ↑/↓ move when the pane is open (PgUp/PgDn and ←/→ move one).
pub const BIG_STEP: usize = 10;
/// Columns between the digit and the text beside it.
const GAP: u16 = 2;
/// Narrowest text column worth drawing beside a full-size (or big) / half-size digit.
const TEXT_MIN_FULL: u16 = 24;
const TEXT_MIN_HALF: u16 = 16;
/// Below this inner width even the text-only layout is unreadable.
const NOTICE_WIDTH: u16 = 10;

/// Which split the pane browses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Split {
    /// The held-out images (the t10k files): what the model is judged on.
    #[default]
    Test,
    Train,
}

impl Split {
    pub fn name(self) -> &'static str {
        match self {
            Split::Test => "held-out",
            Split::Train => "training",
        }
    }

    pub fn other(self) -> Split {
        match self {
            Split::Test => Split::Train,
            Split::Train => Split::Test,
        }
    }

    pub fn of(self, data: &Mnist) -> &ImageSet {
        match self {
            Split::Test => &data.test,
            Split::Train => &data.train,
        }
    }
}

/// The last prediction: redraws come every tick, the model need not rerun.
struct Cached {
    split: Split,
    index: usize,
    /// Held (not just its address), so a later model cannot reuse the address.
    model: Arc<Sequential>,
    probs: Result<Vec<f32>, String>,
}

/// The Dataset pane's own state.
#[derive(Default)]
pub struct DatasetPane {
    /// Index of the shown image in `split` (0-based; the pane shows it 1-based).
    pub index: usize,
    pub split: Split,
    /// The index in the other split, restored when `t` switches back.
    other_index: usize,
    cache: Mutex<Option<Cached>>,
}

impl DatasetPane {
    pub fn new(_data: &Mnist) -> Self {
        DatasetPane::default()
    }

    /// The split being browsed.
    pub fn set<'a>(&self, data: &'a Mnist) -> &'a ImageSet {
        self.split.of(data)
    }

    /// Keys for this pane; true if used. Arrows only arrive here when the
    /// pane is open (in the overview the keymap moves focus with them).
    pub fn handle_key(&mut self, key: KeyEvent, data: &Mnist) -> bool {
        if key.kind == KeyEventKind::Release {
            return false;
        }
        let len = self.set(data).len();
        match key.code {
            KeyCode::PageDown | KeyCode::Right => self.step(1, len),
            KeyCode::PageUp | KeyCode::Left => self.step(-1, len),
            KeyCode::Down => self.step(BIG_STEP as isize, len),
            KeyCode::Up => self.step(-(BIG_STEP as isize), len),
            KeyCode::Home => self.index = 0,
            KeyCode::End => self.index = len.saturating_sub(1),
            KeyCode::Char('t') => {
                self.split = self.split.other();
                std::mem::swap(&mut self.index, &mut self.other_index);
                self.index = self.index.min(self.set(data).len().saturating_sub(1));
            }
            KeyCode::Char(c @ '0'..='9') => self.next_of_class(c as u8 - b'0', data),
            _ => return false,
        }
        true
    }

    /// Move by `by` images, wrapping around at either end.
    fn step(&mut self, by: isize, len: usize) {
        if len == 0 {
            return;
        }
        let i = (self.index.min(len - 1) as isize + by).rem_euclid(len as isize);
        self.index = i as usize;
    }

    /// Jump to the next image labelled `class` (wrapping); stay if there is none.
    fn next_of_class(&mut self, class: u8, data: &Mnist) {
        let labels = &self.set(data).labels;
        let n = labels.len();
        if let Some(i) = (1..=n)
            .map(|k| (self.index + k) % n)
            .find(|&i| labels[i] == class)
        {
            self.index = i;
        }
    }

    /// Softmax probabilities of `model` for the shown image, cached per
    /// (split, index, model).
    fn probabilities(
        &self,
        set: &ImageSet,
        input_shape: &[usize],
        model: &Arc<Sequential>,
    ) -> Result<Vec<f32>, String> {
        let fresh = |c: &Cached| {
            c.split == self.split && c.index == self.index && Arc::ptr_eq(&c.model, model)
        };
        if let Ok(guard) = self.cache.lock() {
            if let Some(c) = guard.as_ref().filter(|c| fresh(c)) {
                return c.probs.clone();
            }
        }
        let pixels: Vec<f32> = set.images.row(self.index).iter().copied().collect();
        let probs =
            predict(model, input_shape, &pixels).map_err(|e| format!("cannot predict: {e}"));
        if let Ok(mut guard) = self.cache.lock() {
            *guard = Some(Cached {
                split: self.split,
                index: self.index,
                model: model.clone(),
                probs: probs.clone(),
            });
        }
        probs
    }
}

/// Class probabilities of `model` for one image: softmax of its logits.
/// `input_shape` is the lesson's per-image shape (`[784]` or `[1, 28, 28]`).
pub fn predict(
    model: &Sequential,
    input_shape: &[usize],
    pixels: &[f32],
) -> crate::Result<Vec<f32>> {
    let mut shape = vec![1];
    shape.extend_from_slice(input_shape);
    crate::no_grad(|| {
        let x = Tensor::from_vec(&shape, pixels.to_vec())?;
        Ok(model.forward(&x)?.softmax(1)?.to_vec())
    })
}

/// The `k` most probable classes, most probable first.
pub fn top_k(probs: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut ranked: Vec<(usize, f32)> = probs.iter().copied().enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked.truncate(k);
    ranked
}

/// Whether `source` names Fashion-MNIST (then labels get class names).
pub fn is_fashion(source: &str) -> bool {
    source.to_lowercase().contains("fashion")
}

/// "7", or "7 Sneaker" for Fashion-MNIST.
pub fn class_name(class: usize, fashion: bool) -> String {
    match FASHION_CLASSES.get(class) {
        Some(name) if fashion => format!("{class} {name}"),
        _ => class.to_string(),
    }
}

/// 1234567 → "1,234,567".
fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// "0:100 1:100 …", or "100 each" when `compact` and every class has as many.
fn counts_text(set: &ImageSet, compact: bool) -> String {
    let counts = set.class_counts();
    if compact && counts.iter().all(|&c| c == counts[0]) {
        return format!("{} each", thousands(counts[0]));
    }
    let parts: Vec<String> = counts
        .iter()
        .enumerate()
        .map(|(c, n)| format!("{c}:{n}"))
        .collect();
    parts.join(" ")
}

/// How large the digit is drawn: cells per image pixel, across.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Size {
    /// Each pixel twice: 56×28 cells for a 28×28 image, for tall panes.
    Big,
    /// One column per pixel: 28×14 cells.
    Full,
    /// 2×2 pixels averaged: 14×7 cells, for the four-pane overview.
    Half,
}

impl Size {
    /// (repeat, average): each pixel drawn `repeat` times across and down
    /// after averaging blocks of `average` pixels.
    fn factors(self) -> (usize, usize) {
        match self {
            Size::Big => (2, 1),
            Size::Full => (1, 1),
            Size::Half => (1, 2),
        }
    }

    /// Narrowest text column worth drawing beside the digit.
    fn text_min(self) -> u16 {
        match self {
            Size::Half => TEXT_MIN_HALF,
            _ => TEXT_MIN_FULL,
        }
    }
}

/// Average `fy`×`fx` blocks of a rows×cols image → (values, rows', cols').
fn pool_mean(
    px: &[f32],
    rows: usize,
    cols: usize,
    fy: usize,
    fx: usize,
) -> (Vec<f32>, usize, usize) {
    let (r2, c2) = (rows.div_ceil(fy), cols.div_ceil(fx));
    let mut out = Vec::with_capacity(r2 * c2);
    for r in 0..r2 {
        for c in 0..c2 {
            let (mut sum, mut n) = (0.0, 0);
            for y in r * fy..((r + 1) * fy).min(rows) {
                for x in c * fx..((c + 1) * fx).min(cols) {
                    sum += px.get(y * cols + x).copied().unwrap_or(0.0);
                    n += 1;
                }
            }
            out.push(if n > 0 { sum / n as f32 } else { 0.0 });
        }
    }
    (out, r2, c2)
}

/// Repeat each value `k`×`k` times (nearest-neighbour upscaling).
fn repeat(px: &[f32], rows: usize, cols: usize, k: usize) -> (Vec<f32>, usize, usize) {
    let (r2, c2) = (rows * k, cols * k);
    let out = (0..r2 * c2)
        .map(|i| {
            px.get((i / c2 / k) * cols + (i % c2) / k)
                .copied()
                .unwrap_or(0.0)
        })
        .collect();
    (out, r2, c2)
}

/// The digit's matrix for drawing at `size`. ASCII mode also averages row
/// pairs (it draws one text row per matrix row).
fn digit_matrix(set: &ImageSet, index: usize, size: Size, ascii: bool) -> (Vec<f32>, usize, usize) {
    let px: Vec<f32> = set.images.row(index).iter().copied().collect();
    let (k, f) = size.factors();
    let (px, rows, cols) = repeat(&px, set.rows, set.cols, k);
    pool_mean(&px, rows, cols, if ascii { 2 * f } else { f }, f)
}

/// Cells the digit takes at `size`: (width, height).
fn digit_cells(set: &ImageSet, size: Size, ascii: bool) -> (u16, u16) {
    let (k, f) = size.factors();
    let fy = if ascii { 2 * f } else { f };
    cells_needed(
        (set.rows * k).div_ceil(fy),
        (set.cols * k).div_ceil(f),
        ascii,
    )
}

/// The largest digit that fits `inner` beside a readable text column.
fn pick_size(inner: Rect, set: &ImageSet, ascii: bool) -> Option<Size> {
    [Size::Big, Size::Full, Size::Half]
        .into_iter()
        .find(|&size| {
            let (w, h) = digit_cells(set, size, ascii);
            let extra_rows = if size == Size::Half { 0 } else { 1 };
            u32::from(inner.width) >= u32::from(w) + u32::from(GAP) + u32::from(size.text_min())
                && u32::from(inner.height) >= u32::from(h) + extra_rows
        })
}

/// Everything the pane says, as lines, built once per draw.
struct Texts {
    header: Vec<Line<'static>>,
    side: Vec<Line<'static>>,
    footer: Vec<Line<'static>>,
}

fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

/// The prediction lines: "predicted: 7 ✓" and the top-3, as `wide` allows.
fn prediction_lines(app: &App, set: &ImageSet, wide: bool, fashion: bool) -> Vec<Line<'static>> {
    let pane = &app.dataset;
    let Some(model) = &app.trained else {
        return vec![Line::styled("train a model (s) to see predictions", dim())];
    };
    let input_shape = match &app.lesson.task {
        Task::Classifier { input_shape, .. } => input_shape.clone(),
        _ => vec![set.pixels()],
    };
    let probs = match pane.probabilities(set, &input_shape, model) {
        Ok(p) if !p.is_empty() => p,
        Ok(_) => {
            return vec![Line::styled(
                "the model gave no output",
                Style::new().fg(Color::Red),
            )]
        }
        Err(e) => return vec![Line::styled(e, Style::new().fg(Color::Red))],
    };
    let top = top_k(&probs, 3);
    let label = set
        .labels
        .get(pane.index)
        .map_or(usize::MAX, |&l| usize::from(l));
    let (best, _) = top[0];
    let right = best == label;
    let mark = match (app.ascii, right) {
        (true, true) => " (right)",
        (true, false) => " (wrong)",
        (false, true) => " ✓",
        (false, false) => " ✗",
    };
    let verdict = Style::new()
        .fg(if right { Color::Green } else { Color::Red })
        .add_modifier(Modifier::BOLD);
    let mut lines = vec![Line::from(vec![
        Span::raw("predicted: "),
        Span::styled(class_name(best, fashion && wide), verdict),
        Span::styled(mark, verdict),
    ])];
    if !wide {
        let parts: Vec<String> = top
            .iter()
            .map(|&(c, p)| format!("{c}:{:.0}%", p * 100.0))
            .collect();
        lines.push(Line::raw(format!("top-3 {}", parts.join(" "))));
        return lines;
    }
    lines.push(Line::raw("top-3 probabilities:"));
    let name_w = top
        .iter()
        .map(|&(c, _)| class_name(c, fashion).chars().count())
        .max()
        .unwrap_or(1);
    for &(c, p) in &top {
        let bar_len = (p.clamp(0.0, 1.0) * 20.0).round() as usize;
        let bar = if app.ascii { "#" } else { "█" }.repeat(bar_len);
        let style = if c == label {
            Style::new().fg(Color::Green)
        } else {
            Style::new()
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {:<name_w$} {:>6.1}% ", class_name(c, fashion), p * 100.0),
                style,
            ),
            Span::styled(bar, style),
        ]));
    }
    lines
}

fn texts(app: &App, inner: Rect, digit: Option<Size>, zoomed: bool) -> Texts {
    let pane = &app.dataset;
    let set = pane.set(&app.data);
    let fashion = is_fashion(&app.data.source);
    let full_digit = matches!(digit, Some(Size::Big | Size::Full));
    let roomy = full_digit || (digit.is_none() && inner.width >= 60);
    let bold = Style::new().add_modifier(Modifier::BOLD);

    let source = &app.data.source;
    let short = source.split(" (").next().unwrap_or(source);
    let shown = if roomy || source.chars().count() + 6 <= usize::from(inner.width) {
        source.as_str()
    } else {
        short
    };
    let header = vec![Line::from(vec![
        Span::styled("data: ", dim()),
        Span::raw(shown.to_string()),
    ])];

    let label = set.labels.get(pane.index).map_or(0, |&l| usize::from(l));
    let where_ = format!(
        "{} {}/{}",
        pane.split.name(),
        pane.index + 1,
        thousands(set.len())
    );
    let mut side = vec![
        Line::raw(if roomy {
            format!(
                "{} set · image {} of {}",
                pane.split.name(),
                pane.index + 1,
                thousands(set.len())
            )
        } else {
            where_
        }),
        Line::from(vec![
            Span::raw("label: "),
            Span::styled(class_name(label, fashion), bold.fg(Color::Cyan)),
        ]),
    ];
    if roomy {
        side.push(Line::raw(""));
    }
    side.extend(prediction_lines(app, set, roomy, fashion));

    let other = pane.split.other();
    let mut footer = Vec::new();
    if roomy {
        for split in [pane.split, other] {
            footer.push(Line::from(vec![
                Span::styled(format!("images per class, {} set: ", split.name()), dim()),
                Span::raw(counts_text(split.of(&app.data), false)),
            ]));
        }
        if fashion {
            let names: Vec<String> = (0..NUM_CLASSES).map(|c| class_name(c, true)).collect();
            footer.push(Line::styled(
                format!("classes: {}", names.join(" · ")),
                dim(),
            ));
        }
    } else {
        footer.push(Line::from(vec![
            Span::styled(format!("{} per class: ", pane.split.name()), dim()),
            Span::raw(counts_text(set, true)),
        ]));
    }

    let keys = if zoomed {
        let arrows = if app.ascii {
            "Left/Right ±1 image · Up/Down ±10 images"
        } else {
            "←/→ ±1 image · ↑/↓ ±10 images"
        };
        format!(
            "keys: {arrows} · PgUp/PgDn ±1 · Home/End first/last · 0-9 next image of that class · \
             t show the {} set · Esc back",
            other.name()
        )
    } else if roomy {
        format!(
            "keys: PgDn/PgUp ±1 image · Home/End first/last · 0-9 next image of that class · t show the {} set",
            other.name()
        )
    } else {
        String::new()
    };
    if keys.is_empty() {
        side.push(Line::styled("PgDn/PgUp: ±1 image", dim()));
        side.push(Line::styled("Home/End: first/last", dim()));
        side.push(Line::styled(format!("t: show {} set", other.name()), dim()));
    } else {
        footer.push(Line::raw(""));
        footer.push(Line::styled(keys, dim()));
    }
    Texts {
        header,
        side,
        footer,
    }
}

fn paragraph(lines: Vec<Line<'static>>, area: Rect, buf: &mut Buffer) {
    if !area.is_empty() {
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .render(area, buf);
    }
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer, focused: bool, zoomed: bool) {
    let area = area.intersection(*buf.area());
    let block = pane_block("Dataset", focused, app.ascii);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.is_empty() {
        return;
    }
    let pane = &app.dataset;
    let set = pane.set(&app.data);
    if inner.width < NOTICE_WIDTH {
        paragraph(vec![Line::raw("too small")], inner, buf);
        return;
    }
    if set.is_empty() || pane.index >= set.len() {
        let msg = format!(
            "no images in the {} set ({})",
            pane.split.name(),
            app.data.source
        );
        paragraph(vec![Line::raw(msg)], inner, buf);
        return;
    }
    let digit = pick_size(inner, set, app.ascii);
    let Texts {
        header,
        side,
        footer,
    } = texts(app, inner, digit, zoomed);

    let Some(size) = digit else {
        let mut all = header;
        all.extend(side);
        all.extend(footer);
        paragraph(all, inner, buf);
        return;
    };
    // rows: header, then digit beside the text, then the footer
    let (dw, dh) = digit_cells(set, size, app.ascii);
    let wants_header = header
        .iter()
        .map(Line::width)
        .sum::<usize>()
        .div_ceil(usize::from(inner.width).max(1));
    let header_h = if inner.height >= dh + 2 {
        (wants_header.max(1) as u16)
            .min(2)
            .min(inner.height - dh - 1)
    } else {
        0
    };
    let avail = inner.height - header_h;
    let body_h = (side.len() as u16)
        .min(avail.saturating_sub(footer.len() as u16))
        .max(dh)
        .min(avail);
    let header_area = Rect::new(inner.x, inner.y, inner.width, header_h);
    let body = Rect::new(inner.x, inner.y + header_h, inner.width, body_h);
    let footer_area = Rect::new(inner.x, body.bottom(), inner.width, avail - body_h);

    paragraph(header, header_area, buf);
    let (values, rows, cols) = digit_matrix(set, pane.index, size, app.ascii);
    let hi = values.iter().copied().fold(0.0f32, f32::max);
    let scale = Scale::Gray {
        lo: 0.0,
        hi: if hi > 0.0 { hi } else { 1.0 },
    };
    draw_matrix(
        &values,
        rows,
        cols,
        scale,
        app.ascii,
        Rect::new(body.x, body.y, dw, dh),
        buf,
    );
    let text_x = body.x + dw + GAP;
    paragraph(
        side,
        Rect::new(
            text_x,
            body.y,
            body.right().saturating_sub(text_x),
            body.height,
        ),
        buf,
    );
    paragraph(footer, footer_area, buf);
}
