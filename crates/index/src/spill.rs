//! A set of fixed-size keys that stays in memory, sorted, while it is small, and goes to a redb
//! file once it outgrows its budget, so that memory stays bounded however large the repository
//! grows. Prune's live set and stats' usage set are built on it. The file is private to one
//! process (written without syncs: it does not outlive it) and removed when the set is dropped.

use crate::cache::{IndexError, create_database};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::{Path, PathBuf};

/// A set being filled.
pub struct SpillSet<const N: usize> {
    /// Keys not yet on disk: at most `memory` and a batch (sorted and deduplicated when the
    /// set outgrows `memory`, and when it is finished).
    keys: Vec<[u8; N]>,
    memory: usize,
    path: PathBuf,
    db: Option<Database>,
}

fn table<const N: usize>() -> TableDefinition<'static, &'static [u8; N], ()> {
    TableDefinition::new("keys")
}

impl<const N: usize> SpillSet<N> {
    /// A new, empty set keeping at most `memory` distinct keys in memory; past that it goes to
    /// a file at `path` (replaced if it exists).
    pub fn create(path: &Path, memory: usize) -> Self {
        let _ = std::fs::remove_file(path);
        Self {
            keys: Vec::new(),
            memory,
            path: path.to_path_buf(),
            db: None,
        }
    }

    fn err(&self, e: impl std::fmt::Display) -> IndexError {
        IndexError::Db {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }

    pub fn insert_all(
        &mut self,
        keys: impl IntoIterator<Item = [u8; N]>,
    ) -> Result<(), IndexError> {
        self.keys.extend(keys);
        if self.keys.len() > self.memory {
            self.compact();
            // Still more than half full once deduplicated, or partly on disk already: what is
            // in memory goes to disk.
            if self.db.is_some() || self.keys.len() > self.memory / 2 {
                self.spill()?;
            }
        }
        Ok(())
    }

    fn compact(&mut self) {
        self.keys.sort_unstable();
        self.keys.dedup();
    }

    /// Moves the keys in memory to the file, in order (so that the inserts walk the tree in
    /// order), in one transaction.
    fn spill(&mut self) -> Result<(), IndexError> {
        self.compact();
        if self.db.is_none() {
            self.db = Some(create_database(&self.path).map_err(|e| self.err(e))?);
        }
        let db = self.db.as_ref().expect("just created");
        let mut tx = db.begin_write().map_err(|e| self.err(e))?;
        tx.set_durability(Durability::None)
            .map_err(|e| self.err(e))?;
        {
            let mut t = tx.open_table(table::<N>()).map_err(|e| self.err(e))?;
            for key in &self.keys {
                t.insert(key, ()).map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))?;
        self.keys = Vec::new();
        Ok(())
    }

    /// The finished set, for look-ups and an ordered walk.
    pub fn finish(mut self) -> Result<SpillReader<N>, IndexError> {
        if self.db.is_some() && !self.keys.is_empty() {
            self.spill()?;
        }
        self.compact();
        let table = match &self.db {
            Some(db) => {
                let tx = db.begin_read().map_err(|e| self.err(e))?;
                Some(tx.open_table(table::<N>()).map_err(|e| self.err(e))?)
            }
            None => None,
        };
        Ok(SpillReader { table, set: self })
    }
}

impl<const N: usize> Drop for SpillSet<N> {
    fn drop(&mut self) {
        if self.db.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The keys of a finished set, in order.
pub type Keys<'s, const N: usize> = Box<dyn Iterator<Item = Result<[u8; N], IndexError>> + 's>;

/// A finished set.
pub struct SpillReader<const N: usize> {
    table: Option<redb::ReadOnlyTable<&'static [u8; N], ()>>,
    set: SpillSet<N>,
}

impl<const N: usize> SpillReader<N> {
    pub fn contains(&self, key: &[u8; N]) -> Result<bool, IndexError> {
        match &self.table {
            None => Ok(self.set.keys.binary_search(key).is_ok()),
            Some(t) => t.get(key).map(|v| v.is_some()).map_err(|e| self.set.err(e)),
        }
    }

    /// Every key once, in ascending order.
    pub fn iter(&self) -> Result<Keys<'_, N>, IndexError> {
        Ok(match &self.table {
            None => Box::new(self.set.keys.iter().map(|k| Ok(*k))),
            Some(t) => Box::new(
                t.iter()
                    .map_err(|e| self.set.err(e))?
                    .map(|row| row.map(|(k, _)| *k.value()).map_err(|e| self.set.err(e))),
            ),
        })
    }

    /// Whether the set went to disk.
    #[cfg(test)]
    fn on_disk(&self) -> bool {
        self.set.db.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> [u8; 8] {
        let mut k = [7u8; 8];
        k[..4].copy_from_slice(&n.to_le_bytes());
        k
    }

    /// Inserts 0..n twice in batches of 100 and checks membership and the ordered walk;
    /// returns whether the set went to disk.
    fn fill_and_check(memory: usize, n: u32) -> bool {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("set.redb");
        let mut set = SpillSet::<8>::create(&path, memory);
        for _ in 0..2 {
            let keys: Vec<[u8; 8]> = (0..n).map(key).collect();
            for batch in keys.chunks(100) {
                set.insert_all(batch.iter().copied()).unwrap();
            }
        }
        let r = set.finish().unwrap();
        assert!((0..n).all(|i| r.contains(&key(i)).unwrap()));
        assert!(!r.contains(&key(n)).unwrap());
        let listed: Vec<[u8; 8]> = r.iter().unwrap().map(Result::unwrap).collect();
        let mut want: Vec<[u8; 8]> = (0..n).map(key).collect();
        want.sort();
        assert_eq!(listed, want, "each key once, ascending");
        let on_disk = r.on_disk();
        assert_eq!(path.exists(), on_disk);
        drop(r);
        assert!(!path.exists(), "its file goes with it");
        on_disk
    }

    #[test]
    fn a_set_that_fits_stays_in_memory() {
        assert!(
            !fill_and_check(1_000, 400),
            "400 distinct keys fit in 1,000"
        );
    }

    #[test]
    fn a_set_that_outgrows_memory_goes_to_disk_and_holds_the_same() {
        assert!(
            fill_and_check(1_000, 5_000),
            "5,000 distinct keys do not fit in 1,000"
        );
    }
}
