//! A backup that is still being written is never stored (issue 12, item 1), end to end through
//! the real `hearth` binary: Status.plist's `SnapshotState`, a fresh Manifest.db with no
//! Status.plist, and a real process that rewrites device folders while `hearth backup` is held
//! (fanotify, no hook in the binary) in the middle of reading them.

use crate::common;
use crate::handmade;

use common::{World, describe, s};
use handmade::{HandDevice, good_device, text, write_status};
use hearth_testkit::bytes::noise;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use hearth_mobilesync::FileId;
use hearth_testkit::{Access, FileDigest, ReadGate, set_mtime, tree_digest};
use serde_json::Value;

const GOOD: &str = "600D0000600D0000600D0000600D0000600D0000";
const DATE: u64 = 1_750_000_000;

fn digest(dir: &Path) -> BTreeMap<String, FileDigest> {
    tree_digest(dir).unwrap_or_else(|e| panic!("digest of {}: {e}", dir.display()))
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A small device `<parent>/<udid>`: a note, a photo and a database; Status.plist finished.
fn small(parent: &Path, udid: &str, name: &str) -> PathBuf {
    let mut d = HandDevice::new(parent, udid, name);
    d.file("HomeDomain", "Library/Notes/notes.txt", &text(1, 30_000))
        .file(
            "CameraRollDomain",
            "Media/DCIM/100APPLE/IMG_0001.HEIC",
            &noise(2, 60_000),
        )
        .file("HomeDomain", "Library/SMS/sms.db", &noise(3, 16_384));
    d.finish()
}

/// The UDIDs of the repository's snapshots (`snapshots --json`, an array).
fn snapshot_udids(w: &World) -> BTreeSet<String> {
    let v = w.json(&["snapshots"], 0);
    udids(v.as_array().expect("a list of snapshots"))
}

fn udids(list: &[Value]) -> BTreeSet<String> {
    list.iter()
        .map(|r| r["device"]["udid"].as_str().unwrap().to_string())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The element of `list` whose device is `udid`.
fn of<'a>(list: &'a Value, udid: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|e| e["device"]["udid"] == udid)
        .unwrap_or_else(|| panic!("no {udid} in {list:#}"))
}

/// The message a skipped device is reported with.
fn still_writing(folder: &Path, name: &str, why: &str) -> String {
    format!(
        "device folder {} ({name}): still being written by Finder or idevicebackup2 ({why}); nothing of it was stored; run again when it has finished",
        folder.display()
    )
}

