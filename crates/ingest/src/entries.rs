//! Matching Manifest.db rows to the files found on disk: pure data, no I/O.

use crate::walk::FoundFile;
use hearth_format::entry::{MTIME_ABSENT, SIZE_ABSENT};
use hearth_format::{Row, RowState, Warning};
use hearth_mobilesync::encryption::padded_len;
use hearth_mobilesync::{EntryKind, FileId, ManifestRow, check_relative_path};
use std::collections::BTreeMap;

/// An entry before its content is stored.
#[derive(Debug, Clone)]
pub struct PlannedEntry {
    pub path: String,
    pub row: Option<Row>,
    pub file: Option<FoundFile>,
    /// The row's `EncryptionKey`, when the backup is encrypted and the row has one.
    pub encryption_key: Option<Vec<u8>>,
}

/// One entry per row (keyed by its blob path) and one per file no row claims, sorted by path.
/// In an `encrypted` backup a blob is expected to be its `Size` padded to whole AES blocks.
pub fn match_rows(
    rows: Vec<ManifestRow>,
    files: Vec<FoundFile>,
    encrypted: bool,
    warnings: &mut Vec<Warning>,
) -> Vec<PlannedEntry> {
    let mut files: BTreeMap<String, FoundFile> =
        files.into_iter().map(|f| (f.path.clone(), f)).collect();
    let mut out: Vec<PlannedEntry> = rows
        .into_iter()
        .map(|row| plan_row(row, &mut files, encrypted, warnings))
        .collect();
    out.extend(files.into_values().map(|f| PlannedEntry {
        path: f.path.clone(),
        row: None,
        file: Some(f),
        encryption_key: None,
    }));
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn plan_row(
    r: ManifestRow,
    files: &mut BTreeMap<String, FoundFile>,
    encrypted: bool,
    warnings: &mut Vec<Warning>,
) -> PlannedEntry {
    let kind = r.kind();
    let (recorded_size, recorded_mtime) = match &r.file {
        Ok(f) => (
            f.size.unwrap_or(SIZE_ABSENT),
            f.last_modified.unwrap_or(MTIME_ABSENT),
        ),
        Err(_) => (SIZE_ABSENT, MTIME_ABSENT),
    };
    let id = FileId::parse(&r.file_id).ok();
    let path = id
        .as_ref()
        .map_or_else(|| format!("?{}", r.file_id), FileId::blob_path);
    let file = id.as_ref().and_then(|_| files.remove(&path));
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
    let state = row_state(&r, kind, id.is_some(), expected, file.as_ref());
    if state != RowState::Ok {
        warnings.push(Warning {
            path: path.clone(),
            message: describe(&r, state, (recorded_size, expected), file.as_ref()),
        });
    }
    let row = Row {
        file_id: r.file_id,
        domain: r.domain,
        relative_path: r.relative_path,
        flags: kind.to_flags().unwrap_or(r.flags),
        recorded_size,
        recorded_mtime,
        state,
    };
    PlannedEntry {
        path,
        row: Some(row),
        file,
        encryption_key,
    }
}

/// The most serious problem of a row, or `Ok`. `expected` is the blob length the row implies.
fn row_state(
    r: &ManifestRow,
    kind: EntryKind,
    id_ok: bool,
    expected: u64,
    file: Option<&FoundFile>,
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
    if kind != EntryKind::File {
        return RowState::Ok;
    }
    match file {
        None if expected == 0 => RowState::Ok,
        None => RowState::BlobMissing,
        Some(_) if expected == SIZE_ABSENT => RowState::Ok,
        Some(f) if f.size < expected => RowState::BlobShort,
        Some(f) if f.size > expected => RowState::BlobLong,
        Some(_) => RowState::Ok,
    }
}

/// `sizes`: the recorded `Size` and the blob length it implies (they differ when encrypted).
fn describe(
    r: &ManifestRow,
    state: RowState,
    (recorded, expected): (u64, u64),
    file: Option<&FoundFile>,
) -> String {
    let what = format!(
        "{}/{} (Manifest.db row {:?})",
        r.domain, r.relative_path, r.file_id
    );
    match (state, file) {
        (RowState::BlobShort | RowState::BlobLong, Some(f)) => {
            let implied = if expected == recorded {
                format!("{recorded} recorded")
            } else {
                format!("{expected} expected for an encrypted Size of {recorded}")
            };
            format!(
                "{what}: {}: {} bytes on disk, {implied}",
                state.describe(),
                f.size
            )
        }
        _ => format!("{what}: {}", state.describe()),
    }
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
        assert_eq!(warnings.len(), 4, "{warnings:?}");
        assert!(
            warnings
                .iter()
                .any(|w| w.message.contains("4 bytes on disk, 10 recorded"))
        );
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
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let msg = &warnings[0].message;
        assert!(
            msg.contains("100 bytes on disk, 112 expected for an encrypted Size of 100"),
            "{msg}"
        );
    }
}
