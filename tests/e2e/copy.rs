//! An offsite copy (issue 18): `hearth init --like REPO` and `hearth copy --to REPO2`, through
//! the real binary. A copied snapshot restores byte-exact from REPO2 alone (REPO moved out of
//! the way), also an encrypted backup's (its device key goes along); a second copy sends
//! nothing and writes nothing; a later copy sends only the new chunks; `--device` copies one
//! device; a repository not made alike is refused and left untouched; it works from a
//! local repository to one on S3 (moto) and back; and a copy killed halfway (SIGKILL) leaves
//! REPO2 sound, the next copy completing it.

use crate::common;

use common::{PASSWORD, World, describe, mvt_fixture, pyiosbackup_fixture, s, u};
use hearth_testkit::servers::{self, MotoServer, S3Server};
use hearth_testkit::{
    DayOptions, FileDigest, HouseholdSpec, copy_tree, generate, next_day, tree_digest,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const PASSWORD_2: &str = "an offsite password";
const ENC_UDID: &str = "00008110-001A2B3C4D5E801E";
const MVT_UDID: &str = "1CB128EAFA77C5BE74283E9A3A2130AF36A3C059";

/// `hearth ARGS` on the repository at `repo` (a folder or an s3: location) with `password`.
fn at(w: &World, repo: &str, password: &str, args: &[&str]) -> Command {
    let mut c = w.cmd(args);
    c.env("HEARTH_REPO", repo)
        .env("HEARTH_PASSWORD", password)
        .env_remove("HEARTH_LIKE_PASSWORD")
        .env_remove("HEARTH_TO_PASSWORD");
    c
}

/// Runs `c` (a command or a borrow of one), asserting exit 0; its stdout.
fn ok(mut c: impl std::borrow::BorrowMut<Command>) -> String {
    let c = c.borrow_mut();
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{c:?}:\n{}", describe(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// `init --like FROM` at `to`, its own password PASSWORD_2.
fn init_like(w: &World, from: &str, to: &str) {
    let mut c = at(w, to, PASSWORD_2, &["init", "--like", from]);
    c.env("HEARTH_LIKE_PASSWORD", PASSWORD);
    ok(c);
}

/// `--json copy --to TO EXTRA...` from `from` (password PASSWORD): its report.
fn copy(w: &World, from: &str, to: &str, extra: &[&str]) -> Value {
    let mut args = vec!["--json", "copy", "--to", to];
    args.extend_from_slice(extra);
    let mut c = at(w, from, PASSWORD, &args);
    c.env("HEARTH_TO_PASSWORD", PASSWORD_2);
    serde_json::from_str(&ok(c)).unwrap()
}

fn statuses(report: &Value) -> Vec<&str> {
    (report["snapshots"].as_array().unwrap().iter())
        .map(|s| s["status"].as_str().unwrap())
        .collect()
}

/// `restore UDID@latest --out OUT` from `repo`; the device folder written.
fn restore(w: &World, repo: &str, password: &str, udid: &str, out: &str) -> PathBuf {
    let dir = w.path(out);
    let snapshot = format!("{udid}@latest");
    ok(at(
        w,
        repo,
        password,
        &["restore", &snapshot, "--out", s(&dir)],
    ));
    dir.join(udid)
}

fn digest(p: &Path) -> BTreeMap<String, FileDigest> {
    tree_digest(p).expect("digest of a device folder")
}

/// Every file in a local repository (locks included: a command leaves none behind).
fn listing(repo: &Path) -> Vec<String> {
    common::files(repo)
        .into_iter()
        .map(|(rel, _)| rel)
        .collect()
}

fn pack_bytes(repo: &Path) -> u64 {
    (common::files(&repo.join("packs")).iter())
        .map(|(_, p)| p.metadata().unwrap().len())
        .sum()
}

fn backup(w: &World, folder: &Path) {
    let out = w
        .cmd(&["backup", s(folder)])
        .env("HEARTH_IOS_PASSWORD", "0000")
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{}",
        describe(&out)
    );
}

#[test]
fn an_offsite_copy_restores_from_itself_alone_and_sends_only_what_it_lacks() {
    let (Some(mvt), Some(enc)) = (mvt_fixture(), pyiosbackup_fixture()) else {
        return;
    };
    let w = World::with_repo();
    let repo = w.repo();
    let (from, offsite) = (s(&repo).to_owned(), w.path("offsite"));
    let to = s(&offsite).to_owned();
    let h = generate(&HouseholdSpec::tiny(), &w.path("Backup")).unwrap();
    let enc_folder = w.path("Encrypted").join(ENC_UDID);
    copy_tree(&enc, &enc_folder).unwrap();
    for folder in [&h.root, &mvt, &enc_folder] {
        backup(&w, folder);
    }

    init_like(&w, &from, &to);
    let first = copy(&w, &from, &to, &[]);
    assert_eq!(statuses(&first), ["copied"; 4], "{first:#}");
    let sent = u(&first["chunks_sent"]);
    assert!(sent > 0 && u(&first["bytes_sent"]) > 0, "{first:#}");
    assert_eq!(u(&first["device_keys_sent"]), 1, "{first:#}");
    let first_pack_bytes = pack_bytes(&offsite);

    // From REPO, then from REPO2 with REPO moved away: the same bytes, the source's bytes.
    let udids: Vec<&str> = (h.devices.iter().map(|d| d.udid.as_str()))
        .chain([MVT_UDID, ENC_UDID])
        .collect();
    for udid in &udids {
        restore(&w, &from, PASSWORD, udid, &format!("from-repo-{udid}"));
    }
    let dumped = |repo: &str, password: &str| {
        let snapshot = format!("{ENC_UDID}@latest");
        ok(at(
            &w,
            repo,
            password,
            &["dump", &snapshot, "MyTestDomain/Media/Test.txt"],
        ))
    };
    let dumped_from_repo = dumped(&from, PASSWORD);
    assert_eq!(dumped_from_repo, "Test data");
    std::fs::rename(&repo, w.path("repo-away")).unwrap();
    for udid in &udids {
        let copied = restore(&w, &to, PASSWORD_2, udid, &format!("from-offsite-{udid}"));
        let original = w.path(&format!("from-repo-{udid}")).join(udid);
        assert_eq!(common::tree(&copied), common::tree(&original), "{udid}");
    }
    for d in &h.devices {
        let copied = w.path(&format!("from-offsite-{}", d.udid)).join(&d.udid);
        assert_eq!(digest(&copied), digest(&d.folder), "{}", d.name);
    }
    let mvt_copy = w.path(&format!("from-offsite-{MVT_UDID}")).join(MVT_UDID);
    assert_eq!(digest(&mvt_copy), digest(&mvt), "the mvt fixture");
    assert_eq!(
        dumped(&to, PASSWORD_2),
        dumped_from_repo,
        "encrypted backup"
    );
    ok(at(&w, &to, PASSWORD_2, &["check", "--read-data"]));
    std::fs::rename(w.path("repo-away"), &repo).unwrap();

    // Again: nothing sent, nothing written.
    let before = listing(&offsite);
    let again = copy(&w, &from, &to, &[]);
    assert_eq!(statuses(&again), ["present"; 4], "{again:#}");
    assert_eq!(u(&again["chunks_sent"]), 0, "{again:#}");
    assert_eq!(u(&again["bytes_sent"]), 0, "{again:#}");
    assert_eq!(listing(&offsite), before, "a second copy writes no object");
    let ids = |r: &Value| -> Vec<Value> {
        (r["snapshots"].as_array().unwrap().iter())
            .map(|s| s["copied_id"].clone())
            .collect()
    };
    assert_eq!(ids(&again), ids(&first));

    // A night later: only the new chunks go.
    next_day(&h, 1, &DayOptions::default()).unwrap();
    backup(&w, &h.root);
    let night = copy(&w, &from, &to, &[]);
    let copied = statuses(&night).iter().filter(|s| **s == "copied").count();
    assert_eq!(copied, h.devices.len(), "{night:#}");
    let more = u(&night["chunks_sent"]);
    assert!(more > 0 && more < sent, "{more} of {sent}: {night:#}");
    assert!(u(&night["chunks_present"]) > more, "{night:#}");
    let grown = pack_bytes(&offsite) - first_pack_bytes;
    assert!(
        grown >= u(&night["bytes_sent"]) && grown < first_pack_bytes / 2,
        "the offsite packs grew by {grown} bytes (of {first_pack_bytes}): {night:#}"
    );
    let mum = &h.devices[0];
    let latest = restore(&w, &to, PASSWORD_2, &mum.udid, "night");
    assert_eq!(digest(&latest), digest(&mum.folder));
}

#[test]
fn copy_of_one_device_and_a_destination_not_made_alike() {
    let w = World::with_repo();
    let from = s(&w.repo()).to_owned();
    let h = generate(&HouseholdSpec::tiny(), &w.path("Backup")).unwrap();
    backup(&w, &h.root);

    let unlike = w.path("unlike");
    ok(at(&w, s(&unlike), PASSWORD_2, &["init"]));
    let before = listing(&unlike);
    let mut c = at(&w, &from, PASSWORD, &["copy", "--to", s(&unlike)]);
    let out = c.env("HEARTH_TO_PASSWORD", PASSWORD_2).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&from) && err.contains(s(&unlike)) && err.contains("init --like"),
        "{err}"
    );
    assert_eq!(listing(&unlike), before, "nothing written");

    let to = w.path("offsite");
    init_like(&w, &from, s(&to));
    let dad = &h.devices[1];
    let report = copy(&w, &from, s(&to), &["--device", &dad.name]);
    assert_eq!(statuses(&report), ["copied"], "{report:#}");
    assert_eq!(report["snapshots"][0]["device"]["udid"], dad.udid.as_str());
    let listed = ok(at(&w, s(&to), PASSWORD_2, &["--json", "snapshots"]));
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed:#}");
    let copied = restore(&w, s(&to), PASSWORD_2, &dad.udid, "dad");
    assert_eq!(digest(&copied), digest(&dad.folder));
}

