//! `repair index`: the index rebuilt from the packs themselves (`docs/format.md` §8, §11b).
//! Every pack describes itself in its sealed header, so a lost or damaged segment costs
//! nothing: the packs no readable segment names are read (their headers only) and listed in
//! new segments. Segments that name packs storage no longer has are written again without
//! them, so their blobs count as not stored and the next backup stores them again. With
//! `read_all_packs` every pack's header is read and the whole index is written anew.
//!
//! New segments are written before any old one is deleted, so a repair killed at any moment
//! leaves an index at least as complete as before (at worst with packs listed twice, which is
//! harmless). It runs under the exclusive lock (no backup writes meanwhile) and stops before
//! the next write once the lock is lost.

use crate::error::RepoError;
use crate::lock::ExclusiveLock;
use crate::progress::Progress;
use crate::repository::Repository;
use hearth_format::{IndexId, PackId, PackRecord};
use hearth_storage::FileType;
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RepairIndexOptions {
    /// Read the header of every pack and write the whole index anew (restic's
    /// `repair index --read-all-packs`), instead of only the packs no segment names.
    pub read_all_packs: bool,
}

/// What a repair found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairIndexReport {
    /// Segments that could be read.
    pub segments_read: usize,
    /// Segments that could not be read (deleted once their packs are listed anew), with why.
    pub segments_damaged: Vec<(IndexId, String)>,
    /// Pack headers read.
    pub headers_read: usize,
    /// Packs no readable segment named, now listed from their own headers.
    pub packs_indexed: Vec<PackId>,
    /// Packs the index named that storage does not have: no longer named.
    pub packs_dropped: Vec<PackId>,
    /// Packs in storage whose header cannot be read, with why: what they hold is unknown, and
    /// they are left as they are.
    pub packs_unreadable: Vec<(PackId, String)>,
    pub segments_written: usize,
    pub segments_deleted: usize,
    /// Blobs, packs and snapshots the index and cache hold afterwards.
    pub blobs: u64,
    pub packs: usize,
    pub snapshots: usize,
}

/// The segments as they are: those that read, and those that do not.
struct Segments {
    good: Vec<(IndexId, Vec<PackRecord>)>,
    damaged: Vec<(IndexId, String)>,
}

impl Repository {
    /// Rebuilds the index from the packs (see the module docs) and then the cache.
    pub fn repair_index(
        &self,
        lock: &ExclusiveLock,
        options: RepairIndexOptions,
        progress: &dyn Progress,
    ) -> Result<RepairIndexReport, RepoError> {
        self.held(lock)?;
        let segments = self.read_all_segments()?;
        let listed = self.list_packs()?;
        let mut named: HashMap<PackId, PackRecord> = HashMap::new();
        for (_, packs) in &segments.good {
            for p in packs {
                named.entry(p.pack).or_insert_with(|| p.clone());
            }
        }
        let mut to_read: Vec<(PackId, u64)> = listed
            .iter()
            .filter(|(p, _)| options.read_all_packs || !named.contains_key(p))
            .map(|(p, n)| (*p, *n))
            .collect();
        to_read.sort_unstable();
        let mut report = RepairIndexReport {
            segments_read: segments.good.len(),
            segments_damaged: segments.damaged.clone(),
            headers_read: to_read.len(),
            ..Default::default()
        };
        let headers = self.read_headers(&to_read, &mut report, progress)?;
        report.packs_dropped = {
            let mut gone: Vec<PackId> = (named.keys())
                .filter(|p| !listed.contains_key(p))
                .copied()
                .collect();
            gone.sort_unstable();
            gone
        };
        report.packs_indexed = headers
            .keys()
            .filter(|p| !named.contains_key(p))
            .copied()
            .collect();

        let (write, delete) = match options.read_all_packs {
            true => everything_anew(&segments, &named, headers, &listed),
            false => what_changed(&segments, headers, &report.packs_dropped),
        };
        progress.start("writing the index", None);
        report.segments_written = self.put_segments(lock, write)?.len();
        for id in &delete {
            self.held(lock)?;
            self.backend.delete(FileType::Index, &id.to_hex())?;
        }
        progress.finish();
        report.segments_deleted = delete.len();
        self.rebuild_cache()?;
        report.blobs = self.cache.blob_count()?;
        report.packs = self.cache.packs()?.len();
        report.snapshots = self.snapshots()?.len();
        Ok(report)
    }

