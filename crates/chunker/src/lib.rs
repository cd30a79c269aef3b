//! Content-defined chunking: where Hearth cuts a file into chunks, and nothing else.
//!
//! The cut is chosen by the file's first bytes: SQLite databases in whole pages, media and the
//! rest by FastCDC v2020 with a keyed gear table (`docs/format.md` §6). Each chunk comes with
//! what its cut says about its bytes ([`Content`]). Identifying, compressing and sealing chunks
//! is the repository's work (`hearth-repo`).
//!
//! ```
//! use hearth_chunker::{Chunker, ChunkerParams};
//! let chunker = Chunker::new(ChunkerParams { min: 1024, avg: 4096, max: 16384, seed: 7 });
//! let data = vec![42u8; 100_000];
//! let mut total = 0;
//! chunker.chunk_reader(&data[..], |c| { total += c.len(); Ok::<_, std::io::Error>(()) }).unwrap();
//! assert_eq!(total, data.len());
//! ```

mod cut;

pub use cut::{Chunker, ChunkerParams, Content, ContentRules, Cut, ReadError};
