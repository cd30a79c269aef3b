//! The write path. A [`WriteSession`] takes chunks from many threads. The thread that stores a
//! new blob gives it the next place in the one open pack (under a short lock) and writes it
//! there itself (outside the lock: a local pack is a temporary file written at offsets), then
//! frees it; no pack is ever held in memory. The thread that fills a pack closes it: waits for
//! its blobs' writes, writes its sealed header, names it, and tells the storer thread, which
//! commits staged packs in batches with an index segment. So a worker never waits for a disk
//! flush.
//!
//! Commit order (`docs/format.md` §11): a segment is put only after the packs it lists are
//! committed (durable, under their names); [`WriteSession::flush`] returns only when every blob
//! stored so far is in a committed pack and a written segment. Only then may a snapshot name
//! those blobs.
//!
//! A session lives under a lock ([`LockGuard`]), which it asks before each write: before a blob
//! is claimed, a pack staged, packs committed and a segment put, and once more after the put.
//! From the moment the lock is lost, nothing more is written, and a segment whose put returned
//! only then is deleted again (it may name packs that a prune elsewhere deleted meanwhile; its
//! packs are then named by no segment, which the next prune judges).

use crate::error::{RepoError, SessionStop};
use crate::lock::{Freshness, LockGuard};
use crate::objects::put_sealed;
use crate::packs::{pack_start, seal_trailer};
use crate::repository::Repository;
use crate::seal::{PreparedBlob, prepare_as};
use crate::tree::{self, StoredTree};
use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use hearth_chunker::{Content, ReadError};
use hearth_crypto::Keys;
use hearth_format::header::HEADER_LEN;
use hearth_format::{
    BlobKind, ChunkId, Entry, IndexId, IndexSegment, ObjectKind, PackEntry, PackId, PackRecord,
};
use hearth_storage::{Backend, FileType, Staged, Staging};
use std::borrow::Borrow;
use std::collections::{BTreeSet, HashSet};
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// The storer commits its staged packs and puts an index segment after this many packs, so
/// an interrupted run keeps most of its work for the next one.
const SEGMENT_PACKS: usize = 8;

/// What a session added to the repository.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    pub blobs: u64,
    /// Plaintext bytes of the new blobs.
    pub raw_bytes: u64,
    /// Sealed bytes of the new blobs, as stored in packs.
    pub stored_bytes: u64,
}

/// Why storing a file stopped: its source, or the repository.
#[derive(Debug, thiserror::Error)]
pub enum StoreFileError {
    /// Reading the source failed.
    #[error("reading the file failed: {0}")]
    Read(io::Error),
    #[error(transparent)]
    Repo(RepoError),
}

pub struct WriteSession<'r> {
    repo: &'r Repository,
    /// Held for as long as the session lives.
    lock: &'r LockGuard,
    claims: Mutex<Claims>,
    /// Signalled when a claimed blob reaches the open pack (or is abandoned).
    appended: Condvar,
    /// Segments the storer wrote and no flush has merged into the cache yet.
    written: Arc<Mutex<Written>>,
    open: Mutex<Filling>,
    storer: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    doubts: Doubts,
    blobs: AtomicU64,
    raw_bytes: AtomicU64,
    stored_bytes: AtomicU64,
}

impl Repository {
    /// Starts writing under `lock` (any lock: a shared one, or prune's exclusive one), which the
    /// session asks before each write (see the module docs).
    ///
    /// First the packs are surveyed ([`Repository::survey_packs`]): a blob whose every copy is
    /// in a lost pack, or known damaged, counts as not stored, so the session stores it again
    /// (the repository heals). Callers that name chunk lists of earlier snapshots again ask
    /// [`WriteSession::reusable`] first.
    pub fn write_session<'r>(&'r self, lock: &'r LockGuard) -> Result<WriteSession<'r>, RepoError> {
        self.held(lock)?;
        let survey = self.survey_packs()?;
        let doubts = Doubts {
            damage_known: !self.cache.damage().is_empty(),
            unindexed: self.blobs_of(&survey.unindexed)?,
        };
        Ok(self.start_session(lock, doubts))
    }

