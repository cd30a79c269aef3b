//! The index rebuilt from the packs (issue 11): a pack describes itself whatever the size of its
//! header, `repair_index` lists packs anew and drops lost ones, and check verifies that each
//! file's chunks add up to the size it records.

mod common;

use common::options;
use hearth_format::{BlobKind, Content, Entry, PackId, SnapshotId};
use hearth_repo::{
    CheckOptions, NoProgress, ReadData, RepairIndexOptions, Repository, read_pack_header,
};
use hearth_storage::{Backend, FileType, LocalBackend};
use hearth_testkit::bytes;
use std::path::Path;
use std::sync::Arc;

fn repo(dir: &Path) -> (Arc<LocalBackend>, Repository) {
    let backend = Arc::new(LocalBackend::create(&dir.join("repo")).unwrap());
    let repo = Repository::init(backend.clone(), b"pw", &options(dir)).unwrap();
    (backend, repo)
}

/// Commits one snapshot of `files` (name → bytes), recording `size_error` more bytes than
/// stored for each.
fn commit(
    repo: &Repository,
    device: &str,
    files: &[(&str, Vec<u8>)],
    size_error: u64,
) -> SnapshotId {
    let lock = common::shared(repo);
    let session = repo.write_session(&lock).unwrap();
    let entries = files
        .iter()
        .map(|(path, bytes)| {
            let chunks = session.store_bytes(bytes, BlobKind::Data).unwrap();
            Entry {
                path: (*path).into(),
                row: None,
                content: Some(Content {
                    size: bytes.len() as u64 + size_error,
                    mtime_ns: 0,
                    mode: 0o644,
                    chunks,
                    cipher: None,
                }),
            }
        })
        .collect::<Vec<_>>();
    let snapshot = common::snapshot(device);
    let id = repo.commit_snapshot(&session, snapshot, &entries).unwrap();
    session.finish().unwrap();
    id
}

/// `n` small files of distinct bytes: one blob each.
fn small_files(n: usize, seed: u64) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let bytes = bytes::mapped(seed * 100_000 + i as u64, 200, |x| x as u8);
            (format!("f/{i}"), bytes)
        })
        .collect()
}

fn packs(backend: &LocalBackend) -> Vec<(PackId, u64)> {
    (backend.list(FileType::Pack).unwrap().into_iter())
        .map(|o| (PackId::from_hex(&o.name).unwrap(), o.size))
        .collect()
}

fn pack_path(root: &Path, pack: &PackId) -> std::path::PathBuf {
    let hex = pack.to_hex();
    root.join("repo/packs").join(&hex[..2]).join(&hex)
}

#[test]
fn a_pack_describes_itself_whatever_the_size_of_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let (backend, repo) = repo(dir.path());
    // 3,000 entries: a header of about 144 KiB, past the first read of the pack's end.
    let many = small_files(3_000, 1);
    let files: Vec<(&str, Vec<u8>)> = many.iter().map(|(p, b)| (p.as_str(), b.clone())).collect();
    commit(&repo, "iPad", &files, 0);
    let listed = packs(&backend);
    assert!(!listed.is_empty());
    let mut entries = 0;
    for (pack, size) in &listed {
        let record = repo.pack_record(pack, *size).unwrap();
        let whole = std::fs::read(pack_path(dir.path(), pack)).unwrap();
        assert_eq!(
            record.entries,
            read_pack_header(repo.keys(), &whole).unwrap()
        );
        assert_eq!(u64::from(record.length), *size);
        for e in &record.entries {
            let at = repo.cache().locations(&e.id).unwrap();
            assert!(at.iter().any(|l| l.pack == *pack && l.entry == *e), "{e:?}");
        }
        entries += record.entries.len();
    }
    assert!(
        entries > 3_000,
        "every file's blob and the tree's: {entries}"
    );

    // A flipped byte in the header, or a length that points outside, is an error naming it.
    let (pack, size) = listed[0];
    let path = pack_path(dir.path(), &pack);
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let e = repo.pack_record(&pack, size).unwrap_err().to_string();
    assert!(
        e.contains(&format!("packs/{pack}")) && e.contains("does not match its name"),
        "{e}"
    );
    bytes[n - 10] ^= 1;
    bytes[n - 1] = 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let e = repo.pack_record(&pack, size).unwrap_err().to_string();
    assert!(e.contains("points outside it"), "{e}");
}

