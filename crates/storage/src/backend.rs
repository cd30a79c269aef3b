//! The storage seam.

use std::io;
use std::path::PathBuf;
use thiserror::Error;

/// The folders of a repository (`docs/format.md` §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileType {
    Config,
    Key,
    Pack,
    Index,
    Snapshot,
    Lock,
    DeviceKey,
    Pin,
}

impl FileType {
    pub const ALL: [FileType; 8] = [
        Self::Config,
        Self::Key,
        Self::Pack,
        Self::Index,
        Self::Snapshot,
        Self::Lock,
        Self::DeviceKey,
        Self::Pin,
    ];

    /// Folder name in the repository; `Config` is the single file `config`.
    pub fn dir(self) -> &'static str {
        match self {
            Self::Config => "",
            Self::Key => "keys",
            Self::Pack => "packs",
            Self::Index => "index",
            Self::Snapshot => "snapshots",
            Self::Lock => "locks",
            Self::DeviceKey => "devicekeys",
            Self::Pin => "pins",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub name: String,
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Created,
    /// An object of that name was there already; nothing was written.
    AlreadyExists,
}

/// An object being written ([`Backend::create_staging`]) whose name is known only once it is
/// complete. Each backend brings its own kind.
pub trait Staging: Send + Sync + std::fmt::Debug {
    /// Writes `bytes` at `offset`; writes to different ranges may come from several threads.
    fn write_at(&self, offset: u64, bytes: &[u8]) -> Result<(), StorageError>;

    /// Names the object once every write to it has returned; `store` is the backend that made
    /// it. (The object's bytes are no longer needed in memory after this.)
    fn finish(&self, store: &dyn Backend, name: &str) -> Result<Box<dyn Staged>, StorageError>;
}

/// A named object waiting for [`Backend::commit`]. Dropping it uncommitted leaves what
/// [`Backend::remove_temporary_files`] removes.
pub trait Staged: Send + std::fmt::Debug + std::any::Any {
    /// Makes the object durable and visible; returns when it is.
    fn commit(self: Box<Self>) -> Result<(), StorageError>;
}

/// The default staging: bytes in memory, put when named.
#[derive(Debug)]
struct MemoryStaging {
    t: FileType,
    bytes: std::sync::Mutex<Vec<u8>>,
}

impl Staging for MemoryStaging {
    fn write_at(&self, offset: u64, bytes: &[u8]) -> Result<(), StorageError> {
        let mut buf = self.bytes.lock().unwrap_or_else(|e| e.into_inner());
        let (start, end) = (offset as usize, offset as usize + bytes.len());
        if buf.len() < end {
            buf.resize(end, 0);
        }
        buf[start..end].copy_from_slice(bytes);
        Ok(())
    }

    fn finish(&self, store: &dyn Backend, name: &str) -> Result<Box<dyn Staged>, StorageError> {
        let bytes = std::mem::take(&mut *self.bytes.lock().unwrap_or_else(|e| e.into_inner()));
        store.put(self.t, name, &bytes)?;
        Ok(Box::new(Stored))
    }
}

/// An object already durable and visible.
#[derive(Debug)]
struct Stored;

impl Staged for Stored {
    fn commit(self: Box<Self>) -> Result<(), StorageError> {
        Ok(())
    }
}

#[derive(Debug, Error)]
pub enum StorageError {
    #[error("{path}: not found")]
    NotFound { path: String },
    #[error("{path}: invalid object name")]
    InvalidName { path: String },
    #[error("{path}: {op} failed: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{path}: fsync failed earlier ({detail}); this process stopped writing to the repository so nothing half-written is trusted. Run the command again"
    )]
    Poisoned { path: PathBuf, detail: String },
    #[error("{path}: a range {offset}+{len} lies beyond the object's end")]
    ShortRead { path: String, offset: u64, len: u64 },
    #[error("{path}: {op} failed: {detail}")]
    Remote {
        op: &'static str,
        path: String,
        detail: String,
    },
    #[error("{}: a repository already exists here", path.display())]
    RepositoryExists { path: PathBuf },
    /// A staged object made by another backend was given to this one to commit.
    #[error("{location}: an object staged by another store cannot be committed here")]
    ForeignStaging { location: String },
}

