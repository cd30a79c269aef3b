//! `.hearth-export-photos.journal`: the photos written since the state and the manifests were
//! last saved, one JSON line each (`{"id": "<32 hex digits>", "record": {...}}`), appended as
//! soon as a photo's files are complete on disk.
//!
//! Invariant: every photo file in the folder is in the state, the journal, or being written
//! under its hidden partial name. The state and manifests are saved once per batch of
//! snapshots; a run that stops between saves keeps what it wrote through the journal, which the
//! next run reads into both and empties at its first save. A run that ends removes it. A last line cut short by a crash is
//! skipped: its photo was not recorded, and is written again.

use super::manifest::Record;
use super::state::ContentId;
use crate::error::ExportError;
use crate::out::OutDir;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Mutex;

pub(crate) const JOURNAL: &str = ".hearth-export-photos.journal";

#[derive(Serialize, Deserialize)]
struct Line {
    id: String,
    record: Record,
}

/// The journal, open for appending by the threads that write photos.
pub(crate) struct Journal {
    file: Mutex<File>,
    path: PathBuf,
}

impl Journal {
    pub fn open(out: &OutDir) -> Result<Self, ExportError> {
        let path = out.path(JOURNAL)?;
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(ExportError::io(&path, "opening"))?;
        Ok(Self {
            file: Mutex::new(file),
            path,
        })
    }

    /// Records that the photo `id` is complete on disk as `record` says.
    pub fn append(&self, id: ContentId, record: &Record) -> Result<(), ExportError> {
        let line = Line {
            id: id.to_hex(),
            record: record.clone(),
        };
        let mut bytes = serde_json::to_vec(&line)
            .map_err(|e| ExportError::io(&self.path, "writing")(std::io::Error::other(e)))?;
        bytes.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.write_all(&bytes)
            .map_err(ExportError::io(&self.path, "writing"))
    }

    /// Removes the journal at the end of a run: the state and manifests hold everything in it.
    pub fn finish(self) -> Result<(), ExportError> {
        drop(self.file);
        std::fs::remove_file(&self.path).map_err(ExportError::io(&self.path, "removing"))
    }

    /// Empties the journal: the state and manifests hold everything in it.
    pub fn clear(&self) -> Result<(), ExportError> {
        let file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.set_len(0)
            .map_err(ExportError::io(&self.path, "emptying"))
    }
}

/// What an earlier run appended and did not save: each photo's identity and manifest row.
pub(crate) fn read(out: &OutDir) -> Vec<(ContentId, Record)> {
    let Ok(text) = std::fs::read_to_string(out.root().join(JOURNAL)) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<Line>(l).ok())
        .filter_map(|l| Some((ContentId::from_hex(&l.id)?, l.record)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(out: &str) -> Record {
        Record {
            out: out.into(),
            kind: "photo".into(),
            date: String::new(),
            date_source: "file-time".into(),
            device: "Mum".into(),
            udid: "u".into(),
            snapshot: "s".into(),
            snapshot_time: "t".into(),
            domain: "CameraRollDomain".into(),
            path: "Media/DCIM/100APPLE/IMG_1.HEIC".into(),
            size: 1,
            pair: String::new(),
        }
    }

    #[test]
    fn lines_survive_a_stop_and_a_cut_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let out = OutDir::create(dir.path()).unwrap();
        let id = ContentId::from_hex(&"ab".repeat(16)).unwrap();
        let journal = Journal::open(&out).unwrap();
        journal.append(id, &record("2024/05/IMG_1.HEIC")).unwrap();
        journal.append(id, &record("2024/05/IMG_2.HEIC")).unwrap();
        drop(journal);
        let path = dir.path().join(JOURNAL);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 10);
        std::fs::write(&path, bytes).unwrap();
        let read = read(&out);
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].1.out, "2024/05/IMG_1.HEIC");
        let journal = Journal::open(&out).unwrap();
        journal.clear().unwrap();
        journal.append(id, &record("2024/06/IMG_3.HEIC")).unwrap();
        assert_eq!(read_outs(&out), ["2024/06/IMG_3.HEIC"]);
    }

    fn read_outs(out: &OutDir) -> Vec<String> {
        read(out).into_iter().map(|(_, r)| r.out).collect()
    }
}
