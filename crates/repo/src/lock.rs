//! Repository locks (`docs/format.md` §10), held as a capability.
//!
//! A [`LockGuard`] (any lock: shared, or the exclusive one inside an [`ExclusiveLock`]) is what
//! the write paths take as a parameter: [`Repository::write_session`] and so every snapshot
//! commit need one; forget, prune and the repairs need an [`ExclusiveLock`]. So "the caller
//! holds a lock" is a fact the types check, not a comment.
//!
//! A lock protects only while other computers see it as live, that is, while it was refreshed
//! less than [`LockTimes::stale_after`] ago by their clocks. A holder whose lock could not be
//! refreshed (storage unreachable, the computer asleep, the process stopped) for
//! [`LockTimes::give_up_after`] has *lost* it: another computer may soon take it for stale and
//! prune as if nothing ran. Every write path asks the guard first ([`LockGuard::check`]), and a
//! lost lock stays lost: the command stops before it writes anything more, even if a refresh
//! would succeed again, since a prune elsewhere may already have run.

use crate::error::RepoError;
use crate::repository::Repository;
use hearth_crypto::Keys;
use hearth_format::{LockId, LockInfo, ObjectKind};
use hearth_storage::{Backend, FileType};
use std::ops::Deref;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often a waiting lock looks again (plus up to half a second of jitter).
const LOCK_POLL: Duration = Duration::from_millis(500);

/// How long a lock lives without a refresh, and when its holder gives it up. Every computer
/// that uses a repository must agree on `stale_after` (the format's 30 minutes); only tests
/// scale the times down ([`LockTimes::scaled`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockTimes {
    /// A lock not refreshed for this long is stale, wherever its holder runs.
    pub stale_after: Duration,
    /// A holder refreshes its lock this often.
    pub refresh_every: Duration,
    /// A holder whose lock was last refreshed this long ago stops writing. What is left until
    /// `stale_after` is the margin for a write already under way when it looked, and for
    /// clocks that differ between computers.
    pub give_up_after: Duration,
}

impl LockTimes {
    /// The format's times: stale after 30 minutes, refreshed every 5, given up after 20.
    pub const FORMAT: LockTimes = LockTimes {
        stale_after: Duration::from_secs(30 * 60),
        refresh_every: Duration::from_secs(5 * 60),
        give_up_after: Duration::from_secs(20 * 60),
    };

    /// The format's proportions for another stale time (tests: a lock stale in seconds).
    pub fn scaled(stale_after: Duration) -> Self {
        let refresh_every = stale_after / 6;
        LockTimes {
            stale_after,
            refresh_every,
            give_up_after: stale_after - 2 * refresh_every,
        }
    }

    /// How often the refresher looks at the clock: a failed refresh is tried again this soon,
    /// and a wake from sleep is noticed within this.
    fn tick(&self) -> Duration {
        self.refresh_every / 5
    }
}

impl Default for LockTimes {
    fn default() -> Self {
        Self::FORMAT
    }
}

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

/// A moment by both clocks. Other computers compare a lock's `refreshed` time with their wall
/// clock, which runs on while this computer sleeps; the monotonic clock does not jump back when
/// the wall clock is set back. A moment's age is the larger of the two.
#[derive(Debug, Clone, Copy)]
struct Stamp {
    wall: SystemTime,
    mono: Instant,
}

impl Stamp {
    /// Now, the wall clock cut to the whole second a lock file records (so the lock is never
    /// older than its holder thinks).
    fn now() -> Self {
        let mono = Instant::now();
        let secs = (SystemTime::now().duration_since(UNIX_EPOCH))
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Stamp {
            wall: UNIX_EPOCH + Duration::from_secs(secs),
            mono,
        }
    }

    fn unix_secs(&self) -> i64 {
        (self.wall.duration_since(UNIX_EPOCH))
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }

    fn age(&self) -> Duration {
        let wall = self.wall.elapsed().unwrap_or_default();
        wall.max(self.mono.elapsed())
    }
}

