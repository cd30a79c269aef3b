//! AES-256-CBC with a zero IV, as backups encrypt Manifest.db and every file, in streaming form:
//! CBC chains block to block, so a stream is decrypted or encrypted in pieces by keeping the
//! mode's state (the last cipher block) between them.

use super::EncryptionError;
use aes::Aes256;
use aes::cipher::{Array, BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;

pub const BLOCK: usize = 16;
/// Ciphertext decrypted per read; a multiple of [`BLOCK`].
const PIECE: usize = 256 * 1024;

type Decryptor = cbc::Decryptor<Aes256>;
type Encryptor = cbc::Encryptor<Aes256>;

/// The length of `plain_len` bytes encrypted with PKCS#7 padding (always 1 to 16 bytes added).
/// Saturates for sizes within 16 of `u64::MAX` (a damaged `Size`): no file is that long, so
/// the result never matches one.
pub fn padded_len(plain_len: u64) -> u64 {
    (plain_len / BLOCK as u64 + 1).saturating_mul(BLOCK as u64)
}

/// `bytes` without its PKCS#7 padding, or `None` when its tail is not valid padding.
pub fn strip_pkcs7(bytes: &[u8]) -> Option<&[u8]> {
    let n = *bytes.last()? as usize;
    let valid = (1..=BLOCK).contains(&n)
        && bytes.len() >= n
        && bytes.len().is_multiple_of(BLOCK)
        && bytes[bytes.len() - n..].iter().all(|&b| b as usize == n);
    valid.then(|| &bytes[..bytes.len() - n])
}

fn decryptor(key: &[u8; 32]) -> Decryptor {
    Decryptor::new(key.into(), &[0u8; BLOCK].into())
}

fn encryptor(key: &[u8; 32]) -> Encryptor {
    Encryptor::new(key.into(), &[0u8; BLOCK].into())
}

/// Decrypts whole blocks in place; `buf.len()` must be a multiple of [`BLOCK`].
fn decrypt_blocks(mode: &mut Decryptor, buf: &mut [u8]) {
    let (blocks, rest) = Array::slice_as_chunks_mut(buf);
    debug_assert!(rest.is_empty());
    mode.decrypt_blocks(blocks);
}

fn encrypt_blocks(mode: &mut Encryptor, buf: &mut [u8]) {
    let (blocks, rest) = Array::slice_as_chunks_mut(buf);
    debug_assert!(rest.is_empty());
    mode.encrypt_blocks(blocks);
}

/// Decrypts a whole ciphertext in place (no padding removed).
pub fn decrypt_in_place(key: &[u8; 32], buf: &mut [u8]) -> Result<(), EncryptionError> {
    if buf.is_empty() || !buf.len().is_multiple_of(BLOCK) {
        return Err(EncryptionError::CipherLength {
            len: buf.len() as u64,
        });
    }
    decrypt_blocks(&mut decryptor(key), buf);
    Ok(())
}

/// Encrypts `plain`, adding PKCS#7 padding when `pkcs7` (else its length must be whole blocks).
pub fn encrypt(key: &[u8; 32], plain: &[u8], pkcs7: bool) -> Result<Vec<u8>, EncryptionError> {
    let mut w = EncryptingWriter::new(Vec::with_capacity(plain.len() + BLOCK), key);
    w.write_all(plain).expect("writing to a Vec");
    w.finish(pkcs7).map_err(|_| EncryptionError::CipherLength {
        len: plain.len() as u64,
    })
}

/// An encrypted file read at any offset, without reading what comes before: CBC decrypts a
/// block from its ciphertext and the cipher block before it (the zero IV before the first).
/// Reads see the plaintext with its padding; [`CipherFile::plain_len`] says where it starts.
#[derive(Debug)]
pub struct CipherFile {
    file: File,
    key: [u8; 32],
    cipher_len: u64,
}

impl CipherFile {
    /// `file`, `cipher_len` bytes long (whole blocks, at least one), encrypted with `key`.
    pub fn new(file: File, key: &[u8; 32], cipher_len: u64) -> Result<Self, EncryptionError> {
        if cipher_len == 0 || !cipher_len.is_multiple_of(BLOCK as u64) {
            return Err(EncryptionError::CipherLength { len: cipher_len });
        }
        Ok(Self {
            file,
            key: *key,
            cipher_len,
        })
    }

    pub fn cipher_len(&self) -> u64 {
        self.cipher_len
    }

    /// The plaintext at `offset` into `out`, padding included: how many bytes were read, fewer
    /// than asked only at the end of the file.
    pub fn read_at(&self, offset: u64, out: &mut [u8]) -> io::Result<usize> {
        let end = offset.saturating_add(out.len() as u64).min(self.cipher_len);
        if offset >= end {
            return Ok(0);
        }
        let first = offset - offset % BLOCK as u64;
        let from = first.saturating_sub(BLOCK as u64);
        let mut buf = vec![0; (end.next_multiple_of(BLOCK as u64) - from) as usize];
        self.file.read_exact_at(&mut buf, from).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                io::Error::new(e.kind(), "the file shrank while it was read")
            } else {
                e
            }
        })?;
        let (iv, blocks) = match first {
            0 => ([0; BLOCK], &mut buf[..]),
            _ => {
                let (iv, blocks) = buf.split_at_mut(BLOCK);
                (<[u8; BLOCK]>::try_from(&*iv).expect("one block"), blocks)
            }
        };
        decrypt_blocks(&mut Decryptor::new(&self.key.into(), &iv.into()), blocks);
        let n = (end - offset) as usize;
        let skip = (offset - first) as usize;
        out[..n].copy_from_slice(&blocks[skip..skip + n]);
        Ok(n)
    }

    /// The plaintext's length: without its PKCS#7 padding when the last block is padding, else
    /// the whole (not every encrypted Manifest.db is padded).
    pub fn plain_len(&self) -> io::Result<u64> {
        let mut last = [0; BLOCK];
        self.read_at(self.cipher_len - BLOCK as u64, &mut last)?;
        let padding = strip_pkcs7(&last).map_or(0, |plain| BLOCK - plain.len());
        Ok(self.cipher_len - padding as u64)
    }

    /// The whole plaintext, padding included, as a stream.
    pub fn reader(&self) -> impl Read + '_ {
        CipherStream {
            file: self,
            offset: 0,
        }
    }
}

