//! Encrypted devices: decrypted with hearth-mobilesync's primitives (not the kit's own code),
//! they must give back exactly their plaintext twin, stay twins through nightly edits, and the
//! damage helpers must make the bad inputs they promise.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Read;
use std::path::Path;

use hearth_mobilesync::encryption::{
    ClassKeys, DecryptingReader, EncryptionError, Keybag, WrappedKey, decrypt_in_place, padded_len,
    strip_pkcs7,
};
use hearth_mobilesync::{
    DeviceFolder, EntryKind, FileId, MANIFEST_DB, ManifestDb, ManifestRow, SQLITE_MAGIC,
};
use hearth_testkit::{
    DayOptions, Error, Household, HouseholdSpec, KdfCost, damage, generate, generate_with_twin,
    next_day, tree_digest,
};

const PASSWORD: &str = "correct horse battery staple";

/// The mixed household (encrypted iPhone, plain iPad) and its twin, in two folders.
fn household_and_twin() -> (tempfile::TempDir, Household, Household) {
    let dir = tempfile::tempdir().unwrap();
    let (h, twin) = generate_with_twin(&HouseholdSpec::tiny_mixed(PASSWORD), dir.path()).unwrap();
    (dir, h, twin)
}

/// Unlocks the keybag with `password` and decrypts Manifest.db in memory.
fn open_encrypted(folder: &Path, password: &str) -> (ClassKeys, ManifestDb) {
    let device = DeviceFolder::open(folder).unwrap();
    let manifest = device.manifest.as_ref().unwrap();
    assert!(manifest.is_encrypted);
    let bag = Keybag::parse(manifest.backup_keybag.as_ref().unwrap()).unwrap();
    let keys = bag.unlock(&bag.kdf.derive(password.as_bytes())).unwrap();
    let wrapped = WrappedKey::parse(manifest.manifest_key.as_ref().unwrap()).unwrap();
    assert_eq!(wrapped.class(), 4, "Manifest.db is wrapped under class 4");
    let key = keys.unwrap(&wrapped).unwrap();
    let path = device.manifest_db_path();
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(
        !bytes.starts_with(SQLITE_MAGIC),
        "Manifest.db is not plaintext"
    );
    decrypt_in_place(&key, &mut bytes).unwrap();
    let plain = strip_pkcs7(&bytes).expect("PKCS#7-padded").to_vec();
    (keys, ManifestDb::from_plaintext(plain, &path).unwrap())
}

fn plain_rows(folder: &Path) -> Vec<ManifestRow> {
    ManifestDb::open(&folder.join(MANIFEST_DB))
        .unwrap()
        .rows()
        .unwrap()
}

/// A file row's plaintext, checking the blob's length and the key's class on the way.
fn decrypt_blob(folder: &Path, row: &ManifestRow, keys: &ClassKeys) -> Vec<u8> {
    let file = row.file.as_ref().unwrap();
    let size = file.size.expect("every file row has a Size");
    let ek = WrappedKey::parse(file.encryption_key.as_ref().unwrap()).unwrap();
    assert_eq!(
        Some(ek.class()),
        file.protection_class,
        "{}",
        row.relative_path
    );
    let blob = folder.join(FileId::parse(&row.file_id).unwrap().blob_path());
    let len = std::fs::metadata(&blob).unwrap().len();
    assert_eq!(len, padded_len(size), "{}", row.relative_path);
    let key = keys.unwrap(&ek).unwrap();
    let mut reader =
        DecryptingReader::new(File::open(&blob).unwrap(), &key, len, Some(size)).unwrap();
    let mut out = Vec::new();
    reader.read_to_end(&mut out).unwrap();
    out
}

