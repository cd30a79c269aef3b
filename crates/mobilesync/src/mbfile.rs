//! `MBFile`: the NSKeyedArchiver binary plist in the `file` column of Manifest.db.
//!
//! Layout Apple writes (format reference §2.1):
//!
//! ```text
//! { "$archiver": "NSKeyedArchiver", "$version": 100000, "$top": { "root": UID(1) },
//!   "$objects": [ "$null",
//!                 { "$class": UID -> MBFile class, scalar keys inline,
//!                   "RelativePath"/"Target": UID -> string, "Digest"/"ExtendedAttributes": UID -> data,
//!                   "EncryptionKey": UID -> { "NS.data": data, "$class": UID -> NSMutableData class } },
//!                 …objects in the order RelativePath, Target, Digest, EncryptionKey, its class,
//!                 ExtendedAttributes, MBFile class ] }
//! ```
//!
//! The decoder resolves UIDs generically (a value may be inline or a UID to it, `NS.data` may be
//! inline or a UID, data may be raw or wrapped in an NSData dict), so it also reads archives from
//! other writers. UID 0 (`$null`) means "absent". The bytes are untrusted: every failure is an
//! [`MbFileError`], never a panic, and UID chains are bounded so a cycle cannot hang it.

use crate::bplist::{Bplist, Ints, Obj, utf16_units};
use plist::{Dictionary, Uid, Value};

/// Scalar and object fields of one MBFile. `None` means the key was absent; in particular a
/// missing `Size` is `None`, never 0.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MbFile {
    pub relative_path: Option<String>,
    /// Unix seconds.
    pub last_modified: Option<i64>,
    /// Unix seconds.
    pub last_status_change: Option<i64>,
    /// Unix seconds.
    pub birth: Option<i64>,
    /// Plaintext length in bytes.
    pub size: Option<u64>,
    /// `st_mode` including the type bits.
    pub mode: Option<u32>,
    pub user_id: Option<i64>,
    pub group_id: Option<i64>,
    pub inode_number: Option<u64>,
    /// BSD `st_flags`.
    pub flags: Option<u64>,
    /// Data Protection class (1–4 for files).
    pub protection_class: Option<u32>,
    /// `NS.data` of the NSMutableData: u32 LE class + 40-byte wrapped key. Its presence says
    /// nothing about whether the backup is encrypted.
    pub encryption_key: Option<Vec<u8>>,
    /// 20 bytes on some system files; not verified to be a content hash, do not use for dedup.
    pub digest: Option<Vec<u8>>,
    /// Raw bytes (themselves a bplist of xattr name → data).
    pub extended_attributes: Option<Vec<u8>>,
    /// Symlink target, an absolute device path.
    pub target: Option<String>,
}

/// Why a `file` column could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MbFileError {
    /// The column is NULL.
    #[error("MBFile column is empty (NULL)")]
    Missing,
    /// The bytes are not a property list.
    #[error("MBFile is not a property list: {0}")]
    NotPlist(String),
    /// A property list, but not a keyed archive of the expected shape.
    #[error("MBFile is not an NSKeyedArchiver archive: {0}")]
    NotKeyedArchive(String),
    /// A keyed archive of some other class.
    #[error("archive root is of class {0:?}, expected MBFile")]
    WrongClass(String),
    /// A UID points outside `$objects` or UIDs form a chain that is too long (a cycle).
    #[error("MBFile key {key:?}: {problem}")]
    BadReference { key: String, problem: String },
    /// A key holds a value of the wrong type or out of range.
    #[error("MBFile key {key:?} should be {expected}")]
    WrongType { key: String, expected: &'static str },
}

/// UID chains longer than this are treated as cycles. Real archives use one level.
const MAX_UID_DEPTH: usize = 8;

const ARCHIVER: &str = "NSKeyedArchiver";
const ARCHIVE_VERSION: u64 = 100_000;

