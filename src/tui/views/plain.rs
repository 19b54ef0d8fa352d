//! The lab on plainer terminals, as passes over the finished frame:
//!
//! - `NO_COLOR` ([`monochrome`]): crossterm then writes no colours, so a
//!   shaded picture (cells of '▀' whose colours carry the image) would print
//!   as solid bars. Each such cell becomes a shade character ░▒▓█ by its
//!   brightness (the mean of its two pixel rows), and a highlight made with a
//!   background colour becomes reverse video.
//! - `--ascii` ([`ascii_only`]): the views write ASCII where they know to
//!   (their own `ascii` stand-ins, and [`ascii_text`] for the small lessons'
//!   formulas); this pass is the guarantee that every cell is ASCII, with a
//!   one-cell look-alike for whatever a view still wrote.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};

/// Shades from dark to bright for `NO_COLOR`.
pub const SHADES: [char; 5] = [' ', '░', '▒', '▓', '█'];

/// 0..=1 brightness of a colour the shaded pictures use (the brightest
/// channel, so the signed kernels' blue and red count by magnitude); None for
/// the terminal's own colours.
fn brightness(c: Color) -> Option<f32> {
    match c {
        Color::Rgb(r, g, b) => Some(f32::from(r.max(g).max(b)) / 255.0),
        Color::Black => Some(0.0),
        Color::White => Some(1.0),
        _ => None,
    }
}

/// The shade character for a 0..=1 brightness.
pub fn shade_char(level: f32) -> char {
    let i = (level.clamp(0.0, 1.0) * (SHADES.len() - 1) as f32).round() as usize;
    SHADES[i.min(SHADES.len() - 1)]
}

/// Redraw `area` for a terminal without colours (see the module note).
pub fn monochrome(area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            let Some(cell) = buf.cell_mut((x, y)) else {
                continue;
            };
            if cell.symbol() == "▀" {
                let top = brightness(cell.fg);
                let level = match (top, brightness(cell.bg)) {
                    (Some(t), Some(b)) => (t + b) / 2.0,
                    (Some(t), None) => t,
                    _ => continue,
                };
                cell.set_char(shade_char(level));
            } else if !matches!(cell.bg, Color::Reset | Color::Rgb(..)) {
                // a highlight (selection, badge); shaded number tables stay plain
                cell.modifier.insert(Modifier::REVERSED);
            }
            cell.fg = Color::Reset;
            cell.bg = Color::Reset;
        }
    }
}

/// Replace every non-ASCII cell in `area` with an ASCII look-alike.
pub fn ascii_only(area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            let Some(cell) = buf.cell_mut((x, y)) else {
                continue;
            };
            if !cell.symbol().is_ascii() {
                let c = cell.symbol().chars().next().map_or(' ', ascii_char);
                cell.set_char(c);
            }
        }
    }
}

/// One ASCII cell for a character the views draw.
pub fn ascii_char(c: char) -> char {
    match c {
        '−' | '–' | '—' | '─' | '━' | '═' | '╌' => '-',
        '│' | '┃' | '║' | '‖' | '▏' | '▕' => '|',
        '┌' | '┐' | '└' | '┘' | '┏' | '┓' | '┗' | '┛' | '├' | '┤' | '┬' | '┴' | '┼' | '╭' | '╮'
        | '╯' | '╰' => '+',
        '·' | '•' | '…' | '⋅' => '.',
        '←' | '‹' | '«' => '<',
        '→' | '›' | '»' | '▶' | '►' => '>',
        '↑' | '▲' | '△' => '^',
        '↓' | '▼' | '▽' => 'v',
        '×' | '✗' | '✕' => 'x',
        '✓' | '✔' => 'v',
        '±' => '+',
        '≈' | '≃' => '~',
        '≤' => '<',
        '≥' => '>',
        'θ' => 't',
        '∂' => 'd',
        'σ' => 's',
        'Σ' | '∑' => 'S',
        'η' => 'n',
        'μ' => 'u',
        '²' => '2',
        '′' => '\'',
        '³' => '3',
        '█' | '▓' => '#',
        '▒' => '+',
        '░' => ':',
        '▀' | '▄' | '■' => '#',
        '\u{2800}' => ' ',
        '\u{2801}'..='\u{28ff}' => '.',
        _ => '?',
    }
}

/// `s` with the small lessons' maths written in ASCII: `θ ← θ − lr·∂cost/∂θ`
/// becomes `theta <- theta - lr*dcost/dtheta`.
pub fn ascii_text(s: &str) -> String {
    // a spaced dot separates ("epoch 2 · lr 0.1"); an unspaced one multiplies ("lr·x")
    let s = s.replace(" · ", " | ");
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            'θ' => out.push_str("theta"),
            '←' => out.push_str("<-"),
            '→' => out.push_str("->"),
            '·' => out.push('*'),
            '±' => out.push_str("+/-"),
            '²' => out.push_str("^2"),
            '‖' => out.push_str("||"),
            '…' => out.push_str("..."),
            c if c.is_ascii() => out.push(c),
            c => out.push(ascii_char(c)),
        }
    }
    out
}

/// [`ascii_text`] over every span of `lines`, styles kept.
pub fn ascii_lines(lines: Vec<Line<'static>>) -> Vec<Line<'static>> {
    lines
        .into_iter()
        .map(|line| {
            let spans: Vec<Span<'static>> = line
                .spans
                .iter()
                .map(|s| Span::styled(ascii_text(&s.content), s.style))
                .collect();
            Line { spans, ..line }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_update_formula_reads_in_ascii() {
        assert_eq!(
            ascii_text("θ ← θ − lr·∂cost/∂θ"),
            "theta <- theta - lr*dcost/dtheta"
        );
        assert_eq!(ascii_text("PgDn/PgUp: ±1 image"), "PgDn/PgUp: +/-1 image");
        assert_eq!(ascii_text("epoch 2 · lr 0.1·x"), "epoch 2 | lr 0.1*x");
    }

    #[test]
    fn shades_run_from_blank_to_full() {
        assert_eq!(shade_char(0.0), ' ');
        assert_eq!(shade_char(0.5), '▒');
        assert_eq!(shade_char(1.0), '█');
        assert_eq!(shade_char(f32::NAN.max(0.3)), '░');
    }
}
