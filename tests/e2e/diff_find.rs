//! `hearth diff A B` and `hearth find PATTERN` (the items 4 and 5) through the real
//! binary: a night's diff is exactly what the night changed, checked against the two source
//! folders (every file's bytes), the test kit's record of its edits and plain SQL on the two
//! Manifest.db files; a diff of an encrypted device counts plaintext bytes; a diff across two
//! devices; `find` of a file that some snapshots hold and one changed; snapshot references
//! (`D@latest~N`, `D@YYYY-MM-DD`) and their errors.

use crate::common;
use crate::handmade;

use common::{World, describe, s, u};
use handmade::{HandDevice, write_status};
use hearth_mobilesync::{DeviceFolder, EntryKind, FileId, MANIFEST_DB, ManifestDb};
use hearth_testkit::{
    DayOptions, DeviceChanges, DeviceKeys, FileDigest, HouseholdSpec, copy_tree,
    generate_with_twin, next_day, tree_digest,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const IOS_PASSWORD: &str = "diff and find";

/// A file of a device folder as `diff` names it: (domain, relative path), or (None, its path
/// in the backup folder) for the folder's own files.
type Key = (Option<String>, String);

/// (change, bytes before, bytes after), as `diff --json` gives them.
type Expected = BTreeMap<Key, (String, Option<u64>, Option<u64>)>;

/// Every file of a device folder by what `diff` calls it, with its length and digest: the
/// rows' blobs from `plain` (the folder, or the plaintext twin of an encrypted one), the
/// folder's own files from `real` (the plists are never encrypted; an encrypted Manifest.db
/// differs where its plaintext does, and is as long as that plaintext decrypted with `keys`).
fn files_of(real: &Path, plain: &Path, keys: Option<&DeviceKeys>) -> BTreeMap<Key, FileDigest> {
    let blobs = tree_digest(plain).expect("digest");
    let rows = ManifestDb::open(&plain.join(MANIFEST_DB))
        .unwrap()
        .rows()
        .unwrap();
    let mut out = BTreeMap::new();
    let mut claimed = BTreeSet::new();
    for r in rows.iter().filter(|r| r.kind() == EntryKind::File) {
        let path = FileId::parse(&r.file_id).unwrap().blob_path();
        let key = (Some(r.domain.clone()), r.relative_path.clone());
        out.insert(key, blobs[&path].clone());
        claimed.insert(path);
    }
    for (path, mut digest) in tree_digest(real).expect("digest") {
        if let (MANIFEST_DB, Some(keys)) = (path.as_str(), keys) {
            let folder = DeviceFolder::open(real).unwrap();
            let (db, _) = folder.encrypted_manifest_db(&keys.class_keys).unwrap();
            digest.0 = db.plain_len().unwrap();
        }
        if !claimed.contains(&path) {
            out.insert((None, path), digest);
        }
    }
    out
}

/// What `diff` must find between two folders' files: added, removed, and changed where the
/// bytes differ.
fn expected(before: &BTreeMap<Key, FileDigest>, after: &BTreeMap<Key, FileDigest>) -> Expected {
    let mut out = Expected::new();
    for (k, (len, digest)) in before {
        match after.get(k) {
            None => out.insert(k.clone(), ("removed".into(), Some(*len), None)),
            Some((l, d)) if d != digest => {
                out.insert(k.clone(), ("changed".into(), Some(*len), Some(*l)))
            }
            Some(_) => None,
        };
    }
    for (k, (len, _)) in after {
        if !before.contains_key(k) {
            out.insert(k.clone(), ("added".into(), None, Some(*len)));
        }
    }
    out
}

/// `diff --json`'s changes, keyed as [`expected`] keys them.
fn changes(v: &Value) -> Expected {
    let opt = |x: &Value| x.as_u64();
    let mut out = Expected::new();
    for c in v["changes"].as_array().expect("changes") {
        let key = (
            c["domain"].as_str().map(str::to_string),
            c["relative_path"].as_str().unwrap().to_string(),
        );
        let value = (
            c["change"].as_str().unwrap().to_string(),
            opt(&c["bytes_before"]),
            opt(&c["bytes_after"]),
        );
        assert!(out.insert(key, value).is_none(), "one entry per path: {c}");
    }
    out
}

/// The night's record of what it did to a device, as `diff` would name it.
fn recorded(night: &DeviceChanges) -> BTreeMap<Key, &'static str> {
    let mut out = BTreeMap::new();
    for (list, change) in [
        (&night.modified, "changed"),
        (&night.added, "added"),
        (&night.deleted, "removed"),
    ] {
        for f in list {
            out.insert((Some(f.domain.clone()), f.relative_path.clone()), change);
        }
    }
    out
}

