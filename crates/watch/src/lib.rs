//! Follows MobileSync folders and backs each device up once its backup has finished and
//! settled: what `hearth watch` runs.
//!
//! A device folder is backed up when its `Status.plist` says `SnapshotState` is `finished` and
//! nothing in it has changed for a quiet period (`settle`), once per device backup: the mark
//! of a backup backed up (Status.plist's UUID and Date, Manifest.db's size and mtime) is
//! remembered, and the repository is not even opened for it again. Changes are seen through
//! folder events (the `notify` crate) and, as a fallback for missed events and file systems
//! without them, a rescan every `rescan` that compares a fingerprint of each folder's files.
//! A watched folder that is missing (an external disk unplugged) is looked for again at each
//! rescan; an unreachable repository is tried again after a wait that doubles up to 15
//! minutes. The repository is opened for each backup by the caller's opener and closed after
//! it, so an idle watcher holds no lock.
//!
//! It does not parse backups (`hearth-mobilesync`) or store them (`hearth-ingest` through
//! [`backup_folders`](hearth_ingest::backup_folders)), and never prints: everything it does
//! goes to a [`WatchReport`].
//!
//! ```no_run
//! # fn demo(open: impl FnMut() -> Result<hearth_watch::Opened, String>, report: &dyn hearth_watch::WatchReport) -> Result<(), hearth_watch::WatchError> {
//! use hearth_watch::{Watch, WatchOptions};
//! let watch = Watch::new(WatchOptions::new(vec!["Backup".into()]));
//! let stopper = watch.stopper(); // stopper.stop() from another thread ends `run`
//! watch.run(open, report)?;
//! # Ok(()) }
//! ```

mod observe;
mod report;
mod run;
mod state;

pub use observe::{BackupMark, Fingerprint, Found, Look, fingerprint, look, scan};
pub use report::WatchReport;
pub use run::{MAX_RETRY, Opened, Stopper, Watch, WatchError, WatchOptions, WatchSummary};
pub use state::{Backoff, Devices, Ended, Verdict};
