//! The pack layout (`docs/format.md` §7), written and read here only: a file header, the
//! sealed blobs back to back, then the pack's own sealed header and its length. What a pack
//! holds is read from the pack itself, so the index can always be rebuilt from the packs
//! (`hearth repair index`), and check and prune can tell what a pack that no index segment
//! names holds before they judge it.

use crate::error::RepoError;
use crate::repository::Repository;
use hearth_crypto::Keys;
use hearth_format::codec::Reader;
use hearth_format::header::HEADER_LEN;
use hearth_format::pack::PACK_TRAILER_LEN;
use hearth_format::{FileHeader, ObjectKind, PackEntry, PackId, PackRecord};
use hearth_storage::FileType;
use std::collections::{HashMap, HashSet};

/// How much of a pack's end the first read fetches, so that one read usually gets the whole
/// sealed header (48 bytes an entry: 64 KiB holds about 1,300).
const TAIL_GUESS: u64 = 64 << 10;

/// The first bytes of every pack; its first blob starts right after them.
pub(crate) fn pack_start() -> [u8; HEADER_LEN] {
    FileHeader::encode(ObjectKind::Pack)
}

/// The last bytes of a pack whose blobs are `entries` (in pack order): their list sealed, then
/// its length. Returns them and the pack's name, their keyed hash, which so authenticates every
/// blob's id, place and length (each blob's own seal authenticates its bytes).
pub(crate) fn seal_trailer(keys: &Keys, entries: &[PackEntry]) -> (Vec<u8>, PackId) {
    let mut trailer = keys.seal(&pack_start(), &PackEntry::encode_list(entries));
    trailer.extend_from_slice(&(trailer.len() as u32).to_le_bytes());
    let name = PackId(keys.object_id(&trailer));
    (trailer, name)
}

/// The sealed pack header and its length: the bytes a pack's name is the hash of (§7).
pub fn pack_trailer(pack: &[u8]) -> Option<&[u8]> {
    let n = pack.len();
    let len = u32::from_le_bytes(
        pack.get(n.checked_sub(PACK_TRAILER_LEN)?..)?
            .try_into()
            .ok()?,
    );
    let start = n.checked_sub(PACK_TRAILER_LEN + len as usize)?;
    (start >= HEADER_LEN).then(|| &pack[start..])
}

/// Parses a whole pack file's trailer and sealed header (`docs/format.md` §7).
pub fn read_pack_header(keys: &Keys, pack: &[u8]) -> Result<Vec<PackEntry>, String> {
    FileHeader::check(pack, ObjectKind::Pack).map_err(|e| e.to_string())?;
    let trailer = pack_trailer(pack).ok_or("too short, or its header length points outside it")?;
    open_header(keys, trailer, (pack.len() - trailer.len()) as u64)
}

/// Opens a trailer (sealed header ‖ its length) whose blob area ends at `blobs_end`.
fn open_header(keys: &Keys, trailer: &[u8], blobs_end: u64) -> Result<Vec<PackEntry>, String> {
    let sealed = &trailer[..trailer.len() - PACK_TRAILER_LEN];
    let plain = keys
        .open(&pack_start(), sealed)
        .map_err(|e| format!("its header does not open: {e}"))?;
    let mut r = Reader::new(&plain);
    let entries = PackEntry::decode_list(&mut r).map_err(|e| e.to_string())?;
    r.finish().map_err(|e| e.to_string())?;
    if entries
        .iter()
        .any(|e| u64::from(e.offset) < HEADER_LEN as u64 || e.end() > blobs_end)
    {
        return Err("an entry points outside the blob area".into());
    }
    Ok(entries)
}