/// One number from plain SQL over the two Manifest.db files (`b` the before, attached).
fn sql(after: &Path, before: &Path, query: &str) -> u64 {
    let db = rusqlite::Connection::open_with_flags(
        after,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
    )
    .unwrap();
    db.execute(
        "ATTACH DATABASE ?1 AS b",
        [format!("file:{}?mode=ro", before.display())],
    )
    .unwrap();
    let n: i64 = db.query_row(query, [], |r| r.get(0)).unwrap();
    n as u64
}

fn snapshot_ids(w: &World, device: &str) -> Vec<String> {
    let v = w.json(&["snapshots", "--device", device], 0);
    let list = v.as_array().expect("a list of snapshots").iter();
    list.map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

fn backup(w: &World, folders: &[&Path]) {
    let mut args = vec!["backup"];
    args.extend(folders.iter().map(|f| s(f)));
    let out = w
        .cmd(&args)
        .env("HEARTH_IOS_PASSWORD", IOS_PASSWORD)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

#[test]
fn a_nights_diff_is_what_the_night_changed_on_an_encrypted_and_a_plain_device_and_across_them() {
    let w = World::with_repo();
    let (h, twin) =
        generate_with_twin(&HouseholdSpec::tiny_mixed(IOS_PASSWORD), &w.path("house")).unwrap();
    let (phone, pad) = (&h.devices[0], &h.devices[1]);
    assert!(phone.encrypted && !pad.encrypted);
    backup(&w, &[&phone.folder, &pad.folder]);
    let day0 = |d: usize| w.path(&format!("day0/{d}"));
    let twin_day0 = |d: usize| w.path(&format!("day0-twin/{d}"));
    for d in 0..2 {
        copy_tree(&h.devices[d].folder, &day0(d)).unwrap();
        copy_tree(&twin.devices[d].folder, &twin_day0(d)).unwrap();
    }
    let night = next_day(&h, 1, &DayOptions::default()).unwrap();
    next_day(&twin, 1, &DayOptions::default()).unwrap();
    backup(&w, &[&phone.folder, &pad.folder]);

    for d in 0..2 {
        let device = &h.devices[d];
        let udid = device.udid.as_str();
        let ids = snapshot_ids(&w, udid);
        assert_eq!(ids.len(), 2);
        let v = w.json(
            &[
                "diff",
                &format!("{udid}@latest~1"),
                &format!("{udid}@latest"),
            ],
            0,
        );
        assert_eq!(
            (v["a"].as_str(), v["b"].as_str()),
            (Some(&*ids[0]), Some(&*ids[1]))
        );

        // Exactly what differs between the folders, byte for byte (plaintext sizes).
        let keys = device.keys.as_ref();
        let before = files_of(&day0(d), &twin_day0(d), keys);
        let after = files_of(&device.folder, &twin.devices[d].folder, keys);
        let want = expected(&before, &after);
        let got = changes(&v);
        assert_eq!(got, want, "device {d}");

        // Of the device's own files, exactly what the night says it did.
        let rows: BTreeMap<Key, &str> = (got.iter())
            .filter(|(k, _)| k.0.is_some())
            .map(|(k, (c, _, _))| (k.clone(), c.as_str()))
            .collect();
        assert_eq!(rows, recorded(&night.devices[d]), "device {d}");
        let folder_files: BTreeSet<&str> = (got.keys())
            .filter(|k| k.0.is_none())
            .map(|k| k.1.as_str())
            .collect();
        assert!(
            folder_files.contains("Manifest.db") && folder_files.contains("Status.plist"),
            "{folder_files:?}"
        );

        // The counts, against plain SQL on the two Manifest.db files.
        let (new_db, old_db) = (
            twin.devices[d].folder.join(MANIFEST_DB),
            twin_day0(d).join(MANIFEST_DB),
        );
        let q = |query: &str| sql(&new_db, &old_db, query);
        let added = q(
            "SELECT count(*) FROM main.Files WHERE flags = 1 AND fileID NOT IN \
                       (SELECT fileID FROM b.Files WHERE flags = 1)",
        );
        let removed = q(
            "SELECT count(*) FROM b.Files WHERE flags = 1 AND fileID NOT IN \
                         (SELECT fileID FROM main.Files WHERE flags = 1)",
        );
        let rows_before = q("SELECT count(*) FROM b.Files WHERE flags = 1");
        let rows_after = q("SELECT count(*) FROM main.Files WHERE flags = 1");
        let t = &v["total"];
        assert_eq!(u(&t["added"]), added, "{t}");
        assert_eq!(u(&t["removed"]), removed, "{t}");
        let of_rows = |n: &str| got.values().filter(|(c, _, _)| c == n).count() as u64;
        assert_eq!(u(&t["changed"]), of_rows("changed"), "{t}");
        let folder_files_before = before.keys().filter(|k| k.0.is_none()).count() as u64;
        let folder_files_after = after.keys().filter(|k| k.0.is_none()).count() as u64;
        assert_eq!(u(&t["files_before"]), rows_before + folder_files_before);
        assert_eq!(u(&t["files_after"]), rows_after + folder_files_after);
        let delta: i64 = got
            .values()
            .map(|(_, b, a)| a.unwrap_or(0) as i64 - b.unwrap_or(0) as i64)
            .sum();
        assert_eq!(t["delta"].as_i64(), Some(delta));

        // Per domain, the same files.
        let mut per_domain: BTreeMap<Option<String>, u64> = BTreeMap::new();
        for k in got.keys() {
            *per_domain.entry(k.0.clone()).or_default() += 1;
        }
        for dom in v["domains"].as_array().unwrap() {
            let key = dom["domain"].as_str().map(str::to_string);
            let n = u(&dom["added"]) + u(&dom["removed"]) + u(&dom["changed"]);
            assert_eq!(per_domain.remove(&key).unwrap_or(0), n, "{dom}");
        }
        assert!(per_domain.is_empty(), "domains missing: {per_domain:?}");
        let grew = v["grew"]["files"].as_array().unwrap();
        assert!(!grew.is_empty() && grew.len() <= 10);
        let deltas: Vec<i64> = grew.iter().map(|g| g["delta"].as_i64().unwrap()).collect();
        assert!(deltas.windows(2).all(|p| p[0] >= p[1]), "{deltas:?}");
    }

    // Across devices: the encrypted phone's latest and the iPad's.
    let (a, b) = (&h.devices[0], &h.devices[1]);
    let v = w.json(
        &[
            "diff",
            &format!("{}@latest", a.udid),
            &format!("{}@latest", b.udid),
        ],
        0,
    );
    let want = expected(
        &files_of(&a.folder, &twin.devices[0].folder, a.keys.as_ref()),
        &files_of(&b.folder, &twin.devices[1].folder, b.keys.as_ref()),
    );
    let got = changes(&v);
    assert_eq!(got, want);
    assert!(
        got.values().any(|(c, _, _)| c == "added") && got.values().any(|(c, _, _)| c == "removed")
    );

    // The text says the same, one line per change, and sums it up.
    let text = w.ok(&[
        "diff",
        &format!("{}@latest", a.udid),
        &format!("{}@latest", b.udid),
    ]);
    let lines = text
        .lines()
        .filter(|l| l.starts_with(['+', '-', 'M']))
        .count();
    assert_eq!(lines, got.len(), "{text}");
    assert!(
        text.contains("By domain:") && text.contains("Files that grew most:"),
        "{text}"
    );
}

const PHONE: &str = "D1FF0000D1FF0000D1FF0000D1FF0000D1FF0000";
/// Noon UTC on 2025-03-01, 2025-03-02 and 2025-03-04.
const DAYS: [u64; 3] = [1_740_830_400, 1_740_916_800, 1_741_089_600];

/// One backup of the hand-made phone holding `files`, made at `date`.
fn hand_backup(w: &World, files: &[(&str, &str, &[u8])], date: u64) {
    let backup = w.path("Backup");
    let _ = std::fs::remove_dir_all(&backup);
    let mut d = HandDevice::new(&backup, PHONE, "Test iPhone");
    d.dir("HomeDomain", "Library");
    for (domain, path, content) in files {
        d.file(domain, path, content);
    }
    let folder = d.finish();
    let uuid = format!("7D1A3B2C-4E5F-4A6B-8C7D-{date:012X}");
    write_status(&folder, "finished", date, &uuid, false);
    w.ok(&["backup", s(&backup)]);
}

/// Three backups: `a.txt` in all (changed in the third), `b.txt` in the first and third,
/// `evil…` (a name with a terminal escape) in the third.
fn three_backups() -> (World, Vec<String>) {
    let w = World::with_repo();
    let (a1, a2, b) = (
        &b"first words"[..],
        &b"second, longer words"[..],
        &b"bee"[..],
    );
    let home = "HomeDomain";
    hand_backup(
        &w,
        &[(home, "Library/a.txt", a1), (home, "Library/b.txt", b)],
        DAYS[0],
    );
    hand_backup(&w, &[(home, "Library/a.txt", a1)], DAYS[1]);
    hand_backup(
        &w,
        &[
            (home, "Library/a.txt", a2),
            (home, "Library/b.txt", b),
            (home, "Library/evil\x1b[2J.txt", b"x"),
        ],
        DAYS[2],
    );
    let ids = snapshot_ids(&w, PHONE);
    assert_eq!(ids.len(), 3);
    (w, ids)
}

/// `YYYY-MM-DDTHH:MM:SSZ` of Unix seconds (civil-from-days, Howard Hinnant's algorithm).
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[test]
fn find_follows_a_file_through_the_snapshots_that_hold_it_and_where_it_changed() {
    let (w, ids) = three_backups();
    let v = w.json(&["find", "a.txt"], 0);
    let found = v.as_array().expect("a bare array");
    assert_eq!(found.len(), 1, "{v:#}");
    let a = &found[0];
    assert_eq!(a["device"]["udid"], PHONE);
    assert_eq!(a["device"]["name"], "Test iPhone");
    assert_eq!(a["domain"], "HomeDomain");
    assert_eq!(a["relative_path"], "Library/a.txt");
    assert_eq!(a["snapshots"], serde_json::json!(ids));
    assert_eq!(a["first_seen"], rfc3339(DAYS[0]));
    assert_eq!(a["last_seen"], rfc3339(DAYS[2]));
    assert_eq!(a["content_changed_in"], serde_json::json!([ids[2]]));
    let sizes: Vec<u64> = (a["versions"].as_array().unwrap().iter())
        .map(|v| u(&v["bytes"]))
        .collect();
    assert_eq!(sizes, [11, 20]);

    // By path, with the domain or without; the gap in b.txt's history shows.
    for pattern in [
        "HomeDomain/Library/b.txt",
        "Library/b.*",
        "*/Library/b.txt",
        "B.TXT",
    ] {
        let mut args = vec!["find", pattern, "--device", "Test iPhone"];
        if pattern == "B.TXT" {
            args.push("--ignore-case");
        }
        let v = w.json(&args, 0);
        let found = v.as_array().unwrap();
        assert_eq!(found.len(), 1, "{pattern}: {v:#}");
        let b = &found[0];
        assert_eq!(
            b["snapshots"],
            serde_json::json!([ids[0], ids[2]]),
            "{pattern}"
        );
        assert_eq!(b["content_changed_in"], serde_json::json!([]), "{pattern}");
        assert_eq!(b["last_seen"], rfc3339(DAYS[2]));
    }
    let v = w.json(&["find", "Library/*.txt"], 0);
    assert_eq!(v.as_array().unwrap().len(), 3, "{v:#}");
    let v = w.json(&["find", "Manifest.db"], 0);
    assert_eq!(v[0]["domain"], Value::Null);
    assert_eq!(v[0]["relative_path"], "Manifest.db");
    assert_eq!(v[0]["snapshots"], serde_json::json!(ids));
    assert_eq!(
        w.json(&["find", "nothing-like-it"], 0),
        serde_json::json!([])
    );

    // Text: readable, names escaped.
    let text = w.ok(&["find", "*.txt"]);
    assert!(text.contains("HomeDomain/Library/a.txt"), "{text}");
    assert!(text.contains("in 3 of 3 snapshots"), "{text}");
    assert!(text.contains("content changed in 1"), "{text}");
    assert!(
        text.contains("evil\\x1b[2J.txt") && !text.contains('\x1b'),
        "{text}"
    );
}

#[test]
fn diff_takes_every_kind_of_snapshot_reference() {
    let (w, ids) = three_backups();
    // latest~2 is the first; the last on or before 2025-03-03 is the second.
    let v = w.json(
        &[
            "diff",
            &format!("{PHONE}@latest~2"),
            "Test iPhone@2025-03-03",
        ],
        0,
    );
    assert_eq!(
        (v["a"].as_str(), v["b"].as_str()),
        (Some(&*ids[0]), Some(&*ids[1]))
    );
    let got = changes(&v);
    let home = |p: &str| (Some("HomeDomain".to_string()), p.to_string());
    assert_eq!(
        got[&home("Library/b.txt")],
        ("removed".to_string(), Some(3), None)
    );
    assert!(!got.contains_key(&home("Library/a.txt")), "{v:#}");
    let rows: Vec<&Key> = got.keys().filter(|k| k.0.is_some()).collect();
    assert_eq!(rows, [&home("Library/b.txt")]);
    assert_eq!(got[&(None, "Status.plist".into())].0, "changed");

    // An id prefix, and the latest by name.
    let v = w.json(&["diff", &ids[1][..8], "Test iPhone@latest"], 0);
    assert_eq!(v["b"].as_str(), Some(&*ids[2]));
    let got = changes(&v);
    assert_eq!(
        got[&home("Library/a.txt")],
        ("changed".to_string(), Some(11), Some(20))
    );
    assert_eq!(got[&home("Library/b.txt")].0, "added");
    assert_eq!(got[&home("Library/evil\x1b[2J.txt")].0, "added");
    assert_eq!(v["total"]["added"], 2);
    let changed = got.values().filter(|(c, _, _)| c == "changed").count();
    assert_eq!(u(&v["total"]["changed"]), changed as u64);
    let plists = [
        "Info.plist",
        "Manifest.db",
        "Manifest.plist",
        "Status.plist",
    ];
    for (k, (c, _, _)) in &got {
        assert!(k.0.is_some() || plists.contains(&k.1.as_str()), "{k:?} {c}");
    }

    let text = w.ok(&["diff", &ids[1], &ids[2]]);
    assert!(
        text.contains("HomeDomain/Library/evil\\x1b[2J.txt"),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "{text}");

    // The same snapshot twice: nothing changed.
    let v = w.json(&["diff", &ids[2], &ids[2]], 0);
    assert_eq!(v["changes"], serde_json::json!([]));
    assert_eq!(
        v["total"]["unchanged"].as_u64(),
        v["total"]["files_after"].as_u64()
    );
}

#[test]
fn unknown_snapshots_devices_and_bad_patterns_are_clear_errors() {
    let (w, ids) = three_backups();
    let latest = format!("{PHONE}@latest");
    let fails = |args: &[&str], status: i32, says: &str| {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = w.run(&all);
        assert_eq!(
            out.status.code(),
            Some(status),
            "{args:?}: {}",
            describe(&out)
        );
        assert!(out.stdout.is_empty(), "{args:?}: {}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    };
    fails(
        &["diff", "abcdef12", &latest],
        1,
        "no snapshot matches \"abcdef12\"",
    );
    fails(&["diff", &ids[0], "nosuch"], 1, "no snapshot matches");
    fails(
        &["diff", &format!("{PHONE}@latest~3"), &latest],
        1,
        "has 3 snapshot(s)",
    );
    fails(
        &["diff", "Test iPhone@2025-02-28", &latest],
        1,
        "has no snapshot on or before 2025-02-28",
    );
    fails(&["diff", "Nobody's iPad@latest", &latest], 1, "no device");
    fails(&["diff", &latest], 2, "Usage");
    fails(
        &["find", "a.txt", "--device", "Nobody's iPad"],
        1,
        "no device",
    );
    fails(
        &["find", "Library/[a.txt"],
        1,
        "bad pattern \"Library/[a.txt\"",
    );
}
