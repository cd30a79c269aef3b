//! Identity without a perfect Info.plist (issue 12, item 4), end to end through the real
//! `hearth` binary: a device folder whose Info.plist names no device is backed up as the device
//! Manifest.plist's Lockdown names, else the one its folder's name is, with a warning saying
//! where the identity came from; it is refused, by folder, only when nothing names a device.

use crate::common;
use crate::handmade;

use common::{World, describe, pyiosbackup_fixture, s};
use handmade::{HandDevice, text};
use hearth_testkit::bytes::noise;

use hearth_mobilesync::{DeviceInfo, ManifestInfo, write_plist_binary};
use hearth_testkit::{copy_tree, tree_digest};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The warning of a device whose UDID is not from Info.plist.
fn udid_warning(udid: &str, from: &str) -> String {
    let lockdown = if from == "the folder's name" {
        " and Manifest.plist's Lockdown has no UniqueDeviceID"
    } else {
        ""
    };
    format!(
        "names no device (no Unique Identifier or Target Identifier){lockdown}: the device is taken to be UDID {udid}, from {from}"
    )
}

/// The refusal of a folder nothing names a device of.
fn no_udid(folder: &Path) -> String {
    let f = folder.display();
    format!(
        "device folder {f}: no device UDID: Info.plist has no Unique Identifier or Target Identifier, Manifest.plist no Lockdown UniqueDeviceID, and the folder's name is not a UDID (40 hex digits, or 8 and 16 hex digits joined by '-'); the backup is damaged or was not written by Finder, iTunes or idevicebackup2. If you know the device's UDID, name the folder after it and back it up again"
    )
}

#[test]
fn the_pyiosbackup_fixture_is_refused_by_folder_and_backed_up_once_its_folder_names_the_device() {
    let Some(fixture) = pyiosbackup_fixture() else {
        return;
    };
    let w = World::with_repo();
    let backup = |path: &Path| {
        let out = w
            .cmd(&["--json", "backup", s(path)])
            .env("HEARTH_IOS_PASSWORD", "0000")
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", describe(&out)));
        (out, v)
    };
    // Its Info.plist is an empty dictionary, its Lockdown holds only ProductVersion, and its
    // folder is called `backup`.
    let (out, v) = backup(&fixture);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(v["errors"], json!([no_udid(&fixture)]), "{v:#}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines()
            .any(|l| l == format!("error: {}", no_udid(&fixture))),
        "{err}"
    );

    // The same backup in a folder named after its device.
    let udid = "00008110-001A2B3C4D5E801E";
    let folder = w.path("Backup").join(udid);
    copy_tree(&fixture, &folder).unwrap();
    let (out, v) = backup(&w.path("Backup"));
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let r = &v["snapshots"][0];
    assert_eq!(
        r["device"],
        json!({"udid": udid, "name": "", "product_type": "", "ios_version": "10.3", "build": ""}),
        "{v:#}"
    );
    assert_eq!(r["encrypted_source"], true, "{r:#}");
    assert_eq!(
        r["warnings"],
        json!([{"path": "Info.plist", "message": udid_warning(udid, "the folder's name")}]),
        "{r:#}"
    );
    let ls = w.json(&["ls", &format!("{udid}@latest"), "MyTestDomain"], 0);
    let e = &ls["entries"].as_array().unwrap()[0];
    assert_eq!(
        (&e["relative_path"], &e["state"], &e["size"]),
        (&json!("Media/Test.txt"), &json!("ok"), &json!(16)),
        "decrypted (and stored as its 16-byte ciphertext's plaintext): {ls:#}"
    );
    let restored = w.restore_latest(udid, "out");
    assert_eq!(
        tree_digest(&restored).unwrap(),
        tree_digest(&fixture).unwrap(),
        "byte for byte the fixture"
    );
}

/// A device folder `<parent>/<name>` whose Info.plist holds no UDID (but the device's name
/// when `info_name`), and whose Manifest.plist's Lockdown holds `lockdown_udid`.
fn hand_assembled(
    parent: &Path,
    name: &str,
    device: &str,
    info_name: bool,
    lockdown_udid: Option<&str>,
) -> PathBuf {
    let mut d = HandDevice::new(parent, name, device);
    d.file("HomeDomain", "Library/Notes/notes.txt", &text(1, 20_000))
        .file(
            "CameraRollDomain",
            "Media/DCIM/100APPLE/IMG_0001.HEIC",
            &noise(2, 40_000),
        );
    let folder = d.finish();
    let info = DeviceInfo {
        device_name: if info_name {
            device.into()
        } else {
            String::new()
        },
        ..DeviceInfo::default()
    };
    let mut dict = info.to_plist();
    for key in ["Unique Identifier", "Target Identifier", "Product Type"] {
        dict.remove(key);
    }
    write_plist_binary(&folder.join("Info.plist"), &dict).unwrap();
    let manifest = ManifestInfo {
        version: Some("10.0".into()),
        lockdown_udid: lockdown_udid.map(str::to_string),
        lockdown_device_name: Some(device.into()),
        lockdown_product_type: Some("iPad8,1".into()),
        lockdown_product_version: Some("17.4".into()),
        lockdown_build_version: Some("21E219".into()),
        ..ManifestInfo::default()
    };
    write_plist_binary(&folder.join("Manifest.plist"), &manifest.to_plist()).unwrap();
    folder
}

#[test]
fn identity_comes_from_lockdown_or_the_folder_name_and_only_a_nameless_folder_is_refused() {
    let w = World::with_repo();
    let parent = w.path("Backup");
    let from_lockdown = hand_assembled(
        &parent,
        "Dad's iPhone copy",
        "Dad's iPhone",
        true,
        Some("00008030-001a35e11a88003a"),
    );
    let by_folder = "ab12".repeat(10);
    hand_assembled(&parent, &by_folder, "Gran's iPad", false, None);
    let nameless = hand_assembled(&parent, "old backup", "Old iPad", true, None);

    let v = w.json(&["backup", s(&parent)], 1);
    assert_eq!(v["errors"], json!([no_udid(&nameless)]), "{v:#}");
    let snapshots = v["snapshots"].as_array().unwrap();
    assert_eq!(snapshots.len(), 2, "the others are backed up: {v:#}");
    let cases = [
        (
            "00008030-001A35E11A88003A",
            "Dad's iPhone",
            "Manifest.plist's Lockdown UniqueDeviceID",
        ),
        (
            &*by_folder.to_uppercase(),
            "Gran's iPad",
            "the folder's name",
        ),
    ];
    for (udid, name, from) in cases {
        let r = snapshots
            .iter()
            .find(|r| r["device"]["udid"] == udid)
            .unwrap_or_else(|| panic!("{udid}: {v:#}"));
        assert_eq!(
            r["device"],
            json!({"udid": udid, "name": name, "product_type": "iPad8,1", "ios_version": "17.4", "build": "21E219"}),
            "Info.plist, else Lockdown: {r:#}"
        );
        assert_eq!(
            r["warnings"],
            json!([{"path": "Info.plist", "message": udid_warning(udid, from)}]),
            "{r:#}"
        );
    }

    // The text names the device and where its identity came from; the restore image is a
    // folder named by the UDID, byte for byte the folder backed up.
    let out = w.run(&["backup", s(&parent)]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("error: {}", no_udid(&nameless))),
        "{err}"
    );
    let restored = w.restore_latest("00008030-001A35E11A88003A", "out");
    assert_eq!(
        tree_digest(&restored).unwrap(),
        tree_digest(&from_lockdown).unwrap()
    );
}
