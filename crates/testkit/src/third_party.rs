//! Independent readers of backups, which nobody on this project wrote. The PyPI package
//! iphone-backup-decrypt, run through `tests/python/verify_encrypted.py`, opens an encrypted
//! device folder with its password and checks that every file decrypts to exactly the bytes of
//! a plaintext folder of the same content (the device's twin). A folder may hold fewer rows
//! than its twin (a restore image for another kind of device): [`assert_verified_exactly`] then
//! says which file rows the reader must have found. The PyPI package pyiosbackup, run through
//! `tests/python/verify_decrypted.py` ([`verify_decrypted`]), opens an unencrypted folder (a
//! `restore --decrypted` image) by its Manifest.db and reads every file, which must be the
//! plaintext iphone-backup-decrypt gets from the encrypted original.
//!
//! The interpreter comes from `HEARTH_PYTHON` (set by `.ci/run` and `scripts/test`, both through
//! `scripts/python-env`), else from the venv `scripts/python-env` makes. Without one, [`python`]
//! panics, unless `HEARTH_ALLOW_MISSING_PYTHON=1` outside CI, which skips loudly.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use hearth_mobilesync::{MANIFEST_DB, ManifestDb};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python that has iphone-backup-decrypt and pyiosbackup, or `None` when it may be skipped (see module docs).
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

/// What `verify_decrypted.py` said of an unencrypted image: what pyiosbackup read in it, and how
/// that compares with the plaintext iphone-backup-decrypt gets from the encrypted original.
pub struct DecryptedVerdict {
    pub success: bool,
    /// `pyiosbackup <version>`.
    pub reader: String,
    /// fileID → (domain, relative path, Size, SHA-256 hex of the bytes pyiosbackup read).
    pub files: BTreeMap<String, (String, String, u64, String)>,
    /// How many file rows of the original iphone-backup-decrypt decrypted, when given one.
    pub truth_files: Option<u64>,
    /// File rows of the original the image lacks, and files of the image the original lacks.
    pub missing_from_image: Vec<String>,
    pub not_in_original: Vec<String>,
    pub problems: Vec<String>,
    pub stderr: String,
}

impl std::fmt::Display for DecryptedVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "success {}, {} read {} files (original: {:?}), missing from the image {:?}, not in the original {:?}, problems {:#?}",
            self.success,
            self.reader,
            self.files.len(),
            self.truth_files,
            self.missing_from_image,
            self.not_in_original,
            self.problems
        )?;
        write!(f, "--- stderr\n{}", self.stderr)
    }
}

/// Runs `tests/python/verify_decrypted.py` on `image`, an unencrypted device folder, and with
/// `original` (an encrypted device folder and its password) compares every file with its
/// plaintext there.
pub fn verify_decrypted(
    python: &Path,
    image: &Path,
    original: Option<(&Path, &str)>,
) -> DecryptedVerdict {
    let script = repo().join("tests/python/verify_decrypted.py");
    let mut cmd = Command::new(python);
    cmd.arg(script).arg(image);
    if let Some((folder, password)) = original {
        cmd.arg(folder).arg(password);
    }
    let out = cmd.output().expect("the Python interpreter runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let v: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not one line of JSON ({e}): {stdout}\n--- stderr\n{stderr}"));
    let strings = |key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    let files = v["files"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(id, f)| {
            let text = |k: &str| f[k].as_str().unwrap().to_owned();
            let size = f["size"].as_u64().unwrap();
            (
                id.clone(),
                (text("domain"), text("relative_path"), size, text("sha256")),
            )
        })
        .collect();
    DecryptedVerdict {
        success: out.status.success(),
        reader: v["reader"].as_str().unwrap().to_owned(),
        files,
        truth_files: v["truth_files"].as_u64(),
        missing_from_image: strings("missing_from_image"),
        not_in_original: strings("not_in_original"),
        problems: strings("problems"),
        stderr,
    }
}
