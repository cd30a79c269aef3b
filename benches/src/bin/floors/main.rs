//! The floor of each phase of the side-by-side benchmark (issue 13, item 2): the least time
//! the phase can take on this machine, for this household and repository, given what it must
//! read, compute and write, with every core.
//!
//! ```text
//! cargo run -p hearth-benches --release --bin floors -- \
//!     --day1 HH/day1 --day2 SRC --repo REPO [--work DIR] [--threads N] [--io-threads N] [--json OUT] [--warm-only]
//! ```
//!
//! `--day1` is the household as generated, `--day2` the same after `gen --day 1`, and `--repo`
//! a local Hearth repository holding one backup of each (`hearth backup` of day 1, then of
//! day 2; `HEARTH_PASSWORD` opens it). `benches/peers/run.sh --floors` makes all three.
//!
//! Each necessary piece of work is measured alone, as a *part*:
//!
//! - **I/O parts** run with `--io-threads` threads (default 8, or the cores if more: one file or
//!   pack per thread at a time; a virtual disk answers eight readers far faster than two), once right after
//!   `sync` + `echo 3 > /proc/sys/vm/drop_caches` (cold) and once again straight after, after
//!   `sync` only (warm).
//!   They give a wall time and the process's CPU time (kernel copies, file creation).
//! - **Compute parts** run the project's own code (`hearth-chunker`'s `store_chunk`: FastCDC or
//!   the SQLite page cut, keyed BLAKE3, the dedup claim, the entropy test, zstd-3 when it pays,
//!   XChaCha20-Poly1305; `UnsealBuffers::unseal` to open, decompress and check a blob; the
//!   format crate's decoders) on inputs already in memory, and count only the CPU time of that
//!   work (per-thread CPU clock), the same cold or warm.
//!
//! A phase's floor is the largest of: the wall time of each of its I/O parts, and all its CPU
//! time (compute and I/O parts) spread evenly over the cores. It is a lower bound only: it
//! supposes every part overlaps every other, which no program fully achieves; the table also
//! prints what bounds each floor. What each phase must do:
//!
//! | phase | I/O parts | compute parts |
//! |---|---|---|
//! | first backup | walk + `lstat` every file; Manifest.db's rows; read every source byte; write the sealed bytes as 16 MiB files, each fsynced | key derivation; store every chunk of every file and of the day-1 trees (encoded again from the snapshots) |
//! | unchanged backup | walk + `lstat`; Manifest.db's rows; the index; the parent snapshots' tree blobs | key derivation; open and decode those trees |
//! | day-2 backup | the same, on day 2; read the files whose size or mtime differ from day 1 (or are new); write the new sealed bytes, fsynced | key derivation; decode the parents' trees; store the changed files' and the day-2 trees' chunks (only chunks day 1 did not have are sealed) |
//! | restore | the index; the device's newest tree; the byte ranges of the packs its blobs are in; write its files (size, mtime; no fsync, as `hearth restore`) | key derivation; decode the tree; open every distinct blob it needs |
//! | check --read-data | the index; every snapshot's tree; every pack whole | key derivation; decode every tree; open every blob of every pack |
//! | forget + prune | the index; the kept snapshots' trees (newest of each device); the live blobs' ranges in the packs to repack; write those bytes, fsynced | key derivation; decode the kept trees; the live set |
//! | stats | the index; every snapshot's tree | key derivation; decode every tree; tally logical, unique and shared bytes per device |
//!
//! Prune's plan follows `docs/format.md` §11a: packs with no live blob are deleted (an unlink
//! each, not counted), then the packs with the most unused bytes are repacked until at most 5%
//! of the pack bytes are unused. A repack copies the live blobs' sealed bytes, which is all the
//! format requires (a blob's seal does not depend on its pack). Not counted anywhere: pack
//! headers (48 bytes a blob), snapshot and index objects written (a few MB at most), deleting
//! files, `chmod` on restore. Nothing here is a timed test: it prints figures for a person.

mod passes;
mod repo;

use hearth_format::{BlobKind, ChunkId, Entry, PackEntry, Snapshot};
use hearth_repo::UnsealBuffers;
use passes::{Buf, Clock, Measure, Ranges, Store};
use repo::{Blob, Repo};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

