//! Binary property lists read in place. [`Bplist::read`] accepts a list only when the `plist`
//! crate, within [`crate::bounded_plist`]'s limits, would (it walks every object reachable from
//! the top as that crate does, with the same limits, and refuses what it refuses; where the
//! crate's rule is hard to follow exactly, such as a date's range, it refuses more); then it
//! hands out objects where they lie, without building a tree. The MBFile of every Manifest.db
//! row is read this way: building a `plist::Value` for each took a third of the CPU of a backup
//! of an unchanged device.
//!
//! `None` from [`Bplist::read`] says only "not accepted here": the caller asks the `plist` crate,
//! which says why (or, for a list refused only here, reads it).

#![allow(
    clippy::big_endian_bytes,
    reason = "binary property lists are big-endian"
)]

use crate::bounded_plist::MAX_DEPTH;

const MAGIC: &[u8] = b"bplist00";
const TRAILER_LEN: usize = 32;

/// A binary plist whose every reachable object was checked.
pub struct Bplist<'a> {
    bytes: &'a [u8],
    /// Offset of the trailer: no object's variable-length part may reach into it.
    trailer: usize,
    offsets: Ints<'a>,
    ref_size: usize,
    top: usize,
}

/// One object. Strings are valid UTF-8 (`Ascii`, whatever its marker says) or valid UTF-16.
#[derive(Clone, Copy)]
pub enum Obj<'a> {
    Bool,
    Int(i128),
    Real,
    Date,
    Data(&'a [u8]),
    Ascii(&'a str),
    /// Big-endian UTF-16 code units.
    Utf16(&'a [u8]),
    Uid(u64),
    Array(Ints<'a>),
    /// Keys, then values.
    Dict(Ints<'a>, Ints<'a>),
}

/// Big-endian unsigned integers of one width, back to back (object references, offsets).
#[derive(Clone, Copy)]
pub struct Ints<'a> {
    bytes: &'a [u8],
    width: usize,
}

impl<'a> Ints<'a> {
    pub fn len(&self) -> usize {
        self.bytes.len() / self.width
    }

    pub fn get(&self, i: usize) -> usize {
        be(&self.bytes[i * self.width..(i + 1) * self.width]) as usize
    }

    pub fn iter(self) -> impl Iterator<Item = usize> + 'a {
        (0..self.len()).map(move |i| self.get(i))
    }
}

fn be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |n, b| (n << 8) | u64::from(*b))
}

impl<'a> Bplist<'a> {
    /// The list, if it is binary and the `plist` crate would accept it (module docs).
    pub fn read(bytes: &'a [u8]) -> Option<Self> {
        if !bytes.starts_with(MAGIC) || bytes.len() < TRAILER_LEN {
            return None;
        }
        let trailer = bytes.len() - TRAILER_LEN;
        let t = &bytes[trailer..];
        let (offset_size, ref_size) = (usize::from(t[6]), usize::from(t[7]));
        if !is_int_width(offset_size) || !is_int_width(ref_size) {
            return None;
        }
        let count = usize::try_from(be(&t[8..16])).ok()?;
        let top = usize::try_from(be(&t[16..24])).ok()?;
        let table = usize::try_from(be(&t[24..32])).ok()?;
        let end = table.checked_add(count.checked_mul(offset_size)?)?;
        if end > trailer || top >= count {
            return None;
        }
        let list = Bplist {
            bytes,
            trailer,
            offsets: Ints {
                bytes: &bytes[table..end],
                width: offset_size,
            },
            ref_size,
            top,
        };
        let mut walk = Walk {
            on_stack: vec![false; count],
            depth: 0,
            events_left: 8 * bytes.len() as u64 + 100_000,
            bytes_left: 8 * bytes.len() as u64 + (64 << 20),
        };
        walk.visit(&list, top)?;
        Some(list)
    }

    pub fn top(&self) -> usize {
        self.top
    }

