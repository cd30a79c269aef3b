//! What a restore will write: which entries are kept, which are skipped and why, whether the
//! restore is refused. [`plan`] is pure data; [`plan_restore`] reads its inputs from the
//! repository (the snapshot's entries, Info.plist and the keybag of an encrypted backup).
//!
//! A plan holds no list of the files it keeps: it holds the snapshot (whose entries
//! [`crate::execute`] reads again, a window at a time) and what decides each entry
//! ([`RestorePlan::planned_file`]), with the totals a report needs. What it holds per entry is
//! only for the entries it skips (another kind of device, `--fit`): each one's
//! [`SkippedEntry`] and, when a Manifest.db row goes, that row's file id (for the rebuilt
//! Manifest.db). A same-device plan holds a few hundred bytes whatever the number of files.

use crate::apps::AppCatalog;
use crate::error::RestoreError;
use crate::rules::{self, FIT_ORDER, Rule};
use crate::target::{Family, Target, compare_versions};
use hearth_format::entry::{SIZE_ABSENT, is_safe_path};
use hearth_format::{ChunkId, Cipher, Content, DeviceIdentity, Entry, RowState, Snapshot};
use hearth_mobilesync::encryption::{Keybag, padded_len};
use hearth_mobilesync::{INFO_PLIST, MANIFEST_DB, MANIFEST_PLIST, ManifestInfo, parse_dictionary};
use hearth_repo::Repository;
use plist::Dictionary;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

/// Which image to plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// The device the image is for; `None`: the source device itself (byte-exact image).
    pub target: Option<Target>,
    /// The target's capacity in bytes: a plan that needs more is refused (or fitted).
    pub capacity: Option<u64>,
    /// Drop whole categories ([`FIT_ORDER`]) until the image fits `capacity`.
    pub fit: bool,
    /// Write an encrypted backup's image unencrypted: every file as its plaintext, Manifest.db
    /// and Manifest.plist as an unencrypted backup has them ([`Decryption`]).
    pub decrypt: bool,
}

/// Whether an image holds the plaintext of an encrypted backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Decryption {
    /// Not asked: an encrypted backup's image is encrypted again with its own keys.
    #[default]
    Off,
    /// The image of an encrypted backup, unencrypted: each file its plaintext, Manifest.db in
    /// the clear with no `EncryptionKey` in its MBFile records, Manifest.plist with
    /// `IsEncrypted` false and no `BackupKeyBag` or `ManifestKey`. Files whose blob did not
    /// decrypt when they were backed up are skipped ([`rules::UNDECRYPTABLE`]).
    Decrypted,
    /// Asked, but the backup is not encrypted: nothing to decrypt, the image is the same
    /// byte-exact one as without.
    NothingToDecrypt,
}

/// A file the image gets, and how its bytes are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// Relative to the device folder; a safe path.
    pub path: String,
    /// The source file's size (a rewritten file's size is known only when written).
    pub size: u64,
    /// As [`Content::mtime_ns`]: Unix nanoseconds of any i64 of seconds.
    pub mtime_ns: i128,
    pub mode: u32,
    pub chunks: Vec<ChunkId>,
    /// Encrypt the stored plaintext this way (an encrypted backup's file).
    pub cipher: Option<Cipher>,
    /// Written as its stored plaintext, unencrypted: the cipher the backup's file has (an
    /// encrypted backup's file in a [`Decryption::Decrypted`] image). `size` is then the
    /// length of the ciphertext, which the plaintext written must encrypt to
    /// ([`PlannedFile::backup_len`]).
    pub decrypted: Option<Cipher>,
    /// For a decrypted file whose Manifest.db row records no `Size`: the row's fileID, so that
    /// the rebuilt Manifest.db records the length of the plaintext written.
    pub unsized_row: Option<String>,
    /// Not the stored bytes as they are: rebuilt without the skipped entries.
    pub rewrite: Option<Rewrite>,
    /// For a file a Manifest.db row describes: the file's size on the device.
    pub row_bytes: Option<u64>,
    /// For a file a Manifest.db row describes: its domain and relative path.
    pub source: Option<(String, String)>,
}

