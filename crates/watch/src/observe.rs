//! Looking at folders: which device folders a watched folder holds, what a device folder's
//! Status.plist says, which device backup it holds, and a fingerprint of all its files.

use hearth_mobilesync::{Error, MANIFEST_DB, STATUS_PLIST, StatusInfo, find_device_folders};
use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What identifies one device backup: Status.plist's UUID and Date (new at every backup) and
/// Manifest.db's size and mtime (written at every backup). The same mark is the same backup.
/// No inode or device number: a disk plugged in again holds the same backups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupMark {
    pub uuid: Option<String>,
    pub date: Option<SystemTime>,
    pub manifest_db: Option<(u64, SystemTime)>,
}

/// A device folder at rest, as its plists say.
#[derive(Debug, Clone)]
pub struct Look {
    /// Why its backup is not finished; `None` when Status.plist says `finished`.
    pub unfinished: Option<String>,
    pub mark: BackupMark,
}

/// All the files of a device folder, cheaply: how many, and a hash of each one's path, size,
/// mtime and inode, added up (so the order they are listed in does not matter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub files: u64,
    pub hash: u64,
}

/// A watched folder as a scan found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Its device folders (none yet, maybe), and which folder it is (device, inode): a folder
    /// removed and made again is another one, to be watched again.
    Present {
        devices: Vec<PathBuf>,
        id: (u64, u64),
    },
    /// Not there, or not a folder that can be read: why.
    Missing(String),
}

/// The device folders of `root`, which is a MobileSync `Backup` folder or one device folder
/// (as `hearth backup` takes them); a folder with none yet is present with none.
pub fn scan(root: &Path) -> Found {
    let id = match std::fs::metadata(root) {
        Ok(m) if m.is_dir() => (m.dev(), m.ino()),
        Ok(_) => return Found::Missing("not a folder".into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Found::Missing("does not exist".into());
        }
        Err(e) => return Found::Missing(e.to_string()),
    };
    match find_device_folders(root) {
        Ok(devices) => Found::Present { devices, id },
        Err(Error::NoDeviceFolder { .. }) => Found::Present {
            devices: Vec::new(),
            id,
        },
        Err(Error::NotFound { .. }) => Found::Missing("does not exist".into()),
        Err(e) => Found::Missing(e.to_string()),
    }
}

/// What `folder`'s Status.plist says, read with the bounded reader of `hearth-mobilesync`.
pub fn look(folder: &Path) -> Look {
    let status = StatusInfo::read(&folder.join(STATUS_PLIST));
    let unfinished = match &status {
        Ok(s) if s.is_finished() => None,
        Ok(s) => Some(match &s.snapshot_state {
            Some(state) => format!("Status.plist says SnapshotState {state:?}, not \"finished\""),
            None => "Status.plist has no SnapshotState".to_string(),
        }),
        Err(Error::NotFound { .. }) => Some("no Status.plist yet".to_string()),
        Err(e) => Some(e.to_string()),
    };
    let status = status.unwrap_or_default();
    let manifest_db = std::fs::metadata(folder.join(MANIFEST_DB))
        .and_then(|m| Ok((m.len(), m.modified()?)))
        .ok();
    Look {
        unfinished,
        mark: BackupMark {
            uuid: status.uuid,
            date: status.date,
            manifest_db,
        },
    }
}

/// The fingerprint of every file under `folder` (symbolic links not followed; what cannot be
/// listed counts as nothing).
pub fn fingerprint(folder: &Path) -> Fingerprint {
    let mut fp = Fingerprint { files: 0, hash: 0 };
    let mut pending = vec![folder.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                pending.push(entry.path());
            }
            let mut h = std::hash::DefaultHasher::new();
            (
                entry.path(),
                meta.len(),
                meta.mtime(),
                meta.mtime_nsec(),
                meta.ino(),
            )
                .hash(&mut h);
            fp.files += 1;
            fp.hash = fp.hash.wrapping_add(h.finish());
        }
    }
    fp
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_mobilesync::write_plist_binary;

    fn status(folder: &Path, state: &str, uuid: &str) {
        let s = StatusInfo {
            snapshot_state: Some(state.into()),
            uuid: Some(uuid.into()),
            ..StatusInfo::default()
        };
        write_plist_binary(&folder.join(STATUS_PLIST), &s.to_plist()).unwrap();
    }

    #[test]
    fn a_look_tells_a_finished_backup_and_its_mark() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path();
        let look1 = look(f);
        assert_eq!(look1.unfinished.as_deref(), Some("no Status.plist yet"));
        status(f, "uploading", "A");
        let why = look(f).unfinished.unwrap();
        assert_eq!(
            why,
            "Status.plist says SnapshotState \"uploading\", not \"finished\""
        );
        std::fs::write(f.join(MANIFEST_DB), b"db").unwrap();
        status(f, "finished", "A");
        let a = look(f);
        assert!(a.unfinished.is_none());
        assert_eq!(a.mark.uuid.as_deref(), Some("A"));
        assert_eq!(look(f).mark, a.mark);
        status(f, "finished", "B");
        assert_ne!(look(f).mark, a.mark);
        std::fs::write(f.join(STATUS_PLIST), b"bplist00 truncated").unwrap();
        assert!(look(f).unfinished.unwrap().contains("Status.plist"));
    }

    #[test]
    fn a_fingerprint_changes_with_any_file_and_a_scan_finds_devices_or_says_why_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("Backup");
        assert_eq!(scan(&root), Found::Missing("does not exist".into()));
        std::fs::create_dir(&root).unwrap();
        assert!(matches!(scan(&root), Found::Present { devices, .. } if devices.is_empty()));
        let phone = root.join("PHONE");
        std::fs::create_dir_all(phone.join("ab")).unwrap();
        std::fs::write(phone.join("Info.plist"), b"x").unwrap();
        assert!(
            matches!(scan(&root), Found::Present { devices, .. } if devices == [phone.clone()])
        );
        assert!(
            matches!(scan(&phone), Found::Present { devices, .. } if devices == [phone.clone()])
        );

        let before = fingerprint(&phone);
        assert_eq!(before.files, 2);
        assert_eq!(fingerprint(&phone), before);
        std::fs::write(phone.join("ab/abcd"), b"blob").unwrap();
        let grown = fingerprint(&phone);
        assert_ne!(grown, before);
        std::fs::write(phone.join("ab/abcd"), b"blob, longer").unwrap();
        assert_ne!(fingerprint(&phone), grown);
    }
}