    /// The blobs of `packs` by their own headers (those that read).
    fn blobs_of(&self, packs: &[(PackId, u64)]) -> Result<HashSet<ChunkId>, RepoError> {
        let mut blobs = HashSet::new();
        for (pack, size) in packs {
            match self.pack_record(pack, *size) {
                Ok(r) => blobs.extend(r.entries.iter().map(|e| e.id)),
                Err(e) if e.is_damage() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(blobs)
    }

    fn start_session<'r>(&'r self, lock: &'r LockGuard, doubts: Doubts) -> WriteSession<'r> {
        let (jobs, job_rx) = unbounded();
        let written = Arc::new(Mutex::new(Vec::new()));
        let storer = Storer {
            backend: Arc::clone(&self.backend),
            keys: self.keys.clone(),
            freshness: lock.freshness(),
            staged: Vec::new(),
            pending: Vec::new(),
            written: Arc::clone(&written),
            failed: Failure::None,
            arrived: BTreeSet::new(),
            contiguous: 0,
            waiting: Vec::new(),
        };
        let thread = std::thread::Builder::new()
            .name("pack-store".into())
            .spawn(move || storer.run(job_rx))
            .expect("spawning the pack storer thread");
        WriteSession {
            repo: self,
            lock,
            claims: Mutex::new(Claims::default()),
            appended: Condvar::new(),
            written,
            open: Mutex::new(Filling {
                pack: OpenPack::new(),
                closed: 0,
            }),
            storer: Some(jobs),
            thread: Some(thread),
            doubts,
            blobs: AtomicU64::new(0),
            raw_bytes: AtomicU64::new(0),
            stored_bytes: AtomicU64::new(0),
        }
    }
}

impl<'r> WriteSession<'r> {
    pub fn repo(&self) -> &Repository {
        self.repo
    }

    /// The lock the session writes under.
    pub fn lock(&self) -> &'r LockGuard {
        self.lock
    }

    pub fn stats(&self) -> WriteStats {
        WriteStats {
            blobs: self.blobs.load(Ordering::Relaxed),
            raw_bytes: self.raw_bytes.load(Ordering::Relaxed),
            stored_bytes: self.stored_bytes.load(Ordering::Relaxed),
        }
    }

    /// Whether a chunk list of an earlier snapshot can be named again as it is: each of its
    /// chunks this session stored, or the index has a copy of not known to be damaged. Checked
    /// chunk by chunk only where there is a doubt (damage is known, or the chunk lies in a pack
    /// no segment names); otherwise true at once, since a committed snapshot's chunks were
    /// indexed when it was.
    pub fn reusable(&self, chunks: &[ChunkId]) -> Result<bool, RepoError> {
        if !self.doubts.damage_known && self.doubts.unindexed.is_empty() {
            return Ok(true);
        }
        let doubtful = |c: &&ChunkId| self.doubts.damage_known || self.doubts.unindexed.contains(c);
        let mut doubtful = chunks.iter().filter(doubtful).peekable();
        if doubtful.peek().is_none() {
            return Ok(true);
        }
        let index = self.repo.cache.reader()?;
        for id in doubtful {
            let stored = self.claims.lock().expect("claims").all.contains(id)
                || index.lookup_healthy(id)?.is_some();
            if !stored {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Chunks and stores everything `reader` yields. Returns the chunk ids and the byte count.
    pub fn store_reader(
        &self,
        reader: impl Read,
        kind: BlobKind,
    ) -> Result<(Vec<ChunkId>, u64), StoreFileError> {
        store_reader_via(self.repo, self, reader, kind)
    }

    /// Chunks and stores an in-memory buffer.
    pub fn store_bytes(&self, data: &[u8], kind: BlobKind) -> Result<Vec<ChunkId>, RepoError> {
        store_bytes_via(self.repo, self, data, kind)
    }

    /// Stores `entries` (sorted by path) as a snapshot's tree, one entry at a time.
    pub fn store_tree<E: Borrow<Entry>>(
        &self,
        entries: impl Iterator<Item = E>,
    ) -> Result<StoredTree, RepoError> {
        tree::store_tree(entries, |r| self.store_reader(r, BlobKind::Tree))
    }

    /// A view of this session that counts what is stored through it: one device's share
    /// while several are backed up at once.
    pub fn tally(&self) -> Tally<'_, 'r> {
        Tally {
            session: self,
            stored_bytes: AtomicU64::new(0),
        }
    }

    /// Stores a blob even though the index already has it (prune copies the live blobs of a
    /// pack it is about to delete). Its id is the same as before.
    pub fn store_again(
        &self,
        data: &[u8],
        kind: BlobKind,
        content: Content,
    ) -> Result<ChunkId, RepoError> {
        store_chunk(self.repo, &Again(self), kind, data, content)
    }

    /// [`Self::store_again`] for a blob as another pack holds it: its sealed bytes are copied
    /// as they are, since a seal does not depend on its pack (`docs/format.md` §7). The caller
    /// checked that `sealed` opens to `entry.id`.
    pub fn store_sealed(&self, entry: &PackEntry, sealed: &[u8]) -> Result<(), RepoError> {
        let again = Again(self);
        if again.claim(&entry.id, entry.kind)? {
            again.store(PreparedBlob {
                id: entry.id,
                kind: entry.kind,
                compression: entry.compression,
                raw_len: entry.raw_length,
                sealed: sealed.to_vec(),
            })?;
        }
        Ok(())
    }

    /// Returns when every blob stored so far is in a committed pack and a written index
    /// segment, and those segments are merged into the cache. Other threads may go on storing:
    /// a pack that another thread closed earlier, with blobs of this one's, is waited for.
    pub fn flush(&self) -> Result<(), RepoError> {
        self.wait_for_claimed_blobs()?;
        let (partial, upto) = {
            let mut open = self.open.lock().expect("open pack");
            let partial = (!open.pack.is_empty()).then(|| open.close());
            (partial, open.closed)
        };
        if let Some((seq, pack)) = partial {
            self.stage(seq, pack)?;
        }
        let (tx, rx) = bounded(1);
        self.send(Job::Flush(upto, tx))?;
        rx.recv()
            .map_err(|_| RepoError::SessionStopped(SessionStop::StorerExited))?
            // The storer stopped because the lock was lost: that is the error to tell.
            .map_err(|e| self.lock.check().err().unwrap_or(e))?;
        self.merge_written()
    }

    /// Merges every segment written so far into the cache. Under the list's lock, so when
    /// another flush got there first, this one returns only after that merge is done.
    fn merge_written(&self) -> Result<(), RepoError> {
        let written = self.written.lock().expect("written segments");
        self.merge(written)
    }

    /// [`Self::merge_written`] unless another thread is merging: what a thread that staged a
    /// pack does, so that claims do not pile up until the flush.
    fn merge_written_now(&self) -> Result<(), RepoError> {
        match self.written.try_lock() {
            Ok(written) if !written.is_empty() => self.merge(written),
            _ => Ok(()),
        }
    }

    /// Merges `written` into the cache, then forgets the claims of the merged blobs: from then
    /// on the cache answers for them, so a session's memory does not grow with what it stored.
    fn merge(&self, mut written: MutexGuard<'_, Written>) -> Result<(), RepoError> {
        let mut merged = 0;
        let result = written
            .iter()
            .try_for_each(|(id, seg)| self.repo.cache.add_segment(id, seg).map(|()| merged += 1));
        let mut claims = self.claims.lock().expect("claims");
        for (_, segment) in written.drain(..merged) {
            for pack in segment.packs {
                claims.merged_packs.insert(pack.pack);
                for e in &pack.entries {
                    claims.all.remove(&e.id);
                }
            }
        }
        Ok(result?)
    }

    /// Flushes and stops the storer thread.
    pub fn finish(mut self) -> Result<WriteStats, RepoError> {
        self.flush()?;
        self.stop();
        Ok(self.stats())
    }

    fn stop(&mut self) {
        drop(self.storer.take());
        if let Some(h) = self.thread.take() {
            let _ = h.join();
        }
    }

    fn send(&self, job: Job) -> Result<(), RepoError> {
        self.storer
            .as_ref()
            .expect("the storer lives until finish")
            .send(job)
            .map_err(|_| RepoError::SessionStopped(SessionStop::StorerExited))
    }

    /// Waits until every blob claimed so far is in the open pack (or a closed one): another
    /// thread (another device) may have claimed a blob that the caller's snapshot names and
    /// still be sealing it.
    fn wait_for_claimed_blobs(&self) -> Result<(), RepoError> {
        let mut claims = self.claims.lock().expect("claims");
        let claimed: Vec<ChunkId> = claims.in_flight.iter().copied().collect();
        while claimed.iter().any(|id| claims.in_flight.contains(id)) {
            claims = self.appended.wait(claims).expect("claims");
        }
        if claims.abandoned {
            return Err(RepoError::SessionStopped(SessionStop::BlobAbandoned));
        }
        Ok(())
    }

    /// Gives a sealed blob its place in the open pack (under the lock) and writes it there
    /// (outside it); closes and hands over the pack once it reaches the target size.
    fn append(&self, blob: PreparedBlob) -> Result<(), RepoError> {
        let id = blob.id;
        let placed = {
            let mut open = self.open.lock().expect("open pack");
            let placed = open.pack.place(self.repo.backend.as_ref(), &blob);
            // Under the open pack's lock, so a flush that sees the blob arrive finds its
            // place in the open pack or in one closed before, whose write it waits for.
            let mut claims = self.claims.lock().expect("claims");
            if claims.in_flight.remove(&id) {
                claims.abandoned |= placed.is_err();
                self.appended.notify_all();
            }
            drop(claims);
            let full = open.pack.len >= self.repo.config.pack_target as usize;
            placed.map(|(file, offset)| (file, offset, full.then(|| open.close())))
        };
        let (file, offset, full) = placed?;
        let written = file.write(offset, &blob.sealed);
        drop(blob);
        if let Some((seq, pack)) = full {
            self.stage(seq, pack)?;
        }
        written
    }

    /// Closes and stages pack number `seq`, and hands it to the storer to commit; tells the
    /// storer when it could not (an error, or a panic while staging), so that no flush waits
    /// for it.
    fn stage(&self, seq: u64, pack: OpenPack) -> Result<(), RepoError> {
        let mut unsent = Unsent {
            session: self,
            seq,
            why: None,
        };
        // On failure the error goes to this thread's caller; the storer fails every later
        // flush with `EarlierFailure`.
        unsent.why = Some(RepoError::SessionStopped(SessionStop::EarlierFailure));
        let (record, staged) = self.try_stage(pack)?;
        std::mem::forget(unsent);
        self.send(Job::Staged(seq, record, staged))?;
        self.merge_written_now()
    }

    fn try_stage(&self, pack: OpenPack) -> Result<(PackRecord, Box<dyn Staged>), RepoError> {
        // On S3 a pack is put when it is named.
        self.lock.check()?;
        pack.stage(&self.repo.keys, self.repo.backend.as_ref())
    }
}

impl Drop for WriteSession<'_> {
    fn drop(&mut self) {
        self.stop();
    }
}

fn store_reader_via<S: BlobSink>(
    repo: &Repository,
    sink: &S,
    reader: impl Read,
    kind: BlobKind,
) -> Result<(Vec<ChunkId>, u64), StoreFileError> {
    let mut ids = Vec::new();
    let size = repo
        .chunker()
        .cut_reader(reader, |cut, chunk| {
            ids.push(store_chunk(repo, sink, kind, chunk, cut.content())?);
            Ok(())
        })
        .map_err(|e| match e {
            ReadError::Io(e) => StoreFileError::Read(e),
            ReadError::Chunk(e) => StoreFileError::Repo(e),
        })?;
    Ok((ids, size))
}

fn store_bytes_via<S: BlobSink>(
    repo: &Repository,
    sink: &S,
    data: &[u8],
    kind: BlobKind,
) -> Result<Vec<ChunkId>, RepoError> {
    let mut ids = Vec::new();
    repo.chunker().cut_slice(data, |cut, chunk| {
        ids.push(store_chunk(repo, sink, kind, chunk, cut.content())?);
        Ok::<_, RepoError>(())
    })?;
    Ok(ids)
}

/// Where a session's chunks go: which ones it must store (its claim rule), and how.
trait BlobSink: Sync {
    /// True when the caller must store `id`; a claimed blob must then be stored or abandoned.
    fn claim(&self, id: &ChunkId, kind: BlobKind) -> Result<bool, RepoError>;
    fn store(&self, blob: PreparedBlob) -> Result<(), RepoError>;
    /// A blob this caller claimed will not be stored after all (its thread is unwinding).
    fn abandon(&self, id: &ChunkId);
}

/// Abandons a claim unless forgotten.
struct Claimed<'a, S: BlobSink> {
    sink: &'a S,
    id: ChunkId,
}

impl<S: BlobSink> Drop for Claimed<'_, S> {
    fn drop(&mut self) {
        self.sink.abandon(&self.id);
    }
}

/// Ids, claims, and if claimed compresses, seals and stores one chunk. Returns its id.
fn store_chunk<S: BlobSink>(
    repo: &Repository,
    sink: &S,
    kind: BlobKind,
    data: &[u8],
    content: Content,
) -> Result<ChunkId, RepoError> {
    let id = repo.keys.chunk_id(data);
    if sink.claim(&id, kind)? {
        let claimed = Claimed { sink, id };
        let blob = prepare_as(&repo.keys, repo.config.zstd_level, kind, id, data, content);
        let stored = sink.store(blob);
        std::mem::forget(claimed);
        stored?;
    }
    Ok(id)
}

/// Stores through a [`WriteSession`] and counts the sealed bytes of the blobs it added.
pub struct Tally<'s, 'r> {
    session: &'s WriteSession<'r>,
    stored_bytes: AtomicU64,
}

impl Tally<'_, '_> {
    /// [`WriteSession::store_reader`], counted.
    pub fn store_reader(
        &self,
        reader: impl Read,
        kind: BlobKind,
    ) -> Result<(Vec<ChunkId>, u64), StoreFileError> {
        store_reader_via(self.session.repo, self, reader, kind)
    }

