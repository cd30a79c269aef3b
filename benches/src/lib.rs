//! Shared set-up for Hearth's benchmarks: realistic inputs made in-process, fresh repositories,
//! and the process's CPU time and peak memory.
//!
//! Inputs are deterministic (a seed in, the same bytes out) so that runs compare:
//! - [`photo_like`]: a JPEG/HEIC-style header then incompressible bytes, as camera files are;
//! - [`sqlite_like`]: a real SQLite database (4 KiB pages, a `message` table shaped like
//!   `sms.db`'s with an index), written by SQLite itself, so page headers, cell pointers, free
//!   space and record encoding are as on a phone.
//!
//! What it is not: a household generator (that is `hearth-testkit`), or a place for assertions.
//!
//! ```no_run
//! let db = hearth_benches::sqlite_like(4 << 20, 1);
//! assert!(db.starts_with(b"SQLite format 3\0"));
//! ```

use hearth_chunker::Chunker;
use hearth_ingest::{IngestOptions, backup_device};
use hearth_repo::{NoProgress, RepoOptions, Repository, WriteStats};
use hearth_storage::LocalBackend;
use hearth_testkit::{Household, HouseholdSpec, generate};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const MIB: usize = 1 << 20;

/// The repository password every benchmark uses.
pub const PASSWORD: &[u8] = b"bench";

/// SplitMix64: a tiny deterministic generator for content choices (not for keys).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Skewed towards 0 (roughly Zipf-like), as word and contact frequencies are.
    pub fn skewed(&mut self, n: u64) -> u64 {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((u * u * u) * n as f64) as u64
    }
}

/// `len` incompressible bytes behind a JPEG/Exif header: what a photo or video looks like to
/// the chunker and the entropy test.
pub fn photo_like(len: usize, seed: u64) -> Vec<u8> {
    const HEADER: &[u8] = b"\xff\xd8\xff\xe1\x00\x2aExif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x0f\0\x02\0\0\0\x06\0\0\0\x1aApple\0";
    let mut out = vec![0u8; len];
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"hearth bench photo");
    hasher.update(&seed.to_le_bytes());
    hasher.finalize_xof().fill(&mut out);
    let n = HEADER.len().min(len);
    out[..n].copy_from_slice(&HEADER[..n]);
    out
}

/// A real SQLite database of about `len` bytes (4 KiB pages): an `sms.db`-like `message` table
/// of short texts, timestamps and handles, with an index on `(handle_id, date)`.
pub fn sqlite_like(len: usize, seed: u64) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("sms.db");
    write_sqlite_like(&path, len, seed);
    std::fs::read(&path).expect("reading the database just written")
}

/// Writes [`sqlite_like`]'s database to `path`.
pub fn write_sqlite_like(path: &Path, len: usize, seed: u64) {
    let words = vocabulary();
    let mut rng = Rng::new(seed);
    let conn = rusqlite::Connection::open(path).expect("creating a SQLite database");
    conn.execute_batch(
        "PRAGMA page_size = 4096; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
         CREATE TABLE message (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE,
           text TEXT, handle_id INTEGER, service TEXT, date INTEGER, date_read INTEGER,
           is_from_me INTEGER, is_read INTEGER, cache_roomnames TEXT);
         CREATE INDEX message_idx_handle ON message(handle_id, date);",
    )
    .expect("creating the schema");
    let tx = conn.unchecked_transaction().expect("a transaction");
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO message (guid, text, handle_id, service, date, date_read, \
                 is_from_me, is_read, cache_roomnames) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
            )
            .expect("preparing the insert");
        let mut date: i64 = 694_224_000_000_000_000; // 2023 in Apple's nanosecond epoch
        let mut rows = 0u64;
        while !rows.is_multiple_of(1024) || database_bytes(&tx) < len {
            rows += 1;
            let n_words = 2 + rng.skewed(40) as usize;
            let mut text = String::new();
            for i in 0..n_words {
                if i > 0 {
                    text.push(' ');
                }
                text.push_str(&words[rng.skewed(words.len() as u64) as usize]);
            }
            let guid = format!(
                "{:08X}-{:04X}-{:04X}-{:04X}-{:012X}",
                rng.next_u64() as u32,
                rng.next_u64() as u16,
                rng.next_u64() as u16,
                rng.next_u64() as u16,
                rng.next_u64() & 0xffff_ffff_ffff
            );
            date += 1_000_000_000 * (1 + rng.skewed(3_600) as i64);
            let handle = rng.skewed(120) as i64;
            let room = (rng.below(8) == 0).then(|| format!("chat{}", rng.below(30)));
            let service = if rng.below(5) == 0 { "SMS" } else { "iMessage" };
            insert
                .execute(rusqlite::params![
                    guid,
                    text,
                    handle,
                    service,
                    date,
                    date + rng.below(600) as i64 * 1_000_000_000,
                    rng.below(2) as i64,
                    1,
                    room
                ])
                .expect("inserting a row");
        }
    }
    tx.commit().expect("committing");
}

