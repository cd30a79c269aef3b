//! Calendar arithmetic, all of it through `jiff`: the local time zone (`TZ`, else the system's;
//! UTC when neither names one Hearth can read), for what a household means by a day
//! (retention's days and weeks and `DEVICE@YYYY-MM-DD` are counted in it, as restic and rustic
//! do), civil dates of Unix times, and RFC 3339.

use jiff::tz::TimeZone;
use jiff::{Timestamp, civil::Date};

fn zone() -> TimeZone {
    TimeZone::try_system().unwrap_or(TimeZone::UTC)
}

/// The local wall clock at `micros` (Unix microseconds), as the Unix microseconds of that wall
/// clock read as UTC: what calendar arithmetic on local days needs.
pub fn wall_micros(micros: i64) -> i64 {
    let Ok(t) = Timestamp::from_microsecond(micros) else {
        return micros;
    };
    let offset = i64::from(zone().to_offset(t).seconds());
    micros.saturating_add(offset * 1_000_000)
}

/// (year, month 1-12, day 1-31) of the UTC day holding `micros` (Unix microseconds; clamped
/// to the years -9999 to 9999).
pub fn utc_date(micros: i64) -> (i16, i8, i8) {
    let d = utc(micros).date();
    (d.year(), d.month(), d.day())
}

/// RFC 3339 in UTC, to the second: `2026-12-06T09:51:17Z`.
pub fn rfc3339(micros: i64) -> String {
    utc(micros).strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// RFC 3339 in the local time zone, to the second, with its offset:
/// `2026-12-06T10:51:17+01:00`, as a log line is stamped.
pub fn local_rfc3339(micros: i64) -> String {
    let t = Timestamp::from_microsecond(micros).unwrap_or(Timestamp::UNIX_EPOCH);
    t.to_zoned(zone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// The local wall clock to the minute, `2026-12-06 09:51`, as a person reads a snapshot's time.
pub fn local_minute(micros: i64) -> String {
    utc(wall_micros(micros))
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

fn utc(micros: i64) -> jiff::civil::DateTime {
    let t = Timestamp::from_microsecond(micros).unwrap_or(if micros < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    });
    TimeZone::UTC.to_datetime(t)
}

/// The first instant (Unix microseconds) after local day `date` (`YYYY-MM-DD`); `None` when
/// it is not a date.
pub fn end_of_day(date: &str) -> Option<i64> {
    let next = date.parse::<Date>().ok()?.tomorrow().ok()?;
    let start = next.to_zoned(zone()).ok()?;
    Some(start.timestamp().as_microsecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_and_rfc3339() {
        const DAY: i64 = 86_400_000_000;
        assert_eq!(utc_date(0), (1970, 1, 1));
        assert_eq!(utc_date(-1), (1969, 12, 31));
        assert_eq!(utc_date(11_016 * DAY), (2000, 2, 29));
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_780_000_000_123_456), "2026-05-28T20:26:40Z");
        assert_eq!(
            rfc3339(i64::MAX),
            rfc3339(i64::MAX - 1),
            "clamped, not a panic"
        );
    }

    #[test]
    fn local_rfc3339_has_the_offset_of_the_zone() {
        let t = local_rfc3339(1_780_000_000_123_456);
        assert_eq!(t.len(), "2026-05-28T20:26:40+00:00".len(), "{t}");
        assert!(
            t.starts_with("2026-05-2") && t[19..].starts_with(['+', '-']),
            "{t}"
        );
    }

    #[test]
    fn dates_that_are_not_dates_are_none() {
        assert!(end_of_day("2026-02-30").is_none());
        assert!(end_of_day("June 2").is_none());
        assert!(end_of_day("2026-06-02").is_some());
    }
}
