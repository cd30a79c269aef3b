//! `hearth export` as a command, whatever the kind: which snapshots it takes (named, each
//! device's latest, `--device`, `--all`), where each one's files go, the one-file form
//! (`--out x.vcf`), and what it says when asked the impossible.

use crate::common::ios_databases::{fixture, sql_copy};
use crate::common::{World, describe, names, s, u};
use crate::handmade::HandDevice;
use hearth_testkit::{DayOptions, HouseholdSpec, generate, next_day};
use rusqlite::Connection;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Two devices, backed up on two days: each has two snapshots.
fn household_of_two_nights(w: &World) {
    let h = generate(&HouseholdSpec::tiny(), &w.path("house")).unwrap();
    w.ok(&["backup", s(&h.root)]);
    next_day(&h, 1, &DayOptions::default()).unwrap();
    w.ok(&["backup", s(&h.root)]);
}

/// Each device's latest snapshot id, by device name, as `snapshots --json` lists them.
fn latest_ids(w: &World) -> BTreeMap<String, String> {
    let all = w.json(&["snapshots"], 0);
    let mut latest: BTreeMap<String, (String, String)> = BTreeMap::new();
    for snap in all.as_array().unwrap() {
        let name = snap["device"]["name"].as_str().unwrap().to_string();
        let (id, time) = (snap["id"].as_str().unwrap(), snap["time"].as_str().unwrap());
        let newer = latest.get(&name).is_none_or(|(_, t)| t.as_str() < time);
        if newer {
            latest.insert(name, (id.to_string(), time.to_string()));
        }
    }
    latest.into_iter().map(|(k, (id, _))| (k, id)).collect()
}

fn snapshots(report: &Value) -> &Vec<Value> {
    report["snapshots"].as_array().unwrap()
}

#[test]
fn each_devices_latest_snapshot_by_default_into_a_folder_per_device() {
    let w = World::with_repo();
    household_of_two_nights(&w);
    let latest = latest_ids(&w);
    let out = w.path("contacts");
    let report = w.json(&["export", "contacts", "--out", s(&out)], 0);
    let snaps = snapshots(&report);
    assert_eq!(snaps.len(), 2, "{report:#}");
    for snap in snaps {
        let device = snap["device"].as_str().unwrap();
        assert_eq!(snap["id"], latest[device], "{device}");
        assert_eq!(snap["out"], s(&out.join(device)), "{device}");
        assert!(snap["failed"].is_null());
        assert!(out.join(device).join("contacts.vcf").is_file(), "{device}");
    }
    let per_device: u64 = snaps.iter().map(|s| u(&s["contacts"])).sum();
    assert_eq!(u(&report["contacts"]), per_device);
    assert!(per_device > 0);
    assert_eq!(report["kind"], "contacts");

    // One device's latest goes straight into the folder.
    let one = w.path("mum");
    let report = w.json(
        &[
            "export",
            "contacts",
            "--device",
            "Mum's iPhone",
            "--out",
            s(&one),
        ],
        0,
    );
    assert_eq!(snapshots(&report).len(), 1);
    assert_eq!(snapshots(&report)[0]["id"], latest["Mum's iPhone"]);
    assert!(one.join("contacts.vcf").is_file());
}

#[test]
fn all_snapshots_go_into_a_folder_per_device_and_time() {
    let w = World::with_repo();
    household_of_two_nights(&w);
    let out = w.path("calls");
    let report = w.json(&["export", "calls", "--all", "--out", s(&out)], 0);
    let snaps = snapshots(&report);
    assert_eq!(snaps.len(), 4, "{report:#}");
    let mut outs: Vec<&str> = snaps.iter().map(|s| s["out"].as_str().unwrap()).collect();
    outs.sort();
    outs.dedup();
    assert_eq!(
        outs.len(),
        4,
        "every snapshot has a folder of its own: {outs:?}"
    );
    for snap in snaps {
        let folder = std::path::Path::new(snap["out"].as_str().unwrap());
        let device = snap["device"].as_str().unwrap();
        assert_eq!(folder.parent().unwrap(), out.join(device));
        let time = folder.file_name().unwrap().to_str().unwrap();
        assert!(
            time.len() >= 19 && !time.contains(':'),
            "a local time without colons: {time}"
        );
        assert!(folder.join("calls.csv").is_file());
    }
}

