//! The repository's typed errors. Messages say what failed, where, and what to do next.

use hearth_format::ChunkId;
use hearth_storage::StorageError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RepoError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Index(#[from] hearth_index::IndexError),
    #[error("{location}: no repository here (no config). Create one with `hearth init`")]
    NotARepository { location: String },
    #[error("{location}: a repository already exists here")]
    AlreadyExists { location: String },
    #[error("wrong password for the repository at {location}: no key file opens with it")]
    WrongPassword { location: String },
    #[error("{object}: {detail}")]
    Corrupt { object: String, detail: String },
    #[error("no snapshot matches {0:?}")]
    SnapshotNotFound(String),
    #[error("{0:?} matches several snapshots; give more of the id")]
    AmbiguousSnapshot(String),
    #[error("no device {0:?} in this repository (see `hearth devices`)")]
    DeviceNotFound(String),
    #[error("{0}")]
    Key(String),
    #[error("writing packs failed: {0}")]
    Writer(String),
    #[error("{0}")]
    Locked(String),
    #[error(
        "blob {blob} is in no index segment (`hearth check` says what is missing; `hearth repair index` indexes packs no segment names)"
    )]
    MissingBlob { blob: ChunkId },
    /// Not done, because doing it could lose data; the message says what to do first.
    #[error("refused: {0}")]
    Refused(String),
}

impl RepoError {
    /// Damage to the repository's objects (gone, truncated, altered, unindexed), as opposed to a
    /// failure to reach them or to write: the operation can go on without what the damaged
    /// object holds.
    pub fn is_damage(&self) -> bool {
        match self {
            Self::Corrupt { .. } | Self::MissingBlob { .. } => true,
            Self::Storage(e) => e.is_not_found() || matches!(e, StorageError::ShortRead { .. }),
            _ => false,
        }
    }

    pub(crate) fn corrupt(object: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            object: object.into(),
            detail: detail.to_string(),
        }
    }
}
