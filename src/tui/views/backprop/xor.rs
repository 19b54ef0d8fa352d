//! The backprop view's second page: the XOR MLP (Linear(2,2) → σ →
//! Linear(2,1) → σ, BCE) on one XOR row, its forward pass, then each
//! gradient as a chain-rule product, one per keypress, down to every
//! parameter (see [`crate::explain::backprop_mlp`]).

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget, Wrap};

use crate::explain::backprop_mlp::{
    backward, forward, forward_lines, step_line, MlpParams, MlpStep, XOR_ROWS,
};
use crate::tui::views::plain;

/// Which row, how many products shown, and the weights.
pub struct XorState {
    pub params: Option<MlpParams>,
    /// The XOR row, 0..4.
    pub row: usize,
    /// Products shown, 0..=steps.
    pub cursor: usize,
}

impl XorState {
    pub fn new(params: Option<MlpParams>) -> XorState {
        XorState {
            params,
            row: 1,
            cursor: 0,
        }
    }

    /// The backward pass on the chosen row.
    pub fn steps(&self) -> Vec<MlpStep> {
        match &self.params {
            Some(m) => {
                let (x, y) = XOR_ROWS[self.row];
                backward(m, &forward(m, x, y))
            }
            None => Vec::new(),
        }
    }

    /// →/Space/n, ←/p, Home/End, r, 1-4 and ↑/↓ (the row).
    pub fn handle_key(&mut self, key: KeyEvent) -> bool {
        let n = self.steps().len();
        match key.code {
            KeyCode::Right | KeyCode::Char(' ') | KeyCode::Char('n') => {
                self.cursor = (self.cursor + 1).min(n)
            }
            KeyCode::Left | KeyCode::Char('p') => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Home | KeyCode::Char('r') => self.cursor = 0,
            KeyCode::End => self.cursor = n,
            KeyCode::Char(c @ '1'..='4') => {
                self.row = c as usize - '1' as usize;
                self.cursor = 0;
            }
            KeyCode::Up => {
                self.row = (self.row + 3) % 4;
                self.cursor = 0;
            }
            KeyCode::Down => {
                self.row = (self.row + 1) % 4;
                self.cursor = 0;
            }
            _ => return false,
        }
        true
    }
}

/// The page: the network, the row, the forward pass, then the products.
pub fn render(s: &XorState, ascii: bool, area: Rect, buf: &mut Buffer) {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let dim = Style::new().fg(Color::DarkGray);
    let Some(m) = &s.params else {
        return Paragraph::new("the xor-mlp lesson's weights could not be made").render(area, buf);
    };
    let (x, y) = XOR_ROWS[s.row];
    let f = forward(m, x, y);
    let steps = backward(m, &f);
    let mut lines = vec![
        Line::styled(
            format!(
                "Linear(2,2) → σ → Linear(2,1) → σ, BCE on XOR row {} of 4 (keys 1-4), xor-mlp's starting weights",
                s.row + 1
            ),
            bold,
        ),
    ];
    lines.extend(forward_lines(m, &f).into_iter().map(Line::raw));
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!(
            "Backward, one product per → ({} of {}); σ′(z) = σ(z)(1−σ(z)):",
            s.cursor,
            steps.len()
        ),
        bold,
    ));
    let shown = &steps[..s.cursor.min(steps.len())];
    let rows = |l: &Line| {
        let w = l.width().max(1);
        w.div_ceil(usize::from(area.width.max(1)))
    };
    let texts: Vec<(String, Style)> = shown
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let mut text = format!("  {}", step_line(st));
            if let Some((name, k)) = st.param {
                text.push_str(&format!("   [{name}[{k}]]"));
            }
            let style = if i + 1 == shown.len() {
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
            } else if st.param.is_some() {
                Style::new().fg(Color::Green)
            } else {
                Style::new()
            };
            (text, style)
        })
        .collect();
    // the newest product last and highlighted; the oldest go first when room runs out
    let used: usize = lines.iter().map(rows).sum();
    let mut room = usize::from(area.height).saturating_sub(used + 2);
    let mut keep = Vec::new();
    for (text, style) in texts.into_iter().rev() {
        let line = Line::styled(text, style);
        let r = rows(&line);
        if r > room {
            break;
        }
        room -= r;
        keep.push(line);
    }
    lines.extend(keep.into_iter().rev());
    if s.cursor >= steps.len() {
        lines.push(Line::styled(
            "Every parameter's gradient on this row (the lesson's cost averages the 4 rows'); \
             the engine's backward() gives the same.",
            dim,
        ));
    }
    if ascii {
        lines = plain::ascii_lines(lines);
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(area, buf);
}
