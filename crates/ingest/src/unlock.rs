//! Opening an encrypted device backup: the keybag's class keys from a key the repository already
//! holds (no password, no derivation), else from the device's password, derived once and stored.

use crate::error::IngestError;
use hearth_format::{DeviceIdentity, DeviceKey};
use hearth_mobilesync::DeviceFolder;
use hearth_mobilesync::encryption::{ClassKeys, EncryptionError};
use hearth_repo::{Progress, Repository};
use std::fmt::Debug;

/// Where the backup passwords of encrypted devices come from (a map, a prompt, ...).
pub trait IosPasswords: Debug + Send + Sync {
    /// The backup password of `device`, or `None` when none was given for it.
    fn password(&self, device: &DeviceIdentity) -> Option<String>;
}

/// Passwords by device name or UDID, with an optional one for every other device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasswordMap {
    pub default: Option<String>,
    /// (device name or UDID, password)
    pub by_device: Vec<(String, String)>,
}

/// Longest iOS password file read: a line per device of a household (real ones are a few
/// hundred bytes).
pub const PASSWORD_FILE_MAX_BYTES: u64 = 1 << 20;

/// Why a password file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PasswordFileError {
    /// Not a regular file (a FIFO, a device), too long, or unreadable; names the file.
    #[error(transparent)]
    Read(#[from] hearth_mobilesync::Error),
    #[error("{}: not UTF-8 text", path.display())]
    NotText { path: std::path::PathBuf },
    #[error("{}: {detail}", path.display())]
    Parse {
        path: std::path::PathBuf,
        detail: String,
    },
}

impl PasswordMap {
    /// Reads and parses a password file ([`PasswordMap::parse`]): a regular file (a link to
    /// one is fine) of at most [`PASSWORD_FILE_MAX_BYTES`], so that a FIFO or `/dev/zero`
    /// given by mistake is an error, not a hang.
    pub fn read(path: &std::path::Path) -> Result<PasswordMap, PasswordFileError> {
        use hearth_mobilesync::{Links, read_regular};
        let bytes = read_regular(path, PASSWORD_FILE_MAX_BYTES, Links::Follow)?;
        let text = String::from_utf8(bytes).map_err(|_| PasswordFileError::NotText {
            path: path.to_path_buf(),
        })?;
        PasswordMap::parse(&text).map_err(|detail| PasswordFileError::Parse {
            path: path.to_path_buf(),
            detail,
        })
    }

    /// Parses a password file: either one line, the password of every device, or lines of
    /// `DEVICE = PASSWORD` (DEVICE is a name or UDID, split at the first `=`, both sides
    /// trimmed). Empty lines and lines starting with `#` are ignored.
    pub fn parse(text: &str) -> Result<PasswordMap, String> {
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .collect();
        if let [only] = lines[..]
            && !only.contains('=')
        {
            return Ok(PasswordMap {
                default: Some(only.to_string()),
                by_device: Vec::new(),
            });
        }
        let mut map = PasswordMap::default();
        for (n, line) in lines.iter().enumerate() {
            let Some((device, password)) = line.split_once('=') else {
                return Err(format!(
                    "line {} is not DEVICE = PASSWORD (a file with a single line is the password of every device)",
                    n + 1
                ));
            };
            map.by_device
                .push((device.trim().to_string(), password.trim().to_string()));
        }
        Ok(map)
    }
}

impl IosPasswords for PasswordMap {
    fn password(&self, device: &DeviceIdentity) -> Option<String> {
        self.by_device
            .iter()
            .find(|(d, _)| *d == device.udid || *d == device.name)
            .map(|(_, p)| p.clone())
            .or_else(|| self.default.clone())
    }
}

/// The class keys of an encrypted device and whether its password was derived this time.
pub(crate) struct Unlocked {
    pub keys: ClassKeys,
    pub derived: bool,
}

pub(crate) fn unlock(
    repo: &Repository,
    device: &DeviceFolder,
    id: &DeviceIdentity,
    passwords: Option<&dyn IosPasswords>,
    progress: &dyn Progress,
) -> Result<Unlocked, IngestError> {
    let source = |e| IngestError::Source {
        folder: device.root.clone(),
        source: Box::new(e),
    };
    let keybag = device.keybag().map_err(source)?;
    if let Some(keys) = keybag.unlock_any(repo.device_keys(&keybag.kdf.digest())?) {
        return Ok(Unlocked {
            keys,
            derived: false,
        });
    }
    let Some(password) = passwords.and_then(|p| p.password(id)) else {
        return Err(IngestError::NoIosPassword {
            folder: device.root.clone(),
            device: id.name.clone(),
        });
    };
    progress.start(
        &format!("deriving the backup key of {} (once per keybag)", id.name),
        None,
    );
    let kek = keybag.kdf.derive(password.as_bytes());
    progress.finish();
    let keys = keybag.unlock(&kek).map_err(|e| match e {
        EncryptionError::WrongPassword => IngestError::WrongIosPassword {
            folder: device.root.clone(),
            device: id.name.clone(),
        },
        other => source(hearth_mobilesync::Error::Encryption {
            path: device.root.join(hearth_mobilesync::MANIFEST_PLIST),
            source: other,
        }),
    })?;
    repo.save_device_key(&DeviceKey {
        udid: id.udid.clone(),
        created: hearth_repo::unix_now(),
        kdf_digest: keybag.kdf.digest(),
        kek: kek.0,
    })?;
    Ok(Unlocked {
        keys,
        derived: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(name: &str, udid: &str) -> DeviceIdentity {
        DeviceIdentity {
            udid: udid.into(),
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_single_line_is_everyones_password() {
        let m = PasswordMap::parse("s3cret = with equals\n").unwrap();
        assert_eq!(m.by_device, vec![("s3cret".into(), "with equals".into())]);
        let m = PasswordMap::parse("\n# household\nhunter2\n").unwrap();
        assert_eq!(m.password(&device("Any", "X")).as_deref(), Some("hunter2"));
    }

    #[test]
    fn devices_match_by_name_or_udid() {
        let m = PasswordMap::parse("Mum's iPhone = a=b\n00008110-BBBB = two\n").unwrap();
        assert_eq!(
            m.password(&device("Mum's iPhone", "X")).as_deref(),
            Some("a=b")
        );
        assert_eq!(
            m.password(&device("Kid", "00008110-BBBB")).as_deref(),
            Some("two")
        );
        assert_eq!(m.password(&device("Other", "Y")), None);
        assert!(
            PasswordMap::parse("a = 1\nno separator\n")
                .unwrap_err()
                .contains("line 2")
        );
    }
}
