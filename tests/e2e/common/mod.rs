//! Shared set-up for the end-to-end tests: a scratch folder with a repository, a cache and the
//! `hearth` binary run as a real process.
#![allow(dead_code)]

pub mod dashboard;
pub mod http;
pub mod ios_databases;
pub mod procs;
pub mod recorder;
pub mod served;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A path as the `&str` the command line takes.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A JSON number that must be an unsigned integer.
pub fn u(v: &serde_json::Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("not an unsigned integer: {v}"))
}

pub const PASSWORD: &str = "correct horse battery staple";

/// A scratch world: `<tmp>/repo`, `<tmp>/cache`, and whatever the test puts beside them.
pub struct World {
    pub dir: tempfile::TempDir,
}

impl World {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A world with an initialised repository.
    pub fn with_repo() -> Self {
        let w = Self::new();
        w.ok(&["init"]);
        w
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn repo(&self) -> PathBuf {
        self.path("repo")
    }

    /// `hearth ARGS` with this world's repository, cache and password.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_hearth"));
        c.args(args)
            .env("HEARTH_REPO", self.repo())
            .env("HEARTH_CACHE_DIR", self.path("cache"))
            .env("HEARTH_PASSWORD", PASSWORD)
            // Tests need many repository opens; production keys use 64 MiB.
            .env("HEARTH_KDF_MEMORY_KIB", "1024")
            .env_remove("HEARTH_PASSWORD_FILE")
            .env_remove("HEARTH_IOS_PASSWORD")
            .env_remove("HEARTH_NEW_PASSWORD")
            // Never the config file of whoever runs the tests.
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env_remove("HEARTH_CONFIG")
            .env_remove("HEARTH_IOS_PASSWORD_FILE")
            .env_remove("HEARTH_LOCK_WAIT")
            .stdin(std::process::Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("hearth runs")
    }

    /// Runs and asserts exit status 0; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "hearth {args:?} failed:\n{}",
            describe(&out)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// `hearth restore UDID@latest --out <world>/<out>` (asserting exit 0); the device folder
    /// written.
    pub fn restore_latest(&self, udid: &str, out: &str) -> PathBuf {
        self.ok(&[
            "restore",
            &format!("{udid}@latest"),
            "--out",
            s(&self.path(out)),
        ]);
        self.path(out).join(udid)
    }

    /// Runs with `--json`, asserts `status`, parses stdout.
    pub fn json(&self, args: &[&str], status: i32) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert_eq!(
            out.status.code(),
            Some(status),
            "hearth {all:?}:\n{}",
            describe(&out)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("stdout is not one JSON document ({e}):\n{}", describe(&out))
        })
    }
}

pub fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The real backup in `shared/fixtures/mvt-ios-backup/ios_backup`. Missing fixtures fail the
/// test, unless HEARTH_ALLOW_MISSING_FIXTURES=1, which skips it loudly (returns None).
pub fn mvt_fixture() -> Option<PathBuf> {
    fixture("mvt-ios-backup/ios_backup")
}

/// The encrypted backup in `shared/fixtures/pyiosbackup-encrypted/backup` (password `0000`;
/// its Info.plist and Status.plist are empty dictionaries), as [`mvt_fixture`].
pub fn pyiosbackup_fixture() -> Option<PathBuf> {
    fixture("pyiosbackup-encrypted/backup")
}

/// `shared/fixtures/<rel>`, a device folder, as [`mvt_fixture`] says.
fn fixture(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures")
        .join(rel);
    if p.join("Manifest.db").is_file() {
        return Some(p);
    }
    if std::env::var("HEARTH_ALLOW_MISSING_FIXTURES").as_deref() == Ok("1") {
        eprintln!(
            "SKIPPED: fixture missing at {} (HEARTH_ALLOW_MISSING_FIXTURES=1)",
            p.display()
        );
        return None;
    }
    panic!(
        "the fixture {} is required (clone the project with ../shared beside it); set HEARTH_ALLOW_MISSING_FIXTURES=1 to skip loudly",
        p.display()
    );
}

/// A repository object's name: 64 hex digits (not a `.tmp-*` file of a killed writer).
pub fn is_object_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The packs of a local repository (`packs/<pp>/<id>`) and how many `.tmp-*` files (packs being
/// written, or left by a killed writer) are in `packs/` and its subfolders.
pub fn pack_files(repo: &Path) -> (Vec<String>, usize) {
    let (mut packs, mut tmp) = (Vec::new(), 0);
    let root = repo.join("packs");
    let mut is_tmp = |n: &str| {
        let t = n.starts_with(".tmp-");
        tmp += usize::from(t);
        t
    };
    for sub in names(&root) {
        if is_tmp(&sub) {
            continue;
        }
        for n in names(&root.join(&sub)) {
            if !is_tmp(&n) && is_object_name(&n) {
                packs.push(n);
            }
        }
    }
    (packs, tmp)
}

/// The entries of a folder, none when it does not exist.
pub fn names(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Every file under `dir`, with its path relative to it, sorted.
pub fn files(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.push((rel, p));
            }
        }
    }
    out.sort();
    out
}

/// Every file under `dir` with its bytes, by path relative to it.
pub fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    (files(dir).into_iter())
        .map(|(rel, path)| (rel, std::fs::read(path).unwrap()))
        .collect()
}
