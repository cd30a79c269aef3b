use hearth_repo::RepoError;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RestoreError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error("{}: already exists; restore into an empty folder (choose another --out)", path.display())]
    TargetExists { path: PathBuf },
    #[error(
        "{}: holds an unfinished restore of another snapshot or for another target ({} says so); choose another --out, or remove both to start again",
        path.display(), marker.display()
    )]
    OtherUnfinished { path: PathBuf, marker: PathBuf },
    #[error("{}: is not a folder (a link or a file where the restore puts a folder); refusing to write through it", path.display())]
    NotAFolder { path: PathBuf },
    #[error("the snapshot names an unsafe path {path:?}; refusing to write it")]
    UnsafePath { path: String },
    #[error("{}: {what}: {source}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the snapshot of {device} is of an encrypted backup and the repository holds no key that opens its keybag; back the device up once more with its password (HEARTH_IOS_PASSWORD) to store it"
    )]
    NoDeviceKey { device: String },
    #[error("{}: cannot encrypt it again: {detail}", path.display())]
    FileKey { path: PathBuf, detail: String },
    #[error("the snapshot of {device}: {detail}")]
    BadSnapshot { device: String, detail: String },
    #[error("no snapshot of {device:?} to take its model and iOS version from")]
    NoDeviceSnapshot { device: String },
    #[error("refused: {0}")]
    Refused(String),
    #[error("the file list of the snapshot of {device} cannot be read")]
    FileListLost {
        device: String,
        #[source]
        source: RepoError,
    },
    /// A restore stopped by an error that a later run may not meet (storage that did not
    /// answer, a full disk): its marker stays beside the folder, so running it again finishes it.
    #[error(
        "{source}; the restore into {} did not finish: run the same command again to finish it (it keeps the files already written whole), or remove {} and that folder to start again",
        folder.display(), marker.display()
    )]
    Unfinished {
        folder: PathBuf,
        marker: PathBuf,
        source: Box<RestoreError>,
    },
    #[error("{}: restored {written} bytes but the snapshot records {expected}", path.display())]
    SizeMismatch {
        path: PathBuf,
        written: u64,
        expected: u64,
    },
    /// A decrypted file whose plaintext does not encrypt to the length of the backup's file.
    #[error(
        "{}: restored {written} bytes of plaintext, which encrypt to {encrypted} bytes, but the snapshot records an encrypted file of {expected}",
        path.display()
    )]
    PlaintextSizeMismatch {
        path: PathBuf,
        written: u64,
        encrypted: u64,
        expected: u64,
    },
}

impl RestoreError {
    /// This error, ending a restore into `folder` that its `marker` says is unfinished: told
    /// so when running again can finish it (a refusal stays what it is).
    pub(crate) fn unfinished(self, folder: &Path, marker: &Path) -> Self {
        match self {
            e @ (Self::Repo(_) | Self::Io { .. }) => Self::Unfinished {
                folder: folder.to_path_buf(),
                marker: marker.to_path_buf(),
                source: Box::new(e),
            },
            e => e,
        }
    }

    /// The file being written cannot be made from what the repository holds (its stored bytes
    /// are damaged or lost, or do not add up to what the snapshot records): that file is left
    /// out and the restore goes on.
    pub fn is_damage(&self) -> bool {
        match self {
            Self::Repo(e) => e.is_damage(),
            Self::SizeMismatch { .. }
            | Self::PlaintextSizeMismatch { .. }
            | Self::BadSnapshot { .. }
            | Self::FileKey { .. } => true,
            _ => false,
        }
    }
}
