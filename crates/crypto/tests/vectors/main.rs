//! Test vectors: the bytes of every kind of object Hearth writes, pinned for the life of the
//! project (issue 14). Each vector builds a value with fixed, readable fields, encodes (or
//! seals) it, compares the result with expected bytes written here as hex, field by field, and
//! decodes (or opens) those bytes back to the value. `docs/format.md` §15 holds every vector
//! as a worked example, and [`doc`] checks it holds each one verbatim and no other, so the
//! document and the code cannot drift apart.
//!
//! The payload vectors ([`payloads`]) were written from a reading of `docs/format.md`; the
//! sealed ones ([`sealed`]) use a fixed master secret, salt and nonces, and were cross-checked
//! with independent implementations of BLAKE3, Argon2id and XChaCha20-Poly1305.
//!
//! They live here, not in `hearth-format`, because the key file, every seal and every id need
//! this crate, and `hearth-format` must not depend on it.
//!
//! If one fails, the code no longer writes or reads what earlier versions of Hearth wrote:
//! fix the code. A deliberate change of the format is a new layout version (§3, §14) with new
//! vectors beside these, never an edit of them.

mod doc;
mod payloads;
mod sealed;

/// Every vector, by the name that heads it in `docs/format.md` §15.
pub const VECTORS: &[&str] = &[
    "file headers",
    "config payload",
    "config payload, layout 2",
    "pack header payload",
    "index segment payload",
    "entry stream",
    "snapshot payload",
    "lock payload",
    "device key payload",
    "pin payload",
    "ids under the master secret",
    "config file",
    "config file, layout 2",
    "pack file",
    "key file",
    "names of sealed files",
];
