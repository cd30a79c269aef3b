//! Property lists: app and system preferences (XML or binary) and App Store metadata.

use std::time::{Duration, SystemTime};

use plist::{Dictionary, Value};
use rand::RngExt;

use super::apps::App;
use super::{Rng, text};

const PREF_KEYS: &[&str] = &[
    "LastLaunchDate",
    "LaunchCount",
    "HasSeenOnboarding",
    "SelectedTab",
    "NotificationsEnabled",
    "AutoPlayVideos",
    "DarkModeOverride",
    "LastSyncTimestamp",
    "CachedUserID",
    "FeatureFlags",
    "WKWebsiteDataStoreUUID",
    "AppleLanguages",
    "NSLanguages",
    "kAppVersionKey",
    "SessionCount",
    "DidMigrateDatabase",
    "PreferredQuality",
    "DownloadOverCellular",
    "LastKnownRegion",
    "ReviewPromptShown",
    "SearchHistoryEnabled",
    "TextSize",
    "SoundEnabled",
    "HapticsEnabled",
];

/// Apple epoch (2001-01-01) in Unix seconds: dates in Apple databases count from here.
pub(crate) const APPLE_EPOCH: i64 = 978_307_200;

pub(crate) fn date(unix: i64) -> plist::Date {
    plist::Date::from(unix_time(unix))
}

pub(crate) fn unix_time(unix: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(unix.max(0) as u64)
}

/// A preferences dictionary of a few realistic keys with random values.
pub(crate) fn preferences(rng: &mut Rng, now: i64) -> Dictionary {
    let mut dict = Dictionary::new();
    let n = rng.random_range(3..12);
    for _ in 0..n {
        let key = text::pick(rng, PREF_KEYS);
        dict.insert(key.to_owned(), pref_value(rng, now));
    }
    dict
}

fn pref_value(rng: &mut Rng, now: i64) -> Value {
    match rng.random_range(0..7) {
        0 => Value::Boolean(rng.random_bool(0.5)),
        1 => Value::Integer(rng.random_range(0..100_000i64).into()),
        2 => Value::Date(date(now - rng.random_range(0..30 * 86_400))),
        3 => Value::String(text::uuid(rng)),
        4 => Value::Data(text::bytes_in(rng, 8..200)),
        5 => Value::Array(
            (0..rng.random_range(1..6))
                .map(|_| Value::String(text::sentence(rng, 1, 3)))
                .collect(),
        ),
        _ => Value::Real(rng.random_range(0.0..1000.0)),
    }
}

/// A preferences plist file's bytes: XML or binary, as apps write both.
pub(crate) fn preferences_file(rng: &mut Rng, now: i64) -> Vec<u8> {
    let dict = Value::Dictionary(preferences(rng, now));
    let mut out = Vec::new();
    let res = if rng.random_bool(0.4) {
        dict.to_writer_xml(&mut out)
    } else {
        dict.to_writer_binary(&mut out)
    };
    res.expect("writing a plist to memory cannot fail");
    out
}

/// The App Store purchase metadata blob stored in `Info.plist:Applications[id].iTunesMetadata`.
pub(crate) fn itunes_metadata(rng: &mut Rng, app: &App, purchased: i64) -> Vec<u8> {
    let ids = app.device_ids.iter().map(|&i| Value::Integer(i.into()));
    let mut caps = Dictionary::new();
    caps.insert("arm64".into(), Value::Boolean(true));
    let mut account = Dictionary::new();
    account.insert("AppleID".into(), Value::String(text::email(rng)));
    account.insert(
        "DSPersonID".into(),
        Value::Integer(rng.random_range(1_000_000_000..9_999_999_999i64).into()),
    );
    let mut download = Dictionary::new();
    download.insert("accountInfo".into(), Value::Dictionary(account));
    download.insert("purchaseDate".into(), Value::Date(date(purchased)));
    let mut d = Dictionary::new();
    d.insert(
        "itemId".into(),
        Value::Integer(rng.random_range(280_000_000..6_500_000_000i64).into()),
    );
    d.insert("itemName".into(), Value::String(app.name.into()));
    d.insert("artistName".into(), Value::String(app.artist.into()));
    d.insert("bundleVersion".into(), Value::String(app.version.into()));
    d.insert(
        "bundleShortVersionString".into(),
        Value::String(app.version.into()),
    );
    d.insert(
        "softwareVersionBundleId".into(),
        Value::String(app.bundle_id.into()),
    );
    d.insert(
        "softwareSupportedDeviceIds".into(),
        Value::Array(ids.collect()),
    );
    d.insert(
        "UIRequiredDeviceCapabilities".into(),
        Value::Dictionary(caps),
    );
    d.insert("genre".into(), Value::String(app.genre.into()));
    d.insert("kind".into(), Value::String("software".into()));
    d.insert("is-purchased-redownload".into(), Value::Boolean(true));
    d.insert(
        "com.apple.iTunesStore.downloadInfo".into(),
        Value::Dictionary(download),
    );
    binary(&Value::Dictionary(d))
}

pub(crate) fn binary(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    value
        .to_writer_binary(&mut out)
        .expect("writing a plist to memory cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::{Seeds, apps};

    #[test]
    fn itunes_metadata_carries_device_ids() {
        let mut rng = Seeds::new(1).rng();
        let blob = itunes_metadata(&mut rng, &apps::CATALOG[0], 1_700_000_000);
        let v = Value::from_reader(std::io::Cursor::new(blob)).unwrap();
        let d = v.as_dictionary().unwrap();
        let ids = d["softwareSupportedDeviceIds"].as_array().unwrap();
        assert_eq!(ids, &vec![Value::Integer(4.into())]);
        assert_eq!(
            d["softwareVersionBundleId"].as_string(),
            Some(apps::CATALOG[0].bundle_id)
        );
    }

    #[test]
    fn preference_files_parse() {
        let mut rng = Seeds::new(2).rng();
        for _ in 0..20 {
            let bytes = preferences_file(&mut rng, 1_700_000_000);
            assert!(Value::from_reader(std::io::Cursor::new(bytes)).is_ok());
        }
    }
}