    fn read_all_segments(&self) -> Result<Segments, RepoError> {
        let mut segments = Segments {
            good: Vec::new(),
            damaged: Vec::new(),
        };
        for obj in self.backend.list(FileType::Index)? {
            let id = IndexId::from_hex(&obj.name).expect("listed names are ids");
            match self.read_segment(&id) {
                Ok(s) => segments.good.push((id, s.packs)),
                Err(e) if e.is_not_found() => {}
                Err(e) if e.is_damage() => segments.damaged.push((id, e.to_string())),
                Err(e) => return Err(e),
            }
        }
        Ok(segments)
    }

    /// The headers of `packs`, read in parallel; the unreadable ones go to the report.
    fn read_headers(
        &self,
        packs: &[(PackId, u64)],
        report: &mut RepairIndexReport,
        progress: &dyn Progress,
    ) -> Result<BTreeMap<PackId, PackRecord>, RepoError> {
        progress.start("reading pack headers", Some(packs.len() as u64));
        let read: Vec<(PackId, Result<PackRecord, RepoError>)> = packs
            .par_iter()
            .map(|(pack, size)| {
                let r = self.pack_record(pack, *size);
                progress.advance(1);
                (*pack, r)
            })
            .collect();
        progress.finish();
        let mut headers = BTreeMap::new();
        for (pack, r) in read {
            match r {
                Ok(record) => drop(headers.insert(pack, record)),
                // Deleted since it was listed: nothing to index.
                Err(e) if e.is_not_found() => {}
                Err(e) if e.is_damage() => report.packs_unreadable.push((pack, e.to_string())),
                Err(e) => return Err(e),
            }
        }
        Ok(headers)
    }
}

/// The whole index from the headers, plus what the old segments said of packs whose header
/// does not read (their blobs may still read); every old segment goes.
fn everything_anew(
    segments: &Segments,
    named: &HashMap<PackId, PackRecord>,
    headers: BTreeMap<PackId, PackRecord>,
    listed: &HashMap<PackId, u64>,
) -> (Vec<PackRecord>, Vec<IndexId>) {
    let mut kept: Vec<PackRecord> = (named.values())
        .filter(|p| listed.contains_key(&p.pack) && !headers.contains_key(&p.pack))
        .cloned()
        .collect();
    kept.sort_unstable_by_key(|p| p.pack);
    let write = headers.into_values().chain(kept).collect();
    let delete = (segments.good.iter().map(|(id, _)| *id))
        .chain(segments.damaged.iter().map(|(id, _)| *id))
        .collect();
    (write, delete)
}

/// New segments for the packs read from their headers, and for each segment that names a
/// dropped pack, the same segment without it; the damaged and rewritten segments go.
fn what_changed(
    segments: &Segments,
    headers: BTreeMap<PackId, PackRecord>,
    dropped: &[PackId],
) -> (Vec<PackRecord>, Vec<IndexId>) {
    let dropped: HashSet<&PackId> = dropped.iter().collect();
    let mut write: Vec<PackRecord> = headers.into_values().collect();
    let mut delete: Vec<IndexId> = segments.damaged.iter().map(|(id, _)| *id).collect();
    for (id, packs) in &segments.good {
        if packs.iter().any(|p| dropped.contains(&p.pack)) {
            write.extend(packs.iter().filter(|p| !dropped.contains(&p.pack)).cloned());
            delete.push(*id);
        }
    }
    (write, delete)
}
