//! hearth-testkit: deterministic synthetic households of iPhone/iPad backups in Apple's
//! MobileSync format, for tests, benchmarks and `hearth demo`.
//!
//! From a [`HouseholdSpec`] (a seed and a few counts per device) [`generate`] writes one
//! `<UDID>/` folder per device, as Finder would: `Info.plist`, `Manifest.plist`,
//! `Status.plist`, a `Manifest.db` written with hearth-mobilesync's writer, and a blob for every
//! regular file. Content is realistic in kind and compressibility: incompressible photos and
//! videos behind real headers (a share of the photos byte-identical across devices, as shared
//! albums and AirDrop make them), real SQLite databases (sms.db, Photos.sqlite, WhatsApp's
//! ChatStorage.sqlite, …) filled with real rows, plists, and thousands of small files in app
//! containers. [`next_day`] then edits the folders in place as a nightly incremental backup
//! does, and [`tree_digest`] / [`copy_tree`] let tests compare folders byte for byte.
//! [`ReadGate`] holds another process at the moment it opens or reads a file (to change the
//! file right then) and [`without_permission_overrides`] runs a child as root without root's
//! file permission overrides: hostile source folders made real, for end-to-end tests.
//!
//! The same spec always gives the same bytes (no wall clock, no OS randomness; devices are
//! written in parallel from independent seeds).
//!
//! For tests beyond households: [`bytes`], the one seeded generator of "some bytes";
//! [`FaultyBackend`], a storage backend that fails the Nth put, delete or list; and, with the
//! `servers` feature, `servers`: moto and rclone S3 servers on loopback, the tests' own S3
//! client and a fault-injecting proxy.
//!
//! A device with an [`EncryptionSpec`] is written encrypted as iOS ≥ 10.2 does (keybag from
//! its password, per-file keys, AES-256-CBC blobs and Manifest.db) and holds the domains Apple
//! backs up only when encrypted; [`generate_twin`] writes the same household unencrypted, an
//! oracle for decryption tests, and [`damage`] spoils encrypted folders the ways real ones go
//! wrong.
//!
//! What it is not: a faithful model of any one iOS version, or a reader; reading belongs to
//! hearth-mobilesync.
//!
//! ```no_run
//! use hearth_testkit::{DayOptions, HouseholdSpec, generate, next_day, tree_digest};
//!
//! # fn main() -> Result<(), hearth_testkit::Error> {
//! let out = std::path::Path::new("/tmp/household");
//! let household = generate(&HouseholdSpec::tiny(), out)?;
//! let before = tree_digest(out)?;
//! let night = next_day(&household, 1, &DayOptions::default())?;
//! println!("{} files changed", night.changed_files());
//! assert_ne!(before, tree_digest(out)?);
//! # Ok(())
//! # }
//! ```

pub mod bytes;
mod content;
mod crypt;
pub mod damage;
mod day;
mod device;
mod edits;
mod error;
mod faulty_backend;
mod household;
#[cfg(target_os = "linux")]
mod privilege;
#[cfg(target_os = "linux")]
mod read_gate;
#[cfg(feature = "servers")]
pub mod servers;
mod spec;
pub mod third_party;
mod tree;

pub use crypt::DeviceKeys;
pub use day::{ChangedFile, DayChanges, DayOptions, DeviceChanges, next_day};
pub use edits::{clone_device, remove_app_metadata, set_ios_version};
pub use error::Error;
pub use faulty_backend::{After, Fault, FaultyBackend, SeenCall, StorageCall};
pub use household::{
    GeneratedDevice, Household, device_udid, generate, generate_twin, generate_with_twin,
};
#[cfg(target_os = "linux")]
pub use privilege::without_permission_overrides;
#[cfg(target_os = "linux")]
pub use read_gate::{Access, ReadGate};
pub use spec::{
    DeviceSpec, EncryptionSpec, Extras, FINAL_CUT_PRO, HouseholdSpec, KdfCost, SIDELOADED_APP,
};
pub use tree::{FileDigest, copy_tree, files_under, set_mtime, tree_digest};

/// The plist crate the kit reads and writes plists with, for tests that inspect Info.plist
/// (e.g. its `Applications`) without depending on it themselves.
pub use plist;