impl MbFile {
    /// Decodes an MBFile archive. See the module docs for what is accepted.
    pub fn decode(bytes: &[u8]) -> Result<MbFile, MbFileError> {
        if let Some(list) = Bplist::read(bytes) {
            return Archive::new(&list)?.mbfile();
        }
        // Not a binary plist read in place: the plist crate says why, or reads it (XML, or a
        // binary list within the crate's rules but not `Bplist`'s), and what it read is read
        // again as the binary plist it writes.
        let value = crate::bounded_plist::parse_value(bytes)
            .map_err(|e| MbFileError::NotPlist(e.to_string()))?;
        let mut binary = Vec::new();
        value
            .to_writer_binary(&mut binary)
            .map_err(|e| MbFileError::NotPlist(e.to_string()))?;
        let list = Bplist::read(&binary).ok_or_else(|| {
            MbFileError::NotPlist("holds a date more than 3,000 years from 2001".to_owned())
        })?;
        Archive::new(&list)?.mbfile()
    }

    /// Encodes exactly the structure Apple writes (module docs), as a binary plist.
    /// Invariant: `MbFile::decode(&x.encode()) == Ok(x)`.
    pub fn encode(&self) -> Vec<u8> {
        let archive = Writer::default().archive(self);
        let mut out = Vec::new();
        Value::Dictionary(archive)
            .to_writer_binary(&mut out)
            .expect("writing a plist without dates to a Vec cannot fail");
        out
    }
}

// ---------------------------------------------------------------- decoding

/// A dictionary: its keys and its values.
type Dict<'a> = (Ints<'a>, Ints<'a>);

/// A keyed archive: its `$objects`, to which UIDs refer.
struct Archive<'l, 'a> {
    list: &'l Bplist<'a>,
    objects: Ints<'a>,
    root: Dict<'a>,
}

impl<'l, 'a> Archive<'l, 'a> {
    /// Finds `$objects` and the root object dictionary.
    fn new(list: &'l Bplist<'a>) -> Result<Self, MbFileError> {
        let not_archive = |what: &str| MbFileError::NotKeyedArchive(what.to_owned());
        let dict = |i: Option<usize>| match i.and_then(|i| list.object(i)) {
            Some(Obj::Dict(k, v)) => Some((k, v)),
            _ => None,
        };
        let top =
            dict(Some(list.top())).ok_or_else(|| not_archive("top level is not a dictionary"))?;
        let get = |d: Dict<'a>, key: &str| list.lookup(d.0, d.1, key);
        if !get(top, "$archiver").is_some_and(|i| list.string_is(i, ARCHIVER)) {
            return Err(not_archive("$archiver is not NSKeyedArchiver"));
        }
        let objects = match get(top, "$objects").and_then(|i| list.object(i)) {
            Some(Obj::Array(items)) => items,
            _ => return Err(not_archive("no $objects array")),
        };
        let root_uid = match dict(get(top, "$top"))
            .and_then(|t| get(t, "root"))
            .and_then(|i| list.object(i))
        {
            Some(Obj::Uid(uid)) => uid,
            _ => return Err(not_archive("no $top.root UID")),
        };
        let root = usize::try_from(root_uid)
            .ok()
            .filter(|u| *u < objects.len())
            .and_then(|u| dict(Some(objects.get(u))))
            .ok_or_else(|| not_archive("$top.root is not a dictionary in $objects"))?;
        Ok(Self {
            list,
            objects,
            root,
        })
    }

    fn mbfile(&self) -> Result<MbFile, MbFileError> {
        let root = self.root;
        self.check_class(root)?;
        Ok(MbFile {
            relative_path: self.string(root, "RelativePath")?,
            last_modified: self.signed(root, "LastModified")?,
            last_status_change: self.signed(root, "LastStatusChange")?,
            birth: self.signed(root, "Birth")?,
            size: self.unsigned(root, "Size")?,
            mode: self.u32(root, "Mode")?,
            user_id: self.signed(root, "UserID")?,
            group_id: self.signed(root, "GroupID")?,
            inode_number: self.unsigned(root, "InodeNumber")?,
            flags: self.unsigned(root, "Flags")?,
            protection_class: self.u32(root, "ProtectionClass")?,
            encryption_key: self.data(root, "EncryptionKey")?,
            digest: self.data(root, "Digest")?,
            extended_attributes: self.data(root, "ExtendedAttributes")?,
            target: self.string(root, "Target")?,
        })
    }

