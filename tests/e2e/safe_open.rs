//! Issue 11, "safe advice, safe init", end to end on local repositories made by the real
//! `hearth` binary and then damaged: `init` refuses a location that holds any repository object
//! and changes nothing there; a missing or damaged `config` or key file is reported as what it
//! is ("config is missing, but ...", "keys/ is empty", "wrong password: none of its N key
//! files ...", naming damaged key files, "config does not decrypt with any key"); and only an
//! empty or absent location is told to run `hearth init`. After each refusal, putting the
//! damaged object back makes the repository whole again, byte for byte.
//! (`init` on S3 is in `tests/s3.rs`.)

use crate::common;
use crate::handmade;

use common::{PASSWORD, World, describe, is_object_name, s};
use hearth_testkit::{FileDigest, tree_digest};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

const UDID: &str = "5AFE00005AFE00005AFE00005AFE00005AFE0000";

/// The folders of the repository layout that hold objects (`docs/format.md` §2).
const FOLDERS: [&str; 7] = [
    "keys",
    "packs",
    "index",
    "snapshots",
    "locks",
    "devicekeys",
    "pins",
];

/// A repository made by the binary, with one snapshot of a small hand-made device.
fn backed_up() -> World {
    let w = World::with_repo();
    handmade::good_device(&w.path("Backup"), UDID);
    w.ok(&["backup", s(&w.path("Backup"))]);
    w
}

fn digest(dir: &Path) -> BTreeMap<String, FileDigest> {
    tree_digest(dir).unwrap_or_else(|e| panic!("digest of {}: {e}", dir.display()))
}

