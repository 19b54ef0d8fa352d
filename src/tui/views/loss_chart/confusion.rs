//! The Loss pane's `C` view: the held-out confusion matrix (rows: the true
//! label, columns: the predicted class) with each class's accuracy at the
//! end of its row, and the cursor cell whose digits Enter sends to the
//! Dataset pane. Too small for the matrix (the 80×24 overview), it says the
//! accuracy, the most confused pair and the per-class accuracies in words.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::{notice, View};
use crate::data::mnist::NUM_CLASSES;

/// Rows the full matrix needs: a title, the column header, ten rows, a footer.
const FULL_ROWS: u16 = 13;

pub(super) fn render(v: &View, area: Rect, buf: &mut Buffer) {
    let m = v.cx.mistakes;
    if m.latest.is_none() {
        notice(
            "confusion matrix: after the first epoch (s trains)",
            area,
            buf,
        );
        return;
    }
    let c = &m.confusion;
    let dim = Style::new().fg(Color::DarkGray);
    let when = match m.history.last() {
        Some((e, _)) => format!("after epoch {e}"),
        None => "of the opened weights".into(),
    };
    let per_class = c.per_class();
    let (cl, cp) = m.cursor;
    let cell_n = c.counts[cl][cp];
    let widest = c.counts.iter().flatten().max().copied().unwrap_or(0);
    let cw = widest.to_string().len().max(2) + 1;
    let matrix_w = 3 + cw * NUM_CLASSES + 7;
    if area.height < FULL_ROWS || (area.width as usize) < matrix_w {
        let mut lines = vec![Line::raw(format!(
            "held-out {when}: {:.1} % right",
            c.accuracy() * 100.0
        ))];
        if let Some((l, p, n)) = c.worst() {
            lines.push(Line::raw(format!(
                "most confused: {l} taken for {p} ({n}x)"
            )));
        }
        let parts: Vec<String> = per_class
            .iter()
            .enumerate()
            .filter_map(|(k, a)| a.map(|a| format!("{k}:{:.0}%", a * 100.0)))
            .collect();
        lines.push(Line::raw(format!("per class {}", parts.join(" "))));
        lines.push(Line::styled(
            "Enter opens the matrix · c charts · m (Dataset) next mistake",
            dim,
        ));
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .render(area, buf);
        return;
    }
    let mut lines = vec![
        Line::styled(
            format!(
                "held-out confusion {when}: rows true label, columns predicted · {:.1} % right",
                c.accuracy() * 100.0
            ),
            dim,
        ),
        {
            let mut head = format!("{:>3}", "");
            for k in 0..NUM_CLASSES {
                head.push_str(&format!("{k:>cw$}"));
            }
            head.push_str("    acc");
            Line::styled(head, Style::new().add_modifier(Modifier::BOLD))
        },
    ];
    for (l, row) in c.counts.iter().enumerate() {
        let mut spans = vec![Span::styled(
            format!("{l:>2} "),
            Style::new().add_modifier(Modifier::BOLD),
        )];
        for (p, &n) in row.iter().enumerate() {
            let mut style = if l == p {
                Style::new().fg(Color::Green)
            } else if n > 0 {
                Style::new().fg(Color::LightRed)
            } else {
                dim
            };
            if (l, p) == (cl, cp) {
                style = style.add_modifier(Modifier::REVERSED | Modifier::BOLD);
            }
            let text = if n == 0 && l != p {
                "·".to_string()
            } else {
                n.to_string()
            };
            spans.push(Span::styled(format!("{text:>cw$}"), style));
        }
        let acc = per_class[l].map_or("  –".into(), |a| format!("{:>6.1}%", a * 100.0));
        spans.push(Span::raw(acc));
        lines.push(Line::from(spans));
    }
    lines.push(Line::styled(
        format!(
            "cell {cl}→{cp}: {cell_n} digit{} · arrows move · Enter browses them in the Dataset pane · c charts",
            if cell_n == 1 { "" } else { "s" }
        ),
        Style::new().fg(Color::Yellow),
    ));
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(area, buf);
}
