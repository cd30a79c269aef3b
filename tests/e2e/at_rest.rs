//! What the repository and the source look like at rest (issue 2, items 6 and 7): no plaintext
//! or identity in any repository file; passwords (wrong, added, removed, changed); `init` never
//! touches an existing repository; the source folder is read-only input; a newer format is
//! refused; and the local index cache is disposable (`docs/format.md` §12, §13).

use crate::common;

use common::{PASSWORD, World, describe};
use hearth_testkit::{Household, HouseholdSpec, files_under, generate, tree_digest};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::SystemTime;

const WINDOW: usize = 32;

/// A tiny household (two iPhones) in `<world>/Backup`, backed up in full.
fn backed_up(w: &World) -> Household {
    let h = generate(&HouseholdSpec::tiny(), &w.path("Backup")).expect("household generates");
    let report = w.json(&["backup", h.root.to_str().unwrap()], 0);
    assert_eq!(
        report["snapshots"].as_array().unwrap().len(),
        h.devices.len(),
        "{report}"
    );
    h
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts exit 1 and that stderr says `what`.
fn assert_fails_with(out: &Output, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected a failure:\n{}",
        describe(out)
    );
    assert!(
        stderr(out).contains(what),
        "stderr names the problem ({what:?}):\n{}",
        describe(out)
    );
}

// ---------------------------------------------------------------------------------------------
// Encryption at rest

/// Whether the 32-byte window at the start of a file is format boilerplate: the first bytes of
/// every SQLite database (`SQLite format 3\0` and the fixed fields after it), of every binary
/// or XML plist, and of every JPEG or ISO media file (HEIC, MOV, MP4) are the same in hundreds
/// of files on every iPhone and are published in the formats' specifications. A hit on one
/// would not show that *this* file leaked, and the file's other windows cover its content.
fn is_boilerplate_start(window: &[u8]) -> bool {
    window.starts_with(b"SQLite format 3\0")
        || window.starts_with(b"bplist00")
        || window.starts_with(b"<?xml")
        || window.starts_with(&[0xFF, 0xD8, 0xFF])
        || window.get(4..8) == Some(b"ftyp")
}

/// Windows from the start, the quarters, the middle and the end of a file. Windows of one
/// repeated byte (zero runs in SQLite pages, padding in media) are skipped: they say nothing
/// about the file's content and are not what encryption is meant to hide.
fn windows_of(data: &[u8]) -> Vec<[u8; WINDOW]> {
    if data.len() < WINDOW {
        return Vec::new();
    }
    let last = data.len() - WINDOW;
    let mut offsets = vec![0, last / 4, last / 2, 3 * last / 4, last];
    offsets.dedup();
    offsets
        .into_iter()
        .map(|o| <[u8; WINDOW]>::try_from(&data[o..o + WINDOW]).unwrap())
        .enumerate()
        .filter(|(i, w)| !(*i == 0 && is_boilerplate_start(w)))
        .map(|(_, w)| w)
        .filter(|w| w.iter().any(|&b| b != w[0]))
        .collect()
}

/// Byte strings to look for, with a 24-bit prefilter on their first three bytes, so scanning a
/// file is one bit test per byte and a comparison only on the rare prefilter hit.
struct Needles {
    by_prefix: HashMap<usize, Vec<Vec<u8>>>,
    prefix: Vec<u64>,
    count: usize,
}

impl Needles {
    fn new(needles: impl IntoIterator<Item = Vec<u8>>) -> Self {
        let all: HashSet<Vec<u8>> = needles.into_iter().collect();
        let mut prefix = vec![0u64; (1 << 24) / 64];
        let mut by_prefix: HashMap<usize, Vec<Vec<u8>>> = HashMap::new();
        let count = all.len();
        for n in all {
            assert!(
                n.len() >= 8,
                "needle {:?} is too short to mean anything",
                String::from_utf8_lossy(&n)
            );
            let p = Self::key(&n);
            prefix[p / 64] |= 1 << (p % 64);
            by_prefix.entry(p).or_default().push(n);
        }
        Self {
            by_prefix,
            prefix,
            count,
        }
    }

    fn key(b: &[u8]) -> usize {
        (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2])
    }

    /// The first needle found in `data`, and where.
    fn find_in(&self, data: &[u8]) -> Option<(usize, &[u8])> {
        for i in 0..data.len().saturating_sub(2) {
            let p = Self::key(&data[i..]);
            if self.prefix[p / 64] & (1 << (p % 64)) == 0 {
                continue;
            }
            if let Some(n) = self.by_prefix[&p].iter().find(|n| data[i..].starts_with(n)) {
                return Some((i, n));
            }
        }
        None
    }
}

