//! Prune (`docs/format.md` §11a): free the packs no kept snapshot needs.
//!
//! [`Repository::prune_plan`] decides (reading only): the live set (every blob a snapshot's tree
//! or entries name) is built in a [`LiveSet`] (in memory up to 16 MiB, past that a redb file);
//! then each pack's entries are classified from the index segments, a blob counting as used only in the pack the index
//! resolves it to (so of two copies, one is kept: a copy not known to be damaged, read once to
//! be sure before prune lets go of the other). Packs with nothing used are deleted; packs with
//! unused space are repacked, most wasteful first, until the repository's unused share is at
//! most `max_unused`; a pack known to hold damage goes whatever the allowance (what of it reads
//! is copied). A pack no segment names is judged by its own header: one that holds a live
//! blob the index has no copy of that reads (read to be sure) is listed in a new segment (its
//! segment was lost); one that holds nothing else (left by a killed backup or prune) is
//! deleted; one whose header does not read is kept.
//!
//! [`Repository::prune`] carries a plan out in an order that keeps every snapshot restorable
//! whenever it is killed: (0) index the packs that hold live blobs no segment names, (1) copy
//! the live blobs of packs to repack into new packs and index them, (2) write new index
//! segments for the surviving packs of every segment that names a doomed pack, then delete
//! those old segments (and segments that do not read), (3) delete the doomed packs. A rerun
//! finishes the job. It runs under the exclusive lock (an [`ExclusiveLock`] parameter), so no
//! backup runs meanwhile, and asks the lock before every write and delete: once the lock is
//! lost (a backup elsewhere may then run, taking it for stale), prune stops where it is, which
//! is as safe as a kill.

use crate::error::RepoError;
use crate::lock::{ExclusiveLock, LockGuard};
use crate::packs::PackSurvey;
use crate::progress::Progress;
use crate::repository::Repository;
use crate::writer::WriteSession;
use hearth_chunker::Content;
use hearth_format::pack::PACK_ENTRY_LEN;
use hearth_format::{BlobKind, ChunkId, Compression, IndexId, IndexSegment, PackId, PackRecord};
use hearth_index::{BlobLocation, IndexReader};
use hearth_index::{LiveReader, LiveSet};
use hearth_storage::FileType;
use std::collections::{BTreeSet, HashMap, HashSet};

/// Chunk ids added to the live set in one transaction.
const LIVE_BATCH: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PruneOptions {
    /// The share of the repository's pack bytes that may stay unused without repacking.
    pub max_unused: f64,
}

impl Default for PruneOptions {
    fn default() -> Self {
        Self { max_unused: 0.05 }
    }
}

/// One pack's use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackUse {
    pub pack: PackId,
    /// Bytes of the pack file.
    pub length: u64,
    /// Sealed bytes of the blobs still used here.
    pub used: u64,
    pub used_blobs: u64,
    /// What the blobs no longer used here take: their sealed bytes and their header entries.
    /// (The rest of a pack's header is not waste: a new pack would have one too.)
    pub unused: u64,
}

/// What prune will do: pure data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrunePlan {
    pub packs: u64,
    pub pack_bytes: u64,
    pub used_bytes: u64,
    /// Bytes of blobs (and their header entries) that no snapshot uses.
    pub unused_bytes: u64,
    /// Packs nothing uses.
    pub delete: Vec<PackUse>,
    /// Packs whose used blobs are copied to new packs before they are deleted.
    pub repack: Vec<PackUse>,
    /// Pack files that no index segment names and that hold nothing live, with their sizes.
    pub unindexed: Vec<(String, u64)>,
    /// Packs that no index segment names and that hold live blobs of which the index has no
    /// copy that reads (their segment was lost): listed in a new segment, kept.
    pub reindex: Vec<PackRecord>,
    /// Packs that no index segment names and whose header does not read, with why: kept.
    pub unreadable: Vec<(PackId, String)>,
    /// Index segments that do not read: deleted once the packs they may name are judged.
    pub damaged_segments: Vec<IndexId>,
    /// Segments that name a pack to delete or repack (rewritten without it).
    pub segments: Vec<IndexId>,
    /// The used blobs of the packs to repack, which are copied.
    pub copy: Vec<(ChunkId, BlobKind)>,
}

