//! Photos, videos, thumbnails and voice memos: a plausible container header, then
//! incompressible random bytes, exactly `len` bytes in all.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use rand::Rng as _;

use super::Seeds;
use crate::error::{Context, Error};

/// Container formats the camera roll, Messages and Voice Memos hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MediaKind {
    Heic,
    Jpeg,
    Mov,
    M4a,
    Png,
}

/// JPEG SOI + APP1 Exif (big-endian TIFF) naming the camera maker.
const JPEG: &[u8] = b"\xFF\xD8\xFF\xE1\x00\x3AExif\x00\x00MM\x00\x2A\x00\x00\x00\x08\
\x00\x02\x01\x0F\x00\x02\x00\x00\x00\x06\x00\x00\x00\x26\x01\x10\x00\x02\x00\x00\x00\x0E\
\x00\x00\x00\x2C\x00\x00\x00\x00Apple\x00iPhone 15 Pro\x00\xFF\xDB\x00\x84\x00";
/// ISO BMFF `ftyp heic` followed by the start of a `meta` box.
const HEIC: &[u8] = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic\x00\x00\x01\x0Dmeta\
\x00\x00\x00\x00\x00\x00\x00\x22hdlr\x00\x00\x00\x00\x00\x00\x00\x00pict";
/// QuickTime `ftyp qt`, a `wide` box and an `mdat` running to the end of the file (size 0).
const MOV: &[u8] = b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  \x00\x00\x00\x08wide\
\x00\x00\x00\x00mdat";
/// MPEG-4 audio `ftyp M4A` and an `mdat` running to the end of the file.
const M4A: &[u8] = b"\x00\x00\x00\x1CftypM4A \x00\x00\x00\x00M4A mp42isom\x00\x00\x00\x00mdat";
/// PNG signature and the start of an IHDR chunk.
const PNG: &[u8] = b"\x89PNG\r\n\x1A\n\x00\x00\x00\x0DIHDR\x00\x00\x01\x00\x00\x00\x01\x00\x08\x06";

impl MediaKind {
    fn header(self) -> &'static [u8] {
        match self {
            MediaKind::Heic => HEIC,
            MediaKind::Jpeg => JPEG,
            MediaKind::Mov => MOV,
            MediaKind::M4a => M4A,
            MediaKind::Png => PNG,
        }
    }

    /// File name extension as iOS writes it in the camera roll.
    pub(crate) fn extension(self) -> &'static str {
        match self {
            MediaKind::Heic => "HEIC",
            MediaKind::Jpeg => "JPG",
            MediaKind::Mov => "MOV",
            MediaKind::M4a => "m4a",
            MediaKind::Png => "PNG",
        }
    }

    pub(crate) fn uti(self) -> &'static str {
        match self {
            MediaKind::Heic => "public.heic",
            MediaKind::Jpeg => "public.jpeg",
            MediaKind::Mov => "com.apple.quicktime-movie",
            MediaKind::M4a => "com.apple.m4a-audio",
            MediaKind::Png => "public.png",
        }
    }
}

const CHUNK: usize = 1 << 20;

/// The bytes of a media file: the header, random bytes, and for JPEG an EOI marker.
///
/// Invariant: depends only on `(kind, len, seeds)`; the result is exactly `len` bytes.
pub(crate) fn write_media(
    path: &Path,
    kind: MediaKind,
    len: u64,
    seeds: Seeds,
) -> Result<(), Error> {
    let mut file = File::create(path).at(path)?;
    let mut rng = seeds.rng();
    let mut buf = vec![0u8; CHUNK];
    let mut written = 0u64;
    while written < len {
        let n = (len - written).min(CHUNK as u64) as usize;
        rng.fill_bytes(&mut buf[..n]);
        if written == 0 {
            let h = kind.header().len().min(n);
            buf[..h].copy_from_slice(&kind.header()[..h]);
        }
        if written + n as u64 == len && kind == MediaKind::Jpeg && n >= 2 {
            buf[n - 2..n].copy_from_slice(&[0xFF, 0xD9]);
        }
        file.write_all(&buf[..n]).at(path)?;
        written += n as u64;
    }
    Ok(())
}

/// Media bytes in memory (for small files such as thumbnails).
pub(crate) fn media_bytes(kind: MediaKind, len: usize, seeds: Seeds) -> Vec<u8> {
    let mut rng = seeds.rng();
    let mut buf = vec![0u8; len];
    rng.fill_bytes(&mut buf);
    let h = kind.header().len().min(len);
    buf[..h].copy_from_slice(&kind.header()[..h]);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_has_exact_length_and_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        for len in [0u64, 3, 100, CHUNK as u64 + 17] {
            write_media(&path, MediaKind::Jpeg, len, Seeds::new(1)).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(bytes.len() as u64, len);
            if len >= 100 {
                assert!(bytes.starts_with(b"\xFF\xD8\xFF\xE1"));
                assert!(bytes.ends_with(b"\xFF\xD9"));
            }
        }
        let heic = media_bytes(MediaKind::Heic, 64, Seeds::new(2));
        assert_eq!(&heic[4..12], b"ftypheic");
    }
}
