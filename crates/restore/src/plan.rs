//! What a restore will write: pure data, no I/O beyond reading the snapshot's entries.

use crate::error::RestoreError;
use hearth_format::entry::is_safe_path;
use hearth_format::{ChunkId, DeviceIdentity, Snapshot};
use hearth_repo::Repository;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// Relative to the device folder; a safe path.
    pub path: String,
    pub size: u64,
    pub mtime_ns: i64,
    pub mode: u32,
    pub chunks: Vec<ChunkId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedEntry {
    pub path: String,
    pub domain: Option<String>,
    pub relative_path: Option<String>,
    pub bytes: u64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestorePlan {
    pub device: DeviceIdentity,
    /// The device folder's name under the output folder.
    pub folder_name: String,
    pub files: Vec<PlannedFile>,
    pub skipped: Vec<SkippedEntry>,
}

impl RestorePlan {
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// Every content entry of the snapshot becomes a file of the image; a content entry whose path
/// is unsafe (only a tampered snapshot could hold one) is an error, not a silent skip.
pub fn plan_restore(repo: &Repository, snapshot: &Snapshot) -> Result<RestorePlan, RestoreError> {
    let folder_name = snapshot.device.udid.clone();
    if !is_safe_path(&folder_name) || folder_name.contains('/') {
        return Err(RestoreError::UnsafePath { path: folder_name });
    }
    let mut files = Vec::new();
    for e in repo.load_entries(snapshot)? {
        let Some(c) = e.content else { continue };
        if !is_safe_path(&e.path) {
            return Err(RestoreError::UnsafePath { path: e.path });
        }
        files.push(PlannedFile {
            path: e.path,
            size: c.size,
            mtime_ns: c.mtime_ns,
            mode: c.mode,
            chunks: c.chunks,
        });
    }
    Ok(RestorePlan {
        device: snapshot.device.clone(),
        folder_name,
        files,
        skipped: Vec::new(),
    })
}
