//! "Back up now": every device folder of the backup sources the server was started with, as
//! `hearth backup` does ([`hearth_ingest::backup_folders`]), under the pages' shared lock.

use crate::error::{UiError, error_text};
use crate::format::bytes;
use crate::jobs::{Finished, Job, JobProgress};
use crate::state::App;
use hearth_ingest::{DeviceOutcome, IngestError, IngestOptions, backup_folders};
use hearth_mobilesync::find_device_folders;
use hearth_repo::Progress;
use std::path::Path;
use std::sync::Arc;

pub fn start(app: &Arc<App>) -> Result<Arc<Job>, UiError> {
    if app.options.backup_sources.is_empty() {
        return Err(UiError::BadRequest(
            "no backup folder to back up: start `hearth ui` with --source FOLDER (the folder of the device backups Finder or idevicebackup2 writes)".into(),
        ));
    }
    let runner = app.clone();
    app.jobs
        .start("Back up now", move |progress| backup(&runner, progress))
        .map_err(super::busy)
}

fn backup(app: &App, progress: &JobProgress) -> Result<Finished, String> {
    let mut folders = Vec::new();
    for source in &app.options.backup_sources {
        folders.extend(find_device_folders(source).map_err(|e| error_text(&e))?);
    }
    if folders.is_empty() {
        return Ok(Finished {
            summary: "no device backups found in the backup folders".into(),
            warnings: true,
            link: Some("/".into()),
        });
    }
    let options = IngestOptions {
        ios_passwords: app.options.ios_passwords.clone(),
        ..IngestOptions::default()
    };
    let run = app
        .reads
        .with_lock(|lock| {
            backup_folders(
                app.repo,
                lock,
                &folders,
                &options,
                |folder| Labelled {
                    job: progress,
                    label: folder_label(folder),
                },
                |_, result| progress.log(device_line(result)),
            )
        })
        .map_err(|e| error_text(&e))?;
    let mut summary = format!(
        "{} snapshot(s) stored, {} unchanged",
        run.stored.len(),
        run.unchanged.len()
    );
    if !run.writing.is_empty() {
        summary.push_str(&format!(", {} still being written", run.writing.len()));
    }
    if !run.failures.is_empty() {
        return Err(format!(
            "{summary}; {} of {} device(s) could not be backed up (see the log)",
            run.failures.len(),
            folders.len()
        ));
    }
    Ok(Finished {
        summary,
        warnings: run.incomplete() || !run.writing.is_empty(),
        link: Some("/".into()),
    })
}

/// One line of the job's log per device folder.
fn device_line(result: &Result<DeviceOutcome, IngestError>) -> String {
    match result {
        Ok(DeviceOutcome::Stored(r)) => {
            let mut line = format!(
                "{}: snapshot {} stored — {} files: {} new, {} changed; added {}",
                r.device.label(),
                r.snapshot.short(),
                r.summary.files,
                r.summary.files_new,
                r.summary.files_changed,
                bytes(r.summary.bytes_added)
            );
            if !r.warnings.is_empty() {
                line.push_str(&format!(
                    " ({} problem(s) recorded in the snapshot)",
                    r.warnings.len()
                ));
            }
            line
        }
        Ok(DeviceOutcome::Unchanged(r)) => format!(
            "{}: unchanged since snapshot {}; nothing stored",
            r.device.label(),
            r.snapshot.short()
        ),
        Ok(DeviceOutcome::StillWriting(w)) => w.to_string(),
        // The error names the folder.
        Err(e) => format!("error: {}", error_text(e)),
    }
}

fn folder_label(folder: &Path) -> String {
    folder
        .file_name()
        .unwrap_or(folder.as_os_str())
        .to_string_lossy()
        .into_owned()
}

/// The job's progress, each phase named with the device folder it is of.
struct Labelled<'p> {
    job: &'p JobProgress,
    label: String,
}

impl Progress for Labelled<'_> {
    fn start(&self, phase: &str, total: Option<u64>) {
        self.job.start(&format!("{}: {phase}", self.label), total);
    }

    fn advance(&self, n: u64) {
        self.job.advance(n);
    }
}
