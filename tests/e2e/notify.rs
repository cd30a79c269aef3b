//! Notifications, end to end (issue 18): the real `hearth backup` and `hearth check` with
//! `--notify` URLs that point at recording HTTP servers on loopback ([`Recorder`]): what each
//! kind of target receives, retries, the once-a-day overdue report, and that a target that
//! cannot be reached costs the backup nothing but a warning.

use crate::common;
use crate::handmade::{HandDevice, good_device};
use common::recorder::{Recorded, Recorder};
use common::{World, describe, s};
use hearth_testkit::bytes::noise;
use hearth_testkit::{HouseholdSpec, generate};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

const GOOD: &str = "600D0000600D0000600D0000600D0000600D0000";
const BAD: &str = "BAD00000BAD00000BAD00000BAD00000BAD00000";

/// `hearth ARGS` without a proxy from this environment: the targets are on loopback.
fn run(w: &World, args: &[&str]) -> Output {
    hearth(w, args).output().expect("hearth runs")
}

fn hearth(w: &World, args: &[&str]) -> std::process::Command {
    let mut c = w.cmd(args);
    for v in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        c.env_remove(v);
    }
    c.env_remove("HEARTH_NOTIFY");
    c
}

/// `hearth backup <world>/Backup` with a `--notify` per URL; asserts the exit status.
fn backup(w: &World, urls: &[String], status: i32) -> Output {
    let mut args = vec!["backup".to_owned(), s(&w.path("Backup")).to_owned()];
    for u in urls {
        args.extend(["--notify".to_owned(), u.clone()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(w, &args);
    assert_eq!(out.status.code(), Some(status), "{}", describe(&out));
    out
}

/// A device whose Manifest.db is not a database: its backup fails.
fn garbled_device(parent: &Path) {
    let folder = HandDevice::new(parent, BAD, "Garbled iPhone").finish();
    std::fs::remove_file(folder.join("Manifest.plist")).unwrap();
    std::fs::write(folder.join("Manifest.db"), noise(23, 8192)).unwrap();
}

fn of_event<'a>(requests: &'a [Recorded], event: &str) -> Vec<&'a Recorded> {
    (requests.iter())
        .filter(|r| r.json()["event"] == event)
        .collect()
}

#[test]
fn a_failed_device_is_posted_to_a_webhook_an_ntfy_topic_and_a_ping_url() {
    let w = World::with_repo();
    good_device(&w.path("Backup"), GOOD);
    garbled_device(&w.path("Backup"));
    let (hook, ntfy, hc) = (Recorder::start(), Recorder::start(), Recorder::start());
    let urls = [
        hook.url("/hooks/secret-token"),
        format!("ntfy+{}", ntfy.url("/family-backups")),
        format!("hc+{}", hc.url("/ping/5f3e")),
    ];
    let out = backup(&w, &urls, 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("notification not sent"), "{stderr}");

    // The webhook: the failure as JSON, and not the good device's success.
    let requests = hook.requests();
    let [failed] = of_event(&requests, "backup_failed")[..] else {
        panic!("one failure: {requests:#?}")
    };
    assert_eq!(
        (failed.method.as_str(), failed.path.as_str()),
        ("POST", "/hooks/secret-token")
    );
    assert_eq!(failed.header("content-type"), Some("application/json"));
    let v = failed.json();
    assert_eq!(v["device"]["udid"], BAD, "{v:#}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("Manifest.db is not an SQLite database"),
        "{v:#}"
    );
    assert!(
        v["message"].as_str().unwrap().contains("Manifest.db"),
        "{v:#}"
    );
    assert!(v["time"].as_str().unwrap().ends_with('Z'), "{v:#}");
    assert!(!v["host"].as_str().unwrap().is_empty(), "{v:#}");
    assert!(
        of_event(&requests, "backup_succeeded").is_empty(),
        "{requests:#?}"
    );

    // ntfy: plain text with a title, high priority and tags.
    let requests = ntfy.requests();
    let failed: Vec<&Recorded> = (requests.iter())
        .filter(|r| r.header("tags") == Some("rotating_light"))
        .collect();
    assert_eq!(failed.len(), 1, "{requests:#?}");
    assert_eq!(failed[0].path, "/family-backups");
    assert_eq!(failed[0].header("priority"), Some("high"));
    assert!(
        failed[0].header("title").unwrap().ends_with(" failed"),
        "{:?}",
        failed[0]
    );
    assert!(
        failed[0]
            .text()
            .contains("Manifest.db is not an SQLite database"),
        "{}",
        failed[0].text()
    );

    // The ping: the good device's success, then the failure at /fail, last.
    let requests = hc.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/ping/5f3e", "/ping/5f3e/fail"], "{requests:#?}");
    assert!(
        requests[0].text().starts_with("Backed up Good iPhone\n"),
        "{}",
        requests[0].text()
    );
    assert!(
        requests[1].text().contains("Manifest.db"),
        "{}",
        requests[1].text()
    );
}

#[test]
fn a_ping_answered_500_twice_is_delivered_on_the_third_attempt() {
    let w = World::with_repo();
    good_device(&w.path("Backup"), GOOD);
    let hc = Recorder::answering(&[500, 500]);
    let out = backup(&w, &[format!("hc+{}", hc.url("/ping/5f3e"))], 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("notification not sent"), "{stderr}");
    let requests = hc.requests();
    assert_eq!(requests.len(), 3, "{requests:#?}");
    for r in &requests {
        assert_eq!(r.path, "/ping/5f3e");
        assert!(
            r.text().starts_with("Backed up Good iPhone\n"),
            "{}",
            r.text()
        );
    }
}

#[test]
fn overdue_devices_are_reported_once_a_day() {
    let w = World::with_repo();
    // Backed up in June 2024: long overdue.
    let h = generate(&HouseholdSpec::tiny(), &w.path("Backup")).expect("tiny household");
    let hook = Recorder::start();
    let urls = [hook.url("/hook")];
    backup(&w, &urls, 0);
    let requests = hook.requests();
    let overdue = of_event(&requests, "overdue");
    assert_eq!(overdue.len(), h.devices.len(), "{requests:#?}");
    for d in &h.devices {
        let r = (overdue.iter())
            .find(|r| r.json()["device"]["udid"] == d.udid.as_str())
            .unwrap_or_else(|| panic!("{} reported: {requests:#?}", d.name));
        let v = r.json();
        assert_eq!(v["device"]["name"], d.name.as_str());
        assert!(v["days"].as_u64().unwrap() >= 7, "{v:#}");
        assert!(
            v["last_backup"].as_str().unwrap().starts_with("2024-"),
            "{v:#}"
        );
        assert!(
            v["title"].as_str().unwrap().contains("not backed up for"),
            "{v:#}"
        );
    }
    // The same day again, then `check` (which does not look for overdue devices): nothing new.
    backup(&w, &urls, 0);
    let out = run(&w, &["check", "--notify", &urls[0]]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        hook.requests().len(),
        requests.len(),
        "{:#?}",
        hook.requests()
    );
}

#[test]
fn check_posts_the_damage_it_finds() {
    let w = World::with_repo();
    good_device(&w.path("Backup"), GOOD);
    w.ok(&["backup", s(&w.path("Backup"))]);
    let (_, pack) = (common::files(&w.repo().join("packs")).into_iter())
        .find(|(_, p)| common::is_object_name(&p.file_name().unwrap().to_string_lossy()))
        .expect("a pack");
    let len = std::fs::metadata(&pack).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&pack)
        .unwrap()
        .set_len(len / 2)
        .unwrap();

    let ntfy = Recorder::start();
    let out = run(
        &w,
        &[
            "check",
            "--read-data",
            "--notify",
            &format!("ntfy+{}", ntfy.url("/family")),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let requests = ntfy.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let r = &requests[0];
    assert_eq!(r.header("title"), Some("Hearth check found damage"));
    assert_eq!(
        (r.header("priority"), r.header("tags")),
        (Some("high"), Some("warning"))
    );
    let pack_name = pack.file_name().unwrap().to_string_lossy();
    assert!(r.text().contains(&*pack_name), "{}", r.text());
    assert!(r.text().contains(s(&w.repo())), "{}", r.text());
}

#[test]
fn an_unreachable_target_costs_the_backup_only_a_warning() {
    let w = World::with_repo();
    good_device(&w.path("Backup"), GOOD);
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let out = hearth(&w, &["backup", s(&w.path("Backup"))])
        .env(
            "HEARTH_NOTIFY",
            format!("hc+http://127.0.0.1:{port}/ping/secret-uuid  "),
        )
        .output()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warning = (stderr.lines())
        .find(|l| l.starts_with("warning: notification not sent: "))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        warning.contains(&format!(
            "healthchecks http://127.0.0.1:{port}/…: backup_succeeded: "
        )),
        "{warning}"
    );
    assert!(warning.contains("(after 3 attempts)"), "{warning}");
    assert!(!stderr.contains("secret-uuid"), "{stderr}");
}

#[test]
fn a_bad_url_is_a_usage_error_that_keeps_its_secrets() {
    let w = World::with_repo();
    good_device(&w.path("Backup"), GOOD);
    let out = backup(
        &w,
        &["ftp://anna:hunter2@files.example.org/topic-x".into()],
        2,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("notify URL ftp://files.example.org/…: only http and https"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("hunter2") && !stderr.contains("topic-x"),
        "{stderr}"
    );
    // Nothing was backed up.
    assert_eq!(w.json(&["snapshots"], 0).as_array().unwrap().len(), 0);
}
