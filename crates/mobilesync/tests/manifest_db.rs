//! Manifest.db and device folders built in temp directories: the writer/reader round trip,
//! read-only sources, and bad input whose errors must name the file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use hearth_mobilesync::{
    DeviceFolder, DeviceInfo, EntryKind, Error, FileId, ManifestDb, ManifestDbWriter, ManifestRow,
    MbFile, MbFileError, UdidSource, write_plist_binary,
};

fn file_row(domain: &str, path: &str, size: u64) -> (String, String, String, i64, MbFile) {
    let file = MbFile {
        relative_path: Some(path.to_owned()),
        last_modified: Some(1_700_000_000),
        last_status_change: Some(1_700_000_001),
        birth: Some(1_600_000_000),
        size: Some(size),
        mode: Some(0o100644),
        user_id: Some(501),
        group_id: Some(501),
        inode_number: Some(42),
        flags: Some(0),
        protection_class: Some(3),
        ..MbFile::default()
    };
    let id = FileId::for_path(domain, path).to_string();
    (id, domain.to_owned(), path.to_owned(), 1, file)
}

fn sample_rows() -> Vec<(String, String, String, i64, MbFile)> {
    let mut dir = file_row("HomeDomain", "Library", 0);
    dir.3 = 2;
    dir.4.mode = Some(0o040755);
    let mut link = file_row("DatabaseDomain", "timezone/localtime", 0);
    link.3 = 4;
    link.4.mode = Some(0o120755);
    link.4.target = Some("/var/db/timezone/zoneinfo/Europe/London".to_owned());
    let mut root = file_row("HomeDomain", "", 0);
    root.3 = 2;
    root.4.mode = Some(0o040755);
    let mut sms = file_row("HomeDomain", "Library/SMS/sms.db", 278_528);
    sms.4.encryption_key = Some(vec![4, 0, 0, 0, 9, 9]);
    sms.4.digest = Some(vec![7; 20]);
    vec![
        sms,
        dir,
        link,
        root,
        file_row("MediaDomain", "Media/Recordings/a b?#%.m4a", 12),
    ]
}

fn write_db(path: &Path) -> Vec<ManifestRow> {
    let mut writer = ManifestDbWriter::create(path).unwrap();
    let mut expected = Vec::new();
    for (id, domain, rel, flags, file) in sample_rows() {
        writer.insert(&id, &domain, &rel, flags, &file).unwrap();
        expected.push(ManifestRow {
            file_id: id,
            domain,
            relative_path: rel,
            flags,
            file: Ok(file),
        });
    }
    writer
        .insert_raw(&"f".repeat(40), "HomeDomain", "broken", 0, b"not a plist")
        .unwrap();
    writer.finish().unwrap();
    expected.sort_by(|a, b| a.file_id.cmp(&b.file_id));
    expected
}

fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn writer_then_reader_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("Manifest.db");
    let expected = write_db(&path);
    assert_eq!(
        names(tmp.path()),
        BTreeSet::from(["Manifest.db".to_owned()]),
        "no journal left"
    );

    let db = ManifestDb::open(&path).unwrap();
    assert_eq!(db.row_count().unwrap(), 6);
    let rows = db.rows().unwrap();
    let (broken, good): (Vec<_>, Vec<_>) =
        rows.into_iter().partition(|r| r.relative_path == "broken");
    assert_eq!(good, expected);
    assert!(
        matches!(broken[0].file, Err(MbFileError::NotPlist(_))),
        "{:?}",
        broken[0]
    );
    assert_eq!(broken[0].kind(), EntryKind::Unknown);

    let in_memory = ManifestDb::from_plaintext(std::fs::read(&path).unwrap(), &path).unwrap();
    assert_eq!(in_memory.rows().unwrap(), db.rows().unwrap());
    assert_eq!(in_memory.raw_rows().unwrap(), db.raw_rows().unwrap());
}

#[test]
fn writer_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("Manifest.db");
    std::fs::write(&path, b"precious").unwrap();
    let err = ManifestDbWriter::create(&path).unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    assert!(err.to_string().contains("Manifest.db"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
}

#[test]
fn writer_rejects_duplicate_file_ids_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("Manifest.db");
    let mut writer = ManifestDbWriter::create(&path).unwrap();
    writer.insert_raw("ab", "D", "p", 1, b"").unwrap();
    let err = writer.insert_raw("ab", "D", "p", 1, b"").unwrap_err();
    assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
}

