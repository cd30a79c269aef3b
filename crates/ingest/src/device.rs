//! One device folder → one snapshot.

use crate::entries::{PlannedEntry, match_rows};
use crate::error::IngestError;
use crate::walk::{FoundFile, walk};
use hearth_format::{
    BlobKind, Content, DeviceIdentity, Entry, Snapshot, SnapshotId, SnapshotSummary, Warning,
};
use hearth_mobilesync::{DeviceFolder, ManifestDb, ManifestDbState};
use hearth_repo::{Progress, Repository, WriteSession};
use rayon::prelude::*;
use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Mutex;

#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    pub tags: Vec<String>,
    /// Read every file even when the parent snapshot says it is unchanged.
    pub force_read: bool,
}

/// What one device's backup did.
#[derive(Debug, Clone)]
pub struct DeviceReport {
    pub snapshot: SnapshotId,
    pub parent: Option<SnapshotId>,
    pub device: DeviceIdentity,
    /// The counts the snapshot records (files, bytes, new/changed/unmodified, read, added).
    pub summary: SnapshotSummary,
    /// Rows and files that were not captured as they should be; non-empty = incomplete.
    pub warnings: Vec<Warning>,
    /// True when Manifest.plist says the source backup is not encrypted (so it lacks Health,
    /// Activity and Keychain data).
    pub unencrypted_source: bool,
}

/// How a file's content was obtained.
enum Origin {
    New,
    Changed,
    Unmodified,
}

