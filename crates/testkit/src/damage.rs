//! Bad encrypted inputs for tests: each function spoils one generated, encrypted device folder
//! in place, the way real encrypted backups go wrong or older iOS versions wrote them.
//!
//! ```no_run
//! use hearth_testkit::{HouseholdSpec, damage, generate};
//!
//! # fn main() -> Result<(), hearth_testkit::Error> {
//! let household = generate(&HouseholdSpec::tiny_mixed("pw"), std::path::Path::new("/tmp/h"))?;
//! let iphone = &household.devices[0].folder;
//! damage::truncate_blob_short(iphone, "HomeDomain", "Library/SMS/sms.db")?;
//! # Ok(())
//! # }
//! ```

use std::fs::OpenOptions;
use std::path::Path;

use hearth_mobilesync::encryption::{KdfParams, Keybag, WrappedKey};
use hearth_mobilesync::{
    FileId, MANIFEST_DB, MANIFEST_PLIST, ManifestDb, MbFile, read_plist_dictionary,
    write_plist_binary,
};
use plist::{Dictionary, Value};

use crate::crypt;
use crate::error::{Context, Error};

/// Keybag bytes kept by [`corrupt_keybag`]: `VERS` and `TYPE` (12 bytes each) and half of the
/// keybag's `UUID`, so that a value runs past the end.
const KEYBAG_CUT: usize = 30;

/// Cuts Manifest.plist's `BackupKeyBag` in the middle of a value, so it no longer parses.
pub fn corrupt_keybag(folder: &Path) -> Result<(), Error> {
    edit_manifest_plist(folder, |dict| match dict.get_mut("BackupKeyBag") {
        Some(Value::Data(bag)) => {
            bag.truncate(KEYBAG_CUT);
            Ok(())
        }
        _ => Err("Manifest.plist has no BackupKeyBag"),
    })
}

/// Cuts 7 bytes off the blob of `domain` / `relative_path`, so that its length is no longer a
/// whole number of AES blocks. Returns the new length.
pub fn truncate_blob_unaligned(
    folder: &Path,
    domain: &str,
    relative_path: &str,
) -> Result<u64, Error> {
    cut_blob(folder, domain, relative_path, 7)
}

/// Cuts two AES blocks (32 bytes) off the blob of `domain` / `relative_path`: still whole
/// blocks, but shorter than its `Size`, like the incomplete files real backups hold. Returns the
/// new length. Choose a file of at least 32 bytes.
pub fn truncate_blob_short(folder: &Path, domain: &str, relative_path: &str) -> Result<u64, Error> {
    cut_blob(folder, domain, relative_path, 32)
}

fn cut_blob(folder: &Path, domain: &str, relative_path: &str, cut: u64) -> Result<u64, Error> {
    let blob = folder.join(FileId::for_path(domain, relative_path).blob_path());
    let file = OpenOptions::new().write(true).open(&blob).at(&blob)?;
    let len = file.metadata().at(&blob)?.len().saturating_sub(cut);
    file.set_len(len).at(&blob)?;
    Ok(len)
}

/// Takes the `Size` out of the MBFile of `domain` / `relative_path` in an encrypted device's
/// Manifest.db (encrypted again under its ManifestKey), as some writers leave it out: a reader
/// must then take the file's length from its padding, not from a Size of 0.
pub fn drop_size(
    folder: &Path,
    password: &str,
    domain: &str,
    relative_path: &str,
) -> Result<(), Error> {
    let db = folder.join(MANIFEST_DB);
    let keys = crypt::unlock(folder, password)?;
    let wrapped = crypt::manifest_key(folder)?.unwrap_or_default();
    let wrapped = WrappedKey::parse(&wrapped).at(&db)?;
    let key = keys.class_keys.unwrap(&wrapped).at(&db)?;
    let scratch = tempfile::tempdir().at(&db)?;
    let plain = scratch.path().join(MANIFEST_DB);
    crypt::decrypt_file(&db, &plain, &key)?;
    let id = FileId::for_path(domain, relative_path).to_string();
    let mut found = false;
    let bytes = std::fs::read(&plain).at(&plain)?;
    let edited = ManifestDb::rebuilt(
        bytes,
        &Default::default(),
        |row, file| {
            let mut f = MbFile::decode(file).ok().filter(|_| row == id)?;
            found = true;
            f.size = None;
            Some(f.encode())
        },
        &db,
    )?;
    if !found {
        return Err(Error::NotGenerated {
            path: db,
            reason: format!("no row {domain}/{relative_path}"),
        });
    }
    std::fs::write(&plain, edited).at(&plain)?;
    crypt::encrypt_file(&plain, &db, &key)
}

/// Rewrites the folder as iOS 10.0 and 10.1 wrote encrypted backups: `IsEncrypted` still true
/// and every blob still encrypted under its key, but Manifest.db in plaintext SQLite, no
/// `ManifestKey`, and a keybag without the iOS 10.2 first PBKDF2 round (no `DPSL`/`DPIC`; the
/// same class keys, wrapped under `PBKDF2-SHA1(password, SALT, ITER)`). The iOS version in the
/// plists is left as it was, so a reader must tell from the structure.
pub fn ios_10_1_style(folder: &Path, password: &str) -> Result<(), Error> {
    let plist = folder.join(MANIFEST_PLIST);
    let keys = crypt::unlock(folder, password)?;
    let wrapped = crypt::manifest_key(folder)?.unwrap_or_default();
    let wrapped = WrappedKey::parse(&wrapped).at(&plist)?;
    let key = keys.class_keys.unwrap(&wrapped).at(&plist)?;
    let db = folder.join(MANIFEST_DB);
    let plain = folder.join("Manifest.db.decrypting");
    crypt::decrypt_file(&db, &plain, &key)?;
    std::fs::rename(&plain, &db).at(&db)?;

    let bag = crypt::read_keybag(folder)?;
    let kdf = KdfParams {
        dp: None,
        ..bag.kdf
    };
    let uuid: [u8; 16] = bag.uuid.try_into().map_err(|_| Error::NotGenerated {
        path: plist.clone(),
        reason: "the keybag UUID is not 16 bytes".into(),
    })?;
    let kek = kdf.derive(password.as_bytes());
    let old_bag = Keybag::build(uuid, &kdf, &kek, &keys.class_keys, [0; 40]);
    edit_manifest_plist(folder, |dict| {
        dict.remove("ManifestKey");
        dict.insert("BackupKeyBag".into(), Value::Data(old_bag));
        Ok(())
    })
}

/// Reads Manifest.plist, applies `edit` (which names what is missing when it fails) and writes
/// it back.
fn edit_manifest_plist(
    folder: &Path,
    edit: impl FnOnce(&mut Dictionary) -> Result<(), &'static str>,
) -> Result<(), Error> {
    let path = folder.join(MANIFEST_PLIST);
    let mut dict = read_plist_dictionary(&path)?;
    edit(&mut dict).map_err(|reason| Error::NotGenerated {
        path: path.clone(),
        reason: reason.into(),
    })?;
    Ok(write_plist_binary(&path, &dict)?)
}
