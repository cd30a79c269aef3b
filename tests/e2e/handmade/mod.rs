//! Device folders built by hand, row by row, for the end-to-end tests that need exact control
//! over a backup: hostile Manifest.db rows, missing or short blobs, content of a known
//! compressibility. Also a few folder helpers (repository size, every path under a folder).
#![allow(dead_code)]

use hearth_testkit::bytes::noise;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use hearth_mobilesync::{
    DeviceInfo, FileId, MANIFEST_DB, ManifestDbWriter, ManifestInfo, MbFile, StatusInfo,
    write_plist_binary,
};

/// Mode bits of a regular file and a directory as Apple records them.
pub const MODE_FILE: u32 = 0o100644;
pub const MODE_DIR: u32 = 0o40755;

/// One Manifest.db row, written as given (no validation).
#[derive(Debug, Clone)]
pub struct Row {
    pub file_id: String,
    pub domain: String,
    pub relative_path: String,
    pub flags: i64,
    pub file: MbFile,
}

/// A device folder under construction: Info.plist, Manifest.plist and Status.plist are written
/// by [`HandDevice::new`], blobs as they are added, Manifest.db by [`HandDevice::finish`].
pub struct HandDevice {
    pub folder: PathBuf,
    pub udid: String,
    pub name: String,
    pub rows: Vec<Row>,
}

impl HandDevice {
    /// `<parent>/<udid>/` with the three plists of an unencrypted iOS 17 iPhone backup.
    pub fn new(parent: &Path, udid: &str, name: &str) -> HandDevice {
        let folder = parent.join(udid);
        std::fs::create_dir_all(&folder).expect("create device folder");
        write_info_plist(&folder.join("Info.plist"), udid, name);
        let manifest = ManifestInfo {
            is_encrypted: false,
            version: Some("10.0".into()),
            lockdown_product_version: Some("17.4".into()),
            lockdown_product_type: Some("iPhone14,5".into()),
            lockdown_device_name: Some(name.into()),
            lockdown_udid: Some(udid.into()),
            ..ManifestInfo::default()
        };
        write_plist_binary(&folder.join("Manifest.plist"), &manifest.to_plist())
            .expect("write Manifest.plist");
        let status = StatusInfo {
            snapshot_state: Some("finished".into()),
            is_full_backup: Some(false),
            version: Some("3.3".into()),
            ..StatusInfo::default()
        };
        write_plist_binary(&folder.join("Status.plist"), &status.to_plist())
            .expect("write Status.plist");
        HandDevice {
            folder,
            udid: udid.into(),
            name: name.into(),
            rows: Vec::new(),
        }
    }

    /// A regular file: its row (Size = content length) and its blob.
    pub fn file(&mut self, domain: &str, relative_path: &str, content: &[u8]) -> &mut Self {
        let id = FileId::for_path(domain, relative_path);
        self.blob(id.as_str(), content);
        self.row(id.as_str(), domain, relative_path, 1, content.len() as u64)
    }

    /// A directory row (no blob).
    pub fn dir(&mut self, domain: &str, relative_path: &str) -> &mut Self {
        let file = MbFile {
            size: Some(0),
            mode: Some(MODE_DIR),
            last_modified: Some(1_700_000_000),
            ..MbFile::default()
        };
        self.rows.push(Row {
            file_id: FileId::for_path(domain, relative_path).as_str().into(),
            domain: domain.into(),
            relative_path: relative_path.into(),
            flags: 2,
            file,
        });
        self
    }

    /// A row exactly as given, recording `size` bytes; no blob is written.
    pub fn row(
        &mut self,
        file_id: &str,
        domain: &str,
        relative_path: &str,
        flags: i64,
        size: u64,
    ) -> &mut Self {
        let file = MbFile {
            relative_path: Some(relative_path.into()),
            size: Some(size),
            mode: Some(MODE_FILE),
            last_modified: Some(1_700_000_000),
            protection_class: Some(3),
            ..MbFile::default()
        };
        self.rows.push(Row {
            file_id: file_id.into(),
            domain: domain.into(),
            relative_path: relative_path.into(),
            flags,
            file,
        });
        self
    }

    /// A blob at `<fileID[0..2]>/<fileID>` with no row.
    pub fn blob(&mut self, file_id: &str, content: &[u8]) -> &mut Self {
        let path = self.folder.join(&file_id[..2]).join(file_id);
        std::fs::create_dir_all(path.parent().unwrap()).expect("create blob folder");
        std::fs::write(&path, content).expect("write blob");
        self
    }

