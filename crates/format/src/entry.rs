//! Snapshot entries (`docs/format.md` §9.1): one per device-folder file and per Manifest.db row.

use crate::ChunkId;
use crate::codec::{DecodeError, Reader, Writer};

const HAS_ROW: u8 = 1;
const HAS_CONTENT: u8 = 2;
const HAS_CIPHER: u8 = 4;

/// Length of an iOS wrapped key: `u32 LE protection class ‖ 40-byte RFC 3394 wrapped key`.
pub const WRAPPED_KEY_LEN: usize = 44;

/// `recorded_size` when the MBFile has no `Size` (which is not the same as 0).
pub const SIZE_ABSENT: u64 = u64::MAX;
/// `recorded_mtime` when the MBFile has no `LastModified`.
pub const MTIME_ABSENT: i64 = i64::MIN;

/// What ingest found about a Manifest.db row and its blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowState {
    Ok,
    BlobMissing,
    BlobShort,
    BlobLong,
    BadFileId,
    UnsafePath,
    MbFileUnreadable,
    /// Encrypted backup: the blob does not decrypt with its key; stored as found.
    Undecryptable,
    /// Its stored bytes were lost to damage in the repository; `repair snapshots` removed its
    /// content from the snapshot.
    LostInRepository,
}

impl RowState {
    pub fn byte(self) -> u8 {
        self as u8
    }
    pub fn from_byte(b: u8) -> Result<Self, DecodeError> {
        use RowState::*;
        [
            Ok,
            BlobMissing,
            BlobShort,
            BlobLong,
            BadFileId,
            UnsafePath,
            MbFileUnreadable,
            Undecryptable,
            LostInRepository,
        ]
        .get(b as usize)
        .copied()
        .ok_or(DecodeError::Invalid {
            field: "row state",
            value: b.into(),
        })
    }
    pub fn describe(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::BlobMissing => "blob missing from the backup folder",
            Self::BlobShort => "blob shorter than the Size Manifest.db records",
            Self::BlobLong => "blob longer than the Size Manifest.db records",
            Self::BadFileId => "file id is not 40 hex characters",
            Self::UnsafePath => "relative path is absolute or contains '..'",
            Self::MbFileUnreadable => "file record (MBFile) could not be decoded",
            Self::Undecryptable => {
                "blob does not decrypt with its key (damaged); kept as found, not deduplicated"
            }
            Self::LostInRepository => {
                "lost to damage in the repository; removed from the snapshot by `hearth repair snapshots`"
            }
        }
    }
}

/// A Manifest.db row as the snapshot keeps it for listing and planning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub file_id: String,
    pub domain: String,
    pub relative_path: String,
    pub flags: i64,
    pub recorded_size: u64,
    pub recorded_mtime: i64,
    pub state: RowState,
}

/// Bytes of a file in the device folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// Length of the file in the device folder (for an encrypted file, of its ciphertext).
    pub size: u64,
    /// Unix nanoseconds.
    pub mtime_ns: i64,
    /// Permission bits.
    pub mode: u32,
    /// The stored bytes: the file itself, or its plaintext when `cipher` is set.
    pub chunks: Vec<ChunkId>,
    pub cipher: Option<Cipher>,
}

impl Content {
    /// The length of the file in the device folder when its stored bytes are `stored` long:
    /// the same, or with a cipher those bytes encrypted (PKCS#7 pads to the next whole block).
    pub fn file_len(&self, stored: u64) -> u64 {
        match self.cipher {
            Some(c) if c.pkcs7 => (stored / 16).saturating_add(1).saturating_mul(16),
            _ => stored,
        }
    }
}

/// How an encrypted backup's file is made from its stored plaintext: AES-256-CBC, IV zero,
/// under the key `wrapped_key` holds (unwrapped with the device's class keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cipher {
    /// The file's `EncryptionKey` (or, for Manifest.db, the `ManifestKey`), as the backup has it.
    pub wrapped_key: [u8; WRAPPED_KEY_LEN],
    /// True: PKCS#7 padding is added before encrypting. False: the plaintext is whole blocks.
    pub pkcs7: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path in the device folder, `/`-separated.
    pub path: String,
    pub row: Option<Row>,
    pub content: Option<Content>,
}

impl Entry {
    pub fn encode(&self, w: &mut Writer) {
        let has_cipher = self.content.as_ref().is_some_and(|c| c.cipher.is_some());
        let flags = u8::from(self.row.is_some()) * HAS_ROW
            + u8::from(self.content.is_some()) * HAS_CONTENT
            + u8::from(has_cipher) * HAS_CIPHER;
        w.u8(flags);
        w.string(&self.path);
        if let Some(row) = &self.row {
            w.string(&row.file_id);
            w.string(&row.domain);
            w.lstring(&row.relative_path);
            w.i64(row.flags);
            w.u64(row.recorded_size);
            w.i64(row.recorded_mtime);
            w.u8(row.state.byte());
        }
        if let Some(c) = &self.content {
            w.u64(c.size);
            w.i64(c.mtime_ns);
            w.u32(c.mode);
            w.count(c.chunks.len());
            c.chunks.iter().for_each(|id| w.id(&id.0));
            if let Some(cipher) = &c.cipher {
                w.bytes(&cipher.wrapped_key);
                w.u8(cipher.pkcs7.into());
            }
        }
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let flags = r.u8()?;
        let cipher_without_content = flags & HAS_CIPHER != 0 && flags & HAS_CONTENT == 0;
        if flags & !(HAS_ROW | HAS_CONTENT | HAS_CIPHER) != 0 || cipher_without_content {
            return Err(DecodeError::Invalid {
                field: "entry flags",
                value: flags.into(),
            });
        }
        let path = r.string()?;
        let row = (flags & HAS_ROW != 0).then(|| decode_row(r)).transpose()?;
        let content = (flags & HAS_CONTENT != 0)
            .then(|| decode_content(r, flags & HAS_CIPHER != 0))
            .transpose()?;
        Ok(Self { path, row, content })
    }

