//! Snapshot entries (`docs/format.md` §9.1): one per device-folder file and per Manifest.db row.

use crate::ChunkId;
use crate::codec::{DecodeError, Reader, Writer};

const HAS_ROW: u8 = 1;
const HAS_CONTENT: u8 = 2;
const HAS_CIPHER: u8 = 4;
/// The content's mtime is `i64 seconds ‖ u32 nanoseconds` (outside the i64-nanosecond range).
const WIDE_MTIME: u8 = 8;
const KNOWN_FLAGS: u8 = HAS_ROW | HAS_CONTENT | HAS_CIPHER | WIDE_MTIME;

const NANOS_PER_SEC: i128 = 1_000_000_000;

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
    /// Unix nanoseconds: any time of whole seconds an `i64` holds, with its nanoseconds
    /// ([`join_mtime`]), so times before 1677 or after 2262 are kept exactly.
    pub mtime_ns: i128,
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

/// `secs` seconds and `nanos` nanoseconds (below 1e9) after the Unix epoch, in nanoseconds.
pub fn join_mtime(secs: i64, nanos: u32) -> i128 {
    i128::from(secs) * NANOS_PER_SEC + i128::from(nanos)
}

/// Whole seconds (rounded down) and nanoseconds of `ns`; `None` when the seconds do not fit
/// an `i64` (no [`Content::mtime_ns`] is that far off).
pub fn split_mtime(ns: i128) -> Option<(i64, u32)> {
    let secs = i64::try_from(ns.div_euclid(NANOS_PER_SEC)).ok()?;
    let nanos = u32::try_from(ns.rem_euclid(NANOS_PER_SEC)).expect("below 1e9");
    Some((secs, nanos))
}

/// A content mtime as its field holds it: `i64` nanoseconds when they fit (every time from
/// 1677 to 2262), else wide.
enum MtimeField {
    Narrow(i64),
    Wide(i64, u32),
}

impl MtimeField {
    fn of(ns: i128) -> Self {
        match i64::try_from(ns) {
            Ok(ns) => Self::Narrow(ns),
            Err(_) => {
                let (secs, nanos) = split_mtime(ns)
                    .expect("Content::mtime_ns holds i64 seconds (its producers' invariant)");
                Self::Wide(secs, nanos)
            }
        }
    }
}

