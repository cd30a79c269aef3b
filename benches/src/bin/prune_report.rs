//! Prune at two repository sizes: time (open, plan, run) and peak memory, and how they grow.
//!
//! Usage: `cargo run -p hearth-benches --release --bin prune_report -- [BYTES [DAYS [WORKDIR]]]`
//! (default 500000000 bytes, 4 days, the system's temporary folder).
//!
//! For each scale (1x and 4x BYTES) it generates `HouseholdSpec::bench(scale × BYTES)`, backs
//! every device up on DAYS days (`next_day` between: new photos, database rows, rewritten small
//! files, deleted caches), forgets the older half of each device's snapshots, and then prunes
//! in a child process (this same binary, `--prune-child`), so that its peak RSS is the
//! prune's alone (`VmHWM` of a fresh process; the generator and the backups ran in the
//! parent). The child opens the repository with its cache warm (as `hearth prune` would), takes
//! the exclusive lock, plans (the live set goes into a redb file, not memory) and carries the
//! plan out at the default `--max-unused` of 5%.
//!
//! Printed per scale: the repository (snapshots, packs, blobs, bytes), the plan, wall seconds
//! of each phase, CPU seconds and peak RSS; then the 4x/1x ratios. Bounded memory means the
//! RSS ratio stays well under the 4x of the data.

use hearth_benches::{
    PASSWORD, backup_household, cpu_time, fresh_repo, load_average, peak_rss, repo_options, rss,
};
use hearth_repo::{NoProgress, PruneOptions, Repository};
use hearth_storage::LocalBackend;
use hearth_testkit::{DayOptions, HouseholdSpec, generate, next_day};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const DEFAULT_BYTES: u64 = 500_000_000;
const DEFAULT_DAYS: u32 = 4;
const SCALES: [u64; 2] = [1, 4];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--prune-child") {
        prune_child(Path::new(&args[1]));
        return;
    }
    let usage = || -> ! {
        eprintln!("usage: prune_report [BYTES [DAYS [WORKDIR]]]");
        std::process::exit(2)
    };
    let bytes: u64 = args
        .first()
        .map_or(Ok(DEFAULT_BYTES), |a| a.parse())
        .unwrap_or_else(|_| usage());
    let days: u32 = args
        .get(1)
        .map_or(Ok(DEFAULT_DAYS), |a| a.parse())
        .unwrap_or_else(|_| usage());
    if days < 2 {
        usage();
    }
    let work = match args.get(2) {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("a temporary folder");
    println!(
        "prune_report: {bytes} bytes at scales {SCALES:?}, {days} days, under {}; {} cores; load average {}",
        work.path().display(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_average().map_or("unknown".into(), |l| format!("{l:.2}"))
    );
    let mut results = Vec::new();
    for scale in SCALES {
        let dir = work.path().join(format!("x{scale}"));
        let r = measure(&dir, scale * bytes, days);
        r.print(scale);
        results.push((scale, r));
        std::fs::remove_dir_all(&dir).expect("removing the scale's folder");
    }
    let (s0, a) = &results[0];
    for (s, b) in &results[1..] {
        let ratio = |x: f64, y: f64| if y > 0.0 { x / y } else { f64::NAN };
        println!("ratios {s}x / {s0}x:");
        println!(
            "  household bytes   {:6.2}",
            ratio(b.household as f64, a.household as f64)
        );
        println!(
            "  blobs indexed     {:6.2}",
            ratio(b.blobs as f64, a.blobs as f64)
        );
        println!(
            "  pack bytes        {:6.2}",
            ratio(b.child.pack_bytes as f64, a.child.pack_bytes as f64)
        );
        println!(
            "  plan seconds      {:6.2}",
            ratio(b.child.plan.as_secs_f64(), a.child.plan.as_secs_f64())
        );
        println!(
            "  run seconds       {:6.2}",
            ratio(b.child.run.as_secs_f64(), a.child.run.as_secs_f64())
        );
        println!(
            "  total seconds     {:6.2}",
            ratio(b.child.total().as_secs_f64(), a.child.total().as_secs_f64())
        );
        println!(
            "  peak RSS          {:6.2}",
            ratio(b.child.peak_rss as f64, a.child.peak_rss as f64)
        );
        println!(
            "  peak RSS above the open repository's {:6.2}",
            ratio(
                b.child.peak_rss.saturating_sub(b.child.rss_open) as f64,
                a.child.peak_rss.saturating_sub(a.child.rss_open) as f64
            )
        );
    }
}

/// What the prune child measured (one `key value` line each on its stdout).
#[derive(Debug, Default)]
struct Child {
    open: Duration,
    plan: Duration,
    run: Duration,
    cpu: Duration,
    peak_rss: u64,
    /// Resident memory once the repository is open, before the plan: the process's baseline.
    rss_open: u64,
    packs: u64,
    pack_bytes: u64,
    used_bytes: u64,
    delete_packs: u64,
    repack_packs: u64,
    repack_bytes: u64,
    bytes_freed: u64,
    packs_deleted: u64,
    packs_written: u64,
    blobs_repacked: u64,
}

impl Child {
    fn total(&self) -> Duration {
        self.open + self.plan + self.run
    }

    fn parse(out: &str) -> Child {
        let kv: BTreeMap<&str, &str> = out.lines().filter_map(|l| l.split_once(' ')).collect();
        let n = |k: &str| -> u64 {
            kv.get(k)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("the prune child printed no {k}:\n{out}"))
        };
        let secs = |k: &str| Duration::from_nanos(n(k));
        Child {
            open: secs("open_ns"),
            plan: secs("plan_ns"),
            run: secs("run_ns"),
            cpu: secs("cpu_ns"),
            peak_rss: n("peak_rss"),
            rss_open: n("rss_open"),
            packs: n("packs"),
            pack_bytes: n("pack_bytes"),
            used_bytes: n("used_bytes"),
            delete_packs: n("delete_packs"),
            repack_packs: n("repack_packs"),
            repack_bytes: n("repack_bytes"),
            bytes_freed: n("bytes_freed"),
            packs_deleted: n("packs_deleted"),
            packs_written: n("packs_written"),
            blobs_repacked: n("blobs_repacked"),
        }
    }
}

