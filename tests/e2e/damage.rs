//! Damage stays small (issue 11): repositories made by the real `hearth` binary are damaged one
//! object at a time (deleted, truncated, flipped, swapped), locally and on S3, and Hearth names
//! what is damaged, goes on with everything else, and heals: `repair index` lists packs from
//! their own headers, `repair snapshots` and `forget ID` deal with a damaged snapshot, a
//! restore writes every intact file and finishes once a backup has stored again what was lost.
//!
//! A "fresh computer" is a cache folder of its own (`--cache-dir`): it knows nothing that the
//! repository does not say.

use crate::common;
use crate::handmade;
use hearth_testkit::servers::{MotoServer, S3Server};

use common::{World, describe, s};
use handmade::{HandDevice, text};
use hearth_testkit::bytes::noise;
use hearth_testkit::{
    FileDigest, GeneratedDevice, Household, HouseholdSpec, generate, tree_digest,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

fn digest(dir: &Path) -> BTreeMap<String, FileDigest> {
    tree_digest(dir).unwrap_or_else(|e| panic!("digest of {}: {e}", dir.display()))
}

/// The objects (64 hex digit names) under `repo/<dir>`, packs' `pp/` folders included.
fn objects(w: &World, dir: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![w.repo().join(dir)];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if common::is_object_name(&e.file_name().to_string_lossy()) {
                found.push(p);
            }
        }
    }
    found.sort();
    found
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

fn flip(p: &Path, at: usize) {
    let mut bytes = fs::read(p).unwrap();
    bytes[at] ^= 0x20;
    fs::write(p, bytes).unwrap();
}

fn biggest(paths: &[PathBuf]) -> PathBuf {
    paths
        .iter()
        .max_by_key(|p| fs::metadata(p).unwrap().len())
        .expect("an object")
        .clone()
}

/// `hearth ARGS` from a computer whose cache is `<world>/<cache>`.
fn run_at(w: &World, cache: &str, args: &[&str]) -> Output {
    w.cmd(args)
        .env("HEARTH_CACHE_DIR", w.path(cache))
        .output()
        .expect("hearth runs")
}

