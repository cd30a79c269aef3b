//! Locks you cannot lose without knowing (issue 12, item 5): real processes, never threads.
//!
//! - A prune started while a restore runs waits for it (a restore holds a shared lock), and
//!   the restore completes byte-exact.
//! - A backup stopped (SIGSTOP, as a laptop's sleep would) for longer than a lock lives, while
//!   a prune on another computer (another cache folder) takes its lock for stale and runs, fails
//!   cleanly once it is resumed: it says why, exits 1, commits nothing, and every committed
//!   snapshot still restores.
//! - A restore stopped by an error that is not damage leaves its marker, says that running it
//!   again finishes it, and running it again does.
//!
//! Lock times are the format's (stale after 30 minutes) scaled down with the debug build's
//! HEARTH_TEST_LOCK_STALE_SECS, in the tests that need a lock to go stale.

use crate::common;

use common::procs::{Proc, freeze, thaw};
use common::{World, describe, is_object_name, names, pack_files, s};
use hearth_testkit::servers::{MotoServer, S3Server};
use hearth_testkit::{
    DayOptions, DeviceSpec, FileDigest, Household, HouseholdSpec, clone_device, generate, next_day,
    tree_digest,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

type Digest = BTreeMap<String, FileDigest>;

/// Longest any wait of these tests may take (debug build, loaded machine).
const LIMIT: Duration = Duration::from_secs(150);
const POLL: Duration = Duration::from_millis(2);

/// Seconds after which a lock is stale in the test that stops a backup: long enough that a
/// refresh is never late on a loaded machine (it is given up after two thirds of it).
const STALE_SECS: &str = "20";

fn digest(p: &Path) -> Digest {
    tree_digest(p).expect("digest of a device folder")
}

fn snapshots(w: &World) -> BTreeSet<String> {
    names(&w.repo().join("snapshots"))
        .into_iter()
        .filter(|n| is_object_name(n))
        .collect()
}

fn locks(w: &World) -> usize {
    (names(&w.repo().join("locks")).iter())
        .filter(|n| is_object_name(n))
        .count()
}

fn packs(w: &World) -> (BTreeSet<String>, usize) {
    let (packs, tmp) = pack_files(&w.repo());
    (packs.into_iter().collect(), tmp)
}

/// Polls until `cond` holds (panics after LIMIT, or once `alive` says the process it waits
/// on has ended).
fn wait_until(what: &str, mut alive: impl FnMut() -> bool, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(alive(), "{what}: the process ended first");
        assert!(start.elapsed() < LIMIT, "{what}: not within {LIMIT:?}");
        std::thread::sleep(POLL);
    }
}

/// A device of about `mb` MB of unique, mostly incompressible media (several packs).
fn big_device(name: &str, mb: u64) -> DeviceSpec {
    DeviceSpec {
        photos: (mb / 2) as usize,
        photo_bytes: 1_000_000,
        videos: 1,
        video_bytes: mb * 400_000,
        big_db_bytes: 1_000_000,
        apps: 3,
        small_files: 100,
        ..DeviceSpec::new(name, "iPhone12,1", "17.5.1", "21F90")
    }
}

fn big_household(w: &World, folder: &str, seed: u64, name: &str, mb: u64) -> Household {
    let spec = HouseholdSpec {
        seed,
        devices: vec![big_device(name, mb)],
        shared_photo_fraction: 0.0,
    };
    generate(&spec, &w.path(folder)).expect("household generates")
}

/// The snapshots of a `backup --json` report: udid → id.
fn snapshot_ids(report: &Value) -> BTreeMap<String, String> {
    (report["snapshots"]
        .as_array()
        .expect("snapshots array")
        .iter())
    .map(|r| {
        (
            r["device"]["udid"].as_str().unwrap().to_owned(),
            r["id"].as_str().unwrap().to_owned(),
        )
    })
    .collect()
}

/// `hearth restore SNAPSHOT --out <world>/<out>` with `cmd`, and a comparison with `want`.
fn assert_restores(w: &World, mut cmd: Command, out: &str, udid: &str, want: &Digest) {
    let o = cmd.output().expect("hearth runs");
    assert_eq!(o.status.code(), Some(0), "restore:\n{}", describe(&o));
    let got = digest(&w.path(out).join(udid));
    assert!(&got == want, "the restore into {out} is byte-exact");
}

fn restore_cmd(w: &World, snapshot: &str, out: &str) -> Command {
    w.cmd(&["restore", snapshot, "--out", s(&w.path(out))])
}

