//! `--notify` and `HEARTH_NOTIFY`: the Notifier of a command, and its failures as warnings.

use crate::cli::NotifyArgs;
use crate::context::Context;
use crate::output::esc_text;
use anyhow::Result;
use hearth_alert::{DeliveryFailure, DeviceRef, Event, Notifier};
use hearth_ingest::DeviceReport;
use hearth_mobilesync::{DeviceFolder, looks_like_udid};
use hearth_repo::Repository;
use std::path::Path;
use std::time::Duration;

/// The longest a command waits, at its end, for its notifications to be sent.
pub const FINISH_WITHIN: Duration = Duration::from_secs(30);

/// A notifier for `args` (one that sends nothing when no URL is given); a bad URL is a usage
/// error, before any work is done.
pub fn notifier(ctx: &Context, args: &NotifyArgs) -> Result<Notifier> {
    Ok(Notifier::new(&ctx.settings.notify_urls(&args.urls).value)?)
}

/// Waits (at most [`FINISH_WITHIN`]) for what is queued; what was not sent is a warning.
pub fn finish(notifier: Notifier) {
    if notifier.is_empty() {
        return;
    }
    warn(&notifier.finish(FINISH_WITHIN));
}

pub fn warn(failures: &[DeliveryFailure]) {
    for f in failures {
        eprintln!(
            "warning: notification not sent: {}",
            esc_text(&f.to_string())
        );
    }
}

/// Each device of `repo` not backed up for `overdue` (`--overdue`, else the config file's,
/// else 7 days), unless reported today already.
pub fn send_overdue(
    ctx: &Context,
    notifier: &Notifier,
    repo: &Repository,
    overdue: Option<Duration>,
) {
    if notifier.is_empty() {
        return;
    }
    let now = hearth_repo::unix_now();
    let events = repo
        .snapshots()
        .map_err(anyhow::Error::from)
        .and_then(|all| {
            let snapshots = all.iter().map(|(_, s)| s);
            let after = ctx.settings.notify_overdue(overdue).value.as_secs();
            let after = i64::try_from(after).unwrap_or(i64::MAX);
            Ok(hearth_alert::overdue::to_report(
                snapshots,
                &repo.cache_folder(),
                now,
                after,
            )?)
        });
    match events {
        Ok(events) => events.into_iter().for_each(|e| notifier.send(e)),
        Err(e) => eprintln!(
            "warning: cannot tell which devices are overdue: {}",
            esc_text(&format!("{e:#}"))
        ),
    }
}

/// A device backed up: a snapshot stored, or (`unchanged`) the latest one found the same.
pub fn succeeded(r: &DeviceReport, unchanged: bool) -> Event {
    Event::BackupSucceeded {
        device: DeviceRef::from(&r.device),
        snapshot: r.snapshot.short(),
        files: r.summary.files,
        bytes_added: if unchanged { 0 } else { r.summary.bytes_added },
        unchanged,
    }
}

/// The backup of the device folder `folder` failed with `error`.
pub fn failed(folder: &Path, error: &str) -> Event {
    let (name, udid) = failed_device(folder);
    Event::BackupFailed {
        name,
        udid,
        error: error.to_owned(),
    }
}

/// The name and UDID of the device whose backup in `folder` failed, as far as its plists (or
/// else the folder's name) tell.
fn failed_device(folder: &Path) -> (String, Option<String>) {
    let named = DeviceFolder::open(folder).ok().and_then(|d| {
        let udid = d.udid().ok().map(|(u, _)| u);
        (!d.info.device_name.is_empty()).then(|| (d.info.device_name.clone(), udid))
    });
    named.unwrap_or_else(|| {
        let udid = (folder.file_name().and_then(|n| n.to_str()))
            .filter(|n| looks_like_udid(n))
            .map(str::to_uppercase);
        (folder.display().to_string(), udid)
    })
}
