//! The output folder: every file an export writes goes through [`OutDir`].
//!
//! Invariants: nothing is written outside the folder. Every name is one safe component (names
//! from a device's databases go through [`safe_name`] first); folders on the way must be real
//! folders, never links; new files are created with `O_EXCL|O_NOFOLLOW`, and files replaced on
//! a second run are written beside and renamed over, so a link in their place is replaced,
//! never written through.

use crate::error::ExportError;
use hearth_browse::is_safe_name;
use jiff::Timestamp;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Longest name [`safe_name`] gives, in bytes (file systems allow 255; room for ` (12).jpeg`).
const NAME_MAX: usize = 200;

#[derive(Debug, Clone)]
pub struct OutDir {
    root: PathBuf,
}

impl OutDir {
    /// The folder `root`, made if missing.
    pub fn create(root: &Path) -> Result<Self, ExportError> {
        std::fs::create_dir_all(root).map_err(ExportError::io(root, "making the output folder"))?;
        if !root.is_dir() {
            return Err(ExportError::NotAFolder {
                path: root.to_path_buf(),
            });
        }
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder `rel` (`a/b`) inside this one, made if missing.
    pub fn sub(&self, rel: &str) -> Result<OutDir, ExportError> {
        Ok(OutDir {
            root: self.folder(rel)?,
        })
    }

    /// Where `rel` is, checked to be safe components; its folders are made.
    pub fn path(&self, rel: &str) -> Result<PathBuf, ExportError> {
        let (folder, name) = match rel.rsplit_once('/') {
            Some((f, n)) => (self.folder(f)?, n),
            None => (self.root.clone(), rel),
        };
        check_name(&folder, name)?;
        Ok(folder.join(name))
    }

    /// Whether a file (or anything) is at `rel`.
    pub fn exists(&self, rel: &str) -> bool {
        self.root.join(rel).symlink_metadata().is_ok()
    }

    /// A new file at `rel`; an error if anything is there already.
    pub fn create_new(&self, rel: &str) -> Result<(PathBuf, File), ExportError> {
        let path = self.path(rel)?;
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(ExportError::io(&path, "creating"))?;
        Ok((path, file))
    }

    /// Writes the file `rel` whole through `write`, replacing what is there only once it is
    /// complete.
    pub fn replace_with(
        &self,
        rel: &str,
        write: impl FnOnce(&mut dyn Write) -> Result<(), ExportError>,
    ) -> Result<PathBuf, ExportError> {
        let path = self.path(rel)?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let temp = path.with_file_name(format!(".{name}.hearth-partial"));
        let _ = std::fs::remove_file(&temp);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&temp)
            .map_err(ExportError::io(&temp, "creating"))?;
        let mut w = BufWriter::with_capacity(256 << 10, file);
        let written =
            write(&mut w).and_then(|()| w.flush().map_err(ExportError::io(&temp, "writing")));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
        drop(w);
        std::fs::rename(&temp, &path).map_err(ExportError::io(&path, "replacing"))?;
        Ok(path)
    }

    /// Writes `bytes` as the file `rel`, replacing what is there.
    pub fn replace(&self, rel: &str, bytes: &[u8]) -> Result<PathBuf, ExportError> {
        self.replace_with(rel, |w| {
            w.write_all(bytes)
                .map_err(ExportError::io(self.root.join(rel), "writing"))
        })
    }

    /// `name` in the folder `folder_rel` if nothing is there, else `stem (2).ext`, `stem (3).ext`
    /// and so on: the first name free on disk and not in `taken`.
    pub fn free_name(&self, folder_rel: &str, name: &str, taken: &dyn Fn(&str) -> bool) -> String {
        let (stem, ext) = match name.rsplit_once('.') {
            Some((s, e)) if !s.is_empty() => (s, format!(".{e}")),
            _ => (name, String::new()),
        };
        let free = |n: &str| {
            let rel = match folder_rel {
                "" => n.to_string(),
                f => format!("{f}/{n}"),
            };
            !taken(&rel) && !self.exists(&rel)
        };
        if free(name) {
            return name.to_string();
        }
        (2..)
            .map(|i| format!("{stem} ({i}){ext}"))
            .find(|n| free(n))
            .unwrap_or_default()
    }