    /// Writes Manifest.db from the rows; returns the device folder.
    pub fn finish(&mut self) -> PathBuf {
        let mut db = ManifestDbWriter::create(&self.folder.join(MANIFEST_DB)).expect("create db");
        for r in &self.rows {
            db.insert(&r.file_id, &r.domain, &r.relative_path, r.flags, &r.file)
                .expect("insert row");
        }
        db.finish().expect("commit Manifest.db");
        self.folder.clone()
    }
}

/// Status.plist as the device writes it at the end (or, with another `state`, in the middle)
/// of a Finder or idevicebackup2 backup: BackupState, Date, IsFullBackup, SnapshotState, UUID
/// and Version 3.3, binary (XML when `xml`).
pub fn write_status(folder: &Path, state: &str, date: u64, uuid: &str, xml: bool) {
    let status = StatusInfo {
        snapshot_state: Some(state.into()),
        is_full_backup: Some(false),
        version: Some("3.3".into()),
        backup_state: Some("new".into()),
        date: Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(date)),
        uuid: Some(uuid.into()),
    };
    let path = folder.join("Status.plist");
    let written = if xml {
        hearth_mobilesync::write_plist_xml(&path, &status.to_plist())
    } else {
        write_plist_binary(&path, &status.to_plist())
    };
    written.expect("write Status.plist");
}

/// A binary Info.plist naming the device.
pub fn write_info_plist(path: &Path, udid: &str, name: &str) {
    let info = DeviceInfo {
        udid: udid.into(),
        device_name: name.into(),
        product_type: "iPhone14,5".into(),
        product_name: Some("iPhone".into()),
        product_version: "17.4".into(),
        build_version: "21E219".into(),
        ..DeviceInfo::default()
    };
    write_plist_binary(path, &info.to_plist()).expect("write Info.plist");
}

/// A small complete device ("Good iPhone"): a few files, directories and a SQLite database.
pub fn good_device(parent: &Path, udid: &str) -> HandDevice {
    let mut d = HandDevice::new(parent, udid, "Good iPhone");
    d.dir("HomeDomain", "")
        .dir("HomeDomain", "Library")
        .file(
            "HomeDomain",
            "Library/Preferences/com.apple.x.plist",
            &text(7, 900),
        )
        .file("HomeDomain", "Library/Notes/notes.txt", &text(8, 40_000))
        .file(
            "CameraRollDomain",
            "Media/DCIM/100APPLE/IMG_0001.HEIC",
            &noise(9, 70_000),
        )
        .file("HomeDomain", "Library/Empty", b"");
    d.finish();
    d
}

/// `len` bytes of English-looking text built from a seeded choice of words: compresses well,
/// but is not one repeated run.
pub fn text(seed: u64, len: usize) -> Vec<u8> {
    const WORDS: [&str; 24] = [
        "the", "photo", "message", "from", "mum", "about", "dinner", "tonight", "at", "seven",
        "please", "bring", "bread", "and", "milk", "school", "trip", "on", "friday", "call", "me",
        "when", "you", "arrive",
    ];
    let r = noise(seed, len);
    let mut out = Vec::with_capacity(len + 16);
    let mut i = 0;
    while out.len() < len {
        out.extend_from_slice(WORDS[r[i % r.len()] as usize % WORDS.len()].as_bytes());
        out.push(if r[(i + 1) % r.len()].is_multiple_of(11) {
            b'\n'
        } else {
            b' '
        });
        i += 2;
    }
    out.truncate(len);
    out
}

/// Sum of the sizes of every file under `dir`.
pub fn dir_bytes(dir: &Path) -> u64 {
    all_paths(dir)
        .iter()
        .map(|p| std::fs::symlink_metadata(dir.join(p)).unwrap())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// Every file, folder and link under `dir`, relative to it.
pub fn all_paths(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if std::fs::symlink_metadata(&path).unwrap().is_dir() {
                todo.push(path.clone());
            }
            out.insert(path.strip_prefix(dir).unwrap().to_path_buf());
        }
    }
    out
}

/// Paths under `dir` that SQLite's journal or WAL modes would leave beside a database.
pub fn sqlite_side_files(dir: &Path) -> Vec<PathBuf> {
    all_paths(dir)
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            ["-wal", "-shm", "-journal"]
                .iter()
                .any(|s| name.ends_with(s))
        })
        .collect()
}
