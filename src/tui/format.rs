//! Numbers as the lab writes them, one way everywhere: counts and rates with
//! thousands separators (50,186 params, 4,312 img/s), a learning rate in one
//! notation (0.1, 0.001, 3e-4), a cost with three decimals, byte sizes in
//! binary units (1.5 GiB), and "1 layer" / "2 layers". Every pane and the
//! status line use these, so one screen never shows one number two ways.

/// A count with thousands separators: 629,483,018.
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate rounded to a whole number, with separators: 4,312 (non-finite or
/// negative rates read "–").
pub fn rate(v: f32) -> String {
    if v.is_finite() && v >= 0.0 {
        count(v.round() as usize)
    } else {
        "–".into()
    }
}

/// A learning rate: plain decimals from 0.001 up (0.1, 0.003, 1.5), scientific
/// form below (3e-4, 1e-6), the way the lessons' text writes them.
pub fn lr(v: f32) -> String {
    if v != 0.0 && v.abs() < 1e-3 {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// A cost or loss value as both the Model and the Loss pane write it: three
/// decimals with a true minus sign; tiny or huge values in scientific form so
/// they do not read as 0.000 or run off the pane.
pub fn cost(v: f32) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "inf".into()
        } else {
            "−inf".into()
        };
    }
    let a = v.abs();
    let s = if a != 0.0 && !(1e-3..1e6).contains(&a) {
        format!("{v:.3e}")
    } else {
        format!("{v:.3}")
    };
    match s.strip_prefix('-') {
        Some("0.000") => "0.000".into(),
        Some(rest) => format!("−{rest}"),
        None => s,
    }
}

/// "1 layer", "8 layers".
pub fn layers(n: usize) -> String {
    plural(n, "layer")
}

/// "1 epoch", "3 epochs": `count` of `what`, with an s when not one.
pub fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{} {what}s", count(n))
    }
}

/// A byte size in binary units, one decimal from KiB up: 512 B, 4.8 MiB, 2.0 GiB.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// Axis labels with no label repeated: when rounding makes two neighbours
/// read the same ("0 0 1"), only the ends are kept, and one when they match.
pub fn distinct_ticks(labels: Vec<String>) -> Vec<String> {
    if labels.windows(2).all(|w| w[0] != w[1]) {
        return labels;
    }
    match (labels.first(), labels.last()) {
        (Some(a), Some(b)) if a != b => vec![a.clone(), b.clone()],
        (Some(a), _) => vec![a.clone()],
        _ => labels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(50_186), "50,186");
        assert_eq!(count(629_483_018), "629,483,018");
        assert_eq!(rate(4312.4), "4,312");
        assert_eq!(rate(f32::NAN), "–");
    }

    #[test]
    fn learning_rates_use_one_notation() {
        assert_eq!(lr(0.1), "0.1");
        assert_eq!(lr(0.001), "0.001");
        assert_eq!(lr(3e-4), "3e-4");
        assert_eq!(lr(1e-6), "1e-6");
        assert_eq!(lr(1.5), "1.5");
    }

    #[test]
    fn costs_have_three_decimals() {
        assert_eq!(cost(5.638_4), "5.638");
        assert_eq!(cost(5.049), "5.049");
        assert_eq!(cost(-0.0001), "−1.000e-4");
        assert_eq!(cost(-0.0), "0.000");
        assert_eq!(cost(2.5e7), "2.500e7");
    }

    #[test]
    fn layers_and_bytes() {
        assert_eq!(layers(1), "1 layer");
        assert_eq!(layers(2), "2 layers");
        assert_eq!(plural(1_000, "epoch"), "1,000 epochs");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(5 * 1024 * 1024 / 2), "2.5 MiB");
        assert_eq!(bytes(2 << 30), "2.0 GiB");
    }

    #[test]
    fn ticks_are_never_repeated() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(distinct_ticks(s(&["0", "1", "2"])), s(&["0", "1", "2"]));
        assert_eq!(distinct_ticks(s(&["0", "0", "1"])), s(&["0", "1"]));
        assert_eq!(distinct_ticks(s(&["4.00", "4.00", "4.00"])), s(&["4.00"]));
    }
}