struct Measured {
    household: u64,
    files: usize,
    snapshots: usize,
    forgotten: usize,
    blobs: u64,
    setup: Duration,
    child: Child,
    child_wall: Duration,
    load: Option<f64>,
}

impl Measured {
    fn print(&self, scale: u64) {
        let c = &self.child;
        let mib = |b: u64| b as f64 / 1048576.0;
        println!("scale {scale}x:");
        println!(
            "  household        {} bytes, {} files; {} snapshots, {} forgotten (set-up {:.1} s)",
            self.household,
            self.files,
            self.snapshots,
            self.forgotten,
            self.setup.as_secs_f64()
        );
        println!(
            "  repository       {} packs, {:.1} MiB, {} blobs indexed, {:.1} MiB used",
            c.packs,
            mib(c.pack_bytes),
            self.blobs,
            mib(c.used_bytes)
        );
        println!(
            "  plan             delete {} packs, repack {} ({:.1} MiB to copy), frees {:.1} MiB",
            c.delete_packs,
            c.repack_packs,
            mib(c.repack_bytes),
            mib(c.bytes_freed)
        );
        println!(
            "  done             {} packs deleted, {} written, {} blobs repacked",
            c.packs_deleted, c.packs_written, c.blobs_repacked
        );
        println!(
            "  seconds          open {:.3}, plan {:.3}, run {:.3}, total {:.3} (process {:.3} wall, {:.3} CPU)",
            c.open.as_secs_f64(),
            c.plan.as_secs_f64(),
            c.run.as_secs_f64(),
            c.total().as_secs_f64(),
            self.child_wall.as_secs_f64(),
            c.cpu.as_secs_f64()
        );
        println!(
            "  peak RSS         {:.1} MiB ({:.1} MiB once open); load average {}",
            mib(c.peak_rss),
            mib(c.rss_open),
            self.load.map_or("unknown".into(), |l| format!("{l:.2}"))
        );
    }
}

