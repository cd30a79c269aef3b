//! Copying snapshots into a repository made alike (`hearth copy`, `docs/format.md` §11c).
//!
//! The two repositories share their content keys (§4), so a chunk has the same id in both
//! and a snapshot's tree and chunk lists mean the same there: a snapshot is copied by sending
//! the blobs the destination's index lacks, each opened with the source's data key and sealed
//! again with the destination's (its stored bytes, compressed or not, unchanged), then writing
//! the snapshot. Blobs go through the destination's write session, which commits packs, then
//! their index segment; the snapshot is put after, so the write order of §11 holds.

use crate::error::RepoError;
use crate::lock::LockGuard;
use crate::progress::Progress;
use crate::repository::Repository;
use crate::writer::WriteSession;
use hearth_chunker::Content;
use hearth_format::{
    ChunkId, Compression, DeviceIdentity, DeviceKey, PackEntry, Snapshot, SnapshotId,
};
use hearth_index::BlobLocation;
use hearth_storage::FileType;
use std::collections::{HashMap, HashSet};

/// What [`Repository::copy_snapshots`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// Each snapshot asked for, oldest first.
    pub snapshots: Vec<CopiedSnapshot>,
    /// Blobs sent (sealed again into the destination's packs).
    pub chunks_sent: u64,
    /// Blobs the copied snapshots name that the destination already held.
    pub chunks_present: u64,
    /// Sealed bytes of the blobs sent, as the destination's packs hold them.
    pub bytes_sent: u64,
    /// Device keys (§10a) the destination lacked, copied.
    pub device_keys_sent: u64,
    /// Pins (§10b) set on copied snapshots.
    pub pins_sent: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedSnapshot {
    /// In the source repository.
    pub id: SnapshotId,
    /// In the destination: the new copy, or the snapshot that already held the same content.
    pub copied_id: SnapshotId,
    pub device: DeviceIdentity,
    pub status: CopyStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyStatus {
    /// Written to the destination by this copy.
    Copied,
    /// The destination held it already (same device, time and tree): nothing was written.
    Present,
}

/// What makes two snapshots the same content: the device, its backup time and the tree. With
/// content keys shared, the same tree blob ids are the same entries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SameContent {
    udid: String,
    time: i64,
    tree_len: u64,
    tree: Vec<ChunkId>,
}

impl SameContent {
    fn of(s: &Snapshot) -> Self {
        Self {
            udid: s.device.udid.clone(),
            time: s.time,
            tree_len: s.tree_len,
            tree: s.tree.clone(),
        }
    }
}

impl Repository {
    /// Copies the snapshots `ids` of this repository into `to` (see the module docs), oldest
    /// first, skipping those `to` holds already. `from_lock` is a lock on this repository and
    /// `to_lock` on `to` (shared ones, as a backup takes). Refused, before anything is
    /// written, unless `to` cuts and names chunks as this repository does (`init --like`).
    pub fn copy_snapshots(
        &self,
        to: &Repository,
        from_lock: &LockGuard,
        to_lock: &LockGuard,
        ids: &[SnapshotId],
        progress: &dyn Progress,
    ) -> Result<CopyReport, RepoError> {
        self.check_alike(to)?;
        self.held(from_lock)?;
        to.held(to_lock)?;
        let all = self.snapshots()?;
        let wanted: HashSet<&SnapshotId> = ids.iter().collect();
        let chosen: Vec<&(SnapshotId, Snapshot)> =
            all.iter().filter(|(id, _)| wanted.contains(id)).collect();
        if let Some(missing) = ids.iter().find(|id| !all.iter().any(|(a, _)| a == *id)) {
            return Err(RepoError::SnapshotNotFound(missing.to_hex()));
        }
        let by_id: HashMap<SnapshotId, &Snapshot> = all.iter().map(|(id, s)| (*id, s)).collect();
        let mut held: HashMap<SameContent, SnapshotId> = (to.snapshots()?.into_iter())
            .map(|(id, s)| (SameContent::of(&s), id))
            .collect();
        let pins = self.pins()?;
        let mut report = CopyReport::default();
        let mut session: Option<WriteSession<'_>> = None;
        for (id, snapshot) in chosen {
            let same = SameContent::of(snapshot);
            let (copied_id, status) = match held.get(&same) {
                Some(there) => (*there, CopyStatus::Present),
                None => {
                    if session.is_none() {
                        report.device_keys_sent = self.copy_device_keys(to)?;
                        session = Some(to.write_session(to_lock)?);
                    }
                    let session = session.as_ref().expect("started above");
                    let parent = (snapshot.parent)
                        .and_then(|p| by_id.get(&p))
                        .and_then(|p| held.get(&SameContent::of(p)).copied());
                    let copied = self.copy_one(session, snapshot, parent, &mut report, progress)?;
                    if pins.contains(id) && to.pin(&copied)? {
                        report.pins_sent += 1;
                    }
                    held.insert(same, copied);
                    (copied, CopyStatus::Copied)
                }
            };
            report.snapshots.push(CopiedSnapshot {
                id: *id,
                copied_id,
                device: snapshot.device.clone(),
                status,
            });
        }
        if let Some(session) = session {
            session.finish()?;
        }
        Ok(report)
    }

    /// Refuses a destination that does not cut and name chunks as this repository does.
    fn check_alike(&self, to: &Repository) -> Result<(), RepoError> {
        match self.config.chunks_like(&to.config) {
            true => Ok(()),
            false => Err(RepoError::NotAlike {
                from: self.location(),
                to: to.location(),
            }),
        }
    }

