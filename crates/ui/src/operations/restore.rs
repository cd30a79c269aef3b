//! "Write the image": a snapshot restored as a device folder Finder or `idevicebackup2 restore`
//! can use, for the same device or another ([`hearth_restore::execute`]), under the pages'
//! shared lock. What the restore planner page shows ([`Choice`]) is what the job writes.

use super::Fields;
use crate::error::{UiError, error_text};
use crate::format::bytes;
use crate::jobs::{Finished, Job, JobProgress};
use crate::state::App;
use hearth_format::{Snapshot, SnapshotId};
use hearth_restore::{PlanOptions, Target, execute, parse_capacity, plan_restore};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a restore form names: the snapshot, the target and its capacity. The same fields
/// serve the planner's GET form and the job's POST.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Choice {
    /// The snapshot's full hex id; none: the planner's default.
    pub snapshot: Option<String>,
    pub target: TargetChoice,
    /// As typed, e.g. `128GB`; empty: no limit.
    pub capacity: String,
    /// Drop categories until the image fits `capacity`.
    pub fit: bool,
}

/// The `target` field: `same` (or nothing), `model` (with `model` and `ios`), or a household
/// device's UDID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TargetChoice {
    #[default]
    Same,
    Device(String),
    Model {
        model: String,
        ios: String,
    },
}

impl Choice {
    pub fn from_fields(fields: &Fields) -> Choice {
        let get = |name: &str| {
            fields
                .get(name)
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        let target = match get("target").as_str() {
            "" | "same" => TargetChoice::Same,
            "model" => TargetChoice::Model {
                model: get("model"),
                ios: get("ios"),
            },
            udid => TargetChoice::Device(udid.to_owned()),
        };
        Choice {
            snapshot: Some(get("snapshot")).filter(|s| !s.is_empty()),
            target,
            capacity: get("capacity"),
            fit: matches!(get("fit").as_str(), "on" | "1" | "true"),
        }
    }

    /// The form fields that name this choice again (for the write form under a plan).
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let (target, model, ios) = match &self.target {
            TargetChoice::Same => ("same".to_owned(), "", ""),
            TargetChoice::Device(udid) => (udid.clone(), "", ""),
            TargetChoice::Model { model, ios } => {
                ("model".to_owned(), model.as_str(), ios.as_str())
            }
        };
        let mut out = vec![
            ("snapshot", self.snapshot.clone().unwrap_or_default()),
            ("target", target),
            ("model", model.to_owned()),
            ("ios", ios.to_owned()),
            ("capacity", self.capacity.clone()),
        ];
        if self.fit {
            out.push(("fit", "on".into()));
        }
        out
    }

    /// The plan's options: the target a household device or a model names, the capacity
    /// read. A choice that names nothing valid is a bad request saying which field is wrong.
    pub fn plan_options(&self, app: &App) -> Result<PlanOptions, UiError> {
        let target = match &self.target {
            TargetChoice::Same => None,
            TargetChoice::Device(udid) => Some(
                hearth_restore::household_devices(app.repo)?
                    .iter()
                    .find(|d| d.udid == *udid)
                    .map(Target::of_device)
                    .ok_or_else(|| {
                        UiError::BadRequest(format!("no household device {udid:?} to restore onto"))
                    })?,
            ),
            TargetChoice::Model { model, ios } => Some(
                Target::model(model, ios)
                    .map_err(|e| UiError::BadRequest(format!("target: {e}")))?,
            ),
        };
        let capacity = match self.capacity.as_str() {
            "" => None,
            c => {
                Some(parse_capacity(c).map_err(|e| UiError::BadRequest(format!("capacity: {e}")))?)
            }
        };
        if self.fit && capacity.is_none() {
            return Err(UiError::BadRequest(
                "“fit” needs the target's capacity".into(),
            ));
        }
        Ok(PlanOptions {
            target,
            capacity,
            fit: self.fit,
            decrypt: false,
        })
    }
}

/// Where an image of `snapshot` goes unless the form names a folder:
/// `<library>/restores/<device>-<YYYY-MM-DD>` (the snapshot's local date).
pub fn default_folder(library: &Path, snapshot: &Snapshot) -> PathBuf {
    let day = hearth_repo::local_time::local_minute(snapshot.time);
    let day = day.get(..10).unwrap_or(&day);
    let name = hearth_export::safe_name(&format!("{}-{day}", snapshot.device.label()));
    library.join("restores").join(name)
}

