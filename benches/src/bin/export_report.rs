//! What `hearth export` costs on a household of real size (issue 16): every kind out of each
//! device's latest snapshot, and photos out of every snapshot of every device, with the time,
//! the peak memory and the counts of each; beside them, as the floor, `restore --files` of the
//! same camera-roll folders (the same bytes written as plain files, no dates read).
//!
//! Usage: `cargo run -p hearth-benches --release --bin export_report -- [BYTES [FILES [NIGHTS [WORKDIR]]]]`
//! (default 1000000000 bytes, 500000 files: `HouseholdSpec::real`, whose first device holds
//! about 200,000 files; 1 night of edits, so that each device has two snapshots).
//!
//! The household is generated and backed up once (into WORKDIR, kept and used again by the next
//! run; without WORKDIR, into a temporary folder). Peak memory is the process's high-water mark
//! after a reset before each export (`/proc/self/clear_refs`), less the resident memory before it.

use hearth_benches::{peak_rss, reset_peak_rss, rss};
use hearth_browse::{Selection, SnapshotFiles};
use hearth_export::{ExportReport, Kind};
use hearth_format::{Snapshot, SnapshotId};
use hearth_repo::{NoProgress, Repository};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "export_report [BYTES [FILES [NIGHTS [WORKDIR]]]]";
    let num = |i, default| hearth_benches::num_arg(&args, i, default, usage);
    let (bytes, files, nights) = (num(0, 1_000_000_000), num(1, 500_000) as usize, num(2, 1));
    let work = hearth_benches::WorkDir::new(args.get(3));
    let w = work.path();
    println!(
        "export_report: HouseholdSpec::real({bytes}, {files}), {nights} nights, under {}; {}",
        w.display(),
        hearth_benches::machine()
    );
    if work.has_repo() {
        println!("using the household and repository already there");
    } else {
        hearth_benches::make_household(w, bytes, files, nights as u32);
    }
    let repo = work.open_repo();
    let all = repo.snapshots().expect("listing snapshots");
    let latest = latest_per_device(&all);
    println!(
        "{} snapshots of {} devices; the latest hold {} files, {:.2} GB",
        all.len(),
        latest.len(),
        latest.iter().map(|(_, s)| s.summary.files).sum::<u64>(),
        latest.iter().map(|(_, s)| s.summary.bytes).sum::<u64>() as f64 / 1e9
    );

    let floor = camera_roll_floor(&repo, &latest, w);
    let (photos, _) = run(&repo, Kind::Photos, &latest, w, "photos, latest snapshots");
    println!(
        "  photos of the latest snapshots take {:.2}x restore --files of the same folders ({:.2} s)",
        photos.as_secs_f64() / floor.as_secs_f64(),
        floor.as_secs_f64()
    );
    remove(&w.join("out-photos"));
    run(&repo, Kind::Photos, &all, w, "photos --all, first run");
    run(
        &repo,
        Kind::Photos,
        &all,
        w,
        "photos --all, second run (nothing new)",
    );
    remove(&w.join("out-photos"));
    for kind in [
        Kind::Messages,
        Kind::Whatsapp,
        Kind::Contacts,
        Kind::Calls,
        Kind::Voicemail,
        Kind::Notes,
        Kind::Calendar,
    ] {
        run(&repo, kind, &latest, w, "latest snapshots");
        remove(&w.join(format!("out-{}", kind.name())));
    }
}

/// Exports `kind` out of `snapshots` into `w/out-<kind>`, printing time, peak memory and counts.
fn run(
    repo: &Repository,
    kind: Kind,
    snapshots: &[(SnapshotId, Snapshot)],
    w: &Path,
    what: &str,
) -> (Duration, ExportReport) {
    let out = w.join(format!("out-{}", kind.name()));
    let before = rss();
    let reset = reset_peak_rss();
    let t = Instant::now();
    let report =
        hearth_export::export(repo, kind, snapshots, &out, &NoProgress).expect("exporting");
    let took = t.elapsed();
    let peak = match (reset, peak_rss()) {
        (true, Some(p)) => format!("{:.0} MiB", p.saturating_sub(before) as f64 / 1048576.0),
        _ => "unknown".into(),
    };
    let counts: Vec<String> = report
        .total
        .counts
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    let failed = report
        .snapshots
        .iter()
        .filter(|s| s.failed.is_some())
        .count();
    println!(
        "export {} ({what}, {} snapshots): {:.2} s, peak memory +{peak}; {}; {} warnings, {failed} snapshots failed",
        kind.name(),
        snapshots.len(),
        took.as_secs_f64(),
        counts.join(", "),
        report.total.warnings.len()
    );
    (took, report)
}

/// `restore --files` of each latest snapshot's camera roll (DCIM and iCloud originals): the same
/// bytes the photo export writes, as plain files.
fn camera_roll_floor(repo: &Repository, latest: &[(SnapshotId, Snapshot)], w: &Path) -> Duration {
    let selection = Selection::new(
        &[
            "CameraRollDomain/Media/DCIM/**".to_string(),
            "CameraRollDomain/Media/PhotoData/CPLAssets/**".to_string(),
        ],
        &[],
    )
    .expect("a selection");
    let t = Instant::now();
    let mut files = 0;
    for (i, (_, s)) in latest.iter().enumerate() {
        let tree = SnapshotFiles::load(repo, s).expect("a file tree");
        let out = w.join(format!("floor-{i}"));
        let report = hearth_browse::extract(repo, &tree, "bench", &selection, &out, &NoProgress)
            .expect("restore --files");
        files += report.files;
    }
    let took = t.elapsed();
    for i in 0..latest.len() {
        remove(&w.join(format!("floor-{i}")));
    }
    println!(
        "floor: restore --files of the camera roll of the latest snapshots: {files} files in {:.2} s",
        took.as_secs_f64()
    );
    took
}

fn latest_per_device(all: &[(SnapshotId, Snapshot)]) -> Vec<(SnapshotId, Snapshot)> {
    let mut latest: HashMap<&str, &(SnapshotId, Snapshot)> = HashMap::new();
    for s in all {
        let newer = latest
            .get(s.1.device.udid.as_str())
            .is_none_or(|l| l.1.time < s.1.time);
        if newer {
            latest.insert(&s.1.device.udid, s);
        }
    }
    latest.into_values().cloned().collect()
}

fn remove(dir: &Path) {
    if dir.exists() {
        std::fs::remove_dir_all(dir).expect("removing an output folder");
    }
}