/// [`CipherFile::reader`].
struct CipherStream<'a> {
    file: &'a CipherFile,
    offset: u64,
}

impl Read for CipherStream<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(self.offset, out)?;
        self.offset += n as u64;
        Ok(n)
    }
}

/// Reads a file's plaintext from its ciphertext: `cipher_len` bytes of `inner` (whole blocks),
/// decrypted piece by piece, truncated to `plain_len` (the MBFile `Size`) or, when that is
/// unknown, with the PKCS#7 padding stripped. The padding is always checked: a tail that is not
/// the padding encrypting `plain_len` bytes would produce fails the last read with
/// `InvalidData` wrapping [`EncryptionError::Padding`], so that decrypting and re-encrypting is
/// exact whenever the whole stream reads without error.
pub struct DecryptingReader<R> {
    inner: R,
    mode: Decryptor,
    plain_len: Option<u64>,
    cipher_left: u64,
    cipher_len: u64,
    piece: Vec<u8>,
    start: usize,
    end: usize,
}

impl<R: Read> DecryptingReader<R> {
    pub fn new(
        inner: R,
        key: &[u8; 32],
        cipher_len: u64,
        plain_len: Option<u64>,
    ) -> Result<Self, EncryptionError> {
        if cipher_len == 0 || !cipher_len.is_multiple_of(BLOCK as u64) {
            return Err(EncryptionError::CipherLength { len: cipher_len });
        }
        if let Some(p) = plain_len
            && padded_len(p) != cipher_len
        {
            return Err(EncryptionError::SizeMismatch {
                plain: p,
                cipher: cipher_len,
            });
        }
        Ok(Self {
            inner,
            mode: decryptor(key),
            plain_len,
            cipher_left: cipher_len,
            cipher_len,
            piece: Vec::new(),
            start: 0,
            end: 0,
        })
    }

