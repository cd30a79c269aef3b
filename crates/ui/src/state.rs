//! What every handler shares.

use crate::auth::Auth;
use crate::error::UiError;
use crate::jobs::Jobs;
use crate::kept::Kept;
use crate::reads::Reads;
use crate::server::UiOptions;
use crate::storage::StorageFigures;
use hearth_browse::SnapshotFiles;
use hearth_export::PhotoCatalogue;
use hearth_format::{Snapshot, SnapshotId};
use hearth_repo::Repository;
use std::sync::Arc;

pub struct App {
    pub repo: &'static Repository,
    pub auth: Auth,
    pub reads: Reads,
    pub jobs: Jobs,
    /// The file trees pages read lately.
    pub files: Kept<SnapshotFiles>,
    /// The photo catalogues pages read lately.
    pub catalogues: Kept<PhotoCatalogue>,
    pub storage: StorageFigures,
    pub options: UiOptions,
}

impl App {
    /// A snapshot's file tree, kept for the next page.
    pub fn snapshot_files(
        &self,
        id: SnapshotId,
        snapshot: &Snapshot,
    ) -> Result<Arc<SnapshotFiles>, UiError> {
        self.files
            .get(id, || Ok(SnapshotFiles::load(self.repo, snapshot)?))
    }

    /// Runs blocking repository work off the async threads, under the read lease.
    pub async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&App) -> Result<T, UiError> + Send + 'static,
    ) -> Result<T, UiError> {
        let app = self.clone();
        tokio::task::spawn_blocking(move || app.reads.read(|| work(&app)))
            .await
            .map_err(|e| UiError::Internal(e.to_string()))?
    }
}
