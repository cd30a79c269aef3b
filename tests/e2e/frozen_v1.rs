//! The frozen version-1 repository (issue 14): `tests/fixtures/frozen-v1/repo` was made once, by
//! the `hearth` of commit 765a702, and is never made again or edited (its PROVENANCE.md says how
//! it was made). Every later Hearth must open it, find no damage with `check --read-data`, and
//! restore each of its snapshots byte for byte. A failure here means the code no longer reads what
//! an earlier version wrote: the code is wrong, not the fixture.
//!
//! The test works on a copy; nothing is written into `tests/fixtures`.

use crate::common;

use common::{World, describe, mvt_fixture, s};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The repository id sealed in the fixture's `config`: it names the local cache folder.
const REPOSITORY_ID: &str = "e2027832ece4538eafc738ec48f350a927e2505f931785cfddb55150d37ba5fe";

/// Each snapshot as `hearth snapshots --json` must show it; the digests of the folder it was
/// made from are `sources/<id>.sha256` beside the repository.
struct Frozen {
    id: &'static str,
    udid: &'static str,
    time: &'static str,
    stored_at: &'static str,
    parent: Option<&'static str>,
    pinned: bool,
    files: u64,
    bytes: u64,
    /// Where the source is kept in `../shared/fixtures` (None: only its recorded digests).
    source: Option<fn() -> Option<PathBuf>>,
}

const MVT_UDID: &str = "1CB128EAFA77C5BE74283E9A3A2130AF36A3C059";
const KID_UDID: &str = "EEEA765072A1CB6F03C8ACFF1CE295D914D256B8";

const SNAPSHOTS: [Frozen; 3] = [
    // The mvt backup in place.
    Frozen {
        id: "d50dd8050cc33df4abc0c283d2cd9f8dc276e93c7e6b19b0031799328a0d016c",
        udid: MVT_UDID,
        time: "2021-12-03T19:33:13Z",
        stored_at: "2026-12-06T09:51:04Z",
        parent: None,
        pinned: true,
        files: 13,
        bytes: 3_696_021,
        source: Some(mvt_fixture),
    },
    // Its next night: a copy with a new message in sms.db and Info.plist a day later.
    Frozen {
        id: "c13edfaeed8479986f592167da4d194ef5299fe06c0d3dfaf896b039963248cf",
        udid: MVT_UDID,
        time: "2021-12-04T19:33:13Z",
        stored_at: "2026-12-06T09:51:05Z",
        parent: Some("d50dd8050cc33df4abc0c283d2cd9f8dc276e93c7e6b19b0031799328a0d016c"),
        pinned: false,
        files: 13,
        bytes: 3_696_021,
        source: None,
    },
    // A small encrypted device of the testkit's (its derived key is in devicekeys/).
    Frozen {
        id: "9f5aeb663bd1c9d880e826484ab12ab92d9fa92ab3b654f96552b2e12b644032",
        udid: KID_UDID,
        time: "2024-06-01T19:00:00Z",
        stored_at: "2026-12-06T09:51:06Z",
        parent: None,
        pinned: false,
        files: 36,
        bytes: 684_245,
        source: None,
    },
];

/// `tests/fixtures/frozen-v1`; a missing fixture fails the test (it is part of this repository).
fn fixture() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/frozen-v1");
    assert!(
        dir.join("repo/config").is_file(),
        "the frozen repository {} is missing: it is checked in and must never be removed",
        dir.display()
    );
    dir
}

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    hex::encode(Sha256::digest(&bytes))
}

/// A `sha256sum` listing: relative path → digest.
fn read_sums(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| {
            let (digest, name) = l
                .split_once("  ")
                .unwrap_or_else(|| panic!("{}: not a sha256sum line: {l:?}", path.display()));
            (name.to_string(), digest.to_string())
        })
        .collect()
}

