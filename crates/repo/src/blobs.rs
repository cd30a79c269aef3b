//! Reading one blob back (many are read through a [`crate::SpanReader`]). A blob may have several copies (`docs/format.md` §8); they are tried in
//! the order the index gives (copies not known to be damaged first), and a copy that fails to
//! read is recorded as damaged in the cache (§12), so that later reads try it last and the next
//! backup stores the blob again.

use crate::error::RepoError;
use crate::repository::Repository;
use crate::seal::unseal;
use hearth_format::{ChunkId, PackId};
use hearth_index::BlobLocation;
use hearth_storage::FileType;
use std::sync::PoisonError;

impl Repository {
    /// Reads one blob from the first of its copies that opens and verifies.
    pub fn read_blob(&self, id: &ChunkId) -> Result<Vec<u8>, RepoError> {
        match self.read_other_copy(id, None)? {
            Some(plain) => Ok(plain),
            None => Err(RepoError::MissingBlob { blob: *id }),
        }
    }

    /// Reads a blob from a copy outside `except` (a pack whose copy the caller just found
    /// damaged). `None` when there is no other copy; the error of the first copy that failed
    /// when every other one does.
    pub(crate) fn read_other_copy(
        &self,
        id: &ChunkId,
        except: Option<&PackId>,
    ) -> Result<Option<Vec<u8>>, RepoError> {
        let mut failure = None;
        for loc in self.cache.locations(id)? {
            if Some(&loc.pack) == except {
                continue;
            }
            if self.is_gone(&loc.pack) {
                failure.get_or_insert_with(|| gone(&loc.pack));
                continue;
            }
            match self.read_copy(&loc) {
                Ok(plain) => return Ok(Some(plain)),
                Err(e) if e.is_damage() => {
                    self.note_damage(&loc, &e)?;
                    failure.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        failure.map_or(Ok(None), Err)
    }

    /// One copy: its range of its pack, opened and verified. A copy that reads is taken off the
    /// list of damaged ones, if it was on it.
    pub(crate) fn read_copy(&self, loc: &BlobLocation) -> Result<Vec<u8>, RepoError> {
        let sealed = self.backend.get_range(
            FileType::Pack,
            &loc.pack.to_hex(),
            u64::from(loc.entry.offset),
            u64::from(loc.entry.length),
        )?;
        let plain = unseal(&self.keys, &loc.entry, &sealed)
            .map_err(|e| RepoError::corrupt(format!("packs/{}", loc.pack), e))?;
        self.cache.record_sound(&loc.entry.id, &loc.pack)?;
        Ok(plain)
    }

    /// Remembers that a copy failed to read with `e` (a damage error): a pack storage does not
    /// have is lost as a whole, and not asked for again by this process.
    pub(crate) fn note_damage(&self, loc: &BlobLocation, e: &RepoError) -> Result<(), RepoError> {
        match e {
            RepoError::Storage(s) if s.is_not_found() => {
                self.gone_packs
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(loc.pack);
                self.cache
                    .record_lost_pack(&loc.pack, "missing from storage")?;
            }
            _ => self
                .cache
                .record_bad_blob(&loc.entry.id, &loc.pack, &e.to_string())?,
        }
        Ok(())
    }

    fn is_gone(&self, pack: &PackId) -> bool {
        self.gone_packs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(pack)
    }
}

fn gone(pack: &PackId) -> RepoError {
    RepoError::Storage(hearth_storage::StorageError::NotFound {
        path: format!("packs/{pack}"),
    })
}