#[test]
fn no_plaintext_window_of_any_backed_up_file_is_in_the_repository() {
    let w = World::with_repo();
    let h = backed_up(&w);
    let sources = files_under(&h.root).unwrap();
    let mut windows = Vec::new();
    for f in &sources {
        windows.extend(windows_of(&fs::read(f).unwrap()));
    }
    let set = Needles::new(windows.into_iter().map(Vec::from));
    assert!(
        set.count > 3 * sources.len(),
        "{} windows from {} files",
        set.count,
        sources.len()
    );

    // The scanner finds what is there: every source file holds its own windows.
    for f in sources.iter().step_by(7) {
        let data = fs::read(f).unwrap();
        if !windows_of(&data).is_empty() {
            assert!(
                set.find_in(&data).is_some(),
                "self-test: {} holds its own windows",
                f.display()
            );
        }
    }

    let repo_files = files_under(&w.repo()).unwrap();
    assert!(
        repo_files
            .iter()
            .any(|f| f.starts_with(w.repo().join("packs"))),
        "the backup wrote packs"
    );
    let mut scanned = 0;
    for f in &repo_files {
        let data = fs::read(f).unwrap();
        scanned += data.len();
        if let Some((at, _)) = set.find_in(&data) {
            panic!(
                "{} holds plaintext of a backed-up file at offset {at}",
                f.display()
            );
        }
    }
    let source_bytes: u64 = h.bytes();
    assert!(
        scanned as u64 > source_bytes / 4,
        "scanned {scanned} bytes of repository for {source_bytes} of source"
    );
}

