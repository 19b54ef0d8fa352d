//! Drawing the Model pane: the title with the parameter count, the table
//! (see `table.rs`), and under it the status ("✓ ready to train" or what to
//! fix), notes, the chooser or editor, and the key hints. Each line is cut to
//! the width and, in a short pane, the least needed lines give way first.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::glyphs::{fit, pick, Glyphs};
use super::table::{draw_table, Row};
use super::{
    fix_text, memory_text, offered_fix, shape_text, short_label, Editor, LayerKind, Mode,
    ModelPane, ESTIMATE_BATCH,
};
use crate::lessons::Task;
use crate::nn::spec::{infer_shapes, memory_estimate, MemoryEstimate};
use crate::nn::LayerSpec;
use crate::tui::app::{App, TrainState};
use crate::tui::format;
use crate::tui::views::pane_block;
use crate::tui::views::text::{width_of, wrap_words};
use crate::tui::views::ViewContext;

/// Below this inner size the pane only says it is too small.
const MIN_INNER_WIDTH: u16 = 16;
const MIN_INNER_HEIGHT: u16 = 2;

/// A block of lines under the table; `keep` says which survive a short pane (higher stays).
struct Part {
    lines: Vec<Line<'static>>,
    keep: u8,
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer, focused: bool, zoomed: bool) {
    render_pane(
        &app.builder,
        &app.view_context(),
        area,
        buf,
        focused,
        zoomed,
    );
}

/// The pane from its own state and the lab's read-only context.
pub fn render_pane(
    pane: &ModelPane,
    cx: &ViewContext,
    area: Rect,
    buf: &mut Buffer,
    focused: bool,
    zoomed: bool,
) {
    let area = area.intersection(*buf.area());
    if area.is_empty() {
        return;
    }
    let input: &[usize] = match &cx.lesson.task {
        Task::Classifier { input_shape, .. } => input_shape,
        _ => &pane.input_shape,
    };
    let g = Glyphs::new(cx.ascii);
    let (specs, selected) = pane.preview();
    let shapes = infer_shapes(&specs, input);
    let total: usize = specs.iter().map(LayerSpec::param_count).sum();
    let ready = pane.readiness(&specs, input);

    let title_style = if ready.is_ok() {
        Style::new().fg(Color::Green)
    } else {
        Style::new().fg(Color::Red)
    };
    let state = match cx.run.state {
        TrainState::Running => "Model · training",
        TrainState::Paused | TrainState::Diverged(_) => "Model · paused",
        _ => "Model",
    };
    // the checkpoint or weights the model was opened from (key o)
    let title = match cx.weights.as_deref() {
        Some(name) => format!("{state} · weights: {name}"),
        None => state.to_string(),
    };
    let block = pane_block(&title, focused, cx.ascii).title_top(
        Line::styled(format!(" {} params ", format::count(total)), title_style).right_aligned(),
    );
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width < MIN_INNER_WIDTH || inner.height < MIN_INNER_HEIGHT {
        if !inner.is_empty() {
            buf.set_stringn(
                inner.x,
                inner.y,
                "too small",
                inner.width as usize,
                Style::new().fg(Color::DarkGray),
            );
        }
        return;
    }
    let w = inner.width as usize;

    // ---- the parts under the table, in the order they are drawn
    let est = memory_estimate(&specs, input, ESTIMATE_BATCH);
    let mut parts = vec![Part {
        lines: status_lines(
            &ready,
            specs.len(),
            total,
            &est,
            w,
            &g,
            matches!(
                cx.run.state,
                TrainState::Running | TrainState::Paused | TrainState::Diverged(_)
            ),
        ),
        keep: 4,
    }];
    if let (Some((i, spec)), false) = (offered_fix(&specs, input), pane.is_editing()) {
        parts.push(Part {
            lines: wrapped(&fix_text(i, &spec), w, Style::new().fg(Color::Yellow)),
            keep: 5,
        });
    }
    if zoomed && shapes.iter().all(Result::is_ok) && !specs.is_empty() {
        parts.push(Part {
            lines: wrapped(&memory_text(&est), w, Style::new().fg(Color::DarkGray)),
            keep: 1,
        });
    }
    if let Some(n) = run_note(pane, cx) {
        let lines = wrapped(n, w, Style::new().fg(Color::Yellow));
        parts.push(Part { lines, keep: 5 });
    }
    if let Some(n) = &pane.note {
        parts.push(Part {
            lines: vec![Line::styled(
                fit(n, w, g.more),
                Style::new().fg(Color::Cyan),
            )],
            keep: 2,
        });
    }
    let hint = mode_parts(pane, zoomed, w, &g, &mut parts);
    parts.push(Part {
        lines: vec![Line::styled(
            fit(hint, w, g.more),
            Style::new().fg(Color::DarkGray),
        )],
        keep: 3,
    });
    let footer = fit_parts(parts, inner.height);
    let footer_h = footer.len() as u16;
    let table_area = Rect {
        height: inner.height.saturating_sub(footer_h),
        ..inner
    };
    for (k, line) in footer.iter().enumerate() {
        buf.set_line(inner.x, table_area.bottom() + k as u16, line, inner.width);
    }

    // ---- the table
    let rows = table_rows(input, &specs, &shapes, cx.ascii, &g);
    let pending = pane.is_editing();
    let highlight = (!specs.is_empty()).then_some(selected + 1);
    draw_table(
        &rows, highlight, pending, zoomed, table_area, buf, &g, total,
    );
}

