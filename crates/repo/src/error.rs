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
    #[error("no key {0} in this repository (see `hearth key list`)")]
    NoSuchKey(String),
    #[error(
        "cannot remove the key this command opened the repository with; open it with another password first"
    )]
    KeyInUse,
    #[error("cannot make a key file: {0}")]
    KeyFile(#[from] hearth_crypto::KeyFileError),
    #[error("{}: cannot remove the damaged cache: {source}", path.display())]
    CacheUnremovable {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{}: cannot write to the cache folder: {source}", path.display())]
    CacheWrite {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("snapshot {0} is pinned; `hearth unpin` it first")]
    Pinned(String),
    #[error("writing packs stopped: {0}")]
    SessionStopped(SessionStop),
    /// Another process holds a lock that this command's lock cannot share.
    #[error(
        "the repository is locked by {} (pid {pid}) on {host}; wait for it to finish (--lock-wait), or run `hearth unlock` if that process is gone",
        if *exclusive { "an exclusive lock (prune or forget)" } else { "a running backup, restore or check" }
    )]
    Locked {
        exclusive: bool,
        pid: u32,
        host: String,
    },
    /// A lock taken on one repository was given to another (a caller's mistake).
    #[error("the lock given was taken on another repository")]
    ForeignLock,
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
    /// `copy` to a repository that does not cut and name chunks as the source does.
    #[error(
        "refused: {to} does not chunk like {from} (it was not made with `hearth init --like {from}`): their content keys or chunker sizes differ, so nothing was copied. Make the destination with `hearth init --repo DEST --like {from}`"
    )]
    NotAlike { from: String, to: String },
    /// Not done, because doing it could lose data; the message says what to do first.
    #[error("refused: {0}")]
    Refused(String),
}

/// Why a write session stopped without an error of its own to tell (the error that stopped it,
/// when there is one, is what the first flush after it returns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SessionStop {
    #[error("a thread stopped while storing a blob; nothing more is committed")]
    BlobAbandoned,
    #[error("a thread stopped while writing a pack; nothing more is committed")]
    PackAbandoned,
    #[error("an earlier write of this session failed (its error was returned first)")]
    EarlierFailure,
    #[error("the pack storer exited")]
    StorerExited,
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

/// What kind of failure an error is, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Not done, because doing it could lose data or was not asked for safely.
    Refused,
    /// An object is damaged: altered, truncated, unindexed (see [`RepoError::is_damage`]).
    Damaged,
    /// An object, snapshot, device or key is not there.
    NotFound,
    /// Another process holds the lock, or this one lost it.
    Locked,
    /// Anything else: storage unreachable, a wrong password, a damaged config.
    Other,
}

impl RepoError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Refused(_) | Self::NotEmpty { .. } | Self::AlreadyExists { .. } => {
                ErrorKind::Refused
            }
            Self::Pinned(_) | Self::KeyInUse | Self::EmptyPassword => ErrorKind::Refused,
            Self::NotAlike { .. } => ErrorKind::Refused,
            Self::Storage(e) if e.is_not_found() => ErrorKind::NotFound,
            Self::SnapshotNotFound(_)
            | Self::DeviceNotFound(_)
            | Self::NoSuchKey(_)
            | Self::NotARepository { .. } => ErrorKind::NotFound,
            Self::Locked { .. } | Self::LockLost { .. } | Self::ForeignLock => ErrorKind::Locked,
            e if e.is_damage() => ErrorKind::Damaged,
            _ => ErrorKind::Other,
        }
    }

    /// Storage does not have the object (it may have been deleted since it was listed).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Storage(e) if e.is_not_found())
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    /// The messages users meet most, pinned word for word: a change here is a change users see.
    #[test]
    fn the_messages_users_see_most_are_pinned() {
        let cases: Vec<(RepoError, &str)> = vec![
            (
                RepoError::NotARepository {
                    location: "/backups/hearth".into(),
                },
                "/backups/hearth: no repository here (the location is empty or does not exist). Create one with `hearth init`",
            ),
            (
                RepoError::WrongPassword {
                    location: "/backups/hearth".into(),
                    keys: 1,
                    damaged: Vec::new(),
                },
                "wrong password for the repository at /backups/hearth: none of its 1 key file opens with it. If the password is right, the key files are damaged (a damaged seal cannot be told from a wrong password): copy them (keys/) back from a copy of this repository",
            ),
            (
                RepoError::Locked {
                    exclusive: true,
                    pid: 4242,
                    host: "kitchen-mac".into(),
                },
                "the repository is locked by an exclusive lock (prune or forget) (pid 4242) on kitchen-mac; wait for it to finish (--lock-wait), or run `hearth unlock` if that process is gone",
            ),
            (
                RepoError::Locked {
                    exclusive: false,
                    pid: 7,
                    host: "nas".into(),
                },
                "the repository is locked by a running backup, restore or check (pid 7) on nas; wait for it to finish (--lock-wait), or run `hearth unlock` if that process is gone",
            ),
            (
                RepoError::LockLost {
                    unrefreshed: Duration::from_secs(25 * 60),
                },
                "the repository lock could not be refreshed for 25 minutes (the storage did not answer, or this computer was asleep or the process was stopped), so another computer may take it for stale and prune; stopped before writing more. Nothing committed is lost: run the command again",
            ),
            (
                RepoError::MissingBlob {
                    blob: ChunkId([0xab; 32]),
                },
                "blob abababababababababababababababababababababababababababababababab is in no index segment (`hearth check` says what is missing; `hearth repair index` indexes packs no segment names)",
            ),
            (
                RepoError::Pinned("3f9c2a1b".into()),
                "snapshot 3f9c2a1b is pinned; `hearth unpin` it first",
            ),
            (
                RepoError::SnapshotNotFound("Mum's iPhone@2025".into()),
                "no snapshot matches \"Mum's iPhone@2025\"",
            ),
            (
                RepoError::SessionStopped(SessionStop::EarlierFailure),
                "writing packs stopped: an earlier write of this session failed (its error was returned first)",
            ),
            (
                RepoError::corrupt("packs/00ff", "its header does not open"),
                "packs/00ff: its header does not open",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
        assert_eq!(RepoError::Pinned("a".into()).kind(), ErrorKind::Refused);
        let gone = RepoError::Storage(StorageError::NotFound {
            path: "snapshots/ab".into(),
        });
        assert_eq!(gone.kind(), ErrorKind::NotFound);
        assert!(
            gone.is_damage(),
            "a lost object is damage to readers that need it"
        );
        assert_eq!(
            RepoError::corrupt("index/ab", "does not open").kind(),
            ErrorKind::Damaged
        );
    }
}
