//! Password key files (`docs/format.md` §4.1): Argon2id wraps the master secret.

use crate::keys::{MasterKey, OVERHEAD};
use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hearth_format::codec::{DecodeError, Reader, Writer};
use hearth_format::header::{HEADER_LEN, HeaderError};
use hearth_format::{FileHeader, ObjectKind};
use thiserror::Error;

const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub time: u32,
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// RFC 9106's second recommended option (64 MiB, 3 passes, 4 lanes). The lanes are
    /// computed in parallel, so opening a repository takes half the time on two cores for the
    /// same cost to an attacker.
    fn default() -> Self {
        Self {
            memory_kib: 64 * 1024,
            time: 3,
            parallelism: 4,
        }
    }
}

impl KdfParams {
    /// The most a key file may ask for. The parameters are authenticated only after Argon2id
    /// has run with them, so a damaged file must not make opening take days or all memory.
    /// Far above any setting in use (RFC 9106's first option is 2 GiB, 1 pass).
    pub const MAX: KdfParams = KdfParams {
        memory_kib: 4 << 20,
        time: 64,
        parallelism: 64,
    };

    fn check(&self) -> Result<(), KeyFileError> {
        let max = Self::MAX;
        if self.memory_kib > max.memory_kib
            || self.time > max.time
            || self.parallelism > max.parallelism
        {
            return Err(KeyFileError::Params(format!(
                "m = {} KiB, t = {}, p = {} exceed the limits (m <= {} KiB, t <= {}, p <= {})",
                self.memory_kib,
                self.time,
                self.parallelism,
                max.memory_kib,
                max.time,
                max.parallelism
            )));
        }
        Ok(())
    }
}

/// Who made a key file and when; stored in the clear so `key list` needs no password per key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMeta {
    pub created: i64,
    pub host: String,
    pub user: String,
}

#[derive(Debug, Error)]
pub enum KeyFileError {
    #[error(transparent)]
    Header(#[from] HeaderError),
    #[error("key file is corrupt: {0}")]
    Corrupt(#[from] DecodeError),
    #[error("key file has unusable Argon2id parameters: {0}")]
    Params(String),
    #[error("wrong password")]
    WrongPassword,
}

/// A parsed key file.
pub struct KeyFile {
    pub params: KdfParams,
    pub meta: KeyMeta,
    salt: [u8; SALT_LEN],
    /// Every byte before the sealed master secret: the seal's AAD.
    aad: Vec<u8>,
    sealed: Vec<u8>,
}

impl KeyFile {
    /// Writes a key file that opens `master` with `password`.
    pub fn create(
        master: &MasterKey,
        password: &[u8],
        params: KdfParams,
        meta: KeyMeta,
    ) -> Result<Vec<u8>, KeyFileError> {
        let salt = crate::random_bytes();
        let nonce = crate::random_bytes();
        Self::create_with(master, password, params, meta, salt, nonce)
    }

    /// [`KeyFile::create`] with a given salt and nonce: only for test vectors
    /// (`docs/format.md` §15). Every key file a repository holds has random ones.
    #[doc(hidden)]
    pub fn create_with(
        master: &MasterKey,
        password: &[u8],
        params: KdfParams,
        meta: KeyMeta,
        salt: [u8; SALT_LEN],
        nonce: [u8; NONCE_LEN],
    ) -> Result<Vec<u8>, KeyFileError> {
        params.check()?;
        let mut w = Writer::new();
        w.bytes(&FileHeader::encode(ObjectKind::Key));
        w.u32(params.memory_kib);
        w.u32(params.time);
        w.u32(params.parallelism);
        w.bytes(&salt);
        w.i64(meta.created);
        w.string(&meta.host);
        w.string(&meta.user);
        let mut file = w.finish();
        let wrap = wrap_key(password, &salt, params)?;
        let cipher = XChaCha20Poly1305::new(&wrap.into());
        let ct = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &master.0,
                    aad: &file,
                },
            )
            .expect("sealing 32 bytes cannot fail");
        file.extend_from_slice(&nonce);
        file.extend_from_slice(&ct);
        Ok(file)
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, KeyFileError> {
        FileHeader::check(bytes, ObjectKind::Key)?;
        let mut r = Reader::new(&bytes[HEADER_LEN..]);
        let params = KdfParams {
            memory_kib: r.u32()?,
            time: r.u32()?,
            parallelism: r.u32()?,
        };
        params.check()?;
        let salt: [u8; SALT_LEN] = r.take(SALT_LEN)?.try_into().expect("SALT_LEN bytes");
        let meta = KeyMeta {
            created: r.i64()?,
            host: r.string()?,
            user: r.string()?,
        };
        let aad_len = HEADER_LEN + r.position();
        let sealed = r.take(32 + OVERHEAD)?.to_vec();
        r.finish()?;
        Ok(Self {
            params,
            meta,
            salt,
            aad: bytes[..aad_len].to_vec(),
            sealed,
        })
    }

    /// Derives the wrap key from `password` and opens the master secret.
    pub fn open(&self, password: &[u8]) -> Result<MasterKey, KeyFileError> {
        let wrap = wrap_key(password, &self.salt, self.params)?;
        let cipher = XChaCha20Poly1305::new(&wrap.into());
        let (nonce, ct) = self.sealed.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| KeyFileError::WrongPassword)?;
        let master = cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ct,
                    aad: &self.aad,
                },
            )
            .map_err(|_| KeyFileError::WrongPassword)?;
        Ok(MasterKey(
            master.try_into().map_err(|_| KeyFileError::WrongPassword)?,
        ))
    }
}