    fn object(&self, i: usize) -> Option<Obj<'a>> {
        self.list.object(i)
    }

    fn as_dict(&self, i: usize) -> Option<Dict<'a>> {
        match self.object(i)? {
            Obj::Dict(k, v) => Some((k, v)),
            _ => None,
        }
    }

    fn as_string(&self, i: usize) -> Option<String> {
        match self.object(i)? {
            Obj::Ascii(s) => Some(s.to_owned()),
            Obj::Utf16(units) => String::from_utf16(&utf16_units(units).collect::<Vec<_>>()).ok(),
            _ => None,
        }
    }

    /// Follows UIDs until an object that is not one. `Ok(None)` for UID 0 (`$null`).
    fn resolve(&self, key: &str, mut current: usize) -> Result<Option<usize>, MbFileError> {
        for _ in 0..MAX_UID_DEPTH {
            let Some(Obj::Uid(uid)) = self.object(current) else {
                return Ok(Some(current));
            };
            if uid == 0 {
                return Ok(None);
            }
            current = usize::try_from(uid)
                .ok()
                .filter(|u| *u < self.objects.len())
                .map(|u| self.objects.get(u))
                .ok_or_else(|| MbFileError::BadReference {
                    key: key.to_owned(),
                    problem: format!(
                        "UID {uid} is outside $objects ({} objects)",
                        self.objects.len()
                    ),
                })?;
        }
        Err(MbFileError::BadReference {
            key: key.to_owned(),
            problem: "UID chain too long (cycle?)".to_owned(),
        })
    }

    fn field(&self, dict: Dict<'a>, key: &str) -> Result<Option<usize>, MbFileError> {
        match self.list.lookup(dict.0, dict.1, key) {
            None => Ok(None),
            Some(value) => self.resolve(key, value),
        }
    }

    fn check_class(&self, root: Dict<'a>) -> Result<(), MbFileError> {
        let class = self
            .field(root, "$class")?
            .and_then(|i| self.as_dict(i))
            .ok_or_else(|| MbFileError::NotKeyedArchive("root object has no $class".to_owned()))?;
        let name = self
            .field(class, "$classname")?
            .and_then(|i| self.as_string(i))
            .ok_or_else(|| {
                MbFileError::NotKeyedArchive("root $class has no $classname".to_owned())
            })?;
        if name != "MBFile" {
            return Err(MbFileError::WrongClass(name));
        }
        Ok(())
    }

    fn integer(&self, dict: Dict<'a>, key: &str) -> Result<Option<i128>, MbFileError> {
        match self.field(dict, key)?.map(|i| self.object(i)) {
            None => Ok(None),
            Some(Some(Obj::Int(i))) => Ok(Some(i)),
            Some(_) => Err(wrong_type(key, "an integer")),
        }
    }

    fn signed(&self, dict: Dict<'a>, key: &str) -> Result<Option<i64>, MbFileError> {
        self.integer(dict, key)?
            .map(|i| i64::try_from(i).map_err(|_| wrong_type(key, "a signed 64-bit integer")))
            .transpose()
    }

    fn unsigned(&self, dict: Dict<'a>, key: &str) -> Result<Option<u64>, MbFileError> {
        self.integer(dict, key)?
            .map(|i| u64::try_from(i).map_err(|_| wrong_type(key, "a non-negative integer")))
            .transpose()
    }

    fn u32(&self, dict: Dict<'a>, key: &str) -> Result<Option<u32>, MbFileError> {
        self.unsigned(dict, key)?
            .map(|v| u32::try_from(v).map_err(|_| wrong_type(key, "an integer below 2^32")))
            .transpose()
    }

    /// A string, inline or as an NSString/NSMutableString dict (`NS.string`).
    fn string(&self, dict: Dict<'a>, key: &str) -> Result<Option<String>, MbFileError> {
        match self.unwrapped(dict, key, "NS.string")? {
            None => Ok(None),
            Some(i) => self
                .as_string(i)
                .map(Some)
                .ok_or_else(|| wrong_type(key, "a string")),
        }
    }

    /// Data, raw or as an NSData/NSMutableData dict (`NS.data`, itself inline or a UID).
    fn data(&self, dict: Dict<'a>, key: &str) -> Result<Option<Vec<u8>>, MbFileError> {
        match self
            .unwrapped(dict, key, "NS.data")?
            .map(|i| self.object(i))
        {
            None => Ok(None),
            Some(Some(Obj::Data(d))) => Ok(Some(d.to_vec())),
            Some(_) => Err(wrong_type(key, "data")),
        }
    }

    /// The field, or what its wrapper dict holds under `inner`. One level only, as Apple
    /// writes: a wrapper in a wrapper is the wrong type, so a damaged archive whose wrapper
    /// refers to itself cannot recurse without end.
    fn unwrapped(
        &self,
        dict: Dict<'a>,
        key: &str,
        inner: &str,
    ) -> Result<Option<usize>, MbFileError> {
        let field = self.field(dict, key)?;
        match field.and_then(|i| self.as_dict(i)) {
            Some(d) if self.list.lookup(d.0, d.1, inner).is_some() => self.field(d, inner),
            _ => Ok(field),
        }
    }
}

