//! What to generate: a household of devices, each described by counts and average sizes.
//!
//! Specs are plain data. The presets size households for three uses: `tiny` for unit and
//! end-to-end tests (a few MB, fast in debug builds), `demo` for `hearth demo` (~40 MB) and
//! `bench` for benchmarks (scaled to a byte budget). `tiny_mixed` is `tiny`'s size with one
//! encrypted iPhone and one unencrypted iPad. `tiny_cross` is a small household for
//! cross-device restore tests: an iPad and two iPhones holding every kind of content Apple's
//! cross-device rules name ([`Extras`]).

/// A household: several devices backed up to one computer.
#[derive(Debug, Clone, PartialEq)]
pub struct HouseholdSpec {
    /// Every byte and name generated derives from this seed.
    pub seed: u64,
    pub devices: Vec<DeviceSpec>,
    /// Share of each device's photos taken from a household pool that other devices also
    /// hold (AirDrop, shared albums): same bytes on every device holding them.
    pub shared_photo_fraction: f64,
}

/// One device's backup, described by how much of each kind of content it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSpec {
    /// Device name as set by the user, e.g. "Mum's iPhone".
    pub name: String,
    /// Hardware model id, e.g. "iPhone15,2" or "iPad13,1".
    pub product_type: String,
    /// iOS version, e.g. "17.5.1".
    pub ios_version: String,
    /// Build of that iOS version, e.g. "21F90".
    pub build: String,
    /// Photos in the camera roll (shared and own).
    pub photos: usize,
    /// Average photo size in bytes.
    pub photo_bytes: u64,
    pub videos: usize,
    /// Average video size in bytes.
    pub video_bytes: u64,
    /// Total size of the big SQLite databases (sms.db, ChatStorage.sqlite, Photos.sqlite).
    pub big_db_bytes: u64,
    /// Third-party apps installed (WhatsApp always among them when > 0).
    pub apps: usize,
    /// Small files spread over preferences, caches and app containers.
    pub small_files: usize,
    /// `Some`: the backup is encrypted with this password, as with Finder's "Encrypt local
    /// backup" on iOS ≥ 10.2, and holds what Apple keeps only in encrypted backups (Health,
    /// keychain, Wi-Fi networks). Its plaintext is byte-identical to its unencrypted twin's
    /// ([`crate::generate_twin`]).
    pub encryption: Option<EncryptionSpec>,
    /// Content beyond the counts above, for cross-device restore tests. Empty (the default) in
    /// every preset but [`HouseholdSpec::tiny_cross`]; an empty `Extras` changes no byte.
    pub extras: Extras,
}

/// Optional content that the counts of a [`DeviceSpec`] do not describe: what a cross-device
/// restore must skip, keep or report, in every place Apple keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extras {
    /// Voice Memos also in the app group `AppDomainGroup-group.com.apple.VoiceMemos.shared`
    /// (`Recordings/CloudRecordings.db` and `.m4a` files, where iOS 15 and later keep them),
    /// beside the `MediaDomain Media/Recordings` ones every device has.
    pub voice_memos_group: bool,
    /// Apps installed after the chosen ones, by bundle id, each once: any app of the catalog,
    /// or one of the apps only installed this way: [`FINAL_CUT_PRO`] (iPad only, with an app
    /// group and an extension) and [`SIDELOADED_APP`] (no `iTunesMetadata` in Info.plist, so
    /// its device families are unknown). Generation panics on an unknown id.
    pub apps: Vec<String>,
    /// Camera-roll videos that are not `.MOV`: a screen recording `RPReplay_Final….MP4` and an
    /// iMovie export `….m4v` (lower case), with their thumbnails and Photos.sqlite rows.
    pub other_videos: bool,
    /// Live Photos (a `.MOV` beside some HEICs), edited versions in `PhotoData/Mutations` and
    /// photos in "Recently Deleted", as Photos.sqlite records them (`ZKINDSUBTYPE` 2,
    /// `ZHASADJUSTMENTS`, `ZTRASHEDSTATE`).
    pub live_photos_and_edits: bool,
}

/// Bundle id of an iPad-only app (`softwareSupportedDeviceIds` = `[4]`) with an app group
/// (`group.com.apple.FinalCutApp.shared`) and an extension (`….ShareExtension`), installable
/// through [`Extras::apps`].
pub const FINAL_CUT_PRO: &str = "com.apple.FinalCutApp";

/// Bundle id of a sideloaded app, installable through [`Extras::apps`]: listed in Info.plist's
/// `Installed Applications` and `Applications` (with a `PlaceholderIcon`, no `ApplicationSINF`
/// and no `iTunesMetadata`), so nothing in the backup says which devices it runs on.
pub const SIDELOADED_APP: &str = "com.utmapp.UTM";

