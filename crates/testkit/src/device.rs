//! Writes one device folder: blobs, Manifest.db, Info.plist, Manifest.plist, Status.plist.
//!
//! The folder is laid out by domain (camera roll, home and media, apps, system domains), each
//! in its own module. Everything derives from the household seed and the device index; devices
//! share nothing but the household photo pool, so they can be written in parallel.
//!
//! An encrypted device ([`DeviceSpec::encryption`]) also holds the domains Apple backs up only
//! when encrypted ([`secure`]); its twin ([`Encrypt::Never`]) holds the same files unencrypted.

pub(crate) mod apps;
pub(crate) mod camera;
pub(crate) mod home;
pub(crate) mod metadata;
mod secure;
mod system;
pub(crate) mod writer;

use std::path::Path;

use hearth_mobilesync::{INFO_PLIST, MANIFEST_DB, MANIFEST_PLIST, STATUS_PLIST};
use rand::RngExt;
use sha1::{Digest, Sha1};

use crate::content::apps::App;
use crate::content::{Seeds, apps as catalog};
use crate::crypt::{self, DeviceKeys, Sealer};
use crate::error::{Context, Error};
use crate::spec::{DeviceSpec, HouseholdSpec};
use crate::tree::set_mtime;
use writer::BlobWriter;

/// 2024-06-01 19:00 UTC: day 0's backups start here; content never reads the wall clock.
pub(crate) const FIRST_BACKUP: i64 = 1_717_268_400;

/// When device `index` is backed up on `day`: nightly, ten minutes apart per device.
pub(crate) fn backup_time(index: usize, day: u32) -> i64 {
    FIRST_BACKUP + i64::from(day) * 86_400 + index as i64 * 600
}

/// The 40-hex upper-case UDID of device `index` of a household.
pub(crate) fn udid(seed: u64, index: usize) -> String {
    let digest = Sha1::digest(format!("hearth-testkit/udid/{seed}/{index}"));
    hex::encode_upper(digest)
}

/// What every section of a device needs to know.
pub(crate) struct Ctx<'a> {
    pub(crate) spec: &'a DeviceSpec,
    pub(crate) seeds: Seeds,
    /// The household photo pool: pool item `i` has the same bytes on every device.
    pub(crate) pool: Seeds,
    pub(crate) pool_photo_bytes: u64,
    pub(crate) shared_fraction: f64,
    pub(crate) apps: Vec<App>,
    pub(crate) small: SmallBudget,
}

impl Ctx<'_> {
    /// Big-database bytes: sms.db 40%, ChatStorage.sqlite 35%, Photos.sqlite 25%; without
    /// WhatsApp its share goes to sms.db.
    pub(crate) fn db_target(&self, db: BigDb) -> u64 {
        let total = self.spec.big_db_bytes as f64;
        let whatsapp = !self.apps.is_empty();
        let share = match db {
            BigDb::Sms if whatsapp => 0.40,
            BigDb::Sms => 0.75,
            BigDb::ChatStorage => 0.35,
            BigDb::Photos => 0.25,
        };
        (total * share) as u64
    }

    /// Rows for the small system databases (contacts, calls, history), from the device's
    /// small-file count.
    pub(crate) fn small_db_rows(&self) -> usize {
        (self.spec.small_files / 2).clamp(30, 3_000)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BigDb {
    Sms,
    ChatStorage,
    Photos,
}

/// How a device's `small_files` are spread over its domains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SmallBudget {
    pub(crate) home_prefs: usize,
    pub(crate) home_caches: usize,
    pub(crate) system: usize,
    pub(crate) per_app: Vec<usize>,
}

impl SmallBudget {
    /// 8% home preferences, 6% system domains, the rest app containers (or home caches when
    /// no app is installed). Sums to `n`.
    pub(crate) fn split(n: usize, apps: usize) -> Self {
        let home_prefs = n * 8 / 100;
        let system = n * 6 / 100;
        let rest = n - home_prefs - system;
        let (home_caches, per_app) = if apps == 0 {
            (rest, Vec::new())
        } else {
            let home_caches = rest / 10;
            let for_apps = rest - home_caches;
            let per_app = (0..apps)
                .map(|i| for_apps / apps + usize::from(i < for_apps % apps))
                .collect();
            (home_caches, per_app)
        };
        SmallBudget {
            home_prefs,
            home_caches,
            system,
            per_app,
        }
    }
}

