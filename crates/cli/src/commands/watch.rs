//! `watch`: follow MobileSync folders and back each device up once its backup has finished and
//! settled (`hearth-watch`), logging one line per event to stderr and a log file, until a
//! stop signal (or, `--once`, until every device folder has settled).

use super::backup::{ios_passwords, sources};
use super::forget::forget_and_prune;
use super::notify;
use crate::Outcome;
use crate::cli::WatchArgs;
use crate::context::Context;
use crate::output::{bytes, device_line, esc, esc_text};
use crate::signals::{self, Stop};
use anyhow::{Context as _, Result, bail};
use hearth_alert::Notifier;
use hearth_ingest::{DeviceOutcome, IngestError, IngestOptions};
use hearth_repo::Repository;
use hearth_repo::retention::Policy;
use hearth_watch::{Opened, Watch, WatchOptions, WatchReport};
use std::fmt::Display;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub fn run(ctx: &Context, args: &WatchArgs) -> Result<Outcome> {
    // First: every thread started from here on leaves the stop signals to the signal thread.
    let stop = Stop::install()?;
    let settings = &ctx.settings;
    let rescan = settings.watch_rescan(args.rescan).value;
    if rescan.is_zero() {
        bail!("--rescan must be at least 1s");
    }
    let folders = sources(ctx, &args.paths)?;
    let log = Arc::new(Log::open(
        &settings.watch_log(args.log.clone()).value,
        rescan,
    )?);
    // Asked once, not at every backup (a prompt on a terminal).
    let password = ctx.password(false)?;
    let options = WatchOptions {
        folders,
        settle: settings.watch_settle(args.settle).value,
        rescan,
        retry: args.retry,
        once: args.once,
        ingest: IngestOptions {
            ios_passwords: Some(Arc::new(ios_passwords(
                (settings
                    .ios_password_file(args.ios_password_file.clone())
                    .value)
                    .as_deref(),
                false,
            )?)),
            ..IngestOptions::default()
        },
    };
    let watch = Watch::new(options);
    let stopper = watch.stopper();
    let said = Arc::clone(&log);
    let mut stops = 0;
    stop.on_signal(move |signal| {
        stops += 1;
        if stops > 1 {
            said.line(format_args!("{}: ending now", signals::name(signal)));
            std::process::exit(1);
        }
        said.line(format_args!(
            "{}: stopping (a backup in progress finishes first; signal again to end at once)",
            signals::name(signal)
        ));
        stopper.stop();
    });
    let open = || -> Result<Opened, String> {
        let open = || -> Result<Opened> {
            let repo = Repository::open(ctx.backend()?, &password, &ctx.options())?;
            let lock = ctx.shared_lock(&repo)?;
            Ok(Opened { repo, lock })
        };
        open().map_err(|e| format!("{e:#}"))
    };
    let (stored, stored_rx) = mpsc::channel();
    let reporter = Reporter {
        log: Arc::clone(&log),
        notifier: notify::notifier(ctx, &args.notify)?,
        unreachable_said: AtomicBool::new(false),
        stored,
    };
    let upkeep = Upkeep {
        reporter: &reporter,
        ctx,
        password: &password,
        overdue: ctx.settings.notify_overdue(args.overdue).value,
        retention: ctx.settings.retention().map(|r| r.value),
    };
    let summary = std::thread::scope(|scope| {
        let upkeep = &upkeep;
        scope.spawn(move || upkeep.run(&stored_rx));
        let summary = watch.run(open, &reporter);
        // Ends the upkeep thread.
        let _ = reporter.stored.send(Upkeeping::Stop);
        summary
    })?;
    log.line(format_args!("stopped"));
    notify::finish(reporter.notifier);
    // A watcher that was stopped did its job: its failures were logged (and notified) as they
    // came. Only a --once run ends with how its backups went.
    if args.once && summary.failed > 0 {
        bail!(
            "{} device(s) could not be backed up (see above)",
            summary.failed
        );
    }
    let warnings = args.once && summary.not_finished + summary.still_writing + summary.missing > 0;
    Ok(match warnings {
        true => Outcome::Warnings,
        false => Outcome::Success,
    })
}

/// One line per event, stamped with the local time (RFC 3339), on stderr and appended to the
/// log file.
struct Log {
    file: Mutex<std::fs::File>,
    path: PathBuf,
    rescan: Duration,
}