    fn next_piece(&mut self) -> io::Result<()> {
        let n = self.cipher_left.min(PIECE as u64) as usize;
        self.piece.resize(n, 0);
        self.inner.read_exact(&mut self.piece).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                io::Error::new(e.kind(), "the file shrank while it was read")
            } else {
                e
            }
        })?;
        decrypt_blocks(&mut self.mode, &mut self.piece);
        self.cipher_left -= n as u64;
        self.start = 0;
        self.end = n;
        if self.cipher_left == 0 {
            let plain = strip_pkcs7(&self.piece).map(<[u8]>::len);
            let expected = self
                .plain_len
                .map(|p| (p - (self.cipher_len - n as u64)) as usize);
            match (plain, expected) {
                (Some(p), Some(e)) if p == e => self.end = p,
                (Some(p), None) => self.end = p,
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        EncryptionError::Padding,
                    ));
                }
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for DecryptingReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.start == self.end {
            if self.cipher_left == 0 || out.is_empty() {
                return Ok(0);
            }
            self.next_piece()?;
        }
        let n = out.len().min(self.end - self.start);
        out[..n].copy_from_slice(&self.piece[self.start..self.start + n]);
        self.start += n;
        Ok(n)
    }
}

/// Encrypts what is written to it; [`EncryptingWriter::finish`] adds the padding.
pub struct EncryptingWriter<W> {
    inner: W,
    mode: Encryptor,
    buf: Vec<u8>,
}

impl<W: Write> EncryptingWriter<W> {
    pub fn new(inner: W, key: &[u8; 32]) -> Self {
        Self {
            inner,
            mode: encryptor(key),
            buf: Vec::with_capacity(PIECE + BLOCK),
        }
    }

    fn flush_blocks(&mut self) -> io::Result<()> {
        let whole = self.buf.len() / BLOCK * BLOCK;
        encrypt_blocks(&mut self.mode, &mut self.buf[..whole]);
        self.inner.write_all(&self.buf[..whole])?;
        self.buf.drain(..whole);
        Ok(())
    }

