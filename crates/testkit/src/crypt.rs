//! Encrypted device backups as iOS ≥ 10.2 writes them (format reference §6): a keybag locked
//! by the device's password, a random key per file wrapped under the file's protection class,
//! and every blob and Manifest.db encrypted with AES-256-CBC (IV 0, PKCS#7 padding).
//!
//! Invariants:
//! * key material is drawn from its own seed stream (`keys`), never from the streams content
//!   comes from, so an encrypted device holds exactly its unencrypted twin's plaintext;
//! * plaintext being written or edited lives in a private scratch folder outside the device
//!   folder, so a device folder never holds a plaintext blob or Manifest.db, even briefly.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use hearth_mobilesync::encryption::{
    ClassKeys, DecryptingReader, EncryptingWriter, KdfParams, Keybag, WrappedKey,
};
use hearth_mobilesync::{MANIFEST_PLIST, ManifestInfo};
use rand::RngExt;
use tempfile::TempDir;

use crate::content::Rng;
use crate::error::{Context, Error};
use crate::spec::EncryptionSpec;

/// Protection classes a backup keybag holds keys for: 1–4 for files, 6–11 for the keychain.
const CLASSES: std::ops::RangeInclusive<u32> = 1..=11;

/// The keys of an encrypted device: its password and the class keys the password unlocks
/// (kept so that edits need not repeat the slow key derivation).
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceKeys {
    pub password: String,
    pub class_keys: ClassKeys,
}

impl std::fmt::Debug for DeviceKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceKeys {{ password: .., {:?} }}", self.class_keys)
    }
}

/// A new backup keybag for `spec`: random UUID, salts and class keys from `rng`, each class
/// key wrapped under the key `spec.password` derives (slow at [`crate::KdfCost::apple`]).
pub(crate) fn new_keybag(spec: &EncryptionSpec, rng: &mut Rng) -> (Vec<u8>, DeviceKeys) {
    let class_keys = ClassKeys(CLASSES.map(|c| (c, random::<32>(rng))).collect());
    let kdf = KdfParams {
        salt: random::<20>(rng).to_vec(),
        iterations: spec.kdf.iterations,
        dp: Some((random::<20>(rng).to_vec(), spec.kdf.dp_iterations)),
    };
    let kek = kdf.derive(spec.password.as_bytes());
    let bytes = Keybag::build(random(rng), &kdf, &kek, &class_keys, random(rng));
    let keys = DeviceKeys {
        password: spec.password.clone(),
        class_keys,
    };
    (bytes, keys)
}

/// The keybag in a device folder's Manifest.plist.
pub(crate) fn read_keybag(folder: &Path) -> Result<Keybag, Error> {
    let plist = folder.join(MANIFEST_PLIST);
    let bytes = ManifestInfo::read(&plist)?
        .backup_keybag
        .unwrap_or_default();
    Keybag::parse(&bytes).at(plist)
}

/// Unlocks a device folder's keybag with `password` (slow at Apple's cost).
pub(crate) fn unlock(folder: &Path, password: &str) -> Result<DeviceKeys, Error> {
    let bag = read_keybag(folder)?;
    let class_keys = bag
        .unlock(&bag.kdf.derive(password.as_bytes()))
        .at(folder.join(MANIFEST_PLIST))?;
    Ok(DeviceKeys {
        password: password.to_owned(),
        class_keys,
    })
}

/// `Manifest.plist:ManifestKey` (`None` in an unencrypted folder).
pub(crate) fn manifest_key(folder: &Path) -> Result<Option<Vec<u8>>, Error> {
    Ok(ManifestInfo::read(&folder.join(MANIFEST_PLIST))?.manifest_key)
}

pub(crate) fn random<const N: usize>(rng: &mut Rng) -> [u8; N] {
    let mut bytes = [0u8; N];
    rng.fill(&mut bytes[..]);
    bytes
}

/// Where a device's blobs (and Manifest.db) are written and edited: in place when the device is
/// unencrypted; else through a scratch file outside the device folder, encrypted into place.
#[derive(Default)]
pub(crate) struct Sealer {
    crypt: Option<(ClassKeys, TempDir)>,
}

impl Sealer {
    /// In place (`None`) or encrypted under `keys`.
    pub(crate) fn new(keys: Option<&DeviceKeys>) -> Result<Self, Error> {
        let crypt = match keys {
            None => None,
            Some(k) => {
                let scratch = tempfile::Builder::new()
                    .prefix("hearth-testkit-plain-")
                    .tempdir()
                    .at(std::env::temp_dir())?;
                Some((k.class_keys.clone(), scratch))
            }
        };
        Ok(Sealer { crypt })
    }

    /// Writes a new file at `blob` through `write(path)`; when encrypted, under a new random
    /// key of protection `class` drawn from `key_rng`. Returns the plaintext size and the
    /// wrapped key (the MBFile `EncryptionKey`, `None` when unencrypted).
    pub(crate) fn create(
        &self,
        blob: &Path,
        class: u32,
        key_rng: &mut Rng,
        write: impl FnOnce(&Path) -> Result<(), Error>,
    ) -> Result<(u64, Option<Vec<u8>>), Error> {
        let Some((class_keys, scratch)) = &self.crypt else {
            return Ok((in_place(blob, write)?.1, None));
        };
        let key = random::<32>(key_rng);
        let wrapped = WrappedKey::wrap(class_keys, class, &key).at(blob)?;
        let ((), size) = seal(&scratch_path(scratch, blob), blob, &key, write)?;
        Ok((size, Some(wrapped.0.to_vec())))
    }

