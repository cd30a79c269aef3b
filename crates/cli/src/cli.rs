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
    /// Repository location: a folder (default: $XDG_DATA_HOME/hearth/repo)
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
    /// Repair local state
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
    /// Rebuild the local index cache from the repository's objects
    Index,
}
