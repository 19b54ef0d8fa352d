//! The small lessons' views: the function or data with the current fit
//! (in the Dataset pane's place) and the update written out with its
//! numbers (in the Model pane's place). Placeholder, to be filled in.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Paragraph, Widget};

use super::pane_block;
use crate::tui::app::App;

pub fn render_data(app: &App, area: Rect, buf: &mut Buffer, focused: bool) {
    Paragraph::new(app.lesson.title).block(pane_block("Dataset", focused)).render(area, buf);
}

pub fn render_model(app: &App, area: Rect, buf: &mut Buffer, focused: bool) {
    let text = app
        .stepper
        .as_ref()
        .and_then(|s| s.last.as_ref())
        .map(|r| format!("epoch {} cost {:.6}", r.epoch, r.cost))
        .unwrap_or_default();
    Paragraph::new(text).block(pane_block("Model", focused)).render(area, buf);
}
