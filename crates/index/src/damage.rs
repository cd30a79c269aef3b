//! What this computer has found wrong with stored copies of blobs: packs that are gone, and
//! blobs that failed to read (`docs/format.md` §12). Readers try such copies last, and a backup
//! stores a blob again when every copy of it is damaged, which heals the repository.
//!
//! These are facts about objects, named by their ids, so they survive a rebuild of the rest of
//! the cache; a pack id is never reused. They are kept in memory too (they are few), so the
//! look-ups a backup makes for every chunk cost nothing while nothing is damaged.

use hearth_format::{ChunkId, PackId};
use std::collections::HashMap;

/// Known damage, mirrored from the cache's `lost_packs` and `bad_blobs` tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DamageSet {
    /// Packs the index names that storage no longer has, with why.
    pub lost_packs: HashMap<PackId, String>,
    /// Copies of blobs that failed to read (authentication, length, a short pack), with why.
    pub bad_blobs: HashMap<(ChunkId, PackId), String>,
}

impl DamageSet {
    pub fn is_empty(&self) -> bool {
        self.lost_packs.is_empty() && self.bad_blobs.is_empty()
    }

    /// Why the copy of `blob` in `pack` is known to be damaged, if it is.
    pub fn problem(&self, blob: &ChunkId, pack: &PackId) -> Option<&str> {
        self.lost_packs
            .get(pack)
            .or_else(|| self.bad_blobs.get(&(*blob, *pack)))
            .map(String::as_str)
    }

    pub fn is_damaged(&self, blob: &ChunkId, pack: &PackId) -> bool {
        self.problem(blob, pack).is_some()
    }

    /// Everything recorded about `pack` (lost, or any of its blobs).
    pub fn touches(&self, pack: &PackId) -> bool {
        self.lost_packs.contains_key(pack) || self.bad_blobs.keys().any(|(_, p)| p == pack)
    }
}

/// `blob ‖ pack`: the key of a blob's copy in one pack.
pub(crate) fn copy_key(blob: &ChunkId, pack: &PackId) -> [u8; 64] {
    let mut k = [0u8; 64];
    k[..32].copy_from_slice(&blob.0);
    k[32..].copy_from_slice(&pack.0);
    k
}

pub(crate) fn split_copy_key(k: &[u8; 64]) -> (ChunkId, PackId) {
    let mut blob = [0u8; 32];
    let mut pack = [0u8; 32];
    blob.copy_from_slice(&k[..32]);
    pack.copy_from_slice(&k[32..]);
    (ChunkId(blob), PackId(pack))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_pack_damages_every_blob_in_it_and_a_bad_blob_only_itself() {
        let mut d = DamageSet::default();
        assert!(d.is_empty());
        d.lost_packs.insert(PackId([1; 32]), "missing".into());
        d.bad_blobs
            .insert((ChunkId([7; 32]), PackId([2; 32])), "flipped".into());
        assert_eq!(
            d.problem(&ChunkId([9; 32]), &PackId([1; 32])),
            Some("missing")
        );
        assert_eq!(
            d.problem(&ChunkId([7; 32]), &PackId([2; 32])),
            Some("flipped")
        );
        assert!(!d.is_damaged(&ChunkId([8; 32]), &PackId([2; 32])));
        assert!(!d.is_damaged(&ChunkId([7; 32]), &PackId([3; 32])));
        assert!(d.touches(&PackId([2; 32])) && !d.touches(&PackId([3; 32])));
    }

    #[test]
    fn copy_keys_round_trip() {
        let k = copy_key(&ChunkId([4; 32]), &PackId([5; 32]));
        assert_eq!(split_copy_key(&k), (ChunkId([4; 32]), PackId([5; 32])));
    }
}