/// Device names, UDIDs, Apple domains and file paths are sealed too (`docs/format.md` §13).
#[test]
fn device_identity_domains_and_paths_are_not_in_the_repository() {
    let w = World::with_repo();
    let h = backed_up(&w);
    let mut needles: Vec<Vec<u8>> = Vec::new();
    for d in &h.devices {
        needles.push(d.name.clone().into_bytes());
        needles.push(d.udid.clone().into_bytes());
        needles.push(d.udid.to_ascii_lowercase().into_bytes());
        needles.push(d.product_type.clone().into_bytes());
        let db = d.folder.join("Manifest.db");
        let uri = format!("file:{}?immutable=1", db.display());
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI;
        let conn = rusqlite::Connection::open_with_flags(uri, flags).unwrap();
        let mut q = conn.prepare("SELECT DISTINCT domain FROM Files").unwrap();
        let domains: Vec<String> = q
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(domains.iter().any(|d| d == "HomeDomain"), "{domains:?}");
        needles.extend(domains.into_iter().map(String::into_bytes));
        let mut q = conn
            .prepare("SELECT relativePath FROM Files WHERE length(relativePath) >= 12")
            .unwrap();
        let paths: Vec<String> = q
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(paths.len() > 20, "{} long paths", paths.len());
        needles.extend(paths.into_iter().map(String::into_bytes));
    }
    needles.extend([
        b"Mum's iPhone".to_vec(),
        b"HomeDomain".to_vec(),
        b"Library/SMS/sms.db".to_vec(),
    ]);
    let needles = Needles::new(needles);
    // The scanner finds what is there: the Manifest.db it read them from holds them.
    let manifest = fs::read(h.devices[0].folder.join("Manifest.db")).unwrap();
    assert!(
        needles.find_in(&manifest).is_some(),
        "self-test on Manifest.db"
    );
    for f in files_under(&w.repo()).unwrap() {
        let data = fs::read(&f).unwrap();
        if let Some((at, n)) = needles.find_in(&data) {
            panic!(
                "{} holds {:?} in the clear at offset {at}",
                f.display(),
                String::from_utf8_lossy(n)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Passwords

fn snapshot_ids(w: &World, password: &str) -> Vec<String> {
    let out = w
        .cmd(&["--json", "snapshots"])
        .env("HEARTH_PASSWORD", password)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

/// (id, current) of every key file.
fn keys(w: &World, password: &str) -> Vec<(String, bool)> {
    let out = w
        .cmd(&["--json", "key", "list"])
        .env("HEARTH_PASSWORD", password)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["id"].as_str().unwrap().to_owned(),
                k["current"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn with_password(w: &World, password: &str, args: &[&str]) -> Output {
    w.cmd(args)
        .env("HEARTH_PASSWORD", password)
        .output()
        .unwrap()
}

fn key_files(w: &World) -> usize {
    fs::read_dir(w.repo().join("keys")).unwrap().count()
}

#[test]
fn a_wrong_password_fails_clearly_with_exit_1() {
    let w = World::with_repo();
    backed_up(&w);
    let out_dir = w.path("x");
    for args in [
        &["snapshots"][..],
        &["check"],
        &[
            "restore",
            "Mum's iPhone@latest",
            "--out",
            out_dir.to_str().unwrap(),
        ],
    ] {
        let out = with_password(&w, "not the password", args);
        assert_fails_with(&out, "wrong password");
        assert!(
            out.stdout.is_empty(),
            "nothing on stdout: {}",
            describe(&out)
        );
    }
    assert!(!out_dir.exists(), "a refused restore writes nothing");
}

#[test]
fn two_passwords_open_one_repository_and_keys_can_be_removed_and_changed() {
    let w = World::with_repo();
    let h = backed_up(&w);
    let ids = snapshot_ids(&w, PASSWORD);
    assert_eq!(ids.len(), 2);

    let out = w
        .cmd(&["key", "add"])
        .env("HEARTH_NEW_PASSWORD", "second password")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        snapshot_ids(&w, "second password"),
        ids,
        "the second password opens the same repository"
    );
    let listed = keys(&w, PASSWORD);
    assert_eq!(listed.len(), 2, "{listed:?}");
    let (first, second) = (
        &listed.iter().find(|k| k.1).unwrap().0,
        &listed.iter().find(|k| !k.1).unwrap().0,
    );
    assert_eq!(
        keys(&w, "second password")
            .iter()
            .find(|k| k.1)
            .map(|k| &k.0),
        Some(second),
        "current is per password"
    );

    // The key this command opened with cannot be removed.
    assert_fails_with(
        &with_password(&w, PASSWORD, &["key", "remove", first]),
        "cannot remove the key",
    );
    assert_eq!(key_files(&w), 2);

    // The other one can (by a unique prefix); its password no longer opens the repository.
    let out = with_password(&w, PASSWORD, &["key", "remove", &second[..8]]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(keys(&w, PASSWORD), vec![(first.clone(), true)]);
    assert_fails_with(
        &with_password(&w, "second password", &["snapshots"]),
        "wrong password",
    );

    // passwd: the new password opens the repository, the old one no longer does.
    let out = w
        .cmd(&["key", "passwd"])
        .env("HEARTH_NEW_PASSWORD", "third password")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_fails_with(
        &with_password(&w, PASSWORD, &["snapshots"]),
        "wrong password",
    );
    assert_eq!(snapshot_ids(&w, "third password"), ids);
    let after = keys(&w, "third password");
    assert!(
        after.len() == 1 && after[0].1 && after[0].0 != *first,
        "{after:?}"
    );
    let restored = w.path("restored");
    let d = &h.devices[1];
    let args = [
        "restore",
        &format!("{}@latest", d.name),
        "--out",
        restored.to_str().unwrap(),
    ];
    let out = with_password(&w, "third password", &args);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        tree_digest(&restored.join(&d.udid)).unwrap(),
        tree_digest(&d.folder).unwrap()
    );
}

#[test]
fn init_on_an_existing_repository_fails_and_changes_nothing() {
    let w = World::with_repo();
    backed_up(&w);
    let before = tree_digest(&w.repo()).unwrap();
    for password in [PASSWORD, "another password"] {
        let out = with_password(&w, password, &["init"]);
        assert_fails_with(&out, "already exists");
        assert_eq!(
            tree_digest(&w.repo()).unwrap(),
            before,
            "init left the repository as it was"
        );
    }
    assert_eq!(snapshot_ids(&w, PASSWORD).len(), 2);
    assert_fails_with(
        &with_password(&w, "another password", &["snapshots"]),
        "wrong password",
    );
}

// ---------------------------------------------------------------------------------------------
// The source is read-only input

/// Every entry under `dir`, hidden ones included: kind, length, mtime and permission bits. A
/// file created and removed again (a `-wal`, `-shm`, `-journal` or lock file) changes its
/// folder's mtime, so folders are listed with theirs.
fn listing(dir: &Path) -> BTreeMap<String, (char, u64, SystemTime, u32)> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let m = fs::symlink_metadata(&d).unwrap();
        let rel = d.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
        out.insert(format!("{rel}/"), ('d', 0, m.modified().unwrap(), m.mode()));
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = fs::symlink_metadata(e.path()).unwrap();
            if m.is_dir() {
                dirs.push(e.path());
                continue;
            }
            let kind = if m.is_file() { 'f' } else { 'o' };
            let rel = e
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.insert(rel, (kind, m.len(), m.modified().unwrap(), m.mode()));
        }
    }
    out
}

fn assert_listing_unchanged(before: &BTreeMap<String, (char, u64, SystemTime, u32)>, dir: &Path) {
    let after = listing(dir);
    let added: Vec<_> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    let removed: Vec<_> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    assert!(
        added.is_empty() && removed.is_empty(),
        "files added {added:?}, removed {removed:?}"
    );
    for (k, v) in before {
        assert_eq!(&after[k], v, "{k}: kind, length, mtime and mode unchanged");
    }
}

#[test]
fn a_backup_leaves_the_source_folder_exactly_as_it_was() {
    let w = World::with_repo();
    let h = generate(&HouseholdSpec::tiny(), &w.path("Backup")).unwrap();
    let (digest, before) = (tree_digest(&h.root).unwrap(), listing(&h.root));
    assert!(
        before.keys().any(|k| k.ends_with("Manifest.db")),
        "the listing sees Manifest.db"
    );
    w.json(&["backup", h.root.to_str().unwrap()], 0);
    // A second, incremental backup opens Manifest.db again and stats every blob.
    w.json(&["backup", h.root.to_str().unwrap()], 0);
    assert_eq!(
        tree_digest(&h.root).unwrap(),
        digest,
        "same files, same bytes"
    );
    assert_listing_unchanged(&before, &h.root);
    let junk: Vec<_> = listing(&h.root)
        .into_keys()
        .filter(|k| {
            ["-wal", "-shm", "-journal", ".lock"]
                .iter()
                .any(|s| k.ends_with(s))
        })
        .collect();
    assert!(junk.is_empty(), "{junk:?}");
}

fn chmod_tree(dir: &Path, f: impl Fn(u32) -> u32 + Copy) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if fs::symlink_metadata(&p).unwrap().is_dir() {
            chmod_tree(&p, f);
        }
        let mode = fs::metadata(&p).unwrap().permissions().mode();
        fs::set_permissions(&p, fs::Permissions::from_mode(f(mode))).unwrap();
    }
    let mode = fs::metadata(dir).unwrap().permissions().mode();
    fs::set_permissions(dir, fs::Permissions::from_mode(f(mode))).unwrap();
}

fn chown_tree(dir: &Path, uid: u32) {
    std::os::unix::fs::lchown(dir, Some(uid), Some(uid)).unwrap();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if fs::symlink_metadata(&p).unwrap().is_dir() {
            chown_tree(&p, uid);
        } else {
            std::os::unix::fs::lchown(&p, Some(uid), Some(uid)).unwrap();
        }
    }
}

