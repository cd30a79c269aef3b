//! Apple's timestamps: seconds (Core Data stores: Photos, CallHistory, Notes, WhatsApp) or
//! nanoseconds (`sms.db` since iOS 11) since 2001-01-01 UTC.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// 2001-01-01T00:00:00Z in Unix seconds.
pub const APPLE_EPOCH: i64 = 978_307_200;

/// A Core Data date (float seconds since 2001); `None` for NULL-like values (0 or not finite).
pub fn from_apple_seconds(secs: f64) -> Option<Timestamp> {
    if !secs.is_finite() || secs == 0.0 {
        return None;
    }
    let nanos = (secs * 1e9).round() as i128 + i128::from(APPLE_EPOCH) * 1_000_000_000;
    Timestamp::from_nanosecond(nanos).ok()
}

/// An `sms.db` date: nanoseconds since 2001 on iOS ≥ 11, seconds before. Values over 10^11
/// cannot be seconds (year 5170), so they are nanoseconds.
pub fn from_apple_sms(value: i64) -> Option<Timestamp> {
    match value {
        0 => None,
        v if v.abs() > 100_000_000_000 => {
            Timestamp::from_nanosecond(i128::from(v) + i128::from(APPLE_EPOCH) * 1_000_000_000).ok()
        }
        v => Timestamp::from_second(v + APPLE_EPOCH).ok(),
    }
}

/// The household's time zone (TZ, else the system's): what a person means by a date.
pub fn local_zone() -> TimeZone {
    TimeZone::system()
}

/// `2024-05-01 18:03` in `zone`: dates in pages and file lists people read.
pub fn human(t: Timestamp, zone: &TimeZone) -> String {
    t.to_zoned(zone.clone())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

/// RFC 3339 in UTC: dates in JSON and CSV.
pub fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_data_seconds_count_from_2001() {
        assert_eq!(
            rfc3339(from_apple_seconds(0.5).unwrap()),
            "2001-01-01T00:00:00Z"
        );
        assert_eq!(
            rfc3339(from_apple_seconds(626_140_800.0).unwrap()),
            "2020-11-04T00:00:00Z"
        );
        assert_eq!(from_apple_seconds(0.0), None);
        assert_eq!(from_apple_seconds(f64::NAN), None);
    }

    #[test]
    fn sms_dates_are_nanoseconds_or_old_seconds() {
        let ns = 626_140_800_000_000_000;
        assert_eq!(rfc3339(from_apple_sms(ns).unwrap()), "2020-11-04T00:00:00Z");
        assert_eq!(
            rfc3339(from_apple_sms(626_140_800).unwrap()),
            "2020-11-04T00:00:00Z"
        );
        assert_eq!(from_apple_sms(0), None);
    }
}
