//! Repositories on S3-compatible object storage (issue 6), end to end: the real `hearth` binary
//! against real S3 servers on loopback that the tests start themselves
//! (`hearth_testkit::servers`).
//!
//! - On moto (honours `If-None-Match: *`): init, backup, snapshots, ls, restore byte-exact,
//!   forget and prune, check --read-data, stats, key, unlock, repair index; the bucket holds the
//!   repository's layout under the prefix and nothing of the local cache, and a deleted cache
//!   loses nothing.
//! - Two "computers" (processes with separate caches) back up different devices into one bucket
//!   at once; a prune from one while the other backs up loses nothing.
//! - On `rclone serve s3` (ignores conditional writes): init says so, and the fallback holds.
//! - Faults injected by a proxy: 503s, dropped connections and lost responses are retried; a
//!   server that goes away gives a clean error (exit 1), and a rerun completes with
//!   `check --read-data` passing.
//! - Four inits at once make one repository; a missing bucket or wrong credentials are clear
//!   errors, and hearth creates no bucket; `init` refuses a prefix that holds repository objects
//!   without a config (issue 11).
//!
//! A "computer" is a cache folder (`HEARTH_CACHE_DIR=<world>/cache-<name>`); the world's own
//! `repo` folder is never used and must stay absent.

use crate::common;

use common::s;