#[test]
fn repair_index_lists_every_pack_anew_and_drops_those_storage_lost() {
    let dir = tempfile::tempdir().unwrap();
    let (backend, repo) = repo(dir.path());
    let first = small_files(50, 2);
    let files: Vec<(&str, Vec<u8>)> = first.iter().map(|(p, b)| (p.as_str(), b.clone())).collect();
    commit(&repo, "iPad", &files, 0);
    let second = small_files(50, 3);
    let files: Vec<(&str, Vec<u8>)> = second
        .iter()
        .map(|(p, b)| (p.as_str(), b.clone()))
        .collect();
    commit(&repo, "iPhone", &files, 0);
    let blobs = repo.cache().blob_count().unwrap();
    let all_packs = packs(&backend);

    // Every segment gone: read_all_packs writes the whole index from the headers.
    for o in backend.list(FileType::Index).unwrap() {
        backend.delete(FileType::Index, &o.name).unwrap();
    }
    let options = RepairIndexOptions {
        read_all_packs: true,
    };
    let r = repo
        .repair_index(&common::exclusive(&repo), options, &NoProgress)
        .unwrap();
    assert_eq!(r.packs_indexed.len(), all_packs.len(), "{r:?}");
    assert_eq!(r.headers_read, all_packs.len());
    assert_eq!(r.blobs, blobs);
    assert_eq!(r.snapshots, 2);
    let check = |read_data| repo.check(CheckOptions { read_data }, &NoProgress).unwrap();
    assert!(check(ReadData::All).is_ok());

    // A lost pack: the segment naming it is written again without it, and what it held is
    // then neither indexed nor claimed to be there.
    let (lost, _) = all_packs[0];
    std::fs::remove_file(pack_path(dir.path(), &lost)).unwrap();
    let r = repo
        .repair_index(
            &common::exclusive(&repo),
            RepairIndexOptions::default(),
            &NoProgress,
        )
        .unwrap();
    assert_eq!(r.packs_dropped, [lost]);
    assert_eq!(
        r.headers_read, 0,
        "every other pack is named by a readable segment"
    );
    assert!(
        repo.cache()
            .packs()
            .unwrap()
            .iter()
            .all(|(p, _)| *p != lost)
    );
    let report = check(ReadData::None);
    assert!(
        report
            .damage
            .iter()
            .any(|d| d.problem.contains("in no index segment and in no pack")),
        "{report:?}"
    );
}

#[test]
fn check_finds_a_file_whose_chunks_do_not_add_up_to_its_recorded_size() {
    let dir = tempfile::tempdir().unwrap();
    let (_, repo) = repo(dir.path());
    let bytes = bytes::letters(4, 100_000);
    commit(&repo, "iPad", &[("Manifest.db", bytes.clone())], 0);
    let ok = repo.check(CheckOptions::default(), &NoProgress).unwrap();
    assert!(ok.is_ok(), "{ok:?}");

    let id = commit(&repo, "iPhone", &[("big.mov", bytes)], 7);
    let report = repo.check(CheckOptions::default(), &NoProgress).unwrap();
    assert_eq!(report.damage.len(), 1, "{report:?}");
    let d = &report.damage[0];
    assert_eq!(d.object, format!("snapshots/{id}"));
    assert!(d.problem.contains("do not add up to"), "{d:?}");
    assert!(
        d.affected.len() == 1
            && d.affected[0].contains("iPhone")
            && d.affected[0].contains("big.mov"),
        "{d:?}"
    );
}

/// A local backend whose whole-object reads of packs time out while `failing` is set.
struct Flaky {
    inner: LocalBackend,
    failing: std::sync::atomic::AtomicBool,
}

impl Backend for Flaky {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn put_if_absent(
        &self,
        t: FileType,
        name: &str,
        bytes: &[u8],
    ) -> Result<hearth_storage::PutOutcome, hearth_storage::StorageError> {
        self.inner.put_if_absent(t, name, bytes)
    }
    fn get(&self, t: FileType, name: &str) -> Result<Vec<u8>, hearth_storage::StorageError> {
        if t == FileType::Pack && self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(hearth_storage::StorageError::Remote {
                op: "reading",
                path: name.into(),
                detail: "timed out".into(),
            });
        }
        self.inner.get(t, name)
    }
    fn read_range_into(
        &self,
        t: FileType,
        name: &str,
        offset: u64,
        len: u64,
        buf: &mut Vec<u8>,
    ) -> Result<(), hearth_storage::StorageError> {
        self.inner.read_range_into(t, name, offset, len, buf)
    }
    fn list(
        &self,
        t: FileType,
    ) -> Result<Vec<hearth_storage::ObjectInfo>, hearth_storage::StorageError> {
        self.inner.list(t)
    }
    fn delete(&self, t: FileType, name: &str) -> Result<(), hearth_storage::StorageError> {
        self.inner.delete(t, name)
    }
}