/// `at`, with the moto server's credentials.
fn on_s3(w: &World, repo: &str, password: &str, args: &[&str]) -> Command {
    let mut c = at(w, repo, password, args);
    servers::configure(&mut c, MotoServer::ACCESS_KEY, MotoServer::SECRET_KEY);
    c
}

#[test]
fn copies_from_local_to_s3_and_from_s3_to_local() {
    let Some(moto) = MotoServer::start() else {
        return;
    };
    moto.create_bucket("offsite");
    let w = World::with_repo();
    let local = s(&w.repo()).to_owned();
    let h = generate(&HouseholdSpec::tiny(), &w.path("Backup")).unwrap();
    backup(&w, &h.root);

    // Local → S3.
    let remote = moto.repo_location("offsite", "household/copy");
    let mut init = on_s3(&w, &remote, PASSWORD_2, &["init", "--like", &local]);
    ok(init.env("HEARTH_LIKE_PASSWORD", PASSWORD));
    let mut c = on_s3(&w, &local, PASSWORD, &["--json", "copy", "--to", &remote]);
    let report: Value = serde_json::from_str(&ok(c.env("HEARTH_TO_PASSWORD", PASSWORD_2))).unwrap();
    assert_eq!(statuses(&report), ["copied"; 2], "{report:#}");
    for d in &h.devices {
        let out = w.path(&format!("s3-{}", d.udid));
        let snapshot = format!("{}@latest", d.udid);
        ok(on_s3(
            &w,
            &remote,
            PASSWORD_2,
            &["restore", &snapshot, "--out", s(&out)],
        ));
        assert_eq!(digest(&out.join(&d.udid)), digest(&d.folder), "{}", d.name);
    }

    // S3 → local: the S3 repository is the source now, a new local one made like it.
    let back = w.path("back");
    let mut init = on_s3(&w, s(&back), PASSWORD, &["init", "--like", &remote]);
    ok(init.env("HEARTH_LIKE_PASSWORD", PASSWORD_2));
    let mut c = on_s3(
        &w,
        &remote,
        PASSWORD_2,
        &["--json", "copy", "--to", s(&back)],
    );
    let report: Value = serde_json::from_str(&ok(c.env("HEARTH_TO_PASSWORD", PASSWORD))).unwrap();
    assert_eq!(statuses(&report), ["copied"; 2], "{report:#}");
    for d in &h.devices {
        let copied = restore(&w, s(&back), PASSWORD, &d.udid, &format!("back-{}", d.udid));
        assert_eq!(digest(&copied), digest(&d.folder), "{}", d.name);
    }
}

