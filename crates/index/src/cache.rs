//! redb tables and their encodings.

use crate::damage::{DamageSet, copy_key, split_copy_key};
use crate::open::{META, OpenFailure, ensure_schema, open_verified};
use hearth_format::{
    BlobKind, ChunkId, Compression, IndexId, IndexSegment, PackEntry, PackId, SnapshotId,
};
use redb::{
    Database, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable,
    ReadableTableMetadata, TableDefinition,
};
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock, RwLockReadGuard};
use std::thread::sleep;
use std::time::{Duration, Instant};
use thiserror::Error;

/// blob id → pack id (32) ‖ offset u32 ‖ length u32 ‖ raw length u32 ‖ kind u8 ‖ compression u8.
const BLOBS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("blobs");
/// pack id → pack length u32.
const PACKS: TableDefinition<&[u8; 32], u32> = TableDefinition::new("packs");
/// merged index segment ids.
const SEGMENTS: TableDefinition<&[u8; 32], ()> = TableDefinition::new("segments");
/// snapshot id → snapshot payload (`docs/format.md` §9).
const SNAPSHOTS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("snapshots");
/// blob id ‖ pack id → location: every copy of a blob but the one in `blobs` (rare: two backups
/// stored it at once, or a backup stored it again after its first copy was damaged).
const COPIES: TableDefinition<&[u8; 64], &[u8]> = TableDefinition::new("copies");
/// pack id → why it is lost (named by the index, gone from storage). Survives [`IndexCache::clear`].
pub(crate) const LOST_PACKS: TableDefinition<&[u8; 32], &str> = TableDefinition::new("lost_packs");
/// blob id ‖ pack id → why that copy fails to read. Survives [`IndexCache::clear`].
pub(crate) const BAD_BLOBS: TableDefinition<&[u8; 64], &str> = TableDefinition::new("bad_blobs");
// The `meta` table, and the schema version it holds, are in `open.rs`.

const LOCATION_LEN: usize = 46;
/// How long to wait for another process that holds the cache open before the caller falls
/// back to a private cache.
const OPEN_WAIT: Duration = Duration::from_millis(300);

#[derive(Debug, Error)]
pub enum IndexError {
    #[error("index cache {path}: {detail}")]
    Db { path: PathBuf, detail: String },
    #[error(
        "index cache {path} is held by another hearth process; waited {waited_secs} s. Try again when it finishes"
    )]
    Busy { path: PathBuf, waited_secs: u64 },
    #[error("index cache {path}: corrupt row for blob {blob}")]
    CorruptRow { path: PathBuf, blob: String },
}

/// redb's page cache for one database. Its default (1 GiB) means nothing is ever evicted, so a
/// process's memory grew with the repository's index. 1 MiB cost a system call for nearly every
/// page of every look-up, which at 200,000 files a device doubled the time of prune and stats;
/// 8 MiB keeps the upper levels of the trees and adds at most 7 MiB to a backup's peak
/// (docs/benchmarks.md).
pub(crate) const PAGE_CACHE_BYTES: usize = 8 << 20;

/// Opens or creates a redb database with a bounded page cache.
pub(crate) fn create_database(path: &Path) -> Result<Database, redb::DatabaseError> {
    Database::builder()
        .set_cache_size(PAGE_CACHE_BYTES)
        .create(path)
}

/// Where a blob is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobLocation {
    pub pack: PackId,
    pub entry: PackEntry,
}

pub struct IndexCache {
    db: Database,
    path: PathBuf,
    /// A private cache of one process: its file is removed when it is dropped.
    private: bool,
    /// The `lost_packs` and `bad_blobs` tables, in memory. Invariant: equal to the tables
    /// (changed only together with them, under the write transaction).
    damage: RwLock<DamageSet>,
}

