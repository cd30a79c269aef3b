//! What a restore will write: pure data, no I/O beyond reading the snapshot's entries.

use crate::error::RestoreError;
use hearth_format::entry::is_safe_path;
use hearth_format::{ChunkId, Cipher, Content, DeviceIdentity, Entry, Snapshot};
use hearth_mobilesync::encryption::Keybag;
use hearth_mobilesync::{MANIFEST_PLIST, ManifestInfo};
use hearth_repo::Repository;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// Relative to the device folder; a safe path.
    pub path: String,
    pub size: u64,
    pub mtime_ns: i64,
    pub mode: u32,
    pub chunks: Vec<ChunkId>,
    /// Encrypt the stored plaintext this way (an encrypted backup's file).
    pub cipher: Option<Cipher>,
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
    /// The keybag of an encrypted backup whose files are re-encrypted (from its Manifest.plist).
    pub keybag: Option<Keybag>,
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
    let entries = repo.load_entries(snapshot)?;
    let keybag = keybag(repo, snapshot, &entries)?;
    let mut files = Vec::new();
    for e in entries {
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
            cipher: c.cipher,
        });
    }
    Ok(RestorePlan {
        device: snapshot.device.clone(),
        folder_name,
        files,
        skipped: Vec::new(),
        keybag,
    })
}

/// The keybag in the snapshot's Manifest.plist, when any file is to be encrypted again.
fn keybag(
    repo: &Repository,
    snapshot: &Snapshot,
    entries: &[Entry],
) -> Result<Option<Keybag>, RestoreError> {
    let encrypted = |e: &Entry| e.content.as_ref().is_some_and(|c| c.cipher.is_some());
    if !entries.iter().any(encrypted) {
        return Ok(None);
    }
    let problem = |detail: String| RestoreError::Encryption {
        device: snapshot.device.name.clone(),
        detail,
    };
    let plist = entries
        .iter()
        .find(|e| e.path == MANIFEST_PLIST)
        .and_then(|e| e.content.as_ref())
        .ok_or_else(|| problem("it holds encrypted files but no Manifest.plist".into()))?;
    let bytes = read_content(repo, plist)?;
    let info = ManifestInfo::from_bytes(&bytes, MANIFEST_PLIST.as_ref())
        .map_err(|e| problem(e.to_string()))?;
    let bag = info
        .backup_keybag
        .ok_or_else(|| problem("its Manifest.plist has no BackupKeyBag".into()))?;
    Keybag::parse(&bag)
        .map(Some)
        .map_err(|e| problem(format!("{MANIFEST_PLIST}: {e}")))
}

fn read_content(repo: &Repository, c: &Content) -> Result<Vec<u8>, RestoreError> {
    let mut out = Vec::with_capacity(c.size as usize);
    for id in &c.chunks {
        out.extend_from_slice(&repo.read_blob(id)?);
    }
    Ok(out)
}
