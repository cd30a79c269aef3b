//! Named objects (`docs/format.md` §2, §5.2): index segments, snapshots and device keys are
//! sealed whole and named by the keyed hash of their file bytes. This is their one way in
//! ([`put_sealed`]) and out ([`Repository::get_verified`]), so that every reader checks the
//! name and every writer asks its lock at the same two points.

use crate::error::RepoError;
use crate::lock::Freshness;
use crate::repository::Repository;
use hearth_crypto::Keys;
use hearth_format::{FileHeader, ObjectKind};
use hearth_storage::{Backend, FileType};

/// Where objects of `kind` are stored; `None` for kinds not named by their hash.
fn folder(kind: ObjectKind) -> Option<FileType> {
    match kind {
        ObjectKind::Index => Some(FileType::Index),
        ObjectKind::Snapshot => Some(FileType::Snapshot),
        ObjectKind::DeviceKey => Some(FileType::DeviceKey),
        _ => None,
    }
}

/// An object's payload as read, and the layout its header names (§3).
pub(crate) struct Opened {
    pub payload: Vec<u8>,
    pub layout: u8,
}

/// Seals `payload` as a `kind` object and puts it under the keyed hash of its bytes; returns
/// that name. Under a lock (`freshness`), the lock is asked before the put and after it: an
/// object whose put returned only after the lock was lost is deleted again (a prune elsewhere
/// may meanwhile have deleted what it names), and the loss is returned. Best effort: if that
/// delete fails too, `check` reports what the object names that is gone, and `repair` mends it.
pub(crate) fn put_sealed(
    backend: &dyn Backend,
    keys: &Keys,
    freshness: Option<&Freshness>,
    kind: ObjectKind,
    payload: &[u8],
) -> Result<[u8; 32], RepoError> {
    let t = folder(kind).expect("only objects named by their hash are put here");
    let file = keys.seal_object(kind, payload);
    let id = keys.object_id(&file);
    let name = hex::encode(id);
    if let Some(f) = freshness {
        f.check()?;
    }
    backend.put(t, &name, &file)?;
    if let Some(Err(lost)) = freshness.map(Freshness::check) {
        let _ = backend.delete(t, &name);
        return Err(lost);
    }
    Ok(id)
}

impl Repository {
    /// The payload of the `kind` object named `id`, checked against its name and opened: a
    /// mismatch or a seal that does not open is damage naming the object.
    pub(crate) fn get_verified(
        &self,
        kind: ObjectKind,
        id: &[u8; 32],
    ) -> Result<Opened, RepoError> {
        let t = folder(kind).expect("only objects named by their hash are read here");
        let name = hex::encode(id);
        let object = format!("{}/{name}", t.dir());
        let file = self.backend.get(t, &name)?;
        if self.keys.object_id(&file) != *id {
            return Err(RepoError::corrupt(
                object,
                "content does not match its name",
            ));
        }
        let payload = self
            .keys
            .open_object(kind, &file)
            .map_err(|e| RepoError::corrupt(&object, e))?;
        Ok(Opened {
            payload,
            layout: FileHeader::version(&file),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_storage::LocalBackend;

    #[test]
    fn an_object_is_named_by_the_keyed_hash_of_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::create(dir.path()).unwrap();
        let keys = hearth_crypto::MasterKey::generate().keys();
        let id = put_sealed(&backend, &keys, None, ObjectKind::Index, b"segment").unwrap();
        let file = backend.get(FileType::Index, &hex::encode(id)).unwrap();
        assert_eq!(keys.object_id(&file), id);
        assert_eq!(
            keys.open_object(ObjectKind::Index, &file).unwrap(),
            b"segment"
        );
    }

    #[test]
    fn a_put_under_a_lost_lock_is_refused_before_and_undone_after() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::create(dir.path()).unwrap();
        let keys = hearth_crypto::MasterKey::generate().keys();
        let freshness = Freshness::fresh();
        freshness.slept(std::time::Duration::from_secs(30 * 60));
        let put = put_sealed(
            &backend,
            &keys,
            Some(&freshness),
            ObjectKind::Snapshot,
            b"s",
        );
        assert!(matches!(put, Err(RepoError::LockLost { .. })), "{put:?}");
        assert!(backend.list(FileType::Snapshot).unwrap().is_empty());
    }
}
