//! Bringing the local cache up to date with the repository's index segments and snapshots.

use crate::error::RepoError;
use crate::repository::Repository;
use hearth_format::{IndexId, IndexSegment, ObjectKind, SnapshotId};
use hearth_storage::FileType;
use std::collections::HashSet;

impl Repository {
    /// Merges index segments and snapshots the cache has not seen; rebuilds the cache when an
    /// object it merged has gone (prune removed it).
    pub fn sync_cache(&self) -> Result<(), RepoError> {
        let listed: HashSet<IndexId> = self
            .backend
            .list(FileType::Index)?
            .iter()
            .filter_map(|o| IndexId::from_hex(&o.name))
            .collect();
        let merged: HashSet<IndexId> = self.cache.segments()?.into_iter().collect();
        if !merged.is_subset(&listed) {
            self.cache.clear()?;
            return self.sync_cache();
        }
        for id in listed.difference(&merged) {
            let segment = self.read_segment(id)?;
            self.cache.add_segment(id, &segment)?;
        }
        self.sync_snapshots()
    }

    pub(crate) fn read_segment(&self, id: &IndexId) -> Result<IndexSegment, RepoError> {
        let name = format!("index/{id}");
        let bytes = self.backend.get(FileType::Index, &id.to_hex())?;
        if self.keys.object_id(&bytes) != id.0 {
            return Err(RepoError::corrupt(name, "content does not match its name"));
        }
        let payload = self
            .keys
            .open_object(ObjectKind::Index, &bytes)
            .map_err(|e| RepoError::corrupt(&name, e))?;
        IndexSegment::decode(&payload).map_err(|e| RepoError::corrupt(name, e))
    }

    fn sync_snapshots(&self) -> Result<(), RepoError> {
        let listed: HashSet<SnapshotId> = self
            .backend
            .list(FileType::Snapshot)?
            .iter()
            .filter_map(|o| SnapshotId::from_hex(&o.name))
            .collect();
        let cached: HashSet<SnapshotId> = self
            .cache
            .snapshots()?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        for gone in cached.difference(&listed) {
            self.cache.remove_snapshot(gone)?;
        }
        for new in listed.difference(&cached) {
            let payload = self.read_snapshot_payload(new)?;
            self.cache.add_snapshot(new, &payload)?;
        }
        Ok(())
    }

    pub(crate) fn read_snapshot_payload(&self, id: &SnapshotId) -> Result<Vec<u8>, RepoError> {
        let name = format!("snapshots/{id}");
        let bytes = self.backend.get(FileType::Snapshot, &id.to_hex())?;
        if self.keys.object_id(&bytes) != id.0 {
            return Err(RepoError::corrupt(name, "content does not match its name"));
        }
        let payload = self
            .keys
            .open_object(ObjectKind::Snapshot, &bytes)
            .map_err(|e| RepoError::corrupt(&name, e))?;
        hearth_format::Snapshot::decode(&payload).map_err(|e| RepoError::corrupt(name, e))?;
        Ok(payload)
    }
}
