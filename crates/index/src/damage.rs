//! What this computer has found wrong with stored copies of blobs: packs that are gone, and
//! blobs that failed to read (`docs/format.md` §12). Readers try such copies last, and a backup
//! stores a blob again when every copy of it is damaged, which heals the repository.
//!
//! These are facts about objects, named by their ids, so they survive a rebuild of the rest of
//! the cache; a pack id is never reused. They are hints, not verdicts: a read that succeeds
//! takes its copy off the list. They are kept in memory too (they are few, and filed by pack),
//! so the look-ups a backup makes for every chunk cost nothing while nothing is damaged.

use hearth_format::{ChunkId, PackId};
use std::collections::HashMap;

/// Known damage, mirrored from the cache's `lost_packs` and `bad_blobs` tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DamageSet {
    /// Packs the index names that storage no longer has, with why.
    lost: HashMap<PackId, String>,
    /// By pack: copies of blobs that failed to read (authentication, length, a short pack),
    /// with why. No pack maps to an empty set.
    bad: HashMap<PackId, HashMap<ChunkId, String>>,
}

impl DamageSet {
    pub fn is_empty(&self) -> bool {
        self.lost.is_empty() && self.bad.is_empty()
    }

    /// Why the copy of `blob` in `pack` is known to be damaged, if it is.
    pub fn problem(&self, blob: &ChunkId, pack: &PackId) -> Option<&str> {
        self.lost
            .get(pack)
            .or_else(|| self.bad.get(pack)?.get(blob))
            .map(String::as_str)
    }

    pub fn is_damaged(&self, blob: &ChunkId, pack: &PackId) -> bool {
        self.problem(blob, pack).is_some()
    }

    /// Why `pack` is lost, if it is.
    pub fn lost(&self, pack: &PackId) -> Option<&str> {
        self.lost.get(pack).map(String::as_str)
    }

    /// Why the copy of `blob` in `pack` failed to read, if it did (a lost pack aside).
    pub fn bad_blob(&self, blob: &ChunkId, pack: &PackId) -> Option<&str> {
        self.bad.get(pack)?.get(blob).map(String::as_str)
    }

    /// Whether anything is recorded about `pack` (lost, or any of its blobs).
    pub fn touches(&self, pack: &PackId) -> bool {
        self.lost.contains_key(pack) || self.bad.contains_key(pack)
    }

    pub fn lost_packs(&self) -> impl Iterator<Item = &PackId> {
        self.lost.keys()
    }

    /// Every pack something is recorded about.
    pub fn packs(&self) -> impl Iterator<Item = &PackId> {
        self.lost.keys().chain(self.bad.keys())
    }

    pub fn bad_blob_count(&self) -> usize {
        self.bad.values().map(HashMap::len).sum()
    }

    pub(crate) fn insert_lost(&mut self, pack: PackId, why: String) {
        self.lost.insert(pack, why);
    }

    pub(crate) fn insert_bad(&mut self, blob: ChunkId, pack: PackId, why: String) {
        self.bad.entry(pack).or_default().insert(blob, why);
    }

    pub(crate) fn remove_lost(&mut self, pack: &PackId) -> bool {
        self.lost.remove(pack).is_some()
    }

    /// Removes the bad blobs of `pack`; returns them.
    pub(crate) fn remove_bad_of(&mut self, pack: &PackId) -> Vec<ChunkId> {
        self.bad
            .remove(pack)
            .map(|m| m.into_keys().collect())
            .unwrap_or_default()
    }

    pub(crate) fn remove_bad(&mut self, blob: &ChunkId, pack: &PackId) -> bool {
        let Some(blobs) = self.bad.get_mut(pack) else {
            return false;
        };
        let removed = blobs.remove(blob).is_some();
        if blobs.is_empty() {
            self.bad.remove(pack);
        }
        removed
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
        d.insert_lost(PackId([1; 32]), "missing".into());
        d.insert_bad(ChunkId([7; 32]), PackId([2; 32]), "flipped".into());
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
        assert!(d.remove_bad(&ChunkId([7; 32]), &PackId([2; 32])));
        assert!(!d.touches(&PackId([2; 32])), "no pack keeps an empty set");
        assert!(d.remove_lost(&PackId([1; 32])) && d.is_empty());
    }

    #[test]
    fn copy_keys_round_trip() {
        let k = copy_key(&ChunkId([4; 32]), &PackId([5; 32]));
        assert_eq!(split_copy_key(&k), (ChunkId([4; 32]), PackId([5; 32])));
    }
}