/// The encrypted device decrypts to exactly its twin: the same rows but for `EncryptionKey`
/// (which every file row of the encrypted device has, and none of the twin's), and every file's
/// plaintext equal to the twin's blob. Returns the number of file rows.
fn assert_twins(encrypted: &Path, twin: &Path, password: &str) -> usize {
    let (keys, db) = open_encrypted(encrypted, password);
    let rows = db.rows().unwrap();
    let expected = plain_rows(twin);
    let without_keys: Vec<ManifestRow> = rows
        .iter()
        .cloned()
        .map(|mut r| {
            if let Ok(f) = &mut r.file {
                assert_eq!(
                    f.encryption_key.is_some(),
                    r.flags == 1,
                    "{}",
                    r.relative_path
                );
                f.encryption_key = None;
            }
            r
        })
        .collect();
    assert_eq!(
        without_keys, expected,
        "decrypted Manifest.db rows == the twin's"
    );
    let files: Vec<&ManifestRow> = rows
        .iter()
        .filter(|r| r.kind() == EntryKind::File)
        .collect();
    for row in &files {
        let twin_blob = twin.join(FileId::parse(&row.file_id).unwrap().blob_path());
        let plain = decrypt_blob(encrypted, row, &keys);
        assert!(
            plain == std::fs::read(twin_blob).unwrap(),
            "{}",
            row.relative_path
        );
    }
    files.len()
}

/// Blobs plus the four metadata files: no plaintext copies or temporary files left behind.
fn assert_only_backup_files(folder: &Path, file_rows: usize) {
    let names: Vec<String> = tree_digest(folder).unwrap().into_keys().collect();
    let top: BTreeSet<&str> = names
        .iter()
        .filter(|n| !n.contains('/'))
        .map(String::as_str)
        .collect();
    let expected = [
        "Info.plist",
        "Manifest.db",
        "Manifest.plist",
        "Status.plist",
    ];
    assert_eq!(top, expected.into_iter().collect());
    assert_eq!(names.len(), file_rows + 4, "one blob per file row");
}

#[test]
fn an_encrypted_device_decrypts_to_its_plaintext_twin() {
    let (_dir, h, twin) = household_and_twin();
    let (iphone, ipad) = (&h.devices[0], &h.devices[1]);
    assert!(iphone.encrypted && iphone.keys.as_ref().is_some_and(|k| k.password == PASSWORD));
    assert!(!ipad.encrypted && ipad.keys.is_none());
    assert!(
        twin.devices
            .iter()
            .all(|d| !d.encrypted && d.keys.is_none())
    );
    let files = assert_twins(&iphone.folder, &twin.devices[0].folder, PASSWORD);
    assert_only_backup_files(&iphone.folder, files);
    assert_eq!(
        tree_digest(&ipad.folder).unwrap(),
        tree_digest(&twin.devices[1].folder).unwrap(),
        "an unencrypted device is its own twin"
    );
    for plist in ["Info.plist", "Status.plist"] {
        let read = |d: &Household| std::fs::read(d.devices[0].folder.join(plist)).unwrap();
        assert!(
            read(&h) == read(&twin),
            "{plist} is the same encrypted or not"
        );
    }
    let twin_manifest = DeviceFolder::open(&twin.devices[0].folder)
        .unwrap()
        .manifest
        .unwrap();
    assert!(!twin_manifest.is_encrypted && twin_manifest.backup_keybag.is_none());
}