/// `chmod -R a-w` on the source, then back it up. The tests run as root here, and root ignores
/// permission bits, so the first run alone would prove little; as root the backup is also run
/// as `nobody` (uid 65534), for whom the bits are enforced (checked by failing to `touch` a
/// file in the folder). As another user the first run already enforces them.
#[test]
fn a_read_only_source_folder_backs_up() {
    use std::os::unix::process::CommandExt;
    let w = World::with_repo();
    let h = generate(&HouseholdSpec::tiny(), &w.path("Backup")).unwrap();
    let digest = tree_digest(&h.root).unwrap();
    chmod_tree(&h.root, |m| m & !0o222);
    let before = listing(&h.root);
    let src = h.root.to_str().unwrap();

    let report = w.json(&["backup", src], 0);
    assert_eq!(report["snapshots"].as_array().unwrap().len(), 2, "{report}");

    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        const NOBODY: u32 = 65534;
        let probe = h.devices[0].folder.join("probe");
        let touch = std::process::Command::new("touch")
            .arg(&probe)
            .uid(NOBODY)
            .gid(NOBODY)
            .output()
            .unwrap();
        assert!(
            !touch.status.success() && !probe.exists(),
            "nobody cannot write the read-only folder"
        );
        // nobody needs to reach the world's folder and to own the repository and the cache.
        fs::set_permissions(w.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        chown_tree(&w.repo(), NOBODY);
        chown_tree(&w.path("cache"), NOBODY);
        let out = w
            .cmd(&["--json", "backup", "--force", src])
            .uid(NOBODY)
            .gid(NOBODY)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "backup as nobody:\n{}",
            describe(&out)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for s in v["snapshots"].as_array().unwrap() {
            assert_eq!(
                s["files_unmodified"], 0,
                "--force read every file as nobody: {s}"
            );
        }
    } else {
        eprintln!("not root: permission bits were enforced for the backup above");
    }

    assert_listing_unchanged(&before, &h.root);
    for d in &h.devices {
        let out = w.path(&format!("restored-{}", d.udid));
        w.ok(&[
            "restore",
            &format!("{}@latest", d.udid),
            "--out",
            out.to_str().unwrap(),
        ]);
        let want: BTreeMap<_, _> = digest
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    k.strip_prefix(&format!("{}/", d.udid))?.to_owned(),
                    v.clone(),
                ))
            })
            .collect();
        assert_eq!(
            tree_digest(&out.join(&d.udid)).unwrap(),
            want,
            "{} restores byte-exact",
            d.name
        );
    }
    chmod_tree(&h.root, |m| m | 0o200);
}