    /// Pads with PKCS#7 (`pkcs7`), or requires whole blocks, and writes the last of it.
    pub fn finish(mut self, pkcs7: bool) -> io::Result<W> {
        if pkcs7 {
            let n = BLOCK - self.buf.len() % BLOCK;
            self.buf.extend(std::iter::repeat_n(n as u8, n));
        } else if !self.buf.len().is_multiple_of(BLOCK) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                EncryptionError::CipherLength {
                    len: self.buf.len() as u64,
                },
            ));
        }
        self.flush_blocks()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for EncryptingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= PIECE {
            self.flush_blocks()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: [u8; 32] = [0x42; 32];

    fn read_all(cipher: &[u8], plain_len: Option<u64>) -> io::Result<Vec<u8>> {
        let mut r = DecryptingReader::new(cipher, &KEY, cipher.len() as u64, plain_len)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn nist_sp800_38a_f25_cbc_aes256_first_block() {
        // NIST SP 800-38A F.2.5 uses a non-zero IV; with IV = 0 the first block is plain AES,
        // so check the chain against its ECB vector (F.1.5) instead.
        let key: [u8; 32] =
            hex::decode("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
                .unwrap()
                .try_into()
                .unwrap();
        let plain = hex::decode("6bc1bee22e409f96e93d7e117393172a").unwrap();
        let c = encrypt(&key, &plain, false).unwrap();
        assert_eq!(hex::encode(c), "f3eed1bdb5d2a03c064b5a7e3db181f8");
    }

    #[test]
    fn a_whole_block_file_gets_a_whole_block_of_padding() {
        let c = encrypt(&KEY, &[7; 32], true).unwrap();
        assert_eq!(c.len(), 48);
        let mut d = c.clone();
        decrypt_in_place(&KEY, &mut d).unwrap();
        assert_eq!(&d[32..], &[16; 16]);
        assert_eq!(read_all(&c, Some(32)).unwrap(), vec![7; 32]);
        assert_eq!(read_all(&c, None).unwrap(), vec![7; 32]);
    }

    #[test]
    fn wrong_size_or_key_is_caught() {
        let c = encrypt(&KEY, &[1; 100], true).unwrap();
        assert!(
            read_all(&c, Some(90)).is_err(),
            "Size 90 pads to 96, not 112"
        );
        assert!(read_all(&c[..96], Some(100)).is_err());
        // A damaged Size near 2^64 is a mismatch, not an overflow.
        assert_eq!(padded_len(u64::MAX - 3), u64::MAX);
        assert!(read_all(&c, Some(u64::MAX - 3)).is_err());
        let mut wrong = DecryptingReader::new(&c[..], &[0; 32], 112, Some(100)).unwrap();
        let e = wrong.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(matches!(
            DecryptingReader::new(&c[..100], &KEY, 100, None),
            Err(EncryptionError::CipherLength { len: 100 })
        ));
    }

    #[test]
    fn a_file_that_shrinks_while_read_is_an_error() {
        let c = encrypt(&KEY, &[1; 100], true).unwrap();
        let mut r = DecryptingReader::new(&c[..64], &KEY, 112, Some(100)).unwrap();
        let e = r.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }

    fn cipher_file(cipher: &[u8]) -> CipherFile {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(cipher).unwrap();
        CipherFile::new(f, &KEY, cipher.len() as u64).unwrap()
    }

    #[test]
    fn a_cipher_file_knows_its_plaintext_length_and_its_end() {
        let c = encrypt(&KEY, &[5; 100], true).unwrap();
        let file = cipher_file(&c);
        assert_eq!(file.plain_len().unwrap(), 100);
        let mut out = [9; 40];
        assert_eq!(
            file.read_at(100, &mut out).unwrap(),
            12,
            "up to the padding's end"
        );
        assert_eq!(&out[..12], &[12; 12]);
        assert_eq!(file.read_at(112, &mut out).unwrap(), 0);
        assert_eq!(file.read_at(u64::MAX, &mut out).unwrap(), 0);
        let unpadded = encrypt(&KEY, &[0; 32], false).unwrap();
        assert_eq!(
            cipher_file(&unpadded).plain_len().unwrap(),
            32,
            "no padding: all of it"
        );
        let wrong = CipherFile::new(tempfile::tempfile().unwrap(), &KEY, 100);
        assert!(matches!(
            wrong,
            Err(EncryptionError::CipherLength { len: 100 })
        ));
        let mut shrunk = tempfile::tempfile().unwrap();
        shrunk.write_all(&c[..64]).unwrap();
        let shrunk = CipherFile::new(shrunk, &KEY, 112).unwrap();
        let e = shrunk.read_at(60, &mut out).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(40))]
        #[test]
        fn a_cipher_file_reads_at_any_offset_what_decrypting_it_whole_gives(
            len in 0usize..20_000,
            reads in proptest::collection::vec((0u64..21_000, 0usize..5_000), 1..20),
        ) {
            let plain: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
            let cipher = encrypt(&KEY, &plain, true).unwrap();
            let mut whole = cipher.clone();
            decrypt_in_place(&KEY, &mut whole).unwrap();
            let file = cipher_file(&cipher);
            prop_assert_eq!(file.plain_len().unwrap(), len as u64);
            for (offset, n) in reads {
                let mut out = vec![0; n];
                let read = file.read_at(offset, &mut out).unwrap();
                let from = (offset as usize).min(whole.len());
                let expected = &whole[from..(from + n).min(whole.len())];
                prop_assert_eq!(&out[..read], expected);
            }
            let mut streamed = Vec::new();
            file.reader().read_to_end(&mut streamed).unwrap();
            prop_assert_eq!(streamed, whole);
        }

        #[test]
        fn streaming_round_trip_is_exact(len in 0usize..600_000, split in 1usize..70_000) {
            let plain: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let mut w = EncryptingWriter::new(Vec::new(), &KEY);
            for piece in plain.chunks(split) {
                w.write_all(piece).unwrap();
            }
            let cipher = w.finish(true).unwrap();
            prop_assert_eq!(cipher.len() as u64, padded_len(len as u64));
            prop_assert_eq!(&cipher, &encrypt(&KEY, &plain, true).unwrap());
            prop_assert_eq!(read_all(&cipher, Some(len as u64)).unwrap(), plain.clone());
            let mut whole = cipher.clone();
            decrypt_in_place(&KEY, &mut whole).unwrap();
            prop_assert_eq!(strip_pkcs7(&whole).unwrap(), &plain[..]);
        }
    }
}
