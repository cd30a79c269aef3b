//! Several `hearth` processes on one repository at once (issue 5, item 3): real processes,
//! never threads.
//!
//! - Two backups started together (other devices, or the same device twice) both commit, and
//!   both snapshots restore byte-exact.
//! - A prune (or `forget --prune`) started while a backup runs waits for it, and deletes
//!   nothing that backup references, including blobs of a snapshot being forgotten that the
//!   backup deduplicated against (the race duplicacy lost chunks to).
//! - A backup started while a prune holds its exclusive lock waits; `--lock-wait 0` fails at
//!   once naming the holder.
//! - The lock of a killed backup does not block, and is reported with `hearth unlock`.
//!
//! Where an interleaving must be exact, the test does not rely on timing: it stops a process
//! with SIGSTOP at the moment it wants (e.g. a backup holding its lock with a pack written and
//! its snapshot not) and lets it go on with SIGCONT, so that the other process meets that state
//! for certain. A stopped process is alive: its lock is live and its cache held.

use crate::common;

use common::{s, u};

use common::procs::{Proc, freeze, thaw};
use common::{World, describe, is_object_name, names, pack_files};
use hearth_testkit::{
    DayOptions, DeviceSpec, FileDigest, GeneratedDevice, Household, HouseholdSpec, clone_device,
    generate, next_day, tree_digest,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

type Digest = BTreeMap<String, FileDigest>;

/// How often the repository folder is looked at while processes run.
const POLL: Duration = Duration::from_millis(1);
/// Longest any wait of these tests may take (debug build, loaded machine).
const LIMIT: Duration = Duration::from_secs(120);

/// What the repository and its cache folder hold at one instant.
#[derive(Debug, Clone, Default)]
struct State {
    packs: BTreeSet<String>,
    tmp_packs: usize,
    snapshots: BTreeSet<String>,
    locks: usize,
    /// `index-<pid>.redb`: private caches of processes that found the shared one held.
    private_caches: Vec<String>,
}

fn state(w: &World) -> State {
    let repo = w.repo();
    let mut st = State::default();
    let (packs, tmp) = pack_files(&repo);
    st.packs.extend(packs);
    st.tmp_packs = tmp;
    st.snapshots = names(&repo.join("snapshots"))
        .into_iter()
        .filter(|n| is_object_name(n))
        .collect();
    st.locks = names(&repo.join("locks"))
        .iter()
        .filter(|n| is_object_name(n))
        .count();
    let cache = w.path("cache");
    for d in names(&cache) {
        for n in names(&cache.join(d)) {
            if n.starts_with("index-") {
                st.private_caches.push(n);
            }
        }
    }
    st
}

/// Polls until `cond` holds of the repository (panics after LIMIT, or if `alive` says a process
/// the wait depends on has ended).
fn wait_for(
    w: &World,
    what: &str,
    mut alive: impl FnMut() -> bool,
    cond: impl Fn(&State) -> bool,
) -> State {
    let start = Instant::now();
    loop {
        let st = state(w);
        if cond(&st) {
            return st;
        }
        assert!(alive(), "{what}: the process ended first; last seen {st:?}");
        assert!(
            start.elapsed() < LIMIT,
            "{what}: not within {LIMIT:?}; last seen {st:?}"
        );
        std::thread::sleep(POLL);
    }
}

/// A device of about `mb` MB of unique, mostly incompressible media: a backup of it lasts
/// long enough (a debug build stores about 10-15 MB/s) to be caught in the middle.
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

/// A household of big devices (name, MB; see [`big_device`]) in `w`'s `folder`.
fn big_household(w: &World, folder: &str, seed: u64, devices: &[(&str, u64)]) -> Household {
    let spec = HouseholdSpec {
        seed,
        devices: devices
            .iter()
            .map(|&(name, mb)| big_device(name, mb))
            .collect(),
        shared_photo_fraction: 0.0,
    };
    generate(&spec, &w.path(folder)).expect("household generates")
}

/// [`assert_restores`] of a generated device's snapshot against the device's folder now.
fn assert_device_restores(w: &World, snapshot: &str, device: &GeneratedDevice, what: &str) {
    assert_restores(w, snapshot, &device.udid, &digest(&device.folder), what);
}

/// `hearth restore SNAPSHOT` and a comparison with the folder it was made from.
fn assert_restores(w: &World, snapshot: &str, udid: &str, want: &Digest, what: &str) {
    let out = w.path(&format!(
        "restore-{}",
        snapshot.replace(['@', ' ', '\''], "-")
    ));
    let _ = fs::remove_dir_all(&out);
    let o = w.run(&["restore", snapshot, "--out", s(&out)]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "restore of {what}:\n{}",
        describe(&o)
    );
    let got = tree_digest(&out.join(udid)).expect("restored folder");
    assert!(&got == want, "{what} restores byte-exact");
    fs::remove_dir_all(&out).unwrap();
}

fn digest(p: &Path) -> Digest {
    tree_digest(p).expect("digest of a device folder")
}

/// The snapshots of a `backup --json` report: udid → id.
fn snapshot_ids(report: &Value) -> BTreeMap<String, String> {
    report["snapshots"]
        .as_array()
        .expect("snapshots array")
        .iter()
        .map(|r| {
            (
                r["device"]["udid"].as_str().unwrap().to_owned(),
                r["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn assert_clean(w: &World) {
    let check = w.json(&["check", "--read-data"], 0);
    assert_eq!(check["ok"], true, "{check:#}");
    assert_eq!(check["notes"], serde_json::json!([]), "{check:#}");
    let st = state(w);
    assert_eq!(st.locks, 0, "every lock is released: {st:?}");
    assert!(
        st.private_caches.is_empty(),
        "private caches are deleted when their process ends: {st:?}"
    );
}

/// Started together with no help: the second finds the shared cache held, waits for it (up to
/// 300 ms), then takes a private one; each backup lasts longer than that, so they overlap.
#[test]
fn two_backups_of_different_devices_started_together_both_commit() {
    let w = World::with_repo();
    let h = big_household(
        &w,
        "Backup",
        11,
        &[("Gran's iPhone", 36), ("Grandad's iPhone", 36)],
    );
    let (a, b) = (&h.devices[0], &h.devices[1]);
    let mut pa = Proc::run(&w, "backup-a", &["--json", "backup", s(&a.folder)]);
    let mut pb = Proc::run(&w, "backup-b", &["--json", "backup", s(&b.folder)]);
    // Watch them: how many locks at once, whether one used a private cache.
    let (mut most_locks, mut private) = (0, BTreeSet::new());
    while pa.running() || pb.running() {
        let st = state(&w);
        most_locks = most_locks.max(st.locks);
        private.extend(st.private_caches);
        std::thread::sleep(POLL);
    }
    eprintln!("at most {most_locks} locks at once; private caches seen: {private:?}");
    let ra = pa.wait().ok("the first backup").json();
    let rb = pb.wait().ok("the second backup").json();
    assert_eq!(
        most_locks, 2,
        "the two backups held their locks at the same time"
    );
    assert_eq!(
        private.len(),
        1,
        "one of them used a private cache: {private:?}"
    );
    let ia = snapshot_ids(&ra);
    let ib = snapshot_ids(&rb);
    assert_eq!(ia.len(), 1, "{ra:#}");
    assert_eq!(ib.len(), 1, "{rb:#}");
    assert_eq!(state(&w).snapshots.len(), 2);
    assert_device_restores(&w, &ia[&a.udid], a, "the first device");
    assert_device_restores(&w, &ib[&b.udid], b, "the second device");
    assert_clean(&w);
}

/// Starts `hearth backup FOLDER` and stops it once it holds its lock and has written a pack
/// (or is writing one), with nothing committed.
fn backup_stopped_midway(w: &World, name: &str, folder: &Path) -> Proc {
    let before = state(w);
    let mut p = Proc::run(w, name, &["--json", "backup", s(folder)]);
    wait_for(
        w,
        &format!("{name} holds its lock and writes a pack"),
        || p.running(),
        |st| st.locks > before.locks && (st.tmp_packs > 0 || st.packs.len() > before.packs.len()),
    );
    freeze(p.pid());
    assert_eq!(
        state(w).snapshots,
        before.snapshots,
        "{name} has committed nothing yet"
    );
    p
}

/// The same device twice, exactly interleaved: the first backup is stopped half-way, the
/// second runs start to end, then the first finishes.
#[test]
fn the_same_device_backed_up_twice_at_once() {
    let w = World::with_repo();
    let h = big_household(&w, "Backup", 12, &[("Gran's iPhone", 24)]);
    let d = &h.devices[0];
    let pa = backup_stopped_midway(&w, "backup-a", &d.folder);
    let rb = Proc::run(&w, "backup-b", &["--json", "backup", s(&d.folder)])
        .wait()
        .ok("the second backup, beside the stopped first")
        .json();
    thaw(pa.pid());
    let ra = pa.wait().ok("the first backup, resumed").json();
    let (ia, ib) = (snapshot_ids(&ra), snapshot_ids(&rb));
    assert_ne!(ia[&d.udid], ib[&d.udid], "two snapshots");
    let listed = w.json(&["snapshots", "--device", &d.udid], 0);
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed:#}");
    let want = digest(&d.folder);
    assert_restores(&w, &ia[&d.udid], &d.udid, &want, "the first snapshot");
    assert_restores(&w, &ib[&d.udid], &d.udid, &want, "the second snapshot");
    assert_clean(&w);
}

/// Exactly interleaved: backup A is stopped while it holds its (shared) lock and the shared
/// cache, with a pack written and its snapshot not; backup B runs start to end meanwhile, on a
/// private cache; then A finishes.
#[test]
fn a_backup_runs_start_to_end_while_another_holds_its_lock() {
    let w = World::with_repo();
    let h = big_household(
        &w,
        "Backup",
        13,
        &[("Gran's iPhone", 24), ("Grandad's iPhone", 4)],
    );
    let (a, b) = (&h.devices[0], &h.devices[1]);
    let mut pa = Proc::run(&w, "backup-a", &["--json", "backup", s(&a.folder)]);
    let at = wait_for(
        &w,
        "backup A holds its lock and wrote a pack",
        || pa.running(),
        |st| st.locks == 1 && (st.tmp_packs > 0 || !st.packs.is_empty()),
    );
    freeze(pa.pid());
    assert!(at.snapshots.is_empty(), "{at:?}");

    let mut pb = Proc::run(&w, "backup-b", &["--json", "backup", s(&b.folder)]);
    let private = format!("index-{}.redb", pb.pid());
    let mut seen_private = false;
    let mut most_locks = 0;
    while pb.running() {
        let st = state(&w);
        seen_private |= st.private_caches.contains(&private);
        most_locks = most_locks.max(st.locks);
        std::thread::sleep(POLL);
    }
    let rb = pb.wait().ok("backup B beside the stopped A").json();
    assert!(
        seen_private,
        "B, finding the shared cache held by A, used {private}"
    );
    assert_eq!(most_locks, 2, "B held its lock while A held its own");
    let st = state(&w);
    assert_eq!(st.snapshots.len(), 1, "B committed while A had not: {st:?}");
    assert!(
        st.private_caches.is_empty(),
        "B's private cache is gone: {st:?}"
    );
    assert_eq!(st.locks, 1, "A's lock is still there: {st:?}");
    let ib = snapshot_ids(&rb);
    assert_device_restores(&w, &ib[&b.udid], b, "B, with A still stopped");

    thaw(pa.pid());
    let ra = pa.wait().ok("backup A, resumed").json();
    let ia = snapshot_ids(&ra);
    assert_device_restores(&w, &ia[&a.udid], a, "A");
    assert_device_restores(&w, &ib[&b.udid], b, "B");
    assert_clean(&w);
}

/// A process killed while it uses a private cache leaves `index-<pid>.redb`; the next command
/// to open the repository removes it (its pid is dead).
#[test]
fn a_killed_processs_private_cache_is_removed_by_the_next_command() {
    let w = World::with_repo();
    let h = big_household(
        &w,
        "Backup",
        17,
        &[("Gran's iPhone", 12), ("Grandad's iPhone", 12)],
    );
    let (a, b) = (&h.devices[0], &h.devices[1]);
    let pa = backup_stopped_midway(&w, "backup-a", &a.folder);
    let mut pb = Proc::run(&w, "backup-b", &["backup", s(&b.folder)]);
    let private = format!("index-{}.redb", pb.pid());
    wait_for(
        &w,
        "B opens a private cache",
        || pb.running(),
        |st| st.private_caches.contains(&private),
    );
    pb.kill();
    pb.wait();
    assert!(
        state(&w).private_caches.contains(&private),
        "the killed process's cache is left"
    );
    thaw(pa.pid());
    let ra = pa.wait().ok("backup A, resumed").json();
    // A opened its cache before B died; the next command to open the repository cleans up.
    w.ok(&["snapshots"]);
    let st = state(&w);
    assert!(
        st.private_caches.is_empty(),
        "the next command removed the dead process's private cache: {st:?}"
    );
    let ia = snapshot_ids(&ra);
    assert_device_restores(&w, &ia[&a.udid], a, "A");
    w.ok(&["unlock"]);
    assert_clean(&w);
}

/// The race duplicacy lost chunks to, made exact. Mum has two snapshots; a copy of her day-1
/// folder is a new phone ("Mum's new iPhone"). A backup of Gran's big device and then of the
/// new phone (on one thread, so the devices go in that order rather than side by side) is
/// stopped while it writes Gran's packs, before it reaches the new phone; then
/// `forget --device Mum --keep-last 1 --prune` starts, which forgets Mum's day-1 snapshot —
/// the only snapshot holding blobs the new phone's backup will find already stored and not
/// write again. The prune must wait for the backup: if it planned now, those blobs would be
/// unused and deleted, and the new phone's snapshot would name blobs that are gone.
#[test]
fn prune_waits_for_a_running_backup_and_keeps_what_it_deduplicated_against() {
    let w = World::with_repo();
    let h = generate(&HouseholdSpec::tiny(), &w.path("Backup")).expect("tiny household");
    let mum = &h.devices[0];
    let gran = big_household(&w, "GranBackup", 14, &[("Gran's iPhone", 24)]);
    let gran = &gran.devices[0];

    let day1 = w.json(&["backup", s(&mum.folder)], 0);
    let mum1 = snapshot_ids(&day1)[&mum.udid].clone();
    let twin_udid = "00008030-00AA11BB22CC33DD";
    let twin = clone_device(&mum.folder, &w.path("Twin"), twin_udid, "Mum's new iPhone")
        .expect("a copy of the device as another");
    next_day(&h, 1, &DayOptions::default()).expect("a night of edits");
    let day2 = w.json(&["backup", s(&mum.folder)], 0);
    let mum2 = snapshot_ids(&day2)[&mum.udid].clone();

    let before = state(&w);
    let mut one_thread = w.cmd(&["--json", "backup", s(&gran.folder), s(&twin)]);
    one_thread.env("RAYON_NUM_THREADS", "1");
    let mut backup = Proc::spawn(one_thread, &w, "backup");
    // Packs are staged as they fill and committed in batches, the last at the end of a device.
    let at = wait_for(
        &w,
        "the backup writes Gran's first pack",
        || backup.running(),
        |st| st.locks == 1 && (st.tmp_packs > 0 || st.packs.len() > before.packs.len()),
    );
    freeze(backup.pid());
    assert_eq!(
        at.snapshots.len(),
        2,
        "the backup has committed nothing yet: {at:?}"
    );

    let mut forget = Proc::run(
        &w,
        "forget",
        &[
            "forget",
            "--device",
            &mum.udid,
            "--keep-last",
            "1",
            "--prune",
        ],
    );
    forget.wait_for_stderr("waiting for a running backup");
    let waiting = state(&w);
    assert!(
        waiting.snapshots.contains(&mum1),
        "forget removed nothing while it waits: {waiting:?}"
    );
    assert!(
        at.packs.is_subset(&waiting.packs),
        "prune deleted nothing while it waits: {waiting:?}"
    );
    assert!(forget.running(), "forget --prune is still waiting");

    thaw(backup.pid());
    let report = backup.wait().ok("the backup").json();
    let f = forget.wait();
    f.ok("forget --prune");
    assert_eq!(
        f.stderr.matches("waiting for").count(),
        1,
        "the wait is announced once:\n{}",
        f.describe()
    );
    assert!(f.stdout.contains("removed 1 snapshot"), "{}", f.describe());

    let ids = snapshot_ids(&report);
    let twin_report = report["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["device"]["udid"] == twin_udid)
        .expect("the new phone's snapshot");
    let (added, bytes) = (u(&twin_report["bytes_added"]), u(&twin_report["bytes"]));
    assert!(
        added < bytes / 20,
        "the new phone's backup found Mum's day-1 blobs stored and did not write them again: {added} of {bytes}"
    );
    let listed = state(&w).snapshots;
    assert!(!listed.contains(&mum1), "Mum's day-1 snapshot is forgotten");
    assert!(listed.contains(&mum2));
    assert_restores(
        &w,
        &ids[twin_udid],
        twin_udid,
        &digest(&twin),
        "the new phone (Mum's day-1 content)",
    );
    assert_device_restores(&w, &ids[&gran.udid], gran, "Gran");
    assert_device_restores(&w, &mum2, mum, "Mum's day 2");
    assert_clean(&w);
    let plan = w.json(&["prune", "--dry-run"], 0);
    assert_eq!(
        (u(&plan["delete_packs"]), u(&plan["unindexed_packs"])),
        (0, 0),
        "{plan:#}"
    );
}

/// Without stopping anyone: a prune started as soon as a backup holds its lock. It waits (for
/// the shared cache, up to 300 ms, then for the backup's lock); whenever it took its lock, it must
/// have planned with the backup's packs indexed and its snapshot committed (never seeing them
/// as unindexed, which it would delete).
#[test]
fn prune_started_during_a_backup_never_deletes_its_packs() {
    let w = World::with_repo();
    let h = big_household(&w, "Backup", 15, &[("Gran's iPhone", 45)]);
    let gran = &h.devices[0];
    let mut backup = Proc::run(&w, "backup", &["--json", "backup", s(&gran.folder)]);
    wait_for(
        &w,
        "the backup holds its lock",
        || backup.running(),
        |st| st.locks == 1,
    );
    let prune = Proc::run(&w, "prune", &["--json", "prune"]);
    let report = backup.wait().ok("the backup").json();
    let p = prune.wait();
    let plan = p.ok("prune").json();
    let waited = p.stderr.contains("waiting for a running backup");
    eprintln!("prune waited for the backup: {waited}; {plan}");
    let st = state(&w);
    assert_eq!(
        (
            u(&plan["unindexed_packs"]),
            u(&plan["packs_deleted"]),
            u(&plan["packs"])
        ),
        (0, 0, st.packs.len() as u64),
        "prune planned with every pack of the backup indexed and deleted none: {plan:#}\n{}",
        p.describe()
    );
    let id = &snapshot_ids(&report)[&gran.udid];
    assert_device_restores(&w, id, gran, "the backup beside the prune");
    assert_clean(&w);
}

/// Runs `hearth prune` and stops it as soon as its lock is on disk (stepping it: a short run,
/// a stop, a look), returning it stopped while it holds its exclusive lock.
fn prune_stopped_holding_its_lock(w: &World) -> Proc {
    for _ in 0..20 {
        let mut p = Proc::run(w, "prune", &["--json", "prune"]);
        loop {
            freeze(p.pid());
            if state(w).locks == 1 {
                return p;
            }
            if !p.running() {
                break;
            }
            thaw(p.pid());
            std::thread::sleep(Duration::from_micros(200));
        }
        p.wait().ok("a prune that ended before it was caught");
    }
    panic!("prune was never caught holding its lock in 20 runs");
}

#[test]
fn a_backup_waits_for_a_prune_and_lock_wait_0_fails_at_once() {
    let w = World::with_repo();
    let h = generate(&HouseholdSpec::tiny(), &w.path("Backup")).expect("tiny household");
    let (mum, dad) = (&h.devices[0], &h.devices[1]);
    w.json(&["backup", s(&mum.folder)], 0);

    let prune = prune_stopped_holding_its_lock(&w);
    let before = state(&w);
    // Exclusive against shared: a backup with --lock-wait 0 fails at once, naming the holder.
    let t = Instant::now();
    let o = w.run(&["--lock-wait", "0", "backup", s(&dad.folder)]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("exclusive lock (prune or forget)")
            && err.contains(&format!("pid {}", prune.pid()))
            && err.contains("hearth unlock"),
        "the refusal names the prune and how to clear a dead lock: {err}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "--lock-wait 0 does not wait: {:?}",
        t.elapsed()
    );
    let after = state(&w);
    assert_eq!(
        (&after.snapshots, &after.packs, after.locks),
        (&before.snapshots, &before.packs, 1),
        "the refused backup wrote nothing"
    );
    // Exclusive against exclusive: so does a second prune, and forget.
    let o = w.run(&["--lock-wait", "0", "prune"]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let o = w.run(&["--lock-wait", "0", "forget", "--keep-last", "1"]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    // Listing snapshots reads only the cache and takes no lock; commands that read packs take
    // a shared lock, so a prune never deletes a pack under them: they wait for it too.
    w.ok(&["snapshots"]);
    let latest = format!("{}@latest", mum.udid);
    let out = w.path("out");
    let readers: [&[&str]; 5] = [
        &["prune", "--dry-run"],
        &["check"],
        &["ls", &latest],
        &["stats"],
        &["restore", &latest, "--out", s(&out)],
    ];
    for args in readers {
        let mut all = vec!["--lock-wait", "0"];
        all.extend_from_slice(args);
        let o = w.run(&all);
        assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("exclusive lock (prune or forget)"),
            "{args:?} waits for the prune: {err}"
        );
    }
    assert!(!out.exists(), "the restore wrote nothing");
    // A short wait runs out, saying once what it waited for.
    let o = w.run(&["--lock-wait", "1s", "backup", s(&dad.folder)]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        err.matches("waiting for a prune or forget").count(),
        1,
        "{err}"
    );

    // With the default wait, the backup waits until the prune is done, then runs.
    let mut backup = Proc::run(&w, "backup", &["--json", "backup", s(&dad.folder)]);
    backup.wait_for_stderr("waiting for a prune or forget");
    assert_eq!(
        state(&w).snapshots,
        before.snapshots,
        "the waiting backup has committed nothing"
    );
    thaw(prune.pid());
    prune.wait().ok("the prune, resumed");
    let report = backup.wait().ok("the backup that waited").json();
    let id = &snapshot_ids(&report)[&dad.udid];
    assert_device_restores(&w, id, dad, "the backup that waited");
    assert_clean(&w);
}

#[test]
fn a_killed_backups_lock_is_reported_and_does_not_block() {
    let w = World::with_repo();
    let h = big_household(&w, "Backup", 16, &[("Gran's iPhone", 12)]);
    let gran = &h.devices[0];
    let tiny = generate(&HouseholdSpec::tiny(), &w.path("Tiny")).expect("tiny household");
    w.json(&["backup", s(&tiny.devices[0].folder)], 0);

    let mut backup = Proc::run(&w, "backup", &["backup", s(&gran.folder)]);
    let pid = backup.pid();
    wait_for(
        &w,
        "the backup holds its lock",
        || backup.running(),
        |st| st.locks == 1,
    );
    backup.kill();
    let ended = backup.wait(); // reaped: a zombie's pid would still "run"
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(ended.status.signal(), Some(libc::SIGKILL));
    assert_eq!(state(&w).locks, 1, "the killed backup's lock is left");

    // An exclusive command is not blocked (even with --lock-wait 0) and says what to do.
    let o = w.run(&["--lock-wait", "0", "--json", "prune"]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("of pid {pid} "))
            && err.contains("stale")
            && err.contains("hearth unlock"),
        "the stale lock is noted with `hearth unlock`: {err}"
    );
    assert!(!err.contains("waiting for"), "{err}");
    let o = w.run(&["--lock-wait", "0", "forget", "--keep-last", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));

    let out = w.ok(&["unlock"]);
    assert!(
        out.contains("removed lock")
            && out.contains(&format!("of pid {pid} "))
            && out.contains("no longer running"),
        "unlock removes the killed backup's lock:\n{out}"
    );
    assert_eq!(state(&w).locks, 0);
    assert!(w.ok(&["unlock"]).contains("no stale locks"));
    let o = w.run(&["--lock-wait", "0", "prune"]);
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("stale"),
        "{}",
        describe(&o)
    );

    // The backup runs again and restores.
    let report = w.json(&["backup", s(&gran.folder)], 0);
    let id = &snapshot_ids(&report)[&gran.udid];
    assert_device_restores(&w, id, gran, "the backup after the kill");
    assert_clean(&w);
}
