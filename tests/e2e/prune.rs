//! Retention and prune end to end (issue 5, items 1, 2 and 5) with the real `hearth` binary:
//! snapshots made by real backups on successive "days" of a generated household (`next_day`),
//! `forget` deciding with `--keep-last`, `--keep-tag`, pins, `--device` and `--group-by`;
//! `prune` freeing on disk what its plan says, every kept snapshot restoring byte-exact
//! afterwards, and the local index cache being only a cache (`repair index`).
//!
//! Snapshot times cannot be faked through the command line, so every snapshot of a test is made
//! within a few seconds: the calendar rules (`--keep-daily` ...) are checked here only for what
//! holds whatever the clock says (the newest snapshot opens the newest bucket); their calendar
//! arithmetic is unit-tested in `crates/repo/src/retention.rs`.

use crate::common;

use common::{s, u};

use common::{World, describe};
use hearth_testkit::{
    DayOptions, FileDigest, Household, HouseholdSpec, copy_tree, generate, next_day, tree_digest,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

type Digest = BTreeMap<String, FileDigest>;

/// One snapshot a test made: which device, which day, and the device folder as it was.
#[derive(Debug, Clone)]
struct Snap {
    id: String,
    udid: String,
    day: u32,
    /// A copy of the device folder as this snapshot saw it.
    folder: PathBuf,
    bytes_added: u64,
}

/// `hearth backup [--tag T]... FOLDERS` → one `Snap` per device, with a copy of each folder
/// (under `<world>/day<day>/`) taken before `next_day` edits it.
fn backup(w: &World, day: u32, folders: &[&Path], tags: &[&str]) -> Vec<Snap> {
    let mut args = vec!["backup"];
    for t in tags {
        args.extend(["--tag", t]);
    }
    args.extend(folders.iter().map(|f| s(f)));
    let report = w.json(&args, 0);
    let snaps = report["snapshots"].as_array().expect("snapshots array");
    assert_eq!(snaps.len(), folders.len(), "{report:#}");
    snaps
        .iter()
        .map(|r| {
            let udid = r["device"]["udid"].as_str().unwrap().to_owned();
            let src = folders
                .iter()
                .find(|f| f.ends_with(&udid))
                .expect("a backed-up folder");
            let copy = w.path(&format!("day{day}")).join(&udid);
            if !copy.exists() {
                copy_tree(src, &copy).expect("copy of the device folder");
            }
            Snap {
                id: r["id"].as_str().unwrap().to_owned(),
                udid,
                day,
                folder: copy,
                bytes_added: u(&r["bytes_added"]),
            }
        })
        .collect()
}

/// Snapshot ids in the repository (`snapshots --json`), with their `pinned` flag.
fn listed(w: &World) -> BTreeMap<String, bool> {
    let v = w.json(&["snapshots"], 0);
    v.as_array()
        .expect("snapshots array")
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["pinned"].as_bool().expect("pinned flag"),
            )
        })
        .collect()
}

fn ids(snaps: &[&Snap]) -> Vec<String> {
    let mut v: Vec<String> = snaps.iter().map(|s| s.id.clone()).collect();
    v.sort();
    v
}

fn restores_byte_exact(w: &World, snap: &Snap) {
    let out = w.path(&format!("restore-{}", &snap.id[..12]));
    let _ = fs::remove_dir_all(&out);
    let o = w.run(&["restore", &snap.id, "--out", s(&out)]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "restore of day-{} snapshot {} of {}:\n{}",
        snap.day,
        snap.id,
        snap.udid,
        describe(&o)
    );
    let got = tree_digest(&out.join(&snap.udid)).expect("restored folder");
    let want: Digest = tree_digest(&snap.folder).expect("source copy");
    assert!(
        got == want,
        "day-{} snapshot {} of {} restores byte-exact",
        snap.day,
        snap.id,
        snap.udid
    );
    fs::remove_dir_all(&out).unwrap();
}