fn wrong_type(key: &str, expected: &'static str) -> MbFileError {
    MbFileError::WrongType {
        key: key.to_owned(),
        expected,
    }
}

// ---------------------------------------------------------------- encoding

/// Builds `$objects`; object 0 is `$null` and object 1 is the MBFile dictionary.
#[derive(Default)]
struct Writer {
    objects: Vec<Value>,
}

impl Writer {
    fn archive(mut self, file: &MbFile) -> Dictionary {
        self.objects.push(Value::String("$null".to_owned()));
        self.objects.push(Value::Boolean(false)); // placeholder for the MBFile dict
        let root = self.root_dict(file);
        self.objects[1] = Value::Dictionary(root);

        let mut top = Dictionary::new();
        top.insert("root".to_owned(), Value::Uid(Uid::new(1)));
        let mut archive = Dictionary::new();
        archive.insert(
            "$version".to_owned(),
            Value::Integer(ARCHIVE_VERSION.into()),
        );
        archive.insert("$archiver".to_owned(), Value::String(ARCHIVER.to_owned()));
        archive.insert("$top".to_owned(), Value::Dictionary(top));
        archive.insert("$objects".to_owned(), Value::Array(self.objects));
        archive
    }

    /// Appends an object and returns its UID.
    fn push(&mut self, value: Value) -> Value {
        self.objects.push(value);
        Value::Uid(Uid::new(self.objects.len() as u64 - 1))
    }

    fn class(&mut self, classes: &[&str]) -> Value {
        let mut class = Dictionary::new();
        class.insert(
            "$classname".to_owned(),
            Value::String(classes[0].to_owned()),
        );
        let names = classes
            .iter()
            .map(|c| Value::String((*c).to_owned()))
            .collect();
        class.insert("$classes".to_owned(), Value::Array(names));
        self.push(Value::Dictionary(class))
    }

    /// Scalars inline; objects appended in Apple's order (module docs).
    fn root_dict(&mut self, f: &MbFile) -> Dictionary {
        let mut d = Dictionary::new();
        let int = |d: &mut Dictionary, key: &str, v: Option<plist::Integer>| {
            if let Some(v) = v {
                d.insert(key.to_owned(), Value::Integer(v));
            }
        };
        int(&mut d, "LastModified", f.last_modified.map(Into::into));
        int(
            &mut d,
            "LastStatusChange",
            f.last_status_change.map(Into::into),
        );
        int(&mut d, "Birth", f.birth.map(Into::into));
        int(&mut d, "Size", f.size.map(Into::into));
        int(&mut d, "Mode", f.mode.map(Into::into));
        int(&mut d, "UserID", f.user_id.map(Into::into));
        int(&mut d, "GroupID", f.group_id.map(Into::into));
        int(&mut d, "InodeNumber", f.inode_number.map(Into::into));
        int(&mut d, "Flags", f.flags.map(Into::into));
        int(
            &mut d,
            "ProtectionClass",
            f.protection_class.map(Into::into),
        );

        if let Some(path) = &f.relative_path {
            let uid = self.push(Value::String(path.clone()));
            d.insert("RelativePath".to_owned(), uid);
        }
        if let Some(target) = &f.target {
            let uid = self.push(Value::String(target.clone()));
            d.insert("Target".to_owned(), uid);
        }
        if let Some(digest) = &f.digest {
            let uid = self.push(Value::Data(digest.clone()));
            d.insert("Digest".to_owned(), uid);
        }
        if let Some(key) = &f.encryption_key {
            let uid = self.mutable_data(key);
            d.insert("EncryptionKey".to_owned(), uid);
        }
        if let Some(xattrs) = &f.extended_attributes {
            let uid = self.push(Value::Data(xattrs.clone()));
            d.insert("ExtendedAttributes".to_owned(), uid);
        }
        let class = self.class(&["MBFile", "NSObject"]);
        d.insert("$class".to_owned(), class);
        d
    }

