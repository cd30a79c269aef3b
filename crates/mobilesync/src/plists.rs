//! The three property lists of a device folder (format reference §3–§5).
//!
//! * `Info.plist` is written by the host (Finder, iTunes, idevicebackup2) and is required.
//! * `Manifest.plist` is written by the device; it says whether the backup is encrypted and
//!   carries the keybag. Optional here because the real fixture lacks it.
//! * `Status.plist` records whether the backup finished.
//!
//! Each may be binary or XML. Typed getters reject a key of the wrong type with an error that
//! names the file and the key; an absent optional key is `None`.

use std::path::Path;
use std::time::SystemTime;

use plist::{Dictionary, Value};

use crate::error::Error;

/// Metadata from `Info.plist`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeviceInfo {
    /// `Unique Identifier`, else `Target Identifier` upper-cased; `""` when Info.plist has
    /// neither (damaged or hand-assembled backups): [`crate::DeviceFolder::udid`] then looks
    /// elsewhere. When present, always a plain name (letters, digits, `-`).
    pub udid: String,
    /// `Device Name`, else `Display Name`, else `""`.
    pub device_name: String,
    pub display_name: Option<String>,
    /// Hardware model such as `iPhone9,3` (`""` if absent).
    pub product_type: String,
    pub product_name: Option<String>,
    /// iOS version such as `14.3` (`""` if absent). Compare numerically, never as a string.
    pub product_version: String,
    /// Such as `18C66` (`""` if absent).
    pub build_version: String,
    pub serial_number: Option<String>,
    pub last_backup_date: Option<SystemTime>,
    pub installed_applications: Vec<String>,
    /// `Applications`: bundle id → { ApplicationSINF, iTunesMetadata, PlaceholderIcon }.
    pub applications: Dictionary,
}

/// Metadata from `Manifest.plist`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ManifestInfo {
    /// `IsEncrypted`; false when absent.
    pub is_encrypted: bool,
    pub was_passcode_set: Option<bool>,
    pub version: Option<String>,
    pub date: Option<SystemTime>,
    /// `Lockdown.ProductVersion`: the authoritative iOS version of the source device.
    pub lockdown_product_version: Option<String>,
    pub lockdown_product_type: Option<String>,
    pub lockdown_device_name: Option<String>,
    pub lockdown_build_version: Option<String>,
    pub lockdown_udid: Option<String>,
    pub backup_keybag: Option<Vec<u8>>,
    pub manifest_key: Option<Vec<u8>>,
    pub applications: Dictionary,
}

/// Metadata from `Status.plist`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusInfo {
    pub snapshot_state: Option<String>,
    pub is_full_backup: Option<bool>,
    pub version: Option<String>,
    pub backup_state: Option<String>,
    pub date: Option<SystemTime>,
    pub uuid: Option<String>,
}

/// Reads any property list whose top level is a dictionary (e.g. to get keys `DeviceInfo`
/// does not model, such as `GUID` or `iTunes Files`).
pub fn read_plist_dictionary(path: &Path) -> Result<Dictionary, Error> {
    let bytes = read_file(path, crate::regular::INFO_PLIST_MAX_BYTES)?;
    parse_dictionary(&bytes, path)
}

/// Parses a binary, XML or ASCII property list whose top level is a dictionary.
pub fn parse_dictionary(bytes: &[u8], path_for_errors: &Path) -> Result<Dictionary, Error> {
    let value = crate::bounded_plist::parse_value(bytes).map_err(|e| Error::NotPlist {
        path: path_for_errors.to_path_buf(),
        detail: e.to_string(),
    })?;
    value.into_dictionary().ok_or_else(|| Error::NotDictionary {
        path: path_for_errors.to_path_buf(),
    })
}

/// A plist of a backup folder: a regular file (not a link) of at most `limit` bytes.
fn read_file(path: &Path, limit: u64) -> Result<Vec<u8>, Error> {
    crate::regular::read_regular(path, limit, crate::regular::Links::Refuse)
}

