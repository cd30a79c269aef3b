//! Prune's live set: the blob ids that snapshots use. In memory, sorted, while it holds at
//! most [`MEMORY_IDS`] distinct ids (16 MiB: a household of 200,000 files a device uses about
//! 360,000); past that on disk (redb), so that memory stays bounded however large the
//! repository grows. The file is private to one process and removed when the set is dropped.

use crate::cache::IndexError;
use hearth_format::ChunkId;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::{Path, PathBuf};

const LIVE: TableDefinition<&[u8; 32], ()> = TableDefinition::new("live");

/// The most distinct ids kept in memory.
pub const MEMORY_IDS: usize = 512 * 1024;

/// A live set being filled.
pub struct LiveSet {
    /// Ids not yet on disk (at most `memory_ids` and a batch; sorted and deduplicated once
    /// the set is finished).
    ids: Vec<ChunkId>,
    /// Where the set goes once it outgrows memory.
    path: PathBuf,
    db: Option<Database>,
    memory_ids: usize,
}

impl LiveSet {
    /// A new, empty set; it would spill to a file at `path` (replaced if it exists).
    pub fn create(path: &Path) -> Result<Self, IndexError> {
        Self::with_memory(path, MEMORY_IDS)
    }

    /// [`Self::create`] keeping at most `memory_ids` distinct ids in memory.
    pub fn with_memory(path: &Path, memory_ids: usize) -> Result<Self, IndexError> {
        let _ = std::fs::remove_file(path);
        Ok(Self {
            ids: Vec::new(),
            path: path.to_path_buf(),
            db: None,
            memory_ids,
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> IndexError {
        IndexError::Db {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }

    /// Adds ids.
    pub fn insert_all<'a>(
        &mut self,
        ids: impl IntoIterator<Item = &'a ChunkId>,
    ) -> Result<(), IndexError> {
        self.ids.extend(ids);
        if self.ids.len() > self.memory_ids {
            self.compact();
            // Still more than half full once deduplicated, or partly on disk already: what
            // is in memory goes to disk.
            if self.db.is_some() || self.ids.len() > self.memory_ids / 2 {
                self.spill()?;
            }
        }
        Ok(())
    }

    /// Sorts and deduplicates what is in memory.
    fn compact(&mut self) {
        self.ids.sort_unstable();
        self.ids.dedup();
    }

    /// Moves the ids in memory to the file, sorted (so that the inserts walk the tree in
    /// order), in one transaction that is not synced: the file lives as long as the process.
    fn spill(&mut self) -> Result<(), IndexError> {
        self.compact();
        if self.db.is_none() {
            let db = crate::cache::create_database(&self.path).map_err(|e| self.err(e))?;
            self.db = Some(db);
        }
        let db = self.db.as_ref().expect("just created");
        let mut tx = db.begin_write().map_err(|e| self.err(e))?;
        tx.set_durability(Durability::None)
            .map_err(|e| self.err(e))?;
        {
            let mut t = tx.open_table(LIVE).map_err(|e| self.err(e))?;
            for id in &self.ids {
                t.insert(&id.0, ()).map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))?;
        self.ids = Vec::new();
        Ok(())
    }

    /// The finished set, for look-ups.
    pub fn reader(mut self) -> Result<LiveReader, IndexError> {
        if self.db.is_some() && !self.ids.is_empty() {
            self.spill()?;
        }
        self.compact();
        let table = match &self.db {
            Some(db) => {
                let tx = db.begin_read().map_err(|e| self.err(e))?;
                Some(tx.open_table(LIVE).map_err(|e| self.err(e))?)
            }
            None => None,
        };
        Ok(LiveReader { table, set: self })
    }

    /// Whether the set went to disk.
    pub fn on_disk(&self) -> bool {
        self.db.is_some()
    }
}

impl Drop for LiveSet {
    fn drop(&mut self) {
        if self.db.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A finished live set.
pub struct LiveReader {
    table: Option<redb::ReadOnlyTable<&'static [u8; 32], ()>>,
    set: LiveSet,
}

impl LiveReader {
    pub fn contains(&self, id: &ChunkId) -> Result<bool, IndexError> {
        match &self.table {
            None => Ok(self.set.ids.binary_search(id).is_ok()),
            Some(table) => table
                .get(&id.0)
                .map(|v| v.is_some())
                .map_err(|e| self.set.err(e)),
        }
    }

    /// Every id, in ascending order.
    pub fn ids(
        &self,
    ) -> Result<Box<dyn Iterator<Item = Result<ChunkId, IndexError>> + '_>, IndexError> {
        Ok(match &self.table {
            None => Box::new(self.set.ids.iter().map(|id| Ok(*id))),
            Some(table) => Box::new(table.iter().map_err(|e| self.set.err(e))?.map(|row| {
                row.map(|(k, _)| ChunkId(*k.value()))
                    .map_err(|e| self.set.err(e))
            })),
        })
    }

    pub fn on_disk(&self) -> bool {
        self.set.on_disk()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> ChunkId {
        let mut b = [0u8; 32];
        b[..4].copy_from_slice(&n.to_le_bytes());
        b[31] = 7;
        ChunkId(b)
    }

    /// Inserts 0..n twice (as two snapshots sharing every blob) and checks membership.
    fn fill_and_check(memory_ids: usize, n: u32) -> bool {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("live.redb");
        let mut set = LiveSet::with_memory(&path, memory_ids).unwrap();
        for _ in 0..2 {
            let ids: Vec<ChunkId> = (0..n).map(id).collect();
            for batch in ids.chunks(100) {
                set.insert_all(batch).unwrap();
            }
        }
        let r = set.reader().unwrap();
        assert!((0..n).all(|i| r.contains(&id(i)).unwrap()));
        assert!(!r.contains(&id(n)).unwrap());
        assert!(!r.contains(&ChunkId([0xff; 32])).unwrap());
        let listed: Vec<ChunkId> = r.ids().unwrap().map(Result::unwrap).collect();
        let mut want: Vec<ChunkId> = (0..n).map(id).collect();
        want.sort();
        assert_eq!(listed, want, "each id once, ascending");
        let on_disk = r.on_disk();
        assert_eq!(path.exists(), on_disk);
        drop(r);
        assert!(!path.exists(), "its file goes with it");
        on_disk
    }

    #[test]
    fn a_live_set_that_fits_stays_in_memory() {
        assert!(!fill_and_check(1_000, 400), "400 distinct ids fit in 1,000");
    }

    #[test]
    fn a_live_set_that_outgrows_memory_goes_to_disk_and_holds_the_same() {
        assert!(
            fill_and_check(1_000, 5_000),
            "5,000 distinct ids do not fit in 1,000"
        );
    }
}
