//! What `mount` and `webdav` share: how they name what they serve, and where they tell of
//! files that do not read.

use crate::output::{esc, esc_text, source_text};
use hearth_browse::{BrowseError, Household};

/// "3 devices (7 snapshots)".
pub fn summary(household: &Household<'_>) -> String {
    let devices = household.devices();
    let snapshots: usize = devices.iter().map(|d| d.snapshots.len()).sum();
    let plural = |n: usize, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    format!(
        "{} ({})",
        plural(devices.len(), "device"),
        plural(snapshots, "snapshot")
    )
}

/// Files that do not read, said on stderr as they are met.
pub struct Stderr;

impl hearth_mount::Report for Stderr {
    fn unreadable(&self, path: &str, error: &BrowseError) {
        eprintln!("error: {}: {}", esc(path), esc_text(&source_text(error)));
    }
}
