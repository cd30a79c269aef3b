//! Reads and writes Apple's MobileSync device backup format: the folder Finder, iTunes and
//! libimobiledevice's `idevicebackup2` write for an iPhone or iPad (iOS 10 and later).
//!
//! What it does:
//!
//! * finds device folders in a MobileSync `Backup` folder ([`find_device_folders`]);
//! * reads `Info.plist`, `Manifest.plist` and `Status.plist` ([`DeviceFolder::open`]), finds
//!   the device's UDID when Info.plist lacks it ([`DeviceFolder::udid`]) and tells a backup
//!   still being written ([`DeviceFolder::backup_state`]);
//! * reads the `Manifest.db` index without changing the source folder in any way
//!   ([`ManifestDb::open`] opens it immutable and read-only), an encrypted one decrypting only
//!   the pages SQLite reads ([`ManifestDb::open_encrypted`]), or from decrypted bytes in memory
//!   ([`ManifestDb::from_plaintext`]);
//! * decodes and encodes the NSKeyedArchiver `MBFile` records ([`MbFile`]);
//! * computes and validates fileIDs ([`FileId`]) and checks relative paths
//!   ([`check_relative_path`]) before anything uses them as file names;
//! * writes a new `Manifest.db` and plists ([`ManifestDbWriter`], [`write_plist_binary`]) for
//!   synthetic test backups and restore images;
//! * decrypts and encrypts backups made with a password ([`encryption`]: keybag, key derivation,
//!   class and file keys, AES-256-CBC streaming or at any offset;
//!   [`DeviceFolder::encrypted_manifest_db`] opens Manifest.db for decrypting), and turns an
//!   encrypted backup's records into an unencrypted one's ([`unencrypted_manifest`],
//!   [`unencrypted_mbfile`], [`ManifestDb::rebuilt`]).
//!
//! What it deliberately is not: it knows nothing about Hearth's repository, does not read blob
//! contents itself (callers stream them, through [`encryption::DecryptingReader`] when
//! encrypted), and rejects iOS ≤ 9 (`Manifest.mbdb`) backups with [`Error::LegacyMbdb`] and
//! iOS 10.0/10.1 encrypted backups with [`Error::NoManifestKey`]. It never prints and never panics on bad input; every error
//! names the file it is about. The format itself is described in
//! `shared/reference/mobilesync-format.md`.
//!
//! ```no_run
//! use hearth_mobilesync::{DeviceFolder, EntryKind, FileId, ManifestDb, find_device_folders};
//! use std::path::Path;
//!
//! # fn main() -> Result<(), hearth_mobilesync::Error> {
//! for root in find_device_folders(Path::new("/Users/me/Library/Application Support/MobileSync/Backup"))? {
//!     let device = DeviceFolder::open(&root)?;
//!     let db = ManifestDb::open(&device.manifest_db_path())?;
//!     for row in db.rows()? {
//!         let Ok(id) = FileId::parse(&row.file_id) else { continue };
//!         if row.kind() == EntryKind::File && root.join(id.blob_path()).is_file() {
//!             // hand the blob to the ingest pipeline
//!         }
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod bounded_plist;
mod bplist;
mod decrypting_vfs;
mod device;
pub mod encryption;
mod error;
mod file_id;
mod identity;
mod layout;
mod manifest_db;
mod manifest_writer;
mod mbfile;
mod plists;
mod regular;
mod state;
mod unencrypted;

pub use bounded_plist::{MAX_DEPTH as MAX_PLIST_DEPTH, PlistError, parse_value as parse_plist};
pub use device::{
    DeviceFolder, INFO_PLIST, IgnoredPlist, MANIFEST_DB, MANIFEST_MBDB, MANIFEST_PLIST,
    ManifestDbState, STATUS_PLIST,
};
pub use error::Error;
pub use file_id::{FILE_ID_LEN, FileId, InvalidFileId};
pub use identity::{UdidSource, is_plain_udid, looks_like_udid};
pub use layout::{
    DEVICE_FOLDER_MARKERS, PathProblem, check_relative_path, find_device_folders, is_device_folder,
    is_macos_junk,
};
pub use manifest_db::{EntryKind, ManifestDb, ManifestRow, RawRow, SQLITE_MAGIC};
pub use manifest_writer::ManifestDbWriter;
pub use mbfile::{MbFile, MbFileError};
pub use plists::{
    DeviceInfo, ManifestInfo, StatusInfo, parse_dictionary, read_plist_dictionary,
    write_plist_binary, write_plist_xml,
};
pub use regular::{
    INFO_PLIST_MAX_BYTES, Links, MANIFEST_DB_MAX_BYTES, MANIFEST_PLIST_MAX_BYTES,
    STATUS_PLIST_MAX_BYTES, open_regular, read_regular,
};
pub use state::{BackupState, QUIET, Writing};
pub use unencrypted::{unencrypted_manifest, unencrypted_mbfile};