/// Writes `dict` as a binary property list (what the device and Finder write).
pub fn write_plist_binary(path: &Path, dict: &Dictionary) -> Result<(), Error> {
    Value::Dictionary(dict.clone())
        .to_file_binary(path)
        .map_err(|e| write_error(path, e))
}

/// Writes `dict` as an XML property list (what idevicebackup2 writes).
pub fn write_plist_xml(path: &Path, dict: &Dictionary) -> Result<(), Error> {
    Value::Dictionary(dict.clone())
        .to_file_xml(path)
        .map_err(|e| write_error(path, e))
}

fn write_error(path: &Path, e: plist::Error) -> Error {
    Error::WritePlist {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

/// Typed, path-aware access to one dictionary.
struct Keys<'a> {
    dict: &'a Dictionary,
    path: &'a Path,
}

impl<'a> Keys<'a> {
    fn wrong(&self, key: &str, expected: &'static str) -> Error {
        Error::WrongType {
            path: self.path.to_path_buf(),
            key: key.to_owned(),
            expected,
        }
    }

    fn string(&self, key: &str) -> Result<Option<String>, Error> {
        match self.dict.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.wrong(key, "a string")),
        }
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, Error> {
        match self.dict.get(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(_) => Err(self.wrong(key, "a boolean")),
        }
    }

    fn date(&self, key: &str) -> Result<Option<SystemTime>, Error> {
        match self.dict.get(key) {
            None => Ok(None),
            Some(Value::Date(d)) => Ok(Some((*d).into())),
            Some(_) => Err(self.wrong(key, "a date")),
        }
    }

    fn data(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        match self.dict.get(key) {
            None => Ok(None),
            Some(Value::Data(d)) => Ok(Some(d.clone())),
            Some(_) => Err(self.wrong(key, "data")),
        }
    }

    /// Absent is an empty dictionary.
    fn dictionary(&self, key: &str) -> Result<&'a Dictionary, Error> {
        static EMPTY: std::sync::OnceLock<Dictionary> = std::sync::OnceLock::new();
        match self.dict.get(key) {
            None => Ok(EMPTY.get_or_init(Dictionary::new)),
            Some(Value::Dictionary(d)) => Ok(d),
            Some(_) => Err(self.wrong(key, "a dictionary")),
        }
    }

    /// Absent is an empty list.
    fn strings(&self, key: &str) -> Result<Vec<String>, Error> {
        let Some(value) = self.dict.get(key) else {
            return Ok(Vec::new());
        };
        let items = value
            .as_array()
            .ok_or_else(|| self.wrong(key, "an array of strings"))?;
        items
            .iter()
            .map(|v| {
                v.as_string()
                    .map(str::to_owned)
                    .ok_or_else(|| self.wrong(key, "an array of strings"))
            })
            .collect()
    }

    fn sub(&self, key: &str) -> Result<Keys<'a>, Error> {
        Ok(Keys {
            dict: self.dictionary(key)?,
            path: self.path,
        })
    }
}

/// Builds a dictionary, skipping `None`s.
#[derive(Default)]
struct Builder(Dictionary);

impl Builder {
    fn put(&mut self, key: &str, value: Value) {
        self.0.insert(key.to_owned(), value);
    }
    fn string(&mut self, key: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.put(key, Value::String(v.to_owned()));
        }
    }
    fn boolean(&mut self, key: &str, value: Option<bool>) {
        if let Some(v) = value {
            self.put(key, Value::Boolean(v));
        }
    }
    fn data(&mut self, key: &str, value: Option<&[u8]>) {
        if let Some(v) = value {
            self.put(key, Value::Data(v.to_vec()));
        }
    }
    /// Dates a plist cannot represent (beyond year ±9999) are left out rather than panicking
    /// in the XML writer.
    fn date(&mut self, key: &str, value: Option<SystemTime>) {
        if let Some(v) = value.filter(|t| representable(*t)) {
            self.put(key, Value::Date(v.into()));
        }
    }
    fn dictionary(&mut self, key: &str, value: &Dictionary) {
        if !value.is_empty() {
            self.put(key, Value::Dictionary(value.clone()));
        }
    }
}

