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
use hearth_format::{ChunkId, Cipher, Content, DeviceIdentity, Entry, Snapshot};
use hearth_mobilesync::encryption::Keybag;
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
    /// Not the stored bytes as they are: rebuilt without the skipped entries.
    pub rewrite: Option<Rewrite>,
    /// For a file a Manifest.db row describes: the file's size on the device.
    pub row_bytes: Option<u64>,
    /// For a file a Manifest.db row describes: its domain and relative path.
    pub source: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rewrite {
    /// Manifest.db without the rows of skipped entries.
    ManifestDb,
    /// Info.plist without the dropped apps.
    InfoPlist,
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
    /// File ids of the Manifest.db rows the image leaves out.
    pub dropped_rows: BTreeSet<String>,
    kept: Kept,
    backup_files: Vec<String>,
    choice: Choice,
}

/// What decides each entry: the cross-device rules and the categories dropped to fit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Choice {
    cross: bool,
    catalog: AppCatalog,
    incompatible: BTreeSet<String>,
    /// Indices into [`FIT_ORDER`], in that order.
    fit_dropped: Vec<usize>,
}

impl Choice {
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

    /// The rule that skips `e`, if any.
    fn rule(&self, e: &Entry) -> Option<Rule> {
        self.cross_rule(e).or_else(|| {
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
        )
    }

    /// What `e`, an entry of the plan's snapshot, becomes in the image: `None` when it is
    /// skipped or is no file (a directory, a row without a blob).
    pub fn planned_file(&self, e: Entry) -> Option<PlannedFile> {
        if self.choice.rule(&e).is_some() {
            return None;
        }
        let rewrite = self.rewrite_for(&e.path);
        let row_bytes = device_bytes(&e);
        let source = e.row.map(|r| (r.domain, r.relative_path));
        let c = e.content?;
        Some(PlannedFile {
            source,
            ..planned(e.path, c, rewrite, row_bytes)
        })
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
    plan.keybag = match encrypted {
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
/// start each time it is called: once, or twice when `--fit` drops a category. No I/O.
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
    let mut choice = Choice {
        cross,
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
        if let Some(rule) = choice.cross_rule(&e) {
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
            if choice.cross_rule(&e).is_some() {
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

fn rewrite_of(path: &str, rows_dropped: bool, apps_dropped: bool) -> Option<Rewrite> {
    match path {
        MANIFEST_DB if rows_dropped => Some(Rewrite::ManifestDb),
        INFO_PLIST if apps_dropped => Some(Rewrite::InfoPlist),
        _ => None,
    }
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
    use hearth_format::{Row, RowState};

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
}
