//! What `hearth find` and `hearth diff` cost on a household of real size: a household of
//! `HouseholdSpec::real` (many files, few bytes: the cost is in the trees, not the contents)
//! backed up once and then after each of NIGHTS nights of edits ([`CHANGED`] of the files each),
//! so that every device has
//! NIGHTS + 1 snapshots. Then, each three times (median printed):
//!
//! - the floor: every snapshot's tree streamed and decoded, nothing else;
//! - `find sms.db` (one match per device) and `find '*.plist'` (thousands), across all;
//! - `diff` of a device's last two snapshots, and of its first and last.
//!
//! Usage: `cargo run -p hearth-benches --release --bin find_report -- [FILES [NIGHTS [WORKDIR]]]`
//! (default 200000 files, 14 nights). The household and repository are made in WORKDIR and
//! kept for the next run (without WORKDIR, in a temporary folder).

use hearth_benches::{backup_household, fresh_repo, peak_rss, reset_peak_rss, rss, settle_disk};
use hearth_browse::{DiffOptions, FindPattern};
use hearth_repo::{NoProgress, Repository};
use hearth_testkit::{DayOptions, HouseholdSpec, generate, next_day};
use std::path::Path;
use std::time::{Duration, Instant};

const RUNS: usize = 3;
/// The household's bytes besides its small files: little, so that making it is quick and its
/// nights fit on the disk; `find` and `diff` never read them.
const BYTES: u64 = 100_000_000;
/// Each night changes 1% of each device's files (the test kit's default is 2%): on 200,000
/// files, 2,000 changed files and 200 new photos a night.
const CHANGED: f64 = 0.01;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i, default| {
        hearth_benches::num_arg(&args, i, default, "find_report [FILES [NIGHTS [WORKDIR]]]")
    };
    let (files, nights) = (num(0, 200_000) as usize, num(1, 14) as u32);
    let work = hearth_benches::WorkDir::new(args.get(2));
    let w = work.path();
    println!(
        "find_report: HouseholdSpec::real({BYTES}, {files}), {nights} nights, under {}; {}",
        w.display(),
        hearth_benches::machine()
    );
    if work.has_repo() {
        println!("using the household and repository already there");
    } else {
        make(w, files, nights);
    }
    let repo = work.open_repo();
    let all = repo.snapshots().unwrap();
    let tree_bytes: u64 = all.iter().map(|(_, s)| s.tree_len).sum();
    let entries: u64 = all.iter().map(|(_, s)| s.summary.files).sum();
    println!(
        "{} snapshots, {} files in all, trees of {:.1} MB in all",
        all.len(),
        entries,
        tree_bytes as f64 / 1e6
    );

    let (shared, blobs, bytes) = tree_sharing(&repo, &all);
    println!(
        "tree blobs: {blobs} in all, {shared} of them ({:.1}%) also in the device's previous snapshot; {:.1} KB on average",
        100.0 * shared as f64 / blobs as f64,
        bytes as f64 / blobs as f64 / 1e3
    );
    let (blobs_only, read) = median(|| {
        let t = Instant::now();
        let mut read = 0u64;
        for (_, s) in &all {
            let reader = repo.span_reader(&s.tree).expect("a span reader");
            reader
                .read_blobs(&s.tree, |b| {
                    read += b.len() as u64;
                    Ok::<_, hearth_repo::RepoError>(())
                })
                .expect("tree blobs that read");
        }
        (t.elapsed(), read)
    });
    println!(
        "every tree's blobs read (fetched, opened, decompressed), not decoded: {:.1} MB in {:.2} s",
        read as f64 / 1e6,
        blobs_only.as_secs_f64()
    );
    let (floor, n) = median(|| {
        let t = Instant::now();
        let mut n = 0u64;
        for (_, s) in &all {
            for e in repo.entries(s) {
                e.expect("a tree that reads");
                n += 1;
            }
        }
        (t.elapsed(), n)
    });
    println!(
        "floor, every tree streamed: {n} entries in {:.2} s ({:.2} M entries/s, {:.0} MB/s of tree)",
        floor.as_secs_f64(),
        n as f64 / floor.as_secs_f64() / 1e6,
        tree_bytes as f64 / floor.as_secs_f64() / 1e6
    );
    for pattern in ["sms.db", "*.plist"] {
        let p = FindPattern::new(pattern, false).unwrap();
        reset_peak_rss();
        let before = rss();
        let (t, found) = median(|| {
            let t = Instant::now();
            let found = hearth_browse::find(&repo, &all, &p, &NoProgress).expect("find");
            (t.elapsed(), found)
        });
        let appearances: usize = found.iter().map(|f| f.snapshots.len()).sum();
        println!(
            "find {pattern:?}: {} paths ({appearances} appearances) in {:.2} s ({:.2}x the floor); peak RSS {:.1} MiB above the start",
            found.len(),
            t.as_secs_f64(),
            t.as_secs_f64() / floor.as_secs_f64(),
            peak_rss().unwrap_or(0).saturating_sub(before) as f64 / (1 << 20) as f64
        );
    }
    let (_, biggest) = all
        .iter()
        .max_by_key(|(_, s)| s.summary.files)
        .expect("a snapshot");
    let mine: Vec<_> = (all.iter())
        .filter(|(_, s)| s.device.udid == biggest.device.udid)
        .collect();
    let (first, last) = (&mine[0].1, &mine[mine.len() - 1].1);
    let before_last = &mine[mine.len().saturating_sub(2)].1;
    for (what, a, b) in [
        ("last two", before_last, last),
        ("first and last", first, last),
    ] {
        reset_peak_rss();
        let before = rss();
        let (t, report) = median(|| {
            let t = Instant::now();
            let r = hearth_browse::diff(&repo, a, b, &DiffOptions::default(), &NoProgress)
                .expect("diff");
            (t.elapsed(), r)
        });
        println!(
            "diff of {}'s {what} snapshots ({} files): {} changes in {:.3} s; peak RSS {:.1} MiB above the start",
            b.device.name,
            b.summary.files,
            report.changes.len(),
            t.as_secs_f64(),
            peak_rss().unwrap_or(0).saturating_sub(before) as f64 / (1 << 20) as f64
        );
    }
}

