//! Where device folders are and which names inside them are safe to use.
//!
//! A MobileSync `Backup` folder holds one sub-folder per device (named by UDID, sometimes with a
//! `-<date>` suffix for archived copies); a device folder holds `Info.plist`, `Manifest.db` and the
//! blob folders `00`..`ff` (format reference §1). Folders copied from a Mac carry Finder junk
//! (`.DS_Store`, AppleDouble `._*` files) that must be skipped without complaint.

use std::path::{Path, PathBuf};

use crate::error::Error;

/// File names that mark a folder as a device backup folder.
pub const DEVICE_FOLDER_MARKERS: [&str; 3] = ["Info.plist", "Manifest.db", "Manifest.mbdb"];

/// True for names macOS leaves behind that are never part of a backup.
pub fn is_macos_junk(file_name: &str) -> bool {
    matches!(
        file_name,
        ".DS_Store" | ".Spotlight-V100" | ".Trashes" | ".fseventsd" | "Icon\r"
    ) || file_name.starts_with("._")
}

/// True when `path` is a directory holding at least one of [`DEVICE_FOLDER_MARKERS`].
pub fn is_device_folder(path: &Path) -> bool {
    path.is_dir()
        && DEVICE_FOLDER_MARKERS
            .iter()
            .any(|marker| path.join(marker).is_file())
}

/// Device folders at `path`, sorted.
///
/// `path` is either one device folder or a MobileSync `Backup` folder whose sub-folders are device
/// folders. Junk and sub-folders that are not device folders are skipped.
pub fn find_device_folders(path: &Path) -> Result<Vec<PathBuf>, Error> {
    if !path.exists() {
        return Err(Error::NotFound {
            path: path.to_path_buf(),
        });
    }
    if !path.is_dir() {
        return Err(Error::NotADirectory {
            path: path.to_path_buf(),
        });
    }
    if is_device_folder(path) {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut found = device_sub_folders(path)?;
    if found.is_empty() {
        return Err(Error::NoDeviceFolder {
            path: path.to_path_buf(),
        });
    }
    found.sort();
    Ok(found)
}

fn device_sub_folders(path: &Path) -> Result<Vec<PathBuf>, Error> {
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        what: "cannot list folder",
        source,
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        if is_macos_junk(&entry.file_name().to_string_lossy()) {
            continue;
        }
        let candidate = entry.path();
        if is_device_folder(&candidate) {
            found.push(candidate);
        }
    }
    Ok(found)
}

/// What makes a Manifest `relativePath` unsafe to join onto a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathProblem {
    /// Starts with `/`, so joining it would discard the base directory.
    #[error("path is absolute")]
    Absolute,
    /// Has a `..` component, which could escape the base directory.
    #[error("path has a '..' component")]
    ParentComponent,
    /// Has a `.` component; harmless to join but not a name Apple writes, and it would let two
    /// rows name the same file.
    #[error("path has a '.' component")]
    CurrentComponent,
    /// Has an empty component (`a//b` or a trailing `/`); same aliasing concern as `.`.
    #[error("path has an empty component")]
    EmptyComponent,
    /// Contains a NUL byte, which no file system accepts and C APIs would truncate at.
    #[error("path contains a NUL byte")]
    Nul,
}

/// Checks a Manifest `relativePath` before it is used as a path.
///
/// `""` is the domain root and is fine. Anything else must be a sequence of plain, non-empty
/// components separated by `/`.
pub fn check_relative_path(p: &str) -> Result<(), PathProblem> {
    if p.is_empty() {
        return Ok(());
    }
    if p.contains('\0') {
        return Err(PathProblem::Nul);
    }
    if p.starts_with('/') {
        return Err(PathProblem::Absolute);
    }
    for component in p.split('/') {
        match component {
            ".." => return Err(PathProblem::ParentComponent),
            "." => return Err(PathProblem::CurrentComponent),
            "" => return Err(PathProblem::EmptyComponent),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junk_names() {
        for junk in [
            ".DS_Store",
            "._Info.plist",
            ".Spotlight-V100",
            ".Trashes",
            ".fseventsd",
            "Icon\r",
        ] {
            assert!(is_macos_junk(junk), "{junk:?}");
        }
        for real in [
            "Info.plist",
            "00",
            "Icon",
            "1CB128EAFA77C5BE74283E9A3A2130AF36A3C059",
        ] {
            assert!(!is_macos_junk(real), "{real:?}");
        }
    }

    #[test]
    fn relative_paths_that_are_fine() {
        assert_eq!(check_relative_path(""), Ok(()));
        assert_eq!(check_relative_path("Library/SMS/sms.db"), Ok(()));
        assert_eq!(check_relative_path("a..b/..c/d.."), Ok(()));
    }

    #[test]
    fn relative_paths_that_are_unsafe() {
        assert_eq!(
            check_relative_path("../x"),
            Err(PathProblem::ParentComponent)
        );
        assert_eq!(check_relative_path(".."), Err(PathProblem::ParentComponent));
        assert_eq!(
            check_relative_path("a/../../b"),
            Err(PathProblem::ParentComponent)
        );
        assert_eq!(
            check_relative_path("/etc/passwd"),
            Err(PathProblem::Absolute)
        );
        assert_eq!(check_relative_path("a\0b"), Err(PathProblem::Nul));
        assert_eq!(
            check_relative_path("a/./b"),
            Err(PathProblem::CurrentComponent)
        );
        assert_eq!(
            check_relative_path("a//b"),
            Err(PathProblem::EmptyComponent)
        );
        assert_eq!(check_relative_path("a/"), Err(PathProblem::EmptyComponent));
    }

    fn make_device(dir: &Path, name: &str) -> PathBuf {
        let device = dir.join(name);
        std::fs::create_dir(&device).unwrap();
        std::fs::write(device.join("Info.plist"), b"x").unwrap();
        device
    }

    #[test]
    fn finds_sub_folders_sorted_and_skips_junk() {
        let tmp = tempfile::tempdir().unwrap();
        let b = make_device(tmp.path(), "BBBB");
        let a = make_device(tmp.path(), "AAAA");
        std::fs::write(tmp.path().join(".DS_Store"), b"junk").unwrap();
        std::fs::create_dir(tmp.path().join("not-a-device")).unwrap();
        make_device(tmp.path(), "._AAAA");
        assert_eq!(find_device_folders(tmp.path()).unwrap(), vec![a, b]);
    }

    #[test]
    fn a_device_folder_is_its_own_answer() {
        let tmp = tempfile::tempdir().unwrap();
        let device = make_device(tmp.path(), "AAAA");
        assert_eq!(find_device_folders(&device).unwrap(), vec![device]);
    }

    #[test]
    fn missing_and_empty_are_errors_naming_the_path() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("nope");
        let err = find_device_folders(&missing).unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }));
        assert!(
            err.to_string().contains(&*missing.to_string_lossy()),
            "{err}"
        );

        std::fs::write(tmp.path().join(".DS_Store"), b"junk").unwrap();
        let err = find_device_folders(tmp.path()).unwrap_err();
        assert!(matches!(err, Error::NoDeviceFolder { .. }));
        assert!(
            err.to_string().contains(&*tmp.path().to_string_lossy()),
            "{err}"
        );
    }
}
