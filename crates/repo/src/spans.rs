//! Reading a known set of blobs with few requests (a restore). The blobs are grouped up front
//! into *spans*: stretches of one pack holding neighbouring wanted blobs, with gaps of at most
//! [`SPAN_GAP`] and at most [`SPAN_MAX`] bytes. A span is fetched with one ranged read when a
//! reader first needs it, shared by every blob in it, and dropped once its last wanted blob
//! was read. Thousands of small files then cost tens of requests instead of one each, which
//! is what object storage needs; on the local disk it is fewer, larger reads.
//!
//! Memory is bounded: at most [`SPAN_BUDGET`] bytes of spans are held. When a span is needed
//! beyond that, the least recently used one is dropped even if it still has readers to come
//! (they fetch it again): readers that go in span order (see [`SpanReader::first_span`]) seldom
//! come back to one.

use crate::error::RepoError;
use crate::repository::Repository;
use hearth_chunker::unseal;
use hearth_format::{ChunkId, PackId};
use hearth_index::BlobLocation;
use hearth_storage::FileType;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Wanted blobs further apart than this start a new span (the bytes between are read and
/// thrown away: on object storage a request costs far more than a megabyte more of it).
pub const SPAN_GAP: u64 = 1 << 20;
/// The longest span.
pub const SPAN_MAX: u64 = 8 << 20;
/// The most bytes of spans held at once.
pub const SPAN_BUDGET: u64 = 24 << 20;

/// Reads the blobs it was planned for; see the module docs. Shared by the threads of a restore.
pub struct SpanReader<'r> {
    repo: &'r Repository,
    /// Each wanted blob: its span and where it is.
    blobs: HashMap<ChunkId, (usize, BlobLocation)>,
    spans: Vec<Span>,
    held: Mutex<Held>,
}

struct Span {
    pack: PackId,
    start: u64,
    len: u64,
    /// Reads of its blobs still to come; at zero the span is dropped.
    reads_left: AtomicUsize,
    /// Held while the span is fetched, so that two readers never fetch it twice at once.
    fetching: Mutex<()>,
}

/// The spans in memory, least recently used first.
#[derive(Default)]
struct Held {
    bytes: HashMap<usize, Arc<Vec<u8>>>,
    order: VecDeque<usize>,
    total: u64,
}

impl Repository {
    /// A reader for `ids` (in the order they will be read, repeats included).
    pub fn span_reader(&self, ids: &[ChunkId]) -> Result<SpanReader<'_>, RepoError> {
        let mut reads: HashMap<ChunkId, (usize, BlobLocation)> = HashMap::new();
        for id in ids {
            match reads.get_mut(id) {
                Some((n, _)) => *n += 1,
                None => {
                    reads.insert(*id, (1, self.locate(id)?));
                }
            }
        }
        let mut by_pack: HashMap<PackId, Vec<(ChunkId, usize, BlobLocation)>> = HashMap::new();
        for (id, (n, loc)) in reads {
            by_pack.entry(loc.pack).or_default().push((id, n, loc));
        }
        let mut packs: Vec<_> = by_pack.into_iter().collect();
        packs.sort_by_key(|(pack, _)| *pack);
        let (mut blobs, mut spans) = (HashMap::new(), Vec::<Span>::new());
        for (pack, mut wanted) in packs {
            wanted.sort_by_key(|(_, _, loc)| loc.entry.offset);
            let mut current: Option<usize> = None;
            for (id, n, loc) in wanted {
                let (offset, len) = (u64::from(loc.entry.offset), u64::from(loc.entry.length));
                let joins = current.filter(|&s| {
                    let span = &spans[s];
                    let end = span.start + span.len;
                    offset >= end
                        && offset - end <= SPAN_GAP
                        && offset + len - span.start <= SPAN_MAX
                });
                let s = match joins {
                    Some(s) => {
                        spans[s].len = offset + len - spans[s].start;
                        s
                    }
                    None => {
                        spans.push(Span {
                            pack,
                            start: offset,
                            len,
                            reads_left: AtomicUsize::new(0),
                            fetching: Mutex::new(()),
                        });
                        spans.len() - 1
                    }
                };
                *spans[s].reads_left.get_mut() += n;
                current = Some(s);
                blobs.insert(id, (s, loc));
            }
        }
        Ok(SpanReader {
            repo: self,
            blobs,
            spans,
            held: Mutex::new(Held::default()),
        })
    }
}

