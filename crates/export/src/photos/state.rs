//! What earlier runs exported into the folder: `.hearth-export-photos.json`.
//!
//! A photo's identity is its content: a digest of the ids of its stored chunks (keyed BLAKE3
//! of the plaintext, cut the same way wherever the same bytes occur in one repository), so
//! equal lists mean equal bytes, whatever device, snapshot or path holds them. The state maps
//! each identity exported to the path it was written to, relative to the output folder.
//!
//! ```json
//! {"format": "hearth-export-photos", "version": 1,
//!  "exported": {"<32 hex digits>": "2021/04/IMG_5195.HEIC", ...}}
//! ```
//!
//! Invariant: an identity is recorded only once its file is complete on disk with its date set,
//! and the state is replaced whole (written beside, renamed over) after each batch of
//! snapshots; what is written between two saves is in the journal (`journal.rs`), so a run
//! that stops keeps all it finished. A photo recorded here is never
//! exported again, even if its file was moved or deleted since: deleting photos from the
//! export is how a person says they do not want them (iMazing's "skip already exported").

use crate::error::ExportError;
use crate::out::OutDir;
use hearth_browse::FileData;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub(crate) const STATE_FILE: &str = ".hearth-export-photos.json";
const FORMAT: &str = "hearth-export-photos";
const VERSION: u32 = 1;

/// A file's content identity: 128 bits of BLAKE3 over its size and chunk ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentId([u8; 16]);

impl ContentId {
    pub fn of(file: &FileData) -> Self {
        let mut h = blake3::Hasher::new_derive_key("hearth export photos content id v1");
        h.update(&file.size.to_le_bytes());
        for c in &file.chunks {
            h.update(c.as_bytes());
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(&h.finalize().as_bytes()[..16]);
        ContentId(id)
    }

    pub fn to_hex(self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        if s.len() != 32 || !s.is_ascii() {
            return None;
        }
        let mut id = [0u8; 16];
        for (i, b) in id.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(ContentId(id))
    }
}

#[derive(Serialize, Deserialize)]
struct StateFile {
    format: String,
    version: u32,
    exported: BTreeMap<String, String>,
}

/// Identities exported so far, and where each went.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub exported: BTreeMap<ContentId, String>,
}

impl State {
    /// The folder's state; empty when it has none.
    pub fn load(out: &OutDir) -> Result<State, ExportError> {
        let path = out.root().join(STATE_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
            Err(e) => return Err(ExportError::io(&path, "reading")(e)),
        };
        let bad = |why: String| ExportError::BadOutput {
            path: path.clone(),
            why: format!(
                "{why}; it records which photos earlier exports wrote: move it away to export every photo again"
            ),
        };
        let file: StateFile = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("not a Hearth photo export state ({e})")))?;
        if file.format != FORMAT || file.version != VERSION {
            return Err(bad(format!(
                "format {:?} version {}, not {FORMAT:?} version {VERSION}",
                file.format, file.version
            )));
        }
        let mut exported = BTreeMap::new();
        for (id, rel) in file.exported {
            let id = ContentId::from_hex(&id).ok_or_else(|| bad(format!("{id:?} is not an id")))?;
            exported.insert(id, rel);
        }
        Ok(State { exported })
    }

    pub fn save(&self, out: &OutDir) -> Result<(), ExportError> {
        let file = StateFile {
            format: FORMAT.into(),
            version: VERSION,
            exported: self
                .exported
                .iter()
                .map(|(id, rel)| (id.to_hex(), rel.clone()))
                .collect(),
        };
        let path = out.root().join(STATE_FILE);
        let mut bytes = serde_json::to_vec(&file)
            .map_err(|e| ExportError::io(&path, "writing")(std::io::Error::other(e)))?;
        bytes.push(b'\n');
        out.replace(STATE_FILE, &bytes).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_format::ChunkId;

    fn file(size: u64, chunks: &[u8]) -> FileData {
        FileData {
            size,
            mode: 0o644,
            chunks: chunks
                .iter()
                .map(|&c| ChunkId::from_bytes([c; 32]))
                .collect(),
            folder_path: "ab/ab".into(),
            in_manifest: true,
        }
    }

    #[test]
    fn identity_is_the_chunk_list_and_size() {
        assert_eq!(
            ContentId::of(&file(10, &[1, 2])),
            ContentId::of(&file(10, &[1, 2]))
        );
        assert_ne!(
            ContentId::of(&file(10, &[1, 2])),
            ContentId::of(&file(10, &[2, 1]))
        );
        assert_ne!(
            ContentId::of(&file(10, &[1, 2])),
            ContentId::of(&file(9, &[1, 2]))
        );
        let id = ContentId::of(&file(1, &[7]));
        assert_eq!(ContentId::from_hex(&id.to_hex()), Some(id));
    }

    #[test]
    fn state_round_trips_and_a_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let out = OutDir::create(dir.path()).unwrap();
        assert!(State::load(&out).unwrap().exported.is_empty());
        let mut s = State::default();
        s.exported
            .insert(ContentId::of(&file(1, &[7])), "2021/04/IMG_1.HEIC".into());
        s.save(&out).unwrap();
        assert_eq!(State::load(&out).unwrap().exported, s.exported);
        std::fs::write(
            dir.path().join(STATE_FILE),
            b"{\"format\":\"x\",\"version\":1,\"exported\":{}}",
        )
        .unwrap();
        let err = State::load(&out).unwrap_err().to_string();
        assert!(err.contains("move it away"), "{err}");
    }
}