fn database_bytes(conn: &rusqlite::Connection) -> usize {
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .expect("reading the page count");
    pages as usize * 4096
}

/// Pseudo-words made of common syllables, ordered so that short, frequent ones come first.
fn vocabulary() -> Vec<String> {
    const SYLLABLES: &[&str] = &[
        "the", "to", "an", "in", "on", "at", "be", "we", "so", "no", "ok", "ha", "lo", "ve", "re",
        "ing", "ed", "er", "ly", "ti", "ca", "mo", "di", "ner", "home", "see", "you", "love",
        "time", "day", "what", "when", "yes", "call", "work", "kids", "pick", "up",
    ];
    let mut rng = Rng::new(7);
    let mut words: Vec<String> = SYLLABLES.iter().map(|s| (*s).to_owned()).collect();
    while words.len() < 3_000 {
        let n = 1 + rng.skewed(4) as usize;
        let w: String = (0..=n)
            .map(|_| SYLLABLES[rng.below(SYLLABLES.len() as u64) as usize])
            .collect();
        words.push(w);
    }
    words
}

/// A fresh local repository in `dir/repo` with a cheap KDF (benchmarks measure the data path,
/// not Argon2id) and its cache in `dir/cache`.
pub fn fresh_repo(dir: &Path) -> Repository {
    let backend = Arc::new(LocalBackend::create(&dir.join("repo")).expect("creating the backend"));
    Repository::init(backend, PASSWORD, &repo_options(dir)).expect("initialising the repository")
}

/// Backs every device of `household` up into `repo` in one write session under a lock, as
/// `hearth backup` does (one device after another here), and returns what the session added.
pub fn backup_household(repo: &Repository, household: &Household) -> WriteStats {
    backup_household_timed(repo, household, |_, _, _, _| {})
}

/// [`backup_household`], telling `step` the name, bytes, wall time and CPU time of each device
/// and then of finishing the session (name "finish", 0 bytes).
pub fn backup_household_timed(
    repo: &Repository,
    household: &Household,
    mut step: impl FnMut(&str, u64, Duration, Duration),
) -> WriteStats {
    let lock = repo
        .lock_shared(Duration::ZERO, &|_| {})
        .expect("locking the repository");
    let session = repo.write_session(&lock).expect("starting a write session");
    for d in &household.devices {
        let (cpu0, t0) = (cpu_time(), Instant::now());
        backup_device(
            repo,
            &session,
            &d.folder,
            &IngestOptions::default(),
            &NoProgress,
        )
        .unwrap_or_else(|e| panic!("backing up {} to {}: {e}", d.name, repo.location()));
        step(&d.name, d.bytes, t0.elapsed(), cpu_time() - cpu0);
    }
    let (cpu0, t0) = (cpu_time(), Instant::now());
    let stats = session.finish().expect("finishing the write session");
    step("finish", 0, t0.elapsed(), cpu_time() - cpu0);
    stats
}

