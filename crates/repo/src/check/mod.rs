//! `check`: is every committed snapshot restorable, and (with `read_data`) is every stored byte
//! intact? Each problem is reported with the object that holds it, what is wrong and what to do,
//! and the devices and files it affects. What check finds lost or damaged is recorded in the
//! cache (`docs/format.md` §12), so that the next backup stores those blobs again.

mod record;
mod subset;

pub use record::CheckRecord;
pub use subset::ReadData;

use crate::error::RepoError;
use crate::packs::{PackSurvey, pack_trailer, read_pack_header};
use crate::progress::Progress;
use crate::read_ahead::ReadAhead;
use crate::repository::Repository;
use crate::seal::UnsealBuffers;
use crate::spans::KEEP_UNSEAL_BUFFERS;
use hearth_format::{ChunkId, Entry, IndexId, PackEntry, PackId, Snapshot, SnapshotId};
use hearth_storage::FileType;
use rayon::prelude::*;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Which packs to read in full, opening every blob and verifying its id.
    pub read_data: ReadData,
}

/// One problem found, with what it affects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    pub object: String,
    /// What is wrong, and what to do about it.
    pub problem: String,
    /// "device (udid) snapshot: path" lines.
    pub affected: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    pub snapshots: usize,
    pub index_segments: usize,
    pub packs: usize,
    pub blobs_checked: u64,
    pub bytes_read: u64,
    /// Packs read in full (all of them, a slice or a sample; see [`ReadData`]).
    pub packs_read: usize,
    pub damage: Vec<Damage>,
    /// Harmless findings: packs that hold nothing snapshots use, stale locks.
    pub notes: Vec<String>,
}

impl CheckReport {
    pub fn is_ok(&self) -> bool {
        self.damage.is_empty()
    }
}

/// A problem being found, with the blobs it costs (to name the files they belong to).
struct Finding {
    damage: Damage,
    blobs: HashSet<ChunkId>,
}

#[derive(Default)]
struct Findings {
    found: Vec<Finding>,
    /// Harmless: damage that costs nothing (every blob it reached has a sound copy).
    notes: Vec<String>,
}

impl Findings {
    /// A finding when it costs blobs; a note when it costs none.
    fn judge(&mut self, object: String, problem: String, lost: HashSet<ChunkId>) {
        match lost.is_empty() {
            true => self.notes.push(format!("{object}: {problem}")),
            false => self.add_costing(object, problem, lost),
        }
    }

    fn add(&mut self, object: impl Into<String>, problem: impl Into<String>) {
        self.add_costing(object, problem, HashSet::new());
    }

    fn add_costing(
        &mut self,
        object: impl Into<String>,
        problem: impl Into<String>,
        blobs: HashSet<ChunkId>,
    ) {
        self.found.push(Finding {
            damage: Damage {
                object: object.into(),
                problem: problem.into(),
                affected: Vec::new(),
            },
            blobs,
        });
    }
}

/// The packs the readable index segments name: length, and the segment that lists its entries
/// (read again when they are needed, so that check holds one segment's entries at a time).
type Indexed = HashMap<PackId, (u32, IndexId)>;

/// What the snapshots need that the index cannot serve, found by [`Repository::check_references`].
#[derive(Default)]
struct Needs {
    /// Blobs in packs no segment names, by pack.
    unindexed: BTreeMap<PackId, HashSet<ChunkId>>,
    /// Blobs in no index segment and no pack.
    lost: HashSet<ChunkId>,
    /// Blobs whose every copy failed to read before (recorded in the cache), with one reason.
    known_bad: HashMap<ChunkId, String>,
}

/// A pack buffer above this (twice a pack's target size) is not kept between packs.
const KEEP_PACK_BUFFER: usize = 32 << 20;

const REPAIR_INDEX: &str = "`hearth repair index` rebuilds the index from the packs";
const BACK_UP_AGAIN: &str = "the next backup of the devices that still hold them stores them again; see \"When the repository is damaged\" in the user guide";

