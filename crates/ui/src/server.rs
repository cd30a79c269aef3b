//! The server: bound, then run until stopped.

use crate::auth::Auth;
use crate::error::UiError;
use crate::jobs::Jobs;
use crate::kept::{self, Kept};
use crate::reads::Reads;
use crate::state::App;
use hearth_ingest::IosPasswords;
use hearth_repo::Repository;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How often an idle read lease is looked at.
const LEASE_CHECK: Duration = Duration::from_secs(5);

/// What the server needs besides the repository.
pub struct UiOptions {
    /// Where to listen; port 0 takes a free one.
    pub listen: SocketAddr,
    /// The password of `/login`; required beyond loopback.
    pub password: Option<Vec<u8>>,
    /// The MobileSync folders "Back up now" backs up (each holds `<UDID>` device folders).
    pub backup_sources: Vec<PathBuf>,
    /// Passwords of encrypted iOS backups, for "Back up now".
    pub ios_passwords: Option<Arc<dyn IosPasswords>>,
    /// The export library: where "Export" writes, and the folder restore images go under
    /// unless a page names another.
    pub library: PathBuf,
    /// How long a job waits for another process's lock.
    pub lock_wait: Duration,
}

pub struct Server {
    listener: TcpListener,
    app: Arc<App>,
    stop: Arc<Notify>,
}

/// Stops a running [`Server`] from another thread.
#[derive(Clone)]
pub struct Stopper(Arc<Notify>);

impl Stopper {
    pub fn stop(&self) {
        self.0.notify_one();
    }
}

impl Server {
    /// Binds the address; nothing is served until [`Server::run`]. Beyond loopback a password
    /// is required.
    pub fn bind(repo: &'static Repository, options: UiOptions) -> Result<Self, UiError> {
        let addr = options.listen;
        if !addr.ip().is_loopback() && options.password.as_ref().is_none_or(|p| p.is_empty()) {
            return Err(UiError::RemoteWithoutPassword(addr));
        }
        let listener = TcpListener::bind(addr).map_err(|source| UiError::Bind { addr, source })?;
        let bound = listener.local_addr().map_err(UiError::Serve)?;
        let auth = Auth::new(bound, options.password.clone()).map_err(|e| {
            UiError::Internal(format!("no random numbers for the session token: {e}"))
        })?;
        let app = Arc::new(App {
            repo,
            auth,
            reads: Reads::new(repo, options.lock_wait, crate::reads::IDLE),
            jobs: Jobs::default(),
            files: Kept::new(kept::TREES),
            catalogues: Kept::new(kept::CATALOGUES),
            storage: Default::default(),
            options,
        });
        Ok(Self {
            listener,
            app,
            stop: Arc::default(),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound socket has an address")
    }

    /// The URL that opens the dashboard: it carries the session token once.
    pub fn url(&self) -> String {
        let addr = self.local_addr();
        let host = match addr.ip().is_unspecified() {
            true => format!("127.0.0.1:{}", addr.port()),
            false => addr.to_string(),
        };
        format!("http://{host}/?token={}", self.app.auth.token())
    }

    pub fn stopper(&self) -> Stopper {
        Stopper(self.stop.clone())
    }

    /// Serves until stopped (blocking). A job still running is left to finish its step: the
    /// process ending ends it, as an interrupted command would be.
    pub fn run(self) -> Result<(), UiError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("hearth-ui")
            .enable_all()
            .build()
            .map_err(UiError::Serve)?;
        runtime.block_on(self.serve())
    }

    async fn serve(self) -> Result<(), UiError> {
        self.listener
            .set_nonblocking(true)
            .map_err(UiError::Serve)?;
        let listener = tokio::net::TcpListener::from_std(self.listener).map_err(UiError::Serve)?;
        let app = self.app.clone();
        let leases = tokio::spawn(async move {
            loop {
                tokio::time::sleep(LEASE_CHECK).await;
                let app = app.clone();
                let _ = tokio::task::spawn_blocking(move || app.reads.release_idle()).await;
            }
        });
        let stop = self.stop.clone();
        let served = axum::serve(listener, crate::routes::router(self.app.clone()))
            .with_graceful_shutdown(async move { stop.notified().await })
            .await;
        leases.abort();
        // The lease goes with the app; a reader still holding it lets it go when it ends.
        let app = self.app.clone();
        let _ = tokio::task::spawn_blocking(move || app.reads.exclusive(|| ())).await;
        served.map_err(UiError::Serve)
    }
}
