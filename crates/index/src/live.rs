//! A set of blob ids on disk (redb) rather than in memory, so that prune's live set stays
//! bounded however large the repository grows. The file is private to one process and removed
//! when the set is dropped.

use crate::cache::IndexError;
use hearth_format::ChunkId;
use redb::{Database, ReadableDatabase, TableDefinition};
use std::path::{Path, PathBuf};

const LIVE: TableDefinition<&[u8; 32], ()> = TableDefinition::new("live");

pub struct LiveSet {
    db: Database,
    path: PathBuf,
}

impl LiveSet {
    /// A new, empty set in a file at `path` (replaced if it exists).
    pub fn create(path: &Path) -> Result<Self, IndexError> {
        let err = |e: &dyn std::fmt::Display| IndexError::Db {
            path: path.to_path_buf(),
            detail: e.to_string(),
        };
        let _ = std::fs::remove_file(path);
        let db = crate::cache::create_database(path).map_err(|e| err(&e))?;
        let tx = db.begin_write().map_err(|e| err(&e))?;
        tx.open_table(LIVE).map_err(|e| err(&e))?;
        tx.commit().map_err(|e| err(&e))?;
        Ok(Self {
            db,
            path: path.to_path_buf(),
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> IndexError {
        IndexError::Db {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }

    /// Adds ids in one transaction.
    pub fn insert_all<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a ChunkId>,
    ) -> Result<(), IndexError> {
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut t = tx.open_table(LIVE).map_err(|e| self.err(e))?;
            for id in ids {
                t.insert(&id.0, ()).map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// A reader for many look-ups.
    pub fn reader(&self) -> Result<LiveReader, IndexError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = tx.open_table(LIVE).map_err(|e| self.err(e))?;
        Ok(LiveReader {
            table,
            path: self.path.clone(),
        })
    }
}

impl Drop for LiveSet {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

pub struct LiveReader {
    table: redb::ReadOnlyTable<&'static [u8; 32], ()>,
    path: PathBuf,
}

impl LiveReader {
    pub fn contains(&self, id: &ChunkId) -> Result<bool, IndexError> {
        self.table
            .get(&id.0)
            .map(|v| v.is_some())
            .map_err(|e| IndexError::Db {
                path: self.path.clone(),
                detail: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_set_holds_what_was_inserted_and_its_file_goes_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("live.redb");
        let set = LiveSet::create(&path).unwrap();
        set.insert_all(&[ChunkId([1; 32]), ChunkId([2; 32])])
            .unwrap();
        set.insert_all(&[ChunkId([2; 32])]).unwrap();
        let r = set.reader().unwrap();
        assert!(r.contains(&ChunkId([1; 32])).unwrap());
        assert!(!r.contains(&ChunkId([3; 32])).unwrap());
        drop(r);
        drop(set);
        assert!(!path.exists());
    }
}
