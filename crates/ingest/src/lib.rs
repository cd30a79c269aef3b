//! MobileSync device folder → snapshot.
//!
//! For each device folder: read its plists and Manifest.db (never changing the folder), walk its
//! files, match blobs to Manifest.db rows, and store every file's content through a repository
//! [`WriteSession`](hearth_repo::WriteSession). A file whose size and modification time equal
//! those in the device's previous snapshot (its *parent*) is not read again: its chunk list is
//! reused. Problems with single rows or blobs become warnings recorded in the snapshot; problems
//! with the whole device become an [`IngestError`] naming it, and other devices go on. A backup
//! still being written, or the same device backup as the parent, stores no snapshot
//! ([`DeviceOutcome`]).
//!
//! This crate does not parse the backup format itself (that is `hearth-mobilesync`) and does not
//! know how objects are stored (that is `hearth-repo`).
//!
//! ```no_run
//! # fn demo(repo: &hearth_repo::Repository) -> Result<(), hearth_ingest::IngestError> {
//! use hearth_ingest::{IngestOptions, backup_device};
//! let lock = repo.lock_shared(std::time::Duration::from_secs(60), &|_| {})?;
//! let session = repo.write_session(&lock)?;
//! let outcome = backup_device(repo, &session, "Backup/00008110-AAAA".as_ref(), &IngestOptions::default(), &hearth_repo::NoProgress)?;
//! if let Some(report) = outcome.report() {
//!     println!("{} new files", report.summary.files_new);
//! }
//! # Ok(()) }
//! ```

mod contents;
mod device;
mod entries;
mod error;
mod folders;
mod identity;
mod prefetch;
mod unlock;
mod walk;
mod watch;

pub use device::{
    DeviceOutcome, DeviceReport, IngestOptions, StillWriting, WhyWriting, backup_device,
};
pub use error::IngestError;
pub use folders::{BackupRun, backup_folders};
pub use unlock::{IosPasswords, PASSWORD_FILE_MAX_BYTES, PasswordFileError, PasswordMap};
