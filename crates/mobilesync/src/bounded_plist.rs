//! Property lists from untrusted bytes, within limits. A binary plist may refer to one object
//! many times and the `plist` crate builds a copy for every reference, so a few hundred bytes
//! can expand without end (each level of `[x, x]` doubles it); and nesting deep enough
//! overflows the stack when the value is dropped. Every plist read from a backup goes through
//! [`parse_value`].

use plist::Value;
use plist::stream::{Event, Reader};
use std::io::Cursor;
use thiserror::Error;

/// Apple's property lists nest a few levels.
pub const MAX_DEPTH: usize = 128;

/// Why [`parse_value`] refused the bytes.
#[derive(Debug, Error)]
pub enum PlistError {
    #[error("{0}")]
    Parse(#[from] plist::Error),
    #[error("nested more than {MAX_DEPTH} levels deep")]
    TooDeep,
    #[error(
        "expands to more than {events} values or {bytes} bytes of strings and data from \
         {len} bytes (objects referred to over and over)"
    )]
    TooLarge { len: usize, events: u64, bytes: u64 },
}

/// Parses a binary, XML or ASCII property list, refusing one that nests more than
/// [`MAX_DEPTH`] levels or expands beyond `8 x len + 100,000` values or `8 x len + 64 MiB` of
/// strings and data: far more than any real one (Apple's writer shares equal objects, so a
/// big shared icon may legitimately be met many times), far less than a machine's memory.
pub fn parse_value(bytes: &[u8]) -> Result<Value, PlistError> {
    let len = bytes.len() as u64;
    let mut limited = Limited {
        events: Reader::new(Cursor::new(bytes)),
        depth: 0,
        events_left: 8 * len + 100_000,
        bytes_left: 8 * len + (64 << 20),
        refused: None,
    };
    let too_large = PlistError::TooLarge {
        len: bytes.len(),
        events: limited.events_left,
        bytes: limited.bytes_left,
    };
    let value = Value::from_events(&mut limited);
    match limited.refused {
        Some(Refusal::Deep) => Err(PlistError::TooDeep),
        Some(Refusal::Large) => Err(too_large),
        None => Ok(value?),
    }
}

enum Refusal {
    Deep,
    Large,
}

/// Passes events through until a limit is passed, then ends the stream (the value built so
/// far is dropped unfinished, and `refused` says why).
struct Limited<I> {
    events: I,
    depth: usize,
    events_left: u64,
    bytes_left: u64,
    refused: Option<Refusal>,
}

impl<'e, I: Iterator<Item = Result<Event<'e>, plist::Error>>> Iterator for Limited<I> {
    type Item = Result<Event<'e>, plist::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.refused.is_some() {
            return None;
        }
        let event = self.events.next()?;
        if let Ok(e) = &event {
            self.refused = self.account(e);
            if self.refused.is_some() {
                return None;
            }
        }
        Some(event)
    }
}

