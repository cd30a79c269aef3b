//! Retention policies (`hearth forget`): which snapshots of a group to keep, and why. Pure data:
//! no I/O. Hours, days, weeks, months and years are those of the wall clock each candidate
//! carries (the caller's local time zone, [`crate::local_time`]); `within` counts real time.

use crate::local_time::utc_date;
use hearth_format::SnapshotId;
use std::collections::BTreeSet;

const MICROS_PER_HOUR: i64 = 3_600_000_000;
/// A calendar rule: its name, how many buckets it keeps, and a snapshot time's bucket.
type BucketRule = (&'static str, usize, fn(i64) -> i64);
const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

/// What to keep. Counts of 0 mean "not used".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub last: usize,
    pub hourly: usize,
    pub daily: usize,
    pub weekly: usize,
    pub monthly: usize,
    pub yearly: usize,
    /// Keep every snapshot this many microseconds or less older than the group's newest.
    pub within: Option<i64>,
    /// Keep snapshots carrying any of these tags.
    pub tags: Vec<String>,
}

impl Policy {
    pub fn is_empty(&self) -> bool {
        *self == Policy::default()
    }
}

/// A snapshot as retention sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: SnapshotId,
    /// When the device was backed up, Unix microseconds.
    pub time: i64,
    /// The local wall clock at `time`, as Unix microseconds of that wall clock read as UTC
    /// ([`crate::local_time::wall_micros`]): what the calendar buckets go by.
    pub wall: i64,
    pub tags: Vec<String>,
    pub pinned: bool,
}

/// The verdict on one snapshot: kept, with every rule that keeps it, or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub id: SnapshotId,
    pub time: i64,
    /// Empty when the snapshot is removed.
    pub reasons: Vec<String>,
}

impl Decision {
    pub fn keep(&self) -> bool {
        !self.reasons.is_empty()
    }
}

/// The verdicts for one group (e.g. one device's snapshots), newest first.
pub fn apply(policy: &Policy, group: &[Candidate]) -> Vec<Decision> {
    let mut sorted: Vec<&Candidate> = group.iter().collect();
    sorted.sort_by_key(|c| std::cmp::Reverse((c.time, c.id)));
    let newest = sorted.first().map_or(0, |c| c.time);
    let mut decisions: Vec<Decision> = sorted
        .iter()
        .map(|c| Decision {
            id: c.id,
            time: c.time,
            reasons: Vec::new(),
        })
        .collect();
    let buckets: [BucketRule; 5] = [
        ("hourly", policy.hourly, |t| t.div_euclid(MICROS_PER_HOUR)),
        ("daily", policy.daily, day),
        ("weekly", policy.weekly, |t| {
            let d = day(t);
            d - (d + 3).rem_euclid(7) // the Monday of its ISO week (1970-01-01 was a Thursday)
        }),
        ("monthly", policy.monthly, |t| {
            let (y, m, _) = utc_date(t);
            i64::from(y) * 12 + i64::from(m)
        }),
        ("yearly", policy.yearly, |t| i64::from(utc_date(t).0)),
    ];
    for (i, (c, d)) in sorted.iter().zip(decisions.iter_mut()).enumerate() {
        if c.pinned {
            d.reasons.push("pinned".into());
        }
        if i < policy.last {
            d.reasons.push(format!("last {}", policy.last));
        }
        if let Some(w) = policy.within
            && newest.saturating_sub(c.time) <= w
        {
            d.reasons.push(format!("within {}", describe_span(w)));
        }
        if let Some(tag) = c.tags.iter().find(|t| policy.tags.contains(t)) {
            d.reasons.push(format!("tag {tag}"));
        }
    }
    for (name, count, bucket) in buckets {
        let mut seen = BTreeSet::new();
        for (c, d) in sorted.iter().zip(decisions.iter_mut()) {
            if seen.len() == count {
                break;
            }
            if seen.insert(bucket(c.wall)) {
                d.reasons.push(format!("{name} {count}"));
            }
        }
    }
    decisions
}

fn day(t: i64) -> i64 {
    t.div_euclid(MICROS_PER_DAY)
}

