//! The write path: a [`WriteSession`] takes chunks from many threads and hands new ones to a
//! single pack-writer thread (the one owner of the open pack), over a bounded queue.
//!
//! Commit order (`docs/format.md` §11): the writer puts a pack, then lists it in an index
//! segment; [`WriteSession::flush`] returns only when every blob stored so far is in a written
//! pack and a written segment. Only then may a snapshot name those blobs.

use crate::error::RepoError;
use crate::repository::Repository;
use crossbeam_channel::{Receiver, Sender, bounded};
use hearth_chunker::{BlobSink, PreparedBlob, ReadError, store_chunk};
use hearth_crypto::Keys;
use hearth_format::{
    BlobKind, ChunkId, FileHeader, IndexId, IndexSegment, ObjectKind, PackEntry, PackId, PackRecord,
};
use hearth_storage::{Backend, FileType};
use std::collections::HashSet;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Sealed blobs waiting for the pack writer; bounds memory at about this many chunks.
const QUEUE_BLOBS: usize = 64;
/// The writer puts an index segment after this many packs, so an interrupted run keeps most of
/// its work for the next one.
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

enum Msg {
    Blob(PreparedBlob),
    Flush(Sender<Result<Vec<(IndexId, IndexSegment)>, String>>),
}

pub struct WriteSession<'r> {
    repo: &'r Repository,
    claimed: Mutex<HashSet<ChunkId>>,
    queue: Option<Sender<Msg>>,
    writer: Option<JoinHandle<()>>,
    blobs: AtomicU64,
    raw_bytes: AtomicU64,
    stored_bytes: AtomicU64,
}

impl Repository {
    /// Starts writing. The caller should hold a lock (see [`Repository::lock`]).
    pub fn write_session(&self) -> WriteSession<'_> {
        let (tx, rx) = bounded(QUEUE_BLOBS);
        let writer = PackWriter {
            backend: Arc::clone(&self.backend),
            keys: self.keys.clone(),
            target: self.config.pack_target as usize,
            buf: Vec::new(),
            entries: Vec::new(),
            pending: Vec::new(),
            written: Vec::new(),
            failed: None,
        };
        let handle = std::thread::Builder::new()
            .name("pack-writer".into())
            .spawn(move || writer.run(rx))
            .expect("spawning the pack writer thread");
        WriteSession {
            repo: self,
            claimed: Mutex::new(HashSet::new()),
            queue: Some(tx),
            writer: Some(handle),
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
            .chunk_reader(reader, |chunk| {
                ids.push(store_chunk(&self.repo.keys, level, self, kind, chunk)?);
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
        self.repo.chunker().chunk_slice(data, |chunk| {
            ids.push(store_chunk(&self.repo.keys, level, self, kind, chunk)?);
            Ok::<_, RepoError>(())
        })?;
        Ok(ids)
    }

    /// Stores a blob even though the index already has it (prune copies the live blobs of a
    /// pack it is about to delete). Its id is the same as before.
    pub fn store_again(&self, data: &[u8], kind: BlobKind) -> Result<ChunkId, RepoError> {
        let level = self.repo.config.zstd_level;
        store_chunk(&self.repo.keys, level, &Again(self), kind, data)
    }

    /// Returns when every blob stored so far is in a written pack and a written index segment,
    /// and those segments are merged into the cache.
    pub fn flush(&self) -> Result<(), RepoError> {
        let (tx, rx) = bounded(1);
        self.send(Msg::Flush(tx))?;
        let segments = rx
            .recv()
            .map_err(|_| RepoError::Writer("the pack writer exited".into()))?
            .map_err(RepoError::Writer)?;
        for (id, seg) in segments {
            self.repo.cache.add_segment(&id, &seg)?;
        }
        Ok(())
    }

    /// Flushes and stops the writer thread.
    pub fn finish(mut self) -> Result<WriteStats, RepoError> {
        self.flush()?;
        self.stop();
        Ok(self.stats())
    }

    fn stop(&mut self) {
        drop(self.queue.take());
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
    }

    fn send(&self, msg: Msg) -> Result<(), RepoError> {
        self.queue
            .as_ref()
            .expect("the queue lives until finish")
            .send(msg)
            .map_err(|_| {
                RepoError::Writer("the pack writer exited; see the error reported at flush".into())
            })
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
        self.send(Msg::Blob(blob))
    }
}

/// The single owner of the open pack.
struct PackWriter {
    backend: Arc<dyn Backend>,
    keys: Keys,
    target: usize,
    buf: Vec<u8>,
    entries: Vec<PackEntry>,
    /// Packs written but not yet listed in a segment.
    pending: Vec<PackRecord>,
    /// Segments written since the last flush.
    written: Vec<(IndexId, IndexSegment)>,
    failed: Option<String>,
}

impl PackWriter {
    fn run(mut self, rx: Receiver<Msg>) {
        for msg in rx {
            match msg {
                Msg::Blob(blob) if self.failed.is_none() => {
                    if let Err(e) = self.add(blob) {
                        self.failed = Some(e.to_string());
                    }
                }
                Msg::Blob(_) => {}
                Msg::Flush(reply) => {
                    let result = match self.failed.clone() {
                        Some(e) => Err(e),
                        None => self.flush().map_err(|e| e.to_string()),
                    };
                    let _ = reply.send(result);
                }
            }
        }
    }

    fn add(&mut self, blob: PreparedBlob) -> Result<(), RepoError> {
        if self.buf.is_empty() {
            self.buf
                .extend_from_slice(&FileHeader::encode(ObjectKind::Pack));
        }
        self.entries.push(PackEntry {
            id: blob.id,
            kind: blob.kind,
            compression: blob.compression,
            offset: self.buf.len() as u32,
            length: blob.sealed.len() as u32,
            raw_length: blob.raw_len,
        });
        self.buf.extend_from_slice(&blob.sealed);
        if self.buf.len() >= self.target {
            self.close_pack()?;
        }
        Ok(())
    }

    /// Seals the header, puts the pack, and after enough packs puts a segment.
    fn close_pack(&mut self) -> Result<(), RepoError> {
        if self.entries.is_empty() {
            return Ok(());
        }
        let header = FileHeader::encode(ObjectKind::Pack);
        let sealed = self
            .keys
            .seal(&header, &PackEntry::encode_list(&self.entries));
        self.buf.extend_from_slice(&sealed);
        self.buf
            .extend_from_slice(&(sealed.len() as u32).to_le_bytes());
        let pack = PackId(self.keys.object_id(&self.buf));
        self.backend
            .put(FileType::Pack, &pack.to_hex(), &self.buf)?;
        self.pending.push(PackRecord {
            pack,
            length: self.buf.len() as u32,
            entries: std::mem::take(&mut self.entries),
        });
        self.buf.clear();
        if self.pending.len() >= SEGMENT_PACKS {
            self.write_segment()?;
        }
        Ok(())
    }

    fn write_segment(&mut self) -> Result<(), RepoError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let segment = IndexSegment {
            packs: std::mem::take(&mut self.pending),
        };
        let file = self.keys.seal_object(ObjectKind::Index, &segment.encode());
        let id = IndexId(self.keys.object_id(&file));
        self.backend.put(FileType::Index, &id.to_hex(), &file)?;
        self.written.push((id, segment));
        Ok(())
    }

    fn flush(&mut self) -> Result<Vec<(IndexId, IndexSegment)>, RepoError> {
        self.close_pack()?;
        self.write_segment()?;
        Ok(std::mem::take(&mut self.written))
    }
}
