//! `backup`: every device folder in every PATH, one snapshot each (none for a device unchanged
//! since its last snapshot or still being written), one write session.

use super::notify;
use crate::Outcome;
use crate::cli::BackupArgs;
use crate::context::Context;
use crate::output::{bytes, device_json, device_line, esc, esc_text, print_json};
use crate::progress::Bars;
use anyhow::Context as _;
use anyhow::{Result, bail};
use hearth_alert::{Event, Notifier};
use hearth_format::DeviceIdentity;
use hearth_ingest::{
    BackupRun, DeviceOutcome, DeviceReport, IngestError, IngestOptions, IosPasswords, PasswordMap,
    StillWriting, backup_folders,
};
use hearth_mobilesync::find_device_folders;
use serde_json::json;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Warnings shown per device before "and N more".
const SHOWN_WARNINGS: usize = 10;

pub fn run(ctx: &Context, args: &BackupArgs) -> Result<Outcome> {
    let notifier = notify::notifier(ctx, &args.notify)?;
    let paths = sources(ctx, &args.paths);
    let outcome = paths.and_then(|paths| back_up(ctx, args, &paths, &notifier));
    if let Err(e) = &outcome
        && e.downcast_ref::<DevicesFailed>().is_none()
    {
        notifier.send(Event::BackupFailed {
            name: source_name(&args.paths),
            udid: None,
            error: format!("{e:#}"),
        });
    }
    notify::finish(notifier);
    outcome
}

/// Some devices could not be backed up; each was reported on its own.
#[derive(Debug)]
struct DevicesFailed {
    failed: usize,
    of: usize,
}

impl std::fmt::Display for DevicesFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (failed, of) = (self.failed, self.of);
        write!(
            f,
            "{failed} of {of} device(s) could not be backed up (see above)"
        )
    }
}

impl std::error::Error for DevicesFailed {}