    /// Object `i` (a checked list's reachable objects always read).
    pub fn object(&self, i: usize) -> Option<Obj<'a>> {
        if i >= self.offsets.len() {
            return None;
        }
        let at = self.offsets.get(i);
        if at >= self.trailer {
            return None;
        }
        let marker = *self.bytes.get(at)?;
        let (kind, low) = (marker >> 4, marker & 0x0f);
        let body = at + 1;
        Some(match (kind, low) {
            (0x0, 0x8 | 0x9) => Obj::Bool,
            (0x1, 0..=2) => Obj::Int(i128::from(be(self.fixed(body, 1 << low)?))),
            (0x1, 3) => Obj::Int(i128::from(be(self.fixed(body, 8)?) as i64)),
            (0x1, 4) => {
                let wide = self.fixed(body, 16)?;
                let value = i128::from_be_bytes(wide.try_into().ok()?);
                u64::try_from(value).ok()?;
                Obj::Int(value)
            }
            (0x2, 2 | 3) => {
                self.fixed(body, 1 << low)?;
                Obj::Real
            }
            (0x3, 3) => {
                let secs = f64::from_bits(be(self.fixed(body, 8)?));
                // Stricter than the crate (any time a SystemTime holds): ±3,000 years.
                (secs.is_finite() && secs.abs() < 1e11).then_some(Obj::Date)?
            }
            (0x4, _) => {
                let (len, at) = self.length(body, low)?;
                Obj::Data(self.variable(at, len, 1)?)
            }
            (0x5, _) => {
                let (len, at) = self.length(body, low)?;
                Obj::Ascii(std::str::from_utf8(self.variable(at, len, 1)?).ok()?)
            }
            (0x6, _) => {
                let (len, at) = self.length(body, low)?;
                let units = self.variable(at, len, 2)?;
                char::decode_utf16(utf16_units(units))
                    .all(|c| c.is_ok())
                    .then_some(Obj::Utf16(units))?
            }
            (0x8, 0..=7) => Obj::Uid(be(self.fixed(body, usize::from(low) + 1)?)),
            (0xa, _) => {
                let (len, at) = self.length(body, low)?;
                Obj::Array(self.refs(at, len)?)
            }
            (0xd, _) => {
                let (len, at) = self.length(body, low)?;
                let keys = self.refs(at, len)?;
                let values = self.refs(at + keys.bytes.len(), len)?;
                // The crate asks this much room again, from where the values end.
                let end = at + 2 * keys.bytes.len();
                end.checked_add(2 * keys.bytes.len())
                    .filter(|e| *e <= self.trailer)?;
                Obj::Dict(keys, values)
            }
            _ => return None,
        })
    }

    /// The string object `i` equals `s`. (Keys are compared often: a one-byte-character
    /// string, the usual kind, is compared as bytes, without checking it again.)
    pub fn string_is(&self, i: usize, s: &str) -> bool {
        if let Some(bytes) = self.ascii_bytes(i) {
            return bytes == s.as_bytes();
        }
        match self.object(i) {
            Some(Obj::Ascii(a)) => a == s,
            Some(Obj::Utf16(units)) => char::decode_utf16(utf16_units(units))
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .eq(s.chars()),
            _ => false,
        }
    }

    /// The value of the last `key` in dictionary `keys`/`values` (a later key replaces an
    /// earlier one, as in a `plist::Dictionary`).
    pub fn lookup(&self, keys: Ints<'_>, values: Ints<'_>, key: &str) -> Option<usize> {
        (0..keys.len())
            .rev()
            .find(|&k| self.string_is(keys.get(k), key))
            .map(|k| values.get(k))
    }

    /// The bytes of object `i` if it is a one-byte-character string.
    fn ascii_bytes(&self, i: usize) -> Option<&'a [u8]> {
        let at = (i < self.offsets.len()).then(|| self.offsets.get(i))?;
        let marker = *self.bytes.get(at).filter(|_| at < self.trailer)?;
        if marker >> 4 != 0x5 {
            return None;
        }
        let (len, body) = self.length(at + 1, marker & 0x0f)?;
        self.variable(body, len, 1)
    }

    /// `n` bytes at `at`: fixed-size values are read up to the end of the file, as the crate does.
    fn fixed(&self, at: usize, n: usize) -> Option<&'a [u8]> {
        self.bytes.get(at..at.checked_add(n)?)
    }

    /// `len` items of `width` bytes at `at`, which must end before the trailer.
    fn variable(&self, at: usize, len: u64, width: usize) -> Option<&'a [u8]> {
        let n = usize::try_from(len).ok()?.checked_mul(width)?;
        let end = at.checked_add(n)?;
        (end <= self.trailer).then(|| &self.bytes[at..end])
    }

    fn refs(&self, at: usize, len: u64) -> Option<Ints<'a>> {
        let bytes = self.variable(at, len, self.ref_size)?;
        Some(Ints {
            bytes,
            width: self.ref_size,
        })
    }

    /// A collection's or a string's length: the marker's low nibble, or after it an integer
    /// object whose marker's low two bits give its width. Returns it and where the body starts.
    fn length(&self, at: usize, low: u8) -> Option<(u64, usize)> {
        if low != 0x0f {
            return Some((u64::from(low), at));
        }
        let width = 1usize << (self.fixed(at, 1)?[0] & 0x03);
        Some((be(self.fixed(at + 1, width)?), at + 1 + width))
    }
}

