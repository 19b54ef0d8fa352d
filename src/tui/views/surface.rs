//! A 2-D function as a heat/contour map with paths drawn over it: the
//! optimizer race's surfaces and the linear lesson's cost over (W, b).
//!
//! f is sampled once per cell, at the cell's centre. Each value gets a level
//! in 0..=1 (linear in f, or in log(1 + f − f_min) for surfaces like
//! Rosenbrock's whose values span decades), split into [`BANDS`] bands:
//! colour mode shades the cell's background from dark blue (low) to yellow
//! (high) and puts a faint '·' where the band changes (the contour lines);
//! `NO_COLOR` draws the bands with ░▒▓ (low is blank); `--ascii` draws only
//! the contour lines, with '.'. Paths are drawn last: every visited point
//! with the track's trail mark, the current point with its glyph (callers
//! pick marks that tell tracks apart without colour). Axes are labelled with
//! numbers at both ends and in the middle.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};

/// How many bands (contour levels) the values are split into.
pub const BANDS: usize = 8;

/// Columns kept for the y-axis labels.
pub const Y_LABEL_W: u16 = 7;

/// One path over the map.
#[derive(Clone, Debug)]
pub struct Track<'a> {
    /// (x, y) of every point, oldest first; the last is the current point.
    pub points: &'a [[f32; 2]],
    /// The current point's mark.
    pub glyph: char,
    /// The mark of every earlier point.
    pub trail: char,
    pub color: Color,
}

/// What to draw: f over the window [x0, x1] × [y0, y1], and the paths.
pub struct HeatMap<'a> {
    pub f: &'a dyn Fn(f64, f64) -> f64,
    pub x: [f64; 2],
    pub y: [f64; 2],
    /// Levels by log(1 + f − f_min) instead of f.
    pub log: bool,
    pub tracks: Vec<Track<'a>>,
    /// A mark at the minimum (drawn under the paths).
    pub minimum: Option<[f64; 2]>,
    pub ascii: bool,
    pub mono: bool,
}

/// The map's cells: the plot (without axes) in `area`.
pub fn plot_area(area: Rect) -> Rect {
    Rect {
        x: area.x + Y_LABEL_W.min(area.width),
        y: area.y,
        width: area.width.saturating_sub(Y_LABEL_W),
        height: area.height.saturating_sub(1),
    }
}

