//! Reading blobs back. A blob may have several copies (`docs/format.md` §8); they are tried in
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

/// The most one ranged read fetches when reading blobs in a row.
pub const READ_RUN: u64 = 8 << 20;

fn run_bytes(run: &[BlobLocation]) -> u64 {
    run.iter().map(|l| u64::from(l.entry.length)).sum()
}

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

    /// Reads blobs in order and hands each plaintext to `f`. Neighbouring blobs of one pack are
    /// fetched with one ranged read of up to [`READ_RUN`] bytes, so a file whose chunks were
    /// stored one after another costs a few requests rather than one per chunk (what matters on
    /// object storage). Memory: one run at a time. A damaged copy is replaced by another.
    pub fn read_blobs<E: From<RepoError>>(
        &self,
        ids: &[ChunkId],
        mut f: impl FnMut(Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut run: Vec<BlobLocation> = Vec::new();
        for id in ids {
            let loc = self
                .cache
                .lookup(id)
                .map_err(RepoError::from)?
                .ok_or(RepoError::MissingBlob { blob: *id })?;
            let contiguous = run.last().is_some_and(|last| {
                last.pack == loc.pack
                    && last.entry.end() == u64::from(loc.entry.offset)
                    && run_bytes(&run) + u64::from(loc.entry.length) <= READ_RUN
            });
            if !contiguous && !run.is_empty() {
                self.read_run(&std::mem::take(&mut run), &mut f)?;
            }
            run.push(loc);
        }
        if !run.is_empty() {
            self.read_run(&run, &mut f)?;
        }
        Ok(())
    }

    /// One ranged read for blobs that lie back to back in one pack; blob by blob, from any
    /// copy, when that read or a blob in it fails.
    fn read_run<E: From<RepoError>>(
        &self,
        run: &[BlobLocation],
        f: &mut impl FnMut(Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let pack = run[0].pack;
        let start = u64::from(run[0].entry.offset);
        let sealed = match self
            .backend
            .get_range(FileType::Pack, &pack.to_hex(), start, run_bytes(run))
            .map_err(RepoError::from)
        {
            Ok(sealed) => sealed,
            Err(e) if e.is_damage() => {
                return run
                    .iter()
                    .try_for_each(|loc| f(self.read_blob(&loc.entry.id)?));
            }
            Err(e) => return Err(e.into()),
        };
        for loc in run {
            let at = (u64::from(loc.entry.offset) - start) as usize;
            let one = &sealed[at..at + loc.entry.length as usize];
            let plain = match unseal(&self.keys, &loc.entry, one) {
                Ok(plain) => plain,
                Err(e) => {
                    let e = RepoError::corrupt(format!("packs/{pack}"), e);
                    self.note_damage(loc, &e)?;
                    self.read_other_copy(&loc.entry.id, Some(&pack))?.ok_or(e)?
                }
            };
            f(plain)?;
        }
        Ok(())
    }
}

fn gone(pack: &PackId) -> RepoError {
    RepoError::Storage(hearth_storage::StorageError::NotFound {
        path: format!("packs/{pack}"),
    })
}