impl Drop for IndexCache {
    fn drop(&mut self) {
        if self.private {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl IndexCache {
    /// Opens or creates the cache, waiting briefly while another process holds it. The whole
    /// file is verified (redb's page checksums): a damaged cache is an error ([`IndexError::Db`])
    /// for the caller to delete and rebuild, never a panic later. A cache of another schema
    /// version is emptied, for the caller to merge again.
    pub fn open(path: &Path) -> Result<Self, IndexError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| db_err(path, e))?;
        }
        let start = Instant::now();
        let db = loop {
            match open_verified(path) {
                Ok(db) => break db,
                Err(OpenFailure::Busy) if start.elapsed() < OPEN_WAIT => {
                    sleep(Duration::from_millis(200))
                }
                Err(OpenFailure::Busy) => {
                    return Err(IndexError::Busy {
                        path: path.to_path_buf(),
                        waited_secs: start.elapsed().as_secs(),
                    });
                }
                Err(OpenFailure::Failed(detail)) => return Err(db_err(path, detail)),
            }
        };
        let cache = Self {
            db,
            path: path.to_path_buf(),
            private: false,
            damage: RwLock::default(),
        };
        ensure_schema(&cache.db).map_err(|e| cache.err(e))?;
        cache.create_tables()?;
        cache.load_damage()?;
        Ok(cache)
    }

    /// A new cache at `path` (which must not exist) that only this process uses and that is
    /// deleted when dropped: for a process that finds the shared cache held by another.
    pub fn create_private(path: &Path) -> Result<Self, IndexError> {
        let _ = std::fs::remove_file(path);
        let db = create_database(path).map_err(|e| db_err(path, e))?;
        let cache = Self {
            db,
            path: path.to_path_buf(),
            private: true,
            damage: RwLock::default(),
        };
        ensure_schema(&cache.db).map_err(|e| cache.err(e))?;
        cache.create_tables()?;
        Ok(cache)
    }

    pub fn is_private(&self) -> bool {
        self.private
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: impl std::fmt::Display) -> IndexError {
        db_err(&self.path, e)
    }

