//! The command line (`shared/DESIGN.md`, "Command line contract").

use clap::{Args, Parser, Subcommand};
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

#[derive(Args, Clone)]
pub struct Global {
    /// Repository location: a folder, or s3:<endpoint URL>/<bucket>/<prefix> (default:
    /// $XDG_DATA_HOME/hearth/repo)
    #[arg(long, global = true, env = "HEARTH_REPO")]
    pub repo: Option<String>,
    /// Read the repository password from this file
    #[arg(long, global = true, env = "HEARTH_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// Folder for local caches (default: $XDG_CACHE_HOME/hearth)
    #[arg(long, global = true, env = "HEARTH_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Print one JSON document on stdout instead of text
    #[arg(long, global = true)]
    pub json: bool,
    /// How long to wait for another command's conflicting lock (prune waits for backups and
    /// backups for prune): e.g. 90s, 10m, 1h, 0
    #[arg(long, global = true, env = "HEARTH_LOCK_WAIT", default_value = "30m", value_parser = parse_wait)]
    pub lock_wait: std::time::Duration,
}

/// `90s`, `10m`, `1h`, `0` (seconds when no unit).
pub fn parse_wait(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 90s, 10m, 1h)"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        other => return Err(format!("unknown unit {other:?} in {s:?} (use s, m or h)")),
    };
    Ok(std::time::Duration::from_secs(secs))
}

/// `30d`, `2w`, `6m` (months of 30 days), `1y` (365 days), `12h`, or combinations (`1y6m`), as
/// Unix microseconds.
pub fn parse_span(s: &str) -> Result<i64, String> {
    let bad = || format!("{s:?} is not a span (e.g. 30d, 2w, 6m, 1y, 12h, 1y6m)");
    let mut hours: i64 = 0;
    let mut number = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: i64 = number.parse().map_err(|_| bad())?;
        number.clear();
        hours += n * match c {
            'h' => 1,
            'd' => 24,
            'w' => 24 * 7,
            'm' => 24 * 30,
            'y' => 24 * 365,
            _ => return Err(bad()),
        };
    }
    if !number.is_empty() || hours == 0 {
        return Err(bad());
    }
    Ok(hours * 3_600_000_000)
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a repository
    Init,
    /// Back up every device folder found in each PATH (a MobileSync Backup folder or one <UDID> folder)
    Backup(BackupArgs),
    /// List snapshots
    Snapshots {
        /// Only this device (name or UDID)
        #[arg(long)]
        device: Option<String>,
    },
    /// List the household's devices
    Devices,
    /// List the entries of a snapshot
    Ls {
        snapshot: String,
        /// DOMAIN or DOMAIN/PATH prefix
        filter: Option<String>,
    },
    /// Write a restore image (a device folder) into DIR
    Restore(RestoreArgs),
    /// Drop snapshots by retention policy (per device unless --group-by says otherwise)
    Forget(ForgetArgs),
    /// Delete or repack data no snapshot references
    Prune(PruneArgs),
    /// Keep a snapshot whatever the retention policy (e.g. before an iOS upgrade)
    Pin { snapshot: String },
    /// Let the retention policy decide about a pinned snapshot again
    Unpin { snapshot: String },
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
    /// Make a sample household, back it up, show stats, restore one device and verify it
    Demo {
        /// Folder for the demo's source backups, repository and restore (default: ./hearth-demo)
        #[arg(long, default_value = "hearth-demo")]
        dir: PathBuf,
    },
}

