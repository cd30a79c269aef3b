//! The command line (`shared/DESIGN.md`, "Command line contract").

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use clap::{Args, Parser, Subcommand};
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "hearth",
    version,
    about = "One deduplicated, encrypted backup repository for a household's iPhones and iPads"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// The options every command takes. Each value's order of precedence (flag, environment
/// variable, config file, default) is applied in `settings.rs`, not here: no `env =` here.
#[derive(Args, Clone)]
pub struct Global {
    /// Repository location: a folder, or s3:<endpoint URL>/<bucket>/<prefix>. Also HEARTH_REPO,
    /// or `repo` in the config file (default: $XDG_DATA_HOME/hearth/repo)
    #[arg(long, global = true, value_parser = RepoLocation)]
    pub repo: Option<OsString>,
    /// Read the repository password from this file. It wins over HEARTH_PASSWORD, which wins
    /// over HEARTH_PASSWORD_FILE, which wins over the config file's password_file or
    /// password_command
    #[arg(long, global = true)]
    pub password_file: Option<PathBuf>,
    /// Folder for local caches. Also HEARTH_CACHE_DIR, or `cache_dir` in the config file
    /// (default: $XDG_CACHE_HOME/hearth)
    #[arg(long, global = true)]
    pub cache_dir: Option<PathBuf>,
    /// Print one JSON document on stdout instead of text
    #[arg(long, global = true)]
    pub json: bool,
    /// How long to wait for another command's conflicting lock (prune waits for backups,
    /// restores and checks, and they for prune): e.g. 90s, 10m, 1h, 0. Also HEARTH_LOCK_WAIT,
    /// or `lock_wait` in the config file (default: 30m)
    #[arg(long, global = true, value_parser = parse_wait)]
    pub lock_wait: Option<std::time::Duration>,
    /// The config file. Also HEARTH_CONFIG (default: $XDG_CONFIG_HOME/hearth/config.toml,
    /// else ~/.config/hearth/config.toml)
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
}

/// `90s`, `10m`, `1h`, `0` (seconds when no unit).
pub fn parse_wait(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    if number.is_empty() {
        return Err(format!("{s:?} is not a duration (e.g. 90s, 10m, 1h)"));
    }
    // Digits only: the one way to fail is a number too big for u64.
    let too_long = || format!("{s:?} is too long a wait (at most {} s)", u64::MAX);
    let n: u64 = number.parse().map_err(|_| too_long())?;
    let scale: u64 = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        other => return Err(format!("unknown unit {other:?} in {s:?} (use s, m or h)")),
    };
    let secs = n.checked_mul(scale).ok_or_else(too_long)?;
    Ok(std::time::Duration::from_secs(secs))
}

/// `--overdue`: a span (`parse_span`) as a duration.
pub fn parse_overdue(s: &str) -> Result<std::time::Duration, String> {
    let micros = parse_span(s)?;
    Ok(std::time::Duration::from_micros(micros.unsigned_abs()))
}

