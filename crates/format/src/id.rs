//! 32-byte ids, one newtype per kind of thing they name. Shown as 64 lower-case hex digits.

use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            pub const fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
            /// Parses exactly 64 hex digits.
            pub fn from_hex(s: &str) -> Option<Self> {
                let mut out = [0u8; 32];
                (s.len() == 64).then_some(())?;
                hex::decode_to_slice(s, &mut out).ok()?;
                Some(Self(out))
            }
            /// The first 8 hex digits, as shown to people.
            pub fn short(&self) -> String {
                hex::encode(&self.0[..4])
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.short())
            }
        }
    };
}

id_type!(
    /// Keyed BLAKE3 of a blob's plaintext.
    ChunkId
);
id_type!(
    /// Keyed BLAKE3 of a pack file's bytes.
    PackId
);
id_type!(
    /// Keyed BLAKE3 of an index segment's file bytes.
    IndexId
);
id_type!(
    /// Keyed BLAKE3 of a snapshot's file bytes.
    SnapshotId
);
id_type!(
    /// Random id of a key file.
    KeyId
);
id_type!(
    /// Random id of a lock.
    LockId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_rejects_bad_names() {
        let id = PackId([0xab; 32]);
        assert_eq!(PackId::from_hex(&id.to_hex()), Some(id));
        assert_eq!(PackId::from_hex(".tmp-1234"), None);
        assert_eq!(PackId::from_hex(&"g".repeat(64)), None);
        assert_eq!(id.short(), "abababab");
    }
}
