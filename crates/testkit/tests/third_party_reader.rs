//! An independent check of the encrypted backups the kit writes: the PyPI package
//! iphone-backup-decrypt, which nobody on this project wrote, must open an encrypted device with
//! its password and decrypt every file to exactly the bytes of the device's plaintext twin
//! (`tests/python/verify_encrypted.py` does the comparison).
//!
//! The interpreter comes from `HEARTH_PYTHON` (set by `.ci/run` and `scripts/test`, both through
//! `scripts/python-env`), else from the venv `scripts/python-env` makes. Without one the tests
//! fail, unless `HEARTH_ALLOW_MISSING_PYTHON=1` outside CI, which skips them loudly.

use hearth_testkit::third_party::{assert_verified, python, verify};
use hearth_testkit::{
    DayOptions, DeviceSpec, EncryptionSpec, Household, HouseholdSpec, KdfCost, damage,
    generate_with_twin, next_day,
};

const PASSWORD: &str = "pässwörd with spaces";

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