/// A device folder written by [`write_device`].
#[derive(Debug, Clone)]
pub(crate) struct Written {
    pub(crate) udid: String,
    pub(crate) folder: std::path::PathBuf,
    /// `Some` when the folder is encrypted.
    pub(crate) keys: Option<DeviceKeys>,
}

/// Whether devices with an [`DeviceSpec::encryption`] are written encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encrypt {
    AsSpecified,
    /// The plaintext twin: the same files, none encrypted.
    Never,
}

/// Writes device `index` of `household` to `<out>/<UDID>/`.
pub(crate) fn write_device(
    household: &HouseholdSpec,
    index: usize,
    out: &Path,
    encrypt: Encrypt,
) -> Result<Written, Error> {
    let spec = &household.devices[index];
    let root = Seeds::new(household.seed);
    let seeds = root.label("device").child(index as u64);
    let udid = udid(household.seed, index);
    let folder = out.join(&udid);
    std::fs::create_dir_all(&folder).at(&folder)?;
    let mut apps = catalog::choose(
        spec.apps,
        spec.is_ipad(),
        seeds.label("apps").rng().random_range(0..64),
    );
    for id in &spec.extras.apps {
        let app = catalog::find(id)
            .unwrap_or_else(|| panic!("Extras::apps: the kit knows no app {id:?}"));
        if apps.iter().all(|a| a.bundle_id != app.bundle_id) {
            apps.push(app);
        }
    }
    let ctx = Ctx {
        spec,
        seeds,
        pool: root.label("household photo pool"),
        pool_photo_bytes: pool_photo_bytes(household),
        shared_fraction: household.shared_photo_fraction.clamp(0.0, 1.0),
        small: SmallBudget::split(spec.small_files, apps.len()),
        apps,
    };
    let now = backup_time(index, 0);
    let mut key_rng = seeds.label("keys").rng();
    let encryption = spec
        .encryption
        .as_ref()
        .filter(|_| encrypt == Encrypt::AsSpecified);
    let keybag = encryption.map(|e| crypt::new_keybag(e, &mut key_rng));
    let keys = keybag.as_ref().map(|(_, keys)| keys.clone());
    let sealer = Sealer::new(keys.as_ref())?;
    let mut w = BlobWriter::new(&folder, seeds, now, sealer, key_rng);
    camera::write(&mut w, &ctx)?;
    home::write(&mut w, &ctx)?;
    apps::write(&mut w, &ctx)?;
    system::write(&mut w, &ctx)?;
    if spec.encryption.is_some() {
        secure::write(&mut w, &ctx)?;
    }
    let manifest_key = w.finish()?;
    let locks = keybag.map(|(bag, _)| metadata::Locks {
        keybag: bag,
        manifest_key: manifest_key.expect("an encrypted Manifest.db has a key"),
    });
    metadata::write(&folder, &udid, &ctx, now, locks)?;
    for name in [MANIFEST_DB, INFO_PLIST, MANIFEST_PLIST, STATUS_PLIST] {
        set_mtime(&folder.join(name), now)?;
    }
    Ok(Written { udid, folder, keys })
}

/// Average size of pool photos: the mean of the devices' averages.
fn pool_photo_bytes(household: &HouseholdSpec) -> u64 {
    let sizes: Vec<u64> = household
        .devices
        .iter()
        .filter(|d| d.photos > 0)
        .map(|d| d.photo_bytes)
        .collect();
    sizes.iter().sum::<u64>() / (sizes.len().max(1) as u64)
}

/// Spreads `k` marked items evenly over `n` slots: whether slot `i` is marked.
pub(crate) fn evenly(i: usize, k: usize, n: usize) -> bool {
    n > 0 && (i + 1) * k / n > i * k / n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_sums_to_n() {
        for (n, apps) in [(0, 0), (7, 0), (100, 3), (4_000, 30), (1, 5)] {
            let b = SmallBudget::split(n, apps);
            let total = b.home_prefs + b.home_caches + b.system + b.per_app.iter().sum::<usize>();
            assert_eq!(total, n);
            assert_eq!(b.per_app.len(), apps);
        }
    }

    #[test]
    fn evenly_marks_exactly_k() {
        for (k, n) in [(0, 10), (4, 10), (10, 10), (3, 7)] {
            assert_eq!((0..n).filter(|&i| evenly(i, k, n)).count(), k);
        }
    }

    #[test]
    fn udids_are_upper_hex_and_distinct() {
        let a = udid(1, 0);
        assert_eq!(a.len(), 40);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
        assert_ne!(a, udid(1, 1));
        assert_ne!(a, udid(2, 0));
    }
}
