//! Little-endian primitives of `docs/format.md` §5.1. Every read is bounds-checked.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("truncated: needed {needed} more bytes at offset {offset}")]
    Truncated { offset: usize, needed: usize },
    #[error("invalid UTF-8 string at offset {offset}")]
    Utf8 { offset: usize },
    #[error("invalid value {value} for {field}")]
    Invalid { field: &'static str, value: u64 },
    #[error("{0} trailing bytes after the payload")]
    Trailing(usize),
}

/// Longest `string` in bytes: its length is a `u16`.
pub const STRING_MAX: usize = u16::MAX as usize;
/// Longest `lstring` in bytes: its length is a `u32`.
pub const LSTRING_MAX: usize = u32::MAX as usize;

/// True when `v` fits a `string` field.
pub fn fits_string(v: &str) -> bool {
    v.len() <= STRING_MAX
}

/// True when `v` fits an `lstring` field.
pub fn fits_lstring(v: &str) -> bool {
    v.len() <= LSTRING_MAX
}

/// Appends primitives to a byte vector.
///
/// Invariant: an encoder never truncates. A string longer than its field holds is a bug of
/// the producer, which must refuse it first ([`fits_string`], [`fits_lstring`]; ingest records
/// a warning instead of the entry); the writer panics rather than store something else.
#[derive(Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }
    /// A writer that appends to `buf` once emptied (reusing its allocation).
    pub fn with_buffer(mut buf: Vec<u8>) -> Self {
        buf.clear();
        Self { buf }
    }
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn id(&mut self, v: &[u8; 32]) {
        self.buf.extend_from_slice(v);
    }
    pub fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }
    /// `string`: u16 length then UTF-8. `v` must fit ([`fits_string`]); callers with unbounded
    /// text use [`Writer::lstring`].
    pub fn string(&mut self, v: &str) {
        let len = u16::try_from(v.len()).unwrap_or_else(|_| {
            panic!(
                "a string field of {} bytes (at most {STRING_MAX}) reached the encoder: its producer must refuse it",
                v.len()
            )
        });
        self.u16(len);
        self.bytes(v.as_bytes());
    }
    /// `lstring`: u32 length then UTF-8. `v` must fit ([`fits_lstring`]).
    pub fn lstring(&mut self, v: &str) {
        self.u32(len_u32(v.len()));
        self.bytes(v.as_bytes());
    }
    pub fn count(&mut self, n: usize) {
        self.u32(len_u32(n));
    }
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).expect("a single encoded field never exceeds 4 GiB")
}

/// Reads primitives from a byte slice, never past its end.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }
    pub fn position(&self) -> usize {
        self.pos
    }
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                offset: self.pos,
                needed: n - self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        Ok(self.take(N)?.try_into().expect("take returned N bytes"))
    }
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_le_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    pub fn id(&mut self) -> Result<[u8; 32], DecodeError> {
        self.array()
    }
    pub fn string(&mut self) -> Result<String, DecodeError> {
        let n = self.u16()? as usize;
        self.utf8(n)
    }
    pub fn lstring(&mut self) -> Result<String, DecodeError> {
        let n = self.u32()? as usize;
        self.utf8(n)
    }
    fn utf8(&mut self, n: usize) -> Result<String, DecodeError> {
        let offset = self.pos;
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::Utf8 { offset })
    }
    /// A `list` count, checked against the bytes left so a corrupt count cannot make the caller
    /// allocate more than the input could hold (`min_item` bytes per item at least).
    pub fn count(&mut self, min_item: usize) -> Result<usize, DecodeError> {
        let n = self.u32()? as usize;
        let least = n.saturating_mul(min_item.max(1));
        if least > self.remaining() {
            return Err(DecodeError::Truncated {
                offset: self.pos,
                needed: least - self.remaining(),
            });
        }
        Ok(n)
    }
    pub fn ids(&mut self) -> Result<Vec<[u8; 32]>, DecodeError> {
        let n = self.count(32)?;
        (0..n).map(|_| self.id()).collect()
    }
    pub fn finish(self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::Trailing(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_round_trip() {
        let mut w = Writer::new();
        w.u8(1);
        w.u16(0x0203);
        w.u32(0x0405_0607);
        w.i64(-5);
        w.string("héllo");
        w.lstring("long");
        let b = w.finish();
        assert_eq!(&b[1..3], &[3, 2], "little-endian");
        let mut r = Reader::new(&b);
        assert_eq!(r.u8().unwrap(), 1);
        assert_eq!(r.u16().unwrap(), 0x0203);
        assert_eq!(r.u32().unwrap(), 0x0405_0607);
        assert_eq!(r.i64().unwrap(), -5);
        assert_eq!(r.string().unwrap(), "héllo");
        assert_eq!(r.lstring().unwrap(), "long");
        r.finish().unwrap();
    }

    #[test]
    fn strings_up_to_the_limit_round_trip_whole() {
        let longest = "é".repeat(STRING_MAX / 2) + "x";
        assert_eq!(longest.len(), STRING_MAX);
        assert!(fits_string(&longest) && !fits_string(&format!("{longest}y")));
        let mut w = Writer::new();
        w.string(&longest);
        let b = w.finish();
        assert_eq!(b.len(), 2 + STRING_MAX);
        assert_eq!(Reader::new(&b).string().unwrap(), longest);
    }

    #[test]
    #[should_panic(expected = "a string field of 65536 bytes (at most 65535)")]
    fn a_string_too_long_for_its_field_is_never_cut() {
        Writer::new().string(&"x".repeat(STRING_MAX + 1));
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let mut r = Reader::new(&[1, 2]);
        assert!(matches!(r.u32(), Err(DecodeError::Truncated { .. })));
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(r.count(32), Err(DecodeError::Truncated { .. })));
    }
}
