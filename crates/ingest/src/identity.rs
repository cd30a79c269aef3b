//! The device a folder's snapshot is named by: Info.plist, with Manifest.plist's `Lockdown`
//! filling what it lacks, and a warning when the UDID itself had to come from elsewhere.

use hearth_format::{DeviceIdentity, Warning};
use hearth_mobilesync::{DeviceFolder, INFO_PLIST, UdidSource};

/// The device of `d` and, when its UDID is not Info.plist's, a warning saying where it came
/// from. Each other field is Info.plist's, else Lockdown's, else empty; the iOS version is
/// Lockdown's first (the authoritative one, [`DeviceFolder::ios_version`]).
pub(crate) fn identity(
    d: &DeviceFolder,
) -> Result<(DeviceIdentity, Option<Warning>), hearth_mobilesync::Error> {
    let (udid, source) = d.udid()?;
    let lockdown = d.manifest.as_ref();
    let either = |info: &str, lockdown: Option<&String>| match info {
        "" => lockdown.cloned().unwrap_or_default(),
        info => info.to_string(),
    };
    let identity = DeviceIdentity {
        name: either(
            &d.info.device_name,
            lockdown.and_then(|m| m.lockdown_device_name.as_ref()),
        ),
        product_type: either(
            &d.info.product_type,
            lockdown.and_then(|m| m.lockdown_product_type.as_ref()),
        ),
        ios_version: d.ios_version().unwrap_or_default().to_string(),
        build: either(
            &d.info.build_version,
            lockdown.and_then(|m| m.lockdown_build_version.as_ref()),
        ),
        udid,
    };
    let warning = (source != UdidSource::InfoPlist).then(|| udid_warning(&identity.udid, source));
    Ok((identity, warning))
}

fn udid_warning(udid: &str, source: UdidSource) -> Warning {
    let lockdown = match source {
        UdidSource::FolderName => " and Manifest.plist's Lockdown has no UniqueDeviceID",
        _ => "",
    };
    Warning {
        path: INFO_PLIST.to_string(),
        message: format!(
            "names no device (no Unique Identifier or Target Identifier){lockdown}: the device is taken to be UDID {udid}, from {}",
            source.describe()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_mobilesync::{DeviceInfo, ManifestInfo};
    use std::path::PathBuf;

    fn folder(info: DeviceInfo, lockdown: ManifestInfo) -> DeviceFolder {
        DeviceFolder {
            root: PathBuf::from("/b/00008110-001A2B3C4D5E801E"),
            info,
            manifest: Some(lockdown),
            status: None,
            ignored: Vec::new(),
        }
    }

    fn lockdown(udid: Option<&str>) -> ManifestInfo {
        ManifestInfo {
            lockdown_udid: udid.map(str::to_string),
            lockdown_device_name: Some("Kitchen iPad".into()),
            lockdown_product_type: Some("iPad8,1".into()),
            lockdown_product_version: Some("17.5.1".into()),
            lockdown_build_version: Some("21F90".into()),
            ..ManifestInfo::default()
        }
    }

    #[test]
    fn lockdown_fills_what_info_plist_lacks_and_the_warning_says_where_the_udid_came_from() {
        let f = folder(
            DeviceInfo::default(),
            lockdown(Some("00008030-001a35e11a88003a")),
        );
        let (id, warning) = identity(&f).unwrap();
        assert_eq!(
            id,
            DeviceIdentity {
                udid: "00008030-001A35E11A88003A".into(),
                name: "Kitchen iPad".into(),
                product_type: "iPad8,1".into(),
                ios_version: "17.5.1".into(),
                build: "21F90".into(),
            }
        );
        let w = warning.unwrap();
        assert_eq!(w.path, "Info.plist");
        assert_eq!(
            w.message,
            "names no device (no Unique Identifier or Target Identifier): the device is taken to be UDID 00008030-001A35E11A88003A, from Manifest.plist's Lockdown UniqueDeviceID"
        );

        let (id, warning) = identity(&folder(DeviceInfo::default(), lockdown(None))).unwrap();
        assert_eq!(id.udid, "00008110-001A2B3C4D5E801E");
        assert!(
            warning.unwrap().message.contains(
                "and Manifest.plist's Lockdown has no UniqueDeviceID: the device is taken to be UDID 00008110-001A2B3C4D5E801E, from the folder's name"
            )
        );
    }

    #[test]
    fn info_plist_wins_and_needs_no_warning() {
        let info = DeviceInfo {
            udid: "AAAA".into(),
            device_name: "Mum's iPhone".into(),
            ..DeviceInfo::default()
        };
        let (id, warning) = identity(&folder(info, lockdown(Some("BBBB")))).unwrap();
        assert_eq!(
            (id.udid.as_str(), id.name.as_str()),
            ("AAAA", "Mum's iPhone")
        );
        assert_eq!(id.product_type, "iPad8,1", "filled from Lockdown");
        assert_eq!(warning, None);
    }
}
