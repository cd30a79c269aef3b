//! What a restore will write: which entries are kept, which are skipped and why, whether the
//! restore is refused. [`plan`] is pure data; [`plan_restore`] reads its inputs from the
//! repository (the snapshot's entries, Info.plist and the keybag of an encrypted backup).

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kept {
    pub files: u64,
    /// Bytes written, a file rebuilt without skipped rows or apps (Manifest.db, Info.plist)
    /// counted at its size in the backup: the rebuilt file is smaller, so this is an upper bound.
    pub bytes: u64,
    pub device_files: u64,
    pub device_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestorePlan {
    pub device: DeviceIdentity,
    pub target: Option<Target>,
    /// The device folder's name under the output folder (the source UDID).
    pub folder_name: String,
    pub files: Vec<PlannedFile>,
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
}

impl RestorePlan {
    /// Bytes the image writes (progress).
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// What the restore writes ([`RestorePlan::files`], one file each) and, of that, the
    /// device's own files.
    pub fn kept(&self) -> Kept {
        let rows = self.files.iter().filter_map(|f| f.row_bytes);
        let (device_files, device_bytes) = rows.fold((0, 0), |(n, b), bytes| (n + 1, b + bytes));
        Kept {
            files: self.files.len() as u64,
            bytes: self.bytes(),
            device_files,
            device_bytes,
        }
    }

    /// The files the image gets that no Manifest.db row describes (`Manifest.db`, the plists,
    /// and any other file of the backup folder), in plan order.
    pub fn backup_files(&self) -> impl Iterator<Item = &str> {
        self.files
            .iter()
            .filter(|f| f.row_bytes.is_none())
            .map(|f| f.path.as_str())
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

/// Reads the snapshot's entries (and, when needed, its Info.plist and keybag) and plans.
pub fn plan_restore(
    repo: &Repository,
    snapshot: &Snapshot,
    options: &PlanOptions,
) -> Result<RestorePlan, RestoreError> {
    let entries = repo
        .load_entries(snapshot)
        .map_err(|source| RestoreError::FileListLost {
            device: snapshot.device.name.clone(),
            source,
        })?;
    let keybag = keybag(repo, snapshot, &entries)?;
    let cross = options
        .target
        .as_ref()
        .is_some_and(|t| t.family() != Family::of(&snapshot.device.product_type));
    let info = if cross {
        read_plist(repo, snapshot, &entries, INFO_PLIST)?
    } else {
        None
    };
    let mut plan = plan(&snapshot.device, entries, info.as_ref(), options)?;
    plan.keybag = keybag;
    Ok(plan)
}

/// The plan for `entries` of a backup of `device`, with its Info.plist when the target is
/// another kind of device. No I/O.
pub fn plan(
    device: &DeviceIdentity,
    entries: Vec<Entry>,
    info: Option<&Dictionary>,
    options: &PlanOptions,
) -> Result<RestorePlan, RestoreError> {
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
    let incompatible: BTreeSet<&str> = dropped_apps.iter().map(String::as_str).collect();

    let mut kept = Vec::new();
    let mut skipped = Vec::new();
    for e in entries {
        if e.content.is_some() && !is_safe_path(&e.path) {
            return Err(RestoreError::UnsafePath { path: e.path });
        }
        let rule = e.row.as_ref().filter(|_| cross).and_then(|r| {
            rules::other_family_rule(&r.domain, &r.relative_path).or_else(|| {
                catalog
                    .owner(&r.domain)
                    .filter(|app| incompatible.contains(app))
                    .map(|_| rules::INCOMPATIBLE_APP)
            })
        });
        match rule {
            Some(rule) => skipped.push(skip(e, rule)),
            None => kept.push(e),
        }
    }
    let fit = options
        .capacity
        .map(|capacity| fit_to(capacity, options.fit, &mut kept, &mut skipped));
    let refused = refused.or_else(|| fit.as_ref().and_then(|(_, r)| r.clone()));
    let dropped_rows: BTreeSet<String> = skipped.iter().filter_map(|s| s.file_id.clone()).collect();
    let files = kept
        .into_iter()
        .filter_map(|e| {
            let rewrite = rewrite_of(&e.path, !dropped_rows.is_empty(), !dropped_apps.is_empty());
            let row_bytes = device_bytes(&e);
            let source = e.row.map(|r| (r.domain, r.relative_path));
            let c = e.content?;
            Some(PlannedFile {
                source,
                ..planned(e.path, c, rewrite, row_bytes)
            })
        })
        .collect();
    Ok(RestorePlan {
        device: device.clone(),
        target: target.cloned(),
        folder_name,
        files,
        skipped: skipped.into_iter().map(|s| s.entry).collect(),
        dropped_apps,
        unknown_apps,
        refused,
        fit: fit.map(|(f, _)| f),
        keybag: None,
        dropped_rows,
    })
}

/// A skipped entry, with the Manifest.db row it drops.
struct Skip {
    entry: SkippedEntry,
    file_id: Option<String>,
}

fn skip(e: Entry, rule: Rule) -> Skip {
    let bytes = device_bytes(&e).unwrap_or(0);
    let file = e.content.is_some();
    let (domain, relative_path, file_id) = match e.row {
        Some(r) => (Some(r.domain), Some(r.relative_path), Some(r.file_id)),
        None => (None, None, None),
    };
    Skip {
        entry: SkippedEntry {
            path: e.path,
            domain,
            relative_path,
            bytes,
            file,
            rule: rule.name,
            reason: rule.reason(),
        },
        file_id,
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

/// Makes `kept` fit `capacity`: with `fit`, drops [`FIT_ORDER`] categories in order until it
/// does. Returns the report and a refusal when it does not fit.
fn fit_to(
    capacity: u64,
    fit: bool,
    kept: &mut Vec<Entry>,
    skipped: &mut Vec<Skip>,
) -> (FitReport, Option<String>) {
    let size = |e: &Entry| device_bytes(e).unwrap_or(0);
    let category = |e: &Entry| {
        e.row
            .as_ref()
            .and_then(|r| rules::fit_category(&r.domain, &r.relative_path))
    };
    let needed: u64 = kept.iter().map(size).sum();
    let mut by_category: BTreeMap<&'static str, u64> = BTreeMap::new();
    for e in kept.iter() {
        let name = category(e).map_or("other", |i| category_name(&FIT_ORDER[i]));
        *by_category.entry(name).or_default() += size(e);
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
    for (i, rule) in FIT_ORDER.iter().enumerate() {
        if total <= capacity || !fit {
            break;
        }
        let (drop, keep): (Vec<Entry>, Vec<Entry>) = std::mem::take(kept)
            .into_iter()
            .partition(|e| category(e) == Some(i));
        *kept = keep;
        let bytes: u64 = drop.iter().map(size).sum();
        let files = drop.iter().filter(|e| e.content.is_some()).count() as u64;
        if files > 0 {
            report.dropped.push((category_name(rule), files, bytes));
        }
        total -= bytes;
        skipped.extend(drop.into_iter().map(|e| skip(e, *rule)));
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
    (report, refused)
}

/// A fit rule's category: its name without `fit-`.
fn category_name(rule: &Rule) -> &'static str {
    rule.name.trim_start_matches("fit-")
}

/// The keybag in the snapshot's Manifest.plist, when any file is to be encrypted again.
fn keybag(
    repo: &Repository,
    snapshot: &Snapshot,
    entries: &[Entry],
) -> Result<Option<Keybag>, RestoreError> {
    let encrypted = |e: &Entry| e.content.as_ref().is_some_and(|c| c.cipher.is_some());
    if !entries.iter().any(encrypted) {
        return Ok(None);
    }
    let problem = |detail: String| RestoreError::BadSnapshot {
        device: snapshot.device.name.clone(),
        detail,
    };
    let plist = entries
        .iter()
        .find(|e| e.path == MANIFEST_PLIST)
        .and_then(|e| e.content.as_ref())
        .ok_or_else(|| problem("it holds encrypted files but no Manifest.plist".into()))?;
    let bytes = read_content(repo, plist)?;
    let info = ManifestInfo::from_bytes(&bytes, MANIFEST_PLIST.as_ref())
        .map_err(|e| problem(e.to_string()))?;
    let bag = info
        .backup_keybag
        .ok_or_else(|| problem("its Manifest.plist has no BackupKeyBag".into()))?;
    Keybag::parse(&bag)
        .map(Some)
        .map_err(|e| problem(format!("{MANIFEST_PLIST}: {e}")))
}

/// A plist of the snapshot as a dictionary; `None` when the snapshot has no such file.
fn read_plist(
    repo: &Repository,
    snapshot: &Snapshot,
    entries: &[Entry],
    name: &str,
) -> Result<Option<Dictionary>, RestoreError> {
    let Some(c) = entries
        .iter()
        .find(|e| e.path == name)
        .and_then(|e| e.content.as_ref())
    else {
        return Ok(None);
    };
    let bytes = read_content(repo, c)?;
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
    repo.read_blobs(chunks, |b| {
        out.extend_from_slice(&b);
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
        let p = plan(&ipad(), entries(), Some(&info()), &to("iPhone16,1", "18.1")).unwrap();
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
        let kept: Vec<_> = p
            .files
            .iter()
            .map(|f| (f.path.as_str(), f.rewrite))
            .collect();
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
        assert_eq!(p.kept().files, p.files.len() as u64);
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
        let p = plan(&ipad(), entries(), None, &to("iPad14,1", "17.5.0")).unwrap();
        assert!(p.skipped.is_empty() && p.refused.is_none() && p.dropped_rows.is_empty());
        assert!(p.files.iter().all(|f| f.rewrite.is_none()));
        assert_eq!(p.files.len(), 8);
    }

    #[test]
    fn a_newer_ios_is_refused_with_both_versions_and_what_to_do() {
        let p = plan(&ipad(), entries(), None, &to("iPad14,1", "17.4.1")).unwrap();
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
        let p = plan(&ipad(), entries(), None, &fit(10_000, false)).unwrap();
        assert!(p.refused.as_ref().unwrap().contains("--fit"));
        assert_eq!(p.fit.as_ref().unwrap().needed, 15_600);
        assert_eq!(p.fit.as_ref().unwrap().breakdown[0], ("videos", 9000));
        let p = plan(&ipad(), entries(), None, &fit(10_000, true)).unwrap();
        assert_eq!(p.refused, None);
        assert_eq!(p.fit.unwrap().dropped, [("videos", 1, 9000)]);
        assert!(p.skipped.iter().any(|s| s.rule == "fit-videos"));
        let p = plan(&ipad(), entries(), None, &fit(900, true)).unwrap();
        let report = p.fit.as_ref().unwrap();
        let dropped: Vec<_> = report.dropped.iter().map(|d| d.0).collect();
        assert_eq!(dropped, ["videos", "photos", "app-data"]);
        let kept = p.kept();
        assert_eq!((kept.device_files, kept.device_bytes), (2, 700 + 200));
        assert_eq!((kept.files, kept.bytes), (4, 1000 + 100 + 700 + 200));
        let p = plan(&ipad(), entries(), None, &fit(800, true)).unwrap();
        assert!(p.refused.unwrap().contains("even after"));
    }
}
