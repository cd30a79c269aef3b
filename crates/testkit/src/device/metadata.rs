//! The three plists of a device folder: Info.plist (host), Manifest.plist (device) and
//! Status.plist (backup state), built with hearth-mobilesync's types plus the keys they do not
//! model (GUID, iTunes Version, Lockdown.SerialNumber, SystemDomainsVersion).

use std::path::Path;

use hearth_mobilesync::{
    DeviceInfo, INFO_PLIST, MANIFEST_PLIST, ManifestInfo, STATUS_PLIST, StatusInfo,
    write_plist_binary,
};
use plist::{Dictionary, Value};
use rand::RngExt;

use super::Ctx;
use crate::content::apps::App;
use crate::content::plists::{itunes_metadata, unix_time};
use crate::content::{Rng, text};
use crate::error::Error;

const ITUNES_VERSION: &str = "12.13.2.3";
const SYSTEM_DOMAINS_VERSION: &str = "24.0";

/// What Manifest.plist holds for an encrypted device.
pub(crate) struct Locks {
    /// `BackupKeyBag`.
    pub(crate) keybag: Vec<u8>,
    /// `ManifestKey`: class (u32 LE) and the wrapped key of Manifest.db.
    pub(crate) manifest_key: Vec<u8>,
}

/// Info.plist, Manifest.plist (encrypted when `locks` is given) and Status.plist.
pub(crate) fn write(
    folder: &Path,
    udid: &str,
    ctx: &Ctx,
    now: i64,
    locks: Option<Locks>,
) -> Result<(), Error> {
    let mut rng = ctx.seeds.label("plists").rng();
    let serial = serial_number(&mut rng);
    write_plist_binary(
        &folder.join(INFO_PLIST),
        &info(&mut rng, udid, &serial, ctx, now),
    )?;
    let mut manifest = manifest(&mut rng, udid, ctx, now);
    if let Some(locks) = locks {
        manifest.is_encrypted = true;
        manifest.backup_keybag = Some(locks.keybag);
        manifest.manifest_key = Some(locks.manifest_key);
    }
    write_plist_binary(
        &folder.join(MANIFEST_PLIST),
        &manifest_plist(manifest, &serial),
    )?;
    write_status(folder, &mut rng, now)
}

/// Rewrites Status.plist for a backup finished at `now`.
pub(crate) fn write_status(folder: &Path, rng: &mut Rng, now: i64) -> Result<(), Error> {
    let status = StatusInfo {
        snapshot_state: Some("finished".into()),
        is_full_backup: Some(false),
        version: Some("3.3".into()),
        backup_state: Some("new".into()),
        date: Some(unix_time(now)),
        uuid: Some(text::uuid(rng)),
    };
    Ok(write_plist_binary(
        &folder.join(STATUS_PLIST),
        &status.to_plist(),
    )?)
}

/// Twelve characters from Apple's serial alphabet (no I or O).
fn serial_number(rng: &mut Rng) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    (0..12)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn info(rng: &mut Rng, udid: &str, serial: &str, ctx: &Ctx, now: i64) -> Dictionary {
    let spec = ctx.spec;
    let mut applications = Dictionary::new();
    for app in &ctx.apps {
        applications.insert(
            app.bundle_id.into(),
            Value::Dictionary(app_entry(rng, app, now)),
        );
    }
    let info = DeviceInfo {
        udid: udid.to_owned(),
        device_name: spec.name.clone(),
        display_name: Some(spec.name.clone()),
        product_type: spec.product_type.clone(),
        product_name: Some(spec.product_name().to_owned()),
        product_version: spec.ios_version.clone(),
        build_version: spec.build.clone(),
        serial_number: Some(serial.to_owned()),
        last_backup_date: Some(unix_time(now)),
        installed_applications: ctx.apps.iter().map(|a| a.bundle_id.to_owned()).collect(),
        applications,
    };
    let mut dict = info.to_plist();
    dict.insert(
        "GUID".into(),
        Value::String(text::hex_token(rng, 16).to_uppercase()),
    );
    dict.insert(
        "iTunes Version".into(),
        Value::String(ITUNES_VERSION.into()),
    );
    if !spec.is_ipad() {
        dict.insert(
            "IMEI".into(),
            Value::String(format!("35{:013}", rng.random_range(0..10u64.pow(13)))),
        );
        dict.insert(
            "Phone Number".into(),
            Value::String(text::phone_number(rng)),
        );
    }
    dict
}

