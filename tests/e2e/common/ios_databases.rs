//! Device backups made of the real Apple databases in `shared/fixtures/ios-databases*/`, for the
//! export tests: each database placed at the domain and relative path a Finder backup stores it
//! under (see those fixtures' PROVENANCE.md), in a device folder made by hand.
//!
//! The fixtures are read, never opened by SQLite in place (SQLite would write a `-shm` beside
//! them): tests that query them with SQL open [`sql_copy`]s.
#![allow(dead_code)]

use crate::handmade::HandDevice;
use std::path::{Path, PathBuf};

/// `shared/fixtures/<rel>` (for example `ios-databases/hickman-ios15.3.1-iphone8`). The export
/// tests need them: a missing fixture fails the test.
pub fn fixture(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures")
        .join(rel);
    assert!(
        p.is_dir() || p.is_file(),
        "the fixture {} is required (clone the project with ../shared beside it)",
        p.display()
    );
    p
}

/// The backup domain and relative path of a file at `device_path` (relative to
/// `/private/var/mobile/`, as the fixture folders lay them out).
pub fn backup_place(device_path: &str) -> Option<(String, String)> {
    let name = device_path.rsplit('/').next().unwrap_or(device_path);
    let group = |g: &str| Some((format!("AppDomainGroup-{g}"), name.to_string()));
    let base = name.trim_end_matches("-wal");
    if matches!(base, "ChatStorage.sqlite" | "ContactsV2.sqlite")
        || (base == "CallHistory.sqlite" && device_path.starts_with("Containers/"))
    {
        return group("group.net.whatsapp.WhatsApp.shared");
    }
    if base == "NoteStore.sqlite" {
        return group("group.com.apple.notes");
    }
    if device_path.starts_with("Media/") {
        return Some(("CameraRollDomain".into(), device_path.into()));
    }
    if device_path.starts_with("Library/") {
        return Some(("HomeDomain".into(), device_path.into()));
    }
    None
}

/// A device folder `<parent>/<udid>` holding every database of the fixture image `image` (a
/// folder of `shared/fixtures`) at its backup place; their `-wal` files too when `with_wal`
/// (a real backup usually has only the main file). `-shm` files never go in.
pub fn device_of(parent: &Path, udid: &str, name: &str, image: &Path, with_wal: bool) -> PathBuf {
    let mut device = HandDevice::new(parent, udid, name);
    for (rel, path) in super::files(image) {
        if rel.ends_with("-shm") || rel.ends_with(".md") || (rel.ends_with("-wal") && !with_wal) {
            continue;
        }
        let Some((domain, relative_path)) = backup_place(&rel) else {
            continue;
        };
        let bytes = std::fs::read(&path).expect("read fixture");
        device.file(&domain, &relative_path, &bytes);
    }
    device.finish()
}

/// An SQLite-openable copy of the fixture database `db` (with its `-wal` when `with_wal`) in
/// `dir`, so that plain SQL can count what an export should hold without touching the fixture.
pub fn sql_copy(db: &Path, dir: &Path, with_wal: bool) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let name = db.file_name().unwrap().to_string_lossy().into_owned();
    let copy = dir.join(&name);
    std::fs::copy(db, &copy).unwrap();
    let wal = db.with_file_name(format!("{name}-wal"));
    if with_wal && wal.is_file() {
        std::fs::copy(&wal, dir.join(format!("{name}-wal"))).unwrap();
    }
    copy
}

/// The one number `sql` (a `SELECT count(*) ...`) gives on `db`: what an export should hold.
pub fn sql_count(db: &rusqlite::Connection, sql: &str) -> u64 {
    db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap() as u64
}
