use hearth_repo::RepoError;
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RestoreError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error("{}: already exists; restore into an empty folder (choose another --out)", path.display())]
    TargetExists { path: PathBuf },
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
    #[error("refused: {0}")]
    Refused(String),
    #[error("{}: restored {written} bytes but the snapshot records {expected}", path.display())]
    SizeMismatch {
        path: PathBuf,
        written: u64,
        expected: u64,
    },
}
