//! Telling a device folder that changed while it was read.
//!
//! A snapshot is made only from a read during which the folder held still: Manifest.db and the
//! plists are the same files (same inode, size and mtime) after reading as before Hearth opened
//! them, and the folder walked again after reading holds the same files, each with the size,
//! mtime and mode it had at the first walk. (Each file read is also compared with the walk while
//! it is read, in `contents`.) A writer at work (Finder, idevicebackup2) replaces Manifest.db and
//! Status.plist and adds, rewrites and removes blobs, so it cannot go unnoticed unless it put
//! every file back exactly as it was.

use crate::walk::mtime_ns;
use hearth_mobilesync::{INFO_PLIST, MANIFEST_DB, MANIFEST_PLIST, STATUS_PLIST};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The files that say what a device backup is.
const KEY_FILES: [&str; 4] = [MANIFEST_DB, STATUS_PLIST, INFO_PLIST, MANIFEST_PLIST];

/// Which file a name is, and which version of it: its inode, size and mtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
}

/// Manifest.db and the plists of a device folder as they are at one moment (`None`: absent, or
/// not to be looked at).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyFiles([Option<Stamp>; 4]);

impl KeyFiles {
    pub fn now(folder: &Path) -> KeyFiles {
        KeyFiles(KEY_FILES.map(|name| {
            let meta = std::fs::symlink_metadata(folder.join(name)).ok()?;
            Some(Stamp {
                dev: meta.dev(),
                ino: meta.ino(),
                size: meta.len(),
                mtime_ns: mtime_ns(&meta),
            })
        }))
    }

    /// What differs in `self` (later) from `before`, the first key file that does: `None` when
    /// none.
    pub fn changed_since(&self, before: &KeyFiles) -> Option<String> {
        KEY_FILES
            .iter()
            .zip(before.0.iter().zip(&self.0))
            .find_map(|(name, (was, now))| {
                let how = match (was, now) {
                    (None, Some(_)) => "appeared",
                    (Some(_), None) => "disappeared",
                    (Some(a), Some(b)) if (a.dev, a.ino) != (b.dev, b.ino) => "was replaced",
                    (Some(a), Some(b)) if a != b => "was written (its size or mtime changed)",
                    _ => return None,
                };
                Some(format!("{name} {how}"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_tell_a_replaced_a_written_and_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join(MANIFEST_DB);
        std::fs::write(&db, b"one").unwrap();
        let before = KeyFiles::now(dir.path());
        assert_eq!(KeyFiles::now(dir.path()).changed_since(&before), None);

        let status = dir.path().join(STATUS_PLIST);
        std::fs::write(&status, b"s").unwrap();
        let now = KeyFiles::now(dir.path());
        assert_eq!(
            now.changed_since(&before).as_deref(),
            Some("Status.plist appeared")
        );

        let tmp = dir.path().join("new");
        std::fs::write(&tmp, b"one").unwrap();
        let same_time = std::fs::metadata(&db).unwrap().modified().unwrap();
        std::fs::File::options()
            .write(true)
            .open(&tmp)
            .unwrap()
            .set_modified(same_time)
            .unwrap();
        std::fs::rename(&tmp, &db).unwrap();
        assert_eq!(
            KeyFiles::now(dir.path()).changed_since(&now).as_deref(),
            Some("Manifest.db was replaced"),
            "same size and mtime, another file"
        );

        let now = KeyFiles::now(dir.path());
        std::fs::write(&status, b"longer").unwrap();
        assert_eq!(
            KeyFiles::now(dir.path()).changed_since(&now).as_deref(),
            Some("Status.plist was written (its size or mtime changed)")
        );
    }
}
