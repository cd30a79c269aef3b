//! The files of a device folder, as found on disk.

use crate::error::IngestError;
use hearth_format::Warning;
use hearth_format::codec::fits_string;
use hearth_format::entry::{is_safe_path, join_mtime};
use hearth_mobilesync::is_macos_junk;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A regular file of the device folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundFile {
    /// `/`-separated, relative to the device folder; always a safe path that fits a `string`.
    pub path: String,
    pub size: u64,
    /// Unix nanoseconds, exact for any time the file system holds (before 1970 too).
    pub mtime_ns: i128,
    pub mode: u32,
}

impl FoundFile {
    /// `path` as `meta` (of the file itself, never of a link's target) describes it.
    pub fn new(path: String, meta: &fs::Metadata) -> FoundFile {
        FoundFile {
            path,
            size: meta.len(),
            mtime_ns: mtime_ns(meta),
            mode: meta.mode() & 0o7777,
        }
    }
}

/// Every regular file under `root`, in path order, one folder's listing in memory per level
/// (never the whole tree). macOS junk is skipped silently; symlinks, special files and unsafe
/// names are skipped with a warning, and so is a sub-folder that cannot be read (its files are
/// then missing, each with its own warning when a row names it). Only an unreadable `root` is
/// an error ([`Walk::new`]).
///
/// Invariant: files come in the byte order of their `/`-separated paths, the order of a
/// snapshot's entries: a folder's children are sorted by name, a sub-folder's as `name/`.
pub struct Walk {
    levels: Vec<std::vec::IntoIter<Child>>,
    /// What the walk skipped, with why.
    pub warnings: Vec<Warning>,
    /// A fingerprint of what was walked so far, per child of `root` ([`WalkSummary`]).
    pub summary: WalkSummary,
}

enum Child {
    File(FoundFile),
    /// A sub-folder and its path's prefix (`a/b/`).
    Folder(std::path::PathBuf, String),
}

impl Child {
    /// The key that sorts children into path order.
    fn key(&self) -> &str {
        match self {
            Child::File(f) => &f.path,
            Child::Folder(_, prefix) => prefix,
        }
    }
}

impl Walk {
    pub fn new(root: &Path) -> Result<Walk, IngestError> {
        let mut warnings = Vec::new();
        let children = list(root, "", &mut warnings).map_err(|e| IngestError::Io {
            folder: root.to_path_buf(),
            what: format!("cannot read {}", root.display()),
            source: e,
        })?;
        Ok(Walk {
            levels: vec![children.into_iter()],
            warnings,
            summary: WalkSummary::default(),
        })
    }
}

impl Iterator for Walk {
    type Item = FoundFile;

    fn next(&mut self) -> Option<FoundFile> {
        loop {
            match self.levels.last_mut()?.next() {
                None => {
                    self.levels.pop();
                }
                Some(Child::File(f)) => {
                    self.summary.add(&f);
                    return Some(f);
                }
                Some(Child::Folder(dir, prefix)) => match list(&dir, &prefix, &mut self.warnings) {
                    Ok(children) => self.levels.push(children.into_iter()),
                    Err(e) => self.warnings.push(unreadable_folder(&prefix, &e)),
                },
            }
        }
    }
}

/// The children of folder `dir` (whose paths start with `prefix`), sorted into path order.
fn list(dir: &Path, prefix: &str, warnings: &mut Vec<Warning>) -> std::io::Result<Vec<Child>> {
    let mut out = Vec::new();
    for item in fs::read_dir(dir)? {
        let item = match item {
            Ok(item) => item,
            Err(e) => {
                warnings.push(unreadable_folder(prefix, &e));
                break;
            }
        };
        let name = item.file_name().to_string_lossy().into_owned();
        if is_macos_junk(&name) {
            continue;
        }
        let path = format!("{prefix}{name}");
        if !is_safe_path(&path) || item.file_name().to_str().is_none() || !fits_string(&path) {
            warnings.push(skipped(
                &path,
                "file name is not valid UTF-8, not a safe path or too long; skipped",
            ));
            continue;
        }
        // Relative to the open folder (`fstatat`), not a path walked from the root again:
        // like `symlink_metadata`, a symlink is not followed.
        match item.metadata() {
            Ok(meta) if meta.is_dir() => out.push(Child::Folder(item.path(), format!("{path}/"))),
            Ok(meta) if meta.is_file() => out.push(Child::File(FoundFile::new(path, &meta))),
            Ok(_) => warnings.push(skipped(
                &path,
                "not a regular file (symlink or special file); skipped",
            )),
            Err(e) => warnings.push(skipped(&path, &format!("cannot read: {e}; skipped"))),
        }
    }
    out.sort_by(|a, b| a.key().cmp(b.key()));
    Ok(out)
}

/// A fingerprint of a walk, per child of the device folder (a file, or a sub-folder such as
/// `3f/`): two walks of a folder that held still have the same summary, and where they differ
/// it names the child. Memory: a few hundred children, whatever the number of files.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WalkSummary {
    children: Vec<Seen>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    /// A file's path, or a sub-folder's name with its `/`.
    name: String,
    files: u64,
    fingerprint: u64,
    /// The file itself, for a file of the device folder (few: the plists and Manifest.db).
    file: Option<FoundFile>,
}

