//! Matching Manifest.db rows to the files found on disk: pure data, no I/O.
//!
//! A row's state is decided here except for the length of its blob, which is decided by what
//! is stored ([`settle`]): a blob may change between the folder scan and its read.

use crate::walk::FoundFile;
use hearth_format::codec::{LSTRING_MAX, STRING_MAX, fits_lstring, fits_string};
use hearth_format::entry::{MTIME_ABSENT, SIZE_ABSENT};
use hearth_format::{Row, RowState, Warning};
use hearth_mobilesync::encryption::padded_len;
use hearth_mobilesync::{EntryKind, FileId, ManifestRow, check_relative_path};

/// An entry before its content is stored.
#[derive(Debug, Clone)]
pub struct PlannedEntry {
    pub path: String,
    pub row: Option<Row>,
    pub file: Option<FoundFile>,
    /// The row's `EncryptionKey`, when the backup is encrypted and the row has one.
    pub encryption_key: Option<Vec<u8>>,
    /// When the row's state depends on its blob's length (a file row with a blob and no other
    /// problem): the length its Size implies (`SIZE_ABSENT`: any length is fine).
    pub expected: Option<u64>,
}

/// One entry per row (keyed by its blob path) and one per file no row claims, sorted by path.
/// In an `encrypted` backup a blob is expected to be its `Size` padded to whole AES blocks.
/// A row whose file id, domain or path is too long for the format is left out with a warning
/// (its blob, if any, becomes a file no row claims). [`Planner`] over whole lists.
#[cfg(test)]
pub fn match_rows(
    rows: Vec<ManifestRow>,
    mut files: Vec<FoundFile>,
    encrypted: bool,
    warnings: &mut Vec<Warning>,
) -> Vec<PlannedEntry> {
    let (mut valid, others): (Vec<_>, Vec<_>) = rows
        .into_iter()
        .partition(|r| FileId::parse(&r.file_id).is_ok());
    valid.sort_by(|a, b| a.file_id.cmp(&b.file_id));
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut planner = Planner::new(valid.into_iter(), others, files.into_iter(), encrypted);
    let planned = planner.by_ref().collect();
    warnings.append(&mut planner.warnings);
    planned
}

/// [`match_rows`] one entry at a time: merges rows and files that come sorted by path, so that
/// memory holds one of each whatever the size of the backup.
///
/// `rows` are rows with a valid file id in `fileID` order (which is their blob paths' order);
/// `others` any other rows (rare: damaged backups), in any order; `files` the files found,
/// sorted by path. Warnings gather in `warnings`.
pub struct Planner<R: Iterator<Item = ManifestRow>, F: Iterator<Item = FoundFile>> {
    rows: std::iter::Peekable<R>,
    /// `others`, sorted by [`entry_path`].
    invalid: std::iter::Peekable<std::vec::IntoIter<ManifestRow>>,
    files: F,
    /// The next file of `files`, taken but not planned yet.
    file: Option<FoundFile>,
    encrypted: bool,
    pub warnings: Vec<Warning>,
}

impl<R: Iterator<Item = ManifestRow>, F: Iterator<Item = FoundFile>> Planner<R, F> {
    pub fn new(rows: R, mut others: Vec<ManifestRow>, files: F, encrypted: bool) -> Self {
        others.sort_by_cached_key(|r| entry_path(&r.file_id));
        Planner {
            rows: rows.peekable(),
            invalid: others.into_iter().peekable(),
            files,
            file: None,
            encrypted,
            warnings: Vec::new(),
        }
    }

