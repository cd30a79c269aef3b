//! `photos.csv` and `photos.json`: every file the exports into this folder wrote, one row
//! each, sorted by output path. Each run adds its files to what `photos.json` already lists
//! (rows whose file was since deleted stay: they say where a photo came from).

use crate::error::ExportError;
use crate::out::OutDir;
use crate::rfc4180::CsvWriter;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

pub(crate) const CSV: &str = "photos.csv";
pub(crate) const JSON: &str = "photos.json";
const FORMAT: &str = "hearth-export-photos-manifest";
const VERSION: u32 = 1;

/// One exported file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    /// Where it was written, relative to the output folder.
    pub out: String,
    /// `photo`, `video`, `live-photo-video` or `edited`.
    pub kind: String,
    /// The capture date, RFC 3339 with the capture's offset when known.
    pub date: String,
    /// `photos-db`, `exif`, `quicktime` or `file-time`.
    pub date_source: String,
    pub device: String,
    pub udid: String,
    /// The snapshot it was read from, and when that backup was made (RFC 3339, UTC).
    pub snapshot: String,
    pub snapshot_time: String,
    pub domain: String,
    /// Its path in the backup, relative to the domain.
    pub path: String,
    pub size: u64,
    /// The other half of a Live Photo (the still's video, the video's still), or the original
    /// of an edited version: its output path; empty for none.
    pub pair: String,
}

const COLUMNS: [&str; 12] = [
    "out",
    "kind",
    "date",
    "date_source",
    "device",
    "udid",
    "snapshot",
    "snapshot_time",
    "domain",
    "path",
    "size",
    "pair",
];

#[derive(Serialize, Deserialize)]
struct ManifestFile {
    format: String,
    version: u32,
    items: Vec<Record>,
}

/// The rows `photos.json` holds; none when it is missing. A file that does not parse is left
/// to be replaced, with a warning.
pub(crate) fn load(out: &OutDir, warnings: &mut Vec<String>) -> Vec<Record> {
    let path = out.root().join(JSON);
    let Ok(bytes) = std::fs::read(&path) else {
        return Vec::new();
    };
    match serde_json::from_slice::<ManifestFile>(&bytes) {
        Ok(m) if m.format == FORMAT => m.items,
        _ => {
            warnings.push(format!(
                "{}: not a manifest of this export; written anew, listing this run's files only",
                path.display()
            ));
            Vec::new()
        }
    }
}

/// Writes both manifests, each replaced whole.
pub(crate) fn save(out: &OutDir, records: &mut [Record]) -> Result<(), ExportError> {
    records.sort_by(|a, b| a.out.cmp(&b.out));
    let file = ManifestFile {
        format: FORMAT.into(),
        version: VERSION,
        items: records.to_vec(),
    };
    let path = out.root().join(JSON);
    out.replace_with(JSON, |w| {
        serde_json::to_writer_pretty(&mut *w, &file)
            .map_err(|e| ExportError::io(&path, "writing")(e.into()))?;
        w.write_all(b"\n")
            .map_err(ExportError::io(&path, "writing"))
    })?;
    let path = out.root().join(CSV);
    out.replace_with(CSV, |w| write_csv(w, &path, records))?;
    Ok(())
}

fn write_csv(w: &mut dyn Write, path: &Path, records: &[Record]) -> Result<(), ExportError> {
    let mut csv = CsvWriter::new(w, path, &COLUMNS)?;
    for r in records {
        let size = r.size.to_string();
        let fields = [
            &r.out,
            &r.kind,
            &r.date,
            &r.date_source,
            &r.device,
            &r.udid,
            &r.snapshot,
            &r.snapshot_time,
            &r.domain,
            &r.path,
            &size,
            &r.pair,
        ];
        csv.record(&fields)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_round_trip_and_merge() {
        let dir = tempfile::tempdir().unwrap();
        let out = OutDir::create(dir.path()).unwrap();
        let mut warnings = Vec::new();
        assert!(load(&out, &mut warnings).is_empty());
        let r = Record {
            out: "2021/04/IMG_1.HEIC".into(),
            kind: "photo".into(),
            date: "2021-04-11T15:47:53-05:00".into(),
            date_source: "exif".into(),
            device: "Mum, iPhone".into(),
            udid: "u".into(),
            snapshot: "s".into(),
            snapshot_time: "t".into(),
            domain: "CameraRollDomain".into(),
            path: "Media/DCIM/100APPLE/IMG_1.HEIC".into(),
            size: 3,
            pair: String::new(),
        };
        save(&out, &mut [r.clone()]).unwrap();
        assert_eq!(load(&out, &mut warnings), vec![r]);
        let csv = std::fs::read_to_string(dir.path().join(CSV)).unwrap();
        assert!(csv.contains(",\"Mum, iPhone\","), "{csv}");
        std::fs::write(dir.path().join(JSON), "[]").unwrap();
        assert!(load(&out, &mut warnings).is_empty());
        assert_eq!(warnings.len(), 1);
    }
}