    fn create_tables(&self) -> Result<(), IndexError> {
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        tx.open_table(BLOBS).map_err(|e| self.err(e))?;
        tx.open_table(PACKS).map_err(|e| self.err(e))?;
        tx.open_table(SEGMENTS).map_err(|e| self.err(e))?;
        tx.open_table(SNAPSHOTS).map_err(|e| self.err(e))?;
        tx.open_table(COPIES).map_err(|e| self.err(e))?;
        tx.open_table(LOST_PACKS).map_err(|e| self.err(e))?;
        tx.open_table(BAD_BLOBS).map_err(|e| self.err(e))?;
        tx.open_table(META).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// A read view for many look-ups.
    pub fn reader(&self) -> Result<IndexReader<'_>, IndexError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        Ok(IndexReader {
            blobs: tx.open_table(BLOBS).map_err(|e| self.err(e))?,
            tx,
            cache: self,
        })
    }

    /// Where to read a blob: its first copy not known to be damaged, else its first copy.
    pub fn lookup(&self, id: &ChunkId) -> Result<Option<BlobLocation>, IndexError> {
        self.reader()?.lookup(id)
    }

    /// A copy of the blob not known to be damaged: what lets a backup skip storing it.
    pub fn lookup_healthy(&self, id: &ChunkId) -> Result<Option<BlobLocation>, IndexError> {
        self.reader()?.lookup_healthy(id)
    }

    /// Every copy of a blob, those not known to be damaged first.
    pub fn locations(&self, id: &ChunkId) -> Result<Vec<BlobLocation>, IndexError> {
        self.reader()?.locations(id)
    }

    /// Merges one index segment in a single transaction: its blobs, packs and its id. A blob
    /// already indexed in another pack keeps that location first and gains this one as a copy.
    pub fn add_segment(&self, id: &IndexId, segment: &IndexSegment) -> Result<(), IndexError> {
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut blobs = tx.open_table(BLOBS).map_err(|e| self.err(e))?;
            let mut copies = tx.open_table(COPIES).map_err(|e| self.err(e))?;
            let mut packs = tx.open_table(PACKS).map_err(|e| self.err(e))?;
            for p in &segment.packs {
                packs.insert(&p.pack.0, p.length).map_err(|e| self.err(e))?;
                for e in &p.entries {
                    let new = encode_location(&p.pack, e);
                    let old = blobs
                        .insert(&e.id.0, new.as_slice())
                        .map_err(|e| self.err(e))?
                        .map(|v| v.value().to_vec());
                    let Some(old) = old.filter(|o| o.get(..32) != Some(&p.pack.0[..])) else {
                        continue;
                    };
                    blobs
                        .insert(&e.id.0, old.as_slice())
                        .map_err(|e| self.err(e))?;
                    copies
                        .insert(&copy_key(&e.id, &p.pack), new.as_slice())
                        .map_err(|e| self.err(e))?;
                }
            }
            let mut segs = tx.open_table(SEGMENTS).map_err(|e| self.err(e))?;
            segs.insert(&id.0, ()).map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }

    pub fn segments(&self) -> Result<Vec<IndexId>, IndexError> {
        self.keys(SEGMENTS)
            .map(|v| v.into_iter().map(IndexId).collect())
    }

    pub fn packs(&self) -> Result<Vec<(PackId, u32)>, IndexError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = tx.open_table(PACKS).map_err(|e| self.err(e))?;
        t.iter()
            .map_err(|e| self.err(e))?
            .map(|r| {
                r.map(|(k, v)| (PackId(*k.value()), v.value()))
                    .map_err(|e| self.err(e))
            })
            .collect()
    }

    pub fn blob_count(&self) -> Result<u64, IndexError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = tx.open_table(BLOBS).map_err(|e| self.err(e))?;
        t.len().map_err(|e| self.err(e))
    }

    /// Calls `f` for every indexed blob, in id order, without loading them all.
    pub fn for_each_blob(
        &self,
        mut f: impl FnMut(ChunkId, BlobLocation),
    ) -> Result<(), IndexError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = tx.open_table(BLOBS).map_err(|e| self.err(e))?;
        for row in t.iter().map_err(|e| self.err(e))? {
            let (k, v) = row.map_err(|e| self.err(e))?;
            let id = ChunkId(*k.value());
            f(id, self.decode(&id, v.value())?);
        }
        Ok(())
    }

    pub fn snapshots(&self) -> Result<Vec<(SnapshotId, Vec<u8>)>, IndexError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = tx.open_table(SNAPSHOTS).map_err(|e| self.err(e))?;
        t.iter()
            .map_err(|e| self.err(e))?
            .map(|r| {
                r.map(|(k, v)| (SnapshotId(*k.value()), v.value().to_vec()))
                    .map_err(|e| self.err(e))
            })
            .collect()
    }

    pub fn add_snapshot(&self, id: &SnapshotId, payload: &[u8]) -> Result<(), IndexError> {
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        tx.open_table(SNAPSHOTS)
            .map_err(|e| self.err(e))?
            .insert(&id.0, payload)
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    pub fn remove_snapshot(&self, id: &SnapshotId) -> Result<(), IndexError> {
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        tx.open_table(SNAPSHOTS)
            .map_err(|e| self.err(e))?
            .remove(&id.0)
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// Empties every table merged from the repository's objects (before a rebuild). What is
    /// known about damaged copies stays: it is learnt only by reading them.
    pub fn clear(&self) -> Result<(), IndexError> {
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        for def in [BLOBS, SNAPSHOTS] {
            tx.delete_table(def).map_err(|e| self.err(e))?;
        }
        tx.delete_table(COPIES).map_err(|e| self.err(e))?;
        tx.delete_table(PACKS).map_err(|e| self.err(e))?;
        tx.delete_table(SEGMENTS).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        self.create_tables()
    }

    /// What is known about damaged copies (a snapshot of it).
    pub fn damage(&self) -> DamageSet {
        self.known_damage().clone()
    }

    fn known_damage(&self) -> RwLockReadGuard<'_, DamageSet> {
        // Every change is made whole before the guard is released.
        self.damage.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that storage no longer has `pack`.
    pub fn record_lost_pack(&self, pack: &PackId, why: &str) -> Result<(), IndexError> {
        let mut damage = self.damage.write().unwrap_or_else(PoisonError::into_inner);
        if damage.lost(pack) == Some(why) {
            return Ok(());
        }
        self.write(|tx| {
            tx.open_table(LOST_PACKS)?.insert(&pack.0, why)?;
            Ok(())
        })?;
        damage.insert_lost(*pack, why.to_string());
        Ok(())
    }

    /// Records that the copy of `blob` in `pack` fails to read.
    pub fn record_bad_blob(
        &self,
        blob: &ChunkId,
        pack: &PackId,
        why: &str,
    ) -> Result<(), IndexError> {
        let mut damage = self.damage.write().unwrap_or_else(PoisonError::into_inner);
        if damage.bad_blob(blob, pack) == Some(why) {
            return Ok(());
        }
        self.write(|tx| {
            tx.open_table(BAD_BLOBS)?
                .insert(&copy_key(blob, pack), why)?;
            Ok(())
        })?;
        damage.insert_bad(*blob, *pack, why.to_string());
        Ok(())
    }

    /// A copy read without fault after all: whatever was recorded against it goes (the pack
    /// is not lost; this blob of it is sound).
    pub fn record_sound(&self, blob: &ChunkId, pack: &PackId) -> Result<(), IndexError> {
        if !self.known_damage().is_damaged(blob, pack) {
            return Ok(());
        }
        let mut damage = self.damage.write().unwrap_or_else(PoisonError::into_inner);
        self.write(|tx| {
            tx.open_table(LOST_PACKS)?.remove(&pack.0)?;
            tx.open_table(BAD_BLOBS)?.remove(&copy_key(blob, pack))?;
            Ok(())
        })?;
        damage.remove_lost(pack);
        damage.remove_bad(blob, pack);
        Ok(())
    }

    /// Forgets what was recorded about `packs` (read whole without fault, or no longer in the
    /// index).
    pub fn forget_damage(&self, packs: &[PackId]) -> Result<(), IndexError> {
        self.forget(packs, true)
    }

    /// Forgets that `packs` were lost (storage has them again); what is known about their
    /// blobs stays.
    pub fn forget_lost_packs(&self, packs: &[PackId]) -> Result<(), IndexError> {
        self.forget(packs, false)
    }

    fn forget(&self, packs: &[PackId], blobs_too: bool) -> Result<(), IndexError> {
        let mut damage = self.damage.write().unwrap_or_else(PoisonError::into_inner);
        let packs: Vec<&PackId> = packs.iter().filter(|p| damage.touches(p)).collect();
        if packs.is_empty() {
            return Ok(());
        }
        let mut next = damage.clone();
        let mut bad = Vec::new();
        for p in &packs {
            next.remove_lost(p);
            if blobs_too {
                bad.extend(next.remove_bad_of(p).into_iter().map(|b| copy_key(&b, p)));
            }
        }
        self.write(|tx| {
            let mut t = tx.open_table(LOST_PACKS)?;
            for p in &packs {
                t.remove(&p.0)?;
            }
            let mut t = tx.open_table(BAD_BLOBS)?;
            for k in &bad {
                t.remove(k)?;
            }
            Ok(())
        })?;
        *damage = next;
        Ok(())
    }

    fn load_damage(&self) -> Result<(), IndexError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let mut damage = DamageSet::default();
        let lost = tx.open_table(LOST_PACKS).map_err(|e| self.err(e))?;
        for row in lost.iter().map_err(|e| self.err(e))? {
            let (k, v) = row.map_err(|e| self.err(e))?;
            damage.insert_lost(PackId(*k.value()), v.value().to_string());
        }
        let bad = tx.open_table(BAD_BLOBS).map_err(|e| self.err(e))?;
        for row in bad.iter().map_err(|e| self.err(e))? {
            let (k, v) = row.map_err(|e| self.err(e))?;
            let (blob, pack) = split_copy_key(k.value());
            damage.insert_bad(blob, pack, v.value().to_string());
        }
        *self.damage.write().unwrap_or_else(PoisonError::into_inner) = damage;
        Ok(())
    }

    /// One write transaction; any redb error becomes this cache's error.
    fn write(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<(), redb::Error>,
    ) -> Result<(), IndexError> {
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        f(&tx).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    fn keys<V: redb::Value + 'static>(
        &self,
        def: TableDefinition<&[u8; 32], V>,
    ) -> Result<Vec<[u8; 32]>, IndexError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = tx.open_table(def).map_err(|e| self.err(e))?;
        t.iter()
            .map_err(|e| self.err(e))?
            .map(|r| r.map(|(k, _)| *k.value()).map_err(|e| self.err(e)))
            .collect()
    }

    fn decode(&self, id: &ChunkId, v: &[u8]) -> Result<BlobLocation, IndexError> {
        decode_location(id, v).ok_or_else(|| IndexError::CorruptRow {
            path: self.path.clone(),
            blob: id.to_hex(),
        })
    }
}

