//! Reading a known set of blobs with few requests: the one way many blobs are read (a restore's
//! files, snapshot trees, plists, prune's repack). The blobs are grouped up front
//! into *spans*: stretches of one pack holding neighbouring wanted blobs, with gaps of at most
//! [`SPAN_GAP`] and at most [`SPAN_MAX`] bytes. A span is fetched with one ranged read when a
//! reader first needs it, shared by every blob in it, and dropped once its last wanted blob
//! was read. Thousands of small files then cost tens of requests instead of one each, which
//! is what object storage needs; on the local disk it is fewer, larger reads. Each fetch
//! hints the spans after it to the backend (`read_ahead`), so that a local disk reads them
//! meanwhile.
//!
//! Memory is bounded: the spans kept for later reads, and the buffers of dropped spans kept
//! for the next fetches, are at most [`SPAN_BUDGET`] bytes of buffer capacity, besides the span
//! each reading thread is using. Beyond the budget free buffers go first, then the least
//! recently used span that no thread is reading, even if it has blobs still to be read (they
//! fetch it again): readers that go in span order (see [`SpanReader::first_span`]) seldom come
//! back to one. Each planned blob costs about 60 bytes until the reader is dropped.
//!
//! A span being read is never dropped, so when every kept span is being read the budget is
//! passed, by at most one span per reading thread, until the next fetch drops the idle ones
//! (dropping them as soon as their readers finish re-fetched spans that the next files share:
//! nine fetches a span with eight threads). Each reading thread also keeps its plaintext
//! buffers between files, up to 2 x 4 MiB.
//!
//! Buffers are reused (span buffers here, plaintext buffers per thread) because a fresh buffer
//! costs a page fault every 4 KiB: a local restore of 579 MB went from 322,000 page faults to
//! 52,000-67,000 (16,000 of them Argon2's), and its system time fell by a third.

use crate::error::RepoError;
use crate::read_ahead::ReadAhead;
use crate::repository::Repository;
use crate::seal::UnsealBuffers;
use hearth_format::{ChunkId, PackEntry, PackId};
use hearth_storage::FileType;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Wanted blobs further apart than this start a new span (the bytes between are read and
/// thrown away: on object storage a request costs far more than a megabyte more of it).
pub const SPAN_GAP: u64 = 1 << 20;
/// The longest span.
pub const SPAN_MAX: u64 = 8 << 20;
/// The most bytes (of buffer capacity) of spans kept for later reads and of free buffers,
/// besides the spans being read.
pub const SPAN_BUDGET: u64 = 24 << 20;

/// Whether a free buffer of `capacity` may take a span of `len`: not so much bigger that the
/// budget, which counts capacity, would keep far fewer spans. A smaller one grows, and only
/// its new pages fault.
fn usable_for(capacity: u64, len: u64) -> bool {
    capacity <= (4 * len).max(2 << 20)
}

/// Plaintext buffers above this are not kept between files (a rare 16 MiB chunk would
/// otherwise stay with its thread for good).
pub(crate) const KEEP_UNSEAL_BUFFERS: usize = 4 << 20;

thread_local! {
    /// Each reading thread's plaintext buffers, kept across files.
    static UNSEAL_BUFFERS: RefCell<UnsealBuffers> = RefCell::default();
}

/// A blob a [`SpanReader`] read.
pub struct ReadBlob<'a> {
    pub plain: &'a [u8],
    /// Its entry and sealed bytes as the planned copy holds them; `None` when they came from
    /// another copy (the planned one could not be fetched, or did not open).
    pub sealed: Option<(&'a PackEntry, &'a [u8])>,
}

impl<'a> ReadBlob<'a> {
    fn elsewhere(plain: &'a [u8]) -> Self {
        Self {
            plain,
            sealed: None,
        }
    }
}

/// Reads the blobs it was planned for; see the module docs. Shared by the threads of a restore.
pub struct SpanReader<'r> {
    repo: &'r Repository,
    /// Each wanted blob, sorted by id.
    blobs: Vec<Planned>,
    spans: Vec<Span>,
    /// The spans, hinted to the backend a few ahead of the one being fetched.
    ahead: ReadAhead<'r>,
    held: Mutex<Held>,
    /// What [`SPAN_BUDGET`] is for this reader.
    budget: u64,
}

/// A wanted blob: where it is in its pack, and its span.
struct Planned {
    entry: PackEntry,
    span: u32,
}

