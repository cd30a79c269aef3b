//! Errors of this crate.
//!
//! Policy: every message starts with the file or folder it is about, says what is wrong, and,
//! where there is one, what the user can do next. Callers match on the variant; people read the
//! text. Nothing here panics on bad input and nothing prints.

use std::path::PathBuf;

/// Everything that can go wrong reading or writing a device backup folder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The encryption of an encrypted backup is damaged or does not open.
    #[error("{}: {source}", path.display())]
    Encryption {
        path: PathBuf,
        source: crate::encryption::EncryptionError,
    },

    /// Encrypted, but Manifest.plist has no ManifestKey: an iOS 10.0/10.1 backup.
    #[error(
        "{}: IsEncrypted is true but there is no ManifestKey: an iOS 10.0 or 10.1 encrypted \
         backup, which is not supported; update the device to iOS 10.2 or later and make a new \
         backup",
        path.display()
    )]
    NoManifestKey { path: PathBuf },

    /// Manifest.db decrypted with its ManifestKey is not SQLite.
    #[error(
        "{}: does not decrypt to an SQLite database (the file is damaged or does not belong to \
         this Manifest.plist)",
        path.display()
    )]
    ManifestDbUndecryptable { path: PathBuf },

    /// A path that must exist does not.
    #[error("{}: not found", path.display())]
    NotFound { path: PathBuf },

    /// A path that must be a directory is not.
    #[error("{}: not a directory", path.display())]
    NotADirectory { path: PathBuf },

    /// A file read whole from a backup folder is not a regular file (a FIFO, a link, a device).
    #[error(
        "{}: not a regular file ({kind}); Hearth reads only regular files here",
        path.display()
    )]
    NotRegularFile { path: PathBuf, kind: &'static str },

    /// A file read whole is longer than any real one.
    #[error(
        "{}: {len} bytes, more than the {limit} Hearth reads of this file (no real backup has \
         one this large): the file is damaged or not part of a backup",
        path.display()
    )]
    TooLarge { path: PathBuf, len: u64, limit: u64 },

    /// An I/O error on a named file.
    #[error("{}: {what}: {source}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },

    /// Neither the folder nor any of its sub-folders looks like a device backup.
    #[error(
        "{}: no device backup folder here (expected a folder holding Info.plist and Manifest.db, \
         or a MobileSync Backup folder of such folders)",
        path.display()
    )]
    NoDeviceFolder { path: PathBuf },

    /// The device folder has no Info.plist.
    #[error(
        "{}: no Info.plist; this is not a device backup folder or the backup is incomplete \
         (make a new backup)",
        folder.display()
    )]
    MissingInfoPlist { folder: PathBuf },

    /// An iOS ≤ 9 backup (Manifest.mbdb and no Manifest.db).
    #[error(
        "{}: iOS 9 or older backup (Manifest.mbdb) is not supported; make a new backup with a \
         current Finder or idevicebackup2",
        folder.display()
    )]
    LegacyMbdb { folder: PathBuf },

    /// The bytes are not a property list in any encoding.
    #[error("{}: not a property list (truncated or corrupt): {detail}", path.display())]
    NotPlist { path: PathBuf, detail: String },

    /// The property list parsed but its top level is not a dictionary.
    #[error("{}: property list top level is not a dictionary", path.display())]
    NotDictionary { path: PathBuf },

    /// A key holds a value of the wrong type.
    #[error("{}: key {key:?} should be {expected}", path.display())]
    WrongType {
        path: PathBuf,
        key: String,
        expected: &'static str,
    },

    /// Nothing names the device: not Info.plist, not Manifest.plist's Lockdown, not the
    /// folder's name.
    #[error(
        "{}: no device UDID: Info.plist has no Unique Identifier or Target Identifier, \
         Manifest.plist no Lockdown UniqueDeviceID, and the folder's name is not a UDID (40 hex \
         digits, or 8 and 16 hex digits joined by '-'); the backup is damaged or was not written \
         by Finder, iTunes or idevicebackup2. If you know the device's UDID, name the folder \
         after it and back it up again",
        folder.display()
    )]
    NoUdid { folder: PathBuf },

    /// Info.plist's UDID is not a plain name (letters, digits, `-`), so it cannot name a folder.
    #[error(
        "{}: Unique Identifier {udid:?} is not a device UDID (letters, digits and '-' only); \
         the backup is damaged or was not written by Finder, iTunes or idevicebackup2",
        path.display()
    )]
    BadUdid { path: PathBuf, udid: String },

    /// Writing a property list failed.
    #[error("{}: cannot write property list: {detail}", path.display())]
    WritePlist { path: PathBuf, detail: String },

    /// Manifest.db does not start with the SQLite magic.
    #[error(
        "{}: Manifest.db is not an SQLite database (it may be encrypted: check Manifest.plist \
         IsEncrypted and decrypt it with the backup password; otherwise the file is damaged)",
        path.display()
    )]
    NotSqlite { path: PathBuf },

    /// Manifest.db is shorter than the 16-byte magic, so it is neither plaintext nor ciphertext.
    #[error(
        "{}: Manifest.db is truncated ({len} bytes); the backup is incomplete, make a new one",
        path.display()
    )]
    TruncatedManifestDb { path: PathBuf, len: u64 },

    /// Manifest.db has the SQLite magic but SQLite cannot read it.
    #[error(
        "{}: Manifest.db is corrupt ({what}): {source}; the backup is damaged, make a new one",
        path.display()
    )]
    CorruptManifestDb {
        path: PathBuf,
        what: String,
        source: rusqlite::Error,
    },

    /// Manifest.db is a readable SQLite database but not a backup index.
    #[error("{}: Manifest.db is not a backup index: {detail}", path.display())]
    NotManifestDb { path: PathBuf, detail: String },

    /// Any other SQLite failure (mostly while writing).
    #[error("{}: SQLite error while {what}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        what: String,
        source: rusqlite::Error,
    },

    /// The writer refuses to overwrite an existing file.
    #[error("{}: already exists; refusing to overwrite it", path.display())]
    AlreadyExists { path: PathBuf },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_cross_threads() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Error>();
    }

    #[test]
    fn messages_start_with_the_path() {
        let err = Error::NotSqlite {
            path: PathBuf::from("/backups/X/Manifest.db"),
        };
        assert!(err.to_string().starts_with(
            "/backups/X/Manifest.db: Manifest.db is not an SQLite database (it may be encrypted"
        ));
    }
}