    /// Encodes a whole entry stream.
    pub fn encode_all(entries: &[Entry]) -> Vec<u8> {
        let mut w = Writer::new();
        entries.iter().for_each(|e| e.encode(&mut w));
        w.finish()
    }

    /// Decodes a whole entry stream.
    pub fn decode_all(bytes: &[u8]) -> Result<Vec<Entry>, DecodeError> {
        let mut r = Reader::new(bytes);
        let mut out = Vec::new();
        while r.remaining() > 0 {
            out.push(Entry::decode(&mut r)?);
        }
        Ok(out)
    }
}

fn decode_row(r: &mut Reader<'_>) -> Result<Row, DecodeError> {
    Ok(Row {
        file_id: r.string()?,
        domain: r.string()?,
        relative_path: r.lstring()?,
        flags: r.i64()?,
        recorded_size: r.u64()?,
        recorded_mtime: r.i64()?,
        state: RowState::from_byte(r.u8()?)?,
    })
}

fn decode_content(r: &mut Reader<'_>, has_cipher: bool) -> Result<Content, DecodeError> {
    Ok(Content {
        size: r.u64()?,
        mtime_ns: r.i64()?,
        mode: r.u32()?,
        chunks: r.ids()?.into_iter().map(ChunkId).collect(),
        cipher: has_cipher.then(|| decode_cipher(r)).transpose()?,
    })
}

fn decode_cipher(r: &mut Reader<'_>) -> Result<Cipher, DecodeError> {
    let wrapped_key = r.take(WRAPPED_KEY_LEN)?.try_into().expect("took 44 bytes");
    let pkcs7 = match r.u8()? {
        0 => false,
        1 => true,
        v => {
            return Err(DecodeError::Invalid {
                field: "cipher padding",
                value: v.into(),
            });
        }
    };
    Ok(Cipher { wrapped_key, pkcs7 })
}

/// True when `path` is safe to join under an output folder: relative, `/`-separated, with
/// non-empty components that are not `.` or `..`, and no NUL or backslash.
pub fn is_safe_path(path: &str) -> bool {
    !path.is_empty()
        && !path.contains(['\0', '\\'])
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        let entries = vec![
            Entry {
                path: "3d/3d0d7e5fb2ce288813306e4d4636395e047a3d28".into(),
                row: Some(Row {
                    file_id: "3d0d7e5fb2ce288813306e4d4636395e047a3d28".into(),
                    domain: "HomeDomain".into(),
                    relative_path: "Library/SMS/sms.db".into(),
                    flags: 1,
                    recorded_size: 278528,
                    recorded_mtime: 1610659523,
                    state: RowState::BlobShort,
                }),
                content: Some(Content {
                    size: 28672,
                    mtime_ns: 5,
                    mode: 0o644,
                    chunks: vec![ChunkId([4; 32])],
                    cipher: None,
                }),
            },
            Entry {
                path: "Manifest.db".into(),
                row: None,
                content: Some(Content {
                    size: 4096,
                    mtime_ns: -1,
                    mode: 0o600,
                    chunks: vec![ChunkId([5; 32]), ChunkId([6; 32])],
                    cipher: Some(Cipher {
                        wrapped_key: [3; WRAPPED_KEY_LEN],
                        pkcs7: true,
                    }),
                }),
            },
            Entry {
                path: "Info.plist".into(),
                row: None,
                content: None,
            },
        ];
        let bytes = Entry::encode_all(&entries);
        assert_eq!(Entry::decode_all(&bytes).unwrap(), entries);
        assert!(Entry::decode_all(&bytes[..bytes.len() - 1]).is_err());
        let mut bad_padding = Entry::encode_all(&entries[1..2]);
        assert_eq!(
            bad_padding.last(),
            Some(&1),
            "the entry ends with its padding byte"
        );
        *bad_padding.last_mut().unwrap() = 2;
        assert!(Entry::decode_all(&bad_padding).is_err());
        let cipher_without_content = [HAS_CIPHER, 1, 0, b'x'];
        assert!(Entry::decode_all(&cipher_without_content).is_err());
    }

    #[test]
    fn unsafe_paths_are_recognised() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "./a",
            "a\\b",
            "a\0",
        ] {
            assert!(!is_safe_path(bad), "{bad:?}");
        }
        for good in ["Info.plist", "3d/3d0d7e", "a/b/c.db"] {
            assert!(is_safe_path(good), "{good:?}");
        }
    }
}
