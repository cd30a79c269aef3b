//! `repair snapshots`: what is left of the snapshots that damage reached, as restic's
//! `repair snapshots --forget` does. A snapshot object that does not read is written again from
//! this computer's cache when the cache still holds it (its payload was verified when it was
//! merged), and removed otherwise. A snapshot whose file list is lost is removed. A snapshot
//! some of whose files lost stored bytes is written again without them: each such entry keeps
//! its Manifest.db row (row state "lost in the repository") and gets a warning, so everything
//! else restores. A blob counts as lost when the index has no copy of it that is not known to
//! be damaged; run it after `check --read-data` (which finds damaged copies) and a backup
//! (which stores again what the devices still hold).
//!
//! [`Repository::repair_snapshots_plan`] decides, reading only; [`Repository::repair_snapshots`]
//! writes each new snapshot before it deletes the old one, under the exclusive lock, and stops
//! before the next write once the lock is lost.

use crate::error::RepoError;
use crate::lock::{ExclusiveLock, LockGuard};
use crate::progress::Progress;
use crate::repository::Repository;
use hearth_format::{ChunkId, Entry, RowState, Snapshot, SnapshotId, Warning};
use hearth_storage::FileType;
use std::collections::{HashMap, HashSet};

/// What happens to one damaged snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotRepair {
    /// The object does not read; this computer's cache holds it: written again from there.
    FromCache { id: SnapshotId, snapshot: Snapshot },
    /// Removed, because of `why`.
    Remove {
        id: SnapshotId,
        snapshot: Option<Snapshot>,
        why: String,
    },
    /// Written again without the content of these files ("path (domain/relative path)").
    Rewrite {
        id: SnapshotId,
        snapshot: Snapshot,
        lost: Vec<String>,
    },
}

impl SnapshotRepair {
    pub fn id(&self) -> SnapshotId {
        match self {
            Self::FromCache { id, .. } | Self::Remove { id, .. } | Self::Rewrite { id, .. } => *id,
        }
    }
}

/// What `repair snapshots` will do: pure data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairSnapshotsPlan {
    pub repairs: Vec<SnapshotRepair>,
    /// Snapshots that need nothing.
    pub sound: usize,
}

/// One repair done: the old snapshot, and the snapshot written instead (none when removed).
pub type Repaired = (SnapshotId, Option<SnapshotId>);

impl Repository {
    /// Decides what to do with each snapshot. Refuses while a pack that no index segment names
    /// holds what a snapshot needs: `repair index` gets it back without loss.
    /// Under any lock (a dry run's shared one too), so that no prune deletes what it reads.
    pub fn repair_snapshots_plan(
        &self,
        lock: &LockGuard,
        progress: &dyn Progress,
    ) -> Result<RepairSnapshotsPlan, RepoError> {
        self.held(lock)?;
        self.sync_cache()?;
        let unindexed = self.unindexed_blobs()?;
        let cached: HashMap<SnapshotId, Vec<u8>> = self.cache.snapshots()?.into_iter().collect();
        let objects = self.backend.list(FileType::Snapshot)?;
        let mut plan = RepairSnapshotsPlan::default();
        progress.start("reading snapshots", Some(objects.len() as u64));
        for obj in objects {
            let id = SnapshotId::from_hex(&obj.name).expect("listed names are ids");
            if let Some(repair) = self.judge_snapshot(&id, &cached, &unindexed)? {
                plan.repairs.push(repair);
            } else {
                plan.sound += 1;
            }
            progress.advance(1);
        }
        progress.finish();
        Ok(plan)
    }

