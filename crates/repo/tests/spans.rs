//! The span reader a restore uses: many small blobs with few ranged reads, every plaintext
//! exact, and memory bounded whatever the order of reading.

mod common;

use common::options;
use hearth_format::{BlobKind, ChunkId};
use hearth_repo::{RepoError, Repository, SPAN_BUDGET, SPAN_MAX};
use hearth_storage::{Backend, FileType, LocalBackend, ObjectInfo, PutOutcome, StorageError};
use hearth_testkit::bytes;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Incompressible bytes, so sealed sizes are about the plaintext's.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    bytes::mapped(seed, n, |x| (x >> 24) as u8)
}

/// The local disk, counting ranged reads.
struct Counting {
    inner: LocalBackend,
    ranged_reads: AtomicUsize,
    /// Ranged reads into a buffer that had room already (a reused one).
    into_reused_buffers: AtomicUsize,
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
        self.ranged_reads.fetch_add(1, Ordering::Relaxed);
        if buf.capacity() > 0 {
            self.into_reused_buffers.fetch_add(1, Ordering::Relaxed);
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

/// A repository holding `files` (each stored as its own chunks), reopened over a counting
/// backend. Returns it, the backend, and each file's chunk ids.
fn stored(dir: &Path, files: &[Vec<u8>]) -> (Repository, Arc<Counting>, Vec<Vec<ChunkId>>) {
    let local: Arc<dyn Backend> = Arc::new(LocalBackend::create(&dir.join("r")).unwrap());
    let repo = Repository::init(local, b"pw", &options(dir)).unwrap();
    let lock = common::shared(&repo);
    let session = repo.write_session(&lock).unwrap();
    let ids: Vec<Vec<ChunkId>> = files
        .iter()
        .map(|f| session.store_bytes(f, BlobKind::Data).unwrap())
        .collect();
    session.finish().unwrap();
    drop(repo);
    let counting = Arc::new(Counting {
        inner: LocalBackend::open(&dir.join("r")),
        ranged_reads: AtomicUsize::new(0),
        into_reused_buffers: AtomicUsize::new(0),
    });
    let repo = Repository::open(counting.clone(), b"pw", &options(dir)).unwrap();
    (repo, counting, ids)
}

fn read_file(reader: &hearth_repo::SpanReader, ids: &[ChunkId]) -> Vec<u8> {
    let mut out = Vec::new();
    reader
        .read_blobs(ids, |b| {
            out.extend_from_slice(b);
            Ok::<_, RepoError>(())
        })
        .unwrap();
    out
}

#[test]
fn small_files_cost_one_read_per_span_and_come_back_exact() {
    let dir = tempfile::tempdir().unwrap();
    // 400 small files of 2-30 KB (one chunk each), and one of them twice.
    let mut files: Vec<Vec<u8>> = (0..400)
        .map(|i| noise(2_000 + (i * 7_919) % 28_000, i as u64))
        .collect();
    files.push(files[17].clone());
    let (repo, backend, ids) = stored(dir.path(), &files);

    let reader = repo.span_reader(&ids.concat()).unwrap();
    let total: usize = files.iter().map(Vec::len).sum();
    assert!(
        reader.span_count() <= total.div_ceil(SPAN_MAX as usize) + 2,
        "{} spans for {total} bytes",
        reader.span_count()
    );
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| reader.first_span(&ids[i]));
    for &i in &order {
        assert!(
            read_file(&reader, &ids[i]) == files[i],
            "file {i} comes back exact"
        );
    }
    assert_eq!(
        backend.ranged_reads.load(Ordering::Relaxed),
        reader.span_count(),
        "each span is fetched once"
    );
    assert_eq!(
        reader.held_bytes(),
        0,
        "every span is dropped after its last read"
    );
    assert_eq!(
        backend.into_reused_buffers.load(Ordering::Relaxed),
        reader.span_count() - 1,
        "every fetch but the first reuses the buffer of the span read before"
    );

    // A blob nobody planned for is read on its own.
    let before = backend.ranged_reads.load(Ordering::Relaxed);
    let planned_for_one = repo.span_reader(&ids[3]).unwrap();
    assert!(read_file(&planned_for_one, &ids[5]) == files[5]);
    assert_eq!(backend.ranged_reads.load(Ordering::Relaxed), before + 1);
}

/// Reading in a bad order (a stride through the household, so that every span is started
/// before any is finished) keeps at most the budget in memory: spans are dropped before their
/// last read, fetched again, and still read back exact.
#[test]
fn memory_stays_within_the_budget_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    let n = 48;
    let files: Vec<Vec<u8>> = (0..n).map(|i| noise(1_500_000, 1_000 + i as u64)).collect();
    let (repo, backend, ids) = stored(dir.path(), &files);
    let reader = repo.span_reader(&ids.concat()).unwrap();
    assert!(
        reader.span_count() as u64 * SPAN_MAX > 2 * SPAN_BUDGET,
        "the household is bigger than the budget"
    );
    let stride = 8;
    let order: Vec<usize> = (0..stride)
        .flat_map(|start| (start..n).step_by(stride))
        .collect();
    let mut most = 0;
    for &i in &order {
        assert!(read_file(&reader, &ids[i]) == files[i], "file {i}");
        most = most.max(reader.buffered_bytes());
    }
    assert!(most <= SPAN_BUDGET, "held at most {most} bytes");
    assert_eq!(reader.held_bytes(), 0);
    let reads = backend.ranged_reads.load(Ordering::Relaxed);
    assert!(
        reads > reader.span_count(),
        "spans were dropped early and fetched again: {reads} reads, {} spans",
        reader.span_count()
    );
}