impl PrunePlan {
    /// The packs the plan deletes (after copying what is used of those it repacks).
    pub fn doomed(&self) -> HashSet<PackId> {
        self.delete
            .iter()
            .chain(&self.repack)
            .map(|u| u.pack)
            .collect()
    }

    /// Pack bytes deleted minus the bytes repacking writes again (about the used bytes).
    pub fn bytes_freed(&self) -> u64 {
        let gone: u64 = self
            .delete
            .iter()
            .chain(&self.repack)
            .map(|p| p.length)
            .sum::<u64>()
            + self.unindexed.iter().map(|(_, n)| n).sum::<u64>();
        gone.saturating_sub(self.repack_bytes())
    }

    pub fn repack_bytes(&self) -> u64 {
        self.repack.iter().map(|p| p.used).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.delete.is_empty()
            && self.repack.is_empty()
            && self.unindexed.is_empty()
            && self.reindex.is_empty()
            && self.damaged_segments.is_empty()
    }

    /// Unused bytes left in the repository after the plan.
    pub fn unused_after(&self) -> u64 {
        let doomed: u64 = self
            .delete
            .iter()
            .chain(&self.repack)
            .map(|u| u.unused)
            .sum();
        self.unused_bytes.saturating_sub(doomed)
    }
}

/// What a prune did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Packs listed in a new segment (see [`PrunePlan::reindex`]).
    pub packs_indexed: u64,
    /// Live blobs of repacked packs that could not be read (damaged or gone), with why: no
    /// longer indexed, so the next backup of the devices that hold them stores them again.
    pub blobs_lost: Vec<(ChunkId, String)>,
    pub packs_deleted: u64,
    pub packs_written: u64,
    pub blobs_repacked: u64,
    pub segments_rewritten: u64,
    /// Half-written files of killed writers.
    pub temporary_files_removed: u64,
}

impl Repository {
    /// Decides what to prune. Reads snapshots, trees, index segments, the headers of packs no
    /// segment names and, to be sure of them, the copies prune keeps of blobs it drops a copy
    /// of; writes nothing but a temporary live-set file in the cache folder (and what it finds
    /// damaged, in the cache). Refuses while a snapshot cannot be read: what it uses is unknown.
    /// Under any lock (a dry run's shared one too), so that no prune deletes what it reads; a
    /// plan to carry out is made under the exclusive lock that [`Repository::prune`] takes.
    pub fn prune_plan(
        &self,
        lock: &LockGuard,
        options: &PruneOptions,
        progress: &dyn Progress,
    ) -> Result<PrunePlan, RepoError> {
        self.held(lock)?;
        self.sync_cache()?;
        let unreadable = self.unreadable_objects();
        if let Some(o) = unreadable
            .iter()
            .find(|o| o.object.starts_with("snapshots/"))
        {
            return Err(RepoError::corrupt(
                &o.object,
                format!(
                    "{}; prune cannot tell what that snapshot uses, so it does nothing: `hearth repair snapshots` first (it writes the snapshot again from a computer's cache that holds it; with `--forget` it removes it), or `hearth forget` with its id",
                    o.problem
                ),
            ));
        }
        let survey = self.survey_packs()?;
        let unindexed = self.unindexed_headers(&survey)?;
        let extra = locations(&unindexed);
        let reader = self.live_set(&extra, progress)?.reader()?;
        let mut plan = loop {
            let (plan, kept) = self.classify(options, &reader)?;
            if self.verify_copies(&kept)? {
                break plan;
            }
        };
        plan.unindexed = (survey.unindexed.iter())
            .map(|(p, n)| (p.to_hex(), *n))
            .collect();
        self.judge_unindexed(&mut plan, &unindexed, &reader)?;
        plan.damaged_segments = unreadable
            .iter()
            .filter_map(|o| o.object.strip_prefix("index/"))
            .filter_map(IndexId::from_hex)
            .collect();
        Ok(plan)
    }