    /// Blobs of the packs no segment names (by their own headers).
    fn unindexed_blobs(&self) -> Result<HashSet<ChunkId>, RepoError> {
        let mut blobs = HashSet::new();
        for (pack, size) in self.survey_packs()?.unindexed {
            match self.pack_record(&pack, size) {
                Ok(r) => blobs.extend(r.entries.iter().map(|e| e.id)),
                Err(e) if e.is_damage() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(blobs)
    }

    fn judge_snapshot(
        &self,
        id: &SnapshotId,
        cached: &HashMap<SnapshotId, Vec<u8>>,
        unindexed: &HashSet<ChunkId>,
    ) -> Result<Option<SnapshotRepair>, RepoError> {
        let snapshot = match self.read_snapshot_payload(id) {
            Ok(p) => Snapshot::decode(&p).map_err(|e| RepoError::corrupt("snapshot", e))?,
            Err(e) if e.is_damage() => {
                let from_cache = cached.get(id).and_then(|p| Snapshot::decode(p).ok());
                return Ok(Some(match from_cache {
                    Some(snapshot) => SnapshotRepair::FromCache { id: *id, snapshot },
                    None => SnapshotRepair::Remove {
                        id: *id,
                        snapshot: None,
                        why: format!(
                            "the object does not read ({e}) and this computer's cache does not hold it (the cache of another computer that backs up into this repository may: run `hearth repair snapshots` there first)"
                        ),
                    },
                }));
            }
            Err(e) => return Err(e),
        };
        // What a pack no segment names holds is not lost: `repair index` gets it back.
        // What a pack no segment names holds is not lost: `repair index` gets it back.
        let refuse_if_unindexed = |chunks: &mut dyn Iterator<Item = &ChunkId>| {
            for c in chunks {
                if unindexed.contains(c) {
                    return Err(RepoError::Refused(format!(
                        "snapshot {} needs data that a pack no index segment names holds: run `hearth repair index` first, which gets it back",
                        id.short()
                    )));
                }
            }
            Ok(())
        };
        let lost_chunks = match self.lost_chunks(&snapshot) {
            Ok(lost) => lost,
            Err(e) if e.is_damage() => {
                refuse_if_unindexed(&mut snapshot.tree.iter())?;
                return Ok(Some(SnapshotRepair::Remove {
                    id: *id,
                    snapshot: Some(snapshot),
                    why: format!("its file list is lost ({e})"),
                }));
            }
            Err(e) => return Err(e),
        };
        if lost_chunks.is_empty() {
            return Ok(None);
        }
        refuse_if_unindexed(&mut lost_chunks.iter())?;
        let mut lost = Vec::new();
        for e in self.entries(&snapshot) {
            let e = e?;
            if loses_content(&e, &lost_chunks) {
                lost.push(describe_entry(&e));
            }
        }
        Ok(Some(SnapshotRepair::Rewrite {
            id: *id,
            snapshot,
            lost,
        }))
    }

    /// The chunks of the snapshot's entries (streamed) that no copy of reads. Only those with
    /// no copy that is not known to be damaged are read to find out: what is recorded is a hint
    /// (a copy that reads is taken off the record), never a reason to let go of data.
    fn lost_chunks(&self, snapshot: &Snapshot) -> Result<HashSet<ChunkId>, RepoError> {
        let index = self.cache.reader()?;
        let mut suspects = HashSet::new();
        for e in self.entries(snapshot) {
            for chunk in e?.content.iter().flat_map(|c| &c.chunks) {
                if index.lookup_healthy(chunk)?.is_none() {
                    suspects.insert(*chunk);
                }
            }
        }
        drop(index);
        let mut lost = HashSet::new();
        for chunk in suspects {
            match self.read_blob(&chunk) {
                Ok(_) => {}
                Err(e) if e.is_damage() => drop(lost.insert(chunk)),
                Err(e) => return Err(e),
            }
        }
        Ok(lost)
    }

    /// Carries out a plan: each new snapshot is written (and pinned if the old one was) before
    /// the old one is deleted. Snapshots the plan removes outright are removed only with
    /// `forget` (restic's `--forget`): nothing is let go of unless asked for.
    pub fn repair_snapshots(
        &self,
        lock: &ExclusiveLock,
        plan: &RepairSnapshotsPlan,
        forget: bool,
        progress: &dyn Progress,
    ) -> Result<Vec<Repaired>, RepoError> {
        let pins = self.pins()?;
        let mut done = Vec::new();
        progress.start("repairing snapshots", Some(plan.repairs.len() as u64));
        for repair in &plan.repairs {
            if matches!(repair, SnapshotRepair::Remove { .. }) && !forget {
                continue;
            }
            let old = repair.id();
            let new = match repair {
                SnapshotRepair::FromCache { snapshot, .. } => {
                    Some(self.put_snapshot(lock, snapshot)?)
                }
                SnapshotRepair::Remove { .. } => None,
                SnapshotRepair::Rewrite { snapshot, .. } => {
                    Some(self.rewrite_snapshot(lock, snapshot)?)
                }
            };
            self.held(lock)?;
            if let Some(new) = new.filter(|_| pins.contains(&old)) {
                self.pin(&new)?;
            }
            self.backend.delete(FileType::Snapshot, &old.to_hex())?;
            self.cache.remove_snapshot(&old)?;
            if pins.contains(&old) {
                self.unpin(&old)?;
            }
            done.push((old, new));
            progress.advance(1);
        }
        progress.finish();
        Ok(done)
    }

    /// The snapshot without the content of the entries whose chunks are lost.
    fn rewrite_snapshot(
        &self,
        lock: &ExclusiveLock,
        snapshot: &Snapshot,
    ) -> Result<SnapshotId, RepoError> {
        let lost = self.lost_chunks(snapshot)?;
        let mut snapshot = snapshot.clone();
        let (mut gone_files, mut gone_bytes, mut warnings) = (0, 0, Vec::new());
        let mut failed = None;
        // Streamed into the new tree: the entries that lose their content lose it here.
        let entries = self.entries(&snapshot).map_while(|e| {
            let mut e = match e {
                Ok(e) => e,
                Err(err) => {
                    failed = Some(err);
                    return None;
                }
            };
            if loses_content(&e, &lost) {
                let content = e.content.take().expect("it has content");
                gone_files += 1;
                gone_bytes += content.size;
                warnings.push(Warning {
                    path: e.path.clone(),
                    message: format!(
                        "{}: {}",
                        describe_entry(&e),
                        RowState::LostInRepository.describe()
                    ),
                });
                if let Some(row) = &mut e.row {
                    row.state = RowState::LostInRepository;
                }
            }
            Some(e)
        });
        // An entry with neither row nor content says nothing.
        let kept = entries.filter(|e| e.row.is_some() || e.content.is_some());
        let session = self.write_session(lock)?;
        let tree = session.store_tree(kept)?;
        if let Some(err) = failed {
            return Err(err);
        }
        snapshot.summary.files = snapshot.summary.files.saturating_sub(gone_files);
        snapshot.summary.bytes = snapshot.summary.bytes.saturating_sub(gone_bytes);
        snapshot.warnings.extend(warnings);
        snapshot.tree = tree.blobs;
        snapshot.tree_len = tree.len;
        let id = self.commit_tree(&session, &snapshot)?;
        session.finish()?;
        Ok(id)
    }
}

fn loses_content(e: &Entry, lost: &HashSet<ChunkId>) -> bool {
    e.content
        .as_ref()
        .is_some_and(|c| c.chunks.iter().any(|c| lost.contains(c)))
}

fn describe_entry(e: &Entry) -> String {
    match &e.row {
        Some(r) => format!("{} ({}/{})", e.path, r.domain, r.relative_path),
        None => e.path.clone(),
    }
}