impl Entry {
    pub fn encode(&self, w: &mut Writer) {
        let has_cipher = self.content.as_ref().is_some_and(|c| c.cipher.is_some());
        let mtime = self.content.as_ref().map(|c| MtimeField::of(c.mtime_ns));
        let wide = matches!(mtime, Some(MtimeField::Wide(..)));
        let flags = u8::from(self.row.is_some()) * HAS_ROW
            + u8::from(self.content.is_some()) * HAS_CONTENT
            + u8::from(has_cipher) * HAS_CIPHER
            + u8::from(wide) * WIDE_MTIME;
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
        if let (Some(c), Some(mtime)) = (&self.content, mtime) {
            w.u64(c.size);
            match mtime {
                MtimeField::Narrow(ns) => w.i64(ns),
                MtimeField::Wide(secs, nanos) => {
                    w.i64(secs);
                    w.u32(nanos);
                }
            }
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
        let needs_content = HAS_CIPHER | WIDE_MTIME;
        let without_content = flags & needs_content != 0 && flags & HAS_CONTENT == 0;
        if flags & !KNOWN_FLAGS != 0 || without_content {
            return Err(DecodeError::Invalid {
                field: "entry flags",
                value: flags.into(),
            });
        }
        let path = r.string()?;
        let row = (flags & HAS_ROW != 0).then(|| decode_row(r)).transpose()?;
        let content = (flags & HAS_CONTENT != 0)
            .then(|| decode_content(r, flags))
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

fn decode_content(r: &mut Reader<'_>, flags: u8) -> Result<Content, DecodeError> {
    Ok(Content {
        size: r.u64()?,
        mtime_ns: decode_mtime(r, flags & WIDE_MTIME != 0)?,
        mode: r.u32()?,
        chunks: r.ids()?.into_iter().map(ChunkId).collect(),
        cipher: (flags & HAS_CIPHER != 0)
            .then(|| decode_cipher(r))
            .transpose()?,
    })
}

/// A wide mtime is canonical: its nanoseconds are below 1e9 and the time is outside the
/// narrow (i64-nanosecond) range, so every time has exactly one encoding.
fn decode_mtime(r: &mut Reader<'_>, wide: bool) -> Result<i128, DecodeError> {
    if !wide {
        return Ok(r.i64()?.into());
    }
    let (secs, nanos) = (r.i64()?, r.u32()?);
    if i128::from(nanos) >= NANOS_PER_SEC {
        return Err(DecodeError::Invalid {
            field: "wide mtime nanoseconds",
            value: nanos.into(),
        });
    }
    let ns = join_mtime(secs, nanos);
    if i64::try_from(ns).is_ok() {
        return Err(DecodeError::Invalid {
            field: "wide mtime inside the narrow range, seconds",
            value: secs as u64,
        });
    }
    Ok(ns)
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

    fn content_at(mtime_ns: i128) -> Content {
        Content {
            size: 3,
            mtime_ns,
            mode: 0o644,
            chunks: vec![ChunkId([7; 32])],
            cipher: None,
        }
    }

    fn file(mtime_ns: i128) -> Entry {
        Entry {
            path: "f".into(),
            row: None,
            content: Some(content_at(mtime_ns)),
        }
    }

    /// Golden bytes: a time after 2262 takes flag bit 3 and `i64 seconds ‖ u32 nanoseconds`;
    /// one inside 1677-2262 keeps the narrow `i64` nanoseconds (the bytes of earlier builds).
    #[test]
    fn wide_mtime_layout() {
        let year_2400 = join_mtime(13_569_465_600, 123_456_789);
        let bytes = Entry::encode_all(&[file(year_2400)]);
        let mut expected = vec![HAS_CONTENT | WIDE_MTIME, 1, 0, b'f'];
        expected.extend_from_slice(&3u64.to_le_bytes());
        expected.extend_from_slice(&13_569_465_600i64.to_le_bytes());
        expected.extend_from_slice(&123_456_789u32.to_le_bytes());
        expected.extend_from_slice(&0o644u32.to_le_bytes());
        expected.extend_from_slice(&1u32.to_le_bytes());
        expected.extend_from_slice(&[7; 32]);
        assert_eq!(bytes, expected);
        assert_eq!(Entry::decode_all(&bytes).unwrap(), vec![file(year_2400)]);

        let year_1960 = -(315_619_200 * NANOS_PER_SEC) + 5;
        let narrow = Entry::encode_all(&[file(year_1960)]);
        assert_eq!(
            narrow[0], HAS_CONTENT,
            "no wide flag inside the narrow range"
        );
        assert_eq!(narrow.len(), expected.len() - 4);
        assert_eq!(&narrow[12..20], &(year_1960 as i64).to_le_bytes());
    }

    #[test]
    fn wide_mtimes_are_canonical_and_need_content() {
        let wide = |secs: i64, nanos: u32| {
            let mut b = vec![HAS_CONTENT | WIDE_MTIME, 1, 0, b'f'];
            b.extend_from_slice(&3u64.to_le_bytes());
            b.extend_from_slice(&secs.to_le_bytes());
            b.extend_from_slice(&nanos.to_le_bytes());
            b.extend_from_slice(&0o644u32.to_le_bytes());
            b.extend_from_slice(&0u32.to_le_bytes());
            b
        };
        assert!(Entry::decode_all(&wide(i64::MAX, 999_999_999)).is_ok());
        assert!(Entry::decode_all(&wide(i64::MIN, 0)).is_ok());
        let e = Entry::decode_all(&wide(i64::MAX, 1_000_000_000)).unwrap_err();
        assert!(e.to_string().contains("wide mtime nanoseconds"), "{e}");
        let e = Entry::decode_all(&wide(0, 0)).unwrap_err();
        assert!(e.to_string().contains("inside the narrow range"), "{e}");
        assert!(Entry::decode_all(&[WIDE_MTIME, 1, 0, b'f']).is_err());
        assert!(
            Entry::decode_all(&[16, 1, 0, b'f']).is_err(),
            "unknown flag"
        );
    }

    #[test]
    fn split_and_join_are_inverse_at_the_edges() {
        for (secs, nanos) in [
            (i64::MIN, 0),
            (-1, 999_999_999),
            (0, 0),
            (i64::MAX, 999_999_999),
        ] {
            assert_eq!(split_mtime(join_mtime(secs, nanos)), Some((secs, nanos)));
        }
        assert_eq!(split_mtime(-1), Some((-1, 999_999_999)));
        assert_eq!(split_mtime(join_mtime(i64::MAX, 999_999_999) + 1), None);
        assert_eq!(split_mtime(join_mtime(i64::MIN, 0) - 1), None);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// Any time an i64 of seconds holds, biased towards the edges of the narrow range.
        fn mtime() -> impl Strategy<Value = i128> {
            let narrow_edge = prop_oneof![Just(i128::from(i64::MIN)), Just(i128::from(i64::MAX))];
            prop_oneof![
                any::<i64>().prop_map(i128::from),
                (any::<i64>(), 0u32..1_000_000_000).prop_map(|(s, n)| join_mtime(s, n)),
                (narrow_edge, -3i128..=3).prop_map(|(edge, d)| edge + d),
            ]
        }

        fn content() -> impl Strategy<Value = Content> {
            let cipher = proptest::option::of((any::<[u8; 32]>(), any::<bool>()));
            (
                any::<u64>(),
                mtime(),
                any::<u32>(),
                proptest::collection::vec(any::<[u8; 32]>(), 0..4),
                cipher,
            )
                .prop_map(|(size, mtime_ns, mode, chunks, cipher)| Content {
                    size,
                    mtime_ns,
                    mode,
                    chunks: chunks.into_iter().map(ChunkId).collect(),
                    cipher: cipher.map(|(k, pkcs7)| {
                        let mut wrapped_key = [0; WRAPPED_KEY_LEN];
                        wrapped_key[..32].copy_from_slice(&k);
                        Cipher { wrapped_key, pkcs7 }
                    }),
                })
        }

        fn row() -> impl Strategy<Value = Row> {
            (
                ".{0,50}",
                ".{0,50}",
                ".{0,80}",
                any::<i64>(),
                any::<u64>(),
                any::<i64>(),
                0u8..8,
            )
                .prop_map(
                    |(file_id, domain, relative_path, flags, size, mtime, state)| Row {
                        file_id,
                        domain,
                        relative_path,
                        flags,
                        recorded_size: size,
                        recorded_mtime: mtime,
                        state: RowState::from_byte(state).unwrap(),
                    },
                )
        }

        fn entry() -> impl Strategy<Value = Entry> {
            (
                ".{0,60}",
                proptest::option::of(row()),
                proptest::option::of(content()),
            )
                .prop_map(|(path, row, content)| Entry { path, row, content })
        }

        proptest! {
            #[test]
            fn entries_round_trip_and_encode_canonically(entries in proptest::collection::vec(entry(), 0..6)) {
                let bytes = Entry::encode_all(&entries);
                let decoded = Entry::decode_all(&bytes).unwrap();
                prop_assert_eq!(&decoded, &entries);
                prop_assert_eq!(Entry::encode_all(&decoded), bytes);
            }

            #[test]
            fn only_times_outside_the_narrow_range_are_wide(ns in mtime()) {
                let bytes = Entry::encode_all(&[file(ns)]);
                let wide = bytes[0] & WIDE_MTIME != 0;
                prop_assert_eq!(wide, i64::try_from(ns).is_err());
                prop_assert_eq!(Entry::decode_all(&bytes).unwrap()[0].content.as_ref().unwrap().mtime_ns, ns);
            }

            #[test]
            fn damaged_streams_are_errors_not_panics(entries in proptest::collection::vec(entry(), 1..3), cut in any::<prop::sample::Index>(), flip in any::<prop::sample::Index>()) {
                let mut bytes = Entry::encode_all(&entries);
                let _ = Entry::decode_all(&bytes[..cut.index(bytes.len())]);
                let at = flip.index(bytes.len());
                bytes[at] ^= 0x5a;
                let _ = Entry::decode_all(&bytes);
            }
        }
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