    /// [`WriteSession::store_bytes`], counted.
    pub fn store_bytes(&self, data: &[u8], kind: BlobKind) -> Result<Vec<ChunkId>, RepoError> {
        store_bytes_via(self.session.repo, self, data, kind)
    }

    /// [`WriteSession::store_tree`], counted.
    pub fn store_tree<E: Borrow<Entry>>(
        &self,
        entries: impl Iterator<Item = E>,
    ) -> Result<StoredTree, RepoError> {
        tree::store_tree(entries, |r| self.store_reader(r, BlobKind::Tree))
    }

    /// Sealed bytes of the new blobs stored through this tally.
    pub fn stored_bytes(&self) -> u64 {
        self.stored_bytes.load(Ordering::Relaxed)
    }

    /// [`WriteSession::reusable`].
    pub fn reusable(&self, chunks: &[ChunkId]) -> Result<bool, RepoError> {
        self.session.reusable(chunks)
    }
}

impl BlobSink for Tally<'_, '_> {
    fn claim(&self, id: &ChunkId, kind: BlobKind) -> Result<bool, RepoError> {
        self.session.claim(id, kind)
    }

    fn store(&self, blob: PreparedBlob) -> Result<(), RepoError> {
        self.stored_bytes
            .fetch_add(blob.sealed.len() as u64, Ordering::Relaxed);
        self.session.store(blob)
    }

