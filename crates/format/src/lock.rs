//! Lock payload (`docs/format.md` §10).

use crate::codec::{DecodeError, Reader, Writer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockInfo {
    pub exclusive: bool,
    pub host: String,
    pub pid: u32,
    pub created: i64,
    pub refreshed: i64,
}

impl LockInfo {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(self.exclusive.into());
        w.string(&self.host);
        w.u32(self.pid);
        w.i64(self.created);
        w.i64(self.refreshed);
        w.finish()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let l = Self {
            exclusive: r.u8()? != 0,
            host: r.string()?,
            pid: r.u32()?,
            created: r.i64()?,
            refreshed: r.i64()?,
        };
        r.finish()?;
        Ok(l)
    }
}
