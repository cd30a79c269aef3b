//! Bringing the local cache up to date with the repository's index segments and snapshots.

use crate::error::RepoError;
use crate::objects::Opened;
use crate::repository::Repository;
use crate::repository::UnreadableObject;
use hearth_format::{IndexId, ObjectKind, PackId, SnapshotId};
use hearth_storage::FileType;
use std::collections::HashSet;

impl Repository {
    /// Merges index segments and snapshots the cache has not seen; rebuilds the cache when an
    /// object it merged has gone (prune removed it). An object that cannot be read is skipped
    /// and listed in [`Repository::unreadable_objects`]: one damaged object costs only what it
    /// holds.
    pub fn sync_cache(&self) -> Result<(), RepoError> {
        let mut unreadable = Vec::new();
        self.sync_segments(&mut unreadable)?;
        self.sync_snapshots(&mut unreadable)?;
        *self
            .unreadable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = unreadable;
        Ok(())
    }

    /// Empties the cache and merges everything again (what is known about damage stays, but
    /// for packs the index no longer names).
    pub(crate) fn rebuild_cache(&self) -> Result<(), RepoError> {
        self.cache.clear()?;
        self.sync_cache()?;
        self.forget_damage_of_unindexed_packs()
    }

    fn sync_segments(&self, unreadable: &mut Vec<UnreadableObject>) -> Result<(), RepoError> {
        let listed: HashSet<IndexId> = self
            .backend
            .list(FileType::Index)?
            .iter()
            .filter_map(|o| IndexId::from_hex(&o.name))
            .collect();
        let merged: HashSet<IndexId> = self.cache.segments()?.into_iter().collect();
        let rebuild = !merged.is_subset(&listed);
        if rebuild {
            self.cache.clear()?;
        }
        let mut new: Vec<&IndexId> = listed
            .iter()
            .filter(|id| rebuild || !merged.contains(id))
            .collect();
        new.sort_unstable();
        for id in new {
            match self.read_segment(id) {
                Ok(segment) => self.cache.add_segment(id, &segment)?,
                Err(e) => skip_unreadable(format!("index/{id}"), e, unreadable)?,
            }
        }
        if rebuild {
            self.forget_damage_of_unindexed_packs()?;
        }
        Ok(())
    }

    /// What is recorded about packs the index no longer names is of no use to anyone.
    fn forget_damage_of_unindexed_packs(&self) -> Result<(), RepoError> {
        let damage = self.cache.damage();
        if damage.is_empty() {
            return Ok(());
        }
        let indexed: HashSet<PackId> = self.cache.packs()?.into_iter().map(|(p, _)| p).collect();
        let gone: Vec<PackId> = (damage.packs())
            .filter(|p| !indexed.contains(p))
            .copied()
            .collect();
        Ok(self.cache.forget_damage(&gone)?)
    }

    fn sync_snapshots(&self, unreadable: &mut Vec<UnreadableObject>) -> Result<(), RepoError> {
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
            match self.read_snapshot_payload(new) {
                Ok(payload) => self.cache.add_snapshot(new, &payload)?,
                Err(e) => skip_unreadable(format!("snapshots/{new}"), e, unreadable)?,
            }
        }
        Ok(())
    }

    /// A snapshot object's payload, checked against its name and decoded; returned in the
    /// current layout (an older layout is decoded as its header says, then encoded again), so
    /// that the cache holds one layout only.
    pub(crate) fn read_snapshot_payload(&self, id: &SnapshotId) -> Result<Vec<u8>, RepoError> {
        let Opened { payload, layout } = self.get_verified(ObjectKind::Snapshot, &id.0)?;
        let snapshot = hearth_format::Snapshot::decode_layout(&payload, layout)
            .map_err(|e| RepoError::corrupt(format!("snapshots/{id}"), e))?;
        Ok(match layout == ObjectKind::Snapshot.version() {
            true => payload,
            false => snapshot.encode(),
        })
    }
}

/// An object that failed to read: gone since it was listed (a prune deleted it) is nothing;
/// damaged is skipped and listed; anything else (storage unreachable) is an error.
fn skip_unreadable(
    object: String,
    e: RepoError,
    unreadable: &mut Vec<UnreadableObject>,
) -> Result<(), RepoError> {
    match e {
        e if e.is_not_found() => Ok(()),
        e if e.is_damage() => {
            unreadable.push(UnreadableObject {
                object,
                problem: e.to_string(),
            });
            Ok(())
        }
        e => Err(e),
    }
}
