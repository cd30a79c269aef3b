//! Index segments (`docs/format.md` §8): read and checked against their names, and written.

use crate::error::RepoError;
use crate::lock::LockGuard;
use crate::objects::put_sealed;
use crate::repository::Repository;
use hearth_format::{IndexId, IndexSegment, ObjectKind, PackRecord};

/// The most pack entries a segment written by repair or prune lists (about 2.3 MiB sealed), so
/// that no segment grows without bound.
pub(crate) const SEGMENT_ENTRIES: usize = 50_000;

impl Repository {
    pub(crate) fn read_segment(&self, id: &IndexId) -> Result<IndexSegment, RepoError> {
        let opened = self.get_verified(ObjectKind::Index, &id.0)?;
        IndexSegment::decode(&opened.payload)
            .map_err(|e| RepoError::corrupt(format!("index/{id}"), e))
    }

    /// Writes a segment listing `packs` (which exist), while `lock` protects the writer;
    /// returns its id (the keyed hash of its bytes).
    pub(crate) fn put_segment(
        &self,
        lock: &LockGuard,
        packs: Vec<PackRecord>,
    ) -> Result<IndexId, RepoError> {
        let segment = IndexSegment { packs };
        self.held(lock)?;
        let freshness = lock.freshness();
        let id = put_sealed(
            self.backend.as_ref(),
            &self.keys,
            Some(&freshness),
            ObjectKind::Index,
            &segment.encode(),
        )?;
        Ok(IndexId(id))
    }

    /// Writes `packs` in as many segments as [`SEGMENT_ENTRIES`] needs; returns their ids.
    pub(crate) fn put_segments(
        &self,
        lock: &LockGuard,
        packs: Vec<PackRecord>,
    ) -> Result<Vec<IndexId>, RepoError> {
        let mut ids = Vec::new();
        let mut batch: Vec<PackRecord> = Vec::new();
        let mut entries = 0;
        for p in packs {
            if !batch.is_empty() && entries + p.entries.len() > SEGMENT_ENTRIES {
                ids.push(self.put_segment(lock, std::mem::take(&mut batch))?);
                entries = 0;
            }
            entries += p.entries.len();
            batch.push(p);
        }
        if !batch.is_empty() {
            ids.push(self.put_segment(lock, batch)?);
        }
        Ok(ids)
    }
}
