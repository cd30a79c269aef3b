//! One device folder → one snapshot; or nothing, when the folder holds the same device backup
//! as the device's latest snapshot, or a backup that is still being written.
//!
//! A snapshot is made only from a read of the whole folder during which it held still
//! (`watch`): a folder that changed while it was read is read once more, as a whole, as it is
//! then; if it changes again, it is still being written and nothing of it is committed (blobs
//! already stored stay in the session, named by no snapshot, for prune to remove).

use crate::contents::{Decryption, ParentCursor, Stop, Storing};
use crate::entries::Planner;
use crate::error::IngestError;
use crate::identity::identity;
use crate::unlock::{IosPasswords, unlock};
use crate::walk::Walk;
use crate::watch::KeyFiles;
use hearth_format::codec::{STRING_MAX, fits_string};
use hearth_format::{BlobKind, DeviceIdentity, Snapshot, SnapshotId, SnapshotSummary, Warning};
use hearth_mobilesync::{
    BackupState, DeviceFolder, IgnoredPlist, ManifestDb, ManifestDbState, Writing,
};
use hearth_repo::{Progress, Repository, StoreFileError, StoredTree, Tally, WriteSession};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    pub tags: Vec<String>,
    /// Read every file even when the parent snapshot says it is unchanged; a snapshot is then
    /// stored even when the folder holds the same device backup as the parent.
    pub force_read: bool,
    /// Passwords of encrypted devices whose keybag the repository does not know yet.
    pub ios_passwords: Option<Arc<dyn IosPasswords>>,
}

/// What one device's backup did.
#[derive(Debug, Clone)]
pub struct DeviceReport {
    /// The snapshot stored; for [`DeviceOutcome::Unchanged`], the parent, which holds this
    /// same device backup.
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
    /// Encrypted source only: true when its password was run through the keybag's key
    /// derivation this time, false when the repository already held the derived key.
    pub key_derived: bool,
    /// Why the parent snapshot's file list could not be read (damage in the repository), when
    /// it could not: every file from where it stopped reading was then read again. The new
    /// snapshot is complete.
    pub parent_unreadable: Option<String>,
}

/// What backing up one device folder came to.
#[derive(Debug, Clone)]
pub enum DeviceOutcome {
    /// A snapshot was committed.
    Stored(DeviceReport),
    /// The folder holds the same device backup as the device's latest snapshot (the report's
    /// `snapshot`): nothing was stored. See [`backup_device`].
    Unchanged(DeviceReport),
    /// The backup in the folder is still being written: nothing of it was committed.
    StillWriting(StillWriting),
}

impl DeviceOutcome {
    /// The report of a device whose backup has a snapshot (stored now, or before).
    pub fn report(&self) -> Option<&DeviceReport> {
        match self {
            DeviceOutcome::Stored(r) | DeviceOutcome::Unchanged(r) => Some(r),
            DeviceOutcome::StillWriting(_) => None,
        }
    }

    /// [`DeviceOutcome::report`], by value.
    pub fn into_report(self) -> Option<DeviceReport> {
        match self {
            DeviceOutcome::Stored(r) | DeviceOutcome::Unchanged(r) => Some(r),
            DeviceOutcome::StillWriting(_) => None,
        }
    }
}

/// A device folder whose backup is still being written; its text says so and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StillWriting {
    pub folder: PathBuf,
    /// The device, when the folder names one.
    pub device: Option<DeviceIdentity>,
    pub why: WhyWriting,
}

/// How a backup still being written was told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WhyWriting {
    /// Its plists say so ([`DeviceFolder::backup_state`]).
    Plists(Writing),
    /// It changed while it was read, and again when it was read once more: what changed each
    /// time.
    KeptChanging { first: String, second: String },
}

impl StillWriting {
    /// A short name for the reason, for JSON: `snapshot_state`, `fresh_manifest_db` or
    /// `changed_while_read`.
    pub fn reason(&self) -> &'static str {
        match &self.why {
            WhyWriting::Plists(Writing::SnapshotState(_)) => "snapshot_state",
            WhyWriting::Plists(Writing::FreshManifestDb(_)) => "fresh_manifest_db",
            WhyWriting::KeptChanging { .. } => "changed_while_read",
        }
    }
}

