//! `--notify` and `HEARTH_NOTIFY`: the Notifier of a command, and its failures as warnings.

use crate::cli::NotifyArgs;
use crate::output::esc_text;
use anyhow::Result;
use hearth_alert::{DeliveryFailure, Notifier};
use hearth_repo::Repository;
use std::time::Duration;

/// The longest a command waits, at its end, for its notifications to be sent.
pub const FINISH_WITHIN: Duration = Duration::from_secs(30);

/// The URLs of `--notify`, else of `HEARTH_NOTIFY` (separated by white space).
pub fn urls(args: &NotifyArgs) -> Vec<String> {
    if !args.urls.is_empty() {
        return args.urls.clone();
    }
    let from_env = std::env::var("HEARTH_NOTIFY").unwrap_or_default();
    from_env.split_whitespace().map(str::to_owned).collect()
}

/// A notifier for `args` (one that sends nothing when no URL is given); a bad URL is a usage
/// error, before any work is done.
pub fn notifier(args: &NotifyArgs) -> Result<Notifier> {
    Ok(Notifier::new(&urls(args))?)
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

/// Each device of `repo` not backed up for `overdue_micros`, unless reported today already.
pub fn send_overdue(notifier: &Notifier, repo: &Repository, overdue_micros: i64) {
    if notifier.is_empty() {
        return;
    }
    let now = hearth_repo::unix_now();
    let events = repo
        .snapshots()
        .map_err(anyhow::Error::from)
        .and_then(|all| {
            let snapshots = all.iter().map(|(_, s)| s);
            let after = overdue_micros / 1_000_000;
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