/// How a notification names what a failed run was to back up.
fn source_name(paths: &[PathBuf]) -> String {
    match paths {
        [] => "the MobileSync backup folder".into(),
        _ => (paths.iter().map(|p| p.display().to_string()))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn back_up(
    ctx: &Context,
    args: &BackupArgs,
    paths: &[PathBuf],
    notifier: &Notifier,
) -> Result<Outcome> {
    let mut folders = Vec::new();
    for p in paths {
        folders.extend(find_device_folders(p)?);
    }
    let repo = ctx.open()?;
    let lock = ctx.shared_lock(&repo)?;
    let options = IngestOptions {
        tags: args.tags.clone(),
        force_read: args.force,
        ios_passwords: Some(Arc::new(ios_passwords(
            (ctx.settings
                .ios_password_file(args.ios_password_file.clone())
                .value)
                .as_deref(),
            true,
        )?)),
    };
    let bars = Bars::new();
    let done = backup_folders(
        &repo,
        &lock,
        &folders,
        &options,
        |folder| {
            bars.child(&esc(&folder
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()))
        },
        |_, result| match result {
            Ok(outcome) => print_outcome(outcome, ctx.global.json),
            Err(e) if !matches!(e, IngestError::Repo(_)) => {
                eprintln!("error: {}", esc_text(&e.to_string()))
            }
            _ => {}
        },
    )?;
    if ctx.global.json {
        print_json(&run_json(&done));
    }
    notify_run(notifier, &done);
    notify::send_overdue(ctx, notifier, &repo, args.overdue);
    if !done.failures.is_empty() {
        return Err(DevicesFailed {
            failed: done.failures.len(),
            of: folders.len(),
        }
        .into());
    }
    Ok(if done.incomplete() || !done.writing.is_empty() {
        Outcome::Warnings
    } else {
        Outcome::Success
    })
}

/// Successes first, then failures: a Healthchecks check keeps the last ping, and a run with a
/// failure must end as one. A backup still being written is not a failure (the next run
/// takes it).
fn notify_run(notifier: &Notifier, done: &BackupRun) {
    let stored = done.stored.iter().map(|r| notify::succeeded(r, false));
    stored
        .chain(done.unchanged.iter().map(|r| notify::succeeded(r, true)))
        .for_each(|e| notifier.send(e));
    for (folder, error) in &done.failures {
        notifier.send(notify::failed(folder, &error.to_string()));
    }
}

fn run_json(done: &BackupRun) -> serde_json::Value {
    json!({
        "snapshots": done.stored.iter().map(report_json).collect::<Vec<_>>(),
        "unchanged": done.unchanged.iter().map(unchanged_json).collect::<Vec<_>>(),
        "skipped": done.writing.iter().map(writing_json).collect::<Vec<_>>(),
        "errors": done.failures.iter().map(|(_, e)| e.to_string()).collect::<Vec<_>>(),
    })
}

fn print_outcome(outcome: &DeviceOutcome, json: bool) {
    match outcome {
        DeviceOutcome::Stored(r) if !json => print_report(r),
        DeviceOutcome::Unchanged(r) if !json => print_unchanged(r),
        // A warning, also with --json: nothing of the device was stored.
        DeviceOutcome::StillWriting(w) => eprintln!("warning: {}", esc_text(&w.to_string())),
        _ => {}
    }
}

fn print_unchanged(r: &DeviceReport) {
    println!(
        "{}: unchanged since snapshot {} — {} files; nothing stored",
        device_line(&r.device),
        r.snapshot.short(),
        r.summary.files,
    );
}

fn print_report(r: &DeviceReport) {
    println!(
        "{}: snapshot {} — {} files: {} new, {} changed, {} unmodified; read {}, added {}",
        device_line(&r.device),
        r.snapshot.short(),
        r.summary.files,
        r.summary.files_new,
        r.summary.files_changed,
        r.summary.files_unmodified,
        bytes(r.summary.bytes_read),
        bytes(r.summary.bytes_added)
    );
    if let Some(why) = &r.parent_unreadable {
        eprintln!(
            "notice: the previous snapshot of {} cannot be read ({}); the files it could not vouch for were read again, and this snapshot is complete",
            esc(r.device.label()),
            esc_text(why)
        );
    }
    if r.unencrypted_source {
        eprintln!(
            "notice: the backup of {} is not encrypted, so it holds no Health, Activity or Keychain data. \
             Turn on \"Encrypt local backup\" in Finder (or run `idevicebackup2 encryption on`) to keep them.",
            esc(r.device.label())
        );
    }
    if !r.warnings.is_empty() {
        eprintln!(
            "warning: {} problem(s) in the backup of {}; the snapshot records them:",
            r.warnings.len(),
            esc(r.device.label())
        );
        for w in r.warnings.iter().take(SHOWN_WARNINGS) {
            eprintln!("  {}: {}", esc(&w.path), esc_text(&w.message));
        }
        if r.warnings.len() > SHOWN_WARNINGS {
            eprintln!("  ... and {} more", r.warnings.len() - SHOWN_WARNINGS);
        }
    }
}

/// A device whose folder holds the same device backup as its latest snapshot: the usual fields
/// but `id`, and `unchanged_since`, that snapshot.
fn unchanged_json(r: &DeviceReport) -> serde_json::Value {
    let mut v = report_json(r);
    let fields = v.as_object_mut().expect("an object");
    fields.remove("id");
    fields.insert("unchanged_since".into(), json!(r.snapshot.to_hex()));
    v
}

fn writing_json(w: &StillWriting) -> serde_json::Value {
    json!({
        "folder": w.folder.to_string_lossy(),
        "device": w.device.as_ref().map(device_json),
        "reason": "still_being_written",
        "detail": w.reason(),
        "message": w.to_string(),
    })
}

fn report_json(r: &DeviceReport) -> serde_json::Value {
    json!({
        "id": r.snapshot.to_hex(),
        "parent": r.parent.map(|p| p.to_hex()),
        "device": device_json(&r.device),
        "files": r.summary.files,
        "bytes": r.summary.bytes,
        "files_new": r.summary.files_new,
        "files_changed": r.summary.files_changed,
        "files_unmodified": r.summary.files_unmodified,
        "bytes_read": r.summary.bytes_read,
        "bytes_added": r.summary.bytes_added,
        "encrypted_source": !r.unencrypted_source,
        "key_derived": r.key_derived,
        "parent_unreadable": r.parent_unreadable,
        "warnings": r.warnings.iter().map(|w| json!({"path": w.path, "message": w.message})).collect::<Vec<_>>(),
    })
}

/// Encrypted-backup passwords from HEARTH_IOS_PASSWORD and --ios-password-file, else asked
/// for on a terminal, once per device that needs one.
#[derive(Debug)]
pub struct CliPasswords {
    map: PasswordMap,
    ask: bool,
}

/// The iOS backup passwords: the file, HEARTH_IOS_PASSWORD, and (when `ask` and on a
/// terminal) a prompt per device.
pub fn ios_passwords(file: Option<&std::path::Path>, ask: bool) -> Result<CliPasswords> {
    let mut map = match file {
        Some(f) => PasswordMap::read(f).context("cannot use the iOS password file")?,
        None => PasswordMap::default(),
    };
    match std::env::var("HEARTH_IOS_PASSWORD") {
        Ok(p) if map.default.is_none() => map.default = Some(p),
        // Ignoring it would fail every encrypted device as "no password" instead.
        Err(std::env::VarError::NotUnicode(_)) => {
            bail!("HEARTH_IOS_PASSWORD is not UTF-8 text; an iOS backup password is")
        }
        _ => {}
    }
    let ask = ask && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    Ok(CliPasswords { map, ask })
}

/// One password prompt at a time: devices are backed up in parallel.
static PROMPT: Mutex<()> = Mutex::new(());

impl IosPasswords for CliPasswords {
    fn password(&self, device: &DeviceIdentity) -> Option<String> {
        self.map.password(device).or_else(|| {
            self.ask
                .then(|| {
                    let _one_at_a_time = PROMPT.lock().unwrap_or_else(|e| e.into_inner());
                    rpassword::prompt_password(format!(
                        "Backup password of {} ({}), an encrypted iOS backup: ",
                        esc(device.label()),
                        esc(&device.udid)
                    ))
                    .ok()
                })
                .flatten()
        })
    }
}

/// The platform's MobileSync backup folder.
/// The MobileSync folders a backup reads: PATH arguments, else the config file's `[watch]
/// folders`, else this computer's MobileSync folder.
pub fn sources(ctx: &Context, paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let paths = ctx.settings.watch_folders(paths).value;
    match paths.is_empty() {
        true => Ok(vec![default_source()?]),
        false => Ok(paths),
    }
}

pub fn default_source() -> Result<PathBuf> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let candidates = [
        home.join("Library/Application Support/MobileSync/Backup"),
        std::env::var_os("APPDATA")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join("Apple Computer/MobileSync/Backup"),
    ];
    match candidates.iter().find(|p| p.is_dir()) {
        Some(p) => Ok(p.clone()),
        None => bail!(
            "no PATH given and no MobileSync backup folder at {}; name the folder that holds the device backups",
            candidates[0].display()
        ),
    }
}
