//! Text helpers the panes share: how many terminal cells a string takes, and
//! greedy word wrap to a pane's width (the Loss pane's failure message, the
//! Model pane's "fix layer …" reasons, the Conv/Pool pane's arithmetic and
//! notes all wrap the same way).
//!
//! Widths are display cells (ratatui's `Span::width`, i.e. `unicode-width`),
//! not `char`s: the panes write `✗`, `·` and `→` (one cell each) and a
//! learner's data path may hold wider characters.

use ratatui::text::Span;

/// Terminal cells `s` takes.
pub(crate) fn width_of(s: &str) -> usize {
    Span::raw(s).width()
}

/// Greedy word wrap into lines of at most `width` cells. Words are split at
/// whitespace (so a multi-line error message flows as one paragraph); a word
/// wider than a line is cut into pieces that fit. No text, no lines.
pub(crate) fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word = word;
        while width_of(word) > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            let (head, rest) = split_at_width(word, width);
            lines.push(head.to_string());
            word = rest;
        }
        let need = width_of(&line) + usize::from(!line.is_empty()) + width_of(word);
        if need > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// `s` split after as many characters as fit in `width` cells (at least one,
/// so cutting a word always moves on).
pub(crate) fn split_at_width(s: &str, width: usize) -> (&str, &str) {
    let mut used = 0;
    for (i, ch) in s.char_indices() {
        used += width_of(ch.encode_utf8(&mut [0; 4]));
        if used > width && i > 0 {
            return s.split_at(i);
        }
    }
    (s, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_wrap_and_long_words_are_cut() {
        assert_eq!(
            wrap_words("the loss became NaN", 9),
            vec!["the loss", "became", "NaN"]
        );
        assert_eq!(wrap_words("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert!(wrap_words("", 5).is_empty());
    }

    #[test]
    fn widths_are_cells_not_bytes_or_chars() {
        assert_eq!(width_of("✗ fix"), 5);
        assert_eq!(wrap_words("✗ fix layer 2", 6), vec!["✗ fix", "layer", "2"]);
        // two cells per character: a 4-cell line holds two of them
        assert_eq!(wrap_words("漢字漢字漢", 4), vec!["漢字", "漢字", "漢"]);
        // any whitespace separates words; runs of it count once
        assert_eq!(wrap_words("  build\nlog:\t x  ", 20), vec!["build log: x"]);
        // a cell too narrow for a wide character still moves on
        assert_eq!(wrap_words("漢字", 1), vec!["漢", "字"]);
    }
}