#[test]
fn a_pack_that_does_not_answer_is_not_damage_and_repair_snapshots_reads_before_it_lets_go() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(Flaky {
        inner: LocalBackend::create(&dir.path().join("repo")).unwrap(),
        failing: Default::default(),
    });
    let repo = Repository::init(backend.clone(), b"pw", &options(dir.path())).unwrap();
    let bytes = bytes::mapped(5, 3_000, |x| x as u8);
    commit(&repo, "iPad", &[("f", bytes.clone())], 0);

    backend
        .failing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let all = CheckOptions {
        read_data: ReadData::All,
    };
    let report = repo.check(all, &NoProgress).unwrap();
    backend
        .failing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert!(
        report
            .damage
            .iter()
            .any(|d| d.problem.contains("could not be read (")
                && d.problem.contains("run the check again")),
        "{report:?}"
    );
    assert!(repo.cache().damage().is_empty(), "a timeout is not damage");

    // Even a wrong record (as an older build made) is only a hint: repair reads first, finds
    // the blob sound, takes it off the record, and lets go of nothing.
    let chunk = repo.cache().locations(&repo.keys().chunk_id(&bytes));
    let loc = chunk.unwrap().remove(0);
    repo.cache()
        .record_bad_blob(&loc.entry.id, &loc.pack, "wrongly recorded")
        .unwrap();
    let plan = repo
        .repair_snapshots_plan(&common::shared(&repo), &NoProgress)
        .unwrap();
    assert!(plan.repairs.is_empty(), "{plan:?}");
    assert!(
        repo.cache().damage().is_empty(),
        "a sound read clears the record"
    );
    assert!(repo.check(all, &NoProgress).unwrap().is_ok());
}

/// Stores `bytes` in a session of their own (their own pack); returns their chunk ids.
fn store_alone(repo: &Repository, bytes: &[u8]) -> Vec<hearth_format::ChunkId> {
    let lock = common::shared(repo);
    let session = repo.write_session(&lock).unwrap();
    let chunks = session.store_bytes(bytes, BlobKind::Data).unwrap();
    session.finish().unwrap();
    chunks
}

#[test]
fn prune_ends_when_every_copy_of_a_live_blob_is_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let (backend, repo) = repo(dir.path());
    let bytes = bytes::mapped(6, 3_000, |x| x as u8);
    let [id] = store_alone(&repo, &bytes)[..] else {
        panic!("one chunk")
    };
    // A snapshot names it; its tree lies in a pack of its own.
    commit(&repo, "iPad", &[("f", bytes.clone())], 0);
    let first = repo.cache().lookup(&id).unwrap().unwrap().pack;
    // Its copy found bad: a backup stores it again, in another pack; then both packs are lost.
    repo.cache()
        .record_bad_blob(&id, &first, "flipped")
        .unwrap();
    store_alone(&repo, &bytes);
    let copies = repo.cache().locations(&id).unwrap();
    assert_eq!(copies.len(), 2, "{copies:?}");
    for c in &copies {
        std::fs::remove_file(pack_path(dir.path(), &c.pack)).unwrap();
    }
    drop(repo);
    let repo = Repository::open(backend, b"pw", &options(dir.path())).unwrap();
    let lock = common::exclusive(&repo);
    let plan = repo
        .prune_plan(&lock, &hearth_repo::PruneOptions::default(), &NoProgress)
        .unwrap();
    let report = repo.prune(&lock, &plan, &NoProgress).unwrap();
    assert!(
        report.blobs_lost.iter().any(|(b, _)| *b == id),
        "the blob is reported lost: {report:?}"
    );
}

#[test]
fn prune_keeps_a_pack_no_segment_names_that_holds_a_live_blob_even_with_an_indexed_copy() {
    let dir = tempfile::tempdir().unwrap();
    let (backend, repo) = repo(dir.path());
    let bytes = bytes::mapped(7, 5_000, |x| x as u8);
    commit(&repo, "iPad", &[("f", bytes.clone())], 0);
    let id = repo.keys().chunk_id(&bytes);
    let first = repo.cache().lookup(&id).unwrap().unwrap().pack;
    // A second copy of the blob in a pack of its own (as a heal or two backups make).
    repo.cache().record_bad_blob(&id, &first, "test").unwrap();
    let segments_before: Vec<_> = backend.list(FileType::Index).unwrap();
    commit(&repo, "iPad", &[("f", bytes.clone())], 0);
    let second = (repo.cache().locations(&id).unwrap().into_iter())
        .find(|l| l.pack != first)
        .unwrap()
        .pack;
    drop(repo);
    // Two faults: the second copy's segment is lost, and the first copy gets a flipped byte.
    for o in backend.list(FileType::Index).unwrap() {
        if !segments_before.contains(&o) {
            backend.delete(FileType::Index, &o.name).unwrap();
        }
    }
    let path = pack_path(dir.path(), &first);
    let mut b = std::fs::read(&path).unwrap();
    b[30] ^= 1;
    std::fs::write(&path, b).unwrap();

    // A computer that knows nothing of the damage prunes: the second copy stays.
    let fresh = dir.path().join("fresh");
    let repo = Repository::open(backend.clone(), b"pw", &options(&fresh)).unwrap();
    let lock = common::exclusive(&repo);
    let plan = repo
        .prune_plan(&lock, &hearth_repo::PruneOptions::default(), &NoProgress)
        .unwrap();
    repo.prune(&lock, &plan, &NoProgress).unwrap();
    assert!(pack_path(dir.path(), &second).exists(), "{plan:?}");
    assert_eq!(repo.read_blob(&id).unwrap(), bytes);
}