impl Repository {
    /// The record of pack `pack` (`size` bytes, as listed) read from its own header: one ranged
    /// read of its end, two when the header is bigger than [`TAIL_GUESS`]. The header must
    /// match the pack's name, so what it says is what the writer sealed.
    pub fn pack_record(&self, pack: &PackId, size: u64) -> Result<PackRecord, RepoError> {
        let object = format!("packs/{pack}");
        let corrupt = |detail: String| RepoError::corrupt(&object, detail);
        let length = u32::try_from(size).map_err(|_| corrupt(format!("is {size} bytes")))?;
        let min = (HEADER_LEN + PACK_TRAILER_LEN) as u64;
        if size < min {
            return Err(corrupt(format!("is {size} bytes, too short for a pack")));
        }
        let name = pack.to_hex();
        let guess = size.min(TAIL_GUESS);
        let mut tail = self
            .backend
            .get_range(FileType::Pack, &name, size - guess, guess)?;
        let len_at = tail.len() - PACK_TRAILER_LEN;
        let sealed_len = u64::from(u32::from_le_bytes(
            tail[len_at..].try_into().expect("4 bytes"),
        ));
        let trailer_len = sealed_len + PACK_TRAILER_LEN as u64;
        if trailer_len + HEADER_LEN as u64 > size {
            return Err(corrupt("its header length points outside it".into()));
        }
        if trailer_len > guess {
            tail =
                self.backend
                    .get_range(FileType::Pack, &name, size - trailer_len, trailer_len)?;
        }
        let trailer = &tail[tail.len() - trailer_len as usize..];
        if self.keys.object_id(trailer) != pack.0 {
            return Err(corrupt(
                "its header does not match its name (bytes changed on storage)".into(),
            ));
        }
        let entries = open_header(&self.keys, trailer, size - trailer_len).map_err(corrupt)?;
        Ok(PackRecord {
            pack: *pack,
            length,
            entries,
        })
    }
}

/// The packs storage holds, held against those the index names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackSurvey {
    /// Named by the index, not in storage.
    pub lost: Vec<PackId>,
    /// In storage (with their sizes), named by no index segment the cache merged: left by an
    /// interrupted backup, or named only by a segment that is lost or damaged.
    pub unindexed: Vec<(PackId, u64)>,
    /// Every pack in storage, with its size.
    pub listed: HashMap<PackId, u64>,
}

impl Repository {
    /// Every pack in storage, with its size.
    pub(crate) fn list_packs(&self) -> Result<HashMap<PackId, u64>, RepoError> {
        Ok((self.backend.list(FileType::Pack)?.into_iter())
            .filter_map(|o| Some((PackId::from_hex(&o.name)?, o.size)))
            .collect())
    }

