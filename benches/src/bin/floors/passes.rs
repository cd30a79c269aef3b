//! The measured passes: each does one kind of necessary work over a list of items with
//! `threads` threads taking the next item in turn.
//!
//! - I/O passes report wall time and the process's CPU time (`getrusage`, all threads: the
//!   kernel's copies, page-cache inserts, file creation).
//! - Compute passes report only the CPU time of the sections they time, per thread
//!   (`CLOCK_THREAD_CPUTIME_ID`), so reading their input from the page cache is not counted
//!   twice and another process on the machine does not inflate them.

use hearth_chunker::Chunker;
use hearth_crypto::Keys;
use hearth_format::{BlobKind, ChunkId};
use hearth_repo::{UnsealBuffers, prepare_as};
use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// What a pass took.
#[derive(Debug, Clone, Copy, Default)]
pub struct Measure {
    /// Wall seconds (I/O passes).
    pub wall: f64,
    /// CPU seconds: the process's for an I/O pass, the timed sections' for a compute pass.
    pub cpu: f64,
    /// Bytes the pass read, wrote or processed.
    pub bytes: u64,
}

/// The calling thread's CPU time.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the struct we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Writes dirty pages back, then drops the page cache, dentries and inodes: a cold cache.
pub fn drop_caches() -> Result<(), String> {
    hearth_benches::settle_disk();
    fs::write("/proc/sys/vm/drop_caches", "3\n").map_err(|e| {
        format!(
            "cannot drop the page cache (/proc/sys/vm/drop_caches: {e}); run as root, or pass --warm-only"
        )
    })
}

/// Runs `f(item, state)` on every item with `threads` threads; `f` returns its bytes. Wall
/// and process CPU time of the whole pass.
pub fn io_pass<T: Sync, S: Default>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T, &mut S) -> u64 + Sync,
) -> Measure {
    let cpu0 = hearth_benches::usage().cpu;
    let t0 = Instant::now();
    let (bytes, _) = run(items, threads, |item, state: &mut S, _| f(item, state));
    Measure {
        wall: t0.elapsed().as_secs_f64(),
        cpu: (hearth_benches::usage().cpu - cpu0).as_secs_f64(),
        bytes,
    }
}

/// Runs `f(item, state, clock)` on every item with `threads` threads; only what `f` times
/// with `clock` counts as CPU.
pub fn compute_pass<T: Sync, S: Default>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T, &mut S, &mut Clock) -> u64 + Sync,
) -> Measure {
    let t0 = Instant::now();
    let (bytes, cpu) = run(items, threads, f);
    Measure {
        wall: t0.elapsed().as_secs_f64(),
        cpu: cpu.as_secs_f64(),
        bytes,
    }
}

/// A thread's timed CPU.
#[derive(Default)]
pub struct Clock(Duration);

impl Clock {
    pub fn time<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let t0 = thread_cpu();
        let r = f();
        self.0 += thread_cpu() - t0;
        r
    }
}

fn run<T: Sync, S: Default>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T, &mut S, &mut Clock) -> u64 + Sync,
) -> (u64, Duration) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                s.spawn(|| {
                    let (mut state, mut clock, mut bytes) = (S::default(), Clock::default(), 0);
                    while let Some(item) = items.get(next.fetch_add(1, Ordering::Relaxed)) {
                        bytes += f(item, &mut state, &mut clock);
                    }
                    (bytes, clock.0)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a pass thread panicked"))
            .fold((0, Duration::ZERO), |(b, c), (b2, c2)| (b + b2, c + c2))
    })
}

/// A reusable 1 MiB read buffer.
pub struct Buf(Vec<u8>);

impl Default for Buf {
    fn default() -> Self {
        Buf(vec![0; 1 << 20])
    }
}

