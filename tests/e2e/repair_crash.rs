//! Crash safety of `repair index` (issue 11; `crates/repo/src/repair_index.rs`): a real
//! `hearth repair index --read-all-packs`, which writes the whole index anew and then deletes
//! every old segment, is SIGKILLed while it has written new segments but deleted no old one,
//! and while it has deleted some old segments but not all. Afterwards `check --read-data`
//! passes, every device restores byte-exact, and a rerun finishes the job.
//!
//! The moment is chosen as `tests/e2e/prune_crash.rs` does: the process runs in short slices
//! (SIGCONT, a busy wait, SIGSTOP until every thread is stopped), the test looks at `index/`
//! between two slices and kills the stopped process once the wanted state is there.

use crate::common;
use crate::handmade;

use common::procs::{freeze, thaw};
use common::{World, is_object_name, names, s};
use handmade::HandDevice;
use hearth_testkit::bytes::noise;
use hearth_testkit::{FileDigest, copy_tree, tree_digest};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

const SLICE: Duration = Duration::from_micros(30);
const RUN_LIMIT: Duration = Duration::from_secs(120);

fn digest(p: &std::path::Path) -> BTreeMap<String, FileDigest> {
    tree_digest(p).expect("digest")
}

fn segments(w: &World) -> BTreeSet<String> {
    names(&w.repo().join("index"))
        .into_iter()
        .filter(|n| is_object_name(n))
        .collect()
}

/// Twenty-four small devices, each backed up on its own (each backup writes its own segment).
fn repository(w: &World) -> Vec<(PathBuf, String)> {
    (0..24u64)
        .map(|i| {
            let udid = format!("{:040X}", 0xC0FFEE00 + i);
            let mut d = HandDevice::new(&w.path("Backup"), &udid, &format!("Phone {i}"));
            d.file("HomeDomain", "Library/a.bin", &noise(i, 20_000));
            d.file("HomeDomain", "Library/b.bin", &noise(100 + i, 5_000));
            let folder = d.finish();
            w.ok(&["backup", s(&folder)]);
            (folder, udid)
        })
        .collect()
}

/// How many times a moment a few system calls long is tried for before the test gives up: on a
/// loaded machine one slice may carry the process past it.
const TRIES: usize = 40;

/// Runs `repair index --read-all-packs` and kills it at `moment` (see [`kill_repair_at`]); a
/// run that ends before the moment came is undone (the repository copied back) and tried
/// again. Returns the segments the kill left.
fn kill_repair_when(
    w: &World,
    moment: impl Fn(&BTreeSet<String>, &BTreeSet<String>) -> bool,
) -> BTreeSet<String> {
    let pristine = w.path("pristine");
    copy_tree(&w.repo(), &pristine).expect("copy of the repository");
    for _ in 0..TRIES {
        if let Some(left) = kill_repair_at(w, &moment) {
            return left;
        }
        std::fs::remove_dir_all(w.repo()).unwrap();
        copy_tree(&pristine, &w.repo()).expect("the repository copied back");
    }
    panic!("the moment never came in {TRIES} runs");
}

/// Runs `repair index --read-all-packs` in slices and kills it, stopped, once `moment` holds
/// of the segments (`before` the repair, and now). Returns the segments it left; `None` when
/// the repair ended first.
fn kill_repair_at(
    w: &World,
    moment: impl Fn(&BTreeSet<String>, &BTreeSet<String>) -> bool,
) -> Option<BTreeSet<String>> {
    let before = segments(w);
    let mut child = w
        .cmd(&["repair", "index", "--read-all-packs"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("hearth starts");
    let pid = child.id();
    let start = Instant::now();
    let seen = loop {
        freeze(pid);
        let now = segments(w);
        if moment(&before, &now) {
            child.kill().expect("SIGKILL the stopped repair");
            break now;
        }
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        assert!(start.elapsed() < RUN_LIMIT, "moment not reached");
        thaw(pid);
        let t = Instant::now();
        while t.elapsed() < SLICE {
            std::hint::spin_loop();
        }
    };
    let status = child.wait().expect("reap");
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(
        segments(w),
        seen,
        "the kill of a stopped process changes nothing"
    );
    Some(seen)
}

/// After the kill: everything checks and restores; a rerun finishes the job.
fn everything_survives(w: &World, devices: &[(PathBuf, String)]) {
    let j = w.json(&["check", "--read-data"], 0);
    assert_eq!(j["ok"], true, "{j:#}");
    for (folder, udid) in devices.iter().step_by(8) {
        let out = w.path(&format!("out-{udid}"));
        w.ok(&["restore", &format!("{udid}@latest"), "--out", s(&out)]);
        assert_eq!(digest(&out.join(udid)), digest(folder));
    }
    let r = w.json(&["repair", "index", "--read-all-packs"], 0);
    assert_eq!(r["packs_dropped"].as_array().unwrap().len(), 0, "{r:#}");
    assert_eq!(
        u64::try_from(segments(w).len()).unwrap(),
        r["segments_written"].as_u64().unwrap()
    );
    assert_eq!(w.json(&["check", "--read-data"], 0)["ok"], true);
}

#[test]
fn killed_after_writing_the_new_index_before_deleting_the_old() {
    let w = World::with_repo();
    let devices = repository(&w);
    let left = kill_repair_when(&w, |before, now| {
        now.difference(before).count() > 0 && before.is_subset(now)
    });
    eprintln!("killed with {} segments", left.len());
    everything_survives(&w, &devices);
}

#[test]
fn killed_while_deleting_the_old_index() {
    let w = World::with_repo();
    let devices = repository(&w);
    let left = kill_repair_when(&w, |before, now| {
        let gone = before.difference(now).count();
        gone > 0 && gone < before.len()
    });
    eprintln!("killed with {} segments", left.len());
    everything_survives(&w, &devices);
}
