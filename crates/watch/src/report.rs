//! What the watcher tells its caller: the CLI logs each call as one line, and can send a
//! notification for the ones that matter (a backup stored, a backup failed, an unreachable
//! repository).

use hearth_ingest::{DeviceOutcome, IngestError};
use std::fmt::Display;
use std::path::Path;
use std::time::Duration;

/// Called from the watcher's thread, and `backed_up`/`backup_failed` from the threads that
/// back devices up (one call at a time).
pub trait WatchReport: Sync {
    /// `folder` is there and followed: `devices` device folders in it, through folder events
    /// (`events`) or by rescans alone.
    fn watching(&self, folder: &Path, devices: usize, events: bool);
    /// `folder` is not there, or cannot be read (`problem`); said once until it is back.
    fn folder_missing(&self, folder: &Path, problem: &str);
    /// Folder events cannot be had for `folder`: it is followed by rescans alone.
    fn events_unavailable(&self, folder: &Path, error: &dyn Display);
    /// A device folder has settled, but its backup has not finished (`why`).
    fn not_ready(&self, device: &Path, why: &str);
    /// A device folder has settled with a finished backup not backed up before: it is backed
    /// up next.
    fn device_ready(&self, device: &Path);
    /// The backup of a device folder ended: a snapshot stored, the same backup found in the
    /// repository already, or the folder found still being written (tried again once it
    /// settles again).
    fn backed_up(&self, device: &Path, outcome: &DeviceOutcome);
    /// The device folder could not be backed up; tried again once it changes.
    fn backup_failed(&self, device: &Path, error: &IngestError);
    /// The repository could not be opened or written; tried again in `retry_in` (`None`:
    /// not again, the watcher ends).
    fn repository_unreachable(&self, error: &dyn Display, retry_in: Option<Duration>);
}