impl PlannedFile {
    /// The length in the backup of this file written as `written` bytes: the same, or for a
    /// decrypted file, the length of those bytes encrypted with its cipher.
    pub fn backup_len(&self, written: u64) -> u64 {
        match self.decrypted {
            Some(c) if c.pkcs7 => padded_len(written),
            _ => written,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rewrite {
    /// Manifest.db without the rows of skipped entries (and, in a decrypted image, in the
    /// clear with no `EncryptionKey` in its records).
    ManifestDb,
    /// Info.plist without the dropped apps.
    InfoPlist,
    /// Manifest.plist of a decrypted image: `IsEncrypted` false, no keybag or ManifestKey.
    ManifestPlist,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedEntry {
    pub path: String,
    pub domain: Option<String>,
    pub relative_path: Option<String>,
    pub bytes: u64,
    /// True when the entry is a file of the device folder (not a directory or blob-less row).
    pub file: bool,
    /// The rule's name (`photos`, `incompatible-app`, `fit-videos`, ...).
    pub rule: &'static str,
    pub reason: String,
}

/// What one rule skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSummary {
    pub rule: &'static str,
    pub source: &'static str,
    pub files: u64,
    pub bytes: u64,
}

/// How the image was made to fit the target's capacity.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FitReport {
    pub capacity: u64,
    /// Bytes the image needed before anything was dropped to fit.
    pub needed: u64,
    /// What takes the space, by category (before dropping), largest first.
    pub breakdown: Vec<(&'static str, u64)>,
    /// Categories dropped, in order: (category, files, bytes).
    pub dropped: Vec<(&'static str, u64, u64)>,
}

/// What an image holds. `files` and `bytes` count every file the restore writes (the same
/// numbers its report gives); `device_files` and `device_bytes` count the device's own files
/// among them (Manifest.db file rows) at their size on the device, which is what
/// `capacity` limits and what, with the skipped entries' bytes, adds up to the backup's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Kept {
    pub files: u64,
    /// Bytes written, a file rebuilt without skipped rows or apps (Manifest.db, Info.plist)
    /// counted at its size in the backup: the rebuilt file is smaller, so this is an upper bound.
    pub bytes: u64,
    pub device_files: u64,
    pub device_bytes: u64,
}

impl Kept {
    fn add(&mut self, other: &Kept) {
        self.files += other.files;
        self.bytes += other.bytes;
        self.device_files += other.device_files;
        self.device_bytes += other.device_bytes;
    }
}

/// The files the image gets that no Manifest.db row describes, in plan order: the first
/// [`BACKUP_FILES_NAMED`] names and how many there are.
const BACKUP_FILES_NAMED: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestorePlan {
    pub device: DeviceIdentity,
    pub target: Option<Target>,
    /// The device folder's name under the output folder (the source UDID).
    pub folder_name: String,
    /// The snapshot the image is made of: its entries are read again, a window at a time, to
    /// write them ([`RestorePlan::planned_file`] says what each becomes).
    pub snapshot: Snapshot,
    pub skipped: Vec<SkippedEntry>,
    /// Apps left out of Info.plist because they do not run on the target.
    pub dropped_apps: Vec<String>,
    /// Apps whose compatibility the backup does not say; kept.
    pub unknown_apps: Vec<String>,
    /// Why nothing may be written, if so.
    pub refused: Option<String>,
    pub fit: Option<FitReport>,
    /// The keybag of an encrypted backup whose files are re-encrypted (from its Manifest.plist).
    pub keybag: Option<Keybag>,
    /// Whether the image is an encrypted backup's plaintext.
    pub decryption: Decryption,
    /// File ids of the Manifest.db rows the image leaves out.
    pub dropped_rows: BTreeSet<String>,
    kept: Kept,
    backup_files: Vec<String>,
    choice: Choice,
}

/// What decides each entry: the cross-device rules, the categories dropped to fit and, in a
/// decrypted image, what cannot be decrypted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Choice {
    cross: bool,
    /// The image is an encrypted backup's plaintext.
    decrypt: bool,
    catalog: AppCatalog,
    incompatible: BTreeSet<String>,
    /// Indices into [`FIT_ORDER`], in that order.
    fit_dropped: Vec<usize>,
}

impl Choice {
    /// The rule that skips `e` whatever the capacity (cross-device, or what a decrypted image
    /// cannot hold), if any.
    fn fixed_rule(&self, e: &Entry) -> Option<Rule> {
        self.undecryptable(e).or_else(|| self.cross_rule(e))
    }

    /// The cross-device rule that skips `e`, if any.
    fn cross_rule(&self, e: &Entry) -> Option<Rule> {
        let r = e.row.as_ref().filter(|_| self.cross)?;
        rules::other_family_rule(&r.domain, &r.relative_path).or_else(|| {
            self.catalog
                .owner(&r.domain)
                .filter(|app| self.incompatible.contains(*app))
                .map(|_| rules::INCOMPATIBLE_APP)
        })
    }

    /// In a decrypted image, a file of a row that ingest stored as found (encrypted) because
    /// it did not decrypt: [`rules::UNDECRYPTABLE`]. (A row whose MBFile has no key at all is
    /// stored as found in a good state, and is written as it is, as any reader would take it.)
    fn undecryptable(&self, e: &Entry) -> Option<Rule> {
        let (r, c) = (e.row.as_ref()?, e.content.as_ref()?);
        (self.decrypt && c.cipher.is_none() && r.state != RowState::Ok)
            .then_some(rules::UNDECRYPTABLE)
    }

    /// The rule that skips `e`, if any.
    fn rule(&self, e: &Entry) -> Option<Rule> {
        self.fixed_rule(e).or_else(|| {
            let i = category(e)?;
            self.fit_dropped.contains(&i).then(|| FIT_ORDER[i])
        })
    }
}

/// Which of [`FIT_ORDER`] an entry belongs to, if any.
fn category(e: &Entry) -> Option<usize> {
    e.row
        .as_ref()
        .and_then(|r| rules::fit_category(&r.domain, &r.relative_path))
}

impl RestorePlan {
    /// Bytes the image writes (progress).
    pub fn bytes(&self) -> u64 {
        self.kept.bytes
    }

    /// What the restore writes (one file per kept entry with content) and, of that, the
    /// device's own files.
    pub fn kept(&self) -> Kept {
        self.kept
    }

    /// The files the image gets that no Manifest.db row describes (`Manifest.db`, the plists,
    /// and any other file of the backup folder), in plan order: the first few of
    /// [`RestorePlan::backup_file_count`].
    pub fn backup_files(&self) -> impl Iterator<Item = &str> {
        self.backup_files.iter().map(String::as_str)
    }

    /// How many files the image gets that no Manifest.db row describes.
    pub fn backup_file_count(&self) -> u64 {
        self.kept.files - self.kept.device_files
    }

    /// True when `e`, an entry of the plan's snapshot, is a file the image gets.
    pub fn keeps(&self, e: &Entry) -> bool {
        e.content.is_some() && self.choice.rule(e).is_none()
    }

    /// How the file at `path` is rebuilt, if it is.
    pub(crate) fn rewrite_for(&self, path: &str) -> Option<Rewrite> {
        rewrite_of(
            path,
            !self.dropped_rows.is_empty(),
            !self.dropped_apps.is_empty(),
            self.decrypts(),
        )
    }

    /// True when the image is an encrypted backup's plaintext ([`Decryption::Decrypted`]).
    pub fn decrypts(&self) -> bool {
        self.decryption == Decryption::Decrypted
    }

    /// What whoever made the image written into `folder` (the device folder) must know
    /// about it: that it holds a backup's private data in the clear, and where; or that
    /// there was nothing to decrypt. `None` for an image made as usual.
    pub fn notice(&self, folder: &std::path::Path) -> Option<String> {
        let (device, folder) = (self.device.label(), folder.display());
        match self.decryption {
            Decryption::Off => None,
            Decryption::Decrypted => Some(format!(
                "{folder} now holds the backup of {device} UNENCRYPTED: its Health data, its Keychain file, Messages, call and browsing history and every other file are in the clear there, readable by anyone who can read that folder (the Keychain's items stay sealed with keys from the backup's keybag, which an unencrypted image does not carry: expect its saved passwords neither to be readable there nor to come back on a device restored from it). Keep the folder private, and delete it once it has served"
            )),
            Decryption::NothingToDecrypt => Some(format!(
                "the backup of {device} is not encrypted, so --decrypted changes nothing: {folder} holds the same byte-exact image as without it"
            )),
        }
    }

    /// What `e`, an entry of the plan's snapshot, becomes in the image: `None` when it is
    /// skipped or is no file (a directory, a row without a blob).
    pub fn planned_file(&self, e: Entry) -> Option<PlannedFile> {
        if self.choice.rule(&e).is_some() {
            return None;
        }
        let rewrite = self.rewrite_for(&e.path);
        let row_bytes = device_bytes(&e);
        let decrypting = self.decrypts() && e.content.as_ref()?.cipher.is_some();
        let unsized_row = (e.row.as_ref())
            .filter(|r| decrypting && r.recorded_size == SIZE_ABSENT)
            .map(|r| r.file_id.clone());
        let source = e.row.map(|r| (r.domain, r.relative_path));
        let c = e.content?;
        let mut f = PlannedFile {
            source,
            unsized_row,
            ..planned(e.path, c, rewrite, row_bytes)
        };
        if decrypting {
            f.decrypted = f.cipher.take();
        }
        Some(f)
    }

    /// Files and bytes skipped per rule, in the order rules first appear.
    pub fn rules(&self) -> Vec<RuleSummary> {
        let mut out: Vec<RuleSummary> = Vec::new();
        for s in &self.skipped {
            let i = match out.iter().position(|r| r.rule == s.rule) {
                Some(i) => i,
                None => {
                    out.push(RuleSummary {
                        rule: s.rule,
                        source: rule_source(s.rule),
                        files: 0,
                        bytes: 0,
                    });
                    out.len() - 1
                }
            };
            out[i].files += u64::from(s.file);
            out[i].bytes += s.bytes;
        }
        out
    }
}

fn rule_source(name: &str) -> &'static str {
    if name.starts_with("fit-") {
        rules::FIT_SOURCE
    } else if name == rules::UNDECRYPTABLE.name {
        rules::DECRYPTED_SOURCE
    } else {
        rules::APPLE_BACKUP_METHODS
    }
}

/// Reads the snapshot's entries (and, when needed, its Info.plist and keybag) and plans. The
/// entries are read as a stream, two or three times, never held.
pub fn plan_restore(
    repo: &Repository,
    snapshot: &Snapshot,
    options: &PlanOptions,
) -> Result<RestorePlan, RestoreError> {
    let cross = options
        .target
        .as_ref()
        .is_some_and(|t| t.family() != Family::of(&snapshot.device.product_type));
    let info = match cross {
        true => read_plist(repo, snapshot, INFO_PLIST)?,
        false => None,
    };
    // Whether any file is encrypted, and the Manifest.plist that then holds the keybag, as
    // the entries go by.
    let seen: RefCell<(bool, Option<Content>)> = RefCell::default();
    let seen_ref = &seen;
    let mut plan = plan(
        snapshot,
        || {
            stream(repo, snapshot).inspect(move |e| {
                let Ok(e) = e else { return };
                let Some(c) = &e.content else { return };
                let mut seen = seen_ref.borrow_mut();
                seen.0 |= c.cipher.is_some();
                if e.path == MANIFEST_PLIST {
                    seen.1 = Some(c.clone());
                }
            })
        },
        info.as_ref(),
        options,
    )?;
    let (encrypted, manifest_plist) = seen.into_inner();
    // A decrypted image writes the stored plaintext: it needs no key.
    plan.keybag = match encrypted && !plan.decrypts() {
        true => Some(keybag(repo, snapshot, manifest_plist.as_ref())?),
        false => None,
    };
    Ok(plan)
}

/// The snapshot's entries, one at a time, a file list that does not read said as such.
pub(crate) fn stream<'r>(
    repo: &'r Repository,
    snapshot: &'r Snapshot,
) -> impl Iterator<Item = Result<Entry, RestoreError>> + 'r {
    repo.entries(snapshot).map(|e| {
        e.map_err(|source| RestoreError::FileListLost {
            device: snapshot.device.name.clone(),
            source,
        })
    })
}