/// A consistent read view of the cache.
pub struct IndexReader<'a> {
    /// Opened once: opening a table costs about as much as a look-up.
    blobs: ReadOnlyTable<&'static [u8; 32], &'static [u8]>,
    tx: ReadTransaction,
    cache: &'a IndexCache,
}

impl<'a> IndexReader<'a> {
    /// See [`IndexCache::lookup`].
    pub fn lookup(&self, id: &ChunkId) -> Result<Option<BlobLocation>, IndexError> {
        let Some(first) = self.primary(id)? else {
            return Ok(None);
        };
        if !self.cache.known_damage().is_damaged(id, &first.pack) {
            return Ok(Some(first));
        }
        Ok(self.locations(id)?.into_iter().next())
    }

    /// See [`IndexCache::lookup_healthy`].
    pub fn lookup_healthy(&self, id: &ChunkId) -> Result<Option<BlobLocation>, IndexError> {
        let Some(first) = self.lookup(id)? else {
            return Ok(None);
        };
        Ok((!self.cache.known_damage().is_damaged(id, &first.pack)).then_some(first))
    }

    /// Look-ups of ids in ascending order, answered by one pass over the index in its order
    /// instead of a descent of its tree each.
    pub fn sorted_lookups(&self) -> Result<SortedLookups<'_, 'a>, IndexError> {
        Ok(SortedLookups {
            rows: self.blobs.iter().map_err(|e| self.cache.err(e))?.peekable(),
            reader: self,
        })
    }

