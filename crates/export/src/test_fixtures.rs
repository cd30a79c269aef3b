//! The real Apple databases of `shared/fixtures/ios-databases*/` for the readers' unit tests,
//! always opened from a private copy (SQLite writes beside what it opens).

use crate::database::Database;
use std::path::{Path, PathBuf};

/// `shared/fixtures/<rel>`; a missing fixture fails the test.
pub(crate) fn fixture(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures")
        .join(rel);
    assert!(p.exists(), "the fixture {} is required", p.display());
    p
}

/// A copy of the fixture database `rel` (with its `-wal` when `with_wal`), opened.
pub(crate) fn open(rel: &str, with_wal: bool) -> Database {
    let src = fixture(rel);
    let dir = tempfile::tempdir().unwrap();
    let name = src.file_name().unwrap().to_string_lossy().into_owned();
    std::fs::copy(&src, dir.path().join(&name)).unwrap();
    let wal = src.with_file_name(format!("{name}-wal"));
    if with_wal && wal.exists() {
        std::fs::copy(&wal, dir.path().join(format!("{name}-wal"))).unwrap();
    }
    Database::open_copy(&dir.path().join(&name), &name, "test device").unwrap()
}