/// `Info.plist:Applications[id]`: App Store metadata and the DRM blob; for a sideloaded app
/// (no App Store metadata), only its placeholder icon.
fn app_entry(rng: &mut Rng, app: &App, now: i64) -> Dictionary {
    if !app.has_metadata() {
        let mut icon = b"\x89PNG\r\n\x1A\n".to_vec();
        icon.extend(text::bytes_in(rng, 400..1_200));
        let mut d = Dictionary::new();
        d.insert("PlaceholderIcon".into(), Value::Data(icon));
        return d;
    }
    let purchased = now - rng.random_range(86_400..4 * 365 * 86_400);
    let mut d = Dictionary::new();
    d.insert(
        "ApplicationSINF".into(),
        Value::Data(text::bytes_in(rng, 600..1_400)),
    );
    d.insert(
        "iTunesMetadata".into(),
        Value::Data(itunes_metadata(rng, app, purchased)),
    );
    d
}

fn manifest(rng: &mut Rng, udid: &str, ctx: &Ctx, now: i64) -> ManifestInfo {
    let spec = ctx.spec;
    let mut applications = Dictionary::new();
    for app in &ctx.apps {
        let mut d = Dictionary::new();
        let path = format!(
            "/private/var/containers/Bundle/Application/{}/{}.app",
            text::uuid(rng),
            app_file_name(app)
        );
        d.insert(
            "CFBundleIdentifier".into(),
            Value::String(app.bundle_id.into()),
        );
        d.insert("CFBundleVersion".into(), Value::String(app.version.into()));
        d.insert(
            "ContainerContentClass".into(),
            Value::String("Data/Application".into()),
        );
        d.insert("Path".into(), Value::String(path));
        applications.insert(app.bundle_id.into(), Value::Dictionary(d));
    }
    ManifestInfo {
        is_encrypted: false,
        was_passcode_set: Some(true),
        version: Some("10.0".into()),
        date: Some(unix_time(now)),
        lockdown_product_version: Some(spec.ios_version.clone()),
        lockdown_product_type: Some(spec.product_type.clone()),
        lockdown_device_name: Some(spec.name.clone()),
        lockdown_build_version: Some(spec.build.clone()),
        lockdown_udid: Some(udid.to_owned()),
        backup_keybag: None,
        manifest_key: None,
        applications,
    }
}

/// Manifest.plist's dictionary: `info` plus the keys it does not model.
fn manifest_plist(info: ManifestInfo, serial: &str) -> Dictionary {
    let mut dict = info.to_plist();
    if let Some(Value::Dictionary(lockdown)) = dict.get_mut("Lockdown") {
        lockdown.insert("SerialNumber".into(), Value::String(serial.to_owned()));
    }
    dict.insert(
        "SystemDomainsVersion".into(),
        Value::String(SYSTEM_DOMAINS_VERSION.into()),
    );
    dict
}

/// The app bundle's file name: its display name without spaces or punctuation.
fn app_file_name(app: &App) -> String {
    app.name
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("App")
        .to_owned()
}

/// Sets the backup date keys of Info.plist and Manifest.plist to `now`, keeping the rest.
pub(crate) fn set_backup_date(folder: &Path, now: i64) -> Result<(), Error> {
    let date = Value::Date(unix_time(now).into());
    for (file, key) in [(INFO_PLIST, "Last Backup Date"), (MANIFEST_PLIST, "Date")] {
        let path = folder.join(file);
        let mut dict = hearth_mobilesync::read_plist_dictionary(&path)?;
        dict.insert(key.into(), date.clone());
        write_plist_binary(&path, &dict)?;
    }
    Ok(())
}
