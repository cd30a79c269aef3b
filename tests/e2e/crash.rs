//! Crash safety of the write path (issue 2, item 9; `docs/format.md` §11): a real `hearth backup`
//! process is killed with SIGKILL at chosen moments of the commit order, and afterwards
//! `check` (and `check --read-data`) passes, every snapshot committed before the kill restores
//! byte-exact, `unlock` clears the dead process's lock and rerunning the backup completes.
//!
//! The moments are chosen by watching the repository folder, never by sleeping blindly: the
//! test polls `packs/`, `index/` and `snapshots/` every millisecond and kills the child as soon
//! as the state it wants is on disk, then re-reads the folder to assert which moment it hit.
//!
//! Each test builds its own world: a three-device household backed up in full (day 1, the
//! "earlier snapshots"), then edited by one night (`next_day`) while a fourth device, big enough
//! to fill several 16 MiB packs before its commit, joins. The killed backup is
//! `hearth backup <new device> <household>`: the four devices at once, each commit being
//! staged packs made durable and visible, an index segment naming them, then the snapshot.

use crate::common;

use common::{World, describe, is_object_name, names, pack_files};
use hearth_testkit::{
    DayOptions, DeviceSpec, FileDigest, Household, HouseholdSpec, copy_tree, generate, next_day,
    tree_digest,
};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// How often the repository folder is looked at while the backup runs.
const POLL: Duration = Duration::from_millis(1);
/// Longest a killed backup may run before the moment it waits for (debug build, loaded CI).
const RUN_LIMIT: Duration = Duration::from_secs(180);

type Digest = BTreeMap<String, FileDigest>;

/// Three devices of about 5 MB each: photos, a video, big SQLite databases, app containers.
fn household_spec() -> HouseholdSpec {
    let sized = |d: DeviceSpec| DeviceSpec {
        photos: 6,
        photo_bytes: 250_000,
        videos: 1,
        video_bytes: 1_000_000,
        big_db_bytes: 1_000_000,
        apps: 3,
        small_files: 80,
        ..d
    };
    HouseholdSpec {
        seed: 0xC4A5_0001,
        devices: vec![
            sized(DeviceSpec::new(
                "Mum's iPhone",
                "iPhone15,2",
                "17.5.1",
                "21F90",
            )),
            sized(DeviceSpec::new(
                "Dad's iPhone",
                "iPhone14,5",
                "17.4.1",
                "21E236",
            )),
            sized(DeviceSpec::new("Kids' iPad", "iPad13,1", "17.5.1", "21F90")),
        ],
        shared_photo_fraction: 0.4,
    }
}

/// A device joining on day 2 with about 42 MB of new, mostly incompressible media: several
/// full 16 MiB packs are staged before its commit writes the last one and its index segment.
fn newcomer_spec() -> HouseholdSpec {
    HouseholdSpec {
        seed: 0xC4A5_0002,
        devices: vec![DeviceSpec {
            photos: 12,
            photo_bytes: 1_500_000,
            videos: 1,
            video_bytes: 18_000_000,
            big_db_bytes: 1_000_000,
            apps: 3,
            small_files: 100,
            ..DeviceSpec::new("Gran's iPhone", "iPhone12,1", "17.5.1", "21F90")
        }],
        shared_photo_fraction: 0.0,
    }
}

/// What is in the repository folder at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Counts {
    /// `.tmp-*` files under `packs/`: packs written (staged) but not yet committed.
    tmp_packs: usize,
    packs: usize,
    segments: usize,
    snapshots: usize,
    locks: usize,
}

fn object_count(dir: &Path) -> usize {
    names(dir).iter().filter(|n| is_object_name(n)).count()
}

fn counts(repo: &Path) -> Counts {
    let mut c = Counts::default();
    let (packs, tmp) = pack_files(repo);
    (c.packs, c.tmp_packs) = (packs.len(), tmp);
    c.segments = object_count(&repo.join("index"));
    c.snapshots = object_count(&repo.join("snapshots"));
    c.locks = object_count(&repo.join("locks"));
    c
}

/// A backup killed at a moment: its pid, the folder as the poll saw it just before the kill,
/// and as the kill left it.
struct Killed {
    pid: u32,
    seen: Counts,
    after: Counts,
}