/// `text` word-wrapped to `w`, every line in `style`.
fn wrapped(text: &str, w: usize, style: Style) -> Vec<Line<'static>> {
    wrap_words(text, w)
        .into_iter()
        .map(|l| Line::styled(l, style))
        .collect()
}

/// "✓ ready to train · 8 layers · 50,186 params · 68.4 MiB" as the width
/// allows, or what to fix first (up to four lines).
fn status_lines(
    ready: &Result<usize, String>,
    layers: usize,
    total: usize,
    est: &MemoryEstimate,
    w: usize,
    g: &Glyphs,
    training: bool,
) -> Vec<Line<'static>> {
    // while a run is on, the list is what the next run will train
    let ready_text = if training {
        "valid model"
    } else {
        "ready to train"
    };
    match ready {
        Ok(_) => {
            let (layers, total) = (format::layers(layers), format::count(total));
            let mem = format::bytes(est.total_bytes());
            let full = format!("{} {ready_text} · {layers} · {total} params · {mem}", g.ok);
            let long = format!("{} {ready_text} · {layers} · {total} params", g.ok);
            let mid = format!("{} {ready_text} · {total} params", g.ok);
            let short = format!("{} {ready_text}", g.ok);
            let text = pick(&[&full, &long, &mid, &short], w);
            vec![Line::styled(
                fit(text, w, g.more),
                Style::new().fg(Color::Green),
            )]
        }
        Err(why) => wrap_words(&format!("{} {why}", g.bad), w)
            .into_iter()
            .take(4)
            .map(|l| Line::styled(l, Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)))
            .collect(),
    }
}

/// The run's model against the edited list: while a run is on, that edits
/// apply to the next run; after it, whether the list changed since.
fn run_note(pane: &ModelPane, cx: &ViewContext) -> Option<&'static str> {
    let edited = pane.specs != cx.run.specs() && !cx.run.specs().is_empty();
    match cx.run.state {
        TrainState::Running | TrainState::Paused | TrainState::Diverged(_) if edited => Some(
            "edited: applies to the next run; the run in progress keeps its own model (r then s)",
        ),
        TrainState::Running | TrainState::Paused | TrainState::Diverged(_) => {
            Some("this model is training; edits apply to the next run")
        }
        TrainState::Finished | TrainState::Failed(_) if edited => {
            Some("changed since the last run; s trains it")
        }
        _ => None,
    }
}

