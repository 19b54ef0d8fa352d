//! The Dataset pane: browse the MNIST images (placeholder, to be filled in).

use crossterm::event::KeyEvent;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Paragraph, Widget};

use super::pane_block;
use crate::data::mnist::Mnist;
use crate::tui::app::App;

/// The Dataset pane's own state.
pub struct DatasetPane {
    /// Index of the shown image in the held-out set.
    pub index: usize,
}

impl DatasetPane {
    pub fn new(_data: &Mnist) -> Self {
        DatasetPane { index: 0 }
    }

    /// Keys for this pane; true if used.
    pub fn handle_key(&mut self, _key: KeyEvent, _data: &Mnist) -> bool {
        false
    }
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer, focused: bool, _zoomed: bool) {
    Paragraph::new(app.data.source.clone()).block(pane_block("Dataset", focused)).render(area, buf);
}