/// One device as a snapshot must restore it.
#[derive(Clone)]
struct Expected {
    udid: String,
    name: String,
    digest: Digest,
}

/// A repository holding day 1 of a household, and the source folders as they are on day 2.
struct Scenario {
    w: World,
    /// The three devices' Backup folder (day 2 now).
    household: PathBuf,
    /// The fourth device's Backup folder.
    newcomer: PathBuf,
    /// Day-1 snapshot id → the device folder as it was on day 1.
    day1: Vec<(String, Expected)>,
    /// Every device folder as the killed backup saw it (day 2 and the newcomer), by UDID.
    day2: BTreeMap<String, Expected>,
    /// The repository right after the day-1 backup.
    base: Counts,
}

fn expected(folders: &Household) -> Vec<Expected> {
    folders
        .devices
        .iter()
        .map(|d| Expected {
            udid: d.udid.clone(),
            name: d.name.clone(),
            digest: tree_digest(&d.folder).expect("digest of a device folder"),
        })
        .collect()
}

impl Scenario {
    fn new() -> Self {
        let w = World::with_repo();
        let household = w.path("Backup");
        let h = generate(&household_spec(), &household).expect("household generates");
        let day1_digests = expected(&h);
        let report = w.json(&["backup", household.to_str().unwrap()], 0);
        let day1 = report["snapshots"]
            .as_array()
            .expect("backup --json lists snapshots")
            .iter()
            .map(|s| {
                let udid = s["device"]["udid"].as_str().unwrap();
                let e = day1_digests.iter().find(|e| e.udid == udid);
                let e = e.expect("a generated device").clone();
                (s["id"].as_str().unwrap().to_owned(), e)
            })
            .collect::<Vec<_>>();
        assert_eq!(day1.len(), 3, "one day-1 snapshot per device");
        let base = counts(&w.repo());
        assert_eq!(
            (base.snapshots, base.locks, base.tmp_packs),
            (3, 0, 0),
            "{base:?}"
        );

        next_day(&h, 1, &DayOptions::default()).expect("night 1 edits the household");
        let newcomer = w.path("NewBackup");
        let n = generate(&newcomer_spec(), &newcomer).expect("the new device generates");
        assert!(
            n.bytes() > 36 << 20,
            "the new device fills two packs before its commit: {} bytes",
            n.bytes()
        );
        let day2 = expected(&h)
            .into_iter()
            .chain(expected(&n))
            .map(|e| (e.udid.clone(), e))
            .collect();
        Scenario {
            w,
            household,
            newcomer,
            day1,
            day2,
            base,
        }
    }

    fn backup_args(&self) -> Vec<String> {
        let p = |p: &Path| p.to_str().unwrap().to_owned();
        vec!["backup".into(), p(&self.newcomer), p(&self.household)]
    }

