//! Where repository objects live: the [`Backend`] trait (write-once put, get, ranged get, list,
//! delete) and its implementations on the local disk and on S3-compatible object storage.
//!
//! A backend stores opaque bytes under `(FileType, name)`; it knows nothing of encryption or
//! formats. Packs are *staged* (written at offsets by the threads that seal their blobs, then
//! named) and committed in batches, so a writer does not wait for each pack to reach the disk.
//! Every repository operation goes through this seam, so faults can be injected in tests.
//!
//! ```
//! use hearth_storage::{Backend, FileType, LocalBackend};
//! let dir = tempfile::tempdir().unwrap();
//! let b = LocalBackend::create(dir.path()).unwrap();
//! let name = "ab".repeat(32);
//! b.put(FileType::Snapshot, &name, b"bytes").unwrap();
//! assert_eq!(b.get(FileType::Snapshot, &name).unwrap(), b"bytes");
//! ```

mod backend;
mod local;
mod s3;

pub use backend::{Backend, FileType, ObjectInfo, PutOutcome, Staged, Staging, StorageError};
pub use local::LocalBackend;
pub use s3::{S3Backend, S3Location};
