//! Small edits of a device folder's plists that real households see between backups: an iOS
//! update, a host that did not record the apps' App Store metadata, and one phone's backup
//! copied to a new phone.
//!
//! They change plists only (Manifest.db and blobs are untouched), so they work on encrypted
//! devices too: Info.plist and Manifest.plist are never encrypted.

use std::path::{Path, PathBuf};

use hearth_mobilesync::{
    DeviceInfo, INFO_PLIST, MANIFEST_PLIST, read_plist_dictionary, write_plist_binary,
};
use plist::Value;

use crate::error::Error;
use crate::tree::copy_tree;

/// Sets the device's iOS version and build, as an update installed before the next backup
/// does: Info.plist `Product Version`/`Build Version` and Manifest.plist
/// `Lockdown.ProductVersion`/`Lockdown.BuildVersion`.
pub fn set_ios_version(folder: &Path, version: &str, build: &str) -> Result<(), Error> {
    let path = folder.join(INFO_PLIST);
    let mut info = read_plist_dictionary(&path)?;
    info.insert("Product Version".into(), Value::String(version.into()));
    info.insert("Build Version".into(), Value::String(build.into()));
    write_plist_binary(&path, &info)?;
    let path = folder.join(MANIFEST_PLIST);
    let mut manifest = read_plist_dictionary(&path)?;
    if let Some(Value::Dictionary(lockdown)) = manifest.get_mut("Lockdown") {
        lockdown.insert("ProductVersion".into(), Value::String(version.into()));
        lockdown.insert("BuildVersion".into(), Value::String(build.into()));
    }
    write_plist_binary(&path, &manifest)?;
    Ok(())
}

/// Removes Info.plist's `Applications` dictionary (App Store metadata, DRM blobs and icons),
/// keeping `Installed Applications`, as a host that does not record it writes the file (the
/// mvt fixture has none): no app's device families are known any more.
pub fn remove_app_metadata(folder: &Path) -> Result<(), Error> {
    let path = folder.join(INFO_PLIST);
    let mut info = read_plist_dictionary(&path)?;
    info.remove("Applications");
    write_plist_binary(&path, &info)?;
    Ok(())
}

/// Copies the device folder `src` to `parent/udid` as another device, as when a household
/// restores one phone's backup onto a new phone: the same content under another UDID and name
/// (Info.plist). Returns the new folder.
pub fn clone_device(src: &Path, parent: &Path, udid: &str, name: &str) -> Result<PathBuf, Error> {
    let dst = parent.join(udid);
    copy_tree(src, &dst)?;
    let path = dst.join(INFO_PLIST);
    let mut info = DeviceInfo::read(&path)?;
    info.udid = udid.into();
    info.device_name = name.into();
    write_plist_binary(&path, &info.to_plist())?;
    Ok(dst)
}
