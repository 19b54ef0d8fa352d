//! The Conv/Pool pane: a kernel sliding over a digit (placeholder, to be filled in).

use crossterm::event::KeyEvent;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Paragraph, Widget};

use super::pane_block;
use crate::data::mnist::Mnist;
use crate::tui::app::App;

/// The Conv/Pool pane's own state.
pub struct ConvPane {
    pub digit: usize,
}

impl ConvPane {
    pub fn new(_data: &Mnist) -> Self {
        ConvPane { digit: 0 }
    }

    pub fn handle_key(&mut self, _key: KeyEvent, _data: &Mnist) -> bool {
        false
    }
}

pub fn render(_app: &App, area: Rect, buf: &mut Buffer, focused: bool, _zoomed: bool) {
    Paragraph::new("").block(pane_block("Conv/Pool", focused)).render(area, buf);
}
