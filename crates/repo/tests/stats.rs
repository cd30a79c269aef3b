//! `stats` per device, for any number of devices (issue 12): unique and shared bytes are
//! attributed to exactly the devices that use a chunk.

mod common;

use common::options;
use hearth_format::{BlobKind, Content, DeviceIdentity, Entry, Snapshot};
use hearth_repo::Repository;
use hearth_storage::LocalBackend;
use hearth_testkit::bytes;
use std::sync::Arc;

fn snapshot_of(repo: &Repository, device: usize, files: &[Vec<u8>]) {
    snapshot_on(repo, device, 0, files)
}

/// A snapshot of `device` on `day`, its files at `f/<i>`.
fn snapshot_on(repo: &Repository, device: usize, day: i64, files: &[Vec<u8>]) {
    let lock = common::shared(repo);
    let session = repo.write_session(&lock).unwrap();
    let entries: Vec<Entry> = (files.iter().enumerate())
        .map(|(i, bytes)| Entry {
            path: format!("f/{i}"),
            row: None,
            content: Some(Content {
                size: bytes.len() as u64,
                mtime_ns: 0,
                mode: 0o644,
                chunks: session.store_bytes(bytes, BlobKind::Data).unwrap(),
                cipher: None,
            }),
        })
        .collect();
    let snapshot = Snapshot {
        time: device as i64 + day * 1_000,
        stored_at: device as i64 + day * 1_000,
        host: "h".into(),
        device: DeviceIdentity {
            udid: format!("{device:040X}"),
            name: format!("Device {device}"),
            ..Default::default()
        },
        parent: None,
        tags: vec![],
        summary: Default::default(),
        warnings: vec![],
        tree_len: 0,
        tree: vec![],
    };
    repo.commit_snapshot(&session, snapshot, &entries).unwrap();
    session.finish().unwrap();
}

#[test]
fn unique_and_shared_bytes_belong_to_exactly_the_devices_that_use_them_past_64_devices() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(LocalBackend::create(&dir.path().join("repo")).unwrap());
    let repo = Repository::init(backend, b"pw", &options(dir.path())).unwrap();
    let shared = bytes::mapped(1, 3_000, |x| x as u8);
    for device in 0..70 {
        let own = bytes::mapped(100 + device as u64, 1_000 + device, |x| x as u8);
        // Devices 0 and 65 share a file; device 1 (65 mod 64) does not.
        let files = match device {
            0 | 65 => vec![own, shared.clone()],
            _ => vec![own],
        };
        snapshot_of(&repo, device, &files);
    }
    let stats = repo.stats().unwrap();
    assert_eq!(stats.devices.len(), 70);
    assert_eq!(stats.snapshots, 70);
    let by = |n: usize| {
        (stats.devices.iter())
            .find(|d| d.name == format!("Device {n}"))
            .unwrap()
    };
    for n in [0, 65] {
        assert_eq!(by(n).shared_bytes, 3_000, "{:?}", by(n));
        assert_eq!(by(n).unique_bytes, 1_000 + n as u64, "{:?}", by(n));
    }
    for n in [1, 2, 64, 69] {
        assert_eq!(by(n).shared_bytes, 0, "{:?}", by(n));
        assert_eq!(by(n).unique_bytes, 1_000 + n as u64, "{:?}", by(n));
    }
    let own: u64 = (0..70).map(|n| 1_000 + n).sum();
    assert_eq!(stats.unique_chunk_bytes, own + 3_000);
    // The working set was a file in the cache folder, and it is gone.
    let leftovers: Vec<_> = walk(&dir.path().join("cache"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("uses-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Issue 13: a device's snapshots are compared with the one before by path, streamed, not
/// held as sets: a file changed in place, a new file and a file moved to another path all
/// count, an unchanged one once.
#[test]
fn later_snapshots_add_what_changed_at_each_path() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(LocalBackend::create(&dir.path().join("repo")).unwrap());
    let repo = Repository::init(backend, b"pw", &options(dir.path())).unwrap();
    let bytes = |n: usize, seed: u64| bytes::mapped(seed, n, |x| x as u8);
    let (x, y, z, w) = (
        bytes(1_000, 1),
        bytes(2_000, 2),
        bytes(4_000, 3),
        bytes(8_000, 4),
    );
    snapshot_on(&repo, 0, 1, &[x.clone(), y.clone()]);
    // Day 2: f/1 changed to z (which device 1 also holds), y moved to f/2.
    snapshot_on(&repo, 0, 2, &[x.clone(), z.clone(), y.clone()]);
    // Day 3: w new at f/3, and f/2 gone.
    snapshot_on(&repo, 0, 3, &[x, z.clone(), bytes(0, 5), w]);
    snapshot_on(&repo, 1, 1, &[z]);
    let stats = repo.stats().unwrap();
    let by = |n: usize| {
        (stats.devices.iter())
            .find(|d| d.name == format!("Device {n}"))
            .unwrap()
    };
    assert_eq!(by(0).snapshots, 3);
    assert_eq!(by(0).unique_bytes, 1_000 + 2_000 + 8_000, "{:?}", by(0));
    assert_eq!(by(0).shared_bytes, 4_000, "{:?}", by(0));
    assert_eq!((by(1).unique_bytes, by(1).shared_bytes), (0, 4_000));
    assert_eq!(stats.unique_chunk_bytes, 1_000 + 2_000 + 4_000 + 8_000);
}
