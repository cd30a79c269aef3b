//! What the watcher knows and decides, without I/O or a clock of its own: which device folders
//! have settled, which of them hold a device backup not yet backed up, and what each backup's
//! end means. The caller passes the time (`now`), so tests drive it with made-up instants.
//!
//! A device folder goes through: *changing* (an event or a new fingerprint within the last
//! `settle`) → *settled* (looked at once: its Status.plist and the mark of its backup) →
//! *ready* (finished and not backed up before) → backed up, or *decided* (nothing to do until
//! it changes again). Invariants:
//! - a folder is looked at only once per quiet period, and backed up only from a look;
//! - a mark in `done` is never backed up again from the same folder, whatever happens to the
//!   folder meanwhile (gone and back, the watcher's repository unreachable);
//! - a failed device is tried again only after it changes; one still being written, after it
//!   settles again; one the repository could not take, when the caller retries the repository.

use crate::observe::{BackupMark, Fingerprint, Look};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What to do with a device folder that has settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Finished, and not backed up before: back it up.
    BackUp,
    /// Its Status.plist does not say it finished (why); wait for it to change.
    NotFinished(String),
    /// This very device backup was backed up already (or found unchanged).
    AlreadyDone,
}

/// How the backup of one device folder ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// A snapshot was stored, or the repository already held this device backup.
    Done,
    /// The ingest found it still being written: it is looked at again once it settles again.
    StillWriting,
    /// The folder could not be backed up (bad input): tried again only after it changes.
    Failed,
    /// The repository failed before this device was backed up: it stays ready.
    NotReached,
}

#[derive(Debug)]
struct Device {
    last_change: Instant,
    /// Looked at since its last change: nothing more to do until it changes again.
    decided: bool,
    /// To be backed up, as this mark; waits here while the repository is unreachable.
    ready: Option<BackupMark>,
    fingerprint: Option<Fingerprint>,
}

/// Every device folder being watched, by path.
#[derive(Debug)]
pub struct Devices {
    settle: Duration,
    devices: BTreeMap<PathBuf, Device>,
    /// What was last backed up per device folder; kept when a folder goes away, so a disk
    /// plugged in again is not backed up again.
    done: BTreeMap<PathBuf, BackupMark>,
}

impl Devices {
    pub fn new(settle: Duration) -> Self {
        Self {
            settle,
            devices: BTreeMap::new(),
            done: BTreeMap::new(),
        }
    }

    /// The device folders of one watched folder as a scan found them: new ones start their
    /// quiet period `now`; ones no longer there are dropped (what was done with them is kept).
    pub fn present(&mut self, root: &Path, folders: &[PathBuf], now: Instant) {
        self.devices
            .retain(|d, _| !d.starts_with(root) || folders.contains(d));
        for f in folders {
            self.devices.entry(f.clone()).or_insert_with(|| Device {
                last_change: now,
                decided: false,
                ready: None,
                fingerprint: None,
            });
        }
    }

    /// Something changed at `path` (a folder event): the device folder holding it starts its
    /// quiet period again. False when no known device folder holds it (a new one, maybe).
    pub fn event(&mut self, path: &Path, now: Instant) -> bool {
        match self.devices.iter_mut().find(|(d, _)| path.starts_with(d)) {
            Some((_, device)) => {
                device.changed(now);
                true
            }
            None => false,
        }
    }

    /// A rescan's fingerprint of `folder`: a change when it differs from the last one.
    pub fn fingerprint(&mut self, folder: &Path, fingerprint: Fingerprint, now: Instant) {
        if let Some(device) = self.devices.get_mut(folder) {
            let was = device.fingerprint.replace(fingerprint);
            if was.is_some_and(|was| was != fingerprint) {
                device.changed(now);
            }
        }
    }

    /// Device folders quiet for `settle` and not looked at since: to be looked at now.
    pub fn settled(&self, now: Instant) -> Vec<PathBuf> {
        (self.devices.iter())
            .filter(|(_, d)| !d.decided && now >= d.last_change + self.settle)
            .map(|(f, _)| f.clone())
            .collect()
    }

    /// What a settled folder's plists say, and so what to do with it.
    pub fn looked(&mut self, folder: &Path, look: Look) -> Verdict {
        let Some(device) = self.devices.get_mut(folder) else {
            return Verdict::AlreadyDone;
        };
        device.decided = true;
        if let Some(why) = look.unfinished {
            return Verdict::NotFinished(why);
        }
        if self.done.get(folder) == Some(&look.mark) {
            return Verdict::AlreadyDone;
        }
        device.ready = Some(look.mark);
        Verdict::BackUp
    }

