//! The repository's storage figures ([`RepoStats`]), computed off the page's path.
//!
//! `Repository::stats` streams every snapshot's files; on a household of 200,000-file devices
//! that takes seconds, too long for a page. The overview asks [`StorageFigures::get`], which
//! answers what it has (or nothing yet) and starts a computation in the background when the
//! snapshots have changed since the last one.

use crate::error::error_text;
use crate::state::App;
use hearth_format::SnapshotId;
use hearth_repo::RepoStats;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Default)]
pub struct StorageFigures {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The snapshots the figures are for, sorted.
    of: Vec<SnapshotId>,
    figures: Option<Result<Arc<RepoStats>, String>>,
    computing: bool,
}

/// What the overview shows.
pub enum Figures {
    Ready(Arc<RepoStats>),
    Failed(String),
    /// Being computed; the page asks again.
    Pending,
}

impl StorageFigures {
    /// The figures for `snapshots`, or Pending (and the computation started).
    pub fn get(app: &Arc<App>, mut snapshots: Vec<SnapshotId>) -> Figures {
        snapshots.sort();
        let mut inner = app
            .storage
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if inner.of == snapshots {
            match &inner.figures {
                Some(Ok(f)) => return Figures::Ready(f.clone()),
                Some(Err(e)) => return Figures::Failed(e.clone()),
                None => {}
            }
        }
        if !inner.computing {
            inner.computing = true;
            let app = app.clone();
            std::thread::spawn(move || {
                let result = app.reads.read(|| app.repo.stats());
                let mut inner = app
                    .storage
                    .inner
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                inner.computing = false;
                inner.of = snapshots;
                inner.figures = Some(result.map(Arc::new).map_err(|e| error_text(&e)));
            });
        }
        Figures::Pending
    }
}