/// `30d`, `12h`, `2w`: how `within` is printed.
fn describe_span(micros: i64) -> String {
    let hours = micros / MICROS_PER_HOUR;
    match hours {
        h if h % (24 * 7) == 0 && h > 0 => format!("{}w", h / (24 * 7)),
        h if h % 24 == 0 && h > 0 => format!("{}d", h / 24),
        h => format!("{h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = MICROS_PER_HOUR;
    const D: i64 = MICROS_PER_DAY;

    fn snap(n: u8, time: i64) -> Candidate {
        Candidate {
            id: SnapshotId([n; 32]),
            time,
            wall: time,
            tags: Vec::new(),
            pinned: false,
        }
    }

    fn kept(policy: &Policy, group: &[Candidate]) -> Vec<u8> {
        let mut ids: Vec<u8> = apply(policy, group)
            .iter()
            .filter(|d| d.keep())
            .map(|d| d.id.0[0])
            .collect();
        ids.sort_unstable();
        ids
    }

    /// 2026-11-01 00:00 UTC, a Sunday.
    const NOV_1: i64 = 1_793_491_200 * 1_000_000;

    #[test]
    fn calendar_arithmetic_is_right() {
        assert_eq!(utc_date(0), (1970, 1, 1));
        assert_eq!(utc_date(NOV_1), (2026, 11, 1));
        assert_eq!(utc_date(NOV_1 - 1), (2026, 10, 31));
        assert_eq!(utc_date(11_016 * D), (2000, 2, 29));
    }

    #[test]
    fn nightly_snapshots_thin_out_to_daily_weekly_monthly() {
        // Two snapshots a day (02:00 and 14:00) for 60 days ending 2026-11-01.
        let group: Vec<Candidate> = (0..120)
            .map(|i| snap(i as u8, NOV_1 - i64::from(i) * 12 * H))
            .collect();
        let daily = Policy {
            daily: 7,
            ..Policy::default()
        };
        // The newest of each of the last 7 days: 0 (Nov 1 00:00), then 1 (Oct 31 12:00), 3, 5...
        assert_eq!(kept(&daily, &group), [0, 1, 3, 5, 7, 9, 11]);
        let weekly = Policy {
            weekly: 3,
            ..Policy::default()
        };
        // Nov 1 is a Sunday: its week starts Oct 26; the previous weeks end Oct 25 and Oct 18.
        assert_eq!(kept(&weekly, &group), [0, 13, 27]);
        let monthly = Policy {
            monthly: 3,
            ..Policy::default()
        };
        assert_eq!(kept(&monthly, &group), [0, 1, 63]);
        let last = Policy {
            last: 2,
            yearly: 5,
            ..Policy::default()
        };
        assert_eq!(
            kept(&last, &group),
            [0, 1],
            "one year bucket: its newest is also a last"
        );
    }

    #[test]
    fn within_tags_and_pins_keep_regardless_of_counts() {
        let mut group: Vec<Candidate> =
            (0..10).map(|i| snap(i, NOV_1 - i64::from(i) * D)).collect();
        group[7].tags.push("before-ios-18".into());
        group[9].pinned = true;
        let p = Policy {
            within: Some(3 * D),
            tags: vec!["before-ios-18".into()],
            ..Policy::default()
        };
        assert_eq!(kept(&p, &group), [0, 1, 2, 3, 7, 9]);
        let reasons = apply(&p, &group);
        let pinned = reasons.iter().find(|d| d.id.0[0] == 9).unwrap();
        assert_eq!(pinned.reasons, ["pinned"]);
        assert!(reasons[0].reasons.contains(&"within 3d".to_string()));
    }

    #[test]
    fn days_are_those_of_the_wall_clock_the_candidates_carry() {
        // 03:30 and 05:30 UTC on one day; in New York (UTC-4) 23:30 the day before and 01:30.
        let t0 = 1_780_371_000_000_000; // 2026-06-02T03:30:00Z
        let t1 = t0 + 2 * MICROS_PER_HOUR;
        let new_york = |c: Candidate| Candidate {
            wall: c.time - 4 * MICROS_PER_HOUR,
            ..c
        };
        let daily = Policy {
            daily: 2,
            ..Policy::default()
        };
        assert_eq!(
            kept(&daily, &[snap(0, t0), snap(1, t1)]),
            [1],
            "one UTC day"
        );
        let local = [new_york(snap(0, t0)), new_york(snap(1, t1))];
        assert_eq!(kept(&daily, &local), [0, 1], "two local days");
    }

    #[test]
    fn hourly_buckets_and_an_empty_policy() {
        let group: Vec<Candidate> = (0..6)
            .map(|i| snap(i, NOV_1 - i64::from(i) * H / 2))
            .collect();
        let p = Policy {
            hourly: 2,
            ..Policy::default()
        };
        assert_eq!(kept(&p, &group), [0, 1]);
        assert!(Policy::default().is_empty());
        assert!(kept(&Policy::default(), &group).is_empty());
    }
}
