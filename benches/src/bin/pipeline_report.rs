//! One backup and one restore of a generated household, with wall time, CPU time, CPU
//! utilisation and peak memory; then the same bytes through each stage alone on one thread, to
//! show where the pipeline's time goes.
//!
//! Usage: `cargo run -p hearth-benches --release --bin pipeline_report -- [BYTES [WORKDIR]]`
//! (default 200000000 bytes, in the system's temporary folder; `/dev/shm` as WORKDIR takes the
//! disk out). The household is `HouseholdSpec::bench(BYTES)`; its files are in the page cache
//! when the backup reads them (they were just written, then `sync`ed so that the backup's fsyncs
//! do not wait on their writeback).
//!
//! CPU utilisation is CPU seconds over wall seconds: 2.0 means both cores of this machine were
//! busy the whole time. Peak RSS is `VmHWM`, reset before each phase through
//! `/proc/self/clear_refs` so that each phase is measured alone.

use hearth_benches::{
    Usage, backup_household_timed, fresh_repo, generate_bench_household, load_average, peak_rss,
    reset_peak_rss, usage,
};
use hearth_format::BlobKind;
use hearth_repo::prepare;
use hearth_repo::{NoProgress, Repository};
use hearth_testkit::{Household, files_under};
use std::collections::HashSet;
use std::io::Read;
use std::time::{Duration, Instant};

const DEFAULT_BYTES: u64 = 200_000_000;

/// What one phase cost.
struct Measured {
    bytes: u64,
    wall: Duration,
    cpu: Duration,
    used: Usage,
    load: Option<f64>,
    peak_rss: Option<u64>,
    reset_ok: bool,
}

impl Measured {
    fn run<T>(bytes: impl FnOnce(&T) -> u64, f: impl FnOnce() -> T) -> (T, Measured) {
        let reset_ok = reset_peak_rss();
        let (u0, t0) = (usage(), Instant::now());
        let out = f();
        let used = usage() - u0;
        let m = Measured {
            wall: t0.elapsed(),
            cpu: used.cpu,
            used,
            load: load_average(),
            peak_rss: peak_rss(),
            bytes: bytes(&out),
            reset_ok,
        };
        (out, m)
    }