/// True when the XML plist writer can format `t` (its date library covers years -9999..=9999).
fn representable(t: SystemTime) -> bool {
    const LIMIT_SECS: u64 = 253_402_300_799 - 86_400 * 366; // comfortably inside year 9999
    let secs = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs(),
        Err(e) => e.duration().as_secs(),
    };
    secs < LIMIT_SECS
}

impl DeviceInfo {
    pub fn read(path: &Path) -> Result<DeviceInfo, Error> {
        let bytes = read_file(path, crate::regular::INFO_PLIST_MAX_BYTES)?;
        DeviceInfo::from_bytes(&bytes, path)
    }

    pub fn from_bytes(bytes: &[u8], path_for_errors: &Path) -> Result<DeviceInfo, Error> {
        let dict = parse_dictionary(bytes, path_for_errors)?;
        let keys = Keys {
            dict: &dict,
            path: path_for_errors,
        };
        let display_name = keys.string("Display Name")?;
        Ok(DeviceInfo {
            udid: udid(&keys)?,
            device_name: keys
                .string("Device Name")?
                .or_else(|| display_name.clone())
                .unwrap_or_default(),
            display_name,
            product_type: keys.string("Product Type")?.unwrap_or_default(),
            product_name: keys.string("Product Name")?,
            product_version: keys.string("Product Version")?.unwrap_or_default(),
            build_version: keys.string("Build Version")?.unwrap_or_default(),
            serial_number: keys.string("Serial Number")?,
            last_backup_date: keys.date("Last Backup Date")?,
            installed_applications: keys.strings("Installed Applications")?,
            applications: keys.dictionary("Applications")?.clone(),
        })
    }

    /// The keys `read` understands, as idevicebackup2 names them. `Target Identifier` is the
    /// lower-case UDID and `Target Type` is `Device`, as the host writes them.
    pub fn to_plist(&self) -> Dictionary {
        let mut b = Builder::default();
        b.string("Build Version", Some(&self.build_version));
        b.string("Device Name", Some(&self.device_name));
        b.string("Display Name", self.display_name.as_deref());
        let apps = self
            .installed_applications
            .iter()
            .map(|a| Value::String(a.clone()));
        b.put("Installed Applications", Value::Array(apps.collect()));
        b.date("Last Backup Date", self.last_backup_date);
        b.string("Product Name", self.product_name.as_deref());
        b.string("Product Type", Some(&self.product_type));
        b.string("Product Version", Some(&self.product_version));
        b.string("Serial Number", self.serial_number.as_deref());
        b.string("Target Identifier", Some(&self.udid.to_lowercase()));
        b.string("Target Type", Some("Device"));
        b.string("Unique Identifier", Some(&self.udid));
        b.dictionary("Applications", &self.applications);
        b.0
    }
}

/// Info.plist's UDID, `""` when it names none.
fn udid(keys: &Keys<'_>) -> Result<String, Error> {
    let unique = keys.string("Unique Identifier")?.filter(|s| !s.is_empty());
    let target = keys.string("Target Identifier")?.filter(|s| !s.is_empty());
    let Some(udid) = unique.or_else(|| target.map(|t| t.to_uppercase())) else {
        return Ok(String::new());
    };
    if !crate::identity::is_plain_udid(&udid) {
        return Err(Error::BadUdid {
            path: keys.path.to_path_buf(),
            udid: udid.chars().take(64).collect(),
        });
    }
    Ok(udid)
}

impl ManifestInfo {
    pub fn read(path: &Path) -> Result<ManifestInfo, Error> {
        let bytes = read_file(path, crate::regular::MANIFEST_PLIST_MAX_BYTES)?;
        ManifestInfo::from_bytes(&bytes, path)
    }