impl Log {
    fn open(path: &Path, rescan: Duration) -> Result<Log> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("{}: cannot create the log's folder", dir.display()))?;
        }
        let file = std::fs::File::options()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("{}: cannot open the log file", path.display()))?;
        Ok(Log {
            file: Mutex::new(file),
            path: path.to_path_buf(),
            rescan,
        })
    }

    fn line(&self, message: std::fmt::Arguments<'_>) {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        let line = format!(
            "{} {message}\n",
            hearth_repo::local_time::local_rfc3339(micros)
        );
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        eprint!("{line}");
        if let Err(e) = file.write_all(line.as_bytes()) {
            eprintln!(
                "warning: {}: cannot append to the log: {e}",
                self.path.display()
            );
        }
    }
}

fn shown(p: &Path) -> String {
    esc(&p.display().to_string()).into_owned()
}

/// "45 s", "5 min", "1 h 30 min".
fn wait(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s} s"),
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

/// How often a watcher looks for devices not backed up for too long (`--overdue`).
const OVERDUE_EVERY: Duration = Duration::from_secs(3600);

/// What the upkeep thread is told.
enum Upkeeping {
    /// A snapshot was stored: time to forget and prune by the retention policy.
    Stored,
    Stop,
}

/// The log, and the notifications of `--notify`: a backup stored or failed, the repository
/// unusable (once until it is usable again), and devices overdue.
struct Reporter {
    log: Arc<Log>,
    notifier: Notifier,
    unreachable_said: AtomicBool,
    /// Tells the upkeep thread of each snapshot stored.
    stored: mpsc::Sender<Upkeeping>,
}

/// The watcher's work besides backing up, on a thread of its own so that a backup never waits
/// for it: the config file's `[retention]` applied after each snapshot stored (forget, then
/// prune), and devices overdue reported at the start and every [`OVERDUE_EVERY`].
struct Upkeep<'a> {
    reporter: &'a Reporter,
    ctx: &'a Context,
    password: &'a [u8],
    overdue: Duration,
    retention: Option<Policy>,
}