struct Args {
    day1: PathBuf,
    day2: PathBuf,
    repo: PathBuf,
    work: PathBuf,
    /// Threads that compute; a phase's CPU time is spread over them.
    threads: usize,
    /// Threads that read or write at once in an I/O part: a virtual or network disk answers
    /// many requests at once faster than one, and Hearth opens eight files ahead.
    io_threads: usize,
    json: Option<PathBuf>,
    cold: bool,
}

const USAGE: &str = "usage: floors --day1 DIR --day2 DIR --repo REPO [--work DIR] [--threads N] [--io-threads N] [--json OUT] [--warm-only]";

fn parse() -> Args {
    let mut a = std::env::args().skip(1);
    let (mut day1, mut day2, mut repo, mut work, mut json) = (None, None, None, None, None);
    let mut threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut io_threads = 8.max(threads);
    let mut cold = true;
    while let Some(flag) = a.next() {
        let mut value = || {
            a.next()
                .unwrap_or_else(|| fail(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--day1" => day1 = Some(PathBuf::from(value())),
            "--day2" => day2 = Some(PathBuf::from(value())),
            "--repo" => repo = Some(PathBuf::from(value())),
            "--work" => work = Some(PathBuf::from(value())),
            "--json" => json = Some(PathBuf::from(value())),
            "--threads" => threads = value().parse().unwrap_or_else(|_| fail("--threads N")),
            "--io-threads" => {
                io_threads = value().parse().unwrap_or_else(|_| fail("--io-threads N"))
            }
            "--warm-only" => cold = false,
            _ => fail(&format!("unknown argument {flag}")),
        }
    }
    let repo: PathBuf = repo.unwrap_or_else(|| fail("--repo is required"));
    let work = work.unwrap_or_else(|| repo.with_extension("floors-work"));
    Args {
        day1: day1.unwrap_or_else(|| fail("--day1 is required")),
        day2: day2.unwrap_or_else(|| fail("--day2 is required")),
        repo,
        work,
        threads,
        io_threads,
        json,
        cold,
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("floors: {msg}\n{USAGE}");
    std::process::exit(2)
}

/// One part of a phase: an I/O part measured cold and warm, or a compute part (same for both).
struct Part {
    name: String,
    io: bool,
    cold: Option<Measure>,
    warm: Measure,
}

impl Part {
    fn compute(name: impl Into<String>, m: Measure) -> Part {
        Part {
            name: name.into(),
            io: false,
            cold: Some(m),
            warm: m,
        }
    }

    fn get(&self, cold: bool) -> Option<Measure> {
        if cold { self.cold } else { Some(self.warm) }
    }
}

/// Measures an I/O part cold (after `sync` and dropping the caches, unless `--warm-only`) and
/// then warm (after `sync` only).
fn io_part(name: impl Into<String>, cold: bool, mut f: impl FnMut() -> Measure) -> Part {
    let cold = cold.then(|| {
        passes::drop_caches().unwrap_or_else(|e| fail(&e));
        f()
    });
    // Written-back first, so a write part does not pay for the dirty pages of the one before.
    hearth_benches::settle_disk();
    let warm = f();
    Part {
        name: name.into(),
        io: true,
        cold,
        warm,
    }
}

/// The floor of `parts` in one cache state, and what bounds it.
fn floor(parts: &[Part], cold: bool, threads: usize) -> Option<(f64, String)> {
    let mut cpu = 0.0;
    let mut best = (0.0, String::new());
    for p in parts {
        let m = p.get(cold)?;
        cpu += m.cpu;
        if p.io && m.wall > best.0 {
            best = (m.wall, p.name.clone());
        }
    }
    let spread = cpu / threads as f64;
    Some(if spread > best.0 {
        (spread, format!("CPU {cpu:.2} s / {threads}"))
    } else {
        best
    })
}

struct Phase {
    key: &'static str,
    label: &'static str,
    parts: Vec<Part>,
}

/// Everything under `root`: files (with size and mtime) and folders.
struct Tree {
    files: Vec<(PathBuf, u64, i128)>,
    dirs: Vec<PathBuf>,
}

fn walk(root: &Path) -> Tree {
    let mut tree = Tree {
        files: Vec::new(),
        dirs: vec![root.to_owned()],
    };
    let mut i = 0;
    while i < tree.dirs.len() {
        let dir = tree.dirs[i].clone();
        for e in std::fs::read_dir(&dir).expect("listing a folder") {
            let e = e.expect("a folder entry");
            let m = e.metadata().expect("stat");
            if m.is_dir() {
                tree.dirs.push(e.path());
            } else if m.is_file() {
                let mtime = m.modified().expect("mtime").duration_since(UNIX_EPOCH);
                let ns = mtime.map_or(0, |d| d.as_nanos() as i128);
                tree.files.push((e.path(), m.len(), ns));
            }
        }
        i += 1;
    }
    tree
}

fn manifests(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root)
        .expect("listing the household")
        .map(|e| e.expect("an entry").path().join("Manifest.db"))
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

/// Sealed ranges of `blobs` grouped by pack, adjacent ones merged.
fn ranges(repo: &Repo, blobs: impl IntoIterator<Item = Blob>) -> Vec<Ranges> {
    let mut by_pack: BTreeMap<_, Vec<(u64, u64)>> = BTreeMap::new();
    for b in blobs {
        let r = (u64::from(b.entry.offset), u64::from(b.entry.length));
        by_pack.entry(b.pack).or_default().push(r);
    }
    by_pack
        .into_iter()
        .map(|(pack, mut rs)| {
            rs.sort_unstable();
            let mut merged: Vec<(u64, u64)> = Vec::new();
            for (off, len) in rs {
                match merged.last_mut() {
                    Some((o, l)) if *o + *l >= off => *l = (*l).max(off + len - *o),
                    _ => merged.push((off, len)),
                }
            }
            (repo.pack_path(&pack), merged)
        })
        .collect()
}

/// The sealed bytes of `blobs`, each with its entry (setup: not measured).
fn sealed_of(repo: &Repo, blobs: &[Blob]) -> Vec<(PackEntry, Vec<u8>)> {
    use std::os::unix::fs::FileExt;
    let mut open: Option<(hearth_format::PackId, std::fs::File)> = None;
    blobs
        .iter()
        .map(|b| {
            if open.as_ref().is_none_or(|(p, _)| *p != b.pack) {
                let f = std::fs::File::open(repo.pack_path(&b.pack)).expect("opening a pack");
                open = Some((b.pack, f));
            }
            let f = &open.as_ref().expect("just opened").1;
            let mut buf = vec![0; b.entry.length as usize];
            f.read_exact_at(&mut buf, u64::from(b.entry.offset))
                .expect("reading a blob");
            (b.entry, buf)
        })
        .collect()
}

fn gb(b: u64) -> String {
    format!("{:.2} GB", b as f64 / 1e9)
}

fn read_files_pass(files: &[PathBuf], threads: usize) -> Measure {
    passes::io_pass(files, threads, |p, buf: &mut Buf| passes::read_file(p, buf))
}

fn ranges_pass(rs: &[Ranges], threads: usize) -> Measure {
    passes::io_pass(rs, threads, |r, buf: &mut Vec<u8>| {
        passes::read_ranges(r, buf)
    })
}

fn write_packs_pass(dir: &Path, total: u64, threads: usize) -> Measure {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("creating the pack folder");
    let files = passes::pack_files(dir, total);
    let m = passes::io_pass(&files, threads, |(p, len), buf: &mut Buf| {
        passes::write_synced(p, *len, buf)
    });
    std::fs::remove_dir_all(dir).expect("removing the written packs");
    m
}

/// The index, the trees of some snapshots: the parts every repository-reading phase has.
struct Reads<'a> {
    repo: &'a Repo,
    args: &'a Args,
}

impl Reads<'_> {
    fn kdf(&self) -> Part {
        // The process's CPU, not this thread's: Argon2id computes its lanes on other threads
        // (nothing else runs meanwhile).
        let t0 = hearth_benches::usage().cpu;
        let pw = std::env::var("HEARTH_PASSWORD").unwrap_or_default();
        self.repo
            .key_file
            .open(pw.as_bytes())
            .expect("the key file opens");
        let cpu = (hearth_benches::usage().cpu - t0).as_secs_f64();
        Part::compute(
            "key derivation (Argon2id)",
            Measure {
                cpu,
                ..Measure::default()
            },
        )
    }

    fn index(&self) -> Part {
        let files = &self.repo.index_files;
        let keys = &self.repo.keys;
        io_part("read + open the index", self.args.cold, || {
            passes::io_pass(files, self.args.io_threads, |p, _: &mut ()| {
                let bytes = std::fs::read(p).expect("reading a segment");
                let payload = keys
                    .open_object(hearth_format::ObjectKind::Index, &bytes)
                    .expect("a segment opens");
                hearth_format::IndexSegment::decode(&payload).expect("a segment decodes");
                bytes.len() as u64
            })
        })
    }

    /// Reading (I/O) and decoding (compute) the trees of `snaps`; also returns the entries.
    fn trees(&self, what: &str, snaps: &[&Snapshot]) -> (Vec<Part>, Vec<Vec<Entry>>) {
        let repo = self.repo;
        let blobs: Vec<Vec<Blob>> = snaps
            .iter()
            .map(|s| s.tree.iter().map(|id| repo.blob(id)).collect())
            .collect();
        let rs = ranges(repo, blobs.iter().flatten().copied());
        let read = io_part(format!("read {what}"), self.args.cold, || {
            ranges_pass(&rs, self.args.io_threads)
        });
        let sealed: Vec<Vec<(Blob, Vec<u8>)>> = blobs
            .iter()
            .map(|bs| {
                let raw = sealed_of(repo, bs);
                bs.iter()
                    .copied()
                    .zip(raw.into_iter().map(|(_, b)| b))
                    .collect()
            })
            .collect();
        let decoded = std::sync::Mutex::new(vec![Vec::new(); snaps.len()]);
        let idx: Vec<usize> = (0..snaps.len()).collect();
        let m = passes::compute_pass(&idx, self.args.threads, |&i, _: &mut (), clock| {
            let entries = clock.time(|| repo::decode_tree(&repo.keys, &sealed[i]));
            decoded.lock().unwrap()[i] = entries;
            snaps[i].tree_len
        });
        let decode = Part::compute(format!("open + decode {what}"), m);
        (vec![read, decode], decoded.into_inner().unwrap())
    }
}

fn chunk_ids<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> HashSet<ChunkId> {
    entries
        .into_iter()
        .filter_map(|e| e.content.as_ref())
        .flat_map(|c| c.chunks.iter().copied())
        .collect()
}

/// Storing the encoded trees of `entries` (each snapshot's stream) into `store`.
fn store_trees(
    name: &str,
    entries: &[Vec<Entry>],
    backup: &passes::Backup,
    threads: usize,
) -> Part {
    let m = passes::compute_pass(entries, threads, |es, _: &mut (), clock| {
        clock.time(|| {
            let stream = Entry::encode_all(es);
            backup.data(&stream, BlobKind::Tree);
            stream.len() as u64
        })
    });
    Part::compute(name, m)
}

fn main() {
    let args = parse();
    let threads = args.threads;
    let io_threads = args.io_threads;
    if args.cold {
        passes::drop_caches().unwrap_or_else(|e| fail(&e));
    }
    std::fs::create_dir_all(&args.work).expect("creating the work folder");
    let pw = std::env::var("HEARTH_PASSWORD").unwrap_or_else(|_| fail("set HEARTH_PASSWORD"));
    let repo = Repo::open(&args.repo, pw.as_bytes());
    let devices = repo.by_device();
    let first_snaps: Vec<&Snapshot> = devices.iter().map(|(_, s)| s[0]).collect();
    let latest: Vec<&Snapshot> = devices.iter().map(|(_, s)| *s.last().unwrap()).collect();
    let all: Vec<&Snapshot> = repo.snapshots.iter().map(|(_, s)| s).collect();
    let (day1, day2) = (walk(&args.day1), walk(&args.day2));
    let reads = Reads {
        repo: &repo,
        args: &args,
    };
    println!(
        "floors: {threads} compute threads, {io_threads} I/O threads; day 1 {} files, {}; {} snapshots of {} devices; {} packs",
        day1.files.len(),
        gb(day1.files.iter().map(|f| f.1).sum()),
        all.len(),
        devices.len(),
        repo.packs.len()
    );
    let mut phases = Vec::new();
    let kdf = || reads.kdf();

    // First backup.
    let store = Store::default();
    let chunker = repo.chunker();
    let backup = passes::Backup {
        keys: &repo.keys,
        chunker: &chunker,
        level: repo.config.zstd_level,
        store: &store,
    };
    let paths1: Vec<PathBuf> = day1.files.iter().map(|f| f.0.clone()).collect();
    let (_, entries1) = reads.trees("the day-1 trees", &first_snaps);
    let stat1 = io_part("walk + lstat day 1", args.cold, || {
        passes::io_pass(&day1.dirs, io_threads, |d, _: &mut ()| passes::stat_dir(d))
    });
    let man1 = io_part("Manifest.db rows, day 1", args.cold, || {
        passes::io_pass(&manifests(&args.day1), io_threads, |p, _: &mut ()| {
            passes::manifest_rows(p)
        })
    });
    let read1 = io_part(
        format!("read {}", gb(day1.files.iter().map(|f| f.1).sum())),
        args.cold,
        || read_files_pass(&paths1, io_threads),
    );
    let m = passes::compute_pass(
        &paths1,
        threads,
        |p, data: &mut Vec<u8>, clock: &mut Clock| {
            data.clear();
            std::io::Read::read_to_end(&mut std::fs::File::open(p).expect("open"), data)
                .expect("read");
            clock.time(|| backup.data(data, BlobKind::Data));
            data.len() as u64
        },
    );
    let distinct1 = store.distinct();
    let cut1 = Part::compute(format!("store chunks ({} distinct)", gb(distinct1)), m);
    let trees1 = store_trees("store day-1 trees", &entries1, &backup, threads);
    let sealed1 = store.sealed();
    let write1 = io_part(format!("write {} (fsync)", gb(sealed1)), args.cold, || {
        write_packs_pass(&args.work.join("packs"), sealed1, io_threads)
    });
    phases.push(Phase {
        key: "first",
        label: "first backup",
        parts: vec![kdf(), stat1, man1, read1, cut1, trees1, write1],
    });

    // Unchanged backup: the walk, Manifest.db, the parents' trees.
    let stat = |tree: &Tree, name: &str| {
        io_part(format!("walk + lstat {name}"), args.cold, || {
            passes::io_pass(&tree.dirs, io_threads, |d, _: &mut ()| passes::stat_dir(d))
        })
    };
    let man = |dir: &Path, name: &str| {
        let dbs = manifests(dir);
        io_part(format!("Manifest.db rows, {name}"), args.cold, || {
            passes::io_pass(&dbs, io_threads, |p, _: &mut ()| passes::manifest_rows(p))
        })
    };
    let mut parts = vec![
        kdf(),
        reads.index(),
        stat(&day1, "day 1"),
        man(&args.day1, "day 1"),
    ];
    let (parent_parts, _) = reads.trees("the parents' trees", &first_snaps);
    parts.extend(parent_parts);
    phases.push(Phase {
        key: "unchanged",
        label: "unchanged backup",
        parts,
    });

    // Day 2: the unchanged backup's work on day 2, plus the changed files.
    let before: HashMap<PathBuf, (u64, i128)> = day1
        .files
        .iter()
        .map(|(p, s, t)| (p.strip_prefix(&args.day1).unwrap().to_owned(), (*s, *t)))
        .collect();
    let changed: Vec<PathBuf> = day2
        .files
        .iter()
        .filter(|(p, s, t)| before.get(p.strip_prefix(&args.day2).unwrap()) != Some(&(*s, *t)))
        .map(|f| f.0.clone())
        .collect();
    let changed_bytes: u64 = changed
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    let mut parts = vec![
        kdf(),
        reads.index(),
        stat(&day2, "day 2"),
        man(&args.day2, "day 2"),
    ];
    let (parent_parts, _) = reads.trees("the parents' trees", &first_snaps);
    parts.extend(parent_parts);
    parts.push(io_part(
        format!(
            "read {} changed files, {}",
            changed.len(),
            gb(changed_bytes)
        ),
        args.cold,
        || read_files_pass(&changed, io_threads),
    ));
    let (sealed0, distinct0) = (store.sealed(), store.distinct());
    let m = passes::compute_pass(
        &changed,
        threads,
        |p, data: &mut Vec<u8>, clock: &mut Clock| {
            data.clear();
            std::io::Read::read_to_end(&mut std::fs::File::open(p).expect("open"), data)
                .expect("read");
            clock.time(|| backup.data(data, BlobKind::Data));
            data.len() as u64
        },
    );
    parts.push(Part::compute(
        format!("store chunks ({} new)", gb(store.distinct() - distinct0)),
        m,
    ));
    let (_, entries2) = reads.trees("the day-2 trees", &latest);
    parts.push(store_trees(
        "store day-2 trees",
        &entries2,
        &backup,
        threads,
    ));
    let sealed2 = store.sealed() - sealed0;
    parts.push(io_part(
        format!("write {} (fsync)", gb(sealed2)),
        args.cold,
        || write_packs_pass(&args.work.join("packs"), sealed2, io_threads),
    ));
    phases.push(Phase {
        key: "day2",
        label: "day-2 backup",
        parts,
    });

    // Restore the largest device's newest snapshot.
    let largest = latest
        .iter()
        .max_by_key(|s| s.summary.bytes)
        .expect("a snapshot");
    let mut parts = vec![kdf(), reads.index()];
    let (tree_parts, mut entries) = reads.trees("the device's tree", &[*largest]);
    parts.extend(tree_parts);
    let entries = entries.remove(0);
    let needed: Vec<Blob> = chunk_ids(&entries).iter().map(|id| repo.blob(id)).collect();
    let needed_bytes: u64 = needed.iter().map(|b| u64::from(b.entry.length)).sum();
    let rs = ranges(&repo, needed.iter().copied());
    parts.push(io_part(
        format!("read {} of packs", gb(needed_bytes)),
        args.cold,
        || ranges_pass(&rs, io_threads),
    ));
    parts.push(open_blobs(
        "open its blobs",
        &repo,
        &rs_blobs(&needed),
        threads,
    ));
    let files: Vec<(PathBuf, u64, i128)> = entries
        .iter()
        .filter_map(|e| {
            e.content
                .as_ref()
                .map(|c| (PathBuf::from(&e.path), c.size, c.mtime_ns))
        })
        .collect();
    let bytes: u64 = files.iter().map(|f| f.1).sum();
    let mut n = 0;
    parts.push(io_part(
        format!("write {} files, {}", files.len(), gb(bytes)),
        args.cold,
        || {
            n += 1;
            write_tree(&args.work.join(format!("restore-{n}")), &files, io_threads)
        },
    ));
    let _ = std::fs::remove_dir_all(args.work.join("restore-1"));
    let _ = std::fs::remove_dir_all(args.work.join("restore-2"));
    phases.push(Phase {
        key: "restore",
        label: "restore 1 device",
        parts,
    });

    // check --read-data.
    let mut parts = vec![kdf(), reads.index()];
    let (tree_parts, all_entries) = reads.trees("every snapshot's tree", &all);
    parts.extend(tree_parts);
    let packs: Vec<PathBuf> = repo.packs.iter().map(|(p, _)| repo.pack_path(p)).collect();
    let pack_bytes: u64 = repo.packs.iter().map(|p| p.1).sum();
    parts.push(io_part(
        format!("read every pack, {}", gb(pack_bytes)),
        args.cold,
        || read_files_pass(&packs, io_threads),
    ));
    let every: Vec<Blob> = repo.blobs.values().copied().collect();
    parts.push(open_blobs(
        "open every blob",
        &repo,
        &rs_blobs(&every),
        threads,
    ));
    phases.push(Phase {
        key: "check",
        label: "check --read-data",
        parts,
    });

    // forget (newest snapshot of each device kept) + prune.
    let mut parts = vec![kdf(), reads.index()];
    let (tree_parts, kept) = reads.trees("the kept trees", &latest);
    parts.extend(tree_parts);
    let live_m = passes::compute_pass(&[()], 1, |_, _: &mut (), clock| {
        clock.time(|| {
            let mut live = chunk_ids(kept.iter().flatten());
            live.extend(latest.iter().flat_map(|s| s.tree.iter().copied()));
            std::hint::black_box(live.len() as u64)
        })
    });
    parts.push(Part::compute("the live set", live_m));
    let mut live = chunk_ids(kept.iter().flatten());
    live.extend(latest.iter().flat_map(|s| s.tree.iter().copied()));
    let repack = prune_plan(&repo, &live);
    let repack_bytes: u64 = repack.iter().map(|b| u64::from(b.entry.length)).sum();
    let rs = ranges(&repo, repack.iter().copied());
    parts.push(io_part(
        format!("read {} to repack", gb(repack_bytes)),
        args.cold,
        || ranges_pass(&rs, io_threads),
    ));
    parts.push(io_part(
        format!("write {} (fsync)", gb(repack_bytes)),
        args.cold,
        || write_packs_pass(&args.work.join("packs"), repack_bytes, threads),
    ));
    phases.push(Phase {
        key: "prune",
        label: "forget + prune",
        parts,
    });

    // stats.
    let mut parts = vec![kdf(), reads.index()];
    let (tree_parts, _) = reads.trees("every snapshot's tree", &all);
    parts.extend(tree_parts);
    let owners: Vec<usize> = all
        .iter()
        .map(|s| {
            devices
                .iter()
                .position(|(u, _)| *u == s.device.udid)
                .unwrap()
        })
        .collect();
    let tally = passes::compute_pass(&[()], 1, |_, _: &mut (), clock| {
        clock.time(|| stats_tally(&repo, &all_entries, &owners))
    });
    parts.push(Part::compute("tally per device", tally));
    phases.push(Phase {
        key: "stats",
        label: "stats",
        parts,
    });

    print_table(&phases, threads);
    if let Some(out) = &args.json {
        std::fs::write(out, json(&phases, threads)).expect("writing the JSON");
    }
    let _ = std::fs::remove_dir_all(args.work.join("packs"));
}

fn rs_blobs(blobs: &[Blob]) -> Vec<Vec<Blob>> {
    let mut by_pack: BTreeMap<_, Vec<Blob>> = BTreeMap::new();
    for b in blobs {
        by_pack.entry(b.pack).or_default().push(*b);
    }
    by_pack.into_values().collect()
}

/// Opening `groups` of blobs (one pack each): read untimed, open timed.
fn open_blobs(name: &str, repo: &Repo, groups: &[Vec<Blob>], threads: usize) -> Part {
    let m = passes::compute_pass(groups, threads, |bs, buffers: &mut UnsealBuffers, clock| {
        let sealed = sealed_of(repo, bs);
        clock.time(|| passes::unseal_all(&repo.keys, &sealed, buffers));
        buffers.release_above(1 << 20);
        bs.iter().map(|b| u64::from(b.entry.raw_length)).sum()
    });
    Part::compute(name, m)
}

/// Creates the folders, then writes every file with its size and mtime.
fn write_tree(root: &Path, files: &[(PathBuf, u64, i128)], threads: usize) -> Measure {
    let dirs: BTreeSet<PathBuf> = files
        .iter()
        .filter_map(|f| f.0.parent().map(|p| root.join(p)))
        .collect();
    let cpu0 = hearth_benches::usage().cpu;
    let t0 = std::time::Instant::now();
    std::fs::create_dir_all(root).expect("creating the restore folder");
    dirs.iter()
        .for_each(|d| std::fs::create_dir_all(d).expect("creating a folder"));
    let m = passes::io_pass(files, threads, |(p, len, ns), buf: &mut Buf| {
        let mtime = UNIX_EPOCH + Duration::from_nanos((*ns).max(0) as u64);
        passes::write_file(&root.join(p), *len, mtime, buf)
    });
    Measure {
        wall: t0.elapsed().as_secs_f64(),
        cpu: (hearth_benches::usage().cpu - cpu0).as_secs_f64(),
        bytes: m.bytes,
    }
}

/// The live blobs of the packs prune repacks (`docs/format.md` §11a: packs with no live blob
/// go; the most wasteful of the rest are repacked until at most 5% of the bytes are unused).
fn prune_plan(repo: &Repo, live: &HashSet<ChunkId>) -> Vec<Blob> {
    let mut used: HashMap<_, (u64, Vec<Blob>)> = HashMap::new();
    for (id, b) in &repo.blobs {
        if live.contains(id) {
            let u = used.entry(b.pack).or_default();
            u.0 += u64::from(b.entry.length);
            u.1.push(*b);
        }
    }
    let mut kept: Vec<(u64, u64, Vec<Blob>)> = repo
        .packs
        .iter()
        .filter_map(|(p, len)| used.remove(p).map(|(u, bs)| (*len, u, bs)))
        .collect();
    let mut total: u64 = kept.iter().map(|k| k.0).sum();
    let mut unused: u64 = kept.iter().map(|k| k.0 - k.1.min(k.0)).sum();
    kept.sort_by_key(|k| std::cmp::Reverse(k.0 - k.1.min(k.0)));
    let mut repack = Vec::new();
    for (len, u, bs) in kept {
        if unused * 20 <= total {
            break;
        }
        unused -= len - u.min(len);
        total -= len - u.min(len);
        repack.extend(bs);
    }
    repack
}

/// Logical bytes per device, and how many of its bytes no other device has.
fn stats_tally(repo: &Repo, entries: &[Vec<Entry>], owners: &[usize]) -> u64 {
    let mut devices_of: HashMap<ChunkId, u64> = HashMap::new();
    for (es, &d) in entries.iter().zip(owners) {
        for id in chunk_ids(es) {
            *devices_of.entry(id).or_default() |= 1 << d;
        }
    }
    let mut unique = vec![0u64; 64];
    for (id, mask) in &devices_of {
        if mask.count_ones() == 1 {
            unique[mask.trailing_zeros() as usize] += u64::from(repo.blob(id).entry.raw_length);
        }
    }
    std::hint::black_box(unique);
    devices_of.len() as u64
}

fn print_table(phases: &[Phase], threads: usize) {
    let show = |f: Option<(f64, String)>| f.map_or("-".into(), |(s, _)| format!("{s:.2} s"));
    println!(
        "\n{:<20} {:>11} {:>11}  bound (cold; warm)",
        "phase", "floor cold", "floor warm"
    );
    for p in phases {
        let (c, w) = (
            floor(&p.parts, true, threads),
            floor(&p.parts, false, threads),
        );
        let bound = |f: &Option<(f64, String)>| f.as_ref().map_or("-".into(), |f| f.1.clone());
        println!(
            "{:<20} {:>11} {:>11}  {}; {}",
            p.label,
            show(c.clone()),
            show(w.clone()),
            bound(&c),
            bound(&w)
        );
    }
    println!("\nparts (wall s / CPU s, cold then warm; compute parts: CPU s of the work alone)");
    for p in phases {
        println!("{}", p.label);
        for part in &p.parts {
            let m = |m: Option<Measure>| {
                m.map_or("-".into(), |m| format!("{:.2} / {:.2}", m.wall, m.cpu))
            };
            if part.io {
                println!(
                    "  {:<44} cold {:>15}   warm {:>15}",
                    part.name,
                    m(part.cold),
                    m(Some(part.warm))
                );
            } else {
                println!("  {:<44} CPU {:>8.2}", part.name, part.warm.cpu);
            }
        }
    }
}

fn json(phases: &[Phase], threads: usize) -> String {
    let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let state = |p: &Phase, cold: bool| match floor(&p.parts, cold, threads) {
        Some((s, b)) => format!("{{\"floor\": {s:.4}, \"bound\": \"{}\"}}", esc(&b)),
        None => "{\"floor\": null}".into(),
    };
    let items: Vec<String> = phases
        .iter()
        .map(|p| {
            let parts: Vec<String> = p
                .parts
                .iter()
                .map(|part| {
                    let m = |m: Option<Measure>| {
                        m.map_or("null".into(), |m| {
                            format!("{{\"wall\": {:.4}, \"cpu\": {:.4}, \"bytes\": {}}}", m.wall, m.cpu, m.bytes)
                        })
                    };
                    format!(
                        "{{\"name\": \"{}\", \"io\": {}, \"cold\": {}, \"warm\": {}}}",
                        esc(&part.name),
                        part.io,
                        m(part.cold),
                        m(Some(part.warm))
                    )
                })
                .collect();
            format!(
                "{{\"phase\": \"{}\", \"label\": \"{}\", \"cold\": {}, \"warm\": {}, \"parts\": [{}]}}",
                p.key,
                p.label,
                state(p, true),
                state(p, false),
                parts.join(", ")
            )
        })
        .collect();
    format!(
        "{{\"threads\": {threads}, \"phases\": [{}]}}\n",
        items.join(",\n ")
    )
}