struct Span {
    pack: PackId,
    start: u64,
    len: u64,
    /// Reads of its blobs still to come; at zero the span is dropped.
    reads_left: AtomicUsize,
    /// Held while the span is fetched, so that two readers never fetch it twice at once.
    fetching: Mutex<()>,
    /// Its fetch failed (a pack gone or shorter than indexed): its blobs are read one by one.
    failed: AtomicBool,
}

/// The spans kept in memory, least recently used first, and the buffers of dropped spans
/// kept for the next fetches. Sizes are buffer capacities.
#[derive(Default)]
struct Held {
    spans: HashMap<usize, Arc<Vec<u8>>>,
    order: VecDeque<usize>,
    total: u64,
    free: Vec<Vec<u8>>,
    free_bytes: u64,
}

impl Repository {
    /// A reader for `ids` (in the order they will be read, repeats included).
    pub fn span_reader(&self, ids: &[ChunkId]) -> Result<SpanReader<'_>, RepoError> {
        self.span_reader_within(ids, SPAN_BUDGET)
    }

    /// [`Repository::span_reader`] keeping at most `budget` bytes of spans and free buffers
    /// (besides the spans being read) instead of [`SPAN_BUDGET`]: for several readers alive at
    /// once.
    pub fn span_reader_within(
        &self,
        ids: &[ChunkId],
        budget: u64,
    ) -> Result<SpanReader<'_>, RepoError> {
        let mut reads: HashMap<ChunkId, usize> = HashMap::new();
        for id in ids {
            *reads.entry(*id).or_default() += 1;
        }
        let index = self.cache.reader()?;
        let mut wanted = Vec::with_capacity(reads.len());
        for (id, n) in reads {
            // A blob the index lacks is not planned: reading it fails on its own.
            if let Some(loc) = index.lookup(&id)? {
                wanted.push((loc.pack, loc.entry, n));
            }
        }
        wanted.sort_by_key(|(pack, entry, _)| (*pack, entry.offset));
        let (mut blobs, mut spans) = (Vec::with_capacity(wanted.len()), Vec::<Span>::new());
        for (pack, entry, n) in wanted {
            let (offset, len) = (u64::from(entry.offset), u64::from(entry.length));
            let joins = spans.last().is_some_and(|span| {
                let end = span.start + span.len;
                span.pack == pack
                    && offset >= end
                    && offset - end <= SPAN_GAP
                    && offset + len - span.start <= SPAN_MAX
            });
            if joins {
                let span = spans.last_mut().expect("joined a span");
                span.len = offset + len - span.start;
            } else {
                spans.push(Span {
                    pack,
                    start: offset,
                    len,
                    reads_left: AtomicUsize::new(0),
                    fetching: Mutex::new(()),
                    failed: AtomicBool::new(false),
                });
            }
            *spans.last_mut().expect("a span").reads_left.get_mut() += n;
            let span = u32::try_from(spans.len() - 1).expect("fewer than 2^32 spans");
            blobs.push(Planned { entry, span });
        }
        blobs.sort_by_key(|b| b.entry.id);
        let ahead = ReadAhead::ranges(
            &*self.backend,
            spans.iter().map(|s| (s.pack, s.start, s.len)),
        );
        Ok(SpanReader {
            repo: self,
            blobs,
            spans,
            ahead,
            held: Mutex::new(Held::default()),
            budget,
        })
    }
}

