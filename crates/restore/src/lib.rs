//! Snapshot → restore image: a MobileSync device folder that Finder or `idevicebackup2 restore`
//! can use.
//!
//! Restoring is two steps. [`plan_restore`] turns a snapshot's entries into a [`RestorePlan`]
//! (pure data: which files to write, from which chunks; which entries are skipped and why).
//! [`execute`] writes the plan under `<out>/<UDID>/`, never outside it: every path is checked
//! again, files are created with `O_EXCL` (an existing file or symlink is never followed or
//! replaced), and the device folder must not exist yet. The stored bytes are read in spans of
//! their packs shared between files ([`hearth_repo::SpanReader`]), so that a device's thousands
//! of small files cost tens of ranged reads, not one each. Neither step holds the snapshot's
//! files: the plan keeps the snapshot and what decides each entry, and the executor reads the
//! entries again, puts them in order (an external sort: big files largest first, the order a
//! backup stores them in, then the rest by where their bytes lie in the packs) and writes them
//! a window of [`WINDOW_FILES`] at a time.
//!
//! For the same device the image is byte-exact. For another kind of device ([`PlanOptions`]
//! `target`), Apple's rules ([`rules`], each with its name and source) skip photos, Messages,
//! Voice Memos and apps that do not run on the target ([`AppCatalog`], from Info.plist's App
//! Store metadata); Manifest.db is rebuilt without the skipped rows and Info.plist without the
//! dropped apps. A backup from a newer iOS than the target's is refused ([`compare_versions`]),
//! and `capacity`/`fit` refuse or shrink an image that is too big. An encrypted backup's image
//! is encrypted again with its own keys, or, with [`PlanOptions`] `decrypt`, written as its
//! plaintext: an unencrypted backup of the same content ([`Decryption`]), whose folder then
//! holds the backup's private data in the clear ([`RestorePlan::notice`] says so).
//!
//! ```no_run
//! # fn demo(repo: &hearth_repo::Repository) -> Result<(), hearth_restore::RestoreError> {
//! let (_, snap) = repo.find_snapshot("Family iPad@latest")?;
//! let plan = hearth_restore::plan_restore(repo, &snap, &Default::default())?;
//! let report = hearth_restore::execute(repo, &plan, "restored".as_ref(), &hearth_repo::NoProgress)?;
//! println!("{} files, {} bytes", report.files, report.bytes);
//! # Ok(()) }
//! ```

mod apps;
mod error;
mod execute;
mod order;
mod plan;
pub mod rules;
mod target;

pub use apps::AppCatalog;
pub use error::RestoreError;
pub use execute::{DamagedFile, RestoreReport, WINDOW_FILES, WINDOW_MAX_CHUNKS, execute};
pub use plan::{
    Decryption, FitReport, Kept, PlanOptions, PlannedFile, RestorePlan, Rewrite, RuleSummary,
    SkippedEntry, plan, plan_restore,
};
pub use target::{
    Family, Target, TargetError, compare_versions, household_devices, model_name, parse_capacity,
};
