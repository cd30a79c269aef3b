//! The watcher's loop: folder events and timers in, looks and backups out. One thread decides
//! (this one); notify's thread only sends events, and a stopper only sends "stop".

use crate::observe::{Found, fingerprint, look, scan};
use crate::report::WatchReport;
use crate::state::{Backoff, Devices, Ended, Verdict};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use hearth_ingest::{DeviceOutcome, IngestError, IngestOptions, backup_folders};
use hearth_repo::{LockGuard, NoProgress, Repository};
use notify::{EventKind, RecursiveMode, Watcher as _};
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The longest wait before trying an unreachable repository again.
pub const MAX_RETRY: Duration = Duration::from_secs(15 * 60);

/// What to watch and how.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// MobileSync `Backup` folders or device folders, as `hearth backup` takes them.
    pub folders: Vec<PathBuf>,
    /// How long a device folder must hold still before it is looked at.
    pub settle: Duration,
    /// How often every folder is scanned again (missed events, no events, a folder back).
    pub rescan: Duration,
    /// The first wait before trying an unreachable repository again; doubled each time, up
    /// to [`MAX_RETRY`].
    pub retry: Duration,
    /// Back up what is ready once every device folder has settled, then return.
    pub once: bool,
    pub ingest: IngestOptions,
}

impl WatchOptions {
    /// The defaults: settle 60 s, rescan 5 min, retry after 30 s, forever.
    pub fn new(folders: Vec<PathBuf>) -> Self {
        Self {
            folders,
            settle: Duration::from_secs(60),
            rescan: Duration::from_secs(5 * 60),
            retry: Duration::from_secs(30),
            once: false,
            ingest: IngestOptions::default(),
        }
    }
}

/// An open repository and its shared lock, for one backup; dropped after it.
pub struct Opened {
    pub repo: Repository,
    pub lock: LockGuard,
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// With `once`: the repository could not be opened or written.
    #[error("{0}")]
    Repository(String),
}

/// What a run did, device backups counted as they ended.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WatchSummary {
    pub stored: usize,
    pub unchanged: usize,
    pub still_writing: usize,
    pub failed: usize,
    /// Devices left with a backup that has not finished (counted at each look).
    pub not_finished: usize,
    /// Watched folders missing when looked for.
    pub missing: usize,
}

enum Input {
    Event(notify::Result<notify::Event>),
    Stop,
}

/// Ends a running [`Watch::run`] from another thread (a signal's): a backup in progress
/// finishes first.
#[derive(Clone)]
pub struct Stopper(Sender<Input>);

impl Stopper {
    pub fn stop(&self) {
        let _ = self.0.send(Input::Stop);
    }
}

pub struct Watch {
    options: WatchOptions,
    tx: Sender<Input>,
    rx: Receiver<Input>,
}

/// A watched folder, as last seen.
struct Root {
    path: PathBuf,
    /// `Some(id)` while present (and watched, when events can be had); `None` while missing.
    present: Option<(u64, u64)>,
    /// Missing was said (so it is said once).
    missing_said: bool,
}

impl Watch {
    pub fn new(options: WatchOptions) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        Self { options, tx, rx }
    }

    pub fn stopper(&self) -> Stopper {
        Stopper(self.tx.clone())
    }

    /// Watches until stopped (or, with `once`, until every device folder has settled and what
    /// was ready is backed up). `open` opens the repository and takes its shared lock for
    /// each backup; when it fails, the backup is tried again later ([`WatchOptions::retry`]).
    pub fn run<E: Display>(
        self,
        open: impl FnMut() -> Result<Opened, E>,
        report: &dyn WatchReport,
    ) -> Result<WatchSummary, WatchError> {
        let events = self.tx.clone();
        let watcher = notify::recommended_watcher(move |e| {
            let _ = events.send(Input::Event(e));
        });
        let mut run = Run {
            devices: Devices::new(self.options.settle),
            backoff: Backoff::new(self.options.retry, MAX_RETRY.max(self.options.retry)),
            roots: (self.options.folders.iter())
                .map(|p| Root {
                    path: p.clone(),
                    present: None,
                    missing_said: false,
                })
                .collect(),
            watcher: watcher.map_err(|e| e.to_string()),
            summary: WatchSummary::default(),
            options: &self.options,
            report,
        };
        run.watch(&self.rx, open)?;
        Ok(run.summary)
    }
}

struct Run<'a> {
    options: &'a WatchOptions,
    report: &'a dyn WatchReport,
    devices: Devices,
    backoff: Backoff,
    roots: Vec<Root>,
    watcher: Result<notify::RecommendedWatcher, String>,
    summary: WatchSummary,
}