#[test]
fn one_file_holds_one_snapshot_and_asking_for_more_is_a_usage_error() {
    let w = World::with_repo();
    household_of_two_nights(&w);
    let file = w.path("dad.vcf");
    let report = w.json(
        &[
            "export",
            "contacts",
            "Dad's iPhone@latest",
            "--out",
            s(&file),
        ],
        0,
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        text.matches("BEGIN:VCARD").count() as u64,
        u(&report["contacts"])
    );
    assert!(!w.path("dad.vcf/contacts.vcf").exists());

    let both = w.path("both.vcf");
    let out = w.run(&["export", "contacts", "--out", s(&both)]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("one .vcf file") && err.contains("2 snapshots"),
        "{err}"
    );
    assert!(!both.exists(), "nothing written");

    // A snapshot reference that names nothing is named back.
    let out = w.run(&[
        "export",
        "messages",
        "Nobody@latest",
        "--out",
        s(&w.path("m")),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Nobody"));
    // An unknown kind is clap's usage error.
    let out = w.run(&["export", "faxes", "--out", s(&w.path("f"))]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}

#[test]
fn an_empty_repository_has_nothing_to_export() {
    let w = World::with_repo();
    let out = w.run(&["export", "photos", "--out", s(&w.path("p"))]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no snapshot"));
}

/// A copy of a real database with `sql` run on it (its WAL checkpointed into it): the bytes a
/// device could have written. Its triggers are dropped first: they call functions only iOS
/// has.
fn edited_copy(db: &Path, dir: &Path, sql: &str) -> Vec<u8> {
    let copy = sql_copy(db, dir, true);
    let conn = Connection::open(&copy).unwrap();
    let triggers: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for t in triggers {
        conn.execute_batch(&format!("DROP TRIGGER \"{t}\""))
            .unwrap();
    }
    conn.execute_batch(sql).unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    drop(conn);
    std::fs::read(&copy).unwrap()
}

/// Every path under `dir`, files and folders.
fn all_paths(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.symlink_metadata().unwrap().is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

#[test]
fn names_a_device_wrote_never_lead_outside_the_output_folder() {
    let w = World::with_repo();
    let image = fixture("ios-databases/hickman-ios14.3-iphonese");
    // A conversation, an attachment and a person named to climb out of the output folder.
    let sms = edited_copy(
        &image.join("Library/SMS/sms.db"),
        &w.path("sms"),
        "UPDATE chat SET display_name = '../../../outside' WHERE ROWID = 3;
         UPDATE attachment SET transfer_name = '../../evil.pdf',
           filename = '~/Library/SMS/Attachments/cc/12/x/../../../../../../evil.pdf' WHERE ROWID = 3;",
    );
    let book = edited_copy(
        &image.join("Library/AddressBook/AddressBook.sqlitedb"),
        &w.path("book"),
        "UPDATE ABPerson SET First = '../../..', Last = 'etc/passwd', Organization = NULL WHERE ROWID = 1;",
    );
    let mut device = HandDevice::new(&w.path("devices"), "00008030-00000000000000AA", "Hostile");
    device.file("HomeDomain", "Library/SMS/sms.db", &sms);
    device.file(
        "HomeDomain",
        "Library/AddressBook/AddressBook.sqlitedb",
        &book,
    );
    // A file whose Manifest.db path climbs: the backup records it, the tree never shows it.
    device.file(
        "MediaDomain",
        "Library/SMS/Attachments/cc/12/x/../../../../../../evil.pdf",
        b"x",
    );
    let folder = device.finish();
    let backup = w.run(&["backup", s(&folder)]);
    assert!(
        matches!(backup.status.code(), Some(0 | 3)),
        "{}",
        describe(&backup)
    );

    let nest = w.path("nest");
    let out = nest.join("out");
    let messages = w.json(
        &["export", "messages", "--out", s(&out.join("messages"))],
        0,
    );
    assert!(u(&messages["conversations"]) > 5, "{messages:#}");
    let contacts = w.json(
        &["export", "contacts", "--out", s(&out.join("contacts"))],
        0,
    );
    assert!(u(&contacts["contacts"]) > 1, "{contacts:#}");
    let mut pages = names(&out.join("messages"));
    pages.sort();
    assert!(
        pages.contains(&"_.._.._outside.html".to_string()),
        "the hostile title is one safe name: {pages:?}"
    );
    let cards = names(&out.join("contacts"));
    assert!(
        cards.contains(&"_.._.. etc_passwd.vcf".to_string()),
        "the hostile person is one safe name: {cards:?}"
    );
    // Nothing beside the output folder, nothing in it that leads elsewhere.
    assert_eq!(names(&nest), ["out"]);
    for p in all_paths(&out) {
        assert!(
            !p.symlink_metadata().unwrap().is_symlink(),
            "{}",
            p.display()
        );
        let rel = p.strip_prefix(&out).unwrap();
        assert!(
            rel.components()
                .all(|c| matches!(c, std::path::Component::Normal(_))),
            "{}",
            p.display()
        );
    }
    assert!(!w.path("evil.pdf").exists() && !w.path("outside.html").exists());
}
