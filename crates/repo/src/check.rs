//! `check`: is every committed snapshot restorable, and (with `read_data`) is every stored byte
//! intact? Damage is reported with the object and the devices and files it affects.

use crate::error::RepoError;
use crate::progress::Progress;
use crate::repository::Repository;
use hearth_chunker::unseal;
use hearth_crypto::Keys;
use hearth_format::codec::Reader;
use hearth_format::pack::PACK_TRAILER_LEN;
use hearth_format::{
    ChunkId, FileHeader, IndexId, ObjectKind, PackEntry, PackId, Snapshot, SnapshotId,
};
use hearth_storage::FileType;
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Which packs to read in full, opening every blob and verifying its id.
    pub read_data: ReadData,
}

/// Which packs `check` reads (`--read-data`, `--read-data-subset`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum ReadData {
    /// Structure only: no pack is read.
    #[default]
    None,
    /// Every pack.
    All,
    /// Slice `n` of `m` (1 ≤ n ≤ m): the packs whose id's first 4 bytes, read as a big-endian
    /// u32 (the first 8 hex digits of the name), leave remainder `n - 1` divided by `m`.
    /// Slices 1/m … m/m together read every pack exactly once.
    Slice { n: u32, m: u32 },
    /// A random sample of about this percentage (0 < p ≤ 100) of the packs, at least one when
    /// there are any; different on every run.
    Percent(f64),
}

impl ReadData {
    /// Parses a `--read-data-subset` value: `N/M` (1 ≤ N ≤ M) or `P%` (0 < P ≤ 100, e.g. `2.5%`).
    pub fn parse_subset(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Some(p) = s.strip_suffix('%') {
            let p: f64 = p
                .trim()
                .parse()
                .map_err(|_| format!("`{s}` is not a percentage like 10% or 2.5%"))?;
            if !(p > 0.0 && p <= 100.0) {
                return Err(format!(
                    "the percentage must be above 0 and at most 100 (got {s})"
                ));
            }
            return Ok(Self::Percent(p));
        }
        let Some((n, m)) = s.split_once('/') else {
            return Err(format!("`{s}` is neither N/M (e.g. 2/5) nor P% (e.g. 10%)"));
        };
        let number = |x: &str| {
            x.trim()
                .parse::<u32>()
                .map_err(|_| format!("`{s}`: `{x}` is not a whole number (expected N/M, e.g. 2/5)"))
        };
        let (n, m) = (number(n)?, number(m)?);
        if m == 0 {
            return Err(format!("M must be at least 1 (got {s})"));
        }
        if n == 0 || n > m {
            return Err(format!("N must be between 1 and M={m} (got {s})"));
        }
        Ok(Self::Slice { n, m })
    }

    /// Whether `pack` belongs to slice `n` of `m` (1-based; see [`ReadData::Slice`]).
    #[allow(
        clippy::big_endian_bytes,
        reason = "the rule reads the pack name's first 8 hex digits as a number; nothing is stored"
    )]
    pub fn in_slice(pack: &PackId, n: u32, m: u32) -> bool {
        let v = u32::from_be_bytes(pack.0[..4].try_into().expect("4 bytes"));
        m > 0 && v % m == n.wrapping_sub(1)
    }

    /// The packs to read out of `packs`; `seed` drives the [`ReadData::Percent`] sample.
    pub fn select(&self, packs: &[PackId], seed: u64) -> Vec<PackId> {
        match *self {
            Self::None => Vec::new(),
            Self::All => packs.to_vec(),
            Self::Slice { n, m } => packs
                .iter()
                .filter(|p| Self::in_slice(p, n, m))
                .copied()
                .collect(),
            Self::Percent(p) => {
                let mut all = packs.to_vec();
                all.sort_unstable();
                let want = ((all.len() as f64 * p / 100.0).ceil() as usize)
                    .clamp(all.len().min(1), all.len());
                // A partial Fisher–Yates shuffle driven by splitmix64.
                let mut state = seed;
                let mut next = || {
                    state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                    let mut z = state;
                    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                    z ^ (z >> 31)
                };
                for i in 0..want {
                    let j = i + (next() % (all.len() - i) as u64) as usize;
                    all.swap(i, j);
                }
                all.truncate(want);
                all
            }
        }
    }

    pub fn reads_any(&self) -> bool {
        *self != Self::None
    }
}

