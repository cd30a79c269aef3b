//! What an encrypted backup's records become in an unencrypted backup of the same content: a
//! restore image that holds a backup's plaintext (`hearth restore --decrypted`).
//!
//! An unencrypted backup has no `BackupKeyBag` or `ManifestKey` in Manifest.plist, says
//! `IsEncrypted` false, and its MBFile records carry no `EncryptionKey` (format reference
//! §6.5). Everything else is the same, so everything else is kept as it is: these functions
//! take those keys out and touch nothing more, which is what makes the image read as an
//! unencrypted backup's would.

use crate::bounded_plist::parse_value;
use crate::mbfile::{MbFile, MbFileError};
use plist::{Dictionary, Uid, Value};

/// Manifest.plist's keys that only an encrypted backup has.
const ENCRYPTION_KEYS: [&str; 2] = ["BackupKeyBag", "ManifestKey"];

/// `manifest` (a Manifest.plist) as an unencrypted backup has it: `IsEncrypted` false (in its
/// place, or added), without `BackupKeyBag` and `ManifestKey`; every other key kept, in order.
pub fn unencrypted_manifest(manifest: &Dictionary) -> Dictionary {
    let mut out = manifest.clone();
    out.retain(|key, _| !ENCRYPTION_KEYS.contains(&key.as_str()));
    out.insert("IsEncrypted".to_owned(), Value::Boolean(false));
    out
}

/// The MBFile archive `bytes` as an unencrypted backup records it: without `EncryptionKey`
/// (and without the objects only it referred to), and with `Size` set to `size` when given.
/// `ProtectionClass` is kept; when the archive has none, the class the `EncryptionKey` named
/// (its first 4 bytes, little-endian) is recorded there instead, so that the file's Data
/// Protection class survives the key. Every other key and object is kept, in its order, so an
/// archive Apple wrote comes out as Apple writes an unencrypted one. Returns `None` when there
/// is nothing to change, and an error when `bytes` is not an MBFile archive (the caller then
/// keeps it as it is).
pub fn unencrypted_mbfile(bytes: &[u8], size: Option<u64>) -> Result<Option<Vec<u8>>, MbFileError> {
    let file = MbFile::decode(bytes)?;
    let keyless = file.encryption_key.is_none();
    if keyless && size.is_none_or(|s| file.size == Some(s)) {
        return Ok(None);
    }
    let value = parse_value(bytes).map_err(|e| MbFileError::NotPlist(e.to_string()))?;
    let Value::Dictionary(mut archive) = value else {
        return Err(shape("top level is not a dictionary"));
    };
    let root = root_index(&archive)?;
    let objects = match archive.get_mut("$objects") {
        Some(Value::Array(objects)) => objects,
        _ => return Err(shape("no $objects array")),
    };
    let Some(Value::Dictionary(root)) = objects.get_mut(root) else {
        return Err(shape("$top.root is not a dictionary in $objects"));
    };
    root.retain(|key, _| key != "EncryptionKey");
    let class = file.encryption_key.as_deref().and_then(key_class);
    if let (None, Some(class)) = (file.protection_class, class) {
        root.insert("ProtectionClass".to_owned(), Value::Integer(class.into()));
    }
    if let Some(size) = size {
        root.insert("Size".to_owned(), Value::Integer(size.into()));
    }
    drop_unreferenced(&mut archive);
    let mut out = Vec::new();
    Value::Dictionary(archive)
        .to_writer_binary(&mut out)
        .map_err(|e| MbFileError::NotPlist(e.to_string()))?;
    Ok(Some(out))
}

fn shape(what: &str) -> MbFileError {
    MbFileError::NotKeyedArchive(what.to_owned())
}

/// The protection class a wrapped key names: `u32 LE` of its first 4 bytes.
fn key_class(key: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(key.get(..4)?.try_into().ok()?))
}

/// The index in `$objects` of the root object (`$top.root`).
fn root_index(archive: &Dictionary) -> Result<usize, MbFileError> {
    let uid = archive
        .get("$top")
        .and_then(Value::as_dictionary)
        .and_then(|top| top.get("root"))
        .and_then(Value::as_uid)
        .ok_or_else(|| shape("no $top.root UID"))?;
    usize::try_from(uid.get()).map_err(|_| shape("$top.root is out of range"))
}