    /// Sends the blobs of `snapshot` that `to`'s index lacks, then writes the snapshot there
    /// (with `parent`, the copy of its parent in `to`, if any). Returns its id in `to`.
    fn copy_one(
        &self,
        session: &WriteSession<'_>,
        snapshot: &Snapshot,
        parent: Option<SnapshotId>,
        report: &mut CopyReport,
        progress: &dyn Progress,
    ) -> Result<SnapshotId, RepoError> {
        let (missing, present) = self.blobs_to_send(session.repo(), snapshot)?;
        report.chunks_present += present;
        let label = format!("copying {}", snapshot.device.label());
        let total = missing.iter().map(|(_, l)| u64::from(l.entry.length)).sum();
        progress.start(&label, Some(total));
        let reader = self.span_reader(&missing.iter().map(|(id, _)| *id).collect::<Vec<_>>())?;
        for (id, location) in &missing {
            reader.visit_blobs(std::slice::from_ref(id), |blob| {
                let sent = match blob.sealed {
                    Some((entry, sealed)) => self.reseal(session, entry, sealed, blob.plain)?,
                    None => resend_plain(session, &location.entry, blob.plain)?,
                };
                report.bytes_sent += sent;
                Ok::<(), RepoError>(())
            })?;
            report.chunks_sent += 1;
            progress.advance(u64::from(location.entry.length));
        }
        drop(reader);
        progress.finish();
        let copy = Snapshot {
            parent,
            ..snapshot.clone()
        };
        session.repo().commit_tree(session, &copy)
    }

    /// The distinct blobs `snapshot` names (tree, then every entry's chunks) that `to`'s index
    /// has no healthy copy of, with where this repository holds them, in pack order; and how
    /// many it names that `to` has.
    fn blobs_to_send(
        &self,
        to: &Repository,
        snapshot: &Snapshot,
    ) -> Result<(Vec<(ChunkId, BlobLocation)>, u64), RepoError> {
        let mut named: HashSet<ChunkId> = snapshot.tree.iter().copied().collect();
        for entry in self.entries(snapshot) {
            if let Some(content) = entry?.content {
                named.extend(content.chunks);
            }
        }
        let (theirs, ours) = (to.cache.reader()?, self.cache.reader()?);
        let (mut missing, mut present) = (Vec::new(), 0);
        for id in named {
            if theirs.lookup_healthy(&id)?.is_some() {
                present += 1;
                continue;
            }
            let location = ours
                .lookup_healthy(&id)?
                .or(ours.lookup(&id)?)
                .ok_or(RepoError::MissingBlob { blob: id })?;
            missing.push((id, location));
        }
        missing.sort_by_key(|(_, l)| (l.pack, l.entry.offset));
        Ok((missing, present))
    }

    /// Seals a blob's stored bytes again under the destination's data key (the same AAD: id,
    /// kind, compression) and stores them. Returns the sealed length.
    fn reseal(
        &self,
        session: &WriteSession<'_>,
        entry: &PackEntry,
        sealed: &[u8],
        plain: &[u8],
    ) -> Result<u64, RepoError> {
        let aad = PackEntry::blob_aad(&entry.id, entry.kind, entry.compression);
        let opened;
        let body = match entry.compression {
            Compression::None => plain,
            Compression::Zstd => {
                opened = (self.keys.open(&aad, sealed))
                    .map_err(|e| RepoError::corrupt(format!("blob {}", entry.id), e))?;
                &opened
            }
        };
        let resealed = session.repo().keys.seal(&aad, body);
        session.store_sealed(entry, &resealed)?;
        Ok(resealed.len() as u64)
    }

    /// Every device key `to` lacks (by its derivation digest and key), sealed under `to`'s
    /// data key: written before the first snapshot that may need it (§10a). Returns the count.
    fn copy_device_keys(&self, to: &Repository) -> Result<u64, RepoError> {
        let there: HashSet<([u8; 32], [u8; 32])> = to
            .readable_device_keys()?
            .into_iter()
            .map(|k| (k.kdf_digest, k.kek))
            .collect();
        let mut sent = 0;
        for key in self.readable_device_keys()? {
            if !there.contains(&(key.kdf_digest, key.kek)) {
                to.save_device_key(&key)?;
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Every device key object that reads (a damaged one is passed over, as readers do).
    fn readable_device_keys(&self) -> Result<Vec<DeviceKey>, RepoError> {
        let mut keys = Vec::new();
        for obj in self.backend.list(FileType::DeviceKey)? {
            match self.read_device_key(&obj.name) {
                Ok(Some(key)) => keys.push(key),
                Ok(None) | Err(RepoError::Corrupt { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(keys)
    }
}

/// A blob that came from another copy than the indexed one: compressed again if that one was,
/// and sealed (as prune does). Returns the sealed length the session added.
fn resend_plain(
    session: &WriteSession<'_>,
    entry: &PackEntry,
    plain: &[u8],
) -> Result<u64, RepoError> {
    let content = match entry.compression {
        Compression::Zstd => Content::Compressible,
        Compression::None => Content::Unknown,
    };
    let before = session.stats().stored_bytes;
    session.store_again(plain, entry.kind, content)?;
    Ok(session.stats().stored_bytes.saturating_sub(before))
}
