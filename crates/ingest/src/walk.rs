//! The files of a device folder, as found on disk.

use crate::error::IngestError;
use hearth_format::Warning;
use hearth_format::entry::is_safe_path;
use hearth_mobilesync::is_macos_junk;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::UNIX_EPOCH;

/// A regular file of the device folder.
#[derive(Debug, Clone)]
pub struct FoundFile {
    /// `/`-separated, relative to the device folder; always a safe path.
    pub path: String,
    pub size: u64,
    pub mtime_ns: i64,
    pub mode: u32,
}

/// Every regular file under `root`, sorted by path. macOS junk is skipped silently; symlinks,
/// special files and unsafe names are skipped with a warning.
pub fn walk(root: &Path, warnings: &mut Vec<Warning>) -> Result<Vec<FoundFile>, IngestError> {
    let mut out = Vec::new();
    let mut dirs = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = dirs.pop() {
        let rd = fs::read_dir(&dir).map_err(|e| io(root, &dir, e))?;
        for item in rd {
            let item = item.map_err(|e| io(root, &dir, e))?;
            let name = item.file_name().to_string_lossy().into_owned();
            if is_macos_junk(&name) {
                continue;
            }
            let path = format!("{prefix}{name}");
            let meta = fs::symlink_metadata(item.path()).map_err(|e| io(root, &item.path(), e))?;
            if !is_safe_path(&path) || item.file_name().to_str().is_none() {
                warnings.push(Warning {
                    path: path.clone(),
                    message: "file name is not valid UTF-8 or not a safe path; skipped".into(),
                });
            } else if meta.is_dir() {
                dirs.push((item.path(), format!("{path}/")));
            } else if meta.is_file() {
                out.push(FoundFile {
                    path,
                    size: meta.len(),
                    mtime_ns: mtime_ns(&meta),
                    mode: meta.permissions().mode() & 0o7777,
                });
            } else {
                warnings.push(Warning {
                    path,
                    message: "not a regular file (symlink or special file); skipped".into(),
                });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

pub fn mtime_ns(meta: &fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i64)
}

fn io(root: &Path, at: &Path, source: std::io::Error) -> IngestError {
    IngestError::Io {
        folder: root.to_path_buf(),
        what: format!("cannot read {}", at.display()),
        source,
    }
}