#[test]
fn repair_index_forgets_what_it_knew_of_the_packs_it_drops() {
    let dir = tempfile::tempdir().unwrap();
    let (backend, repo) = repo(dir.path());
    commit(
        &repo,
        "iPad",
        &[("a", bytes::mapped(8, 300, |x| x as u8))],
        0,
    );
    commit(
        &repo,
        "iPhone",
        &[("b", bytes::mapped(9, 300, |x| x as u8))],
        0,
    );
    let (lost, _) = packs(&backend)[0];
    std::fs::remove_file(pack_path(dir.path(), &lost)).unwrap();
    drop(repo.write_session(&common::shared(&repo)).unwrap());
    assert!(
        repo.cache().damage().lost(&lost).is_some(),
        "a backup finds it lost"
    );
    let r = repo
        .repair_index(
            &common::exclusive(&repo),
            RepairIndexOptions::default(),
            &NoProgress,
        )
        .unwrap();
    assert_eq!(r.packs_dropped, [lost]);
    drop(repo);
    let repo = Repository::open(backend, b"pw", &options(dir.path())).unwrap();
    assert!(
        repo.cache().damage().is_empty(),
        "{:?}",
        repo.cache().damage()
    );
}

/// The sealed bytes of `blob` where the index puts it now.
fn sealed(
    backend: &LocalBackend,
    repo: &Repository,
    blob: &hearth_format::ChunkId,
) -> (PackId, Vec<u8>) {
    let loc = repo.cache().lookup(blob).unwrap().unwrap();
    let bytes = backend
        .get_range(
            FileType::Pack,
            &loc.pack.to_hex(),
            u64::from(loc.entry.offset),
            u64::from(loc.entry.length),
        )
        .unwrap();
    (loc.pack, bytes)
}

#[test]
fn prune_repacks_a_live_blob_with_the_sealed_bytes_it_had() {
    let dir = tempfile::tempdir().unwrap();
    let (backend, repo) = repo(dir.path());
    let files = small_files(40, 9);
    let files: Vec<(&str, Vec<u8>)> = files.iter().map(|(p, b)| (p.as_str(), b.clone())).collect();
    let old = commit(&repo, "iPad", &files, 0);
    // The newer snapshot keeps half the files: the pack they share is half unused.
    commit(&repo, "iPad", &files[..20], 0);
    let kept: Vec<_> = files[..20]
        .iter()
        .map(|(_, b)| repo.keys().chunk_id(b))
        .collect();
    let before: Vec<_> = kept.iter().map(|id| sealed(&backend, &repo, id)).collect();
    let lock = common::exclusive(&repo);
    repo.forget(&lock, &[old]).unwrap();
    let options = hearth_repo::PruneOptions { max_unused: 0.0 };
    let plan = repo.prune_plan(&lock, &options, &NoProgress).unwrap();
    assert!(
        !plan.repack.is_empty(),
        "the shared pack is repacked: {plan:?}"
    );
    let report = repo.prune(&lock, &plan, &NoProgress).unwrap();
    assert!(report.blobs_lost.is_empty(), "{report:?}");
    for (id, (old_pack, old_bytes)) in kept.iter().zip(&before) {
        let (pack, bytes) = sealed(&backend, &repo, id);
        assert_ne!(pack, *old_pack, "blob {id} moved to a new pack");
        assert_eq!(&bytes, old_bytes, "blob {id} keeps its sealed bytes");
    }
    drop(lock);
    let report = repo
        .check(
            CheckOptions {
                read_data: ReadData::All,
            },
            &NoProgress,
        )
        .unwrap();
    assert!(report.is_ok(), "{report:?}");
}