fn is_int_width(n: usize) -> bool {
    matches!(n, 1 | 2 | 3 | 4 | 8)
}

/// The code units of a UTF-16 string object.
pub fn utf16_units(bytes: &[u8]) -> impl Iterator<Item = u16> + '_ {
    bytes
        .chunks_exact(2)
        .map(|u| u16::from_be_bytes([u[0], u[1]]))
}

/// The walk the `plist` crate makes from the top object (every reference followed, shared
/// objects once per reference), counted against [`crate::bounded_plist`]'s limits.
struct Walk {
    on_stack: Vec<bool>,
    depth: usize,
    events_left: u64,
    bytes_left: u64,
}

impl Walk {
    fn visit(&mut self, list: &Bplist<'_>, i: usize) -> Option<()> {
        let obj = list.object(i)?;
        match obj {
            Obj::Array(items) => {
                self.open(i)?;
                for item in items.iter() {
                    self.visit(list, item)?;
                }
                self.close(i)
            }
            Obj::Dict(keys, values) => {
                self.open(i)?;
                for k in 0..keys.len() {
                    let key = keys.get(k);
                    // A dictionary's keys must be strings to become a `plist::Dictionary`.
                    if !matches!(list.object(key)?, Obj::Ascii(_) | Obj::Utf16(_)) {
                        return None;
                    }
                    self.visit(list, key)?;
                    self.visit(list, values.get(k))?;
                }
                self.close(i)
            }
            Obj::Data(d) => self.count(d.len() as u64),
            Obj::Ascii(s) => self.count(s.len() as u64),
            Obj::Utf16(units) => {
                let utf8: usize = char::decode_utf16(utf16_units(units))
                    .map(|c| c.map_or(3, char::len_utf8))
                    .sum();
                self.count(utf8 as u64)
            }
            _ => self.count(0),
        }
    }

    fn open(&mut self, i: usize) -> Option<()> {
        // An object inside itself is refused; so is nesting deeper than the limit.
        if std::mem::replace(&mut self.on_stack[i], true) {
            return None;
        }
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())?;
        self.count(0)
    }

    fn close(&mut self, i: usize) -> Option<()> {
        self.on_stack[i] = false;
        self.depth -= 1;
        self.count(0)
    }

    fn count(&mut self, bytes: u64) -> Option<()> {
        self.events_left = self.events_left.checked_sub(1)?;
        self.bytes_left = self.bytes_left.checked_sub(bytes)?;
        Some(())
    }
}
