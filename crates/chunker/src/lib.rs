//! Content-defined chunking and blob preparation: the front of Hearth's backup pipeline.
//!
//! Stages per file: **cut** (chosen by the file's first bytes: SQLite in pages, media and the
//! rest by FastCDC v2020 with a keyed gear table) → **id** (keyed BLAKE3) → **dedup check** (the
//! caller's [`BlobSink::claim`]) → **compress** (zstd: SQLite pages always, other chunks unless a sample looks
//! incompressible) → **seal**
//! (XChaCha20-Poly1305) → the caller's [`BlobSink::store`]. Files are independent, so callers
//! run them on rayon's pool.
//!
//! This crate knows nothing of packs, indexes or storage.
//!
//! ```
//! use hearth_chunker::{Chunker, ChunkerParams};
//! let chunker = Chunker::new(ChunkerParams { min: 1024, avg: 4096, max: 16384, seed: 7 });
//! let data = vec![42u8; 100_000];
//! let mut total = 0;
//! chunker.chunk_reader(&data[..], |c| { total += c.len(); Ok::<_, std::io::Error>(()) }).unwrap();
//! assert_eq!(total, data.len());
//! ```

mod blob;
mod cut;

pub use blob::{
    BlobSink, Content, PreparedBlob, UnsealBuffers, UnsealError, looks_incompressible, prepare,
    prepare_as, store_chunk, unseal,
};
pub use cut::{Chunker, ChunkerParams, ContentRules, Cut, ReadError};