/// The chooser's or editor's lines (pushed onto `parts`) and the key hint
/// of `mode`, as the width allows.
fn mode_parts(
    pane: &ModelPane,
    zoomed: bool,
    w: usize,
    g: &Glyphs,
    parts: &mut Vec<Part>,
) -> &'static str {
    match &pane.mode {
        Mode::Browse if zoomed => pick(
            &[
                "↑↓ select · a/i add after/before · d delete · J/K move · Enter/e edit · u undo",
                "↑↓ select · a add · d delete · J/K move · Enter edit · u undo",
                "↑↓ · a add · d del · J/K move · e edit",
                "a add · d del · e edit",
            ],
            w,
        ),
        Mode::Browse => pick(
            &[
                "j/k select · a/i add after/before · d delete · J/K move · e edit · u undo",
                "j/k select · a add · d delete · J/K move · e edit · u undo",
                "j/k · a add · d del · J/K move · e edit · u undo",
                "j/k·a add·d del·J/K move·e edit·u undo",
                "a add · d del · e edit",
            ],
            w,
        ),
        Mode::Choose { kind, before } => {
            let at = pane.insert_at(*before);
            let adds = pane.new_layer(*kind, at);
            parts.push(Part {
                lines: chooser_lines(*kind, *before, at, &adds, w, g),
                keep: 6,
            });
            pick(
                &[
                    "←/→ or 1-8 choose · Enter add · Esc cancel",
                    "←→/1-8 · Enter add · Esc",
                    "Enter · Esc",
                ],
                w,
            )
        }
        Mode::Edit(ed) => {
            parts.push(Part {
                lines: editor_lines(ed, w, g),
                keep: 6,
            });
            if let Some(e) = &ed.error {
                let style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
                parts.push(Part {
                    lines: vec![Line::styled(
                        fit(&format!("{} {e}", g.bad), w, g.more),
                        style,
                    )],
                    keep: 5,
                });
            }
            pick(
                &[
                    "Tab/←→ field · ↑↓ or digits change · Enter apply · Esc cancel",
                    "Tab field · ↑↓/0-9 · Enter apply · Esc",
                    "Enter · Esc",
                ],
                w,
            )
        }
    }
}

/// The lines of the parts that fit under the table, in drawing order. The
/// table keeps at least a third of `height`; the least needed parts (lowest
/// `keep`) give way first.
fn fit_parts(parts: Vec<Part>, height: u16) -> Vec<Line<'static>> {
    let min_table = (height as usize / 3).max(1);
    let budget = (height as usize).saturating_sub(min_table);
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(parts[i].keep));
    let mut used = 0;
    let mut shown = vec![false; parts.len()];
    for i in order {
        let h = parts[i].lines.len();
        if used + h <= budget {
            shown[i] = true;
            used += h;
        }
    }
    parts
        .into_iter()
        .zip(shown)
        .filter(|(_, s)| *s)
        .flat_map(|(p, _)| p.lines)
        .collect()
}

/// The table's rows: the input, then each layer with its output shape (or
/// why it has none) and parameter count.
fn table_rows(
    input: &[usize],
    specs: &[LayerSpec],
    shapes: &[Result<Vec<usize>, String>],
    ascii: bool,
    g: &Glyphs,
) -> Vec<Row> {
    let mut rows = vec![Row {
        index: String::new(),
        label: "input".into(),
        short: "input".into(),
        shape: Ok(shape_text(input)),
        params: None,
    }];
    for (i, (spec, shape)) in specs.iter().zip(shapes).enumerate() {
        rows.push(Row {
            index: (i + 1).to_string(),
            label: spec.label(),
            short: short_label(spec, ascii),
            shape: shape
                .as_ref()
                .map(|s| shape_text(s))
                .map_err(|e| format!("{} {e}", g.bad)),
            params: Some(spec.param_count()),
        });
    }
    rows
}