impl SpanReader<'_> {
    /// How many ranged reads fetching every span once takes.
    pub fn span_count(&self) -> usize {
        self.spans.len()
    }

    /// The span of the first of `ids`: readers that go through files in this order fetch
    /// each span about once.
    pub fn first_span(&self, ids: &[ChunkId]) -> usize {
        ids.first()
            .and_then(|id| self.planned(id))
            .map_or(usize::MAX, |p| p.span as usize)
    }

    fn planned(&self, id: &ChunkId) -> Option<&Planned> {
        let i = self.blobs.binary_search_by_key(id, |b| b.entry.id).ok()?;
        Some(&self.blobs[i])
    }

    /// Reads `ids` in order and hands each plaintext to `f`.
    /// A blob that was not planned is read on its own, and so is a blob whose span cannot be
    /// fetched or whose copy there is damaged (from another copy, if there is one: see
    /// [`Repository::read_blob`]).
    pub fn read_blobs<E: From<RepoError>>(
        &self,
        ids: &[ChunkId],
        mut f: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.visit_blobs(ids, |blob| f(blob.plain))
    }

    /// [`Self::read_blobs`], handing `f` each blob's sealed bytes too when they come from the
    /// planned copy (checked: they open to the blob's id).
    pub fn visit_blobs<E: From<RepoError>>(
        &self,
        ids: &[ChunkId],
        mut f: impl FnMut(ReadBlob<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        // Taken, not borrowed: `f` may read blobs itself.
        let mut buffers = UNSEAL_BUFFERS.take();
        let mut read_all = || {
            for id in ids {
                match self.planned(id) {
                    Some(p) if !self.spans[p.span as usize].failed.load(Ordering::Acquire) => {
                        self.read_planned(p.span as usize, &p.entry, &mut buffers, &mut f)?
                    }
                    Some(p) => {
                        self.read_done(p.span as usize);
                        f(ReadBlob::elsewhere(&self.repo.read_blob(id)?))?
                    }
                    None => f(ReadBlob::elsewhere(&self.repo.read_blob(id)?))?,
                }
            }
            Ok(())
        };
        let result = read_all();
        buffers.release_above(KEEP_UNSEAL_BUFFERS);
        UNSEAL_BUFFERS.set(buffers);
        result
    }

    fn read_planned<E: From<RepoError>>(
        &self,
        s: usize,
        entry: &PackEntry,
        buffers: &mut UnsealBuffers,
        f: &mut impl FnMut(ReadBlob<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let span = &self.spans[s];
        let bytes = match self.span_bytes(s) {
            Ok(bytes) => bytes,
            Err(e) if e.is_damage() => {
                span.failed.store(true, Ordering::Release);
                self.read_done(s);
                return f(ReadBlob::elsewhere(&self.repo.read_blob(&entry.id)?));
            }
            Err(e) => return Err(e.into()),
        };
        let at = (u64::from(entry.offset) - span.start) as usize;
        let sealed = &bytes[at..at + entry.length as usize];
        let opened = buffers
            .unseal(&self.repo.keys, entry, sealed)
            .map(drop)
            .map_err(|e| RepoError::corrupt(format!("packs/{}", span.pack), e));
        let result = match opened {
            Ok(()) => f(ReadBlob {
                plain: buffers.plaintext(entry),
                sealed: Some((entry, sealed)),
            }),
            Err(damage) => match self.read_elsewhere(span.pack, entry, damage) {
                Ok(plain) => f(ReadBlob::elsewhere(&plain)),
                Err(e) => Err(e.into()),
            },
        };
        self.recycle(bytes);
        self.read_done(s);
        result
    }

    /// After the copy of `entry` in `pack` failed with `damage`: records it, and reads another
    /// copy (or fails with `damage` when there is none).
    fn read_elsewhere(
        &self,
        pack: PackId,
        entry: &PackEntry,
        damage: RepoError,
    ) -> Result<Vec<u8>, RepoError> {
        let here = hearth_index::BlobLocation {
            pack,
            entry: *entry,
        };
        self.repo.note_damage(&here, &damage)?;
        self.repo
            .read_other_copy(&entry.id, Some(&pack))?
            .ok_or(damage)
    }

    /// One planned read of span `s` is done; after its last one the span is dropped. (A blob
    /// read more often than planned leaves the count at zero, and the span to the budget.)
    fn read_done(&self, s: usize) {
        let left =
            self.spans[s]
                .reads_left
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        if left == Ok(1) {
            self.drop_span(s);
        }
    }

    /// The span's bytes: kept, or fetched now (by one reader; others wait for it).
    fn span_bytes(&self, s: usize) -> Result<Arc<Vec<u8>>, RepoError> {
        if let Some(b) = self.kept_span(s) {
            return Ok(b);
        }
        let _one_fetch = self.spans[s]
            .fetching
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(b) = self.kept_span(s) {
            return Ok(b);
        }
        let span = &self.spans[s];
        self.ahead.reading(s);
        let mut bytes = self.free_buffer(span.len);
        self.repo.backend.read_range_into(
            FileType::Pack,
            &span.pack.to_hex(),
            span.start,
            span.len,
            &mut bytes,
        )?;
        // The backends report a short read themselves; this guards any that do not.
        if bytes.len() as u64 != span.len {
            return Err(RepoError::corrupt(
                format!("packs/{}", span.pack),
                "shorter than its index says",
            ));
        }
        let bytes = Arc::new(bytes);
        self.keep(s, Arc::clone(&bytes));
        Ok(bytes)
    }

    fn held(&self) -> MutexGuard<'_, Held> {
        // Every change to `Held` is complete before anything that could panic.
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn kept_span(&self, s: usize) -> Option<Arc<Vec<u8>>> {
        let mut held = self.held();
        let bytes = Arc::clone(held.spans.get(&s)?);
        held.order.retain(|&o| o != s);
        held.order.push_back(s);
        Some(bytes)
    }

    /// Keeps a fetched span; beyond the budget, drops free buffers, then the least recently
    /// used spans that no thread is reading (dropping one being read would free nothing).
    fn keep(&self, s: usize, bytes: Arc<Vec<u8>>) {
        let mut held = self.held();
        if self.spans[s].reads_left.load(Ordering::Acquire) == 0 {
            return;
        }
        held.total += bytes.capacity() as u64;
        held.spans.insert(s, bytes);
        held.order.push_back(s);
        while held.total + held.free_bytes > self.budget {
            if let Some(buffer) = held.free.pop() {
                held.free_bytes -= buffer.capacity() as u64;
                continue;
            }
            if Self::drop_idle(&mut held).is_none() {
                break;
            }
        }
    }

    fn drop_span(&self, s: usize) {
        let mut held = self.held();
        if let Some(b) = held.spans.remove(&s) {
            held.total -= b.capacity() as u64;
            held.order.retain(|&o| o != s);
            if let Some(buffer) = Arc::into_inner(b) {
                Self::keep_free(&mut held, buffer, self.budget);
            }
        }
    }

    /// A buffer for fetching `len` bytes: a dropped span's, the least recently used idle span's
    /// if the new one would not fit the budget beside it (it would be dropped anyway), or a new
    /// one.
    fn free_buffer(&self, len: u64) -> Vec<u8> {
        let mut held = self.held();
        // The smallest buffer that holds the span, else the largest that does not.
        let best = (held.free.iter().enumerate())
            .map(|(i, b)| (i, b.capacity() as u64))
            .filter(|&(_, capacity)| usable_for(capacity, len))
            .min_by_key(|&(_, capacity)| match capacity >= len {
                true => (0, capacity),
                false => (1, u64::MAX - capacity),
            })
            .map(|(i, _)| i);
        if let Some(i) = best {
            let mut buffer = held.free.swap_remove(i);
            held.free_bytes -= buffer.capacity() as u64;
            buffer.clear();
            return buffer;
        }
        if held.total + len > self.budget
            && let Some(bytes) = Self::drop_idle(&mut held)
        {
            // No reader can have taken it since `drop_idle` saw it idle: readers take spans
            // under the lock.
            let mut buffer = Arc::into_inner(bytes).unwrap_or_default();
            if usable_for(buffer.capacity() as u64, len) {
                buffer.clear();
                return buffer;
            }
        }
        Vec::new()
    }

    /// Drops the least recently used span that no thread is reading.
    fn drop_idle(held: &mut Held) -> Option<Arc<Vec<u8>>> {
        let i = held
            .order
            .iter()
            .position(|o| Arc::strong_count(&held.spans[o]) == 1)?;
        let oldest = held.order.remove(i).expect("a held span");
        let bytes = held.spans.remove(&oldest).expect("a held span");
        held.total -= bytes.capacity() as u64;
        Some(bytes)
    }

    /// Called with every reference to a span's bytes that a reader is done with: the last one
    /// gives its buffer back.
    fn recycle(&self, bytes: Arc<Vec<u8>>) {
        if let Some(buffer) = Arc::into_inner(bytes) {
            Self::keep_free(&mut self.held(), buffer, self.budget);
        }
    }

    /// Keeps a buffer for later fetches while the spans and free buffers fit the budget.
    fn keep_free(held: &mut Held, buffer: Vec<u8>, budget: u64) {
        let size = buffer.capacity() as u64;
        if held.total + held.free_bytes + size <= budget {
            held.free_bytes += size;
            held.free.push(buffer);
        }
    }

    /// Bytes of spans kept now.
    pub fn held_bytes(&self) -> u64 {
        self.held().total
    }

    /// Bytes of spans kept and of free buffers now: what the budget ([`SPAN_BUDGET`]) bounds.
    pub fn buffered_bytes(&self) -> u64 {
        let held = self.held();
        held.total + held.free_bytes
    }
}
