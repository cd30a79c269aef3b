//! Writes blobs and collects the Manifest.db rows that describe them.
//!
//! Invariants kept for every device folder:
//! * every regular file gets a blob at `<fileID[0..2]>/<fileID>` whose length is its `Size`
//!   (unencrypted) or `Size` padded to whole AES blocks (encrypted, with its `EncryptionKey`);
//! * every ancestor directory of a row, and every domain root (`relativePath ""`), gets a
//!   directory row (flags 2), so the index is a closed tree;
//! * nothing is written to the folder except blobs, `Manifest.db` and the three plists.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use hearth_mobilesync::{FileId, MANIFEST_DB, ManifestDbWriter, MbFile};
use rand::RngExt;

use crate::content::{Rng, Seeds};
use crate::crypt::Sealer;
use crate::error::{Context, Error};
use crate::tree::set_mtime;

/// `st_mode` values seen in real backups.
pub(crate) const MODE_FILE: u32 = 0o100644;
pub(crate) const MODE_PRIVATE_FILE: u32 = 0o100600;
pub(crate) const MODE_DIR: u32 = 0o040755;
pub(crate) const MODE_SYMLINK: u32 = 0o120755;

/// Data Protection class of the most private files: only while the device is unlocked.
pub(crate) const CLASS_COMPLETE: u32 = 1;
/// Data Protection class of most files: until first user authentication.
pub(crate) const CLASS_DEFAULT: u32 = 3;
/// No protection: media in the camera roll.
pub(crate) const CLASS_NONE: u32 = 4;

const FLAG_FILE: i64 = 1;
const FLAG_DIR: i64 = 2;
const FLAG_SYMLINK: i64 = 4;

#[derive(Debug)]
enum Kind {
    File {
        size: u64,
        mode: u32,
        class: u32,
        key: Option<Vec<u8>>,
    },
    Symlink {
        target: String,
    },
}

#[derive(Debug)]
struct Entry {
    domain: String,
    path: String,
    kind: Kind,
    birth: i64,
    modified: i64,
    inode: u64,
}

/// Collects a device folder's content; [`BlobWriter::finish`] writes Manifest.db.
pub(crate) struct BlobWriter {
    folder: PathBuf,
    /// Backup time: the mtime of every blob written.
    now: i64,
    meta: Rng,
    entries: Vec<Entry>,
    dirs: BTreeSet<(String, String)>,
    next_inode: u64,
    sealer: Sealer,
    /// Per-file keys, when the device is encrypted.
    keys: Rng,
}

impl BlobWriter {
    /// `sealer` encrypts (or not) every file; `keys` draws the per-file keys.
    pub(crate) fn new(folder: &Path, seeds: Seeds, now: i64, sealer: Sealer, keys: Rng) -> Self {
        let mut meta = seeds.label("metadata").rng();
        let next_inode = meta.random_range(40_000..400_000);
        BlobWriter {
            folder: folder.to_path_buf(),
            now,
            meta,
            entries: Vec::new(),
            dirs: BTreeSet::new(),
            next_inode,
            sealer,
            keys,
        }
    }

    pub(crate) fn now(&self) -> i64 {
        self.now
    }

    /// Writes a regular file through `write(path)` (the blob, or a scratch file encrypted into
    /// it); returns its plaintext size.
    pub(crate) fn file(
        &mut self,
        domain: &str,
        path: &str,
        class: u32,
        write: impl FnOnce(&Path) -> Result<(), Error>,
    ) -> Result<u64, Error> {
        let blob = blob_path(&self.folder, domain, path)?;
        let (size, key) = self.sealer.create(&blob, class, &mut self.keys, write)?;
        set_mtime(&blob, self.now)?;
        let mode = if self.meta.random_bool(0.6) {
            MODE_PRIVATE_FILE
        } else {
            MODE_FILE
        };
        let kind = Kind::File {
            size,
            mode,
            class,
            key,
        };
        self.push(domain, path, kind);
        Ok(size)
    }

    /// Writes a regular file with the given bytes.
    pub(crate) fn bytes(&mut self, domain: &str, path: &str, bytes: &[u8]) -> Result<u64, Error> {
        self.bytes_of_class(domain, path, CLASS_DEFAULT, bytes)
    }

    pub(crate) fn bytes_of_class(
        &mut self,
        domain: &str,
        path: &str,
        class: u32,
        bytes: &[u8],
    ) -> Result<u64, Error> {
        self.file(domain, path, class, |blob| {
            std::fs::write(blob, bytes).at(blob)
        })
    }

