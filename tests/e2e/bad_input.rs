//! Bad input, end to end: each case puts one damaged or hostile device folder beside a good one
//! in the same MobileSync `Backup` folder and runs the real `hearth backup` over the whole
//! folder. The bad device gets a clear error (exit 1) or recorded warnings (exit 3) naming the
//! device and the file; the good device is backed up all the same; nothing is written outside
//! `--out` and the source folder is never changed.

use crate::common;

use crate::handmade;
use common::s;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{World, describe};
use handmade::{
    HandDevice, all_paths, dir_bytes, good_device, sqlite_side_files, text, write_info_plist,
};
use hearth_mobilesync::{FileId, ManifestInfo, is_macos_junk, write_plist_binary};
use hearth_testkit::bytes::noise;
use hearth_testkit::{FileDigest, tree_digest};

const GOOD: &str = "600D0000600D0000600D0000600D0000600D0000";
const BAD: &str = "BAD00000BAD00000BAD00000BAD00000BAD00000";

/// A world with a repository and `Backup/` holding the good device.
fn world() -> World {
    let w = World::with_repo();
    good_device(&w.path("Backup"), GOOD);
    w
}

fn digest(dir: &Path) -> BTreeMap<String, FileDigest> {
    tree_digest(dir).unwrap_or_else(|e| panic!("digest of {}: {e}", dir.display()))
}

