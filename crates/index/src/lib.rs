//! The local index cache: a redb database holding the merged index (blob → pack location) and
//! the snapshot catalog, so look-ups need neither the repository nor memory proportional to it.
//!
//! It is only a cache: every row comes from repository objects, and the repository crate
//! rebuilds it when it is missing, stale or corrupt (`docs/format.md` §12). This crate does not
//! talk to storage.
//!
//! ```
//! use hearth_index::IndexCache;
//! let dir = tempfile::tempdir().unwrap();
//! let cache = IndexCache::open(&dir.path().join("index.redb")).unwrap();
//! assert_eq!(cache.blob_count().unwrap(), 0);
//! ```

mod cache;
mod damage;
mod live;
mod open;
mod spill;
mod usage;

pub use cache::{BlobLocation, IndexCache, IndexError, IndexReader, SortedLookups};
pub use damage::DamageSet;
pub use live::{LiveReader, LiveSet};
pub use open::redb_panic_is_caught;
pub use usage::{Usage, UsageSet};