    fn start_backup(&self) -> Child {
        let args = self.backup_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.w
            .cmd(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("hearth backup starts")
    }

    /// Runs a backup and SIGKILLs it as soon as `moment` holds of the repository folder.
    /// Returns `None` if the backup finished first.
    fn kill_when(&self, moment: impl Fn(&Counts) -> bool) -> Option<Killed> {
        let mut child = self.start_backup();
        let pid = child.id();
        let start = Instant::now();
        let result = loop {
            let seen = counts(&self.w.repo());
            if moment(&seen) {
                child.kill().expect("SIGKILL the backup");
                break Some(seen);
            }
            if let Some(status) = child.try_wait().expect("wait for the backup") {
                eprintln!("the backup ended ({status}) before the moment came; last seen {seen:?}");
                break None;
            }
            if start.elapsed() > RUN_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                panic!("no moment within {RUN_LIMIT:?}; last seen {seen:?}");
            }
            std::thread::sleep(POLL);
        };
        // Reap the child: a zombie's pid still "runs", and its lock would not be stale.
        let status = child.wait().expect("reap the backup");
        let seen = result?;
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "the backup died of SIGKILL"
        );
        let after = counts(&self.w.repo());
        Some(Killed { pid, seen, after })
    }

    /// Everything a crash must leave true, then the rerun.
    fn verify_after_crash(&self, killed: &Killed) {
        let (w, after) = (&self.w, &killed.after);
        assert_eq!(
            after.locks, 1,
            "the killed backup's lock is left behind: {after:?}"
        );

        let check = w.json(&["check"], 0);
        assert_eq!(check["ok"], true, "{check}");
        let notes = check["notes"].to_string();
        assert!(
            notes.contains("stale lock"),
            "check notes the dead process's lock: {notes}"
        );
        let full = w.json(&["check", "--read-data"], 0);
        assert_eq!(full["ok"], true, "{full}");
        assert!(full["blobs_checked"].as_u64().unwrap() > 0, "{full}");

        // Every snapshot committed before the kill is listed and restores byte-exact: the
        // day-1 ones, and any day-2 one the killed backup had committed.
        let listed = self.snapshot_ids();
        assert_eq!(
            listed.len(),
            after.snapshots,
            "snapshots lists every committed snapshot"
        );
        for (id, e) in &self.day1 {
            assert!(
                listed.contains_key(id),
                "day-1 snapshot {id} of {} is listed",
                e.name
            );
            self.assert_restores(id, e, "day-1");
        }
        for (id, udid) in &listed {
            if !self.day1.iter().any(|(d, _)| d == id) {
                self.assert_restores(id, &self.day2[udid], "committed before the kill");
            }
        }

        let out = w.ok(&["unlock"]);
        assert!(
            out.contains("removed lock") && out.contains(&format!("of pid {} ", killed.pid)),
            "unlock removes the killed backup's lock:\n{out}"
        );
        assert_eq!(counts(&w.repo()).locks, 0, "no lock is left after unlock");

        let args = self.backup_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let rerun = w.json(&args, 0);
        // A device whose day-2 snapshot the killed backup committed is unchanged since it;
        // every other one gets its snapshot now.
        let committed: BTreeMap<&String, &String> = listed
            .iter()
            .filter(|(id, _)| !self.day1.iter().any(|(d, _)| d == *id))
            .map(|(id, udid)| (udid, id))
            .collect();
        let unchanged: BTreeMap<&str, &str> = rerun["unchanged"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                let udid = u["device"]["udid"].as_str().unwrap();
                (udid, u["unchanged_since"].as_str().unwrap())
            })
            .collect();
        let expected: BTreeMap<&str, &str> = committed
            .iter()
            .map(|(udid, id)| (udid.as_str(), id.as_str()))
            .collect();
        assert_eq!(unchanged, expected, "{rerun}");
        assert_eq!(
            rerun["snapshots"].as_array().unwrap().len() + unchanged.len(),
            4,
            "{rerun}"
        );
        let check = w.json(&["check"], 0);
        assert_eq!(check["ok"], true, "{check}");
        for (udid, e) in &self.day2 {
            self.assert_restores(&format!("{udid}@latest"), e, "after the rerun");
        }
        for (_, e) in &self.day1 {
            let now = tree_digest(&self.household.join(&e.udid)).unwrap();
            assert_eq!(
                now, self.day2[&e.udid].digest,
                "the source folder of {} is untouched",
                e.name
            );
        }
    }

    /// Snapshot id → device UDID, from `snapshots --json`.
    fn snapshot_ids(&self) -> BTreeMap<String, String> {
        let v = self.w.json(&["snapshots"], 0);
        v.as_array()
            .expect("snapshots array")
            .iter()
            .map(|s| {
                (
                    s["id"].as_str().unwrap().to_owned(),
                    s["device"]["udid"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    fn assert_restores(&self, snapshot: &str, e: &Expected, when: &str) {
        let out = self
            .w
            .path(&format!("restore-{}", snapshot.replace('@', "-")));
        let _ = fs::remove_dir_all(&out);
        let o = self
            .w
            .run(&["restore", snapshot, "--out", out.to_str().unwrap()]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "restore {snapshot} ({when}):\n{}",
            describe(&o)
        );
        let got = tree_digest(&out.join(&e.udid)).expect("restored folder");
        assert!(
            got == e.digest,
            "{when} snapshot {snapshot} of {} restores byte-exact",
            e.name
        );
        fs::remove_dir_all(&out).unwrap();
    }
}

/// (a) The first pack of the run is being written (a `.tmp-` file) or has just been linked:
/// nothing of this run is indexed or committed.
#[test]
fn killed_while_writing_the_first_pack() {
    let s = Scenario::new();
    let base = s.base;
    let k = s
        .kill_when(|c| c.tmp_packs > 0 || c.packs > base.packs)
        .expect("the first pack of a 42 MB device is written before the run ends");
    eprintln!("moment (a): killed at {:?}, left {:?}", k.seen, k.after);
    assert!(
        k.after.packs <= base.packs + 1,
        "at most the first pack was linked: {:?}",
        k.after
    );
    assert_eq!(
        (k.after.segments, k.after.snapshots),
        (base.segments, base.snapshots),
        "{:?}",
        k.after
    );
    s.verify_after_crash(&k);
}

/// (b) Packs are staged (written to temporary files, their writeback started) and not yet
/// committed: no reader sees them, the rerun stores their blobs again, and the next command
/// that takes the exclusive lock removes the temporary files.
#[test]
fn killed_with_packs_staged_but_not_committed() {
    let s = Scenario::new();
    let k = s
        .kill_when(|c| c.tmp_packs >= 2)
        .expect("the new device stages two packs before their commit");
    eprintln!("moment (b): killed at {:?}, left {:?}", k.seen, k.after);
    assert!(k.seen.tmp_packs >= 2, "{:?}", k.seen);
    assert!(
        k.after.tmp_packs >= 1,
        "the killed run left staged packs behind: {:?}",
        k.after
    );
    s.verify_after_crash(&k);
    s.w.ok(&["prune"]);
    assert_eq!(
        counts(&s.w.repo()).tmp_packs,
        0,
        "prune removes what the killed run staged"
    );
}

/// (c) An index segment is written and the snapshot that needs it is not. The window is short
/// (the segment's folder fsync, the cache commit, then the snapshot's own put), but a run has
/// four of them (one per device commit); a run whose kill lands after the snapshot is retried
/// on a fresh copy of the day-1 repository.
#[test]
fn killed_after_an_index_segment_before_its_snapshot() {
    let s = Scenario::new();
    let base = s.base;
    let pristine = s.w.path("repo-day1");
    copy_tree(&s.w.repo(), &pristine).unwrap();
    let uncommitted = |c: &Counts| c.segments - base.segments > c.snapshots - base.snapshots;
    let mut tries = Vec::new();
    for attempt in 1..=5 {
        if attempt > 1 {
            fs::remove_dir_all(s.w.repo()).unwrap();
            copy_tree(&pristine, &s.w.repo()).unwrap();
        }
        let Some(k) = s.kill_when(uncommitted) else {
            tries.push("the run ended first".to_owned());
            continue;
        };
        eprintln!(
            "moment (c), attempt {attempt}: killed at {:?}, left {:?}",
            k.seen, k.after
        );
        if !uncommitted(&k.after) {
            tries.push(format!(
                "the snapshot landed before the kill: {:?}",
                k.after
            ));
            continue;
        }
        eprintln!(
            "moment (c) hit at device commit {} of 4, after {} failed attempt(s)",
            k.after.segments - base.segments,
            tries.len()
        );
        s.verify_after_crash(&k);
        return;
    }
    panic!(
        "moment (c) was not hit in {} attempts: {tries:#?}",
        tries.len()
    );
}

/// (d) The first device's snapshot is committed, the last is not: the committed one restores,
/// the rerun makes the rest.
#[test]
fn killed_between_two_devices_snapshots() {
    let s = Scenario::new();
    let base = s.base;
    let k = s
        .kill_when(|c| c.snapshots > base.snapshots)
        .expect("the first snapshot is committed before the run ends");
    eprintln!("moment (d): killed at {:?}, left {:?}", k.seen, k.after);
    let new = k.after.snapshots - base.snapshots;
    assert!(
        (1..4).contains(&new),
        "one to three of the four snapshots were committed: {:?}",
        k.after
    );
    s.verify_after_crash(&k);
}
