//! The repository's typed errors. Messages say what failed, where, and what to do next.

use hearth_format::ChunkId;
use hearth_storage::StorageError;
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RepoError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Index(#[from] hearth_index::IndexError),
    /// Only when the location holds nothing of a repository (see [`crate::Survey`]).
    #[error(
        "{location}: no repository here (the location is empty or does not exist). Create one with `hearth init`"
    )]
    NotARepository { location: String },
    #[error("{location}: a repository already exists here")]
    AlreadyExists { location: String },
    /// `init` at a location that holds repository objects but no `config`.
    #[error(
        "{location}: refusing to create a repository here: config is missing, but {found}. This is a damaged repository, not an empty one: copy `config` back from a copy of it (an offsite copy, or a backup of this folder or bucket). For a new repository, choose an empty folder or prefix"
    )]
    NotEmpty { location: String, found: String },
    /// `open` of a location that holds repository objects but no `config`.
    #[error(
        "{location}: config is missing, but {found}: this is a damaged repository, not an empty one. Nothing in it can be read without its config: copy `config` back from a copy of this repository (an offsite copy, or a backup of this folder or bucket)"
    )]
    ConfigMissing { location: String, found: String },
    #[error(
        "{location}/config is damaged: {detail}. Copy `config` back from a copy of this repository (an offsite copy, or a backup of this folder or bucket)"
    )]
    ConfigDamaged { location: String, detail: String },
    /// A key file opens with the password, but no key that the password opens opens `config`.
    #[error(
        "{location}: config does not decrypt with any key (damaged, or from another repository): the password opens {}, and no key in them opens config. Copy `config` back from a copy of this repository (an offsite copy, or a backup of this folder or bucket)",
        key_files(*opened)
    )]
    ConfigUndecryptable { location: String, opened: usize },
    #[error(
        "{location}: keys/ is empty: no password can open this repository. Copy the key files (keys/) back from a copy of this repository"
    )]
    NoKeys { location: String },
    /// Every key file is damaged: no password can open the repository.
    #[error(
        "{location}: keys/ holds {}, and none can be read ({}): no password can open this repository. Copy the key files (keys/) back from a copy of this repository",
        key_files(damaged.len()), list_damaged(damaged)
    )]
    KeysDamaged {
        location: String,
        damaged: Vec<DamagedKey>,
    },
    /// No key file opens with the password; `damaged` lists those that cannot be parsed.
    #[error(
        "wrong password for the repository at {location}: none of its {} opens with it{}. If the password is right, the key files are damaged (a damaged seal cannot be told from a wrong password): copy them (keys/) back from a copy of this repository",
        key_files(*keys), damaged_note(damaged)
    )]
    WrongPassword {
        location: String,
        keys: usize,
        damaged: Vec<DamagedKey>,
    },
    #[error(
        "an empty password is refused: anyone could open the repository with it. Choose a password that is not empty"
    )]
    EmptyPassword,
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
    /// The lock could not be refreshed for so long that another computer may take it for stale
    /// (and prune as if this command did not run): the command stopped before writing more.
    #[error(
        "the repository lock could not be refreshed for {} (the storage did not answer, or this computer was asleep or the process was stopped), so another computer may take it for stale and prune; stopped before writing more. Nothing committed is lost: run the command again",
        how_long(*unrefreshed)
    )]
    LockLost { unrefreshed: Duration },
    #[error(
        "blob {blob} is in no index segment (`hearth check` says what is missing; `hearth repair index` indexes packs no segment names)"
    )]
    MissingBlob { blob: ChunkId },
    /// Not done, because doing it could lose data; the message says what to do first.
    #[error("refused: {0}")]
    Refused(String),
}

/// A key file that cannot be parsed (`keys/<name>`), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedKey {
    pub name: String,
    pub detail: String,
}

fn list_damaged(damaged: &[DamagedKey]) -> String {
    let parts: Vec<String> = damaged
        .iter()
        .map(|k| format!("keys/{}: {}", k.name, k.detail))
        .collect();
    parts.join("; ")
}

fn damaged_note(damaged: &[DamagedKey]) -> String {
    let which = match damaged.len() {
        0 => return String::new(),
        1 => "one of them is".to_owned(),
        n => format!("{n} of them are"),
    };
    format!(
        "; {which} damaged and cannot be read: {}",
        list_damaged(damaged)
    )
}

/// `25 minutes`, or `90 seconds` under two minutes.
pub(crate) fn how_long(d: Duration) -> String {
    match d.as_secs() {
        s if s >= 120 => format!("{} minutes", s / 60),
        1 => "1 second".into(),
        s => format!("{s} seconds"),
    }
}

/// `1 key file`, `3 key files`.
fn key_files(n: usize) -> String {
    format!("{n} key file{}", if n == 1 { "" } else { "s" })
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
