//! Peak memory of the same backup into an empty repository and into one that already holds
//! several times its data: does a backup's memory grow with the repository?
//!
//! Usage: `cargo run -p hearth-benches --release --bin memory_report -- [BYTES [FACTOR [RUNS [WORKDIR]]]]`
//! (default 250000000 bytes, factor 4, 3 runs, the system's temporary folder).
//!
//! It generates the measured household, `HouseholdSpec::bench(BYTES)` with its own seed (so its
//! three devices are new to any repository: no parent snapshot, no shared chunk), and a prior
//! household `HouseholdSpec::bench(FACTOR × BYTES)` with another seed, backed up on two days
//! (`next_day` with 5% of the files changed between) into a base repository. Then, RUNS times
//! and alternating which goes first, it backs the measured household up
//!
//! - (a) into a fresh, empty repository, and
//! - (b) into a copy of the base repository (its packs, index and warm cache),
//!
//! each in a child process (this binary, `--backup-child`), so that the peak RSS (`VmHWM` of a
//! fresh process) is the backup's alone. The child opens the repository, takes the lock, backs
//! every device up through one write session and finishes it, printing its resident memory
//! after opening, after each device and at the end, and the blobs indexed before and after.
//!
//! Printed: one line per child, then the medians and the ratio (b)/(a) of the peak RSS and of
//! the peak above the open repository's. The target is a ratio within 1.2.

