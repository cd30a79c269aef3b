use super::*;
use hearth_format::{DeviceIdentity, SnapshotSummary};

const DAY: i64 = SECS_PER_DAY;
/// 2024-03-09T16:00:00Z.
const NOW: i64 = 1_710_000_000;

fn snapshot(udid: &str, secs: i64) -> Snapshot {
    Snapshot {
        time: secs * 1_000_000,
        stored_at: secs * 1_000_000,
        host: "pantry".into(),
        device: DeviceIdentity {
            udid: udid.into(),
            name: format!("{udid}'s iPhone"),
            ..DeviceIdentity::default()
        },
        parent: None,
        tags: vec![],
        summary: SnapshotSummary::default(),
        warnings: vec![],
        tree_len: 0,
        tree: vec![],
    }
}

fn udids(o: &[OverdueDevice]) -> Vec<&str> {
    o.iter().map(|o| o.device.udid.as_str()).collect()
}

#[test]
fn a_device_is_overdue_from_the_whole_span_on() {
    assert!(!is_overdue(NOW - 7 * DAY + 1, NOW, 7 * DAY));
    assert!(is_overdue(NOW - 7 * DAY, NOW, 7 * DAY));
    assert_eq!(days_since(NOW - 9 * DAY - 5, NOW), 9);
}

#[test]
fn only_a_devices_latest_snapshot_counts() {
    let all = [
        snapshot("anna", NOW - 30 * DAY),
        snapshot("anna", NOW - DAY),
        snapshot("ben", NOW - 10 * DAY),
        snapshot("ben", NOW - 8 * DAY),
        snapshot("cleo", NOW - 3 * DAY),
    ];
    let overdue = overdue_devices(&all, NOW, 7 * DAY);
    assert_eq!(udids(&overdue), ["ben"]);
    assert_eq!(
        (overdue[0].days, overdue[0].last_backup),
        (8, NOW - 8 * DAY)
    );
    assert_eq!(overdue[0].device.name, "ben's iPhone");
    assert_eq!(udids(&overdue_devices(&all, NOW, 2 * DAY)), ["ben", "cleo"]);
}

#[test]
fn a_device_is_reported_once_a_day_and_again_after_it_recovers() {
    let utc = TimeZone::UTC;
    let mut r = Reported::default();
    let quiet = |latest| overdue_devices(&[snapshot("ben", latest)], NOW, 7 * DAY);
    // 2024-03-09T16:00Z: first report.
    assert_eq!(udids(&r.due(&quiet(NOW - 8 * DAY), NOW, &utc)), ["ben"]);
    // Later the same day: nothing.
    assert!(
        r.due(&quiet(NOW - 8 * DAY), NOW + 7 * 3600, &utc)
            .is_empty()
    );
    // The next day (past midnight UTC): again.
    assert_eq!(
        udids(&r.due(&quiet(NOW - 8 * DAY), NOW + 9 * 3600, &utc)),
        ["ben"]
    );
    // Backed up: forgotten.
    assert!(r.due(&[], NOW + 10 * 3600, &utc).is_empty());
    assert_eq!(r, Reported::default());
    // Quiet again the same day: reported again.
    assert_eq!(
        udids(&r.due(&quiet(NOW - 8 * DAY), NOW + 11 * 3600, &utc)),
        ["ben"]
    );
    // A new backup the note did not see, already old: reported though the day is the same.
    assert_eq!(
        udids(&r.due(&quiet(NOW - 7 * DAY), NOW + 11 * 3600, &utc)),
        ["ben"]
    );
}

#[test]
fn the_note_reads_back_and_a_damaged_one_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let overdue = overdue_devices(&[snapshot("ben 2", NOW - 9 * DAY)], NOW, 7 * DAY);
    assert_eq!(
        to_report(
            &[snapshot("ben 2", NOW - 9 * DAY)],
            dir.path(),
            NOW,
            7 * DAY
        )
        .unwrap(),
        vec![overdue[0].event()]
    );
    assert!(
        to_report(
            &[snapshot("ben 2", NOW - 9 * DAY)],
            dir.path(),
            NOW + 60,
            7 * DAY
        )
        .unwrap()
        .is_empty()
    );
    let text = std::fs::read_to_string(dir.path().join(NOTE)).unwrap();
    assert_eq!(
        text,
        format!("hearth-overdue 1\n{} {NOW} ben 2\n", NOW - 9 * DAY)
    );
    for damaged in [
        "",
        "hearth-overdue 2\n",
        "hearth-overdue 1\nx 1 a\n",
        "hearth-overdue 1\n1\n",
    ] {
        assert_eq!(Reported::decode(damaged), None, "{damaged:?}");
    }
    std::fs::write(dir.path().join(NOTE), "garbage").unwrap();
    assert_eq!(Reported::load(dir.path()), Reported::default());
}
