//! A blob's bytes in a pack (`docs/format.md` §7): compressed when it pays, then sealed; and the
//! reverse, verified against the blob's id. The write path and every reader share this one home.

use hearth_chunker::Content;
use hearth_crypto::Keys;
use hearth_format::config::MAX_CHUNK_LEN;
use hearth_format::{BlobKind, ChunkId, Compression, PackEntry};
use thiserror::Error;

/// A chunk ready for a pack: sealed bytes plus what the pack header records.
pub struct PreparedBlob {
    pub id: ChunkId,
    pub kind: BlobKind,
    pub compression: Compression,
    pub raw_len: u32,
    pub sealed: Vec<u8>,
}

/// Sample this many bytes to decide whether to try zstd.
const SAMPLE: usize = 4096;
/// Above this byte entropy (bits per byte) data is treated as already compressed.
const ENTROPY_LIMIT: f64 = 7.2;
/// Keep compressed output only if it saves at least 1/50 (2%).
const MIN_SAVING_DIVISOR: usize = 50;

/// Byte entropy of a sample from the start, middle and end: photos, videos and archives score
/// near 8; SQLite pages, plists and text well below.
pub fn looks_incompressible(data: &[u8]) -> bool {
    if data.len() < 64 {
        return false;
    }
    let mut counts = [0u32; 256];
    let third = SAMPLE / 3;
    let mid = data.len() / 2;
    for part in [
        &data[..third.min(data.len())],
        &data[mid.saturating_sub(third / 2)..(mid + third / 2).min(data.len())],
        &data[data.len().saturating_sub(third)..],
    ] {
        part.iter().for_each(|&b| counts[b as usize] += 1);
    }
    let n: f64 = counts.iter().map(|&c| f64::from(c)).sum();
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum();
    // Small samples under-estimate entropy; scale the limit with the sample size.
    entropy > ENTROPY_LIMIT.min(n.log2() - 0.5)
}

/// Compresses (when it pays) and seals one chunk, testing a sample first.
pub fn prepare(
    keys: &Keys,
    zstd_level: i32,
    kind: BlobKind,
    id: ChunkId,
    data: &[u8],
) -> PreparedBlob {
    prepare_as(keys, zstd_level, kind, id, data, Content::Unknown)
}

/// Compresses (when it pays) and seals one chunk.
pub fn prepare_as(
    keys: &Keys,
    zstd_level: i32,
    kind: BlobKind,
    id: ChunkId,
    data: &[u8],
    content: Content,
) -> PreparedBlob {
    let worth_trying = content == Content::Compressible || !looks_incompressible(data);
    let compressed = worth_trying
        .then(|| compress(data, zstd_level))
        .flatten()
        .filter(|c| c.len() + data.len() / MIN_SAVING_DIVISOR < data.len());
    let (compression, body) = match &compressed {
        Some(c) => (Compression::Zstd, c.as_slice()),
        None => (Compression::None, data),
    };
    let sealed = keys.seal(&PackEntry::blob_aad(&id, kind, compression), body);
    PreparedBlob {
        id,
        kind,
        compression,
        raw_len: u32::try_from(data.len()).expect("chunks are at most 16 MiB"),
        sealed,
    }
}

thread_local! {
    /// One zstd context per thread and level: setting one up costs about as much as
    /// compressing a small (8 KiB) chunk.
    static COMPRESSOR: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { std::cell::RefCell::new(None) };
}

fn compress(data: &[u8], level: i32) -> Option<Vec<u8>> {
    COMPRESSOR.with_borrow_mut(|slot| {
        if slot.as_ref().is_none_or(|(l, _)| *l != level) {
            *slot = Some((level, zstd::bulk::Compressor::new(level).ok()?));
        }
        let (_, c) = slot.as_mut()?;
        c.compress(data).ok()
    })
}