/// Microseconds per hour: spans are whole hours.
const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// `30d`, `2w`, `6m` (months of 30 days), `1y` (365 days), `12h`, or combinations (`1y6m`), as
/// microseconds. A span that does not fit (over about 292,000 years) is an error.
pub fn parse_span(s: &str) -> Result<i64, String> {
    let bad = || format!("{s:?} is not a span (e.g. 30d, 2w, 6m, 1y, 12h, 1y6m)");
    let too_long = || {
        format!(
            "{s:?} is too long a span (at most {} years)",
            i64::MAX / MICROS_PER_HOUR / (24 * 365)
        )
    };
    let mut hours: i64 = 0;
    let mut number = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 1,
            'd' => 24,
            'w' => 24 * 7,
            'm' => 24 * 30,
            'y' => 24 * 365,
            _ => return Err(bad()),
        };
        if number.is_empty() {
            return Err(bad());
        }
        // Digits only: the one way to fail is a number too big for i64.
        let n: i64 = number.parse().map_err(|_| too_long())?;
        number.clear();
        hours = n
            .checked_mul(unit)
            .and_then(|h| h.checked_add(hours))
            .ok_or_else(too_long)?;
    }
    if !number.is_empty() || hours == 0 {
        return Err(bad());
    }
    hours.checked_mul(MICROS_PER_HOUR).ok_or_else(too_long)
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a repository
    Init(InitArgs),
    /// Back up every device folder found in each PATH (a MobileSync Backup folder or one <UDID> folder)
    Backup(BackupArgs),
    /// Copy snapshots to a repository made with `init --like` this one (an offsite copy):
    /// only the chunks it lacks are sent
    Copy(CopyArgs),
    /// List snapshots
    Snapshots {
        /// Only this device (name or UDID)
        #[arg(long, value_parser = Utf8)]
        device: Option<String>,
    },
    /// List the household's devices
    Devices,
    /// List the entries of a snapshot
    Ls {
        #[arg(value_parser = Utf8)]
        snapshot: String,
        /// DOMAIN or DOMAIN/PATH prefix
        #[arg(value_parser = Utf8)]
        filter: Option<String>,
    },
    /// Write a restore image (a device folder) into DIR, or with --files chosen files as a plain tree
    Restore(RestoreArgs),
    /// Write one file of a snapshot (as plaintext) to stdout or --out, or a folder as a tar or zip stream
    Dump(DumpArgs),
    /// Drop snapshots by retention policy (per device unless --group-by says otherwise)
    Forget(ForgetArgs),
    /// Delete or repack data no snapshot references
    Prune(PruneArgs),
    /// Keep a snapshot whatever the retention policy (e.g. before an iOS upgrade)
    Pin {
        #[arg(value_parser = Utf8)]
        snapshot: String,
    },
    /// Let the retention policy decide about a pinned snapshot again
    Unpin {
        #[arg(value_parser = Utf8)]
        snapshot: String,
    },
    /// Verify the repository's structure, and optionally every stored byte
    Check {
        /// Read and verify every blob
        #[arg(long)]
        read_data: bool,
        /// Read and verify the blobs of a subset of the packs: N/M (1 ≤ N ≤ M) reads the packs
        /// whose id's first 8 hex digits, as a number, leave remainder N-1 divided by M, so
        /// 1/M … M/M together read every pack exactly once; P% (0 < P ≤ 100, e.g. 2.5%) reads a
        /// random sample of about P% of the packs (at least one), different each run
        #[arg(long, value_name = "N/M|P%", value_parser = hearth_repo::ReadData::parse_subset, conflicts_with = "read_data")]
        read_data_subset: Option<hearth_repo::ReadData>,
        #[command(flatten)]
        notify: NotifyArgs,
    },
    /// Logical and stored bytes per device; dedup and compression ratios
    Stats,
    /// Manage the passwords that open the repository
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Remove locks left by processes that no longer run
    Unlock,
    /// Repair the repository after damage: rebuild the index from the packs, remove or
    /// rewrite damaged snapshots (see "When the repository is damaged" in the user guide)
    Repair {
        #[command(subcommand)]
        command: RepairCommand,
    },
    /// Files added, removed and changed between two snapshots (of one device or two), per
    /// domain and app, with what grew most
    Diff(DiffArgs),
    /// Where paths that match a glob are across the snapshots: which snapshots hold them,
    /// first and last seen, and where their content changed
    Find(FindArgs),
    /// The household's photos, messages, contacts, calls, voicemail, notes, calendars or
    /// WhatsApp chats, in formats every program reads
    Export(ExportArgs),
    /// Mount every snapshot of every device as a read-only tree at DIR (FUSE, Linux), until
    /// unmounted (`fusermount -u DIR`) or stopped (Ctrl-C, SIGTERM)
    Mount(MountArgs),
    /// Serve every snapshot of every device as a read-only WebDAV tree (for Finder, Windows,
    /// rclone), until stopped (Ctrl-C, SIGTERM)
    Webdav(WebdavArgs),
    /// The household's dashboard in the browser: devices, snapshots, files, photos,
    /// messages, restores, and backups, checks and prunes with live progress
    Ui(UiArgs),
    /// Follow MobileSync folders and back each device up once its backup has finished and
    /// settled, until stopped (Ctrl-C, SIGTERM)
    Watch(WatchArgs),
    /// Run Hearth by itself: a user service that watches (systemd on Linux, launchd on macOS),
    /// or a timer that backs up at an interval; the config file supplies the repository
    Schedule {
        #[command(subcommand)]
        command: ScheduleCommand,
    },
    /// The effective settings, where each came from (flag, environment variable, config
    /// file, default), and the config file's path
    Config,
    /// Make a sample household, back it up, show stats, restore one device and verify it
    Demo {
        /// Folder for the demo's source backups, repository and restore (default: ./hearth-demo)
        #[arg(long, default_value = "hearth-demo")]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum ScheduleCommand {
    /// Write the user service (or timer) and start it. Needs a config file that names the
    /// repository and a password_file or password_command: a service has no terminal
    Install(ScheduleInstallArgs),
    /// Stop the service and remove the files `install` wrote (nothing else)
    Uninstall(PlatformArg),
    /// What is installed, its schedule, whether it runs and when it last ran, the end of the
    /// watch log, and the repository's latest snapshot
    Status(PlatformArg),
}

