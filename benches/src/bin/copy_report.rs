//! What an offsite copy costs on a household of real size (issue 18): `copy_snapshots` from the
//! household's repository into a fresh one made `init_like` it, beside the floor of copying the
//! repository's files as they are (`cp -a`), in one run.
//!
//! 1. `cp -a repo` (every object, no decryption): the floor for moving these bytes on this disk.
//! 2. The first copy: each device's oldest snapshot (every chunk sent, sealed again).
//! 3. The next copy: every snapshot, so only what the later snapshots added is sent (a night).
//! 4. The same copy again: nothing to send.
//!
//! Usage: `cargo run -p hearth-benches --release --bin copy_report -- [BYTES [FILES [NIGHTS [WORKDIR]]]]`
//! (default 1000000000 bytes, 500000 files, 1 night; a WORKDIR an earlier report left is used
//! again, and only `WORKDIR/copy-*` is written).

use hearth_benches::{PASSWORD, peak_rss, repo_options, reset_peak_rss, settle_disk};
use hearth_format::SnapshotId;
use hearth_repo::{CopyReport, NoProgress, Repository};
use hearth_storage::LocalBackend;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "copy_report [BYTES [FILES [NIGHTS [WORKDIR]]]]";
    let num = |i, default| hearth_benches::num_arg(&args, i, default, usage);
    let (bytes, files, nights) = (num(0, 1_000_000_000), num(1, 500_000) as usize, num(2, 1));
    let work = hearth_benches::WorkDir::new(args.get(3));
    let w = work.path();
    println!(
        "copy_report: HouseholdSpec::real({bytes}, {files}), {nights} nights, under {}; {}",
        w.display(),
        hearth_benches::machine()
    );
    if !work.has_repo() {
        hearth_benches::make_household(w, bytes, files, nights as u32);
    }
    let from = work.open_repo();
    let all = from.snapshots().expect("listing snapshots");
    let stored = folder_bytes(&w.join("repo"));
    println!(
        "{} snapshots of {} devices; the repository holds {}",
        all.len(),
        oldest_of_each_device(&all).len(),
        mib(stored)
    );

    let floor = cp_floor(w);
    println!("cp -a of the repository's files: {:.1} s", secs(floor));

    let to_dir = w.join("copy-offsite");
    let _ = std::fs::remove_dir_all(&to_dir);
    std::fs::create_dir_all(&to_dir).expect("the destination's folder");
    let backend = Arc::new(LocalBackend::create(&to_dir.join("repo")).expect("the backend"));
    let to = Repository::init_like(backend, PASSWORD, &from, &repo_options(&to_dir))
        .expect("init --like");

    let first = oldest_of_each_device(&all);
    let every: Vec<SnapshotId> = all.iter().map(|(id, _)| *id).collect();
    let (t1, r1, peak1) = copy(&from, &to, &first);
    report("first copy (each device's oldest snapshot)", t1, &r1, peak1);
    println!(
        "  {:.2}x the time of cp -a, {:.0} MiB/s of sealed bytes sent",
        secs(t1) / secs(floor),
        r1.bytes_sent as f64 / 1048576.0 / secs(t1)
    );
    let (t2, r2, peak2) = copy(&from, &to, &every);
    report(
        "next copy (every snapshot: the nights' chunks)",
        t2,
        &r2,
        peak2,
    );
    let (t3, r3, peak3) = copy(&from, &to, &every);
    report("the same copy again", t3, &r3, peak3);
    assert_eq!(r3.chunks_sent, 0, "a second copy sends nothing");
    println!(
        "the copy holds {} ({:.3} of the source's)",
        mib(folder_bytes(&to_dir.join("repo"))),
        folder_bytes(&to_dir.join("repo")) as f64 / stored as f64
    );
}

/// Copies `ids` under both repositories' shared locks; the time, the report and the peak RSS.
fn copy(
    from: &Repository,
    to: &Repository,
    ids: &[SnapshotId],
) -> (Duration, CopyReport, Option<u64>) {
    settle_disk();
    reset_peak_rss();
    let t = Instant::now();
    let from_lock = from.lock_shared(Duration::ZERO, &|_| {}).expect("a lock");
    let to_lock = to.lock_shared(Duration::ZERO, &|_| {}).expect("a lock");
    let report = (from.copy_snapshots(to, &from_lock, &to_lock, ids, &NoProgress))
        .expect("copying the snapshots");
    drop((from_lock, to_lock));
    (t.elapsed(), report, peak_rss())
}

fn report(what: &str, t: Duration, r: &CopyReport, peak: Option<u64>) {
    println!(
        "{what}: {:.1} s; {} snapshot(s), {} chunks sent ({}), {} present; peak RSS {}",
        secs(t),
        r.snapshots.len(),
        r.chunks_sent,
        mib(r.bytes_sent),
        r.chunks_present,
        peak.map_or("unknown".into(), mib)
    );
}

/// The floor: the repository's files copied as they are, then removed.
fn cp_floor(w: &Path) -> Duration {
    let to = w.join("copy-cp");
    let _ = std::fs::remove_dir_all(&to);
    settle_disk();
    let t = Instant::now();
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(w.join("repo"))
        .arg(&to)
        .status()
        .expect("cp runs");
    assert!(status.success(), "cp -a failed");
    let took = t.elapsed();
    std::fs::remove_dir_all(&to).expect("removing the copy");
    took
}

fn oldest_of_each_device(all: &[(SnapshotId, hearth_format::Snapshot)]) -> Vec<SnapshotId> {
    let mut oldest = BTreeMap::new();
    for (id, s) in all {
        let e = oldest.entry(s.device.udid.clone()).or_insert((s.time, *id));
        if s.time < e.0 {
            *e = (s.time, *id);
        }
    }
    oldest.into_values().map(|(_, id)| id).collect()
}

fn folder_bytes(dir: &Path) -> u64 {
    hearth_testkit::files_under(dir)
        .expect("listing a repository's files")
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum()
}

fn mib(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / 1048576.0)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}