    /// A segment the cache merged; one that no longer reads stops prune, which could not tell
    /// what it holds.
    fn segment_to_judge(&self, id: &IndexId) -> Result<IndexSegment, RepoError> {
        self.read_segment(id).map_err(|e| match e {
            e if e.is_damage() => RepoError::Refused(format!(
                "index/{id} does not read ({e}); prune cannot tell what its packs hold: `hearth repair index` first"
            )),
            e => e,
        })
    }

    /// What to delete and to repack, from the segments the cache merged and the live set; and
    /// the copies the plan keeps of live blobs of which it drops another copy.
    fn classify(
        &self,
        options: &PruneOptions,
        reader: &LiveReader,
    ) -> Result<(PrunePlan, Vec<BlobLocation>), RepoError> {
        let mut plan = PrunePlan::default();
        // One read view for every look-up (a view each costs more than the look-up).
        let index = self.cache.reader()?;
        let used = used_per_pack(&index, reader)?;
        let mut uses: Vec<PackUse> = Vec::new();
        let mut seen: HashSet<PackId> = HashSet::new();
        let mut segment_packs: Vec<(IndexId, Vec<PackId>)> = Vec::new();
        for id in self.cache.segments()? {
            let segment = self.segment_to_judge(&id)?;
            segment_packs.push((id, segment.packs.iter().map(|p| p.pack).collect()));
            for record in segment.packs {
                if !seen.insert(record.pack) {
                    continue;
                }
                let (used_bytes, used_blobs) = used.get(&record.pack).copied().unwrap_or_default();
                let all_bytes: u64 = record.entries.iter().map(|e| u64::from(e.length)).sum();
                let unused_entries = (record.entries.len() as u64).saturating_sub(used_blobs);
                uses.push(PackUse {
                    pack: record.pack,
                    length: u64::from(record.length),
                    used: used_bytes,
                    used_blobs,
                    unused: all_bytes - used_bytes + unused_entries * PACK_ENTRY_LEN as u64,
                });
            }
        }
        plan.packs = uses.len() as u64;
        plan.pack_bytes = uses.iter().map(|u| u.length).sum();
        plan.used_bytes = uses.iter().map(|u| u.used).sum();
        plan.unused_bytes = uses.iter().map(|u| u.unused).sum();
        let (delete, partly): (Vec<PackUse>, Vec<PackUse>) =
            uses.into_iter().partition(|u| u.used_blobs == 0);
        plan.delete = delete;
        // A pack known to hold a damaged copy, or lost, goes whatever the allowance: what reads
        // of it is copied, and the damage leaves the repository.
        let damage = self.cache.damage();
        let (damaged, mut partly): (Vec<PackUse>, Vec<PackUse>) =
            partly.into_iter().partition(|u| damage.touches(&u.pack));
        plan.repack = damaged;
        // Most wasteful first, until what stays unused is within the allowance.
        partly.sort_by(|a, b| {
            let share = |u: &PackUse| u.unused as f64 / u.length.max(1) as f64;
            share(b).total_cmp(&share(a))
        });
        let allowance = (options.max_unused * plan.pack_bytes as f64) as u64;
        for u in partly {
            if u.unused == 0 || plan.unused_after() <= allowance {
                break;
            }
            plan.repack.push(u);
        }
        let doomed = plan.doomed();
        let repacking: HashSet<PackId> = plan.repack.iter().map(|u| u.pack).collect();
        let mut kept = Vec::new();
        for (id, packs) in &segment_packs {
            if !packs.iter().any(|p| doomed.contains(p)) {
                continue;
            }
            plan.segments.push(*id);
            for record in self.segment_to_judge(id)?.packs {
                if !doomed.contains(&record.pack) {
                    continue;
                }
                if repacking.contains(&record.pack) {
                    let used = used_entries(&index, &record, reader)?;
                    plan.copy
                        .extend(used.into_iter().map(|(id, kind, _)| (id, kind)));
                }
                kept.extend(kept_elsewhere(&index, &record, reader)?);
            }
        }
        Ok((plan, kept))
    }

