//! Numbers and times as pages show them.

/// 1536 → "1.5 KiB".
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{n} B"),
        _ if value >= 100.0 => format!("{value:.0} {}", UNITS[unit]),
        _ => format!("{value:.1} {}", UNITS[unit]),
    }
}

/// Unix microseconds as the household's local date and time, "2026-12-06 18:02".
pub fn time(micros: i64) -> String {
    hearth_repo::local_time::local_minute(micros)
}

/// How long ago, in Unix seconds: "3 hours ago", "12 days ago".
pub fn age(now: i64, then: i64) -> String {
    let secs = (now - then).max(0);
    let (n, unit) = match secs {
        s if s < 90 => return "just now".into(),
        s if s < 90 * 60 => (s / 60, "minute"),
        s if s < 36 * 3600 => (s / 3600, "hour"),
        s => (s / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// A model as people know it, with Apple's product type: "iPhone 13 (iPhone14,5)"; the
/// product type alone for a model Hearth does not know by name.
pub fn model(product_type: &str) -> String {
    match hearth_restore::model_name(product_type) {
        Some(name) => format!("{name} ({product_type})"),
        None => product_type.to_owned(),
    }
}

/// Seconds as days, for "not backed up for N days".
pub fn days(secs: i64) -> i64 {
    secs / 86_400
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ages_read_as_people_say_them() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(200 * 1024 * 1024), "200 MiB");
        assert_eq!(age(1000, 990), "just now");
        assert_eq!(age(10_000, 10_000 - 3 * 3600), "3 hours ago");
        assert_eq!(age(100 * 86_400, 88 * 86_400), "12 days ago");
        assert_eq!(age(86_400, 0), "24 hours ago");
    }
}
