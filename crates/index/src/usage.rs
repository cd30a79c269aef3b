//! Which devices use which chunks, on disk (redb) rather than in memory, so that `stats` stays
//! bounded however large the repository grows and however many devices it holds. The file is
//! private to one process and removed when the set is dropped.

use crate::cache::{IndexError, create_database};
use hearth_format::ChunkId;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::{Path, PathBuf};

/// chunk id ‖ device number (u32, big-endian so that a chunk's devices sort together) → ().
const USES: TableDefinition<&[u8; 36], ()> = TableDefinition::new("uses");

pub struct UsageSet {
    db: Database,
    path: PathBuf,
}

impl UsageSet {
    /// A new, empty set in a file at `path` (replaced if it exists).
    pub fn create(path: &Path) -> Result<Self, IndexError> {
        let err = |e: &dyn std::fmt::Display| IndexError::Db {
            path: path.to_path_buf(),
            detail: e.to_string(),
        };
        let _ = std::fs::remove_file(path);
        let db = create_database(path).map_err(|e| err(&e))?;
        let tx = db.begin_write().map_err(|e| err(&e))?;
        tx.open_table(USES).map_err(|e| err(&e))?;
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

    /// Records that `device` uses each of `chunks`, in one transaction.
    pub fn insert_all<'a>(
        &self,
        device: u32,
        chunks: impl IntoIterator<Item = &'a ChunkId>,
    ) -> Result<(), IndexError> {
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut t = tx.open_table(USES).map_err(|e| self.err(e))?;
            for c in chunks {
                t.insert(&key(c, device), ()).map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Calls `f` with each chunk and the devices that use it, in chunk order.
    pub fn for_each_chunk(
        &self,
        mut f: impl FnMut(&ChunkId, &[u32]) -> Result<(), IndexError>,
    ) -> Result<(), IndexError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = tx.open_table(USES).map_err(|e| self.err(e))?;
        let mut current: Option<(ChunkId, Vec<u32>)> = None;
        for row in t.iter().map_err(|e| self.err(e))? {
            let (k, _) = row.map_err(|e| self.err(e))?;
            let (chunk, device) = split(k.value());
            match &mut current {
                Some((c, devices)) if *c == chunk => devices.push(device),
                _ => {
                    if let Some((c, devices)) = current.take() {
                        f(&c, &devices)?;
                    }
                    current = Some((chunk, vec![device]));
                }
            }
        }
        match current {
            Some((c, devices)) => f(&c, &devices),
            None => Ok(()),
        }
    }
}

impl Drop for UsageSet {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[allow(
    clippy::big_endian_bytes,
    reason = "a key of a private, temporary file: big-endian so a chunk's devices sort together"
)]
fn key(chunk: &ChunkId, device: u32) -> [u8; 36] {
    let mut k = [0u8; 36];
    k[..32].copy_from_slice(&chunk.0);
    k[32..].copy_from_slice(&device.to_be_bytes());
    k
}

#[allow(clippy::big_endian_bytes, reason = "see `key`")]
fn split(k: &[u8; 36]) -> (ChunkId, u32) {
    let mut chunk = [0u8; 32];
    chunk.copy_from_slice(&k[..32]);
    let device = u32::from_be_bytes(k[32..].try_into().expect("4 bytes"));
    (ChunkId(chunk), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_chunk_comes_once_with_every_device_that_uses_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("uses.redb");
        let set = UsageSet::create(&path).unwrap();
        let (a, b) = (ChunkId([1; 32]), ChunkId([2; 32]));
        set.insert_all(70, [&a, &b]).unwrap();
        set.insert_all(3, [&a]).unwrap();
        set.insert_all(70, [&a]).unwrap();
        let mut seen = Vec::new();
        set.for_each_chunk(|c, d| {
            seen.push((*c, d.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, [(a, vec![3, 70]), (b, vec![70])]);
        drop(set);
        assert!(!path.exists());
    }
}