impl Repository {
    pub fn check(
        &self,
        options: CheckOptions,
        progress: &dyn Progress,
    ) -> Result<CheckReport, RepoError> {
        self.sync_cache()?;
        let mut report = CheckReport::default();
        let mut findings = Findings::default();
        let snapshots = self.check_snapshot_objects(&mut findings)?;
        report.snapshots = snapshots.len();
        let indexed = self.check_segments(&mut report, &mut findings)?;
        let survey = self.survey_packs()?;
        report.packs = survey.listed.len();
        self.check_packs_exist(&indexed, &survey, &mut findings)?;
        let unindexed = self.unindexed_contents(&survey, &mut findings)?;
        let needs = self.check_references(&snapshots, &unindexed, &mut findings)?;
        judge_needs(
            &needs,
            &unindexed,
            options.read_data,
            &mut report,
            &mut findings,
        );
        if options.read_data.reads_any() {
            let ids: Vec<PackId> = indexed
                .keys()
                .filter(|p| survey.listed.contains_key(p))
                .copied()
                .collect();
            let seed = u64::from_le_bytes(hearth_crypto::random_bytes());
            let chosen = options.read_data.select(&ids, seed);
            self.read_packs(&indexed, &chosen, &mut report, &mut findings, progress)?;
        }
        self.attribute(&snapshots, &mut findings)?;
        report
            .damage
            .extend(findings.found.into_iter().map(|f| f.damage));
        report.notes.extend(findings.notes);
        self.check_device_keys(&mut report)?;
        for l in self.locks()?.stale {
            report.notes.push(format!(
                "stale lock {} ({}): run `hearth unlock`",
                l.id.short(),
                l.reason
            ));
        }
        Ok(report)
    }