/// Bytes of every regular file under `dir` (their lengths, as `ls -l` shows them).
fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let Ok(rd) = fs::read_dir(dir) else { return 0 };
    for e in rd.flatten() {
        let m = fs::symlink_metadata(e.path()).unwrap();
        if m.is_dir() {
            total += dir_bytes(&e.path());
        } else if m.is_file() {
            total += m.len();
        }
    }
    total
}

fn pack_files(repo: &Path) -> usize {
    let mut n = 0;
    for sub in fs::read_dir(repo.join("packs")).unwrap().flatten() {
        n += fs::read_dir(sub.path()).unwrap().count();
    }
    n
}

/// The verdict on each snapshot in a `forget --dry-run --json` document, by id: (keep, reasons).
fn verdicts(doc: &Value) -> BTreeMap<String, (bool, Vec<String>)> {
    let mut out = BTreeMap::new();
    for g in doc["groups"].as_array().expect("groups") {
        for s in g["snapshots"].as_array().expect("snapshots of a group") {
            let reasons = s["reasons"]
                .as_array()
                .expect("reasons")
                .iter()
                .map(|r| r.as_str().unwrap().to_owned())
                .collect();
            out.insert(
                s["id"].as_str().unwrap().to_owned(),
                (s["keep"].as_bool().unwrap(), reasons),
            );
        }
    }
    out
}

