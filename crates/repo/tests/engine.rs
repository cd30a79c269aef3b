//! The engine end to end on a local backend: commit order, reopen, check, damage reports.

mod common;

use common::{options, snapshot};
use hearth_format::BlobKind;
use hearth_repo::{CheckOptions, NoProgress, ReadData, RepoError, Repository};
use hearth_storage::{Backend, FileType, LocalBackend};
use hearth_testkit::bytes;
use std::sync::Arc;

/// Pseudo-random text-like bytes: no repeats, but compressible (letters only).
fn data(n: usize, seed: u64) -> Vec<u8> {
    bytes::letters(seed, n)
}

fn backup(repo: &Repository, name: &str, content: &[u8]) -> hearth_format::SnapshotId {
    common::commit_one_file(repo, snapshot(name), content)
}

#[test]
fn committed_snapshots_survive_reopen_and_check() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(LocalBackend::create(&dir.path().join("repo")).unwrap());
    let repo = Repository::init(backend.clone(), b"pw", &options(dir.path())).unwrap();
    let content = data(3_000_000, 1);
    let id = backup(&repo, "iPad", &content);
    drop(repo);

    // A fresh cache folder: everything comes back from the objects.
    std::fs::remove_dir_all(dir.path().join("cache")).unwrap();
    let repo = Repository::open(backend.clone(), b"pw", &options(dir.path())).unwrap();
    let (found, snap) = repo.find_snapshot("iPad@latest").unwrap();
    assert_eq!(found, id);
    let entries = repo.load_entries(&snap).unwrap();
    let mut restored = Vec::new();
    for c in &entries[0].content.as_ref().unwrap().chunks {
        restored.extend(repo.read_blob(c).unwrap());
    }
    assert_eq!(restored, content);
    let report = repo
        .check(
            CheckOptions {
                read_data: ReadData::All,
            },
            &NoProgress,
        )
        .unwrap();
    assert!(report.is_ok(), "{:?}", report.damage);
    assert!(report.blobs_checked > 10);

    // A second backup of the same content adds nothing but a tree and a snapshot.
    let before: u64 = backend
        .list(FileType::Pack)
        .unwrap()
        .iter()
        .map(|o| o.size)
        .sum();
    backup(&repo, "iPhone", &content);
    let after: u64 = backend
        .list(FileType::Pack)
        .unwrap()
        .iter()
        .map(|o| o.size)
        .sum();
    assert!(after - before < 4096, "dedup: grew by {}", after - before);
    let stats = repo.stats().unwrap();
    assert_eq!(stats.devices.len(), 2);
    assert!(
        stats
            .devices
            .iter()
            .all(|d| d.shared_bytes >= content.len() as u64)
    );
}

#[test]
fn wrong_password_and_flipped_byte_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    let backend = Arc::new(LocalBackend::create(&root).unwrap());
    let repo = Repository::init(backend.clone(), b"pw", &options(dir.path())).unwrap();
    repo.add_key(b"second").unwrap();
    backup(&repo, "iPad", &data(500_000, 2));
    drop(repo);
    assert!(matches!(
        Repository::open(backend.clone(), b"nope", &options(dir.path())),
        Err(RepoError::WrongPassword { .. })
    ));
    let repo = Repository::open(backend.clone(), b"second", &options(dir.path())).unwrap();

    let pack = backend.list(FileType::Pack).unwrap().remove(0).name;
    let path = root.join("packs").join(&pack[..2]).join(&pack);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 0x40;
    std::fs::write(&path, bytes).unwrap();
    let report = repo
        .check(
            CheckOptions {
                read_data: ReadData::All,
            },
            &NoProgress,
        )
        .unwrap();
    assert!(!report.is_ok());
    let d = report
        .damage
        .iter()
        .find(|d| d.object.contains(&pack))
        .expect("the pack is named");
    assert!(
        d.affected
            .iter()
            .any(|a| a.contains("iPad") && a.contains("Manifest.db")),
        "{d:?}"
    );
    // Without reading the packs the structure is intact, but the damage found is remembered.
    let known = repo
        .check(
            CheckOptions {
                read_data: ReadData::None,
            },
            &NoProgress,
        )
        .unwrap();
    assert!(
        known.damage.len() == 1
            && known.damage[0]
                .problem
                .contains("failed to read when they were last read")
            && known.damage[0]
                .affected
                .iter()
                .any(|a| a.contains("Manifest.db")),
        "{known:?}"
    );
}

fn empty_repo(dir: &std::path::Path) -> Repository {
    let backend: Arc<dyn Backend> = Arc::new(LocalBackend::create(&dir.join("r")).unwrap());
    Repository::init(backend, b"pw", &options(dir)).unwrap()
}

