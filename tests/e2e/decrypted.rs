//! `hearth restore --decrypted`, through the real binary: an encrypted backup restored as an
//! unencrypted MobileSync image, read back by readers nobody here wrote. pyiosbackup opens the
//! image as an unencrypted backup (by its Manifest.db) and reads every file; each must be the
//! plaintext iphone-backup-decrypt gets from the encrypted original (or, for the third-party
//! fixture, what its upstream answer key says). Python's plistlib and sqlite3 check the rest:
//! Manifest.plist not encrypted and without keys, Manifest.db in the clear, no EncryptionKey
//! left, every file as long as its Size. Both readers are required (see
//! hearth_testkit::third_party): missing, the tests fail unless skipping is allowed outside CI.

use crate::common;

use common::{World, describe, pyiosbackup_fixture, s};
use hearth_testkit::third_party::{DecryptedVerdict, file_rows, python, verify_decrypted};
use hearth_testkit::{HouseholdSpec, copy_tree, damage, generate_with_twin, tree_digest};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

const IOS_PASSWORD: &str = "Ünïcode and spaces 42";

fn backup(w: &World, folder: &Path, ios_password: &str) {
    let out = w
        .cmd(&["backup", s(folder)])
        .env("HEARTH_IOS_PASSWORD", ios_password)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{}",
        describe(&out)
    );
}

/// `hearth --json restore SNAPSHOT --decrypted --out <out> EXTRA...`: its output, its JSON and
/// the device folder it wrote. No iOS password is given: none is needed.
fn restore_decrypted(
    w: &World,
    snapshot: &str,
    out: &str,
    extra: &[&str],
) -> (Output, Value, PathBuf) {
    let mut args = vec!["--json", "restore", snapshot, "--decrypted", "--out"];
    let out_dir = w.path(out);
    args.push(s(&out_dir));
    args.extend_from_slice(extra);
    let output = w.run(&args);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let json: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", describe(&output)));
    let folder = PathBuf::from(json["folder"].as_str().unwrap());
    assert!(folder.starts_with(&out_dir), "{json:#}");
    (output, json, folder)
}

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The fileIDs of the files the reader read, sorted.
fn ids(v: &DecryptedVerdict) -> BTreeSet<String> {
    v.files.keys().cloned().collect()
}

