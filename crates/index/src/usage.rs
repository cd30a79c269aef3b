//! Which devices use which chunks: a [`SpillSet`] of (chunk, device) pairs, so that `stats`
//! stays bounded however large the repository grows and however many devices it holds.

use crate::cache::IndexError;
use crate::spill::{SpillReader, SpillSet};
use hearth_format::ChunkId;
use std::path::Path;

/// The most (chunk, device) pairs kept in memory (18 MiB of keys).
const MEMORY_PAIRS: usize = 512 * 1024;

/// Chunk id ‖ device number (u32, big-endian so that a chunk's devices sort together).
pub struct UsageSet(SpillSet<36>);

impl UsageSet {
    /// A new, empty set; past [`MEMORY_PAIRS`] it goes to a file at `path`.
    pub fn create(path: &Path) -> Self {
        Self(SpillSet::create(path, MEMORY_PAIRS))
    }

    /// Records that `device` uses each of `chunks`.
    pub fn insert_all<'a>(
        &mut self,
        device: u32,
        chunks: impl IntoIterator<Item = &'a ChunkId>,
    ) -> Result<(), IndexError> {
        self.0
            .insert_all(chunks.into_iter().map(|c| key(c, device)))
    }

    /// The finished set.
    pub fn finish(self) -> Result<Usage, IndexError> {
        Ok(Usage(self.0.finish()?))
    }
}

/// A finished usage set.
pub struct Usage(SpillReader<36>);

impl Usage {
    /// Calls `f` with each chunk and the devices that use it, in chunk order.
    pub fn for_each_chunk(
        &self,
        mut f: impl FnMut(&ChunkId, &[u32]) -> Result<(), IndexError>,
    ) -> Result<(), IndexError> {
        let mut current: Option<(ChunkId, Vec<u32>)> = None;
        for k in self.0.iter()? {
            let (chunk, device) = split(&k?);
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
        let mut set = UsageSet::create(&dir.path().join("uses.redb"));
        let (a, b) = (ChunkId([1; 32]), ChunkId([2; 32]));
        set.insert_all(70, [&a, &b]).unwrap();
        set.insert_all(3, [&a]).unwrap();
        set.insert_all(70, [&a]).unwrap();
        let mut seen = Vec::new();
        set.finish()
            .unwrap()
            .for_each_chunk(|c, d| {
                seen.push((*c, d.to_vec()));
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, [(a, vec![3, 70]), (b, vec![70])]);
    }
}
