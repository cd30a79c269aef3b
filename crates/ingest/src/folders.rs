//! Several device folders in one run: what `hearth backup` and the dashboard's "Back up now"
//! both do.
//!
//! The folders are backed up at the same time (each one's files in parallel too, see
//! [`backup_device`]): the work per device that is not reading files (Manifest.db, the walk,
//! the snapshot) then overlaps. They share one write session, so small devices share packs. A
//! device that fails is reported and the others go on; an error of the repository itself
//! (storage, the lock) ends the run, since no other device could be stored either.

use crate::device::{DeviceOutcome, DeviceReport, IngestOptions, StillWriting, backup_device};
use crate::error::IngestError;
use hearth_repo::{LockGuard, Progress, Repository};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// What became of each device folder of a run, each list in the order of the folders.
#[derive(Debug, Default)]
pub struct BackupRun {
    /// Devices with a new snapshot.
    pub stored: Vec<DeviceReport>,
    /// Devices whose folder holds the backup their latest snapshot already holds.
    pub unchanged: Vec<DeviceReport>,
    /// Devices whose backup is still being written: reported, nothing stored, no error.
    pub writing: Vec<StillWriting>,
    /// Devices that could not be backed up, with why.
    pub failures: Vec<(PathBuf, IngestError)>,
}

impl BackupRun {
    /// Whether a stored snapshot records warnings (it is then incomplete).
    pub fn incomplete(&self) -> bool {
        self.stored.iter().any(|r| !r.warnings.is_empty())
    }
}

/// Backs up every folder of `folders` under `lock` (shared or exclusive) in one write session,
/// committing one snapshot per changed device. `progress_for` gives each folder its progress;
/// `on_device` hears of each folder as it ends (one call at a time, in the order they end),
/// before the run is over. An error of the repository ([`IngestError::Repo`]) ends the run
/// with that error, the snapshots committed so far staying.
pub fn backup_folders<P: Progress>(
    repo: &Repository,
    lock: &LockGuard,
    folders: &[PathBuf],
    options: &IngestOptions,
    progress_for: impl Fn(&Path) -> P + Sync,
    on_device: impl Fn(&Path, &Result<DeviceOutcome, IngestError>) + Sync,
) -> Result<BackupRun, IngestError> {
    let session = repo.write_session(lock)?;
    let heard = Mutex::new(());
    let results: Vec<_> = folders
        .par_iter()
        .map(|folder| {
            let result = backup_device(repo, &session, folder, options, &progress_for(folder));
            let _one_at_a_time = heard.lock().unwrap_or_else(PoisonError::into_inner);
            on_device(folder, &result);
            result
        })
        .collect();
    let mut run = BackupRun::default();
    for (folder, result) in folders.iter().zip(results) {
        match result {
            Ok(DeviceOutcome::Stored(r)) => run.stored.push(r),
            Ok(DeviceOutcome::Unchanged(r)) => run.unchanged.push(r),
            Ok(DeviceOutcome::StillWriting(w)) => run.writing.push(w),
            Err(e @ IngestError::Repo(_)) => return Err(e),
            Err(e) => run.failures.push((folder.clone(), e)),
        }
    }
    session.finish()?;
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_crypto::KdfParams;
    use hearth_mobilesync::{StatusInfo, write_plist_xml};
    use hearth_repo::{NoProgress, RepoOptions};
    use hearth_storage::{Backend, LocalBackend};
    use hearth_testkit::{HouseholdSpec, generate};
    use std::sync::Arc;
    use std::time::Duration;

    fn repo(dir: &Path) -> Repository {
        let local: Arc<dyn Backend> = Arc::new(LocalBackend::create(&dir.join("r")).unwrap());
        let options = RepoOptions {
            kdf: KdfParams {
                memory_kib: 64,
                time: 1,
                parallelism: 1,
            },
            cache_root: Some(dir.join("cache")),
            lock_times: Default::default(),
        };
        Repository::init(local, b"pw", &options).unwrap()
    }

    fn run(repo: &Repository, folders: &[PathBuf], heard: &Mutex<Vec<PathBuf>>) -> BackupRun {
        let lock = repo.lock_shared(Duration::from_secs(5), &|_| {}).unwrap();
        backup_folders(
            repo,
            &lock,
            folders,
            &IngestOptions::default(),
            |_| NoProgress,
            |folder, _| heard.lock().unwrap().push(folder.to_path_buf()),
        )
        .unwrap()
    }

    #[test]
    fn each_folder_is_stored_once_then_unchanged_and_one_failing_or_unfinished_stops_no_other() {
        let dir = tempfile::tempdir().unwrap();
        let house = generate(&HouseholdSpec::tiny(), &dir.path().join("house")).unwrap();
        let repo = repo(dir.path());
        let [mum, dad] = [0, 1].map(|i| house.devices[i].folder.clone());
        let broken = dir
            .path()
            .join("house/0000000000000000000000000000000000000000");
        std::fs::create_dir_all(&broken).unwrap();
        let folders = vec![mum.clone(), broken.clone(), dad.clone()];
        let heard = Mutex::new(Vec::new());

        let first = run(&repo, &folders, &heard);
        let names =
            |r: &[DeviceReport]| r.iter().map(|r| r.device.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&first.stored), ["Mum's iPhone", "Dad's iPhone"]);
        assert!(first.unchanged.is_empty() && first.writing.is_empty());
        assert_eq!(first.failures.len(), 1);
        assert_eq!(first.failures[0].0, broken);
        assert_eq!(repo.snapshots().unwrap().len(), 2);
        let mut all_heard = heard.lock().unwrap().clone();
        all_heard.sort();
        let mut expected = folders.clone();
        expected.sort();
        assert_eq!(all_heard, expected, "every folder is heard of once");

        // Dad's backup is being written again: reported, not an error; Mum's is unchanged.
        let status = StatusInfo {
            snapshot_state: Some("uploading".into()),
            ..StatusInfo::default()
        };
        write_plist_xml(&dad.join("Status.plist"), &status.to_plist()).unwrap();
        let second = run(&repo, &[mum, dad.clone()], &heard);
        assert!(second.stored.is_empty() && second.failures.is_empty());
        assert_eq!(names(&second.unchanged), ["Mum's iPhone"]);
        assert_eq!(second.writing.len(), 1);
        assert_eq!(second.writing[0].folder, dad);
        assert_eq!(repo.snapshots().unwrap().len(), 2);
    }
}
