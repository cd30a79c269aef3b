//! Encrypted iOS backups end to end, through the real `hearth` binary: decrypted on ingest so
//! their content deduplicates with unencrypted devices, the derived key kept so later backups,
//! `ls` and `restore` need no iOS password, restored as an encrypted device folder identical to
//! the source, and that folder read back by a decryptor nobody here wrote.

use crate::common;

use common::s;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{World, describe};
use hearth_testkit::third_party::{assert_verified, python};
use hearth_testkit::{
    DayOptions, EncryptionSpec, FileDigest, Household, HouseholdSpec, KdfCost, damage, generate,
    generate_with_twin, next_day, tree_digest,
};
use serde_json::Value;

const IOS_PASSWORD: &str = "Ünïcode and spaces 42";

fn digest(dir: &Path) -> BTreeMap<String, FileDigest> {
    tree_digest(dir).expect("digest")
}

/// `hearth --json backup FOLDERS` with `ios_password` (if any) in HEARTH_IOS_PASSWORD.
fn backup(w: &World, folders: &[&Path], ios_password: Option<&str>) -> (Output, Value) {
    let mut args = vec!["--json", "backup"];
    args.extend(folders.iter().map(|f| s(f)));
    let mut cmd = w.cmd(&args);
    if let Some(p) = ios_password {
        cmd.env("HEARTH_IOS_PASSWORD", p);
    }
    let out = cmd.output().expect("hearth runs");
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", describe(&out)));
    (out, json)
}

/// The device's report: a snapshot stored, or unchanged since one.
fn report<'a>(json: &'a Value, udid: &str) -> &'a Value {
    let stored = json["snapshots"].as_array().unwrap().iter();
    stored
        .chain(json["unchanged"].as_array().unwrap())
        .find(|r| r["device"]["udid"] == udid)
        .unwrap_or_else(|| panic!("no report of {udid} in {json:#}"))
}

fn restore(w: &World, snapshot: &str, out: &str) -> PathBuf {
    w.ok(&["restore", snapshot, "--out", s(&w.path(out))]);
    w.path(out)
}

/// Files under `dir`, recursively.
fn object_count(dir: &Path) -> usize {
    walk(dir).len()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .flat_map(|e| {
            let p = e.path();
            if p.is_dir() { walk(&p) } else { vec![p] }
        })
        .collect()
}

/// Bytes of the blobs whose content appears in both folders (the shared photos).
fn common_blob_bytes(a: &Path, b: &Path) -> u64 {
    let contents = |d: &Path| -> BTreeSet<FileDigest> {
        digest(d)
            .into_iter()
            .filter(|(p, _)| p.contains('/'))
            .map(|(_, f)| f)
            .collect()
    };
    contents(a).intersection(&contents(b)).map(|(n, _)| n).sum()
}

fn mixed_household(w: &World) -> (Household, Household) {
    generate_with_twin(&HouseholdSpec::tiny_mixed(IOS_PASSWORD), &w.path("house")).unwrap()
}