/// "which layer to add as layer 3 (after the selection)? 1 Linear 2 Conv2d …",
/// what the highlighted choice adds, or one short line when the pane is narrow.
fn chooser_lines(
    kind: usize,
    before: bool,
    at: usize,
    adds: &LayerSpec,
    w: usize,
    g: &Glyphs,
) -> Vec<Line<'static>> {
    let place = if before { "before" } else { "after" };
    let long = format!(
        "which layer to add as layer {} ({place} the selection)?",
        at + 1
    );
    let short = format!("add which layer as layer {}?", at + 1);
    let mut lines = vec![Line::styled(
        fit(pick(&[&long, &short], w), w, g.more),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    let params = match adds.param_count() {
        0 => String::new(),
        n => format!(", {} params", format::count(n)),
    };
    let long = format!("Enter adds {}{params}", adds.label());
    let short = format!("adds {}{params}", short_label(adds, g.ascii));
    let shortest = format!("adds {}", short_label(adds, g.ascii));
    let what = pick(&[&long, &short, &shortest], w).to_string();
    // options as units that do not split across lines
    let mut line: Vec<Span<'static>> = Vec::new();
    let mut line_w = 0;
    let mut option_lines: Vec<Line<'static>> = Vec::new();
    for (i, k) in LayerKind::ALL.iter().enumerate() {
        let text = format!(" {} {} ", i + 1, k.name());
        let tw = width_of(&text);
        if line_w + tw > w && !line.is_empty() {
            option_lines.push(Line::from(std::mem::take(&mut line)));
            line_w = 0;
        }
        let style = if i == kind {
            Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        line.push(Span::styled(text, style));
        line_w += tw;
    }
    if !line.is_empty() {
        option_lines.push(Line::from(line));
    }
    let what = Line::styled(fit(&what, w, g.more), Style::new().fg(Color::Cyan));
    if option_lines.len() <= 2 {
        lines.extend(option_lines);
        lines.push(what);
    } else {
        // narrow: one line with the current choice
        let name = LayerKind::ALL.get(kind).map_or("?", |k| k.name());
        let (l, r) = if g.ascii { ("<", ">") } else { ("‹", "›") };
        let text = format!("{l} {} {name} {r} of {}", kind + 1, LayerKind::ALL.len());
        lines.push(Line::styled(
            fit(&text, w, g.more),
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        ));
        lines.push(what);
    }
    lines
}

/// "edit layer 4, Conv2d: in channels 32 · [out channels 64▏] · kernel 3 · …", or the focused field alone.
fn editor_lines(ed: &Editor, w: usize, g: &Glyphs) -> Vec<Line<'static>> {
    let long = format!("edit layer {} ({}):", ed.index + 1, ed.original.label());
    let short = format!(
        "edit layer {} ({}):",
        ed.index + 1,
        short_label(&ed.original, g.ascii)
    );
    let head = pick(&[&long, &short], w);
    let mut lines = vec![Line::styled(
        fit(head, w, g.more),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    let focus = Style::new()
        .fg(Color::Black)
        .bg(Color::Cyan)
        .add_modifier(Modifier::BOLD);
    let mut spans: Vec<Span<'static>> = Vec::new();
    for (i, f) in ed.fields.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(" · "));
        }
        let text = format!(" {} {} ", f.name, ed.shown(i, g.cursor));
        spans.push(Span::styled(
            text,
            if i == ed.field { focus } else { Style::new() },
        ));
    }
    let full = Line::from(spans);
    if full.width() <= w {
        lines.push(full);
    } else if let Some(f) = ed.fields.get(ed.field) {
        let text = format!(" {} = {} ", f.name, ed.shown(ed.field, g.cursor));
        let pos = format!(" ({}/{}, Tab next)", ed.field + 1, ed.fields.len());
        lines.push(Line::from(vec![
            Span::styled(fit(&text, w, g.more), focus),
            Span::raw(pos),
        ]));
    }
    lines
}