    /// Makes the folder `rel` (each component safe and a real folder) and returns its path.
    fn folder(&self, rel: &str) -> Result<PathBuf, ExportError> {
        let mut path = self.root.clone();
        for name in rel.split('/').filter(|c| !c.is_empty()) {
            check_name(&path, name)?;
            path.push(name);
            match std::fs::create_dir(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let meta = path
                        .symlink_metadata()
                        .map_err(ExportError::io(&path, "reading"))?;
                    if !meta.is_dir() {
                        return Err(ExportError::NotAFolder { path });
                    }
                }
                Err(e) => return Err(ExportError::io(&path, "making a folder")(e)),
            }
        }
        Ok(path)
    }
}

fn check_name(folder: &Path, name: &str) -> Result<(), ExportError> {
    match is_safe_name(name) {
        true => Ok(()),
        false => Err(ExportError::Io {
            path: folder.join(name),
            what: "naming an output file",
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a safe file name"),
        }),
    }
}

/// A file name made from text a device wrote (a contact's name, a conversation's title, an
/// attachment's name): path separators and control characters become `_`, leading dots and
/// surrounding spaces go, and it is at most [`NAME_MAX`] bytes; never empty.
pub fn safe_name(text: &str) -> String {
    let mut name: String = text
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '\0' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    name = name.trim().trim_start_matches('.').trim().to_string();
    if name.len() > NAME_MAX {
        let mut end = NAME_MAX;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
    }
    match name.is_empty() {
        true => "_".to_string(),
        false => name,
    }
}

/// Sets the file's mtime (and atime) to `time`.
pub fn set_mtime(path: &Path, time: Timestamp) -> Result<(), ExportError> {
    let system = std::time::SystemTime::from(time);
    let file = File::options()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(ExportError::io(path, "setting the file time"))?;
    file.set_times(
        std::fs::FileTimes::new()
            .set_modified(system)
            .set_accessed(system),
    )
    .map_err(ExportError::io(path, "setting the file time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_text_becomes_one_safe_name() {
        for (text, name) in [
            ("Mum", "Mum"),
            ("../../etc/passwd", "_.._etc_passwd"),
            ("a/b\\c:d", "a_b_c_d"),
            ("..", "_"),
            ("  .hidden ", "hidden"),
            ("line\nbreak", "line_break"),
            ("", "_"),
        ] {
            assert_eq!(safe_name(text), name, "{text:?}");
            assert!(is_safe_name(&safe_name(text)));
        }
        let long = "é".repeat(300);
        assert!(safe_name(&long).len() <= NAME_MAX);
    }

    #[test]
    fn names_taken_get_a_number() {
        let dir = tempfile::tempdir().unwrap();
        let out = OutDir::create(dir.path()).unwrap();
        out.replace("2024/05/IMG_1.HEIC", b"a").unwrap();
        let none = |_: &str| false;
        assert_eq!(
            out.free_name("2024/05", "IMG_1.HEIC", &none),
            "IMG_1 (2).HEIC"
        );
        assert_eq!(out.free_name("2024/05", "IMG_2.HEIC", &none), "IMG_2.HEIC");
        let taken = |rel: &str| rel == "2024/05/IMG_1 (2).HEIC";
        assert_eq!(
            out.free_name("2024/05", "IMG_1.HEIC", &taken),
            "IMG_1 (3).HEIC"
        );
    }

    #[test]
    fn links_are_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let out = OutDir::create(dir.path()).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("a")).unwrap();
        assert!(matches!(
            out.replace("a/x", b"x"),
            Err(ExportError::NotAFolder { .. })
        ));
        std::os::unix::fs::symlink(outside.path().join("f"), dir.path().join("f")).unwrap();
        assert!(out.create_new("f").is_err());
        out.replace("f", b"new").unwrap();
        assert!(!outside.path().join("f").exists());
        assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"new");
        assert!(out.replace("../x", b"x").is_err());
    }
}