/// Whether a held lock still protects its holder. Shared by the guard, its refresher thread
/// and the writers (the pack storer thread too).
#[derive(Debug)]
pub(crate) struct Freshness {
    give_up_after: Duration,
    state: Mutex<Fresh>,
}

#[derive(Debug)]
struct Fresh {
    /// The `refreshed` time of the newest lock file known to be on storage: a refresh being
    /// written counts only once its write has returned.
    last: Stamp,
    /// Set, with how long the lock had not been refreshed, once it may have gone stale; never
    /// cleared.
    lost: Option<Duration>,
}

impl Freshness {
    fn new(last: Stamp, give_up_after: Duration) -> Self {
        Freshness {
            give_up_after,
            state: Mutex::new(Fresh { last, lost: None }),
        }
    }

    /// Ok while the lock is fresh; [`RepoError::LockLost`] from the moment it was last refreshed
    /// `give_up_after` ago, and ever after.
    pub(crate) fn check(&self) -> Result<(), RepoError> {
        let mut fresh = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.judge(&mut fresh)
    }

    fn judge(&self, fresh: &mut Fresh) -> Result<(), RepoError> {
        if fresh.lost.is_none() {
            let age = fresh.last.age();
            if age >= self.give_up_after {
                fresh.lost = Some(age);
            }
        }
        match fresh.lost {
            Some(unrefreshed) => Err(RepoError::LockLost { unrefreshed }),
            None => Ok(()),
        }
    }

    /// A refresh stamped `at` is on storage. The lock it replaces covered the holder until now
    /// only if it is still fresh now (the write may have hung, or the computer slept in it):
    /// if not, the lock is lost whatever the new file says.
    fn refreshed(&self, at: Stamp) {
        let mut fresh = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if self.judge(&mut fresh).is_ok() {
            fresh.last = at;
        }
    }

    /// How long ago the newest lock on storage was refreshed.
    fn age(&self) -> Duration {
        let fresh = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        fresh.last.age()
    }
}

/// A lock held on a repository: a shared one, or the exclusive one inside an
/// [`ExclusiveLock`]. It is refreshed in the background while it lives, and dropping it removes
/// it. The write paths take it as a parameter and [`LockGuard::check`] it before each write.
pub struct LockGuard {
    exclusive: bool,
    /// The repository it was taken on (`config`'s repository id).
    repository: [u8; 32],
    freshness: Arc<Freshness>,
    stop: Option<mpsc::Sender<()>>,
    refresher: Option<JoinHandle<()>>,
}

impl LockGuard {
    pub fn is_exclusive(&self) -> bool {
        self.exclusive
    }

    /// Ok while the lock protects its holder; [`RepoError::LockLost`] once it could not be
    /// refreshed for [`LockTimes::give_up_after`] (by the wall clock too, so time asleep or
    /// stopped counts), and ever after.
    pub fn check(&self) -> Result<(), RepoError> {
        self.freshness.check()
    }

    pub(crate) fn freshness(&self) -> Arc<Freshness> {
        Arc::clone(&self.freshness)
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(h) = self.refresher.take() {
            let _ = h.join();
        }
    }
}

/// An exclusive lock: no other process holds a live lock meanwhile. What forget, prune and the
/// repairs need; it serves as a [`LockGuard`] wherever one is asked for.
pub struct ExclusiveLock(LockGuard);

impl Deref for ExclusiveLock {
    type Target = LockGuard;