/// Runs `args` with `password`; asserts exit 1 and nothing on stdout; returns stderr.
fn fails(w: &World, password: &str, args: &[&str]) -> String {
    let out: Output = w
        .cmd(args)
        .env("HEARTH_PASSWORD", password)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {}", describe(&out));
    assert!(out.stdout.is_empty(), "{args:?}: {}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Commands that open the repository, each of which must give the same diagnosis.
fn opening_commands(w: &World) -> Vec<Vec<String>> {
    let out = s(&w.path("restored")).to_owned();
    [
        vec!["snapshots"],
        vec!["check"],
        vec!["key", "list"],
        vec!["restore", "Good iPhone@latest", "--out", &out],
    ]
    .into_iter()
    .map(|a| a.into_iter().map(String::from).collect())
    .collect()
}

/// Every command of [`opening_commands`] fails (exit 1) with `password`, saying each of `says`
/// and never advising `hearth init`; nothing is restored.
fn every_command_says(w: &World, password: &str, says: &[&str]) {
    for args in opening_commands(w) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let err = fails(w, password, &args);
        for what in says {
            assert!(err.contains(what), "{args:?} says {what:?}:\n{err}");
        }
        assert!(
            !err.contains("hearth init"),
            "{args:?} must not advise `hearth init` on a repository:\n{err}"
        );
    }
    assert!(!w.path("restored").exists(), "nothing restored");
}

/// The restore of the device is byte for byte its folder.
fn assert_restores(w: &World, out: &str) {
    let dir = w.path(out);
    w.ok(&["restore", "Good iPhone@latest", "--out", s(&dir)]);
    assert_eq!(
        digest(&dir.join(UDID)),
        digest(&w.path("Backup").join(UDID))
    );
}

/// The object files of one folder of a local repository (`packs/<pp>/<id>` included).
fn objects_in(repo: &Path, folder: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![repo.join(folder)];
    while let Some(d) = dirs.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type().unwrap().is_dir() {
                dirs.push(e.path());
            } else if is_object_name(&name) {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// `keys/ 1, packs/ 2, ...` as the messages count them, from the folder itself.
fn breakdown(repo: &Path) -> (usize, String) {
    let counted: Vec<(&str, usize)> = FOLDERS
        .iter()
        .map(|f| (*f, objects_in(repo, f).len()))
        .filter(|(_, n)| *n > 0)
        .collect();
    let total = counted.iter().map(|(_, n)| n).sum();
    let parts: Vec<String> = counted.iter().map(|(f, n)| format!("{f}/ {n}")).collect();
    (total, parts.join(", "))
}

fn key_files(w: &World) -> Vec<PathBuf> {
    objects_in(&w.repo(), "keys")
}

fn with_new_password(w: &World, new: &str, args: &[&str]) -> Output {
    w.cmd(args)
        .env("HEARTH_NEW_PASSWORD", new)
        .output()
        .unwrap()
}

#[test]
fn init_refuses_a_location_that_holds_any_repository_object_and_changes_nothing() {
    for folder in FOLDERS {
        let w = World::new();
        let name = "ab".repeat(32);
        let object = match folder {
            "packs" => w.repo().join("packs/ab").join(&name),
            f => w.repo().join(f).join(&name),
        };
        fs::create_dir_all(object.parent().unwrap()).unwrap();
        fs::write(&object, b"an object of a repository whose config is gone").unwrap();
        let before = digest(&w.repo());
        let entries_before = fs::read_dir(w.repo()).unwrap().count();

        let err = fails(&w, PASSWORD, &["init"]);
        assert!(
            err.contains(&format!(
                "{}: refusing to create a repository here: config is missing, but {folder}/ holds 1 object",
                w.repo().display()
            )),
            "{folder}:\n{err}"
        );
        assert!(
            err.contains("damaged repository, not an empty one")
                && err.contains("copy `config` back"),
            "{folder}: says what it is and what to do:\n{err}"
        );
        assert_eq!(digest(&w.repo()), before, "{folder}: nothing written");
        assert_eq!(
            fs::read_dir(w.repo()).unwrap().count(),
            entries_before,
            "{folder}: no folder made"
        );
    }
}

#[test]
fn init_over_a_repository_whose_config_is_gone_is_refused_and_config_back_makes_it_whole() {
    let w = backed_up();
    let config = fs::read(w.repo().join("config")).unwrap();
    fs::remove_file(w.repo().join("config")).unwrap();
    let before = digest(&w.repo());
    let (total, parts) = breakdown(&w.repo());
    assert!(parts.starts_with("keys/ 1, packs/"), "{parts}");

    for password in [PASSWORD, "a new password"] {
        let err = fails(&w, password, &["init"]);
        assert!(err.contains("refusing to create a repository"), "{err}");
        assert!(err.contains(&format!("{total} objects ({parts})")), "{err}");
        assert_eq!(digest(&w.repo()), before, "init wrote nothing");
    }

    fs::write(w.repo().join("config"), config).unwrap();
    assert_restores(&w, "restored-after");
    assert_eq!(key_files(&w).len(), 1, "no key was added");
}

/// A location that is a repository with config present: `init` says so (the old message).
#[test]
fn init_over_a_whole_repository_says_it_exists() {
    let w = backed_up();
    let before = digest(&w.repo());
    let err = fails(&w, PASSWORD, &["init"]);
    assert!(
        err.contains(&format!(
            "{}: a repository already exists here",
            w.repo().display()
        )),
        "{err}"
    );
    assert_eq!(digest(&w.repo()), before);
}

/// Temporary files of a killed writer and macOS junk are not objects: such a folder is empty.
#[test]
fn a_folder_with_only_junk_and_temporary_files_is_empty() {
    let w = World::new();
    fs::create_dir_all(w.repo().join("packs/ab")).unwrap();
    fs::create_dir_all(w.repo().join("keys")).unwrap();
    fs::write(w.repo().join("packs/ab/.tmp-123"), b"partial").unwrap();
    fs::write(w.repo().join("keys/.DS_Store"), b"junk").unwrap();
    let err = fails(&w, PASSWORD, &["snapshots"]);
    assert!(
        err.contains("no repository here") && err.contains("Create one with `hearth init`"),
        "{err}"
    );
    w.ok(&["init"]);
    w.ok(&["snapshots"]);
}

#[test]
fn a_missing_config_is_a_damaged_repository_not_an_empty_one() {
    let w = backed_up();
    let config = fs::read(w.repo().join("config")).unwrap();
    fs::remove_file(w.repo().join("config")).unwrap();
    let (total, parts) = breakdown(&w.repo());
    // The folders that hold objects are named, as counted here from the folder itself.
    let folders: Vec<String> = FOLDERS
        .iter()
        .filter(|f| !objects_in(&w.repo(), f).is_empty())
        .map(|f| format!("{f}/"))
        .collect();
    let (last, first) = folders.split_last().unwrap();
    assert!(
        first.len() >= 3,
        "keys, packs, index, snapshots: {folders:?}"
    );
    let says = format!(
        "{}: config is missing, but {} and {last} hold {total} objects ({parts}): this is a damaged repository, not an empty one",
        w.repo().display(),
        first.join(", ")
    );
    every_command_says(&w, PASSWORD, &[&says, "copy `config` back from a copy"]);

    fs::write(w.repo().join("config"), config).unwrap();
    assert_restores(&w, "restored-after");
}

#[test]
fn only_an_empty_or_absent_location_is_told_to_run_init() {
    let w = World::new();
    for state in ["absent", "empty"] {
        if state == "empty" {
            fs::create_dir_all(w.repo()).unwrap();
        }
        let err = fails(&w, PASSWORD, &["snapshots"]);
        assert!(
            err.contains(&format!(
                "{}: no repository here (the location is empty or does not exist). Create one with `hearth init`",
                w.repo().display()
            )),
            "{state}:\n{err}"
        );
    }
}

#[test]
fn an_empty_keys_folder_says_no_password_can_open_it() {
    let w = backed_up();
    let keys: Vec<(PathBuf, Vec<u8>)> = key_files(&w)
        .into_iter()
        .map(|p| {
            let b = fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    for (p, _) in &keys {
        fs::remove_file(p).unwrap();
    }
    every_command_says(
        &w,
        PASSWORD,
        &[
            "keys/ is empty: no password can open this repository",
            "Copy the key files (keys/) back",
        ],
    );
    let err = fails(&w, PASSWORD, &["snapshots"]);
    assert!(!err.contains("wrong password"), "{err}");

    for (p, b) in keys {
        fs::write(p, b).unwrap();
    }
    assert_restores(&w, "restored-after");
}

#[test]
fn a_wrong_password_counts_the_key_files_and_names_the_damaged_ones() {
    let w = backed_up();
    let out = with_new_password(&w, "second password", &["key", "add"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let keys = key_files(&w);
    assert_eq!(keys.len(), 2);
    every_command_says(
        &w,
        "not the password",
        &[
            "wrong password for the repository at",
            "none of its 2 key files opens with it",
        ],
    );
    let err = fails(&w, "not the password", &["snapshots"]);
    assert!(
        !err.contains("cannot be read"),
        "no key file is named as damaged yet:\n{err}"
    );

    // One key file loses its header: it is named, and the other password still opens.
    let listed = w.json(&["key", "list"], 0);
    let name = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["current"] == false)
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .expect("the second password's key");
    let second = w.repo().join("keys").join(&name);
    let original = fs::read(&second).unwrap();
    let mut garbled = original.clone();
    garbled[..4].copy_from_slice(b"XXXX");
    fs::write(&second, &garbled).unwrap();
    every_command_says(
        &w,
        "second password",
        &[
            "none of its 2 key files opens with it; one of them is damaged and cannot be read",
            &format!("keys/{name}: not a Hearth key file"),
        ],
    );
    w.ok(&["snapshots"]);

    // `key list` shows it as damaged, and `key remove` removes it.
    let list = w.ok(&["key", "list"]);
    assert!(
        list.contains(&format!("{}  DAMAGED: not a Hearth key file", &name[..8])),
        "{list}"
    );
    let listed = w.json(&["key", "list"], 0);
    let damaged: Vec<&str> = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["damaged"].is_string())
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(damaged, [name.as_str()], "{listed:#}");
    w.ok(&["key", "remove", &name[..8]]);
    assert_eq!(key_files(&w).len(), 1);
    assert_restores(&w, "restored-after");
}

/// A flipped byte in a key file's seal looks exactly like a wrong password: the message says
/// what to do if the password is right.
#[test]
fn a_key_file_with_a_flipped_seal_is_a_wrong_password_with_advice() {
    let w = backed_up();
    let key = key_files(&w).remove(0);
    let original = fs::read(&key).unwrap();
    let mut flipped = original.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    fs::write(&key, &flipped).unwrap();
    every_command_says(
        &w,
        PASSWORD,
        &[
            "wrong password for the repository at",
            "none of its 1 key file opens with it. If the password is right, the key files are damaged",
            "copy them (keys/) back from a copy of this repository",
        ],
    );
    fs::write(&key, original).unwrap();
    assert_restores(&w, "restored-after");
}

#[test]
fn key_files_that_are_all_damaged_are_named_and_no_password_is_blamed() {
    let w = backed_up();
    let key = key_files(&w).remove(0);
    let name = key.file_name().unwrap().to_str().unwrap().to_owned();
    let original = fs::read(&key).unwrap();
    fs::write(&key, &original[..10]).unwrap();
    every_command_says(
        &w,
        PASSWORD,
        &[
            &format!("keys/ holds 1 key file, and none can be read (keys/{name}: "),
            "no password can open this repository",
        ],
    );
    let err = fails(&w, PASSWORD, &["snapshots"]);
    assert!(!err.contains("wrong password"), "{err}");
    fs::write(&key, original).unwrap();
    assert_restores(&w, "restored-after");
}

#[test]
fn a_config_from_another_repository_or_flipped_does_not_decrypt_with_any_key() {
    let w = backed_up();
    // Another repository with the same password.
    let other = World::with_repo();
    let foreign = fs::read(other.repo().join("config")).unwrap();
    let config = w.repo().join("config");
    let original = fs::read(&config).unwrap();

    let mut flipped = original.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    for (what, bytes) in [("another repository's", foreign), ("flipped", flipped)] {
        fs::write(&config, &bytes).unwrap();
        let says = format!(
            "{}: config does not decrypt with any key (damaged, or from another repository): the password opens 1 key file",
            w.repo().display()
        );
        for args in opening_commands(&w) {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let err = fails(&w, PASSWORD, &args);
            assert!(err.contains(&says), "{what} config, {args:?}:\n{err}");
            assert!(!err.contains("wrong password"), "{err}");
            assert!(!err.contains("hearth init"), "{err}");
        }
    }

    // A config that is not a Hearth config at all.
    fs::write(&config, b"nothing like a config").unwrap();
    let err = fails(&w, PASSWORD, &["snapshots"]);
    assert!(
        err.contains(&format!(
            "{}/config is damaged: not a Hearth config (bad magic or kind)",
            w.repo().display()
        )),
        "{err}"
    );
    fs::write(&config, original).unwrap();
    assert_restores(&w, "restored-after");
}