#[test]
fn encrypted_device_dedups_with_a_plain_one_and_restores_as_the_same_encrypted_folder() {
    let w = World::with_repo();
    let (h, twin) = mixed_household(&w);
    let (phone, pad) = (&h.devices[0], &h.devices[1]);
    assert!(phone.encrypted && !pad.encrypted);
    let (out, json) = backup(&w, &[&phone.folder, &pad.folder], Some(IOS_PASSWORD));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let r = report(&json, &phone.udid);
    assert_eq!(r["encrypted_source"], true);
    assert_eq!(r["key_derived"], true);

    // The same photo, ciphertext in one backup and plaintext in the other, is stored once.
    let shared = common_blob_bytes(&twin.devices[0].folder, &pad.folder);
    assert!(
        shared > 100_000,
        "the household shares photos ({shared} bytes)"
    );
    let stats = w.json(&["stats"], 0);
    let device = |udid: &str| {
        stats["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["udid"] == udid)
            .cloned()
            .unwrap()
    };
    for udid in [&phone.udid, &pad.udid] {
        let d = device(udid);
        assert!(
            d["shared_bytes"].as_u64().unwrap() >= shared * 9 / 10,
            "{udid} shares at least the common photos ({shared} bytes): {d:#}"
        );
    }

    // Listing and restoring need no iOS password (the World never passes one by default).
    let ls = w.json(
        &["ls", &format!("{}@latest", phone.udid), "HealthDomain"],
        0,
    );
    assert!(
        ls.to_string().contains("healthdb_secure.sqlite"),
        "Health data is kept: {ls:#}"
    );
    let restored = restore(&w, &format!("{}@latest", phone.name), "restored");
    let image = restored.join(&phone.udid);
    assert_eq!(
        digest(&image),
        digest(&phone.folder),
        "byte-exact encrypted image"
    );
    if let Some(python) = python() {
        assert_verified(&python, &image, IOS_PASSWORD, &twin.devices[0].folder);
    }
    w.ok(&["check", "--read-data"]);
}

#[test]
fn later_backups_need_no_password_and_store_only_what_changed() {
    let w = World::with_repo();
    let (h, _twin) = mixed_household(&w);
    let phone = &h.devices[0];
    let (out, _) = backup(&w, &[&phone.folder], Some(IOS_PASSWORD));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));

    let (out, json) = backup(&w, &[&phone.folder], None);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let r = &json["unchanged"][0];
    assert_eq!(r["device"]["udid"], phone.udid.as_str(), "{json:#}");
    assert_eq!(r["key_derived"], false, "the stored key opened the keybag");
    assert_eq!(
        r["bytes_read"], 0,
        "an unchanged encrypted device reads no blob: {r:#}"
    );
    assert_eq!(r["files_unmodified"], r["files"]);

    next_day(&h, 1, &DayOptions::default()).unwrap();
    let (out, json) = backup(&w, &[&phone.folder], None);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let r = report(&json, &phone.udid);
    let changed = r["files_changed"].as_u64().unwrap() + r["files_new"].as_u64().unwrap();
    assert!(
        changed > 0 && r["files_unmodified"].as_u64().unwrap() > changed,
        "{r:#}"
    );
    let added = r["bytes_added"].as_u64().unwrap();
    assert!(
        added < phone.bytes / 4,
        "a day adds {added} of {} bytes",
        phone.bytes
    );
    let image = restore(&w, &format!("{}@latest", phone.udid), "day1").join(&phone.udid);
    assert_eq!(digest(&image), digest(&phone.folder));
}

#[test]
fn without_a_password_the_encrypted_device_fails_and_the_others_back_up() {
    let w = World::with_repo();
    let (h, _twin) = mixed_household(&w);
    let (phone, pad) = (&h.devices[0], &h.devices[1]);
    let (out, json) = backup(&w, &[&phone.folder, &pad.folder], None);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains(&phone.name))
        .unwrap_or_else(|| panic!("names the device:\n{stderr}"));
    assert!(line.contains("no password"), "{line}");
    assert!(
        line.contains("HEARTH_IOS_PASSWORD") && line.contains("--ios-password-file"),
        "{line}"
    );
    report(&json, &pad.udid);
    assert_eq!(json["snapshots"].as_array().unwrap().len(), 1);
    assert_eq!(object_count(&w.repo().join("devicekeys")), 0);
}

#[test]
fn a_wrong_password_names_the_device_and_stores_nothing() {
    let w = World::with_repo();
    let (h, _twin) = mixed_household(&w);
    let phone = &h.devices[0];
    let packs_before = object_count(&w.repo().join("packs"));
    let (out, json) = backup(&w, &[&phone.folder], Some("not the password"));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&phone.name) && stderr.contains("wrong password"),
        "{stderr}"
    );
    assert_eq!(json["snapshots"].as_array().unwrap().len(), 0);
    assert_eq!(
        object_count(&w.repo().join("packs")),
        packs_before,
        "no data stored"
    );
    assert_eq!(object_count(&w.repo().join("devicekeys")), 0);
    assert_eq!(object_count(&w.repo().join("snapshots")), 0);
}