#[derive(Args)]
pub struct ForgetArgs {
    /// Remove exactly these snapshots (ids, unique prefixes or DEVICE@latest), also ones that
    /// no longer read, instead of applying a policy
    #[arg(value_name = "SNAPSHOT", conflicts_with_all = ["device", "group_by", "keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly", "keep_within", "keep_tags"])]
    pub snapshots: Vec<String>,
    /// Only this device (name or UDID)
    #[arg(long)]
    pub device: Option<String>,
    /// Group snapshots by device (default), or treat them all as one group
    #[arg(long, value_enum, default_value = "device")]
    pub group_by: GroupBy,
    /// Keep the N newest snapshots
    #[arg(long, default_value_t = 0)]
    pub keep_last: usize,
    /// Keep the newest snapshot of each of the last N hours that have one
    #[arg(long, default_value_t = 0)]
    pub keep_hourly: usize,
    /// Keep the newest snapshot of each of the last N days that have one (UTC)
    #[arg(long, default_value_t = 0)]
    pub keep_daily: usize,
    /// Keep the newest snapshot of each of the last N ISO weeks that have one
    #[arg(long, default_value_t = 0)]
    pub keep_weekly: usize,
    /// Keep the newest snapshot of each of the last N months that have one
    #[arg(long, default_value_t = 0)]
    pub keep_monthly: usize,
    /// Keep the newest snapshot of each of the last N years that have one
    #[arg(long, default_value_t = 0)]
    pub keep_yearly: usize,
    /// Keep every snapshot within this span of the group's newest (30d, 2w, 6m, 1y, 12h)
    #[arg(long, value_parser = parse_span)]
    pub keep_within: Option<i64>,
    /// Keep snapshots with this tag (repeatable)
    #[arg(long = "keep-tag")]
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
pub struct BackupArgs {
    /// MobileSync Backup folders or <UDID> device folders
    pub paths: Vec<PathBuf>,
    /// Tag the snapshots
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Read every file, even those unchanged since the device's last snapshot
    #[arg(long)]
    pub force: bool,
    /// Passwords of encrypted iOS backups: one line (every device) or lines of
    /// `DEVICE = PASSWORD` (DEVICE a name or UDID). Also HEARTH_IOS_PASSWORD (every device).
    /// Needed once per device: the repository keeps the derived key.
    #[arg(long, env = "HEARTH_IOS_PASSWORD_FILE")]
    pub ios_password_file: Option<PathBuf>,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// Snapshot id (or 6+ digit prefix) or DEVICE@latest
    pub snapshot: String,
    /// Folder to write <UDID>/ into
    #[arg(long, required_unless_present = "dry_run")]
    pub out: Option<PathBuf>,
    /// Print what would be written, write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Make the image for another household device (name or UDID): what does not transfer to
    /// its kind of device is skipped, and a backup from a newer iOS is refused
    #[arg(long, conflicts_with_all = ["to_model", "to_ios"])]
    pub to: Option<String>,
    /// Make the image for a device of this model (product type, e.g. iPhone16,1); needs --to-ios
    #[arg(long, requires = "to_ios")]
    pub to_model: Option<String>,
    /// The iOS version of the --to-model device, e.g. 18.1
    #[arg(long, requires = "to_model")]
    pub to_ios: Option<String>,
    /// The target's capacity (bytes, or with K/M/G/T, KB/MB/GB/TB or KiB/MiB/GiB/TiB): a larger image is refused
    #[arg(long, value_parser = parse_size)]
    pub to_capacity: Option<u64>,
    /// Drop videos, then photos, message attachments, voice memos and app data until the image
    /// fits --to-capacity
    #[arg(long, requires = "to_capacity")]
    pub fit: bool,
}

/// `64G`, `500MB`, `1.5GiB`, `123456`: bytes (K, M, G, T are powers of 1000; KiB... of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 64G, 500MB, 123456)"))?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        other => return Err(format!("unknown size unit {other:?} in {s:?}")),
    };
    Ok((number * scale).round() as u64)
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Add a password (read from HEARTH_NEW_PASSWORD, --new-password-file, or a prompt)
    Add(NewPassword),
    /// List key files
    List,
    /// Remove a key file by id (or unique prefix)
    Remove { id: String },
    /// Change the password used to open the repository
    Passwd(NewPassword),
}

#[derive(Args)]
pub struct NewPassword {
    #[arg(long, env = "HEARTH_NEW_PASSWORD_FILE")]
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
    },
}
