//! Whether a device folder holds a finished backup, by its plists alone.
//!
//! Finder and idevicebackup2 write into the device folder for minutes. The device keeps
//! `Status.plist`'s `SnapshotState` at something other than `finished` meanwhile, and
//! idevicebackup2 restores only a backup whose state is `finished` (reference §5). A folder
//! with no `SnapshotState` at all (no Status.plist, a damaged one, or one without the key:
//! hand-assembled and third-party backups) cannot say; it is taken as still being written only
//! while it looks like it: its Manifest.db is newer than each of its other plists by more than
//! [`COPY_GAP`] and was modified less than [`QUIET`] ago. So such a folder is backed up once it
//! has been left alone for that long, and a folder just copied or unpacked (whose files all get
//! the time of the copy, within moments of each other) is backed up at once.
//!
//! What this cannot see is a folder that starts changing after it was looked at; callers
//! compare the folder before and after reading it for that.

use crate::device::{DeviceFolder, INFO_PLIST, MANIFEST_DB, MANIFEST_PLIST, STATUS_PLIST};
use std::time::{Duration, SystemTime};

/// How long a folder without a `SnapshotState` must have been left alone (its Manifest.db not
/// modified) before it is taken as finished.
pub const QUIET: Duration = Duration::from_secs(10 * 60);

/// How much newer than the other plists Manifest.db must be to suggest a writer at work rather
/// than a copy, which writes the files of a folder moments apart.
pub const COPY_GAP: Duration = Duration::from_secs(2);

/// What the plists say of the backup in a device folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupState {
    /// `SnapshotState` is `finished`.
    Finished,
    /// Nothing says, and nothing suggests a writer is at work.
    Unknown,
    /// Still being written.
    Writing(Writing),
}

/// Why a folder is taken as still being written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Writing {
    /// Status.plist's `SnapshotState` is this, not `finished`.
    SnapshotState(String),
    /// No `SnapshotState`, and Manifest.db is newer than the other plists and was modified
    /// this long ago (zero when its time is ahead of the clock).
    FreshManifestDb(Duration),
}

impl std::fmt::Display for Writing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Writing::SnapshotState(state) => write!(
                f,
                "Status.plist says SnapshotState {state:?}, not \"finished\""
            ),
            Writing::FreshManifestDb(age) => write!(
                f,
                "no Status.plist says it finished, and its Manifest.db was modified {} s ago, \
                 after its other plists (such a backup is taken as finished once its \
                 Manifest.db is {} minutes old)",
                age.as_secs(),
                QUIET.as_secs() / 60
            ),
        }
    }
}

impl DeviceFolder {
    /// What the plists say of this backup, `now` being the time the caller began to read it.
    pub fn backup_state(&self, now: SystemTime) -> BackupState {
        match self
            .status
            .as_ref()
            .and_then(|s| s.snapshot_state.as_deref())
        {
            Some("finished") => BackupState::Finished,
            Some(other) => BackupState::Writing(Writing::SnapshotState(other.to_string())),
            None => match self.fresh_manifest_db(now) {
                Some(age) => BackupState::Writing(Writing::FreshManifestDb(age)),
                None => BackupState::Unknown,
            },
        }
    }

    /// How long ago Manifest.db was modified, when it is newer than every other plist present
    /// by more than [`COPY_GAP`] and that was less than [`QUIET`] before `now`.
    fn fresh_manifest_db(&self, now: SystemTime) -> Option<Duration> {
        let mtime = |name: &str| {
            std::fs::symlink_metadata(self.root.join(name))
                .and_then(|m| m.modified())
                .ok()
        };
        let db = mtime(MANIFEST_DB)?;
        let newest_plist = [INFO_PLIST, MANIFEST_PLIST, STATUS_PLIST]
            .into_iter()
            .filter_map(mtime)
            .max();
        if newest_plist.is_some_and(|p| p + COPY_GAP >= db) {
            return None;
        }
        let age = now.duration_since(db).unwrap_or(Duration::ZERO);
        (age < QUIET).then_some(age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plists::{DeviceInfo, StatusInfo};
    use std::fs::File;

    fn folder(dir: &std::path::Path, state: Option<&str>) -> DeviceFolder {
        DeviceFolder {
            root: dir.to_path_buf(),
            info: DeviceInfo::default(),
            manifest: None,
            status: Some(StatusInfo {
                snapshot_state: state.map(str::to_string),
                ..StatusInfo::default()
            }),
            ignored: Vec::new(),
        }
    }

    fn touch(dir: &std::path::Path, name: &str, at: SystemTime) {
        let f = File::create(dir.join(name)).unwrap();
        f.set_modified(at).unwrap();
    }

    #[test]
    fn snapshot_state_decides_when_there_is_one() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        touch(dir.path(), MANIFEST_DB, now);
        assert_eq!(
            folder(dir.path(), Some("finished")).backup_state(now),
            BackupState::Finished,
            "even beside a fresh Manifest.db"
        );
        for state in ["uploading", "moving", "new", "", "Finished"] {
            let got = folder(dir.path(), Some(state)).backup_state(now);
            assert_eq!(
                got,
                BackupState::Writing(Writing::SnapshotState(state.into()))
            );
        }
        let why = Writing::SnapshotState("uploading".into()).to_string();
        assert_eq!(
            why,
            "Status.plist says SnapshotState \"uploading\", not \"finished\""
        );
    }

    #[test]
    fn without_one_a_manifest_db_newer_than_the_plists_and_recent_is_being_written() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let ago = |secs| now - Duration::from_secs(secs);
        touch(dir.path(), INFO_PLIST, ago(3_600));
        touch(dir.path(), MANIFEST_DB, ago(30));
        let f = folder(dir.path(), None);
        assert_eq!(
            f.backup_state(now),
            BackupState::Writing(Writing::FreshManifestDb(Duration::from_secs(30)))
        );
        let why = Writing::FreshManifestDb(Duration::from_secs(30)).to_string();
        assert!(
            why.starts_with("no Status.plist says it finished, and its Manifest.db was modified 30 s ago, after its other plists"),
            "{why}"
        );
        // Left alone long enough.
        assert_eq!(f.backup_state(now + QUIET), BackupState::Unknown);
        // A folder just copied: its files written moments apart, Manifest.db among the last.
        touch(dir.path(), INFO_PLIST, ago(30) - COPY_GAP);
        assert_eq!(f.backup_state(now), BackupState::Unknown);
        touch(dir.path(), INFO_PLIST, ago(31) - COPY_GAP);
        assert_eq!(
            f.backup_state(now),
            BackupState::Writing(Writing::FreshManifestDb(Duration::from_secs(30)))
        );
        // A plist written after it: a folder that was put together, not one being written.
        touch(dir.path(), STATUS_PLIST, ago(10));
        assert_eq!(f.backup_state(now), BackupState::Unknown);
        // A clock behind the file's time: as fresh as can be.
        touch(dir.path(), MANIFEST_DB, now + Duration::from_secs(60));
        assert_eq!(
            f.backup_state(now),
            BackupState::Writing(Writing::FreshManifestDb(Duration::ZERO))
        );
        // No Manifest.db: nothing to go by (opening the backup says what is missing).
        std::fs::remove_file(dir.path().join(MANIFEST_DB)).unwrap();
        assert_eq!(f.backup_state(now), BackupState::Unknown);
    }
}