    fn deref(&self) -> &LockGuard {
        &self.0
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

/// What the refresher thread works with.
struct Refresher {
    backend: Arc<dyn Backend>,
    keys: Keys,
    info: LockInfo,
    current: LockId,
    freshness: Arc<Freshness>,
    times: LockTimes,
}

impl Refresher {
    /// Refreshes the lock until told to stop, then removes it. It looks at the clocks every
    /// tick and refreshes once `refresh_every` has passed since the last refresh on storage (a
    /// failed one is tried again the next tick). A lost lock is never refreshed again: another
    /// computer may already have taken it for stale.
    fn run(mut self, stopped: Receiver<()>) {
        while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(self.times.tick()) {
            if self.freshness.check().is_err() {
                let _ = stopped.recv();
                break;
            }
            if self.freshness.age() >= self.times.refresh_every {
                self.refresh();
            }
        }
        let _ = self.backend.delete(FileType::Lock, &self.current.to_hex());
    }

    /// Writes a new lock file, then deletes the old one, so a live holder always has a lock on
    /// storage.
    fn refresh(&mut self) {
        let at = Stamp::now();
        self.info.refreshed = at.unix_secs();
        if let Ok(next) = write_lock(&*self.backend, &self.keys, &self.info) {
            self.freshness.refreshed(at);
            let _ = self.backend.delete(FileType::Lock, &self.current.to_hex());
            self.current = next;
        }
    }
}

impl Repository {
    /// Takes a shared lock (a backup, or a command that reads packs): many can be held at once,
    /// and none while an exclusive one is. See [`Repository::lock_exclusive`] for the waiting.
    pub fn lock_shared(
        &self,
        wait: Duration,
        waiting: &dyn Fn(&LockInfo),
    ) -> Result<LockGuard, RepoError> {
        self.lock(false, wait, waiting)
    }

    /// Takes the exclusive lock (forget, prune, repairs) and refreshes it in the background.
    /// While another process holds a conflicting live lock, waits up to `wait` (calling
    /// `waiting` once with the holder), then fails naming the holder. Stale locks (dead process
    /// on this host, or not refreshed for [`LockTimes::stale_after`]) never block.
    ///
    /// Two processes locking at once cannot both win: each writes its lock first and then looks
    /// again; one that sees a conflict withdraws its lock and retries after a random pause.
    pub fn lock_exclusive(
        &self,
        wait: Duration,
        waiting: &dyn Fn(&LockInfo),
    ) -> Result<ExclusiveLock, RepoError> {
        self.lock(true, wait, waiting).map(ExclusiveLock)
    }

    fn lock(
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
                return Err(RepoError::Locked {
                    exclusive: holder.exclusive,
                    pid: holder.pid,
                    host: holder.host,
                });
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
        let at = Stamp::now();
        let info = LockInfo {
            exclusive,
            host: hostname(),
            pid: std::process::id(),
            created: at.unix_secs(),
            refreshed: at.unix_secs(),
        };
        let first = write_lock(&*self.backend, &self.keys, &info)?;
        if let Some(holder) = conflict(&self.locks()?, exclusive, Some(first)) {
            self.backend.delete(FileType::Lock, &first.to_hex())?;
            return Ok(Err(holder));
        }
        let times = self.options.lock_times;
        let freshness = Arc::new(Freshness::new(at, times.give_up_after));
        let refresher = Refresher {
            backend: Arc::clone(&self.backend),
            keys: self.keys.clone(),
            info,
            current: first,
            freshness: Arc::clone(&freshness),
            times,
        };
        let (stop, stopped) = mpsc::channel::<()>();
        let refresher = std::thread::Builder::new()
            .name("lock-refresh".into())
            .spawn(move || refresher.run(stopped))
            .expect("spawning the lock refresher thread");
        Ok(Ok(LockGuard {
            exclusive,
            repository: self.config.repository_id,
            freshness,
            stop: Some(stop),
            refresher: Some(refresher),
        }))
    }

    /// Fails unless `lock` was taken on this repository and still protects its holder: what
    /// every write path asks before it writes.
    pub(crate) fn held(&self, lock: &LockGuard) -> Result<(), RepoError> {
        if lock.repository != self.config.repository_id {
            return Err(RepoError::ForeignLock);
        }
        lock.check()
    }

    /// Every lock, sorted into live and stale.
    pub fn locks(&self) -> Result<LockState, RepoError> {
        let (host, now) = (hostname(), unix_now());
        let stale_after = self.options.lock_times.stale_after.as_secs() as i64;
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
            } else if now - info.refreshed > stale_after {
                Some(format!(
                    "not refreshed for {}",
                    crate::error::how_long(Duration::from_secs((now - info.refreshed) as u64))
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

#[cfg(test)]
impl Freshness {
    /// A lock just taken, with the format's times.
    pub(crate) fn fresh() -> Self {
        Self::new(Stamp::now(), LockTimes::FORMAT.give_up_after)
    }

    /// As if the computer had slept for `d` since the last refresh: its wall clock moved on,
    /// its monotonic clock did not.
    pub(crate) fn slept(&self, d: Duration) {
        let mut fresh = self.state.lock().unwrap();
        fresh.last.wall -= d;
    }

    /// As if the process had been stopped for `d` (SIGSTOP): both clocks moved on.
    fn stopped(&self, d: Duration) {
        let mut fresh = self.state.lock().unwrap();
        fresh.last.wall -= d;
        fresh.last.mono = fresh.last.mono.checked_sub(d).expect("a longer uptime");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn message(f: &Freshness) -> String {
        f.check().expect_err("the lock is lost").to_string()
    }

    #[test]
    fn a_lock_refreshed_less_than_give_up_after_ago_protects_and_one_older_is_lost() {
        let f = Freshness::fresh();
        f.check().expect("a lock just taken protects");
        f.slept(19 * MINUTE);
        f.check()
            .expect("19 minutes without a refresh: still 11 before anyone takes it for stale");
        f.slept(2 * MINUTE);
        let m = message(&f);
        assert!(
            m.starts_with("the repository lock could not be refreshed for 21 minutes")
                && m.contains("asleep")
                && m.contains("stopped before writing more")
                && m.contains("Nothing committed is lost: run the command again"),
            "{m}"
        );
    }

    #[test]
    fn time_asleep_counts_by_the_wall_clock_and_time_stopped_by_both() {
        // Asleep: the monotonic clock stood still, only the wall clock tells.
        let asleep = Freshness::fresh();
        asleep.slept(8 * 60 * MINUTE);
        assert!(message(&asleep).contains("for 480 minutes"));
        // Stopped (SIGSTOP): both clocks ran on (times scaled down, as tests scale them).
        let stopped = Freshness::new(Stamp::now(), Duration::from_secs(10));
        stopped.stopped(Duration::from_secs(11));
        assert!(message(&stopped).contains("for 11 seconds"));
    }

    #[test]
    fn a_lost_lock_stays_lost_even_when_a_refresh_succeeds_later() {
        let f = Freshness::fresh();
        f.slept(45 * MINUTE);
        // The refresher wakes and writes a refresh stamped now, which storage takes: another
        // computer may have pruned meanwhile, so it does not count.
        f.refreshed(Stamp::now());
        assert!(message(&f).contains("for 45 minutes"));
        f.refreshed(Stamp::now());
        assert!(f.check().is_err(), "and never after");
    }

    #[test]
    fn a_refresh_whose_write_returned_too_late_does_not_cover_the_time_it_took() {
        let f = Freshness::fresh();
        // The refresh is stamped when its write starts; the computer sleeps in the write, and
        // the previous lock on storage goes stale meanwhile.
        let at = Stamp::now();
        f.slept(25 * MINUTE);
        f.refreshed(at);
        assert!(f.check().is_err(), "the lock is lost");
        // A refresh whose write returns in time moves the last refresh on.
        let g = Freshness::fresh();
        g.slept(10 * MINUTE);
        g.refreshed(Stamp::now());
        assert!(g.age() < MINUTE, "{:?}", g.age());
        g.slept(15 * MINUTE);
        g.check()
            .expect("15 minutes after the last refresh on storage, not 25");
    }

    #[test]
    fn scaled_times_keep_the_formats_proportions() {
        let t = LockTimes::scaled(Duration::from_secs(30 * 60));
        assert_eq!(t, LockTimes::FORMAT);
        let t = LockTimes::scaled(Duration::from_secs(12));
        assert_eq!(
            (t.refresh_every, t.give_up_after, t.tick()),
            (
                Duration::from_secs(2),
                Duration::from_secs(8),
                Duration::from_millis(400)
            )
        );
    }
}
