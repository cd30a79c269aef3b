//! The local time zone (`TZ`, else the system's; UTC when neither names one Hearth can read),
//! for what a household means by a day: retention's days and weeks and `DEVICE@YYYY-MM-DD`
//! are counted in it, as restic and rustic do.

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
    fn dates_that_are_not_dates_are_none() {
        assert!(end_of_day("2026-02-30").is_none());
        assert!(end_of_day("June 2").is_none());
        assert!(end_of_day("2026-06-02").is_some());
    }
}
