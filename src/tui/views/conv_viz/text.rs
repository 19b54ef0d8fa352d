//! Text helpers of the Conv/Pool pane: numbers as the pane writes them,
//! greedy word wrap, and lines stacked from the top of an area.

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

/// Greedy word wrap at spaces; words longer than `width` are cut.
pub(super) fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word = word.to_string();
        while word.chars().count() > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            let rest: String = word.chars().skip(width).collect();
            lines.push(word.chars().take(width).collect());
            word = rest;
        }
        let need = line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
        if need > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}
