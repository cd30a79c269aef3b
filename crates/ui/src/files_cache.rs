//! The file trees of the snapshots pages look at, kept for the next request.
//!
//! Reading a 200,000-file snapshot's tree takes a second or more; browsing it asks for it on
//! every click. The last [`KEPT`] trees are kept (each is about 200 bytes a file).

use crate::error::UiError;
use hearth_browse::SnapshotFiles;
use hearth_format::{Snapshot, SnapshotId};
use hearth_repo::Repository;
use std::sync::{Arc, Mutex, PoisonError};

pub const KEPT: usize = 4;

#[derive(Default)]
pub struct FilesCache {
    /// Most recently used last.
    kept: Mutex<Vec<(SnapshotId, Arc<SnapshotFiles>)>>,
}

impl FilesCache {
    pub fn get(
        &self,
        repo: &Repository,
        id: SnapshotId,
        snapshot: &Snapshot,
    ) -> Result<Arc<SnapshotFiles>, UiError> {
        {
            let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(i) = kept.iter().position(|(k, _)| *k == id) {
                let hit = kept.remove(i);
                kept.push(hit.clone());
                return Ok(hit.1);
            }
        }
        // Read without the lock held: pages of other snapshots do not wait for this one.
        let files = Arc::new(SnapshotFiles::load(repo, snapshot)?);
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if !kept.iter().any(|(k, _)| *k == id) {
            if kept.len() >= KEPT {
                kept.remove(0);
            }
            kept.push((id, files.clone()));
        }
        Ok(files)
    }
}
