//! Chart history with bounded memory: the loss per step (and a smoothed
//! copy) for the Loss pane, kept as plain data so it is tested without a
//! terminal.
//!
//! The thinning follows burn's `FullHistoryPlot` (burn-train
//! `renderer/tui/full_history.rs`): a series holds at most `capacity`
//! points; when it is full, neighbouring pairs are averaged into one point
//! and the stride (raw values per point) doubles. A long run therefore keeps
//! its whole shape in at most `capacity` points, at a coarser grain the
//! longer it runs. burn keeps every other point; averaging the pair instead
//! keeps the thinned curve honest about noisy losses (a dropped point can be
//! a spike, and the mean of means stays the mean).
//!
//! The smoothed line is an exponential moving average with TensorBoard's
//! debiasing (`ema / (1 - α^n)`), so it starts at the first value instead
//! of creeping up from zero.

/// Points a series keeps before it halves itself.
pub const DEFAULT_CAPACITY: usize = 2000;

/// Weight of the past in the smoothed line (TensorBoard's default is 0.6
/// per logged point; per training step a longer memory reads better).
pub const DEFAULT_SMOOTHING: f64 = 0.9;

/// (x, y) points, each the mean of `stride` consecutive pushed values.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    capacity: usize,
    stride: usize,
    points: Vec<(f64, f64)>,
    /// Raw values folded into the last point so far (`<= stride`).
    last_count: usize,
}

impl Series {
    /// An empty series that keeps at most `capacity` points (at least 2).
    pub fn new(capacity: usize) -> Series {
        let capacity = capacity.max(2);
        Series {
            capacity,
            stride: 1,
            points: Vec::with_capacity(capacity),
            last_count: 0,
        }
    }

    /// Add one value; once `capacity` points are full, pairs are merged.
    pub fn push(&mut self, x: f64, y: f64) {
        match self.points.last_mut() {
            Some(last) if self.last_count < self.stride => {
                // running mean of the bucket
                let n = self.last_count as f64;
                last.0 = (last.0 * n + x) / (n + 1.0);
                last.1 = (last.1 * n + y) / (n + 1.0);
                self.last_count += 1;
                return;
            }
            _ => {}
        }
        if self.points.len() == self.capacity {
            self.halve();
            // an odd capacity leaves a partly filled last bucket to fill first
            return self.push(x, y);
        }
        self.points.push((x, y));
        self.last_count = 1;
    }

    /// Merge neighbouring pairs and double the stride. An odd last point
    /// stays on its own as the start of a new, partly filled bucket.
    fn halve(&mut self) {
        let old = std::mem::take(&mut self.points);
        let odd = old.len() % 2 == 1;
        self.points = old
            .chunks(2)
            .map(|c| {
                let n = c.len() as f64;
                (
                    c.iter().map(|p| p.0).sum::<f64>() / n,
                    c.iter().map(|p| p.1).sum::<f64>() / n,
                )
            })
            .collect();
        // the last (full) bucket now holds two old strides' worth of values;
        // a lone old point holds one old stride
        self.last_count = if odd { self.stride } else { self.stride * 2 };
        self.stride *= 2;
    }

    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }

    /// Raw values per point.
    pub fn stride(&self) -> usize {
        self.stride
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    pub fn last(&self) -> Option<(f64, f64)> {
        self.points.last().copied()
    }

    /// Smallest and largest y, or None when empty.
    pub fn y_range(&self) -> Option<(f64, f64)> {
        range(self.points.iter().map(|p| p.1))
    }
}

fn range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// The loss per step and its smoothed line, both bounded.
#[derive(Clone, Debug, PartialEq)]
pub struct LossHistory {
    raw: Series,
    smooth: Series,
    /// EMA state: biased average and how many values it has seen.
    ema: f64,
    seen: usize,
    smoothing: f64,
    /// Values pushed (finite or not), so a mirror can append only what is new.
    pushed: usize,
    /// Non-finite values, which are counted but never plotted.
    skipped: usize,
    last: Option<(f64, f64)>,
}