    pub fn from_bytes(bytes: &[u8], path_for_errors: &Path) -> Result<ManifestInfo, Error> {
        let dict = parse_dictionary(bytes, path_for_errors)?;
        let keys = Keys {
            dict: &dict,
            path: path_for_errors,
        };
        let lockdown = keys.sub("Lockdown")?;
        Ok(ManifestInfo {
            is_encrypted: keys.boolean("IsEncrypted")?.unwrap_or(false),
            was_passcode_set: keys.boolean("WasPasscodeSet")?,
            version: keys.string("Version")?,
            date: keys.date("Date")?,
            lockdown_product_version: lockdown.string("ProductVersion")?,
            lockdown_product_type: lockdown.string("ProductType")?,
            lockdown_device_name: lockdown.string("DeviceName")?,
            lockdown_build_version: lockdown.string("BuildVersion")?,
            lockdown_udid: lockdown.string("UniqueDeviceID")?,
            backup_keybag: keys.data("BackupKeyBag")?,
            manifest_key: keys.data("ManifestKey")?,
            applications: keys.dictionary("Applications")?.clone(),
        })
    }

    pub fn to_plist(&self) -> Dictionary {
        let mut lockdown = Builder::default();
        lockdown.string("BuildVersion", self.lockdown_build_version.as_deref());
        lockdown.string("DeviceName", self.lockdown_device_name.as_deref());
        lockdown.string("ProductType", self.lockdown_product_type.as_deref());
        lockdown.string("ProductVersion", self.lockdown_product_version.as_deref());
        lockdown.string("UniqueDeviceID", self.lockdown_udid.as_deref());

        let mut b = Builder::default();
        b.dictionary("Applications", &self.applications);
        b.data("BackupKeyBag", self.backup_keybag.as_deref());
        b.date("Date", self.date);
        b.boolean("IsEncrypted", Some(self.is_encrypted));
        b.dictionary("Lockdown", &lockdown.0);
        b.data("ManifestKey", self.manifest_key.as_deref());
        b.string("Version", self.version.as_deref());
        b.boolean("WasPasscodeSet", self.was_passcode_set);
        b.0
    }
}

impl StatusInfo {
    pub fn read(path: &Path) -> Result<StatusInfo, Error> {
        let bytes = read_file(path, crate::regular::STATUS_PLIST_MAX_BYTES)?;
        StatusInfo::from_bytes(&bytes, path)
    }

    pub fn from_bytes(bytes: &[u8], path_for_errors: &Path) -> Result<StatusInfo, Error> {
        let dict = parse_dictionary(bytes, path_for_errors)?;
        let keys = Keys {
            dict: &dict,
            path: path_for_errors,
        };
        Ok(StatusInfo {
            snapshot_state: keys.string("SnapshotState")?,
            is_full_backup: keys.boolean("IsFullBackup")?,
            version: keys.string("Version")?,
            backup_state: keys.string("BackupState")?,
            date: keys.date("Date")?,
            uuid: keys.string("UUID")?,
        })
    }

    /// idevicebackup2 accepts a backup only when `SnapshotState` is `finished`.
    pub fn is_finished(&self) -> bool {
        self.snapshot_state.as_deref() == Some("finished")
    }