/// Generates the household in `w/Backup`, backs it up into `w/repo`, then `nights` times edits
/// it and backs it up again.
fn make(w: &Path, files: usize, nights: u32) {
    let t = Instant::now();
    let household = generate(&HouseholdSpec::real(BYTES, files), &w.join("Backup"))
        .expect("generating the household");
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
    println!("first backup in {:.1} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    for night in 1..=nights {
        let options = DayOptions {
            changed_fraction: CHANGED,
            ..DayOptions::default()
        };
        next_day(&household, night, &options).expect("a night of edits");
        backup_household(&repo, &household);
    }
    println!(
        "{nights} nights edited and backed up in {:.1} s",
        t.elapsed().as_secs_f64()
    );
}

/// Of every snapshot's tree blobs: how many are in the same device's previous snapshot's
/// tree too, how many there are, and their bytes (from the index).
fn tree_sharing(
    repo: &Repository,
    all: &[(hearth_format::SnapshotId, hearth_format::Snapshot)],
) -> (u64, u64, u64) {
    let (mut shared, mut blobs) = (0, 0);
    let mut previous: std::collections::HashMap<&str, std::collections::HashSet<_>> =
        Default::default();
    for (_, s) in all {
        let before = previous.entry(&s.device.udid).or_default();
        shared += s.tree.iter().filter(|b| before.contains(*b)).count() as u64;
        blobs += s.tree.len() as u64;
        *before = s.tree.iter().copied().collect();
    }
    let bytes = all.iter().map(|(_, s)| s.tree_len).sum();
    let _ = repo;
    (shared, blobs, bytes)
}

/// Runs `f` [`RUNS`] times; the median time and the last result.
fn median<T>(mut f: impl FnMut() -> (Duration, T)) -> (Duration, T) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..RUNS {
        let (t, v) = f();
        times.push(t);
        last = Some(v);
    }
    times.sort();
    (times[times.len() / 2], last.expect("RUNS > 0"))
}
