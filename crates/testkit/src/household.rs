//! A generated household: the device folders under one output folder.

use std::path::{Path, PathBuf};

use hearth_mobilesync::{DeviceFolder, MANIFEST_DB, find_device_folders};

use crate::device::{self, write_device};
use crate::error::{Context, Error};
use crate::spec::HouseholdSpec;
use crate::tree::walk;

/// The device folders [`generate`] wrote (or [`Household::load`] found), in device order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Household {
    /// The folder holding one `<UDID>` folder per device (a MobileSync `Backup` folder).
    pub root: PathBuf,
    pub devices: Vec<GeneratedDevice>,
}

/// One device folder and what it holds on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedDevice {
    /// 40 upper-case hex characters; also the folder name.
    pub udid: String,
    pub name: String,
    pub product_type: String,
    pub ios_version: String,
    pub folder: PathBuf,
    /// Files in the folder: blobs, Manifest.db and the three plists.
    pub files: usize,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// Writes every device of `spec` to `<out>/<UDID>/`, devices in parallel.
///
/// The bytes written depend only on `spec`. Fails before writing anything if a device folder
/// already holds a Manifest.db.
pub fn generate(spec: &HouseholdSpec, out: &Path) -> Result<Household, Error> {
    std::fs::create_dir_all(out).at(out)?;
    for i in 0..spec.devices.len() {
        let folder = out.join(device::udid(spec.seed, i));
        if folder.join(MANIFEST_DB).exists() {
            return Err(Error::AlreadyExists { path: folder });
        }
    }
    let written = std::thread::scope(|s| {
        let handles: Vec<_> = (0..spec.devices.len())
            .map(|i| s.spawn(move || write_device(spec, i, out)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a device writer panicked"))
            .collect::<Result<Vec<_>, Error>>()
    })?;
    let devices = written
        .into_iter()
        .zip(&spec.devices)
        .map(|(w, d)| {
            let (files, bytes) = folder_size(&w.folder)?;
            Ok(GeneratedDevice {
                udid: w.udid,
                name: d.name.clone(),
                product_type: d.product_type.clone(),
                ios_version: d.ios_version.clone(),
                folder: w.folder,
                files,
                bytes,
            })
        })
        .collect::<Result<_, Error>>()?;
    Ok(Household {
        root: out.to_path_buf(),
        devices,
    })
}

impl Household {
    /// Finds the device folders under `root` that a previous [`generate`] wrote, in device
    /// order (the order of their backup times).
    pub fn load(root: &Path) -> Result<Household, Error> {
        let folders = match find_device_folders(root) {
            Err(hearth_mobilesync::Error::NoDeviceFolder { .. }) => Vec::new(),
            other => other?,
        };
        let mut found = Vec::new();
        for folder in folders {
            let device = DeviceFolder::open(&folder)?;
            let (files, bytes) = folder_size(&folder)?;
            let info = device.info;
            found.push((
                info.last_backup_date,
                GeneratedDevice {
                    udid: info.udid,
                    name: info.device_name,
                    product_type: info.product_type,
                    ios_version: info.product_version,
                    folder,
                    files,
                    bytes,
                },
            ));
        }
        if found.is_empty() {
            let reason = "no device folder".to_owned();
            return Err(Error::NotGenerated {
                path: root.to_path_buf(),
                reason,
            });
        }
        found.sort_by(|a, b| (a.0, &a.1.udid).cmp(&(b.0, &b.1.udid)));
        let devices = found.into_iter().map(|(_, d)| d).collect();
        Ok(Household {
            root: root.to_path_buf(),
            devices,
        })
    }

    /// Files in all device folders.
    pub fn files(&self) -> usize {
        self.devices.iter().map(|d| d.files).sum()
    }

    /// Bytes in all device folders.
    pub fn bytes(&self) -> u64 {
        self.devices.iter().map(|d| d.bytes).sum()
    }

    /// Re-counts files and bytes after the folders changed (e.g. after [`crate::next_day`]).
    pub fn refresh(&mut self) -> Result<(), Error> {
        for d in &mut self.devices {
            (d.files, d.bytes) = folder_size(&d.folder)?;
        }
        Ok(())
    }
}

/// The UDID device `index` of a household generated from `seed` gets.
pub fn device_udid(seed: u64, index: usize) -> String {
    device::udid(seed, index)
}

fn folder_size(folder: &Path) -> Result<(usize, u64), Error> {
    let (mut files, mut bytes) = (0, 0);
    walk(folder, "", &mut |_, path| {
        files += 1;
        bytes += std::fs::metadata(path).at(path)?.len();
        Ok(())
    })?;
    Ok((files, bytes))
}
