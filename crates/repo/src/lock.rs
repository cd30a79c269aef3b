//! Repository locks (`docs/format.md` §10).

use crate::error::RepoError;
use crate::repository::Repository;
use hearth_crypto::Keys;
use hearth_format::{LockId, LockInfo, ObjectKind};
use hearth_storage::{Backend, FileType};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A lock not refreshed for this long is stale, wherever its holder runs.
pub const STALE_AFTER_SECS: i64 = 30 * 60;
const REFRESH_EVERY: Duration = Duration::from_secs(5 * 60);
/// How often a waiting lock looks again (plus up to half a second of jitter).
const LOCK_POLL: Duration = Duration::from_millis(500);

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::from("unknown-host");
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

pub(crate) fn pid_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[derive(Debug, Clone)]
pub struct StaleLock {
    pub id: LockId,
    pub info: LockInfo,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct LockState {
    pub live: Vec<(LockId, LockInfo)>,
    pub stale: Vec<StaleLock>,
}

/// Held while a command works; dropping it removes the lock.
pub struct LockGuard {
    stop: Option<mpsc::Sender<()>>,
    refresher: Option<JoinHandle<()>>,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(h) = self.refresher.take() {
            let _ = h.join();
        }
    }
}

/// A live lock (other than `mine`) that an `exclusive` or shared lock cannot coexist with.
fn conflict(state: &LockState, exclusive: bool, mine: Option<LockId>) -> Option<LockInfo> {
    state
        .live
        .iter()
        .filter(|(id, _)| Some(*id) != mine)
        .find(|(_, l)| exclusive || l.exclusive)
        .map(|(_, l)| l.clone())
}

fn write_lock(backend: &dyn Backend, keys: &Keys, info: &LockInfo) -> Result<LockId, RepoError> {
    let id = LockId(hearth_crypto::random_bytes());
    backend.put(
        FileType::Lock,
        &id.to_hex(),
        &keys.seal_object(ObjectKind::Lock, &info.encode()),
    )?;
    Ok(id)
}

impl Repository {
    /// Takes a lock (shared for backups, exclusive for prune and forget) and refreshes it in
    /// the background. While another process holds a conflicting live lock, waits up to `wait`
    /// (calling `waiting` once with the holder), then fails naming the holder. Stale locks
    /// (dead process on this host, or not refreshed for 30 minutes) never block.
    ///
    /// Two processes locking at once cannot both win: each writes its lock first and then looks
    /// again; one that sees a conflict withdraws its lock and retries after a random pause.
    pub fn lock(
        &self,
        exclusive: bool,
        wait: Duration,
        waiting: &dyn Fn(&LockInfo),
    ) -> Result<LockGuard, RepoError> {
        let deadline = Instant::now() + wait;
        let mut announced = false;
        loop {
            let holder = match self.try_lock(exclusive)? {
                Ok(guard) => {
                    // What others committed (or pruned) before we held the lock must be seen.
                    self.sync_cache()?;
                    return Ok(guard);
                }
                Err(holder) => holder,
            };
            if Instant::now() >= deadline {
                return Err(RepoError::Locked(format!(
                    "the repository is locked by {} (pid {}) on {}; wait for it to finish (--lock-wait), or run `hearth unlock` if that process is gone",
                    if holder.exclusive {
                        "an exclusive lock (prune or forget)"
                    } else {
                        "a running backup"
                    },
                    holder.pid,
                    holder.host
                )));
            }
            if !announced {
                waiting(&holder);
                announced = true;
            }
            let jitter = u64::from(hearth_crypto::random_bytes::<1>()[0]) * 2;
            std::thread::sleep(
                LOCK_POLL.min(deadline - Instant::now()) + Duration::from_millis(jitter),
            );
        }
    }

    /// One attempt: the lock, or the live lock that conflicts with it.
    fn try_lock(&self, exclusive: bool) -> Result<Result<LockGuard, LockInfo>, RepoError> {
        if let Some(holder) = conflict(&self.locks()?, exclusive, None) {
            return Ok(Err(holder));
        }
        let now = unix_now();
        let mut info = LockInfo {
            exclusive,
            host: hostname(),
            pid: std::process::id(),
            created: now,
            refreshed: now,
        };
        let first = write_lock(&*self.backend, &self.keys, &info)?;
        if let Some(holder) = conflict(&self.locks()?, exclusive, Some(first)) {
            self.backend.delete(FileType::Lock, &first.to_hex())?;
            return Ok(Err(holder));
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let backend = Arc::clone(&self.backend);
        let keys = self.keys.clone();
        let refresher = std::thread::spawn(move || {
            let mut current = first;
            // Wakes every REFRESH_EVERY; a message or a closed channel means stop.
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(REFRESH_EVERY) {
                info.refreshed = unix_now();
                if let Ok(next) = write_lock(&*backend, &keys, &info) {
                    let _ = backend.delete(FileType::Lock, &current.to_hex());
                    current = next;
                }
            }
            let _ = backend.delete(FileType::Lock, &current.to_hex());
        });
        Ok(Ok(LockGuard {
            stop: Some(stop),
            refresher: Some(refresher),
        }))
    }

    /// Every lock, sorted into live and stale.
    pub fn locks(&self) -> Result<LockState, RepoError> {
        let (host, now) = (hostname(), unix_now());
        let mut state = LockState {
            live: Vec::new(),
            stale: Vec::new(),
        };
        for obj in self.backend.list(FileType::Lock)? {
            let id = LockId::from_hex(&obj.name).expect("listed names are ids");
            let bytes = match self.backend.get(FileType::Lock, &obj.name) {
                Ok(b) => b,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e.into()),
            };
            let info = self
                .keys
                .open_object(ObjectKind::Lock, &bytes)
                .ok()
                .and_then(|p| LockInfo::decode(&p).ok());
            let Some(info) = info else {
                state.stale.push(StaleLock {
                    id,
                    info: LockInfo {
                        exclusive: false,
                        host: String::new(),
                        pid: 0,
                        created: 0,
                        refreshed: 0,
                    },
                    reason: "unreadable lock file".into(),
                });
                continue;
            };
            let reason = if info.host == host && !pid_alive(info.pid) {
                Some(format!(
                    "process {} on this host ({host}) is no longer running",
                    info.pid
                ))
            } else if now - info.refreshed > STALE_AFTER_SECS {
                Some(format!(
                    "not refreshed for {} minutes",
                    (now - info.refreshed) / 60
                ))
            } else {
                None
            };
            match reason {
                Some(reason) => state.stale.push(StaleLock { id, info, reason }),
                None => state.live.push((id, info)),
            }
        }
        Ok(state)
    }

    /// Deletes stale locks; returns them.
    pub fn remove_stale_locks(&self) -> Result<Vec<StaleLock>, RepoError> {
        let stale = self.locks()?.stale;
        for l in &stale {
            self.backend.delete(FileType::Lock, &l.id.to_hex())?;
        }
        Ok(stale)
    }
}
