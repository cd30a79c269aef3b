//! The real iOS 14.3 backup index from the mvt project (`shared/fixtures/mvt-ios-backup`).
//!
//! The fixture is required: a missing fixture fails the test, unless
//! `HEARTH_ALLOW_MISSING_FIXTURES=1`, which skips loudly. Every test checks that the fixture
//! folder is byte-for-byte unchanged afterwards (no -wal/-shm/-journal, no touched files).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use hearth_mobilesync::{
    DeviceFolder, EntryKind, FileId, ManifestDb, ManifestDbState, MbFile, check_relative_path,
    find_device_folders,
};

const UDID: &str = "1CB128EAFA77C5BE74283E9A3A2130AF36A3C059";
const SMS_DB_ID: &str = "3d0d7e5fb2ce288813306e4d4636395e047a3d28";

fn fixture() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/mvt-ios-backup/ios_backup");
    if path.join("Manifest.db").is_file() {
        return Some(path);
    }
    if std::env::var("HEARTH_ALLOW_MISSING_FIXTURES").as_deref() == Ok("1") {
        eprintln!("\n*** SKIPPED: fixture missing: {} ***\n", path.display());
        return None;
    }
    panic!(
        "the mvt iOS backup fixture is required at {} (set HEARTH_ALLOW_MISSING_FIXTURES=1 to skip)",
        path.display()
    );
}

/// Relative path → (length, mtime) of everything under `root`.
fn listing(root: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            let rel = entry.path().strip_prefix(root).unwrap().to_path_buf();
            out.insert(rel, (meta.len(), meta.modified().unwrap()));
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    out
}

/// Runs `test` on the fixture and asserts the folder is unchanged afterwards.
fn with_fixture(test: impl FnOnce(&Path)) {
    let Some(root) = fixture() else { return };
    let before = listing(&root);
    test(&root);
    assert_eq!(listing(&root), before, "the fixture folder changed");
}

#[test]
fn device_folder_opens() {
    with_fixture(|root| {
        assert_eq!(find_device_folders(root).unwrap(), vec![root.to_path_buf()]);
        let device = DeviceFolder::open(root).unwrap();
        assert_eq!(device.info.udid, UDID);
        assert_eq!(device.info.product_type, "iPhone9,3");
        assert_eq!(device.info.product_version, "14.3");
        assert_eq!(device.info.build_version, "18C66");
        assert_eq!(device.info.device_name, "iPhone");
        assert_eq!(device.info.serial_number.as_deref(), Some("F1234567890"));
        assert_eq!(device.info.installed_applications.len(), 6);
        assert!(device.info.applications.is_empty());
        let date = device.info.last_backup_date.unwrap();
        let secs = date
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert_eq!(secs, 1_638_559_993, "2021-12-03T19:33:13Z");
        assert_eq!(device.manifest, None);
        assert_eq!(device.status, None);
        assert!(!device.is_encrypted());
        assert_eq!(device.ios_version(), Some("14.3"));
        assert_eq!(
            device.manifest_db_state().unwrap(),
            ManifestDbState::Plaintext
        );
    });
}

#[test]
fn parent_folder_lists_the_device() {
    with_fixture(|root| {
        let parent = root.parent().unwrap();
        assert_eq!(
            find_device_folders(parent).unwrap(),
            vec![root.to_path_buf()]
        );
    });
}

#[test]
fn rows_match_the_provenance_counts() {
    with_fixture(|root| {
        let db = ManifestDb::open(&root.join("Manifest.db")).unwrap();
        assert_eq!(db.row_count().unwrap(), 3721);
        assert!(db.properties().unwrap().is_empty());
        let rows = db.rows().unwrap();
        assert_eq!(rows.len(), 3721);
        let count = |kind| rows.iter().filter(|r| r.kind() == kind).count();
        assert_eq!(count(EntryKind::File), 1089);
        assert_eq!(count(EntryKind::Directory), 2618);
        assert_eq!(count(EntryKind::Symlink), 14);
        let flags = |f| rows.iter().filter(|r| r.flags == f).count();
        assert_eq!((flags(1), flags(2), flags(4)), (1089, 2618, 14));
        assert!(
            rows.windows(2).all(|w| w[0].file_id < w[1].file_id),
            "ORDER BY fileID"
        );
        assert_eq!(
            rows.iter().filter(|r| r.relative_path.is_empty()).count(),
            562
        );
    });
}

#[test]
fn every_row_is_valid() {
    with_fixture(|root| {
        let rows = ManifestDb::open(&root.join("Manifest.db"))
            .unwrap()
            .rows()
            .unwrap();
        for row in &rows {
            let id = FileId::parse(&row.file_id).unwrap();
            assert_eq!(
                id,
                FileId::for_path(&row.domain, &row.relative_path),
                "{row:?}"
            );
            assert_eq!(check_relative_path(&row.relative_path), Ok(()), "{row:?}");
            let file = row.file.as_ref().unwrap();
            assert_eq!(
                file.relative_path.as_deref(),
                Some(row.relative_path.as_str())
            );
            assert!(file.size.is_some() && file.mode.is_some() && file.protection_class.is_some());
            assert_eq!(
                file.target.is_some(),
                row.kind() == EntryKind::Symlink,
                "{row:?}"
            );
            assert_eq!(
                EntryKind::from_mode(file.mode.unwrap()),
                row.kind(),
                "{row:?}"
            );
            if row.kind() == EntryKind::File {
                assert_eq!(
                    file.encryption_key.as_ref().map(Vec::len),
                    Some(44),
                    "{row:?}"
                );
            }
        }
        let count =
            |f: fn(&MbFile) -> bool| rows.iter().filter(|r| f(r.file.as_ref().unwrap())).count();
        assert_eq!(count(|f| f.digest.is_some()), 477);
        assert_eq!(count(|f| f.extended_attributes.is_some()), 77);
        assert_eq!(count(|f| f.flags == Some(128)), 7);
    });
}

