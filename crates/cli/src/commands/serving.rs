//! What `mount` and `webdav` share: how they name what they serve, and where they tell of
//! files that do not read.

use crate::output::{esc, esc_text, source_text};
use crate::signals::{self, Stop};
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

/// On the first stop signal, says so and calls `stop` (the server finishes and the command
/// returns normally, removing its lock); on a second, exits at once.
pub fn stop_on_signal(stop: &Stop, what: &'static str, halt: impl Fn() + Send + 'static) {
    let mut stops = 0;
    stop.on_signal(move |signal| {
        stops += 1;
        if stops > 1 {
            std::process::exit(1);
        }
        eprintln!("{}: stopping {what}", signals::name(signal));
        halt();
    });
}
