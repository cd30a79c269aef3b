//! Source folders that change or fight back, end to end through the real `hearth` binary
//! (issue 11, items 5, 7 and 8): files that change between the folder scan and their read or
//! while they are read (held at an exact `open`/`read` by fanotify, no hook in the binary; since
//! issue 12 the device is then read again as a whole, and skipped if it changes again),
//! FIFOs and links to `/dev/zero` in place of the files Hearth reads whole, files over their
//! limits, a folder the process cannot read, damaged optional plists, a Manifest.db whose
//! schema must never run, rows too long for the format, a `Size` of 2^64 - 1, times outside
//! 1970-2262 and setuid modes.

use crate::common;
use crate::handmade;

use common::procs::{Ended, Proc};
use common::{World, describe, s};
use handmade::{HandDevice, good_device, text};
use hearth_testkit::bytes::noise;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hearth_mobilesync::FileId;
use hearth_testkit::{
    Access, FileDigest, HouseholdSpec, ReadGate, generate, tree_digest,
    without_permission_overrides,
};
use serde_json::Value;

const GOOD: &str = "600D0000600D0000600D0000600D0000600D0000";
const UDID: &str = "C0DE0000C0DE0000C0DE0000C0DE0000C0DE0000";
const MIB: u64 = 1 << 20;

fn digest(dir: &Path) -> BTreeMap<String, FileDigest> {
    tree_digest(dir).unwrap_or_else(|e| panic!("digest of {}: {e}", dir.display()))
}

fn blob(folder: &Path, domain: &str, path: &str) -> PathBuf {
    folder.join(FileId::for_path(domain, path).blob_path())
}

/// `hearth ARGS`, asserting the exit status; returns stderr.
fn run(w: &World, args: &[&str], status: i32) -> String {
    let out = w.run(args);
    assert_eq!(
        out.status.code(),
        Some(status),
        "{args:?}\n{}",
        describe(&out)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The line of `text` that holds every one of `parts`.
fn line_with<'a>(text: &'a str, parts: &[&str]) -> &'a str {
    text.lines()
        .find(|l| parts.iter().all(|p| l.contains(p)))
        .unwrap_or_else(|| panic!("no line with {parts:?} in:\n{text}"))
}

