//! End to end: back up households of MobileSync device folders with the real `hearth` binary,
//! restore them byte for byte, and show that the repository stores shared and unchanged content
//! once, compresses only what compresses, and reports damage with the files it affects.

use crate::common;

use crate::handmade;
use common::{s, u};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{World, describe, mvt_fixture};
use handmade::{HandDevice, all_paths, dir_bytes, sqlite_side_files, text};
use hearth_mobilesync::FileId;
use hearth_testkit::bytes::noise;
use hearth_testkit::{
    DayOptions, FileDigest, Household, HouseholdSpec, clone_device, copy_tree, generate, next_day,
    tree_digest,
};
use serde_json::Value;

fn digest(dir: &Path) -> BTreeMap<String, FileDigest> {
    tree_digest(dir).unwrap_or_else(|e| panic!("digest of {}: {e}", dir.display()))
}

fn household(w: &World) -> Household {
    generate(&HouseholdSpec::tiny(), &w.path("Backup")).expect("generate the tiny household")
}

/// `hearth restore SNAPSHOT --out <world>/<out>`; returns the device folder written.
fn restore(w: &World, snapshot: &str, out: &str, udid: &str) -> PathBuf {
    w.ok(&["restore", snapshot, "--out", s(&w.path(out))]);
    let folder = w.path(out).join(udid);
    assert!(
        folder.is_dir(),
        "restore of {snapshot} wrote no {}",
        folder.display()
    );
    folder
}

/// The report of `device` in a `backup --json` document.
fn report<'a>(backup: &'a Value, udid: &str) -> &'a Value {
    backup["snapshots"]
        .as_array()
        .expect("snapshots array")
        .iter()
        .find(|s| s["device"]["udid"] == udid)
        .unwrap_or_else(|| panic!("no snapshot for {udid} in {backup:#}"))
}

