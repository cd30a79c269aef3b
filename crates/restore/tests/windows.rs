//! A restore of a snapshot of many files (issue 13): byte-exact, written a window of files at a
//! time (never all of them planned at once), and each pack span read about once although the
//! packs hold the files in another order than the snapshot lists them.

use hearth_crypto::KdfParams;
use hearth_format::{BlobKind, ChunkId, Content, Entry, Snapshot};
use hearth_repo::{NoProgress, RepoOptions, Repository};
use hearth_restore::{WINDOW_FILES, execute, plan_restore};
use hearth_storage::{Backend, FileType, LocalBackend, ObjectInfo, PutOutcome, StorageError};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn options(dir: &Path) -> RepoOptions {
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

/// The local disk, counting ranged reads of packs.
struct Counting {
    inner: LocalBackend,
    pack_reads: AtomicUsize,
}

impl Backend for Counting {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn put_if_absent(&self, t: FileType, n: &str, b: &[u8]) -> Result<PutOutcome, StorageError> {
        self.inner.put_if_absent(t, n, b)
    }
    fn get(&self, t: FileType, name: &str) -> Result<Vec<u8>, StorageError> {
        self.inner.get(t, name)
    }
    fn read_range_into(
        &self,
        t: FileType,
        n: &str,
        off: u64,
        len: u64,
        buf: &mut Vec<u8>,
    ) -> Result<(), StorageError> {
        if t == FileType::Pack {
            self.pack_reads.fetch_add(1, Ordering::Relaxed);
        }
        self.inner.read_range_into(t, n, off, len, buf)
    }
    fn list(&self, t: FileType) -> Result<Vec<ObjectInfo>, StorageError> {
        self.inner.list(t)
    }
    fn delete(&self, t: FileType, name: &str) -> Result<(), StorageError> {
        self.inner.delete(t, name)
    }
}

/// File `i`'s bytes: 600-2,600 bytes of xorshift noise (one chunk, incompressible).
fn file_bytes(i: usize) -> Vec<u8> {
    hearth_testkit::bytes::mapped(i as u64 + 1, 600 + (i * 7_919) % 2_000, |x| (x >> 24) as u8)
}

/// The `i`th path in path order: `xx/<40 hex>` as a device folder has them.
fn path(i: usize) -> String {
    let id = format!("{:02x}{i:038x}", i * 256 / FILES);
    format!("{}/{id}", &id[..2])
}

const FILES: usize = 3 * WINDOW_FILES + 321;

#[test]
fn a_many_file_snapshot_restores_byte_exact_a_window_at_a_time_each_span_read_about_once() {
    let dir = tempfile::tempdir().unwrap();
    let local: Arc<dyn Backend> = Arc::new(LocalBackend::create(&dir.path().join("r")).unwrap());
    let repo = Repository::init(local, b"pw", &options(dir.path())).unwrap();
    let lock = repo
        .lock_shared(std::time::Duration::ZERO, &|_| {})
        .unwrap();
    let session = repo.write_session(&lock).unwrap();
    // Stored in a scattered order: neighbours in path order lie far apart in the packs (as
    // files stored largest first, or unchanged since an older snapshot, do).
    let mut chunks: Vec<Vec<ChunkId>> = vec![Vec::new(); FILES];
    for k in 0..FILES {
        let i = (k * 7_817) % FILES;
        chunks[i] = session.store_bytes(&file_bytes(i), BlobKind::Data).unwrap();
    }
    let entries: Vec<Entry> = (0..FILES)
        .map(|i| Entry {
            path: path(i),
            row: None,
            content: Some(Content {
                size: file_bytes(i).len() as u64,
                mtime_ns: 1_700_000_000_000_000_000 + i as i128,
                mode: 0o644,
                chunks: chunks[i].clone(),
                cipher: None,
            }),
        })
        .collect();
    let snapshot = Snapshot {
        time: 1,
        stored_at: 1,
        host: "h".into(),
        device: hearth_format::DeviceIdentity {
            udid: "00008030-000A1B2C3D4E5F60".into(),
            name: "Mum's iPhone".into(),
            product_type: "iPhone15,2".into(),
            ios_version: "17.5".into(),
            build: String::new(),
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
    drop(lock);
    drop(repo);

    let counting = Arc::new(Counting {
        inner: LocalBackend::open(&dir.path().join("r")),
        pack_reads: AtomicUsize::new(0),
    });
    let repo = Repository::open(counting.clone(), b"pw", &options(dir.path())).unwrap();
    let (_, snap) = repo.snapshots().unwrap().pop().unwrap();
    let plan = plan_restore(&repo, &snap, &Default::default()).unwrap();
    assert_eq!(plan.kept().files, FILES as u64);
    let spans = repo.span_reader(&chunks.concat()).unwrap().span_count();
    counting.pack_reads.store(0, Ordering::Relaxed);

    let out = dir.path().join("out");
    let report = execute(&repo, &plan, &out, &NoProgress).unwrap();
    assert_eq!(report.files, FILES as u64);
    assert!(report.damaged.is_empty());
    let folder = out.join(&plan.folder_name);
    for i in 0..FILES {
        let back = std::fs::read(folder.join(path(i))).unwrap();
        assert!(back == file_bytes(i), "file {i} comes back exact");
    }

    assert!(report.windows >= 3, "{} windows", report.windows);
    assert!(
        report.most_files_held <= 2 * WINDOW_FILES as u64,
        "at most two windows of files planned at once, never all {FILES}: {}",
        report.most_files_held
    );
    // Read in pack order, each span is fetched once, or in two reads where a window ends
    // inside it (plus the tree's blobs). Read in path order it would be once per window.
    let reads = counting.pack_reads.load(Ordering::Relaxed);
    let tree = snap.tree.len();
    assert!(
        reads <= spans + report.windows as usize + tree,
        "{reads} ranged reads for {spans} spans in {} windows",
        report.windows
    );
}
