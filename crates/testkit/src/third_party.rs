//! An independent reader of encrypted backups: the PyPI package iphone-backup-decrypt, which
//! nobody on this project wrote, run through `tests/python/verify_encrypted.py`. It opens an
//! encrypted device folder with its password and checks that every file decrypts to exactly the
//! bytes of a plaintext folder of the same content (the device's twin). A folder may hold fewer
//! rows than its twin (a restore image for another kind of device):
//! [`assert_verified_exactly`] then says which file rows the reader must have found.
//!
//! The interpreter comes from `HEARTH_PYTHON` (set by `.ci/run` and `scripts/test`, both through
//! `scripts/python-env`), else from the venv `scripts/python-env` makes. Without one, [`python`]
//! panics, unless `HEARTH_ALLOW_MISSING_PYTHON=1` outside CI, which skips loudly.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use hearth_mobilesync::{MANIFEST_DB, ManifestDb};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python that has iphone-backup-decrypt, or `None` when it may be skipped (see module docs).
pub fn python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HEARTH_PYTHON").filter(|p| !p.is_empty()) {
        return Some(p.into());
    }
    let venv = std::env::var_os("HEARTH_PY_VENV")
        .map_or_else(|| repo().join("target/python-venv"), PathBuf::from);
    if venv.join("bin/python").is_file() {
        return Some(venv.join("bin/python"));
    }
    let in_ci = std::env::var_os("CI").is_some();
    if !in_ci && std::env::var("HEARTH_ALLOW_MISSING_PYTHON").as_deref() == Ok("1") {
        eprintln!(
            "\n*** SKIPPED: no Python with iphone-backup-decrypt (HEARTH_ALLOW_MISSING_PYTHON=1) ***\n"
        );
        return None;
    }
    panic!(
        "HEARTH_PYTHON is not set and {} has no venv: run `export HEARTH_PYTHON=\"$(scripts/python-env)\"` \
         (scripts/test and .ci/run do), or set HEARTH_ALLOW_MISSING_PYTHON=1 to skip loudly (not in CI)",
        venv.display()
    );
}

/// What `verify_encrypted.py` said.
pub struct Verdict {
    pub success: bool,
    pub files_checked: u64,
    pub mismatches: Vec<serde_json::Value>,
    /// The fileIDs of the file rows (flags = 1) the reader found in the folder's Manifest.db
    /// and checked, sorted.
    pub checked_file_ids: Vec<String>,
    pub stderr: String,
}

pub fn verify(python: &Path, device: &Path, password: &str, plaintext: &Path) -> Verdict {
    let script = repo().join("tests/python/verify_encrypted.py");
    let out = Command::new(python)
        .arg(script)
        .arg("--list-ids")
        .arg(device)
        .arg(password)
        .arg(plaintext)
        .output()
        .expect("the Python interpreter runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let summary: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not one line of JSON ({e}): {stdout}\n--- stderr\n{stderr}"));
    Verdict {
        success: out.status.success(),
        files_checked: summary["files_checked"].as_u64().unwrap(),
        mismatches: summary["mismatches"].as_array().unwrap().clone(),
        checked_file_ids: summary["checked_file_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().to_owned())
            .collect(),
        stderr,
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (ok, n) = (self.success, self.files_checked);
        writeln!(
            f,
            "success {ok}, {n} files checked, mismatches {:#?}",
            self.mismatches
        )?;
        write!(f, "--- stderr\n{}", self.stderr)
    }
}

/// File rows (flags = 1) of a plaintext twin's Manifest.db: the encrypted device's rows.
pub fn file_rows(twin: &Path) -> u64 {
    let db = ManifestDb::open(&twin.join(MANIFEST_DB)).unwrap();
    db.rows().unwrap().iter().filter(|r| r.flags == 1).count() as u64
}

/// Panics unless every file row of `device` decrypts to the twin's bytes.
pub fn assert_verified(python: &Path, device: &Path, password: &str, twin: &Path) {
    let v = verify(python, device, password, twin);
    assert!(v.success && v.mismatches.is_empty(), "{v}");
    assert_eq!(v.files_checked, file_rows(twin), "{v}");
}

/// Panics unless the file rows of `device` are exactly `file_ids` (the fileIDs of the file rows
/// it should hold, e.g. the kept rows of a restore image) and every one decrypts to the bytes of
/// the blob with the same fileID in `twin`, which may hold more.
pub fn assert_verified_exactly(
    python: &Path,
    device: &Path,
    password: &str,
    twin: &Path,
    file_ids: &BTreeSet<String>,
) {
    let v = verify(python, device, password, twin);
    assert!(v.success && v.mismatches.is_empty(), "{v}");
    let found: BTreeSet<String> = v.checked_file_ids.iter().cloned().collect();
    let missing: Vec<&String> = file_ids.difference(&found).collect();
    let extra: Vec<&String> = found.difference(file_ids).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the reader found {} file rows; missing {missing:?}, not expected {extra:?}\n{v}",
        found.len()
    );
    assert_eq!(v.files_checked, file_ids.len() as u64, "{v}");
}