fn is_hex_id(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[test]
fn household_backs_up_one_snapshot_per_device_and_restores_byte_exact() {
    let w = World::with_repo();
    let h = household(&w);
    assert_eq!(h.devices.len(), 2);

    let backup = w.json(&["backup", s(&h.root)], 0);
    let snaps = backup["snapshots"].as_array().expect("snapshots array");
    assert_eq!(snaps.len(), 2, "one snapshot per device: {backup:#}");
    for d in &h.devices {
        let r = report(&backup, &d.udid);
        assert!(is_hex_id(&r["id"]), "{r:#}");
        assert_eq!(r["device"]["name"], d.name.as_str());
        assert_eq!(r["device"]["product_type"], d.product_type.as_str());
        assert_eq!(r["device"]["ios_version"], d.ios_version.as_str());
        // A first backup reads every file of the folder.
        assert_eq!(u(&r["files_new"]), d.files as u64, "{r:#}");
        assert_eq!(u(&r["files_changed"]), 0, "{r:#}");
        assert_eq!(u(&r["files_unmodified"]), 0, "{r:#}");
        assert_eq!(u(&r["bytes_read"]), d.bytes, "{r:#}");
        let added = u(&r["bytes_added"]);
        assert!(added > 0 && added <= d.bytes + d.bytes / 20, "{r:#}");
    }

    for d in &h.devices {
        let out = restore(&w, &format!("{}@latest", d.name), "by-name", &d.udid);
        assert_eq!(
            digest(&out),
            digest(&d.folder),
            "restore of {}@latest",
            d.name
        );
    }
    let dad = &h.devices[1];
    let id = report(&backup, &dad.udid)["id"].as_str().unwrap();
    let out = restore(&w, &id[..6], "by-prefix", &dad.udid);
    assert_eq!(
        digest(&out),
        digest(&dad.folder),
        "restore by id prefix {}",
        &id[..6]
    );
}

#[test]
fn content_shared_by_devices_is_stored_once() {
    let w = World::with_repo();
    let h = household(&w);
    let mum = &h.devices[0];
    let twin_udid = "00008030-00AA11BB22CC33DD";
    let twin = clone_device(&mum.folder, &w.path("Twin"), twin_udid, "Mum's new iPhone")
        .expect("a copy of the device as another");

    w.json(&["backup", s(&mum.folder)], 0);
    let before = dir_bytes(&w.repo());
    w.json(&["backup", s(&twin)], 0);
    let growth = dir_bytes(&w.repo()) - before;
    assert!(
        growth < mum.bytes / 20,
        "a second device holding the same {} bytes grew the repository by {growth}",
        mum.bytes
    );

    let stats = w.json(&["stats"], 0);
    let devices = stats["devices"].as_array().expect("devices");
    assert_eq!(devices.len(), 2, "{stats:#}");
    for d in devices {
        let (logical, shared) = (u(&d["logical_bytes"]), u(&d["shared_bytes"]));
        assert!(
            shared > 0 && shared >= logical * 9 / 10,
            "{} shares {shared} of {logical} bytes: {stats:#}",
            d["name"]
        );
    }
}

#[test]
fn small_files_shared_by_devices_are_stored_once() {
    let w = World::with_repo();
    // 300 files of 1-12 KiB, each below the chunker's 16 KiB minimum, incompressible.
    let files: Vec<(String, Vec<u8>)> = (0..300u64)
        .map(|i| {
            let len = 1024 + (i as usize * 977) % (11 * 1024);
            (format!("Library/Caches/c{i:03}.bin"), noise(1000 + i, len))
        })
        .collect();
    let total: u64 = files.iter().map(|(_, b)| b.len() as u64).sum();
    let make = |udid: &str, name: &str, domain: &str| {
        let mut d = HandDevice::new(&w.path("Backup"), udid, name);
        for (path, bytes) in &files {
            d.file(domain, path, bytes);
        }
        d.finish()
    };
    let first = make(
        "AAAA0000AAAA0000AAAA0000AAAA0000AAAA0000",
        "First",
        "AppDomain-com.a",
    );
    // Same content under another app's domain: other fileIDs, other Manifest.db.
    let second = make(
        "BBBB0000BBBB0000BBBB0000BBBB0000BBBB0000",
        "Second",
        "AppDomain-com.b",
    );

    w.ok(&["backup", s(&first)]);
    let one = dir_bytes(&w.repo());
    assert!(
        one > total,
        "the first device stores its {total} incompressible bytes ({one})"
    );
    w.ok(&["backup", s(&second)]);
    let growth = dir_bytes(&w.repo()) - one;
    assert!(
        growth < total / 10,
        "{total} bytes of small files already stored grew the repository by {growth}"
    );
}

#[test]
fn unchanged_folder_adds_almost_nothing_and_a_day_of_edits_stores_only_changed_chunks() {
    let w = World::with_repo();
    let h = household(&w);
    let mum = &h.devices[0];
    let day1 = w.path("day1").join(&mum.udid);
    copy_tree(&mum.folder, &day1).expect("keep day 1");

    let first = w.json(&["backup", s(&h.root)], 0);
    let before = dir_bytes(&w.repo());
    let again = w.json(&["backup", s(&h.root)], 0);
    let growth = dir_bytes(&w.repo()) - before;
    assert_eq!(again["snapshots"], serde_json::json!([]), "{again:#}");
    for d in &h.devices {
        let r = again["unchanged"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["device"]["udid"] == d.udid.as_str())
            .unwrap_or_else(|| panic!("{} unchanged: {again:#}", d.udid));
        assert_eq!(u(&r["files_unmodified"]), d.files as u64, "{r:#}");
        assert_eq!(u(&r["files_new"]), 0, "{r:#}");
        assert_eq!(u(&r["files_changed"]), 0, "{r:#}");
        assert_eq!(u(&r["bytes_read"]), 0, "{r:#}");
        assert_eq!(r["unchanged_since"], report(&first, &d.udid)["id"], "{r:#}");
    }
    assert_eq!(
        growth, 0,
        "unchanged folders stored nothing, not even a snapshot"
    );

    let night = next_day(&h, 1, &DayOptions::default()).expect("a day of edits");
    assert!(night.changed_files() > 0);
    let (was, now) = (digest(&day1), digest(&mum.folder));
    let touched: Vec<u64> = now
        .iter()
        .filter(|(path, d)| was.get(*path) != Some(d))
        .map(|(_, (len, _))| *len)
        .collect();
    let size: u64 = now.values().map(|(len, _)| len).sum();
    let third = w.json(&["backup", s(&h.root)], 0);
    let r = report(&third, &mum.udid);
    assert!(u(&r["files_changed"]) > 0, "{r:#}");
    assert_eq!(
        u(&r["files_new"]) + u(&r["files_changed"]),
        touched.len() as u64,
        "exactly the new and edited files are read: {r:#}"
    );
    let (read, added) = (u(&r["bytes_read"]), u(&r["bytes_added"]));
    assert_eq!(read, touched.iter().sum::<u64>(), "{r:#}");
    assert!(
        added < read && added < size / 4,
        "stored {added} bytes for {read} bytes of edited files in a {size}-byte folder: {r:#}"
    );

    let latest = restore(&w, &format!("{}@latest", mum.name), "latest", &mum.udid);
    assert_eq!(
        digest(&latest),
        digest(&mum.folder),
        "day 2 restores byte-exact"
    );
    assert_ne!(
        digest(&day1),
        digest(&mum.folder),
        "the night changed the folder"
    );
    let day1_id = report(&first, &mum.udid)["id"].as_str().unwrap();
    let old = restore(&w, day1_id, "day1-restore", &mum.udid);
    assert_eq!(
        digest(&old),
        digest(&day1),
        "the day-1 snapshot still restores day 1"
    );
}

#[test]
fn incompressible_content_is_stored_at_its_size_and_text_is_compressed() {
    // Photos and videos: random bytes do not shrink, and sealing must not inflate them.
    let w = World::with_repo();
    let mut photos = HandDevice::new(
        &w.path("Backup"),
        "CCCC0000CCCC0000CCCC0000CCCC0000CCCC0000",
        "Photos",
    );
    let mut data = 0;
    for i in 0..12u64 {
        let name = format!("Media/DCIM/100APPLE/IMG_{i:04}.HEIC");
        let photo = noise(i, 150_000 + i as usize * 10_000);
        data += photo.len() as u64;
        photos.file("CameraRollDomain", &name, &photo);
    }
    let folder = photos.finish();
    let before = dir_bytes(&w.repo());
    w.ok(&["backup", s(&folder)]);
    let growth = dir_bytes(&w.repo()) - before;
    assert!(
        growth >= data && growth <= data + data * 3 / 100,
        "{data} bytes of random data grew the repository by {growth}"
    );

    // Messages and notes: text and SQLite shrink a lot.
    let w = World::with_repo();
    let mut notes = HandDevice::new(
        &w.path("Backup"),
        "DDDD0000DDDD0000DDDD0000DDDD0000DDDD0000",
        "Notes",
    );
    for i in 0..8u64 {
        notes.file(
            "HomeDomain",
            &format!("Library/Notes/n{i}.txt"),
            &text(i, 120_000),
        );
    }
    notes.file(
        "HomeDomain",
        "Library/SMS/sms.db",
        &sqlite_of_messages(&w.path("sms.db")),
    );
    let folder = notes.finish();
    let size = dir_bytes(&folder);
    let before = dir_bytes(&w.repo());
    w.ok(&["backup", s(&folder)]);
    let growth = dir_bytes(&w.repo()) - before;
    assert!(
        growth < size / 2,
        "{size} bytes of text and SQLite grew the repository by {growth}"
    );
}

/// A real SQLite database of 3,000 text messages, returned as bytes.
fn sqlite_of_messages(path: &Path) -> Vec<u8> {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE message (ROWID INTEGER PRIMARY KEY, text TEXT, date INTEGER, handle TEXT)",
    )
    .unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    for i in 0..3000u64 {
        let body = String::from_utf8(text(i + 100, 60 + (i as usize % 90))).unwrap();
        tx.execute(
            "INSERT INTO message (text, date, handle) VALUES (?1, ?2, ?3)",
            rusqlite::params![
                body,
                700_000_000 + i as i64 * 37,
                format!("+4479460{:05}", i % 40)
            ],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    drop(conn);
    std::fs::read(path).unwrap()
}

#[test]
fn listing_commands_speak_the_contract() {
    let w = World::with_repo();
    let h = household(&w);
    w.ok(&["backup", s(&h.root), "--tag", "nightly"]);

    let snaps = w.json(&["snapshots"], 0);
    let list = snaps.as_array().expect("snapshots array");
    assert_eq!(list.len(), 2, "{snaps:#}");
    for sn in list {
        assert!(is_hex_id(&sn["id"]), "{sn:#}");
        let time = sn["time"].as_str().expect("time");
        assert!(
            time.len() == 20 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
            "{time}"
        );
        let d = h
            .devices
            .iter()
            .find(|d| sn["device"]["udid"] == d.udid.as_str())
            .expect("a generated device");
        assert_eq!(sn["device"]["name"], d.name.as_str());
        assert_eq!(sn["device"]["product_type"], d.product_type.as_str());
        assert_eq!(sn["device"]["ios_version"], d.ios_version.as_str());
        assert_eq!(sn["tags"], serde_json::json!(["nightly"]));
        assert_eq!(u(&sn["summary"]["files"]), d.files as u64);
        assert_eq!(u(&sn["summary"]["bytes"]), d.bytes);
    }
    let mum = &h.devices[0];
    let only = w.json(&["snapshots", "--device", &mum.name], 0);
    assert_eq!(only.as_array().unwrap().len(), 1, "{only:#}");
    assert_eq!(only[0]["device"]["udid"], mum.udid.as_str());

    let devices = w.json(&["devices"], 0);
    let devs = devices["devices"].as_array().expect("devices array");
    assert_eq!(devs.len(), 2, "{devices:#}");
    for d in &h.devices {
        let j = devs
            .iter()
            .find(|j| j["udid"] == d.udid.as_str())
            .unwrap_or_else(|| panic!("{} missing: {devices:#}", d.udid));
        assert_eq!(j["name"], d.name.as_str());
        assert_eq!(j["product_type"], d.product_type.as_str());
        assert_eq!(j["ios_version"], d.ios_version.as_str());
        let snap = list
            .iter()
            .find(|sn| sn["device"]["udid"] == d.udid.as_str())
            .unwrap();
        assert_eq!(j["latest_snapshot"]["id"], snap["id"], "{j:#}");
    }

    let snap = format!("{}@latest", mum.name);
    let ls = w.json(&["ls", &snap, "HomeDomain/Library"], 0);
    let entries = ls["entries"].as_array().expect("entries array");
    assert!(!entries.is_empty(), "{ls:#}");
    for e in entries {
        assert_eq!(e["domain"], "HomeDomain", "{e:#}");
        assert!(
            e["relative_path"].as_str().unwrap().starts_with("Library"),
            "{e:#}"
        );
        for key in ["path", "flags", "state", "size"] {
            assert!(e.get(key).is_some(), "{key} missing in {e:#}");
        }
    }
    let sms = entries
        .iter()
        .find(|e| e["relative_path"] == "Library/SMS/sms.db")
        .unwrap_or_else(|| panic!("no sms.db in {ls:#}"));
    let sms_id = FileId::for_path("HomeDomain", "Library/SMS/sms.db");
    assert_eq!(sms["path"], sms_id.blob_path());
    assert_eq!(sms["state"], "ok");
    let on_disk = std::fs::metadata(mum.folder.join(sms_id.blob_path()))
        .unwrap()
        .len();
    assert_eq!(u(&sms["size"]), on_disk);

    let text = w.ok(&["ls", &snap, "HomeDomain/Library"]);
    assert!(
        text.lines().count() == entries.len(),
        "one line per entry:\n{text}"
    );
    assert!(text.contains("HomeDomain/Library/SMS/sms.db"), "{text}");
    assert!(
        text.lines().all(|l| l.contains("HomeDomain/Library")),
        "{text}"
    );

    let stats = w.json(&["stats"], 0);
    let stored = u(&stats["stored_bytes"]);
    assert!(stored > 0 && stored <= dir_bytes(&w.repo()), "{stats:#}");
    let devs = stats["devices"].as_array().expect("devices");
    assert_eq!(devs.len(), 2, "{stats:#}");
    let mut logical_sum = 0;
    for d in devs {
        let g = h
            .devices
            .iter()
            .find(|g| d["udid"] == g.udid.as_str())
            .expect("known device");
        assert_eq!(d["name"], g.name.as_str());
        assert_eq!(u(&d["logical_bytes"]), g.bytes, "{d:#}");
        let (unique, shared) = (u(&d["unique_bytes"]), u(&d["shared_bytes"]));
        assert!(
            unique > 0 && shared > 0,
            "the tiny household shares photos: {d:#}"
        );
        assert!(unique + shared <= g.bytes, "{d:#}");
        logical_sum += g.bytes;
    }
    assert_eq!(u(&stats["logical_bytes"]), logical_sum);

    assert!(w.ok(&["check"]).contains("no errors"));
    assert!(w.ok(&["check", "--read-data"]).contains("no errors"));
}

#[test]
fn real_fixture_backs_up_and_restores_byte_exact_without_touching_it() {
    let Some(fixture) = mvt_fixture() else { return };
    let udid = "1CB128EAFA77C5BE74283E9A3A2130AF36A3C059";
    let (paths, bytes) = (all_paths(&fixture), digest(&fixture));
    for must in [
        "Info.plist",
        "Manifest.db",
        "e7/e794f6ffcc3c222535f47684a63d5178da3c4500",
    ] {
        assert!(bytes.contains_key(must), "the fixture holds {must}");
    }

    let w = World::with_repo();
    let out = w.run(&["backup", s(&fixture)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert!(
        stderr.contains("in the backup of iPhone"),
        "names the device:\n{stderr}"
    );
    assert!(stderr.contains("blob missing"), "{stderr}");
    assert!(
        stderr.contains(
            "AppDomainPlugin-com.apple.news.widget/Library/Preferences/com.apple.news.widget.plist"
        ),
        "names a file:\n{stderr}"
    );

    // The snapshot records the short sms.db as it is: 28,672 bytes for 278,528 recorded.
    let ls = w.json(
        &[
            "ls",
            &format!("{udid}@latest"),
            "HomeDomain/Library/SMS/sms.db",
        ],
        0,
    );
    assert_eq!(ls["entries"].as_array().unwrap().len(), 1, "{ls:#}");
    let sms = &ls["entries"][0];
    assert_eq!(u(&sms["size"]), 28_672, "{ls:#}");
    assert!(sms["state"].as_str().unwrap().contains("short"), "{ls:#}");

    let restored = restore(&w, "iPhone@latest", "restored", udid);
    assert_eq!(
        digest(&restored),
        bytes,
        "the restore is byte-identical to the fixture"
    );
    assert_eq!(all_paths(&restored), paths, "the same files and folders");

    assert_eq!(
        all_paths(&fixture),
        paths,
        "the backup created or removed nothing in the fixture"
    );
    assert_eq!(
        digest(&fixture),
        bytes,
        "the backup changed no byte of the fixture"
    );
    assert_eq!(sqlite_side_files(&fixture), Vec::<PathBuf>::new());
}

#[test]
fn flipped_byte_in_a_pack_is_reported_with_its_pack_device_and_file() {
    let w = World::with_repo();
    let mut d = HandDevice::new(
        &w.path("Backup"),
        "EEEE0000EEEE0000EEEE0000EEEE0000EEEE0000",
        "Video iPhone",
    );
    d.file(
        "CameraRollDomain",
        "Media/DCIM/100APPLE/IMG_0007.MOV",
        &noise(77, 2_000_000),
    );
    d.finish();
    let mut other = HandDevice::new(
        &w.path("Backup"),
        "EEEE1111EEEE1111EEEE1111EEEE1111EEEE1111",
        "Other iPhone",
    );
    other.file(
        "CameraRollDomain",
        "Media/DCIM/100APPLE/IMG_0100.HEIC",
        &noise(78, 100_000),
    );
    other.finish();
    w.ok(&["backup", s(&w.path("Backup"))]);

    // The biggest pack holds the video; its middle is inside the video's chunks.
    let pack = all_paths(&w.repo().join("packs"))
        .into_iter()
        .map(|p| w.repo().join("packs").join(p))
        .filter(|p| p.is_file())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .expect("a pack");
    let mut bytes = std::fs::read(&pack).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&pack, &bytes).unwrap();
    let pack_name = pack.file_name().unwrap().to_str().unwrap();

    let out = w.run(&["check", "--read-data"]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(all.contains(pack_name), "names the pack:\n{all}");
    assert!(
        all.contains("Video iPhone") && all.contains(&d.udid),
        "names the device:\n{all}"
    );
    assert!(
        all.contains("CameraRollDomain/Media/DCIM/100APPLE/IMG_0007.MOV"),
        "names the file:\n{all}"
    );
    assert!(
        !all.contains("Other iPhone") && !all.contains("IMG_0100"),
        "names only what the damaged blob belongs to:\n{all}"
    );

    // The structure is intact, but what the read found is remembered: a check without
    // --read-data still reports the damaged blob, with the files it costs.
    let out = w.run(&["check"]);
    let again = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        again.contains("failed to read when they were last read")
            && again.contains("IMG_0007.MOV")
            && !again.contains("IMG_0100"),
        "{again}"
    );
}

#[test]
fn restore_refuses_to_overwrite_an_existing_device_folder() {
    let w = World::with_repo();
    let h = household(&w);
    let dad = &h.devices[1];
    w.ok(&["backup", s(&dad.folder)]);
    let snap = format!("{}@latest", dad.name);
    let first = restore(&w, &snap, "out", &dad.udid);
    let before = digest(&first);
    assert_eq!(before, digest(&dad.folder));

    let out = w.run(&["restore", &snap, "--out", s(&w.path("out"))]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stderr.contains("already exists") && stderr.contains(s(&first)),
        "{stderr}"
    );
    assert_eq!(digest(&first), before, "the first restore is intact");
}

#[test]
fn ls_filter_matches_whole_path_components() {
    let w = World::with_repo();
    let mut d = HandDevice::new(
        &w.path("Backup"),
        "FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000",
        "Filter iPhone",
    );
    d.dir("HomeDomain", "Library/SMS")
        .file("HomeDomain", "Library/SMS/sms.db", &text(1, 500))
        .file("HomeDomain", "Library/SMSBackup/old.db", &text(2, 500))
        .file("HomeDomainX", "Library/SMS/other.db", &text(3, 500));
    let folder = d.finish();
    w.ok(&["backup", s(&folder)]);

    for filter in ["HomeDomain/Library/SMS", "HomeDomain/Library/SMS/"] {
        let ls = w.json(&["ls", "Filter iPhone@latest", filter], 0);
        let mut got: Vec<String> = ls["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{}/{}",
                    e["domain"].as_str().unwrap(),
                    e["relative_path"].as_str().unwrap()
                )
            })
            .collect();
        got.sort();
        assert_eq!(
            got,
            ["HomeDomain/Library/SMS", "HomeDomain/Library/SMS/sms.db"],
            "ls {filter}"
        );
    }
}

#[test]
fn listing_into_a_closed_pipe_does_not_panic() {
    let w = World::with_repo();
    let h = household(&w);
    w.ok(&["backup", s(&h.root)]);
    let snap = format!("{}@latest", h.devices[0].name);
    for args in [vec!["ls", &snap], vec!["--json", "ls", &snap]] {
        let mut child = w
            .cmd(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // like `hearth ls … | head -0`
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "hearth {args:?}:\n{stderr}");
        assert_ne!(out.status.code(), Some(101), "hearth {args:?}:\n{stderr}");
    }
}

/// The README's first command: a household with an encrypted iPhone, two days, stats, an
/// encrypted restore verified against its source, check --read-data.
#[test]
fn demo_runs_end_to_end_and_verifies_itself() {
    let w = World::new();
    let dir = w.path("demo");
    let out = w.ok(&["demo", "--dir", s(&dir)]);
    assert!(out.contains("encrypted backup"), "{out}");
    assert!(out.contains("byte-identical to the source folder"), "{out}");
    assert!(out.contains("check --read-data: no errors"), "{out}");
    assert!(dir.join("restored").is_dir() && dir.join("repo/config").is_file());
}
