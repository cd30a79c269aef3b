//! One device folder: its three plists and the state of its Manifest.db.

use crate::encryption::{CipherFile, ClassKeys, EncryptionError, Keybag, WrappedKey};
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::manifest_db::{SQLITE_MAGIC, read_magic};
use crate::plists::{DeviceInfo, ManifestInfo, StatusInfo};
use crate::regular::{Links, MANIFEST_DB_MAX_BYTES, open_regular};

pub const INFO_PLIST: &str = "Info.plist";
pub const MANIFEST_PLIST: &str = "Manifest.plist";
pub const STATUS_PLIST: &str = "Status.plist";
pub const MANIFEST_DB: &str = "Manifest.db";
pub const MANIFEST_MBDB: &str = "Manifest.mbdb";

/// What the first 16 bytes of Manifest.db say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestDbState {
    /// Starts with `SQLite format 3\0`.
    Plaintext,
    /// At least 16 bytes and no SQLite magic: AES-encrypted as a whole (iOS ≥ 10.2), or damaged.
    /// Cross-check with [`DeviceFolder::is_encrypted`].
    Encrypted,
    /// No Manifest.db.
    Missing,
}

/// A device backup folder with its metadata read.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceFolder {
    pub root: PathBuf,
    pub info: DeviceInfo,
    /// `None` when there is no Manifest.plist (or it is in `ignored`).
    pub manifest: Option<ManifestInfo>,
    /// `None` when there is no Status.plist (or it is in `ignored`).
    pub status: Option<StatusInfo>,
    /// Plists that are there but could not be read, and that the backup can do without, so
    /// they were taken as absent: for callers to report.
    pub ignored: Vec<IgnoredPlist>,
}

/// A plist [`DeviceFolder::open`] could not read and went on without.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredPlist {
    /// `Manifest.plist` or `Status.plist`.
    pub name: &'static str,
    /// Why, naming the file ([`Error`]'s text).
    pub problem: String,
}

impl DeviceFolder {
    /// Reads the plists of the device folder at `root`, each only when it is a regular file
    /// within its limit ([`crate::INFO_PLIST_MAX_BYTES`] and the others).
    ///
    /// Info.plist is required. Manifest.plist and Status.plist are optional. One that is there
    /// but cannot be read is taken as absent and listed in [`DeviceFolder::ignored`], unless it
    /// is needed: the Manifest.plist of a backup whose Manifest.db is not plaintext SQLite (an
    /// encrypted one needs its keybag) is an error. A folder with Manifest.mbdb and no
    /// Manifest.db is an iOS ≤ 9 backup and is rejected with [`Error::LegacyMbdb`].
    pub fn open(root: &Path) -> Result<DeviceFolder, Error> {
        if !root.is_dir() {
            return Err(if root.exists() {
                Error::NotADirectory {
                    path: root.to_path_buf(),
                }
            } else {
                Error::NotFound {
                    path: root.to_path_buf(),
                }
            });
        }
        if root.join(MANIFEST_MBDB).exists() && !root.join(MANIFEST_DB).exists() {
            return Err(Error::LegacyMbdb {
                folder: root.to_path_buf(),
            });
        }
        let info = match DeviceInfo::read(&root.join(INFO_PLIST)) {
            Err(Error::NotFound { .. }) => {
                return Err(Error::MissingInfoPlist {
                    folder: root.to_path_buf(),
                });
            }
            other => other?,
        };
        let plaintext_db =
            read_magic(&root.join(MANIFEST_DB)).is_ok_and(|m| m.as_slice() == SQLITE_MAGIC);
        let mut ignored = Vec::new();
        let manifest = optional(
            root,
            MANIFEST_PLIST,
            ManifestInfo::read,
            plaintext_db,
            &mut ignored,
        )?;
        let status = optional(root, STATUS_PLIST, StatusInfo::read, true, &mut ignored)?;
        Ok(DeviceFolder {
            root: root.to_path_buf(),
            info,
            manifest,
            status,
            ignored,
        })
    }

    pub fn manifest_db_path(&self) -> PathBuf {
        self.root.join(MANIFEST_DB)
    }

    /// Looks at the first 16 bytes of Manifest.db. A file shorter than that is neither plaintext
    /// nor ciphertext and is reported as [`Error::TruncatedManifestDb`].
    pub fn manifest_db_state(&self) -> Result<ManifestDbState, Error> {
        let path = self.manifest_db_path();
        let magic = match read_magic(&path) {
            Err(Error::NotFound { .. }) => return Ok(ManifestDbState::Missing),
            other => other?,
        };
        if magic.as_slice() == SQLITE_MAGIC {
            Ok(ManifestDbState::Plaintext)
        } else if magic.len() < SQLITE_MAGIC.len() {
            Err(Error::TruncatedManifestDb {
                path,
                len: magic.len() as u64,
            })
        } else {
            Ok(ManifestDbState::Encrypted)
        }
    }

