//! Drawing the Dataset pane: a header naming the data, the digit with the
//! label and prediction beside it, and a footer with the images per class
//! and the keys. What is said follows the room (`roomy`): full sentences
//! and the top-3 as bars, or short forms.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::digit::{digit_cells, digit_matrix, pick_size, Size, GAP};
use super::{class_name, is_fashion, top_k, Split};
use crate::data::mnist::{ImageSet, NUM_CLASSES};
use crate::tui::app::App;
use crate::tui::views::ViewContext;

use super::{fetch, DatasetPane};
use crate::tui::views::pane_block;
use crate::tui::views::shade::{draw_matrix, Scale};

/// Below this inner width even the text-only layout is unreadable.
const NOTICE_WIDTH: u16 = 10;

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

/// Everything the pane says, as lines, built once per draw.
struct Texts {
    header: Vec<Line<'static>>,
    side: Vec<Line<'static>>,
    footer: Vec<Line<'static>>,
}

fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

/// `S`: softmax and cross-entropy written out for the digit on screen, the
/// loss first (it is what the rows add up to), then one row per class:
/// logit z, exp(z), softmax p, log p and the one-hot target.
fn written_lines(w: &Result<super::WrittenOut, String>, ascii: bool) -> Vec<Line<'static>> {
    let w = match w {
        Ok(w) => w,
        Err(e) => return vec![Line::styled(e.clone(), Style::new().fg(Color::Red))],
    };
    let (minus, sum) = if ascii { ("-", "sum") } else { ("−", "Σ") };
    let total: f32 = w.exp.iter().sum();
    let mut lines = vec![
        Line::styled(
            format!("loss = {minus}log p[{}] = {:.4}", w.label, w.loss),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Line::styled(
            format!("p = exp(z) / {sum}exp(z), {sum}exp(z) = {}", sig(total)),
            dim(),
        ),
        Line::styled(" c   logit z   exp(z)  softmax p    log p  y", dim()),
    ];
    for c in 0..w.logits.len() {
        let y = usize::from(c == w.label);
        let style = if y == 1 {
            Style::new().fg(Color::Green).add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        lines.push(Line::styled(
            format!(
                "{c:>2} {:>9.3} {:>8} {:>10.4} {:>8.3}  {y}{}",
                w.logits[c],
                sig(w.exp[c]),
                w.softmax[c],
                w.log_softmax[c],
                if y == 1 {
                    if ascii {
                        " <- label"
                    } else {
                        " ← label"
                    }
                } else {
                    ""
                }
            ),
            style,
        ));
    }
    lines
}

/// A number in 4 significant digits, in at most 8 characters.
fn sig(v: f32) -> String {
    if v != 0.0 && !(1e-3..1e5).contains(&v.abs()) {
        format!("{v:.2e}")
    } else {
        format!("{v:.4}")
            .chars()
            .take(8)
            .collect::<String>()
            .trim_end_matches('.')
            .to_string()
    }
}

/// The prediction lines: "predicted: 7 ✓" and the top-3, as `wide` allows.
fn prediction_lines(
    pane: &DatasetPane,
    cx: &ViewContext,
    set: &ImageSet,
    wide: bool,
    fashion: bool,
) -> Vec<Line<'static>> {
    // computed in `App::update` (see `DatasetPane::refresh`)
    if pane.written {
        if let Some(w) = pane.written_out() {
            return written_lines(w, cx.ascii);
        }
    }
    let Some(probs) = pane.prediction() else {
        return vec![Line::styled("train a model (s) to see predictions", dim())];
    };
    let probs = match probs {
        Ok(p) if !p.is_empty() => p.clone(),
        Ok(_) => {
            return vec![Line::styled(
                "the model gave no output",
                Style::new().fg(Color::Red),
            )]
        }
        Err(e) => return vec![Line::styled(e.clone(), Style::new().fg(Color::Red))],
    };
    let top = top_k(&probs, 3);
    let label = set
        .labels
        .get(pane.index)
        .map_or(usize::MAX, |&l| usize::from(l));
    let (best, _) = top[0];
    let right = best == label;
    let mark = match (cx.ascii, right) {
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
        let bar = if cx.ascii { "#" } else { "█" }.repeat(bar_len);
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

/// The chosen confusion cell ("4→9: 2 of 12") and how this digit's
/// prediction changed over the epochs ("1: 3 41% → 2: 8 77%").
fn mistake_lines(pane: &DatasetPane, cx: &ViewContext, roomy: bool) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if let Some(f) = &pane.filter {
        let at = f
            .position(pane.index)
            .map_or("-".into(), |i| (i + 1).to_string());
        lines.push(Line::styled(
            format!(
                "cell {}→{}: {at} of {} · x all",
                f.label,
                f.predicted,
                f.images.len()
            ),
            Style::new().fg(Color::Yellow),
        ));
    }
    let history = cx.mistakes.digit_history(pane.index);
    if history.len() >= 2 {
        let keep = if roomy { 6 } else { 2 };
        let parts: Vec<String> = history[history.len().saturating_sub(keep)..]
            .iter()
            .map(|(e, c, p)| format!("{e}: {c} {:.0}%", p * 100.0))
            .collect();
        let more = if history.len() > keep { "… " } else { "" };
        lines.push(Line::styled(
            format!("by epoch: {more}{}", parts.join(" → ")),
            dim(),
        ));
    }
    lines
}

fn texts(
    pane: &DatasetPane,
    cx: &ViewContext,
    inner: Rect,
    digit: Option<Size>,
    zoomed: bool,
) -> Texts {
    let set = pane.set(cx.data);
    let fashion = is_fashion(&cx.data.source);
    let full_digit = matches!(digit, Some(Size::Big | Size::Full));
    let roomy = full_digit || (digit.is_none() && inner.width >= 60);
    let bold = Style::new().add_modifier(Modifier::BOLD);

    let source = &cx.data.source;
    let short = source.split(" (").next().unwrap_or(source);
    let shown = if roomy || source.chars().count() + 6 <= usize::from(inner.width) {
        source.as_str()
    } else {
        short
    };
    let mut header = vec![Line::from(vec![
        Span::styled("data: ", dim()),
        Span::raw(shown.to_string()),
    ])];
    if let Some(fetch) = &pane.fetch {
        header.push(Line::styled(
            fetch.status_line(),
            Style::new().fg(Color::Yellow),
        ));
    }

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
    side.extend(prediction_lines(pane, cx, set, roomy, fashion));
    if pane.split == Split::Test {
        side.extend(mistake_lines(pane, cx, roomy));
    }

    let other = pane.split.other();
    let mut footer = Vec::new();
    if roomy {
        for split in [pane.split, other] {
            footer.push(Line::from(vec![
                Span::styled(format!("images per class, {} set: ", split.name()), dim()),
                Span::raw(counts_text(split.of(cx.data), false)),
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

    match keys_line(zoomed, roomy, cx.ascii, other) {
        Some(keys) => {
            footer.push(Line::raw(""));
            footer.push(Line::styled(keys, dim()));
        }
        None => {
            side.push(Line::styled("PgDn/PgUp: ±1 image", dim()));
            side.push(Line::styled("Home/End: first/last", dim()));
            side.push(Line::styled(format!("t: show {} set", other.name()), dim()));
        }
    }
    if cx.ascii {
        let plain = crate::tui::views::plain::ascii_lines;
        return Texts {
            header: plain(header),
            side: plain(side),
            footer: plain(footer),
        };
    }
    Texts {
        header,
        side,
        footer,
    }
}

/// The keys as one footer line when the pane is open or roomy; None when
/// the short forms go in the side column instead.
fn keys_line(zoomed: bool, roomy: bool, ascii: bool, other: Split) -> Option<String> {
    if zoomed {
        let arrows = if ascii {
            "Left/Right ±1 image · Up/Down ±10 images"
        } else {
            "←/→ ±1 image · ↑/↓ ±10 images"
        };
        Some(format!(
            "keys: {arrows} · PgUp/PgDn ±1 · Home/End first/last · 0-9 next image of that class · \
             m next mistake · t show the {} set · Esc back",
            other.name()
        ))
    } else if roomy {
        Some(format!(
            "keys: PgDn/PgUp ±1 image · Home/End first/last · 0-9 next image of that class · m next mistake · t show the {} set",
            other.name()
        ))
    } else {
        None
    }
}

/// The rows `line` takes when word-wrapped to `width` columns (greedy, as
/// the Paragraph wraps; a word longer than the row is broken).
fn wrapped_rows(line: &Line, width: usize) -> usize {
    let width = width.max(1);
    let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
    let (mut rows, mut col) = (1, 0);
    for word in text.split(' ') {
        let w = crate::tui::views::text::width_of(word);
        let at = if col == 0 { w } else { col + 1 + w };
        if at <= width {
            col = at;
            continue;
        }
        // the word starts a new row, and a long one is broken over more
        if col > 0 {
            rows += 1;
        }
        rows += w.saturating_sub(1) / width;
        col = if w == 0 { 0 } else { (w - 1) % width + 1 };
    }
    rows
}

fn paragraph(lines: Vec<Line<'static>>, area: Rect, buf: &mut Buffer) {
    if !area.is_empty() {
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .render(area, buf);
    }
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer, focused: bool, zoomed: bool) {
    render_pane(
        &app.dataset,
        &app.view_context(),
        area,
        buf,
        focused,
        zoomed,
    );
}

/// The pane from its own state and the lab's read-only context.
pub fn render_pane(
    pane: &DatasetPane,
    cx: &ViewContext,
    area: Rect,
    buf: &mut Buffer,
    focused: bool,
    zoomed: bool,
) {
    let area = area.intersection(*buf.area());
    let block = pane_block("Dataset", focused, cx.ascii);
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.is_empty() {
        return;
    }
    let set = pane.set(cx.data);
    if inner.width < NOTICE_WIDTH {
        paragraph(vec![Line::raw("too small")], inner, buf);
        return;
    }
    if set.is_empty() || pane.index >= set.len() {
        let msg = format!(
            "no images in the {} set ({})",
            pane.split.name(),
            cx.data.source
        );
        paragraph(vec![Line::raw(msg)], inner, buf);
        return;
    }
    let digit = pick_size(inner, set, cx.ascii);
    let Texts {
        header,
        side,
        footer,
    } = texts(pane, cx, inner, digit, zoomed);

    let Some(size) = digit else {
        let mut all = header;
        all.extend(side);
        all.extend(footer);
        paragraph(all, inner, buf);
        return;
    };
    // rows: header, then digit beside the text, then the footer
    let (dw, dh) = digit_cells(set, size, cx.ascii);
    // each line's wrapped rows; the data line gets at most two
    let wants_header: usize = header
        .iter()
        .map(|l| l.width().div_ceil(usize::from(inner.width).max(1)).max(1))
        .sum();
    // a download's failure is read in full: with no room beside the
    // digit for it, the pane is drawn as text
    let failed = pane.fetch.as_ref().is_some_and(fetch::Fetch::has_failed);
    let need: usize = header
        .iter()
        .map(|l| wrapped_rows(l, usize::from(inner.width)))
        .sum();
    if failed && need + usize::from(dh) + 1 > usize::from(inner.height) {
        let mut all = header;
        all.extend(side);
        all.extend(footer);
        paragraph(all, inner, buf);
        return;
    }
    let wants_header = if failed { need } else { wants_header };
    let header_h = if inner.height >= dh + 2 {
        (wants_header.max(1) as u16)
            .min(header.len() as u16 + if failed { need as u16 } else { 1 })
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
    let (values, rows, cols) = digit_matrix(set, pane.index, size, cx.ascii);
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
        cx.ascii,
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