#[test]
fn a_backup_whose_plists_say_it_is_being_written_is_skipped_and_the_others_are_backed_up() {
    let w = World::with_repo();
    let backup = w.path("Backup");
    let good = good_device(&backup, GOOD).folder;
    write_status(
        &good,
        "finished",
        DATE,
        "7D1A3B2C-4E5F-4A6B-8C7D-9E0F1A2B3C4D",
        false,
    );
    // Status.plist as the device leaves it while Finder or idevicebackup2 is at work.
    let uploading = small(&backup, &"A1".repeat(20), "Uploading iPhone");
    write_status(
        &uploading,
        "uploading",
        DATE,
        "0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9",
        false,
    );
    let moving = small(&backup, &"B2".repeat(20), "Moving iPad");
    write_status(
        &moving,
        "moving",
        DATE,
        "1A2B3C4D-5E6F-4071-8293-A4B5C6D7E8F9",
        true,
    );
    // No Status.plist: a Manifest.db written after the other plists, a moment ago...
    let fresh = small(&backup, &"C3".repeat(20), "Fresh iPhone");
    std::fs::remove_file(fresh.join("Status.plist")).unwrap();
    let now = now_secs();
    for plist in ["Info.plist", "Manifest.plist"] {
        set_mtime(&fresh.join(plist), now - 60).unwrap();
    }
    // ... or an hour ago: left alone long enough to be taken as finished.
    let settled = small(&backup, &"D4".repeat(20), "Settled iPhone");
    std::fs::remove_file(settled.join("Status.plist")).unwrap();
    for plist in ["Info.plist", "Manifest.plist"] {
        set_mtime(&settled.join(plist), now - 7_200).unwrap();
    }
    set_mtime(&settled.join("Manifest.db"), now - 3_600).unwrap();
    let settled_udid = "D4".repeat(20);

    let v = w.json(&["backup", s(&backup)], 3);
    assert_eq!(
        udids(v["snapshots"].as_array().unwrap()),
        set(&[GOOD, &settled_udid]),
        "{v:#}"
    );
    let skipped = &v["skipped"];
    assert_eq!(skipped.as_array().unwrap().len(), 3, "{v:#}");
    let cases = [
        (
            &uploading,
            "Uploading iPhone",
            "snapshot_state",
            "Status.plist says SnapshotState \"uploading\", not \"finished\"",
        ),
        (
            &moving,
            "Moving iPad",
            "snapshot_state",
            "Status.plist says SnapshotState \"moving\", not \"finished\"",
        ),
        (
            &fresh,
            "Fresh iPhone",
            "fresh_manifest_db",
            "no Status.plist says it finished, and its Manifest.db was modified ",
        ),
    ];
    for (folder, name, detail, why) in cases {
        let udid = folder.file_name().unwrap().to_str().unwrap();
        let e = of(skipped, udid);
        assert_eq!(e["folder"], s(folder), "{e:#}");
        assert_eq!(e["device"]["name"], name, "{e:#}");
        assert_eq!(e["reason"], "still_being_written", "{e:#}");
        assert_eq!(e["detail"], detail, "{e:#}");
        let message = e["message"].as_str().unwrap();
        let (start, end) = still_writing(folder, name, why)
            .split_once(why)
            .map(|(a, b)| (format!("{a}{why}"), b.to_string()))
            .unwrap();
        assert!(message.starts_with(&start), "{message}");
        assert!(message.ends_with(&end), "{message}");
    }
    let fresh_message = of(skipped, &"C3".repeat(20))["message"].as_str().unwrap();
    assert!(
        fresh_message.contains(
            "after its other plists (such a backup is taken as finished once its Manifest.db is 10 minutes old)"
        ),
        "{fresh_message}"
    );
    assert_eq!(
        snapshot_udids(&w),
        set(&[GOOD, &settled_udid]),
        "nothing of the skipped devices was committed"
    );

    // The text says it on stderr, one line per device; the others are unchanged.
    let out = w.run(&["backup", s(&backup)]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let expected = still_writing(
        &uploading,
        "Uploading iPhone",
        "Status.plist says SnapshotState \"uploading\", not \"finished\"",
    );
    assert!(
        err.lines().any(|l| l == format!("warning: {expected}")),
        "{err}"
    );
    assert_eq!(err.matches("still being written").count(), 3, "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "Good iPhone ({GOOD}, iPhone14,5 iOS 17.4): unchanged since snapshot"
        )),
        "{stdout}"
    );

    // Finder finished: the next run stores them.
    write_status(
        &uploading,
        "finished",
        DATE + 60,
        "0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9",
        false,
    );
    write_status(
        &moving,
        "finished",
        DATE + 60,
        "1A2B3C4D-5E6F-4071-8293-A4B5C6D7E8F9",
        true,
    );
    write_status(
        &fresh,
        "finished",
        DATE + 60,
        "2B3C4D5E-6F70-4182-93A4-B5C6D7E8F9A0",
        false,
    );
    let v = w.json(&["backup", s(&backup)], 0);
    assert_eq!(v["skipped"], Value::Array(Vec::new()), "{v:#}");
    assert_eq!(udids(v["snapshots"].as_array().unwrap()).len(), 3, "{v:#}");
    assert_eq!(snapshot_udids(&w).len(), 5);
    let restored = w.restore_latest(&"A1".repeat(20), "out");
    assert_eq!(digest(&restored), digest(&uploading));
}

/// Holds every open of `path` by hearth and runs `at(open)` there (1, 2, ...): the read of
/// that file waits until it returns.
fn at_open(path: &Path, mut at: impl FnMut(u32) + Send + 'static) -> ReadGate {
    let mut opens = 0;
    ReadGate::new(path, move |access| {
        if access == Access::Open {
            opens += 1;
            at(opens);
        }
    })
    .expect("fanotify permission events (the tests run as root)")
}

fn opens(seen: &[Access]) -> usize {
    seen.iter().filter(|a| **a == Access::Open).count()
}

/// Runs `script` with `sh` in `dir` and waits for it: another process writing the folders.
fn writer(dir: &Path, script: &str) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .status()
        .expect("sh runs");
    assert!(status.success(), "{script}: {status}");
}

