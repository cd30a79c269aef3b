//! One snapshot as exporters read it: its files by domain and path, their bytes, and its SQLite
//! databases opened from a private copy.
//!
//! Invariant: nothing is ever written beside the repository or the source; a database is copied
//! (with its `-wal`, when the backup holds one) into a temporary folder of its own, and SQLite
//! opens only that copy.

use crate::database::Database;
use crate::error::ExportError;
use hearth_browse::{FileData, NodeId, NodeKind, SnapshotFiles, copy_file};
use hearth_format::{Snapshot, SnapshotId};
use hearth_repo::Repository;
use std::io::Write;
use std::sync::Arc;

/// A file of the snapshot: where it is and what it holds.
#[derive(Debug, Clone, Copy)]
pub struct SourceFile<'s> {
    pub node: NodeId,
    pub data: &'s FileData,
    /// The device's mtime, Unix nanoseconds.
    pub mtime_ns: i128,
}

pub struct Source<'r> {
    repo: &'r Repository,
    files: Arc<SnapshotFiles>,
    id: SnapshotId,
    snapshot: Snapshot,
}

impl<'r> Source<'r> {
    /// Reads the snapshot's file list.
    pub fn load(
        repo: &'r Repository,
        id: SnapshotId,
        snapshot: &Snapshot,
    ) -> Result<Self, ExportError> {
        let files = Arc::new(SnapshotFiles::load(repo, snapshot)?);
        Ok(Self::new(repo, id, snapshot.clone(), files))
    }

    /// A source over a file list already read (the mounted views and the dashboard keep them).
    pub fn new(
        repo: &'r Repository,
        id: SnapshotId,
        snapshot: Snapshot,
        files: Arc<SnapshotFiles>,
    ) -> Self {
        Self {
            repo,
            files,
            id,
            snapshot,
        }
    }

    pub fn repo(&self) -> &'r Repository {
        self.repo
    }

    pub fn files(&self) -> &SnapshotFiles {
        &self.files
    }

    pub fn id(&self) -> SnapshotId {
        self.id
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The device's name, else its UDID: how errors and reports name it.
    pub fn device(&self) -> &str {
        self.snapshot.device.label()
    }

    /// The file `domain`/`relative_path`, if the snapshot holds one there.
    pub fn file(&self, domain: &str, relative_path: &str) -> Option<SourceFile<'_>> {
        let node = self.files.lookup(&format!("{domain}/{relative_path}"))?;
        self.source_file(node)
    }

    /// The file at `node`, if it is a file.
    pub fn source_file(&self, node: NodeId) -> Option<SourceFile<'_>> {
        let n = self.files.node(node);
        match &n.kind {
            NodeKind::File(data) => Some(SourceFile {
                node,
                data,
                mtime_ns: n.mtime_ns,
            }),
            NodeKind::Folder(_) => None,
        }
    }

    /// Every file under the folder `domain`/`relative_folder` (all depths), with its path
    /// relative to that folder; nothing when the folder is absent.
    pub fn files_under(
        &self,
        domain: &str,
        relative_folder: &str,
    ) -> Vec<(String, SourceFile<'_>)> {
        let path = match relative_folder {
            "" => domain.to_string(),
            f => format!("{domain}/{f}"),
        };
        let Some(top) = self.files.lookup(&path) else {
            return Vec::new();
        };
        let prefix = self.files.path(top).len() + 1;
        self.files
            .walk(top)
            .filter_map(|node| {
                let file = self.source_file(node)?;
                let full = self.files.path(node);
                Some((full.get(prefix..).unwrap_or_default().to_string(), file))
            })
            .collect()
    }

    /// Writes the plaintext of `file` to `out`; `path` names it in errors.
    pub fn copy(&self, file: &FileData, out: &mut dyn Write) -> Result<u64, ExportError> {
        let spans = self.repo.span_reader(&file.chunks)?;
        let path = format!("{}: {}", self.device(), file.folder_path);
        Ok(copy_file(&spans, file, &path, out)?)
    }

    /// The whole plaintext of a file that must fit in memory: at most `limit` bytes, else an
    /// error naming the file.
    pub fn read(&self, file: SourceFile<'_>, limit: u64) -> Result<Vec<u8>, ExportError> {
        if file.data.size > limit {
            return Err(ExportError::BadData {
                device: self.device().to_string(),
                database: self.files.path(file.node),
                what: format!("{} bytes, more than the {limit} read whole", file.data.size),
            });
        }
        let mut bytes = Vec::with_capacity(file.data.size as usize);
        self.copy(file.data, &mut bytes)?;
        Ok(bytes)
    }

    /// The SQLite database `domain`/`relative_path` (with its `-wal` when the backup holds
    /// one), opened read-only from a private copy; `None` when the snapshot has no such file.
    pub fn database(
        &self,
        domain: &str,
        relative_path: &str,
    ) -> Result<Option<Database>, ExportError> {
        let Some(main) = self.file(domain, relative_path) else {
            return Ok(None);
        };
        let wal = self.file(domain, &format!("{relative_path}-wal"));
        let name = format!("{domain}/{relative_path}");
        Database::copy_of(self, &name, main.data, wal.map(|w| w.data)).map(Some)
    }
}
