//! The Model pane's keys, mode by mode (browse, chooser, field editor), and
//! the list edits they make. Every edit that changes `specs` first saves the
//! old list, so `u` can take it back.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::{offered_fix, Editor, LayerKind, Mode, ModelPane};
use crate::nn::LayerSpec;
use crate::tui::keymap;

/// Edits `u` can take back.
const UNDO_DEPTH: usize = 100;

/// This pane's keys, for the help (`?`): (keys, what they do).
pub const KEYS: &[(&str, &str)] = &[
    ("j / k", "select the next / previous layer (open: also down / up)"),
    ("g / G", "select the first / last layer"),
    ("a / i", "add a layer after / before the selection"),
    ("d", "delete the selected layer"),
    ("J / K", "move the selected layer down / up"),
    ("e", "edit the selected layer (open: also Enter)"),
    ("u", "undo the last change"),
    (
        "f",
        "fix the next layer's in_features / in_channels when an edit changed its input (the pane offers it)",
    ),
    ("adding", "left / right or 1-8 choose the kind, Enter adds, Esc cancels"),
    (
        "editing",
        "Tab or left / right: field; up / down or digits: value; Enter applies, Esc cancels",
    ),
];

impl ModelPane {
    /// Keys for this pane; true if used. Global keys (q ? s r Space + - l, and Tab/Esc
    /// while browsing) are left alone.
    pub fn handle_key(&mut self, key: KeyEvent) -> bool {
        if key.kind == KeyEventKind::Release
            || key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return false;
        }
        match self.mode {
            Mode::Browse => self.browse_key(key),
            Mode::Choose { .. } => self.choose_key(key),
            Mode::Edit(_) => self.edit_key(key),
        }
    }

    fn browse_key(&mut self, key: KeyEvent) -> bool {
        let shift = key.modifiers.contains(KeyModifiers::SHIFT);
        self.note = None;
        match key.code {
            KeyCode::Up if shift => self.move_selected(true),
            KeyCode::Down if shift => self.move_selected(false),
            KeyCode::Char('K') => self.move_selected(true),
            KeyCode::Char('J') => self.move_selected(false),
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(self.specs.len().saturating_sub(1))
            }
            KeyCode::Home | KeyCode::Char('g') => self.selected = 0,
            KeyCode::End | KeyCode::Char('G') => self.selected = self.specs.len().saturating_sub(1),
            KeyCode::Char('a') => {
                self.mode = Mode::Choose {
                    kind: 0,
                    before: false,
                }
            }
            KeyCode::Char('i') => {
                self.mode = Mode::Choose {
                    kind: 0,
                    before: true,
                }
            }
            KeyCode::Char('d') | KeyCode::Delete => self.remove(),
            KeyCode::Char('e') | KeyCode::Enter => self.open_editor(),
            KeyCode::Char('u') => self.undo(),
            KeyCode::Char('f') => self.apply_fix(),
            _ => return false,
        }
        true
    }

    fn choose_key(&mut self, key: KeyEvent) -> bool {
        let Mode::Choose { kind, before } = self.mode else {
            return false;
        };
        let n = LayerKind::ALL.len();
        match key.code {
            KeyCode::Left | KeyCode::Up | KeyCode::BackTab => {
                self.mode = Mode::Choose {
                    kind: (kind + n - 1) % n,
                    before,
                }
            }
            KeyCode::Right | KeyCode::Down | KeyCode::Tab => {
                self.mode = Mode::Choose {
                    kind: (kind + 1) % n,
                    before,
                }
            }
            KeyCode::Char(c @ '1'..='8') => {
                let k = c as usize - '1' as usize;
                self.insert(k, before);
            }
            KeyCode::Enter => self.insert(kind, before),
            KeyCode::Esc => self.mode = Mode::Browse,
            // swallow the rest, so a stray key cannot delete or move layers while choosing
            _ => return keymap::intent(&key, true).is_none(),
        }
        true
    }

    fn edit_key(&mut self, key: KeyEvent) -> bool {
        let Mode::Edit(ed) = &mut self.mode else {
            return false;
        };
        let single = ed.fields.len() == 1;
        let before = ed.error.take();
        match key.code {
            KeyCode::Esc => {
                self.mode = Mode::Browse;
                return true;
            }
            KeyCode::Enter => return self.apply_edit(),
            KeyCode::Tab => ed.move_field(true),
            KeyCode::BackTab => ed.move_field(false),
            // with one field there is nothing to move to, so ←/→ change its value
            KeyCode::Right if single => ed.step(false),
            KeyCode::Left if single => ed.step(true),
            KeyCode::Right => ed.move_field(true),
            KeyCode::Left => ed.move_field(false),
            KeyCode::Up => ed.step(true),
            KeyCode::Down => ed.step(false),
            KeyCode::Char(d @ '0'..='9') => ed.type_digit(d),
            KeyCode::Backspace => ed.backspace(),
            _ => {
                ed.error = before;
                return keymap::intent(&key, true).is_none();
            }
        }
        true
    }

    fn apply_edit(&mut self) -> bool {
        let Mode::Edit(ed) = &mut self.mode else {
            return false;
        };
        match ed.build() {
            Ok(spec) => {
                let index = ed.index;
                self.mode = Mode::Browse;
                if self.specs.get(index) != Some(&spec) {
                    self.push_undo();
                    if let Some(slot) = self.specs.get_mut(index) {
                        *slot = spec;
                    }
                }
                self.selected = index;
            }
            Err(why) => ed.error = Some(why),
        }
        true
    }

    fn open_editor(&mut self) {
        match self.specs.get(self.selected) {
            None => self.note = Some("no layer to edit: a adds one".into()),
            Some(LayerSpec::Flatten) => self.note = Some("Flatten has nothing to set".into()),
            Some(spec) => self.mode = Mode::Edit(Editor::new(self.selected, spec)),
        }
    }

    /// `f`: set the stale `in_features`/`in_channels` that [`offered_fix`] found.
    fn apply_fix(&mut self) {
        match offered_fix(&self.specs, &self.input_shape) {
            Some((i, spec)) => {
                self.push_undo();
                let old = std::mem::replace(&mut self.specs[i], spec);
                self.note = Some(format!(
                    "layer {} now {} (was {}); u undoes",
                    i + 1,
                    self.specs[i].label(),
                    old.label()
                ));
                self.selected = i;
            }
            None => self.note = Some("nothing to fix: every layer takes what it gets".into()),
        }
    }

    fn push_undo(&mut self) {
        if self.undo.len() >= UNDO_DEPTH {
            self.undo.remove(0);
        }
        self.undo.push((self.specs.clone(), self.selected));
    }

    fn undo(&mut self) {
        match self.undo.pop() {
            Some((specs, selected)) => {
                self.specs = specs;
                self.selected = selected.min(self.specs.len().saturating_sub(1));
                self.note = Some("undone".into());
            }
            None => self.note = Some("nothing to undo".into()),
        }
    }

    fn remove(&mut self) {
        if self.selected >= self.specs.len() {
            self.note = Some("no layer to delete".into());
            return;
        }
        self.push_undo();
        let gone = self.specs.remove(self.selected);
        self.note = Some(format!(
            "deleted layer {} ({}); u undoes",
            self.selected + 1,
            gone.label()
        ));
        self.selected = self.selected.min(self.specs.len().saturating_sub(1));
    }

    fn move_selected(&mut self, up: bool) {
        let i = self.selected;
        let j = if up { i.checked_sub(1) } else { Some(i + 1) };
        match j {
            Some(j) if i < self.specs.len() && j < self.specs.len() => {
                self.push_undo();
                self.specs.swap(i, j);
                self.selected = j;
            }
            _ => {
                self.note = Some(if up {
                    "already the first layer".into()
                } else {
                    "already the last layer".into()
                })
            }
        }
    }

    fn insert(&mut self, kind: usize, before: bool) {
        let at = self.insert_at(before);
        let spec = self.new_layer(kind, at);
        self.push_undo();
        self.specs.insert(at, spec);
        self.selected = at;
        self.mode = Mode::Browse;
        self.note = Some(format!(
            "added layer {}: {}",
            at + 1,
            self.specs[at].label()
        ));
    }
}
