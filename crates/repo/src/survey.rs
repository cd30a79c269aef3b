//! What a location holds: whether `config` is there, and how many objects each of the other
//! folders holds (`docs/format.md` §2). `init` refuses a location that holds any of them, and
//! `open` tells a damaged repository (objects without `config`) from an empty location, so that
//! nobody is advised to run `hearth init` over a repository whose `config` was lost.

use crate::error::RepoError;
use hearth_storage::{Backend, FileType};

/// The repository objects found at a location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Survey {
    /// `config` exists.
    pub config: bool,
    /// Objects per folder, in [`FileType::ALL`] order; folders with none are left out.
    pub objects: Vec<(FileType, usize)>,
}

impl Survey {
    /// Lists every folder of the layout (only well-formed object names count, never temporary
    /// files or junk such as `.DS_Store`).
    pub fn of(backend: &dyn Backend) -> Result<Self, RepoError> {
        let config = match backend.get(FileType::Config, "config") {
            Ok(_) => true,
            Err(e) if e.is_not_found() => false,
            Err(e) => return Err(e.into()),
        };
        let mut objects = Vec::new();
        for t in FileType::ALL.into_iter().filter(|t| *t != FileType::Config) {
            let n = backend.list(t)?.len();
            if n > 0 {
                objects.push((t, n));
            }
        }
        Ok(Self { config, objects })
    }

    /// Nothing of a repository is here: `init` may create one.
    pub fn is_empty(&self) -> bool {
        !self.config && self.objects.is_empty()
    }

    /// Objects outside `config`.
    pub fn object_count(&self) -> usize {
        self.objects.iter().map(|(_, n)| n).sum()
    }

    /// `keys/ 1, packs/ 3, snapshots/ 2`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .objects
            .iter()
            .map(|(t, n)| format!("{}/ {n}", t.dir()))
            .collect();
        parts.join(", ")
    }

    /// `keys/ holds 1 object`, `keys/ and packs/ hold 3 objects (keys/ 1, packs/ 2)`.
    pub fn summary(&self) -> String {
        let dirs: Vec<String> = self
            .objects
            .iter()
            .map(|(t, _)| format!("{}/", t.dir()))
            .collect();
        let n = self.object_count();
        let objects = if n == 1 { "object" } else { "objects" };
        match dirs.as_slice() {
            [] => "no folder holds an object".into(),
            [one] => format!("{one} holds {n} {objects}"),
            [first @ .., last] => format!(
                "{} and {last} hold {n} {objects} ({})",
                first.join(", "),
                self.describe()
            ),
        }
    }

    /// `Ok` when a repository may be created here; otherwise what is in the way.
    pub(crate) fn allow_init(&self, location: String) -> Result<(), RepoError> {
        if self.config {
            return Err(RepoError::AlreadyExists { location });
        }
        if !self.objects.is_empty() {
            return Err(RepoError::NotEmpty {
                location,
                found: self.summary(),
            });
        }
        Ok(())
    }

    /// The error for a location without `config`: nothing here, or a damaged repository.
    pub(crate) fn missing_config(&self, location: String) -> RepoError {
        if self.objects.is_empty() {
            RepoError::NotARepository { location }
        } else {
            RepoError::ConfigMissing {
                location,
                found: self.summary(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_storage::LocalBackend;

    fn name(c: char) -> String {
        std::iter::repeat_n(c, 64).collect()
    }

    #[test]
    fn counts_objects_per_folder_and_ignores_junk() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::create(dir.path()).unwrap();
        assert!(Survey::of(&b).unwrap().is_empty());
        std::fs::write(dir.path().join("keys/.DS_Store"), b"junk").unwrap();
        assert!(Survey::of(&b).unwrap().is_empty(), "junk is not an object");
        b.put(FileType::Key, &name('a'), b"k").unwrap();
        b.put(FileType::Pack, &name('b'), b"p").unwrap();
        b.put(FileType::Pack, &name('c'), b"p").unwrap();
        let s = Survey::of(&b).unwrap();
        assert!(!s.config && !s.is_empty());
        assert_eq!(s.object_count(), 3);
        assert_eq!(s.describe(), "keys/ 1, packs/ 2");
        let err = s.missing_config("here".into()).to_string();
        assert!(
            err.contains(
                "config is missing, but keys/ and packs/ hold 3 objects (keys/ 1, packs/ 2)"
            ),
            "{err}"
        );
        assert!(!err.contains("hearth init"), "{err}");
        let err = s.allow_init("here".into()).unwrap_err().to_string();
        assert!(err.contains("keys/ 1, packs/ 2"), "{err}");
    }

    #[test]
    fn an_absent_folder_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::open(&dir.path().join("nothing"));
        let s = Survey::of(&b).unwrap();
        assert!(s.is_empty());
        let err = s.missing_config("here".into()).to_string();
        assert!(err.contains("hearth init"), "{err}");
    }
}