    /// The row that comes next by path, if it comes before the next file (or at it).
    fn next_row(&mut self) -> Option<ManifestRow> {
        let valid = self.rows.peek().map(|r| valid_path(&r.file_id));
        let invalid = self.invalid.peek().map(|r| entry_path(&r.file_id));
        if self.file.is_none() {
            self.file = self.files.next();
        }
        let file = self.file.as_ref().map(|f| f.path.as_str());
        let (path, from_valid) = match (valid, invalid) {
            (Some(v), Some(i)) if i < v => (i, false),
            (Some(v), _) => (v, true),
            (None, Some(i)) => (i, false),
            (None, None) => return None,
        };
        if file.is_some_and(|f| f < path.as_str()) {
            return None;
        }
        if from_valid {
            self.rows.next()
        } else {
            self.invalid.next()
        }
    }
}

/// The path of a row's entry: its blob's for a valid file id, else `?<fileID>`.
fn entry_path(file_id: &str) -> String {
    FileId::parse(file_id).map_or_else(|_| format!("?{file_id}"), |id| id.blob_path())
}

impl<R: Iterator<Item = ManifestRow>, F: Iterator<Item = FoundFile>> Planner<R, F> {
    /// The files' source, once every entry is planned, and the warnings.
    pub fn finish(self) -> (F, Vec<Warning>) {
        (self.files, self.warnings)
    }
}

/// The blob path of a valid file id (`xx/<id>`), without parsing it again.
fn valid_path(file_id: &str) -> String {
    format!("{}/{file_id}", &file_id[..2.min(file_id.len())])
}

impl<R: Iterator<Item = ManifestRow>, F: Iterator<Item = FoundFile>> Iterator for Planner<R, F> {
    type Item = PlannedEntry;

    fn next(&mut self) -> Option<PlannedEntry> {
        while let Some(row) = self.next_row() {
            let (encrypted, file, warnings) = (self.encrypted, &mut self.file, &mut self.warnings);
            let mut file_at = |path: &str| file.take_if(|f| f.path == path);
            if let Some(planned) = plan_row(row, &mut file_at, encrypted, warnings) {
                return Some(planned);
            }
        }
        let f = self.file.take().or_else(|| self.files.next())?;
        Some(PlannedEntry {
            path: f.path.clone(),
            row: None,
            file: Some(f),
            encryption_key: None,
            expected: None,
        })
    }
}

/// The entry of row `r`, its blob taken by `file_at(path)` when the file id is valid.
fn plan_row(
    r: ManifestRow,
    file_at: &mut impl FnMut(&str) -> Option<FoundFile>,
    encrypted: bool,
    warnings: &mut Vec<Warning>,
) -> Option<PlannedEntry> {
    let id = FileId::parse(&r.file_id).ok();
    let path = id
        .as_ref()
        .map_or_else(|| format!("?{}", r.file_id), FileId::blob_path);
    if let Some(w) = too_long(&r, &path) {
        warnings.push(w);
        return None;
    }
    let kind = r.kind();
    let (recorded_size, recorded_mtime) = match &r.file {
        Ok(f) => (
            f.size.unwrap_or(SIZE_ABSENT),
            f.last_modified.unwrap_or(MTIME_ABSENT),
        ),
        Err(_) => (SIZE_ABSENT, MTIME_ABSENT),
    };
    if r.file.as_ref().is_ok_and(|f| f.size == Some(SIZE_ABSENT)) {
        warnings.push(Warning {
            path: path.clone(),
            message: format!(
                "{}: Size is {SIZE_ABSENT} (2^64 - 1), which no file has and which a snapshot keeps for \"no Size\"; recorded as no Size, the blob is kept as it is",
                what(&r)
            ),
        });
    }
    let file = id.as_ref().and_then(|_| file_at(&path));
    let encryption_key = r
        .file
        .as_ref()
        .ok()
        .and_then(|f| f.encryption_key.clone())
        .filter(|_| encrypted && kind == EntryKind::File);
    let expected = match (&encryption_key, recorded_size) {
        (Some(_), size) if size != SIZE_ABSENT => padded_len(size),
        _ => recorded_size,
    };
    let state = row_state(&r, kind, id.is_some(), expected, file.is_some());
    let sized = state == RowState::Ok && kind == EntryKind::File && file.is_some();
    if state != RowState::Ok {
        warnings.push(Warning {
            path: path.clone(),
            message: format!("{}: {}", what(&r), state.describe()),
        });
    }
    let mut row = Row {
        file_id: r.file_id,
        domain: r.domain,
        relative_path: r.relative_path,
        flags: kind.to_flags().unwrap_or(r.flags),
        recorded_size,
        recorded_mtime,
        state,
    };
    let expected = sized.then_some(expected);
    if let (Some(expected), Some(f)) = (expected, &file) {
        row.state = blob_state(expected, f.size);
    }
    Some(PlannedEntry {
        path,
        row: Some(row),
        file,
        encryption_key,
        expected,
    })
}

