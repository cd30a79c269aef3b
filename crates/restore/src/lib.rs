//! Snapshot → restore image: a MobileSync device folder that Finder or `idevicebackup2 restore`
//! can use.
//!
//! Restoring is two steps. [`plan_restore`] turns a snapshot's entries into a [`RestorePlan`]
//! (pure data: which files to write, from which chunks; which entries are skipped and why).
//! [`execute`] writes the plan under `<out>/<UDID>/`, never outside it: every path is checked
//! again, files are created with `O_EXCL` (an existing file or symlink is never followed or
//! replaced), and the device folder must not exist yet.
//!
//! This crate does not parse Manifest.db or choose compatibility rules for other devices yet; a
//! same-device restore is byte-exact.
//!
//! ```no_run
//! # fn demo(repo: &hearth_repo::Repository) -> Result<(), hearth_restore::RestoreError> {
//! let (_, snap) = repo.find_snapshot("Family iPad@latest")?;
//! let plan = hearth_restore::plan_restore(repo, &snap)?;
//! let report = hearth_restore::execute(repo, &plan, "restored".as_ref(), &hearth_repo::NoProgress)?;
//! println!("{} files, {} bytes", report.files, report.bytes);
//! # Ok(()) }
//! ```

mod error;
mod execute;
mod plan;

pub use error::RestoreError;
pub use execute::{RestoreReport, execute};
pub use plan::{PlannedFile, RestorePlan, SkippedEntry, plan_restore};
