//! The form `e` opens in the XOR lessons (see `tui::hand_weights`), in the
//! Model pane's place: each parameter as the course writes the tensor,
//! one bracketed row per matrix row, the field being typed highlighted,
//! the keys, and why the last Enter was refused.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use crate::tui::hand_weights::HandEdit;

/// The form's lines.
pub(super) fn lines(form: &HandEdit, width: u16) -> Vec<Line<'static>> {
    let dim = Style::new().fg(Color::DarkGray);
    let long = "Type the weights: Tab/↓ next field, Enter sets them, Esc leaves";
    let keys = if long.chars().count() <= usize::from(width) {
        long
    } else {
        "Tab/↓ next · Enter sets · Esc leaves"
    };
    let mut lines = vec![Line::styled(
        keys,
        Style::new().add_modifier(Modifier::BOLD),
    )];
    // every field as wide as the widest number (a column lines up)
    let cell = form
        .texts
        .iter()
        .map(|t| t.chars().count())
        .max()
        .unwrap_or(1)
        .clamp(3, 9)
        + 1;
    let label_w = form.params.iter().map(|p| p.label.len()).max().unwrap_or(1);
    let mut field = 0;
    for p in &form.params {
        let (rows, cols) = match p.shape.as_slice() {
            [r, c] => (*r, *c),
            [n] => (1, *n),
            _ => (1, p.shape.iter().product()),
        };
        for r in 0..rows {
            let head = if r == 0 {
                format!("{:>label_w$} = [", p.label)
            } else {
                format!("{:>label_w$}   [", "")
            };
            let mut spans = vec![Span::raw(head)];
            for _ in 0..cols {
                let text = form.texts.get(field).cloned().unwrap_or_default();
                let shown: String = text.chars().take(cell).collect();
                let style = if field == form.at {
                    Style::new()
                        .fg(Color::Yellow)
                        .add_modifier(Modifier::REVERSED | Modifier::BOLD)
                } else {
                    Style::new()
                };
                spans.push(Span::raw(" "));
                spans.push(Span::styled(format!("{shown:>cell$}"), style));
                field += 1;
            }
            spans.push(Span::raw(" ]"));
            lines.push(Line::from(spans));
        }
    }
    let typing = form.texts.get(form.at).cloned().unwrap_or_default();
    lines.push(Line::from(vec![
        Span::styled(format!("{} = ", form.field_name(form.at)), dim),
        Span::styled(
            format!("{typing}_"),
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ),
    ]));
    if let Some(e) = &form.error {
        lines.push(Line::styled(
            e.clone(),
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    }
    lines
}
