//! The Hearth repository format: ids, the file header, and the encode/decode of every object's
//! plaintext payload, exactly as `docs/format.md` lays them out.
//!
//! This crate does no I/O and no cryptography: it turns structs into bytes and back, and rejects
//! malformed bytes with a typed error instead of panicking. Sealing is `hearth-crypto`'s job.
//! The bytes of every object are pinned by test vectors (`docs/format.md` §15), which live in
//! `hearth-crypto`'s tests since the key file, the seals and the ids need that crate.
//!
//! ```
//! use hearth_format::{ChunkId, codec::{Reader, Writer}};
//! let id = ChunkId::from_bytes([7; 32]);
//! let mut w = Writer::new();
//! w.id(&id.0);
//! let bytes = w.finish();
//! let mut r = Reader::new(&bytes);
//! assert_eq!(ChunkId::from_bytes(r.id().unwrap()), id);
//! ```

pub mod codec;
pub mod config;
pub mod device_key;
pub mod entry;
pub mod header;
pub mod id;
pub mod index;
pub mod lock;
pub mod pack;
pub mod pin;
pub mod snapshot;

pub use codec::DecodeError;
pub use config::{Config, ContentKeys};
pub use device_key::DeviceKey;
pub use entry::{Cipher, Content, Entry, Row, RowState};
pub use header::{FORMAT_VERSION, FileHeader, ObjectKind};
pub use id::{ChunkId, IndexId, KeyId, LockId, PackId, SnapshotId};
pub use index::{IndexSegment, PackRecord};
pub use lock::LockInfo;
pub use pack::{BlobKind, Compression, PackEntry};
pub use pin::PinInfo;
pub use snapshot::{DeviceIdentity, Snapshot, SnapshotSummary, Warning};