/// A warning when a field of the row (or its entry path) does not fit the format; such a row
/// is never stored cut short.
fn too_long(r: &ManifestRow, path: &str) -> Option<Warning> {
    let (field, len, limit) = if !fits_string(path) || !fits_string(&r.file_id) {
        ("file id", r.file_id.len(), STRING_MAX - 1)
    } else if !fits_string(&r.domain) {
        ("domain", r.domain.len(), STRING_MAX)
    } else if !fits_lstring(&r.relative_path) {
        ("relative path", r.relative_path.len(), LSTRING_MAX)
    } else {
        return None;
    };
    let short_id: String = r.file_id.chars().take(48).collect();
    let path = if fits_string(path) {
        path
    } else {
        "Manifest.db"
    };
    Some(Warning {
        path: path.to_string(),
        message: format!(
            "Manifest.db row {short_id:?}{} (domain {:?}, path {:?}): its {field} is {len} bytes, more than the {limit} a snapshot holds; the row is not recorded (never cut short), its blob, if any, is kept as a file no row names",
            if short_id.len() < r.file_id.len() {
                "…"
            } else {
                ""
            },
            abbreviated(&r.domain),
            abbreviated(&r.relative_path),
        ),
    })
}

/// The first 60 characters of `s`, with `…` and the length when there are more.
fn abbreviated(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((end, _)) => format!("{}… ({} bytes)", &s[..end], s.len()),
        None => s.to_string(),
    }
}

/// The most serious problem of a row other than its blob's length, or `Ok`. `expected` is the
/// blob length the row implies.
fn row_state(
    r: &ManifestRow,
    kind: EntryKind,
    id_ok: bool,
    expected: u64,
    has_blob: bool,
) -> RowState {
    if !id_ok {
        return RowState::BadFileId;
    }
    if check_relative_path(&r.relative_path).is_err() {
        return RowState::UnsafePath;
    }
    if r.file.is_err() {
        return RowState::MbFileUnreadable;
    }
    match kind {
        EntryKind::File if !has_blob && expected != 0 => RowState::BlobMissing,
        _ => RowState::Ok,
    }
}

/// The state of a file row whose blob is `size` bytes long and `expected` long by its Size.
pub fn blob_state(expected: u64, size: u64) -> RowState {
    match size.cmp(&expected) {
        _ if expected == SIZE_ABSENT => RowState::Ok,
        std::cmp::Ordering::Less => RowState::BlobShort,
        std::cmp::Ordering::Greater => RowState::BlobLong,
        std::cmp::Ordering::Equal => RowState::Ok,
    }
}

/// Sets the state of a file row from the length of the blob as stored (`size`, or as found
/// when it could not be read), `expected` being the length its Size implies; the warning to
/// record, if any. An undecryptable blob is kept as found and says so instead.
pub fn settle(row: &mut Row, expected: u64, size: u64, undecryptable: bool) -> Option<String> {
    row.state = if undecryptable {
        RowState::Undecryptable
    } else {
        blob_state(expected, size)
    };
    if !matches!(row.state, RowState::BlobShort | RowState::BlobLong) {
        return None;
    }
    let recorded = row.recorded_size;
    let implied = if expected == recorded {
        format!("{recorded} recorded")
    } else {
        format!("{expected} expected for an encrypted Size of {recorded}")
    };
    Some(format!(
        "{}/{} (Manifest.db row {:?}): {}: {size} bytes on disk, {implied}",
        row.domain,
        row.relative_path,
        row.file_id,
        row.state.describe()
    ))
}

