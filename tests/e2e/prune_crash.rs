//! Crash safety of prune (issue 5, item 4; `crates/repo/src/prune.rs`): a real `hearth prune`
//! is SIGKILLed at chosen moments of its order — planning, repacking, the repack's index
//! segment, rewriting segments, deleting packs — and afterwards `check --read-data` passes,
//! every kept snapshot restores byte-exact, a rerun of prune finishes the job (a further
//! `prune --dry-run` has nothing to delete) and `unlock` clears the dead process's lock.
//!
//! Choosing the moment. Some phases of a prune last well under a millisecond (deleting ten
//! packs is ten `unlink`s), too short to hit by polling a running process. So the test steps
//! the prune instead: it lets it run for a short slice (SIGCONT), stops it (SIGSTOP, then waits
//! until every thread of it is stopped), looks at the repository folder and the cache folder,
//! and if the wanted state is there kills it (SIGKILL) while it is stopped. The state the test
//! saw is then exactly the state the kill left. No sleeping blindly: the slice is the only wait.
//!
//! The repository (built once, copied for each test): Mum and Dad backed up on three days,
//! the "Old iPad" on two, sixteen small devices once; then `forget --group-by none --keep-tag
//! keep` keeps day 3 of Mum and Dad and Dad's pinned day 1, and drops everything else. The
//! packs of the small devices and of the "Old iPad" are wholly unused (deleted: sixteen small
//! packs make the deletion phase long enough to stop in), the older packs of Mum and Dad partly
//! (repacked, `--max-unused 0%`), the packs of day 3 wholly used (kept).

use crate::common;

use common::{s, u};

use common::procs::{freeze, thaw};

use common::{World, describe, is_object_name, names, pack_files};
use hearth_testkit::{
    DayOptions, DeviceSpec, FileDigest, HouseholdSpec, copy_tree, generate, next_day, tree_digest,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

type Digest = BTreeMap<String, FileDigest>;

const MAX_UNUSED: &str = "0%";
/// How long a stepped prune runs between two looks: while nothing of interest is near, and
/// through the short phases (a busy wait: a few system calls of the prune).
const COARSE: Duration = Duration::from_millis(2);
const FINE: Duration = Duration::from_micros(20);
/// Longest a stepped prune may take to reach its moment.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// What the repository (and its cache folder) holds at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct State {
    packs: BTreeSet<String>,
    /// `.tmp-*` files under `packs/`: a pack being written.
    tmp_packs: usize,
    segments: BTreeSet<String>,
    locks: usize,
    /// `live-*.redb` in the cache folder: prune's live set while it plans, once it outgrew
    /// memory.
    live_sets: Vec<String>,
}

fn state(repo: &Path, cache: &Path) -> State {
    let mut st = State::default();
    let (packs, tmp) = pack_files(repo);
    st.packs.extend(packs);
    st.tmp_packs = tmp;
    st.segments = names(&repo.join("index"))
        .into_iter()
        .filter(|n| is_object_name(n))
        .collect();
    st.locks = names(&repo.join("locks"))
        .iter()
        .filter(|n| is_object_name(n))
        .count();
    for d in names(cache) {
        for n in names(&cache.join(d)) {
            if n.starts_with("live-") {
                st.live_sets.push(n);
            }
        }
    }
    st
}

/// Every file under `dir` whose name starts with `.tmp-`.
fn temporary_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(temporary_files(&p));
        } else if e.file_name().to_string_lossy().starts_with(".tmp-") {
            out.push(p);
        }
    }
    out
}

/// A kept snapshot and the folder it must restore to.
struct Kept {
    id: String,
    udid: String,
    what: String,
    digest: Digest,
}

/// The repository after forget, before prune, shared by every test (each works on a copy).
struct Pristine {
    _dir: World,
    repo: PathBuf,
    kept: Vec<Kept>,
    /// The plan of `prune --dry-run --max-unused 0%` on it.
    plan: Value,
    packs: BTreeSet<String>,
    segments: BTreeSet<String>,
}