    /// Device folders ready to be backed up.
    pub fn ready(&self) -> Vec<PathBuf> {
        (self.devices.iter())
            .filter(|(_, d)| d.ready.is_some())
            .map(|(f, _)| f.clone())
            .collect()
    }

    /// How the backup of a ready folder ended.
    pub fn ended(&mut self, folder: &Path, ended: Ended, now: Instant) {
        let Some(device) = self.devices.get_mut(folder) else {
            return;
        };
        match ended {
            Ended::NotReached => {}
            Ended::Done => {
                if let Some(mark) = device.ready.take() {
                    self.done.insert(folder.to_path_buf(), mark);
                }
            }
            Ended::StillWriting => device.changed(now),
            Ended::Failed => device.ready = None,
        }
    }

    /// When the next folder settles (`None`: none is waiting to).
    pub fn next_settled(&self) -> Option<Instant> {
        (self.devices.values())
            .filter(|d| !d.decided)
            .map(|d| d.last_change + self.settle)
            .min()
    }

    /// Every folder looked at since its last change, and none waiting to be backed up.
    pub fn all_decided(&self) -> bool {
        (self.devices.values()).all(|d| d.decided && d.ready.is_none())
    }

    pub fn folders(&self) -> Vec<PathBuf> {
        self.devices.keys().cloned().collect()
    }
}

impl Device {
    fn changed(&mut self, now: Instant) {
        self.last_change = now;
        self.decided = false;
        self.ready = None;
    }
}

