//! The help overlay (`?`): the keys of the focused pane (or of the small
//! lessons' views) first, then the keys that work everywhere. The box takes
//! the terminal's width up to [`HELP_MAX_WIDTH`], descriptions wrap under
//! their own column (no line is cut), and a list taller than the box
//! scrolls with ↑/↓/PgUp/PgDn and says how much is hidden (`▼ 3 more`).
//!
//! Each pane keeps its own table next to its key handling (`KEYS` in
//! `dataset`, `model_builder`, `loss_chart`, `conv_viz`, `stepper_view`), so
//! the help and the keys cannot drift apart one pane at a time.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget};

use super::text::{width_of, wrap_words};
use super::{conv_viz, dataset, loss_chart, model_builder, pane_block, stepper_view};
use crate::tui::app::{App, PaneId};
use crate::tui::keymap::HELP;

/// The widest the help box grows (longer lines read badly).
pub const HELP_MAX_WIDTH: u16 = 100;

/// The widest the keys column gets; longer keys wrap inside it.
const KEY_COL_MAX: usize = 16;

/// The focused pane's (or view's) name and its keys.
pub fn pane_keys(app: &App) -> (String, &'static [(&'static str, &'static str)]) {
    if app.backprop.is_some() {
        return ("Backprop view".into(), super::backprop::KEYS);
    }
    if app.prompt.is_some() {
        return ("Tensor prompt".into(), super::prompt::KEYS);
    }
    let keys = match app.focus {
        _ if app.race.is_some() => super::race_view::KEYS,
        PaneId::Dataset | PaneId::Model if app.stepper.is_some() => stepper_view::KEYS,
        PaneId::Dataset if app.canvas.on => crate::tui::canvas::KEYS,
        PaneId::Dataset => dataset::KEYS,
        PaneId::Model => model_builder::KEYS,
        PaneId::Loss => loss_chart::KEYS,
        PaneId::Conv => conv_viz::KEYS,
    };
    let name = if app.zoomed {
        format!("{} pane (open, full screen)", app.focus.title())
    } else {
        format!("{} pane", app.focus.title())
    };
    (name, keys)
}

/// The box the help takes in `area` (the screen above the status line).
pub fn help_rect(area: Rect) -> Rect {
    let w = area.width.min(HELP_MAX_WIDTH);
    Rect::new(area.x + (area.width - w) / 2, area.y, w, area.height)
}

/// Every line of the help for a box `inner_width` cells wide.
pub fn help_lines(app: &App, inner_width: u16) -> Vec<Line<'static>> {
    let (name, keys) = pane_keys(app);
    let head = Style::new().add_modifier(Modifier::BOLD);
    let mut lines = vec![Line::styled(name, head)];
    push_table(&mut lines, keys, inner_width);
    let notes = app.lesson.notes;
    if !notes.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format!("What to watch in {}", app.lesson.name),
            head,
        ));
        lines.extend(
            wrap_words(notes, usize::from(inner_width))
                .into_iter()
                .map(Line::raw),
        );
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("Everywhere", head));
    push_table(&mut lines, HELP, inner_width);
    lines
}

/// The table's rows, the keys right-aligned in their column and each
/// description word-wrapped to the rest of the width.
fn push_table(lines: &mut Vec<Line<'static>>, table: &[(&str, &str)], width: u16) {
    let width = usize::from(width);
    let key_w = table
        .iter()
        .map(|(k, _)| width_of(k))
        .max()
        .unwrap_or(0)
        .min(KEY_COL_MAX)
        .min(width / 3);
    let what_w = width.saturating_sub(key_w + 2).max(1);
    let key_style = Style::new().fg(Color::Cyan);
    for (k, what) in table {
        let keys = wrap_words(k, key_w.max(1));
        let whats = wrap_words(what, what_w);
        for i in 0..keys.len().max(whats.len()) {
            let key = keys.get(i).map_or("", String::as_str);
            let pad = key_w.saturating_sub(width_of(key));
            lines.push(Line::from(vec![
                Span::styled(format!("{}{key}  ", " ".repeat(pad)), key_style),
                Span::raw(whats.get(i).cloned().unwrap_or_default()),
            ]));
        }
    }
}

/// Rows of the box that hold help lines.
fn visible_rows(area: Rect) -> usize {
    usize::from(help_rect(area).height.saturating_sub(2))
}

/// The furthest the help scrolls in `area` (the screen above the status
/// line): when it does not fit, the box's last row says what is hidden.
pub fn max_scroll(app: &App, area: Rect) -> usize {
    let inner_w = help_rect(area).width.saturating_sub(2);
    let total = help_lines(app, inner_w).len();
    let rows = visible_rows(area);
    if total <= rows {
        0
    } else {
        total - rows.saturating_sub(1).max(1)
    }
}

/// Rows the help scrolls by on PgUp/PgDn.
pub fn page(area: Rect) -> usize {
    visible_rows(area).saturating_sub(2).max(1)
}

/// Draw the help over `area`, scrolled down `scroll` lines.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let rect = help_rect(area);
    if rect.width < 4 || rect.height < 3 {
        return;
    }
    let inner_w = rect.width.saturating_sub(2);
    let all = help_lines(app, inner_w);
    let rows = visible_rows(area);
    let (start, shown, below) = if all.len() <= rows {
        (0, all.len(), 0)
    } else {
        let shown = rows.saturating_sub(1).max(1);
        let start = app.help_scroll.min(all.len() - shown);
        (start, shown, all.len() - start - shown)
    };
    let mut lines: Vec<Line<'static>> = all.into_iter().skip(start).take(shown).collect();
    if below > 0 || start > 0 {
        lines.push(scroll_line(start, below, app.ascii));
    }
    let h = (lines.len() as u16 + 2).min(rect.height);
    let rect = Rect { height: h, ..rect };
    Clear.render(rect, buf);
    let close = if app.ascii {
        "Keys (? or Esc closes, up/down scroll)"
    } else {
        "Keys (? or Esc closes, ↑/↓ scroll)"
    };
    Paragraph::new(lines)
        .block(pane_block(close, false, app.ascii))
        .render(rect, buf);
}

/// "▲ 4 above  ▼ 12 more (↓/PgDn)", what the scroll hides.
pub fn scroll_line(above: usize, below: usize, ascii: bool) -> Line<'static> {
    let (up, down) = if ascii { ("^", "v") } else { ("▲", "▼") };
    let mut parts = Vec::new();
    if above > 0 {
        parts.push(format!("{up} {above} above"));
    }
    if below > 0 {
        parts.push(format!("{down} {below} more"));
    }
    Line::styled(parts.join("  "), Style::new().fg(Color::Yellow))
}