    fn abandon(&self, id: &ChunkId) {
        self.session.abandon(id);
    }
}

/// A sink that stores whatever this session has not stored yet, indexed or not.
struct Again<'s, 'r>(&'s WriteSession<'r>);

impl BlobSink for Again<'_, '_> {
    fn claim(&self, id: &ChunkId, _kind: BlobKind) -> Result<bool, RepoError> {
        // Before a claim, never after: a claimed blob must arrive (or be abandoned).
        self.0.lock.check()?;
        let mut claims = self.0.claims.lock().expect("claims");
        if claims.all.contains(id) || self.0.in_merged_pack(&claims, id)? {
            return Ok(false);
        }
        claims.all.insert(*id);
        claims.in_flight.insert(*id);
        Ok(true)
    }

    fn abandon(&self, id: &ChunkId) {
        self.0.abandon(id);
    }

    fn store(&self, blob: PreparedBlob) -> Result<(), RepoError> {
        self.0.store(blob)
    }
}

impl BlobSink for WriteSession<'_> {
    fn claim(&self, id: &ChunkId, _kind: BlobKind) -> Result<bool, RepoError> {
        // Before a claim, never after: a claimed blob must arrive (or be abandoned).
        self.lock.check()?;
        if self.claims.lock().expect("claims").all.contains(id) {
            return Ok(false);
        }
        // A copy known to be damaged does not count: storing the blob again heals it.
        if self.repo.cache.lookup_healthy(id)?.is_some() {
            return Ok(false);
        }
        let mut claims = self.claims.lock().expect("claims");
        let new = claims.all.insert(*id);
        if new {
            claims.in_flight.insert(*id);
        }
        Ok(new)
    }

    fn store(&self, blob: PreparedBlob) -> Result<(), RepoError> {
        self.blobs.fetch_add(1, Ordering::Relaxed);
        self.raw_bytes
            .fetch_add(u64::from(blob.raw_len), Ordering::Relaxed);
        self.stored_bytes
            .fetch_add(blob.sealed.len() as u64, Ordering::Relaxed);
        self.append(blob)
    }

    /// A claimed blob will not be stored (its thread is unwinding): flushes stop waiting for
    /// it and fail, since another thread's snapshot may name it.
    fn abandon(&self, id: &ChunkId) {
        let mut claims = self.claims.lock().unwrap_or_else(|e| e.into_inner());
        if claims.in_flight.remove(id) {
            claims.abandoned = true;
            self.appended.notify_all();
        }
    }
}

