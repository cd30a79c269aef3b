//! "Check": the repository's structure, and optionally a share of its data read back.

use super::{Fields, busy};
use crate::error::{UiError, error_text};
use crate::jobs::{Finished, Job};
use crate::state::App;
use hearth_repo::{CheckOptions, ReadData};
use std::sync::Arc;

pub fn start(app: &Arc<App>, fields: &Fields) -> Result<Arc<Job>, UiError> {
    let read_data = match fields.get("read_data").map(String::as_str) {
        None | Some("" | "none") => ReadData::None,
        Some("all") => ReadData::All,
        Some(subset) => ReadData::parse_subset(subset)
            .map_err(|e| UiError::BadRequest(format!("read data {subset:?}: {e}")))?,
    };
    let title = match read_data {
        ReadData::None => "Check".to_owned(),
        other => format!("Check, reading {other} of the data"),
    };
    let runner = app.clone();
    app.jobs
        .start(title, move |progress| {
            let report = runner
                .reads
                .read(|| runner.repo.check(CheckOptions { read_data }, progress))
                .map_err(|e| error_text(&e))?;
            runner
                .repo
                .record_check(&report, read_data)
                .map_err(|e| error_text(&e))?;
            for d in &report.damage {
                progress.log(format!("damaged: {}: {}", d.object, d.problem));
            }
            Ok(Finished {
                summary: match report.is_ok() {
                    true => format!(
                        "no errors found in {} snapshots and {} packs",
                        report.snapshots, report.packs
                    ),
                    false => format!("{} problem(s) found: see the log", report.damage.len()),
                },
                warnings: !report.is_ok(),
                link: Some("/".into()),
            })
        })
        .map_err(busy)
}
