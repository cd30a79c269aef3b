//! The repository engine: opening and creating repositories, the write path (packs filled by
//! the threads that seal blobs, staged, then committed with an index segment), the commit order
//! (packs → index segment → snapshot), the snapshot catalog, check, prune, and locks.
//!
//! It stores and finds blobs and snapshots; it does not know what an iOS backup is (that is
//! `hearth-ingest` and `hearth-restore`), and it never prints: progress goes through
//! [`Progress`].
//!
//! ```no_run
//! use hearth_repo::{Repository, RepoOptions};
//! use hearth_storage::LocalBackend;
//! use std::sync::Arc;
//! let backend = Arc::new(LocalBackend::create("/tmp/repo".as_ref()).unwrap());
//! let repo = Repository::init(backend, b"pw", &RepoOptions::default()).unwrap();
//! println!("{} snapshots", repo.snapshots().unwrap().len());
//! ```

mod blobs;
mod cache_sync;
mod check;
mod copy;
mod device_keys;
mod error;
mod forget;
pub mod human;
pub mod local_time;
mod lock;
mod objects;
mod packs;
mod progress;
mod prune;
mod read_ahead;
mod repair_index;
mod repair_snapshots;
mod repository;
pub mod retention;
mod seal;
mod segments;
mod snapshots;
mod spans;
mod stats;
mod survey;
mod tree;
mod writer;

pub use check::{CheckOptions, CheckRecord, CheckReport, Damage, ReadData};
pub use copy::{CopiedSnapshot, CopyReport, CopyStatus};
pub use error::{DamagedKey, ErrorKind, RepoError, SessionStop};
pub use forget::{ForgetPlan, GroupVerdict, Grouping};
pub use lock::{ExclusiveLock, LockGuard, LockState, LockTimes, StaleLock};
pub use lock::{hostname, unix_now};
pub use packs::PackSurvey;
pub use packs::{pack_trailer, read_pack_header};
pub use progress::{NoProgress, Progress};
pub use prune::{PackUse, PruneOptions, PrunePlan, PruneReport};
pub use repair_index::{RepairIndexOptions, RepairIndexReport};
pub use repair_snapshots::{RepairSnapshotsPlan, Repaired, SnapshotRepair};
pub use repository::{KeySummary, RepoOptions, Repository, UnreadableObject, default_cache_root};
pub use seal::{
    PreparedBlob, UnsealBuffers, UnsealError, looks_incompressible, prepare, prepare_as, unseal,
};
pub use snapshots::SnapshotRef;
pub use spans::{ReadBlob, SPAN_BUDGET, SPAN_GAP, SPAN_MAX, SpanReader};
pub use stats::{DeviceStats, RepoStats};
pub use survey::Survey;
pub use tree::{Entries, StoredTree};
pub use writer::{StoreFileError, Tally, WriteSession, WriteStats};