#[test]
fn properties_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("Manifest.db");
    let mut writer = ManifestDbWriter::create(&path).unwrap();
    writer.insert_property("salt", &[1, 2, 3]).unwrap();
    writer.finish().unwrap();
    let db = ManifestDb::open(&path).unwrap();
    assert_eq!(
        db.properties().unwrap(),
        vec![("salt".to_owned(), vec![1, 2, 3])]
    );
}

/// Makes `dir` read-only; returns false when permissions are not enforced (running as root).
fn make_read_only(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let probe = dir.join("probe");
    match std::fs::write(&probe, b"") {
        Ok(()) => {
            std::fs::remove_file(&probe).unwrap();
            false
        }
        Err(_) => true,
    }
}

fn make_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn reads_from_a_read_only_folder_without_creating_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dev ice?#%");
    std::fs::create_dir(&dir).unwrap();
    let path = dir.join("Manifest.db");
    let expected = write_db(&path);
    let before = names(&dir);
    let enforced = make_read_only(&dir);
    if !enforced {
        eprintln!("note: permissions are not enforced (root); checking only that no file appears");
    }
    let db = ManifestDb::open(&path).unwrap();
    let rows = db.rows().unwrap();
    assert_eq!(names(&dir), before, "open+read created a file");
    drop(db);
    assert_eq!(names(&dir), before, "close created or left a file");
    make_writable(&dir);
    assert_eq!(rows.len(), expected.len() + 1);
}

/// Apple's Manifest.db is in WAL mode. Opening it must not create -wal/-shm files, and the
/// in-memory reader must cope with the WAL header.
#[test]
fn wal_mode_database_opens_without_side_files() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("Manifest.db");
    write_db(&path);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!((bytes[18], bytes[19]), (2, 2), "header says WAL");
    let before = names(tmp.path());
    assert_eq!(before, BTreeSet::from(["Manifest.db".to_owned()]));

    let db = ManifestDb::open(&path).unwrap();
    assert_eq!(db.rows().unwrap().len(), 6);
    assert_eq!(names(tmp.path()), before);
    drop(db);
    assert_eq!(names(tmp.path()), before);
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "file unchanged");

    let in_memory = ManifestDb::from_plaintext(bytes, &path).unwrap();
    assert_eq!(in_memory.rows().unwrap().len(), 6);
}

fn assert_names(err: &Error, path: &Path) {
    let msg = err.to_string();
    assert!(
        msg.starts_with(&*path.to_string_lossy()),
        "{msg:?} should start with {path:?}"
    );
}

#[test]
fn random_bytes_are_not_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("Manifest.db");
    let random: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &random).unwrap();
    let err = ManifestDb::open(&path).unwrap_err();
    assert!(matches!(err, Error::NotSqlite { .. }), "{err}");
    assert_names(&err, &path);
    assert!(
        err.to_string()
            .contains("not an SQLite database (it may be encrypted"),
        "{err}"
    );

    let err = ManifestDb::from_plaintext(random, &path).unwrap_err();
    assert!(matches!(err, Error::NotSqlite { .. }), "{err}");
    let err = ManifestDb::from_plaintext(Vec::new(), &path).unwrap_err();
    assert!(matches!(err, Error::NotSqlite { .. }), "{err}");
}

#[test]
fn sqlite_magic_with_garbage_is_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("Manifest.db");
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.extend((0..8192u32).map(|i| (i.wrapping_mul(40_503) >> 7) as u8));
    std::fs::write(&path, &bytes).unwrap();
    let err = ManifestDb::open(&path).unwrap_err();
    assert!(matches!(err, Error::CorruptManifestDb { .. }), "{err}");
    assert_names(&err, &path);
    assert_eq!(
        names(tmp.path()),
        BTreeSet::from(["Manifest.db".to_owned()])
    );

    let err = ManifestDb::from_plaintext(bytes, &path).unwrap_err();
    assert!(matches!(err, Error::CorruptManifestDb { .. }), "{err}");
    assert_names(&err, &path);
}