    /// Edits the file at `blob` through `edit(path)`, keeping its key (`wrapped`: the row's
    /// `EncryptionKey`, or the `ManifestKey` for Manifest.db). Returns what `edit` returned and
    /// the new plaintext size.
    pub(crate) fn edit<R>(
        &self,
        blob: &Path,
        wrapped: Option<&[u8]>,
        edit: impl FnOnce(&Path) -> Result<R, Error>,
    ) -> Result<(R, u64), Error> {
        let Some((class_keys, scratch)) = &self.crypt else {
            return in_place(blob, edit);
        };
        let wrapped = WrappedKey::parse(wrapped.unwrap_or_default()).at(blob)?;
        let key = class_keys.unwrap(&wrapped).at(blob)?;
        let plain = scratch_path(scratch, blob);
        decrypt_file(blob, &plain, &key)?;
        seal(&plain, blob, &key, edit)
    }
}

fn in_place<R>(blob: &Path, f: impl FnOnce(&Path) -> Result<R, Error>) -> Result<(R, u64), Error> {
    let r = f(blob)?;
    Ok((r, file_len(blob)?))
}

fn scratch_path(scratch: &TempDir, blob: &Path) -> PathBuf {
    scratch
        .path()
        .join(blob.file_name().expect("a blob path names a file"))
}

fn file_len(path: &Path) -> Result<u64, Error> {
    Ok(std::fs::metadata(path).at(path)?.len())
}

/// Runs `f(plain)`, then encrypts `plain` into `blob` (replacing it) and removes `plain`, also
/// when something failed. Returns what `f` returned and the plaintext size.
fn seal<R>(
    plain: &Path,
    blob: &Path,
    key: &[u8; 32],
    f: impl FnOnce(&Path) -> Result<R, Error>,
) -> Result<(R, u64), Error> {
    let result = f(plain).and_then(|r| {
        let size = file_len(plain)?;
        encrypt_file(plain, blob, key)?;
        Ok((r, size))
    });
    match std::fs::remove_file(plain) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).at(plain),
        _ => result,
    }
}

/// Replaces `cipher` by `plain` encrypted (AES-256-CBC, IV 0, PKCS#7), through a sibling file
/// renamed over it.
pub(crate) fn encrypt_file(plain: &Path, cipher: &Path, key: &[u8; 32]) -> Result<(), Error> {
    let name = cipher.file_name().expect("a file").to_string_lossy();
    let tmp = cipher.with_file_name(format!("{name}.sealing"));
    let mut input = File::open(plain).at(plain)?;
    let mut out = EncryptingWriter::new(BufWriter::new(File::create(&tmp).at(&tmp)?), key);
    std::io::copy(&mut input, &mut out).at(&tmp)?;
    out.finish(true).and_then(|mut w| w.flush()).at(&tmp)?;
    std::fs::rename(&tmp, cipher).at(cipher)
}

/// Writes the plaintext of `cipher` to `plain` (padding checked and removed).
pub(crate) fn decrypt_file(cipher: &Path, plain: &Path, key: &[u8; 32]) -> Result<(), Error> {
    let input = File::open(cipher).at(cipher)?;
    let mut reader = DecryptingReader::new(input, key, file_len(cipher)?, None).at(cipher)?;
    let mut out = BufWriter::new(File::create(plain).at(plain)?);
    std::io::copy(&mut reader, &mut out).at(cipher)?;
    out.flush().at(plain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Seeds;

    fn keys() -> DeviceKeys {
        let (_, keys) = new_keybag(&EncryptionSpec::fast("pw"), &mut Seeds::new(1).rng());
        keys
    }

    #[test]
    fn created_files_decrypt_and_edits_keep_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let blob = dir.path().join("ab");
        let sealer = Sealer::new(Some(&keys())).unwrap();
        let mut rng = Seeds::new(2).rng();
        let (size, wrapped) = sealer
            .create(&blob, 3, &mut rng, |p| std::fs::write(p, b"hello").at(p))
            .unwrap();
        assert_eq!((size, file_len(&blob).unwrap()), (5, 16));
        let wrapped = wrapped.unwrap();
        assert_eq!(&wrapped[..4], &[3, 0, 0, 0]);
        let (old, size) = sealer
            .edit(&blob, Some(&wrapped), |p| {
                let old = std::fs::read(p).at(p)?;
                std::fs::write(p, [&old[..], b", world!!!!!"].concat()).at(p)?;
                Ok(old)
            })
            .unwrap();
        assert_eq!((old.as_slice(), size), (&b"hello"[..], 17));
        assert_eq!(file_len(&blob).unwrap(), 32);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
        let scratch = sealer.crypt.as_ref().unwrap().1.path();
        assert_eq!(
            std::fs::read_dir(scratch).unwrap().count(),
            0,
            "no plaintext left"
        );
    }

    #[test]
    fn unencrypted_files_are_written_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let blob = dir.path().join("ab");
        let sealer = Sealer::new(None).unwrap();
        let mut rng = Seeds::new(2).rng();
        let created = sealer
            .create(&blob, 3, &mut rng, |p| std::fs::write(p, b"hello").at(p))
            .unwrap();
        assert_eq!(created, (5, None));
        assert_eq!(std::fs::read(&blob).unwrap(), b"hello");
    }
}