/// Eight threads taking files of 1-3.5 MB in span order, as a restore on an eight-core machine
/// does: eight spans in use exceed the budget, but a span being read is never dropped under its
/// readers, so each is fetched about once (dropping the least recently used regardless re-fetched
/// them about 200 times for 16 spans).
#[test]
fn many_threads_in_span_order_fetch_each_span_about_once() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<Vec<u8>> = (0..40)
        .map(|i| noise(1_000_000 + (i * 479_001) % 2_500_000, 3_000 + i as u64))
        .collect();
    let (repo, backend, ids) = stored(dir.path(), &files);
    let reader = repo.span_reader(&ids.concat()).unwrap();
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| reader.first_span(&ids[i]));
    let next = std::sync::Mutex::new(order.into_iter());
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                while let Some(i) = {
                    let mut next = next.lock().unwrap();
                    next.next()
                } {
                    assert!(read_file(&reader, &ids[i]) == files[i], "file {i}");
                }
            });
        }
    });
    let reads = backend.ranged_reads.load(Ordering::Relaxed);
    assert!(
        reader.span_count() >= 5 && reads <= 2 * reader.span_count(),
        "{reads} ranged reads for {} spans",
        reader.span_count()
    );
    assert_eq!(reader.held_bytes(), 0);
}

#[test]
fn a_truncated_pack_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<Vec<u8>> = (0..20).map(|i| noise(20_000, 50 + i)).collect();
    let (repo, _backend, ids) = stored(dir.path(), &files);
    let packs = dir.path().join("r/packs");
    for sub in std::fs::read_dir(&packs).unwrap() {
        let sub = sub.unwrap().path();
        if sub.is_dir() {
            for pack in std::fs::read_dir(&sub).unwrap() {
                let pack = pack.unwrap().path();
                let f = std::fs::OpenOptions::new().write(true).open(&pack).unwrap();
                f.set_len(100_000).unwrap();
            }
        }
    }
    let reader = repo.span_reader(&ids.concat()).unwrap();
    let mut last = None;
    for file in &ids {
        if let Err(e) = reader.read_blobs(file, |_| Ok::<_, RepoError>(())) {
            last = Some(e.to_string());
        }
    }
    let e = last.expect("reading past the cut fails");
    assert!(e.contains("packs/"), "{e}");
}

/// After a big file leaves 8 MiB buffers free, a small span does not take one: the budget
/// counts capacity, and 8 MiB for a few hundred kilobytes would leave room for three spans.
#[test]
fn a_small_span_gets_a_buffer_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<Vec<u8>> = (0..40).map(|i| noise(10_000, 70 + i)).collect();
    files.push(noise(2_000_000, 7)); // not read: more than SPAN_GAP between the two spans
    files.push(noise(20_000_000, 8));
    let (repo, _, ids) = stored(dir.path(), &files);
    let (small, big) = (&ids[..40], &ids[41]);
    let reader = repo
        .span_reader(&[small.concat(), big.clone()].concat())
        .unwrap();
    assert!(read_file(&reader, big) == files[41]);
    assert!(
        reader.buffered_bytes() > 0,
        "the big file's buffers are free"
    );
    assert!(read_file(&reader, &small[0]) == files[0]);
    let kept = reader.held_bytes();
    assert!(
        (400_000..=1 << 20).contains(&kept),
        "the small files' span is kept in {kept} bytes"
    );
    for (i, file) in small.iter().enumerate() {
        assert!(read_file(&reader, file) == files[i]);
    }
    assert!(reader.buffered_bytes() <= SPAN_BUDGET);
}
