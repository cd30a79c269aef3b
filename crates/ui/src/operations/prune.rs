//! "Prune": packs that no snapshot uses are deleted (and mostly unused ones repacked), under
//! the exclusive lock; the pages' read lease is let go first.

use crate::error::{UiError, error_text};
use crate::format::bytes;
use crate::jobs::{Finished, Job};
use crate::state::App;
use hearth_format::LockInfo;
use hearth_repo::{Progress, PruneOptions};
use std::sync::Arc;

pub fn start(app: &Arc<App>) -> Result<Arc<Job>, UiError> {
    let runner = app.clone();
    app.jobs
        .start("Prune", move |progress| {
            let repo = runner.repo;
            runner.reads.exclusive(|| {
                progress.start("waiting for other backups and readers", None);
                let lock = repo
                    .lock_exclusive(runner.options.lock_wait, &|holder: &LockInfo| {
                        progress.log(format!(
                            "waiting for pid {} on {} to finish",
                            holder.pid, holder.host
                        ))
                    })
                    .map_err(|e| error_text(&e))?;
                let plan = repo
                    .prune_plan(&lock, &PruneOptions::default(), progress)
                    .map_err(|e| error_text(&e))?;
                let report = repo
                    .prune(&lock, &plan, progress)
                    .map_err(|e| error_text(&e))?;
                progress.log(format!(
                    "{} packs deleted, {} repacked",
                    plan.delete.len(),
                    plan.repack.len()
                ));
                Ok(Finished {
                    summary: format!("{} freed", bytes(plan.bytes_freed())),
                    warnings: !report.blobs_lost.is_empty() || !plan.unreadable.is_empty(),
                    link: Some("/".into()),
                })
            })
        })
        .map_err(super::busy)
}