/// An axis label: short, whatever the size (3, -0.5, 12.5, 1.2e4).
pub fn tick(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 || !v.is_finite() {
        return format!("{v}").replace("-0", "0");
    }
    let s = if a >= 1e4 || a < 1e-3 {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    // 2.50 → 2.5, 3.00 → 3
    if s.contains('.') && !s.contains('e') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

impl HeatMap<'_> {
    /// The centre of cell (col, row) of a `w`×`h` plot, in f's coordinates
    /// (row 0 at the top, so at y's high end).
    pub fn cell_center(&self, w: u16, h: u16, col: u16, row: u16) -> (f64, f64) {
        let fx = (f64::from(col) + 0.5) / f64::from(w.max(1));
        let fy = (f64::from(row) + 0.5) / f64::from(h.max(1));
        (
            self.x[0] + fx * (self.x[1] - self.x[0]),
            self.y[1] - fy * (self.y[1] - self.y[0]),
        )
    }

    /// The cell holding (x, y), if it is on the plot.
    pub fn cell_of(&self, w: u16, h: u16, x: f64, y: f64) -> Option<(u16, u16)> {
        let fx = (x - self.x[0]) / (self.x[1] - self.x[0]);
        let fy = (self.y[1] - y) / (self.y[1] - self.y[0]);
        if !(0.0..1.0).contains(&fx) || !(0.0..1.0).contains(&fy) {
            return None;
        }
        Some(((fx * f64::from(w)) as u16, (fy * f64::from(h)) as u16))
    }

    /// f at every cell's centre, row by row (what the map shades).
    pub fn grid(&self, w: u16, h: u16) -> Vec<f64> {
        (0..h)
            .flat_map(|r| (0..w).map(move |c| (c, r)))
            .map(|(c, r)| {
                let (x, y) = self.cell_center(w, h, c, r);
                (self.f)(x, y)
            })
            .collect()
    }

    /// Each value's band, 0..BANDS (non-finite values get the top band).
    pub fn bands(&self, values: &[f64]) -> Vec<usize> {
        let finite = values.iter().copied().filter(|v| v.is_finite());
        let lo = finite.clone().fold(f64::INFINITY, f64::min);
        let hi = finite.fold(f64::NEG_INFINITY, f64::max);
        let map = |v: f64| {
            if self.log {
                (1.0 + v - lo).ln()
            } else {
                v - lo
            }
        };
        let top = map(hi);
        values
            .iter()
            .map(|&v| {
                let t = if v.is_finite() && top > 0.0 {
                    map(v) / top
                } else if v.is_finite() {
                    0.0
                } else {
                    1.0
                };
                ((t * BANDS as f64) as usize).min(BANDS - 1)
            })
            .collect()
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer) {
        let plot = plot_area(area);
        if plot.width < 2 || plot.height < 2 {
            return;
        }
        let (w, h) = (plot.width, plot.height);
        let bands = self.bands(&self.grid(w, h));
        let at = |c: u16, r: u16| bands[usize::from(r) * usize::from(w) + usize::from(c)];
        for r in 0..h {
            for c in 0..w {
                let b = at(c, r);
                let edge = (c + 1 < w && at(c + 1, r) != b) || (r + 1 < h && at(c, r + 1) != b);
                let Some(cell) = buf.cell_mut((plot.x + c, plot.y + r)) else {
                    continue;
                };
                if self.ascii {
                    cell.set_char(if edge { '.' } else { ' ' });
                } else if self.mono {
                    cell.set_char([' ', ' ', '░', '░', '▒', '▒', '▓', '▓'][b.min(7)]);
                } else {
                    let t = b as f32 / (BANDS - 1) as f32;
                    let bg = Color::Rgb(
                        (20.0 + 200.0 * t) as u8,
                        (30.0 + 150.0 * t) as u8,
                        (90.0 - 70.0 * t) as u8,
                    );
                    cell.set_char(if edge { '·' } else { ' ' })
                        .set_style(Style::new().fg(Color::Rgb(150, 150, 170)).bg(bg));
                }
            }
        }
        if let Some(m) = self.minimum {
            self.mark(
                plot,
                m[0],
                m[1],
                if self.ascii { '+' } else { '✛' },
                Color::White,
                buf,
            );
        }
        for t in &self.tracks {
            let n = t.points.len();
            for p in t.points.iter().take(n.saturating_sub(1)) {
                self.mark(
                    plot,
                    f64::from(p[0]),
                    f64::from(p[1]),
                    t.trail,
                    t.color,
                    buf,
                );
            }
        }
        // the current points last, so no trail hides one
        for t in &self.tracks {
            if let Some(p) = t.points.last() {
                self.mark(
                    plot,
                    f64::from(p[0]),
                    f64::from(p[1]),
                    t.glyph,
                    t.color,
                    buf,
                );
            }
        }
        self.axes(area, plot, buf);
    }

    fn mark(&self, plot: Rect, x: f64, y: f64, ch: char, color: Color, buf: &mut Buffer) {
        let Some((c, r)) = self.cell_of(plot.width, plot.height, x, y) else {
            return;
        };
        if let Some(cell) = buf.cell_mut((plot.x + c, plot.y + r)) {
            cell.set_char(ch);
            if !self.mono && !self.ascii {
                cell.set_fg(color).modifier.insert(Modifier::BOLD);
            }
        }
    }

    /// y labels at the top, middle and bottom rows; x labels under the plot.
    fn axes(&self, area: Rect, plot: Rect, buf: &mut Buffer) {
        let dim = Style::new().fg(Color::DarkGray);
        let lw = usize::from(Y_LABEL_W - 1);
        let mid_row = plot.height / 2;
        for (row, v) in [
            (0, self.y[1]),
            (mid_row, (self.y[0] + self.y[1]) / 2.0),
            (plot.height - 1, self.y[0]),
        ] {
            let s = format!("{:>lw$}", tick(v));
            buf.set_stringn(area.x, plot.y + row, s, lw, dim);
        }
        let y = plot.y + plot.height;
        if y >= area.y + area.height {
            return;
        }
        let (l, m, r) = (
            tick(self.x[0]),
            tick((self.x[0] + self.x[1]) / 2.0),
            tick(self.x[1]),
        );
        buf.set_stringn(plot.x, y, &l, usize::from(plot.width), dim);
        let mx = plot.x + plot.width / 2 - (m.chars().count() as u16 / 2).min(plot.width / 2);
        if mx > plot.x + l.chars().count() as u16 {
            buf.set_stringn(mx, y, &m, usize::from(plot.width), dim);
        }
        let rx = (plot.x + plot.width).saturating_sub(r.chars().count() as u16);
        if rx > mx + m.chars().count() as u16 {
            buf.set_stringn(rx, y, &r, usize::from(plot.width), dim);
        }
    }
}

/// [lo, hi] holding every value given (finite ones) with a margin of
/// `pad` × the span, at least `min_span` wide.
pub fn window(values: impl Iterator<Item = f64>, pad: f64, min_span: f64) -> [f64; 2] {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    if lo > hi {
        return [-1.0, 1.0];
    }
    let span = (hi - lo).max(min_span);
    let mid = (lo + hi) / 2.0;
    [mid - span * (0.5 + pad), mid + span * (0.5 + pad)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(2.5), "2.5");
        assert_eq!(tick(3.0), "3");
        assert_eq!(tick(-0.25), "-0.25");
        assert_eq!(tick(12.25), "12.2");
        assert_eq!(tick(150.0), "150");
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(25000.0), "2.5e4");
    }

    #[test]
    fn cells_and_centres_agree() {
        let f = |x: f64, y: f64| x + y;
        let m = HeatMap {
            f: &f,
            x: [0.0, 10.0],
            y: [0.0, 5.0],
            log: false,
            tracks: vec![],
            minimum: None,
            ascii: false,
            mono: false,
        };
        // 10×5 cells of 1×1: cell (0, 0) is the top-left, centred at (0.5, 4.5)
        assert_eq!(m.cell_center(10, 5, 0, 0), (0.5, 4.5));
        assert_eq!(m.cell_of(10, 5, 0.5, 4.5), Some((0, 0)));
        assert_eq!(m.cell_of(10, 5, 9.9, 0.1), Some((9, 4)));
        assert_eq!(m.cell_of(10, 5, 10.5, 0.1), None);
        let g = m.grid(10, 5);
        assert_eq!(g[0], 5.0);
        assert_eq!(g[49], 9.5 + 0.5);
        let b = m.bands(&g);
        // values 1 (bottom-left) … 14 (top-right): bands of 13/8; 5 is in band 2
        assert_eq!((b[40], b[9], b[0]), (0, 7, 2));
    }
}