/// Per fit category (and one more for entries in none): what is kept of it.
#[derive(Default, Clone, Copy)]
struct Totals {
    /// Entries, files or not.
    entries: u64,
    /// Bytes on the device (what capacity limits).
    needed: u64,
    /// Files with content.
    files: u64,
    kept: Kept,
}

/// The plan for the entries of `snapshot` (a backup of `snapshot.device`), with its
/// Info.plist when the target is another kind of device. `entries` gives the entries from the
/// start each time it is called: once, once more when `--fit` drops a category, and first, to
/// find an encrypted file, when asked to decrypt. No I/O.
pub fn plan<I>(
    snapshot: &Snapshot,
    mut entries: impl FnMut() -> I,
    info: Option<&Dictionary>,
    options: &PlanOptions,
) -> Result<RestorePlan, RestoreError>
where
    I: Iterator<Item = Result<Entry, RestoreError>>,
{
    let device = &snapshot.device;
    let folder_name = device.udid.clone();
    if !is_safe_path(&folder_name) || folder_name.contains('/') {
        return Err(RestoreError::UnsafePath { path: folder_name });
    }
    let target = options.target.as_ref();
    let refused = target.and_then(|t| version_gate(device, t));
    let cross = target.is_some_and(|t| t.family() != Family::of(&device.product_type));
    let catalog = info.map(AppCatalog::from_info_plist).unwrap_or_default();
    let (dropped_apps, unknown_apps) = match (cross, target) {
        (true, Some(t)) => catalog.split(t.family()),
        _ => (Vec::new(), Vec::new()),
    };
    let decryption = match options.decrypt {
        false => Decryption::Off,
        true if any_encrypted(entries())? => Decryption::Decrypted,
        true => Decryption::NothingToDecrypt,
    };
    let mut choice = Choice {
        cross,
        decrypt: decryption == Decryption::Decrypted,
        incompatible: dropped_apps.iter().cloned().collect(),
        catalog,
        fit_dropped: Vec::new(),
    };

    let mut skipped = Vec::new();
    let mut dropped_rows = BTreeSet::new();
    let mut totals = [Totals::default(); FIT_ORDER.len() + 1];
    let mut backup_files = Vec::new();
    for e in entries() {
        let e = e?;
        if e.content.is_some() && !is_safe_path(&e.path) {
            return Err(RestoreError::UnsafePath { path: e.path });
        }
        if let Some(rule) = choice.fixed_rule(&e) {
            skipped.push(skip(e, rule, &mut dropped_rows));
            continue;
        }
        let t = &mut totals[category(&e).unwrap_or(FIT_ORDER.len())];
        t.entries += 1;
        t.needed += device_bytes(&e).unwrap_or(0);
        let Some(c) = &e.content else { continue };
        t.files += 1;
        t.kept.files += 1;
        t.kept.bytes += c.size;
        match device_bytes(&e) {
            Some(bytes) => {
                t.kept.device_files += 1;
                t.kept.device_bytes += bytes;
            }
            None if backup_files.len() < BACKUP_FILES_NAMED => backup_files.push(e.path),
            None => {}
        }
    }
    let fit = options.capacity.map(|capacity| {
        let (report, refused, dropped) = fit_to(capacity, options.fit, &totals);
        choice.fit_dropped = dropped;
        (report, refused)
    });
    if !choice.fit_dropped.is_empty() {
        // The entries of the dropped categories, listed category after category.
        let mut by_category: Vec<Vec<SkippedEntry>> = vec![Vec::new(); FIT_ORDER.len()];
        for e in entries() {
            let e = e?;
            if choice.fixed_rule(&e).is_some() {
                continue;
            }
            if let Some(i) = category(&e).filter(|i| choice.fit_dropped.contains(i)) {
                by_category[i].push(skip(e, FIT_ORDER[i], &mut dropped_rows));
            }
        }
        skipped.extend(by_category.into_iter().flatten());
    }
    let mut kept = Kept::default();
    for (i, t) in totals.iter().enumerate() {
        if !choice.fit_dropped.contains(&i) {
            kept.add(&t.kept);
        }
    }
    let refused = refused.or_else(|| fit.as_ref().and_then(|(_, r)| r.clone()));
    Ok(RestorePlan {
        device: device.clone(),
        target: target.cloned(),
        folder_name,
        snapshot: snapshot.clone(),
        skipped,
        dropped_apps,
        unknown_apps,
        refused,
        fit: fit.map(|(f, _)| f),
        keybag: None,
        decryption,
        dropped_rows,
        kept,
        backup_files,
        choice,
    })
}

