//! The shared lock the pages read under, held as a lease.
//!
//! A page that reads packs (a tree, a file, a photo) must hold the repository's shared lock, or
//! a prune elsewhere could delete a pack under it. Taking a lock is a write to storage, too dear
//! per request; holding one for the server's life would block every prune. So the first read
//! takes it, later reads reuse it, and [`Reads::release_idle`] (called every few seconds) lets
//! it go once no read has come for [`IDLE`]. Taking the lock also brings the repository's cache
//! up to date, so what another process committed shows on the next page after a quiet spell.
//!
//! A job that needs the exclusive lock (prune) first shuts the gate ([`Reads::exclusive`]):
//! reads in flight finish, new ones wait, and the lease is let go before the job locks.

use hearth_format::LockInfo;
use hearth_repo::{LockGuard, RepoError, Repository};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// How long the lease outlives the last read.
pub const IDLE: Duration = Duration::from_secs(20);

pub struct Reads {
    repo: &'static Repository,
    lock_wait: Duration,
    /// Readers hold it shared; a job that locks exclusively holds it alone.
    gate: RwLock<()>,
    lease: Mutex<Option<Lease>>,
}

struct Lease {
    /// Shared with a job that writes under it ([`Reads::with_lock`]) while it runs.
    guard: Arc<LockGuard>,
    last_read: Instant,
}

impl Reads {
    pub fn new(repo: &'static Repository, lock_wait: Duration) -> Self {
        Self {
            repo,
            lock_wait,
            gate: RwLock::new(()),
            lease: Mutex::new(None),
        }
    }

    /// Runs `read` under the shared lock (taken now if the lease had lapsed).
    pub fn read<T, E: From<RepoError>>(&self, read: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        self.with_lock(|_| read())
    }

    /// [`Reads::read`], handing `work` the shared lock itself: a backup writes under it.
    pub fn with_lock<T, E: From<RepoError>>(
        &self,
        work: impl FnOnce(&LockGuard) -> Result<T, E>,
    ) -> Result<T, E> {
        let _open = self.gate.read().unwrap_or_else(PoisonError::into_inner);
        let guard = self.renew()?;
        let result = work(&guard);
        self.renew()?;
        result
    }

    /// Runs `work` with no read in flight and the lease let go; reads wait until it ends.
    pub fn exclusive<T>(&self, work: impl FnOnce() -> T) -> T {
        let _shut = self.gate.write().unwrap_or_else(PoisonError::into_inner);
        self.lease
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        work()
    }

    /// Lets the lease go when no read has come for [`IDLE`].
    pub fn release_idle(&self) {
        // A read in flight holds the gate; try_write fails then, and the lease stays.
        let Ok(_quiet) = self.gate.try_write() else {
            return;
        };
        let mut lease = self.lease.lock().unwrap_or_else(PoisonError::into_inner);
        if lease
            .as_ref()
            .is_some_and(|l| l.last_read.elapsed() >= IDLE)
        {
            *lease = None;
        }
    }

    /// Whether the server holds the shared lock now.
    pub fn leased(&self) -> bool {
        self.lease
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// The lease, taken now if it had lapsed, its last read now.
    fn renew(&self) -> Result<Arc<LockGuard>, RepoError> {
        let mut lease = self.lease.lock().unwrap_or_else(PoisonError::into_inner);
        match lease.as_mut() {
            Some(l) => {
                l.last_read = Instant::now();
                Ok(l.guard.clone())
            }
            None => {
                let guard = Arc::new(self.repo.lock_shared(self.lock_wait, &|_: &LockInfo| {})?);
                *lease = Some(Lease {
                    guard: guard.clone(),
                    last_read: Instant::now(),
                });
                Ok(guard)
            }
        }
    }
}