    /// `{ "NS.data": data, "$class": UID -> NSMutableData }`, the dict pushed before its class.
    fn mutable_data(&mut self, bytes: &[u8]) -> Value {
        let index = self.objects.len();
        let uid = self.push(Value::Boolean(false)); // placeholder, filled below
        let class = self.class(&["NSMutableData", "NSData", "NSObject"]);
        let mut dict = Dictionary::new();
        dict.insert("NS.data".to_owned(), Value::Data(bytes.to_vec()));
        dict.insert("$class".to_owned(), class);
        self.objects[index] = Value::Dictionary(dict);
        uid
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sms_db() -> MbFile {
        MbFile {
            relative_path: Some("Library/SMS/sms.db".to_owned()),
            last_modified: Some(1_638_501_497),
            last_status_change: Some(1_638_559_914),
            birth: Some(1_566_918_489),
            size: Some(278_528),
            mode: Some(0o100644),
            user_id: Some(501),
            group_id: Some(501),
            inode_number: Some(45_856),
            flags: Some(0),
            protection_class: Some(4),
            encryption_key: Some(vec![4, 0, 0, 0, 0xff, 2]),
            digest: Some(vec![0x99; 20]),
            extended_attributes: None,
            target: None,
        }
    }

    fn objects_of(bytes: &[u8]) -> Vec<Value> {
        let v = Value::from_reader(std::io::Cursor::new(bytes)).unwrap();
        let d = v.into_dictionary().unwrap();
        assert_eq!(
            d.get("$archiver").and_then(Value::as_string),
            Some("NSKeyedArchiver")
        );
        assert_eq!(
            d.get("$version").and_then(Value::as_unsigned_integer),
            Some(100_000)
        );
        d.get("$objects").unwrap().as_array().unwrap().clone()
    }

    #[test]
    fn round_trip_file() {
        let f = sms_db();
        assert_eq!(MbFile::decode(&f.encode()), Ok(f));
    }

    #[test]
    fn round_trip_empty() {
        let f = MbFile::default();
        assert_eq!(MbFile::decode(&f.encode()), Ok(f));
    }

    #[test]
    fn encode_uses_apples_object_layout() {
        let bytes = sms_db().encode();
        assert!(bytes.starts_with(b"bplist00"));
        let objects = objects_of(&bytes);
        assert_eq!(objects[0].as_string(), Some("$null"));
        assert_eq!(objects[2].as_string(), Some("Library/SMS/sms.db"));
        assert_eq!(objects[3].as_data(), Some(&[0x99; 20][..]));
        let ek = objects[4].as_dictionary().unwrap();
        assert_eq!(
            ek.get("NS.data").and_then(Value::as_data),
            Some(&[4, 0, 0, 0, 0xff, 2][..])
        );
        assert_eq!(ek.get("$class").and_then(Value::as_uid), Some(&Uid::new(5)));
        let ek_class = objects[5].as_dictionary().unwrap();
        assert_eq!(
            ek_class.get("$classname").and_then(Value::as_string),
            Some("NSMutableData")
        );
        let names: Vec<_> = ek_class["$classes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_string().unwrap())
            .collect();
        assert_eq!(names, ["NSMutableData", "NSData", "NSObject"]);
        let class = objects[6].as_dictionary().unwrap();
        assert_eq!(
            class.get("$classname").and_then(Value::as_string),
            Some("MBFile")
        );
        assert_eq!(objects.len(), 7);
        let root = objects[1].as_dictionary().unwrap();
        assert_eq!(
            root.get("$class").and_then(Value::as_uid),
            Some(&Uid::new(6))
        );
        assert_eq!(
            root.get("Size").and_then(Value::as_unsigned_integer),
            Some(278_528)
        );
    }

    /// Builds an archive by hand from `$objects`, to test the generic decoder.
    fn archive(objects: Vec<Value>) -> Vec<u8> {
        let mut top = Dictionary::new();
        top.insert("root".into(), Value::Uid(Uid::new(1)));
        let mut d = Dictionary::new();
        d.insert("$archiver".into(), Value::String("NSKeyedArchiver".into()));
        d.insert("$version".into(), Value::Integer(100_000.into()));
        d.insert("$top".into(), Value::Dictionary(top));
        d.insert("$objects".into(), Value::Array(objects));
        let mut out = Vec::new();
        Value::Dictionary(d).to_writer_binary(&mut out).unwrap();
        out
    }

    fn dict(pairs: &[(&str, Value)]) -> Value {
        let mut d = Dictionary::new();
        for (k, v) in pairs {
            d.insert((*k).to_owned(), v.clone());
        }
        Value::Dictionary(d)
    }

    fn uid(n: u64) -> Value {
        Value::Uid(Uid::new(n))
    }

    fn mbfile_class() -> Value {
        dict(&[
            ("$classname", Value::String("MBFile".into())),
            (
                "$classes",
                Value::Array(vec![Value::String("MBFile".into())]),
            ),
        ])
    }

    #[test]
    fn ns_data_may_be_a_uid_and_size_may_be_indirect() {
        let bytes = archive(vec![
            Value::String("$null".into()),
            dict(&[
                ("$class", uid(2)),
                ("EncryptionKey", uid(3)),
                ("Size", uid(5)),
                ("RelativePath", uid(6)),
                ("Target", uid(0)),
            ]),
            mbfile_class(),
            dict(&[("NS.data", uid(4))]),
            Value::Data(vec![1, 2, 3]),
            Value::Integer(7.into()),
            dict(&[("NS.string", Value::String("a/b".into()))]),
        ]);
        let f = MbFile::decode(&bytes).unwrap();
        assert_eq!(f.encryption_key, Some(vec![1, 2, 3]));
        assert_eq!(f.size, Some(7));
        assert_eq!(f.relative_path.as_deref(), Some("a/b"));
        assert_eq!(f.target, None, "UID 0 is $null");
    }

    #[test]
    fn missing_size_is_none_not_zero() {
        let bytes = archive(vec![
            Value::String("$null".into()),
            dict(&[("$class", uid(2))]),
            mbfile_class(),
        ]);
        assert_eq!(MbFile::decode(&bytes).unwrap().size, None);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(matches!(
            MbFile::decode(b"\x00\x01garbage\xff"),
            Err(MbFileError::NotPlist(_))
        ));
        assert!(matches!(MbFile::decode(b""), Err(MbFileError::NotPlist(_))));
        let mut truncated = sms_db().encode();
        truncated.truncate(truncated.len() / 2);
        assert!(MbFile::decode(&truncated).is_err());
    }

    #[test]
    fn plain_plist_is_not_a_keyed_archive() {
        let mut out = Vec::new();
        dict(&[("Size", Value::Integer(1.into()))])
            .to_writer_binary(&mut out)
            .unwrap();
        let err = MbFile::decode(&out).unwrap_err();
        assert!(matches!(err, MbFileError::NotKeyedArchive(_)), "{err:?}");
        assert!(err.to_string().contains("NSKeyedArchiver"), "{err}");
    }

    #[test]
    fn other_class_is_rejected() {
        let class = dict(&[("$classname", Value::String("NSDictionary".into()))]);
        let bytes = archive(vec![
            Value::String("$null".into()),
            dict(&[("$class", uid(2))]),
            class,
        ]);
        assert_eq!(
            MbFile::decode(&bytes),
            Err(MbFileError::WrongClass("NSDictionary".into()))
        );
    }

    #[test]
    fn bad_references_are_errors() {
        let out_of_range = archive(vec![
            Value::String("$null".into()),
            dict(&[("$class", uid(2)), ("RelativePath", uid(99))]),
            mbfile_class(),
        ]);
        assert!(matches!(
            MbFile::decode(&out_of_range),
            Err(MbFileError::BadReference { .. })
        ));
        let cycle = archive(vec![
            Value::String("$null".into()),
            dict(&[("$class", uid(2)), ("RelativePath", uid(3))]),
            mbfile_class(),
            uid(3),
        ]);
        assert!(matches!(
            MbFile::decode(&cycle),
            Err(MbFileError::BadReference { .. })
        ));
    }

    /// An NSData or NSString wrapper that refers to itself (a one-byte corruption of a real
    /// archive did this, and the decoder overflowed its stack) is the wrong type.
    #[test]
    fn a_wrapper_that_wraps_itself_is_an_error() {
        for (key, inner) in [("Digest", "NS.data"), ("RelativePath", "NS.string")] {
            let bytes = archive(vec![
                Value::String("$null".into()),
                dict(&[("$class", uid(2)), (key, uid(3))]),
                mbfile_class(),
                dict(&[(inner, uid(3))]),
            ]);
            let err = MbFile::decode(&bytes).unwrap_err();
            assert!(
                matches!(err, MbFileError::WrongType { .. }),
                "{key}: {err:?}"
            );
        }
    }

    /// Every one-byte change of a real-shaped archive decodes or is an error (the proptest
    /// below samples these; this covers them all).
    #[test]
    fn every_one_byte_corruption_is_survived() {
        let good = sms_db().encode();
        for i in 0..good.len() {
            for byte in 0..=u8::MAX {
                let mut bytes = good.clone();
                bytes[i] = byte;
                let _ = MbFile::decode(&bytes);
            }
        }
    }

    #[test]
    fn wrong_types_are_errors() {
        let cases = [
            ("Size", Value::Integer((-1).into())),
            ("Mode", Value::Integer((1u64 << 40).into())),
            ("Size", Value::String("12".into())),
            ("RelativePath", Value::Integer(1.into())),
            ("Digest", Value::String("x".into())),
        ];
        for (key, value) in cases {
            let bytes = archive(vec![
                Value::String("$null".into()),
                dict(&[("$class", uid(2)), (key, value.clone())]),
                mbfile_class(),
            ]);
            let err = MbFile::decode(&bytes).unwrap_err();
            assert!(
                matches!(err, MbFileError::WrongType { .. }),
                "{key} {value:?}: {err:?}"
            );
        }
    }

    fn opt_bytes() -> impl Strategy<Value = Option<Vec<u8>>> {
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64))
    }