impl WriteSession<'_> {
    /// Whether this session stored `id` in a pack whose segment it has merged (and whose claim
    /// it forgot). Asked under the claims' lock, so no merge is half seen.
    fn in_merged_pack(&self, claims: &Claims, id: &ChunkId) -> Result<bool, RepoError> {
        if claims.merged_packs.is_empty() {
            return Ok(false);
        }
        let copies = self.repo.cache.locations(id)?;
        Ok(copies.iter().any(|c| claims.merged_packs.contains(&c.pack)))
    }
}

/// What may make an earlier snapshot's chunk list unsafe to name again (see
/// [`WriteSession::reusable`]).
struct Doubts {
    /// This computer knows of lost packs or damaged copies.
    damage_known: bool,
    /// The blobs of packs no index segment names (their segment may be lost).
    unindexed: HashSet<ChunkId>,
}

/// Blob ids this session stores and the cache does not know yet; those being sealed are also
/// in flight. Invariant: every blob the session stored is in `all` or in a pack of
/// `merged_packs`, which the cache lists.
#[derive(Default)]
struct Claims {
    all: HashSet<ChunkId>,
    in_flight: HashSet<ChunkId>,
    /// Packs of this session whose segments are merged into the cache.
    merged_packs: HashSet<PackId>,
    /// A claimed blob will never arrive (its thread panicked): no flush may succeed.
    abandoned: bool,
}

/// Sends `Failed(seq)` unless forgotten: pack `seq` was closed and will not be staged (for
/// `why`; without one, its thread is unwinding).
struct Unsent<'s, 'r> {
    session: &'s WriteSession<'r>,
    seq: u64,
    why: Option<RepoError>,
}

impl Drop for Unsent<'_, '_> {
    fn drop(&mut self) {
        let why = self
            .why
            .take()
            .unwrap_or(RepoError::SessionStopped(SessionStop::PackAbandoned));
        let _ = self.session.send(Job::Failed(self.seq, why));
    }
}

/// The open pack and how many packs were closed before it (each closed pack is numbered).
struct Filling {
    pack: OpenPack,
    closed: u64,
}

impl Filling {
    /// Takes the open pack out, with its number.
    fn close(&mut self) -> (u64, OpenPack) {
        let seq = self.closed;
        self.closed += 1;
        (seq, std::mem::replace(&mut self.pack, OpenPack::new()))
    }
}

/// The pack being filled: where its blobs go, and their entries. Invariant: `len` is the
/// length of the file header and every placed blob.
struct OpenPack {
    /// Made when the first blob is placed.
    file: Option<Arc<PackFile>>,
    entries: Vec<PackEntry>,
    len: usize,
}

/// A pack's staging file and the blob writes still going into it.
struct PackFile {
    staging: Box<dyn Staging>,
    writes: Mutex<Writes>,
    done: Condvar,
}

#[derive(Default)]
struct Writes {
    in_progress: usize,
    /// The first write that failed; taken by the one thread that stages the pack.
    failed: Option<RepoError>,
}