use hearth_benches::{PASSWORD, cpu_time, fresh_repo, load_average, peak_rss, repo_options, rss};
use hearth_ingest::{IngestOptions, backup_device};
use hearth_repo::{NoProgress, Repository};
use hearth_storage::LocalBackend;
use hearth_testkit::{DayOptions, HouseholdSpec, generate, next_day};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const DEFAULT_BYTES: u64 = 250_000_000;
const DEFAULT_FACTOR: u64 = 4;
const DEFAULT_RUNS: u32 = 3;
/// The measured household's seed: any seed other than `bench`'s own gives new devices.
const MEASURED_SEED: u64 = 0x6d65_6173_7572_6564;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--backup-child") {
        backup_child(Path::new(&args[1]), &args[2..]);
        return;
    }
    if args.first().map(String::as_str) == Some("--probe-child") {
        probe_child(Path::new(&args[1]));
        return;
    }
    let usage = || -> ! {
        eprintln!("usage: memory_report [BYTES [FACTOR [RUNS [WORKDIR]]]]");
        std::process::exit(2)
    };
    let num = |i: usize, default: u64| -> u64 {
        args.get(i)
            .map_or(Ok(default), |a| a.parse())
            .unwrap_or_else(|_| usage())
    };
    let bytes = num(0, DEFAULT_BYTES);
    let factor = num(1, DEFAULT_FACTOR);
    let runs = num(2, DEFAULT_RUNS as u64) as u32;
    if factor == 0 || runs == 0 {
        usage();
    }
    let work = match args.get(3) {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("a temporary folder");
    let w = work.path();
    println!(
        "memory_report: {bytes} bytes measured, a base repository of {factor}x that on 2 days, {runs} runs, \
         under {}; {} cores; load average {}",
        w.display(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_average().map_or("unknown".into(), |l| format!("{l:.2}"))
    );

    let t = Instant::now();
    let measured = generate(
        &HouseholdSpec::bench(bytes).with_seed(MEASURED_SEED),
        &w.join("measured"),
    )
    .expect("generating the measured household");
    println!(
        "measured household: {} devices, {} files, {} bytes (generated in {:.1} s)",
        measured.devices.len(),
        measured.files(),
        measured.bytes(),
        t.elapsed().as_secs_f64()
    );
    let folders: Vec<PathBuf> = measured.devices.iter().map(|d| d.folder.clone()).collect();

    // The base repository: the prior household, backed up on two days.
    let t = Instant::now();
    let base = w.join("base");
    let prior_dir = w.join("prior");
    let prior = generate(&HouseholdSpec::bench(factor * bytes), &prior_dir)
        .expect("generating the prior household");
    {
        let repo = fresh_repo(&base);
        for day in 1..=2 {
            if day > 1 {
                let night = DayOptions {
                    changed_fraction: 0.05,
                    ..DayOptions::default()
                };
                next_day(&prior, day - 1, &night).expect("a night of edits");
            }
            backup_all(&repo, prior.devices.iter().map(|d| d.folder.as_path()));
        }
        println!(
            "base repository: {} bytes of household backed up on 2 days, {} blobs indexed, {:.1} MiB of packs, \
             {:.1} MiB of cache (set up in {:.1} s)",
            prior.bytes(),
            repo.cache().blob_count().expect("counting blobs"),
            dir_bytes(&base.join("repo")) as f64 / 1048576.0,
            dir_bytes(&base.join("cache")) as f64 / 1048576.0,
            t.elapsed().as_secs_f64()
        );
    }
    std::fs::remove_dir_all(&prior_dir).expect("removing the prior household");
    hearth_benches::settle_disk();

    let mut results: BTreeMap<&str, Vec<Child>> = BTreeMap::new();
    for run in 0..runs {
        let order: [&str; 2] = if run % 2 == 0 {
            ["empty", "full"]
        } else {
            ["full", "empty"]
        };
        for which in order {
            let dir = w.join(format!("run-{which}"));
            if which == "empty" {
                drop(fresh_repo(&dir));
            } else {
                copy_dir(&base, &dir);
            }
            hearth_benches::settle_disk();
            let load = load_average();
            let t = Instant::now();
            let out = Command::new(std::env::current_exe().expect("this binary"))
                .arg("--backup-child")
                .arg(&dir)
                .args(&folders)
                .output()
                .expect("running the backup child");
            let wall = t.elapsed();
            assert!(
                out.status.success(),
                "the backup child failed: {}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            let c = Child::parse(&String::from_utf8_lossy(&out.stdout));
            let mib = |b: u64| b as f64 / 1048576.0;
            let label = if which == "full" {
                format!("{factor}x")
            } else {
                which.to_owned()
            };
            println!(
                "run {} {label:>5}: peak RSS {:6.1} MiB (open {:5.1}, after each device {}; {:5.1} above open); \
                 blobs {} -> {}; backup {:.2} s wall, {:.2} CPU s, process {:.2} s; load {}",
                run + 1,
                mib(c.peak_rss),
                mib(c.rss_open),
                c.rss_devices
                    .iter()
                    .map(|r| format!("{:.1}", mib(*r)))
                    .collect::<Vec<_>>()
                    .join("/"),
                mib(c.peak_rss.saturating_sub(c.rss_open)),
                c.blobs_before,
                c.blobs_after,
                c.backup.as_secs_f64(),
                c.cpu.as_secs_f64(),
                wall.as_secs_f64(),
                load.map_or("unknown".into(), |l| format!("{l:.2}"))
            );
            results.entry(which).or_default().push(c);
            std::fs::remove_dir_all(&dir).expect("removing the run's repository");
        }
    }

    let median = |which: &str, f: &dyn Fn(&Child) -> f64| -> f64 {
        let mut v: Vec<f64> = results[which].iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mib = 1048576.0;
    let rows: [Metric; 4] = [
        ("peak RSS (MiB)", &|c| c.peak_rss as f64 / mib),
        ("RSS once open (MiB)", &|c| c.rss_open as f64 / mib),
        ("peak above open (MiB)", &|c| {
            c.peak_rss.saturating_sub(c.rss_open) as f64 / mib
        }),
        ("backup seconds", &|c| c.backup.as_secs_f64()),
    ];
    println!("medians of {runs} runs:      empty        {factor}x    {factor}x/empty");
    for (name, f) in rows {
        let (a, b) = (median("empty", f), median("full", f));
        println!("  {name:<24} {a:8.2} {b:8.2} {:8.3}", b / a);
    }
    let (a, b) = (
        median("empty", &|c| c.peak_rss as f64),
        median("full", &|c| c.peak_rss as f64),
    );
    println!(
        "target: peak RSS into the {factor}x repository within 20% of the empty one's: {} ({:+.1}%)",
        if b <= 1.2 * a { "met" } else { "NOT met" },
        100.0 * (b / a - 1.0)
    );

    // Where the open repository's memory goes, step by step, in a fresh process.
    for (name, dir) in [("empty", None), ("full", Some(&base))] {
        let probe = w.join(format!("probe-{name}"));
        match dir {
            Some(base) => copy_dir(base, &probe),
            None => drop(fresh_repo(&probe)),
        }
        let out = Command::new(std::env::current_exe().expect("this binary"))
            .arg("--probe-child")
            .arg(&probe)
            .output()
            .expect("running the probe child");
        assert!(
            out.status.success(),
            "the probe child failed: {}",
            out.status
        );
        println!(
            "resident memory of a fresh process opening the {} repository, step by step (MiB):",
            if dir.is_some() {
                format!("{factor}x")
            } else {
                name.to_owned()
            }
        );
        print!("{}", String::from_utf8_lossy(&out.stdout));
        std::fs::remove_dir_all(&probe).expect("removing the probe's repository");
    }
}

/// Opens the index cache and reads each of its tables in turn, printing the resident memory
/// after each step; then opens the repository as a backup does.
fn probe_child(dir: &Path) {
    let mib = |b: u64| b as f64 / 1048576.0;
    let step = |name: &str| println!("  {name:<48} {:6.1}", mib(rss()));
    step("start");
    let path = find_file(&dir.join("cache"), "index.redb").expect("the cache's index.redb");
    {
        let cache = hearth_index::IndexCache::open(&path).expect("opening the cache");
        step(&format!(
            "IndexCache::open ({:.1} MiB file)",
            mib(std::fs::metadata(&path).map_or(0, |m| m.len()))
        ));
        let n = cache.segments().expect("segments").len();
        step(&format!("segments() ({n} segments)"));
        let snaps = cache.snapshots().expect("snapshots");
        let bytes: usize = snaps.iter().map(|(_, p)| p.len()).sum();
        step(&format!(
            "snapshots() ({} snapshots, {:.2} MiB of payload)",
            snaps.len(),
            mib(bytes as u64)
        ));
        drop(snaps);
        let n = cache.packs().expect("packs").len();
        step(&format!("packs() ({n} packs)"));
        let mut blobs = 0u64;
        cache
            .for_each_blob(|_, _| blobs += 1)
            .expect("reading every blob");
        step(&format!(
            "for_each_blob() ({blobs} blobs: all leaves cached)"
        ));
    }
    step("cache closed");
    let backend = Arc::new(LocalBackend::open(&dir.join("repo")));
    let repo =
        Repository::open(backend, PASSWORD, &repo_options(dir)).expect("opening the repository");
    step("Repository::open in the same process");
    drop(repo);
    println!("  peak {:.1}", mib(peak_rss().unwrap_or(0)));
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = find_file(&p, name) {
                return Some(f);
            }
        } else if e.file_name() == name {
            return Some(p);
        }
    }
    None
}

/// A row of the summary: its name and what it reads from a child.
type Metric<'a> = (&'a str, &'a dyn Fn(&Child) -> f64);

fn backup_all<'a>(repo: &Repository, folders: impl Iterator<Item = &'a Path>) {
    let lock = repo
        .lock_shared(Duration::ZERO, &|_| {})
        .expect("locking the repository");
    let session = repo.write_session(&lock).expect("starting a write session");
    for f in folders {
        backup_device(repo, &session, f, &IngestOptions::default(), &NoProgress)
            .expect("backing up a device");
    }
    session.finish().expect("finishing the write session");
}

