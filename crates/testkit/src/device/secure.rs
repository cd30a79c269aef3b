//! What Apple backs up only when the backup is encrypted (format reference §7, §8): Health's
//! secure database, the keychain, and the known Wi-Fi networks. (Call history, also
//! encrypted-only on a real device, is written for every device by [`super::home`].)
//!
//! Written after every other domain and from its own seeds, so the rest of the device is the
//! same with or without it.

use plist::{Dictionary, Value};
use rand::RngExt;

use super::Ctx;
use super::writer::{BlobWriter, CLASS_COMPLETE, CLASS_DEFAULT, CLASS_NONE};
use crate::content::databases::misc::{self, SmallDb};
use crate::content::plists::{binary, date};
use crate::content::{Rng, text};
use crate::error::Error;

pub(crate) const HEALTH: &str = "HealthDomain";
pub(crate) const HEALTH_SECURE_DB: &str = "Health/healthdb_secure.sqlite";
pub(crate) const KEYCHAIN: &str = "KeychainDomain";
pub(crate) const KEYCHAIN_PLIST: &str = "keychain-backup.plist";
pub(crate) const SYSTEM_PREFERENCES: &str = "SystemPreferencesDomain";
pub(crate) const WIFI_PLIST: &str = "com.apple.wifi.known-networks.plist";

/// Keychain item classes in `keychain-backup.plist`.
const KEYCHAIN_TABLES: &[&str] = &["genp", "inet", "cert", "keys"];
const WIFI_NAMES: &[&str] = &[
    "BTHub6-", "VM", "SKY", "TALKTALK", "EE-", "Cafe-", "Library-",
];

pub(crate) fn write(w: &mut BlobWriter, ctx: &Ctx) -> Result<(), Error> {
    let (seeds, now, rows) = (ctx.seeds.label("health"), w.now(), ctx.small_db_rows());
    w.file(HEALTH, HEALTH_SECURE_DB, CLASS_COMPLETE, |b| {
        misc::create_db(b, SmallDb::HealthSecure, seeds, rows, now)
    })?;
    let mut rng = ctx.seeds.label("secure").rng();
    let keychain = binary(&Value::Dictionary(keychain(&mut rng)));
    w.bytes_of_class(KEYCHAIN, KEYCHAIN_PLIST, CLASS_DEFAULT, &keychain)?;
    let wifi = binary(&Value::Dictionary(known_networks(&mut rng, now)));
    w.bytes_of_class(SYSTEM_PREFERENCES, WIFI_PLIST, CLASS_NONE, &wifi)?;
    Ok(())
}

/// `keychain-backup.plist`: per table, items whose `v_Data` is wrapped under a keychain class
/// key (classes 6–11): version, class, wrapped-key length (u32 LE each), key, ciphertext.
fn keychain(rng: &mut Rng) -> Dictionary {
    let mut dict = Dictionary::new();
    for table in KEYCHAIN_TABLES {
        let items = (0..rng.random_range(4..16))
            .map(|_| Value::Dictionary(keychain_item(rng)))
            .collect();
        dict.insert((*table).to_owned(), Value::Array(items));
    }
    dict
}

fn keychain_item(rng: &mut Rng) -> Dictionary {
    let mut data = Vec::new();
    for v in [3u32, rng.random_range(6..=11), 40] {
        data.extend_from_slice(&v.to_le_bytes());
    }
    data.extend(text::bytes_in(rng, 80..400));
    let mut item = Dictionary::new();
    item.insert("v_Data".into(), Value::Data(data));
    item.insert("v_PersistentRef".into(), Value::Data(text::bytes(rng, 12)));
    item
}

/// `com.apple.wifi.known-networks.plist`: a few networks the device has joined.
fn known_networks(rng: &mut Rng, now: i64) -> Dictionary {
    let mut dict = Dictionary::new();
    for _ in 0..rng.random_range(3..9) {
        let ssid = format!(
            "{}{}",
            text::pick(rng, WIFI_NAMES),
            text::hex_token(rng, 4).to_uppercase()
        );
        let added = now - rng.random_range(86_400..3 * 365 * 86_400);
        let joined = rng.random_range(added..now);
        let mut network = Dictionary::new();
        network.insert("SSID".into(), Value::Data(ssid.clone().into_bytes()));
        network.insert("SupportedSecurityTypes".into(), Value::Integer(4.into()));
        network.insert("AddedAt".into(), Value::Date(date(added)));
        network.insert("JoinedByUserAt".into(), Value::Date(date(joined)));
        dict.insert(
            format!("wifi.network.ssid.{ssid}"),
            Value::Dictionary(network),
        );
    }
    dict
}