thread_local! {
    /// One zstd decompression context per thread, as for compression.
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// Decompresses a blob whose plaintext is `len` bytes into `out` (its capacity is reused);
/// more or fewer is an error, and so is a `len` no chunk can have.
fn decompress_into(data: &[u8], len: usize, out: &mut Vec<u8>) -> Option<()> {
    out.clear();
    if len > MAX_CHUNK_LEN as usize {
        return None;
    }
    out.reserve_exact(len);
    DECOMPRESSOR.with_borrow_mut(|slot| {
        if slot.is_none() {
            *slot = Some(zstd::bulk::Decompressor::new().ok()?);
        }
        slot.as_mut()?.decompress_to_buffer(data, out).ok()
    })?;
    (out.len() == len).then_some(())
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum UnsealError {
    #[error("blob {0} failed authentication (corrupt or tampered)")]
    Open(String),
    #[error("blob {0} does not decompress")]
    Decompress(String),
    #[error("blob {0} decrypted to content with a different id")]
    IdMismatch(String),
}

/// Opens, decompresses and verifies a sealed blob against its pack entry.
pub fn unseal(keys: &Keys, entry: &PackEntry, sealed: &[u8]) -> Result<Vec<u8>, UnsealError> {
    let mut buffers = UnsealBuffers::default();
    buffers.unseal(keys, entry, sealed)?;
    Ok(match entry.compression {
        Compression::None => buffers.body,
        Compression::Zstd => buffers.plain,
    })
}

/// Buffers that [`UnsealBuffers::unseal`] reuses: a thread that opens blob after blob keeps
/// its pages instead of mapping fresh ones for each (for big blobs, a page fault every 4 KiB).
/// They keep the capacity of the largest blob opened, twice, until [`Self::release_above`].
#[derive(Default)]
pub struct UnsealBuffers {
    body: Vec<u8>,
    plain: Vec<u8>,
}

impl UnsealBuffers {
    /// Frees a buffer whose capacity is above `max`.
    pub fn release_above(&mut self, max: usize) {
        for buffer in [&mut self.body, &mut self.plain] {
            if buffer.capacity() > max {
                *buffer = Vec::new();
            }
        }
    }

    /// The plaintext that the last successful [`Self::unseal`] of `entry` gave.
    pub fn plaintext(&self, entry: &PackEntry) -> &[u8] {
        match entry.compression {
            Compression::None => &self.body,
            Compression::Zstd => &self.plain,
        }
    }

    /// [`unseal`], into these buffers: the plaintext is valid until the next call.
    pub fn unseal(
        &mut self,
        keys: &Keys,
        entry: &PackEntry,
        sealed: &[u8],
    ) -> Result<&[u8], UnsealError> {
        let name = || entry.id.to_hex();
        let aad = PackEntry::blob_aad(&entry.id, entry.kind, entry.compression);
        keys.open_into(&aad, sealed, &mut self.body)
            .map_err(|_| UnsealError::Open(name()))?;
        let data = match entry.compression {
            Compression::None => &self.body,
            Compression::Zstd => {
                decompress_into(&self.body, entry.raw_length as usize, &mut self.plain)
                    .ok_or_else(|| UnsealError::Decompress(name()))?;
                &self.plain
            }
        };
        if data.len() != entry.raw_length as usize || keys.chunk_id(data) != entry.id {
            return Err(UnsealError::IdMismatch(name()));
        }
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_crypto::MasterKey;

    fn entry(b: &PreparedBlob) -> PackEntry {
        PackEntry {
            id: b.id,
            kind: b.kind,
            compression: b.compression,
            offset: 0,
            length: b.sealed.len() as u32,
            raw_length: b.raw_len,
        }
    }

    #[test]
    fn text_is_compressed_random_is_not() {
        let keys = MasterKey::generate().keys();
        let text = b"INSERT INTO message VALUES ('see you at dinner');".repeat(500);
        let photo: Vec<u8> = hearth_crypto::random_bytes::<4096>().repeat(8);
        let t = prepare(&keys, 3, BlobKind::Data, keys.chunk_id(&text), &text);
        assert_eq!(t.compression, Compression::Zstd);
        assert!(t.sealed.len() < text.len() / 10);
        assert!(looks_incompressible(&photo[..4096]));
        let p = prepare(
            &keys,
            3,
            BlobKind::Data,
            keys.chunk_id(&photo[..4096]),
            &photo[..4096],
        );
        assert_eq!(p.compression, Compression::None);
        for (b, data) in [(&t, &text[..]), (&p, &photo[..4096])] {
            assert_eq!(unseal(&keys, &entry(b), &b.sealed).unwrap(), data);
        }
    }

    #[test]
    fn a_blob_cannot_change_kind_or_id() {
        let keys = MasterKey::generate().keys();
        let b = prepare(&keys, 3, BlobKind::Data, keys.chunk_id(b"abc"), b"abc");
        let mut e = entry(&b);
        e.kind = BlobKind::Tree;
        assert!(matches!(
            unseal(&keys, &e, &b.sealed),
            Err(UnsealError::Open(_))
        ));
        let mut e = entry(&b);
        e.id = ChunkId([0; 32]);
        assert!(unseal(&keys, &e, &b.sealed).is_err());
    }

    /// Reused buffers hold exactly each blob in turn, big after small and small after big,
    /// compressed or not, and a blob that fails never yields the one before it.
    #[test]
    fn reused_buffers_give_each_blob_exactly() {
        let keys = MasterKey::generate().keys();
        let text = |n: usize| b"UPDATE album SET count = count + 1; ".repeat(n);
        let noise = |n: usize| hearth_crypto::random_bytes::<4096>().repeat(n);
        let contents = [
            text(4000),
            noise(1),
            text(10),
            noise(300),
            text(2),
            noise(2),
        ];
        let blobs: Vec<PreparedBlob> = contents
            .iter()
            .map(|c| prepare(&keys, 3, BlobKind::Data, keys.chunk_id(c), c))
            .collect();
        assert!(blobs.iter().any(|b| b.compression == Compression::Zstd));
        assert!(blobs.iter().any(|b| b.compression == Compression::None));
        let mut buffers = UnsealBuffers::default();
        for (b, c) in blobs.iter().zip(&contents) {
            assert!(buffers.unseal(&keys, &entry(b), &b.sealed).unwrap() == &c[..]);
        }
        // A compressed blob whose entry claims fewer bytes than it holds, after a bigger one
        // left room in the buffer: still an error.
        let mut short = entry(&blobs[2]);
        short.raw_length -= 1;
        assert!(matches!(
            buffers.unseal(&keys, &short, &blobs[2].sealed),
            Err(UnsealError::Open(_) | UnsealError::Decompress(_))
        ));
        let mut huge = entry(&blobs[0]);
        huge.raw_length = u32::MAX;
        assert!(matches!(
            buffers.unseal(&keys, &huge, &blobs[0].sealed),
            Err(UnsealError::Decompress(_))
        ));
        let mut tampered = blobs[4].sealed.clone();
        tampered[30] ^= 1;
        assert!(buffers.unseal(&keys, &entry(&blobs[4]), &tampered).is_err());
    }
}
