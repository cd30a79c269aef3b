//! The 8-byte file header every object starts with (`docs/format.md` §3).

use thiserror::Error;

pub const MAGIC: [u8; 4] = *b"HRTH";
/// The oldest layout version of any object; every kind's layouts from it to
/// [`ObjectKind::version`] are read.
pub const FORMAT_VERSION: u8 = 1;
pub const HEADER_LEN: usize = 8;

const OFFSET_KIND: usize = 4;
const OFFSET_VERSION: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Config,
    Key,
    Pack,
    Index,
    Snapshot,
    Lock,
    DeviceKey,
    Pin,
}

impl ObjectKind {
    /// Every kind, in the order of `docs/format.md` §3.
    pub const ALL: [ObjectKind; 8] = [
        Self::Config,
        Self::Key,
        Self::Pack,
        Self::Index,
        Self::Snapshot,
        Self::Lock,
        Self::DeviceKey,
        Self::Pin,
    ];

    pub fn byte(self) -> u8 {
        match self {
            Self::Config => b'C',
            Self::Key => b'K',
            Self::Pack => b'P',
            Self::Index => b'I',
            Self::Snapshot => b'S',
            Self::Lock => b'L',
            Self::DeviceKey => b'D',
            Self::Pin => b'N',
        }
    }
    /// The layout version this Hearth writes for objects of this kind, and the newest it
    /// reads (`docs/format.md` §3): 2 for snapshots (which gained the time Hearth stored them,
    /// §9) and the config (which gained the content keys, §6), 1 for everything else.
    pub fn version(self) -> u8 {
        match self {
            Self::Snapshot | Self::Config => 2,
            _ => FORMAT_VERSION,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Key => "key file",
            Self::Pack => "pack",
            Self::Index => "index segment",
            Self::Snapshot => "snapshot",
            Self::Lock => "lock",
            Self::DeviceKey => "device key",
            Self::Pin => "pin",
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum HeaderError {
    #[error("not a Hearth {expected} (bad magic or kind)")]
    WrongMagic { expected: &'static str },
    #[error(
        "repository format version {found} is newer than this Hearth supports ({supported}): upgrade Hearth"
    )]
    NewerVersion { found: u8, supported: u8 },
    #[error("format version 0 is not valid")]
    BadVersion,
}

pub struct FileHeader;

impl FileHeader {
    /// The header a writer writes: `kind` at its newest layout.
    pub fn encode(kind: ObjectKind) -> [u8; HEADER_LEN] {
        Self::encode_layout(kind, kind.version())
    }

    /// The header of `kind` at an older `layout`: for test vectors and frozen repositories,
    /// which pin what earlier versions wrote.
    pub fn encode_layout(kind: ObjectKind, layout: u8) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..4].copy_from_slice(&MAGIC);
        h[OFFSET_KIND] = kind.byte();
        h[OFFSET_VERSION] = layout;
        h
    }

    /// Checks `bytes` starts with the header of `kind` at a version we can read.
    pub fn check(bytes: &[u8], kind: ObjectKind) -> Result<(), HeaderError> {
        let wrong = HeaderError::WrongMagic {
            expected: kind.name(),
        };
        if bytes.len() < HEADER_LEN || bytes[..4] != MAGIC || bytes[OFFSET_KIND] != kind.byte() {
            return Err(wrong);
        }
        match bytes[OFFSET_VERSION] {
            0 => Err(HeaderError::BadVersion),
            v if v > kind.version() => Err(HeaderError::NewerVersion {
                found: v,
                supported: kind.version(),
            }),
            _ => Ok(()),
        }
    }

    /// The layout version of an object whose header [`FileHeader::check`] accepted.
    pub fn version(bytes: &[u8]) -> u8 {
        bytes[OFFSET_VERSION]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_header_bytes() {
        assert_eq!(
            FileHeader::encode(ObjectKind::Pack),
            [0x48, 0x52, 0x54, 0x48, b'P', 1, 0, 0]
        );
    }

    #[test]
    fn snapshots_and_configs_are_written_at_layout_2_and_layout_1_is_still_read() {
        for kind in [ObjectKind::Snapshot, ObjectKind::Config] {
            let h = FileHeader::encode(kind);
            assert_eq!(h, [0x48, 0x52, 0x54, 0x48, kind.byte(), 2, 0, 0]);
            assert_eq!(FileHeader::version(&h), 2);
            let old = FileHeader::encode_layout(kind, 1);
            assert!(FileHeader::check(&old, kind).is_ok());
            assert_eq!(FileHeader::version(&old), 1);
        }
        let mut index = FileHeader::encode(ObjectKind::Index);
        assert_eq!(index[OFFSET_VERSION], 1);
        index[OFFSET_VERSION] = 2;
        let err = FileHeader::check(&index, ObjectKind::Index).unwrap_err();
        assert!(
            err.to_string()
                .contains("version 2 is newer than this Hearth supports (1)"),
            "{err}"
        );
    }

    #[test]
    fn newer_version_is_refused_with_advice() {
        let mut h = FileHeader::encode(ObjectKind::Snapshot);
        h[OFFSET_VERSION] = 9;
        let err = FileHeader::check(&h, ObjectKind::Snapshot).unwrap_err();
        assert!(err.to_string().contains("version 9 is newer"), "{err}");
        assert!(FileHeader::check(&h, ObjectKind::Pack).is_err());
    }
}
