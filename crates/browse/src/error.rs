use hearth_repo::RepoError;
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum BrowseError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error("the file list of the snapshot of {device} cannot be read")]
    FileListLost {
        device: String,
        #[source]
        source: RepoError,
    },
    /// A path the snapshot does not hold, with the existing paths closest to it.
    #[error("{path:?} is not in the snapshot of {device}{}", closest_note(closest))]
    NotFound {
        device: String,
        path: String,
        closest: Vec<String>,
    },
    #[error(
        "{path:?} in the snapshot of {device} is a folder; give --archive tar or zip to get it whole"
    )]
    IsAFolder { device: String, path: String },
    #[error(
        "{path}: the stored bytes are {stored} bytes, fewer than the {expected} the snapshot records"
    )]
    Short {
        path: String,
        stored: u64,
        expected: u64,
    },
    #[error("{}: {what}: {source}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: is not a folder (a link or a file where a folder goes); refusing to write through it", path.display())]
    NotAFolder { path: PathBuf },
    /// A file whose stored bytes do not read (damaged or lost in the repository).
    #[error("{path}: its stored bytes cannot be read: {source}")]
    Damaged {
        path: String,
        #[source]
        source: RepoError,
    },
    #[error("bad pattern {pattern:?}: {detail}")]
    BadPattern { pattern: String, detail: String },
    #[error("writing failed: {0}")]
    Write(String),
}

fn closest_note(closest: &[String]) -> String {
    match closest.is_empty() {
        true => String::new(),
        false => format!("; the closest paths it holds: {}", closest.join(", ")),
    }
}

impl BrowseError {
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        what: &'static str,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, what, source }
    }
}
