//! A one-line text editor (the backprop view's expression and values, the
//! tensor prompt's input): characters insert at the cursor, ←/→ Home/End
//! move, Backspace/Delete remove, Ctrl-U clears. The owner handles Enter,
//! Esc and ↑/↓.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::{Modifier, Style};
use ratatui::text::Span;

/// The text and the cursor (a char index, 0..=len).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LineEdit {
    pub text: String,
    pub cursor: usize,
}

impl LineEdit {
    /// `text` with the cursor at its end.
    pub fn new(text: &str) -> LineEdit {
        LineEdit {
            text: text.to_string(),
            cursor: text.chars().count(),
        }
    }

    fn byte(&self, at: usize) -> usize {
        self.text
            .char_indices()
            .nth(at)
            .map_or(self.text.len(), |(i, _)| i)
    }

    /// Apply an editing key; false for keys it does not edit with.
    pub fn handle_key(&mut self, key: KeyEvent) -> bool {
        let len = self.text.chars().count();
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('u') if ctrl => *self = LineEdit::default(),
            KeyCode::Char('a') if ctrl => self.cursor = 0,
            KeyCode::Char('e') if ctrl => self.cursor = len,
            KeyCode::Char(c) if !ctrl => {
                let at = self.byte(self.cursor);
                self.text.insert(at, c);
                self.cursor += 1;
            }
            KeyCode::Backspace if self.cursor > 0 => {
                let at = self.byte(self.cursor - 1);
                self.text.remove(at);
                self.cursor -= 1;
            }
            KeyCode::Delete if self.cursor < len => {
                let at = self.byte(self.cursor);
                self.text.remove(at);
            }
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(len),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = len,
            KeyCode::Backspace | KeyCode::Delete => {}
            _ => return false,
        }
        true
    }

    /// The text as spans with the cursor drawn as a reversed cell, cut to
    /// `width` cells around the cursor.
    pub fn spans(&self, width: usize) -> Vec<Span<'static>> {
        let chars: Vec<char> = self.text.chars().collect();
        let width = width.max(1);
        // keep the cursor in view: the text scrolls left past it
        let start = (self.cursor + 1).saturating_sub(width);
        let before: String = chars[start..self.cursor].iter().collect();
        let at: String = chars
            .get(self.cursor)
            .map_or(" ".to_string(), |c| c.to_string());
        let room = width.saturating_sub(self.cursor - start + 1);
        let after: String = chars.iter().skip(self.cursor + 1).take(room).collect();
        vec![
            Span::raw(before),
            Span::styled(at, Style::new().add_modifier(Modifier::REVERSED)),
            Span::raw(after),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn typing_moves_and_deletes_at_the_cursor() {
        let mut e = LineEdit::new("w*x");
        e.handle_key(k(KeyCode::Left));
        e.handle_key(k(KeyCode::Char('2')));
        assert_eq!((e.text.as_str(), e.cursor), ("w*2x", 3));
        e.handle_key(k(KeyCode::Backspace));
        e.handle_key(k(KeyCode::Home));
        e.handle_key(k(KeyCode::Delete));
        assert_eq!((e.text.as_str(), e.cursor), ("*x", 0));
        e.handle_key(k(KeyCode::Char('σ')));
        e.handle_key(k(KeyCode::End));
        e.handle_key(k(KeyCode::Char('q')));
        assert_eq!(e.text, "σ*xq");
        assert!(!e.handle_key(k(KeyCode::Enter)));
    }

    #[test]
    fn a_long_line_scrolls_to_keep_the_cursor_in_view() {
        let e = LineEdit::new("abcdefghij");
        let s: String = e.spans(5).iter().map(|s| s.content.to_string()).collect();
        assert_eq!(s, "ghij ");
    }
}
