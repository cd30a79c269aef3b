//! Set-up shared by the engine's integration tests.
#![allow(dead_code)]

use hearth_crypto::KdfParams;
use hearth_format::{DeviceIdentity, Snapshot, SnapshotSummary};
use hearth_repo::RepoOptions;
use std::path::Path;

/// Options with a cheap KDF and the cache under `dir`.
pub fn options(dir: &Path) -> RepoOptions {
    RepoOptions {
        kdf: KdfParams {
            memory_kib: 64,
            time: 1,
            parallelism: 1,
        },
        cache_root: Some(dir.join("cache")),
        lock_times: Default::default(),
    }
}

/// A snapshot of device `name` (UDID `UDID-<name>`) at time 1, its tree not yet stored.
pub fn snapshot(name: &str) -> Snapshot {
    Snapshot {
        time: 1,
        stored_at: 1,
        host: "h".into(),
        device: DeviceIdentity {
            udid: format!("UDID-{name}"),
            name: name.into(),
            ..Default::default()
        },
        parent: None,
        tags: vec![],
        summary: SnapshotSummary::default(),
        warnings: vec![],
        tree_len: 0,
        tree: vec![],
    }
}

/// A shared lock, taken at once.
pub fn shared(repo: &hearth_repo::Repository) -> hearth_repo::LockGuard {
    repo.lock_shared(std::time::Duration::ZERO, &|_| {})
        .expect("a shared lock")
}

/// The exclusive lock, taken at once.
pub fn exclusive(repo: &hearth_repo::Repository) -> hearth_repo::ExclusiveLock {
    repo.lock_exclusive(std::time::Duration::ZERO, &|_| {})
        .expect("the exclusive lock")
}

/// Commits `snap` holding one file, `Manifest.db`, of `content`, in a write session of its own.
pub fn commit_one_file(
    repo: &hearth_repo::Repository,
    snap: Snapshot,
    content: &[u8],
) -> hearth_format::SnapshotId {
    use hearth_format::{BlobKind, Content, Entry};
    let lock = shared(repo);
    let session = repo.write_session(&lock).unwrap();
    let (chunks, size) = session
        .store_reader(content, BlobKind::Data)
        .map_err(|_| "store")
        .unwrap();
    let entries = vec![Entry {
        path: "Manifest.db".into(),
        row: None,
        content: Some(Content {
            size,
            mtime_ns: 0,
            mode: 0o644,
            chunks,
            cipher: None,
        }),
    }];
    let id = repo.commit_snapshot(&session, snap, &entries).unwrap();
    session.finish().unwrap();
    id
}