/// A session forgets the claims of blobs whose segment it merged into the cache (so its memory
/// does not grow with what it stored), yet stores none of them twice: a new blob is found in
/// the cache, and a blob stored again (prune's copy) is found in the session's own pack.
#[test]
fn a_session_stores_no_blob_twice_after_merging_its_segments() {
    use hearth_chunker::Content;

    let dir = tempfile::tempdir().unwrap();
    let repo = empty_repo(dir.path());
    // Below the smallest chunk: one blob each.
    let old = data(10_000, 3);
    backup(&repo, "iPhone", &old);
    let old_id = repo.keys().chunk_id(&old);
    let lock = common::shared(&repo);
    let session = repo.write_session(&lock).unwrap();
    let new = data(10_000, 4);
    for round in 0..2 {
        session.store_bytes(&new, BlobKind::Data).unwrap();
        session
            .store_again(&old, BlobKind::Data, Content::Unknown)
            .unwrap();
        session.flush().unwrap();
        assert_eq!(session.stats().blobs, 2, "round {round}: each blob once");
    }
    session.finish().unwrap();
    let copies = |id| repo.cache().locations(&id).unwrap().len();
    assert_eq!(
        copies(old_id),
        2,
        "the first backup's copy and the session's"
    );
    assert_eq!(copies(repo.keys().chunk_id(&new)), 1);
}

/// Issue 12, item 5: with a lock that no longer protects its holder (here: given up at once),
/// no write path writes anything, and each says why.
#[test]
fn issue12_nothing_is_written_under_a_lost_lock() {
    use hearth_repo::{LockTimes, PruneOptions};
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(LocalBackend::create(&dir.path().join("repo")).unwrap());
    let repo = Repository::init(backend.clone(), b"pw", &options(dir.path())).unwrap();
    let kept = backup(&repo, "iPad", &data(300_000, 2));
    let forgotten = backup(&repo, "iPhone", &data(300_000, 3));
    drop(repo);
    let objects = |t| {
        let mut names: Vec<String> = backend
            .list(t)
            .unwrap()
            .into_iter()
            .map(|o| o.name)
            .collect();
        names.sort();
        names
    };
    let before: Vec<_> = [FileType::Pack, FileType::Index, FileType::Snapshot]
        .map(objects)
        .into();

    let lost_at_once = hearth_repo::RepoOptions {
        lock_times: LockTimes {
            give_up_after: Duration::ZERO,
            ..LockTimes::FORMAT
        },
        ..options(dir.path())
    };
    let repo = Repository::open(backend.clone(), b"pw", &lost_at_once).unwrap();
    let lost = |e: RepoError| {
        let m = e.to_string();
        assert!(
            matches!(e, RepoError::LockLost { .. })
                && m.contains("could not be refreshed")
                && m.contains("stopped before writing more"),
            "{m}"
        );
    };
    let shared = common::shared(&repo);
    lost(repo.write_session(&shared).err().expect("no session"));
    drop(shared);
    let exclusive = common::exclusive(&repo);
    lost(repo.forget(&exclusive, &[forgotten]).unwrap_err());
    lost(
        repo.prune_plan(&exclusive, &PruneOptions::default(), &NoProgress)
            .unwrap_err(),
    );
    lost(
        repo.repair_index(&exclusive, Default::default(), &NoProgress)
            .unwrap_err(),
    );
    lost(
        repo.repair_snapshots_plan(&exclusive, &NoProgress)
            .unwrap_err(),
    );
    drop(exclusive);
    let after: Vec<_> = [FileType::Pack, FileType::Index, FileType::Snapshot]
        .map(objects)
        .into();
    assert_eq!(before, after, "nothing was written or deleted");
    assert!(objects(FileType::Lock).is_empty(), "the locks are removed");

    // The same repository with the format's times: all of it works.
    let repo = Repository::open(backend.clone(), b"pw", &options(dir.path())).unwrap();
    let exclusive = common::exclusive(&repo);
    repo.forget(&exclusive, &[forgotten]).unwrap();
    let plan = repo
        .prune_plan(&exclusive, &PruneOptions::default(), &NoProgress)
        .unwrap();
    repo.prune(&exclusive, &plan, &NoProgress).unwrap();
    assert_eq!(repo.snapshots().unwrap().len(), 1);
    assert_eq!(repo.snapshots().unwrap()[0].0, kept);
}

/// A lock is good only for the repository it was taken on.
#[test]
fn a_lock_of_another_repository_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let one = empty_repo(&dir.path().join("one"));
    let other = empty_repo(&dir.path().join("other"));
    let lock = common::shared(&other);
    let e = one.write_session(&lock).err().expect("refused");
    assert!(e.to_string().contains("taken on another repository"), "{e}");
}

