//! `hearth watch` (issue 18, item 1) as a real process: a device backup written slowly into
//! the watched folder, as Finder writes one, is backed up exactly once, after it finished and
//! settled; an unchanged folder makes no second snapshot, the next backup of the device one
//! more; a folder missing at start is followed once it appears; an unreachable repository is
//! tried again until it is back; SIGTERM ends it with status 0 and the log file holds the lines;
//! the config file's notify URLs hear of backups stored and failed and of overdue devices.

use crate::common;
use crate::handmade;

use common::procs::Proc;
use common::recorder::Recorder;
use common::{World, s};
use handmade::{HandDevice, text, write_status};
use hearth_testkit::bytes::noise;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const UDID: &str = "00008110-000A1B2C3D4E5F60";
const GARBLED: &str = "BAD00000BAD00000BAD00000BAD00000BAD00000";
const DATE: u64 = 1_750_000_000;

/// A device backup in `<src>/<UDID>`, as the device would leave it: `version` changes the
/// notes and adds photos.
fn source(w: &World, version: u64) -> PathBuf {
    let parent = w.path(&format!("src{version}"));
    let mut d = HandDevice::new(&parent, UDID, "Watched iPhone");
    d.file(
        "HomeDomain",
        "Library/Notes/notes.txt",
        &text(version, 20_000),
    );
    for i in 0..6 {
        d.file(
            "CameraRollDomain",
            &format!("Media/DCIM/100APPLE/IMG_{version}{i:03}.HEIC"),
            &noise(version * 100 + i, 30_000),
        );
    }
    d.finish()
}

/// Copies the backup in `src` into `dst` as Finder writes one over `seconds`: Status.plist
/// saying it is not finished first, the other plists, the blobs one by one, Manifest.db, and
/// Status.plist saying `finished` last. Returns the time just before that last write.
fn write_slowly(src: &Path, dst: &Path, backup: u64, seconds: f64) -> SystemTime {
    let uuid = format!("BACKUP-{backup}");
    std::fs::create_dir_all(dst).unwrap();
    write_status(dst, "uploading", DATE + backup, &uuid, false);
    for plist in ["Info.plist", "Manifest.plist"] {
        std::fs::copy(src.join(plist), dst.join(plist)).unwrap();
    }
    let blobs: Vec<(String, PathBuf)> = common::files(src)
        .into_iter()
        .filter(|(rel, _)| rel.contains('/'))
        .collect();
    let pause = Duration::from_secs_f64(seconds / blobs.len() as f64);
    for (rel, path) in &blobs {
        let to = dst.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(path, &to).unwrap();
        std::thread::sleep(pause);
    }
    std::fs::copy(src.join("Manifest.db"), dst.join("Manifest.db")).unwrap();
    std::thread::sleep(pause);
    let finished = SystemTime::now();
    write_status(dst, "finished", DATE + backup, &uuid, false);
    finished
}

fn snapshots(w: &World) -> Vec<serde_json::Value> {
    w.json(&["snapshots"], 0).as_array().unwrap().clone()
}

