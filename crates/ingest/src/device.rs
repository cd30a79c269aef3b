//! One device folder → one snapshot.

use crate::contents::{Decryption, Origin, store_contents};
use crate::entries::match_rows;
use crate::error::IngestError;
use crate::unlock::{IosPasswords, unlock};
use crate::walk::walk;
use hearth_format::codec::{STRING_MAX, fits_string};
use hearth_format::{Content, DeviceIdentity, Snapshot, SnapshotId, SnapshotSummary, Warning};
use hearth_mobilesync::{DeviceFolder, IgnoredPlist, ManifestDb, ManifestDbState, ManifestRow};
use hearth_repo::{Progress, Repository, WriteSession};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    pub tags: Vec<String>,
    /// Read every file even when the parent snapshot says it is unchanged.
    pub force_read: bool,
    /// Passwords of encrypted devices whose keybag the repository does not know yet.
    pub ios_passwords: Option<Arc<dyn IosPasswords>>,
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
    /// Encrypted source only: true when its password was run through the keybag's key
    /// derivation this time, false when the repository already held the derived key.
    pub key_derived: bool,
    /// Why the parent snapshot's file list could not be read (damage in the repository), when
    /// it could not: every file was then read again. The new snapshot is complete.
    pub parent_unreadable: Option<String>,
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
    check_lengths(folder, &identity, &options.tags)?;
    let (rows, decryption, key_derived) =
        open_manifest(repo, &device, &identity, options, progress)?;
    let mut warnings: Vec<Warning> = device.ignored.iter().map(ignored).collect();
    let found = walk(folder, &mut warnings)?;
    let planned = match_rows(rows, found, decryption.is_some(), &mut warnings);

    let parent = repo.latest_for_udid(&identity.udid)?;
    let mut parent_unreadable = None;
    let parent_files = match (&parent, options.force_read) {
        (Some((_, snap)), false) => parent_contents(repo, snap, &mut parent_unreadable)?,
        _ => HashMap::new(),
    };
    let tally = session.tally();
    let (entries, origins) = store_contents(
        &tally,
        folder,
        planned,
        &parent_files,
        decryption.as_ref(),
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
    summary.bytes_added = tally.stored_bytes();
    warnings.iter_mut().for_each(fit_warning);
    let stored_at = now_micros();
    let snapshot = Snapshot {
        time: device_time(&device).unwrap_or(stored_at),
        stored_at,
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
        key_derived,
        parent_unreadable,
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

/// The snapshot's strings from Info.plist and the tags must fit their fields: they are never
/// cut short.
fn check_lengths(folder: &Path, id: &DeviceIdentity, tags: &[String]) -> Result<(), IngestError> {
    let fields = [
        ("Info.plist's Unique Identifier", &id.udid),
        ("Info.plist's Device Name", &id.name),
        ("Info.plist's Product Type", &id.product_type),
        (
            "the iOS version (Manifest.plist or Info.plist)",
            &id.ios_version,
        ),
        ("Info.plist's Build Version", &id.build),
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
    d: &DeviceFolder,
    id: &DeviceIdentity,
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<(Vec<ManifestRow>, Option<Decryption>, bool), IngestError> {
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
            return Ok((db.rows().map_err(source)?, None, false));
        }
        ManifestDbState::Encrypted => {}
    }
    let unlocked = unlock(repo, d, id, options.ios_passwords.as_deref(), progress)?;
    let (plaintext, manifest_key) = d.decrypt_manifest_db(&unlocked.keys).map_err(source)?;
    let readable = hearth_mobilesync::encryption::strip_pkcs7(&plaintext)
        .unwrap_or(&plaintext)
        .to_vec();
    let db = ManifestDb::from_plaintext(readable, &d.manifest_db_path()).map_err(source)?;
    let rows = db.rows().map_err(source)?;
    let decryption = Decryption {
        keys: unlocked.keys,
        manifest_db: plaintext,
        manifest_key,
    };
    Ok((rows, Some(decryption), unlocked.derived))
}

/// The parent snapshot's contents by path; none (every file is read) when its file list is
/// damaged or lost, and then why in `unreadable`.
fn parent_contents(
    repo: &Repository,
    parent: &Snapshot,
    unreadable: &mut Option<String>,
) -> Result<HashMap<String, Content>, IngestError> {
    let entries = match repo.load_entries(parent) {
        Ok(entries) => entries,
        Err(e) if e.is_damage() => {
            *unreadable = Some(e.to_string());
            return Ok(HashMap::new());
        }
        Err(e) => return Err(e.into()),
    };
    Ok(entries
        .into_iter()
        .filter_map(|e| Some((e.path, e.content?)))
        .collect())
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
