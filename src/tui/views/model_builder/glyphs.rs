//! The glyphs the Model pane draws, with plain stand-ins for `--ascii`, and
//! text cut to a width: a line that does not fit ends in `…`, and text that
//! comes in several lengths (longest first) is shown in the first that fits.

use crate::tui::views::text::width_of;

/// The glyphs the pane uses, with plain stand-ins for `--ascii`.
pub(super) struct Glyphs {
    pub(super) selected: &'static str,
    pub(super) ok: &'static str,
    pub(super) bad: &'static str,
    pub(super) cursor: &'static str,
    pub(super) more: &'static str,
    pub(super) ascii: bool,
}

impl Glyphs {
    pub(super) fn new(ascii: bool) -> Glyphs {
        if ascii {
            Glyphs {
                selected: ">",
                ok: "ok",
                bad: "x",
                cursor: "_",
                more: "...",
                ascii,
            }
        } else {
            Glyphs {
                selected: "▶",
                ok: "✓",
                bad: "✗",
                cursor: "▏",
                more: "…",
                ascii,
            }
        }
    }
}

/// `s` cut to `w` cells, ending in `more` when cut.
pub(super) fn fit(s: &str, w: usize, more: &str) -> String {
    if width_of(s) <= w {
        return s.to_string();
    }
    let keep = w.saturating_sub(width_of(more));
    let mut out = String::new();
    for ch in s.chars() {
        if width_of(&out) + width_of(ch.encode_utf8(&mut [0; 4])) > keep {
            break;
        }
        out.push(ch);
    }
    if w >= width_of(more) {
        out.push_str(more);
    }
    out
}

/// The first of `candidates` that fits in `w` cells (or the last, cut).
pub(super) fn pick<'a>(candidates: &[&'a str], w: usize) -> &'a str {
    candidates
        .iter()
        .copied()
        .find(|c| width_of(c) <= w)
        .or(candidates.last().copied())
        .unwrap_or("")
}