/// Starts a restore of `snapshot` into `out` and stops it with the device folder begun and
/// unfinished (its marker there). Tries again (into a fresh folder)
/// if a run ends before it is caught.
fn restore_stopped_midway(w: &World, snapshot: &str, udid: &str) -> (Proc, String) {
    for attempt in 0..10 {
        let out = format!("restored-{attempt}");
        let marker = w.path(&out).join(format!(".{udid}.hearth-restore"));
        let mut p = Proc::spawn(restore_cmd(w, snapshot, &out), w, &out);
        let folder = w.path(&out).join(udid);
        let begun = || marker.exists() && !names(&folder).is_empty();
        let start = Instant::now();
        while !begun() && p.running() {
            assert!(start.elapsed() < LIMIT, "the restore begins");
            std::thread::sleep(POLL);
        }
        if p.running() {
            freeze(p.pid());
            if marker.exists() {
                return (p, out);
            }
            thaw(p.pid());
        }
        p.wait().ok("a restore that ended before it was caught");
    }
    panic!("the restore was never caught half-way in 10 runs");
}

#[test]
fn issue12_a_prune_started_during_a_restore_waits_for_it() {
    let w = World::with_repo();
    let h = big_household(&w, "Backup", 21, "Gran's iPhone", 40);
    let gran = &h.devices[0];
    let report = w.json(&["backup", s(&gran.folder)], 0);
    let id = snapshot_ids(&report)[&gran.udid].clone();
    let (before, _) = packs(&w);
    assert!(before.len() >= 2, "several packs: {before:?}");

    let (restore, out) = restore_stopped_midway(&w, &id, &gran.udid);
    // Forgetting the snapshot being restored and pruning would delete every pack it reads.
    let mut forget = Proc::run(&w, "forget", &["--json", "forget", &id, "--prune"]);
    forget.wait_for_stderr("waiting for a running backup, restore or check");
    assert!(forget.running(), "forget --prune waits for the restore");
    assert_eq!(
        packs(&w).0,
        before,
        "no pack deleted while the restore runs"
    );
    assert!(
        snapshots(&w).contains(&id),
        "no snapshot forgotten meanwhile"
    );

    thaw(restore.pid());
    let r = restore.wait();
    r.ok("the restore, resumed");
    assert_eq!(
        digest(&w.path(&out).join(&gran.udid)),
        digest(&gran.folder),
        "the restore is byte-exact"
    );
    let f = forget.wait();
    let done = f.ok("forget --prune, once the restore is done").json();
    assert_eq!(done["removed"].as_array().unwrap().len(), 1, "{done:#}");
    assert_eq!(
        common::u(&done["prune"]["packs_deleted"]),
        before.len() as u64,
        "then every pack went: {done:#}"
    );
    assert!(snapshots(&w).is_empty());
    assert_eq!(locks(&w), 0, "every lock is released");
}

/// Where the repository of the stale-lock tests lives, and two computers (A and B, each with
/// its own cache folder) that use it, their locks stale after [`STALE_SECS`].
struct Site {
    w: World,
    /// moto and the repository's location on it; a local folder when `None`.
    moto: Option<(MotoServer, String)>,
}

const BUCKET: &str = "locks";

impl Site {
    fn local() -> Site {
        Site {
            w: World::new(),
            moto: None,
        }
    }

    fn on_moto() -> Option<Site> {
        let server = MotoServer::start()?;
        server.create_bucket(BUCKET);
        let location = server.repo_location(BUCKET, "h");
        Some(Site {
            w: World::new(),
            moto: Some((server, location)),
        })
    }

    /// `hearth ARGS` on computer `computer`.
    fn at(&self, computer: &str, args: &[&str]) -> Command {
        let mut c = self.w.cmd(args);
        c.env(
            "HEARTH_CACHE_DIR",
            self.w.path(&format!("cache-{computer}")),
        );
        if let Some((server, location)) = &self.moto {
            c.env("HEARTH_REPO", location);
            server.configure(&mut c);
        }
        c
    }

    /// [`Site::at`], with locks that go stale in seconds.
    fn on(&self, computer: &str, args: &[&str]) -> Command {
        let mut c = self.at(computer, args);
        c.env("HEARTH_TEST_LOCK_STALE_SECS", STALE_SECS);
        c
    }

    /// The object names in one of the repository's folders (`snapshots`, `locks`, `packs`).
    fn objects(&self, dir: &str) -> BTreeSet<String> {
        match &self.moto {
            None if dir == "packs" => pack_files(&self.w.repo()).0.into_iter().collect(),
            None => (names(&self.w.repo().join(dir)).into_iter())
                .filter(|n| is_object_name(n))
                .collect(),
            Some((server, _)) => (server.list_keys(BUCKET).into_iter())
                .filter(|k| k.starts_with(&format!("h/{dir}/")))
                .filter_map(|k| k.rsplit('/').next().map(str::to_owned))
                .filter(|n| is_object_name(n))
                .collect(),
        }
    }