fn household() -> HouseholdSpec {
    let mum = DeviceSpec {
        photos: 6,
        photo_bytes: 1_000_000,
        videos: 1,
        video_bytes: 3_000_000,
        big_db_bytes: 1_500_000,
        apps: 3,
        small_files: 150,
        ..DeviceSpec::new("Mum's iPhone", "iPhone15,2", "17.5.1", "21F90")
    };
    let dad = DeviceSpec {
        photos: 6,
        photo_bytes: 200_000,
        videos: 1,
        video_bytes: 300_000,
        big_db_bytes: 400_000,
        apps: 3,
        small_files: 100,
        ..DeviceSpec::new("Dad's iPhone", "iPhone14,5", "17.4.1", "21E236")
    };
    let old = DeviceSpec {
        photos: 6,
        photo_bytes: 300_000,
        videos: 1,
        video_bytes: 1_000_000,
        big_db_bytes: 500_000,
        apps: 2,
        small_files: 80,
        ..DeviceSpec::new("Old iPad", "iPad8,1", "16.7", "20H19")
    };
    HouseholdSpec {
        seed: 0x9E0E_C4A5,
        devices: vec![mum, dad, old],
        shared_photo_fraction: 0.0,
    }
}

/// Sixteen small devices, one pack and one index segment each when backed up.
fn small_devices() -> HouseholdSpec {
    let devices = (0..16)
        .map(|i| DeviceSpec {
            photos: 2,
            photo_bytes: 30_000,
            videos: 0,
            video_bytes: 0,
            big_db_bytes: 40_000,
            apps: 1,
            small_files: 10,
            ..DeviceSpec::new(&format!("Spare iPod {i}"), "iPod9,1", "15.8", "19H370")
        })
        .collect();
    HouseholdSpec {
        seed: 0x9E0E_C4A6,
        devices,
        shared_photo_fraction: 0.0,
    }
}

fn pristine() -> &'static Pristine {
    static P: OnceLock<Pristine> = OnceLock::new();
    P.get_or_init(|| {
        let t = Instant::now();
        let w = World::with_repo();
        let h = generate(&household(), &w.path("Backup")).expect("household generates");
        let (mum, dad, old) = (&h.devices[0], &h.devices[1], &h.devices[2]);
        let folders = |ds: &[&hearth_testkit::GeneratedDevice]| -> Vec<String> {
            ds.iter().map(|d| s(&d.folder).to_owned()).collect()
        };
        let backup = |tags: &[&str], ds: &[&hearth_testkit::GeneratedDevice]| -> Vec<Kept> {
            let mut args: Vec<String> = vec!["backup".into()];
            for t in tags {
                args.extend(["--tag".into(), (*t).to_owned()]);
            }
            args.extend(folders(ds));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let report = w.json(&args, 0);
            report["snapshots"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let udid = r["device"]["udid"].as_str().unwrap().to_owned();
                    let d = ds.iter().find(|d| d.udid == udid).unwrap();
                    Kept {
                        id: r["id"].as_str().unwrap().to_owned(),
                        what: d.name.clone(),
                        digest: tree_digest(&d.folder).unwrap(),
                        udid,
                    }
                })
                .collect()
        };
        let night = |n| {
            let o = DayOptions {
                changed_fraction: 0.3,
                ..DayOptions::default()
            };
            next_day(&h, n, &o).expect("a night of edits");
        };
        let spares = generate(&small_devices(), &w.path("Spares")).expect("spares generate");
        let spare_folders: Vec<&hearth_testkit::GeneratedDevice> = spares.devices.iter().collect();
        backup(&[], &spare_folders);
        let day1 = backup(&[], &[mum, dad, old]);
        night(1);
        backup(&[], &[mum, dad, old]);
        night(2);
        let day3 = backup(&["keep"], &[mum, dad]);
        let dad1 = day1.into_iter().find(|k| k.udid == dad.udid).unwrap();
        w.ok(&["pin", &dad1.id]);
        let doc = w.json(&["forget", "--group-by", "none", "--keep-tag", "keep"], 0);
        let mut kept: Vec<Kept> = day3;
        kept.push(dad1);
        for k in &mut kept {
            k.what = format!("{} ({})", k.what, &k.id[..8]);
        }
        let kept_ids: BTreeSet<&str> = doc["groups"][0]["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["keep"] == true)
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            kept_ids,
            kept.iter().map(|k| k.id.as_str()).collect(),
            "{doc:#}"
        );
        let plan = w.json(&["prune", "--dry-run", "--max-unused", MAX_UNUSED], 0);
        eprintln!(
            "pristine repository built in {:?}; plan {plan:#}",
            t.elapsed()
        );
        // Enough whole packs to delete that a kill can land between two deletions. (Devices
        // are backed up at once and share packs, so fewer packs die whole than when they
        // were backed up one by one.)
        assert!(u(&plan["delete_packs"]) >= 10, "{plan:#}");
        assert!(u(&plan["repack_packs"]) >= 1, "{plan:#}");
        let st = state(&w.repo(), &w.path("cache"));
        Pristine {
            repo: w.repo(),
            kept,
            plan,
            packs: st.packs,
            segments: st.segments,
            _dir: w,
        }
    })
}

