//! A snapshot carries the device's own backup time (issue 12, item 2): `Status.plist`'s `Date`
//! is what listings, `DEVICE@latest`, `DEVICE@latest~N`, `DEVICE@YYYY-MM-DD` and retention go
//! by, and `stored_at` is when Hearth stored it; retention's days are local days (`TZ`).

use crate::common;
use crate::handmade;

use common::{World, describe, s};
use handmade::HandDevice;
use hearth_mobilesync::{StatusInfo, write_plist_binary};
use hearth_testkit::bytes::noise;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

const UDID: &str = "D1D1D1D1D1D1D1D1D1D1D1D1D1D1D1D1D1D1D1D1";

/// 2026-06-02T03:30:00Z, as Unix seconds.
const JUNE_2_0330: u64 = 1_780_371_000;
const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

/// Rewrites the device folder's Status.plist as a finished backup made at `secs`.
fn backed_up_at(folder: &Path, secs: u64) {
    let status = StatusInfo {
        snapshot_state: Some("finished".into()),
        is_full_backup: Some(false),
        version: Some("3.3".into()),
        date: Some(UNIX_EPOCH + Duration::from_secs(secs)),
        uuid: Some(format!("{secs:032X}")),
        ..StatusInfo::default()
    };
    write_plist_binary(&folder.join("Status.plist"), &status.to_plist()).unwrap();
}

/// Writes the device folder again with what was added since (a new Manifest.db).
fn again(d: &mut HandDevice) {
    let _ = std::fs::remove_file(d.folder.join("Manifest.db"));
    d.finish();
}

/// `snapshots --json`, oldest first: (id, time, stored_at).
fn snapshots(w: &World) -> Vec<(String, String, String)> {
    let v = w.json(&["snapshots"], 0);
    let list = v.as_array().unwrap();
    list.iter()
        .map(|s| {
            let field = |k: &str| s[k].as_str().unwrap().to_owned();
            (field("id"), field("time"), field("stored_at"))
        })
        .collect()
}

/// The snapshot a reference names, as the restore plan says.
fn named(w: &World, reference: &str) -> Result<String, String> {
    let out = w.run(&["--json", "restore", reference, "--dry-run"]);
    match out.status.code() {
        Some(0) => {
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            Ok(v["source"]["snapshot"].as_str().unwrap().to_owned())
        }
        _ => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
    }
}

#[test]
fn snapshots_carry_the_time_the_device_was_backed_up_and_references_use_it() {
    let w = World::with_repo();
    let mut d = HandDevice::new(&w.path("Backup"), UDID, "June's iPhone");
    d.file("HomeDomain", "Library/a.bin", &noise(1, 10_000));
    let folder = d.finish();
    backed_up_at(&folder, JUNE_2_0330);
    w.ok(&["backup", s(&folder)]);
    d.file("HomeDomain", "Library/b.bin", &noise(2, 10_000));
    again(&mut d);
    backed_up_at(&folder, JUNE_2_0330 + 7 * DAY);
    w.ok(&["backup", s(&folder)]);

    let list = snapshots(&w);
    assert_eq!(list.len(), 2, "{list:?}");
    let (first, second) = (&list[0], &list[1]);
    assert_eq!(
        first.1, "2026-06-02T03:30:00Z",
        "the device's time: {list:?}"
    );
    assert_eq!(second.1, "2026-06-09T03:30:00Z");
    assert!(
        first.2.starts_with("20") && first.2 != first.1,
        "stored_at is when Hearth stored it: {list:?}"
    );

    let at = |r: &str| named(&w, &format!("{UDID}@{r}"));
    assert_eq!(at("latest").unwrap(), second.0);
    assert_eq!(at("latest~1").unwrap(), first.0);
    assert_eq!(at("2026-06-05").unwrap(), first.0);
    assert_eq!(at("2026-06-09").unwrap(), second.0);
    let e = at("2026-06-01").unwrap_err();
    assert!(e.contains("has no snapshot on or before 2026-06-01"), "{e}");
    let e = at("latest~2").unwrap_err();
    assert!(e.contains("has 2 snapshot(s)"), "{e}");
    let e = at("June").unwrap_err();
    assert!(e.contains("DEVICE@YYYY-MM-DD"), "{e}");

    // `devices` shows the latest by the device's time.
    let v = w.json(&["devices"], 0);
    assert_eq!(
        v["devices"][0]["latest_snapshot"]["time"], "2026-06-09T03:30:00Z",
        "{v:#}"
    );
}

#[test]
fn retention_counts_days_in_the_local_time_zone() {
    let w = World::with_repo();
    let mut d = HandDevice::new(&w.path("Backup"), UDID, "June's iPhone");
    d.file("HomeDomain", "Library/a.bin", &noise(3, 10_000));
    let folder = d.finish();
    // 03:30 and 05:30 UTC: one day in UTC; in New York (UTC-4 in June) June 1 and June 2.
    for (i, secs) in [JUNE_2_0330, JUNE_2_0330 + 2 * HOUR]
        .into_iter()
        .enumerate()
    {
        let path = format!("Library/day{i}.bin");
        d.file("HomeDomain", &path, &noise(10 + i as u64, 5_000));
        again(&mut d);
        backed_up_at(&folder, secs);
        w.ok(&["backup", s(&folder)]);
    }
    let kept = |tz: &str| -> usize {
        let out = w
            .cmd(&["--json", "forget", "--keep-daily", "2", "--dry-run"])
            .env("TZ", tz)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let snaps = v["groups"][0]["snapshots"].as_array().unwrap();
        snaps.iter().filter(|s| s["keep"] == true).count()
    };
    assert_eq!(kept("UTC"), 1, "one UTC day: its newest only");
    // A POSIX TZ string: no time zone database needed.
    assert_eq!(kept("EST5EDT,M3.2.0,M11.1.0"), 2, "two local days");
}