/// Removes the objects of `$objects` that nothing refers to any more (from `$top`, directly or
/// through other objects), renumbering the UIDs of the rest. Object 0 (`$null`, which UID 0
/// means) always stays.
fn drop_unreferenced(archive: &mut Dictionary) {
    let Some(Value::Array(objects)) = archive.get("$objects") else {
        return;
    };
    let mut reached = vec![false; objects.len()];
    if let Some(first) = reached.first_mut() {
        *first = true;
    }
    let mut pending: Vec<&Value> = archive.get("$top").into_iter().collect();
    while let Some(v) = pending.pop() {
        match v {
            Value::Uid(uid) => {
                let i = usize::try_from(uid.get()).unwrap_or(usize::MAX);
                if let Some(false) = reached.get(i) {
                    reached[i] = true;
                    pending.push(&objects[i]);
                }
            }
            Value::Array(items) => pending.extend(items),
            Value::Dictionary(d) => pending.extend(d.values()),
            _ => {}
        }
    }
    // New index of each object kept; a UID to an object that is not there stays as it was
    // (the decoder refused such archives already: this only keeps the rewrite total).
    let mut renumbered = Vec::with_capacity(reached.len());
    let mut next = 0u64;
    for &kept in &reached {
        renumbered.push(next);
        next += u64::from(kept);
    }
    let renumber = |v: &mut Value| {
        let mut pending = vec![v];
        while let Some(v) = pending.pop() {
            match v {
                Value::Uid(uid) => {
                    let i = usize::try_from(uid.get()).unwrap_or(usize::MAX);
                    if let Some(&n) = renumbered.get(i) {
                        *uid = Uid::new(n);
                    }
                }
                Value::Array(items) => pending.extend(items.iter_mut()),
                Value::Dictionary(d) => pending.extend(d.values_mut()),
                _ => {}
            }
        }
    };
    if let Some(Value::Array(objects)) = archive.get_mut("$objects") {
        let mut i = 0;
        objects.retain(|_| {
            i += 1;
            reached[i - 1]
        });
        objects.iter_mut().for_each(renumber);
    }
    if let Some(top) = archive.get_mut("$top") {
        renumber(top);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encrypted_file() -> MbFile {
        MbFile {
            relative_path: Some("Library/Health/healthdb_secure.sqlite".to_owned()),
            last_modified: Some(1_700_000_000),
            last_status_change: Some(1_700_000_001),
            birth: Some(1_600_000_000),
            size: Some(278_528),
            mode: Some(0o100644),
            user_id: Some(501),
            group_id: Some(501),
            inode_number: Some(45_856),
            flags: Some(0),
            protection_class: Some(3),
            encryption_key: Some([vec![3, 0, 0, 0], vec![0xab; 40]].concat()),
            digest: Some(vec![0x99; 20]),
            extended_attributes: Some(b"bplist00xattrs".to_vec()),
            target: None,
        }
    }

    fn without_key(f: &MbFile) -> MbFile {
        MbFile {
            encryption_key: None,
            ..f.clone()
        }
    }

    #[test]
    fn an_encrypted_backups_mbfile_becomes_the_archive_apple_writes_without_a_key() {
        let f = encrypted_file();
        let out = unencrypted_mbfile(&f.encode(), None).unwrap().unwrap();
        assert_eq!(
            out,
            without_key(&f).encode(),
            "byte for byte the keyless layout"
        );
        let back = MbFile::decode(&out).unwrap();
        assert_eq!(back.protection_class, Some(3));
        assert_eq!(back.size, Some(278_528));
        let text = format!(
            "{:?}",
            Value::from_reader(std::io::Cursor::new(&out)).unwrap()
        );
        assert!(
            !text.contains("NSMutableData") && !text.contains("EncryptionKey"),
            "{text}"
        );
    }

    #[test]
    fn a_keyless_archive_is_left_alone_unless_its_size_changes() {
        let f = without_key(&encrypted_file());
        assert_eq!(unencrypted_mbfile(&f.encode(), None), Ok(None));
        assert_eq!(unencrypted_mbfile(&f.encode(), Some(278_528)), Ok(None));
        let out = unencrypted_mbfile(&f.encode(), Some(9)).unwrap().unwrap();
        assert_eq!(MbFile::decode(&out).unwrap().size, Some(9));
    }

    #[test]
    fn a_missing_size_and_protection_class_are_recorded() {
        let f = MbFile {
            size: None,
            protection_class: None,
            ..encrypted_file()
        };
        let out = unencrypted_mbfile(&f.encode(), Some(278_000))
            .unwrap()
            .unwrap();
        let back = MbFile::decode(&out).unwrap();
        assert_eq!(
            back,
            MbFile {
                size: Some(278_000),
                protection_class: Some(3),
                ..without_key(&f)
            },
            "the class from the key's first 4 bytes (little-endian)"
        );
    }

    /// An archive laid out as another writer might: `NS.data` a UID to the data object, an
    /// unknown key beside, the MBFile class without NSObject. All of it but the key stays.
    #[test]
    fn other_layouts_keep_every_other_key_and_object() {
        let uid = |i| Value::Uid(Uid::new(i));
        let dict = |pairs: &[(&str, Value)]| {
            let mut d = Dictionary::new();
            for (k, v) in pairs {
                d.insert((*k).to_owned(), v.clone());
            }
            Value::Dictionary(d)
        };
        let class = |names: &[&str]| {
            dict(&[
                ("$classname", Value::String(names[0].into())),
                (
                    "$classes",
                    Value::Array(names.iter().map(|n| Value::String((*n).into())).collect()),
                ),
            ])
        };
        let objects = vec![
            Value::String("$null".into()),
            dict(&[
                ("$class", uid(7)),
                ("Size", Value::Integer(9.into())),
                ("Mode", Value::Integer(33261.into())),
                ("RelativePath", uid(2)),
                ("EncryptionKey", uid(3)),
                ("Vendor", uid(6)),
            ]),
            Value::String("Media/Test.txt".into()),
            dict(&[("$class", uid(4)), ("NS.data", uid(5))]),
            class(&["NSMutableData", "NSData", "NSObject"]),
            Value::Data([vec![2, 0, 0, 0], vec![1; 40]].concat()),
            Value::String("kept".into()),
            class(&["MBFile"]),
        ];
        let mut archive = Dictionary::new();
        archive.insert("$archiver".into(), Value::String("NSKeyedArchiver".into()));
        archive.insert("$version".into(), Value::Integer(100_000.into()));
        archive.insert("$top".into(), dict(&[("root", uid(1))]));
        archive.insert("$objects".into(), Value::Array(objects));
        let mut bytes = Vec::new();
        Value::Dictionary(archive)
            .to_writer_binary(&mut bytes)
            .unwrap();

        let out = unencrypted_mbfile(&bytes, None).unwrap().unwrap();
        let back = MbFile::decode(&out).unwrap();
        assert_eq!(
            (
                back.size,
                back.mode,
                back.protection_class,
                back.encryption_key
            ),
            (Some(9), Some(33261), Some(2), None)
        );
        assert_eq!(back.relative_path.as_deref(), Some("Media/Test.txt"));
        let value = Value::from_reader(std::io::Cursor::new(&out)).unwrap();
        let objects = value.as_dictionary().unwrap()["$objects"]
            .as_array()
            .unwrap();
        assert_eq!(
            objects.len(),
            5,
            "$null, root, path, Vendor's string, class"
        );
        let root = objects[1].as_dictionary().unwrap();
        let vendor = root["Vendor"].as_uid().unwrap().get() as usize;
        assert_eq!(objects[vendor].as_string(), Some("kept"));
    }

    #[test]
    fn what_is_not_an_mbfile_is_an_error() {
        assert!(unencrypted_mbfile(b"not a plist", None).is_err());
    }

    #[test]
    fn manifest_plist_loses_its_keys_and_says_it_is_not_encrypted() {
        let mut m = Dictionary::new();
        m.insert("BackupKeyBag".into(), Value::Data(vec![1; 8]));
        m.insert("Version".into(), Value::String("10.0".into()));
        m.insert("IsEncrypted".into(), Value::Boolean(true));
        m.insert("ManifestKey".into(), Value::Data(vec![2; 44]));
        m.insert("WasPasscodeSet".into(), Value::Boolean(true));
        let out = unencrypted_manifest(&m);
        let keys: Vec<_> = out.keys().map(String::as_str).collect();
        assert_eq!(keys, ["Version", "IsEncrypted", "WasPasscodeSet"]);
        assert_eq!(out["IsEncrypted"], Value::Boolean(false));
    }

    proptest! {
        /// Whatever the MBFile, the rewrite is the same record without its key (and with the
        /// key's class when it had none); with a ProtectionClass, byte for byte what the
        /// encoder writes for the keyless record.
        #[test]
        fn the_rewrite_is_the_record_without_its_key(
            f in crate::mbfile::tests::any_mbfile(),
            size in proptest::option::of(any::<u64>()),
        ) {
            let out = unencrypted_mbfile(&f.encode(), size).unwrap();
            let expected = MbFile {
                encryption_key: None,
                size: size.or(f.size),
                protection_class: f.protection_class.or_else(|| {
                    f.encryption_key.as_deref().and_then(key_class)
                }),
                ..f.clone()
            };
            match out {
                None => prop_assert_eq!(&without_key(&f), &f),
                Some(out) => {
                    prop_assert_eq!(MbFile::decode(&out), Ok(expected.clone()));
                    if f.protection_class.is_some() && (size.is_none() || f.size.is_some()) {
                        prop_assert_eq!(out, expected.encode());
                    }
                }
            }
        }

        #[test]
        fn the_rewrite_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = unencrypted_mbfile(&bytes, Some(1));
        }
    }
}