    /// See [`IndexCache::locations`].
    pub fn locations(&self, id: &ChunkId) -> Result<Vec<BlobLocation>, IndexError> {
        let Some(first) = self.primary(id)? else {
            return Ok(Vec::new());
        };
        let t = self.tx.open_table(COPIES).map_err(|e| self.cache.err(e))?;
        let (from, to) = (
            copy_key(id, &PackId([0; 32])),
            copy_key(id, &PackId([0xff; 32])),
        );
        let mut all = vec![first];
        for row in t
            .range::<&[u8; 64]>(&from..=&to)
            .map_err(|e| self.cache.err(e))?
        {
            let (_, v) = row.map_err(|e| self.cache.err(e))?;
            all.push(self.cache.decode(id, v.value())?);
        }
        let damage = self.cache.known_damage();
        // Stable: among healthy copies (and among damaged ones) the merge order stays.
        all.sort_by_key(|l| damage.is_damaged(id, &l.pack));
        Ok(all)
    }

    fn primary(&self, id: &ChunkId) -> Result<Option<BlobLocation>, IndexError> {
        match self.blobs.get(&id.0).map_err(|e| self.cache.err(e))? {
            Some(v) => Ok(Some(self.cache.decode(id, v.value())?)),
            None => Ok(None),
        }
    }
}

/// See [`IndexReader::sorted_lookups`].
pub struct SortedLookups<'r, 'a> {
    rows: std::iter::Peekable<redb::Range<'r, &'static [u8; 32], &'static [u8]>>,
    reader: &'r IndexReader<'a>,
}

impl SortedLookups<'_, '_> {
    /// [`IndexReader::lookup`] for an id above every id asked before.
    pub fn lookup(&mut self, id: &ChunkId) -> Result<Option<BlobLocation>, IndexError> {
        let cache = self.reader.cache;
        // Rows below `id` are passed over: no later id asks for them.
        while let Some(row) = self.rows.peek() {
            let key = match row {
                Ok((k, _)) => *k.value(),
                Err(e) => return Err(cache.err(e)),
            };
            match key.cmp(&id.0) {
                std::cmp::Ordering::Less => {
                    self.rows.next();
                }
                std::cmp::Ordering::Greater => return Ok(None),
                std::cmp::Ordering::Equal => {
                    let (_, v) = self
                        .rows
                        .next()
                        .expect("peeked")
                        .map_err(|e| cache.err(e))?;
                    let first = cache.decode(id, v.value())?;
                    if !cache.known_damage().is_damaged(id, &first.pack) {
                        return Ok(Some(first));
                    }
                    return self.reader.lookup(id);
                }
            }
        }
        Ok(None)
    }
}