    pub fn to_plist(&self) -> Dictionary {
        let mut b = Builder::default();
        b.string("BackupState", self.backup_state.as_deref());
        b.date("Date", self.date);
        b.boolean("IsFullBackup", self.is_full_backup);
        b.string("SnapshotState", self.snapshot_state.as_deref());
        b.string("UUID", self.uuid.as_deref());
        b.string("Version", self.version.as_deref());
        b.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn whole_seconds(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn device() -> DeviceInfo {
        let mut apps = Dictionary::new();
        apps.insert(
            "com.example.app".into(),
            Value::Dictionary(Dictionary::new()),
        );
        DeviceInfo {
            udid: "1CB128EAFA77C5BE74283E9A3A2130AF36A3C059".into(),
            device_name: "Kitchen iPad".into(),
            display_name: Some("Kitchen iPad".into()),
            product_type: "iPad8,1".into(),
            product_name: Some("iPad".into()),
            product_version: "17.5.1".into(),
            build_version: "21F90".into(),
            serial_number: Some("F1234567890".into()),
            last_backup_date: Some(whole_seconds(1_638_559_993)),
            installed_applications: vec!["com.example.app".into()],
            applications: apps,
        }
    }

    fn to_bytes(dict: &Dictionary, xml: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let value = Value::Dictionary(dict.clone());
        if xml {
            value.to_writer_xml(&mut out).unwrap();
        } else {
            value.to_writer_binary(&mut out).unwrap();
        }
        out
    }

    #[test]
    fn device_info_round_trips_binary_and_xml() {
        let info = device();
        for xml in [false, true] {
            let bytes = to_bytes(&info.to_plist(), xml);
            assert_eq!(
                DeviceInfo::from_bytes(&bytes, Path::new("Info.plist")).unwrap(),
                info
            );
        }
    }

    #[test]
    fn udid_falls_back_to_target_identifier() {
        let mut dict = device().to_plist();
        dict.remove("Unique Identifier");
        let info = DeviceInfo::from_bytes(&to_bytes(&dict, false), Path::new("x")).unwrap();
        assert_eq!(info.udid, "1CB128EAFA77C5BE74283E9A3A2130AF36A3C059");
    }

    #[test]
    fn udid_that_is_not_a_plain_name_is_rejected() {
        for bad in ["../../tmp/x", "/etc", "..", "a b", "AB\0CD"] {
            let mut dict = device().to_plist();
            dict.insert("Unique Identifier".into(), bad.into());
            let err = DeviceInfo::from_bytes(&to_bytes(&dict, false), Path::new("I/Info.plist"))
                .unwrap_err();
            assert!(matches!(err, Error::BadUdid { .. }), "{bad:?}: {err}");
            assert!(err.to_string().starts_with("I/Info.plist: "), "{err}");
        }
        let mut dict = device().to_plist();
        dict.insert(
            "Unique Identifier".into(),
            "00008030-001A2D3E0C38802E".into(),
        );
        let info = DeviceInfo::from_bytes(&to_bytes(&dict, false), Path::new("x")).unwrap();
        assert_eq!(info.udid, "00008030-001A2D3E0C38802E");
    }

    #[test]
    fn device_name_falls_back_to_display_name() {
        let mut dict = device().to_plist();
        dict.remove("Device Name");
        dict.insert("Display Name".into(), Value::String("Shown".into()));
        let info = DeviceInfo::from_bytes(&to_bytes(&dict, true), Path::new("x")).unwrap();
        assert_eq!(info.device_name, "Shown");
    }

    #[test]
    fn missing_udid_is_empty_for_the_folder_to_resolve() {
        let mut dict = device().to_plist();
        dict.remove("Unique Identifier");
        dict.remove("Target Identifier");
        let info = DeviceInfo::from_bytes(&to_bytes(&dict, false), Path::new("x")).unwrap();
        assert_eq!(info.udid, "");
        assert_eq!(
            info.device_name, "Kitchen iPad",
            "the rest is read as usual"
        );
        let empty = DeviceInfo::from_bytes(&to_bytes(&Dictionary::new(), true), Path::new("x"));
        assert_eq!(empty.unwrap(), DeviceInfo::default());
    }

    #[test]
    fn truncated_and_non_plist_name_the_file() {
        let bytes = to_bytes(&device().to_plist(), false);
        for bad in [
            &bytes[..bytes.len() / 2],
            b"\x00\x01\x02 not a plist \xff\xfe".as_slice(),
            b"bplist00",
        ] {
            let err = DeviceInfo::from_bytes(bad, Path::new("/b/dev/Info.plist")).unwrap_err();
            let msg = err.to_string();
            assert!(msg.starts_with("/b/dev/Info.plist: "), "{msg}");
            assert!(
                matches!(err, Error::NotPlist { .. } | Error::NotDictionary { .. }),
                "{msg}"
            );
        }
    }

    #[test]
    fn wrong_type_names_file_and_key() {
        let mut dict = device().to_plist();
        dict.insert("Product Version".into(), Value::Integer(14.into()));
        let err =
            DeviceInfo::from_bytes(&to_bytes(&dict, false), Path::new("I.plist")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "I.plist: key \"Product Version\" should be a string"
        );
    }

    #[test]
    fn manifest_info_round_trips() {
        let info = ManifestInfo {
            is_encrypted: true,
            was_passcode_set: Some(true),
            version: Some("10.0".into()),
            date: Some(whole_seconds(1_700_000_000)),
            lockdown_product_version: Some("17.5.1".into()),
            lockdown_product_type: Some("iPad8,1".into()),
            lockdown_device_name: Some("Kitchen iPad".into()),
            lockdown_build_version: Some("21F90".into()),
            lockdown_udid: Some("00008030-001A35E11A88003A".into()),
            backup_keybag: Some(vec![1, 2, 3]),
            manifest_key: Some(vec![4; 44]),
            applications: Dictionary::new(),
        };
        for xml in [false, true] {
            let bytes = to_bytes(&info.to_plist(), xml);
            assert_eq!(
                ManifestInfo::from_bytes(&bytes, Path::new("M")).unwrap(),
                info
            );
        }
        let empty = ManifestInfo::default();
        let bytes = to_bytes(&empty.to_plist(), false);
        assert_eq!(
            ManifestInfo::from_bytes(&bytes, Path::new("M")).unwrap(),
            empty
        );
    }

    #[test]
    fn status_info_round_trips_and_finished() {
        let status = StatusInfo {
            snapshot_state: Some("finished".into()),
            is_full_backup: Some(false),
            version: Some("3.3".into()),
            backup_state: Some("new".into()),
            date: Some(whole_seconds(1_700_000_000)),
            uuid: Some("B3A0-UUID".into()),
        };
        assert!(status.is_finished());
        let bytes = to_bytes(&status.to_plist(), true);
        assert_eq!(
            StatusInfo::from_bytes(&bytes, Path::new("S")).unwrap(),
            status
        );
        let unfinished = StatusInfo {
            snapshot_state: Some("uploading".into()),
            ..StatusInfo::default()
        };
        assert!(!unfinished.is_finished());
        assert!(!StatusInfo::default().is_finished());
    }

    #[test]
    fn unrepresentable_dates_are_left_out_instead_of_panicking() {
        let status = StatusInfo {
            date: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 50)),
            ..StatusInfo::default()
        };
        let dict = status.to_plist();
        assert!(!dict.contains_key("Date"));
        to_bytes(&dict, true);
    }

