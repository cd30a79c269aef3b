//! Writing, finding and removing the service files. A file is Hearth's when it carries
//! [`MARKER`]: only such files are replaced or removed, whatever their name.

use crate::{Job, MARKER, Platform, ScheduleError, UnitFile, launchd, systemd};
use std::path::{Path, PathBuf};

/// A service file of Hearth's found in the units folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub path: PathBuf,
    /// What it runs, when the file says (a watch service, a timer, a launchd agent); None for
    /// the backup service a timer starts.
    pub job: Option<Job>,
}

impl Installed {
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ScheduleError + '_ {
    move |source| ScheduleError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Whether the file at `path` is Hearth's (None: there is no file).
fn ours(path: &Path) -> Result<Option<bool>, ScheduleError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).contains(MARKER))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

/// Writes `files` (each through a temporary file and a rename), making their folder. A file of
/// the same name that is not Hearth's is never replaced: nothing is written then.
pub fn write(files: &[UnitFile]) -> Result<(), ScheduleError> {
    for f in files {
        if ours(&f.path)? == Some(false) {
            return Err(ScheduleError::NotOurs {
                path: f.path.clone(),
            });
        }
    }
    for f in files {
        let dir = f.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let tmp = f.path.with_extension("hearth-tmp");
        std::fs::write(&tmp, &f.text).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &f.path).map_err(io(&f.path))?;
    }
    Ok(())
}

/// Hearth's service files in `dir` (the names it writes, carrying the marker).
pub fn find_installed(platform: Platform, dir: &Path) -> Result<Vec<Installed>, ScheduleError> {
    let mut found = Vec::new();
    for name in platform.file_names() {
        let path = dir.join(name);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(&path)(e)),
        };
        let text = String::from_utf8_lossy(&bytes);
        if !text.contains(MARKER) {
            continue;
        }
        let job = match (platform, *name) {
            (Platform::Linux, systemd::WATCH) => Some(Job::Watch),
            (Platform::Linux, systemd::TIMER) => systemd::value(&text, "OnUnitActiveSec")
                .and_then(systemd::parse_span)
                .map(Job::Every),
            (Platform::Linux, _) => None,
            (Platform::MacOs, _) => launchd::job_of(&bytes),
        };
        found.push(Installed { path, job });
    }
    Ok(found)
}

/// Removes these files (found by [`find_installed`], so Hearth's); the paths removed.
pub fn remove(installed: &[Installed]) -> Result<Vec<PathBuf>, ScheduleError> {
    let mut removed = Vec::new();
    for i in installed {
        // Looked at again: only a file that still carries the marker goes.
        if ours(&i.path)? == Some(true) {
            std::fs::remove_file(&i.path).map_err(io(&i.path))?;
            removed.push(i.path.clone());
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ServiceSpec, unit_files};
    use std::time::Duration;

    fn spec(job: Job) -> ServiceSpec {
        ServiceSpec {
            program: "/bin/hearth".into(),
            config: "/c.toml".into(),
            job,
            forget: false,
            log: "/l".into(),
        }
    }

    #[test]
    fn written_files_are_found_and_removed_and_nothing_else_is() {
        let dir = tempfile::tempdir().unwrap();
        for platform in [Platform::Linux, Platform::MacOs] {
            let every = Job::Every(Duration::from_secs(3600));
            let files = unit_files(platform, &spec(every), dir.path()).unwrap();
            write(&files).unwrap();
            let other = dir.path().join("other.service");
            std::fs::write(&other, "[Service]\nExecStart=/bin/true\n").unwrap();
            let found = find_installed(platform, dir.path()).unwrap();
            assert_eq!(found.len(), files.len());
            assert!(found.iter().any(|i| i.job == Some(every)), "{found:?}");
            assert_eq!(remove(&found).unwrap().len(), files.len());
            assert!(find_installed(platform, dir.path()).unwrap().is_empty());
            assert!(other.exists());
        }
    }

    #[test]
    fn a_file_that_is_not_ours_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let theirs = dir.path().join(systemd::WATCH);
        std::fs::write(&theirs, "[Service]\nExecStart=/their/own\n").unwrap();
        let files = unit_files(Platform::Linux, &spec(Job::Watch), dir.path()).unwrap();
        let err = write(&files).unwrap_err();
        assert!(matches!(err, ScheduleError::NotOurs { .. }), "{err}");
        assert!(
            find_installed(Platform::Linux, dir.path())
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            std::fs::read_to_string(&theirs).unwrap(),
            "[Service]\nExecStart=/their/own\n"
        );
    }
}