    /// Lists the packs and holds them against the index: indexed packs that storage no longer
    /// has are recorded as lost in the cache (so readers try them last and a backup stores
    /// their blobs again), and what was recorded about packs found again is forgotten.
    pub fn survey_packs(&self) -> Result<PackSurvey, RepoError> {
        let listed = self.list_packs()?;
        let indexed: HashSet<PackId> = self.cache.packs()?.into_iter().map(|(p, _)| p).collect();
        let mut survey = PackSurvey {
            lost: indexed
                .iter()
                .filter(|p| !listed.contains_key(p))
                .copied()
                .collect(),
            unindexed: listed
                .iter()
                .filter(|(p, _)| !indexed.contains(p))
                .map(|(p, n)| (*p, *n))
                .collect(),
            listed: HashMap::new(),
        };
        survey.lost.sort_unstable();
        survey.unindexed.sort_unstable();
        for pack in &survey.lost {
            self.cache.record_lost_pack(pack, "missing from storage")?;
        }
        let found_again: Vec<PackId> = (self.cache.damage().lost_packs())
            .filter(|p| listed.contains_key(p))
            .copied()
            .collect();
        self.cache.forget_lost_packs(&found_again)?;
        survey.listed = listed;
        Ok(survey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_crypto::MasterKey;
    use hearth_format::{BlobKind, Compression};
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::Index;

    /// A pack of `blobs`, laid out by the writer's own functions (§7).
    fn pack(keys: &Keys, blobs: &[Vec<u8>]) -> Vec<u8> {
        let mut pack = pack_start().to_vec();
        let mut entries = Vec::new();
        for blob in blobs {
            let id = keys.chunk_id(blob);
            let offset = pack.len();
            let aad = PackEntry::blob_aad(&id, BlobKind::Data, Compression::None);
            keys.seal_into(&aad, blob, &mut pack);
            entries.push(PackEntry {
                id,
                kind: BlobKind::Data,
                compression: Compression::None,
                offset: offset as u32,
                length: (pack.len() - offset) as u32,
                raw_length: blob.len() as u32,
            });
        }
        let (trailer, name) = seal_trailer(keys, &entries);
        assert_eq!(name.0, keys.object_id(&trailer));
        pack.extend_from_slice(&trailer);
        pack
    }

    /// The bytes of the worked example `name` in `docs/format.md` §15.
    fn doc_vector(name: &str) -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/format.md");
        let doc = std::fs::read_to_string(path).expect("docs/format.md");
        let start = doc
            .find(&format!("vector: {name}\n"))
            .unwrap_or_else(|| panic!("no vector {name:?} in docs/format.md"));
        let block = &doc[start..];
        let block = &block[block.find('\n').unwrap() + 1..block.find("```").unwrap()];
        block
            .lines()
            .flat_map(|line| line.get(..48).unwrap_or(line).split_whitespace())
            .map(|h| u8::from_str_radix(h, 16).expect("hex"))
            .collect()
    }

    /// The repository's own reader takes the format's worked example of a pack (§15) as it
    /// takes the packs its writer makes: the header lists the blob, and the blob opens.
    #[test]
    fn the_documented_pack_reads_with_the_repositorys_reader() {
        let keys = MasterKey::from_bytes(std::array::from_fn(|i| i as u8)).keys();
        let pack = doc_vector("pack file");
        assert_eq!(&pack[..HEADER_LEN], pack_start());
        let entries = read_pack_header(&keys, &pack).unwrap();
        assert_eq!(entries.len(), 1);
        let e = &entries[0];
        let sealed = &pack[e.offset as usize..e.end() as usize];
        let plain = crate::seal::unseal(&keys, e, sealed).unwrap();
        assert_eq!(plain, b"hello, world\n");
        let name = PackId(keys.object_id(pack_trailer(&pack).unwrap()));
        assert_eq!(
            name.to_hex(),
            hex::encode(
                doc_vector("names of sealed files")
                    .get(..32)
                    .unwrap_or_default()
            ),
            "the documented pack name"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// No pack, however damaged, makes the reader of its trailer and header panic: the
        /// length in the last 4 bytes may point anywhere.
        #[test]
        fn a_damaged_pack_is_an_error_not_a_panic(
            blobs in vec(vec(any::<u8>(), 0..64), 1..4),
            changes in vec((any::<Index>(), any::<u8>(), any::<u32>()), 1..4),
            arbitrary in vec(any::<u8>(), 0..200),
        ) {
            let keys = MasterKey::from_bytes([9; 32]).keys();
            let _ = pack_trailer(&arbitrary);
            let _ = read_pack_header(&keys, &arbitrary);
            let good = pack(&keys, &blobs);
            prop_assert_eq!(read_pack_header(&keys, &good).map(|e| e.len()), Ok(blobs.len()));
            let mut bad = good.clone();
            for (at, how, value) in &changes {
                let i = at.index(bad.len().max(1));
                match how % 4 {
                    0 if i < bad.len() => bad[i] = *value as u8,
                    1 if bad.len() >= 4 => {
                        let end = bad.len();
                        bad[end - 4..].copy_from_slice(&value.to_le_bytes());
                    }
                    2 => bad.truncate(i),
                    _ => bad.splice(i..i, value.to_le_bytes()).for_each(drop),
                }
            }
            if let Some(t) = pack_trailer(&bad) {
                prop_assert!(t.len() + HEADER_LEN <= bad.len());
            }
            let read = read_pack_header(&keys, &bad);
            prop_assert!(read.is_err() || bad.ends_with(pack_trailer(&good).unwrap()));
        }
    }
}