/// What a backup child measured (one `key value` line each on its stdout).
#[derive(Debug, Default)]
struct Child {
    backup: Duration,
    cpu: Duration,
    peak_rss: u64,
    rss_open: u64,
    rss_devices: Vec<u64>,
    blobs_before: u64,
    blobs_after: u64,
}

impl Child {
    fn parse(out: &str) -> Child {
        let kv: BTreeMap<&str, &str> = out.lines().filter_map(|l| l.split_once(' ')).collect();
        let n = |k: &str| -> u64 {
            kv.get(k)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("the backup child printed no {k}:\n{out}"))
        };
        let rss_devices = kv
            .get("rss_devices")
            .map(|v| v.split(',').filter_map(|x| x.parse().ok()).collect())
            .unwrap_or_default();
        Child {
            backup: Duration::from_nanos(n("backup_ns")),
            cpu: Duration::from_nanos(n("cpu_ns")),
            peak_rss: n("peak_rss"),
            rss_open: n("rss_open"),
            rss_devices,
            blobs_before: n("blobs_before"),
            blobs_after: n("blobs_after"),
        }
    }
}

/// The backup, alone in its process: open, lock, back every device folder up through one write
/// session, finish; prints `key value` lines.
fn backup_child(dir: &Path, folders: &[String]) {
    // As the `hearth` binary does first thing (crates/cli/src/main.rs): a fixed glibc mmap
    // threshold, so freed media blobs go back to the system instead of fragmenting the heap.
    // SAFETY: no other thread exists yet; M_MMAP_THRESHOLD takes a byte count.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 512 * 1024);
    }
    let cpu0 = cpu_time();
    let backend = Arc::new(LocalBackend::open(&dir.join("repo")));
    let repo =
        Repository::open(backend, PASSWORD, &repo_options(dir)).expect("opening the repository");
    let blobs_before = repo.cache().blob_count().expect("counting blobs");
    let rss_open = rss();
    let t = Instant::now();
    let mut rss_devices = Vec::new();
    {
        let lock = repo
            .lock_shared(Duration::ZERO, &|_| {})
            .expect("locking the repository");
        let session = repo.write_session(&lock).expect("starting a write session");
        for f in folders {
            backup_device(
                &repo,
                &session,
                Path::new(f),
                &IngestOptions::default(),
                &NoProgress,
            )
            .expect("backing up a device");
            rss_devices.push(rss().to_string());
        }
        session.finish().expect("finishing the write session");
    }
    let backup = t.elapsed();
    let cpu = cpu_time() - cpu0;
    let blobs_after = repo.cache().blob_count().expect("counting blobs");
    println!("backup_ns {}", backup.as_nanos());
    println!("cpu_ns {}", cpu.as_nanos());
    println!("peak_rss {}", peak_rss().unwrap_or(0));
    println!("rss_open {rss_open}");
    println!("rss_devices {}", rss_devices.join(","));
    println!("blobs_before {blobs_before}");
    println!("blobs_after {blobs_after}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("creating a folder");
    for e in std::fs::read_dir(from).expect("listing a folder") {
        let e = e.expect("a folder entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("a file type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copying a file");
        }
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(dir).expect("listing a folder").flatten() {
        let t = e.file_type().expect("a file type");
        if t.is_dir() {
            n += dir_bytes(&e.path());
        } else {
            n += e.metadata().map_or(0, |m| m.len());
        }
    }
    n
}
