//! One error type for the whole kit: every variant names the file it failed on.

use std::path::PathBuf;

/// What went wrong while generating or editing a synthetic household.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem call failed.
    #[error("{}: I/O error: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// SQLite refused an operation on a database the kit writes or edits.
    #[error("{}: SQLite error: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// A plist could not be read or written.
    #[error("{}: property list error: {source}", path.display())]
    Plist {
        path: PathBuf,
        #[source]
        source: plist::Error,
    },
    /// The MobileSync reader or writer (Manifest.db, MBFile, plists) failed; its message names
    /// the file.
    #[error(transparent)]
    MobileSync(#[from] hearth_mobilesync::Error),
    /// The device folder already holds a backup; generation never overwrites one.
    #[error(
        "{}: already holds a device backup; generate into an empty folder or delete it first",
        path.display()
    )]
    AlreadyExists { path: PathBuf },
    /// A keybag, wrapped key or ciphertext of an encrypted device does not open (wrong password,
    /// or a folder damaged on purpose by [`crate::damage`]).
    #[error("{}: encrypted backup: {source}", path.display())]
    Encryption {
        path: PathBuf,
        #[source]
        source: hearth_mobilesync::encryption::EncryptionError,
    },
    /// An encrypted device was loaded without its password, so it cannot be edited.
    #[error(
        "{}: an encrypted device whose password is not known; load the household with \
         Household::load_for(spec, root) so that its keys are",
        path.display()
    )]
    Locked { path: PathBuf },
    /// A folder does not look like something this kit generated.
    #[error(
        "{}: not a generated household ({reason}); generate one first with hearth_testkit::generate",
        path.display()
    )]
    NotGenerated { path: PathBuf, reason: String },
}

/// Attaches a path to the error of an operation.
pub(crate) trait Context<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T, Error>;
}

impl<T> Context<T> for Result<T, std::io::Error> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T, Error> {
        self.map_err(|source| Error::Io {
            path: path.into(),
            source,
        })
    }
}

impl<T> Context<T> for Result<T, rusqlite::Error> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T, Error> {
        self.map_err(|source| Error::Sqlite {
            path: path.into(),
            source,
        })
    }
}

impl<T> Context<T> for Result<T, hearth_mobilesync::encryption::EncryptionError> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T, Error> {
        self.map_err(|source| Error::Encryption {
            path: path.into(),
            source,
        })
    }
}

impl<T> Context<T> for Result<T, plist::Error> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T, Error> {
        self.map_err(|source| Error::Plist {
            path: path.into(),
            source,
        })
    }
}
