//! Stored device keys (`docs/format.md` §10a): the derived key of each encrypted iOS backup's
//! keybag, sealed like every other object, so that its 10,000,000-round derivation is paid once.

use crate::error::RepoError;
use crate::objects::put_sealed;
use crate::repository::Repository;
use hearth_format::{DeviceKey, ObjectKind};
use hearth_storage::FileType;

impl Repository {
    /// The keys stored for keybags whose derivation parameters hash to `kdf_digest`, newest
    /// first. A damaged device key object is passed over (`check` reports it).
    pub fn device_keys(&self, kdf_digest: &[u8; 32]) -> Result<Vec<[u8; 32]>, RepoError> {
        let mut found = Vec::new();
        for obj in self.backend.list(FileType::DeviceKey)? {
            let key = match self.read_device_key(&obj.name) {
                Ok(Some(key)) => key,
                Ok(None) | Err(RepoError::Corrupt { .. }) => continue,
                Err(e) => return Err(e),
            };
            if &key.kdf_digest == kdf_digest {
                found.push((key.created, key.kek));
            }
        }
        found.sort_by_key(|(created, _)| std::cmp::Reverse(*created));
        Ok(found.into_iter().map(|(_, kek)| kek).collect())
    }

    /// One device key object, checked against its name; `None` if it vanished meanwhile.
    pub(crate) fn read_device_key(&self, name: &str) -> Result<Option<DeviceKey>, RepoError> {
        let object = format!("{}/{name}", FileType::DeviceKey.dir());
        let id: [u8; 32] = hex::decode(name)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| RepoError::corrupt(&object, "not an object name"))?;
        let payload = match self.get_verified(ObjectKind::DeviceKey, &id) {
            Ok(opened) => opened.payload,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        DeviceKey::decode(&payload)
            .map(Some)
            .map_err(|e| RepoError::corrupt(&object, e))
    }

    /// Stores a device key. Written before any snapshot that needs it (write order, §11).
    pub fn save_device_key(&self, key: &DeviceKey) -> Result<(), RepoError> {
        put_sealed(
            self.backend.as_ref(),
            &self.keys,
            None,
            ObjectKind::DeviceKey,
            &key.encode(),
        )?;
        Ok(())
    }
}