#[test]
fn the_keybag_holds_eleven_classes_at_the_asked_cost_and_files_use_several() {
    let (_dir, h, _twin) = household_and_twin();
    let folder = &h.devices[0].folder;
    let device = DeviceFolder::open(folder).unwrap();
    let bag = Keybag::parse(device.manifest.unwrap().backup_keybag.as_ref().unwrap()).unwrap();
    assert_eq!(
        bag.classes.keys().copied().collect::<Vec<_>>(),
        (1..=11).collect::<Vec<_>>()
    );
    assert_eq!(bag.uuid.len(), 16);
    assert_eq!(bag.kdf.salt.len(), 20);
    let fast = KdfCost::fast();
    assert_eq!(bag.kdf.iterations, fast.iterations);
    assert_eq!(
        bag.kdf.dp.as_ref().map(|(s, n)| (s.len(), *n)),
        Some((20, fast.dp_iterations))
    );
    let wrong = bag.unlock(&bag.kdf.derive(b"not the password"));
    assert_eq!(wrong, Err(EncryptionError::WrongPassword));

    let (_, db) = open_encrypted(folder, PASSWORD);
    let rows = db.rows().unwrap();
    let classes: BTreeSet<u32> = rows
        .iter()
        .filter(|r| r.flags == 1)
        .filter_map(|r| r.file.as_ref().ok()?.protection_class)
        .collect();
    assert_eq!(classes, BTreeSet::from([1, 3, 4]));
    let secure = [
        ("HealthDomain", "Health/healthdb_secure.sqlite"),
        ("KeychainDomain", "keychain-backup.plist"),
        (
            "SystemPreferencesDomain",
            "com.apple.wifi.known-networks.plist",
        ),
        ("HomeDomain", "Library/CallHistoryDB/CallHistory.storedata"),
    ];
    for (domain, path) in secure {
        assert!(
            rows.iter()
                .any(|r| r.domain == domain && r.relative_path == path && r.flags == 1),
            "{domain} {path}"
        );
    }
    let ipad = plain_rows(&h.devices[1].folder);
    assert!(
        !ipad
            .iter()
            .any(|r| r.domain == "HealthDomain" || r.domain == "KeychainDomain")
    );
}

#[test]
fn shared_photos_cross_the_encryption() {
    let (_dir, h, _twin) = household_and_twin();
    let (keys, db) = open_encrypted(&h.devices[0].folder, PASSWORD);
    let photos = |rows: &[ManifestRow], read: &dyn Fn(&ManifestRow) -> Vec<u8>| {
        rows.iter()
            .filter(|r| r.flags == 1 && r.relative_path.starts_with("Media/DCIM/"))
            .map(read)
            .collect::<BTreeSet<_>>()
    };
    let iphone = photos(&db.rows().unwrap(), &|r| {
        decrypt_blob(&h.devices[0].folder, r, &keys)
    });
    let ipad_folder = &h.devices[1].folder;
    let ipad = photos(&plain_rows(ipad_folder), &|r| {
        std::fs::read(ipad_folder.join(FileId::parse(&r.file_id).unwrap().blob_path())).unwrap()
    });
    let shared = iphone.intersection(&ipad).count();
    assert!(shared >= 2, "{shared} shared photos");
}

#[test]
fn nights_keep_an_encrypted_device_and_its_twin_in_step() {
    let (_dir, h, twin) = household_and_twin();
    let folder = &h.devices[0].folder;
    let before = tree_digest(folder).unwrap();
    let options = DayOptions {
        changed_fraction: 0.05,
        ..DayOptions::default()
    };
    for day in 1..=2 {
        let night = next_day(&h, day, &options).unwrap();
        let twin_night = next_day(&twin, day, &options).unwrap();
        let changed = |n: &hearth_testkit::DayChanges| {
            n.devices[0]
                .modified
                .iter()
                .map(|c| (c.file_id.clone(), c.size))
                .collect::<Vec<_>>()
        };
        assert_eq!(changed(&night), changed(&twin_night));
        assert_eq!(
            night.devices[0].added.len(),
            twin_night.devices[0].added.len()
        );
        assert!(night.devices[0].changed_files() > 5);
    }
    let files = assert_twins(folder, &twin.devices[0].folder, PASSWORD);
    assert_only_backup_files(folder, files);
    let after = tree_digest(folder).unwrap();
    let kept = before
        .iter()
        .filter(|(name, d)| after.get(*name) == Some(d))
        .count();
    assert!(
        kept > before.len() / 2,
        "unchanged blobs stay byte-identical: {kept}"
    );
}

