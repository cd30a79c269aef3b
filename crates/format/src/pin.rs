//! Pin payload (`docs/format.md` §10b). A pin's meaning is its name, the pinned snapshot's id;
//! the payload only says who pinned it and when.

use crate::codec::{DecodeError, Reader, Writer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinInfo {
    /// Unix seconds.
    pub pinned_at: i64,
    pub host: String,
}

impl PinInfo {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.i64(self.pinned_at);
        w.string(&self.host);
        w.finish()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let p = Self {
            pinned_at: r.i64()?,
            host: r.string()?,
        };
        r.finish()?;
        Ok(p)
    }
}