    /// Packs being written (local `.tmp-*` files; on S3 a pack is put whole when named).
    fn packs_being_written(&self) -> usize {
        match &self.moto {
            None => pack_files(&self.w.repo()).1,
            Some(_) => 0,
        }
    }
}

fn run_ok(mut cmd: Command, what: &str) -> Value {
    let o = cmd.output().expect("hearth runs");
    assert_eq!(o.status.code(), Some(0), "{what}:\n{}", describe(&o));
    serde_json::from_slice(&o.stdout).unwrap_or(Value::Null)
}

/// The race a lock that went stale unknown to its holder would lose. Computer A backs up Gran's
/// big device and then a new phone that is a copy of Mum's day-1 folder (one thread: in that
/// order); it is stopped (SIGSTOP, as a laptop's lid closing) once it has written packs of
/// Gran's. Computer B then runs `forget --device Mum --keep-last 1 --prune`: it waits for A's
/// lock until A has not refreshed it for the stale time, then takes it for stale, forgets Mum's
/// day-1 snapshot and prunes, deleting the data the new phone's backup would find stored (and
/// Gran's packs, which no snapshot names). A is resumed: a refresh would succeed now, but A
/// must stop, say why, exit 1 and commit nothing, since any snapshot it wrote now could name
/// data that is gone. (On S3, where nothing else stops A, committing would leave snapshots that
/// do not restore.)
fn a_backup_stopped_past_the_stale_time_fails_cleanly(site: &Site) {
    let w = &site.w;
    run_ok(site.at("a", &["init"]), "init");
    let h = generate(&HouseholdSpec::tiny(), &w.path("Backup")).expect("tiny household");
    let mum = &h.devices[0];
    let gran = big_household(w, "GranBackup", 22, "Gran's iPhone", 24);
    let gran = &gran.devices[0];

    let day1 = run_ok(site.on("a", &["--json", "backup", s(&mum.folder)]), "day 1");
    let mum1 = snapshot_ids(&day1)[&mum.udid].clone();
    let twin_udid = "00008030-00AA11BB22CC33DD";
    let twin = clone_device(&mum.folder, &w.path("Twin"), twin_udid, "Mum's new iPhone")
        .expect("a copy of the device as another");
    next_day(&h, 1, &DayOptions::default()).expect("a night of edits");
    let day2 = run_ok(site.on("a", &["--json", "backup", s(&mum.folder)]), "day 2");
    let mum2 = snapshot_ids(&day2)[&mum.udid].clone();

    let packs_before = site.objects("packs");
    let mut one_thread = site.on("a", &["--json", "backup", s(&gran.folder), s(&twin)]);
    one_thread.env("RAYON_NUM_THREADS", "1");
    let mut backup = Proc::spawn(one_thread, w, "backup");
    wait_until(
        "backup A holds its lock and writes Gran's packs",
        || backup.running(),
        || {
            site.objects("locks").len() == 1
                && (site.packs_being_written() > 0
                    || site.objects("packs").len() > packs_before.len())
        },
    );
    freeze(backup.pid());
    assert_eq!(
        site.objects("snapshots"),
        BTreeSet::from([mum1.clone(), mum2.clone()])
    );

    let forget = Proc::spawn(
        site.on(
            "b",
            &[
                "--json",
                "forget",
                "--device",
                &mum.udid,
                "--keep-last",
                "1",
                "--prune",
            ],
        ),
        w,
        "forget-b",
    );
    // A live lock would keep B waiting for the whole --lock-wait (30 minutes).
    let f = forget.wait();
    let done = f.ok("forget --prune on computer B").json();
    assert!(
        f.stderr.contains("waiting for a running backup"),
        "B waited for A's lock until it was stale:\n{}",
        f.describe()
    );
    assert_eq!(
        site.objects("snapshots"),
        BTreeSet::from([mum2.clone()]),
        "B forgot Mum's day 1"
    );
    // A's packs were being written (or written and named by no snapshot): B took them for what
    // a killed backup leaves.
    let prune = &done["prune"];
    assert!(
        common::u(&prune["packs_deleted"]) + common::u(&prune["temporary_files_removed"]) > 0,
        "B deleted what A was writing: {done:#}"
    );

    thaw(backup.pid());
    let a = backup.wait();
    assert_eq!(a.status.code(), Some(1), "{}", a.describe());
    assert!(
        a.stderr
            .contains("error: the repository lock could not be refreshed for")
            && a.stderr.contains("asleep")
            && a.stderr.contains("stopped before writing more")
            && a.stderr
                .contains("Nothing committed is lost: run the command again"),
        "A says why it stopped:\n{}",
        a.describe()
    );
    assert_eq!(
        site.objects("snapshots"),
        BTreeSet::from([mum2.clone()]),
        "A committed nothing"
    );
    assert!(site.objects("locks").is_empty(), "A removed its lock");

    // Every committed snapshot restores, and the repository checks clean, on both computers
    // (the format's lock times from here on).
    for computer in ["a", "b"] {
        let out = format!("restored-{computer}");
        let cmd = site.at(computer, &["restore", &mum2, "--out", s(&w.path(&out))]);
        assert_restores(w, cmd, &out, &mum.udid, &digest(&mum.folder));
        let check = run_ok(
            site.at(computer, &["--json", "check", "--read-data"]),
            "check",
        );
        assert_eq!(check["ok"], true, "{check:#}");
    }

    // Nothing committed is lost: run again, A backs both devices up.
    let again = run_ok(
        site.at("a", &["--json", "backup", s(&gran.folder), s(&twin)]),
        "the backup run again",
    );
    let ids = snapshot_ids(&again);
    for (udid, folder) in [(&gran.udid, &gran.folder), (&twin_udid.to_owned(), &twin)] {
        let out = format!("again-{udid}");
        let cmd = site.at("a", &["restore", &ids[udid], "--out", s(&w.path(&out))]);
        assert_restores(w, cmd, &out, udid, &digest(folder));
    }
    let check = run_ok(site.at("a", &["--json", "check", "--read-data"]), "check");
    assert_eq!(check["ok"], true, "{check:#}");
}