/// A snapshot's `stored_at` (RFC 3339, whole seconds) as Unix seconds.
fn stored_at(snapshot: &serde_json::Value) -> i64 {
    let text = snapshot["stored_at"].as_str().unwrap();
    text.parse::<jiff::Timestamp>()
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .as_second()
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn watch(w: &World, folder: &Path, extra: &[&str]) -> Proc {
    let log = w.path("watch.log");
    let mut args = vec![
        "watch",
        s(folder),
        "--settle",
        "2s",
        "--rescan",
        "1s",
        "--log",
        s(&log),
    ];
    args.extend_from_slice(extra);
    Proc::run(w, "watch", &args)
}

/// How many times `text` is in the watcher's stderr.
fn said(p: &Proc, text: &str) -> usize {
    p.stderr().matches(text).count()
}

/// Waits until `text` is in the watcher's stderr `n` times.
fn wait_said(p: &mut Proc, text: &str, n: usize) {
    let start = Instant::now();
    while said(p, text) < n {
        assert!(p.running(), "watch ended:\n{}", p.stderr());
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{text:?} not said {n} times:\n{}",
            p.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends SIGTERM and asserts a clean end within a few seconds; returns the log file's text.
fn stop(w: &World, mut p: Proc) -> String {
    p.signal(libc::SIGTERM);
    let start = Instant::now();
    while p.running() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "watch did not stop on SIGTERM:\n{}",
            p.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let ended = p.wait();
    ended.ok("hearth watch after SIGTERM");
    assert!(
        ended.stderr.contains("SIGTERM: stopping"),
        "{}",
        ended.stderr
    );
    std::fs::read_to_string(w.path("watch.log")).unwrap()
}

#[test]
fn a_backup_written_slowly_into_a_folder_that_appears_is_backed_up_once_after_it_finished() {
    let w = World::with_repo();
    let backup = w.path("Backup");
    let (first, second) = (source(&w, 1), source(&w, 2));
    let mut p = watch(&w, &backup, &[]);
    wait_said(
        &mut p,
        "Backup: does not exist; looked for again every 1 s",
        1,
    );

    std::fs::create_dir(&backup).unwrap();
    wait_said(&mut p, "watching", 1);
    let phone = backup.join(UDID);
    let finished = write_slowly(&first, &phone, 1, 4.0);
    assert_eq!(
        snapshots(&w).len(),
        0,
        "nothing is stored while it is written:\n{}",
        p.stderr()
    );
    wait_said(&mut p, "snapshot ", 1);
    let list = snapshots(&w);
    assert_eq!(list.len(), 1, "{}", p.stderr());
    assert!(
        stored_at(&list[0]) >= unix(finished) + 2,
        "stored after it finished and settled for 2 s: {} vs {finished:?}",
        list[0]["stored_at"]
    );
    // The whole backup: the device's 7 files, Manifest.db and the 3 plists.
    assert_eq!(list[0]["summary"]["files"], 11);

    // Several rescans of an unchanged folder: nothing more.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(snapshots(&w).len(), 1);
    assert_eq!(said(&p, "backing it up"), 1, "{}", p.stderr());

    // The device's next backup, written over the last one.
    let finished = write_slowly(&second, &phone, 2, 2.0);
    wait_said(&mut p, "snapshot ", 2);
    std::thread::sleep(Duration::from_secs(3));
    let list = snapshots(&w);
    assert_eq!(list.len(), 2, "{}", p.stderr());
    assert!(list.iter().all(|s| s["device"]["udid"] == UDID));
    assert!(list.iter().any(|s| stored_at(s) >= unix(finished) + 2));

    let log = stop(&w, p);
    for line in [
        "Backup: does not exist",
        "watching",
        "backing it up",
        "stopped",
    ] {
        assert!(log.contains(line), "{line:?} not in the log:\n{log}");
    }
    let first = log.lines().next().unwrap();
    assert!(
        first
            .get(..19)
            .and_then(|t| t.parse::<jiff::civil::DateTime>().ok())
            .is_some(),
        "each line starts with the local time: {first}"
    );
}

#[test]
fn an_unreachable_repository_is_tried_again_until_it_is_back_and_once_backs_up_and_exits() {
    let w = World::with_repo();
    let backup = w.path("Backup");
    let src = source(&w, 1);
    write_slowly(&src, &backup.join(UDID), 1, 0.0);
    let away = w.path("repo-away");
    std::fs::rename(w.repo(), &away).unwrap();

    let mut p = watch(&w, &backup, &["--retry", "1s"]);
    wait_said(&mut p, "error: the repository cannot be used", 2);
    assert!(p.stderr().contains("trying again in 2 s"), "{}", p.stderr());
    std::fs::rename(&away, w.repo()).unwrap();
    wait_said(&mut p, "snapshot ", 1);
    assert_eq!(snapshots(&w).len(), 1);
    stop(&w, p);

    // --once: the same backup, found in the repository; then the next one stored; exit 0.
    let once = |w: &World| {
        let p = watch(w, &backup, &["--once"]);
        let ended = p.wait();
        ended.ok("hearth watch --once");
        ended.stderr
    };
    let said = once(&w);
    assert!(said.contains("unchanged since snapshot"), "{said}");
    write_slowly(&source(&w, 2), &backup.join(UDID), 2, 0.0);
    once(&w);
    assert_eq!(snapshots(&w).len(), 2);
}

#[test]
fn a_watcher_notifies_what_it_backs_up_what_fails_and_overdue_devices_at_the_config_files_urls() {
    let w = World::with_repo();
    let backup = w.path("Backup");
    write_slowly(&source(&w, 1), &backup.join(UDID), 1, 0.0);
    // Backed up once already, with its June 2025 backup: overdue today.
    w.ok(&["backup", s(&backup.join(UDID))]);
    let garbled = HandDevice::new(&backup, GARBLED, "Garbled iPhone").finish();
    std::fs::remove_file(garbled.join("Manifest.plist")).unwrap();
    std::fs::write(garbled.join("Manifest.db"), noise(23, 8192)).unwrap();
    let (hook, ping) = (Recorder::start(), Recorder::start());
    let config = w.path("config/hearth/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    let urls = format!(
        "\"{}\", \"hc+{}\"",
        hook.url("/hooks/family"),
        ping.url("/ping/5f3e")
    );
    std::fs::write(&config, format!("[notify]\nurls = [{urls}]\n")).unwrap();

    let mut cmd = w.cmd(&["watch", s(&backup), "--settle", "1s", "--rescan", "1s"]);
    cmd.arg("--log").arg(w.path("watch.log"));
    for v in [
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        "HEARTH_NOTIFY",
    ] {
        cmd.env_remove(v);
    }
    let p = Proc::spawn(cmd, &w, "watch");
    // The webhook hears of problems: the overdue device and the failed one.
    let requests = hook.wait_for(2);
    let events: Vec<_> = requests.iter().map(|r| r.json()).collect();
    let of = |name: &str| {
        events
            .iter()
            .filter(|e| e["event"] == name)
            .collect::<Vec<_>>()
    };
    let (overdue, failed) = (of("overdue"), of("backup_failed"));
    assert_eq!(
        (overdue.len(), failed.len()),
        (1, 1),
        "{events:?}\n{}",
        p.stderr()
    );
    assert_eq!(overdue[0]["device"]["udid"], UDID);
    assert_eq!(failed[0]["device"]["udid"], GARBLED);
    // The ping URL also hears of the device backed up (the backup the repository holds
    // already, found unchanged), and `/fail` of the problems.
    let pings = ping.wait_for(3);
    let paths: Vec<&str> = pings.iter().map(|r| r.path.as_str()).collect();
    let successes = (pings.iter())
        .filter(|r| r.path == "/ping/5f3e")
        .collect::<Vec<_>>();
    assert_eq!(successes.len(), 1, "{paths:?}");
    assert!(
        successes[0].text().contains("unchanged"),
        "{}",
        successes[0].text()
    );
    assert_eq!(
        paths.iter().filter(|p| **p == "/ping/5f3e/fail").count(),
        2,
        "{paths:?}"
    );

    // Nothing more while nothing changes: the failed device is not retried, nor reported again.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!((hook.requests().len(), ping.requests().len()), (2, 3));
    assert_eq!(snapshots(&w).len(), 1);
    stop(&w, p);
}

#[test]
fn a_watcher_applies_the_config_files_retention_after_each_snapshot_it_stores() {
    let w = World::with_repo();
    let backup = w.path("Backup");
    let config = w.path("config/hearth/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "[retention]\nkeep_last = 1\n").unwrap();
    std::fs::create_dir(&backup).unwrap();
    let mut p = watch(&w, &backup, &[]);
    wait_said(&mut p, "watching", 1);
    write_slowly(&source(&w, 1), &backup.join(UDID), 1, 0.0);
    wait_said(&mut p, "retention: forgot 0 snapshot(s)", 1);
    let first = snapshots(&w);
    assert_eq!(first.len(), 1, "{}", p.stderr());

    write_slowly(&source(&w, 2), &backup.join(UDID), 2, 0.0);
    wait_said(&mut p, "retention: forgot 1 snapshot(s)", 1);
    let kept = snapshots(&w);
    assert_eq!(kept.len(), 1, "{}", p.stderr());
    assert_ne!(kept[0]["id"], first[0]["id"], "the newer snapshot is kept");
    // What the forgotten snapshot alone held is gone from the packs, and the rest reads.
    w.ok(&["check", "--read-data"]);
    w.restore_latest(UDID, "out");
    stop(&w, p);
}
