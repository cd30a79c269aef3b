//! The write order (`docs/format.md` §11) and prune's rerun (§11a) at every step, in process:
//! a [`FaultyBackend`] fails the Nth put of a backup, or the Nth put, delete or list of a prune, once (a passing
//! error) or for good (the state a kill at that moment leaves). Whichever call it is, the
//! operation reports the failure, `check --read-data` then finds the repository sound, nothing
//! committed before is lost, and a rerun completes. The real-process kill tests
//! (`tests/e2e/crash.rs`, `prune_crash.rs`, `repair_crash.rs`) stay beside these: they kill
//! the binary itself, at the moments their polling sees.

mod common;

use common::{options, snapshot};
use hearth_format::{BlobKind, Content, Entry, SnapshotId};
use hearth_repo::{
    CheckOptions, ExclusiveLock, LockGuard, NoProgress, PruneOptions, ReadData, RepoError,
    Repository,
};
use hearth_storage::{Backend, FileType, LocalBackend};
use hearth_testkit::{After, Fault, FaultyBackend, SeenCall, StorageCall, bytes};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

const PASSWORD: &[u8] = b"pw";

/// A device's files: path → bytes.
type Files = BTreeMap<String, Vec<u8>>;

/// `n` small files (one blob each) and one of 300 kB (a few chunks), from `seed`.
fn files(seed: u64, n: usize) -> Files {
    let mut f: Files = (0..n)
        .map(|i| {
            (
                format!("small/{i}"),
                bytes::noise(seed * 1000 + i as u64, 300),
            )
        })
        .collect();
    f.insert("big.sqlite".into(), bytes::letters(seed, 300_000));
    f
}

/// One write session under `lock` committing a snapshot of each `(device, files)` in turn, as
/// a backup of several devices does.
fn backup_under(
    repo: &Repository,
    lock: &LockGuard,
    devices: &[(&str, &Files)],
) -> Result<Vec<SnapshotId>, RepoError> {
    let session = repo.write_session(lock)?;
    let mut ids = Vec::new();
    for (device, files) in devices {
        let mut entries = Vec::new();
        for (path, bytes) in *files {
            let chunks = session.store_bytes(bytes, BlobKind::Data)?;
            entries.push(Entry {
                path: path.as_str().into(),
                row: None,
                content: Some(Content {
                    size: bytes.len() as u64,
                    mtime_ns: 0,
                    mode: 0o644,
                    chunks,
                    cipher: None,
                }),
            });
        }
        ids.push(repo.commit_snapshot(&session, snapshot(device), &entries)?);
    }
    session.finish()?;
    Ok(ids)
}

/// [`backup_under`] a shared lock of its own.
fn backup(repo: &Repository, devices: &[(&str, &Files)]) -> Result<Vec<SnapshotId>, RepoError> {
    backup_under(repo, &common::shared(repo), devices)
}

/// Asserts that snapshot `id` is listed and restores `files` byte for byte.
fn assert_restores(repo: &Repository, id: &SnapshotId, files: &Files, what: &str) {
    let (_, snap) = repo
        .find_snapshot(&id.to_hex())
        .unwrap_or_else(|e| panic!("{what}: snapshot {id} is gone: {e}"));
    let entries = repo.load_entries(&snap).unwrap();
    let mut restored = Files::new();
    for e in entries {
        let mut bytes = Vec::new();
        for c in &e.content.expect("a file").chunks {
            let blob = repo
                .read_blob(c)
                .unwrap_or_else(|err| panic!("{what}: {} of {id}: {err}", e.path));
            bytes.extend(blob);
        }
        restored.insert(e.path.to_string(), bytes);
    }
    assert!(
        restored == *files,
        "{what}: snapshot {id} restores its files"
    );
}

fn assert_sound(repo: &Repository, what: &str) {
    let report = repo
        .check(
            CheckOptions {
                read_data: ReadData::All,
            },
            &NoProgress,
        )
        .unwrap_or_else(|e| panic!("{what}: check fails: {e}"));
    assert!(report.is_ok(), "{what}: {:#?}", report.damage);
}

/// Copies a folder tree (a repository at rest).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// A repository at rest in `<dir>/repo`, to copy for each try.
struct Pristine {
    dir: tempfile::TempDir,
}

impl Pristine {
    fn new(make: impl FnOnce(&Repository)) -> Pristine {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(LocalBackend::create(&dir.path().join("repo")).unwrap());
        let repo = Repository::init(backend, PASSWORD, &options(dir.path())).unwrap();
        make(&repo);
        Pristine { dir }
    }

