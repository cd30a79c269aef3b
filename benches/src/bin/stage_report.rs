//! How close the backup comes to the machine's limit, in one run: the raw throughput of each
//! stage on this machine (one thread and all cores), then a backup of a generated household,
//! and the backup's rate as a share of the slowest stage and of the ideal that the stage rates
//! allow for this household's mix of bytes.
//!
//! Usage: `cargo run -p hearth-benches --release --bin stage_report -- [BYTES [WORKDIR]]`
//! (default 300000000 bytes, the system's temporary folder).
//!
//! Stages, each on its own input and timed as the best of 3 passes (MB/s of plaintext input):
//!
//! - read: a 256 MiB file in the page cache, 4 MiB `read`s;
//! - FastCDC: `chunk_slice` of 64 MiB of photo-like bytes with the repository's chunker;
//! - BLAKE3: keyed chunk ids of those chunks;
//! - zstd-3: each chunk of a 64 MiB SQLite database, as the repository cuts it (8 KiB pages),
//!   compressed with one reused context (as `prepare` does);
//! - XChaCha20-Poly1305: `Keys::seal` of each photo chunk;
//! - pack write: `LocalBackend::put` of 16 MiB packs (write, fsync, link) into WORKDIR: an upper
//!   bound, since a backup stages its packs and fsyncs them in batches.
//!
//! "All cores" runs the same pass on every core at once, each thread on its own copy of the
//! work (pack writes into their own names), and counts the bytes of all threads.
//!
//! The ideal for the household: every byte is read, cut and hashed; the distinct chunks of
//! SQLite databases, and the others that pass the entropy test, go through zstd; every distinct chunk (compressed or not) is sealed;
//! the stored bytes are written in packs. The sum of those costs at the all-cores rates is the
//! wall time of a perfectly overlapped pipeline with no other work.

use hearth_benches::{
    MIB, backup_household, chunks_of, fresh_repo, load_average, photo_like, settle_disk,
    sqlite_like, total_len, usage,
};
use hearth_crypto::Keys;
use hearth_format::{BlobKind, ChunkId, Compression, PackEntry};
use hearth_repo::looks_incompressible;
use hearth_storage::{Backend, FileType, LocalBackend};
use hearth_testkit::{HouseholdSpec, files_under, generate};
use std::collections::HashSet;
use std::hint::black_box;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

const DEFAULT_BYTES: u64 = 300_000_000;
const PASSES: usize = 3;

