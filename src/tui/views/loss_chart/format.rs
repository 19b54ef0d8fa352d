//! Numbers as the Loss pane writes them: values in about 7 characters,
//! axis labels in three significant digits, step counts (12k) and durations
//! ("3 min 05 s").

/// A value in at most about 7 characters: 0.3121, 12.5, 1.2e-5.
pub fn fmt_value(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        format!("{v}")
    } else if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// An axis label: three significant digits at most (2.40, 0.082, 1.2e-5).
pub(super) fn fmt_tick(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        format!("{v}")
    } else if a == 0.0 {
        "0".into()
    } else if !(1e-2..1e4).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A step or epoch count for an axis: 600, 2,498, 12k.
pub(super) fn fmt_count(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else {
        crate::tui::format::count(v.max(0.0).round() as usize)
    }
}

/// "42 s", "3 min 05 s", "1 h 02 min".
pub fn fmt_secs(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_fit_a_label() {
        assert_eq!(fmt_value(0.31214), "0.3121");
        assert_eq!(fmt_value(12.345), "12.35");
        assert_eq!(fmt_value(2.5e-5), "2.5e-5");
        assert_eq!(fmt_value(0.0), "0");
        assert_eq!(fmt_secs(65.0), "1 min 05 s");
        assert_eq!(fmt_secs(3725.0), "1 h 02 min");
    }
}