impl Run<'_> {
    fn watch<E: Display>(
        &mut self,
        inputs: &Receiver<Input>,
        mut open: impl FnMut() -> Result<Opened, E>,
    ) -> Result<(), WatchError> {
        let mut next_rescan = Instant::now();
        let mut rescan_roots = false;
        loop {
            let now = Instant::now();
            if now >= next_rescan {
                self.scan_roots(now);
                self.fingerprints(now);
                next_rescan = now + self.options.rescan;
            } else if std::mem::take(&mut rescan_roots) {
                self.scan_roots(now);
            }
            self.look_at_settled(now);
            let ready = self.devices.ready();
            if !ready.is_empty() && self.backoff.allows(now) {
                self.back_up(&ready, &mut open)?;
            }
            if self.options.once && self.devices.all_decided() {
                return Ok(());
            }
            let wake = [Some(next_rescan), self.devices.next_settled()]
                .into_iter()
                .chain([self.backoff.until().filter(|_| !ready.is_empty())])
                .flatten()
                .min()
                .unwrap_or(next_rescan);
            let first = inputs.recv_timeout(wake.saturating_duration_since(Instant::now()));
            let first = match first {
                Ok(input) => input,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            };
            for input in std::iter::once(first).chain(inputs.try_iter()) {
                match input {
                    Input::Stop => return Ok(()),
                    Input::Event(e) => rescan_roots |= self.event(e, Instant::now()),
                }
            }
        }
    }

    /// A folder event: the device folder it is in changed. True when the watched folders
    /// must be scanned again (a new device folder, maybe, or events were lost).
    fn event(&mut self, event: notify::Result<notify::Event>, now: Instant) -> bool {
        let Ok(event) = event else { return true };
        if !changes(&event.kind) {
            return false;
        }
        let mut unknown = event.need_rescan();
        for path in &event.paths {
            unknown |= !self.devices.event(path, now);
        }
        unknown
    }

    fn scan_roots(&mut self, now: Instant) {
        for i in 0..self.roots.len() {
            match scan(&self.roots[i].path) {
                Found::Present { devices, id } => {
                    self.present(i, id, devices.len());
                    self.devices.present(&self.roots[i].path, &devices, now);
                }
                Found::Missing(problem) => {
                    let root = &mut self.roots[i];
                    if let (Some(_), Ok(w)) = (root.present.take(), &mut self.watcher) {
                        let _ = w.unwatch(&root.path);
                    }
                    if !std::mem::replace(&mut root.missing_said, true) {
                        self.summary.missing += 1;
                        self.report.folder_missing(&root.path, &problem);
                    }
                    self.devices.present(&root.path, &[], now);
                }
            }
        }
    }

    /// Root `i` is there as folder `id`: watched from now on unless it was already.
    fn present(&mut self, i: usize, id: (u64, u64), devices: usize) {
        let root = &mut self.roots[i];
        if root.present == Some(id) {
            return;
        }
        root.present = Some(id);
        root.missing_said = false;
        let events = match &mut self.watcher {
            Ok(w) => {
                let _ = w.unwatch(&root.path);
                w.watch(&root.path, RecursiveMode::Recursive)
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(e.clone()),
        };
        if let Err(e) = &events {
            self.report.events_unavailable(&root.path, e);
        }
        self.report.watching(&root.path, devices, events.is_ok());
    }

    fn fingerprints(&mut self, now: Instant) {
        for folder in self.devices.folders() {
            self.devices.fingerprint(&folder, fingerprint(&folder), now);
        }
    }

    fn look_at_settled(&mut self, now: Instant) {
        for folder in self.devices.settled(now) {
            match self.devices.looked(&folder, look(&folder)) {
                Verdict::BackUp => self.report.device_ready(&folder),
                Verdict::NotFinished(why) => {
                    self.summary.not_finished += 1;
                    self.report.not_ready(&folder, &why);
                }
                Verdict::AlreadyDone => {}
            }
        }
    }

    /// Opens the repository, backs up the `ready` folders, closes it.
    fn back_up<E: Display>(
        &mut self,
        ready: &[PathBuf],
        open: &mut impl FnMut() -> Result<Opened, E>,
    ) -> Result<(), WatchError> {
        let opened = match open() {
            Ok(o) => o,
            Err(e) => return self.unreachable(&e),
        };
        let ended = Mutex::new(Vec::new());
        let run = backup_folders(
            &opened.repo,
            &opened.lock,
            ready,
            &self.options.ingest,
            |_| NoProgress,
            |folder, result| {
                let how = self.device_ended(folder, result);
                let stored = matches!(result, Ok(DeviceOutcome::Stored(_)));
                let mut ended = ended.lock().unwrap_or_else(PoisonError::into_inner);
                ended.push((folder.to_owned(), how, stored));
            },
        );
        drop(opened);
        let now = Instant::now();
        for (folder, how, stored) in ended.into_inner().unwrap_or_else(PoisonError::into_inner) {
            self.devices.ended(&folder, how, now);
            let count = match how {
                Ended::Done if stored => &mut self.summary.stored,
                Ended::Done => &mut self.summary.unchanged,
                Ended::StillWriting => &mut self.summary.still_writing,
                Ended::Failed => &mut self.summary.failed,
                Ended::NotReached => continue,
            };
            *count += 1;
        }
        match run {
            Ok(_) => {
                self.backoff.succeeded();
                Ok(())
            }
            Err(e) => self.unreachable(&e),
        }
    }

    /// Reports how one device's backup ended, and counts it.
    fn device_ended(&self, folder: &Path, result: &Result<DeviceOutcome, IngestError>) -> Ended {
        match result {
            Ok(outcome) => {
                self.report.backed_up(folder, outcome);
                match outcome {
                    DeviceOutcome::StillWriting(_) => Ended::StillWriting,
                    _ => Ended::Done,
                }
            }
            // The whole run fails with it: reported once, as the repository's.
            Err(IngestError::Repo(_)) => Ended::NotReached,
            Err(e) => {
                self.report.backup_failed(folder, e);
                Ended::Failed
            }
        }
    }

    fn unreachable(&mut self, error: &dyn Display) -> Result<(), WatchError> {
        if self.options.once {
            self.report.repository_unreachable(error, None);
            return Err(WatchError::Repository(error.to_string()));
        }
        let wait = self.backoff.failed(Instant::now());
        self.report.repository_unreachable(error, Some(wait));
        Ok(())
    }
}

/// Whether an event is a change to what is in the folder: not a read (the watcher's own
/// backup reads every file).
fn changes(kind: &EventKind) -> bool {
    use notify::event::{MetadataKind, ModifyKind};
    !matches!(
        kind,
        EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime))
    )
}