#[test]
fn sqlite_without_files_table_is_not_a_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("Manifest.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE Other (x)")
        .unwrap();
    let err = ManifestDb::open(&path).unwrap_err();
    assert!(matches!(err, Error::NotManifestDb { .. }), "{err}");
    assert_names(&err, &path);
    assert!(err.to_string().contains("no Files table"), "{err}");
}

#[test]
fn lower_case_types_and_odd_values_are_tolerated() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("Manifest.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE files (fileid text primary key, domain text, relativepath text, flags integer, file blob);
         INSERT INTO files VALUES ('a', NULL, 7, 'x', NULL);",
    )
    .unwrap();
    drop(conn);
    let rows = ManifestDb::open(&path).unwrap().rows().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (
            rows[0].domain.as_str(),
            rows[0].relative_path.as_str(),
            rows[0].flags
        ),
        ("", "7", 0)
    );
    assert_eq!(rows[0].file, Err(MbFileError::Missing));
    assert_eq!(rows[0].kind(), EntryKind::Unknown);
}

#[test]
fn missing_manifest_db_is_not_found() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("Manifest.db");
    let err = ManifestDb::open(&path).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    assert_names(&err, &path);
}

fn device_dir(tmp: &Path) -> PathBuf {
    let dir = tmp.join("00008030-001A35E11A88003A");
    std::fs::create_dir(&dir).unwrap();
    dir
}

#[test]
fn truncated_info_plist_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = device_dir(tmp.path());
    let info = DeviceInfo {
        udid: "00008030-001A35E11A88003A".into(),
        ..DeviceInfo::default()
    };
    let full = dir.join("full.plist");
    write_plist_binary(&full, &info.to_plist()).unwrap();
    let bytes = std::fs::read(&full).unwrap();
    std::fs::remove_file(&full).unwrap();
    let info_path = dir.join("Info.plist");
    std::fs::write(&info_path, &bytes[..bytes.len() - 20]).unwrap();
    let err = DeviceFolder::open(&dir).unwrap_err();
    assert!(matches!(err, Error::NotPlist { .. }), "{err}");
    assert_names(&err, &info_path);
    assert!(
        err.to_string()
            .contains("not a property list (truncated or corrupt)"),
        "{err}"
    );
}

#[test]
fn non_plist_info_plist_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = device_dir(tmp.path());
    let info_path = dir.join("Info.plist");
    std::fs::write(&info_path, [0x00, 0xff, 0x13, 0x37, 0xde, 0xad, 0xbe, 0xef]).unwrap();
    let err = DeviceFolder::open(&dir).unwrap_err();
    assert_names(&err, &info_path);
    assert!(
        matches!(err, Error::NotPlist { .. } | Error::NotDictionary { .. }),
        "{err}"
    );
}

#[test]
fn info_plist_without_udid_takes_the_folder_name_or_names_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = device_dir(tmp.path());
    let mut dict = DeviceInfo::default().to_plist();
    dict.remove("Unique Identifier");
    dict.remove("Target Identifier");
    write_plist_binary(&dir.join("Info.plist"), &dict).unwrap();
    let device = DeviceFolder::open(&dir).unwrap();
    assert_eq!(
        device.udid().unwrap(),
        (
            "00008030-001A35E11A88003A".to_string(),
            UdidSource::FolderName
        )
    );

    let other = tmp.path().join("my backup");
    std::fs::rename(&dir, &other).unwrap();
    let err = DeviceFolder::open(&other).unwrap().udid().unwrap_err();
    assert!(matches!(err, Error::NoUdid { .. }), "{err}");
    assert_names(&err, &other);
}

#[test]
fn mbdb_only_folder_is_legacy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = device_dir(tmp.path());
    std::fs::write(dir.join("Manifest.mbdb"), b"mbdb\x05\x00").unwrap();
    let err = DeviceFolder::open(&dir).unwrap_err();
    assert!(matches!(err, Error::LegacyMbdb { .. }), "{err}");
    assert_names(&err, &dir);
    assert!(err.to_string().contains("Manifest.mbdb"), "{err}");
    // It is still found as a device folder, so the user gets this message rather than "no backup".
    assert_eq!(
        hearth_mobilesync::find_device_folders(tmp.path()).unwrap(),
        vec![dir]
    );
}
