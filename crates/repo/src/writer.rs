//! The write path. A [`WriteSession`] takes chunks from many threads; the thread that stores a
//! new blob appends it to the one open pack (under a short lock) and, when the pack is full,
//! closes and stages it (on a local disk: writes it to a temporary file) and tells the storer
//! thread, which commits staged packs in batches with an index segment. So a worker never
//! waits for a disk flush, and at most two packs are in memory: the open one and the one
//! being staged.
//!
//! Commit order (`docs/format.md` §11): a segment is put only after the packs it lists are
//! committed (durable, under their names); [`WriteSession::flush`] returns only when every blob
//! stored so far is in a committed pack and a written segment. Only then may a snapshot name
//! those blobs.

use crate::error::RepoError;
use crate::repository::Repository;
use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use hearth_chunker::{BlobSink, Content, PreparedBlob, ReadError, store_chunk};
use hearth_crypto::Keys;
use hearth_format::header::HEADER_LEN;
use hearth_format::{
    BlobKind, ChunkId, FileHeader, IndexId, IndexSegment, ObjectKind, PackEntry, PackId, PackRecord,
};
use hearth_storage::{Backend, FileType, Staged};
use std::collections::HashSet;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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

#[derive(Debug)]
pub enum StoreFileError {
    /// Reading the source failed.
    Read(io::Error),
    Repo(RepoError),
}

pub struct WriteSession<'r> {
    repo: &'r Repository,
    claimed: Mutex<HashSet<ChunkId>>,
    open: Mutex<OpenPack>,
    storer: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    blobs: AtomicU64,
    raw_bytes: AtomicU64,
    stored_bytes: AtomicU64,
}

impl Repository {
    /// Starts writing. The caller should hold a lock (see [`Repository::lock`]).
    pub fn write_session(&self) -> WriteSession<'_> {
        let (jobs, job_rx) = unbounded();
        let storer = Storer {
            backend: Arc::clone(&self.backend),
            keys: self.keys.clone(),
            staged: Vec::new(),
            pending: Vec::new(),
            written: Vec::new(),
            failed: None,
        };
        let thread = std::thread::Builder::new()
            .name("pack-store".into())
            .spawn(move || storer.run(job_rx))
            .expect("spawning the pack storer thread");
        WriteSession {
            repo: self,
            claimed: Mutex::new(HashSet::new()),
            open: Mutex::new(OpenPack::new()),
            storer: Some(jobs),
            thread: Some(thread),
            blobs: AtomicU64::new(0),
            raw_bytes: AtomicU64::new(0),
            stored_bytes: AtomicU64::new(0),
        }
    }
}

