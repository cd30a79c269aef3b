//! Index segments (`docs/format.md` §8): which blobs each pack holds.

use crate::codec::{DecodeError, Reader, Writer};
use crate::{PackEntry, PackId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackRecord {
    pub pack: PackId,
    pub length: u32,
    pub entries: Vec<PackEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IndexSegment {
    pub packs: Vec<PackRecord>,
}

impl IndexSegment {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.count(self.packs.len());
        for p in &self.packs {
            w.id(&p.pack.0);
            w.u32(p.length);
            w.count(p.entries.len());
            p.entries.iter().for_each(|e| e.encode(&mut w));
        }
        w.finish()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let n = r.count(40)?;
        let packs = (0..n)
            .map(|_| {
                Ok(PackRecord {
                    pack: PackId(r.id()?),
                    length: r.u32()?,
                    entries: PackEntry::decode_list(&mut r)?,
                })
            })
            .collect::<Result<_, DecodeError>>()?;
        r.finish()?;
        Ok(Self { packs })
    }
}
