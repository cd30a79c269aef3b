//! The repository config payload (`docs/format.md` §6).

use crate::codec::{DecodeError, Reader, Writer};

/// No chunk, of any kind, is longer: readers may refuse a blob that claims more.
pub const MAX_CHUNK_LEN: u32 = 16 << 20;

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
}

impl Config {
    /// Version 1 defaults with the given repository id.
    pub fn new(repository_id: [u8; 32]) -> Self {
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
        }
    }

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
        w.finish()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let c = Self {
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

    #[test]
    fn round_trip_and_invalid_sizes_are_refused() {
        let c = Config::new([7; 32]);
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
}
