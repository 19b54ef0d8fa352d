//! The tensor-basics lesson's view: a `>>>` prompt for the course's tensor
//! code, run by [`crate::script`] (what `dl-lab tensor` runs) and printed
//! as PyTorch prints it. The course's lines come filled in one at a time
//! (Enter runs one and fills in the next); anything else can be typed.
//! While the prompt has the keys, every key is typed (q too) but Ctrl-C;
//! Esc gives the keys back to the lab, Enter or i takes them again.

use std::collections::VecDeque;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::line_edit::LineEdit;
use super::text::{split_at_width, width_of, wrap_words};
use super::{pane_block, plain};
use crate::script::{self, lexer, Scope};

/// The view's keys, for the help (`?`).
pub const KEYS: &[(&str, &str)] = &[
    (
        "Enter",
        "run the line (the course's next line is then filled in)",
    ),
    ("↑ / ↓", "earlier lines (history)"),
    ("← → Home End", "move in the line; Backspace/Delete edit it"),
    ("PgUp / PgDn", "scroll the output"),
    ("Esc", "leave the prompt: the lab's keys work again"),
    ("Enter / i", "back to the prompt"),
];

/// What a scrollback line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `>>> code` (or `... code`)
    Code,
    Output,
    /// An error or a warning.
    Error,
}

pub struct PromptPane {
    pub input: LineEdit,
    /// Lines run so far, oldest first.
    pub history: Vec<String>,
    /// Where ↑/↓ are in the history (None: the line being typed).
    hist_pos: Option<usize>,
    /// What was typed before ↑ (given back by ↓ past the newest).
    draft: String,
    pub scrollback: Vec<(Kind, String)>,
    /// A statement still open over several lines (`... `).
    pending: String,
    scope: Scope,
    /// The prompt has the keys.
    pub active: bool,
    /// The course's lines not yet run.
    pub queued: VecDeque<String>,
    /// Rows scrolled up from the newest output.
    pub scroll: usize,
    /// The input is the course's next line, untouched: Enter runs it,
    /// typing a character replaces it.
    pub suggested: bool,
}

impl PromptPane {
    /// A prompt with `code`'s lines to fill in one at a time.
    pub fn new(code: &str) -> PromptPane {
        let queued: VecDeque<String> = code
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.trim().is_empty())
            .map(String::from)
            .collect();
        let input = LineEdit::new(queued.front().map_or("", String::as_str));
        PromptPane {
            input,
            history: Vec::new(),
            hist_pos: None,
            draft: String::new(),
            scrollback: vec![(
                Kind::Output,
                "The course's tensor code on dl-lab's engine (torch and np are ready). \
                 Enter runs the line."
                    .into(),
            )],
            pending: String::new(),
            scope: Scope::new(),
            active: true,
            suggested: !queued.is_empty(),
            queued,
            scroll: 0,
        }
    }

    /// Whether every line the course fills in has been run.
    pub fn done(&self) -> bool {
        self.queued.is_empty()
    }

    /// Run `line` as typed at the prompt, its output into the scrollback.
    pub fn submit(&mut self, line: &str) {
        let mark = if self.pending.is_empty() {
            ">>> "
        } else {
            "... "
        };
        self.scrollback.push((Kind::Code, format!("{mark}{line}")));
        if !line.trim().is_empty() && self.history.last().map(String::as_str) != Some(line) {
            self.history.push(line.to_string());
        }
        if self.queued.front().map(String::as_str) == Some(line) {
            self.queued.pop_front();
        }
        self.pending.push_str(line);
        self.pending.push('\n');
        if lexer::is_incomplete(&self.pending) {
            return;
        }
        let src = std::mem::take(&mut self.pending);
        let (mut out, mut warn) = (Vec::new(), Vec::new());
        let result = script::run_line(&src, &mut self.scope, &mut out, &mut warn);
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        for l in text(&out).lines() {
            self.scrollback.push((Kind::Output, l.to_string()));
        }
        for l in text(&warn).lines() {
            self.scrollback.push((Kind::Error, l.to_string()));
        }
        if let Err(e) = result {
            for l in e.message.lines() {
                self.scrollback.push((Kind::Error, l.to_string()));
            }
        }
        self.scroll = 0;
    }

    /// A key for the prompt; false if it is not the prompt's (it only takes
    /// Enter and i while it does not have the keys).
    pub fn handle_key(&mut self, key: KeyEvent) -> bool {
        if key.kind == KeyEventKind::Release {
            return false;
        }
        if !self.active {
            if matches!(key.code, KeyCode::Enter | KeyCode::Char('i')) {
                self.active = true;
                return true;
            }
            return false;
        }
        match key.code {
            KeyCode::Esc => self.active = false,
            KeyCode::Enter => {
                let line = std::mem::take(&mut self.input).text;
                self.submit(&line);
                self.hist_pos = None;
                let next = if self.pending.is_empty() {
                    self.queued.front().cloned().unwrap_or_default()
                } else {
                    String::new()
                };
                self.suggested = !next.is_empty();
                self.input = LineEdit::new(&next);
            }
            KeyCode::Up => {
                let pos = match self.hist_pos {
                    None if self.history.is_empty() => return true,
                    None => {
                        self.draft = self.input.text.clone();
                        self.history.len() - 1
                    }
                    Some(p) => p.saturating_sub(1),
                };
                self.hist_pos = Some(pos);
                self.suggested = false;
                self.input = LineEdit::new(&self.history[pos]);
            }
            KeyCode::Down => match self.hist_pos {
                Some(p) if p + 1 < self.history.len() => {
                    self.hist_pos = Some(p + 1);
                    self.input = LineEdit::new(&self.history[p + 1]);
                }
                Some(_) => {
                    self.hist_pos = None;
                    self.input = LineEdit::new(&self.draft);
                }
                None => {}
            },
            KeyCode::PageUp => self.scroll = (self.scroll + 5).min(self.scrollback.len()),
            KeyCode::PageDown => self.scroll = self.scroll.saturating_sub(5),
            _ => {
                let typed = matches!(key.code, KeyCode::Char(_))
                    && !key
                        .modifiers
                        .contains(crossterm::event::KeyModifiers::CONTROL);
                if self.suggested && typed {
                    self.input = LineEdit::default();
                }
                self.suggested = false;
                self.input.handle_key(key);
            }
        }
        true
    }

    /// The status line's keys.
    pub fn status_keys(&self) -> &'static [&'static str] {
        if self.active {
            &["Enter run", "↑/↓ history", "Esc leave the prompt"]
        } else {
            &["Enter/i prompt", "L lessons"]
        }
    }
}