/// A skipped entry; the Manifest.db row it drops goes into `dropped_rows`.
fn skip(e: Entry, rule: Rule, dropped_rows: &mut BTreeSet<String>) -> SkippedEntry {
    let bytes = device_bytes(&e).unwrap_or(0);
    let file = e.content.is_some();
    let (domain, relative_path) = match e.row {
        Some(r) => {
            dropped_rows.insert(r.file_id);
            (Some(r.domain), Some(r.relative_path))
        }
        None => (None, None),
    };
    SkippedEntry {
        path: e.path,
        domain,
        relative_path,
        bytes,
        file,
        rule: rule.name,
        reason: rule.reason(),
    }
}

/// The size on the device of a file a Manifest.db row describes (its `Size`, which for an
/// encrypted backup is less than the blob); `None` for entries that are not such files.
fn device_bytes(e: &Entry) -> Option<u64> {
    let (row, c) = (e.row.as_ref()?, e.content.as_ref()?);
    Some(match row.recorded_size {
        SIZE_ABSENT => c.size,
        size => size.min(c.size),
    })
}

fn version_gate(device: &DeviceIdentity, target: &Target) -> Option<String> {
    let (from, to) = (&device.ios_version, &target.ios_version);
    (compare_versions(from, to).is_gt()).then(|| {
        format!(
            "the backup of {} was made on iOS {from}, which is newer than the target's iOS {to} ({}): a backup restores only onto the same or a newer iOS. Update the target to iOS {from} or later first, then restore",
            device.name,
            target.describe()
        )
    })
}