pub fn start(app: &Arc<App>, fields: &Fields) -> Result<Arc<Job>, UiError> {
    let choice = Choice::from_fields(fields);
    let hex = choice
        .snapshot
        .clone()
        .ok_or_else(|| UiError::BadRequest("the form names no snapshot".into()))?;
    let (id, snapshot, options) = app.reads.read(|| {
        let (id, snapshot) = crate::pages::snapshot(app, &hex)?;
        Ok::<_, UiError>((id, snapshot, choice.plan_options(app)?))
    })?;
    let folder = match fields.get("folder").map(|f| f.trim()) {
        None | Some("") => default_folder(&app.options.library, &snapshot),
        Some(f) => PathBuf::from(f),
    };
    check_folder(&folder)?;
    let title = format!("Restore {}", snapshot.device.label());
    let runner = app.clone();
    app.jobs
        .start(title, move |progress| {
            restore(&runner, id, &snapshot, &options, &folder, progress)
        })
        .map_err(super::busy)
}

/// A folder the image may go into: a full path, and nothing there yet (or an empty folder).
fn check_folder(folder: &Path) -> Result<(), UiError> {
    if !folder.is_absolute() {
        return Err(UiError::BadRequest(format!(
            "{}: give the folder as a full path (starting with /)",
            folder.display()
        )));
    }
    match std::fs::read_dir(folder) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(UiError::BadRequest(format!(
            "{}: cannot use this folder: {e}",
            folder.display()
        ))),
        Ok(mut entries) => match entries.next() {
            None => Ok(()),
            Some(_) => Err(UiError::BadRequest(format!(
                "{} exists and is not empty: choose another folder for the image",
                folder.display()
            ))),
        },
    }
}

fn restore(
    app: &App,
    id: SnapshotId,
    snapshot: &Snapshot,
    options: &PlanOptions,
    folder: &Path,
    progress: &JobProgress,
) -> Result<Finished, String> {
    let report = app
        .reads
        .with_lock(|lock| {
            hearth_repo::Progress::start(progress, "planning", None);
            let plan = plan_restore(app.repo, snapshot, options)?;
            if let Some(reason) = &plan.refused {
                return Err(hearth_restore::RestoreError::Refused(reason.clone()));
            }
            let done = execute(app.repo, &plan, folder, progress);
            // Data that did not read once the lock was lost may have been pruned elsewhere,
            // not damaged: the same restore run again finishes it.
            if done.as_ref().map_or(true, |r| !r.damaged.is_empty()) {
                lock.check()?;
            }
            done
        })
        .map_err(|e| error_text(&e))?;
    if let Some(notice) = &report.notice {
        progress.log(format!("note: {notice}"));
    }
    for d in &report.damaged {
        progress.log(format!("damaged: {}: {}", d.path, d.problem));
    }
    progress.log(format!("snapshot {}", id.to_hex()));
    let mut summary = format!(
        "{} files ({}) written into {}",
        report.files,
        bytes(report.bytes),
        report.folder.display()
    );
    if !report.damaged.is_empty() {
        summary.push_str(&format!(
            "; {} file(s) could not be restored (their stored bytes are damaged: see the log)",
            report.damaged.len()
        ));
    }
    Ok(Finished {
        summary,
        warnings: !report.damaged.is_empty(),
        link: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_form_names_its_target_and_names_it_again_for_the_write_form() {
        let model = Choice::from_fields(&fields(&[
            ("snapshot", "ab"),
            ("target", "model"),
            ("model", " iPad13,1 "),
            ("ios", "17.5"),
            ("capacity", "64G"),
            ("fit", "on"),
        ]));
        assert_eq!(
            model.target,
            TargetChoice::Model {
                model: "iPad13,1".into(),
                ios: "17.5".into()
            }
        );
        assert!(model.fit);
        let again = Choice::from_fields(
            &model
                .fields()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        );
        assert_eq!(again, model);
        let same = Choice::from_fields(&fields(&[("target", "")]));
        assert_eq!((same.target, same.snapshot), (TargetChoice::Same, None));
        let device = Choice::from_fields(&fields(&[("target", "00008110-AAAA")]));
        assert_eq!(device.target, TargetChoice::Device("00008110-AAAA".into()));
    }

    #[test]
    fn the_image_goes_only_into_a_new_or_empty_folder_given_as_a_full_path() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_folder(&dir.path().join("new")).is_ok());
        assert!(check_folder(dir.path()).is_ok());
        std::fs::write(dir.path().join("x"), b"x").unwrap();
        let busy = check_folder(dir.path()).unwrap_err().to_string();
        assert!(busy.contains("exists and is not empty"), "{busy}");
        assert!(busy.contains(&dir.path().display().to_string()), "{busy}");
        let relative = check_folder(Path::new("restores/x"))
            .unwrap_err()
            .to_string();
        assert!(relative.contains("full path"), "{relative}");
    }
}
