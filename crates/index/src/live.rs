//! Prune's live set: the blob ids that snapshots use. A [`SpillSet`]: in memory, sorted, up to
//! [`MEMORY_IDS`] distinct ids (16 MiB; a household of 200,000 files a device uses about
//! 360,000), past that in a redb file.

use crate::cache::IndexError;
use crate::spill::{SpillReader, SpillSet};
use hearth_format::ChunkId;
use std::path::Path;

/// The most distinct ids kept in memory.
pub const MEMORY_IDS: usize = 512 * 1024;

/// A live set being filled.
pub struct LiveSet(SpillSet<32>);

impl LiveSet {
    /// A new, empty set; past [`MEMORY_IDS`] it goes to a file at `path`.
    pub fn create(path: &Path) -> Self {
        Self(SpillSet::create(path, MEMORY_IDS))
    }

    pub fn insert_all<'a>(
        &mut self,
        ids: impl IntoIterator<Item = &'a ChunkId>,
    ) -> Result<(), IndexError> {
        self.0.insert_all(ids.into_iter().map(|id| id.0))
    }

    /// The finished set.
    pub fn reader(self) -> Result<LiveReader, IndexError> {
        Ok(LiveReader(self.0.finish()?))
    }
}

/// A finished live set.
pub struct LiveReader(SpillReader<32>);

impl LiveReader {
    pub fn contains(&self, id: &ChunkId) -> Result<bool, IndexError> {
        self.0.contains(&id.0)
    }

    /// Every id once, in ascending order.
    pub fn ids(
        &self,
    ) -> Result<Box<dyn Iterator<Item = Result<ChunkId, IndexError>> + '_>, IndexError> {
        Ok(Box::new(self.0.iter()?.map(|k| k.map(ChunkId))))
    }
}