    fn print(&self, name: &str) {
        let wall = self.wall.as_secs_f64();
        let cpu = self.cpu.as_secs_f64();
        println!("{name}:");
        println!("  bytes            {}", self.bytes);
        println!("  wall seconds     {wall:.3}");
        println!("  MB/s             {:.1}", self.bytes as f64 / 1e6 / wall);
        println!(
            "  CPU seconds      {cpu:.3} ({:.3} in the kernel)",
            self.used.system.as_secs_f64()
        );
        println!(
            "  CPU utilisation  {:.2} (of {} cores)",
            cpu / wall,
            cores()
        );
        match self.peak_rss {
            Some(b) => println!(
                "  peak RSS         {:.1} MiB{}",
                b as f64 / 1048576.0,
                if self.reset_ok {
                    ""
                } else {
                    " (process-wide: the kernel refused to reset VmHWM)"
                }
            ),
            None => println!("  peak RSS         unknown (no /proc/self/status)"),
        }
        println!(
            "  context switches {} waits, {} preemptions; load average {}",
            self.used.waits,
            self.used.preempted,
            self.load.map_or("unknown".into(), |l| format!("{l:.2}"))
        );
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let bytes = match args.next() {
        None => DEFAULT_BYTES,
        Some(a) => a.parse().unwrap_or_else(|_| {
            eprintln!(
                "usage: pipeline_report [BYTES [WORKDIR]]   (a household of about BYTES bytes, \
                 generated and backed up under WORKDIR, default the temporary folder)"
            );
            std::process::exit(2)
        }),
    };
    let work = match args.next() {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("a temporary folder");
    let household = generate_bench_household(bytes, work.path());
    println!(
        "load average before the backup: {}",
        load_average().map_or("unknown".into(), |l| format!("{l:.2}"))
    );

    let repo_dir = work.path().join("hearth");
    let (repo, backup) = Measured::run(
        |_| household.bytes(),
        || {
            let repo = fresh_repo(&repo_dir);
            let stats = backup_household_timed(&repo, &household, print_step);
            println!(
                "backup wrote {} blobs, {} raw bytes, {} stored bytes",
                stats.blobs, stats.raw_bytes, stats.stored_bytes
            );
            repo
        },
    );
    backup.print("backup (all devices, empty repository)");

    let device = &household.devices[0];
    let out = work.path().join("restored");
    let (_, restore) = Measured::run(
        |r: &hearth_restore::RestoreReport| r.bytes,
        || {
            let (_, snap) = repo
                .find_snapshot(&format!("{}@latest", device.udid))
                .expect("the device's snapshot");
            let plan = hearth_restore::plan_restore(&repo, &snap, &Default::default())
                .expect("planning the restore");
            hearth_restore::execute(&repo, &plan, &out, &NoProgress).expect("restoring")
        },
    );
    restore.print(&format!("restore ({})", device.name));

    println!();
    stage_breakdown(&repo, &household, &backup);
}

fn print_step(name: &str, bytes: u64, wall: Duration, cpu: Duration) {
    let (wall, cpu) = (wall.as_secs_f64(), cpu.as_secs_f64());
    println!(
        "  {name:<16} {wall:6.3} s wall {cpu:6.3} s CPU ({:.2} cores) {:7.1} MB/s",
        cpu / wall,
        bytes as f64 / 1e6 / wall
    );
}

/// The household's bytes through each stage alone, on one thread, doing the pipeline's work:
/// read every file, cut it, id every chunk, and prepare (entropy test, zstd, seal) each distinct
/// chunk once.
fn stage_breakdown(repo: &Repository, household: &Household, backup: &Measured) {
    let keys = repo.keys();
    let chunker = repo.chunker();
    let level = repo.config().zstd_level;
    let mut files = Vec::new();
    for d in &household.devices {
        files.extend(files_under(&d.folder).expect("listing a device folder"));
    }
    let (mut read, mut cut, mut id, mut prep) = (
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
    );
    let (mut bytes, mut unique_bytes, mut compressed_raw) = (0u64, 0u64, 0u64);
    let mut seen = HashSet::new();
    let mut buf = Vec::new();
    for path in &files {
        buf.clear();
        let t = Instant::now();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut buf))
            .expect("reading a household file");
        read += t.elapsed();
        bytes += buf.len() as u64;

        let t = Instant::now();
        // `chunk_slice` lends each chunk only inside the callback; keep the lengths.
        let mut lens = Vec::new();
        chunker
            .chunk_slice(&buf, |c| {
                lens.push(c.len());
                Ok::<_, ()>(())
            })
            .expect("cutting never fails");
        cut += t.elapsed();
        let mut chunks = Vec::with_capacity(lens.len());
        let mut rest = buf.as_slice();
        for n in lens {
            let (c, r) = rest.split_at(n);
            chunks.push(c);
            rest = r;
        }

        let t = Instant::now();
        let ids: Vec<_> = chunks.iter().map(|c| keys.chunk_id(c)).collect();
        id += t.elapsed();

        let t = Instant::now();
        for (c, i) in chunks.iter().zip(ids) {
            if seen.insert(i) {
                let p = prepare(keys, level, BlobKind::Data, i, c);
                unique_bytes += c.len() as u64;
                if p.compression == hearth_format::Compression::Zstd {
                    compressed_raw += c.len() as u64;
                }
                std::hint::black_box(p);
            }
        }
        prep += t.elapsed();
    }
    let rate = |d: Duration, b: u64| b as f64 / 1e6 / d.as_secs_f64();
    println!(
        "stages alone, one thread, same household ({} files):",
        files.len()
    );
    println!(
        "  read (page cache)       {:7.3} s  {:8.1} MB/s",
        read.as_secs_f64(),
        rate(read, bytes)
    );
    println!(
        "  FastCDC                 {:7.3} s  {:8.1} MB/s",
        cut.as_secs_f64(),
        rate(cut, bytes)
    );
    println!(
        "  keyed BLAKE3 ids        {:7.3} s  {:8.1} MB/s",
        id.as_secs_f64(),
        rate(id, bytes)
    );
    println!(
        "  prepare distinct chunks {:7.3} s  {:8.1} MB/s of all input ({} distinct bytes, {} of them zstd-compressed)",
        prep.as_secs_f64(),
        rate(prep, bytes),
        unique_bytes,
        compressed_raw
    );
    let sum = read + cut + id + prep;
    let ideal_wall = sum.as_secs_f64() / cores() as f64;
    println!(
        "  sum                     {:7.3} s  {:8.1} MB/s on one core; {:.1} MB/s if spread over {} cores",
        sum.as_secs_f64(),
        rate(sum, bytes),
        bytes as f64 / 1e6 / ideal_wall,
        cores()
    );
    let cpu = backup.cpu.as_secs_f64();
    println!(
        "backup used {:.3} CPU s against {:.3} s of stage work: {:.3} s ({:.0}%) elsewhere (pack writes, index, \
         Manifest.db, snapshot, allocation, system time); its wall {:.3} s reaches {:.0}% of the {:.3} s ideal",
        cpu,
        sum.as_secs_f64(),
        cpu - sum.as_secs_f64(),
        100.0 * (cpu - sum.as_secs_f64()) / cpu,
        backup.wall.as_secs_f64(),
        100.0 * ideal_wall / backup.wall.as_secs_f64(),
        ideal_wall
    );
}
