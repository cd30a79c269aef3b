//! The master secret, its subkeys and the seal/open primitive.

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use hearth_format::{ChunkId, ContentKeys, FileHeader, ObjectKind};
use thiserror::Error;

pub const NONCE_LEN: usize = 24;
pub const TAG_LEN: usize = 16;
/// Bytes a seal adds to its plaintext.
pub const OVERHEAD: usize = NONCE_LEN + TAG_LEN;

const CONTEXT_DATA: &str = "hearth 2026-11 data key v1";
const CONTEXT_CHUNK_ID: &str = "hearth 2026-11 chunk id key v1";
const CONTEXT_OBJECT_ID: &str = "hearth 2026-11 object id key v1";
const CONTEXT_CHUNKER_SEED: &str = "hearth 2026-11 chunker seed v1";

#[derive(Debug, Error, PartialEq, Eq)]
#[error("authentication failed: the data is corrupt or was sealed under another key")]
pub struct OpenError;

/// Fills a buffer from the operating system's random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("the operating system's random source is available");
    b
}

/// The 32-byte master secret `M`. Never stored in the clear.
#[derive(Clone)]
pub struct MasterKey(pub(crate) [u8; 32]);

impl MasterKey {
    pub fn generate() -> Self {
        Self(random_bytes())
    }

    /// A master secret with known bytes: only for test vectors (`docs/format.md` §15), where
    /// every derived byte must be reproducible. A repository's secret comes from
    /// [`MasterKey::generate`].
    #[doc(hidden)]
    pub fn from_bytes(secret: [u8; 32]) -> Self {
        Self(secret)
    }

    /// Every subkey derived from `M`, the content keys included: what a repository whose
    /// config is of layout 1 uses, and what `init` stores in a new config.
    pub fn keys(&self) -> Keys {
        let derive = |ctx| blake3::derive_key(ctx, &self.0);
        Keys {
            cipher: XChaCha20Poly1305::new(&derive(CONTEXT_DATA).into()),
            object_id: derive(CONTEXT_OBJECT_ID),
            content: self.content_keys(),
        }
    }

    /// The content keys derived from `M` (`docs/format.md` §4): the chunk-id key and the
    /// chunker seed (the first 8 bytes of its subkey, u64 LE).
    pub fn content_keys(&self) -> ContentKeys {
        let seed = blake3::derive_key(CONTEXT_CHUNKER_SEED, &self.0);
        ContentKeys {
            chunk_id_key: blake3::derive_key(CONTEXT_CHUNK_ID, &self.0),
            chunker_seed: u64::from_le_bytes(seed[..8].try_into().expect("8 bytes")),
        }
    }
}

/// The subkeys every repository operation needs.
#[derive(Clone)]
pub struct Keys {
    cipher: XChaCha20Poly1305,
    object_id: [u8; 32],
    content: ContentKeys,
}

impl Keys {
    /// These keys with other content keys: those a config of layout 2 stores (§6), which a
    /// repository made `--like` another shares with it. The data and object keys stay `M`'s.
    pub fn with_content(self, content: ContentKeys) -> Keys {
        Keys { content, ..self }
    }

    /// The chunk-id key and chunker seed in use.
    pub fn content(&self) -> &ContentKeys {
        &self.content
    }

    /// `ChunkId = BLAKE3_keyed(chunk id key, plaintext)`.
    pub fn chunk_id(&self, plaintext: &[u8]) -> ChunkId {
        ChunkId(*blake3::keyed_hash(&self.content.chunk_id_key, plaintext).as_bytes())
    }

    /// Name of an index segment, snapshot or device key (keyed BLAKE3 of its whole file), or of
    /// a pack (of its trailer).
    pub fn object_id(&self, file: &[u8]) -> [u8; 32] {
        *blake3::keyed_hash(&self.object_id, file).as_bytes()
    }

    /// [`Keys::object_id`] of bytes given a piece at a time: `finalize` gives the same id.
    pub fn object_id_hasher(&self) -> blake3::Hasher {
        blake3::Hasher::new_keyed(&self.object_id)
    }

    pub fn chunker_seed(&self) -> u64 {
        self.content.chunker_seed
    }

    /// `nonce ‖ ciphertext ‖ tag`, appended to `out`.
    pub fn seal_into(&self, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) {
        self.seal_into_with_nonce(random_bytes(), aad, plaintext, out);
    }