impl<'r> SpanReader<'r> {
    pub fn repo(&self) -> &'r Repository {
        self.repo
    }

    /// How many ranged reads fetching every span once takes.
    pub fn span_count(&self) -> usize {
        self.spans.len()
    }

    /// The span of the first of `ids`: readers that go through files in this order fetch
    /// each span about once.
    pub fn first_span(&self, ids: &[ChunkId]) -> usize {
        ids.first()
            .and_then(|id| self.blobs.get(id))
            .map_or(usize::MAX, |(s, _)| *s)
    }

    /// [`Repository::read_blobs`] for planned blobs: hands each plaintext to `f`, in order.
    /// A blob that was not planned is read on its own.
    pub fn read_blobs<E: From<RepoError>>(
        &self,
        ids: &[ChunkId],
        mut f: impl FnMut(Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        for id in ids {
            let plain = match self.blobs.get(id) {
                Some((s, loc)) => self.read_planned(*s, loc)?,
                None => self.repo.read_blob(id)?,
            };
            f(plain)?;
        }
        Ok(())
    }

    fn read_planned(&self, s: usize, loc: &BlobLocation) -> Result<Vec<u8>, RepoError> {
        let bytes = self.span_bytes(s)?;
        let span = &self.spans[s];
        let at = (u64::from(loc.entry.offset) - span.start) as usize;
        let sealed = &bytes[at..at + loc.entry.length as usize];
        let plain = unseal(&self.repo.keys, &loc.entry, sealed)
            .map_err(|e| RepoError::corrupt(format!("packs/{}", span.pack), e));
        if span.reads_left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.drop_span(s);
        }
        plain
    }

    /// The span's bytes: held, or fetched now (by one reader; others wait for it).
    fn span_bytes(&self, s: usize) -> Result<Arc<Vec<u8>>, RepoError> {
        if let Some(b) = self.held_span(s) {
            return Ok(b);
        }
        let _one_fetch = self.spans[s].fetching.lock().expect("span fetch");
        if let Some(b) = self.held_span(s) {
            return Ok(b);
        }
        let span = &self.spans[s];
        let bytes = self.repo.backend.get_range(
            FileType::Pack,
            &span.pack.to_hex(),
            span.start,
            span.len,
        )?;
        if bytes.len() as u64 != span.len {
            return Err(RepoError::corrupt(
                format!("packs/{}", span.pack),
                "shorter than its index says",
            ));
        }
        let bytes = Arc::new(bytes);
        self.hold(s, Arc::clone(&bytes));
        Ok(bytes)
    }

    fn held_span(&self, s: usize) -> Option<Arc<Vec<u8>>> {
        let mut held = self.held.lock().expect("held spans");
        let bytes = Arc::clone(held.bytes.get(&s)?);
        held.order.retain(|&o| o != s);
        held.order.push_back(s);
        Some(bytes)
    }

    /// Keeps a fetched span, dropping the least recently used ones beyond the budget.
    fn hold(&self, s: usize, bytes: Arc<Vec<u8>>) {
        let mut held = self.held.lock().expect("held spans");
        if self.spans[s].reads_left.load(Ordering::Acquire) == 0 {
            return;
        }
        held.total += bytes.len() as u64;
        held.bytes.insert(s, bytes);
        held.order.push_back(s);
        while held.total > SPAN_BUDGET && held.order.len() > 1 {
            let oldest = held.order.pop_front().expect("more than one held");
            if let Some(b) = held.bytes.remove(&oldest) {
                held.total -= b.len() as u64;
            }
        }
    }

    fn drop_span(&self, s: usize) {
        let mut held = self.held.lock().expect("held spans");
        if let Some(b) = held.bytes.remove(&s) {
            held.total -= b.len() as u64;
            held.order.retain(|&o| o != s);
        }
    }

    /// Bytes of spans held now.
    pub fn held_bytes(&self) -> u64 {
        self.held.lock().expect("held spans").total
    }
}