/// Reads a whole file through `buf`; returns its length.
pub fn read_file(path: &Path, buf: &mut Buf) -> u64 {
    let mut f = File::open(path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let mut n = 0;
    loop {
        match f.read(&mut buf.0).expect("reading") {
            0 => return n,
            k => n += k as u64,
        }
    }
}

/// Byte ranges `(offset, length)` of one file, sorted, adjacent ones merged.
pub type Ranges = (PathBuf, Vec<(u64, u64)>);

/// Reads the ranges of one file (`pread`); returns the bytes read.
pub fn read_ranges(ranges: &Ranges, buf: &mut Vec<u8>) -> u64 {
    let f = File::open(&ranges.0).unwrap_or_else(|e| panic!("opening {}: {e}", ranges.0.display()));
    let mut n = 0;
    for &(off, len) in &ranges.1 {
        buf.resize(len as usize, 0);
        f.read_exact_at(buf, off).expect("reading a range");
        n += len;
    }
    n
}

/// Lists a folder and `lstat`s each entry, as a backup's walk must; returns the entry count.
pub fn stat_dir(dir: &Path) -> u64 {
    let mut n = 0;
    for e in fs::read_dir(dir).unwrap_or_else(|e| panic!("listing {}: {e}", dir.display())) {
        let e = e.expect("a folder entry");
        std::hint::black_box(fs::symlink_metadata(e.path()).expect("lstat"));
        n += 1;
    }
    n
}

/// Reads every row of a Manifest.db's `Files` table, each column (read-only, immutable, as
/// ingest opens it); returns the bytes of the rows.
pub fn manifest_rows(path: &Path) -> u64 {
    let uri = format!("file:{}?immutable=1", path.display());
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI;
    let db = rusqlite::Connection::open_with_flags(uri, flags).expect("opening Manifest.db");
    let mut q = db
        .prepare("SELECT fileID, domain, relativePath, flags, file FROM Files")
        .expect("querying Files");
    let mut rows = q.query([]).expect("querying Files");
    let mut n = 0u64;
    while let Some(row) = rows.next().expect("a row") {
        for i in [0, 1, 2, 4] {
            n += match row.get_ref(i).expect("a column") {
                rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => t.len(),
                _ => 0,
            } as u64;
        }
        n += 8;
    }
    n
}

/// Pack-sized files to write.
const PACK: u64 = 16 << 20;

/// The pack files `total` bytes make (16 MiB each, the last one smaller), under `dir`.
pub fn pack_files(dir: &Path, total: u64) -> Vec<(PathBuf, u64)> {
    (0..total.div_ceil(PACK))
        .map(|i| (dir.join(format!("{i:08}")), PACK.min(total - i * PACK)))
        .collect()
}

/// Writes one file of `len` bytes and fsyncs it, as a pack is committed.
pub fn write_synced(path: &Path, len: u64, buf: &Buf) -> u64 {
    let mut f = File::create(path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
    write_len(&mut f, len, buf);
    f.sync_all().expect("fsync");
    len
}

/// Writes one file of `len` bytes with mtime `mtime`, without fsync, as a restore does.
pub fn write_file(path: &Path, len: u64, mtime: SystemTime, buf: &Buf) -> u64 {
    let mut f = File::create(path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
    write_len(&mut f, len, buf);
    f.set_modified(mtime).expect("setting the mtime");
    len
}

fn write_len(f: &mut File, mut len: u64, buf: &Buf) {
    while len > 0 {
        let k = len.min(buf.0.len() as u64) as usize;
        f.write_all(&buf.0[..k]).expect("writing");
        len -= k as u64;
    }
}

/// What storing chunks found: the distinct ones and their sealed bytes.
#[derive(Default)]
pub struct Store {
    pub seen: Mutex<HashSet<ChunkId>>,
    pub distinct: AtomicU64,
    pub sealed: AtomicU64,
}

impl Store {
    /// True when `id` is new, as a write session's claim.
    fn claim(&self, id: &ChunkId) -> bool {
        self.seen.lock().expect("the id set").insert(*id)
    }

    pub fn sealed(&self) -> u64 {
        self.sealed.load(Ordering::Relaxed)
    }

    pub fn distinct(&self) -> u64 {
        self.distinct.load(Ordering::Relaxed)
    }
}

/// What a backup must compute for `data`: cut, keyed BLAKE3 id, dedup claim, and for a new
/// chunk the entropy test, zstd when it pays and XChaCha20-Poly1305: what a write session does
/// for each chunk (the project's own `prepare_as`), minus the pack writer.
pub struct Backup<'a> {
    pub keys: &'a Keys,
    pub chunker: &'a Chunker,
    pub level: i32,
    pub store: &'a Store,
}

impl Backup<'_> {
    pub fn data(&self, data: &[u8], kind: BlobKind) {
        self.chunker
            .cut_slice(data, |cut, chunk| {
                let id = self.keys.chunk_id(chunk);
                if self.store.claim(&id) {
                    let blob = prepare_as(self.keys, self.level, kind, id, chunk, cut.content());
                    let s = self.store;
                    s.distinct
                        .fetch_add(u64::from(blob.raw_len), Ordering::Relaxed);
                    s.sealed
                        .fetch_add(blob.sealed.len() as u64, Ordering::Relaxed);
                }
                Ok::<_, std::convert::Infallible>(())
            })
            .expect("storing never fails");
    }
}

/// Opens (decrypts, decompresses, checks the id of) every blob `(entry, sealed bytes)`.
pub fn unseal_all(
    keys: &Keys,
    blobs: &[(hearth_format::PackEntry, Vec<u8>)],
    buffers: &mut UnsealBuffers,
) {
    for (entry, sealed) in blobs {
        buffers
            .unseal(keys, entry, sealed)
            .expect("a blob opens and matches its id");
    }
}
