//! The Model pane: the layers of the current model as an editable list
//! (placeholder, to be filled in).

use crossterm::event::KeyEvent;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Paragraph, Widget};

use super::pane_block;
use crate::lessons::{Lesson, Task};
use crate::nn::LayerSpec;
use crate::tui::app::App;

/// The Model pane's own state: the layer list being edited.
pub struct ModelPane {
    pub specs: Vec<LayerSpec>,
    pub selected: usize,
}

impl ModelPane {
    pub fn new(lesson: &Lesson) -> Self {
        let specs = match &lesson.task {
            Task::Classifier { layers, .. } => layers.clone(),
            _ => Vec::new(),
        };
        ModelPane { specs, selected: 0 }
    }

    /// Whether a field editor is open (it then sees keys before the global keymap).
    pub fn is_editing(&self) -> bool {
        false
    }

    pub fn handle_key(&mut self, _key: KeyEvent) -> bool {
        false
    }
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer, focused: bool, _zoomed: bool) {
    let text: Vec<String> = app.builder.specs.iter().map(LayerSpec::label).collect();
    Paragraph::new(text.join("\n")).block(pane_block("Model", focused)).render(area, buf);
}
