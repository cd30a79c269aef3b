//! A snapshot's tree (its entry stream, `docs/format.md` §9) written and read one entry at a
//! time, so that memory holds a few blobs of it whatever the number of files.
//!
//! Invariant: [`store_tree`] cuts and stores exactly the blobs that chunking the whole encoded
//! stream at once would (the chunker's reader and slice cuts agree), so a tree written entry by
//! entry deduplicates against one written whole, and the bytes of a snapshot do not depend on
//! how it was written.

use crate::error::RepoError;
use crate::repository::Repository;
use crate::spans::{SPAN_MAX, SpanReader};
use crate::writer::StoreFileError;
use hearth_format::codec::{DecodeError, Reader, Writer};
use hearth_format::{ChunkId, Entry, Snapshot};
use hearth_index::BlobLocation;
use std::borrow::Borrow;
use std::collections::HashMap;
use std::io::Read;

/// Entries are encoded this many bytes at a time before the chunker reads them.
const ENCODE_BATCH: usize = 64 << 10;

/// Tree blobs decoded at a time while reading: a few hundred KiB.
const READ_BATCH: usize = 8;

/// What a tree's reader keeps of spans between batches: the span read in part (a tree is read
/// in order, so it comes back to no other). Free buffers beyond it are dropped first.
const TREE_SPANS: u64 = SPAN_MAX;

/// A stored tree: its blobs and the length of the stream they hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTree {
    pub blobs: Vec<ChunkId>,
    pub len: u64,
}

/// Stores the entries (sorted by path, §9) as a tree through `store_reader` (a session's or a
/// tally's, so that the bytes are counted where they belong).
pub(crate) fn store_tree<E: Borrow<Entry>>(
    entries: impl Iterator<Item = E>,
    store_reader: impl FnOnce(&mut dyn Read) -> Result<(Vec<ChunkId>, u64), StoreFileError>,
) -> Result<StoredTree, RepoError> {
    let mut reader = EncodingReader {
        entries,
        encoded: Vec::new(),
        at: 0,
    };
    match store_reader(&mut reader) {
        Ok((blobs, len)) => Ok(StoredTree { blobs, len }),
        Err(StoreFileError::Repo(e)) => Err(e),
        Err(StoreFileError::Read(e)) => unreachable!("encoding entries does not fail: {e}"),
    }
}

/// The encoded entries of an iterator, as a reader.
struct EncodingReader<I> {
    entries: I,
    encoded: Vec<u8>,
    /// Bytes of `encoded` already read.
    at: usize,
}

impl<E: Borrow<Entry>, I: Iterator<Item = E>> Read for EncodingReader<I> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.encoded.len() {
            let mut w = Writer::with_buffer(std::mem::take(&mut self.encoded));
            while w.len() < ENCODE_BATCH {
                let Some(entry) = self.entries.next() else {
                    break;
                };
                entry.borrow().encode(&mut w);
            }
            self.encoded = w.finish();
            self.at = 0;
        }
        let n = out.len().min(self.encoded.len() - self.at);
        out[..n].copy_from_slice(&self.encoded[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The entries of a snapshot's tree, in order, decoded as its blobs are read.
pub struct Entries<'r> {
    repo: &'r Repository,
    /// Where to find tree blobs the index lacks (packs no segment names), if anywhere.
    unindexed: Option<&'r HashMap<ChunkId, BlobLocation>>,
    blobs: std::vec::IntoIter<ChunkId>,
    /// Reads the indexed tree blobs; made at the first read.
    reader: Option<SpanReader<'r>>,
    /// Read from the blobs, not decoded yet (from `at`).
    stream: Vec<u8>,
    at: usize,
    /// Bytes read from the blobs so far, and the length the snapshot records.
    read: u64,
    expected: u64,
    done: bool,
}

impl Repository {
    /// The snapshot's entries, decoded one at a time from its tree blobs.
    pub fn entries(&self, snapshot: &Snapshot) -> Entries<'_> {
        Entries {
            repo: self,
            unindexed: None,
            blobs: snapshot.tree.clone().into_iter(),
            reader: None,
            stream: Vec::new(),
            at: 0,
            read: 0,
            expected: snapshot.tree_len,
            done: false,
        }
    }

    /// [`Repository::entries`], finding the tree blobs the index lacks in `unindexed` (read
    /// from the headers of packs no segment names).
    pub(crate) fn entries_with<'r>(
        &'r self,
        snapshot: &Snapshot,
        unindexed: &'r HashMap<ChunkId, BlobLocation>,
    ) -> Entries<'r> {
        Entries {
            unindexed: Some(unindexed),
            ..self.entries(snapshot)
        }
    }
}

impl Entries<'_> {
    /// Bytes of the tree's blobs read so far, of the snapshot's `tree_len`: how far a reader
    /// has come, for a progress bar.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// Appends the next few blobs to the stream; false when none is left.
    fn fetch(&mut self) -> Result<bool, RepoError> {
        let next: Vec<ChunkId> = self.blobs.by_ref().take(READ_BATCH).collect();
        if next.is_empty() {
            return Ok(false);
        }
        self.stream.drain(..self.at);
        self.at = 0;
        let mut append = |blob: &[u8]| {
            self.read += blob.len() as u64;
            if self.read > self.expected {
                return Err(length_differs());
            }
            self.stream.extend_from_slice(blob);
            Ok::<_, RepoError>(())
        };
        let Some(unindexed) = self.unindexed else {
            if self.reader.is_none() {
                let mut tree = next.clone();
                tree.extend(self.blobs.as_slice());
                self.reader = Some(self.repo.span_reader_within(&tree, TREE_SPANS)?);
            }
            let reader = self.reader.as_ref().expect("made above");
            reader.read_blobs(&next, append)?;
            return Ok(true);
        };
        for id in &next {
            match unindexed.get(id) {
                Some(loc) if self.repo.cache.lookup(id)?.is_none() => {
                    append(&self.repo.read_copy(loc)?)?
                }
                _ => append(&self.repo.read_blob(id)?)?,
            }
        }
        Ok(true)
    }

    fn next_entry(&mut self) -> Result<Option<Entry>, RepoError> {
        loop {
            let mut r = Reader::new(&self.stream[self.at..]);
            if r.remaining() > 0 {
                match Entry::decode(&mut r) {
                    Ok(entry) => {
                        self.at += r.position();
                        return Ok(Some(entry));
                    }
                    Err(DecodeError::Truncated { .. }) => {}
                    Err(e) => return Err(RepoError::corrupt("snapshot tree", e)),
                }
            }
            let partial = r.remaining() > 0;
            if !self.fetch()? {
                return match (partial, self.read == self.expected) {
                    (false, true) => Ok(None),
                    (_, false) => Err(length_differs()),
                    (true, true) => Err(RepoError::corrupt(
                        "snapshot tree",
                        "the stream ends inside an entry",
                    )),
                };
            }
        }
    }
}

fn length_differs() -> RepoError {
    RepoError::corrupt("snapshot tree", "length differs from the recorded length")
}

impl Iterator for Entries<'_> {
    type Item = Result<Entry, RepoError>;

    /// After an error, the iteration ends.
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_entry().transpose();
        if !matches!(next, Some(Ok(_))) {
            self.done = true;
        }
        next
    }
}