// ---------------------------------------------------------------------------------------------
// Format version

#[test]
fn a_repository_of_a_newer_format_version_is_refused() {
    let w = World::with_repo();
    let h = backed_up(&w);
    let config = w.repo().join("config");
    let mut bytes = fs::read(&config).unwrap();
    assert_eq!(
        &bytes[..6],
        b"HRTH\x43\x02",
        "config header: magic, kind C, layout 2 (the content keys, docs/format.md §6)"
    );
    bytes[5] = 9;
    fs::write(&config, &bytes).unwrap();
    let before = tree_digest(&w.repo()).unwrap();
    let src = h.root.to_str().unwrap();
    for args in [
        &["snapshots"][..],
        &["check"],
        &["backup", src],
        &["key", "add"],
    ] {
        let out = w
            .cmd(args)
            .env("HEARTH_NEW_PASSWORD", "x")
            .output()
            .unwrap();
        assert_fails_with(
            &out,
            "repository format version 9 is newer than this Hearth supports",
        );
        assert!(
            stderr(&out).contains("upgrade Hearth"),
            "{}",
            describe(&out)
        );
    }
    assert_eq!(
        tree_digest(&w.repo()).unwrap(),
        before,
        "nothing was written to the newer repository"
    );
}

// ---------------------------------------------------------------------------------------------
// The local cache

fn assert_restores_byte_exact(w: &World, h: &Household, tag: &str) {
    for d in &h.devices {
        let out = w.path(&format!("restored-{tag}-{}", d.udid));
        w.ok(&[
            "restore",
            &format!("{}@latest", d.name),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(
            tree_digest(&out.join(&d.udid)).unwrap(),
            tree_digest(&d.folder).unwrap(),
            "{} restores byte-exact ({tag})",
            d.name
        );
    }
}

/// The cache database: `<cache>/<repository id>/index.redb`.
fn cache_file(w: &World) -> PathBuf {
    let found: Vec<_> = files_under(&w.path("cache"))
        .unwrap()
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "redb"))
        .collect();
    assert_eq!(found.len(), 1, "one cache database: {found:?}");
    found[0].clone()
}

#[test]
fn repair_index_rebuilds_a_deleted_cache() {
    let w = World::with_repo();
    let h = backed_up(&w);
    let ids = snapshot_ids(&w, PASSWORD);
    fs::remove_dir_all(w.path("cache")).unwrap();
    let out = w.ok(&["repair", "index"]);
    assert!(
        out.contains("rebuilt the index cache") && out.contains("2 snapshots"),
        "{out}"
    );
    assert!(cache_file(&w).is_file());
    assert_eq!(snapshot_ids(&w, PASSWORD), ids);
    assert_restores_byte_exact(&w, &h, "repaired");
    assert_eq!(w.json(&["check", "--read-data"], 0)["ok"], true);
}

#[test]
fn a_corrupt_cache_is_rebuilt_by_the_next_command() {
    let w = World::with_repo();
    let h = backed_up(&w);
    let ids = snapshot_ids(&w, PASSWORD);
    let cache = cache_file(&w);
    let len = fs::metadata(&cache).unwrap().len() as usize;
    let garbage = hearth_testkit::bytes::mapped(1, len.max(4096), |x| x as u8);
    fs::write(&cache, &garbage).unwrap();
    assert_eq!(
        snapshot_ids(&w, PASSWORD),
        ids,
        "the next command rebuilds the cache and lists the same"
    );
    assert_ne!(
        fs::read(&cache).unwrap(),
        garbage,
        "the garbage was replaced"
    );
    assert_restores_byte_exact(&w, &h, "rebuilt");
}
