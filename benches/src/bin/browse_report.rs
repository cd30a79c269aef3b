//! Getting files back out of a household of real size (issue 15): how long a snapshot's file
//! tree takes to read and what it holds in memory, how long listing its biggest folder takes,
//! and `restore --files` and `dump --archive tar` of a whole device beside a device-image
//! restore of the same snapshot, in one run.
//!
//! Usage: `cargo run -p hearth-benches --release --bin browse_report -- [BYTES [FILES [WORKDIR]]]`
//! (default 1000000000 bytes and 500000 files: `HouseholdSpec::real`, whose first device then
//! holds about 200,000 files).
//!
//! The household is generated and backed up once (into WORKDIR, kept, and used again by the
//! next run; without WORKDIR, into a temporary folder); then, on the device with the most files,
//! each measurement runs three times and the median is printed. The image restore and
//! `restore --files` alternate, so that both meet the same page cache.

use hearth_benches::rss;
use hearth_browse::{ArchiveFormat, Selection, SnapshotFiles};
use hearth_repo::NoProgress;
use std::path::Path;
use std::time::{Duration, Instant};

const RUNS: usize = 3;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i, default| {
        hearth_benches::num_arg(&args, i, default, "browse_report [BYTES [FILES [WORKDIR]]]")
    };
    let (bytes, files) = (num(0, 1_000_000_000), num(1, 500_000) as usize);
    let work = hearth_benches::WorkDir::new(args.get(2));
    let w = work.path();
    println!(
        "browse_report: HouseholdSpec::real({bytes}, {files}) under {}; {}",
        w.display(),
        hearth_benches::machine()
    );
    if work.has_repo() {
        println!("using the household and repository already there");
    } else {
        hearth_benches::make_household(w, bytes, files, 0);
    }

    let repo = work.open_repo();
    let (_, snapshot) = repo
        .snapshots()
        .unwrap()
        .into_iter()
        .max_by_key(|(_, s)| s.summary.files)
        .expect("a snapshot");
    println!(
        "device: {} ({} files, {} bytes in its snapshot)",
        snapshot.device.name, snapshot.summary.files, snapshot.summary.bytes
    );

    let before = rss();
    let (load, tree) = median(|| {
        let t = Instant::now();
        let tree = SnapshotFiles::load(&repo, &snapshot).expect("loading the tree");
        (t.elapsed(), tree)
    });
    let held = rss().saturating_sub(before);
    let (nodes, biggest) = biggest_folder(&tree);
    println!(
        "file tree: {nodes} nodes read in {:.3} s (median of {RUNS}); resident memory grew by {:.1} MiB with {RUNS} trees alive",
        load.as_secs_f64(),
        held as f64 / (1 << 20) as f64
    );
    let (listing, names) = median(|| {
        let t = Instant::now();
        let names: Vec<&str> = tree
            .children(biggest)
            .iter()
            .map(|&c| &*tree.node(c).name)
            .collect();
        (t.elapsed(), names.len())
    });
    println!(
        "biggest folder {} ({names} entries) listed in {:.6} s",
        tree.path(biggest),
        listing.as_secs_f64()
    );

    let mut image = Vec::new();
    let mut plain = Vec::new();
    for run in 0..RUNS {
        let out = w.join(format!("image-{run}"));
        let t = Instant::now();
        let plan = hearth_restore::plan_restore(&repo, &snapshot, &Default::default()).unwrap();
        hearth_restore::execute(&repo, &plan, &out, &NoProgress).expect("restoring the image");
        image.push(t.elapsed());
        remove(&out);
        let out = w.join(format!("files-{run}"));
        let t = Instant::now();
        let tree = SnapshotFiles::load(&repo, &snapshot).unwrap();
        let report = hearth_browse::extract(
            &repo,
            &tree,
            "bench",
            &Selection::default(),
            &out,
            &NoProgress,
        )
        .expect("restore --files");
        plain.push(t.elapsed());
        assert!(report.damaged.is_empty());
        remove(&out);
    }
    let (image, plain) = (median_of(image), median_of(plain));
    println!(
        "whole device: image restore {:.2} s, restore --files {:.2} s (ratio {:.2}; medians of {RUNS}, alternating)",
        image.as_secs_f64(),
        plain.as_secs_f64(),
        plain.as_secs_f64() / image.as_secs_f64()
    );
    let (tar, written) = median(|| {
        let mut sink = Counting(0);
        let t = Instant::now();
        let root = SnapshotFiles::ROOT;
        hearth_browse::dump_archive(
            &repo,
            &tree,
            root,
            ArchiveFormat::Tar,
            &mut sink,
            &NoProgress,
        )
        .expect("dump --archive tar");
        (t.elapsed(), sink.0)
    });
    println!(
        "dump --archive tar of the whole device: {written} bytes in {:.2} s ({:.0} MB/s)",
        tar.as_secs_f64(),
        written as f64 / tar.as_secs_f64() / 1e6
    );
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
    (median_of(times), last.expect("RUNS > 0"))
}

fn median_of(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// The number of nodes and the folder with the most children.
fn biggest_folder(tree: &SnapshotFiles) -> (usize, hearth_browse::NodeId) {
    let all: Vec<_> = tree.walk(SnapshotFiles::ROOT).collect();
    let biggest = all
        .iter()
        .copied()
        .max_by_key(|&n| tree.children(n).len())
        .expect("a root");
    (all.len(), biggest)
}

fn remove(dir: &Path) {
    std::fs::remove_dir_all(dir).unwrap_or_else(|e| panic!("removing {}: {e}", dir.display()));
}

/// A writer that counts and drops what it is given.
struct Counting(u64);

impl std::io::Write for Counting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