    /// `Manifest.plist:IsEncrypted`; false without a Manifest.plist.
    pub fn is_encrypted(&self) -> bool {
        self.manifest.as_ref().is_some_and(|m| m.is_encrypted)
    }

    /// `Manifest.plist:Lockdown.ProductVersion` (authoritative), else `Info.plist:Product Version`.
    pub fn ios_version(&self) -> Option<&str> {
        self.manifest
            .as_ref()
            .and_then(|m| m.lockdown_product_version.as_deref())
            .filter(|v| !v.is_empty())
            .or_else(|| Some(self.info.product_version.as_str()).filter(|v| !v.is_empty()))
    }

    /// The backup keybag from Manifest.plist, for an encrypted backup.
    pub fn keybag(&self) -> Result<Keybag, Error> {
        let path = self.root.join(MANIFEST_PLIST);
        let bytes = self
            .manifest
            .as_ref()
            .and_then(|m| m.backup_keybag.as_deref())
            .ok_or_else(|| Error::Encryption {
                path: path.clone(),
                source: EncryptionError::Keybag("Manifest.plist has no BackupKeyBag".into()),
            })?;
        Keybag::parse(bytes).map_err(|source| Error::Encryption { path, source })
    }

    /// Manifest.db opened for decrypting at any offset ([`CipherFile`]: its plaintext is never
    /// on disk), and the ManifestKey. Fails with [`Error::ManifestDbUndecryptable`] when the key
    /// does not decrypt it to a SQLite database.
    pub fn encrypted_manifest_db(
        &self,
        keys: &ClassKeys,
    ) -> Result<(CipherFile, WrappedKey), Error> {
        let plist = self.root.join(MANIFEST_PLIST);
        let encryption = |path: &Path, source| Error::Encryption {
            path: path.to_path_buf(),
            source,
        };
        let wrapped = self
            .manifest
            .as_ref()
            .and_then(|m| m.manifest_key.as_deref())
            .ok_or_else(|| Error::NoManifestKey {
                path: plist.clone(),
            })?;
        let wrapped = WrappedKey::parse(wrapped).map_err(|e| encryption(&plist, e))?;
        let key = keys.unwrap(&wrapped).map_err(|e| encryption(&plist, e))?;
        let path = self.manifest_db_path();
        let (file, meta) = open_regular(&path, MANIFEST_DB_MAX_BYTES, Links::Refuse)?;
        let file = CipherFile::new(file, &key, meta.len()).map_err(|e| encryption(&path, e))?;
        let mut magic = [0; SQLITE_MAGIC.len()];
        let read = file.read_at(0, &mut magic).map_err(|source| Error::Io {
            path: path.clone(),
            what: "cannot read",
            source,
        })?;
        if read < magic.len() || magic != *SQLITE_MAGIC {
            return Err(Error::ManifestDbUndecryptable { path });
        }
        Ok((file, wrapped))
    }

    /// Absolute path of a blob in this folder.
    pub fn blob_path(&self, id: &crate::FileId) -> PathBuf {
        self.root.join(id.blob_path())
    }
}