    #[test]
    fn write_helpers_write_readable_files() {
        let tmp = tempfile::tempdir().unwrap();
        let info = device();
        let bin = tmp.path().join("bin.plist");
        let xml = tmp.path().join("xml.plist");
        write_plist_binary(&bin, &info.to_plist()).unwrap();
        write_plist_xml(&xml, &info.to_plist()).unwrap();
        assert!(std::fs::read(&bin).unwrap().starts_with(b"bplist00"));
        assert!(std::fs::read(&xml).unwrap().starts_with(b"<?xml"));
        assert_eq!(DeviceInfo::read(&bin).unwrap(), info);
        assert_eq!(DeviceInfo::read(&xml).unwrap(), info);
        let err = write_plist_binary(&tmp.path().join("no/such/dir.plist"), &Dictionary::new())
            .unwrap_err();
        assert!(err.to_string().contains("no/such/dir.plist"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn from_bytes_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = DeviceInfo::from_bytes(&bytes, Path::new("Info.plist"));
            let _ = ManifestInfo::from_bytes(&bytes, Path::new("Manifest.plist"));
            let _ = StatusInfo::from_bytes(&bytes, Path::new("Status.plist"));
        }

        #[test]
        fn corrupted_info_plist_never_panics(pos in proptest::prelude::any::<proptest::sample::Index>(), byte in 0u8..=255) {
            let mut bytes = to_bytes(&device().to_plist(), false);
            let i = pos.index(bytes.len());
            bytes[i] = byte;
            let _ = DeviceInfo::from_bytes(&bytes, Path::new("Info.plist"));
        }
    }
}