/// One test's copy of the pristine repository.
struct Case {
    w: World,
    p: &'static Pristine,
}

/// A prune killed at a moment: its pid and the state the kill left.
struct Killed {
    pid: u32,
    at: State,
}

impl Case {
    fn new() -> Self {
        let p = pristine();
        let w = World::new();
        copy_tree(&p.repo, &w.repo()).expect("copy of the pristine repository");
        Case { w, p }
    }

    fn state(&self) -> State {
        state(&self.w.repo(), &self.w.path("cache"))
    }

    fn start_prune(&self) -> Child {
        self.w
            .cmd(&["prune", "--max-unused", MAX_UNUSED])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("hearth prune starts")
    }

    /// Runs prune in slices (`slice` of the state last seen: a sleep, or a busy wait when
    /// under 100 µs, so that the process runs only a few system calls between two looks) and
    /// kills it, stopped, at the first state where `moment` holds. Panics if prune finishes
    /// first.
    fn kill_when(
        &self,
        name: &str,
        slice: impl Fn(&State) -> Duration,
        moment: impl Fn(&State) -> bool,
    ) -> Killed {
        let mut child = self.start_prune();
        let pid = child.id();
        let start = Instant::now();
        let mut steps = 0u64;
        let seen = loop {
            freeze(pid);
            steps += 1;
            let st = self.state();
            if moment(&st) {
                child.kill().expect("SIGKILL the stopped prune");
                break st;
            }
            if let Some(status) = child.try_wait().expect("wait for prune") {
                panic!("moment {name}: prune ended ({status}) before it came; last seen {st:?}");
            }
            assert!(
                start.elapsed() < RUN_LIMIT,
                "moment {name}: not reached in {RUN_LIMIT:?}; last seen {st:?}"
            );
            let d = slice(&st);
            thaw(pid);
            if d >= Duration::from_micros(100) {
                std::thread::sleep(d);
            } else {
                let t = Instant::now();
                while t.elapsed() < d {
                    std::hint::spin_loop();
                }
            }
        };
        // Reap it: a zombie's pid still "runs", and its lock would not be stale.
        let status = child.wait().expect("reap prune");
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "prune died of SIGKILL"
        );
        let after = self.state();
        assert_eq!(after, seen, "the kill of a stopped process changes nothing");
        eprintln!(
            "moment {name}: killed after {steps} steps, {:?}: {} packs ({} new, {} original gone), {} tmp, {} segments ({} new, {} original gone), {} live sets",
            start.elapsed(),
            seen.packs.len(),
            seen.packs.difference(&self.p.packs).count(),
            self.p.packs.difference(&seen.packs).count(),
            seen.tmp_packs,
            seen.segments.len(),
            seen.segments.difference(&self.p.segments).count(),
            self.p.segments.difference(&seen.segments).count(),
            seen.live_sets.len(),
        );
        Killed { pid, at: seen }
    }

    /// Slices of 2 ms until the repack writes its first pack, then the finest.
    fn fine_after_repack_started(&self, st: &State) -> Duration {
        if st.tmp_packs > 0 || self.new_packs(st) > 0 {
            FINE
        } else {
            COARSE
        }
    }

    /// Slices of 2 ms until the repack's segment is written, then the finest.
    fn fine_after_repack(&self, st: &State) -> Duration {
        if self.new_segments(st) > 0 {
            FINE
        } else {
            COARSE
        }
    }

    fn new_packs(&self, st: &State) -> usize {
        st.packs.difference(&self.p.packs).count()
    }

    fn gone_packs(&self, st: &State) -> usize {
        self.p.packs.difference(&st.packs).count()
    }

    fn new_segments(&self, st: &State) -> usize {
        st.segments.difference(&self.p.segments).count()
    }

    fn gone_segments(&self, st: &State) -> usize {
        self.p.segments.difference(&st.segments).count()
    }

    fn assert_restores(&self, k: &Kept, when: &str) {
        let out = self.w.path(&format!("restore-{}", &k.id[..12]));
        let _ = fs::remove_dir_all(&out);
        let o = self.w.run(&["restore", &k.id, "--out", s(&out)]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "restore of {} {when}:\n{}",
            k.what,
            describe(&o)
        );
        let got = tree_digest(&out.join(&k.udid)).expect("restored folder");
        assert!(got == k.digest, "{} restores byte-exact {when}", k.what);
        fs::remove_dir_all(&out).unwrap();
    }

    /// Everything a killed prune must leave true, then the rerun. Returns the rerun's report.
    fn verify_after_kill(&self, killed: &Killed) -> Value {
        let w = &self.w;
        assert_eq!(killed.at.locks, 1, "the killed prune's lock is left behind");

        let check = w.json(&["check", "--read-data"], 0);
        assert_eq!(
            check["ok"], true,
            "check --read-data after the kill: {check:#}"
        );
        assert!(u(&check["blobs_checked"]) > 0, "{check:#}");
        let snapshots = u(&check["snapshots"]);
        assert_eq!(snapshots, self.p.kept.len() as u64, "{check:#}");
        for k in &self.p.kept {
            self.assert_restores(k, "after the kill");
        }

        // The rerun (the same command again) is not blocked by the dead process's lock, and
        // says how to clear it.
        let o = w.run(&[
            "--json",
            "--lock-wait",
            "0",
            "prune",
            "--max-unused",
            MAX_UNUSED,
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "the rerun of prune:\n{}",
            describe(&o)
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("of pid {} ", killed.pid)) && err.contains("hearth unlock"),
            "the rerun notes the stale lock and `hearth unlock`: {err}"
        );
        let rerun: Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
        eprintln!("rerun: {rerun}");

        let after = w.json(&["prune", "--dry-run", "--max-unused", MAX_UNUSED], 0);
        for field in [
            "delete_packs",
            "unindexed_packs",
            "repack_packs",
            "bytes_freed",
        ] {
            assert_eq!(u(&after[field]), 0, "{field} after the rerun: {after:#}");
        }
        assert!(
            u(&after["used_bytes"]) <= u(&self.p.plan["used_bytes"]),
            "nothing new is used: {after:#}"
        );
        // The rerun finished the job the killed prune started: no pack is left that the
        // killed prune meant to delete, and only what the kept snapshots use remains.
        assert!(
            u(&after["pack_bytes"]) - u(&after["used_bytes"])
                <= u(&self.p.plan["unused_after"]) + u(&self.p.plan["pack_bytes"]) / 100,
            "unused after the rerun {after:#}, planned {:#}",
            self.p.plan
        );

        let out = w.ok(&["unlock"]);
        assert!(
            out.contains("removed lock") && out.contains(&format!("of pid {} ", killed.pid)),
            "unlock removes the killed prune's lock:\n{out}"
        );
        assert_eq!(self.state().locks, 0, "no lock is left after unlock");
        // What the rerun deleted was not needed: the structure check resolves every blob of
        // every snapshot to a pack that exists, and the snapshots restore.
        let check = w.json(&["check"], 0);
        assert_eq!(check["ok"], true, "check after the rerun: {check:#}");
        assert_eq!(check["notes"], serde_json::json!([]), "{check:#}");
        for k in &self.p.kept {
            self.assert_restores(k, "after the rerun");
        }
        rerun
    }
}