/// A device with a 2 MiB video, held at its open; its path.
fn with_video(parent: &Path, udid: &str, name: &str) -> (PathBuf, PathBuf) {
    let mut d = HandDevice::new(parent, udid, name);
    d.file(
        "CameraRollDomain",
        "Media/DCIM/100APPLE/IMG_0002.MOV",
        &noise(4, 2 << 20),
    )
    .file("HomeDomain", "Library/Notes/notes.txt", &text(5, 30_000));
    let folder = d.finish();
    let video = folder
        .join(FileId::for_path("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0002.MOV").blob_path());
    (folder, video)
}

#[test]
fn a_folder_rewritten_while_it_is_read_is_read_again_and_skipped_while_it_keeps_changing() {
    let w = World::with_repo();
    let backup = w.path("Backup");
    let scratch = w.path("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    good_device(&backup, GOOD);
    let (once, once_video) = with_video(&backup, &"0E".repeat(20), "Once iPhone");
    let (keeps, keeps_video) = with_video(&backup, &"CE".repeat(20), "Busy iPad");
    let (starts, starts_video) = with_video(&backup, &"5A".repeat(20), "Starting iPhone");

    // Once: Finder finishes an incremental backup while Hearth reads the first time: a new
    // Manifest.db (one more file), the new file, Status.plist with a new Date and UUID. The
    // staged copy holds everything but the video, which it leaves as it is.
    let mut next = HandDevice::new(&w.path("next"), &"0E".repeat(20), "Once iPhone");
    next.file(
        "CameraRollDomain",
        "Media/DCIM/100APPLE/IMG_0002.MOV",
        &noise(4, 2 << 20),
    )
    .file("HomeDomain", "Library/Notes/notes.txt", &text(5, 30_000))
    .file("HomeDomain", "Library/Notes/new.txt", &text(6, 9_000));
    let staged = next.finish();
    write_status(
        &staged,
        "finished",
        DATE + 86_400,
        "3C4D5E6F-7081-4293-A4B5-C6D7E8F9A0B1",
        false,
    );
    std::fs::remove_file(staged.join(once_video.strip_prefix(&once).unwrap())).unwrap();
    let (root, from, to) = (w.path(""), staged.clone(), once.clone());
    let once_gate = at_open(&once_video, move |open| {
        if open == 1 {
            writer(
                &root,
                &format!("cp -R '{}/.' '{}'", from.display(), to.display()),
            );
        }
    });
    // Busy: its Manifest.db is replaced at every read (Status.plist still says finished).
    let (root, db) = (w.path(""), keeps.join("Manifest.db"));
    let tmp = scratch.join("Manifest.db");
    let keeps_gate = at_open(&keeps_video, move |_| {
        writer(
            &root,
            &format!(
                "cp -p '{0}' '{1}' && mv '{1}' '{0}'",
                db.display(),
                tmp.display()
            ),
        );
    });
    // Starting: Finder starts a new backup during the first read: Status.plist says so.
    write_status(
        &scratch,
        "uploading",
        DATE + 86_400,
        "4D5E6F70-8192-43A4-B5C6-D7E8F9A0B1C2",
        false,
    );
    let uploading = scratch.join("uploading.plist");
    std::fs::rename(scratch.join("Status.plist"), &uploading).unwrap();
    let (root, status) = (w.path(""), starts.join("Status.plist"));
    let starts_gate = at_open(&starts_video, move |open| {
        if open == 1 {
            writer(
                &root,
                &format!(
                    "cp '{}' '{1}.new' && mv '{1}.new' '{1}'",
                    uploading.display(),
                    status.display()
                ),
            );
        }
    });

    let v = w.json(&["backup", s(&backup)], 3);
    let seen = [once_gate, keeps_gate, starts_gate].map(|g| g.finish().unwrap());
    assert_eq!(
        seen.each_ref().map(|s| opens(s)),
        [2, 2, 1],
        "read again once; not again when Status.plist says it is being written"
    );
    assert_eq!(
        udids(v["snapshots"].as_array().unwrap()),
        set(&[GOOD, &"0E".repeat(20)]),
        "{v:#}"
    );
    let busy = of(&v["skipped"], &"CE".repeat(20));
    assert_eq!(busy["detail"], "changed_while_read", "{busy:#}");
    assert_eq!(
        busy["message"],
        still_writing(
            &keeps,
            "Busy iPad",
            "it changed while Hearth read it: Manifest.db was replaced; and again when read once more: Manifest.db was replaced"
        ),
        "{busy:#}"
    );
    let starting = of(&v["skipped"], &"5A".repeat(20));
    assert_eq!(starting["detail"], "snapshot_state", "{starting:#}");
    assert_eq!(
        starting["message"],
        still_writing(
            &starts,
            "Starting iPhone",
            "Status.plist says SnapshotState \"uploading\", not \"finished\""
        )
    );
    assert_eq!(snapshot_udids(&w), set(&[GOOD, &"0E".repeat(20)]));

    // What was stored of Once is the folder as Finder left it, new file and all.
    let restored = w.restore_latest(&"0E".repeat(20), "once");
    assert_eq!(digest(&restored), digest(&once));
    let ls = w.json(
        &[
            "ls",
            &format!("{}@latest", "0E".repeat(20)),
            "HomeDomain/Library/Notes",
        ],
        0,
    );
    let paths: BTreeSet<&str> = ls["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["relative_path"].as_str())
        .collect();
    assert!(paths.contains("Library/Notes/new.txt"), "{ls:#}");

    // What the skipped devices left in packs is named by no snapshot: harmless, and prune
    // removes it.
    w.ok(&["check", "--read-data"]);
    w.ok(&["prune"]);
    w.ok(&["check", "--read-data"]);

    // The writers are done: the next run stores them.
    write_status(
        &starts,
        "finished",
        DATE + 86_400,
        "4D5E6F70-8192-43A4-B5C6-D7E8F9A0B1C2",
        false,
    );
    let v = w.json(&["backup", s(&backup)], 0);
    assert_eq!(
        udids(v["snapshots"].as_array().unwrap()),
        set(&[&"CE".repeat(20), &"5A".repeat(20)]),
        "{v:#}"
    );
    assert_eq!(
        udids(v["unchanged"].as_array().unwrap()),
        set(&[GOOD, &"0E".repeat(20)])
    );
    let restored = w.restore_latest(&"CE".repeat(20), "busy");
    assert_eq!(digest(&restored), digest(&keeps));
}

#[test]
fn a_manifest_db_rewritten_under_the_reader_is_a_backup_being_written_not_an_error() {
    let w = World::with_repo();
    let backup = w.path("Backup");
    let udid = "DB00".repeat(10);
    let folder = small(&backup, &udid, "Syncing iPhone");
    let db = folder.join("Manifest.db");
    let original = std::fs::read(&db).unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    let (t1, t2) = (
        UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000),
        UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_100),
    );
    // At hearth's first open the writer is half way through Manifest.db (its first page is
    // not SQLite yet); at the first open of the second read it has written it whole again.
    let gate = at_open(&db, move |open| match open {
        1 => {
            std::os::unix::fs::FileExt::write_all_at(&file, &[0x5a; 16], 0).unwrap();
            file.set_modified(t1).unwrap();
        }
        3 => {
            std::os::unix::fs::FileExt::write_all_at(&file, &original[..16], 0).unwrap();
            file.set_modified(t2).unwrap();
        }
        _ => {}
    });
    let out = w.run(&["backup", s(&backup)]);
    gate.finish().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.starts_with("warning: "))
        .unwrap_or_else(|| panic!("{err}"));
    let written = "Manifest.db was written (its size or mtime changed)";
    let f = folder.display();
    assert!(
        line.starts_with(&format!(
            "warning: device folder {f} (Syncing iPhone): still being written by Finder or idevicebackup2 (it changed while Hearth read it: {written}, and reading it failed: device folder {f} (Syncing iPhone): Manifest.db is not an SQLite database"
        )),
        "{line}"
    );
    assert!(
        line.ends_with(&format!(
            "; and again when read once more: {written}); nothing of it was stored; run again when it has finished"
        )),
        "{line}"
    );
    assert!(!err.contains("error:"), "not an error: {err}");
    assert_eq!(snapshot_udids(&w), BTreeSet::new());

    let v = w.json(&["backup", s(&backup)], 0);
    assert_eq!(udids(v["snapshots"].as_array().unwrap()), set(&[&udid]));
    assert_eq!(digest(&w.restore_latest(&udid, "out")), digest(&folder));
}
