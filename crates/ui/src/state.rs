//! What every handler shares.

use crate::auth::Auth;
use crate::error::UiError;
use crate::files_cache::FilesCache;
use crate::jobs::Jobs;
use crate::reads::Reads;
use crate::server::UiOptions;
use crate::storage::StorageFigures;
use hearth_repo::Repository;
use std::sync::Arc;

pub struct App {
    pub repo: &'static Repository,
    pub auth: Auth,
    pub reads: Reads,
    pub jobs: Jobs,
    pub files: FilesCache,
    pub storage: StorageFigures,
    pub options: UiOptions,
}

impl App {
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