impl<I> Limited<I> {
    /// Counts one event against the limits; what it passes, if any.
    fn account(&mut self, event: &Event<'_>) -> Option<Refusal> {
        let bytes = match event {
            Event::StartArray(_) | Event::StartDictionary(_) => {
                self.depth += 1;
                0
            }
            Event::EndCollection => {
                self.depth = self.depth.saturating_sub(1);
                0
            }
            Event::Data(d) => d.len() as u64,
            Event::String(s) => s.len() as u64,
            _ => 0,
        };
        if self.depth > MAX_DEPTH {
            return Some(Refusal::Deep);
        }
        match (
            self.events_left.checked_sub(1),
            self.bytes_left.checked_sub(bytes),
        ) {
            (Some(events), Some(bytes)) => {
                (self.events_left, self.bytes_left) = (events, bytes);
                None
            }
            _ => Some(Refusal::Large),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary plist whose top-level array refers `width` times to the array before it,
    /// `levels` deep: `levels` x `width` bytes of references expand to `width ^ levels` values.
    fn shared_bomb(levels: usize, width: usize) -> Vec<u8> {
        // Objects: 0 = a string, 1..=levels = arrays of `width` references to the object before.
        let mut objects: Vec<Vec<u8>> = vec![b"\x51x".to_vec()];
        for level in 1..=levels {
            let mut array = vec![0xA0 | 0x0F, 0x10, width as u8];
            array.extend(std::iter::repeat_n((level - 1) as u8, width));
            objects.push(array);
        }
        binary_plist(&objects, levels)
    }

    /// `levels` arrays, each holding the next: a plist nested `levels` deep.
    #[allow(clippy::big_endian_bytes, reason = "binary plists are big-endian")]
    fn nested(levels: usize) -> Vec<u8> {
        let mut objects: Vec<Vec<u8>> = vec![b"\x51x".to_vec()];
        for level in 1..=levels {
            let reference = ((level - 1) as u16).to_be_bytes();
            let mut array = vec![0xA1];
            array.extend_from_slice(&reference);
            objects.push(array);
        }
        binary_plist_wide_refs(&objects, levels)
    }

    fn binary_plist(objects: &[Vec<u8>], top: usize) -> Vec<u8> {
        assemble(objects, top, 1)
    }

    fn binary_plist_wide_refs(objects: &[Vec<u8>], top: usize) -> Vec<u8> {
        assemble(objects, top, 2)
    }

    /// `bplist00`, the objects, a 4-byte offset table and the trailer.
    #[allow(clippy::big_endian_bytes, reason = "binary plists are big-endian")]
    fn assemble(objects: &[Vec<u8>], top: usize, ref_size: u8) -> Vec<u8> {
        let mut out = b"bplist00".to_vec();
        let mut offsets = Vec::new();
        for o in objects {
            offsets.push(out.len() as u32);
            out.extend_from_slice(o);
        }
        let table = out.len() as u64;
        for o in offsets {
            out.extend_from_slice(&o.to_be_bytes());
        }
        out.extend_from_slice(&[0; 6]);
        out.extend_from_slice(&[4, ref_size]);
        out.extend_from_slice(&(objects.len() as u64).to_be_bytes());
        out.extend_from_slice(&(top as u64).to_be_bytes());
        out.extend_from_slice(&table.to_be_bytes());
        out
    }

    #[test]
    fn a_small_bomb_still_parses_and_a_big_one_is_refused() {
        let small = parse_value(&shared_bomb(3, 4)).unwrap();
        assert_eq!(small.as_array().unwrap().len(), 4);
        // 2^64 values from about 500 bytes.
        let big = shared_bomb(32, 4);
        assert!(big.len() < 1_000);
        let e = parse_value(&big).unwrap_err();
        assert!(matches!(e, PlistError::TooLarge { .. }), "{e}");
    }

    #[test]
    fn deep_nesting_is_refused_before_it_can_overflow_the_stack() {
        assert!(parse_value(&nested(MAX_DEPTH - 1)).is_ok());
        let e = parse_value(&nested(60_000)).unwrap_err();
        assert!(matches!(e, PlistError::TooDeep), "{e}");
    }

    #[test]
    fn real_shaped_plists_parse_as_before() {
        let mut d = plist::Dictionary::new();
        d.insert("Data".into(), Value::Data(vec![7; 300_000]));
        d.insert(
            "Apps".into(),
            Value::Array(vec![Value::String("com.apple.mobilesafari".into()); 500]),
        );
        let value = Value::Dictionary(d);
        for binary in [true, false] {
            let mut bytes = Vec::new();
            if binary {
                value.to_writer_binary(&mut bytes).unwrap();
            } else {
                value.to_writer_xml(&mut bytes).unwrap();
            }
            assert_eq!(parse_value(&bytes).unwrap(), value);
        }
        assert!(matches!(parse_value(b"garbage"), Err(PlistError::Parse(_))));
    }
}