impl Default for LossHistory {
    fn default() -> Self {
        LossHistory::new(DEFAULT_CAPACITY, DEFAULT_SMOOTHING)
    }
}

impl LossHistory {
    /// `capacity` points per line; `smoothing` in [0, 1): EMA weight of the past.
    pub fn new(capacity: usize, smoothing: f64) -> LossHistory {
        LossHistory {
            raw: Series::new(capacity),
            smooth: Series::new(capacity),
            ema: 0.0,
            seen: 0,
            smoothing: smoothing.clamp(0.0, 0.999),
            pushed: 0,
            skipped: 0,
            last: None,
        }
    }

    /// Record the loss at `step`. NaN and ±inf are counted but not plotted
    /// (they would wreck the axis bounds); the worker reports them itself.
    pub fn push(&mut self, step: f64, loss: f64) {
        self.pushed += 1;
        if !loss.is_finite() || !step.is_finite() {
            self.skipped += 1;
            return;
        }
        self.raw.push(step, loss);
        self.seen += 1;
        self.ema = self.smoothing * self.ema + (1.0 - self.smoothing) * loss;
        let debiased =
            self.ema / (1.0 - self.smoothing.powi(self.seen.min(i32::MAX as usize) as i32));
        let debiased = if debiased.is_finite() { debiased } else { loss };
        self.smooth.push(step, debiased);
        self.last = Some((step, loss));
    }

    /// The plotted loss points (each the mean of `stride()` steps).
    pub fn points(&self) -> &[(f64, f64)] {
        self.raw.points()
    }

    /// The smoothed line, thinned the same way.
    pub fn smoothed(&self) -> &[(f64, f64)] {
        self.smooth.points()
    }

    /// The last finite value pushed, unthinned.
    pub fn last(&self) -> Option<(f64, f64)> {
        self.last
    }

    /// The current smoothed value.
    pub fn last_smoothed(&self) -> Option<f64> {
        self.smooth.last().map(|p| p.1)
    }

    /// Steps per plotted point (1, 2, 4, …).
    pub fn stride(&self) -> usize {
        self.raw.stride()
    }

    /// How many values were pushed, plotted or not.
    pub fn pushed(&self) -> usize {
        self.pushed
    }

