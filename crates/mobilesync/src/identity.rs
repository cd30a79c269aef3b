//! Which device a backup folder belongs to, when Info.plist does not say.
//!
//! Finder, iTunes and idevicebackup2 write the UDID into Info.plist (`Unique Identifier`) and
//! name the folder after it; the device writes it into Manifest.plist (`Lockdown`
//! `UniqueDeviceID`). Damaged or hand-assembled backups, and some third-party tools, leave
//! Info.plist without it. [`DeviceFolder::udid`] then takes the first of: Manifest.plist's
//! Lockdown, the folder's name when that is a UDID; and says which it was, so the caller can
//! warn.

use crate::device::DeviceFolder;
use crate::error::Error;

/// Where a device folder's UDID was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdidSource {
    /// Info.plist's `Unique Identifier` (or `Target Identifier`): the normal case.
    InfoPlist,
    /// Manifest.plist's `Lockdown` → `UniqueDeviceID`.
    ManifestLockdown,
    /// The device folder's own name.
    FolderName,
}

impl UdidSource {
    /// How a message names the source.
    pub fn describe(self) -> &'static str {
        match self {
            UdidSource::InfoPlist => "Info.plist's Unique Identifier",
            UdidSource::ManifestLockdown => "Manifest.plist's Lockdown UniqueDeviceID",
            UdidSource::FolderName => "the folder's name",
        }
    }
}

/// True when `s` can name a device (and the folder of a restore image): one plain file name
/// of letters, digits and `-`, at most 64 bytes.
pub fn is_plain_udid(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// True when `s` has the shape of a real UDID: 40 hex digits (devices before 2018), or 8 and
/// 16 hex digits joined by `-` (`00008110-001A2B3C4D5E801E`).
pub fn looks_like_udid(s: &str) -> bool {
    let hex = |p: &str, len: usize| p.len() == len && p.bytes().all(|b| b.is_ascii_hexdigit());
    match s.split_once('-') {
        None => hex(s, 40),
        Some((a, b)) => hex(a, 8) && hex(b, 16),
    }
}

impl DeviceFolder {
    /// The device's UDID and where it was found: Info.plist, else Manifest.plist's Lockdown
    /// (when it is a plain name), else the folder's name (when it looks like a UDID). UDIDs
    /// from the last two are upper-cased, as Info.plist's `Unique Identifier` is.
    /// [`Error::NoUdid`] when none of them gives one.
    pub fn udid(&self) -> Result<(String, UdidSource), Error> {
        if !self.info.udid.is_empty() {
            return Ok((self.info.udid.clone(), UdidSource::InfoPlist));
        }
        let lockdown = self
            .manifest
            .as_ref()
            .and_then(|m| m.lockdown_udid.as_deref());
        if let Some(udid) = lockdown.filter(|u| is_plain_udid(u)) {
            return Ok((udid.to_uppercase(), UdidSource::ManifestLockdown));
        }
        let name = self.root.file_name().and_then(|n| n.to_str());
        match name.filter(|n| looks_like_udid(n)) {
            Some(name) => Ok((name.to_uppercase(), UdidSource::FolderName)),
            None => Err(Error::NoUdid {
                folder: self.root.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plists::{DeviceInfo, ManifestInfo};
    use std::path::Path;

    fn folder(name: &str, info_udid: &str, lockdown: Option<&str>) -> DeviceFolder {
        DeviceFolder {
            root: Path::new("/b").join(name),
            info: DeviceInfo {
                udid: info_udid.into(),
                ..DeviceInfo::default()
            },
            manifest: Some(ManifestInfo {
                lockdown_udid: lockdown.map(str::to_string),
                ..ManifestInfo::default()
            }),
            status: None,
            ignored: Vec::new(),
        }
    }

    #[test]
    fn info_plist_then_lockdown_then_the_folder_name() {
        let new_form = "00008110-001a2b3c4d5e801e";
        let cases = [
            (
                folder("x", "AAAA", Some("bbbb")),
                "AAAA",
                UdidSource::InfoPlist,
            ),
            (
                folder("x", "", Some("bbbb")),
                "BBBB",
                UdidSource::ManifestLockdown,
            ),
            (
                folder(new_form, "", Some("../evil")),
                "00008110-001A2B3C4D5E801E",
                UdidSource::FolderName,
            ),
            (
                folder(&"ab".repeat(20), "", None),
                &"AB".repeat(20),
                UdidSource::FolderName,
            ),
        ];
        for (f, udid, source) in cases {
            assert_eq!(f.udid().unwrap(), (udid.to_string(), source), "{f:?}");
        }
    }

    #[test]
    fn none_of_them_is_an_error_naming_the_folder() {
        for name in ["backup", "00008110-001A2B3C4D5E6F", &"ab".repeat(21)] {
            let err = folder(name, "", None).udid().unwrap_err();
            assert!(matches!(err, Error::NoUdid { .. }), "{err}");
            let msg = err.to_string();
            assert!(
                msg.starts_with(&format!("/b/{name}: no device UDID: ")),
                "{msg}"
            );
            assert!(msg.contains("name the folder after it"), "{msg}");
        }
    }

    #[test]
    fn udid_shapes() {
        assert!(looks_like_udid("1CB128EAFA77C5BE74283E9A3A2130AF36A3C059"));
        assert!(looks_like_udid("00008030-001A2D3E0C38802E"));
        for not in [
            "",
            "backup",
            "00008030-001A2D3E0C3880",
            "0000803-0001A2D3E0C38802E",
        ] {
            assert!(!looks_like_udid(not), "{not:?}");
        }
        assert!(is_plain_udid("ABC-123") && !is_plain_udid("a b") && !is_plain_udid(""));
    }
}
