//! Device key payload (`docs/format.md` §10a): the key an encrypted iOS backup's password
//! derives, kept so the slow derivation runs once per keybag, not once per backup.

use crate::codec::{DecodeError, Reader, Writer};

#[derive(Clone, PartialEq, Eq)]
pub struct DeviceKey {
    /// The device it was first derived for (informational; lookups go by `kdf_digest`).
    pub udid: String,
    /// Unix seconds.
    pub created: i64,
    /// SHA-256 of the keybag's derivation parameters (salts and iteration counts), so a
    /// reader tries only keys derived with the same parameters.
    pub kdf_digest: [u8; 32],
    /// The key-encryption key that unwraps the keybag's class keys.
    pub kek: [u8; 32],
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceKey")
            .field("udid", &self.udid)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl DeviceKey {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.string(&self.udid);
        w.i64(self.created);
        w.id(&self.kdf_digest);
        w.id(&self.kek);
        w.finish()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let k = Self {
            udid: r.string()?,
            created: r.i64()?,
            kdf_digest: r.id()?,
            kek: r.id()?,
        };
        r.finish()?;
        Ok(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_key_round_trips_and_rejects_truncation() {
        let k = DeviceKey {
            udid: "00008110-AAAA".into(),
            created: 1_700_000_000,
            kdf_digest: [1; 32],
            kek: [2; 32],
        };
        let bytes = k.encode();
        assert_eq!(DeviceKey::decode(&bytes).unwrap(), k);
        assert!(DeviceKey::decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(
            !format!("{k:?}").contains("2, 2"),
            "Debug never prints the key"
        );
    }
}