/// Every path under `dir`, relative and `/`-separated, folders ending in `/`, each file with its
/// SHA-256 (folders with none). Anything but files and folders fails the test.
fn tree(dir: &Path) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![(dir.to_path_buf(), String::new())];
    while let Some((d, prefix)) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let e = e.unwrap();
            let (path, name) = (e.path(), e.file_name().to_string_lossy().into_owned());
            let kind = e.file_type().unwrap();
            if kind.is_dir() {
                out.insert(format!("{prefix}{name}/"), None);
                todo.push((path, format!("{prefix}{name}/")));
            } else {
                assert!(
                    kind.is_file(),
                    "{} is neither file nor folder",
                    path.display()
                );
                out.insert(format!("{prefix}{name}"), Some(sha256(&path)));
            }
        }
    }
    out
}

/// What [`tree`] must give for the files of a `sha256sum` listing: each file and its folders.
fn expected_tree(sums: &BTreeMap<String, String>) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    for (name, digest) in sums {
        out.insert(name.clone(), Some(digest.clone()));
        let mut parts: Vec<&str> = name.split('/').collect();
        parts.pop();
        for i in 1..=parts.len() {
            out.insert(format!("{}/", parts[..i].join("/")), None);
        }
    }
    out
}

/// The fixture holds exactly the objects `repo.sha256` lists, with those bytes.
fn assert_fixture_unchanged(fixture: &Path) {
    let recorded = expected_tree(&read_sums(&fixture.join("repo.sha256")));
    assert_eq!(
        tree(&fixture.join("repo")),
        recorded,
        "tests/fixtures/frozen-v1/repo is not the repository recorded in repo.sha256: it must never \
         be regenerated or edited (see its PROVENANCE.md)"
    );
}