impl WalkSummary {
    fn add(&mut self, f: &FoundFile) {
        use std::hash::{Hash, Hasher};
        let name = match f.path.split_once('/') {
            Some((folder, _)) => &f.path[..=folder.len()],
            None => f.path.as_str(),
        };
        if self.children.last().is_none_or(|s| s.name != name) {
            self.children.push(Seen {
                name: name.to_string(),
                files: 0,
                fingerprint: 0,
                file: (name == f.path).then(|| f.clone()),
            });
        }
        let seen = self.children.last_mut().expect("just pushed");
        let mut h = std::hash::DefaultHasher::new();
        (seen.fingerprint, &f.path, f.size, f.mtime_ns, f.mode).hash(&mut h);
        seen.fingerprint = h.finish();
        seen.files += 1;
    }

    /// What differs between this walk and a later one (`after`), for a message; `None` when
    /// the folder held still.
    pub fn changed_since(&self, after: &WalkSummary) -> Option<String> {
        let (mut a, mut b) = (
            self.children.iter().peekable(),
            after.children.iter().peekable(),
        );
        loop {
            let (seen, how) = match (a.peek(), b.peek()) {
                (None, None) => return None,
                (Some(x), Some(y)) if x == y => {
                    a.next();
                    b.next();
                    continue;
                }
                (Some(x), Some(y)) if x.name == y.name => match x.file {
                    Some(_) => (*x, "was written (its size or mtime changed)"),
                    None => (
                        *x,
                        "changed: a file in it appeared, disappeared or was written",
                    ),
                },
                (Some(x), Some(y)) if x.name < y.name => (*x, "disappeared"),
                (Some(_), Some(y)) => (*y, "appeared"),
                (Some(x), None) => (*x, "disappeared"),
                (None, Some(y)) => (*y, "appeared"),
            };
            return Some(format!("{} {how}", seen.name));
        }
    }
}

/// Unix nanoseconds of the file's mtime, exact for every time the file system can hold.
pub fn mtime_ns(meta: &fs::Metadata) -> i128 {
    // `mtime_nsec` is in 0..1e9 on every Unix; clamp rather than trust it blindly.
    let nanos = u32::try_from(meta.mtime_nsec().clamp(0, 999_999_999)).expect("clamped");
    join_mtime(meta.mtime(), nanos)
}

fn skipped(path: &str, message: &str) -> Warning {
    Warning {
        path: path.to_string(),
        message: message.to_string(),
    }
}

/// `prefix` ends with `/` (or is empty for the device folder itself).
fn unreadable_folder(prefix: &str, e: &std::io::Error) -> Warning {
    let folder = prefix.trim_end_matches('/');
    skipped(
        if folder.is_empty() { "." } else { folder },
        &format!("cannot read this folder: {e}; the files in it are not backed up"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::time::{Duration, UNIX_EPOCH};

    fn f(path: &str, size: u64) -> FoundFile {
        FoundFile {
            path: path.into(),
            size,
            mtime_ns: 7,
            mode: 0o644,
        }
    }

    fn summary(files: &[FoundFile]) -> WalkSummary {
        let mut s = WalkSummary::default();
        files.iter().for_each(|f| s.add(f));
        s
    }

    #[test]
    fn walk_summaries_name_the_first_child_that_differs() {
        let before = summary(&[f("Info.plist", 1), f("ab/ab01", 5), f("cd/cd02", 9)]);
        assert_eq!(before.changed_since(&before), None);
        let in_ab = "ab/ changed: a file in it appeared, disappeared or was written";
        let cases = [
            (vec![f("Info.plist", 1), f("cd/cd02", 9)], "ab/ disappeared"),
            (
                vec![
                    f("Info.plist", 1),
                    f("ab/ab01", 5),
                    f("ab/ab02", 1),
                    f("cd/cd02", 9),
                ],
                in_ab,
            ),
            (
                vec![f("Info.plist", 1), f("ab/ab01", 6), f("cd/cd02", 9)],
                in_ab,
            ),
            (
                vec![f("Info.plist", 2), f("ab/ab01", 5), f("cd/cd02", 9)],
                "Info.plist was written (its size or mtime changed)",
            ),
            (vec![f("Info.plist", 1), f("ab/ab01", 5)], "cd/ disappeared"),
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
            assert_eq!(
                before.changed_since(&summary(&after)).as_deref(),
                Some(what)
            );
        }
    }

    #[test]
    fn a_walk_gives_files_in_path_order_with_folders_sorted_as_name_slash() {
        let dir = tempfile::tempdir().unwrap();
        for p in ["b", "a-c", "a/x", "a/y/z", "a0", "Info.plist", "00/f"] {
            let path = dir.path().join(p);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, p).unwrap();
        }
        let w = Walk::new(dir.path()).unwrap();
        let paths: Vec<String> = w.map(|f| f.path).collect();
        let mut sorted = paths.clone();
        sorted.sort();
        assert_eq!(paths, sorted);
        assert_eq!(paths.len(), 7);
        assert!(Walk::new(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn times_before_1970_and_after_2262_are_kept_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                UNIX_EPOCH - Duration::new(315_619_199, 500_000_000),
                -315_619_199_500_000_000i128,
            ),
            (
                UNIX_EPOCH + Duration::new(13_569_465_600, 7),
                13_569_465_600_000_000_007i128,
            ),
        ];
        for (i, (time, ns)) in cases.into_iter().enumerate() {
            let path = dir.path().join(format!("f{i}"));
            File::create(&path).unwrap().set_modified(time).unwrap();
            let meta = fs::symlink_metadata(&path).unwrap();
            assert_eq!(mtime_ns(&meta), ns, "{time:?}");
        }
    }
}