/// `ls --json` of `snapshot`: entries by path.
fn entries(w: &World, snapshot: &str) -> BTreeMap<String, Value> {
    let ls = w.json(&["ls", snapshot], 0);
    ls["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["path"].as_str().unwrap().to_string(), e.clone()))
        .collect()
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

/// Holds every open and read of `path` by hearth and calls `at(file, open, read)` there:
/// `open` counts the opens (1, 2, …) and `read` the reads since that open (0 at the open).
fn gate(path: &Path, mut at: impl FnMut(&File, u32, u32) + Send + 'static) -> ReadGate {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let (mut opens, mut reads) = (0, 0);
    ReadGate::new(path, move |access| {
        match access {
            Access::Open => (opens, reads) = (opens + 1, 0),
            Access::Read => reads += 1,
        }
        at(&file, opens, reads);
    })
    .expect("fanotify permission events (the tests run as root)")
}

fn opens(seen: &[Access]) -> usize {
    seen.iter().filter(|a| **a == Access::Open).count()
}

// ---- item 5: what is stored is what was read (issue 12: a device changing is read again) ----

#[test]
fn a_device_whose_file_changes_after_the_scan_is_read_again_as_a_whole_and_stored_as_it_is_then() {
    const OTHER: &str = "0DD00000C0DE0000C0DE0000C0DE0000C0DE0000";
    let w = World::with_repo();
    let backup = w.path("Backup");
    let mut d = HandDevice::new(&backup, UDID, "Changing iPhone");
    d.file("HomeDomain", "Library/Notes/notes.txt", &text(31, 300_000))
        .file("HomeDomain", "Library/small.txt", &text(35, 5_000));
    let folder = d.finish();
    let mut e = HandDevice::new(&backup, OTHER, "Growing iPhone");
    e.file(
        "MediaDomain",
        "Media/Recordings/memo.m4a",
        &noise(32, 200_000),
    )
    .file("HomeDomain", "Library/small.txt", &text(36, 5_000));
    let other = e.finish();
    let notes = blob(&folder, "HomeDomain", "Library/Notes/notes.txt");
    let memo = blob(&other, "MediaDomain", "Media/Recordings/memo.m4a");
    let later = UNIX_EPOCH + Duration::new(1_800_000_000, 123_456_789);

    // Held at its first open, after the scan: same length, new bytes and mtime.
    let edited = text(33, 300_000);
    let notes_gate = gate(&notes, move |f, open, read| {
        if (open, read) == (1, 0) {
            f.write_all_at(&edited, 0).unwrap();
            f.set_modified(later).unwrap();
        }
    });
    // Held at its first open: 50,000 bytes longer than the scan saw and Size says.
    let memo_gate = gate(&memo, move |f, open, read| {
        if (open, read) == (1, 0) {
            f.write_all_at(&noise(34, 50_000), 200_000).unwrap();
        }
    });
    let err = run(&w, &["backup", s(&backup)], 3);
    let (notes_seen, memo_seen) = (notes_gate.finish().unwrap(), memo_gate.finish().unwrap());
    assert_eq!(
        opens(&notes_seen),
        2,
        "the device read again: {notes_seen:?}"
    );
    assert_eq!(opens(&memo_seen), 2, "the device read again: {memo_seen:?}");
    assert!(!err.contains("changed while"), "{err}");
    assert!(!err.contains("still being written"), "{err}");
    let longer = line_with(&err, &["MediaDomain/Media/Recordings/memo.m4a"]);
    assert!(
        longer.contains("longer than the Size")
            && longer.contains("250000 bytes on disk, 200000 recorded"),
        "the row's state follows what was stored: {longer}"
    );
    assert!(!err.contains("notes.txt"), "{err}");

    let rel = |f: &Path, p: &Path| p.strip_prefix(f).unwrap().to_string_lossy().to_string();
    let ls = entries(&w, &format!("{UDID}@latest"));
    let entry = &ls[&rel(&folder, &notes)];
    assert_eq!(
        (entry["size"].as_u64(), entry["state"].as_str()),
        (Some(300_000), Some("ok"))
    );
    let ls = entries(&w, &format!("{OTHER}@latest"));
    assert_eq!(ls[&rel(&other, &memo)]["size"], 250_000);
    assert!(
        ls[&rel(&other, &memo)]["state"]
            .as_str()
            .unwrap()
            .contains("longer")
    );

    let restored = w.restore_latest(UDID, "out");
    assert_eq!(
        digest(&restored),
        digest(&folder),
        "the folder as it is now"
    );
    assert_eq!(mtime(&restored.join(rel(&folder, &notes))), later);
    assert_eq!(digest(&w.restore_latest(OTHER, "other")), digest(&other));
}

#[test]
fn a_device_whose_file_changes_while_it_is_read_twice_is_skipped_as_still_being_written() {
    let w = World::with_repo();
    let mut d = HandDevice::new(&w.path("Backup"), UDID, "Busy iPhone");
    let path = "Library/Caches/big.bin";
    d.file("HomeDomain", path, &noise(41, (6 * MIB) as usize))
        .file("HomeDomain", "Library/small.txt", &text(42, 5_000));
    let folder = d.finish();
    let big = blob(&folder, "HomeDomain", path);
    let rel = big
        .strip_prefix(&folder)
        .unwrap()
        .to_string_lossy()
        .to_string();
    let m1 = UNIX_EPOCH + Duration::new(1_750_000_000, 5);
    // The reader takes 4 MiB at its first read: at its second, the file is cut to 5 MiB;
    // read once more, it grows back to 6 MiB at the second read, its mtime put back as it was.
    let big_gate = gate(&big, move |f, open, read| match (open, read) {
        (1, 2) => {
            f.set_len(5 * MIB).unwrap();
            f.set_modified(m1).unwrap();
        }
        (2, 2) => {
            f.write_all_at(&noise(43, MIB as usize), 5 * MIB).unwrap();
            f.set_modified(m1).unwrap();
        }
        _ => {}
    });
    let err = run(&w, &["backup", s(&folder)], 3);
    let seen = big_gate.finish().unwrap();
    assert_eq!(opens(&seen), 2, "{seen:?}");
    let expected = format!(
        "warning: device folder {} (Busy iPhone): still being written by Finder or idevicebackup2 (it changed while Hearth read it: {rel} changed while it was read (6291456 bytes when the folder was scanned, 5242880 when the read ended); and again when read once more: {rel} changed while it was read (5242880 bytes when the folder was scanned, 6291456 when the read ended)); nothing of it was stored; run again when it has finished",
        folder.display()
    );
    assert!(err.lines().any(|l| l == expected), "{err}");
    assert_eq!(snapshot_udids(&w), Vec::<String>::new(), "no torn snapshot");
    run(&w, &["check", "--read-data"], 0);

    // Left alone, it is backed up whole.
    let v = w.json(&["backup", s(&folder)], 0);
    assert_eq!(v["snapshots"][0]["device"]["udid"], UDID, "{v:#}");
    let ls = entries(&w, &format!("{UDID}@latest"));
    assert_eq!(ls[&rel]["size"], 6 * MIB);
    assert_eq!(ls[&rel]["state"], "ok");
    let restored = w.restore_latest(UDID, "first");
    assert_eq!(digest(&restored), digest(&folder));
    assert_eq!(mtime(&restored.join(&rel)), m1);
}

/// An encrypted backup's blobs: the size recorded is the ciphertext read (beneath the
/// decryption), and what is stored re-encrypts (or is kept as found) to exactly the file.
#[test]
fn encrypted_blobs_that_change_are_decrypted_again_or_kept_as_found_and_restore_exactly() {
    const PASSWORD: &str = "household";
    let w = World::with_repo();
    let h = generate(&HouseholdSpec::tiny_mixed(PASSWORD), &w.path("Backup")).unwrap();
    let device = h.devices.iter().find(|d| d.encrypted).unwrap();
    let folder = device.folder.clone();
    let mut blobs: Vec<(u64, PathBuf)> = hearth_testkit::files_under(&folder)
        .unwrap()
        .into_iter()
        .filter(|p| p.parent() != Some(folder.as_path()))
        .map(|p| (std::fs::metadata(&p).unwrap().len(), p))
        .collect();
    blobs.sort();
    let (touched, grows) = (blobs.pop().unwrap(), blobs.pop().unwrap());
    let later = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    // At the first open of either, after the scan: `touched` gets a new mtime (same bytes:
    // decrypted again, it re-encrypts exactly), `grows` 16 bytes more (no longer its Size
    // padded: kept as found, to its end). The device is read again as a whole.
    let handles = |p: &Path| OpenOptions::new().write(true).open(p).unwrap();
    let once = std::sync::Arc::new(std::sync::Mutex::new(Some((
        handles(&touched.1),
        handles(&grows.1),
    ))));
    let size = grows.0;
    let change = move || {
        if let Some((t, g)) = once.lock().unwrap().take() {
            t.set_modified(later).unwrap();
            g.write_all_at(&[0x5a; 16], size).unwrap();
        }
    };
    let on_open = |change: Box<dyn Fn() + Send>| {
        move |access| {
            if access == Access::Open {
                change();
            }
        }
    };
    let gates = [&touched.1, &grows.1].map(|p| {
        ReadGate::new(p, on_open(Box::new(change.clone()))).expect("fanotify (run as root)")
    });
    let mut cmd = w.cmd(&["backup", s(&folder)]);
    cmd.env("HEARTH_IOS_PASSWORD", PASSWORD);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let [t, g] = gates.map(|g| opens(&g.finish().unwrap()));
    assert!(
        t.max(g) == 2 && t.min(g) >= 1,
        "read again: {t} and {g} opens"
    );
    let rel = |p: &Path| {
        p.strip_prefix(&folder)
            .unwrap()
            .to_string_lossy()
            .to_string()
    };
    let line = line_with(&err, &[&rel(&grows.1), "bytes on disk"]);
    assert!(
        line.contains(&format!(
            "{} bytes on disk, {size} expected for an encrypted Size of",
            size + 16
        )),
        "{line}"
    );
    let ls = entries(&w, &format!("{}@latest", device.udid));
    assert_eq!(
        ls[&rel(&touched.1)]["state"],
        "ok",
        "decrypted, not kept as found"
    );
    assert_eq!(ls[&rel(&touched.1)]["size"], touched.0);
    assert_eq!(ls[&rel(&grows.1)]["size"], size + 16);
    assert!(
        ls[&rel(&grows.1)]["state"]
            .as_str()
            .unwrap()
            .contains("longer")
    );
    run(&w, &["check", "--read-data"], 0);
    let restored = w.restore_latest(&device.udid, "out");
    assert_eq!(
        digest(&restored),
        digest(&folder),
        "byte for byte the folder now"
    );
}

// ---- item 7: hostile source folders cost nothing ----

/// Runs `hearth backup <world>/Backup` as a process that may not hang.
fn backup_all(w: &World) -> Ended {
    Proc::run(w, "backup", &["backup", s(&w.path("Backup"))])
        .wait_named("backup of hostile folders")
}

fn snapshot_udids(w: &World) -> Vec<String> {
    let v = w.json(&["snapshots"], 0);
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s["device"]["udid"].as_str().unwrap().to_string())
        .collect()
}

fn device(w: &World, udid: &str) -> PathBuf {
    let mut d = HandDevice::new(&w.path("Backup"), udid, &format!("Device {}", &udid[..4]));
    d.file("HomeDomain", "Library/Notes/notes.txt", &text(51, 20_000));
    d.finish()
}

#[test]
fn fifos_and_links_to_dev_zero_fail_their_device_by_name_and_never_hang() {
    let w = World::with_repo();
    good_device(&w.path("Backup"), GOOD);
    let fifo_info = device(&w, "F1F00000F1F00000F1F00000F1F00000F1F00000");
    std::fs::remove_file(fifo_info.join("Info.plist")).unwrap();
    mkfifo(&fifo_info.join("Info.plist"));
    let zero_info = device(&w, "2E400000");
    std::fs::remove_file(zero_info.join("Info.plist")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", zero_info.join("Info.plist")).unwrap();
    let fifo_db = device(&w, "DB000000");
    std::fs::remove_file(fifo_db.join("Manifest.db")).unwrap();
    mkfifo(&fifo_db.join("Manifest.db"));
    let zero_manifest = device(&w, "2E4B0000");
    std::fs::remove_file(zero_manifest.join("Manifest.plist")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", zero_manifest.join("Manifest.plist")).unwrap();
    let fifo_status = device(&w, "57A70000");
    std::fs::remove_file(fifo_status.join("Status.plist")).unwrap();
    mkfifo(&fifo_status.join("Status.plist"));

    let ended = backup_all(&w);
    assert_eq!(ended.status.code(), Some(1), "{}", ended.describe());
    let err = &ended.stderr;
    for (file, kind) in [
        (fifo_info.join("Info.plist"), "a FIFO"),
        (zero_info.join("Info.plist"), "a symbolic link"),
        (fifo_db.join("Manifest.db"), "a FIFO"),
    ] {
        let line = line_with(
            err,
            &[
                "error:",
                &format!("{}: not a regular file ({kind})", s(&file)),
            ],
        );
        assert!(
            line.contains("Hearth reads only regular files here"),
            "{line}"
        );
    }
    // Optional plists the backup does without: warnings, and the device is backed up.
    for file in [
        zero_manifest.join("Manifest.plist"),
        fifo_status.join("Status.plist"),
    ] {
        let line = line_with(err, &[&format!("{}: not a regular file", s(&file))]);
        assert!(line.contains("went on without it"), "{line}");
    }
    let mut udids = snapshot_udids(&w);
    udids.sort();
    assert_eq!(udids, ["2E4B0000", "57A70000", GOOD]);
}

#[test]
fn files_over_their_limits_are_refused_by_name_and_limit_without_being_read() {
    let w = World::with_repo();
    good_device(&w.path("Backup"), GOOD);
    // Sparse: the size is real, the disk holds nothing.
    let sparse = |path: &Path, len: u64, head: &[u8]| {
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .unwrap();
        f.write_all_at(head, 0).unwrap();
        f.set_len(len).unwrap();
    };
    let big_info = device(&w, "B1610000");
    let info_limit = hearth_mobilesync::INFO_PLIST_MAX_BYTES;
    sparse(&big_info.join("Info.plist"), info_limit + 1, b"bplist00");
    let big_db = device(&w, "B16DB000");
    let db_limit = hearth_mobilesync::MANIFEST_DB_MAX_BYTES;
    sparse(
        &big_db.join("Manifest.db"),
        db_limit + 1,
        b"SQLite format 3\0",
    );
    let big_status = device(&w, "B1657000");
    let status_limit = hearth_mobilesync::STATUS_PLIST_MAX_BYTES;
    sparse(
        &big_status.join("Status.plist"),
        status_limit + 1,
        b"bplist00",
    );

    let ended = backup_all(&w);
    assert_eq!(ended.status.code(), Some(1), "{}", ended.describe());
    for (file, limit) in [
        (big_info.join("Info.plist"), info_limit),
        (big_db.join("Manifest.db"), db_limit),
        (big_status.join("Status.plist"), status_limit),
    ] {
        let expected = format!(
            "{}: {} bytes, more than the {limit} Hearth reads of this file",
            s(&file),
            limit + 1
        );
        line_with(&ended.stderr, &[&expected]);
    }
    let mut udids = snapshot_udids(&w);
    udids.sort();
    assert_eq!(
        udids,
        [GOOD, "B1657000"],
        "the Status.plist one is a warning"
    );
}

#[test]
fn the_ios_password_file_must_be_a_regular_file_within_its_limit() {
    let w = World::with_repo();
    good_device(&w.path("Backup"), GOOD);
    let fifo = w.path("passwords.fifo");
    mkfifo(&fifo);
    let big = w.path("passwords.big");
    File::create(&big)
        .unwrap()
        .set_len(hearth_ingest::PASSWORD_FILE_MAX_BYTES + 1)
        .unwrap();
    let link = w.path("passwords.link");
    let backup = w.path("Backup");
    std::fs::write(w.path("passwords.txt"), "the one password\n").unwrap();
    std::os::unix::fs::symlink(w.path("passwords.txt"), &link).unwrap();
    for (file, problem) in [
        (fifo.as_path(), "not a regular file (a FIFO)".to_string()),
        (
            Path::new("/dev/zero"),
            "not a regular file (a device)".to_string(),
        ),
        (
            big.as_path(),
            format!(
                "{} bytes, more than the {}",
                hearth_ingest::PASSWORD_FILE_MAX_BYTES + 1,
                hearth_ingest::PASSWORD_FILE_MAX_BYTES
            ),
        ),
    ] {
        let args = ["backup", "--ios-password-file", s(file), s(&backup)];
        let ended =
            Proc::run(&w, "backup", &args).wait_named("backup with a hostile password file");
        assert_eq!(ended.status.code(), Some(1), "{}", ended.describe());
        line_with(
            &ended.stderr,
            &[
                "cannot use the iOS password file",
                &format!("{}: {problem}", s(file)),
            ],
        );
    }
    assert!(snapshot_udids(&w).is_empty(), "nothing was backed up");
    run(
        &w,
        &[
            "backup",
            "--ios-password-file",
            s(&link),
            s(&w.path("Backup")),
        ],
        0,
    );
}

#[test]
fn an_unreadable_sub_folder_is_a_warning_and_the_rest_is_backed_up() {
    let w = World::with_repo();
    let mut d = HandDevice::new(&w.path("Backup"), UDID, "Locked iPhone");
    d.file("HomeDomain", "Library/Notes/notes.txt", &text(61, 20_000))
        .file("HomeDomain", "Library/SMS/sms.db", &text(62, 30_000));
    let folder = d.finish();
    let sms = blob(&folder, "HomeDomain", "Library/SMS/sms.db");
    let notes = blob(&folder, "HomeDomain", "Library/Notes/notes.txt");
    let locked = sms.parent().unwrap().to_path_buf();
    assert_ne!(
        Some(locked.as_path()),
        notes.parent(),
        "pick two blob folders"
    );
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads any folder; the backup runs as root without that override, as a user would.
    let mut cmd = w.cmd(&["backup", s(&folder)]);
    without_permission_overrides(&mut cmd);
    let out = cmd.output().unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let name = locked.file_name().unwrap().to_string_lossy().to_string();
    let line = line_with(&err, &[&format!("  {name}: cannot read this folder")]);
    assert!(
        line.contains("Permission denied") && line.contains("not backed up"),
        "{line}"
    );
    line_with(&err, &["HomeDomain/Library/SMS/sms.db", "blob missing"]);
    let ls = entries(&w, &format!("{UDID}@latest"));
    let rel = notes
        .strip_prefix(&folder)
        .unwrap()
        .to_string_lossy()
        .to_string();
    assert_eq!(ls[&rel]["size"], 20_000, "the other files are stored");
}

#[test]
fn damaged_status_and_manifest_plists_of_an_unencrypted_backup_are_warnings() {
    let w = World::with_repo();
    let folder = device(&w, UDID);
    std::fs::write(folder.join("Status.plist"), b"bplist00\x00\x01").unwrap();
    let manifest = std::fs::read(folder.join("Manifest.plist")).unwrap();
    std::fs::write(
        folder.join("Manifest.plist"),
        &manifest[..manifest.len() / 2],
    )
    .unwrap();
    let err = run(&w, &["backup", s(&folder)], 3);
    for name in ["Status.plist", "Manifest.plist"] {
        let line = line_with(
            &err,
            &[&format!(
                "  {name}: {}: not a property list",
                s(&folder.join(name))
            )],
        );
        assert!(line.contains("went on without it"), "{line}");
    }
    let restored = w.restore_latest(UDID, "out");
    assert_eq!(digest(&restored), digest(&folder), "kept as found");
}

/// The cross-device rebuild of Manifest.db copies rows into a fresh database: an index whose
/// expression overflows when evaluated (so SQLite fails any change of the table) and a
/// trigger never run, and are not in the image.
#[test]
fn the_cross_device_manifest_db_never_runs_the_source_schema() {
    let w = World::with_repo();
    let d = good_device(&w.path("Backup"), GOOD);
    let db = d.folder.join("Manifest.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE INDEX trap ON Files(flags + 0);
         CREATE TABLE Fired(x);
         CREATE TRIGGER fire BEFORE DELETE ON Files BEGIN INSERT INTO Fired VALUES (1); END;
         PRAGMA writable_schema = ON;
         UPDATE sqlite_master SET sql = 'CREATE INDEX trap ON Files(abs(flags - 9223372036854775807 - 2))'
          WHERE name = 'trap';
         PRAGMA writable_schema = OFF;",
    )
    .unwrap();
    drop(conn);
    run(&w, &["backup", s(&d.folder)], 0);
    let out = w.path("ipad");
    run(
        &w,
        &[
            "restore",
            &format!("{GOOD}@latest"),
            "--to-model",
            "iPad13,1",
            "--to-ios",
            "18.0",
            "--out",
            s(&out),
        ],
        0,
    );
    let image = rusqlite::Connection::open_with_flags(
        out.join(GOOD).join("Manifest.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let names: Vec<String> = image
        .prepare("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        names,
        [
            "Files",
            "FilesDomainIdx",
            "FilesFlagsIdx",
            "FilesRelativePathIdx",
            "Properties"
        ]
    );
    let domains: Vec<String> = image
        .prepare("SELECT DISTINCT domain FROM Files ORDER BY domain")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        domains,
        ["HomeDomain"],
        "the photo's row is gone, the rest kept"
    );
}

// ---- item 8: what does not fit the format, and times and modes ----

#[test]
fn rows_too_long_for_the_format_are_refused_with_a_warning_never_cut_short() {
    let w = World::with_repo();
    let mut d = HandDevice::new(&w.path("Backup"), UDID, "Long iPhone");
    let domain = format!("AppDomain-{}", "x".repeat(70_000));
    d.file(&domain, "Documents/a.txt", &text(71, 3_000)).file(
        "HomeDomain",
        "Library/fits.txt",
        &text(72, 2_000),
    );
    let huge = FileId::for_path("HomeDomain", "Library/huge.bin");
    d.row(huge.as_str(), "HomeDomain", "Library/huge.bin", 1, u64::MAX)
        .blob(huge.as_str(), &noise(73, 4_000));
    let folder = d.finish();
    let err = run(&w, &["backup", s(&folder)], 3);
    let line = line_with(
        &err,
        &["its domain is 70010 bytes, more than the 65535 a snapshot holds"],
    );
    assert!(
        line.contains("never cut short") && line.len() < 1_000,
        "{line}"
    );
    let line = line_with(
        &err,
        &[
            "HomeDomain/Library/huge.bin",
            "Size is 18446744073709551615",
        ],
    );
    assert!(line.contains("recorded as no Size"), "{line}");

    let ls = entries(&w, &format!("{UDID}@latest"));
    assert!(
        ls.values().all(|e| e["domain"]
            .as_str()
            .is_none_or(|d| !d.starts_with("AppDomain-"))),
        "no row cut short"
    );
    let long_blob = blob(&folder, &domain, "Documents/a.txt");
    let rel = long_blob
        .strip_prefix(&folder)
        .unwrap()
        .to_string_lossy()
        .to_string();
    assert_eq!(
        (ls[&rel]["domain"].clone(), ls[&rel]["size"].clone()),
        (Value::Null, Value::from(3_000)),
        "kept as a file no row names"
    );
    assert_eq!(ls[&huge.blob_path()]["state"], "ok");
    let restored = w.restore_latest(UDID, "out");
    assert_eq!(digest(&restored), digest(&folder), "nothing lost");
}

#[test]
fn times_outside_1970_to_2262_survive_exactly_and_modes_lose_setuid_setgid_and_sticky() {
    let w = World::with_repo();
    let mut d = HandDevice::new(&w.path("Backup"), UDID, "Old iPhone");
    d.file("HomeDomain", "Library/old.txt", b"1960")
        .file("HomeDomain", "Library/future.txt", b"2400")
        .file("HomeDomain", "Library/setuid.sh", b"#!/bin/sh\n");
    let folder = d.finish();
    let old = blob(&folder, "HomeDomain", "Library/old.txt");
    let future = blob(&folder, "HomeDomain", "Library/future.txt");
    let setuid = blob(&folder, "HomeDomain", "Library/setuid.sh");
    // ext4 holds 1901-2446: before 1970, and after the 2262 of i64 nanoseconds.
    let t1960 = UNIX_EPOCH - Duration::new(315_619_199, 500_000_001);
    let t2400 = UNIX_EPOCH + Duration::new(13_569_465_600, 123_456_789);
    File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(t1960)
        .unwrap();
    File::options()
        .write(true)
        .open(&future)
        .unwrap()
        .set_modified(t2400)
        .unwrap();
    assert_eq!(
        (mtime(&old), mtime(&future)),
        (t1960, t2400),
        "the file system holds them"
    );
    std::fs::set_permissions(&setuid, std::fs::Permissions::from_mode(0o7755)).unwrap();

    run(&w, &["backup", s(&folder)], 0);
    let restored = w.restore_latest(UDID, "out");
    let at = |p: &Path| restored.join(p.strip_prefix(&folder).unwrap());
    assert_eq!(mtime(&at(&old)), t1960);
    assert_eq!(mtime(&at(&future)), t2400);
    let mode = std::fs::metadata(at(&setuid)).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o7777,
        0o755,
        "no setuid, setgid or sticky bit: {mode:o}"
    );
    assert_eq!(digest(&restored), digest(&folder));

    // Unchanged since: the recorded times equal what the folder scan sees.
    let v = w.json(&["backup", s(&folder)], 0);
    assert_eq!(v["snapshots"], serde_json::json!([]), "{v:#}");
    assert_eq!(v["unchanged"][0]["files_changed"], 0, "{v:#}");
}
