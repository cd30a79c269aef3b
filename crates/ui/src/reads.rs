//! The shared lock the pages read under, held as a lease.
//!
//! A page that reads packs (a tree, a file, a photo) must hold the repository's shared lock, or
//! a prune elsewhere could delete a pack under it. Taking a lock is a write to storage, too dear
//! per request; holding one for the server's life would block every prune. So the first read
//! takes it, later reads reuse it, and [`Reads::release_idle`] (called every few seconds) lets
//! it go once no read has come for [`IDLE`]. Taking the lock brings the repository's cache up to
//! date, and so does a read under a lease older than [`SYNC_EVERY`]: what another process
//! committed (a backup from the command line) shows on the next page within seconds.
//!
//! A job that needs the exclusive lock (prune) first shuts the gate ([`Reads::exclusive`]):
//! reads in flight finish, new ones wait, and the lease is let go before the job locks.

use hearth_format::LockInfo;
use hearth_repo::{LockGuard, RepoError, Repository};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// How long the lease outlives the last read.
pub const IDLE: Duration = Duration::from_secs(20);
/// How old the cache may get under a held lease before a read brings it up to date (one
/// listing of snapshots and index segments).
pub const SYNC_EVERY: Duration = Duration::from_secs(3);

pub struct Reads {
    repo: &'static Repository,
    lock_wait: Duration,
    idle: Duration,
    /// Readers hold it shared; a job that locks exclusively holds it alone.
    gate: RwLock<()>,
    lease: Mutex<Option<Lease>>,
}

struct Lease {
    /// Shared with a job that writes under it ([`Reads::with_lock`]) while it runs.
    guard: Arc<LockGuard>,
    last_read: Instant,
    synced: Instant,
}

impl Reads {
    /// A lease let go after `idle` without reads ([`IDLE`] in the server).
    pub fn new(repo: &'static Repository, lock_wait: Duration, idle: Duration) -> Self {
        Self {
            repo,
            lock_wait,
            idle,
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
        self.touch();
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

    /// Lets the lease go when no read has come for the idle time.
    pub fn release_idle(&self) {
        // A read in flight holds the gate; try_write fails then, and the lease stays.
        let Ok(_quiet) = self.gate.try_write() else {
            return;
        };
        let mut lease = self.lease.lock().unwrap_or_else(PoisonError::into_inner);
        if lease
            .as_ref()
            .is_some_and(|l| l.last_read.elapsed() >= self.idle)
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

    /// The lease, taken now if it had lapsed (which syncs the cache); a held lease's cache is
    /// synced when older than [`SYNC_EVERY`].
    fn renew(&self) -> Result<Arc<LockGuard>, RepoError> {
        let mut lease = self.lease.lock().unwrap_or_else(PoisonError::into_inner);
        match lease.as_mut() {
            Some(l) => {
                if l.synced.elapsed() >= SYNC_EVERY {
                    self.repo.sync_cache()?;
                    l.synced = Instant::now();
                }
                l.last_read = Instant::now();
                Ok(l.guard.clone())
            }
            None => {
                let guard = Arc::new(self.repo.lock_shared(self.lock_wait, &|_: &LockInfo| {})?);
                *lease = Some(Lease {
                    guard: guard.clone(),
                    last_read: Instant::now(),
                    synced: Instant::now(),
                });
                Ok(guard)
            }
        }
    }

    /// A read ended: the idle time counts from now.
    fn touch(&self) {
        if let Some(l) = self
            .lease
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            l.last_read = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_repo::RepoOptions;
    use hearth_storage::LocalBackend;
    use std::sync::Arc;

    fn repo(dir: &std::path::Path) -> &'static Repository {
        let backend = Arc::new(LocalBackend::create(&dir.join("repo")).unwrap());
        let mut options = RepoOptions {
            cache_root: Some(dir.join("cache")),
            ..RepoOptions::default()
        };
        (
            options.kdf.memory_kib,
            options.kdf.time,
            options.kdf.parallelism,
        ) = (64, 1, 1);
        Box::leak(Box::new(
            Repository::init(backend, b"pw", &options).unwrap(),
        ))
    }

    fn live_locks(repo: &Repository) -> Vec<bool> {
        repo.locks()
            .unwrap()
            .live
            .iter()
            .map(|(_, info)| info.exclusive)
            .collect()
    }

    #[test]
    fn the_lease_is_taken_by_a_read_kept_while_reads_come_and_let_go_when_idle() {
        let dir = tempfile::tempdir().unwrap();
        let repo = repo(dir.path());
        let reads = Reads::new(repo, Duration::from_secs(1), Duration::from_millis(300));
        assert!(live_locks(repo).is_empty());
        reads.read(|| Ok::<_, RepoError>(())).unwrap();
        assert_eq!(live_locks(repo), [false], "one shared lock while reading");
        reads.read(|| Ok::<_, RepoError>(())).unwrap();
        assert_eq!(
            live_locks(repo),
            [false],
            "the same lease, not a second lock"
        );
        reads.release_idle();
        assert!(reads.leased(), "not idle yet");
        std::thread::sleep(Duration::from_millis(400));
        reads.release_idle();
        assert!(!reads.leased());
        assert!(live_locks(repo).is_empty(), "an idle lease is let go");
    }

    #[test]
    fn an_exclusive_job_lets_the_lease_go_and_can_lock_exclusively() {
        let dir = tempfile::tempdir().unwrap();
        let repo = repo(dir.path());
        let reads = Reads::new(repo, Duration::from_secs(1), IDLE);
        reads.read(|| Ok::<_, RepoError>(())).unwrap();
        let locked = reads.exclusive(|| {
            let lock = repo.lock_exclusive(Duration::from_secs(1), &|_: &LockInfo| {});
            lock.map(|_held| live_locks(repo))
        });
        assert_eq!(locked.unwrap(), [true], "only the job's exclusive lock");
        assert!(live_locks(repo).is_empty());
        reads.read(|| Ok::<_, RepoError>(())).unwrap();
        assert_eq!(live_locks(repo), [false], "reads lease again after the job");
    }
}