fn rewrite_of(
    path: &str,
    rows_dropped: bool,
    apps_dropped: bool,
    decrypted: bool,
) -> Option<Rewrite> {
    match path {
        MANIFEST_DB if rows_dropped || decrypted => Some(Rewrite::ManifestDb),
        INFO_PLIST if apps_dropped => Some(Rewrite::InfoPlist),
        MANIFEST_PLIST if decrypted => Some(Rewrite::ManifestPlist),
        _ => None,
    }
}

/// True when one of the entries has an encrypted file (stops at the first).
fn any_encrypted(
    entries: impl Iterator<Item = Result<Entry, RestoreError>>,
) -> Result<bool, RestoreError> {
    for e in entries {
        if e?.content.is_some_and(|c| c.cipher.is_some()) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn planned(
    path: String,
    c: Content,
    rewrite: Option<Rewrite>,
    row_bytes: Option<u64>,
) -> PlannedFile {
    PlannedFile {
        row_bytes,
        path,
        size: c.size,
        mtime_ns: c.mtime_ns,
        mode: c.mode,
        chunks: c.chunks,
        cipher: c.cipher,
        decrypted: None,
        unsized_row: None,
        rewrite,
        source: None,
    }
}

/// Which categories to drop so that what is kept fits `capacity` (with `fit`, [`FIT_ORDER`]
/// categories in order until it does), from what each category keeps. Returns the report, a
/// refusal when it does not fit, and the dropped categories.
fn fit_to(
    capacity: u64,
    fit: bool,
    totals: &[Totals; FIT_ORDER.len() + 1],
) -> (FitReport, Option<String>, Vec<usize>) {
    let needed: u64 = totals.iter().map(|t| t.needed).sum();
    let mut by_category: BTreeMap<&'static str, u64> = BTreeMap::new();
    for (i, t) in totals.iter().enumerate() {
        let name = FIT_ORDER.get(i).map_or("other", category_name);
        if t.entries > 0 {
            *by_category.entry(name).or_default() += t.needed;
        }
    }
    let mut breakdown: Vec<_> = by_category.into_iter().collect();
    breakdown.sort_by_key(|(_, b)| std::cmp::Reverse(*b));
    let mut report = FitReport {
        capacity,
        needed,
        breakdown,
        dropped: Vec::new(),
    };
    let mut total = needed;
    let mut dropped = Vec::new();
    for (i, rule) in FIT_ORDER.iter().enumerate() {
        if total <= capacity || !fit {
            break;
        }
        let t = &totals[i];
        if t.files > 0 {
            report
                .dropped
                .push((category_name(rule), t.files, t.needed));
        }
        total -= t.needed;
        dropped.push(i);
    }
    let refused = (total > capacity).then(|| {
        let parts: Vec<String> = report
            .breakdown
            .iter()
            .map(|(c, b)| format!("{c} {b}"))
            .collect();
        let tried = if fit {
            "even after dropping every category --fit may drop"
        } else {
            "(use --fit to drop videos, then photos, then message attachments, voice memos and app data until it fits)"
        };
        format!(
            "the image needs {total} bytes but the target holds {capacity} {tried}; what takes the space (bytes): {}",
            parts.join(", ")
        )
    });
    (report, refused, dropped)
}

/// A fit rule's category: its name without `fit-`.
fn category_name(rule: &Rule) -> &'static str {
    rule.name.trim_start_matches("fit-")
}

/// The keybag in the snapshot's Manifest.plist (`plist`), which a snapshot that holds
/// encrypted files must have.
fn keybag(
    repo: &Repository,
    snapshot: &Snapshot,
    plist: Option<&Content>,
) -> Result<Keybag, RestoreError> {
    let problem = |detail: String| RestoreError::BadSnapshot {
        device: snapshot.device.name.clone(),
        detail,
    };
    let plist =
        plist.ok_or_else(|| problem("it holds encrypted files but no Manifest.plist".into()))?;
    let bytes = read_content(repo, plist)?;
    let info = ManifestInfo::from_bytes(&bytes, MANIFEST_PLIST.as_ref())
        .map_err(|e| problem(e.to_string()))?;
    let bag = info
        .backup_keybag
        .ok_or_else(|| problem("its Manifest.plist has no BackupKeyBag".into()))?;
    Keybag::parse(&bag).map_err(|e| problem(format!("{MANIFEST_PLIST}: {e}")))
}

/// A plist of the snapshot as a dictionary; `None` when the snapshot has no such file.
fn read_plist(
    repo: &Repository,
    snapshot: &Snapshot,
    name: &str,
) -> Result<Option<Dictionary>, RestoreError> {
    let mut found = None;
    for e in stream(repo, snapshot) {
        let e = e?;
        if e.path == name {
            found = e.content;
            break;
        }
    }
    let Some(c) = found else {
        return Ok(None);
    };
    let bytes = read_content(repo, &c)?;
    parse_dictionary(&bytes, name.as_ref())
        .map(Some)
        .map_err(|e| RestoreError::BadSnapshot {
            device: snapshot.device.name.clone(),
            detail: e.to_string(),
        })
}

/// The stored bytes of a content (for an encrypted file, its plaintext).
pub(crate) fn read_content(repo: &Repository, c: &Content) -> Result<Vec<u8>, RestoreError> {
    read_chunks(repo, &c.chunks, c.size)
}

pub(crate) fn read_chunks(
    repo: &Repository,
    chunks: &[ChunkId],
    size_hint: u64,
) -> Result<Vec<u8>, RestoreError> {
    let mut out = Vec::with_capacity(size_hint as usize);
    repo.span_reader(chunks)?.read_blobs(chunks, |b| {
        out.extend_from_slice(b);
        Ok::<_, RestoreError>(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_format::Row;
    use hearth_mobilesync::STATUS_PLIST;

    fn entry(domain: &str, path: &str, size: Option<u64>) -> Entry {
        let id = format!("{:040x}", path.len() * 1000 + domain.len());
        Entry {
            path: format!("{}/{id}", &id[..2]),
            row: Some(Row {
                file_id: id,
                domain: domain.into(),
                relative_path: path.into(),
                flags: if size.is_some() { 1 } else { 2 },
                recorded_size: size.unwrap_or(0),
                recorded_mtime: 0,
                state: RowState::Ok,
            }),
            content: size.map(content),
        }
    }

    fn content(size: u64) -> Content {
        Content {
            size,
            mtime_ns: 0,
            mode: 0o644,
            chunks: vec![ChunkId([size as u8; 32])],
            cipher: None,
        }
    }

    fn plain(path: &str, size: u64) -> Entry {
        Entry {
            path: path.into(),
            row: None,
            content: Some(content(size)),
        }
    }

    fn ipad() -> DeviceIdentity {
        DeviceIdentity {
            udid: "IPAD".into(),
            name: "Kids' iPad".into(),
            product_type: "iPad13,1".into(),
            ios_version: "17.5".into(),
            build: String::new(),
        }
    }

    fn snapshot() -> Snapshot {
        Snapshot {
            time: 0,
            stored_at: 0,
            host: String::new(),
            device: ipad(),
            parent: None,
            tags: Vec::new(),
            summary: Default::default(),
            warnings: Vec::new(),
            tree_len: 0,
            tree: Vec::new(),
        }
    }

    fn plan_of(info: Option<&Dictionary>, options: &PlanOptions) -> RestorePlan {
        plan(&snapshot(), || entries().into_iter().map(Ok), info, options).unwrap()
    }

    /// What the plan writes, in plan order.
    fn files(p: &RestorePlan) -> Vec<PlannedFile> {
        entries()
            .into_iter()
            .filter_map(|e| p.planned_file(e))
            .collect()
    }

    fn entries() -> Vec<Entry> {
        vec![
            plain(MANIFEST_DB, 1000),
            plain(INFO_PLIST, 100),
            entry(
                "CameraRollDomain",
                "Media/DCIM/100APPLE/IMG_0001.HEIC",
                Some(5000),
            ),
            entry(
                "CameraRollDomain",
                "Media/DCIM/100APPLE/IMG_0002.MOV",
                Some(9000),
            ),
            entry("CameraRollDomain", "Media/DCIM", None),
            entry("HomeDomain", "Library/SMS/sms.db", Some(700)),
            entry("AppDomain-com.example.padonly", "Documents/a", Some(300)),
            entry("AppDomain-net.whatsapp.WhatsApp", "Documents/b", Some(400)),
            entry("HomeDomain", "Library/Notes/NoteStore.sqlite", Some(200)),
        ]
    }

    fn info() -> Dictionary {
        let meta = |ids: &[i64]| {
            let mut d = Dictionary::new();
            let ids = ids
                .iter()
                .map(|&i| plist::Value::Integer(i.into()))
                .collect();
            d.insert(
                "softwareSupportedDeviceIds".into(),
                plist::Value::Array(ids),
            );
            let mut app = Dictionary::new();
            app.insert("iTunesMetadata".into(), plist::Value::Dictionary(d));
            plist::Value::Dictionary(app)
        };
        let mut apps = Dictionary::new();
        apps.insert("com.example.padonly".into(), meta(&[4]));
        apps.insert("net.whatsapp.WhatsApp".into(), meta(&[1, 2, 4, 9]));
        let mut info = Dictionary::new();
        info.insert("Applications".into(), plist::Value::Dictionary(apps));
        info
    }

    fn to(product_type: &str, ios: &str) -> PlanOptions {
        PlanOptions {
            target: Some(Target {
                name: None,
                product_type: product_type.into(),
                ios_version: ios.into(),
            }),
            ..PlanOptions::default()
        }
    }

    #[test]
    fn an_ipad_backup_onto_an_iphone_skips_what_apple_says_does_not_transfer() {
        let p = plan_of(Some(&info()), &to("iPhone16,1", "18.1"));
        assert_eq!(p.refused, None);
        let rules: Vec<_> = p
            .rules()
            .iter()
            .map(|r| (r.rule, r.files, r.bytes))
            .collect();
        assert_eq!(
            rules,
            [
                ("photos", 2, 14_000),
                ("messages", 1, 700),
                ("incompatible-app", 1, 300)
            ]
        );
        assert_eq!(
            p.skipped.len(),
            5,
            "the CameraRollDomain directory row goes too"
        );
        assert_eq!(p.dropped_apps, ["com.example.padonly"]);
        assert_eq!(p.dropped_rows.len(), 5);
        let files = files(&p);
        let kept: Vec<_> = files.iter().map(|f| (f.path.as_str(), f.rewrite)).collect();
        assert!(kept.contains(&(MANIFEST_DB, Some(Rewrite::ManifestDb))));
        assert!(kept.contains(&(INFO_PLIST, Some(Rewrite::InfoPlist))));
        assert_eq!(
            p.kept(),
            Kept {
                files: 4,
                bytes: 1000 + 100 + 400 + 200,
                device_files: 2,
                device_bytes: 400 + 200,
            },
            "every file written; of them, plists and Manifest.db are not device files"
        );
        assert_eq!(p.kept().files, files.len() as u64);
        assert_eq!(p.bytes(), 1000 + 100 + 400 + 200);
        assert_eq!(
            p.backup_files().collect::<Vec<_>>(),
            [MANIFEST_DB, INFO_PLIST]
        );
        assert!(
            p.skipped
                .iter()
                .all(|s| s.reason.contains("Backup methods for iPhone"))
        );
    }

    #[test]
    fn the_same_kind_of_device_keeps_everything_unchanged() {
        let p = plan_of(None, &to("iPad14,1", "17.5.0"));
        assert!(p.skipped.is_empty() && p.refused.is_none() && p.dropped_rows.is_empty());
        assert!(files(&p).iter().all(|f| f.rewrite.is_none()));
        assert_eq!(files(&p).len(), 8);
    }

    #[test]
    fn a_newer_ios_is_refused_with_both_versions_and_what_to_do() {
        let p = plan_of(None, &to("iPad14,1", "17.4.1"));
        let why = p.refused.unwrap();
        assert!(
            why.contains("17.5") && why.contains("17.4.1") && why.contains("Update"),
            "{why}"
        );
    }

    #[test]
    fn fitting_drops_whole_categories_in_order_and_refuses_what_cannot_fit() {
        let fit = |capacity, fit| PlanOptions {
            capacity: Some(capacity),
            fit,
            ..PlanOptions::default()
        };
        let p = plan_of(None, &fit(10_000, false));
        assert!(p.refused.as_ref().unwrap().contains("--fit"));
        assert_eq!(p.fit.as_ref().unwrap().needed, 15_600);
        assert_eq!(p.fit.as_ref().unwrap().breakdown[0], ("videos", 9000));
        let p = plan_of(None, &fit(10_000, true));
        assert_eq!(p.refused, None);
        assert_eq!(p.fit.unwrap().dropped, [("videos", 1, 9000)]);
        assert!(p.skipped.iter().any(|s| s.rule == "fit-videos"));
        let p = plan_of(None, &fit(900, true));
        let report = p.fit.as_ref().unwrap();
        let dropped: Vec<_> = report.dropped.iter().map(|d| d.0).collect();
        assert_eq!(dropped, ["videos", "photos", "app-data"]);
        let kept = p.kept();
        assert_eq!((kept.device_files, kept.device_bytes), (2, 700 + 200));
        assert_eq!((kept.files, kept.bytes), (4, 1000 + 100 + 700 + 200));
        let p = plan_of(None, &fit(800, true));
        assert!(p.refused.unwrap().contains("even after"));
    }

    /// The entries of an encrypted backup: Manifest.db stored with its padding (no PKCS#7
    /// added again), files with a cipher, one row without a Size, one whose blob did not
    /// decrypt (stored as found) and one that is not a file.
    fn encrypted_entries() -> Vec<Entry> {
        let cipher = |pkcs7| Cipher {
            wrapped_key: [7; hearth_format::entry::WRAPPED_KEY_LEN],
            pkcs7,
        };
        let encrypted = |mut e: Entry, pkcs7| {
            if let Some(c) = e.content.as_mut() {
                c.cipher = Some(cipher(pkcs7));
            }
            e
        };
        let mut no_size = encrypted(entry("HomeDomain", "Library/Notes/a", Some(96)), true);
        no_size.row.as_mut().unwrap().recorded_size = SIZE_ABSENT;
        let mut damaged = entry("HealthDomain", "Health/healthdb_secure.sqlite", Some(64));
        damaged.row.as_mut().unwrap().state = RowState::Undecryptable;
        vec![
            encrypted(plain(MANIFEST_DB, 4096 + 16), false),
            plain(MANIFEST_PLIST, 2000),
            plain(INFO_PLIST, 100),
            plain(STATUS_PLIST, 50),
            encrypted(
                entry(
                    "CameraRollDomain",
                    "Media/DCIM/100APPLE/IMG_0001.HEIC",
                    Some(5000),
                ),
                true,
            ),
            encrypted(
                entry("HealthDomain", "Health/healthdb.sqlite", Some(700)),
                true,
            ),
            no_size,
            damaged,
            entry("HomeDomain", "Library", None),
        ]
    }

    fn decrypted_plan(entries: &[Entry], target: Option<Target>) -> RestorePlan {
        let options = PlanOptions {
            decrypt: true,
            target,
            ..PlanOptions::default()
        };
        plan(
            &snapshot(),
            || entries.iter().cloned().map(Ok),
            Some(&info()),
            &options,
        )
        .unwrap()
    }

    #[test]
    fn a_decrypted_plan_writes_plaintext_rebuilds_both_manifests_and_skips_what_did_not_decrypt() {
        let entries = encrypted_entries();
        let p = decrypted_plan(&entries, None);
        assert_eq!(p.decryption, Decryption::Decrypted);
        assert!(p.decrypts());
        let files: Vec<PlannedFile> = entries
            .iter()
            .cloned()
            .filter_map(|e| p.planned_file(e))
            .collect();
        assert!(
            files.iter().all(|f| f.cipher.is_none()),
            "nothing is encrypted again"
        );
        let by_path = |path: &str| files.iter().find(|f| f.path == path).unwrap();
        assert_eq!(by_path(MANIFEST_DB).rewrite, Some(Rewrite::ManifestDb));
        assert_eq!(
            by_path(MANIFEST_PLIST).rewrite,
            Some(Rewrite::ManifestPlist)
        );
        assert_eq!(by_path(INFO_PLIST).rewrite, None);
        assert_eq!(by_path(STATUS_PLIST).rewrite, None);
        let encrypted: Vec<_> = files.iter().filter(|f| f.decrypted.is_some()).collect();
        assert_eq!(
            encrypted.len(),
            4,
            "Manifest.db and the three decrypted files"
        );
        let no_size: Vec<_> = files.iter().filter_map(|f| f.unsized_row.clone()).collect();
        assert_eq!(no_size, [entries[6].row.as_ref().unwrap().file_id.clone()]);

        // A plaintext of 700 bytes encrypts to 704, the length the snapshot records.
        let health = files.iter().find(|f| f.size == 700).unwrap();
        assert_eq!((health.backup_len(700), health.backup_len(704)), (704, 720));
        assert_eq!(
            by_path(MANIFEST_DB).backup_len(4112),
            4112,
            "no padding added"
        );

        let skipped: Vec<_> = p
            .skipped
            .iter()
            .map(|s| (s.rule, s.relative_path.as_deref()))
            .collect();
        assert_eq!(
            skipped,
            [("undecryptable", Some("Health/healthdb_secure.sqlite"))]
        );
        assert!(
            p.skipped[0].reason.contains("did not decrypt"),
            "{}",
            p.skipped[0].reason
        );
        assert_eq!(p.dropped_rows.len(), 1, "its row leaves Manifest.db");
        assert_eq!(p.rules()[0].source, rules::DECRYPTED_SOURCE);
        assert_eq!(p.kept().files, 7);

        let notice = p.notice("/restores/IPAD".as_ref()).unwrap();
        for needle in [
            "/restores/IPAD",
            "Kids' iPad",
            "UNENCRYPTED",
            "Health",
            "Keychain",
            "in the clear",
        ] {
            assert!(notice.contains(needle), "{needle}: {notice}");
        }
    }

    #[test]
    fn without_decrypt_an_encrypted_plan_is_encrypted_again_as_it_was() {
        let entries = encrypted_entries();
        let p = plan(
            &snapshot(),
            || entries.iter().cloned().map(Ok),
            None,
            &PlanOptions::default(),
        )
        .unwrap();
        assert_eq!(p.decryption, Decryption::Off);
        assert_eq!(p.notice("/x".as_ref()), None);
        let files: Vec<PlannedFile> = entries
            .iter()
            .cloned()
            .filter_map(|e| p.planned_file(e))
            .collect();
        assert!(
            files
                .iter()
                .all(|f| f.decrypted.is_none() && f.rewrite.is_none())
        );
        assert_eq!(files.iter().filter(|f| f.cipher.is_some()).count(), 4);
        assert_eq!(files.len(), 8, "the undecryptable blob is kept as found");
    }

    #[test]
    fn an_unencrypted_backup_has_nothing_to_decrypt_and_plans_as_without() {
        let p = plan_of(
            None,
            &PlanOptions {
                decrypt: true,
                ..PlanOptions::default()
            },
        );
        let without = plan_of(None, &PlanOptions::default());
        assert_eq!(p.decryption, Decryption::NothingToDecrypt);
        assert!(!p.decrypts());
        assert_eq!(files(&p), files(&without));
        assert_eq!(p.kept(), without.kept());
        let note = p.notice("/restores/IPAD".as_ref()).unwrap();
        assert!(
            note.contains("not encrypted") && note.contains("byte-exact"),
            "{note}"
        );
    }

    #[test]
    fn decrypting_combines_with_another_kind_of_device() {
        let entries = encrypted_entries();
        let target = to("iPhone16,1", "18.1").target;
        let p = decrypted_plan(&entries, target);
        let rules: Vec<_> = p.rules().iter().map(|r| (r.rule, r.files)).collect();
        assert_eq!(rules, [("photos", 1), ("undecryptable", 1)]);
        assert_eq!(
            p.dropped_rows.len(),
            2,
            "both rows leave the one rebuilt Manifest.db"
        );
        let files: Vec<PlannedFile> = entries
            .iter()
            .cloned()
            .filter_map(|e| p.planned_file(e))
            .collect();
        let rewrites: Vec<_> = files.iter().filter_map(|f| f.rewrite).collect();
        assert_eq!(
            rewrites,
            [
                Rewrite::ManifestDb,
                Rewrite::ManifestPlist,
                Rewrite::InfoPlist
            ]
        );
        assert!(files.iter().all(|f| f.cipher.is_none()));
    }
}
