//! The repository config payload (`docs/format.md` §6).

use crate::codec::{DecodeError, Reader, Writer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub repository_id: [u8; 32],
    pub chunk_min: u32,
    pub chunk_avg: u32,
    pub chunk_max: u32,
    pub zstd_level: i32,
    pub pack_target: u32,
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
        };
        r.finish()?;
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> Result<(), DecodeError> {
        let ordered = 64 <= self.chunk_min
            && self.chunk_min <= self.chunk_avg
            && self.chunk_avg <= self.chunk_max
            && self.chunk_max <= 16 * 1024 * 1024;
        if !ordered {
            return Err(DecodeError::Invalid {
                field: "chunker sizes",
                value: self.chunk_avg.into(),
            });
        }
        Ok(())
    }
}