impl WriteSession<'_> {
    pub fn repo(&self) -> &Repository {
        self.repo
    }

    pub fn stats(&self) -> WriteStats {
        WriteStats {
            blobs: self.blobs.load(Ordering::Relaxed),
            raw_bytes: self.raw_bytes.load(Ordering::Relaxed),
            stored_bytes: self.stored_bytes.load(Ordering::Relaxed),
        }
    }

    /// Chunks and stores everything `reader` yields. Returns the chunk ids and the byte count.
    pub fn store_reader(
        &self,
        reader: impl Read,
        kind: BlobKind,
    ) -> Result<(Vec<ChunkId>, u64), StoreFileError> {
        let mut ids = Vec::new();
        let level = self.repo.config.zstd_level;
        let size = self
            .repo
            .chunker()
            .cut_reader(reader, |cut, chunk| {
                let content = cut.content();
                ids.push(store_chunk(
                    &self.repo.keys,
                    level,
                    self,
                    kind,
                    chunk,
                    content,
                )?);
                Ok(())
            })
            .map_err(|e| match e {
                ReadError::Io(e) => StoreFileError::Read(e),
                ReadError::Sink(e) => StoreFileError::Repo(e),
            })?;
        Ok((ids, size))
    }

    /// Chunks and stores an in-memory buffer.
    pub fn store_bytes(&self, data: &[u8], kind: BlobKind) -> Result<Vec<ChunkId>, RepoError> {
        let mut ids = Vec::new();
        let level = self.repo.config.zstd_level;
        self.repo.chunker().cut_slice(data, |cut, chunk| {
            let content = cut.content();
            ids.push(store_chunk(
                &self.repo.keys,
                level,
                self,
                kind,
                chunk,
                content,
            )?);
            Ok::<_, RepoError>(())
        })?;
        Ok(ids)
    }

    /// Stores a blob even though the index already has it (prune copies the live blobs of a
    /// pack it is about to delete). Its id is the same as before.
    pub fn store_again(
        &self,
        data: &[u8],
        kind: BlobKind,
        content: Content,
    ) -> Result<ChunkId, RepoError> {
        let level = self.repo.config.zstd_level;
        let again = &Again(self);
        store_chunk(&self.repo.keys, level, again, kind, data, content)
    }

    /// Returns when every blob stored so far is in a committed pack and a written index
    /// segment, and those segments are merged into the cache.
    pub fn flush(&self) -> Result<(), RepoError> {
        let partial =
            std::mem::replace(&mut *self.open.lock().expect("open pack"), OpenPack::new());
        if !partial.is_empty() {
            self.stage(partial)?;
        }
        let (tx, rx) = bounded(1);
        self.send(Job::Flush(tx))?;
        let segments = rx
            .recv()
            .map_err(|_| RepoError::Writer("the pack storer exited".into()))?
            .map_err(RepoError::Writer)?;
        for (id, seg) in segments {
            self.repo.cache.add_segment(&id, &seg)?;
        }
        Ok(())
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
            .map_err(|_| {
                RepoError::Writer("the pack storer exited; see the error reported at flush".into())
            })
    }

    /// Appends a sealed blob to the open pack; closes and hands over the pack once it reaches
    /// the target size.
    fn append(&self, blob: PreparedBlob) -> Result<(), RepoError> {
        let full = {
            let mut open = self.open.lock().expect("open pack");
            open.add(blob);
            (open.len >= self.repo.config.pack_target as usize)
                .then(|| std::mem::replace(&mut *open, OpenPack::new()))
        };
        match full {
            Some(pack) => self.stage(pack),
            None => Ok(()),
        }
    }

    /// Closes and stages a pack, and hands it to the storer to commit.
    fn stage(&self, pack: OpenPack) -> Result<(), RepoError> {
        let pack = pack.close(&self.repo.keys);
        let header = FileHeader::encode(ObjectKind::Pack);
        let mut parts: Vec<&[u8]> = Vec::with_capacity(pack.blobs.len() + 2);
        parts.push(&header);
        parts.extend(pack.blobs.iter().map(Vec::as_slice));
        parts.push(&pack.trailer);
        let name = pack.record.pack.to_hex();
        let staged = self.repo.backend.stage(FileType::Pack, &name, &parts)?;
        self.send(Job::Staged(pack.record, staged))
    }
}

impl Drop for WriteSession<'_> {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A sink that stores whatever this session has not stored yet, indexed or not.
struct Again<'s, 'r>(&'s WriteSession<'r>);

impl BlobSink for Again<'_, '_> {
    type Error = RepoError;

    fn claim(&self, id: &ChunkId, _kind: BlobKind) -> Result<bool, RepoError> {
        Ok(self.0.claimed.lock().expect("claim set").insert(*id))
    }

    fn store(&self, blob: PreparedBlob) -> Result<(), RepoError> {
        self.0.store(blob)
    }
}

impl BlobSink for WriteSession<'_> {
    type Error = RepoError;

    fn claim(&self, id: &ChunkId, _kind: BlobKind) -> Result<bool, RepoError> {
        if self.claimed.lock().expect("claim set").contains(id) {
            return Ok(false);
        }
        if self.repo.cache.lookup(id)?.is_some() {
            return Ok(false);
        }
        Ok(self.claimed.lock().expect("claim set").insert(*id))
    }

    fn store(&self, blob: PreparedBlob) -> Result<(), RepoError> {
        self.blobs.fetch_add(1, Ordering::Relaxed);
        self.raw_bytes
            .fetch_add(u64::from(blob.raw_len), Ordering::Relaxed);
        self.stored_bytes
            .fetch_add(blob.sealed.len() as u64, Ordering::Relaxed);
        self.append(blob)
    }
}