/// Backs up one device folder into `session` and commits its snapshot.
pub fn backup_device(
    repo: &Repository,
    session: &WriteSession<'_>,
    folder: &Path,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<DeviceReport, IngestError> {
    let source = |e| IngestError::Source {
        folder: folder.to_path_buf(),
        source: Box::new(e),
    };
    let device = DeviceFolder::open(folder).map_err(source)?;
    let identity = identity(&device);
    let rows = read_rows(&device, &identity)?;
    let mut warnings = Vec::new();
    let found = walk(folder, &mut warnings)?;
    let planned = match_rows(rows, found, &mut warnings);

    let parent = repo.latest_for_udid(&identity.udid)?;
    let parent_files = match (&parent, options.force_read) {
        (Some((_, snap)), false) => parent_contents(repo, snap)?,
        _ => HashMap::new(),
    };
    let before = session.stats();
    let (entries, origins) = store_contents(
        session,
        folder,
        planned,
        &parent_files,
        &mut warnings,
        progress,
    )?;

    let mut summary = SnapshotSummary::default();
    for (e, origin) in entries.iter().zip(&origins) {
        let Some(c) = &e.content else { continue };
        summary.files += 1;
        summary.bytes += c.size;
        match origin {
            Some(Origin::New) => summary.files_new += 1,
            Some(Origin::Changed) => summary.files_changed += 1,
            Some(Origin::Unmodified) | None => summary.files_unmodified += 1,
        }
        if matches!(origin, Some(Origin::New | Origin::Changed)) {
            summary.bytes_read += c.size;
        }
    }
    summary.bytes_added = session.stats().stored_bytes - before.stored_bytes;
    let snapshot = Snapshot {
        time: now_micros(),
        host: hearth_repo::hostname(),
        device: identity.clone(),
        parent: parent.as_ref().map(|(id, _)| *id),
        tags: options.tags.clone(),
        summary: summary.clone(),
        warnings: warnings.clone(),
        tree_len: 0,
        tree: Vec::new(),
    };
    let id = repo.commit_snapshot(session, snapshot, &entries)?;
    Ok(DeviceReport {
        snapshot: id,
        parent: parent.map(|(id, _)| id),
        device: identity,
        summary,
        warnings,
        unencrypted_source: !device.is_encrypted(),
    })
}

fn identity(d: &DeviceFolder) -> DeviceIdentity {
    let folder_name = d
        .root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    DeviceIdentity {
        udid: if d.info.udid.is_empty() {
            folder_name
        } else {
            d.info.udid.clone()
        },
        name: d.info.device_name.clone(),
        product_type: d.info.product_type.clone(),
        ios_version: d.ios_version().unwrap_or_default().to_string(),
        build: d.info.build_version.clone(),
    }
}

/// Manifest.db's rows, or why the device cannot be backed up.
fn read_rows(
    d: &DeviceFolder,
    id: &DeviceIdentity,
) -> Result<Vec<hearth_mobilesync::ManifestRow>, IngestError> {
    let folder = d.root.clone();
    let device = id.name.clone();
    let source = |e| IngestError::Source {
        folder: d.root.clone(),
        source: Box::new(e),
    };
    match d.manifest_db_state().map_err(source)? {
        ManifestDbState::Missing => return Err(IngestError::NoManifest { folder, device }),
        ManifestDbState::Encrypted if d.is_encrypted() => {
            return Err(IngestError::Encrypted { folder, device });
        }
        ManifestDbState::Encrypted => {
            return Err(IngestError::ManifestNotSqlite { folder, device });
        }
        ManifestDbState::Plaintext => {}
    }
    let db = ManifestDb::open(&d.manifest_db_path()).map_err(source)?;
    db.rows().map_err(source)
}

fn parent_contents(
    repo: &Repository,
    parent: &Snapshot,
) -> Result<HashMap<String, Content>, IngestError> {
    Ok(repo
        .load_entries(parent)?
        .into_iter()
        .filter_map(|e| Some((e.path, e.content?)))
        .collect())
}

/// Stores the content of every planned file (in parallel, largest first), reusing the parent's
/// chunks for files whose size and mtime are unchanged.
fn store_contents(
    session: &WriteSession<'_>,
    folder: &Path,
    planned: Vec<PlannedEntry>,
    parent: &HashMap<String, Content>,
    warnings: &mut Vec<Warning>,
    progress: &dyn Progress,
) -> Result<(Vec<Entry>, Vec<Option<Origin>>), IngestError> {
    let mut to_read: Vec<usize> = (0..planned.len())
        .filter(|&i| {
            planned[i]
                .file
                .as_ref()
                .is_some_and(|f| unchanged(parent, f).is_none())
        })
        .collect();
    to_read.sort_by_key(|&i| std::cmp::Reverse(planned[i].file.as_ref().map_or(0, |f| f.size)));
    let total: u64 = to_read
        .iter()
        .filter_map(|&i| planned[i].file.as_ref())
        .map(|f| f.size)
        .sum();
    progress.start("reading files", Some(total));
    let read_warnings = Mutex::new(Vec::new());
    let stored: Vec<(usize, Option<Content>)> = to_read
        .par_iter()
        .map(|&i| {
            let f = planned[i].file.as_ref().expect("filtered on file");
            let content = read_file(session, folder, f).map_err(|e| match e {
                ReadFailure::Repo(e) => Err(e),
                ReadFailure::Source(msg) => Ok(msg),
            });
            progress.advance(f.size);
            match content {
                Ok(c) => Ok((i, Some(c))),
                Err(Ok(msg)) => {
                    read_warnings.lock().expect("warnings").push(Warning {
                        path: f.path.clone(),
                        message: msg,
                    });
                    Ok((i, None))
                }
                Err(Err(e)) => Err(e),
            }
        })
        .collect::<Result<_, hearth_repo::RepoError>>()?;
    progress.finish();
    warnings.extend(read_warnings.into_inner().expect("warnings"));
    let mut fresh: HashMap<usize, Option<Content>> = stored.into_iter().collect();

    let mut entries = Vec::with_capacity(planned.len());
    let mut origins = Vec::with_capacity(planned.len());
    for (i, p) in planned.into_iter().enumerate() {
        let (content, origin) = match (&p.file, fresh.remove(&i)) {
            (None, _) => (None, None),
            (Some(_), Some(c)) => {
                let origin = if parent.contains_key(&p.path) {
                    Origin::Changed
                } else {
                    Origin::New
                };
                (c, Some(origin))
            }
            (Some(f), None) => (unchanged(parent, f).cloned(), Some(Origin::Unmodified)),
        };
        entries.push(Entry {
            path: p.path,
            row: p.row,
            content,
        });
        origins.push(if entries.last().is_some_and(|e| e.content.is_some()) {
            origin
        } else {
            None
        });
    }
    Ok((entries, origins))
}

/// The parent's content for `f` when size and mtime are unchanged.
fn unchanged<'a>(parent: &'a HashMap<String, Content>, f: &FoundFile) -> Option<&'a Content> {
    parent
        .get(&f.path)
        .filter(|c| c.size == f.size && c.mtime_ns == f.mtime_ns && c.mode == f.mode)
}

enum ReadFailure {
    Source(String),
    Repo(hearth_repo::RepoError),
}

fn read_file(
    session: &WriteSession<'_>,
    folder: &Path,
    f: &FoundFile,
) -> Result<Content, ReadFailure> {
    let path = folder.join(&f.path);
    let file = File::open(&path)
        .map_err(|e| ReadFailure::Source(format!("cannot open: {e}; not backed up")))?;
    let (chunks, size) = session
        .store_reader(file, BlobKind::Data)
        .map_err(|e| match e {
            hearth_repo::StoreFileError::Read(e) => {
                ReadFailure::Source(format!("read failed: {e}; not backed up"))
            }
            hearth_repo::StoreFileError::Repo(e) => ReadFailure::Repo(e),
        })?;
    Ok(Content {
        size,
        mtime_ns: f.mtime_ns,
        mode: f.mode,
        chunks,
    })
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}
