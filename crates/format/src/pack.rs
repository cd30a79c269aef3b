//! Pack header entries (`docs/format.md` §7).

use crate::ChunkId;
use crate::codec::{DecodeError, Reader, Writer};

/// Encoded size of one [`PackEntry`].
pub const PACK_ENTRY_LEN: usize = 48;
/// Bytes after the sealed pack header: its length as u32.
pub const PACK_TRAILER_LEN: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlobKind {
    /// File content.
    Data,
    /// A piece of a snapshot's entry stream.
    Tree,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Zstd,
}

impl BlobKind {
    pub fn byte(self) -> u8 {
        match self {
            Self::Data => 0,
            Self::Tree => 1,
        }
    }
    pub fn from_byte(b: u8) -> Result<Self, DecodeError> {
        match b {
            0 => Ok(Self::Data),
            1 => Ok(Self::Tree),
            v => Err(DecodeError::Invalid {
                field: "blob kind",
                value: v.into(),
            }),
        }
    }
}

impl Compression {
    pub fn byte(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Zstd => 1,
        }
    }
    pub fn from_byte(b: u8) -> Result<Self, DecodeError> {
        match b {
            0 => Ok(Self::None),
            1 => Ok(Self::Zstd),
            v => Err(DecodeError::Invalid {
                field: "compression",
                value: v.into(),
            }),
        }
    }
}

/// Where one sealed blob sits in its pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackEntry {
    pub id: ChunkId,
    pub kind: BlobKind,
    pub compression: Compression,
    pub offset: u32,
    /// Sealed length, nonce and tag included.
    pub length: u32,
    /// Plaintext length after opening and decompressing.
    pub raw_length: u32,
}

impl PackEntry {
    /// The AAD a blob is sealed with: its id, kind and compression cannot be changed undetected.
    pub fn blob_aad(id: &ChunkId, kind: BlobKind, compression: Compression) -> [u8; 34] {
        let mut aad = [0u8; 34];
        aad[..32].copy_from_slice(&id.0);
        aad[32] = kind.byte();
        aad[33] = compression.byte();
        aad
    }

    pub fn encode(&self, w: &mut Writer) {
        w.id(&self.id.0);
        w.u8(self.kind.byte());
        w.u8(self.compression.byte());
        w.u16(0);
        w.u32(self.offset);
        w.u32(self.length);
        w.u32(self.raw_length);
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let id = ChunkId(r.id()?);
        let kind = BlobKind::from_byte(r.u8()?)?;
        let compression = Compression::from_byte(r.u8()?)?;
        r.u16()?;
        Ok(Self {
            id,
            kind,
            compression,
            offset: r.u32()?,
            length: r.u32()?,
            raw_length: r.u32()?,
        })
    }

    pub fn encode_list(entries: &[PackEntry]) -> Vec<u8> {
        let mut w = Writer::new();
        w.count(entries.len());
        entries.iter().for_each(|e| e.encode(&mut w));
        w.finish()
    }

    pub fn decode_list(r: &mut Reader<'_>) -> Result<Vec<PackEntry>, DecodeError> {
        let n = r.count(PACK_ENTRY_LEN)?;
        (0..n).map(|_| Self::decode(r)).collect()
    }

    pub fn end(&self) -> u64 {
        u64::from(self.offset) + u64::from(self.length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_is_48_bytes_and_round_trips() {
        let e = PackEntry {
            id: ChunkId([3; 32]),
            kind: BlobKind::Tree,
            compression: Compression::Zstd,
            offset: 8,
            length: 100,
            raw_length: 200,
        };
        let bytes = PackEntry::encode_list(&[e]);
        assert_eq!(bytes.len(), 4 + PACK_ENTRY_LEN);
        let mut r = Reader::new(&bytes);
        assert_eq!(PackEntry::decode_list(&mut r).unwrap(), vec![e]);
        r.finish().unwrap();
    }
}