    /// Reads each copy. False when one failed: it is recorded as damaged, and the plan must be
    /// made again (the doomed copy is then the one used). A copy already known to be damaged
    /// is skipped: the index gives those only when every copy of the blob is (so each round
    /// records something new, and the rounds end).
    fn verify_copies(&self, copies: &[BlobLocation]) -> Result<bool, RepoError> {
        let damage = self.cache.damage();
        let mut sound = true;
        for loc in copies {
            if damage.is_damaged(&loc.entry.id, &loc.pack) {
                continue;
            }
            match self.read_copy(loc) {
                Ok(_) => {}
                Err(err) if err.is_damage() => {
                    self.note_damage(loc, &err)?;
                    sound = false;
                }
                Err(err) => return Err(err),
            }
        }
        Ok(sound)
    }

    /// The packs no segment names, with what their own headers say (or why they do not read).
    fn unindexed_headers(
        &self,
        survey: &PackSurvey,
    ) -> Result<HashMap<PackId, Result<PackRecord, String>>, RepoError> {
        let mut headers = HashMap::new();
        for &(pack, size) in &survey.unindexed {
            let record = match self.pack_record(&pack, size) {
                Ok(r) => Ok(r),
                Err(e) if e.is_not_found() => continue,
                Err(e) if e.is_damage() => Err(e.to_string()),
                Err(e) => return Err(e),
            };
            headers.insert(pack, record);
        }
        Ok(headers)
    }

    /// Judges the packs no segment names by their own headers (see the module docs).
    fn judge_unindexed(
        &self,
        plan: &mut PrunePlan,
        headers: &HashMap<PackId, Result<PackRecord, String>>,
        live: &LiveReader,
    ) -> Result<(), RepoError> {
        let mut idle = Vec::new();
        for (name, size) in std::mem::take(&mut plan.unindexed) {
            let pack = PackId::from_hex(&name).expect("listed names are ids");
            let record = match headers.get(&pack) {
                Some(Ok(r)) => r,
                Some(Err(why)) => {
                    plan.unreadable.push((pack, why.clone()));
                    continue;
                }
                // Listed since the survey: a pack some other process wrote; not ours to judge.
                None => continue,
            };
            // A live blob keeps it unless the index has a copy elsewhere that reads: the copy
            // the index names may be damaged unknown to this computer, and then this pack holds
            // the sound one.
            let mut needed = false;
            let mut elsewhere = Vec::new();
            for e in &record.entries {
                if !live.contains(&e.id)? {
                    continue;
                }
                match self.cache.lookup_healthy(&e.id)? {
                    Some(loc) => elsewhere.push(loc),
                    None => needed = true,
                }
            }
            needed = needed || !self.verify_copies(&elsewhere)?;
            match needed {
                true => plan.reindex.push(record.clone()),
                false => idle.push((name, size)),
            }
        }
        plan.unindexed = idle;
        Ok(())
    }

    /// Every blob a snapshot references, in a [`LiveSet`] (bounded memory: each snapshot's
    /// entries are streamed, and their chunk ids added [`LIVE_BATCH`] at a time).
    /// Tree blobs the index lacks are read from `unindexed` (packs no segment names).
    fn live_set(
        &self,
        unindexed: &HashMap<ChunkId, BlobLocation>,
        progress: &dyn Progress,
    ) -> Result<LiveSet, RepoError> {
        let mut live = LiveSet::create(&self.scratch_file("live"));
        let snapshots = self.snapshots()?;
        progress.start(
            "finding the data snapshots use",
            Some(snapshots.len() as u64),
        );
        for (id, snapshot) in &snapshots {
            live.insert_all(&snapshot.tree)?;
            let unreadable = |e: RepoError| match e {
                e if e.is_damage() => RepoError::corrupt(
                    format!("snapshots/{id}"),
                    format!(
                        "its file list cannot be read ({e}); prune cannot tell what it uses, so it does nothing: `hearth repair snapshots --forget` (or `hearth forget` with its id) first"
                    ),
                ),
                e => e,
            };
            // A batch of chunk ids at a time, one transaction each.
            let mut batch: Vec<ChunkId> = Vec::new();
            for entry in self.entries_with(snapshot, unindexed) {
                let entry = entry.map_err(unreadable)?;
                batch.extend(entry.content.iter().flat_map(|c| &c.chunks));
                if batch.len() >= LIVE_BATCH {
                    live.insert_all(&batch)?;
                    batch.clear();
                }
            }
            live.insert_all(&batch)?;
            progress.advance(1);
        }
        progress.finish();
        Ok(live)
    }