/// (0) Planning: prune holds its lock and has written nothing yet (its live set is in memory
/// at this size; a larger one would be a file in the cache folder, which later commands remove).
#[test]
fn killed_while_planning() {
    let c = Case::new();
    let k = c.kill_when(
        "planning",
        |_| Duration::from_micros(500),
        |st| st.locks > 0 && st.tmp_packs == 0 && c.new_packs(st) == 0,
    );
    assert_eq!(
        (&k.at.packs, &k.at.segments),
        (&c.p.packs, &c.p.segments),
        "planning writes nothing to the repository"
    );
    c.verify_after_kill(&k);
    let left = c.state().live_sets;
    assert!(
        left.is_empty(),
        "the killed prune's live set is left in the cache folder after later commands: {left:?}"
    );
}

/// (1) Repacking: a new pack is being written or written, and no segment names it yet.
#[test]
fn killed_while_repacking() {
    let c = Case::new();
    let k = c.kill_when(
        "repacking",
        |_| Duration::from_millis(2),
        |st| st.tmp_packs > 0 || c.new_packs(st) > 0,
    );
    assert_eq!(c.new_segments(&k.at), 0, "{:?}", k.at);
    assert_eq!(
        c.gone_packs(&k.at) + c.gone_segments(&k.at),
        0,
        "{:?}",
        k.at
    );
    let linked = c.new_packs(&k.at);
    let tmp = k.at.tmp_packs;
    let rerun = c.verify_after_kill(&k);
    assert!(
        u(&rerun["unindexed_packs"]) >= linked as u64,
        "the rerun deletes the {linked} new pack(s) no segment names: {rerun:#}"
    );
    if tmp > 0 {
        let left = temporary_files(&c.w.repo());
        assert!(
            left.is_empty(),
            "the killed prune's partial pack is left after a prune that held the exclusive lock: {left:?}"
        );
    }
}