fn group_names(doc: &Value) -> Vec<String> {
    doc["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["group"].as_str().unwrap().to_owned())
        .collect()
}

/// Two devices (the tiny household: Mum's and Dad's iPhones), backed up on three days:
/// day 1 Mum tagged `monthly` and Dad untagged (two commands), days 2 and 3 both together.
struct ThreeDays {
    w: World,
    h: Household,
    /// `snaps[day-1]` = [Mum, Dad].
    snaps: Vec<[Snap; 2]>,
}

impl ThreeDays {
    fn new(options: &DayOptions) -> Self {
        let w = World::with_repo();
        let h = generate(&HouseholdSpec::tiny(), &w.path("Backup")).expect("tiny household");
        let (mum, dad) = (&h.devices[0], &h.devices[1]);
        let mut snaps = Vec::new();
        let m1 = backup(&w, 1, &[&mum.folder], &["monthly"]).remove(0);
        let d1 = backup(&w, 1, &[&dad.folder], &[]).remove(0);
        snaps.push([m1, d1]);
        for day in 2..=3 {
            next_day(&h, day - 1, options).expect("a night of edits");
            let mut both = backup(&w, day, &[&mum.folder, &dad.folder], &[]);
            both.sort_by_key(|s| s.udid != mum.udid);
            let [m, d]: [Snap; 2] = both.try_into().unwrap();
            snaps.push([m, d]);
        }
        assert_eq!(listed(&w).len(), 6);
        ThreeDays { w, h, snaps }
    }

    fn mum(&self, day: u32) -> &Snap {
        &self.snaps[day as usize - 1][0]
    }

    fn dad(&self, day: u32) -> &Snap {
        &self.snaps[day as usize - 1][1]
    }
}

#[test]
fn retention_decides_per_device_with_reasons_pins_tags_and_refuses_to_empty_a_device() {
    let t = ThreeDays::new(&DayOptions::default());
    let w = &t.w;
    let (mum, dad) = (&t.h.devices[0], &t.h.devices[1]);

    // Pin Dad's first snapshot, as before an iOS upgrade.
    let pin = w.json(&["pin", &t.dad(1).id[..8]], 0);
    assert_eq!(pin["id"], t.dad(1).id.as_str(), "{pin}");
    assert_eq!(
        (pin["pinned"].as_bool(), pin["changed"].as_bool()),
        (Some(true), Some(true))
    );
    let again = w.json(&["pin", &t.dad(1).id], 0);
    assert_eq!(
        again["changed"], false,
        "pinning twice changes nothing: {again}"
    );
    let pinned: Vec<String> = listed(w)
        .into_iter()
        .filter(|(_, p)| *p)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        pinned,
        [t.dad(1).id.clone()],
        "snapshots --json shows the pin"
    );

    // No --keep-* at all: refused before anything is read.
    let o = w.run(&["forget"]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--keep"),
        "{}",
        describe(&o)
    );

    // The dry run lists every snapshot of each device with its verdict and the rules behind it.
    let before = listed(w);
    let doc = w.json(
        &[
            "forget",
            "--dry-run",
            "--keep-last",
            "1",
            "--keep-tag",
            "monthly",
        ],
        0,
    );
    assert_eq!(doc["dry_run"], true, "{doc:#}");
    assert_eq!(
        group_names(&doc),
        [
            format!("{} ({})", dad.name, dad.udid),
            format!("{} ({})", mum.name, mum.udid)
        ],
        "one group per device, by name: {doc:#}"
    );
    for g in doc["groups"].as_array().unwrap() {
        let times: Vec<&str> = g["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["time"].as_str().unwrap())
            .collect();
        assert!(
            times.windows(2).all(|p| p[0] >= p[1]),
            "snapshots are listed newest first: {times:?}"
        );
        assert!(
            times.iter().all(|t| t.ends_with('Z')),
            "times are UTC: {times:?}"
        );
    }
    let v = verdicts(&doc);
    let expect = |snap: &Snap, keep: bool, reasons: &[&str]| {
        let got = &v[&snap.id];
        assert_eq!(
            (got.0, got.1.iter().map(String::as_str).collect::<Vec<_>>()),
            (keep, reasons.to_vec()),
            "day-{} snapshot of {}: {doc:#}",
            snap.day,
            snap.udid
        );
    };
    expect(t.mum(3), true, &["last 1"]);
    expect(t.mum(2), false, &[]);
    expect(t.mum(1), true, &["tag monthly"]);
    expect(t.dad(3), true, &["last 1"]);
    expect(t.dad(2), false, &[]);
    expect(t.dad(1), true, &["pinned"]);
    assert_eq!(v.len(), 6);
    assert_eq!(listed(w), before, "a dry run removes nothing");

    // Every rule that keeps a snapshot is named; --keep-within counts from the group's newest.
    let doc = w.json(
        &[
            "forget",
            "--dry-run",
            "--keep-last",
            "2",
            "--keep-within",
            "30d",
            "--keep-daily",
            "1",
            "--keep-weekly",
            "1",
            "--keep-monthly",
            "1",
            "--keep-yearly",
            "1",
            "--keep-hourly",
            "1",
        ],
        0,
    );
    let v = verdicts(&doc);
    for snap in [t.mum(3), t.dad(3)] {
        assert_eq!(
            v[&snap.id].1,
            [
                "last 2",
                "within 30d",
                "hourly 1",
                "daily 1",
                "weekly 1",
                "monthly 1",
                "yearly 1"
            ],
            "the newest snapshot opens every bucket: {doc:#}"
        );
    }
    for snap in [t.mum(2), t.dad(2)] {
        let r = &v[&snap.id].1;
        assert_eq!(&r[..2], ["last 2", "within 30d"], "{doc:#}");
        assert!(
            r[2..].iter().all(|x| !x.ends_with(" 1")),
            "a bucket of count 1 keeps only the newest: {r:?}"
        );
    }
    assert_eq!(v[&t.mum(1).id], (true, vec!["within 30d".to_owned()]));
    assert_eq!(
        v[&t.dad(1).id],
        (true, vec!["pinned".to_owned(), "within 30d".to_owned()])
    );

    // A policy that would remove every snapshot of one device is refused as a whole: Dad keeps
    // his pinned snapshot, but nothing of Mum's carries the tag.
    let o = w.run(&["forget", "--keep-tag", "no-such-tag"]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("refused") && err.contains(&mum.udid),
        "the refusal names the device: {err}"
    );
    assert_eq!(
        listed(w),
        before,
        "a refused forget removes nothing, for no device"
    );
    let o = w.run(&["forget", "--dry-run", "--keep-tag", "no-such-tag"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "a dry run is refused too:\n{}",
        describe(&o)
    );

    // --device limits the policy to one device.
    let doc = w.json(
        &[
            "forget",
            "--dry-run",
            "--device",
            &dad.name,
            "--keep-last",
            "1",
        ],
        0,
    );
    assert_eq!(
        group_names(&doc),
        [format!("{} ({})", dad.name, dad.udid)],
        "{doc:#}"
    );
    let doc = w.json(&["forget", "--device", &dad.udid, "--keep-last", "1"], 0);
    assert_eq!(doc["dry_run"], false, "{doc:#}");
    let now = listed(w);
    assert_eq!(
        now.keys().cloned().collect::<Vec<_>>(),
        ids(&[t.mum(1), t.mum(2), t.mum(3), t.dad(1), t.dad(3)]),
        "only Dad's unpinned older snapshot is gone"
    );

    // Unpinned, Dad's first snapshot is up to the policy again.
    let unpin = w.json(&["unpin", &t.dad(1).id], 0);
    assert_eq!(
        (unpin["pinned"].as_bool(), unpin["changed"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(w.json(&["unpin", &t.dad(1).id], 0)["changed"], false);
    let doc = w.json(
        &[
            "forget",
            "--dry-run",
            "--device",
            &dad.name,
            "--keep-last",
            "1",
        ],
        0,
    );
    assert_eq!(verdicts(&doc)[&t.dad(1).id], (false, vec![]), "{doc:#}");

    // --group-by none: one group; the newest snapshot of the household is the "last".
    let doc = w.json(
        &[
            "forget",
            "--dry-run",
            "--group-by",
            "none",
            "--keep-last",
            "1",
        ],
        0,
    );
    assert_eq!(group_names(&doc), ["all snapshots"], "{doc:#}");
    let v = verdicts(&doc);
    let kept: Vec<&String> = v
        .iter()
        .filter(|(_, (k, _))| *k)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(kept.len(), 1, "{doc:#}");
    assert!(
        [&t.mum(3).id, &t.dad(3).id].contains(&kept[0]),
        "the household's newest is a day-3 snapshot: {doc:#}"
    );

    // Text output names each verdict and rule.
    let text = w.ok(&["forget", "--dry-run", "--keep-last", "1"]);
    assert!(
        text.contains("keep") && text.contains("remove") && text.contains("last 1"),
        "{text}"
    );
}

/// `forget --keep-last 1 --keep-tag monthly` over three days, then `prune --max-unused 0%`:
/// the folder shrinks by what the plan says, kept snapshots restore, the forgotten content is
/// gone, and a second prune has nothing to do.
#[test]
fn forget_then_prune_frees_what_it_reports_and_every_kept_snapshot_restores() {
    // A busier night than the default, so that day 1 has content of its own.
    let t = ThreeDays::new(&DayOptions {
        changed_fraction: 0.15,
        ..DayOptions::default()
    });
    let w = &t.w;
    let kept = [t.mum(1), t.mum(3), t.dad(3)];
    let forgotten = [t.mum(2), t.dad(1), t.dad(2)];

    let doc = w.json(&["forget", "--keep-last", "1", "--keep-tag", "monthly"], 0);
    let v = verdicts(&doc);
    for s in kept {
        assert!(v[&s.id].0, "{doc:#}");
    }
    for s in forgotten {
        assert!(!v[&s.id].0, "{doc:#}");
    }
    assert_eq!(listed(w).keys().cloned().collect::<Vec<_>>(), ids(&kept));

    // A copy of the repository as forget left it: the control for "the content is gone".
    let control = w.path("control-repo");
    copy_tree(&w.repo(), &control).unwrap();

    let plan = w.json(&["prune", "--dry-run", "--max-unused", "0%"], 0);
    assert_eq!(plan["dry_run"], true);
    assert!(
        u(&plan["delete_packs"]) + u(&plan["repack_packs"]) > 0,
        "{plan:#}"
    );
    assert!(u(&plan["bytes_freed"]) > 0, "{plan:#}");
    assert_eq!(u(&plan["unindexed_packs"]), 0, "{plan:#}");
    assert_eq!(
        u(&plan["unused_after"]),
        0,
        "0% leaves nothing unused: {plan:#}"
    );

    let (packs_before, index_before) = (
        dir_bytes(&w.repo().join("packs")),
        dir_bytes(&w.repo().join("index")),
    );
    let folder_before = dir_bytes(&w.repo());
    let pack_count_before = pack_files(&w.repo());
    let run = w.json(&["prune", "--max-unused", "0%"], 0);
    let folder_after = dir_bytes(&w.repo());
    let (packs_after, index_after) = (
        dir_bytes(&w.repo().join("packs")),
        dir_bytes(&w.repo().join("index")),
    );
    eprintln!("prune: {run:#}");
    eprintln!(
        "folder {folder_before} -> {folder_after}; packs/ {packs_before} -> {packs_after}; index/ {index_before} -> {index_after}"
    );
    assert_eq!(run["dry_run"], false);
    for field in [
        "packs",
        "pack_bytes",
        "used_bytes",
        "delete_packs",
        "repack_packs",
        "repack_bytes",
        "unindexed_packs",
        "bytes_freed",
        "unused_after",
    ] {
        assert_eq!(
            run[field], plan[field],
            "the dry run planned what the run did: {field}"
        );
    }
    let freed = u(&run["bytes_freed"]);
    let (before, after) = (
        u(&run["repository_bytes_before"]),
        u(&run["repository_bytes_after"]),
    );
    assert_eq!(
        before - after,
        folder_before - folder_after,
        "the repository sizes prune reports are the folder's"
    );
    // Locks come and go with the commands that run: the sizes leave them out.
    assert_eq!(
        before, folder_before,
        "the repository prune measured is the folder without locks"
    );
    // packs/ shrinks by the bytes freed less what the new packs add besides the copied blobs:
    // their 8-byte header, the sealed list of their entries (48 bytes each, plus a count, a
    // nonce and a tag) and the 4-byte trailer.
    let written = u(&run["packs_written"]);
    let repacked = u(&run["blobs_repacked"]);
    let packs_shrink = packs_before - packs_after;
    assert!(
        packs_shrink <= freed,
        "packs/ shrank by {packs_shrink}, more than the {freed} planned"
    );
    let overhead = freed - packs_shrink;
    assert!(
        overhead <= 48 * repacked + 128 * written,
        "packs/ shrank by {packs_shrink}, {overhead} less than bytes_freed {freed}: more than the \
         headers of {written} new packs of {repacked} blobs"
    );
    // index/ is not in bytes_freed: its segments are rewritten without the doomed packs' entries
    // and a segment lists the new packs. For this household that is a few KB either way.
    let index_change = index_after.abs_diff(index_before);
    assert!(
        index_change < 64 * 1024,
        "index/ {index_before} -> {index_after}"
    );
    assert_eq!(
        (folder_before - folder_after) as i64,
        packs_shrink as i64 + index_before as i64 - index_after as i64,
        "only packs/ and index/ changed"
    );
    assert_eq!(
        u(&run["packs_deleted"]),
        u(&run["delete_packs"]) + u(&run["repack_packs"]) + u(&run["unindexed_packs"])
    );
    assert_eq!(
        pack_files(&w.repo()) as u64,
        pack_count_before as u64 - u(&run["packs_deleted"]) + written
    );
    if u(&run["repack_packs"]) > 0 {
        assert!(repacked > 0 && written > 0, "{run:#}");
    }

    for s in kept {
        restores_byte_exact(w, s);
    }
    let check = w.json(&["check", "--read-data"], 0);
    assert_eq!(check["ok"], true, "{check:#}");

    // Nothing is left to free, and a second prune changes nothing.
    let again = w.json(&["prune", "--dry-run", "--max-unused", "0%"], 0);
    for field in [
        "delete_packs",
        "repack_packs",
        "unindexed_packs",
        "bytes_freed",
        "unused_bytes",
        "unused_after",
    ] {
        assert_eq!(u(&again[field]), 0, "{field} after a prune: {again:#}");
    }
    assert_eq!(again["used_bytes"], run["used_bytes"], "{again:#}");
    assert_eq!(u(&again["pack_bytes"]), packs_after, "{again:#}");
    let second = w.json(&["prune", "--max-unused", "0%"], 0);
    assert_eq!(u(&second["packs_deleted"]), 0, "{second:#}");
    assert_eq!(
        second["repository_bytes_before"],
        second["repository_bytes_after"]
    );
    assert_eq!(
        dir_bytes(&w.repo()),
        folder_after,
        "a second prune changes nothing on disk"
    );

    // The forgotten content is gone: backing Dad's day-1 folder up again stores bytes that the
    // unpruned copy of the repository still had.
    let into = |repo: &Path, cache: &str| {
        let mut c = w.cmd(&["--json", "backup", s(&t.dad(1).folder)]);
        c.env("HEARTH_REPO", repo)
            .env("HEARTH_CACHE_DIR", w.path(cache));
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        u(&v["snapshots"][0]["bytes_added"])
    };
    let in_control = into(&control, "control-cache");
    let in_pruned = into(&w.repo(), "cache");
    eprintln!(
        "Dad's day-1 folder backed up again adds {in_control} bytes before the prune, {in_pruned} after (first backup added {})",
        t.dad(1).bytes_added
    );
    assert!(
        in_pruned > in_control + 100_000,
        "the prune freed Dad's day-1-only content: again it adds {in_pruned} bytes, {in_control} before the prune"
    );
}

/// The redb cache under `<cache>/<repository id>/`.
fn cache_file(w: &World) -> PathBuf {
    let dirs: Vec<PathBuf> = fs::read_dir(w.path("cache"))
        .expect("cache folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "one repository's cache: {dirs:?}");
    let name = dirs[0].file_name().unwrap().to_str().unwrap();
    assert!(
        name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()),
        "{name}"
    );
    let f = dirs[0].join("index.redb");
    assert!(f.is_file(), "{} exists", f.display());
    f
}

/// A repository of two days, and what "still works" means for it.
struct CacheCase {
    t: ThreeDays,
    blobs_and_packs: String,
}

impl CacheCase {
    fn new() -> Self {
        let t = ThreeDays::new(&DayOptions::default());
        let out = t.w.ok(&["repair", "index"]);
        CacheCase {
            t,
            blobs_and_packs: out.trim().to_owned(),
        }
    }

    fn still_works(&self, what: &str) {
        let w = &self.t.w;
        // Restore first: the first command after the damage meets the bad cache.
        restores_byte_exact(w, self.t.mum(2));
        let check = w.json(&["check", "--read-data"], 0);
        assert_eq!(check["ok"], true, "check after {what}: {check:#}");
        restores_byte_exact(w, self.t.dad(3));
        let out = w.ok(&["repair", "index"]);
        assert_eq!(
            out.trim(),
            self.blobs_and_packs,
            "repair index after {what}"
        );
        restores_byte_exact(w, self.t.mum(1));
    }
}

#[test]
fn a_deleted_cache_is_rebuilt() {
    let c = CacheCase::new();
    eprintln!("{}", c.blobs_and_packs);
    fs::remove_file(cache_file(&c.t.w)).unwrap();
    c.still_works("deleting the cache");
}

#[test]
fn a_cache_overwritten_with_garbage_is_rebuilt() {
    let c = CacheCase::new();
    let f = cache_file(&c.t.w);
    let len = fs::metadata(&f).unwrap().len() as usize;
    let garbage: Vec<u8> = (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3])
        .collect();
    fs::write(&f, garbage).unwrap();
    c.still_works("overwriting the cache with garbage");
}

/// A cache cut short (a full disk, a crash of the machine): every command must still work, or
/// at least `repair index` must rebuild it.
#[test]
fn a_truncated_cache_is_rebuilt() {
    let c = CacheCase::new();
    let f = cache_file(&c.t.w);
    let len = fs::metadata(&f).unwrap().len();
    fs::File::options()
        .write(true)
        .open(&f)
        .unwrap()
        .set_len(len / 3)
        .unwrap();
    let o = c.t.w.run(&["repair", "index"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "repair index of a truncated cache:\n{}",
        describe(&o)
    );
    c.still_works("truncating the cache");
}

/// A cache with one damaged page in the middle (bit rot), header intact.
#[test]
fn a_cache_with_a_damaged_page_is_rebuilt() {
    let c = CacheCase::new();
    let f = cache_file(&c.t.w);
    let mut bytes = fs::read(&f).unwrap();
    for b in &mut bytes[4096..8192] {
        *b ^= 0x5a;
    }
    fs::write(&f, bytes).unwrap();
    let o = c.t.w.run(&["repair", "index"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "repair index of a damaged cache:\n{}",
        describe(&o)
    );
    c.still_works("damaging a page of the cache");
}

/// A repository where every stored blob is used has nothing to prune, whatever `--max-unused`
/// says: a pack's header (its sealed list of entries) is not unused space that repacking could
/// free, since the new pack has one too. Likewise a prune at 0% leaves nothing for the next.
#[test]
fn nothing_unused_means_nothing_to_do_even_at_max_unused_0() {
    let w = World::with_repo();
    let h = generate(&HouseholdSpec::tiny(), &w.path("Backup")).expect("tiny household");
    backup(&w, 1, &[&h.devices[0].folder], &[]);
    backup(&w, 1, &[&h.devices[1].folder], &[]);
    let plan = w.json(&["prune", "--dry-run", "--max-unused", "0%"], 0);
    eprintln!("{plan:#}");
    assert_eq!(
        (
            u(&plan["delete_packs"]),
            u(&plan["repack_packs"]),
            u(&plan["bytes_freed"])
        ),
        (0, 0, 0),
        "no snapshot was forgotten, every blob is used, yet prune plans work: {plan:#}"
    );
    let run = w.json(&["prune", "--max-unused", "0%"], 0);
    let again = w.json(&["prune", "--dry-run", "--max-unused", "0%"], 0);
    assert_eq!(
        (u(&again["delete_packs"]), u(&again["repack_packs"])),
        (0, 0),
        "a prune at 0% leaves work for the next prune at 0%: first {run:#}, then {again:#}"
    );
}

/// `forget --prune --json` prints one JSON document (the global `--json`: "one JSON document on
/// stdout"), with the verdicts and the prune.
#[test]
fn forget_with_prune_prints_one_json_document() {
    let w = World::with_repo();
    let h = generate(&HouseholdSpec::tiny(), &w.path("Backup")).expect("tiny household");
    backup(&w, 1, &[&h.devices[0].folder, &h.devices[1].folder], &[]);
    next_day(&h, 1, &DayOptions::default()).unwrap();
    backup(&w, 2, &[&h.devices[0].folder, &h.devices[1].folder], &[]);
    let o = w.run(&["--json", "forget", "--keep-last", "1", "--prune"]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    assert_eq!(listed(&w).len(), 2, "forget removed the day-1 snapshots");
    let docs: Vec<Value> = serde_json::Deserializer::from_slice(&o.stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .expect("JSON on stdout");
    assert_eq!(
        docs.len(),
        1,
        "forget --prune --json prints {} JSON documents:\n{}",
        docs.len(),
        String::from_utf8_lossy(&o.stdout)
    );
}

/// `forget --prune` is no slower than `forget` then `prune`: the prune must not wait for the
/// cache its own process holds (the open of a held cache waits 300 ms, then builds a private one
/// from every index segment).
#[test]
fn forget_with_prune_does_not_wait_for_its_own_cache() {
    let w = World::with_repo();
    let h = generate(&HouseholdSpec::tiny(), &w.path("Backup")).expect("tiny household");
    backup(&w, 1, &[&h.devices[0].folder, &h.devices[1].folder], &[]);
    // Another tag: the same device backups are a second snapshot each.
    backup(
        &w,
        2,
        &[&h.devices[0].folder, &h.devices[1].folder],
        &["again"],
    );
    let timed = |args: &[&str]| {
        let t = std::time::Instant::now();
        w.ok(args);
        t.elapsed()
    };
    let apart = timed(&["forget", "--keep-last", "2"]) + timed(&["prune"]);
    let together = timed(&["forget", "--keep-last", "1", "--prune"]);
    eprintln!("forget then prune: {apart:?}; forget --prune: {together:?}");
    assert!(
        together < apart + std::time::Duration::from_millis(1500),
        "forget --prune took {together:?}, forget and prune apart {apart:?}"
    );
}