/// How an encrypted device's backup is locked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionSpec {
    /// The backup password (UTF-8).
    pub password: String,
    /// PBKDF2 rounds written into the keybag.
    pub kdf: KdfCost,
}

/// The PBKDF2 round counts of a keybag: `kek = PBKDF2-SHA1(PBKDF2-SHA256(password, DPSL,
/// dp_iterations), SALT, iterations)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfCost {
    /// `ITER`: PBKDF2-HMAC-SHA1 rounds.
    pub iterations: u32,
    /// `DPIC`: PBKDF2-HMAC-SHA256 rounds.
    pub dp_iterations: u32,
}

impl KdfCost {
    /// A few rounds of each: the same format, derived in microseconds, for tests.
    pub const fn fast() -> Self {
        KdfCost {
            iterations: 10,
            dp_iterations: 10,
        }
    }

    /// What iOS writes: 10,000 SHA-1 and 10,000,000 SHA-256 rounds (about 10 s per derivation
    /// on a 2-core machine with optimised crypto crates).
    pub const fn apple() -> Self {
        KdfCost {
            iterations: 10_000,
            dp_iterations: 10_000_000,
        }
    }
}

impl EncryptionSpec {
    /// `password` with [`KdfCost::fast`].
    pub fn fast(password: &str) -> Self {
        Self::new(password, KdfCost::fast())
    }

    pub fn new(password: &str, kdf: KdfCost) -> Self {
        EncryptionSpec {
            password: password.to_owned(),
            kdf,
        }
    }
}

impl DeviceSpec {
    /// An empty, unencrypted device; set the counts with struct update syntax
    /// (`DeviceSpec { photos: 6, ..DeviceSpec::new(..) }`).
    pub fn new(name: &str, product_type: &str, ios_version: &str, build: &str) -> Self {
        DeviceSpec {
            name: name.to_owned(),
            product_type: product_type.to_owned(),
            ios_version: ios_version.to_owned(),
            build: build.to_owned(),
            photos: 0,
            photo_bytes: 0,
            videos: 0,
            video_bytes: 0,
            big_db_bytes: 0,
            apps: 0,
            small_files: 0,
            encryption: None,
            extras: Extras::default(),
        }
    }

    /// Whether the device is an iPad (by `product_type` prefix).
    pub fn is_ipad(&self) -> bool {
        self.product_type.starts_with("iPad")
    }

    /// "iPhone", "iPad" or "iPod" from the product type.
    pub fn product_name(&self) -> &'static str {
        if self.is_ipad() {
            "iPad"
        } else if self.product_type.starts_with("iPod") {
            "iPod touch"
        } else {
            "iPhone"
        }
    }
}

impl HouseholdSpec {
    /// Two iPhones, about 5 MB in all (the exporters' databases and voicemail included);
    /// generates in well under a second in a debug build.
    pub fn tiny() -> Self {
        HouseholdSpec {
            seed: 1,
            devices: vec![
                device("Mum's iPhone", "iPhone15,2", "17.5.1", "21F90")
                    .sized(10, 50_000, 1, 180_000, 300_000, 4, 120),
                device("Dad's iPhone", "iPhone14,5", "17.4.1", "21E236")
                    .sized(8, 50_000, 1, 150_000, 250_000, 3, 100),
            ],
            shared_photo_fraction: 0.4,
        }
    }

    /// Two iPhones and an iPad, about 40 MB: what `hearth demo` backs up.
    pub fn demo() -> Self {
        HouseholdSpec {
            seed: 2024,
            devices: vec![
                device("Mum's iPhone", "iPhone15,2", "17.5.1", "21F90")
                    .sized(40, 200_000, 2, 1_500_000, 2_000_000, 10, 400),
                device("Dad's iPhone", "iPhone14,5", "17.4.1", "21E236")
                    .sized(30, 200_000, 2, 1_200_000, 1_500_000, 8, 300),
                device("Kids' iPad", "iPad13,1", "17.5.1", "21F90")
                    .sized(20, 200_000, 1, 2_000_000, 1_000_000, 8, 300),
            ],
            shared_photo_fraction: 0.4,
        }
    }

