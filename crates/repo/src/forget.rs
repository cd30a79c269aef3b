//! Pins and forgetting snapshots (`docs/format.md` §10b). Forget removes snapshot objects only;
//! the data they alone referenced is freed by prune.

use crate::error::RepoError;
use crate::lock::{ExclusiveLock, hostname, unix_now};
use crate::repository::Repository;
use hearth_format::{ObjectKind, PinInfo, SnapshotId};
use hearth_storage::{FileType, PutOutcome};
use std::collections::BTreeSet;

impl Repository {
    /// The pinned snapshots: kept whatever the retention policy.
    pub fn pins(&self) -> Result<BTreeSet<SnapshotId>, RepoError> {
        Ok(self
            .backend
            .list(FileType::Pin)?
            .iter()
            .filter_map(|o| SnapshotId::from_hex(&o.name))
            .collect())
    }

    /// Pins a snapshot; false when it already was.
    pub fn pin(&self, id: &SnapshotId) -> Result<bool, RepoError> {
        let pin = PinInfo {
            pinned_at: unix_now(),
            host: hostname(),
        };
        let file = self.keys.seal_object(ObjectKind::Pin, &pin.encode());
        let outcome = self
            .backend
            .put_if_absent(FileType::Pin, &id.to_hex(), &file)?;
        Ok(outcome == PutOutcome::Created)
    }

    /// Unpins a snapshot; false when it was not pinned.
    pub fn unpin(&self, id: &SnapshotId) -> Result<bool, RepoError> {
        let was = self.pins()?.contains(id);
        if was {
            self.backend.delete(FileType::Pin, &id.to_hex())?;
        }
        Ok(was)
    }

    /// Removes snapshots (never a pinned one), under the exclusive lock; stops before the next
    /// delete if the lock is lost.
    pub fn forget(&self, lock: &ExclusiveLock, ids: &[SnapshotId]) -> Result<(), RepoError> {
        self.held(lock)?;
        let pins = self.pins()?;
        if let Some(p) = ids.iter().find(|id| pins.contains(id)) {
            return Err(RepoError::Pinned(p.short()));
        }
        for id in ids {
            self.held(lock)?;
            self.backend.delete(FileType::Snapshot, &id.to_hex())?;
            self.cache.remove_snapshot(id)?;
        }
        Ok(())
    }
}