/// Waiting to try an unreachable repository again: `first`, doubled after each failure up
/// to `max`; back to nothing after a success.
#[derive(Debug)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next_wait: Duration,
    until: Option<Instant>,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            next_wait: first,
            until: None,
        }
    }

    /// The repository failed `now`: how long until it is tried again.
    pub fn failed(&mut self, now: Instant) -> Duration {
        let wait = self.next_wait;
        self.until = Some(now + wait);
        self.next_wait = (wait * 2).min(self.max);
        wait
    }

    pub fn succeeded(&mut self) {
        self.next_wait = self.first;
        self.until = None;
    }

    /// When the repository may be tried again (`None`: now).
    pub fn until(&self) -> Option<Instant> {
        self.until
    }

    pub fn allows(&self, now: Instant) -> bool {
        self.until.is_none_or(|u| now >= u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    const SETTLE: Duration = Duration::from_secs(60);

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn mark(uuid: &str) -> BackupMark {
        BackupMark {
            uuid: Some(uuid.into()),
            date: Some(SystemTime::UNIX_EPOCH + secs(1_750_000_000)),
            manifest_db: Some((4096, SystemTime::UNIX_EPOCH + secs(1_750_000_000))),
        }
    }

    fn finished(uuid: &str) -> Look {
        Look {
            unfinished: None,
            mark: mark(uuid),
        }
    }

    fn unfinished(uuid: &str) -> Look {
        Look {
            unfinished: Some("Status.plist says SnapshotState \"uploading\"".into()),
            mark: mark(uuid),
        }
    }

    fn watch(t0: Instant) -> (Devices, PathBuf, PathBuf) {
        let root = PathBuf::from("/Backup");
        let phone = root.join("PHONE");
        let mut d = Devices::new(SETTLE);
        d.present(&root, std::slice::from_ref(&phone), t0);
        (d, root, phone)
    }

    #[test]
    fn a_folder_is_looked_at_once_it_has_been_quiet_for_settle_and_each_event_restarts_it() {
        let t0 = Instant::now();
        let (mut d, _, phone) = watch(t0);
        assert_eq!(d.next_settled(), Some(t0 + SETTLE));
        assert!(d.settled(t0 + secs(59)).is_empty());
        assert!(d.event(&phone.join("ab/abcdef"), t0 + secs(30)));
        assert!(
            d.settled(t0 + secs(60)).is_empty(),
            "the event restarted it"
        );
        assert_eq!(d.next_settled(), Some(t0 + secs(90)));
        assert_eq!(d.settled(t0 + secs(90)), std::slice::from_ref(&phone));
        assert!(!d.event(Path::new("/Backup/OTHER/Info.plist"), t0));
        assert!(!d.all_decided());
    }

    #[test]
    fn a_finished_backup_is_backed_up_once_and_the_same_backup_never_again() {
        let t0 = Instant::now();
        let (mut d, root, phone) = watch(t0);
        assert_eq!(d.looked(&phone, finished("one")), Verdict::BackUp);
        assert_eq!(d.ready(), std::slice::from_ref(&phone));
        assert!(d.settled(t0 + secs(600)).is_empty(), "looked at once");
        d.ended(&phone, Ended::Done, t0 + secs(61));
        assert!(d.ready().is_empty() && d.all_decided());

        // Something touched it, but it is the same device backup: not even looked up.
        d.event(&phone.join("Status.plist"), t0 + secs(100));
        assert_eq!(d.looked(&phone, finished("one")), Verdict::AlreadyDone);
        // The disk was unplugged and plugged in again: still the same backup.
        d.present(&root, &[], t0 + secs(200));
        assert!(d.folders().is_empty() && d.all_decided());
        d.present(&root, std::slice::from_ref(&phone), t0 + secs(300));
        assert_eq!(d.settled(t0 + secs(360)), std::slice::from_ref(&phone));
        assert_eq!(d.looked(&phone, finished("one")), Verdict::AlreadyDone);
        // The next backup of the device.
        d.event(&phone.join("Manifest.db"), t0 + secs(400));
        assert_eq!(d.looked(&phone, finished("two")), Verdict::BackUp);
    }

    #[test]
    fn an_unfinished_backup_waits_for_a_change_and_one_still_being_written_for_the_next_settle() {
        let t0 = Instant::now();
        let (mut d, _, phone) = watch(t0);
        let verdict = d.looked(&phone, unfinished("one"));
        assert!(matches!(verdict, Verdict::NotFinished(why) if why.contains("uploading")));
        assert!(d.settled(t0 + secs(3600)).is_empty() && d.all_decided());
        d.event(&phone.join("Status.plist"), t0 + secs(100));
        assert_eq!(d.looked(&phone, finished("one")), Verdict::BackUp);
        d.ended(&phone, Ended::StillWriting, t0 + secs(170));
        assert!(d.ready().is_empty());
        assert!(d.settled(t0 + secs(229)).is_empty());
        assert_eq!(d.settled(t0 + secs(230)), std::slice::from_ref(&phone));
        assert_eq!(
            d.looked(&phone, finished("one")),
            Verdict::BackUp,
            "not counted as done"
        );
    }

    #[test]
    fn a_failed_device_is_tried_again_only_after_it_changes_and_an_unreached_one_stays_ready() {
        let t0 = Instant::now();
        let (mut d, _, phone) = watch(t0);
        d.looked(&phone, finished("one"));
        d.ended(&phone, Ended::NotReached, t0 + secs(61));
        assert_eq!(d.ready(), std::slice::from_ref(&phone));
        d.ended(&phone, Ended::Failed, t0 + secs(62));
        assert!(d.ready().is_empty() && d.settled(t0 + secs(9999)).is_empty());
        // An unchanged fingerprint is no change; a new one is.
        let fp = |files| Fingerprint { files, hash: 7 };
        d.fingerprint(&phone, fp(3), t0 + secs(100));
        d.fingerprint(&phone, fp(3), t0 + secs(200));
        assert!(d.settled(t0 + secs(9999)).is_empty());
        d.fingerprint(&phone, fp(4), t0 + secs(300));
        assert!(d.settled(t0 + secs(359)).is_empty());
        assert_eq!(d.settled(t0 + secs(360)), std::slice::from_ref(&phone));
        assert_eq!(d.looked(&phone, finished("one")), Verdict::BackUp);
    }

    #[test]
    fn a_change_while_ready_waits_for_the_folder_to_settle_again() {
        let t0 = Instant::now();
        let (mut d, _, phone) = watch(t0);
        d.looked(&phone, finished("one"));
        d.event(&phone.join("00/00aa"), t0 + secs(70));
        assert!(d.ready().is_empty());
        assert_eq!(d.settled(t0 + secs(130)), [phone]);
    }

    #[test]
    fn backoff_doubles_to_its_maximum_and_a_success_resets_it() {
        let t0 = Instant::now();
        let mut b = Backoff::new(secs(30), secs(100));
        assert!(b.allows(t0));
        assert_eq!(b.failed(t0), secs(30));
        assert!(!b.allows(t0 + secs(29)) && b.allows(t0 + secs(30)));
        assert_eq!(b.failed(t0), secs(60));
        assert_eq!(b.failed(t0), secs(100));
        assert_eq!(b.failed(t0), secs(100));
        b.succeeded();
        assert!(b.allows(t0) && b.until().is_none());
        assert_eq!(b.failed(t0), secs(30));
    }
}
