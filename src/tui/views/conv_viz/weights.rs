//! softmax-mnist's weights as pictures: the model is one Linear(784, 10), so
//! class k's score is the dot product of the image with row k of W (10, 784).
//! That row, laid out 28×28 like the pixels it multiplies, is an image of
//! what the class looks for: red where ink raises the score, blue where ink
//! lowers it. The pane draws the ten rows where the CNN draws conv1's
//! filters (key `f`), from the same worker snapshots, so they change while
//! the model trains, and rewind (`[`/`]`) draws them as recorded.
//!
//! One signed scale serves all ten, so a faint image is a class with small
//! weights; it reaches full strength at the 99th percentile of |w| (a few
//! outlying weights would otherwise leave every picture dark). Without colour (`NO_COLOR`,
//! `--ascii`) the sign is a character: `# * +` positive, `= - .` negative,
//! strongest first, blank near zero ([`signed_char`]). An area too small for
//! 28×28 gets each image area-averaged to the largest side that fits, and
//! the header says so.

use ndarray::Array2;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::text::render_lines;
use crate::nn::{LayerSpec, Module, Sequential};
use crate::tui::canvas::resample;
use crate::tui::views::shade::{draw_matrix, Scale};
use crate::tui::views::text::wrap_words;
use crate::tui::views::ViewContext;

/// Characters for the signed buckets −3..=3 (index bucket + 3).
pub const SIGNED_CHARS: [char; 7] = ['=', '-', '.', ' ', '+', '*', '#'];

/// The most images drawn (a wider single layer draws its first ones).
pub const MAX_IMAGES: usize = 32;

/// The rows of a single Linear layer's weight, each as an image.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassWeights {
    /// One (rows, cols) image per output, in output order.
    pub images: Vec<Array2<f32>>,
    /// The shared scale's full strength: the 99th percentile of |w| over
    /// all images (see [`full_scale`]), > 0.
    pub max: f32,
}

/// Whether `specs` are one Linear layer over the whole image (Flatten
/// aside): the models whose weights are images, like softmax-mnist's.
pub fn applies(specs: &[LayerSpec], pixels: usize) -> bool {
    let mut linear = specs.iter().filter(|s| **s != LayerSpec::Flatten);
    matches!(
        (linear.next(), linear.next()),
        (Some(LayerSpec::Linear { in_features, .. }), None) if *in_features == pixels
    )
}

impl ClassWeights {
    /// W's rows of `model` as rows×cols images, when [`applies`].
    pub fn from_model(model: &Sequential, rows: usize, cols: usize) -> Option<ClassWeights> {
        if !applies(model.specs()?, rows * cols) {
            return None;
        }
        let w = model.parameters().first()?.to_array();
        let w = w.view().into_dimensionality::<ndarray::Ix2>().ok()?;
        if w.ncols() != rows * cols || w.nrows() == 0 {
            return None;
        }
        let images: Vec<Array2<f32>> = w
            .outer_iter()
            .take(MAX_IMAGES)
            .filter_map(|r| r.to_owned().into_shape_with_order((rows, cols)).ok())
            .collect();
        let max = full_scale(images.iter().flat_map(|m| m.iter().copied()));
        Some(ClassWeights { images, max })
    }

    pub fn scale(&self) -> Scale {
        Scale::Signed { max: self.max }
    }
}

/// Where a signed scale of `values` reaches full strength: the 99th
/// percentile of the finite |v| (the largest when that is 0; 1 when all are 0).
pub fn full_scale(values: impl Iterator<Item = f32>) -> f32 {
    let mut mags: Vec<f32> = values.filter(|v| v.is_finite()).map(f32::abs).collect();
    mags.sort_by(f32::total_cmp);
    let at = |q: usize| mags.get(mags.len().saturating_sub(1) * q / 100).copied();
    [at(99), at(100)]
        .into_iter()
        .flatten()
        .find(|&m| m > 0.0)
        .unwrap_or(1.0)
}