    pub(crate) fn any_mbfile() -> impl Strategy<Value = MbFile> {
        let scalars = (
            any::<Option<i64>>(),
            any::<Option<i64>>(),
            any::<Option<i64>>(),
            any::<Option<u64>>(),
            any::<Option<u32>>(),
            any::<Option<i64>>(),
            any::<Option<i64>>(),
            any::<Option<u64>>(),
            any::<Option<u64>>(),
            any::<Option<u32>>(),
        );
        let objects = (
            any::<Option<String>>(),
            opt_bytes(),
            opt_bytes(),
            opt_bytes(),
            any::<Option<String>>(),
        );
        (scalars, objects).prop_map(|(s, o)| MbFile {
            relative_path: o.0,
            last_modified: s.0,
            last_status_change: s.1,
            birth: s.2,
            size: s.3,
            mode: s.4,
            user_id: s.5,
            group_id: s.6,
            inode_number: s.7,
            flags: s.8,
            protection_class: s.9,
            encryption_key: o.1,
            digest: o.2,
            extended_attributes: o.3,
            target: o.4,
        })
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(f in any_mbfile()) {
            prop_assert_eq!(MbFile::decode(&f.encode()), Ok(f));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = MbFile::decode(&bytes);
        }

        /// What is read in place reads as the plist crate reads it: corrupted archives that
        /// `Bplist` accepts, the crate accepts too, and decoding them gives what decoding the
        /// crate's own encoding of what it read gives.
        #[test]
        fn an_archive_read_in_place_reads_as_the_plist_crate_reads_it(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            path in "[a-zA-Z0-9/é]{0,40}",
        ) {
            let mut file = sms_db();
            file.relative_path = Some(path);
            let mut bytes = file.encode();
            for (pos, byte) in &flips {
                let i = pos.index(bytes.len());
                bytes[i] = *byte;
            }
            if crate::bplist::Bplist::read(&bytes).is_some() {
                let value = crate::bounded_plist::parse_value(&bytes);
                prop_assert!(value.is_ok(), "{:?}", value.err());
                let mut normal = Vec::new();
                value.unwrap().to_writer_binary(&mut normal).unwrap();
                prop_assert_eq!(MbFile::decode(&bytes), MbFile::decode(&normal));
            }
        }

        #[test]
        fn decode_survives_corrupted_archives(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut bytes = sms_db().encode();
            let i = pos.index(bytes.len());
            bytes[i] = byte;
            let _ = MbFile::decode(&bytes);
        }
    }
}