/// Options with a cheap KDF and the cache under `dir/cache`.
pub fn repo_options(dir: &Path) -> RepoOptions {
    RepoOptions {
        kdf: hearth_crypto::KdfParams {
            memory_kib: 64,
            time: 1,
            parallelism: 1,
        },
        cache_root: Some(dir.join("cache")),
        lock_times: Default::default(),
    }
}

/// A set of files as a phone holds them: photos of 1-4 MiB and SQLite databases of 4-16 MiB,
/// `db_share` of the bytes in databases, about `total` bytes in all. Returns the paths.
pub fn write_mixed_files(dir: &Path, total: usize, db_share: f64, seed: u64) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).expect("creating the input folder");
    let mut rng = Rng::new(seed);
    let mut paths = Vec::new();
    let db_target = (total as f64 * db_share) as usize;
    let (mut photos, mut dbs) = (0usize, 0usize);
    let mut i = 0u64;
    while photos + dbs < total {
        i += 1;
        let path;
        if dbs < db_target && (photos >= total - db_target || rng.below(4) == 0) {
            let len = (4 + rng.below(13) as usize) * MIB;
            path = dir.join(format!("db{i:04}.sqlite"));
            write_sqlite_like(&path, len, seed ^ i);
            dbs += std::fs::metadata(&path).expect("stat").len() as usize;
        } else {
            let len = MIB + rng.below(3 * MIB as u64) as usize;
            path = dir.join(format!("IMG_{i:04}.JPG"));
            std::fs::write(&path, photo_like(len, seed ^ i)).expect("writing a photo");
            photos += len;
        }
        paths.push(path);
    }
    paths
}

/// Writes every dirty page to disk, so that a benchmark's fsyncs do not wait on writing back
/// the input it just generated (a real source backup was written long before).
pub fn settle_disk() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
}

/// Generates `HouseholdSpec::bench(bytes)` under `work/Backup`, syncs it to disk (see
/// [`settle_disk`]) and prints what it made.
pub fn generate_bench_household(bytes: u64, work: &Path) -> Household {
    let t = std::time::Instant::now();
    let household = generate(&HouseholdSpec::bench(bytes), &work.join("Backup"))
        .expect("generating the household");
    settle_disk();
    println!(
        "household: {} devices, {} files, {} bytes (generated in {:.1} s) under {}",
        household.devices.len(),
        household.files(),
        household.bytes(),
        t.elapsed().as_secs_f64(),
        work.display()
    );
    household
}

/// The chunks `chunker` cuts `data` into.
pub fn chunks_of(chunker: &Chunker, data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    chunker
        .chunk_slice(data, |c| {
            out.push(c.to_vec());
            Ok::<_, ()>(())
        })
        .expect("cutting never fails");
    out
}

/// Bytes in `chunks`.
pub fn total_len(chunks: &[Vec<u8>]) -> u64 {
    chunks.iter().map(|c| c.len() as u64).sum()
}

/// Sum of the sizes of `paths`.
pub fn total_size(paths: &[PathBuf]) -> u64 {
    paths
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum()
}

/// What the process has used so far, all threads (`getrusage(RUSAGE_SELF)`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// User plus system CPU time.
    pub cpu: Duration,
    /// The part of `cpu` spent in the kernel (system calls, page faults, copies to the page cache).
    pub system: Duration,
    /// Times a thread gave up the CPU to wait (I/O, a lock, a full queue).
    pub waits: u64,
    /// Times a thread was preempted while runnable: other processes competing for the cores.
    pub preempted: u64,
}

impl std::ops::Sub for Usage {
    type Output = Usage;
    fn sub(self, o: Usage) -> Usage {
        Usage {
            cpu: self.cpu.saturating_sub(o.cpu),
            system: self.system.saturating_sub(o.system),
            waits: self.waits.saturating_sub(o.waits),
            preempted: self.preempted.saturating_sub(o.preempted),
        }
    }
}

pub fn usage() -> Usage {
    // SAFETY: getrusage writes one `rusage` into the zeroed struct we own.
    let u = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Usage {
        cpu: tv(u.ru_utime) + tv(u.ru_stime),
        system: tv(u.ru_stime),
        waits: u.ru_nvcsw as u64,
        preempted: u.ru_nivcsw as u64,
    }
}