impl StorageError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}

/// Write-once object storage. Implementations must be safe to share between threads.
pub trait Backend: Send + Sync {
    /// A human-readable location, for messages.
    fn location(&self) -> String;
    /// Stores `bytes` under `name` unless an object of that name exists (then nothing changes).
    /// When this returns `Created`, the object is durable.
    fn put_if_absent(
        &self,
        t: FileType,
        name: &str,
        bytes: &[u8],
    ) -> Result<PutOutcome, StorageError>;
    fn get(&self, t: FileType, name: &str) -> Result<Vec<u8>, StorageError>;
    /// [`Backend::get`] into `buf`, replacing what it held; a backend that can reuses its
    /// capacity (see [`Backend::read_range_into`]).
    fn get_into(&self, t: FileType, name: &str, buf: &mut Vec<u8>) -> Result<(), StorageError> {
        *buf = self.get(t, name)?;
        Ok(())
    }
    /// Reads `len` bytes at `offset` into `buf`, replacing what it held; its capacity is reused,
    /// so a reader of many ranges need not fault in fresh pages for each. Fewer bytes than
    /// `len` is an error.
    fn read_range_into(
        &self,
        t: FileType,
        name: &str,
        offset: u64,
        len: u64,
        buf: &mut Vec<u8>,
    ) -> Result<(), StorageError>;
    /// A hint that `len` bytes at `offset` of an object will be read soon: a local disk starts
    /// reading them into the page cache (nothing is held in the process), so that the reader
    /// that asks later does not wait for it. Nothing fails; a backend with no such cache
    /// ignores it.
    fn will_read(&self, _t: FileType, _name: &str, _offset: u64, _len: u64) {}
    /// Every object of type `t` whose name is well-formed; never temporary files.
    fn list(&self, t: FileType) -> Result<Vec<ObjectInfo>, StorageError>;
    /// Removing an object that is already gone is not an error.
    fn delete(&self, t: FileType, name: &str) -> Result<(), StorageError>;

    /// `len` bytes at `offset`; see [`Backend::read_range_into`].
    fn get_range(
        &self,
        t: FileType,
        name: &str,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, StorageError> {
        let mut buf = Vec::new();
        self.read_range_into(t, name, offset, len, &mut buf)?;
        Ok(buf)
    }

    /// `put_if_absent` for content-addressed objects, where an existing object of the same name
    /// holds the same bytes.
    fn put(&self, t: FileType, name: &str, bytes: &[u8]) -> Result<(), StorageError> {
        self.put_if_absent(t, name, bytes).map(|_| ())
    }

    /// Starts an object whose name is known only once it is complete: it is written at offsets
    /// ([`Staging::write_at`], from any thread), then named ([`Staging::finish`]), then made
    /// durable and visible by [`Backend::commit`]. Until then a crash may lose it, and a reader
    /// never sees it. The default keeps the bytes in memory and puts them when named.
    fn create_staging(&self, t: FileType) -> Result<Box<dyn Staging>, StorageError> {
        Ok(Box::new(MemoryStaging {
            t,
            bytes: std::sync::Mutex::new(Vec::new()),
        }))
    }

    /// Makes staged objects durable and visible; returns when all of them are.
    fn commit(&self, staged: Vec<Box<dyn Staged>>) -> Result<(), StorageError> {
        staged.into_iter().try_for_each(|s| s.commit())
    }

    /// Removes what killed writers left half-written; returns how many. Only safe while no
    /// writer runs (the caller holds the exclusive lock). Stores whose puts are atomic have none.
    fn remove_temporary_files(&self) -> Result<usize, StorageError> {
        Ok(0)
    }
}

/// Object names are 64 lower-case hex digits (config's name is empty).
pub fn valid_name(t: FileType, name: &str) -> bool {
    match t {
        FileType::Config => name.is_empty() || name == "config",
        _ => {
            name.len() == 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
    }
}
