//! The key hierarchy below the keybag: key-encryption key → class keys → per-file keys, all
//! linked by RFC 3394 AES key wrap (default IV `A6A6A6A6A6A6A6A6`, 40 bytes ↔ 32 bytes).

use super::EncryptionError;
use aes::cipher::KeyInit;
use aes_kw::KwAes256;
use std::collections::BTreeMap;

/// The password-derived key that unwraps the class keys.
#[derive(Clone, PartialEq, Eq)]
pub struct Kek(pub [u8; 32]);

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(..)")
    }
}

/// Unwrapped class keys, by protection class.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ClassKeys(pub BTreeMap<u32, [u8; 32]>);

impl std::fmt::Debug for ClassKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ClassKeys(classes {:?})",
            self.0.keys().collect::<Vec<_>>()
        )
    }
}

/// A key as a backup stores it: `u32 LE protection class ‖ 40-byte wrapped key`. Both
/// `ManifestKey` and each file's `EncryptionKey` have this shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrappedKey(pub [u8; WrappedKey::LEN]);

impl WrappedKey {
    pub const LEN: usize = 44;

    pub fn parse(bytes: &[u8]) -> Result<WrappedKey, EncryptionError> {
        bytes
            .try_into()
            .map(WrappedKey)
            .map_err(|_| EncryptionError::BadWrappedKey { len: bytes.len() })
    }

    /// The protection class, little-endian (unlike the keybag's big-endian integers).
    pub fn class(&self) -> u32 {
        u32::from_le_bytes(self.0[..4].try_into().expect("4 bytes"))
    }

    /// Wraps `key` under the class key of `class` (for writing encrypted backups).
    pub fn wrap(
        class_keys: &ClassKeys,
        class: u32,
        key: &[u8; 32],
    ) -> Result<Self, EncryptionError> {
        let kek = class_keys
            .0
            .get(&class)
            .ok_or(EncryptionError::NoClassKey { class })?;
        let mut out = [0u8; Self::LEN];
        out[..4].copy_from_slice(&class.to_le_bytes());
        out[4..].copy_from_slice(&wrap_key(kek, key));
        Ok(WrappedKey(out))
    }
}

impl ClassKeys {
    /// The AES-256 key a [`WrappedKey`] protects.
    pub fn unwrap(&self, wrapped: &WrappedKey) -> Result<[u8; 32], EncryptionError> {
        let class = wrapped.class();
        let kek = self
            .0
            .get(&class)
            .ok_or(EncryptionError::NoClassKey { class })?;
        unwrap_key(kek, &wrapped.0[4..]).map_err(|_| EncryptionError::KeyUnwrap { class })
    }
}

/// RFC 3394 unwrap of a 32-byte key; `Err` on an integrity failure.
pub(crate) fn unwrap_key(kek: &[u8; 32], wrapped: &[u8]) -> Result<[u8; 32], ()> {
    if wrapped.len() != 40 {
        return Err(());
    }
    let kw = KwAes256::new_from_slice(kek).map_err(|_| ())?;
    let mut out = [0u8; 32];
    kw.unwrap_key(wrapped, &mut out).map_err(|_| ())?;
    Ok(out)
}

/// RFC 3394 wrap of a 32-byte key.
pub(crate) fn wrap_key(kek: &[u8; 32], key: &[u8; 32]) -> [u8; 40] {
    let kw = KwAes256::new_from_slice(kek).expect("a 32-byte key");
    let mut out = [0u8; 40];
    kw.wrap_key(key, &mut out)
        .expect("40 bytes hold a wrapped 32-byte key");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3394_test_vector_4_6() {
        // RFC 3394 §4.6: 256 bits of key data with a 256-bit KEK.
        let kek: [u8; 32] =
            hex::decode("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F")
                .unwrap()
                .try_into()
                .unwrap();
        let data: [u8; 32] =
            hex::decode("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F")
                .unwrap()
                .try_into()
                .unwrap();
        let expect = hex::decode(
            "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21",
        )
        .unwrap();
        assert_eq!(wrap_key(&kek, &data).to_vec(), expect);
        assert_eq!(unwrap_key(&kek, &expect).unwrap(), data);
        let mut flipped = expect.clone();
        flipped[5] ^= 1;
        assert!(unwrap_key(&kek, &flipped).is_err());
    }

    #[test]
    fn wrapped_keys_carry_their_class_little_endian() {
        let keys = ClassKeys([(3, [9; 32])].into_iter().collect());
        let w = WrappedKey::wrap(&keys, 3, &[5; 32]).unwrap();
        assert_eq!(&w.0[..4], &[3, 0, 0, 0]);
        assert_eq!(w.class(), 3);
        assert_eq!(keys.unwrap(&w).unwrap(), [5; 32]);
        assert!(matches!(
            WrappedKey::wrap(&keys, 4, &[5; 32]),
            Err(EncryptionError::NoClassKey { class: 4 })
        ));
        assert!(WrappedKey::parse(&[0; 43]).is_err());
        let mut bad = w;
        bad.0[20] ^= 1;
        assert!(matches!(
            keys.unwrap(&bad),
            Err(EncryptionError::KeyUnwrap { class: 3 })
        ));
    }
}