    /// [`Keys::seal_into`] with a given nonce: only for test vectors (`docs/format.md` §15).
    /// A nonce must never be used twice under one key; every seal of a repository draws a
    /// random one.
    #[doc(hidden)]
    pub fn seal_into_with_nonce(
        &self,
        nonce: [u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) {
        out.reserve(plaintext.len() + OVERHEAD);
        out.extend_from_slice(&nonce);
        let start = out.len();
        out.extend_from_slice(plaintext);
        let tag = self
            .cipher
            .encrypt_inout_detached(&XNonce::from(nonce), aad, (&mut out[start..]).into())
            .expect("XChaCha20-Poly1305 accepts messages far larger than any blob");
        out.extend_from_slice(&tag);
    }

    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        self.seal_into(aad, plaintext, &mut out);
        out
    }

    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        let mut out = Vec::new();
        self.open_into(aad, sealed, &mut out)?;
        Ok(out)
    }

    /// [`Keys::open`] into `out`, replacing what it held (its capacity is reused). On an error
    /// `out` holds no plaintext.
    pub fn open_into(&self, aad: &[u8], sealed: &[u8], out: &mut Vec<u8>) -> Result<(), OpenError> {
        out.clear();
        if sealed.len() < OVERHEAD {
            return Err(OpenError);
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| OpenError)?;
        let tag = Tag::try_from(tag).map_err(|_| OpenError)?;
        out.reserve_exact(ciphertext.len());
        out.extend_from_slice(ciphertext);
        self.cipher
            .decrypt_inout_detached(&nonce, aad, out.as_mut_slice().into(), &tag)
            .map_err(|_| {
                out.clear();
                OpenError
            })
    }

    /// A sealed object file (`docs/format.md` §5.2): header ‖ Seal(aad = header, payload).
    pub fn seal_object(&self, kind: ObjectKind, payload: &[u8]) -> Vec<u8> {
        self.seal_object_with_nonce(random_bytes(), kind, payload)
    }

    /// [`Keys::seal_object`] with a given nonce: only for test vectors (`docs/format.md` §15).
    #[doc(hidden)]
    pub fn seal_object_with_nonce(
        &self,
        nonce: [u8; NONCE_LEN],
        kind: ObjectKind,
        payload: &[u8],
    ) -> Vec<u8> {
        self.seal_layout_with_nonce(nonce, kind, kind.version(), payload)
    }

    /// [`Keys::seal_object_with_nonce`] of an older layout: only for test vectors, which pin
    /// what earlier versions wrote.
    #[doc(hidden)]
    pub fn seal_layout_with_nonce(
        &self,
        nonce: [u8; NONCE_LEN],
        kind: ObjectKind,
        layout: u8,
        payload: &[u8],
    ) -> Vec<u8> {
        let header = FileHeader::encode_layout(kind, layout);
        let mut out = header.to_vec();
        self.seal_into_with_nonce(nonce, &header, payload, &mut out);
        out
    }

    /// Opens a sealed object after checking its header. Returns the payload.
    pub fn open_object(&self, kind: ObjectKind, file: &[u8]) -> Result<Vec<u8>, ObjectError> {
        FileHeader::check(file, kind).map_err(ObjectError::Header)?;
        let (header, sealed) = file.split_at(hearth_format::header::HEADER_LEN);
        self.open(header, sealed).map_err(|_| ObjectError::Open)
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ObjectError {
    #[error(transparent)]
    Header(hearth_format::header::HeaderError),
    #[error("authentication failed: the object is corrupt or belongs to another repository")]
    Open,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_hides_plaintext_and_detects_tampering() {
        let keys = MasterKey::generate().keys();
        let plain = b"the same photo on two phones".repeat(10);
        let a = keys.seal(b"x", &plain);
        let b = keys.seal(b"x", &plain);
        assert_ne!(a, b, "random nonces");
        assert_eq!(a.len(), plain.len() + OVERHEAD);
        assert!(!a.windows(8).any(|w| plain.windows(8).any(|p| p == w)));
        let mut bad = a.clone();
        bad[30] ^= 1;
        assert_eq!(keys.open(b"x", &bad), Err(OpenError));
        assert_eq!(keys.open(b"x", &a[..10]), Err(OpenError));
    }

    #[test]
    fn chunk_ids_are_keyed() {
        let k1 = MasterKey::generate().keys();
        let k2 = MasterKey::generate().keys();
        assert_eq!(k1.chunk_id(b"a"), k1.chunk_id(b"a"));
        assert_ne!(k1.chunk_id(b"a"), k2.chunk_id(b"a"));
        assert_ne!(k1.chunk_id(b"a").0, *blake3::hash(b"a").as_bytes());
    }

    /// Keys given another repository's content keys name and cut chunks as it does, and still
    /// seal with their own data key.
    #[test]
    fn content_keys_can_be_shared_and_nothing_else_is() {
        let (a, b) = (MasterKey::generate(), MasterKey::generate());
        let like = b.keys().with_content(a.content_keys());
        assert_eq!(like.chunk_id(b"x"), a.keys().chunk_id(b"x"));
        assert_eq!(like.chunker_seed(), a.keys().chunker_seed());
        assert_eq!(like.content(), &a.content_keys());
        assert_ne!(like.object_id(b"x"), a.keys().object_id(b"x"));
        let sealed = like.seal(b"", b"secret");
        assert!(a.keys().open(b"", &sealed).is_err());
        assert_eq!(b.keys().open(b"", &sealed).unwrap(), b"secret");
    }

    #[test]
    fn objects_check_kind_and_key() {
        let keys = MasterKey::generate().keys();
        let obj = keys.seal_object(ObjectKind::Snapshot, b"payload");
        assert_eq!(
            keys.open_object(ObjectKind::Snapshot, &obj).unwrap(),
            b"payload"
        );
        assert!(matches!(
            keys.open_object(ObjectKind::Index, &obj),
            Err(ObjectError::Header(_))
        ));
        let other = MasterKey::generate().keys();
        assert_eq!(
            other.open_object(ObjectKind::Snapshot, &obj),
            Err(ObjectError::Open)
        );
    }
}