#[test]
fn issue12_a_backup_stopped_past_the_stale_time_while_another_computer_prunes_fails_cleanly() {
    a_backup_stopped_past_the_stale_time_fails_cleanly(&Site::local());
}

#[test]
fn issue12_on_s3_a_backup_stopped_past_the_stale_time_fails_cleanly() {
    let Some(site) = Site::on_moto() else {
        return;
    };
    a_backup_stopped_past_the_stale_time_fails_cleanly(&site);
}

/// The oldest pack file: written first, it holds none of the snapshot's file list (stored at
/// the commit, last), only file data.
fn oldest_pack(repo: &Path) -> PathBuf {
    let mut all: Vec<(SystemTime, PathBuf)> = Vec::new();
    for sub in names(&repo.join("packs")) {
        for n in names(&repo.join("packs").join(&sub)) {
            let p = repo.join("packs").join(&sub).join(&n);
            all.push((fs::metadata(&p).unwrap().modified().unwrap(), p));
        }
    }
    all.sort();
    all.remove(0).1
}

/// Issue 12, item 5: "a restore that fails ... so a retry works". A restore that stops on an
/// error that is not damage (here: a pack it cannot read) leaves its marker and the files it
/// wrote but Status.plist (so Finder and idevicebackup2 refuse the partial image), says that running it again finishes it, and running it again does, byte-exact.
#[test]
fn issue12_a_restore_stopped_by_an_error_finishes_when_run_again() {
    let w = World::with_repo();
    let h = big_household(&w, "Backup", 23, "Gran's iPhone", 40);
    let gran = &h.devices[0];
    w.json(&["backup", s(&gran.folder)], 0);
    let unreadable = oldest_pack(&w.repo());
    fs::set_permissions(&unreadable, fs::Permissions::from_mode(0o000)).unwrap();

    let latest = format!("{}@latest", gran.udid);
    let mut cmd = restore_cmd(&w, &latest, "out");
    hearth_testkit::without_permission_overrides(&mut cmd);
    let o = cmd.output().expect("hearth runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let folder = w.path("out").join(&gran.udid);
    assert!(
        err.contains("Permission denied")
            && err.contains(&format!(
                "the restore into {} did not finish: run the same command again to finish it",
                folder.display()
            )),
        "{err}"
    );
    let marker = w.path("out").join(format!(".{}.hearth-restore", gran.udid));
    assert!(marker.is_file() && folder.is_dir(), "{err}");
    assert!(
        !folder.join("Status.plist").exists(),
        "a restore that stopped short leaves no image a restore tool takes as finished"
    );
    assert_eq!(locks(&w), 0, "the restore's lock is released");

    fs::set_permissions(&unreadable, fs::Permissions::from_mode(0o644)).unwrap();
    let j = w.json(&["restore", &latest, "--out", s(&w.path("out"))], 0);
    assert_eq!(digest(&folder), digest(&gran.folder), "{j:#}");
    assert!(
        !marker.exists(),
        "the marker is gone once the restore is whole"
    );
}