#[test]
fn unchanged_blobs_keep_their_mtime_through_a_night() {
    let dir = tempfile::tempdir().unwrap();
    let h = generate(&HouseholdSpec::tiny_mixed(PASSWORD), dir.path()).unwrap();
    let folder = &h.devices[0].folder;
    let mtimes = |f: &Path| -> BTreeMap<String, std::time::SystemTime> {
        tree_digest(f)
            .unwrap()
            .into_keys()
            .map(|k| {
                let m = std::fs::metadata(f.join(&k)).unwrap().modified().unwrap();
                (k, m)
            })
            .collect()
    };
    let (before, digest_before) = (mtimes(folder), tree_digest(folder).unwrap());
    next_day(&h, 1, &DayOptions::default()).unwrap();
    let digest_after = tree_digest(folder).unwrap();
    let after = mtimes(folder);
    for (name, digest) in &digest_before {
        if digest_after.get(name) == Some(digest) {
            assert_eq!(after[name], before[name], "{name}");
        } else if name.contains('/') {
            assert!(after.get(name).is_none_or(|m| *m > before[name]), "{name}");
        }
    }
}

#[test]
fn loading_needs_the_spec_to_unlock_encrypted_devices() {
    let dir = tempfile::tempdir().unwrap();
    let spec = HouseholdSpec::tiny_mixed(PASSWORD);
    let generated = generate(&spec, dir.path()).unwrap();
    let loaded = Household::load(dir.path()).unwrap();
    assert!(loaded.devices[0].encrypted && loaded.devices[0].keys.is_none());
    let err = next_day(&loaded, 1, &DayOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    assert!(err.to_string().contains("load_for"), "{err}");
    assert_eq!(Household::load_for(&spec, dir.path()).unwrap(), generated);
    let wrong = HouseholdSpec::tiny_mixed("wrong password");
    let err = Household::load_for(&wrong, dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Encryption {
                source: EncryptionError::WrongPassword,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn damage_helpers_make_the_promised_bad_inputs() {
    let (_dir, h, _twin) = household_and_twin();
    let folder = &h.devices[0].folder;
    let sms = ("HomeDomain", "Library/SMS/sms.db");
    let blob = |(d, p): (&str, &str)| folder.join(FileId::for_path(d, p).blob_path());

    let len = damage::truncate_blob_unaligned(folder, sms.0, sms.1).unwrap();
    assert_eq!(std::fs::metadata(blob(sms)).unwrap().len(), len);
    assert!(!len.is_multiple_of(16));

    let voice = ("MediaDomain", "Media/Recordings/CloudRecordings.db");
    let (keys, db) = open_encrypted(folder, PASSWORD);
    let row = db
        .rows()
        .unwrap()
        .into_iter()
        .find(|r| r.relative_path == voice.1)
        .unwrap();
    let size = row.file.as_ref().unwrap().size.unwrap();
    let len = damage::truncate_blob_short(folder, voice.0, voice.1).unwrap();
    assert!(len.is_multiple_of(16) && len < size, "{len} of {size}");

    damage::ios_10_1_style(folder, PASSWORD).unwrap();
    let device = DeviceFolder::open(folder).unwrap();
    let manifest = device.manifest.as_ref().unwrap();
    assert!(manifest.is_encrypted && manifest.manifest_key.is_none());
    let rows = plain_rows(folder);
    assert_eq!(
        rows.len(),
        db.rows().unwrap().len(),
        "Manifest.db is plain SQLite"
    );
    let bag = Keybag::parse(manifest.backup_keybag.as_ref().unwrap()).unwrap();
    assert_eq!(bag.kdf.dp, None, "no DPSL/DPIC before iOS 10.2");
    assert_eq!(
        bag.unlock(&bag.kdf.derive(PASSWORD.as_bytes())).unwrap(),
        keys
    );
    let health = rows
        .iter()
        .find(|r| r.domain == "HealthDomain" && r.flags == 1)
        .unwrap();
    assert!(
        decrypt_blob(folder, health, &keys).starts_with(SQLITE_MAGIC),
        "blobs stay encrypted"
    );

    damage::corrupt_keybag(folder).unwrap();
    let device = DeviceFolder::open(folder).unwrap();
    let bag = device.manifest.unwrap().backup_keybag.unwrap();
    assert!(matches!(
        Keybag::parse(&bag),
        Err(EncryptionError::Keybag(_))
    ));
}
