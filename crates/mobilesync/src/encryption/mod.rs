//! Encrypted backups (iOS ≥ 10.2, reference §6): the keybag, the password → key derivation,
//! the class, Manifest.db and per-file keys (RFC 3394), and AES-256-CBC in both directions, so
//! that a backup can be decrypted for reading and the same bytes encrypted again for restore.
//!
//! The chain: `kek = KdfParams::derive(password)` (slow: cache it) → `Keybag::unlock(kek)` →
//! [`ClassKeys`] → `ClassKeys::unwrap(WrappedKey)` → an AES-256 key → [`DecryptingReader`] /
//! [`EncryptingWriter`], or [`CipherFile`] to read at any offset.

mod cbc;
mod keybag;
mod keys;

pub use cbc::{
    BLOCK, CipherFile, DecryptingReader, EncryptingWriter, decrypt_in_place, encrypt, padded_len,
    strip_pkcs7,
};
pub use keybag::{ClassRecord, KdfParams, Keybag};
pub use keys::{ClassKeys, Kek, WrappedKey};

/// What can be wrong with the encryption of a backup. The caller names the device or file.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncryptionError {
    #[error("the backup keybag (Manifest.plist BackupKeyBag) is damaged: {0}")]
    Keybag(String),
    #[error("wrong password for this encrypted backup (the keybag's class keys do not unwrap)")]
    WrongPassword,
    #[error("no key for protection class {class} in the keybag")]
    NoClassKey { class: u32 },
    #[error("a wrapped key is {len} bytes, not 44 (4-byte class and 40-byte RFC 3394 key)")]
    BadWrappedKey { len: usize },
    #[error("the key of protection class {class} does not unwrap (integrity check failed)")]
    KeyUnwrap { class: u32 },
    #[error("ciphertext of {len} bytes is not a whole number of 16-byte AES blocks")]
    CipherLength { len: u64 },
    #[error("{cipher} bytes of ciphertext cannot hold the {plain} bytes Manifest.db records")]
    SizeMismatch { plain: u64, cipher: u64 },
    #[error("the last block does not decrypt to valid padding (damaged file or wrong key)")]
    Padding,
}
