//! A `Recurrence` row of Calendar.sqlitedb as an RFC 5545 RRULE (§3.3.10).
//!
//! The row: `frequency` 1 daily, 2 weekly, 3 monthly, 4 yearly (EventKit's
//! `EKRecurrenceFrequency` plus one); `interval`; `count` (0: none) or `end_date` (seconds since
//! 2001: the last occurrence may start then); `specifier`, the BY-parts, as `;`-separated
//! `KEY=a,b` pairs: `D` days of the week with an optional ordinal (`0MO` every Monday, `1SU`
//! the first Sunday, `-1FR` the last Friday), `M` days of the month, `O` months of the year,
//! `S` set positions, `W` weeks of the year, `Y` days of the year.
//!
//! Public forensic write-ups of Calendar.sqlitedb name these columns; the value encodings above
//! were not checked against a database written by a real iPhone (no public one could be used,
//! see shared/fixtures/ios-databases/PROVENANCE.md "Not found"). A specifier that does not
//! parse gives an error rather than an RRULE that repeats on other days.

/// One `Recurrence` row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recurrence {
    pub frequency: i64,
    pub interval: Option<i64>,
    pub count: Option<i64>,
    /// Seconds since 2001.
    pub end_date: Option<f64>,
    pub specifier: Option<String>,
}

/// The RRULE value of `r`; `until` writes the end date in the form of the event's DTSTART
/// (a DATE for all-day events, else a date-time), as §3.3.10 requires.
pub fn rrule(r: &Recurrence, until: &dyn Fn(f64) -> Option<String>) -> Result<String, String> {
    let freq = match r.frequency {
        1 => "DAILY",
        2 => "WEEKLY",
        3 => "MONTHLY",
        4 => "YEARLY",
        f => {
            return Err(format!(
                "recurrence frequency {f} is not one this exporter knows"
            ));
        }
    };
    let mut parts = vec![format!("FREQ={freq}")];
    if let Some(i) = r.interval.filter(|&i| i > 1) {
        parts.push(format!("INTERVAL={i}"));
    }
    match (r.count.filter(|&c| c > 0), r.end_date.filter(|d| *d != 0.0)) {
        (Some(c), _) => parts.push(format!("COUNT={c}")),
        (None, Some(end)) => match until(end) {
            Some(u) => parts.push(format!("UNTIL={u}")),
            None => return Err(format!("recurrence end date {end} is out of range")),
        },
        (None, None) => {}
    }
    if let Some(spec) = r.specifier.as_deref().filter(|s| !s.trim().is_empty()) {
        parts.extend(by_parts(spec)?);
    }
    Ok(parts.join(";"))
}

/// The BY-parts of a specifier, in RFC 5545's order.
fn by_parts(spec: &str) -> Result<Vec<String>, String> {
    let bad = || format!("recurrence specifier {spec:?} is not one this exporter knows");
    let mut out: Vec<(usize, String)> = Vec::new();
    for pair in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, values) = pair.split_once('=').ok_or_else(bad)?;
        let values: Vec<&str> = values.split(',').map(str::trim).collect();
        let (order, name, list) = match key.trim() {
            "O" => (0, "BYMONTH", numbers(&values, 1, 12, false)),
            "W" => (1, "BYWEEKNO", numbers(&values, 1, 53, true)),
            "Y" => (2, "BYYEARDAY", numbers(&values, 1, 366, true)),
            "M" => (3, "BYMONTHDAY", numbers(&values, 1, 31, true)),
            "D" => (4, "BYDAY", days(&values)),
            "S" => (5, "BYSETPOS", numbers(&values, 1, 366, true)),
            _ => return Err(bad()),
        };
        out.push((order, format!("{name}={}", list.ok_or_else(bad)?)));
    }
    out.sort_by_key(|(order, _)| *order);
    Ok(out.into_iter().map(|(_, p)| p).collect())
}

/// Integers in `1..=max` (or `-max..=-1` when `signed`), joined by commas.
fn numbers(values: &[&str], min: i64, max: i64, signed: bool) -> Option<String> {
    let mut out = Vec::new();
    for v in values {
        let n: i64 = v.parse().ok()?;
        let ok = (min..=max).contains(&n) || (signed && (-max..=-min).contains(&n));
        if !ok {
            return None;
        }
        out.push(n.to_string());
    }
    Some(out.join(","))
}

/// Week days with an optional ordinal (`0` or none: every such day), as BYDAY's `1SU`, `MO`.
fn days(values: &[&str]) -> Option<String> {
    let mut out = Vec::new();
    for v in values {
        let split = v.len().checked_sub(2)?;
        let (ordinal, day) = (v.get(..split)?, v.get(split..)?);
        if !matches!(day, "SU" | "MO" | "TU" | "WE" | "TH" | "FR" | "SA") {
            return None;
        }
        let ordinal: i64 = match ordinal {
            "" | "+" => 0,
            o => o.parse().ok()?,
        };
        match ordinal {
            0 => out.push(day.to_string()),
            n if (1..=53).contains(&n.abs()) => out.push(format!("{n}{day}")),
            _ => return None,
        }
    }
    Some(out.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn until(d: f64) -> Option<String> {
        Some(format!("U{d}"))
    }

    fn rec(
        frequency: i64,
        interval: i64,
        count: i64,
        end: Option<f64>,
        spec: Option<&str>,
    ) -> Recurrence {
        Recurrence {
            frequency,
            interval: Some(interval),
            count: Some(count),
            end_date: end,
            specifier: spec.map(str::to_string),
        }
    }

    #[test]
    fn rows_become_rrules() {
        assert_eq!(
            rrule(&rec(2, 1, 0, None, None), &until).unwrap(),
            "FREQ=WEEKLY"
        );
        assert_eq!(
            rrule(&rec(2, 2, 10, Some(5.0), Some("D=0MO,0WE")), &until).unwrap(),
            "FREQ=WEEKLY;INTERVAL=2;COUNT=10;BYDAY=MO,WE"
        );
        assert_eq!(
            rrule(&rec(3, 1, 0, Some(5.0), Some("D=-1FR;S=-1")), &until).unwrap(),
            "FREQ=MONTHLY;UNTIL=U5;BYDAY=-1FR;BYSETPOS=-1"
        );
        assert_eq!(
            rrule(&rec(4, 1, 0, None, Some("D=2SU;O=5")), &until).unwrap(),
            "FREQ=YEARLY;BYMONTH=5;BYDAY=2SU"
        );
        assert_eq!(
            rrule(&rec(3, 1, 0, None, Some("M=1,15,-1")), &until).unwrap(),
            "FREQ=MONTHLY;BYMONTHDAY=1,15,-1"
        );
    }

    #[test]
    fn what_is_not_understood_is_an_error() {
        for spec in ["D=XX", "M=32", "Q=1", "D", "O=-1", "D=99MO"] {
            assert!(
                rrule(&rec(2, 1, 0, None, Some(spec)), &until).is_err(),
                "{spec}"
            );
        }
        assert!(rrule(&rec(7, 1, 0, None, None), &until).is_err());
    }
}
