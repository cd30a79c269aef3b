//! The small system domains: keyboard, wireless, system preferences, database (a symlink),
//! root and an installer state folder.

use rand::RngExt;

use super::Ctx;
use super::home::small_file;
use super::writer::{BlobWriter, CLASS_DEFAULT};
use crate::content::databases::misc::{self, SmallDb};
use crate::content::{Rng, plists, text};
use crate::error::Error;

/// Files each system domain may hold; the budget cycles through them.
const FILES: &[(&str, &str)] = &[
    (
        "KeyboardDomain",
        "Library/Keyboard/en_GB-dynamic.lm/dynamic-lexicon.dat",
    ),
    (
        "KeyboardDomain",
        "Library/Keyboard/en_GB-dynamic.lm/dynamic.lm",
    ),
    ("KeyboardDomain", "Library/Keyboard/UserDictionary.plist"),
    (
        "WirelessDomain",
        "Library/Preferences/com.apple.commcenter.plist",
    ),
    (
        "WirelessDomain",
        "Library/Preferences/com.apple.commcenter.callservices.plist",
    ),
    (
        "SystemPreferencesDomain",
        "SystemConfiguration/preferences.plist",
    ),
    (
        "SystemPreferencesDomain",
        "SystemConfiguration/com.apple.radios.plist",
    ),
    (
        "SystemPreferencesDomain",
        "SystemConfiguration/com.apple.AutoWake.plist",
    ),
    (
        "SystemPreferencesDomain",
        "SystemConfiguration/NetworkInterfaces.plist",
    ),
    ("RootDomain", "Library/Caches/locationd/clients.plist"),
    ("RootDomain", "Library/Preferences/com.apple.timed.plist"),
    (
        "InstallDomain",
        "Library/MobileInstallation/BackedUpState/AppState.plist",
    ),
];

pub(crate) fn write(w: &mut BlobWriter, ctx: &Ctx) -> Result<(), Error> {
    let mut rng = ctx.seeds.label("system").rng();
    for i in 0..ctx.small.system {
        let (domain, path) = FILES[i % FILES.len()];
        let path = match i / FILES.len() {
            0 => path.to_owned(),
            n => format!("{path}.{n}"),
        };
        system_file(w, &mut rng, domain, &path)?;
    }
    let (seeds, now, rows) = (ctx.seeds.label("DataUsage"), w.now(), ctx.small_db_rows());
    w.file(
        "WirelessDomain",
        "Library/Databases/DataUsage.sqlite",
        CLASS_DEFAULT,
        |b| misc::create_db(b, SmallDb::DataUsage, seeds, rows / 4 + 10, now),
    )?;
    w.symlink(
        "DatabaseDomain",
        "timezone/localtime",
        "/var/db/timezone/zoneinfo/Europe/London",
    );
    w.dir("ManagedPreferencesDomain", "mobile");
    w.dir(
        "SysSharedContainerDomain-systemgroup.com.apple.configurationprofiles",
        "Library/ConfigurationProfiles",
    );
    w.dir("TonesDomain", "Media/iTunes_Control/Ringtones");
    Ok(())
}

/// Plists are real plists; the rest follow their extension.
fn system_file(w: &mut BlobWriter, rng: &mut Rng, domain: &str, path: &str) -> Result<u64, Error> {
    if path.contains(".plist") {
        let bytes = plists::preferences_file(rng, w.now());
        w.bytes(domain, path, &bytes)
    } else if rng.random_bool(0.5) {
        w.bytes(domain, path, &text::bytes_in(rng, 1_000..40_000))
    } else {
        small_file(w, rng, domain, path)
    }
}
