//! A generated household: the device folders under one output folder.

use std::path::{Path, PathBuf};

use hearth_mobilesync::{DeviceFolder, MANIFEST_DB, find_device_folders};

use crate::crypt::{self, DeviceKeys};
use crate::device::{self, Encrypt, write_device};
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
    /// `Manifest.plist:IsEncrypted`.
    pub encrypted: bool,
    /// The password and class keys of an encrypted device; `None` when unencrypted, or when
    /// loaded by [`Household::load`], which does not know passwords.
    pub keys: Option<DeviceKeys>,
}

/// Writes every device of `spec` to `<out>/<UDID>/`, devices in parallel, encrypting those
/// with an [`crate::EncryptionSpec`].
///
/// The bytes written depend only on `spec`. Fails before writing anything if a device folder
/// already holds a Manifest.db.
pub fn generate(spec: &HouseholdSpec, out: &Path) -> Result<Household, Error> {
    write_household(spec, out, Encrypt::AsSpecified)
}

/// Writes the plaintext twin of `spec`'s household: every device as [`generate`] writes it, but
/// none encrypted. An encrypted device's twin has the same UDID, the same files (including the
/// encrypted-only Health, keychain and Wi-Fi files) with the same bytes as the encrypted
/// device's blobs decrypt to, and the same Manifest.db rows but for `EncryptionKey`;
/// unencrypted devices are byte-identical. This stays true through [`crate::next_day`] with the
/// same options. (No real unencrypted backup holds the encrypted-only files: the twin is a test
/// oracle, not a model of one.)
pub fn generate_twin(spec: &HouseholdSpec, out: &Path) -> Result<Household, Error> {
    write_household(spec, out, Encrypt::Never)
}

/// [`generate`] into `<out>/encrypted` and [`generate_twin`] into `<out>/twin`: a household and
/// its plaintext twin, for tests that compare what they decrypt with the truth.
pub fn generate_with_twin(
    spec: &HouseholdSpec,
    out: &Path,
) -> Result<(Household, Household), Error> {
    let household = generate(spec, &out.join("encrypted"))?;
    Ok((household, generate_twin(spec, &out.join("twin"))?))
}

fn write_household(spec: &HouseholdSpec, out: &Path, encrypt: Encrypt) -> Result<Household, Error> {
    std::fs::create_dir_all(out).at(out)?;
    for i in 0..spec.devices.len() {
        let folder = out.join(device::udid(spec.seed, i));
        if folder.join(MANIFEST_DB).exists() {
            return Err(Error::AlreadyExists { path: folder });
        }
    }
    let written = std::thread::scope(|s| {
        let handles: Vec<_> = (0..spec.devices.len())
            .map(|i| s.spawn(move || write_device(spec, i, out, encrypt)))
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
                encrypted: w.keys.is_some(),
                keys: w.keys,
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
    /// order (the order of their backup times). Encrypted devices come without their keys (see
    /// [`Household::load_for`]).
    pub fn load(root: &Path) -> Result<Household, Error> {
        let folders = match find_device_folders(root) {
            Err(hearth_mobilesync::Error::NoDeviceFolder { .. }) => Vec::new(),
            other => other?,
        };
        let mut found = Vec::new();
        for folder in folders {
            let device = DeviceFolder::open(&folder)?;
            let (files, bytes) = folder_size(&folder)?;
            let encrypted = device.is_encrypted();
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
                    encrypted,
                    keys: None,
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

    /// [`Household::load`], then unlocks every encrypted device of `spec` with its password (at
    /// the spec's KDF cost: about 10 s per device at [`crate::KdfCost::apple`]), so that
    /// [`crate::next_day`] can edit it. Equals what [`generate`] returned for `spec`.
    pub fn load_for(spec: &HouseholdSpec, root: &Path) -> Result<Household, Error> {
        let mut household = Household::load(root)?;
        for (i, d) in spec.devices.iter().enumerate() {
            let udid = device_udid(spec.seed, i);
            let found = household.devices.iter_mut().find(|g| g.udid == udid);
            if let (Some(e), Some(g)) = (&d.encryption, found) {
                g.keys = Some(crypt::unlock(&g.folder, &e.password)?);
            }
        }
        Ok(household)
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
