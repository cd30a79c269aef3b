//! Writing a [`RestorePlan`] to disk.

use crate::error::RestoreError;
use crate::plan::{PlannedFile, RestorePlan};
use hearth_format::entry::is_safe_path;
use hearth_repo::{Progress, Repository};
use rayon::prelude::*;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    pub folder: PathBuf,
    pub files: u64,
    pub bytes: u64,
}

/// Writes the plan's files under `<out>/<folder name>/`, which must not exist yet.
pub fn execute(
    repo: &Repository,
    plan: &RestorePlan,
    out: &Path,
    progress: &dyn Progress,
) -> Result<RestoreReport, RestoreError> {
    let io = |path: &Path, what, source| RestoreError::Io {
        path: path.to_path_buf(),
        what,
        source,
    };
    fs::create_dir_all(out).map_err(|e| io(out, "cannot create the output folder", e))?;
    let root = out.join(&plan.folder_name);
    match fs::create_dir(&root) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(RestoreError::TargetExists { path: root });
        }
        Err(e) => return Err(io(&root, "cannot create the device folder", e)),
    }
    make_folders(&root, &plan.files)?;
    progress.start("restoring files", Some(plan.bytes()));
    plan.files.par_iter().try_for_each(|f| {
        write_file(repo, &root, f)?;
        progress.advance(f.size);
        Ok::<_, RestoreError>(())
    })?;
    progress.finish();
    Ok(RestoreReport {
        folder: root,
        files: plan.files.len() as u64,
        bytes: plan.bytes(),
    })
}

/// Creates each parent folder once, refusing any path that is not safe.
fn make_folders(root: &Path, files: &[PlannedFile]) -> Result<(), RestoreError> {
    let mut made = std::collections::HashSet::new();
    for f in files {
        if !is_safe_path(&f.path) {
            return Err(RestoreError::UnsafePath {
                path: f.path.clone(),
            });
        }
        if let Some((dir, _)) = f.path.rsplit_once('/')
            && made.insert(dir.to_string())
        {
            let p = root.join(dir);
            fs::create_dir_all(&p).map_err(|e| RestoreError::Io {
                path: p,
                what: "cannot create folder",
                source: e,
            })?;
        }
    }
    Ok(())
}

fn write_file(repo: &Repository, root: &Path, f: &PlannedFile) -> Result<(), RestoreError> {
    let path = root.join(&f.path);
    let io = |what, source| RestoreError::Io {
        path: path.clone(),
        what,
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|e| io("cannot create", e))?;
    let mut written = 0u64;
    for id in &f.chunks {
        let data = repo.read_blob(id)?;
        file.write_all(&data).map_err(|e| io("write failed", e))?;
        written += data.len() as u64;
    }
    if written != f.size {
        return Err(RestoreError::SizeMismatch {
            path,
            written,
            expected: f.size,
        });
    }
    finish_file(&file, f).map_err(|e| io("cannot set mode and time", e))
}

fn finish_file(file: &File, f: &PlannedFile) -> std::io::Result<()> {
    file.set_permissions(Permissions::from_mode(f.mode & 0o7777))?;
    let mtime = if f.mtime_ns >= 0 {
        UNIX_EPOCH + Duration::from_nanos(f.mtime_ns as u64)
    } else {
        UNIX_EPOCH - Duration::from_nanos(f.mtime_ns.unsigned_abs())
    };
    file.set_modified(mtime)
}
