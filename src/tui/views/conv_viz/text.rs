//! Text helpers of the Conv/Pool pane: numbers as the pane writes them and
//! lines stacked from the top of an area (word wrap is the views' shared
//! [`wrap_words`](crate::tui::views::text::wrap_words)).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Widget;

use crate::explain::format_number;

/// A number for the pane: rounded to 3 decimals, written as `format_number` does.
pub(crate) fn num(x: f32) -> String {
    format_number((x * 1000.0).round() / 1000.0)
}

/// [`num`] as a factor of a product: negatives in parentheses, `0.51*(-1)`.
pub(crate) fn factor(x: f32) -> String {
    let s = num(x);
    if s.starts_with('-') {
        format!("({s})")
    } else {
        s
    }
}

/// Lines from the top of `area`, as many as fit.
pub(super) fn render_lines(lines: &[Line], area: Rect, buf: &mut Buffer) {
    for (i, line) in lines.iter().enumerate().take(area.height as usize) {
        line.render(
            Rect {
                y: area.y + i as u16,
                height: 1,
                ..area
            },
            buf,
        );
    }
}

/// The rows of `area` from row `y` down.
pub(super) fn rows_from(area: Rect, y: u16) -> Rect {
    Rect {
        y,
        height: area.bottom().saturating_sub(y),
        ..area
    }
}
