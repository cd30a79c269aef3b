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

/// Every regular file under `root`, sorted by path. macOS junk is skipped silently; symlinks,
/// special files and unsafe names are skipped with a warning, and so is a sub-folder that
/// cannot be read (its files are then missing, each with its own warning when a row names it).
/// Only an unreadable `root` is an error.
pub fn walk(root: &Path, warnings: &mut Vec<Warning>) -> Result<Vec<FoundFile>, IngestError> {
    let mut out = Vec::new();
    let mut dirs = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = dirs.pop() {
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if prefix.is_empty() => {
                return Err(IngestError::Io {
                    folder: root.to_path_buf(),
                    what: format!("cannot read {}", root.display()),
                    source: e,
                });
            }
            Err(e) => {
                warnings.push(unreadable_folder(&prefix, &e));
                continue;
            }
        };
        for item in rd {
            let item = match item {
                Ok(item) => item,
                Err(e) => {
                    warnings.push(unreadable_folder(&prefix, &e));
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
            match fs::symlink_metadata(item.path()) {
                Ok(meta) if meta.is_dir() => dirs.push((item.path(), format!("{path}/"))),
                Ok(meta) if meta.is_file() => out.push(FoundFile::new(path, &meta)),
                Ok(_) => warnings.push(skipped(
                    &path,
                    "not a regular file (symlink or special file); skipped",
                )),
                Err(e) => warnings.push(skipped(&path, &format!("cannot read: {e}; skipped"))),
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
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