/// Draw the prompt into `area`: the scrollback, newest at the bottom, the
/// input line, and what Esc/Enter do.
pub fn render(p: &PromptPane, ascii: bool, area: Rect, buf: &mut Buffer) {
    let block = pane_block(
        "Tensor prompt: the course's PyTorch tensor code on dl-lab's engine",
        true,
        ascii,
    );
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height < 3 || inner.width < 8 {
        return;
    }
    let dim = Style::new().fg(Color::DarkGray);
    let hint = if p.active && p.suggested {
        "the course's next line: Enter runs it, typing replaces it · ↑/↓ history · Esc leaves the prompt"
    } else if p.active {
        "Enter runs · ↑/↓ history · PgUp/PgDn scroll · Esc leaves the prompt (then q quits)"
    } else {
        "the prompt is left: Enter or i goes back to it · q quits · L lessons"
    };
    let mark = if p.pending.is_empty() { ">>> " } else { "... " };
    let mut input = vec![Span::styled(
        mark,
        Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
    )];
    if p.active {
        input.extend(p.input.spans(usize::from(inner.width).saturating_sub(5)));
    } else {
        input.push(Span::styled(p.input.text.clone(), dim));
    }
    // the hint and the scrollback wrap to the pane (nothing is cut at 80
    // columns); the input line keeps its one row
    let width = usize::from(inner.width);
    let hint: Vec<Line> = wrap_words(hint, width)
        .into_iter()
        .map(|l| Line::styled(l, dim))
        .collect();
    let rows = usize::from(inner.height)
        .saturating_sub(1 + hint.len())
        .max(1);
    let end = p.scrollback.len().saturating_sub(p.scroll);
    // enough entries to fill `rows` once wrapped (each takes at least one)
    let start = end.saturating_sub(rows);
    let mut lines: Vec<Line> = p.scrollback[start..end]
        .iter()
        .flat_map(|(kind, text)| {
            let style = match kind {
                Kind::Code => Style::new().fg(Color::Cyan),
                Kind::Output => Style::new(),
                Kind::Error => Style::new().fg(Color::Red),
            };
            fit_rows(text, width)
                .into_iter()
                .map(move |l| Line::styled(l, style))
        })
        .collect();
    let lines = lines.split_off(lines.len().saturating_sub(rows));
    let pad = rows.saturating_sub(lines.len());
    let mut all: Vec<Line> = std::iter::repeat_n(Line::raw(""), pad).collect();
    all.extend(lines);
    all.push(Line::from(input));
    all.extend(hint);
    if ascii {
        all = plain::ascii_lines(all);
    }
    Paragraph::new(all).render(inner, buf);
}

/// `text` in rows of at most `width` cells: prose (the introduction, an
/// error) wraps at words; a line laid out with runs of spaces (a tensor's
/// columns) is cut at the width, keeping its spacing.
fn fit_rows(text: &str, width: usize) -> Vec<String> {
    if width_of(text) <= width || width == 0 {
        return vec![text.to_string()];
    }
    if !text.contains("  ") {
        return wrap_words(text, width);
    }
    let mut rows = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (mut head, mut tail) = split_at_width(rest, width);
        // break between columns, never inside a number: at the last space
        // the row fits, when what comes before it is not all spaces
        if !tail.is_empty() && !tail.starts_with(' ') {
            if let Some(cut) = head.rfind(' ').filter(|&i| !head[..i].trim().is_empty()) {
                (head, tail) = rest.split_at(cut);
            }
        }
        rows.push(head.to_string());
        rest = tail;
    }
    rows
}