impl std::fmt::Display for StillWriting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "device folder {}", self.folder.display())?;
        if let Some(d) = &self.device {
            let name = if d.name.is_empty() { &d.udid } else { &d.name };
            write!(f, " ({name})")?;
        }
        write!(f, ": still being written by Finder or idevicebackup2 (")?;
        match &self.why {
            WhyWriting::Plists(why) => write!(f, "{why}")?,
            WhyWriting::KeptChanging { first, second } => write!(
                f,
                "it changed while Hearth read it: {first}; and again when read once more: {second}"
            )?,
        }
        write!(
            f,
            "); nothing of it was stored; run again when it has finished"
        )
    }
}

/// Backs up one device folder into `session` and commits its snapshot, unless its plists say
/// its backup is still being written, or it keeps changing while it is read
/// ([`DeviceOutcome::StillWriting`]), or it holds the same device backup as the device's
/// latest snapshot ([`DeviceOutcome::Unchanged`]): no file had to be read (every file has the
/// parent's size, mtime and mode, and Status.plist, read every time, holds the parent's bytes,
/// so the same UUID and Date), and the snapshot would record exactly the parent's entries,
/// warnings and tags. With [`IngestOptions::force_read`] every file is read, so a snapshot is
/// always stored.
pub fn backup_device(
    repo: &Repository,
    session: &WriteSession<'_>,
    folder: &Path,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<DeviceOutcome, IngestError> {
    let tally = session.tally();
    let first = match read_device(repo, &tally, folder, options, progress)? {
        Attempt::Read(read) => return finish(repo, session, &tally, *read, options),
        Attempt::Writing(w) => return Ok(DeviceOutcome::StillWriting(w)),
        Attempt::Changed(change) => change,
    };
    // It changed while it was read: once more, as a whole, as it is now.
    match read_device(repo, &tally, folder, options, progress)? {
        Attempt::Read(read) => finish(repo, session, &tally, *read, options),
        Attempt::Writing(w) => Ok(DeviceOutcome::StillWriting(w)),
        Attempt::Changed(second) => Ok(DeviceOutcome::StillWriting(StillWriting {
            folder: folder.to_path_buf(),
            device: second.device.or(first.device),
            why: WhyWriting::KeptChanging {
                first: first.what,
                second: second.what,
            },
        })),
    }
}

/// What one read of a whole device folder came to.
enum Attempt {
    /// It held still: everything the snapshot needs.
    Read(Box<Read>),
    /// Its plists say it is still being written: nothing was read.
    Writing(StillWriting),
    /// It changed while it was read.
    Changed(Change),
}

struct Change {
    /// The device, when the folder was read far enough to name it.
    device: Option<DeviceIdentity>,
    what: String,
}

/// A device folder read while it held still, its tree stored.
struct Read {
    identity: DeviceIdentity,
    tree: StoredTree,
    /// Its counts, but `bytes_added`.
    summary: SnapshotSummary,
    warnings: Vec<Warning>,
    parent: Option<(SnapshotId, Snapshot)>,
    /// No file was read, and every entry is the parent's (with no other in the parent).
    same_entries: bool,
    parent_unreadable: Option<String>,
    unencrypted_source: bool,
    key_derived: bool,
    /// When the device was backed up, by its own clock ([`device_time`]).
    device_time: Option<i64>,
}

/// Reads the device folder as a whole, storing its files' content through `tally`. A failure
/// to read it while Manifest.db or a plist changed is a change, not an error: a writer at
/// work leaves files half written.
fn read_device(
    repo: &Repository,
    tally: &Tally<'_, '_>,
    folder: &Path,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<Attempt, IngestError> {
    let before = KeyFiles::now(folder);
    match read_from(repo, tally, folder, options, progress, &before) {
        Err(e) if !matches!(e, IngestError::Repo(_)) => {
            match KeyFiles::now(folder).changed_since(&before) {
                Some(what) => Ok(Attempt::Changed(Change {
                    device: None,
                    what: format!("{what}, and reading it failed: {e}"),
                })),
                None => Err(e),
            }
        }
        other => other,
    }
}

/// [`read_device`], its key files having been as `before` before anything was read.
fn read_from(
    repo: &Repository,
    tally: &Tally<'_, '_>,
    folder: &Path,
    options: &IngestOptions,
    progress: &dyn Progress,
    before: &KeyFiles,
) -> Result<Attempt, IngestError> {
    let source = |e| IngestError::Source {
        folder: folder.to_path_buf(),
        source: Box::new(e),
    };
    let began = SystemTime::now();
    let device = DeviceFolder::open(folder).map_err(source)?;
    let identified = identity(&device);
    if let BackupState::Writing(why) = device.backup_state(began) {
        return Ok(Attempt::Writing(StillWriting {
            folder: folder.to_path_buf(),
            device: identified.ok().map(|(id, _)| id),
            why: WhyWriting::Plists(why),
        }));
    }
    let (identity, udid_warning) = identified.map_err(source)?;
    check_lengths(folder, &identity, &options.tags)?;
    let (db, decryption, key_derived) =
        open_manifest(repo, tally, &device, &identity, options, progress)?;
    let others = db.invalid_rows().map_err(source)?;
    let mut warnings: Vec<Warning> = device.ignored.iter().map(ignored).collect();
    warnings.extend(udid_warning);
    let walk = Walk::new(folder)?;

    let parent = repo.latest_for_udid(&identity.udid)?;
    let parent_entries = match (&parent, options.force_read) {
        (Some((_, snap)), false) => Some(repo.entries(snap)),
        _ => None,
    };
    let encrypted = decryption.is_some();
    // Rows come from SQLite on a thread of their own, a few at a time, in path order.
    let (tree, storing, rows_read, walked) = std::thread::scope(|scope| {
        let (send, rows) = crossbeam_channel::bounded(ROWS_IN_FLIGHT);
        let producer = scope
            .spawn(move || db.each_valid_row(|row| send.send(row).map_err(|_| RowsEnd::NotWanted)));
        let planner = Planner::new(rows.into_iter(), others, walk, encrypted);
        let mut storing = Storing::new(
            tally,
            folder,
            planner,
            ParentCursor::new(parent_entries),
            decryption.as_ref(),
            progress,
        );
        let tree = tally.store_tree(storing.by_ref());
        let Storing {
            planned,
            summary,
            warnings,
            read_any,
            stop,
            parent,
            ..
        } = storing;
        // Dropping the rows' receiver ends the reader if planning stopped early.
        let walked = planned.finish();
        let rows_read = producer
            .join()
            .expect("the Manifest.db reader does not panic");
        (
            tree,
            (summary, warnings, read_any, stop, parent),
            rows_read,
            walked,
        )
    });
    let (summary, stored_warnings, read_any, stop, cursor) = storing;
    match stop {
        Some(Stop::Changed(what)) => {
            return Ok(Attempt::Changed(Change {
                device: Some(identity),
                what,
            }));
        }
        Some(Stop::Failed(e)) => return Err(e),
        None => {}
    }
    match rows_read {
        Ok(()) | Err(RowsEnd::NotWanted) => {}
        Err(RowsEnd::Db(e)) => return Err(source(e)),
    }
    let tree = tree?;
    let (walk, planned_warnings) = walked;
    warnings.extend(walk.warnings);
    warnings.extend(planned_warnings);
    warnings.extend(stored_warnings);

    // Invariant: a snapshot is made only of a folder that held still while it was read.
    let mut again = Walk::new(folder)?;
    again.by_ref().for_each(drop);
    let moved = KeyFiles::now(folder)
        .changed_since(before)
        .or_else(|| walk.summary.changed_since(&again.summary));
    if let Some(what) = moved {
        return Ok(Attempt::Changed(Change {
            device: Some(identity),
            what,
        }));
    }
    Ok(Attempt::Read(Box::new(Read {
        identity,
        tree,
        summary,
        warnings,
        parent,
        same_entries: cursor.same && !read_any,
        parent_unreadable: cursor.unreadable,
        unencrypted_source: !device.is_encrypted(),
        key_derived,
        device_time: device_time(&device),
    })))
}

/// Rows read from Manifest.db at most ahead of the files they are matched with.
const ROWS_IN_FLIGHT: usize = 1024;

/// Why the Manifest.db reader stopped before the last row.
enum RowsEnd {
    Db(hearth_mobilesync::Error),
    /// Planning stopped (a change, an error): the rest is not wanted.
    NotWanted,
}

impl From<hearth_mobilesync::Error> for RowsEnd {
    fn from(e: hearth_mobilesync::Error) -> Self {
        RowsEnd::Db(e)
    }
}

/// Commits the snapshot of a folder read whole, unless it is the same device backup as its
/// parent.
fn finish(
    repo: &Repository,
    session: &WriteSession<'_>,
    tally: &Tally<'_, '_>,
    mut read: Read,
    options: &IngestOptions,
) -> Result<DeviceOutcome, IngestError> {
    let mut summary = read.summary.clone();
    summary.bytes_added = tally.stored_bytes();
    read.warnings.iter_mut().for_each(fit_warning);
    let parent = read.parent.as_ref().map(|(id, _)| *id);
    let report = |snapshot| DeviceReport {
        snapshot,
        parent,
        device: read.identity.clone(),
        summary: summary.clone(),
        warnings: read.warnings.clone(),
        unencrypted_source: read.unencrypted_source,
        key_derived: read.key_derived,
        parent_unreadable: read.parent_unreadable.clone(),
    };
    if let Some(parent) = parent.filter(|_| same_backup(&read, &options.tags)) {
        return Ok(DeviceOutcome::Unchanged(report(parent)));
    }
    let stored_at = now_micros();
    let snapshot = Snapshot {
        time: read.device_time.unwrap_or(stored_at),
        stored_at,
        host: hearth_repo::hostname(),
        device: read.identity.clone(),
        parent,
        tags: options.tags.clone(),
        summary: summary.clone(),
        warnings: read.warnings.clone(),
        tree_len: read.tree.len,
        tree: read.tree.blobs.clone(),
    };
    let id = repo.commit_tree(session, &snapshot)?;
    Ok(DeviceOutcome::Stored(report(id)))
}

/// True when `read` holds the same device backup as its parent: no file was read, and the
/// snapshot would record exactly the parent's entries, warnings (`read`'s already fitted) and
/// tags.
fn same_backup(read: &Read, tags: &[String]) -> bool {
    let Some((_, parent)) = &read.parent else {
        return false;
    };
    read.same_entries && sorted(&read.warnings) == sorted(&parent.warnings) && parent.tags == tags
}

/// `warnings` as (path, message) pairs in order: their order depends on threads and folders.
fn sorted(warnings: &[Warning]) -> Vec<(&str, &str)> {
    let mut w: Vec<_> = warnings
        .iter()
        .map(|w| (w.path.as_str(), w.message.as_str()))
        .collect();
    w.sort_unstable();
    w
}

/// A plist the backup can do without that could not be read.
fn ignored(plist: &IgnoredPlist) -> Warning {
    Warning {
        path: plist.name.to_string(),
        message: format!(
            "{}; went on without it (this backup does not need it; it is kept as found)",
            plist.problem
        ),
    }
}

/// The snapshot's strings from the plists and the tags must fit their fields: they are never
/// cut short.
fn check_lengths(folder: &Path, id: &DeviceIdentity, tags: &[String]) -> Result<(), IngestError> {
    let fields = [
        ("the device's UDID", &id.udid),
        ("the device name (Info.plist or Manifest.plist)", &id.name),
        (
            "the product type (Info.plist or Manifest.plist)",
            &id.product_type,
        ),
        (
            "the iOS version (Manifest.plist or Info.plist)",
            &id.ios_version,
        ),
        (
            "the build version (Info.plist or Manifest.plist)",
            &id.build,
        ),
    ];
    let tags = tags.iter().map(|t| ("a tag", t));
    match fields
        .into_iter()
        .chain(tags)
        .find(|(_, v)| !fits_string(v))
    {
        None => Ok(()),
        Some((what, v)) => Err(IngestError::TooLong {
            folder: folder.to_path_buf(),
            what: what.to_string(),
            len: v.len(),
            limit: STRING_MAX,
        }),
    }
}

/// A warning's path must fit its field: one that does not (a name no file system gives) is
/// shortened there, and kept whole in the message.
fn fit_warning(w: &mut Warning) {
    if fits_string(&w.path) {
        return;
    }
    let mut end = 1_000;
    while !w.path.is_char_boundary(end) {
        end -= 1;
    }
    w.message = format!("(full path {}) {}", w.path, w.message);
    w.path = format!("{}…", &w.path[..end]);
}

/// Manifest.db's rows; for an encrypted backup also its decrypted bytes and the class keys
/// (and whether the password was derived this time). Nothing is stored before this succeeds.
fn open_manifest(
    repo: &Repository,
    tally: &Tally<'_, '_>,
    d: &DeviceFolder,
    id: &DeviceIdentity,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<(ManifestDb, Option<Decryption>, bool), IngestError> {
    let folder = d.root.clone();
    let device = id.name.clone();
    let source = |e| IngestError::Source {
        folder: d.root.clone(),
        source: Box::new(e),
    };
    let state = d.manifest_db_state().map_err(source)?;
    match state {
        ManifestDbState::Missing => return Err(IngestError::NoManifest { folder, device }),
        ManifestDbState::Encrypted if !d.is_encrypted() => {
            return Err(IngestError::ManifestNotSqlite { folder, device });
        }
        ManifestDbState::Plaintext if d.is_encrypted() => {
            return Err(source(hearth_mobilesync::Error::NoManifestKey {
                path: d.root.join(hearth_mobilesync::MANIFEST_PLIST),
            }));
        }
        ManifestDbState::Plaintext => {
            let db = ManifestDb::open(&d.manifest_db_path()).map_err(source)?;
            return Ok((db, None, false));
        }
        ManifestDbState::Encrypted => {}
    }
    let unlocked = unlock(repo, d, id, options.ios_passwords.as_deref(), progress)?;
    let (cipher, manifest_key) = d.encrypted_manifest_db(&unlocked.keys).map_err(source)?;
    // The plaintext, padding kept, is stored as it is decrypted; SQLite then decrypts the
    // pages it reads. It is never whole in memory, nor on disk.
    let (chunks, _) = tally
        .store_reader(cipher.reader(), BlobKind::Data)
        .map_err(|e| match e {
            StoreFileError::Read(e) => source(hearth_mobilesync::Error::Io {
                path: d.manifest_db_path(),
                what: "cannot read",
                source: e,
            }),
            StoreFileError::Repo(e) => e.into(),
        })?;
    let stored = (chunks, cipher.cipher_len());
    let db = ManifestDb::open_encrypted(cipher, &d.manifest_db_path()).map_err(source)?;
    let decryption = Decryption {
        keys: unlocked.keys,
        manifest_db: stored,
        manifest_key,
    };
    Ok((db, Some(decryption), unlocked.derived))
}

/// When the device was backed up: `Status.plist` `Date`, else Info.plist's `Last Backup Date`,
/// else Manifest.db's mtime (Unix microseconds).
fn device_time(d: &DeviceFolder) -> Option<i64> {
    let manifest_mtime = || {
        std::fs::symlink_metadata(d.manifest_db_path())
            .and_then(|m| m.modified())
            .ok()
    };
    let t = (d.status.as_ref().and_then(|s| s.date))
        .or(d.info.last_backup_date)
        .or_else(manifest_mtime)?;
    Some(micros(t))
}

/// Unix microseconds of `t`, before 1970 too (saturating far outside ±292,000 years).
fn micros(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_micros()).map_or(i64::MIN, |m| -m),
    }
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}