    /// Two iPhones and an iPad scaled to about `total_bytes` (e.g. 1.5 GB): 40% of photos
    /// shared, big SQLite databases, thousands of small files.
    pub fn bench(total_bytes: u64) -> Self {
        let shares = [0.40, 0.35, 0.25];
        let models = [
            ("Mum's iPhone", "iPhone15,2", "17.5.1", "21F90"),
            ("Dad's iPhone", "iPhone14,5", "17.4.1", "21E236"),
            ("Family iPad", "iPad13,1", "17.5.1", "21F90"),
        ];
        let devices = models
            .iter()
            .zip(shares)
            .map(|(&(name, model, ios, build), share)| {
                bench_device(device(name, model, ios, build), total_bytes as f64 * share)
            })
            .collect();
        HouseholdSpec {
            seed: 0x4845_4152_5448,
            devices,
            shared_photo_fraction: 0.4,
        }
    }

    /// A household of real size: [`HouseholdSpec::bench`]'s devices and bytes (about
    /// `total_bytes`), with the small files of a real phone (app caches, thumbnails,
    /// preferences) raised until the household holds about `total_files` files. Real iPhones
    /// hold 50,000 to 300,000 files; `real(8_500_000_000, 195_000)` is the issue-13 household,
    /// `real(4_000_000_000, 1_000_000)` the one for memory.
    pub fn real(total_bytes: u64, total_files: usize) -> Self {
        let mut spec = HouseholdSpec::bench(total_bytes);
        let others: usize = spec
            .devices
            .iter()
            .map(DeviceSpec::files_besides_small)
            .sum();
        let small = total_files.saturating_sub(others);
        let shares = [0.40, 0.35, 0.25];
        for (d, share) in spec.devices.iter_mut().zip(shares) {
            d.small_files = (small as f64 * share) as usize;
        }
        spec
    }

    /// `tiny`'s sizes with an encrypted iPhone (device 0, `password`, [`KdfCost::fast`]) and an
    /// unencrypted iPad (device 1) that share 40% of their photos.
    pub fn tiny_mixed(password: &str) -> Self {
        let mut spec = HouseholdSpec::tiny().with_seed(7);
        let second = &mut spec.devices[1];
        second.name = "Kids' iPad".to_owned();
        second.product_type = "iPad13,1".to_owned();
        spec.encrypt_device(0, password)
    }

    /// A small household (about 3 MB) for cross-device restore tests, where every rule of
    /// Apple's has something to act on:
    ///
    /// 0. "Family iPad" (iPad13,1, iOS 17.5): photos, `.MOV`, `.MP4` and `.m4v` videos,
    ///    Messages, Voice Memos in both places ([`Extras::voice_memos_group`]), WhatsApp and
    ///    other universal apps, the iPad-only apps Procreate (with an extension), Logic Pro and
    ///    [`FINAL_CUT_PRO`] (with an app group and an extension), and [`SIDELOADED_APP`].
    /// 1. "Dad's iPhone" (iPhone14,5, iOS 17.5.1): universal apps and the iPhone-only
    ///    Instagram (`softwareSupportedDeviceIds` [1, 2, 9]; with an app group and extensions).
    /// 2. "Mum's iPhone" (iPhone15,2, iOS 17.4.1): an older iOS than both.
    pub fn tiny_cross() -> Self {
        let ipad = DeviceSpec {
            extras: Extras {
                voice_memos_group: true,
                apps: vec![FINAL_CUT_PRO.to_owned(), SIDELOADED_APP.to_owned()],
                other_videos: true,
                ..Extras::default()
            },
            ..device("Family iPad", "iPad13,1", "17.5", "21F79")
                .sized(8, 40_000, 1, 150_000, 200_000, 4, 100)
        };
        let dad = DeviceSpec {
            extras: Extras {
                apps: vec!["com.burbn.instagram".to_owned()],
                ..Extras::default()
            },
            ..device("Dad's iPhone", "iPhone14,5", "17.5.1", "21F90")
                .sized(6, 40_000, 1, 120_000, 150_000, 3, 80)
        };
        let mum = device("Mum's iPhone", "iPhone15,2", "17.4.1", "21E236")
            .sized(4, 40_000, 1, 100_000, 120_000, 2, 60);
        HouseholdSpec {
            seed: 0xC405_5DE7,
            devices: vec![ipad, dad, mum],
            shared_photo_fraction: 0.4,
        }
    }

    /// The same household with device `index` encrypted with `password` ([`KdfCost::fast`]).
    /// Panics if there is no such device.
    pub fn encrypt_device(mut self, index: usize, password: &str) -> Self {
        self.devices[index].encryption = Some(EncryptionSpec::fast(password));
        self
    }