    /// How many pushed values were NaN or infinite.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Smallest and largest plotted y over both lines.
    pub fn y_range(&self) -> Option<(f64, f64)> {
        match (self.raw.y_range(), self.smooth.y_range()) {
            (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
            (a, b) => a.or(b),
        }
    }

    /// First and last plotted x.
    pub fn x_range(&self) -> Option<(f64, f64)> {
        let pts = self.raw.points();
        Some((pts.first()?.0, pts.last()?.0))
    }

    /// Smallest plotted y above zero (for a log axis), if any.
    pub fn min_positive(&self) -> Option<f64> {
        self.raw
            .points()
            .iter()
            .chain(self.smooth.points())
            .map(|p| p.1)
            .filter(|&y| y > 0.0)
            .reduce(f64::min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_keeps_every_point_until_full() {
        let mut s = Series::new(8);
        for i in 0..8 {
            s.push(i as f64, (i * 10) as f64);
        }
        assert_eq!(s.len(), 8);
        assert_eq!(s.stride(), 1);
        assert_eq!(s.points()[3], (3.0, 30.0));
    }

    #[test]
    fn series_halves_and_doubles_the_stride_when_full() {
        let mut s = Series::new(8);
        for i in 0..9 {
            s.push(i as f64, i as f64);
        }
        // 8 points became 4 means of pairs, then the 9th starts a bucket of 2
        assert_eq!(s.stride(), 2);
        assert_eq!(
            s.points(),
            &[(0.5, 0.5), (2.5, 2.5), (4.5, 4.5), (6.5, 6.5), (8.0, 8.0)]
        );
        s.push(9.0, 9.0);
        assert_eq!(s.last(), Some((8.5, 8.5)));
        assert_eq!(s.len(), 5);
        s.push(10.0, 10.0);
        assert_eq!(s.len(), 6);
    }

    #[test]
    fn odd_capacity_fills_the_lone_point_first() {
        let mut s = Series::new(3);
        for i in 0..4 {
            s.push(i as f64, i as f64);
        }
        // [0,1,2] → [(0.5), (2 alone, half a bucket)] then 3 joins the 2
        assert_eq!(s.points(), &[(0.5, 0.5), (2.5, 2.5)]);
        s.push(4.0, 4.0);
        assert_eq!(s.points(), &[(0.5, 0.5), (2.5, 2.5), (4.0, 4.0)]);
    }

    #[test]
    fn series_memory_stays_bounded_over_a_long_run() {
        let mut s = Series::new(100);
        for i in 0..1_000_000 {
            s.push(i as f64, 1.0);
            assert!(s.len() <= 100);
        }
        assert!(s.len() > 50, "a halved series refills: {}", s.len());
        assert_eq!(s.stride(), 16_384);
        // the points still span the whole run, in order
        let pts = s.points();
        assert!(pts[0].0 < 20_000.0 && pts[pts.len() - 1].0 > 980_000.0);
        assert!(pts.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(pts.iter().all(|p| p.1 == 1.0), "means of ones are ones");
    }

    #[test]
    fn thinning_keeps_the_mean() {
        let mut s = Series::new(16);
        let mut total = 0.0;
        for i in 0..64 {
            let y = (i % 7) as f64;
            total += y;
            s.push(i as f64, y);
        }
        // 64 values in 16 full buckets of 4: the mean of means is the mean
        assert_eq!((s.len(), s.stride()), (16, 4));
        let mean: f64 = s.points().iter().map(|p| p.1).sum::<f64>() / 16.0;
        assert!((mean - total / 64.0).abs() < 1e-12);
    }

    #[test]
    fn smoothed_starts_at_the_first_value_and_follows_a_step() {
        let mut h = LossHistory::new(1000, 0.9);
        h.push(1.0, 2.0);
        assert_eq!(h.smoothed(), &[(1.0, 2.0)], "debiased: no creep from zero");
        for i in 2..=200 {
            h.push(i as f64, 1.0);
        }
        let s = h.last_smoothed().expect("has points");
        assert!((s - 1.0).abs() < 1e-6, "converges to the new level: {s}");
        // smoothing lags: just after the drop it is still between the levels
        assert!(h.smoothed()[1].1 > 1.0 && h.smoothed()[1].1 < 2.0);
    }

    #[test]
    fn nan_and_inf_are_counted_not_plotted() {
        let mut h = LossHistory::default();
        h.push(1.0, 0.5);
        h.push(2.0, f64::NAN);
        h.push(3.0, f64::INFINITY);
        h.push(4.0, 0.25);
        assert_eq!(h.points(), &[(1.0, 0.5), (4.0, 0.25)]);
        assert_eq!((h.pushed(), h.skipped()), (4, 2));
        assert!(h.smoothed().iter().all(|p| p.1.is_finite()));
        assert_eq!(h.y_range(), Some((0.25, 0.5)));
    }

    #[test]
    fn ranges_and_min_positive() {
        let mut h = LossHistory::new(10, 0.0);
        assert_eq!(h.y_range(), None);
        assert_eq!(h.x_range(), None);
        h.push(5.0, 0.0);
        h.push(6.0, 3.0);
        assert_eq!(h.x_range(), Some((5.0, 6.0)));
        assert_eq!(h.y_range(), Some((0.0, 3.0)));
        assert_eq!(h.min_positive(), Some(3.0));
        assert_eq!(h.last(), Some((6.0, 3.0)));
    }

    #[test]
    fn both_lines_thin_together() {
        let mut h = LossHistory::new(50, 0.9);
        for i in 0..5000 {
            h.push(i as f64, 1.0 / (1.0 + i as f64));
        }
        assert!(h.points().len() <= 50 && h.smoothed().len() == h.points().len());
        assert_eq!(h.stride(), 128);
        assert!(h.points().iter().zip(h.smoothed()).all(|(a, b)| a.0 == b.0));
    }
}