    /// Bytes of every object in the repository but the locks (which come and go with the
    /// commands that run, the one asking included).
    pub fn stored_size(&self) -> Result<u64, RepoError> {
        let mut total = 0;
        for t in FileType::ALL.into_iter().filter(|t| *t != FileType::Lock) {
            total += self.backend.list(t)?.iter().map(|o| o.size).sum::<u64>();
        }
        Ok(total)
    }

    /// Carries out a plan made under the same lock (see the module docs for the order).
    pub fn prune(
        &self,
        lock: &ExclusiveLock,
        plan: &PrunePlan,
        progress: &dyn Progress,
    ) -> Result<PruneReport, RepoError> {
        let mut report = PruneReport::default();
        let doomed = plan.doomed();
        if !plan.reindex.is_empty() {
            self.put_segments(lock, plan.reindex.clone())?;
            report.packs_indexed = plan.reindex.len() as u64;
        }
        if !plan.repack.is_empty() {
            let (blobs, packs) = self.repack(lock, plan, &mut report.blobs_lost, progress)?;
            report.blobs_repacked = blobs;
            report.packs_written = packs;
        }
        report.segments_rewritten = self.rewrite_segments(lock, &plan.segments, &doomed)?;
        for id in &plan.damaged_segments {
            self.held(lock)?;
            self.backend.delete(FileType::Index, &id.to_hex())?;
        }
        progress.start(
            "deleting packs",
            Some((doomed.len() + plan.unindexed.len()) as u64),
        );
        let names = doomed
            .iter()
            .map(PackId::to_hex)
            .chain(plan.unindexed.iter().map(|(n, _)| n.clone()));
        for name in names {
            self.held(lock)?;
            self.backend.delete(FileType::Pack, &name)?;
            report.packs_deleted += 1;
            progress.advance(1);
        }
        progress.finish();
        // Only while no writer stages packs: under the exclusive lock, still held.
        self.held(lock)?;
        report.temporary_files_removed = self.backend.remove_temporary_files()? as u64;
        self.sync_cache()?;
        Ok(report)
    }

    /// Copies the used blobs of the packs to repack into new packs, indexed: their sealed
    /// bytes as they are, read a span of neighbours at a time (each checked to open to its id
    /// first); a blob whose copy there is damaged is read from another copy and stored again.
    /// Returns the blob and new pack counts.
    /// A blob that cannot be read from any copy is left out (and listed in `lost`).
    fn repack(
        &self,
        lock: &ExclusiveLock,
        plan: &PrunePlan,
        lost: &mut Vec<(ChunkId, String)>,
        progress: &dyn Progress,
    ) -> Result<(u64, u64), RepoError> {
        let before: BTreeSet<IndexId> = self.cache.segments()?.into_iter().collect();
        let session = self.write_session(lock)?;
        // In the plan's order: pack by pack, each in its header's order.
        let ids: Vec<ChunkId> = plan.copy.iter().map(|(id, _)| *id).collect();
        let reader = self.span_reader(&ids)?;
        progress.start("repacking", Some(plan.copy.len() as u64));
        for (id, kind) in &plan.copy {
            let copied = reader.visit_blobs(std::slice::from_ref(id), |blob| match blob.sealed {
                Some((entry, sealed)) => session.store_sealed(entry, sealed),
                None => self.store_plain_again(&session, id, *kind, blob.plain),
            });
            match copied {
                Ok(()) => {}
                Err(e) if e.is_damage() => lost.push((*id, e.to_string())),
                Err(e) => return Err(e),
            }
            progress.advance(1);
        }
        drop(reader);
        session.finish()?;
        progress.finish();
        let after: BTreeSet<IndexId> = self.cache.segments()?.into_iter().collect();
        let mut packs = 0;
        for new in after.difference(&before) {
            packs += self.read_segment(new)?.packs.len() as u64;
        }
        Ok(((plan.copy.len() - lost.len()) as u64, packs))
    }