/// A retention policy's plan: judged per device, pinned snapshots kept, and refused when it
/// would leave a device with no snapshot; `remove` lists exactly the snapshots judged away.
#[test]
fn a_forget_plan_groups_by_device_keeps_pins_and_never_empties_a_device() {
    use hearth_repo::retention::Policy;
    use hearth_repo::{ErrorKind, Grouping};

    let dir = tempfile::tempdir().unwrap();
    let repo = empty_repo(dir.path());
    let phone = [1, 2, 3].map(|seed| backup(&repo, "iPhone", &data(5_000, seed)));
    let ipad = backup(&repo, "iPad", &data(5_000, 9));
    let last_one = Policy {
        last: 1,
        ..Policy::default()
    };
    let unpinned = repo.forget_plan(&last_one, None, Grouping::Device).unwrap();
    let groups: Vec<&str> = unpinned.groups.iter().map(|g| g.group.as_str()).collect();
    assert_eq!(groups, ["iPad (UDID-iPad)", "iPhone (UDID-iPhone)"]);
    let before = unpinned.remove();
    assert_eq!(before.len(), 2, "of three iPhone snapshots, one kept");
    assert!(before.iter().all(|id| phone.contains(id)));
    repo.pin(&before[0]).unwrap();
    let plan = repo.forget_plan(&last_one, None, Grouping::Device).unwrap();
    assert_eq!(plan.remove(), [before[1]], "the pinned one is kept too");
    let iphone = &plan.groups[1].decisions;
    let pinned = iphone.iter().find(|d| d.id == before[0]).unwrap();
    assert_eq!(pinned.reasons, ["pinned"]);
    let only_ipad = repo
        .forget_plan(&last_one, Some("iPad"), Grouping::Device)
        .unwrap();
    assert!(only_ipad.remove().is_empty());
    assert_eq!(only_ipad.groups[0].decisions[0].id, ipad);

    let nothing_kept = Policy {
        tags: vec!["never-used".into()],
        ..Policy::default()
    };
    let refused = repo
        .forget_plan(&nothing_kept, None, Grouping::Device)
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Refused);
    assert_eq!(
        refused.to_string(),
        "refused: the policy would remove every snapshot of iPad (UDID-iPad); keep at least one (e.g. --keep-last 1)"
    );
    let all = repo.forget_plan(&last_one, None, Grouping::None).unwrap();
    assert_eq!(all.groups.len(), 1);
    assert_eq!(all.remove().len(), 2, "one newest and one pinned of four");
}

/// Pack bytes in storage.
fn pack_bytes(backend: &dyn Backend) -> u64 {
    let packs = backend.list(FileType::Pack).unwrap();
    packs.iter().map(|o| o.size).sum()
}

/// A cache that another version of Hearth left, of another schema version (`docs/format.md`
/// §12), is emptied at open, whatever its tables hold, and merged again from the objects.
#[test]
fn a_cache_of_another_schema_version_is_rebuilt_from_the_objects() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(LocalBackend::create(&dir.path().join("repo")).unwrap());
    let repo = Repository::init(backend.clone(), b"pw", &options(dir.path())).unwrap();
    let content = data(1_000_000, 3);
    let id = backup(&repo, "iPad", &content);
    let cache = repo.cache().path().to_path_buf();
    drop(repo);

    // Version 3, with what version 2 would misread: the only pack recorded as lost (in a later
    // version's sense), and a snapshot row of another layout.
    let pack = backend.list(FileType::Pack).unwrap()[0].name.clone();
    let pack = hearth_format::PackId::from_hex(&pack).unwrap();
    {
        use redb::TableDefinition;
        let db = redb::Database::create(&cache).unwrap();
        let tx = db.begin_write().unwrap();
        let meta = TableDefinition::<&str, u32>::new("meta");
        tx.open_table(meta).unwrap().insert("layout", 3).unwrap();
        let lost = TableDefinition::<&[u8; 32], &str>::new("lost_packs");
        (tx.open_table(lost).unwrap())
            .insert(&pack.0, "moved to cold storage")
            .unwrap();
        let snapshots = TableDefinition::<&[u8; 32], &[u8]>::new("snapshots");
        (tx.open_table(snapshots).unwrap())
            .insert(&id.0, &b"layout 3"[..])
            .unwrap();
        tx.commit().unwrap();
    }

    let repo = Repository::open(backend.clone(), b"pw", &options(dir.path())).unwrap();
    assert!(
        repo.cache().damage().is_empty(),
        "{:?}",
        repo.cache().damage()
    );
    let listed: Vec<_> = repo
        .snapshots()
        .unwrap()
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    assert_eq!(listed, [id]);
    let (_, snap) = repo.find_snapshot("iPad@latest").unwrap();
    let mut restored = Vec::new();
    for c in &repo.load_entries(&snap).unwrap()[0]
        .content
        .as_ref()
        .unwrap()
        .chunks
    {
        restored.extend(repo.read_blob(c).unwrap());
    }
    assert_eq!(restored, content);
    // The pack counts as stored: a backup of the same content stores no blob again.
    let before = pack_bytes(&*backend);
    backup(&repo, "iPad", &content);
    let grown = pack_bytes(&*backend) - before;
    assert!(grown < 4096, "stored again: {grown} bytes");
    let report = (repo.check(
        CheckOptions {
            read_data: ReadData::All,
        },
        &NoProgress,
    ))
    .unwrap();
    assert!(report.is_ok(), "{:?}", report.damage);
}