/// Runs; asserts the exit status; returns stdout and stderr together.
fn expect(w: &World, cache: &str, args: &[&str], status: i32) -> String {
    let out = run_at(w, cache, args);
    assert_eq!(
        out.status.code(),
        Some(status),
        "hearth {args:?} (cache {cache}):\n{}",
        describe(&out)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn json_at(w: &World, cache: &str, args: &[&str], status: i32) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = run_at(w, cache, &all);
    assert_eq!(
        out.status.code(),
        Some(status),
        "{all:?}:\n{}",
        describe(&out)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON ({e}):\n{}", describe(&out)))
}

/// The tiny household, each device backed up by a command of its own; returns it with the
/// index segments and packs the second backup (Dad's) wrote: they hold only what Mum's
/// snapshot does not use.
fn backed_up_one_by_one(w: &World) -> (Household, Vec<PathBuf>, Vec<PathBuf>) {
    let h = generate(&HouseholdSpec::tiny(), &w.path("Backup")).expect("tiny household");
    w.ok(&["backup", s(&h.devices[0].folder)]);
    let (segments, packs) = (objects(w, "index"), objects(w, "packs"));
    w.ok(&["backup", s(&h.devices[1].folder)]);
    let new = |before: Vec<PathBuf>, now: Vec<PathBuf>| -> Vec<PathBuf> {
        now.into_iter().filter(|p| !before.contains(p)).collect()
    };
    let segments = new(segments, objects(w, "index"));
    let packs = new(packs, objects(w, "packs"));
    assert!(!segments.is_empty() && !packs.is_empty());
    (h, segments, packs)
}

fn latest(d: &GeneratedDevice) -> String {
    format!("{}@latest", d.udid)
}

/// Restores `d`'s latest snapshot into `<world>/<out>` and asserts it is byte-exact.
fn restores_exactly(w: &World, cache: &str, d: &GeneratedDevice, out: &str) {
    expect(
        w,
        cache,
        &["restore", &latest(d), "--out", s(&w.path(out))],
        0,
    );
    assert_eq!(
        digest(&w.path(out).join(&d.udid)),
        digest(&d.folder),
        "{} restores byte for byte",
        d.name
    );
}

fn snapshot_of(w: &World, udid: &str) -> String {
    let v = w.json(&["snapshots"], 0);
    let snaps = v.as_array().unwrap();
    let s = snaps.iter().find(|s| s["device"]["udid"] == udid).unwrap();
    s["id"].as_str().unwrap().to_owned()
}

#[test]
fn a_lost_index_segment_costs_nothing_once_repair_index_lists_its_packs_again() {
    let w = World::with_repo();
    let (h, dad_segments, dad_packs) = backed_up_one_by_one(&w);
    // Dad's backup wrote what is damaged; Mum's snapshot uses none of it.
    let (spared, hit) = (&h.devices[0], &h.devices[1]);
    for seg in &dad_segments {
        fs::remove_file(seg).unwrap();
    }

    // Check says what holds the data and how to get it back; it never calls those packs
    // harmless. So on a fresh computer and on this one.
    for cache in ["fresh", "cache"] {
        let all = expect(&w, cache, &["check"], 1);
        assert!(
            all.contains("named by no index segment, but holds")
                && all.contains("`hearth repair index`")
                && all.contains(&format!("affects {} ({})", hit.name, hit.udid)),
            "{all}"
        );
        for p in &dad_packs {
            assert!(all.contains(&name(p)), "names packs/{}:\n{all}", name(p));
        }
        assert!(!all.contains("harmless"), "{all}");
    }
    // Every other snapshot lists and restores.
    let listed = json_at(&w, "fresh", &["snapshots"], 0);
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed:#}");
    restores_exactly(&w, "fresh", spared, "spared");

    // The damaged snapshot's own file list is in those packs: it says so, and what to do.
    let all = expect(
        &w,
        "cache",
        &["restore", &latest(hit), "--out", s(&w.path("hit"))],
        1,
    );
    assert!(
        all.contains(&format!(
            "the file list of the snapshot of {} cannot be read",
            hit.name
        )) && all.contains("`hearth repair index`"),
        "{all}"
    );

    let r = json_at(&w, "cache", &["repair", "index"], 0);
    assert_eq!(
        r["packs_indexed"].as_array().unwrap().len(),
        dad_packs.len(),
        "{r:#}"
    );
    assert_eq!(r["packs_dropped"].as_array().unwrap().len(), 0, "{r:#}");

    // Now it restores; everything checks.
    restores_exactly(&w, "cache", hit, "hit-again");
    let j = json_at(&w, "fresh", &["check", "--read-data"], 0);
    assert_eq!(j["ok"], true, "{j:#}");
}

#[test]
fn prune_lists_the_packs_of_a_lost_segment_instead_of_deleting_them() {
    let w = World::with_repo();
    let (h, dad_segments, dad_packs) = backed_up_one_by_one(&w);
    fs::remove_file(&dad_segments[0]).unwrap();

    let all = expect(&w, "fresh", &["prune"], 0);
    assert!(all.contains("listed in a new segment"), "{all}");
    for p in &dad_packs {
        assert!(p.is_file(), "prune kept packs/{}", name(p));
    }
    for d in &h.devices {
        restores_exactly(&w, "fresh", d, &format!("out-{}", d.udid));
    }
    let j = json_at(&w, "cache", &["check", "--read-data"], 0);
    assert_eq!(j["ok"], true, "{j:#}");
}

#[test]
fn a_flipped_index_segment_is_skipped_and_repair_index_replaces_it() {
    let w = World::with_repo();
    let (h, dad_segments, _) = backed_up_one_by_one(&w);
    let seg = &dad_segments[0];
    flip(seg, fs::metadata(seg).unwrap().len() as usize / 2);

    // A fresh computer opens the repository, says what it skipped, and lists everything.
    let all = expect(&w, "fresh", &["snapshots"], 0);
    assert!(
        all.contains(&format!("warning: index/{}", name(seg))) && all.contains("repair index"),
        "{all}"
    );
    let all = expect(&w, "fresh", &["check"], 1);
    assert!(all.contains(&format!("index/{}", name(seg))), "{all}");

    let r = json_at(&w, "fresh", &["repair", "index"], 0);
    let damaged = r["segments_damaged"].as_array().unwrap();
    assert_eq!(damaged.len(), 1, "{r:#}");
    assert_eq!(damaged[0]["id"], name(seg).as_str());
    assert!(
        !seg.exists(),
        "the damaged segment is removed once its packs are listed"
    );
    for d in &h.devices {
        restores_exactly(&w, "cache", d, &format!("out-{}", d.udid));
    }
    assert_eq!(
        json_at(&w, "fresh", &["check", "--read-data"], 0)["ok"],
        true
    );
}

#[test]
fn a_damaged_snapshot_is_skipped_everywhere_and_repair_snapshots_writes_it_again_from_the_cache() {
    let w = World::with_repo();
    let h = generate(&HouseholdSpec::tiny(), &w.path("Backup")).unwrap();
    let (mum, dad) = (&h.devices[0], &h.devices[1]);
    w.ok(&["backup", s(&h.root)]);
    let mum_snap = snapshot_of(&w, &mum.udid);
    let object = w.repo().join("snapshots").join(&mum_snap);
    flip(&object, 40);

    // A fresh computer skips it by name, and everything else works.
    let out = run_at(&w, "fresh", &["snapshots"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        stdout.contains(&dad.name) && !stdout.contains(&mum.name),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!("snapshots/{mum_snap}")) && stderr.contains("repair snapshots"),
        "{stderr}"
    );
    restores_exactly(&w, "fresh", dad, "dad");
    let all = expect(&w, "fresh", &["check"], 1);
    assert!(all.contains(&format!("snapshots/{mum_snap}")), "{all}");
    // Prune would not know what that snapshot uses: it does nothing, and says what to do.
    let all = expect(&w, "fresh", &["prune"], 1);
    assert!(
        all.contains(&mum_snap) && all.contains("repair snapshots"),
        "{all}"
    );

    // This computer's cache still holds it: it is written again from there.
    let all = expect(&w, "cache", &["repair", "snapshots", "--dry-run"], 3);
    assert!(
        all.contains("written again from this computer's cache"),
        "{all}"
    );
    assert!(object.exists(), "a dry run changes nothing");
    expect(&w, "cache", &["repair", "snapshots"], 3);
    assert!(!object.exists());
    restores_exactly(&w, "fresh", mum, "mum");
    let listed = json_at(&w, "fresh", &["snapshots"], 0);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(
        json_at(&w, "fresh", &["check", "--read-data"], 0)["ok"],
        true
    );
}

#[test]
fn a_swapped_snapshot_that_no_cache_holds_is_forgotten_by_its_id() {
    let w = World::with_repo();
    let h = generate(&HouseholdSpec::tiny(), &w.path("Backup")).unwrap();
    let (mum, dad) = (&h.devices[0], &h.devices[1]);
    w.ok(&["backup", s(&h.root)]);
    let (mum_snap, dad_snap) = (snapshot_of(&w, &mum.udid), snapshot_of(&w, &dad.udid));
    // Mum's snapshot object now holds Dad's bytes: sealed and sound, but not what its name says.
    let dir = w.repo().join("snapshots");
    fs::copy(dir.join(&dad_snap), dir.join(&mum_snap)).unwrap();

    let all = expect(&w, "fresh", &["check"], 1);
    assert!(
        all.contains(&format!("snapshots/{mum_snap}"))
            && all.contains("content does not match its name"),
        "{all}"
    );
    // No cache here holds it: repair keeps it, and says what would remove it.
    let all = expect(&w, "fresh", &["repair", "snapshots"], 3);
    assert!(
        all.contains("kept; it cannot be written again, and --forget removes it")
            && all.contains("run `hearth repair snapshots` there first"),
        "{all}"
    );
    assert!(dir.join(&mum_snap).exists());
    let all = expect(&w, "fresh", &["forget", &mum_snap[..10]], 0);
    assert!(all.contains("its object does not read"), "{all}");
    assert!(!dir.join(&mum_snap).exists());
    let listed = json_at(&w, "fresh", &["snapshots"], 0);
    let ids: Vec<&str> = (listed.as_array().unwrap().iter())
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [dad_snap.as_str()]);
    // Prune now frees what only Mum's snapshot used; Dad's restores, and everything checks.
    expect(&w, "fresh", &["prune"], 0);
    restores_exactly(&w, "fresh", dad, "dad");
    assert_eq!(
        json_at(&w, "fresh", &["check", "--read-data"], 0)["ok"],
        true
    );
}

/// Flips a byte of `pack` inside a blob of `file` and of nothing else: tried a tenth of the
/// way in, two tenths, ... (where each blob lies depends on which thread sealed it first), each
/// try judged by a `check --read-data` with a cache of its own.
fn flip_inside(w: &World, pack: &Path, file: &str) {
    let len = fs::metadata(pack).unwrap().len() as usize;
    for tenth in 1..10 {
        let at = len * tenth / 10;
        flip(pack, at);
        let j = json_at(w, &format!("probe-{tenth}"), &["check", "--read-data"], 1);
        let affected: Vec<&str> = (j["damage"].as_array().unwrap().iter())
            .flat_map(|d| d["affected"].as_array().unwrap())
            .map(|a| a.as_str().unwrap())
            .collect();
        if !affected.is_empty() && affected.iter().all(|a| a.contains(file)) {
            return;
        }
        flip(pack, at);
    }
    panic!("no tenth of {} lies inside {file}", pack.display());
}

/// Two phones that share a 2 MB video, each with files of its own.
fn sharing_a_video(w: &World) -> Vec<(PathBuf, String)> {
    let video = noise(11, 2_000_000);
    ["AAAA", "BBBB"]
        .iter()
        .enumerate()
        .map(|(i, tag)| {
            let udid = tag.repeat(10);
            let mut d = HandDevice::new(&w.path("Backup"), &udid, &format!("Phone {tag}"));
            d.file(
                "CameraRollDomain",
                "Media/DCIM/100APPLE/IMG_0001.MOV",
                &video,
            );
            d.file(
                "HomeDomain",
                "Library/Notes/notes.txt",
                &text(20 + i as u64, 30_000),
            );
            d.file(
                "HomeDomain",
                "Library/own.bin",
                &noise(30 + i as u64, 300_000),
            );
            (d.finish(), udid)
        })
        .collect()
}

#[test]
fn a_restore_goes_on_past_a_damaged_chunk_and_finishes_once_a_backup_healed_it() {
    let w = World::with_repo();
    let phones = sharing_a_video(&w);
    w.ok(&["backup", s(&phones[0].0)]);
    let [pack] = objects(&w, "packs").try_into().expect("one pack");
    w.ok(&["backup", s(&phones[1].0)]);
    let video = "CameraRollDomain/Media/DCIM/100APPLE/IMG_0001.MOV";
    flip_inside(&w, &pack, video);

    // Both restores write every other file and name the video, with its device.
    for (folder, udid) in &phones {
        let out = w.path(&format!("out-{udid}"));
        let all = expect(
            &w,
            "cache",
            &["restore", &format!("{udid}@latest"), "--out", s(&out)],
            3,
        );
        assert!(
            all.contains(&format!("damaged: Phone {}", &udid[..4])),
            "{all}"
        );
        assert!(all.contains(video) && all.contains(&name(&pack)), "{all}");
        let mut want = digest(folder);
        let blob = hearth_mobilesync::FileId::for_path(
            "CameraRollDomain",
            "Media/DCIM/100APPLE/IMG_0001.MOV",
        )
        .blob_path();
        assert!(want.remove(&blob).is_some());
        assert_eq!(
            digest(&out.join(udid)),
            want,
            "everything but the video, byte for byte"
        );
    }
    // Run again into the same folder: it resumes (and the video is still damaged).
    let (a_folder, a) = &phones[0];
    let out_a = w.path(&format!("out-{a}"));
    expect(
        &w,
        "cache",
        &["restore", &format!("{a}@latest"), "--out", s(&out_a)],
        3,
    );

    // Check finds it too, on a computer that knows nothing, with both devices' video.
    let all = expect(&w, "fresh", &["check", "--read-data"], 1);
    for (_, udid) in &phones {
        assert!(
            all.contains(&format!("({udid})")) && all.contains(video),
            "{all}"
        );
    }

    // The next backup of one phone stores the chunk again (no --force): the repository heals.
    let b = w.json(&["backup", s(a_folder)], 0);
    let added = b["snapshots"][0]["bytes_added"].as_u64().unwrap();
    assert!(added > 0, "the damaged chunk is stored again: {b:#}");
    let all = expect(
        &w,
        "cache",
        &["restore", &format!("{a}@latest"), "--out", s(&out_a)],
        0,
    );
    assert!(all.contains("already written by an earlier run"), "{all}");
    assert_eq!(digest(&out_a.join(a)), digest(a_folder));
    // The other phone's snapshot names the same chunk: it restores too, from any computer.
    let (b_folder, b_udid) = &phones[1];
    let out_b = w.path("b-again");
    expect(
        &w,
        "fresh",
        &["restore", &format!("{b_udid}@latest"), "--out", s(&out_b)],
        0,
    );
    assert_eq!(digest(&out_b.join(b_udid)), digest(b_folder));

    // What is left is a damaged copy with a sound one elsewhere: a note; prune removes it.
    let j = json_at(&w, "cache", &["check", "--read-data"], 0);
    assert!(
        j["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("sound copy elsewhere")),
        "{j:#}"
    );
    expect(&w, "cache", &["prune"], 0);
    assert!(!pack.exists(), "the damaged pack is gone");
    let j = json_at(&w, "fresh", &["check", "--read-data"], 0);
    assert!(j["notes"].as_array().unwrap().is_empty(), "{j:#}");
}

#[test]
fn a_lost_pack_is_stored_again_by_the_next_backup() {
    let w = World::with_repo();
    let (h, _, dad_packs) = backed_up_one_by_one(&w);
    // Dad's backup wrote what is damaged; Mum's snapshot uses none of it.
    let (spared, hit) = (&h.devices[0], &h.devices[1]);
    let pack = biggest(&dad_packs);
    fs::remove_file(&pack).unwrap();

    let all = expect(&w, "fresh", &["check"], 1);
    assert!(
        all.contains(&format!(
            "packs/{}: named by the index but missing from storage",
            name(&pack)
        )) && all.contains(&format!("affects {} ({})", hit.name, hit.udid)),
        "{all}"
    );
    // Dad's next backup (not --force) stores again what the lost pack held.
    let b = w.json(&["backup", s(&hit.folder)], 0);
    // Its own file list was in that pack: every file is read again, and the snapshot is whole.
    assert!(
        b["snapshots"][0]["parent_unreadable"]
            .as_str()
            .is_some_and(|w| w.contains("not found")),
        "{b:#}"
    );
    assert!(
        b["snapshots"][0]["bytes_added"].as_u64().unwrap() > 0,
        "{b:#}"
    );
    restores_exactly(&w, "fresh", hit, "hit");
    restores_exactly(&w, "fresh", spared, "spared");
    // The index still names the lost pack, but nothing is lost: a note, until prune drops it.
    let j = json_at(&w, "fresh", &["check"], 0);
    assert!(
        j["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains(&name(&pack))),
        "{j:#}"
    );
    expect(&w, "fresh", &["prune"], 0);
    let j = json_at(&w, "fresh", &["check", "--read-data"], 0);
    assert!(j["notes"].as_array().unwrap().is_empty(), "{j:#}");
}

#[test]
fn a_truncated_pack_costs_only_the_blobs_past_its_end() {
    let w = World::with_repo();
    let phones = sharing_a_video(&w);
    // The first phone's backup writes one pack: the video (read first, as the biggest file),
    // its other files, then its file list. The second phone's has what it adds and its list.
    w.ok(&["backup", s(&phones[0].0)]);
    let [pack] = objects(&w, "packs").try_into().expect("one pack");
    w.ok(&["backup", s(&phones[1].0)]);
    // Cut it in the middle of the video.
    let len = fs::metadata(&pack).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&pack)
        .unwrap()
        .set_len(len / 2)
        .unwrap();

    let all = expect(&w, "fresh", &["check"], 1);
    assert!(
        all.contains("lie past its end") && all.contains(&name(&pack)),
        "{all}"
    );
    let (a_folder, a) = &phones[0];
    let all = expect(
        &w,
        "fresh",
        &["restore", &format!("{a}@latest"), "--out", s(&w.path("a"))],
        1,
    );
    assert!(
        all.contains("the file list of the snapshot of Phone AAAA cannot be read"),
        "{all}"
    );
    assert!(a_folder.is_dir());

    // The second phone's own pack is whole: it loses only what lay past the cut.
    let (b_folder, b) = &phones[1];
    let out = w.path("b");
    let j = json_at(
        &w,
        "fresh",
        &["restore", &format!("{b}@latest"), "--out", s(&out)],
        3,
    );
    let damaged: Vec<&str> = (j["damaged"].as_array().unwrap().iter())
        .map(|d| d["relative_path"].as_str().unwrap_or(""))
        .collect();
    assert!(
        damaged.contains(&"Media/DCIM/100APPLE/IMG_0001.MOV"),
        "{j:#}"
    );
    let restored = digest(&out.join(b));
    let source = digest(b_folder);
    for (path, d) in &restored {
        assert_eq!(Some(d), source.get(path), "{path} restores byte for byte");
    }
    assert_eq!(restored.len() + damaged.len(), source.len(), "{j:#}");
}

#[test]
fn an_unfinished_restore_of_another_snapshot_is_not_written_into() {
    let w = World::with_repo();
    let h = generate(&HouseholdSpec::tiny(), &w.path("Backup")).unwrap();
    let mum = &h.devices[0];
    w.ok(&["backup", s(&mum.folder)]);
    let out = w.path("out");
    let folder = out.join(&mum.udid);
    fs::create_dir_all(&folder).unwrap();
    fs::write(
        out.join(format!(".{}.hearth-restore", mum.udid)),
        "plan 00\n",
    )
    .unwrap();
    let all = expect(&w, "cache", &["restore", &latest(mum), "--out", s(&out)], 1);
    assert!(
        all.contains("holds an unfinished restore of another snapshot"),
        "{all}"
    );
    assert_eq!(
        fs::read_dir(&folder).unwrap().count(),
        0,
        "nothing written into it"
    );

    // A marker that is a link to a file elsewhere is never written through.
    fs::remove_dir(&folder).unwrap();
    let marker = out.join(format!(".{}.hearth-restore", mum.udid));
    fs::remove_file(&marker).unwrap();
    let elsewhere = w.path("elsewhere.txt");
    fs::write(&elsewhere, "mine\n").unwrap();
    std::os::unix::fs::symlink(&elsewhere, &marker).unwrap();
    let all = expect(&w, "cache", &["restore", &latest(mum), "--out", s(&out)], 1);
    assert!(all.contains("cannot write it"), "{all}");
    assert_eq!(fs::read_to_string(&elsewhere).unwrap(), "mine\n");
    assert!(!folder.exists());
}

#[test]
fn on_s3_a_lost_segment_is_listed_again_and_a_damaged_snapshot_forgotten() {
    let Some(moto) = MotoServer::start() else {
        return;
    };
    moto.create_bucket("damage");
    let w = World::new();
    let location = moto.repo_location("damage", "h");
    let at = |cache: &str, args: &[&str]| -> Output {
        let mut c = w.cmd(args);
        c.env("HEARTH_REPO", &location)
            .env("HEARTH_CACHE_DIR", w.path(cache));
        moto.configure(&mut c);
        c.output().expect("hearth runs")
    };
    let ok = |cache: &str, args: &[&str], status: i32| -> String {
        let out = at(cache, args);
        assert_eq!(
            out.status.code(),
            Some(status),
            "{args:?}:\n{}",
            describe(&out)
        );
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    ok("c", &["init"], 0);
    let h = generate(&HouseholdSpec::tiny(), &w.path("Backup")).unwrap();
    let (mum, dad) = (&h.devices[0], &h.devices[1]);
    ok("c", &["backup", s(&mum.folder)], 0);
    let keys = |dir: &str| -> Vec<String> {
        moto.list_keys("damage")
            .into_iter()
            .filter(|k| k.starts_with(&format!("h/{dir}/")))
            .collect()
    };
    let mum_segments = keys("index");
    ok("c", &["backup", s(&dad.folder)], 0);
    for k in &mum_segments {
        moto.delete("damage", k);
    }

    let all = ok("fresh", &["check"], 1);
    assert!(
        all.contains("named by no index segment, but holds"),
        "{all}"
    );
    let all = ok("fresh", &["repair", "index"], 0);
    assert!(all.contains("pack(s) that no index segment named"), "{all}");
    let out = w.path("mum");
    ok("fresh", &["restore", &latest(mum), "--out", s(&out)], 0);
    assert_eq!(digest(&out.join(&mum.udid)), digest(&mum.folder));

    // Dad's snapshot object replaced by garbage: skipped by name, then forgotten by its id.
    let snap = keys("snapshots")
        .into_iter()
        .find(|k| {
            let v: Value =
                serde_json::from_slice(&at("c", &["--json", "snapshots"]).stdout).unwrap();
            v.as_array().unwrap().iter().any(|s| {
                s["device"]["udid"] == dad.udid.as_str() && k.ends_with(s["id"].as_str().unwrap())
            })
        })
        .expect("Dad's snapshot object");
    moto.put("damage", &snap, &[0x5a; 300]);
    let id = snap.rsplit('/').next().unwrap();
    let all = ok("fresh2", &["snapshots"], 3);
    assert!(all.contains(&format!("snapshots/{id}")), "{all}");
    ok("fresh2", &["forget", id], 0);
    let all = ok("fresh2", &["check"], 0);
    assert!(all.contains("no errors found"), "{all}");
}