    /// The same household with another seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// Splits a device's byte budget: 55% photos, 25% videos, 12% big databases, the rest small
/// files and fixed-size content.
fn bench_device(base: DeviceSpec, budget: f64) -> DeviceSpec {
    let photo_bytes = (budget * 0.55 / 50.0).clamp(20_000.0, 2_400_000.0);
    let video_bytes = (budget * 0.25 / 6.0).clamp(100_000.0, 30_000_000.0);
    let small_files = (budget * 0.04 / 4_000.0).clamp(50.0, 4_000.0);
    base.sized(
        (budget * 0.55 / photo_bytes).round() as usize,
        photo_bytes as u64,
        (budget * 0.25 / video_bytes).round() as usize,
        video_bytes as u64,
        (budget * 0.12) as u64,
        (budget / 20e6).clamp(6.0, 40.0) as usize,
        small_files as usize,
    )
}

fn device(name: &str, product_type: &str, ios_version: &str, build: &str) -> DeviceSpec {
    DeviceSpec::new(name, product_type, ios_version, build)
}

impl DeviceSpec {
    #[allow(clippy::too_many_arguments)]
    fn sized(
        mut self,
        photos: usize,
        photo_bytes: u64,
        videos: usize,
        video_bytes: u64,
        big_db_bytes: u64,
        apps: usize,
        small_files: usize,
    ) -> Self {
        self.photos = photos;
        self.photo_bytes = photo_bytes;
        self.videos = videos;
        self.video_bytes = video_bytes;
        self.big_db_bytes = big_db_bytes;
        self.apps = apps;
        self.small_files = small_files;
        self
    }

    /// About how many files the device holds besides its small files: each photo and its
    /// thumbnail, the videos, and a few hundred databases, plists and app files.
    pub fn files_besides_small(&self) -> usize {
        2 * self.photos + self.videos + 300 + 20 * self.apps
    }

    /// Expected bytes of photos, videos and big databases (the bulk of the folder).
    pub fn approx_bytes(&self) -> u64 {
        self.photos as u64 * self.photo_bytes
            + self.videos as u64 * self.video_bytes
            + self.big_db_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_scales_to_budget() {
        let spec = HouseholdSpec::bench(1_500_000_000);
        assert_eq!(spec.devices.len(), 3);
        assert!(spec.devices[2].is_ipad());
        let bulk: u64 = spec.devices.iter().map(DeviceSpec::approx_bytes).sum();
        assert!((1_200_000_000..1_500_000_000).contains(&bulk), "{bulk}");
        assert!(spec.devices.iter().all(|d| d.small_files >= 1_000));
    }

    #[test]
    fn real_reaches_its_file_count_with_bench_bytes() {
        let spec = HouseholdSpec::real(8_500_000_000, 195_000);
        let bench = HouseholdSpec::bench(8_500_000_000);
        let bulk = |s: &HouseholdSpec| s.devices.iter().map(DeviceSpec::approx_bytes).sum::<u64>();
        assert_eq!(bulk(&spec), bulk(&bench));
        let files: usize = (spec.devices.iter())
            .map(|d| d.small_files + d.files_besides_small())
            .sum();
        assert!((190_000..=195_000).contains(&files), "{files}");
        assert!(spec.devices.iter().all(|d| d.small_files > 40_000));
    }

    #[test]
    fn presets_have_the_documented_shape() {
        assert_eq!(HouseholdSpec::tiny().devices.len(), 2);
        let demo = HouseholdSpec::demo();
        let ipads = demo.devices.iter().filter(|d| d.is_ipad()).count();
        assert_eq!((demo.devices.len(), ipads), (3, 1));
        let all = [HouseholdSpec::tiny(), demo, HouseholdSpec::bench(1 << 30)];
        assert!(
            all.iter()
                .flat_map(|h| &h.devices)
                .all(|d| d.encryption.is_none())
        );
        let mixed = HouseholdSpec::tiny_mixed("pw");
        let encrypted: Vec<bool> = mixed
            .devices
            .iter()
            .map(|d| d.encryption.is_some())
            .collect();
        assert_eq!(encrypted, [true, false]);
        assert!(mixed.devices[1].is_ipad() && mixed.shared_photo_fraction > 0.0);
        assert!(
            [HouseholdSpec::tiny(), mixed, HouseholdSpec::demo()]
                .iter()
                .flat_map(|h| &h.devices)
                .all(|d| d.extras == Extras::default()),
            "only tiny_cross has extras"
        );
        let cross = HouseholdSpec::tiny_cross();
        let families: Vec<&str> = cross.devices.iter().map(|d| d.product_name()).collect();
        assert_eq!(families, ["iPad", "iPhone", "iPhone"]);
        assert!(cross.devices[0].extras.voice_memos_group);
    }
}
