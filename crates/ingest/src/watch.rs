//! Telling a device folder that changed while it was read.
//!
//! A snapshot is made only from a read during which the folder held still: Manifest.db and the
//! plists are the same files (same inode, size and mtime) after reading as before Hearth opened
//! them, and the folder walked again after reading holds the same files, each with the size,
//! mtime and mode it had at the first walk. (Each file read is also compared with the walk while
//! it is read, in `contents`.) A writer at work (Finder, idevicebackup2) replaces Manifest.db and
//! Status.plist and adds, rewrites and removes blobs, so it cannot go unnoticed unless it put
//! every file back exactly as it was.

use crate::walk::{FoundFile, mtime_ns};
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

/// The first difference between two walks of a folder (both sorted by path): a file that
/// appeared, disappeared, or has another size, mtime or mode. `None` when they are the same.
pub(crate) fn walks_differ(before: &[FoundFile], after: &[FoundFile]) -> Option<String> {
    let (mut a, mut b) = (before.iter().peekable(), after.iter().peekable());
    loop {
        let how = match (a.peek(), b.peek()) {
            (None, None) => return None,
            (Some(x), Some(y)) if x == y => {
                a.next();
                b.next();
                continue;
            }
            (Some(x), Some(y)) if x.path == y.path => {
                (x, "was written (its size or mtime changed)")
            }
            (Some(x), Some(y)) if x.path < y.path => (x, "disappeared"),
            (Some(_), Some(y)) => (y, "appeared"),
            (Some(x), None) => (x, "disappeared"),
            (None, Some(y)) => (y, "appeared"),
        };
        return Some(format!("{} {}", how.0.path, how.1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(path: &str, size: u64) -> FoundFile {
        FoundFile {
            path: path.into(),
            size,
            mtime_ns: 7,
            mode: 0o644,
        }
    }

    #[test]
    fn walks_name_the_first_file_that_differs() {
        let before = [f("Info.plist", 1), f("ab/ab01", 5), f("cd/cd02", 9)];
        assert_eq!(walks_differ(&before, &before), None);
        let cases = [
            (
                vec![f("Info.plist", 1), f("cd/cd02", 9)],
                "ab/ab01 disappeared",
            ),
            (
                vec![
                    f("Info.plist", 1),
                    f("ab/ab01", 5),
                    f("ab/ab02", 1),
                    f("cd/cd02", 9),
                ],
                "ab/ab02 appeared",
            ),
            (
                vec![f("Info.plist", 1), f("ab/ab01", 6), f("cd/cd02", 9)],
                "ab/ab01 was written (its size or mtime changed)",
            ),
            (
                vec![f("Info.plist", 1), f("ab/ab01", 5)],
                "cd/cd02 disappeared",
            ),
            (
                vec![
                    f("Info.plist", 1),
                    f("ab/ab01", 5),
                    f("cd/cd02", 9),
                    f("ef", 0),
                ],
                "ef appeared",
            ),
        ];
        for (after, what) in cases {
            assert_eq!(walks_differ(&before, &after).as_deref(), Some(what));
        }
    }

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
