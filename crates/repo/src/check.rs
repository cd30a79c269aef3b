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
    /// Read every pack, open every blob and verify its id.
    pub read_data: bool,
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
        if options.read_data {
            bad_blobs.extend(self.read_all_packs(&indexed, &mut report, progress)?);
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

    /// Reads every indexed pack in full; returns the ids of blobs that failed.
    fn read_all_packs(
        &self,
        indexed: &HashMap<PackId, (u32, Vec<PackEntry>)>,
        report: &mut CheckReport,
        progress: &dyn Progress,
    ) -> Result<HashSet<ChunkId>, RepoError> {
        let total: u64 = indexed.values().map(|(l, _)| u64::from(*l)).sum();
        progress.start("reading packs", Some(total));
        let results: Vec<(Vec<Damage>, HashSet<ChunkId>, u64, u64)> = indexed
            .par_iter()
            .map(|(pack, (len, entries))| {
                let r = self.verify_pack(pack, entries);
                progress.advance(u64::from(*len));
                r
            })
            .collect();
        progress.finish();
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
        if self.keys.object_id(&bytes) != pack.0 {
            problems.push(damage(
                "content does not match its name (bytes changed on storage)".into(),
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

/// Parses a whole pack file's trailer and sealed header (`docs/format.md` §7).
pub fn read_pack_header(keys: &Keys, pack: &[u8]) -> Result<Vec<PackEntry>, String> {
    FileHeader::check(pack, ObjectKind::Pack).map_err(|e| e.to_string())?;
    let n = pack.len();
    if n < 8 + PACK_TRAILER_LEN {
        return Err("too short".into());
    }
    let len =
        u32::from_le_bytes(pack[n - PACK_TRAILER_LEN..].try_into().expect("4 bytes")) as usize;
    let start = n
        .checked_sub(PACK_TRAILER_LEN + len)
        .filter(|&s| s >= 8)
        .ok_or("header length points outside the pack")?;
    let plain = keys
        .open(&pack[..8], &pack[start..n - PACK_TRAILER_LEN])
        .map_err(|e| e.to_string())?;
    let mut r = Reader::new(&plain);
    let entries = PackEntry::decode_list(&mut r).map_err(|e| e.to_string())?;
    r.finish().map_err(|e| e.to_string())?;
    if entries.iter().any(|e| e.end() > start as u64) {
        return Err("an entry points past the blob area".into());
    }
    Ok(entries)
}