/// One stage's rates, MB/s of input.
struct Rate {
    name: &'static str,
    input: &'static str,
    one: f64,
    all: f64,
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Best of [`PASSES`] runs of `pass` on one thread and on every core at once; `pass(thread)`
/// returns the bytes it processed.
fn measure(name: &'static str, input: &'static str, pass: &(dyn Fn(usize) -> u64 + Sync)) -> Rate {
    let best = |threads: usize| -> f64 {
        (0..PASSES)
            .map(|_| {
                let t = Instant::now();
                let bytes: u64 = std::thread::scope(|s| {
                    let handles: Vec<_> = (0..threads).map(|i| s.spawn(move || pass(i))).collect();
                    handles.into_iter().map(|h| h.join().unwrap()).sum()
                });
                bytes as f64 / 1e6 / t.elapsed().as_secs_f64()
            })
            .fold(0.0, f64::max)
    };
    let one = best(1);
    let all = best(cores());
    println!(
        "  {name:<22} {input:<28} {one:9.0} {all:9.0} {:6.2}",
        all / one
    );
    Rate {
        name,
        input,
        one,
        all,
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let bytes: u64 = match args.next() {
        None => DEFAULT_BYTES,
        Some(a) => a.parse().unwrap_or_else(|_| {
            eprintln!("usage: stage_report [BYTES [WORKDIR]]");
            std::process::exit(2)
        }),
    };
    let work = match args.next() {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("a temporary folder");
    let w = work.path();
    println!(
        "stage_report: {} cores, load average {}, under {}",
        cores(),
        load_average().map_or("unknown".into(), |l| format!("{l:.2}")),
        w.display()
    );

    // The household first, so that generating it does not overlap the stage passes, and a
    // repository only for its keys and chunker (the backup gets a fresh one).
    let household = generate(&HouseholdSpec::bench(bytes), &w.join("Backup"))
        .expect("generating the household");
    let keys_repo = fresh_repo(&w.join("keys"));
    let keys: &Keys = keys_repo.keys();
    let chunker = keys_repo.chunker();
    let level = keys_repo.config().zstd_level;

    let photo = photo_like(64 * MIB, 1);
    let db = sqlite_like(64 * MIB, 2);
    let photo_chunks = chunks_of(&chunker, &photo);
    let db_chunks = chunks_of(&chunker, &db);
    let big = w.join("big.bin");
    std::fs::write(&big, photo_like(256 * MIB, 3)).expect("writing the read input");
    let pack = photo_like(16 * MIB, 4);
    let packs = LocalBackend::create(&w.join("packs")).expect("a pack folder");
    let pack_no = AtomicU64::new(0);
    settle_disk();
    let aad = PackEntry::blob_aad(&ChunkId([7; 32]), BlobKind::Data, Compression::None);

    println!(
        "stages, MB/s of input (best of {PASSES}):  {:<28} {:>9} {:>9} {:>6}",
        "input",
        "1 thread",
        format!("{} thr.", cores()),
        "x"
    );
    let mut rates = vec![
        measure("read (page cache)", "256 MiB file, 4 MiB reads", &|_| {
            let mut f = std::fs::File::open(&big).expect("opening the read input");
            let mut buf = vec![0u8; 4 * MIB];
            let mut n = 0u64;
            loop {
                match f.read(&mut buf).expect("reading") {
                    0 => break n,
                    k => n += k as u64,
                }
            }
        }),
        measure("FastCDC", "64 MiB photo-like", &|_| {
            let mut n = 0u64;
            chunker
                .chunk_slice(&photo, |c| {
                    n += c.len() as u64;
                    Ok::<_, ()>(())
                })
                .expect("cutting");
            n
        }),
        measure("BLAKE3 (keyed ids)", "photo-like chunks", &|_| {
            for c in &photo_chunks {
                black_box(keys.chunk_id(c));
            }
            total_len(&photo_chunks)
        }),
        measure("zstd-3", "SQLite chunks", &|_| {
            // One context per thread, reused, as `prepare` does.
            let mut z = zstd::bulk::Compressor::new(level).expect("a zstd context");
            for c in &db_chunks {
                black_box(z.compress(c).expect("compressing"));
            }
            total_len(&db_chunks)
        }),
        measure("XChaCha20-Poly1305", "photo-like chunks", &|_| {
            for c in &photo_chunks {
                black_box(keys.seal(&aad, c));
            }
            total_len(&photo_chunks)
        }),
        measure("pack write (fsync)", "16 MiB packs, 4 per pass", &|_| {
            for _ in 0..4 {
                let name = format!("{:064x}", pack_no.fetch_add(1, Ordering::Relaxed));
                packs
                    .put(FileType::Pack, &name, &pack)
                    .expect("writing a pack");
            }
            4 * pack.len() as u64
        }),
    ];
    // What the pipeline adds per chunk besides these (entropy test), for the record.
    rates.push(measure("entropy test", "photo-like chunks", &|_| {
        for c in &photo_chunks {
            black_box(looks_incompressible(c));
        }
        total_len(&photo_chunks)
    }));
    std::fs::remove_file(&big).expect("removing the read input");
    std::fs::remove_dir_all(w.join("packs")).expect("removing the packs");
    drop((photo, db, photo_chunks, db_chunks));

    // The household's mix: what each stage has to do for it.
    let mut files = Vec::new();
    for d in &household.devices {
        files.extend(files_under(&d.folder).expect("listing a device folder"));
    }
    let (mut all_bytes, mut distinct, mut zstd_in, mut zstd_out) = (0u64, 0u64, 0u64, 0u64);
    let mut seen = HashSet::new();
    for path in &files {
        let data = std::fs::read(path).expect("reading a household file");
        all_bytes += data.len() as u64;
        chunker
            .cut_slice(&data, |cut, c| {
                if seen.insert(keys.chunk_id(c)) {
                    distinct += c.len() as u64;
                    let sample = cut.content() == hearth_chunker::Content::Unknown;
                    if !(sample && looks_incompressible(c)) {
                        zstd_in += c.len() as u64;
                        let z = zstd::bulk::compress(c, level).expect("compressing");
                        zstd_out += (z.len() as u64).min(c.len() as u64);
                    }
                }
                Ok::<_, ()>(())
            })
            .expect("cutting");
    }
    let sealed = distinct - zstd_in + zstd_out;
    drop(keys_repo);
    settle_disk();

    // The backup itself, into an empty repository on the same disk.
    let load = load_average();
    let u0 = usage();
    let t = Instant::now();
    let stats = {
        let repo = fresh_repo(&w.join("hearth"));
        backup_household(&repo, &household)
    };
    let wall = t.elapsed().as_secs_f64();
    let cpu = (usage() - u0).cpu.as_secs_f64();
    let pipeline = all_bytes as f64 / 1e6 / wall;

    let get = |name: &str| rates.iter().find(|r| r.name == name).expect("a stage");
    // Seconds each stage needs for the household's bytes at its all-cores rate.
    let parts = [
        ("read (page cache)", all_bytes),
        ("FastCDC", all_bytes),
        ("BLAKE3 (keyed ids)", all_bytes),
        ("entropy test", distinct),
        ("zstd-3", zstd_in),
        ("XChaCha20-Poly1305", sealed),
        ("pack write (fsync)", stats.stored_bytes),
    ];
    println!(
        "household: {} files, {all_bytes} bytes; {distinct} distinct, {zstd_in} of them through zstd \
         (to {zstd_out}), {sealed} sealed, {} stored",
        files.len(),
        stats.stored_bytes
    );
    println!("ideal wall time at the all-cores stage rates:");
    let (mut ideal, mut cpu_ideal, mut one_cpu) = (0.0, 0.0, 0.0);
    for (name, b) in parts {
        let s = b as f64 / 1e6 / get(name).all;
        if name != "pack write (fsync)" {
            one_cpu += b as f64 / 1e6 / get(name).one;
        }
        ideal += s;
        if name != "pack write (fsync)" {
            cpu_ideal += s;
        }
        println!("  {name:<22} {:>12} bytes {s:7.3} s", b);
    }
    let ideal_rate = all_bytes as f64 / 1e6 / ideal;
    let cpu_rate = all_bytes as f64 / 1e6 / cpu_ideal;
    println!(
        "  {:<22} {:>12}       {cpu_ideal:7.3} s = {cpu_rate:.0} MB/s (pack writes overlapped)",
        "sum without pack write", ""
    );
    println!(
        "  {:<22} {:>12}       {ideal:7.3} s = {ideal_rate:.0} MB/s",
        "sum", ""
    );
    let slowest = rates
        .iter()
        .filter(|r| r.name != "entropy test")
        .min_by(|a, b| a.all.total_cmp(&b.all))
        .expect("a stage");
    println!(
        "backup of the household into an empty repository: {wall:.3} s, {pipeline:.0} MB/s, {cpu:.3} CPU s \
         ({:.2} cores), load average {}",
        cpu / wall,
        load.map_or("unknown".into(), |l| format!("{l:.2}"))
    );
    println!(
        "CPU: the stages need {one_cpu:.3} CPU s for this household on one thread (pack writes aside); \
         the backup used {cpu:.3} CPU s, so {:.0}% of its CPU went to stage work and {:.0}% elsewhere",
        100.0 * one_cpu / cpu,
        100.0 * (1.0 - one_cpu / cpu)
    );
    println!(
        "pipeline / slowest stage ({} on {}, {:.0} MB/s on {} cores): {:.2}",
        slowest.name,
        slowest.input,
        slowest.all,
        cores(),
        pipeline / slowest.all
    );
    println!(
        "pipeline / ideal for this household: {:.2} of {ideal_rate:.0} MB/s (every stage in turn), \
         {:.2} of {cpu_rate:.0} MB/s (pack writes overlapped)",
        pipeline / ideal_rate,
        pipeline / cpu_rate
    );
}