/// The plist `name` of `root`: `None` when absent, or when unreadable and `can_do_without`.
fn optional<T>(
    root: &Path,
    name: &'static str,
    read: fn(&Path) -> Result<T, Error>,
    can_do_without: bool,
    ignored: &mut Vec<IgnoredPlist>,
) -> Result<Option<T>, Error> {
    match read(&root.join(name)) {
        Ok(value) => Ok(Some(value)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) if can_do_without => {
            ignored.push(IgnoredPlist {
                name,
                problem: e.to_string(),
            });
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plists::write_plist_binary;

    fn info() -> DeviceInfo {
        DeviceInfo {
            udid: "ABCDEF".into(),
            product_version: "14.3".into(),
            ..DeviceInfo::default()
        }
    }

    fn folder_with_info() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        write_plist_binary(&tmp.path().join(INFO_PLIST), &info().to_plist()).unwrap();
        tmp
    }

    #[test]
    fn opens_with_only_info_plist() {
        let tmp = folder_with_info();
        let folder = DeviceFolder::open(tmp.path()).unwrap();
        assert_eq!(folder.info, info());
        assert_eq!(folder.manifest, None);
        assert_eq!(folder.status, None);
        assert!(!folder.is_encrypted());
        assert_eq!(folder.ios_version(), Some("14.3"));
        assert_eq!(
            folder.manifest_db_state().unwrap(),
            ManifestDbState::Missing
        );
    }

    #[test]
    fn manifest_plist_wins_for_version_and_encryption() {
        let tmp = folder_with_info();
        let manifest = ManifestInfo {
            is_encrypted: true,
            lockdown_product_version: Some("17.5.1".into()),
            ..ManifestInfo::default()
        };
        write_plist_binary(&tmp.path().join(MANIFEST_PLIST), &manifest.to_plist()).unwrap();
        let folder = DeviceFolder::open(tmp.path()).unwrap();
        assert!(folder.is_encrypted());
        assert_eq!(folder.ios_version(), Some("17.5.1"));
    }

    #[test]
    fn manifest_db_state_by_magic() {
        let tmp = folder_with_info();
        let folder = DeviceFolder::open(tmp.path()).unwrap();
        let db = folder.manifest_db_path();
        std::fs::write(&db, b"SQLite format 3\0rest").unwrap();
        assert_eq!(
            folder.manifest_db_state().unwrap(),
            ManifestDbState::Plaintext
        );
        std::fs::write(&db, [0x5a; 32]).unwrap();
        assert_eq!(
            folder.manifest_db_state().unwrap(),
            ManifestDbState::Encrypted
        );
        std::fs::write(&db, b"SQLite").unwrap();
        let err = folder.manifest_db_state().unwrap_err();
        assert!(
            matches!(err, Error::TruncatedManifestDb { len: 6, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("Manifest.db"), "{err}");
    }

    #[test]
    fn missing_info_plist_names_the_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let err = DeviceFolder::open(tmp.path()).unwrap_err();
        assert!(matches!(err, Error::MissingInfoPlist { .. }));
        assert!(
            err.to_string().starts_with(&*tmp.path().to_string_lossy()),
            "{err}"
        );
        assert!(err.to_string().contains("no Info.plist"), "{err}");
    }

    #[test]
    fn unreadable_status_plist_is_ignored_and_named() {
        let tmp = folder_with_info();
        std::fs::write(tmp.path().join(STATUS_PLIST), b"bplist00\x00").unwrap();
        let folder = DeviceFolder::open(tmp.path()).unwrap();
        assert_eq!(folder.status, None);
        assert_eq!(folder.ignored.len(), 1);
        let ignored = &folder.ignored[0];
        assert_eq!(ignored.name, STATUS_PLIST);
        let status = tmp.path().join(STATUS_PLIST);
        let expected = format!("{}: not a property list", status.display());
        assert!(ignored.problem.starts_with(&expected), "{ignored:?}");
    }

    #[test]
    fn damaged_manifest_plist_is_ignored_only_beside_a_plaintext_manifest_db() {
        let tmp = folder_with_info();
        let plist = tmp.path().join(MANIFEST_PLIST);
        std::fs::write(&plist, b"<?xml version=").unwrap();
        let db = tmp.path().join(MANIFEST_DB);
        std::fs::write(&db, b"SQLite format 3\0rest").unwrap();
        let folder = DeviceFolder::open(tmp.path()).unwrap();
        assert_eq!((folder.manifest.as_ref(), folder.ignored.len()), (None, 1));
        assert_eq!(folder.ignored[0].name, MANIFEST_PLIST);
        assert!(!folder.is_encrypted());

        // Encrypted (or damaged) Manifest.db: the keybag in Manifest.plist is needed.
        std::fs::write(&db, [0x5a; 32]).unwrap();
        let err = DeviceFolder::open(tmp.path()).unwrap_err();
        assert!(
            err.to_string().starts_with(&*plist.to_string_lossy()),
            "{err}"
        );
    }

    #[test]
    fn a_fifo_or_a_link_to_dev_zero_is_refused_by_name_and_never_opened() {
        let tmp = folder_with_info();
        let db = tmp.path().join(MANIFEST_DB);
        let c = std::ffi::CString::new(db.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let folder = DeviceFolder::open(tmp.path()).unwrap();
        let err = folder.manifest_db_state().unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with(&*db.to_string_lossy()), "{msg}");
        assert!(msg.contains("not a regular file (a FIFO)"), "{msg}");

        let info = tmp.path().join(INFO_PLIST);
        std::fs::remove_file(&info).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &info).unwrap();
        let msg = DeviceFolder::open(tmp.path()).unwrap_err().to_string();
        assert!(msg.starts_with(&*info.to_string_lossy()), "{msg}");
        assert!(
            msg.contains("not a regular file (a symbolic link)"),
            "{msg}"
        );
    }

    #[test]
    fn legacy_mbdb_is_rejected() {
        let tmp = folder_with_info();
        std::fs::write(tmp.path().join(MANIFEST_MBDB), b"mbdb\x05\x00").unwrap();
        let err = DeviceFolder::open(tmp.path()).unwrap_err();
        assert!(matches!(err, Error::LegacyMbdb { .. }));
        let msg = err.to_string();
        assert!(msg.starts_with(&*tmp.path().to_string_lossy()), "{msg}");
        assert!(msg.contains("iOS 9 or older"), "{msg}");
    }
}