fn encode_location(pack: &PackId, e: &PackEntry) -> [u8; LOCATION_LEN] {
    let mut v = [0u8; LOCATION_LEN];
    v[..32].copy_from_slice(&pack.0);
    v[32..36].copy_from_slice(&e.offset.to_le_bytes());
    v[36..40].copy_from_slice(&e.length.to_le_bytes());
    v[40..44].copy_from_slice(&e.raw_length.to_le_bytes());
    v[44] = e.kind.byte();
    v[45] = e.compression.byte();
    v
}

fn decode_location(id: &ChunkId, v: &[u8]) -> Option<BlobLocation> {
    let v: &[u8; LOCATION_LEN] = v.try_into().ok()?;
    Some(BlobLocation {
        pack: PackId(v[..32].try_into().ok()?),
        entry: PackEntry {
            id: *id,
            offset: u32::from_le_bytes(v[32..36].try_into().ok()?),
            length: u32::from_le_bytes(v[36..40].try_into().ok()?),
            raw_length: u32::from_le_bytes(v[40..44].try_into().ok()?),
            kind: BlobKind::from_byte(v[44]).ok()?,
            compression: Compression::from_byte(v[45]).ok()?,
        },
    })
}

fn db_err(path: &Path, e: impl std::fmt::Display) -> IndexError {
    IndexError::Db {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_format::PackRecord;

    fn segment() -> IndexSegment {
        IndexSegment {
            packs: vec![PackRecord {
                pack: PackId([1; 32]),
                length: 1000,
                entries: vec![PackEntry {
                    id: ChunkId([2; 32]),
                    kind: BlobKind::Data,
                    compression: Compression::Zstd,
                    offset: 8,
                    length: 90,
                    raw_length: 100,
                }],
            }],
        }
    }

    #[test]
    fn merged_segments_answer_lookups_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c/index.redb");
        {
            let c = IndexCache::open(&path).unwrap();
            c.add_segment(&IndexId([9; 32]), &segment()).unwrap();
            c.add_snapshot(&SnapshotId([5; 32]), b"payload").unwrap();
        }
        let c = IndexCache::open(&path).unwrap();
        let loc = c.lookup(&ChunkId([2; 32])).unwrap().unwrap();
        assert_eq!(loc.pack, PackId([1; 32]));
        assert_eq!(loc.entry.length, 90);
        assert_eq!(c.lookup(&ChunkId([3; 32])).unwrap(), None);
        assert_eq!(c.segments().unwrap(), vec![IndexId([9; 32])]);
        assert_eq!(c.packs().unwrap(), vec![(PackId([1; 32]), 1000)]);
        assert_eq!(c.snapshots().unwrap().len(), 1);
        c.clear().unwrap();
        assert_eq!(c.blob_count().unwrap(), 0);
        assert!(c.snapshots().unwrap().is_empty());
    }

    fn record(pack: u8, blob: u8) -> PackRecord {
        PackRecord {
            pack: PackId([pack; 32]),
            length: 1000,
            entries: vec![PackEntry {
                id: ChunkId([blob; 32]),
                kind: BlobKind::Data,
                compression: Compression::None,
                offset: 8 + u32::from(pack),
                length: 90,
                raw_length: 50,
            }],
        }
    }

    #[test]
    fn sorted_lookups_give_what_lookups_give_leaving_out_unknown_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let c = IndexCache::open(&dir.path().join("index.redb")).unwrap();
        let packs = (1..=6).map(|b| record(b, b * 10)).chain([record(7, 30)]);
        c.add_segment(
            &IndexId([1; 32]),
            &IndexSegment {
                packs: packs.collect(),
            },
        )
        .unwrap();
        // Blob 30's first copy is damaged: both ways read the other.
        c.record_bad_blob(&ChunkId([30; 32]), &PackId([3; 32]), "flipped")
            .unwrap();
        let ids: Vec<ChunkId> = [5u8, 10, 20, 25, 30, 60, 61]
            .map(|b| ChunkId([b; 32]))
            .to_vec();
        let reader = c.reader().unwrap();
        let mut lookups = reader.sorted_lookups().unwrap();
        let sorted: Vec<BlobLocation> = (ids.iter())
            .filter_map(|id| lookups.lookup(id).unwrap())
            .collect();
        let one_by_one: Vec<BlobLocation> =
            ids.iter().filter_map(|id| c.lookup(id).unwrap()).collect();
        assert_eq!(sorted, one_by_one);
        let found: Vec<u8> = sorted.iter().map(|l| l.entry.id.0[0]).collect();
        assert_eq!(found, [10, 20, 30, 60]);
        assert_eq!(
            sorted[2].pack,
            PackId([7; 32]),
            "the healthy copy of blob 30"
        );
    }

    #[test]
    fn a_blob_in_two_packs_keeps_both_copies_and_reads_a_healthy_one_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.redb");
        let c = IndexCache::open(&path).unwrap();
        let blob = ChunkId([2; 32]);
        c.add_segment(
            &IndexId([1; 32]),
            &IndexSegment {
                packs: vec![record(1, 2)],
            },
        )
        .unwrap();
        c.add_segment(
            &IndexId([2; 32]),
            &IndexSegment {
                packs: vec![record(3, 2)],
            },
        )
        .unwrap();
        // The same pack listed again (a rewritten segment) is not a second copy.
        c.add_segment(
            &IndexId([3; 32]),
            &IndexSegment {
                packs: vec![record(1, 2)],
            },
        )
        .unwrap();
        let packs = |v: Vec<BlobLocation>| v.into_iter().map(|l| l.pack).collect::<Vec<_>>();
        assert_eq!(
            packs(c.locations(&blob).unwrap()),
            [PackId([1; 32]), PackId([3; 32])]
        );
        assert_eq!(c.lookup(&blob).unwrap().unwrap().pack, PackId([1; 32]));

        c.record_bad_blob(&blob, &PackId([1; 32]), "flipped")
            .unwrap();
        assert_eq!(
            packs(c.locations(&blob).unwrap()),
            [PackId([3; 32]), PackId([1; 32])]
        );
        assert_eq!(c.lookup(&blob).unwrap().unwrap().pack, PackId([3; 32]));
        assert_eq!(
            c.lookup_healthy(&blob).unwrap().unwrap().pack,
            PackId([3; 32])
        );

        c.record_lost_pack(&PackId([3; 32]), "missing").unwrap();
        assert_eq!(
            c.lookup_healthy(&blob).unwrap(),
            None,
            "every copy is damaged"
        );
        assert!(
            c.lookup(&blob).unwrap().is_some(),
            "a damaged copy is still a place to try"
        );
        drop(c);

        // Damage is remembered across opens and survives a rebuild; copies do not survive it.
        let c = IndexCache::open(&path).unwrap();
        assert_eq!(c.lookup_healthy(&blob).unwrap(), None);
        c.clear().unwrap();
        assert!(c.locations(&blob).unwrap().is_empty());
        assert_eq!(c.damage().lost_packs().count(), 1);
        assert_eq!(c.damage().bad_blob_count(), 1);
        c.add_segment(
            &IndexId([1; 32]),
            &IndexSegment {
                packs: vec![record(1, 2)],
            },
        )
        .unwrap();
        assert_eq!(c.lookup_healthy(&blob).unwrap(), None);
        c.forget_damage(&[PackId([1; 32]), PackId([3; 32])])
            .unwrap();
        assert!(c.damage().is_empty());
        assert_eq!(
            c.lookup_healthy(&blob).unwrap().unwrap().pack,
            PackId([1; 32])
        );
        drop(c);
        assert!(IndexCache::open(&path).unwrap().damage().is_empty());
    }

    #[test]
    fn a_corrupt_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.redb");
        std::fs::write(&path, vec![0x5a; 8192]).unwrap();
        assert!(IndexCache::open(&path).is_err());
    }
}
