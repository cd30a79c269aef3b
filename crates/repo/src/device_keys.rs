//! Stored device keys (`docs/format.md` §10a): the derived key of each encrypted iOS backup's
//! keybag, sealed like every other object, so that its 10,000,000-round derivation is paid once.

use crate::error::RepoError;
use crate::repository::Repository;
use hearth_format::{DeviceKey, ObjectKind};
use hearth_storage::FileType;

impl Repository {
    /// The keys stored for keybags whose derivation parameters hash to `kdf_digest`, newest
    /// first. A device key object that does not open is an error naming it.
    pub fn device_keys(&self, kdf_digest: &[u8; 32]) -> Result<Vec<[u8; 32]>, RepoError> {
        let mut found = Vec::new();
        for obj in self.backend.list(FileType::DeviceKey)? {
            let object = format!("{}/{}", FileType::DeviceKey.dir(), obj.name);
            let bytes = match self.backend.get(FileType::DeviceKey, &obj.name) {
                Ok(b) => b,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e.into()),
            };
            let key = self
                .keys
                .open_object(ObjectKind::DeviceKey, &bytes)
                .map_err(|e| RepoError::corrupt(&object, e))
                .and_then(|p| DeviceKey::decode(&p).map_err(|e| RepoError::corrupt(&object, e)))?;
            if &key.kdf_digest == kdf_digest {
                found.push((key.created, key.kek));
            }
        }
        found.sort_by_key(|(created, _)| std::cmp::Reverse(*created));
        Ok(found.into_iter().map(|(_, kek)| kek).collect())
    }

    /// Stores a device key. Written before any snapshot that needs it (write order, §11).
    pub fn save_device_key(&self, key: &DeviceKey) -> Result<(), RepoError> {
        let file = self.keys.seal_object(ObjectKind::DeviceKey, &key.encode());
        let name = hex::encode(self.keys.object_id(&file));
        self.backend
            .put_if_absent(FileType::DeviceKey, &name, &file)?;
        Ok(())
    }
}