/// `v`'s bucket on a signed scale of ±`max`: −3 (strongly negative) ..= 3,
/// 0 for |v| under a sixth of `max`.
pub fn bucket(v: f32, max: f32) -> i8 {
    let t = (v / max).clamp(-1.0, 1.0);
    if !t.is_finite() {
        return 0;
    }
    ((t.abs() * 3.0).round() as i8) * if t < 0.0 { -1 } else { 1 }
}

/// The character a weight is drawn with when there is no colour.
pub fn signed_char(v: f32, max: f32) -> char {
    SIGNED_CHARS[(bucket(v, max) + 3) as usize]
}

/// Where the images go: their side (pixels per row after averaging), the
/// columns of tiles, and a tile's width and height in cells (its label row
/// included).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tiles {
    pub side: usize,
    pub cols: usize,
    pub w: u16,
    pub h: u16,
}

/// The largest side (up to the images' own) at which `n` images, each with
/// a label row under it, fit `area`; 5 or 10 to a row when that many fit.
pub fn layout(n: usize, full: usize, chars: bool, area: Rect) -> Option<Tiles> {
    (2..=full.max(2)).rev().find_map(|side| {
        let (cw, ch) = (
            side as u16,
            if chars { side } else { side.div_ceil(2) } as u16,
        );
        let (w, h) = (cw + 1, ch + 1);
        let fit = usize::from((area.width + 1) / w);
        let cols = match fit.min(n) {
            0 => return None,
            c if c >= 10 && n >= 10 => 10,
            c if c >= 5 && n >= 5 => 5,
            c => c,
        };
        let rows = n.div_ceil(cols) as u16;
        (rows * h <= area.height).then_some(Tiles { side, cols, w, h })
    })
}

/// `img` at `side`×`side` (area-averaged; the image itself at full size).
pub fn shrunk(img: &Array2<f32>, side: usize) -> Vec<f32> {
    let (r, c) = img.dim();
    let values: Vec<f32> = img.iter().copied().collect();
    if (r, c) == (side, side) {
        values
    } else {
        resample(&values, (r, c), (side, side))
    }
}

/// `values` (side×side) as signed characters, one pixel a cell.
fn draw_chars(values: &[f32], side: usize, max: f32, area: Rect, buf: &mut Buffer) {
    for (i, &v) in values.iter().enumerate() {
        let (r, c) = ((i / side) as u16, (i % side) as u16);
        if r >= area.height || c >= area.width {
            continue;
        }
        if let Some(cell) = buf.cell_mut((area.x + c, area.y + r)) {
            cell.set_char(signed_char(v, max)).set_style(Style::new());
        }
    }
}

