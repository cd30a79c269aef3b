//! What a served tree (`hearth mount`, `hearth webdav`) must show of a snapshot, read straight
//! from the source device folder (rusqlite and plist, not Hearth): each Manifest.db file row at
//! `<Domain>/<relative path>` with its blob's bytes and its MBFile's `LastModified`, and the
//! folder's own files beside them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// The backup folder's own files, at the root of a snapshot's folder.
pub const OWN_FILES: [&str; 4] = [
    "Info.plist",
    "Manifest.db",
    "Manifest.plist",
    "Status.plist",
];

pub struct SourceFile {
    /// The blob in the source folder: `<fileID[..2]>/<fileID>`.
    pub blob: PathBuf,
    /// `LastModified` of the row's MBFile, in Unix seconds.
    pub mtime: Option<i64>,
}

/// The file rows (flags 1) of an unencrypted device folder's Manifest.db, by
/// `<Domain>/<relative path>`.
pub fn source_files(device: &Path) -> BTreeMap<String, SourceFile> {
    let uri = format!(
        "file:{}?mode=ro&immutable=1",
        device.join("Manifest.db").display()
    );
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI;
    let db = rusqlite::Connection::open_with_flags(&uri, flags).expect("source Manifest.db");
    let mut stmt = db
        .prepare("SELECT fileID, domain, relativePath, file FROM Files WHERE flags = 1")
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<Vec<u8>>>(3)?,
            ))
        })
        .unwrap();
    let mut files = BTreeMap::new();
    for row in rows {
        let (id, domain, relative, mbfile) = row.unwrap();
        let file = SourceFile {
            blob: device.join(&id[..2]).join(&id),
            mtime: mbfile.as_deref().and_then(last_modified),
        };
        files.insert(format!("{domain}/{relative}"), file);
    }
    assert!(!files.is_empty(), "{} lists no files", device.display());
    files
}

/// `LastModified` of an NSKeyedArchiver MBFile.
fn last_modified(mbfile: &[u8]) -> Option<i64> {
    let v = plist::Value::from_reader(std::io::Cursor::new(mbfile)).ok()?;
    let objects = v.as_dictionary()?.get("$objects")?.as_array()?;
    objects.iter().find_map(|o| {
        let t = o.as_dictionary()?.get("LastModified")?;
        t.as_signed_integer()
            .or_else(|| t.as_real().map(|r| r as i64))
    })
}

/// Every file under `dir`, as `/`-separated paths relative to it.
pub fn files_under(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((d, prefix)) = stack.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for e in entries {
            let e = e.unwrap();
            let name = e.file_name().into_string().expect("utf-8 names");
            let rel = format!("{prefix}{name}");
            if e.file_type().unwrap().is_dir() {
                stack.push((e.path(), format!("{rel}/")));
            } else {
                out.insert(rel);
            }
        }
    }
    out
}

/// How [`assert_serves`] compares a snapshot's folder with its source.
pub struct Expect<'a> {
    /// The device folder the snapshot was taken of (or its unencrypted twin).
    pub source: &'a Path,
    /// Compare the folder's own files byte for byte (not for an encrypted source, whose
    /// Manifest.db and plists differ from its twin's).
    pub own_bytes: bool,
    /// Compare the times to the second (rclone keeps them; a mount shows them).
    pub mtimes: bool,
}

/// Asserts that `served` holds exactly the source's files, each with the source's bytes
/// (and time); returns how many files it compared.
pub fn assert_serves(served: &Path, expect: &Expect<'_>) -> usize {
    let files = source_files(expect.source);
    let mut want: BTreeSet<String> = files.keys().cloned().collect();
    want.extend(OWN_FILES.iter().map(|f| f.to_string()));
    let got = files_under(served);
    let missing: Vec<_> = want.difference(&got).take(5).collect();
    let extra: Vec<_> = got.difference(&want).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} against {}: missing {missing:?}, not in the source {extra:?}",
        served.display(),
        expect.source.display()
    );
    for (path, f) in &files {
        let at = served.join(path);
        let bytes = std::fs::read(&at).unwrap_or_else(|e| panic!("{}: {e}", at.display()));
        let source = std::fs::read(&f.blob).unwrap();
        assert!(
            bytes == source,
            "{path}: the bytes differ from the source's"
        );
        if let (true, Some(t)) = (expect.mtimes, f.mtime) {
            let modified = std::fs::metadata(&at).unwrap().modified().unwrap();
            let secs = match modified.duration_since(UNIX_EPOCH) {
                Ok(d) => d.as_secs() as i64,
                Err(e) => -(e.duration().as_secs_f64().ceil() as i64),
            };
            assert_eq!(secs, t, "{path}: mtime");
        }
    }
    if expect.own_bytes {
        for name in OWN_FILES {
            let (a, b) = (served.join(name), expect.source.join(name));
            assert!(
                std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
                "{name}: the bytes differ from the source's"
            );
        }
    }
    files.len() + OWN_FILES.len()
}