    /// Stores the plaintext of a blob read from another copy than the one planned: compressed
    /// again if that copy was (whatever a sample of it says), and sealed.
    fn store_plain_again(
        &self,
        session: &WriteSession,
        id: &ChunkId,
        kind: BlobKind,
        data: &[u8],
    ) -> Result<(), RepoError> {
        let compressed = self.cache.lookup(id)?.map(|l| l.entry.compression);
        let content = match compressed {
            Some(Compression::Zstd) => Content::Compressible,
            _ => Content::Unknown,
        };
        session.store_again(data, kind, content).map(drop)
    }

    /// Writes each segment again without the doomed packs, then deletes the old one.
    fn rewrite_segments(
        &self,
        lock: &ExclusiveLock,
        segments: &[IndexId],
        doomed: &HashSet<PackId>,
    ) -> Result<u64, RepoError> {
        for id in segments {
            let kept: Vec<PackRecord> = self
                .read_segment(id)?
                .packs
                .into_iter()
                .filter(|p| !doomed.contains(&p.pack))
                .collect();
            if !kept.is_empty() {
                self.put_segment(lock, kept)?;
            }
            self.held(lock)?;
            self.backend.delete(FileType::Index, &id.to_hex())?;
        }
        Ok(segments.len() as u64)
    }
}

/// The copies in other packs of the live blobs of `record` that the index resolves
/// elsewhere: what stays of them when this pack goes.
fn kept_elsewhere(
    index: &IndexReader,
    record: &PackRecord,
    live: &LiveReader,
) -> Result<Vec<BlobLocation>, RepoError> {
    let mut kept = Vec::new();
    for e in &record.entries {
        if let Some(loc) = index.lookup(&e.id)?
            && loc.pack != record.pack
            && live.contains(&e.id)?
        {
            kept.push(loc);
        }
    }
    Ok(kept)
}

/// For each pack, the sealed bytes and the number of the live blobs that the index resolves
/// to it: one pass over the live set and the index, both in id order.
fn used_per_pack(
    index: &IndexReader,
    live: &LiveReader,
) -> Result<HashMap<PackId, (u64, u64)>, RepoError> {
    let mut used: HashMap<PackId, (u64, u64)> = HashMap::new();
    let mut lookups = index.sorted_lookups()?;
    for id in live.ids()? {
        let Some(loc) = lookups.lookup(&id?)? else {
            continue;
        };
        let pack = used.entry(loc.pack).or_default();
        pack.0 += u64::from(loc.entry.length);
        pack.1 += 1;
    }
    Ok(used)
}

/// The entries of a pack that are live and that the index resolves to this pack.
fn used_entries(
    index: &IndexReader,
    record: &PackRecord,
    live: &LiveReader,
) -> Result<Vec<(ChunkId, BlobKind, u32)>, RepoError> {
    let mut used = Vec::new();
    for e in &record.entries {
        let here = index.lookup(&e.id)?.is_some_and(|l| l.pack == record.pack);
        if here && live.contains(&e.id)? {
            used.push((e.id, e.kind, e.length));
        }
    }
    Ok(used)
}

/// Where each blob of the readable headers lies.
fn locations(
    headers: &HashMap<PackId, Result<PackRecord, String>>,
) -> HashMap<ChunkId, BlobLocation> {
    let records = headers.values().filter_map(|r| r.as_ref().ok());
    records
        .flat_map(|r| {
            (r.entries.iter()).map(|e| {
                (
                    e.id,
                    BlobLocation {
                        pack: r.pack,
                        entry: *e,
                    },
                )
            })
        })
        .collect()
}
