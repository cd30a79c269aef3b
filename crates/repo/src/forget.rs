//! Pins and forgetting snapshots (`docs/format.md` §10b, §11a). Forget removes snapshot
//! objects only; the data they alone referenced is freed by prune. A retention policy is first
//! a [`ForgetPlan`]: the snapshots grouped, each group judged ([`crate::retention`], pinned
//! snapshots always kept), and refused if it would leave a group with no snapshot.

use crate::error::RepoError;
use crate::lock::{ExclusiveLock, hostname, unix_now};
use crate::repository::Repository;
use crate::retention::{self, Candidate, Decision, Policy};
use hearth_format::{ObjectKind, PinInfo, SnapshotId};
use hearth_storage::{FileType, PutOutcome};
use std::collections::{BTreeMap, BTreeSet};

/// How a retention policy groups snapshots: each group is judged on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// One group per device ("name (UDID)").
    Device,
    /// All snapshots in one group.
    None,
}

/// A group of snapshots and the verdict on each, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupVerdict {
    pub group: String,
    pub decisions: Vec<Decision>,
}

/// What a retention policy keeps and removes. Invariant: every group keeps a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgetPlan {
    pub groups: Vec<GroupVerdict>,
}

impl ForgetPlan {
    /// The snapshots to remove, group by group.
    pub fn remove(&self) -> Vec<SnapshotId> {
        (self.groups.iter())
            .flat_map(|g| g.decisions.iter().filter(|d| !d.keep()).map(|d| d.id))
            .collect()
    }
}

impl Repository {
    /// Judges the snapshots (of `device` only, if given) by `policy`, grouped by `grouping`.
    /// Refused when the policy would remove every snapshot of a group (with the default
    /// grouping, a device's last one).
    pub fn forget_plan(
        &self,
        policy: &Policy,
        device: Option<&str>,
        grouping: Grouping,
    ) -> Result<ForgetPlan, RepoError> {
        let all = match device {
            Some(d) => self.device_snapshots(d)?,
            None => self.snapshots()?,
        };
        let pins = self.pins()?;
        let mut groups: BTreeMap<String, Vec<Candidate>> = BTreeMap::new();
        for (id, s) in all {
            let key = match grouping {
                Grouping::Device => format!("{} ({})", s.device.name, s.device.udid),
                Grouping::None => "all snapshots".to_string(),
            };
            groups.entry(key).or_default().push(Candidate {
                id,
                time: s.time,
                wall: crate::local_time::wall_micros(s.time),
                tags: s.tags,
                pinned: pins.contains(&id),
            });
        }
        let mut plan = ForgetPlan { groups: Vec::new() };
        for (group, candidates) in groups {
            let decisions = retention::apply(policy, &candidates);
            if decisions.iter().all(|d| !d.keep()) {
                return Err(RepoError::Refused(format!(
                    "the policy would remove every snapshot of {group}; keep at least one (e.g. --keep-last 1)"
                )));
            }
            plan.groups.push(GroupVerdict { group, decisions });
        }
        Ok(plan)
    }

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
