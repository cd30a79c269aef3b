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
