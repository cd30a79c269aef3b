//! Hearth's cryptography: the master secret and its subkeys, keyed BLAKE3 ids,
//! XChaCha20-Poly1305 sealing, and password key files (`docs/format.md` §4).
//!
//! This crate holds no state beyond keys and does no I/O; it never decides *what* to encrypt.
//!
//! ```
//! use hearth_crypto::MasterKey;
//! let keys = MasterKey::generate().keys();
//! let sealed = keys.seal(b"aad", b"secret");
//! assert_eq!(keys.open(b"aad", &sealed).unwrap(), b"secret");
//! assert!(keys.open(b"other aad", &sealed).is_err());
//! ```

mod keyfile;
mod keys;

pub use keyfile::{KdfParams, KeyFile, KeyFileError, KeyMeta};
pub use keys::{Keys, MasterKey, OVERHEAD, ObjectError, OpenError, random_bytes};