impl OpenPack {
    fn new() -> Self {
        OpenPack {
            file: None,
            entries: Vec::new(),
            len: HEADER_LEN,
        }
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Gives `blob` the next place in the pack and counts its write as in progress.
    fn place(
        &mut self,
        backend: &dyn Backend,
        blob: &PreparedBlob,
    ) -> Result<(Arc<PackFile>, u64), RepoError> {
        let file = match &self.file {
            Some(f) => Arc::clone(f),
            None => {
                let staging = backend.create_staging(FileType::Pack)?;
                staging.write_at(0, &pack_start())?;
                let f = Arc::new(PackFile {
                    staging,
                    writes: Mutex::new(Writes::default()),
                    done: Condvar::new(),
                });
                self.file = Some(Arc::clone(&f));
                f
            }
        };
        let offset = self.len as u64;
        self.entries.push(PackEntry {
            id: blob.id,
            kind: blob.kind,
            compression: blob.compression,
            offset: self.len as u32,
            length: blob.sealed.len() as u32,
            raw_length: blob.raw_len,
        });
        self.len += blob.sealed.len();
        file.writes.lock().expect("pack writes").in_progress += 1;
        Ok((file, offset))
    }
}

impl OpenPack {
    /// Waits for the pack's blobs to be written, then writes its trailer and names the pack
    /// after it ([`seal_trailer`]).
    fn stage(
        self,
        keys: &Keys,
        backend: &dyn Backend,
    ) -> Result<(PackRecord, Box<dyn Staged>), RepoError> {
        let file = self.file.expect("a closed pack holds at least one blob");
        file.wait_for_writes()?;
        let (trailer, pack) = seal_trailer(keys, &self.entries);
        file.staging.write_at(self.len as u64, &trailer)?;
        let record = PackRecord {
            pack,
            length: (self.len + trailer.len()) as u32,
            entries: self.entries,
        };
        let staged = file.staging.finish(backend, &record.pack.to_hex())?;
        Ok((record, staged))
    }
}

impl PackFile {
    /// Writes a placed blob and ends its write, failed or not (also when unwinding).
    fn write(&self, offset: u64, bytes: &[u8]) -> Result<(), RepoError> {
        struct End<'a>(&'a PackFile, Option<RepoError>);
        impl Drop for End<'_> {
            fn drop(&mut self) {
                let mut w = self.0.writes.lock().unwrap_or_else(|e| e.into_inner());
                w.in_progress -= 1;
                if let Some(e) = self.1.take().or_else(|| {
                    std::thread::panicking()
                        .then_some(RepoError::SessionStopped(SessionStop::PackAbandoned))
                }) {
                    w.failed.get_or_insert(e);
                }
                self.0.done.notify_all();
            }
        }
        let mut end = End(self, None);
        let written = self.staging.write_at(offset, bytes);
        if written.is_err() {
            // The error goes to this writer's caller; the pack's stager learns that it happened.
            end.1 = Some(RepoError::SessionStopped(SessionStop::EarlierFailure));
        }
        Ok(written?)
    }

    /// Returns once no blob write is in progress; fails if one failed.
    fn wait_for_writes(&self) -> Result<(), RepoError> {
        let mut w = self.writes.lock().expect("pack writes");
        while w.in_progress > 0 {
            w = self.done.wait(w).expect("pack writes");
        }
        match w.failed.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Segments the storer wrote, in order, and no merge has taken yet.
type Written = Vec<(IndexId, IndexSegment)>;

type FlushReply = Sender<Result<(), RepoError>>;

/// What the storer is told. Packs are numbered in the order they were closed, and may arrive
/// out of order.
enum Job {
    Staged(u64, PackRecord, Box<dyn Staged>),
    /// Pack `n` could not be staged.
    Failed(u64, RepoError),
    /// Reply once every pack numbered below this has arrived and been committed.
    Flush(u64, FlushReply),
}

/// After every [`SEGMENT_PACKS`] staged packs (and at each flush) commits them and puts an
/// index segment listing them.
struct Storer {
    backend: Arc<dyn Backend>,
    keys: Keys,
    /// The session's lock, asked before each write.
    freshness: Arc<Freshness>,
    staged: Vec<Box<dyn Staged>>,
    /// Packs staged but not yet committed and listed in a segment.
    pending: Vec<PackRecord>,
    /// Segments written and not yet merged into the cache (shared with the session).
    written: Arc<Mutex<Written>>,
    failed: Failure,
    /// Numbers of packs arrived beyond `contiguous`.
    arrived: BTreeSet<u64>,
    /// Every pack numbered below this has arrived.
    contiguous: u64,
    /// Flushes waiting for packs still being staged.
    waiting: Vec<(u64, FlushReply)>,
}

/// Whether the storer failed. The error that stopped it is the first flush's answer, and
/// [`SessionStop::EarlierFailure`] every later one's.
#[derive(Debug, Default)]
enum Failure {
    #[default]
    None,
    Unreported(RepoError),
    Reported,
}

impl Failure {
    fn is_none(&self) -> bool {
        matches!(self, Failure::None)
    }

    /// Records `e` unless the storer failed already.
    fn fail(&mut self, e: RepoError) {
        if self.is_none() {
            *self = Failure::Unreported(e);
        }
    }

    fn answer(&mut self) -> Result<(), RepoError> {
        match std::mem::replace(self, Failure::Reported) {
            Failure::None => {
                *self = Failure::None;
                Ok(())
            }
            Failure::Unreported(e) => Err(e),
            Failure::Reported => Err(RepoError::SessionStopped(SessionStop::EarlierFailure)),
        }
    }
}

impl Storer {
    fn run(mut self, rx: Receiver<Job>) {
        for job in rx {
            match job {
                Job::Staged(seq, record, staged) => {
                    if self.failed.is_none() {
                        self.staged.push(staged);
                        self.pending.push(record);
                        if self.pending.len() >= SEGMENT_PACKS {
                            self.write_segment();
                        }
                    }
                    self.arrive(seq);
                }
                Job::Failed(seq, e) => {
                    self.failed.fail(e);
                    self.arrive(seq);
                }
                Job::Flush(upto, reply) => self.waiting.push((upto, reply)),
            }
            self.answer_flushes();
        }
    }

    fn arrive(&mut self, seq: u64) {
        self.arrived.insert(seq);
        while self.arrived.remove(&self.contiguous) {
            self.contiguous += 1;
        }
    }

    /// Commits and answers every flush whose packs have all arrived.
    fn answer_flushes(&mut self) {
        let contiguous = self.contiguous;
        let (ready, waiting) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|(upto, _)| *upto <= contiguous);
        self.waiting = waiting;
        for (_, reply) in ready {
            self.write_segment();
            let _ = reply.send(self.failed.answer());
        }
    }

    /// Commits the staged packs, then lists them in a new index segment. After a failure
    /// nothing more is written: the session is over, and its error is every flush's answer.
    fn write_segment(&mut self) {
        if self.failed.is_none()
            && let Err(e) = self.try_write_segment()
        {
            self.failed.fail(e);
        }
    }

    fn try_write_segment(&mut self) -> Result<(), RepoError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.freshness.check()?;
        self.backend.commit(std::mem::take(&mut self.staged))?;
        let segment = IndexSegment {
            packs: std::mem::take(&mut self.pending),
        };
        let id = IndexId(put_sealed(
            self.backend.as_ref(),
            &self.keys,
            Some(&self.freshness),
            ObjectKind::Index,
            &segment.encode(),
        )?);
        self.written
            .lock()
            .expect("written segments")
            .push((id, segment));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_storage::LocalBackend;
    use std::time::Duration;

    fn storer(
        dir: &std::path::Path,
        keys: &Keys,
        freshness: &Arc<Freshness>,
    ) -> (Arc<dyn Backend>, Sender<Job>, Arc<Mutex<Written>>) {
        let backend: Arc<dyn Backend> = Arc::new(LocalBackend::create(dir).unwrap());
        storer_on(backend, keys, freshness)
    }

    fn storer_on(
        backend: Arc<dyn Backend>,
        keys: &Keys,
        freshness: &Arc<Freshness>,
    ) -> (Arc<dyn Backend>, Sender<Job>, Arc<Mutex<Written>>) {
        let storer = Storer {
            backend: Arc::clone(&backend),
            keys: keys.clone(),
            freshness: Arc::clone(freshness),
            staged: Vec::new(),
            pending: Vec::new(),
            written: Arc::default(),
            failed: Failure::None,
            arrived: BTreeSet::new(),
            contiguous: 0,
            waiting: Vec::new(),
        };
        let written = Arc::clone(&storer.written);
        let (tx, rx) = unbounded();
        std::thread::spawn(move || storer.run(rx));
        (backend, tx, written)
    }

    fn staged(backend: &dyn Backend, keys: &Keys, seq: u64) -> Job {
        let data = vec![seq as u8; 100];
        let blob = crate::seal::prepare(keys, 3, BlobKind::Data, keys.chunk_id(&data), &data);
        let mut pack = OpenPack::new();
        let (file, offset) = pack.place(backend, &blob).unwrap();
        file.write(offset, &blob.sealed).unwrap();
        let (record, staged) = pack.stage(keys, backend).unwrap();
        Job::Staged(seq, record, staged)
    }

    type Answer = Result<(), RepoError>;

    fn flush(tx: &Sender<Job>, upto: u64) -> Receiver<Answer> {
        let (reply, answer) = bounded(1);
        tx.send(Job::Flush(upto, reply)).unwrap();
        answer
    }

    #[test]
    fn a_flush_waits_for_a_pack_closed_earlier_that_arrives_late() {
        let dir = tempfile::tempdir().unwrap();
        let keys = hearth_crypto::MasterKey::generate().keys();
        let (backend, tx, written) = storer(dir.path(), &keys, &Arc::new(Freshness::fresh()));
        tx.send(staged(backend.as_ref(), &keys, 1)).unwrap();
        let answer = flush(&tx, 2);
        // Pack 0 is still being staged by another thread: no answer, nothing committed.
        assert!(answer.recv_timeout(Duration::from_millis(200)).is_err());
        assert!(backend.list(FileType::Index).unwrap().is_empty());
        assert!(backend.list(FileType::Pack).unwrap().is_empty());
        tx.send(staged(backend.as_ref(), &keys, 0)).unwrap();
        answer
            .recv_timeout(Duration::from_secs(10))
            .unwrap()
            .unwrap();
        let segments = written.lock().unwrap();
        assert_eq!(
            segments.len(),
            1,
            "one segment, for the flush's caller to merge"
        );
        assert_eq!(segments[0].1.packs.len(), 2);
        assert_eq!(backend.list(FileType::Pack).unwrap().len(), 2);
        assert_eq!(backend.list(FileType::Index).unwrap().len(), 1);
    }

    #[test]
    fn a_pack_that_failed_to_stage_fails_every_later_flush_and_nothing_more_is_listed() {
        let dir = tempfile::tempdir().unwrap();
        let keys = hearth_crypto::MasterKey::generate().keys();
        let (backend, tx, written) = storer(dir.path(), &keys, &Arc::new(Freshness::fresh()));
        let disk_full = hearth_storage::StorageError::Io {
            op: "write",
            path: "packs/.tmp-1".into(),
            source: std::io::Error::from_raw_os_error(libc::ENOSPC),
        };
        tx.send(Job::Failed(0, disk_full.into())).unwrap();
        tx.send(staged(backend.as_ref(), &keys, 1)).unwrap();
        let first = flush(&tx, 2).recv_timeout(Duration::from_secs(10)).unwrap();
        let first = first.unwrap_err();
        assert!(
            matches!(&first, RepoError::Storage(hearth_storage::StorageError::Io { source, .. })
                if source.raw_os_error() == Some(libc::ENOSPC)),
            "the storage error itself: {first}"
        );
        let again = flush(&tx, 2).recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(
            matches!(
                again,
                Err(RepoError::SessionStopped(SessionStop::EarlierFailure))
            ),
            "{again:?}"
        );
        assert!(written.lock().unwrap().is_empty());
        assert!(backend.list(FileType::Index).unwrap().is_empty());
        assert!(backend.list(FileType::Pack).unwrap().is_empty());
    }

    #[test]
    fn a_storer_whose_lock_is_lost_commits_and_lists_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let keys = hearth_crypto::MasterKey::generate().keys();
        let freshness = Arc::new(Freshness::fresh());
        let (backend, tx, written) = storer(dir.path(), &keys, &freshness);
        tx.send(staged(backend.as_ref(), &keys, 0)).unwrap();
        freshness.slept(Duration::from_secs(21 * 60));
        let answer = flush(&tx, 1).recv_timeout(Duration::from_secs(10)).unwrap();
        let e = answer.unwrap_err().to_string();
        assert!(
            e.contains("lock could not be refreshed for 21 minutes"),
            "{e}"
        );
        assert!(written.lock().unwrap().is_empty());
        assert!(backend.list(FileType::Pack).unwrap().is_empty());
        assert!(backend.list(FileType::Index).unwrap().is_empty());
    }

    /// A local store in whose index puts the computer falls asleep for 25 minutes.
    struct SleepsInIndexPut {
        inner: LocalBackend,
        freshness: Arc<Freshness>,
    }

    impl Backend for SleepsInIndexPut {
        fn location(&self) -> String {
            self.inner.location()
        }
        fn put_if_absent(
            &self,
            t: FileType,
            name: &str,
            bytes: &[u8],
        ) -> Result<hearth_storage::PutOutcome, hearth_storage::StorageError> {
            let put = self.inner.put_if_absent(t, name, bytes);
            if t == FileType::Index {
                self.freshness.slept(Duration::from_secs(25 * 60));
            }
            put
        }
        fn get(&self, t: FileType, name: &str) -> Result<Vec<u8>, hearth_storage::StorageError> {
            self.inner.get(t, name)
        }
        fn read_range_into(
            &self,
            t: FileType,
            name: &str,
            offset: u64,
            len: u64,
            buf: &mut Vec<u8>,
        ) -> Result<(), hearth_storage::StorageError> {
            self.inner.read_range_into(t, name, offset, len, buf)
        }
        fn list(
            &self,
            t: FileType,
        ) -> Result<Vec<hearth_storage::ObjectInfo>, hearth_storage::StorageError> {
            self.inner.list(t)
        }
        fn delete(&self, t: FileType, name: &str) -> Result<(), hearth_storage::StorageError> {
            self.inner.delete(t, name)
        }
        fn create_staging(
            &self,
            t: FileType,
        ) -> Result<Box<dyn Staging>, hearth_storage::StorageError> {
            self.inner.create_staging(t)
        }
    }

    #[test]
    fn a_segment_whose_put_returned_after_the_lock_went_stale_is_deleted_again() {
        let dir = tempfile::tempdir().unwrap();
        let keys = hearth_crypto::MasterKey::generate().keys();
        let freshness = Arc::new(Freshness::fresh());
        let backend: Arc<dyn Backend> = Arc::new(SleepsInIndexPut {
            inner: LocalBackend::create(dir.path()).unwrap(),
            freshness: Arc::clone(&freshness),
        });
        let (backend, tx, written) = storer_on(backend, &keys, &freshness);
        tx.send(staged(backend.as_ref(), &keys, 0)).unwrap();
        let answer = flush(&tx, 1).recv_timeout(Duration::from_secs(10)).unwrap();
        let e = answer.unwrap_err().to_string();
        assert!(
            e.contains("lock could not be refreshed for 25 minutes"),
            "{e}"
        );
        assert!(
            backend.list(FileType::Index).unwrap().is_empty(),
            "the segment is deleted again"
        );
        assert!(written.lock().unwrap().is_empty(), "and not merged");
        // Its pack stays, named by no segment: what a killed backup leaves, which prune judges.
        assert_eq!(backend.list(FileType::Pack).unwrap().len(), 1);
    }

    /// A new repository under `dir`, with a cheap KDF.
    fn repository(dir: &std::path::Path) -> Repository {
        let backend: Arc<dyn Backend> = Arc::new(LocalBackend::create(&dir.join("r")).unwrap());
        let options = crate::RepoOptions {
            kdf: hearth_crypto::KdfParams {
                memory_kib: 64,
                time: 1,
                parallelism: 1,
            },
            cache_root: Some(dir.join("cache")),
            lock_times: Default::default(),
        };
        Repository::init(backend, b"pw", &options).unwrap()
    }

    fn shared(repo: &Repository) -> LockGuard {
        repo.lock_shared(Duration::ZERO, &|_| {}).unwrap()
    }

    /// Devices are backed up at the same time through one session: a flush must not return while
    /// a blob that another thread claimed (and that the flushing thread's snapshot may name, since
    /// its own claim of the same id said "already stored") is still being sealed.
    #[test]
    fn a_flush_waits_for_a_blob_another_thread_is_sealing() {
        use std::sync::mpsc;

        let dir = tempfile::tempdir().unwrap();
        let repo = repository(dir.path());
        let lock = shared(&repo);
        let session = repo.write_session(&lock).unwrap();
        let chunk = b"a chunk that another thread is sealing".repeat(300);
        let id = repo.keys().chunk_id(&chunk);
        assert!(session.claim(&id, BlobKind::Data).unwrap(), "first claim");
        assert!(
            !session.claim(&id, BlobKind::Data).unwrap(),
            "the other device's claim"
        );
        std::thread::scope(|s| {
            let (done, flushed) = mpsc::channel();
            let session = &session;
            s.spawn(move || {
                session.flush().unwrap();
                done.send(()).unwrap();
            });
            assert!(
                flushed.recv_timeout(Duration::from_millis(300)).is_err(),
                "the flush returned while the claimed blob was in no pack"
            );
            session
                .store(crate::seal::prepare(
                    repo.keys(),
                    3,
                    BlobKind::Data,
                    id,
                    &chunk,
                ))
                .unwrap();
            flushed.recv_timeout(Duration::from_secs(10)).unwrap();
        });
        assert!(repo.cache().lookup(&id).unwrap().is_some());
        session.finish().unwrap();
    }

    /// A thread that panics after claiming a blob abandons the claim: a flush waiting for that
    /// blob fails instead of waiting for ever, and so does every later flush (another thread's
    /// snapshot may name the blob).
    #[test]
    fn a_flush_fails_when_a_claimed_blob_is_abandoned() {
        use std::sync::mpsc;

        let dir = tempfile::tempdir().unwrap();
        let repo = repository(dir.path());
        let lock = shared(&repo);
        let session = repo.write_session(&lock).unwrap();
        let id = repo.keys().chunk_id(b"never sealed");
        assert!(session.claim(&id, BlobKind::Data).unwrap());
        std::thread::scope(|s| {
            let (done, flushed) = mpsc::channel();
            let session = &session;
            s.spawn(move || done.send(session.flush()).unwrap());
            assert!(flushed.recv_timeout(Duration::from_millis(200)).is_err());
            session.abandon(&id);
            let result = flushed.recv_timeout(Duration::from_secs(10)).unwrap();
            assert!(
                matches!(
                    result,
                    Err(RepoError::SessionStopped(SessionStop::BlobAbandoned))
                ),
                "{result:?}"
            );
        });
        assert!(session.flush().is_err(), "later flushes fail too");
    }
}