    /// A copy of the repository (with a cache of its own), opened through a fault injector.
    fn open_copy(&self) -> Try {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&self.dir.path().join("repo"), &dir.path().join("repo"));
        let local = Arc::new(LocalBackend::open(&dir.path().join("repo")));
        let backend = Arc::new(FaultyBackend::new(local));
        let repo = Repository::open(backend.clone(), PASSWORD, &options(dir.path())).unwrap();
        Try { dir, backend, repo }
    }
}

/// One copy of the pristine repository, one fault.
struct Try {
    dir: tempfile::TempDir,
    backend: Arc<FaultyBackend>,
    repo: Repository,
}

impl Try {
    /// After a failed run: no more faults, and the failed run's locks removed, as `hearth
    /// unlock` does once the process that held them is dead. The cache stays, as on the
    /// computer where the run failed.
    fn recover(self) -> Try {
        self.backend.disarm();
        drop(self.repo);
        for lock in self.backend.list(FileType::Lock).unwrap() {
            self.backend.delete(FileType::Lock, &lock.name).unwrap();
        }
        let repo =
            Repository::open(self.backend.clone(), PASSWORD, &options(self.dir.path())).unwrap();
        Try { repo, ..self }
    }
}

fn describe(seen: &[SeenCall]) -> String {
    seen.iter()
        .map(|s| {
            let mark = if s.failed { " FAILED" } else { "" };
            format!(
                "{:?} {}/{}{mark}",
                s.call,
                s.t.dir(),
                &s.name[..s.name.len().min(8)]
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Issue 14: a backup whose Nth put fails, for every N: the backup fails, what was committed
/// before it (another device's snapshot of the day before) restores, the repository checks
/// sound (with every pack read), and the backup run again completes.
#[test]
fn a_backup_failing_at_any_put_loses_nothing_and_completes_when_run_again() {
    let day1 = files(1, 30);
    let mut phone = files(2, 30);
    // Day 2 shares most of day 1's files (deduplicated) and adds new ones.
    let mut pad = day1.clone();
    pad.extend(files(3, 10));
    phone.insert("shared.sqlite".into(), day1["big.sqlite"].clone());
    let mut earlier = None;
    let pristine = Pristine::new(|repo| earlier = Some(backup(repo, &[("iPad", &day1)]).unwrap()));
    let earlier = earlier.unwrap()[0];
    let day2 = [("iPhone", &phone), ("iPad", &pad)];

    // The run without faults: how many puts, and in the order §11 asks.
    let t = pristine.open_copy();
    let lock = common::shared(&t.repo);
    t.backend.reset();
    backup_under(&t.repo, &lock, &day2).unwrap();
    let seen = t.backend.seen();
    drop(lock);
    let puts: Vec<&SeenCall> = seen
        .iter()
        .filter(|s| s.call == StorageCall::Put && s.t != FileType::Lock)
        .collect();
    assert_write_order(&puts, &describe(&seen));
    let total = puts.len() as u64;
    assert!(total >= 6, "two commits: {}", describe(&seen));
    eprintln!("a backup of two devices puts {total} objects");
    assert_sound(&t.repo, "no faults");
    drop(t);

    for after in [After::Recover, After::StopWriting] {
        for n in 1..=total {
            let what = format!("put {n} of {total} fails ({after:?})");
            let t = pristine.open_copy();
            let lock = common::shared(&t.repo);
            t.backend.arm(Fault::nth(StorageCall::Put, n).then(after));
            let failed = backup_under(&t.repo, &lock, &day2);
            drop(lock);
            assert!(
                t.backend.tripped() && failed.is_err(),
                "{what}: the backup reports it ({failed:?}):\n{}",
                describe(&t.backend.seen())
            );
            let t = t.recover();
            assert_restores(&t.repo, &earlier, &day1, &what);
            assert_sound(&t.repo, &what);
            // What the failed run committed is whole.
            for (id, snap) in t.repo.snapshots().unwrap() {
                let files = match snap.device.name.as_str() {
                    "iPhone" => &phone,
                    _ if id == earlier => &day1,
                    _ => &pad,
                };
                assert_restores(&t.repo, &id, files, &what);
            }
            let again = backup(&t.repo, &day2).unwrap_or_else(|e| panic!("{what}: rerun: {e}"));
            assert_restores(&t.repo, &again[0], &phone, &what);
            assert_restores(&t.repo, &again[1], &pad, &what);
            assert_sound(&t.repo, &format!("{what}, then run again"));
        }
    }
}

/// §11 as the storage seam sees it: a pack is put before the index segment that lists it, and a
/// snapshot only once every pack put before it is in a segment.
fn assert_write_order(puts: &[&SeenCall], all: &str) {
    let mut unindexed_packs = 0;
    for p in puts {
        match p.t {
            FileType::Pack => unindexed_packs += 1,
            FileType::Index => unindexed_packs = 0,
            FileType::Snapshot => {
                assert_eq!(
                    unindexed_packs, 0,
                    "a snapshot before its packs' segment:\n{all}"
                )
            }
            _ => {}
        }
    }
    assert!(
        puts.last().is_some_and(|p| p.t == FileType::Snapshot),
        "{all}"
    );
}

/// Issue 14: a prune (forgotten snapshots; packs to delete, packs to repack, segments to
/// rewrite) whose Nth put, delete or list fails, for every N: it reports the failure, the
/// repository checks sound with every kept snapshot restoring byte for byte, and a rerun
/// completes: after it, a new plan finds nothing left to do.
#[test]
fn a_prune_failing_at_any_put_delete_or_list_can_be_run_again_to_completion() {
    let (a, b, c) = (files(11, 40), files(12, 40), files(13, 20));
    // Half of `a` lives on in the kept snapshot: a's packs are repacked, b's deleted.
    let half: Files = a
        .iter()
        .take(20)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut kept = BTreeMap::new();
    let pristine = Pristine::new(|repo| {
        let old_a = backup(repo, &[("iPad", &a)]).unwrap()[0];
        let old_b = backup(repo, &[("iPhone", &b)]).unwrap()[0];
        kept.insert(backup(repo, &[("iPad", &half)]).unwrap()[0], &half);
        kept.insert(backup(repo, &[("iPod", &c)]).unwrap()[0], &c);
        repo.forget(&common::exclusive(repo), &[old_a, old_b])
            .unwrap();
    });
    let plan = |repo: &Repository, lock: &ExclusiveLock| {
        repo.prune_plan(lock, &PruneOptions { max_unused: 0.0 }, &NoProgress)
            .unwrap()
    };
    let prune = |repo: &Repository| -> Result<(), RepoError> {
        let lock = common::exclusive(repo);
        repo.prune(&lock, &plan(repo, &lock), &NoProgress).map(drop)
    };

    // The run without faults: how many puts and deletes, of what.
    let t = pristine.open_copy();
    let lock = common::exclusive(&t.repo);
    let first = plan(&t.repo, &lock);
    assert!(
        !first.delete.is_empty() && !first.repack.is_empty(),
        "{first:#?}"
    );
    t.backend.reset();
    t.repo.prune(&lock, &first, &NoProgress).unwrap();
    let seen = t.backend.seen();
    drop(lock);
    let count = |call| {
        seen.iter()
            .filter(|s| s.call == call && s.t != FileType::Lock)
            .count() as u64
    };
    let (puts, deletes) = (count(StorageCall::Put), count(StorageCall::Delete));
    let lists = count(StorageCall::List);
    eprintln!(
        "the prune puts {puts} objects, deletes {deletes} and lists {lists} times:\n{}",
        describe(&seen)
    );
    assert!(
        puts >= 2 && deletes >= 3 && lists >= 1,
        "{}",
        describe(&seen)
    );
    drop(t);

    let calls = [
        (StorageCall::Put, puts),
        (StorageCall::Delete, deletes),
        (StorageCall::List, lists),
    ];
    for (call, total) in calls {
        for after in [After::Recover, After::StopWriting] {
            for n in 1..=total {
                let what = format!("{call:?} {n} of {total} fails ({after:?})");
                let t = pristine.open_copy();
                // Counted from the plan on: the lock is not the prune's own work.
                let lock = common::exclusive(&t.repo);
                let planned = plan(&t.repo, &lock);
                t.backend.arm(Fault::nth(call, n).then(after));
                let failed = t.repo.prune(&lock, &planned, &NoProgress);
                let seen = t.backend.seen();
                t.backend.disarm();
                drop(lock);
                assert!(
                    failed.is_err(),
                    "{what}: the prune reports it:\n{}",
                    describe(&seen)
                );
                let t = t.recover();
                assert_sound(&t.repo, &what);
                for (id, files) in &kept {
                    assert_restores(&t.repo, id, files, &what);
                }
                prune(&t.repo).unwrap_or_else(|e| panic!("{what}: the rerun: {e}"));
                let what = format!("{what}, then run again");
                assert_sound(&t.repo, &what);
                for (id, files) in &kept {
                    assert_restores(&t.repo, id, files, &what);
                }
                assert_eq!(t.repo.snapshots().unwrap().len(), kept.len(), "{what}");
                let lock = common::exclusive(&t.repo);
                let left = plan(&t.repo, &lock);
                assert!(
                    left.delete.is_empty()
                        && left.repack.is_empty()
                        && left.unindexed.is_empty()
                        && left.segments.is_empty(),
                    "{what}: the rerun left work: {left:#?}"
                );
            }
        }
    }
}
