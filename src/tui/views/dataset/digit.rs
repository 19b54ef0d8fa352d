//! How large the Dataset pane draws the digit (twice, full or half size, as
//! the room allows beside a readable text column) and the digit's matrix at
//! that size: pixels repeated to enlarge, block means to shrink, and in
//! ASCII mode row pairs averaged (one text row per matrix row).

use ratatui::layout::Rect;

use crate::data::mnist::{scale, ImageSet};
use crate::tui::views::shade::{block_mean, cells_needed};

/// Columns between the digit and the text beside it.
pub(super) const GAP: u16 = 2;
/// Narrowest text column worth drawing beside a full-size (or big) / half-size digit.
const TEXT_MIN_FULL: u16 = 24;
const TEXT_MIN_HALF: u16 = 16;
/// How large the digit is drawn: cells per image pixel, across.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Size {
    /// Each pixel twice: 56×28 cells for a 28×28 image, for tall panes.
    Big,
    /// One column per pixel: 28×14 cells.
    Full,
    /// 2×2 pixels averaged: 14×7 cells, for the four-pane overview.
    Half,
}

impl Size {
    /// (repeat, average): each pixel drawn `repeat` times across and down
    /// after averaging blocks of `average` pixels.
    fn factors(self) -> (usize, usize) {
        match self {
            Size::Big => (2, 1),
            Size::Full => (1, 1),
            Size::Half => (1, 2),
        }
    }

    /// Narrowest text column worth drawing beside the digit.
    fn text_min(self) -> u16 {
        match self {
            Size::Half => TEXT_MIN_HALF,
            _ => TEXT_MIN_FULL,
        }
    }
}

/// Repeat each value `k`×`k` times (nearest-neighbour upscaling).
fn repeat(px: &[f32], rows: usize, cols: usize, k: usize) -> (Vec<f32>, usize, usize) {
    let (r2, c2) = (rows * k, cols * k);
    let out = (0..r2 * c2)
        .map(|i| {
            px.get((i / c2 / k) * cols + (i % c2) / k)
                .copied()
                .unwrap_or(0.0)
        })
        .collect();
    (out, r2, c2)
}

/// The digit's matrix for drawing at `size`. ASCII mode also averages row
/// pairs (it draws one text row per matrix row).
pub(super) fn digit_matrix(
    set: &ImageSet,
    index: usize,
    size: Size,
    ascii: bool,
) -> (Vec<f32>, usize, usize) {
    let px: Vec<f32> = set.images.row(index).iter().map(|&p| scale(p)).collect();
    let (k, f) = size.factors();
    let (px, rows, cols) = repeat(&px, set.rows, set.cols, k);
    block_mean(&px, rows, cols, if ascii { 2 * f } else { f }, f)
}

/// Cells the digit takes at `size`: (width, height).
pub(super) fn digit_cells(set: &ImageSet, size: Size, ascii: bool) -> (u16, u16) {
    let (k, f) = size.factors();
    let fy = if ascii { 2 * f } else { f };
    cells_needed(
        (set.rows * k).div_ceil(fy),
        (set.cols * k).div_ceil(f),
        ascii,
    )
}

/// The largest digit that fits `inner` beside a readable text column.
pub(super) fn pick_size(inner: Rect, set: &ImageSet, ascii: bool) -> Option<Size> {
    [Size::Big, Size::Full, Size::Half]
        .into_iter()
        .find(|&size| {
            let (w, h) = digit_cells(set, size, ascii);
            let extra_rows = if size == Size::Half { 0 } else { 1 };
            u32::from(inner.width) >= u32::from(w) + u32::from(GAP) + u32::from(size.text_min())
                && u32::from(inner.height) >= u32::from(h) + extra_rows
        })
}