impl std::fmt::Display for ReadData {
    /// `none`, `all`, `subset 2/5`, `subset 2.5%`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("none"),
            Self::All => f.write_str("all"),
            Self::Slice { n, m } => write!(f, "subset {n}/{m}"),
            Self::Percent(p) => write!(f, "subset {p}%"),
        }
    }
}

/// One problem found, with what it affects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    pub object: String,
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
    /// Harmless findings: packs no index names (an interrupted backup), stale locks.
    pub notes: Vec<String>,
}

impl CheckReport {
    pub fn is_ok(&self) -> bool {
        self.damage.is_empty()
    }
}

impl Repository {
    pub fn check(
        &self,
        options: CheckOptions,
        progress: &dyn Progress,
    ) -> Result<CheckReport, RepoError> {
        self.sync_cache()?;
        let mut report = CheckReport::default();
        let snapshots = self.check_snapshot_objects(&mut report)?;
        let indexed = self.check_segments(&mut report)?;
        self.check_packs_exist(&indexed, &mut report)?;
        let mut bad_blobs = self.check_references(&snapshots, &mut report)?;
        if options.read_data.reads_any() {
            let ids: Vec<PackId> = indexed.keys().copied().collect();
            let seed = u64::from_le_bytes(hearth_crypto::random_bytes());
            let chosen = options.read_data.select(&ids, seed);
            bad_blobs.extend(self.read_packs(&indexed, &chosen, &mut report, progress)?);
        }
        if !bad_blobs.is_empty() {
            self.attribute(&snapshots, &bad_blobs, &mut report)?;
        }
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

    fn check_snapshot_objects(
        &self,
        report: &mut CheckReport,
    ) -> Result<Vec<(SnapshotId, Snapshot)>, RepoError> {
        let mut out = Vec::new();
        for obj in self.backend.list(FileType::Snapshot)? {
            let id = SnapshotId::from_hex(&obj.name).expect("listed names are ids");
            match self
                .read_snapshot_payload(&id)
                .and_then(|p| Snapshot::decode(&p).map_err(|e| RepoError::corrupt("snapshot", e)))
            {
                Ok(s) => out.push((id, s)),
                Err(e) => report.damage.push(Damage {
                    object: format!("snapshots/{}", obj.name),
                    problem: e.to_string(),
                    affected: vec![],
                }),
            }
        }
        report.snapshots = out.len();
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

    /// Reads every index segment; returns pack → (length, entries) for the packs they name.
    fn check_segments(
        &self,
        report: &mut CheckReport,
    ) -> Result<HashMap<PackId, (u32, Vec<PackEntry>)>, RepoError> {
        let mut packs = HashMap::new();
        for obj in self.backend.list(FileType::Index)? {
            report.index_segments += 1;
            let id = IndexId::from_hex(&obj.name).expect("listed names are ids");
            match self.read_segment(&id) {
                Ok(seg) => {
                    for p in seg.packs {
                        packs.insert(p.pack, (p.length, p.entries));
                    }
                }
                Err(e) => report.damage.push(Damage {
                    object: format!("index/{}", obj.name),
                    problem: e.to_string(),
                    affected: vec![],
                }),
            }
        }
        Ok(packs)
    }

    fn check_packs_exist(
        &self,
        indexed: &HashMap<PackId, (u32, Vec<PackEntry>)>,
        report: &mut CheckReport,
    ) -> Result<(), RepoError> {
        let listed: HashMap<PackId, u64> = self
            .backend
            .list(FileType::Pack)?
            .into_iter()
            .filter_map(|o| Some((PackId::from_hex(&o.name)?, o.size)))
            .collect();
        report.packs = listed.len();
        for (pack, (len, _)) in indexed {
            match listed.get(pack) {
                None => report.damage.push(Damage {
                    object: format!("packs/{pack}"),
                    problem: "named by the index but missing".into(),
                    affected: vec![],
                }),
                Some(&size) if size != u64::from(*len) => report.damage.push(Damage {
                    object: format!("packs/{pack}"),
                    problem: format!("is {size} bytes, the index says {len}"),
                    affected: vec![],
                }),
                Some(_) => {}
            }
        }
        let unindexed = listed.keys().filter(|p| !indexed.contains_key(p)).count();
        if unindexed > 0 {
            report.notes.push(format!(
                "{unindexed} pack(s) are named by no index segment (left by an interrupted backup; harmless, prune removes them)"
            ));
        }
        Ok(())
    }

    /// Every tree and content chunk of every snapshot must be indexed. Returns missing ids.
    fn check_references(
        &self,
        snapshots: &[(SnapshotId, Snapshot)],
        report: &mut CheckReport,
    ) -> Result<HashSet<ChunkId>, RepoError> {
        let mut missing = HashSet::new();
        for (id, snap) in snapshots {
            missing.extend(
                snap.tree
                    .iter()
                    .filter(|c| self.cache.lookup(c).ok().flatten().is_none()),
            );
            let entries = match self.load_entries(snap) {
                Ok(e) => e,
                Err(e) => {
                    report.damage.push(Damage {
                        object: format!("snapshots/{id}"),
                        problem: format!("its file list cannot be read: {e}"),
                        affected: vec![describe(id, snap, "(every file)")],
                    });
                    continue;
                }
            };
            for chunk in entries
                .iter()
                .filter_map(|e| e.content.as_ref())
                .flat_map(|c| &c.chunks)
            {
                if self.cache.lookup(chunk)?.is_none() {
                    missing.insert(*chunk);
                }
            }
        }
        if !missing.is_empty() {
            report.damage.push(Damage {
                object: "index".into(),
                problem: format!(
                    "{} blob(s) referenced by snapshots are in no index segment",
                    missing.len()
                ),
                affected: vec![],
            });
        }
        Ok(missing)
    }

    /// Reads the `chosen` indexed packs in full; returns the ids of blobs that failed.
    fn read_packs(
        &self,
        indexed: &HashMap<PackId, (u32, Vec<PackEntry>)>,
        chosen: &[PackId],
        report: &mut CheckReport,
        progress: &dyn Progress,
    ) -> Result<HashSet<ChunkId>, RepoError> {
        let chosen: Vec<(&PackId, &(u32, Vec<PackEntry>))> = chosen
            .iter()
            .filter_map(|p| indexed.get_key_value(p))
            .collect();
        let total: u64 = chosen.iter().map(|(_, (l, _))| u64::from(*l)).sum();
        progress.start("reading packs", Some(total));
        let results: Vec<(Vec<Damage>, HashSet<ChunkId>, u64, u64)> = chosen
            .par_iter()
            .map(|(pack, (len, entries))| {
                let r = self.verify_pack(pack, entries);
                progress.advance(u64::from(*len));
                r
            })
            .collect();
        progress.finish();
        report.packs_read = chosen.len();
        let mut bad = HashSet::new();
        for (damage, blobs, checked, bytes) in results {
            report.damage.extend(damage);
            bad.extend(blobs);
            report.blobs_checked += checked;
            report.bytes_read += bytes;
        }
        Ok(bad)
    }

    fn verify_pack(
        &self,
        pack: &PackId,
        indexed: &[PackEntry],
    ) -> (Vec<Damage>, HashSet<ChunkId>, u64, u64) {
        let object = format!("packs/{pack}");
        let all_bad = || indexed.iter().map(|e| e.id).collect::<HashSet<_>>();
        let damage = |problem: String| Damage {
            object: object.clone(),
            problem,
            affected: vec![],
        };
        let bytes = match self.backend.get(FileType::Pack, &pack.to_hex()) {
            Ok(b) => b,
            Err(e) => return (vec![damage(e.to_string())], all_bad(), 0, 0),
        };
        let read = bytes.len() as u64;
        let mut problems = Vec::new();
        if pack_trailer(&bytes).is_some_and(|t| self.keys.object_id(t) != pack.0) {
            problems.push(damage(
                "its header does not match its name (bytes changed on storage)".into(),
            ));
        }
        match read_pack_header(&self.keys, &bytes) {
            Ok(header) if header != indexed => {
                problems.push(damage("its header disagrees with the index".into()))
            }
            Err(e) => problems.push(damage(format!("its header cannot be read: {e}"))),
            Ok(_) => {}
        }
        let mut bad = HashSet::new();
        for e in indexed {
            let start = e.offset as usize;
            let sealed = bytes.get(start..start + e.length as usize);
            let ok = sealed.is_some_and(|s| unseal(&self.keys, e, s).is_ok());
            if !ok {
                bad.insert(e.id);
            }
        }
        if !bad.is_empty() {
            problems.push(damage(format!(
                "{} of its {} blobs fail to decrypt or verify",
                bad.len(),
                indexed.len()
            )));
        }
        (problems, bad, indexed.len() as u64, read)
    }

    /// Names the files that the damaged blobs belong to, on the pack's damage entries.
    fn attribute(
        &self,
        snapshots: &[(SnapshotId, Snapshot)],
        bad: &HashSet<ChunkId>,
        report: &mut CheckReport,
    ) -> Result<(), RepoError> {
        let mut affected = Vec::new();
        for (id, snap) in snapshots {
            if snap.tree.iter().any(|t| bad.contains(t)) {
                affected.push(describe(id, snap, "(the snapshot's file list)"));
                continue;
            }
            let Ok(entries) = self.load_entries(snap) else {
                continue;
            };
            for e in entries {
                let hit = e
                    .content
                    .as_ref()
                    .is_some_and(|c| c.chunks.iter().any(|c| bad.contains(c)));
                if hit {
                    let what = match &e.row {
                        Some(r) => format!("{} ({}/{})", e.path, r.domain, r.relative_path),
                        None => e.path.clone(),
                    };
                    affected.push(describe(id, snap, &what));
                }
            }
        }
        for d in report
            .damage
            .iter_mut()
            .filter(|d| d.object.starts_with("packs/") || d.object == "index")
        {
            d.affected = affected.clone();
        }
        Ok(())
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

/// The sealed pack header and its length: the bytes a pack's name is the hash of (§7).
pub fn pack_trailer(pack: &[u8]) -> Option<&[u8]> {
    let n = pack.len();
    let len = u32::from_le_bytes(
        pack.get(n.checked_sub(PACK_TRAILER_LEN)?..)?
            .try_into()
            .ok()?,
    );
    let start = n.checked_sub(PACK_TRAILER_LEN + len as usize)?;
    (start >= 8).then(|| &pack[start..])
}

/// Parses a whole pack file's trailer and sealed header (`docs/format.md` §7).
pub fn read_pack_header(keys: &Keys, pack: &[u8]) -> Result<Vec<PackEntry>, String> {
    FileHeader::check(pack, ObjectKind::Pack).map_err(|e| e.to_string())?;
    let trailer = pack_trailer(pack).ok_or("too short, or its header length points outside it")?;
    let start = pack.len() - trailer.len();
    let plain = keys
        .open(&pack[..8], &trailer[..trailer.len() - PACK_TRAILER_LEN])
        .map_err(|e| e.to_string())?;
    let mut r = Reader::new(&plain);
    let entries = PackEntry::decode_list(&mut r).map_err(|e| e.to_string())?;
    r.finish().map_err(|e| e.to_string())?;
    if entries.iter().any(|e| e.end() > start as u64) {
        return Err("an entry points past the blob area".into());
    }
    Ok(entries)
}

#[cfg(test)]
#[allow(
    clippy::big_endian_bytes,
    reason = "test pack ids are built to match the slice rule's big-endian reading"
)]
mod tests {
    use super::*;

    fn packs(n: usize) -> Vec<PackId> {
        (0..n)
            .map(|i| {
                let mut id = [0u8; 32];
                id[..8]
                    .copy_from_slice(&(i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
                id[31] = i as u8;
                PackId(id)
            })
            .collect()
    }

    #[test]
    fn every_pack_is_in_exactly_one_slice() {
        let all = packs(1000);
        for m in [1u32, 2, 3, 5, 7, 16, 64] {
            let mut seen: HashMap<PackId, u32> = HashMap::new();
            for n in 1..=m {
                for p in (ReadData::Slice { n, m }).select(&all, 0) {
                    *seen.entry(p).or_default() += 1;
                }
            }
            assert_eq!(seen.len(), all.len(), "m={m}: every pack is in some slice");
            assert!(
                seen.values().all(|&c| c == 1),
                "m={m}: a pack is in two slices"
            );
        }
    }

    #[test]
    fn slice_rule_reads_the_first_four_bytes_big_endian() {
        let mut id = [0xffu8; 32];
        id[..4].copy_from_slice(&10u32.to_be_bytes());
        let p = PackId(id);
        // 10 % 4 == 2: slice 3 of 4.
        assert!(ReadData::in_slice(&p, 3, 4));
        assert!(!ReadData::in_slice(&p, 1, 4) && !ReadData::in_slice(&p, 2, 4));
        assert!(!ReadData::in_slice(&p, 4, 4));
        assert!(ReadData::in_slice(&p, 1, 1));
        assert!(!ReadData::in_slice(&p, 1, 0));
    }

    #[test]
    fn percent_samples_about_that_share_at_least_one_and_varies_with_the_seed() {
        let all = packs(200);
        let take = |p: f64, seed| ReadData::Percent(p).select(&all, seed);
        assert_eq!(take(10.0, 1).len(), 20);
        assert_eq!(take(2.5, 1).len(), 5);
        assert_eq!(take(100.0, 1).len(), 200);
        assert_eq!(take(0.001, 1).len(), 1, "at least one pack");
        assert!(ReadData::Percent(50.0).select(&[], 1).is_empty());
        let s: HashSet<_> = take(10.0, 1).into_iter().collect();
        assert_eq!(s.len(), 20, "no pack twice");
        assert!(s.iter().all(|p| all.contains(p)));
        assert_ne!(
            take(10.0, 1),
            take(10.0, 2),
            "a different seed, a different sample"
        );
        let full: HashSet<_> = take(100.0, 7).into_iter().collect();
        assert_eq!(full.len(), 200);
    }

    #[test]
    fn none_and_all() {
        let all = packs(5);
        assert!(ReadData::None.select(&all, 0).is_empty());
        assert_eq!(ReadData::All.select(&all, 0), all);
        assert!(!ReadData::None.reads_any() && ReadData::All.reads_any());
    }

    #[test]
    fn subset_arguments_parse_or_say_what_is_wrong() {
        let ok = |s| ReadData::parse_subset(s).unwrap();
        assert_eq!(ok("2/5"), ReadData::Slice { n: 2, m: 5 });
        assert_eq!(ok("1/1"), ReadData::Slice { n: 1, m: 1 });
        assert_eq!(ok("5/5"), ReadData::Slice { n: 5, m: 5 });
        assert_eq!(ok("10%"), ReadData::Percent(10.0));
        assert_eq!(ok("2.5%"), ReadData::Percent(2.5));
        assert_eq!(ok("100%"), ReadData::Percent(100.0));
        let err = |s| ReadData::parse_subset(s).unwrap_err();
        assert!(
            err("1/0").contains("M must be at least 1"),
            "{}",
            err("1/0")
        );
        assert!(err("0/0").contains("M must be at least 1"));
        assert!(
            err("0/3").contains("N must be between 1 and M=3"),
            "{}",
            err("0/3")
        );
        assert!(err("4/3").contains("N must be between 1 and M=3"));
        assert!(err("0%").contains("above 0 and at most 100"));
        assert!(err("100.5%").contains("above 0 and at most 100"));
        assert!(err("-1%").contains("above 0"));
        assert!(err("NaN%").contains("above 0"));
        assert!(err("x%").contains("not a percentage"));
        assert!(err("a/3").contains("not a whole number"));
        assert!(err("-1/3").contains("not a whole number"));
        assert!(err("3").contains("neither N/M"));
        assert!(err("").contains("neither N/M"));
    }

    #[test]
    fn display_names_the_subset() {
        assert_eq!(ReadData::Slice { n: 2, m: 5 }.to_string(), "subset 2/5");
        assert_eq!(ReadData::Percent(2.5).to_string(), "subset 2.5%");
        assert_eq!(ReadData::Percent(100.0).to_string(), "subset 100%");
        assert_eq!(ReadData::All.to_string(), "all");
        assert_eq!(ReadData::None.to_string(), "none");
    }
}