#[derive(Args)]
pub struct ScheduleInstallArgs {
    /// Back up at this interval (30m, 6h, 1d) with a timer, then forget by the config file's
    /// [retention] when it has one
    #[arg(long, value_parser = hearth_schedule::parse_every, conflicts_with = "watch")]
    pub every: Option<std::time::Duration>,
    /// Run `hearth watch` as a service that is kept running (the default)
    #[arg(long)]
    pub watch: bool,
    #[command(flatten)]
    pub platform: PlatformArg,
}

#[derive(Args)]
pub struct PlatformArg {
    /// Write the files of this platform's service manager (for tests; default: this one's)
    #[arg(long, value_enum, hide = true)]
    pub platform: Option<PlatformName>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum PlatformName {
    Linux,
    Macos,
}

#[derive(Args)]
pub struct DiffArgs {
    /// The snapshot before: an id (or 6+ digit prefix), DEVICE@latest, DEVICE@latest~N or
    /// DEVICE@YYYY-MM-DD
    #[arg(value_parser = Utf8)]
    pub a: String,
    /// The snapshot after (of the same device or another)
    #[arg(value_parser = Utf8)]
    pub b: String,
    /// How many files and folders the lists of what grew most show
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

#[derive(Args)]
pub struct ExportArgs {
    /// What to export
    #[arg(value_enum)]
    pub kind: ExportKind,
    /// Snapshots to export from (ids, unique prefixes, DEVICE@latest, DEVICE@latest~N,
    /// DEVICE@YYYY-MM-DD); default: the latest snapshot of each device (of --device)
    #[arg(value_name = "SNAPSHOT", value_parser = Utf8)]
    pub snapshots: Vec<String>,
    /// Every snapshot of every device (of --device): photos deleted from a phone since come back,
    /// each photo once
    #[arg(long, conflicts_with = "snapshots")]
    pub all: bool,
    /// Only this device's snapshots (name or UDID)
    #[arg(long, value_parser = Utf8, conflicts_with = "snapshots")]
    pub device: Option<String>,
    /// The output folder (made if missing); contacts, calendar and calls of one snapshot may
    /// also go to one .vcf, .ics or .csv file
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ExportKind {
    Photos,
    Messages,
    Contacts,
    Calls,
    Voicemail,
    Notes,
    Calendar,
    Whatsapp,
}

#[derive(Args)]
pub struct FindArgs {
    /// A glob: with a `/` it is matched against the relative path and against
    /// DOMAIN/RELATIVE_PATH (Library/SMS/*, HomeDomain/**/*.sqlite), without one against the
    /// file's name (sms.db, IMG_47*.HEIC); `*` stays within a name, `**` crosses folders
    #[arg(value_parser = Utf8)]
    pub pattern: String,
    /// Only this device's snapshots (name or UDID)
    #[arg(long, value_parser = Utf8)]
    pub device: Option<String>,
    /// Match without regard to case
    #[arg(long, short = 'i')]
    pub ignore_case: bool,
}

#[derive(Args)]
pub struct ForgetArgs {
    /// Remove exactly these snapshots (ids, unique prefixes or DEVICE@latest), also ones that
    /// no longer read, instead of applying a policy
    #[arg(value_name = "SNAPSHOT", conflicts_with_all = ["device", "group_by", "keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly", "keep_within", "keep_tags"])]
    pub snapshots: Vec<String>,
    /// Only this device (name or UDID)
    #[arg(long, value_parser = Utf8)]
    pub device: Option<String>,
    /// Group snapshots by device (default), or treat them all as one group
    #[arg(long, value_enum, default_value = "device")]
    pub group_by: GroupBy,
    /// Keep the N newest snapshots
    #[arg(long, default_value_t = 0)]
    pub keep_last: usize,
    /// Keep the newest snapshot of each of the last N hours that have one (local time, TZ)
    #[arg(long, default_value_t = 0)]
    pub keep_hourly: usize,
    /// Keep the newest snapshot of each of the last N days that have one (local time, TZ)
    #[arg(long, default_value_t = 0)]
    pub keep_daily: usize,
    /// Keep the newest snapshot of each of the last N ISO weeks that have one (local time)
    #[arg(long, default_value_t = 0)]
    pub keep_weekly: usize,
    /// Keep the newest snapshot of each of the last N months that have one (local time)
    #[arg(long, default_value_t = 0)]
    pub keep_monthly: usize,
    /// Keep the newest snapshot of each of the last N years that have one (local time)
    #[arg(long, default_value_t = 0)]
    pub keep_yearly: usize,
    /// Keep every snapshot within this span of the group's newest (30d, 2w, 6m, 1y, 12h)
    #[arg(long, value_parser = parse_span)]
    pub keep_within: Option<i64>,
    /// Keep snapshots with this tag (repeatable)
    #[arg(long = "keep-tag", value_parser = Utf8)]
    pub keep_tags: Vec<String>,
    /// Show each snapshot with keep/remove and the rule that decided; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Prune afterwards
    #[arg(long)]
    pub prune: bool,
    /// With --prune: see `hearth prune --max-unused`
    #[arg(long, default_value = "5%", value_parser = parse_percent)]
    pub max_unused: f64,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupBy {
    Device,
    None,
}

#[derive(Args)]
pub struct MountArgs {
    /// An existing folder to mount the household at
    pub dir: PathBuf,
    /// Let other users see the tree too (as a user, this needs `user_allow_other` in
    /// /etc/fuse.conf)
    #[arg(long)]
    pub allow_other: bool,
}

#[derive(Args)]
pub struct WebdavArgs {
    /// The address and port to listen on
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub listen: std::net::SocketAddr,
    /// Allow an address other computers reach. The server has no password and no TLS:
    /// anyone who reaches it reads every snapshot
    #[arg(long)]
    pub allow_remote: bool,
}

#[derive(Args)]
pub struct WatchArgs {
    /// MobileSync Backup folders or <UDID> device folders to follow (default: the platform's
    /// MobileSync Backup folder); one missing now is looked for at every rescan
    pub paths: Vec<PathBuf>,
    /// How long a device folder must hold still, its backup finished, before it is backed up
    /// (default 60s, or the config file's [watch] settle)
    #[arg(long, value_parser = parse_wait)]
    pub settle: Option<std::time::Duration>,
    /// How often every folder is scanned again: for missed events, file systems without
    /// them, and a folder that comes back (an external disk)
    /// (default 5m, or the config file's [watch] rescan)
    #[arg(long, value_parser = parse_wait)]
    pub rescan: Option<std::time::Duration>,
    /// The first wait before trying an unreachable repository again; doubled each time, up to
    /// 15 minutes
    #[arg(long, default_value = "30s", value_parser = parse_wait)]
    pub retry: std::time::Duration,
    /// Append the log to this file (default: $XDG_STATE_HOME/hearth/watch.log, else
    /// ~/.local/state/hearth/watch.log)
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Wait until every device folder has settled, back up what is ready, and exit
    #[arg(long)]
    pub once: bool,
    #[command(flatten)]
    pub notify: NotifyArgs,
    /// With --notify: report each device whose latest snapshot is older than this, looked at
    /// every hour and once a day while it stays so (default 7d, or the config file's [notify]
    /// overdue)
    #[arg(long, value_name = "SPAN", value_parser = parse_overdue)]
    pub overdue: Option<std::time::Duration>,
    /// Passwords of encrypted iOS backups (see `hearth backup`; also HEARTH_IOS_PASSWORD_FILE
    /// and the config file's ios_password_file); never asked for
    #[arg(long)]
    pub ios_password_file: Option<PathBuf>,
}

#[derive(Args)]
pub struct UiArgs {
    /// The address and port to listen on (port 0: any free port). Beyond loopback it needs a
    /// login password (--login-password-file)
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// A file holding the password the dashboard asks for when it listens beyond loopback.
    /// Also HEARTH_UI_PASSWORD_FILE
    #[arg(long, env = "HEARTH_UI_PASSWORD_FILE")]
    pub login_password_file: Option<PathBuf>,
    /// Print the dashboard's URL (the first line on stdout) instead of opening a browser
    #[arg(long)]
    pub no_browser: bool,
    /// MobileSync Backup folders that "Back up now" backs up (default: this computer's)
    #[arg(long = "source")]
    pub sources: Vec<PathBuf>,
    /// Passwords of encrypted iOS backups for "Back up now" (see `hearth backup`)
    #[arg(long)]
    pub ios_password_file: Option<PathBuf>,
    /// The folder exports and restore images are written under (default: ~/Hearth)
    #[arg(long)]
    pub library: Option<PathBuf>,
}

#[derive(Args)]
pub struct PruneArgs {
    /// Print the plan; delete nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Unused share of the repository's packs that may stay rather than be repacked
    #[arg(long, default_value = "5%", value_parser = parse_percent)]
    pub max_unused: f64,
}

/// `5%` or `0.05` → 0.05.
pub fn parse_percent(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let v: f64 = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("{s:?} is not a share (e.g. 5% or 0.05)"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{s:?} is not between 0% and 100%"))
    }
}

#[derive(Args)]
pub struct InitArgs {
    /// Make the new repository chunk like this one (its chunker sizes, compression and
    /// content keys; its own password and keys), so that `hearth copy` can copy between them
    #[arg(long, value_parser = RepoLocation)]
    pub like: Option<OsString>,
    /// Read the --like repository's password from this file (else HEARTH_LIKE_PASSWORD, else
    /// HEARTH_LIKE_PASSWORD_FILE, else a prompt)
    #[arg(long, requires = "like")]
    pub like_password_file: Option<PathBuf>,
}

#[derive(Args)]
pub struct CopyArgs {
    /// The repository to copy into: a folder or s3:<endpoint URL>/<bucket>/<prefix>, made with
    /// `hearth init --like` this repository
    #[arg(long, value_parser = RepoLocation)]
    pub to: OsString,
    /// Read the destination's password from this file (else HEARTH_TO_PASSWORD, else
    /// HEARTH_TO_PASSWORD_FILE, else a prompt)
    #[arg(long)]
    pub to_password_file: Option<PathBuf>,
    /// Only this device's snapshots (name or UDID)
    #[arg(long, value_parser = Utf8)]
    pub device: Option<String>,
    /// Snapshots to copy (ids, 6+ digit prefixes, DEVICE@latest, ...); default: every one
    #[arg(value_parser = Utf8)]
    pub snapshots: Vec<String>,
}

#[derive(Args)]
pub struct BackupArgs {
    /// MobileSync Backup folders or <UDID> device folders
    pub paths: Vec<PathBuf>,
    /// Tag the snapshots
    #[arg(long = "tag", value_parser = Utf8)]
    pub tags: Vec<String>,
    /// Read every file, even those unchanged since the device's last snapshot
    #[arg(long)]
    pub force: bool,
    /// Passwords of encrypted iOS backups: one line (every device) or lines of
    /// `DEVICE = PASSWORD` (DEVICE a name or UDID). Also HEARTH_IOS_PASSWORD_FILE, or
    /// `ios_password_file` in the config file; HEARTH_IOS_PASSWORD (every device) fills in.
    /// Needed once per device: the repository keeps the derived key.
    #[arg(long)]
    pub ios_password_file: Option<PathBuf>,
    #[command(flatten)]
    pub notify: NotifyArgs,
    /// With --notify: report each device whose latest snapshot is older than this (e.g. 7d,
    /// 36h, 2w), once a day while it stays so (default 7d, or the config file's [notify]
    /// overdue)
    #[arg(long, value_name = "SPAN", value_parser = parse_overdue)]
    pub overdue: Option<std::time::Duration>,
}

/// Who hears of failures, overdue devices and damage.
#[derive(Args, Clone, Default)]
pub struct NotifyArgs {
    /// Post to URL when a backup fails, a device is overdue or check finds damage
    /// (repeatable): an ntfy topic (host ntfy.sh, or ntfy+https://...), a Healthchecks-style
    /// ping URL (host hc-ping.com, or hc+https://...; also pinged when a backup succeeds), else
    /// a JSON webhook. Also HEARTH_NOTIFY (URLs separated by spaces) and the config file's
    /// [notify] urls. Never delays or fails the command by more than 30 s
    #[arg(long = "notify", value_name = "URL", value_parser = Utf8)]
    pub urls: Vec<String>,
}

#[derive(Args)]
pub struct DumpArgs {
    /// Snapshot: an id (or 6+ digit prefix), DEVICE@latest, DEVICE@latest~N or DEVICE@YYYY-MM-DD
    #[arg(value_parser = Utf8)]
    pub snapshot: String,
    /// DOMAIN/RELATIVE_PATH (e.g. HomeDomain/Library/SMS/sms.db), a backup folder file
    /// (Manifest.db), or a Manifest.db file id
    #[arg(value_parser = Utf8)]
    pub path: String,
    /// Write a folder (or the file) as an archive; a folder is a tar stream unless this says zip
    #[arg(long, value_enum)]
    pub archive: Option<ArchiveArg>,
    /// Write to this file instead of stdout
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ArchiveArg {
    Tar,
    Zip,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// Snapshot: an id (or 6+ digit prefix), DEVICE@latest, DEVICE@latest~N or DEVICE@YYYY-MM-DD
    #[arg(value_parser = Utf8)]
    pub snapshot: String,
    /// Folder to write <UDID>/ into (with --files: the <Domain>/<path> tree)
    #[arg(long, required_unless_present = "dry_run")]
    pub out: Option<PathBuf>,
    /// Write the chosen files as a plain tree OUT/<Domain>/<relative path> (plaintext, with the
    /// device's mtimes), not a device image
    #[arg(long, conflicts_with_all = ["to", "to_model", "to_capacity"])]
    pub files: bool,
    /// With --files: only files a pattern matches (repeatable). A pattern with a `/` matches
    /// paths from the snapshot's root (CameraRollDomain/Media/DCIM/**), one without matches any
    /// name on the path (IMG_47*); a folder matched takes what it holds
    #[arg(long, requires = "files", value_parser = Utf8)]
    pub include: Vec<String>,
    /// With --files: leave out files a pattern matches (repeatable; as --include)
    #[arg(long, requires = "files", value_parser = Utf8)]
    pub exclude: Vec<String>,
    /// Print what would be written, write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Make the image for another household device (name or UDID): what does not transfer to
    /// its kind of device is skipped, and a backup from a newer iOS is refused
    #[arg(long, conflicts_with_all = ["to_model", "to_ios"], value_parser = Utf8)]
    pub to: Option<String>,
    /// Make the image for a device of this model (product type, e.g. iPhone16,1); needs --to-ios
    #[arg(long, requires = "to_ios", value_parser = Utf8)]
    pub to_model: Option<String>,
    /// The iOS version of the --to-model device, e.g. 18.1
    #[arg(long, requires = "to_model", value_parser = Utf8)]
    pub to_ios: Option<String>,
    /// The target's capacity (bytes, or with K/M/G/T, KB/MB/GB/TB or KiB/MiB/GiB/TiB): a larger image is refused
    #[arg(long, value_parser = hearth_restore::parse_capacity)]
    pub to_capacity: Option<u64>,
    /// Drop videos, then photos, message attachments, voice memos and app data until the image
    /// fits --to-capacity
    #[arg(long, requires = "to_capacity")]
    pub fit: bool,
    /// Write an encrypted backup's image UNENCRYPTED: every file as its plaintext, Manifest.db
    /// in the clear, Manifest.plist without its keybag. The folder then holds the backup's
    /// Health data and everything else in the clear; keep it private. Needs no iOS password
    #[arg(long)]
    pub decrypted: bool,
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Add a password (from --new-password-file, else HEARTH_NEW_PASSWORD, else
    /// HEARTH_NEW_PASSWORD_FILE, else a prompt)
    Add(NewPassword),
    /// List key files
    List,
    /// Remove a key file by id (or unique prefix)
    Remove {
        #[arg(value_parser = Utf8)]
        id: String,
    },
    /// Change the password used to open the repository
    Passwd(NewPassword),
}

#[derive(Args)]
pub struct NewPassword {
    /// Read the new password from this file. It wins over HEARTH_NEW_PASSWORD, which wins over
    /// HEARTH_NEW_PASSWORD_FILE
    #[arg(long)]
    pub new_password_file: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum RepairCommand {
    /// Rebuild the index from the packs: list the packs no readable index segment names (read
    /// from their own headers), drop the packs storage no longer has, and rebuild the local cache
    Index {
        /// Read the header of every pack and write the whole index anew
        #[arg(long)]
        read_all_packs: bool,
    },
    /// Write damaged snapshots again without what is lost (from this computer's cache when the
    /// object itself no longer reads), and remove those whose file list is lost
    Snapshots {
        /// Show what would be done; change nothing
        #[arg(long)]
        dry_run: bool,
        /// Also remove the snapshots that cannot be written again (their object does not read
        /// and no cache here holds it, or their file list is lost)
        #[arg(long)]
        forget: bool,
    },
}

/// A command-line value that must be UTF-8 text (snapshot ids and names, device names, tags,
/// models). clap's own check says only "invalid UTF-8 was detected"; this one names the
/// argument and shows the value with its bytes escaped.
#[derive(Clone, Copy)]
pub struct Utf8;

impl TypedValueParser for Utf8 {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        match value.to_str() {
            Some(v) => Ok(v.to_owned()),
            None => Err(not_utf8(cmd, arg, value, "")),
        }
    }
}

/// `--repo`/`HEARTH_REPO`: a folder, whatever bytes its path holds, or `s3:...`, which is a URL
/// and so must be UTF-8.
#[derive(Clone, Copy)]
pub struct RepoLocation;

impl TypedValueParser for RepoLocation {
    type Value = OsString;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<OsString, clap::Error> {
        RepoLocation::check(value).map_err(|note| not_utf8(cmd, arg, value, &note))?;
        Ok(value.to_owned())
    }
}

impl RepoLocation {
    /// An `s3:` location must be UTF-8 (it is a URL); a folder's path may hold any bytes.
    pub fn check(value: &OsStr) -> Result<(), String> {
        match value.as_encoded_bytes().starts_with(b"s3:") && value.to_str().is_none() {
            true => Err(" (an s3: location is a URL; a folder's path may hold any bytes)".into()),
            false => Ok(()),
        }
    }
}

/// The error for a value that is not UTF-8, naming the argument (`--repo <REPO>`, `<SNAPSHOT>`).
fn not_utf8(
    cmd: &clap::Command,
    arg: Option<&clap::Arg>,
    value: &OsStr,
    note: &str,
) -> clap::Error {
    let name = arg.map_or_else(|| "a value".to_owned(), |a| format!("'{a}'"));
    let shown = value.as_encoded_bytes().escape_ascii();
    clap::Error::raw(
        ErrorKind::ValueValidation,
        format!("invalid value for {name}: \"{shown}\" is not UTF-8 text{note}\n"),
    )
    .with_cmd(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_too_big_for_their_type_are_errors_not_wraps() {
        let year = 24 * 365 * MICROS_PER_HOUR;
        assert_eq!(parse_span("1y6m"), Ok(year + 6 * 24 * 30 * MICROS_PER_HOUR));
        for s in [
            "99999999999y",
            "999999999999999999999d",
            "292472y",
            "292471y292471y",
        ] {
            let err = parse_span(s).unwrap_err();
            assert!(err.contains("too long a span"), "{s}: {err}");
        }
        assert!(parse_span("292471y").is_ok());
        assert!(parse_span("y").unwrap_err().contains("not a span"));

        assert_eq!(parse_wait("10m"), Ok(std::time::Duration::from_secs(600)));
        for s in [
            "99999999999999999h",
            "99999999999999999999",
            "307445734561825861m",
        ] {
            let err = parse_wait(s).unwrap_err();
            assert!(err.contains("too long a wait"), "{s}: {err}");
        }
        assert!(parse_wait("h").unwrap_err().contains("not a duration"));
    }
}