/// CPU time (user + system) this process has used so far, all threads.
pub fn cpu_time() -> Duration {
    usage().cpu
}

/// The 1-minute load average: above the core count, other processes compete for the cores.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Resident memory now (`VmRSS`) in bytes; 0 if `/proc` does not tell.
pub fn rss() -> u64 {
    proc_status_kib("VmRSS:").map_or(0, |k| k * 1024)
}

/// Peak resident memory (`VmHWM`) in bytes, if `/proc` tells.
pub fn peak_rss() -> Option<u64> {
    proc_status_kib("VmHWM:").map(|k| k * 1024)
}

/// Resets the peak-RSS mark so the next phase is measured alone (Linux >= 4.0). Returns false
/// when the kernel refused.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// A report's numeric argument `i` (`default` when absent); prints `usage` and exits with
/// status 2 when it is not a number.
pub fn num_arg(args: &[String], i: usize, default: u64, usage: &str) -> u64 {
    args.get(i).map_or(default, |a| {
        a.parse().unwrap_or_else(|_| {
            eprintln!("usage: {usage}");
            std::process::exit(2)
        })
    })
}

/// What a report's first line says of the machine: `2 cores; load average 1.23`.
pub fn machine() -> String {
    format!(
        "{} cores; load average {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_average().map_or("unknown".into(), |l| format!("{l:.2}"))
    )
}

/// Generates `HouseholdSpec::real(bytes, files)` under `w/Backup` and backs it up into a fresh
/// `w/repo`, then `nights` nights of edits, each backed up: each device has `nights + 1` snapshots.
pub fn make_household(w: &Path, bytes: u64, files: usize, nights: u32) {
    let t = Instant::now();
    let household =
        generate(&HouseholdSpec::real(bytes, files), &w.join("Backup")).expect("generating");
    settle_disk();
    println!(
        "generated {} files, {} bytes in {:.1} s",
        household.files(),
        household.bytes(),
        t.elapsed().as_secs_f64()
    );
    let repo = fresh_repo(w);
    let t = Instant::now();
    backup_household(&repo, &household);
    for night in 1..=nights {
        hearth_testkit::next_day(&household, night, &hearth_testkit::DayOptions::default())
            .expect("a night of edits");
        backup_household(&repo, &household);
    }
    println!(
        "backed up {} times in {:.1} s",
        nights + 1,
        t.elapsed().as_secs_f64()
    );
}

/// A report's work folder: the WORKDIR given, kept, with what an earlier run left there used
/// again; else a temporary folder, removed at the end.
pub struct WorkDir {
    path: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl WorkDir {
    pub fn new(given: Option<&String>) -> Self {
        match given {
            Some(dir) => Self {
                path: PathBuf::from(dir),
                _temp: None,
            },
            None => {
                let temp = tempfile::tempdir().expect("a temporary folder");
                Self {
                    path: temp.path().to_path_buf(),
                    _temp: Some(temp),
                }
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether an earlier run left a repository here (`repo/`, as [`fresh_repo`] makes it).
    pub fn has_repo(&self) -> bool {
        self.path.join("repo/config").is_file()
    }

    /// The repository [`fresh_repo`] made here, opened.
    pub fn open_repo(&self) -> Repository {
        let backend = Arc::new(LocalBackend::open(&self.path.join("repo")));
        Repository::open(backend, PASSWORD, &repo_options(&self.path))
            .expect("opening the repository")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_deterministic_and_of_the_right_kind() {
        assert_eq!(photo_like(1000, 3), photo_like(1000, 3));
        assert!(hearth_repo::looks_incompressible(&photo_like(100_000, 3)));
        let db = sqlite_like(MIB, 3);
        assert!(db.starts_with(b"SQLite format 3\0"));
        assert!(!hearth_repo::looks_incompressible(&db));
        let packed = zstd::bulk::compress(&db, 3).unwrap();
        assert!(packed.len() < db.len() / 2, "SQLite pages compress");
    }
}