    /// Reads every snapshot object anew (the cache may hold a copy of one that is damaged
    /// since).
    fn check_snapshot_objects(
        &self,
        findings: &mut Findings,
    ) -> Result<Vec<(SnapshotId, Snapshot)>, RepoError> {
        let mut out = Vec::new();
        for obj in self.backend.list(FileType::Snapshot)? {
            let id = SnapshotId::from_hex(&obj.name).expect("listed names are ids");
            match self.read_snapshot_payload(&id).and_then(|p| {
                Snapshot::decode(&p).map_err(|e| RepoError::corrupt("snapshot", e))
            }) {
                Ok(s) => out.push((id, s)),
                Err(e) if e.is_damage() => findings.add(
                    format!("snapshots/{}", obj.name),
                    format!(
                        "{e}; `hearth repair snapshots` writes it again from a computer's cache that still holds it (run it on the computer that made the backup), and with `--forget` removes it"
                    ),
                ),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Every device key must open: without it an encrypted snapshot cannot be restored.
    fn check_device_keys(&self, report: &mut CheckReport) -> Result<(), RepoError> {
        for obj in self.backend.list(FileType::DeviceKey)? {
            if let Err(e) = self.read_device_key(&obj.name) {
                report.damage.push(Damage {
                    object: format!("{}/{}", FileType::DeviceKey.dir(), obj.name),
                    problem: e.to_string(),
                    affected: vec![
                        "encrypted snapshots whose keybag only this key opens cannot be restored; back those devices up again with their password".into(),
                    ],
                });
            }
        }
        Ok(())
    }

    /// Reads every index segment; returns the packs they name.
    fn check_segments(
        &self,
        report: &mut CheckReport,
        findings: &mut Findings,
    ) -> Result<Indexed, RepoError> {
        let mut packs = HashMap::new();
        for obj in self.backend.list(FileType::Index)? {
            report.index_segments += 1;
            let id = IndexId::from_hex(&obj.name).expect("listed names are ids");
            match self.read_segment(&id) {
                Ok(seg) => {
                    for p in seg.packs {
                        packs.insert(p.pack, (p.length, id));
                    }
                }
                Err(e) if e.is_damage() => findings.add(
                    format!("index/{}", obj.name),
                    format!("{e}; {REPAIR_INDEX}"),
                ),
                Err(e) => return Err(e),
            }
        }
        Ok(packs)
    }

    /// Indexed packs that storage does not have, or has shorter or longer than indexed. The
    /// blobs they cost are recorded in the cache ([`Repository::survey_packs`] recorded the
    /// lost packs).
    fn check_packs_exist(
        &self,
        indexed: &Indexed,
        survey: &PackSurvey,
        findings: &mut Findings,
    ) -> Result<(), RepoError> {
        let mut packs: Vec<&PackId> = indexed.keys().collect();
        packs.sort_unstable();
        for pack in packs {
            let (len, segment) = &indexed[pack];
            let object = format!("packs/{pack}");
            if survey.listed.get(pack) == Some(&u64::from(*len)) {
                continue;
            }
            let entries = &self.indexed_entries(pack, segment)?;
            let Some(&size) = survey.listed.get(pack) else {
                let (lost, healed) = self.lost_or_healed(entries.iter().map(|e| e.id))?;
                let problem = format!(
                    "named by the index but missing from storage: {}",
                    costs(lost.len(), healed)
                );
                findings.judge(object, problem, lost);
                continue;
            };
            if size == u64::from(*len) {
                continue;
            }
            let past_end: Vec<ChunkId> = entries
                .iter()
                .filter(|e| e.end() > size)
                .map(|e| e.id)
                .collect();
            for id in &past_end {
                self.cache
                    .record_bad_blob(id, pack, "past the end of its truncated pack")?;
            }
            let (lost, healed) = self.lost_or_healed(past_end.iter().copied())?;
            let problem = match past_end.len() {
                0 => format!(
                    "is {size} bytes, the index says {len} (bytes were added on storage; its blobs still read)"
                ),
                n => format!(
                    "is {size} bytes, the index says {len}: {n} of its {} blob(s) lie past its end: {}",
                    entries.len(),
                    costs(lost.len(), healed)
                ),
            };
            findings.judge(object, problem, lost);
        }
        Ok(())
    }

    /// Splits blobs whose copy is damaged into those that are lost and those with a sound copy
    /// elsewhere (a backup stored them again), which are only counted.
    fn lost_or_healed(
        &self,
        blobs: impl Iterator<Item = ChunkId>,
    ) -> Result<(HashSet<ChunkId>, usize), RepoError> {
        let index = self.cache.reader()?;
        let (mut lost, mut healed) = (HashSet::new(), 0);
        for id in blobs {
            match index.lookup_healthy(&id)? {
                Some(_) => healed += 1,
                None => drop(lost.insert(id)),
            }
        }
        Ok((lost, healed))
    }

    /// The blobs of the packs no segment names, read from their own headers. A header that
    /// cannot be read is a finding: what the pack holds is unknown.
    fn unindexed_contents(
        &self,
        survey: &PackSurvey,
        findings: &mut Findings,
    ) -> Result<HashMap<ChunkId, PackId>, RepoError> {
        let mut blobs = HashMap::new();
        for (pack, size) in &survey.unindexed {
            match self.pack_record(pack, *size) {
                Ok(record) => blobs.extend(record.entries.iter().map(|e| (e.id, *pack))),
                Err(e) if e.is_damage() => findings.add(
                    format!("packs/{pack}"),
                    format!(
                        "named by no index segment, and its own header cannot be read ({e}): what it holds is unknown; it is kept"
                    ),
                ),
                Err(e) => return Err(e),
            }
        }
        Ok(blobs)
    }

    /// Every tree and content chunk of every snapshot must have a copy the index names and
    /// that is not known to be damaged; every file's chunks must add up to its recorded size.
    fn check_references(
        &self,
        snapshots: &[(SnapshotId, Snapshot)],
        unindexed: &HashMap<ChunkId, PackId>,
        findings: &mut Findings,
    ) -> Result<Needs, RepoError> {
        let mut needs = Needs::default();
        let damage = self.cache.damage();
        let index = self.cache.reader()?;
        let mut need = |chunk: &ChunkId| -> Result<Option<u64>, RepoError> {
            let Some(loc) = index.lookup(chunk)? else {
                match unindexed.get(chunk) {
                    Some(pack) => drop(needs.unindexed.entry(*pack).or_default().insert(*chunk)),
                    None => drop(needs.lost.insert(*chunk)),
                }
                return Ok(None);
            };
            // A lost pack is a finding of its own.
            if let Some(why) = damage.bad_blob(chunk, &loc.pack)
                && damage.lost(&loc.pack).is_none()
            {
                needs.known_bad.insert(*chunk, why.to_string());
            }
            Ok(Some(u64::from(loc.entry.raw_length)))
        };
        for (id, snap) in snapshots {
            for chunk in &snap.tree {
                need(chunk)?;
            }
            let mut wrong_size = Vec::new();
            for e in self.entries(snap) {
                let e = match e {
                    Ok(e) => e,
                    Err(e) if e.is_damage() => {
                        findings.add(
                            format!("snapshots/{id}"),
                            format!(
                                "its file list cannot be read ({e}); the snapshot cannot be restored (see the findings about its blobs)"
                            ),
                        );
                        break;
                    }
                    Err(e) => return Err(e),
                };
                let Some(content) = &e.content else { continue };
                let mut stored = Some(0u64);
                for chunk in &content.chunks {
                    let len = need(chunk)?;
                    stored = stored.zip(len).map(|(a, b)| a + b);
                }
                if stored.is_some_and(|n| content.file_len(n) != content.size) {
                    wrong_size.push(describe(id, snap, &what(&e)));
                }
            }
            if !wrong_size.is_empty() {
                let mut f = Finding {
                    damage: Damage {
                        object: format!("snapshots/{id}"),
                        problem: format!(
                            "{} file(s) record a size that their stored bytes do not add up to (they changed while they were backed up): they cannot be restored as recorded; back the device up again",
                            wrong_size.len()
                        ),
                        affected: Vec::new(),
                    },
                    blobs: HashSet::new(),
                };
                f.damage.affected = wrong_size;
                findings.found.push(f);
            }
        }
        Ok(needs)
    }

    /// The entries the index segment `segment` lists for `pack`.
    fn indexed_entries(
        &self,
        pack: &PackId,
        segment: &IndexId,
    ) -> Result<Vec<PackEntry>, RepoError> {
        // It read a moment ago; damaged since, its packs are judged without their entries.
        let seg = match self.read_segment(segment) {
            Ok(seg) => seg,
            Err(e) if e.is_damage() => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok((seg.packs.into_iter())
            .rfind(|p| p.pack == *pack)
            .map(|p| p.entries)
            .unwrap_or_default())
    }

    /// Reads the `chosen` indexed packs in full. Blobs that fail are findings and are
    /// recorded in the cache; what was recorded about packs that read whole is forgotten.
    /// The packs go by segment: each thread holds one segment's entries and the pack it reads.
    fn read_packs(
        &self,
        indexed: &Indexed,
        chosen: &[PackId],
        report: &mut CheckReport,
        findings: &mut Findings,
        progress: &dyn Progress,
    ) -> Result<(), RepoError> {
        let mut by_segment: BTreeMap<IndexId, Vec<(PackId, u32)>> = BTreeMap::new();
        for p in chosen {
            if let Some((len, segment)) = indexed.get(p) {
                by_segment.entry(*segment).or_default().push((*p, *len));
            }
        }
        let count: usize = by_segment.values().map(Vec::len).sum();
        let total: u64 = (by_segment.values().flatten())
            .map(|(_, l)| u64::from(*l))
            .sum();
        progress.start("reading packs", Some(total));
        // Segments are taken in order (`par_bridge`), so the packs are read about in the order
        // of `ahead`, which hints each pack's bytes to the backend a few packs early.
        let ahead = ReadAhead::packs(&*self.backend, by_segment.values().flatten());
        let mut results: Vec<(usize, PackId, PackVerdict)> = by_segment
            .into_iter()
            .scan(0, |first, (segment, packs)| {
                let at = *first;
                *first += packs.len();
                Some((at, segment, packs))
            })
            .par_bridge()
            .flat_map_iter(|(first, segment, packs)| {
                let seg = self.read_segment(&segment);
                let ahead = &ahead;
                packs.into_iter().enumerate().map(move |(i, (pack, len))| {
                    ahead.reading(first + i);
                    let r = match &seg {
                        Ok(seg) => {
                            let entries = (seg.packs.iter().rev())
                                .find(|p| p.pack == pack)
                                .map_or(&[][..], |p| &p.entries[..]);
                            self.verify_pack(&pack, entries)
                        }
                        Err(e) => PackVerdict {
                            unread: Some(format!("its index segment {segment} did not read: {e}")),
                            ..PackVerdict::default()
                        },
                    };
                    progress.advance(u64::from(len));
                    (first + i, pack, r)
                })
            })
            .collect();
        results.sort_unstable_by_key(|r| r.0);
        progress.finish();
        report.packs_read = count;
        let mut sound = Vec::new();
        for (_, pack, verdict) in results {
            report.blobs_checked += verdict.checked;
            report.bytes_read += verdict.bytes;
            let object = format!("packs/{pack}");
            if let Some(why) = &verdict.unread {
                findings.add(
                    object,
                    format!(
                        "could not be read ({why}): its blobs were not checked; run the check again"
                    ),
                );
                continue;
            }
            if verdict.lost {
                self.cache.record_lost_pack(&pack, "missing from storage")?;
                findings.add(
                    object,
                    "went missing from storage while it was being checked",
                );
                continue;
            }
            if verdict.problems.is_empty() && verdict.bad.is_empty() {
                sound.push(pack);
                continue;
            }
            for (blob, why) in &verdict.bad {
                self.cache.record_bad_blob(blob, &pack, why)?;
            }
            let (lost, healed) = self.lost_or_healed(verdict.bad.keys().copied())?;
            for problem in verdict.problems {
                findings.add_costing(format!("packs/{pack}"), problem, lost.clone());
            }
            if !verdict.bad.is_empty() {
                let problem = format!(
                    "{} of its {} blobs cannot be read or fail to verify: {}",
                    verdict.bad.len(),
                    verdict.checked,
                    costs(lost.len(), healed)
                );
                findings.judge(format!("packs/{pack}"), problem, lost);
            }
        }
        Ok(self.cache.forget_damage(&sound)?)
    }

    /// Reads a pack whole and opens every blob of it, into buffers its thread keeps from one
    /// pack to the next (a fresh 16 MiB buffer costs a page fault every 4 KiB: a fifth of a
    /// `check --read-data`'s time went there).
    fn verify_pack(&self, pack: &PackId, indexed: &[PackEntry]) -> PackVerdict {
        thread_local! {
            static BUFFERS: RefCell<(Vec<u8>, UnsealBuffers)> = RefCell::default();
        }
        BUFFERS.with_borrow_mut(|(bytes, unseal)| {
            let verdict = self.verify_pack_with(pack, indexed, bytes, unseal);
            unseal.release_above(KEEP_UNSEAL_BUFFERS);
            if bytes.capacity() > KEEP_PACK_BUFFER {
                *bytes = Vec::new();
            }
            verdict
        })
    }

    fn verify_pack_with(
        &self,
        pack: &PackId,
        indexed: &[PackEntry],
        bytes: &mut Vec<u8>,
        buffers: &mut UnsealBuffers,
    ) -> PackVerdict {
        let mut verdict = PackVerdict::default();
        match self.backend.get_into(FileType::Pack, &pack.to_hex(), bytes) {
            Ok(()) => {}
            // Gone since it was listed: a lost pack, as `check_packs_exist` reports them.
            Err(e) if e.is_not_found() => {
                verdict.lost = true;
                return verdict;
            }
            // Not reached (a timeout, a disk that went away): nothing is known of its blobs.
            Err(e) => {
                verdict.unread = Some(e.to_string());
                return verdict;
            }
        };
        let bytes = &bytes[..];
        verdict.bytes = bytes.len() as u64;
        if pack_trailer(bytes).is_some_and(|t| self.keys.object_id(t) != pack.0) {
            verdict
                .problems
                .push("its header does not match its name (bytes changed on storage)".into());
        }
        match read_pack_header(&self.keys, bytes) {
            Ok(header) if header != indexed => verdict
                .problems
                .push("its header disagrees with the index".into()),
            Err(e) => verdict
                .problems
                .push(format!("its header cannot be read: {e}")),
            Ok(_) => {}
        }
        for e in indexed {
            let start = e.offset as usize;
            let sealed = bytes.get(start..start + e.length as usize);
            let failure = match sealed {
                None => Some("past the end of the pack".to_string()),
                Some(s) => buffers
                    .unseal(&self.keys, e, s)
                    .err()
                    .map(|e| e.to_string()),
            };
            if let Some(why) = failure {
                verdict.bad.insert(e.id, why);
            }
        }
        verdict.checked = indexed.len() as u64;
        verdict
    }

    /// Names the files that each finding's blobs belong to.
    fn attribute(
        &self,
        snapshots: &[(SnapshotId, Snapshot)],
        findings: &mut Findings,
    ) -> Result<(), RepoError> {
        let mut by_blob: HashMap<ChunkId, Vec<usize>> = HashMap::new();
        for (i, f) in findings.found.iter().enumerate() {
            for b in &f.blobs {
                by_blob.entry(*b).or_default().push(i);
            }
        }
        if by_blob.is_empty() {
            return Ok(());
        }
        let mut affected: Vec<Vec<String>> = vec![Vec::new(); findings.found.len()];
        for (id, snap) in snapshots {
            let mut hit = |chunks: &[ChunkId], what: &str| {
                let mut seen = HashSet::new();
                for i in chunks.iter().filter_map(|c| by_blob.get(c)).flatten() {
                    if seen.insert(*i) {
                        affected[*i].push(describe(id, snap, what));
                    }
                }
            };
            hit(&snap.tree, "(the snapshot's file list)");
            // A file list that stops reading names what it can (its loss is a finding).
            for e in self.entries(snap).map_while(Result::ok) {
                if let Some(c) = &e.content {
                    hit(&c.chunks, &what(&e));
                }
            }
        }
        for (f, a) in findings.found.iter_mut().zip(affected) {
            f.damage.affected.extend(a);
        }
        Ok(())
    }
}

/// What damage to `lost + healed` blobs costs, in words.
fn costs(lost: usize, healed: usize) -> String {
    match (lost, healed) {
        (0, _) => "every blob it reached has a sound copy elsewhere (a backup stored it again); prune removes the damaged copy".into(),
        (n, 0) => format!("{n} blob(s) are lost; {BACK_UP_AGAIN}"),
        (n, h) => format!("{n} blob(s) are lost ({h} more have a sound copy elsewhere); {BACK_UP_AGAIN}"),
    }
}

/// What reading one pack in full found.
#[derive(Default)]
struct PackVerdict {
    /// It could not be read (not damage: the storage did not answer), and why.
    unread: Option<String>,
    /// It was gone.
    lost: bool,
    problems: Vec<String>,
    /// Blobs that failed, with why.
    bad: HashMap<ChunkId, String>,
    checked: u64,
    bytes: u64,
}

/// Findings about what the snapshots need and the index cannot serve; notes about unindexed
/// packs that hold nothing they need.
fn judge_needs(
    needs: &Needs,
    unindexed: &HashMap<ChunkId, PackId>,
    read_data: ReadData,
    report: &mut CheckReport,
    findings: &mut Findings,
) {
    for (pack, blobs) in &needs.unindexed {
        findings.add_costing(
            format!("packs/{pack}"),
            format!(
                "named by no index segment, but holds {} blob(s) that snapshots use: {REPAIR_INDEX}",
                blobs.len()
            ),
            blobs.clone(),
        );
    }
    if !needs.lost.is_empty() {
        findings.add_costing(
            "index",
            format!(
                "{} blob(s) that snapshots use are in no index segment and in no pack: they are lost; {BACK_UP_AGAIN}",
                needs.lost.len()
            ),
            needs.lost.clone(),
        );
    }
    // Reading every pack finds these again, with their reasons.
    if !needs.known_bad.is_empty() && read_data != ReadData::All {
        let why = needs.known_bad.values().next().cloned().unwrap_or_default();
        findings.add_costing(
            "index",
            format!(
                "{} blob(s) that snapshots use failed to read when they were last read (e.g. {why}); `hearth check --read-data` reads them again; {BACK_UP_AGAIN}",
                needs.known_bad.len()
            ),
            needs.known_bad.keys().copied().collect(),
        );
    }
    let holding: HashSet<&PackId> = unindexed.values().collect();
    let idle = holding
        .iter()
        .filter(|p| !needs.unindexed.contains_key(**p))
        .count();
    if idle > 0 {
        report.notes.push(format!(
            "{idle} pack(s) are named by no index segment and hold nothing snapshots use (left by an interrupted backup; harmless, prune removes them)"
        ));
    }
}

/// An entry as a user knows it: its path in the device folder, and its domain and path.
fn what(e: &Entry) -> String {
    match &e.row {
        Some(r) => format!("{} ({}/{})", e.path, r.domain, r.relative_path),
        None => e.path.clone(),
    }
}

fn describe(id: &SnapshotId, snap: &Snapshot, what: &str) -> String {
    format!(
        "{} ({}) snapshot {}: {what}",
        snap.device.name,
        snap.device.udid,
        id.short()
    )
}