#[test]
fn an_encrypted_backup_restores_as_an_unencrypted_backup_an_independent_reader_reads() {
    let w = World::with_repo();
    let (h, twin) =
        generate_with_twin(&HouseholdSpec::tiny_mixed(IOS_PASSWORD), &w.path("house")).unwrap();
    let phone = &h.devices[0];
    assert!(phone.encrypted);
    backup(&w, &phone.folder, IOS_PASSWORD);
    let snapshot = format!("{}@latest", phone.udid);

    let (output, json, image) = restore_decrypted(&w, &snapshot, "decrypted", &[]);
    assert_eq!(json["decrypted"], true, "{json:#}");
    assert_eq!(json["plan"]["decryption"], "decrypted", "{json:#}");
    let notice = json["notice"].as_str().unwrap();
    for needle in [
        s(&image),
        "UNENCRYPTED",
        "Health",
        "Keychain",
        "in the clear",
    ] {
        assert!(notice.contains(needle), "{needle:?} in {notice}");
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("warning: ") && stderr.contains(notice),
        "the notice on stderr too:\n{stderr}"
    );

    let Some(python) = python() else { return };
    let v = verify_decrypted(&python, &image, Some((&phone.folder, IOS_PASSWORD)));
    assert!(v.success && v.problems.is_empty(), "{v}");
    assert!(v.reader.starts_with("pyiosbackup "), "{v}");
    assert!(
        v.missing_from_image.is_empty() && v.not_in_original.is_empty(),
        "{v}"
    );
    let rows = file_rows(&twin.devices[0].folder);
    assert_eq!(v.truth_files, Some(rows), "{v}");
    assert_eq!(v.files.len() as u64, rows, "{v}");
    let domains: BTreeSet<&str> = v.files.values().map(|f| f.0.as_str()).collect();
    for domain in [
        "HealthDomain",
        "KeychainDomain",
        "HomeDomain",
        "CameraRollDomain",
    ] {
        assert!(domains.contains(domain), "{domain} read: {domains:?}");
    }
    // Info.plist and Status.plist as they were.
    let (source, restored) = (
        tree_digest(&phone.folder).unwrap(),
        tree_digest(&image).unwrap(),
    );
    for name in ["Info.plist", "Status.plist"] {
        assert_eq!(restored[name], source[name], "{name}");
    }

    // For another kind of device: what does not transfer is left out, the rest read the same.
    let (_, json, image) = restore_decrypted(
        &w,
        &snapshot,
        "decrypted-ipad",
        &["--to-model", "iPad13,1", "--to-ios", "18.0"],
    );
    let skipped: BTreeSet<String> = (json["plan"]["skipped"].as_array().unwrap().iter())
        .filter(|s| s["path"].as_str().is_some_and(|p| p.contains('/')))
        .map(|s| {
            s["path"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        !skipped.is_empty(),
        "photos and Messages stay behind: {json:#}"
    );
    let other = verify_decrypted(&python, &image, Some((&phone.folder, IOS_PASSWORD)));
    assert!(other.success && other.problems.is_empty(), "{other}");
    let missing: BTreeSet<String> = other.missing_from_image.iter().cloned().collect();
    assert!(
        missing.is_subset(&skipped) && !missing.is_empty(),
        "only skipped files are missing: {missing:?} of {skipped:?}"
    );
    assert_eq!(
        ids(&other),
        ids(&v).difference(&missing).cloned().collect(),
        "{other}"
    );
}

#[test]
fn blobs_that_did_not_decrypt_are_left_out_of_a_decrypted_image_and_said_so() {
    let w = World::with_repo();
    let (h, twin) =
        generate_with_twin(&HouseholdSpec::tiny_mixed(IOS_PASSWORD), &w.path("house")).unwrap();
    let phone = &h.devices[0];
    damage::truncate_blob_short(
        &phone.folder,
        "HealthDomain",
        "Health/healthdb_secure.sqlite",
    )
    .unwrap();
    backup(&w, &phone.folder, IOS_PASSWORD);
    let (_, json, image) =
        restore_decrypted(&w, &format!("{}@latest", phone.udid), "decrypted", &[]);
    let skipped = json["plan"]["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{json:#}");
    assert_eq!(skipped[0]["rule"], "undecryptable");
    assert_eq!(skipped[0]["relative_path"], "Health/healthdb_secure.sqlite");

    let Some(python) = python() else { return };
    // The damaged original stops iphone-backup-decrypt: the plaintext twin is the truth here.
    let v = verify_decrypted(&python, &image, None);
    assert!(v.success && v.problems.is_empty(), "{v}");
    let twin = &twin.devices[0].folder;
    for (id, (domain, path, _, digest)) in &v.files {
        let expected = sha256(&twin.join(&id[..2]).join(id));
        assert_eq!(digest, &expected, "{domain}/{path}");
    }
    assert_eq!(v.files.len() as u64 + 1, file_rows(twin), "{v}");
    assert!(
        v.files
            .values()
            .all(|f| f.1 != "Health/healthdb_secure.sqlite"),
        "{v}"
    );
}

/// The encrypted backup from pyiosbackup's own test suite (see its PROVENANCE.md): an XML
/// Manifest.plist, an unpadded Manifest.db, an MBFile with no ProtectionClass and `NS.data`
/// behind a UID, `flags` 0. Upstream's answer key: one file, `MyTestDomain` `Media/Test.txt`,
/// Size 9, whose plaintext is `Test data`.
#[test]
fn the_pyiosbackup_fixture_restores_decrypted_as_its_answer_key_says() {
    let Some(fixture) = pyiosbackup_fixture() else {
        return;
    };
    let w = World::with_repo();
    let udid = "00008110-001A2B3C4D5E801E";
    let folder = w.path("Backup").join(udid);
    copy_tree(&fixture, &folder).unwrap();
    backup(&w, &folder, "0000");
    let (_, json, image) = restore_decrypted(&w, &format!("{udid}@latest"), "out", &[]);
    assert_eq!(json["decrypted"], true, "{json:#}");

    let manifest = std::fs::read(image.join("Manifest.plist")).unwrap();
    assert!(manifest.starts_with(b"<?xml"), "XML as the fixture's was");
    let (source, restored) = (tree_digest(&fixture).unwrap(), tree_digest(&image).unwrap());
    for name in ["Info.plist", "Status.plist"] {
        assert_eq!(restored[name], source[name], "{name}");
    }

    let Some(python) = python() else { return };
    let v = verify_decrypted(&python, &image, None);
    assert!(v.success && v.problems.is_empty(), "{v}");
    let id = "5727bd1c5fa1055e15d8b4a75a74793c84b5ffdc";
    let test_data: String = Sha256::digest(b"Test data")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        v.files.get(id),
        Some(&(
            "MyTestDomain".to_owned(),
            "Media/Test.txt".to_owned(),
            9,
            test_data
        )),
        "{v}"
    );
    assert_eq!(v.files.len(), 1, "{v}");
}

#[test]
fn an_unencrypted_backup_restored_decrypted_is_byte_exact_with_a_note() {
    let w = World::with_repo();
    let (h, _twin) =
        generate_with_twin(&HouseholdSpec::tiny_mixed(IOS_PASSWORD), &w.path("house")).unwrap();
    let pad = &h.devices[1];
    assert!(!pad.encrypted);
    w.ok(&["backup", s(&pad.folder)]);
    let (output, json, image) = restore_decrypted(&w, &format!("{}@latest", pad.udid), "out", &[]);
    assert_eq!(
        tree_digest(&image).unwrap(),
        tree_digest(&pad.folder).unwrap()
    );
    assert_eq!(json["decrypted"], false, "{json:#}");
    assert_eq!(json["plan"]["decryption"], "nothing-to-decrypt", "{json:#}");
    let notice = json["notice"].as_str().unwrap();
    assert!(
        notice.contains("not encrypted") && notice.contains("byte-exact"),
        "{notice}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("note: {notice}")), "{stderr}");
}