    /// A directory row (with its ancestors), for directories that hold no file.
    pub(crate) fn dir(&mut self, domain: &str, path: &str) {
        self.add_ancestors(domain, path);
        self.dirs.insert((domain.to_owned(), path.to_owned()));
    }

    pub(crate) fn symlink(&mut self, domain: &str, path: &str, target: &str) {
        let target = target.to_owned();
        self.push(domain, path, Kind::Symlink { target });
    }

    fn push(&mut self, domain: &str, path: &str, kind: Kind) {
        self.add_ancestors(domain, path);
        let birth = self.now - self.meta.random_range(86_400..3 * 365 * 86_400);
        let modified = self.meta.random_range(birth..self.now);
        let inode = self.inode();
        let (domain, path) = (domain.to_owned(), path.to_owned());
        self.entries.push(Entry {
            domain,
            path,
            kind,
            birth,
            modified,
            inode,
        });
    }

    fn inode(&mut self) -> u64 {
        self.next_inode += self.meta.random_range(1..40);
        self.next_inode
    }

    fn add_ancestors(&mut self, domain: &str, path: &str) {
        self.dirs.insert((domain.to_owned(), String::new()));
        let mut end = 0;
        while let Some(i) = path[end..].find('/') {
            end += i;
            self.dirs
                .insert((domain.to_owned(), path[..end].to_owned()));
            end += 1;
        }
    }

    /// Writes Manifest.db (encrypted under a new key of class 4 when the device is); returns
    /// that key wrapped, the `ManifestKey`.
    pub(crate) fn finish(mut self) -> Result<Option<Vec<u8>>, Error> {
        let sealer = std::mem::take(&mut self.sealer);
        let mut keys = self.keys.clone();
        let db = self.folder.join(MANIFEST_DB);
        let (_, manifest_key) =
            sealer.create(&db, CLASS_NONE, &mut keys, |p| self.write_rows(p))?;
        Ok(manifest_key)
    }

    /// Directories (sorted), then files and symlinks in creation order.
    fn write_rows(&mut self, path: &Path) -> Result<(), Error> {
        let mut db = ManifestDbWriter::create(path)?;
        let dirs = std::mem::take(&mut self.dirs);
        for (domain, path) in &dirs {
            let birth = self.now - self.meta.random_range(86_400..3 * 365 * 86_400);
            let file = MbFile {
                mode: Some(MODE_DIR),
                protection_class: Some(0),
                inode_number: Some(self.inode()),
                ..metadata(path, birth, birth, 0)
            };
            db.insert(
                FileId::for_path(domain, path).as_str(),
                domain,
                path,
                FLAG_DIR,
                &file,
            )?;
        }
        for e in &self.entries {
            let (flags, file) = describe(e);
            let id = FileId::for_path(&e.domain, &e.path);
            db.insert(id.as_str(), &e.domain, &e.path, flags, &file)?;
        }
        Ok(db.finish()?)
    }
}

fn describe(e: &Entry) -> (i64, MbFile) {
    let base = MbFile {
        inode_number: Some(e.inode),
        ..metadata(&e.path, e.birth, e.modified, 0)
    };
    match &e.kind {
        Kind::File {
            size,
            mode,
            class,
            key,
        } => (
            FLAG_FILE,
            MbFile {
                size: Some(*size),
                mode: Some(*mode),
                protection_class: Some(*class),
                encryption_key: key.clone(),
                ..base
            },
        ),
        Kind::Symlink { target } => (
            FLAG_SYMLINK,
            MbFile {
                mode: Some(MODE_SYMLINK),
                protection_class: Some(0),
                target: Some(target.clone()),
                ..base
            },
        ),
    }
}

/// The fields every real row carries; the caller sets mode, class and inode.
pub(crate) fn metadata(path: &str, birth: i64, modified: i64, size: u64) -> MbFile {
    MbFile {
        relative_path: Some(path.to_owned()),
        last_modified: Some(modified),
        last_status_change: Some(modified),
        birth: Some(birth),
        size: Some(size),
        user_id: Some(501),
        group_id: Some(501),
        flags: Some(0),
        ..MbFile::default()
    }
}

/// `<folder>/<id[0..2]>/<id>`, creating the sub-folder.
pub(crate) fn blob_path(folder: &Path, domain: &str, path: &str) -> Result<PathBuf, Error> {
    let blob = folder.join(FileId::for_path(domain, path).blob_path());
    let parent = blob.parent().expect("a blob path has a parent");
    std::fs::create_dir_all(parent).at(parent)?;
    Ok(blob)
}
