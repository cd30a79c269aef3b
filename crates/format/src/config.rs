//! The repository config payload (`docs/format.md` §6): layout 2, which stores the content
//! keys (§4), and layout 1, which does not (its reader derives them from the master secret).

use crate::codec::{DecodeError, Reader, Writer};

/// No chunk, of any kind, is longer: readers may refuse a blob that claims more.
pub const MAX_CHUNK_LEN: u32 = 16 << 20;

/// Bytes of a layout-1 payload: layout 2 is the same fields followed by the content keys.
pub const LAYOUT_1_LEN: usize = 32 + 9 * 4;

/// The keys that decide which chunks a file becomes and what they are called (`docs/format.md`
/// §4): repositories that share them (`init --like`) store the same chunks under the same ids.
#[derive(Clone, PartialEq, Eq)]
pub struct ContentKeys {
    /// `ChunkId = BLAKE3_keyed(chunk id key, plaintext)`.
    pub chunk_id_key: [u8; 32],
    /// Seeds FastCDC's gear table.
    pub chunker_seed: u64,
}

impl std::fmt::Debug for ContentKeys {
    /// Secret: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContentKeys(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub repository_id: [u8; 32],
    pub chunk_min: u32,
    pub chunk_avg: u32,
    pub chunk_max: u32,
    pub zstd_level: i32,
    pub pack_target: u32,
    /// FastCDC sizes for media files (JPEG, PNG, GIF, ISO BMFF, QuickTime).
    pub media_min: u32,
    pub media_avg: u32,
    pub media_max: u32,
    /// Fixed, page-aligned chunk size for SQLite databases (a power of two).
    pub sqlite_chunk: u32,
    /// Stored in layout 2; derived from the master secret for a layout-1 config.
    pub content: ContentKeys,
}

impl Config {
    /// Version 1 defaults with the given repository id and content keys.
    pub fn new(repository_id: [u8; 32], content: ContentKeys) -> Self {
        Self {
            repository_id,
            chunk_min: 16 * 1024,
            chunk_avg: 64 * 1024,
            chunk_max: 256 * 1024,
            zstd_level: 3,
            pack_target: 16 * 1024 * 1024,
            media_min: 512 * 1024,
            media_avg: 1024 * 1024,
            media_max: 2048 * 1024,
            sqlite_chunk: 8 * 1024,
            content,
        }
    }

    /// A config for a repository made like `self` (`init --like`): the same chunker
    /// parameters, compression and content keys, another repository id.
    pub fn like(&self, repository_id: [u8; 32]) -> Self {
        Self {
            repository_id,
            ..self.clone()
        }
    }

    /// Whether a repository with config `other` cuts and names chunks exactly as this one:
    /// the same content keys and chunker sizes (what `copy` needs).
    pub fn chunks_like(&self, other: &Config) -> bool {
        let cut = |c: &Config| {
            (
                [c.chunk_min, c.chunk_avg, c.chunk_max],
                [c.media_min, c.media_avg, c.media_max, c.sqlite_chunk],
            )
        };
        self.content == other.content && cut(self) == cut(other)
    }