use common::procs::{Ended, Proc};
use common::{World, describe};
use hearth_testkit::servers::{self, FaultPlan, FaultProxy, MotoServer, Op, RcloneS3, S3Server};
use hearth_testkit::{
    DayOptions, DeviceSpec, FileDigest, Household, HouseholdSpec, files_under, generate, next_day,
    tree_digest,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

type Digest = BTreeMap<String, FileDigest>;

/// Longest one `hearth` process of these tests may take (debug build, busy machine, retries
/// with backoff).
const LIMIT: Duration = Duration::from_secs(150);

const PREFIX: &str = "household/hearth";

/// A repository location and the credentials that go with it.
#[derive(Clone, Debug)]
struct Remote {
    location: String,
    access_key: &'static str,
    secret_key: &'static str,
}

fn on_moto(moto: &MotoServer, bucket: &str) -> Remote {
    Remote {
        location: moto.repo_location(bucket, PREFIX),
        access_key: MotoServer::ACCESS_KEY,
        secret_key: MotoServer::SECRET_KEY,
    }
}

fn through(proxy: &FaultProxy, bucket: &str) -> Remote {
    Remote {
        location: proxy.repo_location(bucket, PREFIX),
        access_key: MotoServer::ACCESS_KEY,
        secret_key: MotoServer::SECRET_KEY,
    }
}

/// A scratch world whose repository is on a server.
struct Site {
    w: World,
    remote: Remote,
}

impl Site {
    fn new(remote: Remote) -> Site {
        Site {
            w: World::new(),
            remote,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.w.path(rel)
    }

    /// The cache folder of one computer.
    fn cache(&self, computer: &str) -> PathBuf {
        self.w.path(&format!("cache-{computer}"))
    }

    /// `hearth ARGS` on `remote` from `computer`.
    fn cmd_at(&self, remote: &Remote, computer: &str, args: &[&str]) -> Command {
        let mut c = self.w.cmd(args);
        c.env("HEARTH_REPO", &remote.location)
            .env("HEARTH_CACHE_DIR", self.cache(computer))
            .env_remove("HEARTH_LOCK_WAIT")
            .env_remove("XDG_CACHE_HOME");
        servers::configure(&mut c, remote.access_key, remote.secret_key);
        c
    }

    fn cmd(&self, computer: &str, args: &[&str]) -> Command {
        self.cmd_at(&self.remote, computer, args)
    }

    fn run(&self, computer: &str, args: &[&str]) -> Output {
        run_limited(self.cmd(computer, args), &format!("hearth {args:?}"))
    }

    fn ok(&self, computer: &str, args: &[&str]) -> Output {
        let out = self.run(computer, args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "hearth {args:?} on {} from {computer}:\n{}",
            self.remote.location,
            describe(&out)
        );
        out
    }

    fn json(&self, computer: &str, args: &[&str], status: i32) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(computer, &all);
        assert_eq!(
            out.status.code(),
            Some(status),
            "hearth {all:?} on {} from {computer}:\n{}",
            self.remote.location,
            describe(&out)
        );
        parse(&out)
    }

    /// `hearth ARGS` started, not waited for; stdout and stderr go to files.
    fn spawn(&self, computer: &str, name: &str, args: &[&str]) -> Proc {
        Proc::spawn(self.cmd(computer, args), &self.w, name)
    }

    /// `hearth init`; returns its stderr (where it says whether conditional writes hold).
    fn init(&self, computer: &str) -> String {
        let out = self.ok(computer, &["init"]);
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

fn parse(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", describe(out)))
}

/// Runs `cmd` to its end, killing it after LIMIT.
fn run_limited(cmd: Command, what: &str) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let w = World { dir };
    let p = Proc::spawn(cmd, &w, "run");
    let e = p.wait_named(what);
    Output {
        status: e.status,
        stdout: e.stdout.into_bytes(),
        stderr: e.stderr.into_bytes(),
    }
}

fn digest(p: &Path) -> Digest {
    tree_digest(p).expect("digest of a device folder")
}

/// The snapshots of a `backup --json` report: udid → id.
fn snapshot_ids(report: &Value) -> BTreeMap<String, String> {
    report["snapshots"]
        .as_array()
        .unwrap_or_else(|| panic!("snapshots array: {report:#}"))
        .iter()
        .map(|r| {
            (
                r["device"]["udid"].as_str().unwrap().to_owned(),
                r["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `snapshots --json` as seen from `computer`: id → udid.
fn listed(site: &Site, computer: &str) -> BTreeMap<String, String> {
    let v = site.json(computer, &["snapshots"], 0);
    v.as_array()
        .unwrap_or_else(|| panic!("snapshots array: {v:#}"))
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["device"]["udid"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `hearth restore SNAPSHOT` from `computer`, compared with the folder it was made from.
fn assert_restores(site: &Site, computer: &str, snapshot: &str, udid: &str, want: &Digest) {
    let out = site.path(&format!("restore-{computer}-{}", &snapshot[..12]));
    let _ = fs::remove_dir_all(&out);
    site.ok(computer, &["restore", snapshot, "--out", s(&out)]);
    let got = tree_digest(&out.join(udid)).expect("restored folder");
    assert!(
        &got == want,
        "snapshot {snapshot} of {udid} restores byte-exact from {computer} (files: got {}, want {})",
        got.len(),
        want.len()
    );
    fs::remove_dir_all(&out).unwrap();
}

/// `check --read-data` from `computer` passes, with no notes when `clean`.
fn assert_check(site: &Site, computer: &str, clean: bool) -> Value {
    let check = site.json(computer, &["check", "--read-data"], 0);
    assert_eq!(check["ok"], true, "{check:#}");
    if clean {
        assert_eq!(check["notes"], serde_json::json!([]), "{check:#}");
    }
    check
}

fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `rel` (a key less the prefix) is a name of the repository layout (docs/format.md §2).
fn in_layout(rel: &str) -> bool {
    match rel.split('/').collect::<Vec<_>>()[..] {
        ["config"] => true,
        [
            "keys" | "index" | "snapshots" | "locks" | "devicekeys" | "pins",
            id,
        ] => is_id(id),
        ["packs", pp, id] => is_id(id) && id.starts_with(pp) && pp.len() == 2,
        _ => false,
    }
}

/// Every key of the bucket is under the prefix and in the repository's layout (so nothing of
/// the local cache is there); returns the keys less the prefix.
fn assert_layout(keys: &[String]) -> Vec<String> {
    let prefix = format!("{PREFIX}/");
    let rel: Vec<String> = keys
        .iter()
        .map(|k| {
            k.strip_prefix(&prefix)
                .unwrap_or_else(|| panic!("key {k:?} is outside the prefix {prefix:?}: {keys:#?}"))
                .to_owned()
        })
        .collect();
    let strays: Vec<&String> = rel.iter().filter(|r| !in_layout(r)).collect();
    assert!(
        strays.is_empty(),
        "keys outside the repository layout (config, keys/, packs/<pp>/, index/, snapshots/, \
         locks/, devicekeys/, pins/ with 64-hex names): {strays:?}"
    );
    assert!(rel.iter().any(|r| r == "config"), "no config: {rel:?}");
    rel
}

fn count_in(rel: &[String], folder: &str) -> usize {
    rel.iter()
        .filter(|r| r.starts_with(&format!("{folder}/")))
        .count()
}

/// Files under `dir`, relative, sorted.
fn relative_files(dir: &Path) -> Vec<String> {
    files_under(dir)
        .unwrap()
        .iter()
        .map(|f| f.strip_prefix(dir).unwrap().to_string_lossy().into_owned())
        .collect()
}

/// The cache of a remote repository: one folder per repository under the cache folder, with
/// the redb index in it.
fn assert_cache(site: &Site, computer: &str) {
    let cache = site.cache(computer);
    let folders: Vec<String> = fs::read_dir(&cache)
        .unwrap_or_else(|e| panic!("{} is not there: {e}", cache.display()))
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let files = relative_files(&cache);
    assert_eq!(
        folders.len(),
        1,
        "one folder per repository in {}: {files:?}",
        cache.display()
    );
    assert!(
        files.iter().any(|f| f.ends_with(".redb")),
        "the redb index is in the cache folder: {files:?}"
    );
    assert!(
        !site.w.repo().exists(),
        "nothing is written to a local repository folder"
    );
}

fn generate_spec(dir: &Path, spec: &HouseholdSpec) -> Household {
    generate(spec, dir).expect("household generates")
}

/// A device of about `mb` MB, mostly incompressible media.
fn device(name: &str, mb: u64) -> DeviceSpec {
    DeviceSpec {
        photos: (mb * 2) as usize,
        photo_bytes: 250_000,
        videos: 1,
        video_bytes: mb * 400_000,
        big_db_bytes: 200_000,
        apps: 2,
        small_files: 60,
        ..DeviceSpec::new(name, "iPhone12,1", "17.5.1", "21F90")
    }
}

fn one_device(dir: &Path, seed: u64, spec: DeviceSpec) -> Household {
    generate_spec(
        dir,
        &HouseholdSpec {
            seed,
            devices: vec![spec],
            shared_photo_fraction: 0.0,
        },
    )
}

/// Everything a user does with one repository, on moto.
#[test]
fn a_household_on_moto_every_command() {
    let Some(moto) = MotoServer::start() else {
        return;
    };
    moto.create_bucket("everything");
    let site = Site::new(on_moto(&moto, "everything"));

    let said = site.init("a");
    assert!(
        said.contains("conditional writes: supported"),
        "init on moto reports that conditional writes hold:\n{said}"
    );
    let again = site.run("a", &["init"]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "a second init fails clearly:\n{}",
        describe(&again)
    );

    let h = generate_spec(&site.path("Backup"), &HouseholdSpec::tiny());
    let report = site.json("a", &["backup", s(&site.path("Backup"))], 0);
    let day0 = snapshot_ids(&report);
    assert_eq!(day0.len(), 2, "{report:#}");
    let seen = listed(&site, "a");
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        {
            let mut v: Vec<&String> = day0.values().collect();
            v.sort();
            v
        },
        "snapshots --json lists what backup made"
    );
    let first = &h.devices[0];
    let ls = site.json("a", &["ls", &day0[&first.udid]], 0);
    assert!(
        ls["entries"].as_array().is_some_and(|e| !e.is_empty()),
        "{ls:#}"
    );
    // A restore reads its packs in spans: a few ranged reads per pack, not one per file.
    let pack_reads = || {
        moto.log()
            .lines()
            .filter(|l| l.contains("GET /everything/") && l.contains("/packs/"))
            .count()
    };
    let (reads_before, mut files) = (pack_reads(), 0);
    for d in &h.devices {
        let want = digest(&d.folder);
        files += want.len();
        assert_restores(&site, "a", &day0[&d.udid], &d.udid, &want);
    }
    let reads = pack_reads() - reads_before;
    assert!(
        reads > 0 && reads * 10 <= files,
        "restoring {files} files took {reads} ranged reads of packs"
    );

    let rel = assert_layout(&moto.list_keys("everything"));
    assert_eq!(count_in(&rel, "snapshots"), 2, "{rel:#?}");
    assert_eq!(
        count_in(&rel, "locks"),
        0,
        "every lock is released: {rel:#?}"
    );
    assert!(count_in(&rel, "packs") > 0 && count_in(&rel, "index") > 0);
    assert_cache(&site, "a");

    // The cache is only a cache.
    fs::remove_dir_all(site.cache("a")).unwrap();
    assert_restores(
        &site,
        "a",
        &day0[&first.udid],
        &first.udid,
        &digest(&first.folder),
    );
    assert_check(&site, "a", true);
    assert_cache(&site, "a");

    // A night later: new snapshots, the old ones forgotten and pruned.
    next_day(&h, 1, &DayOptions::default()).expect("a night of edits");
    let report = site.json("a", &["backup", s(&site.path("Backup"))], 0);
    let day1 = snapshot_ids(&report);
    let forget = site.json("a", &["forget", "--keep-last", "1", "--prune"], 0);
    let now = listed(&site, "a");
    let mut want: Vec<&String> = day1.values().collect();
    want.sort();
    assert_eq!(now.keys().collect::<Vec<_>>(), want, "{forget:#}");
    for d in &h.devices {
        assert_restores(&site, "a", &day1[&d.udid], &d.udid, &digest(&d.folder));
    }
    site.json("a", &["prune", "--dry-run"], 0);
    site.ok("a", &["prune"]);

    let stats = site.json("a", &["stats"], 0);
    assert!(
        stats["stored_bytes"].as_u64().is_some_and(|b| b > 0),
        "{stats:#}"
    );
    assert_eq!(
        stats["devices"].as_array().map(Vec::len),
        Some(2),
        "{stats:#}"
    );
    let out = site
        .cmd("a", &["key", "add"])
        .env("HEARTH_NEW_PASSWORD", "a second password")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "key add:\n{}", describe(&out));
    let keys = site.json("a", &["key", "list"], 0);
    assert_eq!(keys["keys"].as_array().map(Vec::len), Some(2), "{keys:#}");
    let out = site
        .cmd("b", &["snapshots", "--json"])
        .env("HEARTH_PASSWORD", "a second password")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "the second password opens it from another computer:\n{}",
        describe(&out)
    );
    site.ok("a", &["unlock"]);
    site.ok("a", &["repair", "index"]);
    assert_check(&site, "a", true);

    // Without HEARTH_CACHE_DIR the cache is under $XDG_CACHE_HOME/hearth.
    let xdg = site.path("xdg");
    let out = site
        .cmd("unused", &["snapshots"])
        .env_remove("HEARTH_CACHE_DIR")
        .env("XDG_CACHE_HOME", &xdg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let files = relative_files(&xdg.join("hearth"));
    assert!(
        files.iter().any(|f| f.ends_with(".redb")),
        "the cache is under $XDG_CACHE_HOME/hearth: {files:?}"
    );

    let rel = assert_layout(&moto.list_keys("everything"));
    assert_eq!(count_in(&rel, "snapshots"), 2, "forgotten: {rel:#?}");
    assert_eq!(count_in(&rel, "keys"), 2, "{rel:#?}");
    assert_eq!(count_in(&rel, "locks"), 0, "{rel:#?}");
}

/// Two computers back up other devices into the same bucket at the same time.
#[test]
fn two_computers_back_up_into_one_bucket_at_once() {
    let Some(moto) = MotoServer::start() else {
        return;
    };
    moto.create_bucket("two-computers");
    let site = Site::new(on_moto(&moto, "two-computers"));
    site.init("a");
    let ha = one_device(&site.path("BackupA"), 21, device("Gran's iPhone", 10));
    let hb = one_device(&site.path("BackupB"), 22, device("Grandad's iPhone", 10));
    let (a, b) = (&ha.devices[0], &hb.devices[0]);

    let mut pa = site.spawn("a", "backup-a", &["--json", "backup", s(&a.folder)]);
    let mut pb = site.spawn("b", "backup-b", &["--json", "backup", s(&b.folder)]);
    let mut most_locks = 0;
    while pa.running() || pb.running() {
        let keys = moto.list_keys("two-computers");
        most_locks = most_locks.max(keys.iter().filter(|k| k.contains("/locks/")).count());
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("at most {most_locks} locks at once in the bucket");
    let ra = pa.wait().ok("the backup on computer A").json();
    let rb = pb.wait().ok("the backup on computer B").json();
    let (ia, ib) = (snapshot_ids(&ra), snapshot_ids(&rb));
    assert_eq!((ia.len(), ib.len()), (1, 1), "{ra:#}\n{rb:#}");

    for computer in ["a", "b"] {
        let seen = listed(&site, computer);
        assert!(
            seen.contains_key(&ia[&a.udid]) && seen.contains_key(&ib[&b.udid]) && seen.len() == 2,
            "computer {computer} sees both snapshots: {seen:#?}"
        );
    }
    // Each restores the other's.
    assert_restores(&site, "a", &ib[&b.udid], &b.udid, &digest(&b.folder));
    assert_restores(&site, "b", &ia[&a.udid], &a.udid, &digest(&a.folder));
    assert_check(&site, "a", true);
    let rel = assert_layout(&moto.list_keys("two-computers"));
    assert_eq!(count_in(&rel, "locks"), 0, "{rel:#?}");
    assert_cache(&site, "a");
    assert_cache(&site, "b");
}

/// Computer A forgets and prunes while computer B backs up: nothing is lost, and B's cache,
/// made before the prune, does not mislead it afterwards.
#[test]
fn prune_on_one_computer_while_another_backs_up_loses_nothing() {
    let Some(moto) = MotoServer::start() else {
        return;
    };
    moto.create_bucket("prune-race");
    let site = Site::new(on_moto(&moto, "prune-race"));
    site.init("a");
    let hx = one_device(&site.path("BackupX"), 31, device("Mum's iPhone", 3));
    let hy = one_device(&site.path("BackupY"), 32, device("Dad's iPhone", 14));
    let (x, y) = (&hx.devices[0], &hy.devices[0]);

    // A: two snapshots of X (the first will be forgotten); B: a snapshot of Y that it will
    // extend, so that B's cache exists before the prune.
    let x0 = snapshot_ids(&site.json("a", &["backup", s(&x.folder)], 0))[&x.udid].clone();
    next_day(&hx, 1, &DayOptions::default()).unwrap();
    let x1 = snapshot_ids(&site.json("a", &["backup", s(&x.folder)], 0))[&x.udid].clone();
    assert_ne!(x0, x1);
    let y0 = snapshot_ids(&site.json("b", &["backup", s(&y.folder)], 0))[&y.udid].clone();
    next_day(&hy, 1, &DayOptions::default()).unwrap();

    let mut pb = site.spawn("b", "backup-y", &["--json", "backup", s(&y.folder)]);
    // Start the prune once B holds its lock (or has already finished, on a fast machine).
    let start = Instant::now();
    while pb.running()
        && !moto
            .list_keys("prune-race")
            .iter()
            .any(|k| k.contains("/locks/"))
    {
        assert!(start.elapsed() < LIMIT, "backup Y takes no lock");
        std::thread::sleep(Duration::from_millis(5));
    }
    let b_running = pb.running();
    let pa = site.spawn(
        "a",
        "forget-prune",
        &[
            "--json",
            "forget",
            "--keep-last",
            "1",
            "--device",
            &x.udid,
            "--prune",
        ],
    );
    let ry = pb
        .wait()
        .ok("backup Y on computer B, beside the prune")
        .json();
    let forget = pa.wait().ok("forget --prune on computer A").json();
    eprintln!("the prune started while backup Y ran: {b_running}");
    let y1 = snapshot_ids(&ry)[&y.udid].clone();

    let want: Vec<String> = {
        let mut v = vec![x1.clone(), y0.clone(), y1.clone()];
        v.sort();
        v
    };
    for computer in ["a", "b"] {
        let seen: Vec<String> = listed(&site, computer).into_keys().collect();
        assert_eq!(seen, want, "from {computer}; forget said {forget:#}");
    }
    assert_restores(&site, "b", &x1, &x.udid, &digest(&x.folder));
    assert_restores(&site, "b", &y1, &y.udid, &digest(&y.folder));
    assert_restores(&site, "a", &y1, &y.udid, &digest(&y.folder));
    assert_check(&site, "b", true);
    assert_check(&site, "a", true);
    let rel = assert_layout(&moto.list_keys("prune-race"));
    assert_eq!(count_in(&rel, "locks"), 0, "{rel:#?}");
}

/// rclone's S3 server ignores `If-None-Match: *`: init notices, and the fallback holds.
#[test]
fn rclone_without_conditional_writes_falls_back() {
    let Some(rc) = RcloneS3::start() else {
        return;
    };
    rc.create_bucket("fallback");
    let site = Site::new(Remote {
        location: rc.repo_location("fallback", PREFIX),
        access_key: RcloneS3::ACCESS_KEY,
        secret_key: RcloneS3::SECRET_KEY,
    });
    let said = site.init("a");
    assert!(
        said.contains("conditional writes: not supported"),
        "init on rclone reports that conditional writes do not hold:\n{said}"
    );
    let again = site.run("a", &["init"]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "a second init still fails (no conditional create to rely on):\n{}",
        describe(&again)
    );
    let h = generate_spec(&site.path("Backup"), &HouseholdSpec::tiny());
    let ids = snapshot_ids(&site.json("a", &["backup", s(&site.path("Backup"))], 0));
    // A night later, two computers at once, one device each, on their own caches.
    next_day(&h, 1, &DayOptions::default()).unwrap();
    let (d0, d1) = (&h.devices[0], &h.devices[1]);
    let pa = site.spawn("a", "backup-a", &["--json", "backup", s(&d0.folder)]);
    let pb = site.spawn("b", "backup-b", &["--json", "backup", s(&d1.folder)]);
    let ra = pa.wait().ok("backup on computer A").json();
    let rb = pb.wait().ok("backup on computer B").json();
    let mut second = snapshot_ids(&ra);
    second.extend(snapshot_ids(&rb));
    assert_eq!(second.len(), 2, "{ra:#}\n{rb:#}");
    for d in &h.devices {
        assert_restores(&site, "a", &second[&d.udid], &d.udid, &digest(&d.folder));
    }
    assert_eq!(listed(&site, "a").len(), ids.len() + second.len());
    assert_check(&site, "b", true);
    let rel = assert_layout(&rc.list_keys("fallback"));
    assert_eq!(count_in(&rel, "locks"), 0, "{rel:#?}");
    assert_cache(&site, "a");
}

/// A 503 for every 7th request, from init to check: every command retries and succeeds.
#[test]
fn http_503_every_seventh_request_is_retried() {
    let Some(moto) = MotoServer::start() else {
        return;
    };
    moto.create_bucket("slow-down");
    let proxy = FaultProxy::start(moto.port(), FaultPlan::every_nth_503(7));
    let site = Site::new(through(&proxy, "slow-down"));
    site.init("a");
    let h = generate_spec(&site.path("Backup"), &HouseholdSpec::tiny());
    let ids = snapshot_ids(&site.json("a", &["backup", s(&site.path("Backup"))], 0));
    for d in &h.devices {
        assert_restores(&site, "a", &ids[&d.udid], &d.udid, &digest(&d.folder));
    }
    assert_check(&site, "a", true);
    eprintln!("{}", proxy.summary());
    assert!(proxy.status_503s() >= 3, "{}", proxy.summary());
    let rel = assert_layout(&moto.list_keys("slow-down"));
    assert_eq!(count_in(&rel, "locks"), 0, "{rel:#?}");
}

/// Connections closed in the middle of a request, and responses lost after the server acted
/// (a retried conditional create then meets its own object): backup, restore and check
/// succeed.
#[test]
fn dropped_connections_and_lost_responses_are_retried() {
    let Some(moto) = MotoServer::start() else {
        return;
    };
    moto.create_bucket("flaky");
    let site = Site::new(on_moto(&moto, "flaky"));
    site.init("a");
    let proxy = FaultProxy::start(
        moto.port(),
        FaultPlan {
            drop_every: Some(6),
            lose_response_every: Some(9),
            ..FaultPlan::default()
        },
    );
    let flaky = through(&proxy, "flaky");
    let h = generate_spec(&site.path("Backup"), &HouseholdSpec::tiny());
    let out = run_limited(
        site.cmd_at(&flaky, "a", &["--json", "backup", s(&site.path("Backup"))]),
        "backup through the flaky proxy",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "backup through a proxy that drops connections ({}):\n{}",
        proxy.summary(),
        describe(&out)
    );
    let ids = snapshot_ids(&parse(&out));
    for d in &h.devices {
        let o = site.path(&format!("restore-{}", d.udid));
        let out = run_limited(
            site.cmd_at(&flaky, "a", &["restore", &ids[&d.udid], "--out", s(&o)]),
            "restore through the flaky proxy",
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "restore ({}):\n{}",
            proxy.summary(),
            describe(&out)
        );
        assert!(digest(&o.join(&d.udid)) == digest(&d.folder), "byte-exact");
    }
    eprintln!("{}", proxy.summary());
    assert!(
        proxy.drops() >= 2 && proxy.lost_responses() >= 1,
        "{}",
        proxy.summary()
    );
    assert_check(&site, "a", true);
    let rel = assert_layout(&moto.list_keys("flaky"));
    assert_eq!(count_in(&rel, "locks"), 0, "{rel:#?}");
}

/// The server goes away in the middle of a backup, once its first pack is stored: the backup
/// ends with a clean error (exit 1, no panic) after its retries; a rerun straight to the server
/// completes, every snapshot restores, and `check --read-data` passes.
#[test]
fn a_server_gone_mid_backup_is_a_clean_error_and_a_rerun_completes() {
    let Some(moto) = MotoServer::start() else {
        return;
    };
    moto.create_bucket("gone");
    let site = Site::new(on_moto(&moto, "gone"));
    let h = generate_spec(&site.path("Backup"), &HouseholdSpec::tiny());
    site.init("a");
    let proxy = FaultProxy::start(
        moto.port(),
        FaultPlan::fail_after_request_with("PUT /gone/household/hearth/packs/"),
    );
    let gone = through(&proxy, "gone");
    let started = Instant::now();
    let out = run_limited(
        site.cmd_at(&gone, "a", &["backup", s(&site.path("Backup"))]),
        "backup to a server that goes away",
    );
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let requests = proxy.log().join("\n");
    eprintln!(
        "the failed backup took {took:?}; {}\n{requests}\n{stderr}",
        proxy.summary()
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a persistent failure is exit 1 ({}):\n{}\n{requests}",
        proxy.summary(),
        describe(&out)
    );
    assert!(
        !stderr.contains("panicked") && stderr.to_lowercase().contains("error"),
        "a clean error:\n{stderr}"
    );
    assert!(
        proxy.status_503s() > 0,
        "the server went away after a pack was stored: {}\n{requests}",
        proxy.summary()
    );
    drop(proxy);
    let rel = assert_layout(&moto.list_keys("gone"));
    assert!(count_in(&rel, "packs") > 0, "{rel:#?}");

    // The rerun, straight to the server, with the same cache.
    let report = site.json("a", &["backup", s(&site.path("Backup"))], 0);
    let ids = snapshot_ids(&report);
    for d in &h.devices {
        assert_restores(&site, "a", &ids[&d.udid], &d.udid, &digest(&d.folder));
    }
    // Whatever the failed run committed restores too.
    for (id, udid) in listed(&site, "a") {
        let d = h.devices.iter().find(|d| d.udid == udid).unwrap();
        assert_restores(&site, "b", &id, &udid, &digest(&d.folder));
    }
    assert_check(&site, "a", false);
    site.ok("a", &["unlock"]);
    let rel = assert_layout(&moto.list_keys("gone"));
    assert_eq!(
        count_in(&rel, "locks"),
        0,
        "unlock removes the lock of the failed run: {rel:#?}"
    );
    site.ok("a", &["prune"]);
    assert_check(&site, "b", true);
}

/// Four computers run `init` on one empty prefix at the same moment: the conditional create of
/// `config` lets exactly one of them make the repository, the others fail clearly, and what
/// there is opens and checks with one key.
#[test]
fn concurrent_inits_on_moto_make_one_repository() {
    let Some(moto) = MotoServer::start() else {
        return;
    };
    moto.create_bucket("race");
    let site = Site::new(on_moto(&moto, "race"));
    let procs: Vec<Proc> = (0..4)
        .map(|i| site.spawn(&format!("c{i}"), &format!("init-{i}"), &["init"]))
        .collect();
    let ended: Vec<Ended> = procs.into_iter().map(Proc::wait).collect();
    let codes: Vec<Option<i32>> = ended.iter().map(|e| e.status.code()).collect();
    let all = ended
        .iter()
        .map(Ended::describe)
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        codes.iter().filter(|c| **c == Some(0)).count(),
        1,
        "exactly one init succeeds: {codes:?}\n{all}"
    );
    assert!(
        codes.iter().all(|c| matches!(c, Some(0 | 1))),
        "the others fail cleanly: {codes:?}\n{all}"
    );
    let rel = assert_layout(&moto.list_keys("race"));
    assert_eq!(count_in(&rel, "keys"), 1, "one key file: {rel:#?}");
    assert_eq!(count_in(&rel, "locks"), 0, "{rel:#?}");
    for i in 0..4 {
        site.ok(&format!("c{i}"), &["snapshots"]);
    }
    assert_check(&site, "c0", true);
}

/// Issue 11: `init` refuses a prefix that holds repository objects but no config (a repository
/// whose config was lost, or only a pack), names what is there, and writes nothing; every other
/// command calls it a damaged repository, never advising `hearth init`; with config back, the
/// repository opens again.
#[test]
fn init_refuses_a_prefix_that_holds_repository_objects() {
    let Some(moto) = MotoServer::start() else {
        return;
    };
    moto.create_bucket("damaged");
    let site = Site::new(on_moto(&moto, "damaged"));
    site.init("a");
    let config_key = format!("{PREFIX}/config");
    let config = moto.get("damaged", &config_key).unwrap();
    let r = moto
        .client()
        .send("damaged", &config_key, Op::Delete)
        .unwrap();
    assert!(matches!(r.status, 200 | 204), "DELETE config: {}", r.text());
    let before = moto.list_keys("damaged");
    assert_eq!(before.len(), 1, "one key file left: {before:?}");

    let refused = |site: &Site, says: &str| {
        let out = site.run("a", &["init"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        assert!(
            err.contains("refusing to create a repository here: config is missing, but")
                && err.contains(says),
            "{err}"
        );
    };
    refused(&site, "keys/ holds 1 object");
    assert_eq!(moto.list_keys("damaged"), before, "init wrote nothing");
    let out = site.run("a", &["snapshots"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        err.contains("config is missing, but keys/ holds 1 object: this is a damaged repository")
            && !err.contains("hearth init"),
        "{err}"
    );

    let r = moto
        .client()
        .send("damaged", &config_key, Op::Put(&config))
        .unwrap();
    assert_eq!(r.status, 200, "PUT config back: {}", r.text());
    site.ok("a", &["snapshots"]);

    // A prefix holding nothing but one pack.
    moto.create_bucket("one-pack");
    let site = Site::new(on_moto(&moto, "one-pack"));
    let pack = format!("{PREFIX}/packs/ab/{}", "ab".repeat(32));
    let r = moto
        .client()
        .send("one-pack", &pack, Op::Put(b"pack bytes"))
        .unwrap();
    assert_eq!(r.status, 200, "PUT a pack: {}", r.text());
    refused(&site, "packs/ holds 1 object");
    assert_eq!(moto.list_keys("one-pack").len(), 1, "init wrote nothing");
}

/// A bucket that does not exist, and credentials the server refuses: clear errors (exit 1,
/// the bucket named), and no bucket is made.
#[test]
fn a_missing_bucket_or_wrong_credentials_is_a_clear_error() {
    let Some(moto) = MotoServer::start() else {
        return;
    };
    let Some(rc) = RcloneS3::start() else {
        return;
    };
    let site = Site::new(on_moto(&moto, "no-such-bucket"));
    for args in [&["init"][..], &["snapshots"][..]] {
        let out = site.run("a", args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}:\n{}", describe(&out));
        assert!(
            err.contains("no-such-bucket") && !err.contains("panicked"),
            "{args:?} names the missing bucket:\n{err}"
        );
    }
    assert!(
        !moto.client().bucket_exists("no-such-bucket"),
        "hearth does not create buckets"
    );

    rc.create_bucket("locked");
    let wrong = Remote {
        location: rc.repo_location("locked", PREFIX),
        access_key: RcloneS3::ACCESS_KEY,
        secret_key: "not-the-secret",
    };
    let out = run_limited(site.cmd_at(&wrong, "a", &["init"]), "init, wrong secret");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        rc.list_keys("locked").is_empty(),
        "{:?}",
        rc.list_keys("locked")
    );
}
