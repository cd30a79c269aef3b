//! An independent check of the encrypted backups the kit writes: the PyPI package
//! iphone-backup-decrypt, which nobody on this project wrote, must open an encrypted device with
//! its password and decrypt every file to exactly the bytes of the device's plaintext twin
//! (`tests/python/verify_encrypted.py` does the comparison).
//!
//! The interpreter comes from `HEARTH_PYTHON` (set by `.ci/run` and `scripts/test`, both through
//! `scripts/python-env`), else from the venv `scripts/python-env` makes. Without one the tests
//! fail, unless `HEARTH_ALLOW_MISSING_PYTHON=1` outside CI, which skips them loudly.

use std::path::{Path, PathBuf};
use std::process::Command;

use hearth_mobilesync::{MANIFEST_DB, ManifestDb};
use hearth_testkit::{
    DayOptions, DeviceSpec, EncryptionSpec, Household, HouseholdSpec, KdfCost, damage,
    generate_with_twin, next_day,
};

const PASSWORD: &str = "pässwörd with spaces";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python that has iphone-backup-decrypt, or `None` when it may be skipped (see module docs).
fn python() -> Option<PathBuf> {
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
struct Verdict {
    success: bool,
    files_checked: u64,
    mismatches: Vec<serde_json::Value>,
    stderr: String,
}

fn verify(python: &Path, device: &Path, password: &str, plaintext: &Path) -> Verdict {
    let script = repo().join("tests/python/verify_encrypted.py");
    let out = Command::new(python)
        .arg(script)
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
fn file_rows(twin: &Path) -> u64 {
    let db = ManifestDb::open(&twin.join(MANIFEST_DB)).unwrap();
    db.rows().unwrap().iter().filter(|r| r.flags == 1).count() as u64
}

fn assert_verified(python: &Path, device: &Path, password: &str, twin: &Path) {
    let v = verify(python, device, password, twin);
    assert!(v.success && v.mismatches.is_empty(), "{v}");
    assert_eq!(v.files_checked, file_rows(twin), "{v}");
}

/// The mixed household (encrypted iPhone, plain iPad) and its twin, in two folders.
fn household_and_twin() -> (tempfile::TempDir, Household, Household) {
    let dir = tempfile::tempdir().unwrap();
    let (h, twin) = generate_with_twin(&HouseholdSpec::tiny_mixed(PASSWORD), dir.path()).unwrap();
    (dir, h, twin)
}

#[test]
fn iphone_backup_decrypt_reads_every_file_before_and_after_nights() {
    let Some(python) = python() else { return };
    let (_dir, h, twin) = household_and_twin();
    let (device, plain) = (&h.devices[0].folder, &twin.devices[0].folder);
    assert_verified(&python, device, PASSWORD, plain);
    for day in 1..=2 {
        next_day(&h, day, &DayOptions::default()).unwrap();
        next_day(&twin, day, &DayOptions::default()).unwrap();
    }
    assert_verified(&python, device, PASSWORD, plain);
}

#[test]
fn the_check_fails_on_a_mismatch_or_a_damaged_blob() {
    let Some(python) = python() else { return };
    let (_dir, h, twin) = household_and_twin();
    let (device, plain) = (&h.devices[0].folder, &twin.devices[0].folder);
    let sms = hearth_mobilesync::FileId::for_path("HomeDomain", "Library/SMS/sms.db");
    let twin_sms = plain.join(sms.blob_path());
    let mut bytes = std::fs::read(&twin_sms).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&twin_sms, bytes).unwrap();
    let v = verify(&python, device, PASSWORD, plain);
    assert!(!v.success && v.mismatches.len() == 1, "{v}");
    assert_eq!(v.mismatches[0]["file_id"], sms.as_str());

    damage::truncate_blob_short(device, "HomeDomain", "Library/SMS/sms.db").unwrap();
    let v = verify(&python, device, PASSWORD, plain);
    assert!(!v.success && !v.mismatches.is_empty(), "{v}");
}

/// SLOW BY DESIGN (about 13 s on 2 cores): Apple's real KDF cost, 10,000,000 PBKDF2-SHA256 rounds, once in
/// Rust to lock the keybag and once in Python to unlock it.
#[test]
fn apple_kdf_cost_slow_10m_pbkdf2_rounds_each_side() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let iphone = DeviceSpec {
        photos: 2,
        photo_bytes: 20_000,
        big_db_bytes: 50_000,
        small_files: 20,
        encryption: Some(EncryptionSpec::new(PASSWORD, KdfCost::apple())),
        ..DeviceSpec::new("Gran's iPhone", "iPhone12,1", "17.5.1", "21F90")
    };
    let spec = HouseholdSpec {
        seed: 10_000_000,
        devices: vec![iphone],
        shared_photo_fraction: 0.0,
    };
    let (h, twin) = generate_with_twin(&spec, dir.path()).unwrap();
    assert_verified(
        &python,
        &h.devices[0].folder,
        PASSWORD,
        &twin.devices[0].folder,
    );
}