/// (2) The repack is committed (its packs and their segment are written) and no old segment
/// has been rewritten: every copied blob is in two packs.
#[test]
fn killed_after_the_repack_before_any_segment_rewrite() {
    let c = Case::new();
    let k = c.kill_when(
        "repack committed",
        |st| c.fine_after_repack_started(st),
        |st| c.new_segments(st) > 0,
    );
    assert_eq!(
        c.gone_segments(&k.at),
        0,
        "no old segment is rewritten yet: {:?}",
        k.at
    );
    assert_eq!(c.gone_packs(&k.at), 0, "{:?}", k.at);
    assert!(c.new_packs(&k.at) > 0, "{:?}", k.at);
    c.verify_after_kill(&k);
}

/// (3) Rewriting segments: some old segment is gone (or rewritten), no pack deleted yet.
#[test]
fn killed_while_rewriting_segments() {
    let c = Case::new();
    let k = c.kill_when(
        "rewriting segments",
        |st| c.fine_after_repack(st),
        |st| c.new_segments(st) > 0 && c.gone_segments(st) > 0,
    );
    assert_eq!(c.gone_packs(&k.at), 0, "no pack is deleted yet: {:?}", k.at);
    assert!(
        c.gone_segments(&k.at) < c.p.segments.len(),
        "the kill came before the last segment was rewritten: {:?}",
        k.at
    );
    c.verify_after_kill(&k);
}

/// (4) Deleting packs: some of the doomed packs are gone, not all.
#[test]
fn killed_while_deleting_packs() {
    let c = Case::new();
    let doomed = u(&c.p.plan["delete_packs"]) + u(&c.p.plan["repack_packs"]);
    let k = c.kill_when(
        "deleting packs",
        |st| c.fine_after_repack(st),
        |st| c.gone_packs(st) > 0,
    );
    let gone = c.gone_packs(&k.at) as u64;
    // Deleting a local file takes microseconds, so the stop can land after the last deletion
    // (before the cache is synced): a crash point too, but say which one this run hit.
    eprintln!("{gone} of {doomed} doomed packs were deleted at the kill");
    assert!(
        gone > 0 && gone <= doomed,
        "the kill came in the deletion phase: {gone} of {doomed}"
    );
    let rerun = c.verify_after_kill(&k);
    assert_eq!(
        u(&rerun["unindexed_packs"]),
        doomed - gone,
        "the rerun deletes the doomed packs the killed prune left, named by no segment: {rerun:#}"
    );
}