#[test]
fn a_password_file_gives_each_device_its_own_password() {
    let w = World::with_repo();
    let spec = HouseholdSpec::tiny_mixed(IOS_PASSWORD).encrypt_device(1, "the iPad's own");
    let h = generate(&spec, &w.path("house")).unwrap();
    let (phone, pad) = (&h.devices[0], &h.devices[1]);
    let file = w.path("ios-passwords");
    let text = format!(
        "# per device\n{} = {IOS_PASSWORD}\n{} = the iPad's own\n",
        phone.name, pad.udid
    );
    std::fs::write(&file, text).unwrap();
    let out = w.run(&["backup", "--ios-password-file", s(&file), s(&h.root)]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    for d in [phone, pad] {
        let image = restore(&w, &format!("{}@latest", d.udid), &d.udid).join(&d.udid);
        assert_eq!(digest(&image), digest(&d.folder), "{}", d.name);
    }
}

#[test]
fn damaged_encrypted_blobs_are_kept_as_found_named_and_restored_byte_exact() {
    let w = World::with_repo();
    let (h, _twin) = mixed_household(&w);
    let phone = &h.devices[0];
    damage::truncate_blob_unaligned(&phone.folder, "HomeDomain", "Library/SMS/sms.db").unwrap();
    damage::truncate_blob_short(
        &phone.folder,
        "HealthDomain",
        "Health/healthdb_secure.sqlite",
    )
    .unwrap();
    let (out, json) = backup(&w, &[&phone.folder], Some(IOS_PASSWORD));
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let warnings = report(&json, &phone.udid)["warnings"].to_string();
    for path in [
        "HomeDomain/Library/SMS/sms.db",
        "HealthDomain/Health/healthdb_secure.sqlite",
    ] {
        assert!(warnings.contains(path), "{path} in {warnings}");
    }
    assert!(warnings.contains("shorter"), "{warnings}");
    let image = restore(&w, &format!("{}@latest", phone.udid), "restored").join(&phone.udid);
    assert_eq!(
        digest(&image),
        digest(&phone.folder),
        "damaged blobs come back as they were"
    );
}

#[test]
fn a_corrupt_keybag_is_a_clear_error_naming_manifest_plist() {
    let w = World::with_repo();
    let (h, _twin) = mixed_household(&w);
    let phone = &h.devices[0];
    damage::corrupt_keybag(&phone.folder).unwrap();
    let (out, _) = backup(&w, &[&phone.folder], Some(IOS_PASSWORD));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Manifest.plist") && stderr.contains("keybag"),
        "{stderr}"
    );
    assert_eq!(object_count(&w.repo().join("snapshots")), 0);
}

#[test]
fn an_ios_10_1_encrypted_backup_is_refused_with_what_to_do() {
    let w = World::with_repo();
    let (h, _twin) = mixed_household(&w);
    let phone = &h.devices[0];
    damage::ios_10_1_style(&phone.folder, IOS_PASSWORD).unwrap();
    let (out, _) = backup(&w, &[&phone.folder], Some(IOS_PASSWORD));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("iOS 10.0 or 10.1") && stderr.contains("10.2"),
        "{stderr}"
    );
}

/// Apple's real cost: 10,000,000 PBKDF2-SHA256 rounds then 10,000 PBKDF2-SHA1 rounds (about
/// 10-15 s here). Paid by the first backup only: the second runs no derivation at all.
#[test]
fn apple_cost_derivation_is_paid_once_per_keybag() {
    let w = World::with_repo();
    let mut spec = HouseholdSpec::tiny_mixed(IOS_PASSWORD);
    spec.devices[0].encryption = Some(EncryptionSpec::new(IOS_PASSWORD, KdfCost::apple()));
    spec.devices.truncate(1);
    let h = generate(&spec, &w.path("house")).unwrap();
    let phone = &h.devices[0];
    let (out, json) = backup(&w, &[&phone.folder], Some(IOS_PASSWORD));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(report(&json, &phone.udid)["key_derived"], true);
    let (out, json) = backup(&w, &[&phone.folder], None);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(report(&json, &phone.udid)["key_derived"], false);
}