/// `hearth backup <world>/Backup`; asserts the exit status, returns stderr.
fn backup(w: &World, status: i32) -> String {
    let out: Output = w.run(&["backup", s(&w.path("Backup"))]);
    assert_eq!(out.status.code(), Some(status), "{}", describe(&out));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// UDIDs of the repository's snapshots.
fn snapshot_udids(w: &World) -> Vec<String> {
    let v = w.json(&["snapshots"], 0);
    v.as_array()
        .expect("snapshots array")
        .iter()
        .map(|s| s["device"]["udid"].as_str().unwrap().to_string())
        .collect()
}

/// The good device was backed up, and the bad one only if `bad_too`.
fn assert_snapshots(w: &World, bad_too: bool) {
    let udids = snapshot_udids(w);
    assert!(
        udids.iter().any(|u| u == GOOD),
        "the good device has a snapshot: {udids:?}"
    );
    assert_eq!(
        udids.iter().any(|u| u == BAD),
        bad_too,
        "snapshot of the bad device: {udids:?}"
    );
}

/// A device folder with a couple of ordinary files, before any damage.
/// A real keybag (classes 1-11) for `password`, with a cheap derivation.
fn fast_keybag(password: &str) -> Vec<u8> {
    use hearth_mobilesync::encryption::{ClassKeys, KdfParams, Keybag};
    let kdf = KdfParams {
        salt: noise(40, 20),
        iterations: 1,
        dp: Some((noise(41, 20), 1)),
    };
    let keys = ClassKeys((1..=11).map(|c| (c, [c as u8; 32])).collect());
    Keybag::build(
        [9; 16],
        &kdf,
        &kdf.derive(password.as_bytes()),
        &keys,
        [0; 40],
    )
}

fn bad_device(w: &World, name: &str) -> HandDevice {
    let mut d = HandDevice::new(&w.path("Backup"), BAD, name);
    d.dir("HomeDomain", "Library")
        .file("HomeDomain", "Library/Notes/notes.txt", &text(21, 30_000))
        .file(
            "MediaDomain",
            "Media/Recordings/memo.m4a",
            &noise(22, 40_000),
        );
    d
}

#[test]
fn truncated_info_plist_fails_that_device_only_and_names_the_file() {
    let w = world();
    let mut d = bad_device(&w, "Truncated iPhone");
    let folder = d.finish();
    let info = folder.join("Info.plist");
    let bytes = std::fs::read(&info).unwrap();
    std::fs::write(&info, &bytes[..bytes.len() / 2]).unwrap();

    let err = backup(&w, 1);
    assert!(
        err.contains(&format!("{}: not a property list", s(&info))),
        "{err}"
    );
    assert_snapshots(&w, false);
}

#[test]
fn info_plist_that_is_text_fails_that_device_only_and_names_the_file() {
    let w = world();
    let mut d = bad_device(&w, "Text iPhone");
    let folder = d.finish();
    let info = folder.join("Info.plist");
    std::fs::write(
        &info,
        "Device Name = Text iPhone, and this is not a property list\n",
    )
    .unwrap();

    let err = backup(&w, 1);
    assert!(err.contains(s(&info)), "names {}:\n{err}", info.display());
    assert!(err.contains("property list"), "{err}");
    assert_snapshots(&w, false);
}

#[test]
fn manifest_db_that_is_not_sqlite_fails_that_device_only() {
    let w = world();
    let mut d = bad_device(&w, "Garbled iPhone");
    let folder = d.finish();
    std::fs::remove_file(folder.join("Manifest.plist")).unwrap();
    std::fs::write(folder.join("Manifest.db"), noise(23, 8192)).unwrap();

    let err = backup(&w, 1);
    let line = err
        .lines()
        .find(|l| l.contains("Garbled iPhone"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains(s(&folder)), "names the folder: {line}");
    assert!(
        line.contains("Manifest.db is not an SQLite database"),
        "{line}"
    );
    assert_snapshots(&w, false);
}

#[test]
fn corrupt_sqlite_manifest_db_fails_that_device_only() {
    let w = world();
    let mut d = bad_device(&w, "Damaged iPhone");
    let folder = d.finish();
    let db = folder.join("Manifest.db");
    let mut bytes = std::fs::read(&db).unwrap();
    // Keep the 100-byte SQLite header, garble every page after it.
    bytes[100..].fill(0xAB);
    std::fs::write(&db, bytes).unwrap();

    let err = backup(&w, 1);
    let line = err
        .lines()
        .find(|l| l.contains(&format!("{}: Manifest.db", s(&db))))
        .unwrap_or_else(|| panic!("names {}:\n{err}", db.display()));
    assert!(line.contains("corrupt"), "{line}");
    assert_snapshots(&w, false);
}

#[test]
fn encrypted_manifest_db_without_password_fails_that_device_and_stores_nothing_of_it() {
    let w = world();
    let mut d = bad_device(&w, "Locked iPhone");
    // A big incompressible blob: if any of this device were stored, the repository would show it.
    let blob = FileId::for_path("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0001.MOV");
    d.blob(blob.as_str(), &noise(24, 400_000));
    let folder = d.finish();
    let manifest = ManifestInfo {
        is_encrypted: true,
        lockdown_product_version: Some("17.4".into()),
        backup_keybag: Some(fast_keybag("the household password")),
        manifest_key: Some(noise(26, 44)),
        ..ManifestInfo::default()
    };
    write_plist_binary(&folder.join("Manifest.plist"), &manifest.to_plist()).unwrap();
    std::fs::write(folder.join("Manifest.db"), noise(27, 16_384)).unwrap();

    let err = backup(&w, 1);
    let line = err
        .lines()
        .find(|l| l.contains("Locked iPhone"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains(s(&folder)), "names the folder: {line}");
    assert!(line.contains("encrypted"), "{line}");
    assert!(
        line.contains("HEARTH_IOS_PASSWORD"),
        "says how to pass one: {line}"
    );
    assert_snapshots(&w, false);
    let stored = dir_bytes(&w.repo());
    assert!(
        stored < 400_000,
        "the repository ({stored} bytes) holds none of the locked device"
    );
}

#[test]
fn missing_and_short_blobs_are_warnings_recorded_in_the_snapshot() {
    let w = world();
    let mut d = bad_device(&w, "Partial iPhone");
    d.row(
        FileId::for_path("HomeDomain", "Library/SMS/sms.db").as_str(),
        "HomeDomain",
        "Library/SMS/sms.db",
        1,
        278_528,
    );
    let short = FileId::for_path("HomeDomain", "Library/Calendar/Calendar.sqlitedb");
    d.row(
        short.as_str(),
        "HomeDomain",
        "Library/Calendar/Calendar.sqlitedb",
        1,
        10_000,
    )
    .blob(short.as_str(), &noise(28, 4_000));
    let folder = d.finish();

    let err = backup(&w, 3);
    assert!(
        err.contains("in the backup of Partial iPhone"),
        "names the device:\n{err}"
    );
    let missing = err
        .lines()
        .find(|l| l.contains("HomeDomain/Library/SMS/sms.db"))
        .unwrap_or_else(|| panic!("names the missing file:\n{err}"));
    assert!(missing.contains("blob missing"), "{missing}");
    let shorter = err
        .lines()
        .find(|l| l.contains("HomeDomain/Library/Calendar/Calendar.sqlitedb"))
        .unwrap_or_else(|| panic!("names the short file:\n{err}"));
    assert!(
        shorter.contains("4000 bytes on disk, 10000 recorded"),
        "{shorter}"
    );
    assert_snapshots(&w, true);

    let ls = w.json(&["ls", &format!("{BAD}@latest"), "HomeDomain/Library"], 0);
    let entry = |rel: &str| {
        ls["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["relative_path"] == rel)
            .unwrap_or_else(|| panic!("no {rel} in {ls:#}"))
            .clone()
    };
    let sms = entry("Library/SMS/sms.db");
    assert_eq!(
        sms["state"], "blob missing from the backup folder",
        "{sms:#}"
    );
    assert!(
        sms["size"].is_null(),
        "no content for a missing blob: {sms:#}"
    );
    let cal = entry("Library/Calendar/Calendar.sqlitedb");
    assert!(
        cal["state"].as_str().unwrap().contains("shorter"),
        "{cal:#}"
    );
    assert_eq!(
        cal["size"], 4_000,
        "the short blob is kept as it is: {cal:#}"
    );
    assert_eq!(entry("Library/Notes/notes.txt")["state"], "ok");

    let restored = w.restore_latest(BAD, "out");
    assert_eq!(
        digest(&restored),
        digest(&folder),
        "restore is byte-exact to the folder"
    );
}

#[test]
fn hostile_file_ids_and_paths_are_warnings_and_restore_stays_inside_out() {
    let w = world();
    let mut d = bad_device(&w, "Hostile iPhone");
    d.row("../../../../tmp/evil", "HomeDomain", "Library/evil", 1, 12)
        .row("ABC", "HomeDomain", "Library/abc", 1, 12);
    for rel in ["../../etc/passwd", "/etc/passwd"] {
        let id = FileId::for_path("HomeDomain", rel);
        d.row(id.as_str(), "HomeDomain", rel, 1, 24)
            .blob(id.as_str(), b"root:x:0:0:evil:/root:/bin\n");
    }
    // A blob that is a symlink to a file outside the folder: never followed.
    let secret = w.path("secret.txt");
    std::fs::write(&secret, b"not part of any backup").unwrap();
    let link = FileId::for_path("HomeDomain", "Library/link.db");
    d.row(link.as_str(), "HomeDomain", "Library/link.db", 1, 22);
    let link_path = d.folder.join(link.blob_path());
    std::fs::create_dir_all(link_path.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&secret, &link_path).unwrap();
    let folder = d.finish();
    let source = digest(&folder);

    let err = backup(&w, 3);
    let line = err
        .lines()
        .find(|l| l.contains(&link.blob_path()) && l.contains("symlink"))
        .unwrap_or_else(|| panic!("no warning names the symlinked blob:\n{err}"));
    assert!(line.contains("skipped"), "{line}");
    assert!(
        err.contains("in the backup of Hostile iPhone"),
        "names the device:\n{err}"
    );
    for (what, problem) in [
        ("\"../../../../tmp/evil\"", "not 40 hex"),
        ("\"ABC\"", "not 40 hex"),
        ("HomeDomain/../../etc/passwd", "absolute or contains '..'"),
        ("HomeDomain//etc/passwd", "absolute or contains '..'"),
    ] {
        let line = err
            .lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no warning names {what}:\n{err}"));
        assert!(line.contains(problem), "{line}");
    }
    assert_snapshots(&w, true);

    let evil_before = Path::new("/tmp/evil").exists();
    let parent = w.path("restores");
    std::fs::create_dir(&parent).unwrap();
    let world_before = top_level(w.dir.path());
    let restored = w.restore_latest(BAD, "restores/out");
    assert_eq!(
        top_level(&parent),
        BTreeSet::from(["out".to_string()]),
        "only --out was written"
    );
    let mut expected = world_before.clone();
    expected.insert("cache".into());
    assert!(
        top_level(w.dir.path()).is_subset(&expected),
        "nothing new beside --out"
    );
    let escaped: Vec<_> = all_paths(w.dir.path())
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name == "evil" || name == "passwd"
        })
        .collect();
    assert!(
        escaped.is_empty(),
        "files named after hostile rows: {escaped:?}"
    );
    assert_eq!(
        Path::new("/tmp/evil").exists(),
        evil_before,
        "/tmp/evil was not written"
    );
    assert_eq!(
        digest(&restored),
        source,
        "the restored tree equals the source tree"
    );
    assert!(
        std::fs::symlink_metadata(restored.join(link.blob_path())).is_err(),
        "the symlinked blob is not restored"
    );
}

fn top_level(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn macos_junk_is_skipped_silently_and_never_restored() {
    let w = world();
    let mut d = bad_device(&w, "Mac-copied iPhone");
    let folder = d.finish();
    let some_blob_dir =
        folder.join(&FileId::for_path("HomeDomain", "Library/Notes/notes.txt").as_str()[..2]);
    for junk in [
        folder.join(".DS_Store"),
        folder.join("._Manifest.db"),
        folder.join("._x"),
        some_blob_dir.join(".DS_Store"),
        some_blob_dir.join("._0123"),
        w.path("Backup/.DS_Store"),
        w.path(&format!("Backup/._{BAD}")),
    ] {
        std::fs::write(
            &junk,
            b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        junk",
        )
        .unwrap();
    }
    let source = digest(&folder);

    let err = backup(&w, 0);
    assert!(!err.contains("warning") && !err.contains("error"), "{err}");
    assert!(!err.contains(".DS_Store") && !err.contains("._"), "{err}");
    assert_snapshots(&w, true);

    let restored = w.restore_latest(BAD, "out");
    let without_junk: BTreeMap<_, _> = source
        .into_iter()
        .filter(|(path, _)| !path.split('/').any(is_macos_junk))
        .collect();
    assert_eq!(without_junk.len() + 5, digest(&folder).len());
    assert_eq!(
        digest(&restored),
        without_junk,
        "the restore holds everything but the junk"
    );
}

#[test]
fn ios9_mbdb_backup_is_refused_by_name_and_the_rest_completes() {
    let w = world();
    let folder = w.path("Backup").join(BAD);
    std::fs::create_dir(&folder).unwrap();
    write_info_plist(&folder.join("Info.plist"), BAD, "Old iPhone");
    let mut mbdb = b"mbdb\x05\x00".to_vec();
    mbdb.extend_from_slice(&noise(29, 2000));
    std::fs::write(folder.join("Manifest.mbdb"), mbdb).unwrap();
    std::fs::write(
        folder.join(FileId::for_path("HomeDomain", "Library/x").as_str()),
        b"flat",
    )
    .unwrap();

    let err = backup(&w, 1);
    let line = err
        .lines()
        .find(|l| l.contains("Manifest.mbdb"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains(s(&folder)), "names the folder: {line}");
    assert!(
        line.contains("iOS 9") && line.contains("not supported"),
        "{line}"
    );
    assert_snapshots(&w, false);

    // With --json, stdout is still one document: the good device (unchanged since the first
    // run) and the error.
    let doc = w.json(&["backup", s(&w.path("Backup"))], 1);
    assert_eq!(doc["unchanged"][0]["device"]["udid"], GOOD, "{doc:#}");
    let errors = doc["errors"].as_array().expect("errors array");
    assert_eq!(errors.len(), 1, "{doc:#}");
    assert!(
        errors[0].as_str().unwrap().contains("Manifest.mbdb"),
        "{doc:#}"
    );
}

#[test]
fn wrong_repository_password_fails_clearly_and_stores_nothing() {
    let w = world();
    let wrong = |args: &[&str]| {
        let out = w
            .cmd(args)
            .env("HEARTH_PASSWORD", "not the password")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(err.contains("wrong password"), "{err}");
    };
    wrong(&["backup", s(&w.path("Backup"))]);
    wrong(&["snapshots"]);
    assert!(
        snapshot_udids(&w).is_empty(),
        "the failed backup made no snapshot"
    );
}

/// Every path under `dir` with its length, content digest and mtime.
fn full_state(
    dir: &Path,
) -> (
    BTreeSet<PathBuf>,
    BTreeMap<String, FileDigest>,
    Vec<std::time::SystemTime>,
) {
    let paths = all_paths(dir);
    let mtimes = paths
        .iter()
        .map(|p| {
            std::fs::symlink_metadata(dir.join(p))
                .unwrap()
                .modified()
                .unwrap()
        })
        .collect();
    (paths, digest(dir), mtimes)
}

/// `chmod -R a-w` (or `u+w` back) on `dir` and everything in it.
fn set_writable(dir: &Path, writable: bool) {
    use std::os::unix::fs::PermissionsExt;
    for p in all_paths(dir)
        .iter()
        .map(|p| dir.join(p))
        .chain([dir.to_path_buf()])
    {
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        let mode = if writable {
            mode | 0o200
        } else {
            mode & !0o222
        };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

#[test]
fn read_only_device_folder_backs_up_and_is_left_exactly_as_it_was() {
    let w = world();
    let mut d = bad_device(&w, "Read-only iPhone");
    let folder = d.finish();
    set_writable(&folder, false);
    let before = full_state(&folder);

    let err = backup(&w, 0);
    let after = full_state(&folder);
    set_writable(&folder, true);
    assert!(!err.contains("warning"), "{err}");
    assert_snapshots(&w, true);
    assert_eq!(
        after, before,
        "the backup created, changed or touched nothing in the folder"
    );
    assert_eq!(sqlite_side_files(&folder), Vec::<PathBuf>::new());
    let restored = w.restore_latest(BAD, "out");
    assert_eq!(digest(&restored), before.1);
}

#[test]
fn info_plist_whose_udid_is_a_path_is_refused_at_backup() {
    let w = world();
    let mut d = bad_device(&w, "Escaping iPhone");
    let folder = d.finish();
    let info = folder.join("Info.plist");
    // The UDID names the restore folder (`<out>/<UDID>/`): a path here would make a snapshot
    // that can never be restored, so it must fail at backup time, by name.
    write_info_plist(&info, "../../../../tmp/evil-udid", "Escaping iPhone");

    let err = backup(&w, 1);
    let line = err
        .lines()
        .find(|l| l.contains(&format!("{}:", s(&info))))
        .unwrap_or_else(|| panic!("names {}:\n{err}", info.display()));
    assert!(line.contains("Unique Identifier"), "{line}");
    assert_eq!(snapshot_udids(&w), vec![GOOD.to_string()]);
}