impl Upkeep<'_> {
    fn run(&self, told: &mpsc::Receiver<Upkeeping>) {
        let mut next_overdue = Instant::now();
        loop {
            if Instant::now() >= next_overdue {
                self.report_overdue();
                next_overdue = Instant::now() + OVERDUE_EVERY;
            }
            match told.recv_timeout(next_overdue.saturating_duration_since(Instant::now())) {
                Ok(Upkeeping::Stored) => self.retain(),
                Ok(Upkeeping::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }

    fn open(&self) -> Result<Repository> {
        let backend = self.ctx.backend()?;
        Ok(Repository::open(
            backend,
            self.password,
            &self.ctx.options(),
        )?)
    }

    fn report_overdue(&self) {
        let notifier = &self.reporter.notifier;
        if notifier.is_empty() {
            return;
        }
        match self.open() {
            Ok(repo) => notify::send_overdue(self.ctx, notifier, &repo, Some(self.overdue)),
            Err(e) => self.reporter.log.line(format_args!(
                "warning: cannot tell which devices are overdue: {}",
                esc_text(&format!("{e:#}"))
            )),
        }
    }

    fn retain(&self) {
        let Some(policy) = &self.retention else {
            return;
        };
        let log = &self.reporter.log;
        match (self.open()).and_then(|repo| forget_and_prune(self.ctx, &repo, policy)) {
            Ok((removed, before, after)) => log.line(format_args!(
                "retention: forgot {removed} snapshot(s) by [retention]; pruned {} (stored {} now)",
                bytes(before.saturating_sub(after)),
                bytes(after)
            )),
            Err(e) => log.line(format_args!(
                "warning: retention not applied: {}; tried again after the next snapshot",
                esc_text(&format!("{e:#}"))
            )),
        }
    }
}

impl WatchReport for Reporter {
    fn watching(&self, folder: &Path, devices: usize, events: bool) {
        self.log.watching(folder, devices, events)
    }

    fn folder_missing(&self, folder: &Path, problem: &str) {
        self.log.folder_missing(folder, problem)
    }

    fn events_unavailable(&self, folder: &Path, error: &dyn Display) {
        self.log.events_unavailable(folder, error)
    }

    fn not_ready(&self, device: &Path, why: &str) {
        self.log.not_ready(device, why)
    }

    fn device_ready(&self, device: &Path) {
        self.log.device_ready(device)
    }

    fn backed_up(&self, device: &Path, outcome: &DeviceOutcome) {
        self.log.backed_up(device, outcome);
        self.unreachable_said.store(false, Ordering::Relaxed);
        match outcome {
            DeviceOutcome::Stored(r) => {
                self.notifier.send(notify::succeeded(r, false));
                let _ = self.stored.send(Upkeeping::Stored);
            }
            DeviceOutcome::Unchanged(r) => self.notifier.send(notify::succeeded(r, true)),
            DeviceOutcome::StillWriting(_) => {}
        }
        notify::warn(&self.notifier.take_failures());
    }

    fn backup_failed(&self, device: &Path, error: &IngestError) {
        self.log.backup_failed(device, error);
        self.notifier
            .send(notify::failed(device, &error.to_string()));
        notify::warn(&self.notifier.take_failures());
    }

    fn repository_unreachable(&self, error: &dyn Display, retry_in: Option<Duration>) {
        self.log.repository_unreachable(error, retry_in);
        if !self.unreachable_said.swap(true, Ordering::Relaxed) {
            self.notifier.send(hearth_alert::Event::BackupFailed {
                name: "hearth watch".into(),
                udid: None,
                error: format!("the repository cannot be used: {error}"),
            });
        }
    }
}

impl WatchReport for Log {
    fn watching(&self, folder: &Path, devices: usize, events: bool) {
        let how = match events {
            true => format!("folder events, and a rescan every {}", wait(self.rescan)),
            false => format!("a rescan every {}", wait(self.rescan)),
        };
        self.line(format_args!(
            "watching {}: {devices} device folder(s), through {how}",
            shown(folder)
        ));
    }

    fn folder_missing(&self, folder: &Path, problem: &str) {
        self.line(format_args!(
            "{}: {}; looked for again every {}",
            shown(folder),
            esc_text(problem),
            wait(self.rescan)
        ));
    }

    fn events_unavailable(&self, folder: &Path, error: &dyn Display) {
        self.line(format_args!(
            "warning: no folder events for {} ({}); changes are seen at each rescan",
            shown(folder),
            esc_text(&error.to_string())
        ));
    }

    fn not_ready(&self, device: &Path, why: &str) {
        self.line(format_args!(
            "{}: not finished: {}; waiting for it to change",
            shown(device),
            esc_text(why)
        ));
    }

    fn device_ready(&self, device: &Path) {
        self.line(format_args!(
            "{}: backup finished and settled; backing it up",
            shown(device)
        ));
    }

    fn backed_up(&self, device: &Path, outcome: &DeviceOutcome) {
        match outcome {
            DeviceOutcome::Stored(r) => self.line(format_args!(
                "{}: snapshot {} of {}: {} files, {} new, {} changed; read {}, added {}{}",
                shown(device),
                r.snapshot.short(),
                device_line(&r.device),
                r.summary.files,
                r.summary.files_new,
                r.summary.files_changed,
                bytes(r.summary.bytes_read),
                bytes(r.summary.bytes_added),
                match r.warnings.len() {
                    0 => String::new(),
                    n => format!("; {n} problem(s) recorded in the snapshot"),
                }
            )),
            DeviceOutcome::Unchanged(r) => self.line(format_args!(
                "{}: unchanged since snapshot {} of {}; nothing stored",
                shown(device),
                r.snapshot.short(),
                device_line(&r.device)
            )),
            DeviceOutcome::StillWriting(w) => self.line(format_args!(
                "warning: {}; tried again once it settles",
                esc_text(&w.to_string())
            )),
        }
    }

    fn backup_failed(&self, _device: &Path, error: &IngestError) {
        self.line(format_args!(
            "error: {}; tried again once the folder changes",
            esc_text(&error.to_string())
        ));
    }

    fn repository_unreachable(&self, error: &dyn Display, retry_in: Option<Duration>) {
        let then = match retry_in {
            Some(d) => format!("; trying again in {}", wait(d)),
            None => String::new(),
        };
        self.line(format_args!(
            "error: the repository cannot be used: {}{then}",
            esc_text(&error.to_string())
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_as_a_person_says_them() {
        let w = |s| wait(Duration::from_secs(s));
        assert_eq!(w(30), "30 s");
        assert_eq!(w(300), "5 min");
        assert_eq!(w(90), "1 min 30 s");
        assert_eq!(w(3600), "1 h");
        assert_eq!(w(5400), "1 h 30 min");
    }
}