#[test]
fn every_mbfile_re_encodes_to_the_same_struct() {
    with_fixture(|root| {
        let db = ManifestDb::open(&root.join("Manifest.db")).unwrap();
        for raw in db.raw_rows().unwrap() {
            let original = raw.file.clone().unwrap();
            let decoded = MbFile::decode(&original).unwrap();
            assert_eq!(
                MbFile::decode(&decoded.encode()),
                Ok(decoded),
                "{}",
                raw.file_id
            );
        }
    });
}

/// Sorts dictionary keys recursively: Apple's key order is a hash order, everything else
/// (object order, UIDs, types, values) must match exactly.
fn canonical(value: plist::Value) -> plist::Value {
    match value {
        plist::Value::Dictionary(mut d) => {
            d.sort_keys();
            plist::Value::Dictionary(d.into_iter().map(|(k, v)| (k, canonical(v))).collect())
        }
        plist::Value::Array(a) => plist::Value::Array(a.into_iter().map(canonical).collect()),
        other => other,
    }
}

fn parse(bytes: &[u8]) -> plist::Value {
    canonical(plist::Value::from_reader(std::io::Cursor::new(bytes)).unwrap())
}

#[test]
fn encode_reproduces_apples_archive_structure() {
    with_fixture(|root| {
        let db = ManifestDb::open(&root.join("Manifest.db")).unwrap();
        for raw in db.raw_rows().unwrap() {
            let original = raw.file.unwrap();
            let ours = MbFile::decode(&original).unwrap().encode();
            assert_eq!(parse(&ours), parse(&original), "{}", raw.file_id);
        }
    });
}

#[test]
fn sms_db_row() {
    with_fixture(|root| {
        let rows = ManifestDb::open(&root.join("Manifest.db"))
            .unwrap()
            .rows()
            .unwrap();
        let sms = rows.iter().find(|r| r.file_id == SMS_DB_ID).unwrap();
        assert_eq!(
            (sms.domain.as_str(), sms.relative_path.as_str()),
            ("HomeDomain", "Library/SMS/sms.db")
        );
        assert_eq!(sms.kind(), EntryKind::File);
        let file = sms.file.as_ref().unwrap();
        assert_eq!(file.size, Some(278_528));
        assert_eq!(file.mode, Some(0o100644));
        assert_eq!(file.protection_class, Some(4));
        assert_eq!(file.digest.as_ref().map(Vec::len), Some(20));
        let key = file.encryption_key.as_ref().unwrap();
        assert_eq!(&key[..4], &[4, 0, 0, 0]);
    });
}

#[test]
fn from_plaintext_reads_the_same_rows() {
    with_fixture(|root| {
        let path = root.join("Manifest.db");
        let on_disk = ManifestDb::open(&path).unwrap().raw_rows().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let in_memory =
            ManifestDb::from_plaintext(bytes, Path::new("decrypted Manifest.db")).unwrap();
        assert_eq!(in_memory.raw_rows().unwrap(), on_disk);
    });
}

/// The real Manifest.db, encrypted as an encrypted backup keeps it, reads the same rows
/// through the decrypting VFS, however SQLite's page reads fall on cipher blocks; a wrong key
/// is told apart from a damaged file.
#[test]
fn open_encrypted_reads_the_same_rows() {
    use hearth_mobilesync::Error;
    use hearth_mobilesync::encryption::{CipherFile, encrypt};
    use std::io::Write;

    with_fixture(|root| {
        let path = root.join("Manifest.db");
        let on_disk = ManifestDb::open(&path).unwrap().raw_rows().unwrap();
        let key = [0x5a; 32];
        let cipher = encrypt(&key, &std::fs::read(&path).unwrap(), true).unwrap();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&cipher).unwrap();
        let open = |key: &[u8; 32]| {
            let file = CipherFile::new(file.try_clone().unwrap(), key, cipher.len() as u64);
            ManifestDb::open_encrypted(file.unwrap(), Path::new("encrypted Manifest.db"))
        };
        let decrypted = open(&key).unwrap();
        assert_eq!(decrypted.raw_rows().unwrap(), on_disk);
        let other = open(&key).unwrap();
        drop(decrypted);
        assert_eq!(
            other.raw_rows().unwrap().len(),
            on_disk.len(),
            "two at once"
        );
        // Without padding (pyiosbackup's encrypted Manifest.db has none): whole pages, all read.
        let unpadded = encrypt(&key, &std::fs::read(&path).unwrap(), false).unwrap();
        let mut bare = tempfile::tempfile().unwrap();
        bare.write_all(&unpadded).unwrap();
        let bare = CipherFile::new(bare, &key, unpadded.len() as u64).unwrap();
        let bare = ManifestDb::open_encrypted(bare, Path::new("unpadded Manifest.db")).unwrap();
        assert_eq!(bare.raw_rows().unwrap(), on_disk);
        let wrong = open(&[0x5b; 32]).unwrap_err();
        assert!(
            matches!(wrong, Error::ManifestDbUndecryptable { .. }),
            "{wrong}"
        );
    });
}