/// The pack being filled: its sealed blobs in order (never copied into one buffer) and their
/// entries. Invariant: `len` is the length of the file header and every blob.
struct OpenPack {
    blobs: Vec<Vec<u8>>,
    entries: Vec<PackEntry>,
    len: usize,
}

/// A complete pack file: `header ‖ blobs ‖ sealed entry list ‖ its length`.
struct ClosedPack {
    record: PackRecord,
    blobs: Vec<Vec<u8>>,
    trailer: Vec<u8>,
}

impl OpenPack {
    fn new() -> Self {
        OpenPack {
            blobs: Vec::new(),
            entries: Vec::new(),
            len: HEADER_LEN,
        }
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn add(&mut self, blob: PreparedBlob) {
        self.entries.push(PackEntry {
            id: blob.id,
            kind: blob.kind,
            compression: blob.compression,
            offset: self.len as u32,
            length: blob.sealed.len() as u32,
            raw_length: blob.raw_len,
        });
        self.len += blob.sealed.len();
        self.blobs.push(blob.sealed);
    }

    /// Seals the entry list and names the pack after it: the sealed list authenticates every
    /// blob's id, place and length, and each blob's own seal its bytes.
    fn close(self, keys: &Keys) -> ClosedPack {
        let header = FileHeader::encode(ObjectKind::Pack);
        let mut trailer = keys.seal(&header, &PackEntry::encode_list(&self.entries));
        trailer.extend_from_slice(&(trailer.len() as u32).to_le_bytes());
        ClosedPack {
            record: PackRecord {
                pack: PackId(keys.object_id(&trailer)),
                length: (self.len + trailer.len()) as u32,
                entries: self.entries,
            },
            blobs: self.blobs,
            trailer,
        }
    }
}

/// What the storer does, in the order received.
enum Job {
    Staged(PackRecord, Staged),
    Flush(Sender<Result<Vec<(IndexId, IndexSegment)>, String>>),
}

/// After every [`SEGMENT_PACKS`] staged packs (and at each flush) commits them and puts an
/// index segment listing them.
struct Storer {
    backend: Arc<dyn Backend>,
    keys: Keys,
    staged: Vec<Staged>,
    /// Packs staged but not yet committed and listed in a segment.
    pending: Vec<PackRecord>,
    /// Segments written since the last flush.
    written: Vec<(IndexId, IndexSegment)>,
    failed: Option<String>,
}

impl Storer {
    fn run(mut self, rx: Receiver<Job>) {
        for job in rx {
            match job {
                Job::Staged(record, staged) if self.failed.is_none() => {
                    self.staged.push(staged);
                    self.pending.push(record);
                    if self.pending.len() >= SEGMENT_PACKS
                        && let Err(e) = self.write_segment()
                    {
                        self.failed = Some(e.to_string());
                    }
                }
                Job::Staged(..) => {}
                Job::Flush(reply) => {
                    let result = match self.failed.clone() {
                        Some(e) => Err(e),
                        None => self
                            .write_segment()
                            .map(|()| std::mem::take(&mut self.written))
                            .map_err(|e| e.to_string()),
                    };
                    let _ = reply.send(result);
                }
            }
        }
    }

    /// Commits the staged packs, then lists them in a new index segment.
    fn write_segment(&mut self) -> Result<(), RepoError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.backend.commit(std::mem::take(&mut self.staged))?;
        let segment = IndexSegment {
            packs: std::mem::take(&mut self.pending),
        };
        let file = self.keys.seal_object(ObjectKind::Index, &segment.encode());
        let id = IndexId(self.keys.object_id(&file));
        self.backend.put(FileType::Index, &id.to_hex(), &file)?;
        self.written.push((id, segment));
        Ok(())
    }
}