fn wrap_key(password: &[u8], salt: &[u8], p: KdfParams) -> Result<[u8; 32], KeyFileError> {
    let params = Params::new(p.memory_kib, p.time, p.parallelism, Some(32))
        .map_err(|e| KeyFileError::Params(e.to_string()))?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password, salt, &mut out)
        .map_err(|e| KeyFileError::Params(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> KdfParams {
        KdfParams {
            memory_kib: 64,
            time: 1,
            parallelism: 1,
        }
    }

    fn meta() -> KeyMeta {
        KeyMeta {
            created: 1,
            host: "h".into(),
            user: "u".into(),
        }
    }

    #[test]
    fn opens_with_the_right_password_only() {
        let master = MasterKey::generate();
        let file = KeyFile::create(&master, b"correct horse", fast(), meta()).unwrap();
        let parsed = KeyFile::parse(&file).unwrap();
        assert_eq!(parsed.meta, meta());
        assert_eq!(parsed.open(b"correct horse").unwrap().0, master.0);
        assert!(matches!(
            parsed.open(b"wrong"),
            Err(KeyFileError::WrongPassword)
        ));
    }

    #[test]
    fn weakened_parameters_are_detected() {
        let master = MasterKey::generate();
        let mut file = KeyFile::create(&master, b"pw", fast(), meta()).unwrap();
        file[12] = 2; // time cost
        let parsed = KeyFile::parse(&file).unwrap();
        assert!(matches!(
            parsed.open(b"pw"),
            Err(KeyFileError::WrongPassword)
        ));
        assert!(KeyFile::parse(&file[..40]).is_err());
    }

    /// The parameters are authenticated only after Argon2id ran with them: a damaged file
    /// asking for 4 billion passes or 1 TiB is refused before, and none can be written.
    #[test]
    fn parameters_beyond_the_limits_are_refused_before_argon2_runs() {
        let master = MasterKey::generate();
        let file = KeyFile::create(&master, b"pw", fast(), meta()).unwrap();
        for (at, value) in [(8, 1u32 << 30), (12, u32::MAX), (16, 1000)] {
            let mut damaged = file.clone();
            damaged[at..at + 4].copy_from_slice(&value.to_le_bytes());
            let err = KeyFile::parse(&damaged).err().expect("refused");
            assert!(
                matches!(&err, KeyFileError::Params(m) if m.contains("exceed the limits")),
                "{err}"
            );
        }
        assert!(KeyFile::parse(&file).is_ok());
        let too_slow = KdfParams { time: 65, ..fast() };
        assert!(KeyFile::create(&master, b"pw", too_slow, meta()).is_err());
    }
}