/// A copy killed (SIGKILL) as soon as its first pack is in REPO2 leaves REPO2 as a killed
/// backup would: `check` passes, every snapshot written restores; the next copy completes, and
/// REPO2 then restores every device byte-exact with `check --read-data` passing.
#[test]
fn a_copy_killed_halfway_leaves_a_sound_repository_and_the_next_copy_completes() {
    let w = World::with_repo();
    let from = s(&w.repo()).to_owned();
    // About 60 MB on three devices: several 16 MiB packs, so the kill comes before the end.
    let h = generate(&HouseholdSpec::bench(60_000_000), &w.path("Backup")).unwrap();
    backup(&w, &h.root);
    let to = w.path("offsite");
    init_like(&w, &from, s(&to));

    let mut c = at(&w, &from, PASSWORD, &["copy", "--to", s(&to)]);
    c.env("HEARTH_TO_PASSWORD", PASSWORD_2)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = c.spawn().unwrap();
    let start = std::time::Instant::now();
    while common::files(&to.join("packs")).is_empty() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the copy ended before a pack was written"
        );
        assert!(start.elapsed().as_secs() < 120, "no pack written in 120 s");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let listed = |repo: &str, password: &str| -> Vec<Value> {
        let text = ok(at(&w, repo, password, &["--json", "snapshots"]));
        serde_json::from_str::<Value>(&text)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    };
    let copied = listed(s(&to), PASSWORD_2);
    assert!(
        copied.len() < h.devices.len(),
        "killed before the last snapshot: {copied:#?}"
    );
    ok(at(&w, s(&to), PASSWORD_2, &["check"]));
    for snap in &copied {
        let udid = snap["device"]["udid"].as_str().unwrap();
        let device = h.devices.iter().find(|d| d.udid == udid).unwrap();
        let out = restore(&w, s(&to), PASSWORD_2, udid, &format!("early-{udid}"));
        assert_eq!(
            digest(&out),
            digest(&device.folder),
            "{udid} restores after the kill"
        );
    }

    // The dead copy's lock is stale (its process is gone) and does not block the next copy.
    let report = copy(&w, &from, s(&to), &[]);
    assert_eq!(
        report["snapshots"].as_array().unwrap().len(),
        h.devices.len()
    );
    assert_eq!(listed(s(&to), PASSWORD_2).len(), h.devices.len());
    ok(at(&w, s(&to), PASSWORD_2, &["check", "--read-data"]));
    for d in &h.devices {
        let out = restore(
            &w,
            s(&to),
            PASSWORD_2,
            &d.udid,
            &format!("after-{}", d.udid),
        );
        assert_eq!(
            digest(&out),
            digest(&d.folder),
            "{} restores byte-exact",
            d.name
        );
    }
}