/// The ten images, labelled 0–9, with a legend and what they are.
pub(super) fn render(w: &ClassWeights, cx: &ViewContext, area: Rect, buf: &mut Buffer) {
    let dim = Style::new().fg(Color::DarkGray);
    let chars = cx.ascii || cx.mono;
    let (rows, cols) = w.images.first().map_or((28, 28), |m| m.dim());
    let n = w.images.len();
    let live = if cx.run.state == crate::tui::app::TrainState::Running {
        ", live"
    } else {
        ""
    };
    let sep = if cx.ascii { " | " } else { " · " };
    let legend = if chars {
        Line::styled(
            format!("#*+ pos, =-. neg, full at |w| {}", super::text::num(w.max)),
            dim,
        )
    } else {
        Line::from(vec![
            Span::styled("red +", Style::new().fg(Color::Rgb(255, 85, 64))),
            Span::styled(" · ", dim),
            Span::styled("blue −", Style::new().fg(Color::Rgb(64, 128, 255))),
            Span::styled(format!(" · full at |w| {}", super::text::num(w.max)), dim),
        ])
    };
    let first_try = Rect {
        y: area.y + 2,
        height: area.height.saturating_sub(2),
        ..area
    };
    let Some(t) = layout(n, rows.max(cols), chars, first_try) else {
        return Line::raw("too small for the weight images: open the pane (Enter)")
            .render(area, buf);
    };
    let size = format!("{rows}x{cols}");
    // averaged images say so first: only one line of this fits
    let what = if t.side == rows {
        format!(
            "W's {n} rows{live}: digit k's {} weights, {size}{sep}f back",
            rows * cols
        )
    } else {
        format!(
            "shown {0}x{0} averaged from {size}: W's {n} rows{live}, digit k's weights{sep}f back",
            t.side
        )
    };
    let mut head: Vec<Line> = vec![legend];
    head.extend(
        wrap_words(&what, area.width as usize)
            .into_iter()
            .take(1)
            .map(|l| Line::styled(l, dim)),
    );
    render_lines(&head, area, buf);
    let body = first_try;
    let label = Style::new().add_modifier(Modifier::BOLD);
    for (i, img) in w.images.iter().enumerate() {
        let (x, y) = (
            body.x + (i % t.cols) as u16 * t.w,
            body.y + (i / t.cols) as u16 * t.h,
        );
        let tile = Rect::new(x, y, t.w - 1, t.h).intersection(body);
        if tile.is_empty() {
            continue;
        }
        let values = shrunk(img, t.side);
        let pic = Rect {
            height: tile.height.saturating_sub(1),
            ..tile
        };
        if chars {
            draw_chars(&values, t.side, w.max, pic, buf);
        } else {
            draw_matrix(&values, t.side, t.side, w.scale(), false, pic, buf);
        }
        Line::styled(format!("{i}"), label).render(
            Rect {
                y: tile.bottom() - 1,
                height: 1,
                ..tile
            },
            buf,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_keep_the_sign_and_grow_with_the_magnitude() {
        assert_eq!(bucket(0.0, 1.0), 0);
        assert_eq!(bucket(0.1, 1.0), 0);
        assert_eq!(bucket(-0.1, 1.0), 0);
        assert_eq!(bucket(0.4, 1.0), 1);
        assert_eq!(bucket(-0.4, 1.0), -1);
        assert_eq!(bucket(-0.6, 1.0), -2);
        assert_eq!(bucket(1.0, 1.0), 3);
        assert_eq!(bucket(-5.0, 1.0), -3);
        assert_eq!(signed_char(1.0, 1.0), '#');
        assert_eq!(signed_char(-1.0, 1.0), '=');
        assert_eq!(bucket(f32::NAN, 1.0), 0);
    }

    #[test]
    fn the_layout_takes_the_largest_side_that_fits() {
        // 5 tiles of 29 cells (28 + a gap) need 144 columns, 15 rows each
        let t = layout(10, 28, false, Rect::new(0, 0, 144, 30)).unwrap();
        assert_eq!((t.side, t.cols, t.w, t.h), (28, 5, 29, 15));
        // a 138×40 area: 26 (5 across, 2 rows of 14)
        let t = layout(10, 28, false, Rect::new(0, 0, 138, 40)).unwrap();
        assert_eq!((t.side, t.cols), (26, 5));
        // characters take a row per pixel
        let t = layout(10, 28, true, Rect::new(0, 0, 78, 19)).unwrap();
        assert!(2 * (t.side as u16 + 1) <= 19, "{t:?}");
        assert!(layout(10, 28, false, Rect::new(0, 0, 2, 2)).is_none());
    }

    #[test]
    fn the_scale_is_full_at_the_99th_percentile() {
        let v: Vec<f32> = (0..=100).map(|i| -(i as f32)).collect();
        assert_eq!(full_scale(v.into_iter()), 99.0);
        assert_eq!(full_scale([0.0, 0.0, 3.0].into_iter()), 3.0);
        assert_eq!(full_scale([0.0, f32::NAN].into_iter()), 1.0);
    }

    #[test]
    fn only_a_single_linear_layer_over_the_image_applies() {
        let lin = |i, o| LayerSpec::Linear {
            in_features: i,
            out_features: o,
        };
        assert!(applies(&[lin(784, 10)], 784));
        assert!(applies(&[LayerSpec::Flatten, lin(784, 10)], 784));
        assert!(!applies(&[lin(784, 10), LayerSpec::ReLU, lin(10, 10)], 784));
        assert!(!applies(&[lin(2, 1)], 784));
        assert!(!applies(&[], 784));
    }
}
