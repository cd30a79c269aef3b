//! Getting anything back out of a snapshot, short of a whole device image: one file or a folder
//! ([`dump`]), a plain tree of chosen files ([`extract`]), what changed between two snapshots
//! ([`diff`]), where a file is across the household's history ([`find`]), and the household as
//! one read-only tree for the mounted views ([`Household`]).
//!
//! Everything reads a snapshot's files as [`SnapshotFiles`]: the device's files named
//! `<Domain>/<relative path>` as Manifest.db names them, beside the backup folder's own files,
//! always as plaintext (an encrypted backup's files are stored decrypted). Bytes are read
//! through the repository's span reader, so memory stays bounded whatever the file sizes.

mod diff;
mod dump;
mod error;
mod extract;
mod files;
mod find;
mod household;
mod read;
mod stream;

pub use diff::{Change, ChangeKind, DiffOptions, DiffReport, Growth, Tally, app_of, diff};
pub use dump::{ArchiveFormat, DumpReport, dump_archive, dump_file, locate};
pub use error::BrowseError;
pub use extract::{ExtractReport, Selection, extract};
pub use files::{FileData, Hidden, Node, NodeId, NodeKind, SnapshotFiles, Totals, is_safe_name};
pub use find::{FindPattern, Found, FoundKind, Version, find};
pub use household::{
    DeviceFolder, Household, KEPT_SNAPSHOTS, LATEST, Place, SnapshotFolder, snapshot_folder_name,
};
pub use read::{FileReader, copy_file};