/// How warnings name a row.
fn what(r: &ManifestRow) -> String {
    format!(
        "{}/{} (Manifest.db row {:?})",
        r.domain, r.relative_path, r.file_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_mobilesync::MbFile;

    fn row(domain: &str, path: &str, flags: i64, size: Option<u64>) -> ManifestRow {
        ManifestRow {
            file_id: FileId::for_path(domain, path).as_str().to_string(),
            domain: domain.into(),
            relative_path: path.into(),
            flags,
            file: Ok(MbFile {
                size,
                ..Default::default()
            }),
        }
    }

    fn found(path: String, size: u64) -> FoundFile {
        FoundFile {
            path,
            size,
            mtime_ns: 0,
            mode: 0o644,
        }
    }

    #[test]
    fn rows_blobs_and_orphans_line_up() {
        let ok = row("HomeDomain", "Library/SMS/sms.db", 1, Some(10));
        let short = row("HomeDomain", "a.db", 1, Some(10));
        let missing = row("HomeDomain", "b.db", 1, Some(10));
        let dir = row("HomeDomain", "Library", 2, Some(0));
        let mut bad_id = row("HomeDomain", "c", 1, Some(1));
        bad_id.file_id = "../../etc/passwd".into();
        let mut unsafe_path = row("HomeDomain", "../x", 1, Some(1));
        unsafe_path.relative_path = "../x".into();
        let files = vec![
            found(FileId::parse(&ok.file_id).unwrap().blob_path(), 10),
            found(FileId::parse(&short.file_id).unwrap().blob_path(), 4),
            found(FileId::parse(&unsafe_path.file_id).unwrap().blob_path(), 1),
            found("Info.plist".into(), 100),
            found(format!("e7/{}", "e7".repeat(20)), 5),
        ];
        let mut warnings = Vec::new();
        let plan = match_rows(
            vec![ok, short, missing, dir, bad_id, unsafe_path],
            files,
            false,
            &mut warnings,
        );
        let state = |p: &PlannedEntry| p.row.as_ref().map(|r| r.state);
        let states: Vec<_> = plan.iter().filter_map(state).collect();
        for s in [
            RowState::Ok,
            RowState::BlobShort,
            RowState::BlobMissing,
            RowState::BadFileId,
            RowState::UnsafePath,
        ] {
            assert!(states.contains(&s), "{s:?} in {states:?}");
        }
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        let short = plan
            .iter()
            .find(|p| p.file.as_ref().is_some_and(|f| f.size == 4));
        let short = short.unwrap();
        assert_eq!(
            short.expected,
            Some(10),
            "its state waits for what is stored"
        );
        let mut row = short.row.clone().unwrap();
        let msg = settle(&mut row, 10, 4, false).unwrap();
        assert_eq!(row.state, RowState::BlobShort);
        assert!(msg.contains("4 bytes on disk, 10 recorded"), "{msg}");
        assert_eq!(settle(&mut row, 10, 10, false), None);
        assert_eq!(row.state, RowState::Ok, "stored whole after all");
        assert!(settle(&mut row, 10, 12, false).unwrap().contains("longer"));
        assert_eq!(settle(&mut row, 10, 10, true), None);
        assert_eq!(row.state, RowState::Undecryptable);
        let orphans: Vec<_> = plan
            .iter()
            .filter(|p| p.row.is_none())
            .map(|p| p.path.as_str())
            .collect();
        assert_eq!(
            orphans,
            vec!["Info.plist", &format!("e7/{}", "e7".repeat(20))]
        );
        let bad = plan.iter().find(|p| p.path.starts_with('?')).unwrap();
        assert!(bad.file.is_none(), "a bad file id never gets content");
    }

    #[test]
    fn encrypted_blobs_are_expected_padded_to_whole_blocks() {
        let keyed = |path: &str| {
            let mut r = row("HomeDomain", path, 1, Some(100));
            if let Ok(f) = &mut r.file {
                f.encryption_key = Some(vec![3; 44]);
            }
            r
        };
        let (exact, short) = (keyed("exact.db"), keyed("short.db"));
        let blob =
            |r: &ManifestRow, size| found(FileId::parse(&r.file_id).unwrap().blob_path(), size);
        let files = vec![blob(&exact, 112), blob(&short, 100)];
        let mut warnings = Vec::new();
        let plan = match_rows(vec![exact, short], files, true, &mut warnings);
        let states: Vec<_> = plan.iter().map(|p| p.row.as_ref().unwrap().state).collect();
        assert!(states.contains(&RowState::Ok) && states.contains(&RowState::BlobShort));
        assert!(plan.iter().all(|p| p.encryption_key.is_some()));
        assert!(plan.iter().all(|p| p.expected == Some(112)));
        assert!(warnings.is_empty(), "{warnings:?}");
        let short = plan.iter().find(|p| p.file.as_ref().unwrap().size == 100);
        let mut row = short.unwrap().row.clone().unwrap();
        assert_eq!(row.state, RowState::BlobShort, "as the scan saw it");
        let msg = settle(&mut row, 112, 100, false).unwrap();
        assert!(
            msg.contains("100 bytes on disk, 112 expected for an encrypted Size of 100"),
            "{msg}"
        );
    }

    #[test]
    fn rows_too_long_for_the_format_are_refused_and_their_blob_kept_as_found() {
        let long_domain = row(&"D".repeat(STRING_MAX + 1), "a", 1, Some(3));
        let blob = FileId::parse(&long_domain.file_id).unwrap().blob_path();
        let mut long_id = row("HomeDomain", "b", 1, Some(3));
        long_id.file_id = "f".repeat(STRING_MAX);
        let fits = row(&"D".repeat(STRING_MAX), "c", 1, Some(0));
        let mut warnings = Vec::new();
        let plan = match_rows(
            vec![long_domain, long_id, fits],
            vec![found(blob.clone(), 3)],
            false,
            &mut warnings,
        );
        assert_eq!(plan.len(), 2, "{plan:?}");
        let orphan = plan.iter().find(|p| p.path == blob).unwrap();
        assert!(orphan.row.is_none() && orphan.file.is_some());
        let kept = plan.iter().find(|p| p.row.is_some()).unwrap();
        assert_eq!(kept.row.as_ref().unwrap().domain.len(), STRING_MAX, "whole");
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0]
                .message
                .contains("its domain is 65536 bytes, more than the 65535 a snapshot holds"),
            "{}",
            warnings[0].message
        );
        assert_eq!(warnings[0].path, blob);
        assert!(warnings[1].message.contains("its file id is 65535 bytes"));
        assert_eq!(warnings[1].path, "Manifest.db", "a path that fits");
        assert!(warnings.iter().all(|w| w.message.len() < 1_000));
    }

    #[test]
    fn a_size_of_u64_max_is_a_warning_and_recorded_as_no_size() {
        let r = row("HomeDomain", "huge", 1, Some(u64::MAX));
        let blob = FileId::parse(&r.file_id).unwrap().blob_path();
        let mut warnings = Vec::new();
        let plan = match_rows(vec![r], vec![found(blob, 5)], false, &mut warnings);
        let row = plan[0].row.as_ref().unwrap();
        assert_eq!(row.recorded_size, SIZE_ABSENT);
        assert_eq!(row.state, RowState::Ok);
        assert_eq!(plan[0].expected, Some(SIZE_ABSENT), "any length is fine");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0]
                .message
                .contains("HomeDomain/huge (Manifest.db row")
                && warnings[0].message.contains("Size is 18446744073709551615"),
            "{}",
            warnings[0].message
        );
    }
}