/// Builds the repository of one scale, forgets half of it, prunes it in a child.
fn measure(dir: &Path, bytes: u64, days: u32) -> Measured {
    let t = Instant::now();
    let household = generate(&HouseholdSpec::bench(bytes), &dir.join("Backup"))
        .expect("generating the household");
    let repo = fresh_repo(dir);
    let night = DayOptions {
        changed_fraction: 0.05,
        ..DayOptions::default()
    };
    for day in 1..=days {
        if day > 1 {
            next_day(&household, day - 1, &night).expect("a night of edits");
        }
        backup_household(&repo, &household);
    }
    // The older half of each device's snapshots.
    let snapshots = repo.snapshots().expect("listing snapshots");
    let mut by_device: BTreeMap<String, Vec<(i64, hearth_format::SnapshotId)>> = BTreeMap::new();
    for (id, s) in &snapshots {
        by_device
            .entry(s.device.udid.clone())
            .or_default()
            .push((s.time, *id));
    }
    let mut forget = Vec::new();
    for list in by_device.values_mut() {
        list.sort();
        forget.extend(list.iter().take(list.len() / 2).map(|(_, id)| *id));
    }
    {
        let lock = repo
            .lock_exclusive(Duration::ZERO, &|_| {})
            .expect("locking the repository");
        repo.forget(&lock, &forget).expect("forgetting");
    }
    let blobs = repo.cache().blob_count().expect("counting blobs");
    let setup = t.elapsed();
    // The child must find the shared cache free (else it would wait and build a private one).
    drop(repo);

    let load = load_average();
    let t = Instant::now();
    let out = Command::new(std::env::current_exe().expect("this binary"))
        .arg("--prune-child")
        .arg(dir)
        .output()
        .expect("running the prune child");
    let child_wall = t.elapsed();
    assert!(
        out.status.success(),
        "the prune child failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Measured {
        household: household.bytes(),
        files: household.files(),
        snapshots: snapshots.len(),
        forgotten: forget.len(),
        blobs,
        setup,
        child: Child::parse(&String::from_utf8_lossy(&out.stdout)),
        child_wall,
        load,
    }
}

/// The prune, alone in its process: open, lock, plan, run; prints `key value` lines.
fn prune_child(dir: &Path) {
    let cpu0 = cpu_time();
    let t = Instant::now();
    let backend = Arc::new(LocalBackend::open(&dir.join("repo")));
    let repo =
        Repository::open(backend, PASSWORD, &repo_options(dir)).expect("opening the repository");
    let open = t.elapsed();
    let rss_open = rss();
    let lock = repo
        .lock_exclusive(Duration::ZERO, &|_| {})
        .expect("locking the repository");
    let t = Instant::now();
    let plan = repo
        .prune_plan(&lock, &PruneOptions::default(), &NoProgress)
        .expect("planning");
    let plan_time = t.elapsed();
    let t = Instant::now();
    let report = repo.prune(&lock, &plan, &NoProgress).expect("pruning");
    let run = t.elapsed();
    let cpu = cpu_time() - cpu0;
    for (k, v) in [
        ("open_ns", open.as_nanos() as u64),
        ("plan_ns", plan_time.as_nanos() as u64),
        ("run_ns", run.as_nanos() as u64),
        ("cpu_ns", cpu.as_nanos() as u64),
        ("peak_rss", peak_rss().unwrap_or(0)),
        ("rss_open", rss_open),
        ("packs", plan.packs),
        ("pack_bytes", plan.pack_bytes),
        ("used_bytes", plan.used_bytes),
        ("delete_packs", plan.delete.len() as u64),
        ("repack_packs", plan.repack.len() as u64),
        ("repack_bytes", plan.repack_bytes()),
        ("bytes_freed", plan.bytes_freed()),
        ("packs_deleted", report.packs_deleted),
        ("packs_written", report.packs_written),
        ("blobs_repacked", report.blobs_repacked),
    ] {
        println!("{k} {v}");
    }
}