#[test]
fn the_frozen_repository_is_the_one_made_at_commit_765a702() {
    let fixture = fixture();
    assert_fixture_unchanged(&fixture);
    let sums = read_sums(&fixture.join("repo.sha256"));

    // Every kind of object is there, each with the file header of format version 1 (§3): magic,
    // kind, layout version (2 for snapshots, 1 for the rest), reserved zeros.
    let kinds: BTreeMap<&str, (u8, u8)> = [
        ("config", (b'C', 1)),
        ("keys", (b'K', 1)),
        ("packs", (b'P', 1)),
        ("index", (b'I', 1)),
        ("snapshots", (b'S', 2)),
        ("pins", (b'N', 1)),
        ("devicekeys", (b'D', 1)),
    ]
    .into();
    let mut seen = BTreeMap::<&str, usize>::new();
    for name in sums.keys() {
        let folder = name.split('/').next().unwrap();
        let &(kind, version) = kinds
            .get(folder)
            .unwrap_or_else(|| panic!("{name} is no object of the format"));
        *seen.entry(folder).or_default() += 1;
        let bytes = std::fs::read(fixture.join("repo").join(name)).unwrap();
        assert_eq!(
            bytes.get(..8),
            Some(&[b'H', b'R', b'T', b'H', kind, version, 0, 0][..]),
            "{name}: file header"
        );
        let id = name.rsplit('/').next().unwrap();
        assert!(
            folder == "config" || (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())),
            "{name}: an object's name is 64 hex digits"
        );
    }
    let counts: Vec<(&str, usize)> = seen.into_iter().collect();
    assert_eq!(
        counts,
        [
            ("config", 1),
            ("devicekeys", 1),
            ("index", 3),
            ("keys", 1),
            ("packs", 3),
            ("pins", 1),
            ("snapshots", 3)
        ]
    );

    // The key file's Argon2id parameters (§4.1): the cheap ones of a debug build, so the test
    // opens the repository in milliseconds.
    let key = sums.keys().find(|n| n.starts_with("keys/")).unwrap();
    let key = std::fs::read(fixture.join("repo").join(key)).unwrap();
    let u32_at = |o: usize| u32::from_le_bytes(key[o..o + 4].try_into().unwrap());
    assert_eq!((u32_at(8), u32_at(12), u32_at(16)), (1024, 1, 4), "m, t, p");

    // One recorded source per snapshot, and one pin, of the first.
    let sources: BTreeSet<String> = std::fs::read_dir(fixture.join("sources"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let ids: BTreeSet<String> = SNAPSHOTS
        .iter()
        .map(|f| format!("{}.sha256", f.id))
        .collect();
    assert_eq!(sources, ids);
    for f in &SNAPSHOTS {
        assert!(sums.contains_key(&format!("snapshots/{}", f.id)));
        assert_eq!(sums.contains_key(&format!("pins/{}", f.id)), f.pinned);
    }
}

#[test]
fn the_frozen_repository_checks_clean_and_restores_every_snapshot_byte_for_byte() {
    let fixture = fixture();
    let w = World::new();
    hearth_testkit::copy_tree(&fixture.join("repo"), &w.repo()).unwrap();

    let check = w.json(&["check", "--read-data"], 0);
    assert_eq!(check["ok"], true, "{check:#}");
    assert_eq!(check["damage"], serde_json::json!([]), "{check:#}");
    assert_eq!(check["notes"], serde_json::json!([]), "{check:#}");
    assert_eq!(check["read_data"], "all", "{check:#}");
    for (field, n) in [
        ("snapshots", 3),
        ("index_segments", 3),
        ("packs", 3),
        ("packs_read", 3),
        ("blobs_checked", 561),
    ] {
        assert_eq!(check[field], n, "{field}: {check:#}");
    }
    // The config opened to the recorded repository id: the cache folder is named after it.
    assert_eq!(
        common::names(&w.path("cache")),
        [REPOSITORY_ID],
        "the cache folder is named by the repository id in config"
    );

    let listed = w.json(&["snapshots"], 0);
    let listed = listed.as_array().expect("an array of snapshots");
    assert_eq!(listed.len(), SNAPSHOTS.len(), "{listed:#?}");
    for f in &SNAPSHOTS {
        let v = listed
            .iter()
            .find(|v| v["id"] == f.id)
            .unwrap_or_else(|| panic!("snapshot {} is listed", f.id));
        assert_eq!(v["device"]["udid"], f.udid, "{v:#}");
        assert_eq!(v["time"], f.time, "{}", f.id);
        assert_eq!(v["stored_at"], f.stored_at, "{}", f.id);
        assert_eq!(v["parent"].as_str(), f.parent, "{}", f.id);
        assert_eq!(v["pinned"], f.pinned, "{}", f.id);
        assert_eq!(v["summary"]["files"], f.files, "{}", f.id);
        assert_eq!(v["summary"]["bytes"], f.bytes, "{}", f.id);
    }

    let stats = w.json(&["stats"], 0);
    assert_eq!(stats["snapshots"], 3, "{stats:#}");
    assert_eq!(stats["unreadable_snapshots"], serde_json::json!([]));
    for udid in [MVT_UDID, KID_UDID] {
        let device = stats["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["udid"] == udid)
            .unwrap_or_else(|| panic!("stats shows {udid}: {stats:#}"));
        let logical: u64 = SNAPSHOTS
            .iter()
            .filter(|f| f.udid == udid)
            .map(|f| f.bytes)
            .sum();
        assert_eq!(device["logical_bytes"], logical, "{stats:#}");
    }

    for (n, f) in SNAPSHOTS.iter().enumerate() {
        let out = w.path(&format!("restored-{n}"));
        let run = w.run(&["restore", f.id, "--out", s(&out)]);
        assert_eq!(
            run.status.code(),
            Some(0),
            "restore {}:\n{}",
            f.id,
            describe(&run)
        );
        assert_eq!(common::names(&out), [f.udid], "one device folder");
        let restored = tree(&out.join(f.udid));
        let recorded = expected_tree(&read_sums(
            &fixture.join("sources").join(format!("{}.sha256", f.id)),
        ));
        assert_eq!(
            restored, recorded,
            "the restore of {} is byte for byte its recorded source",
            f.id
        );
        // Where the source itself is at hand, the restore is compared with it too: the same
        // files and folders, the same bytes.
        if let Some(source) = f.source.and_then(|find| find()) {
            assert_eq!(
                tree(&source),
                recorded,
                "{} changed since the frozen repository was made from it (the shared fixture, \
                 not Hearth, is at fault)",
                source.display()
            );
            for (name, digest) in &restored {
                if digest.is_some() {
                    let restored = std::fs::read(out.join(f.udid).join(name)).unwrap();
                    assert!(
                        restored == std::fs::read(source.join(name)).unwrap(),
                        "{name} of {} differs from {}",
                        f.id,
                        source.display()
                    );
                }
            }
        }
    }
    assert_fixture_unchanged(&fixture);
}
