use hearth_repo::RepoError;
use std::path::PathBuf;
use thiserror::Error;

/// `source`'s message, less its leading "FOLDER: " when it names the folder itself (the
/// variant's message names it already).
fn about_folder(source: &hearth_mobilesync::Error, folder: &std::path::Path) -> String {
    let text = source.to_string();
    let prefix = format!("{}: ", folder.display());
    match text.strip_prefix(&prefix) {
        Some(rest) => rest.to_string(),
        None => text,
    }
}

/// Why a whole device could not be backed up. Row- and blob-level problems are warnings instead.
#[derive(Debug, Error)]
pub enum IngestError {
    #[error("device folder {}: {}", folder.display(), about_folder(source, folder))]
    Source {
        folder: PathBuf,
        #[source]
        source: Box<hearth_mobilesync::Error>,
    },
    #[error(
        "device folder {} ({device}): this iOS backup is encrypted and no password was given for it; nothing was stored for this device. Pass its backup password with HEARTH_IOS_PASSWORD, or with --ios-password-file F (a line `{device} = PASSWORD`, or one line for every device), or run on a terminal to be asked",
        folder.display()
    )]
    NoIosPassword { folder: PathBuf, device: String },
    #[error(
        "device folder {} ({device}): wrong password for this encrypted iOS backup (its keybag does not open with it); nothing was stored for this device",
        folder.display()
    )]
    WrongIosPassword { folder: PathBuf, device: String },
    #[error(
        "device folder {} ({device}): Manifest.db is not an SQLite database, and Manifest.plist does not say the backup is encrypted: the backup is damaged; make a new backup of this device",
        folder.display()
    )]
    ManifestNotSqlite { folder: PathBuf, device: String },
    #[error("device folder {} ({device}): no Manifest.db; the backup is incomplete or still running", folder.display())]
    NoManifest { folder: PathBuf, device: String },
    #[error("device folder {}: {what}: {source}", folder.display())]
    Io {
        folder: PathBuf,
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "device folder {}: {what} is {len} bytes, more than the {limit} a snapshot holds; nothing was stored for this device",
        folder.display()
    )]
    TooLong {
        folder: PathBuf,
        what: String,
        len: usize,
        limit: usize,
    },
    #[error(transparent)]
    Repo(Box<RepoError>),
}

impl From<RepoError> for IngestError {
    fn from(e: RepoError) -> Self {
        Self::Repo(Box::new(e))
    }
}