    /// The payload in the newest layout (2).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.id(&self.repository_id);
        w.u32(self.chunk_min);
        w.u32(self.chunk_avg);
        w.u32(self.chunk_max);
        w.i32(self.zstd_level);
        w.u32(self.pack_target);
        w.u32(self.media_min);
        w.u32(self.media_avg);
        w.u32(self.media_max);
        w.u32(self.sqlite_chunk);
        w.id(&self.content.chunk_id_key);
        w.u64(self.content.chunker_seed);
        w.finish()
    }

    /// Decodes a payload of the newest layout (what [`Config::encode`] writes).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_layout(bytes, 2, || {
            unreachable!("layout 2 stores its content keys")
        })
    }

    /// Decodes a payload of layout `version` (the object's header says which, §3). Layout 1
    /// stores no content keys: `derived` gives them (from the master secret, §4).
    pub fn decode_layout(
        bytes: &[u8],
        version: u8,
        derived: impl FnOnce() -> ContentKeys,
    ) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let mut c = Self {
            repository_id: r.id()?,
            chunk_min: r.u32()?,
            chunk_avg: r.u32()?,
            chunk_max: r.u32()?,
            zstd_level: r.i32()?,
            pack_target: r.u32()?,
            media_min: r.u32()?,
            media_avg: r.u32()?,
            media_max: r.u32()?,
            sqlite_chunk: r.u32()?,
            content: ContentKeys {
                chunk_id_key: [0; 32],
                chunker_seed: 0,
            },
        };
        c.content = match version {
            1 => derived(),
            _ => ContentKeys {
                chunk_id_key: r.id()?,
                chunker_seed: r.u64()?,
            },
        };
        r.finish()?;
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> Result<(), DecodeError> {
        let ordered = |min: u32, avg: u32, max: u32| {
            64 <= min && min <= avg && avg <= max && max <= MAX_CHUNK_LEN
        };
        let invalid = |field, value: u32| {
            Err(DecodeError::Invalid {
                field,
                value: value.into(),
            })
        };
        if !ordered(self.chunk_min, self.chunk_avg, self.chunk_max) {
            return invalid("chunker sizes", self.chunk_avg);
        }
        if !ordered(self.media_min, self.media_avg, self.media_max) {
            return invalid("media chunker sizes", self.media_avg);
        }
        if !self.sqlite_chunk.is_power_of_two() || !(512..=1 << 20).contains(&self.sqlite_chunk) {
            return invalid("SQLite chunk size", self.sqlite_chunk);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(byte: u8) -> ContentKeys {
        ContentKeys {
            chunk_id_key: [byte; 32],
            chunker_seed: u64::from(byte) << 40,
        }
    }

    #[test]
    fn round_trip_and_invalid_sizes_are_refused() {
        let c = Config::new([7; 32], content(9));
        assert_eq!(Config::decode(&c.encode()).unwrap(), c);
        let bad = [
            Config {
                sqlite_chunk: 6000,
                ..c.clone()
            },
            Config {
                sqlite_chunk: 256,
                ..c.clone()
            },
            Config {
                media_min: 4 << 20,
                ..c.clone()
            },
            Config {
                chunk_max: 32 << 20,
                ..c.clone()
            },
        ];
        for b in bad {
            assert!(Config::decode(&b.encode()).is_err(), "{b:?}");
        }
        assert!(Config::decode(&c.encode()[..40]).is_err(), "truncated");
    }

    /// Layout 2 is layout 1 followed by the content keys; a layout-1 payload takes the keys
    /// it is given (derived from the master secret), and neither layout reads as the other.
    #[test]
    fn layout_1_takes_derived_content_keys_and_layout_2_stores_them() {
        let c = Config::new([7; 32], content(9));
        let v2 = c.encode();
        assert_eq!(v2.len(), LAYOUT_1_LEN + 40);
        let v1 = &v2[..LAYOUT_1_LEN];
        let old = Config::decode_layout(v1, 1, || content(3)).unwrap();
        assert_eq!(old, Config::new([7; 32], content(3)));
        assert_eq!(Config::decode_layout(&v2, 2, || content(3)).unwrap(), c);
        assert!(Config::decode(v1).is_err());
        assert!(Config::decode_layout(&v2, 1, || content(3)).is_err());
        assert!(format!("{c:?}").contains("ContentKeys(..)"));
    }

    #[test]
    fn a_repository_made_like_another_chunks_like_it() {
        let c = Config::new([7; 32], content(9));
        let like = c.like([8; 32]);
        assert_ne!(like.repository_id, c.repository_id);
        assert!(c.chunks_like(&like));
        assert!(!c.chunks_like(&Config::new([8; 32], content(10))));
        let other_cut = Config {
            chunk_avg: c.chunk_avg * 2,
            ..like
        };
        assert!(!c.chunks_like(&other_cut));
    }
}
