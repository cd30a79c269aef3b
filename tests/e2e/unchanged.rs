//! The same device backup is one snapshot (issue 12, item 3), end to end through the real
//! `hearth` binary: running `hearth backup` often while Finder backs a phone up once a week
//! stores one snapshot per device backup, and says so.

use crate::common;
use crate::handmade;

use common::{World, describe, s, u};
use handmade::{HandDevice, good_device, text, write_status};
use hearth_testkit::bytes::noise;

use hearth_testkit::tree_digest;
use serde_json::Value;
use std::path::Path;

const PHONE: &str = "600D0000600D0000600D0000600D0000600D0000";
const IPAD: &str = "1BAD0000A1B2C3D4E5F60718293A4B5C6D7E8F90";
const DATE: u64 = 1_750_000_000;
const UUID: &str = "7D1A3B2C-4E5F-4A6B-8C7D-9E0F1A2B3C4D";

/// The one report of `udid` in `list` (`snapshots` or `unchanged` of a backup's JSON).
fn of<'a>(v: &'a Value, list: &str, udid: &str) -> &'a Value {
    let all = v[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list}: {v:#}"));
    let mine: Vec<_> = all.iter().filter(|r| r["device"]["udid"] == udid).collect();
    assert_eq!(mine.len(), 1, "one {udid} in {list}: {v:#}");
    mine[0]
}

fn count(v: &Value, list: &str) -> usize {
    v[list].as_array().unwrap().len()
}

fn snapshot_count(w: &World) -> usize {
    let v = w.json(&["snapshots"], 0);
    v.as_array().expect("a list of snapshots").len()
}

fn mtime(p: &Path) -> std::time::SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

#[test]
fn the_same_device_backup_is_one_snapshot_and_a_new_backup_of_an_unchanged_phone_is_another() {
    let w = World::with_repo();
    let backup = w.path("Backup");
    let phone = good_device(&backup, PHONE).folder;
    write_status(&phone, "finished", DATE, UUID, false);
    let mut ipad = HandDevice::new(&backup, IPAD, "Kitchen iPad");
    ipad.file("HomeDomain", "Library/Notes/notes.txt", &text(1, 20_000))
        .file(
            "CameraRollDomain",
            "Media/DCIM/100APPLE/IMG_0001.HEIC",
            &noise(2, 50_000),
        );
    let ipad = ipad.finish();
    write_status(
        &ipad,
        "finished",
        DATE,
        "0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9",
        true,
    );

    let first = w.json(&["backup", s(&backup)], 0);
    assert_eq!(count(&first, "snapshots"), 2, "{first:#}");
    let first_id = |udid| {
        of(&first, "snapshots", udid)["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (phone_1, ipad_1) = (first_id(PHONE), first_id(IPAD));

    // An hour later, nothing new: no snapshot, and the text says since which one.
    let out = w.run(&["backup", s(&backup)]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let files = u(&of(&first, "snapshots", PHONE)["files"]);
    assert!(
        stdout.lines().any(|l| l
            == format!(
                "Good iPhone ({PHONE}, iPhone14,5 iOS 17.4): unchanged since snapshot {} — {files} files; nothing stored",
                &phone_1[..8]
            )),
        "{stdout}"
    );
    assert_eq!(snapshot_count(&w), 2);

    // --json: each device with the usual fields, `unchanged_since` instead of an id.
    let v = w.json(&["backup", s(&backup)], 0);
    assert_eq!(count(&v, "snapshots"), 0, "{v:#}");
    for (udid, since) in [(PHONE, &phone_1), (IPAD, &ipad_1)] {
        let r = of(&v, "unchanged", udid);
        let was = of(&first, "snapshots", udid);
        assert_eq!(r["unchanged_since"], since.as_str(), "{r:#}");
        assert_eq!(r["parent"], since.as_str(), "{r:#}");
        assert!(r.get("id").is_none(), "no snapshot id: {r:#}");
        assert_eq!(r["device"], was["device"], "{r:#}");
        assert_eq!(
            (r["files"].clone(), r["bytes"].clone()),
            (was["files"].clone(), was["bytes"].clone())
        );
        assert_eq!(r["files_unmodified"], r["files"], "{r:#}");
        for zero in ["files_new", "files_changed", "bytes_read", "bytes_added"] {
            assert_eq!(r[zero], 0, "{zero}: {r:#}");
        }
    }
    assert_eq!(snapshot_count(&w), 2);

    // Finder backs the phone up again and nothing on it changed: only Status.plist's Date is
    // new. That is a new device backup, so a new snapshot.
    write_status(&phone, "finished", DATE + 86_400, UUID, false);
    let v = w.json(&["backup", s(&backup)], 0);
    let r = of(&v, "snapshots", PHONE);
    assert_eq!(
        (u(&r["files_changed"]), u(&r["files_new"])),
        (1, 0),
        "Status.plist: {r:#}"
    );
    assert_eq!(
        u(&r["bytes_read"]),
        std::fs::metadata(phone.join("Status.plist")).unwrap().len()
    );
    assert_eq!(r["parent"], phone_1.as_str());
    let phone_2 = r["id"].as_str().unwrap().to_string();
    assert_eq!(
        of(&v, "unchanged", IPAD)["unchanged_since"],
        ipad_1.as_str()
    );
    let restored = w.restore_latest(PHONE, "out");
    assert_eq!(
        tree_digest(&restored).unwrap(),
        tree_digest(&phone).unwrap()
    );

    // Another UUID in a Status.plist of the same size and mtime is another device backup too:
    // Status.plist is read every time, whatever its size and mtime say.
    let status = phone.join("Status.plist");
    let (len, was) = (std::fs::metadata(&status).unwrap().len(), mtime(&status));
    write_status(
        &phone,
        "finished",
        DATE + 86_400,
        "8E2B4C3D-5F60-4B7C-9D8E-0F1A2B3C4D5E",
        false,
    );
    let file = std::fs::File::options().write(true).open(&status).unwrap();
    file.set_modified(was).unwrap();
    assert_eq!(
        (std::fs::metadata(&status).unwrap().len(), mtime(&status)),
        (len, was)
    );
    let v = w.json(&["backup", s(&phone)], 0);
    let phone_3 = of(&v, "snapshots", PHONE)["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(of(&v, "snapshots", PHONE)["parent"], phone_2.as_str());

    // --force reads every file and stores the same device backup anyway.
    let v = w.json(&["backup", "--force", s(&phone)], 0);
    let r = of(&v, "snapshots", PHONE);
    assert_eq!(r["files_new"], r["files"], "{r:#}");
    assert_eq!(r["bytes_read"], r["bytes"], "{r:#}");
    assert_eq!(r["parent"], phone_3.as_str());
    assert_eq!(snapshot_count(&w), 5);

    // Other tags are another snapshot; the same tags again are not.
    let tagged = ["backup", "--tag", "before-ios-18", s(&ipad)];
    let v = w.json(&tagged, 0);
    assert_eq!(of(&v, "snapshots", IPAD)["parent"], ipad_1.as_str());
    let v = w.json(&tagged, 0);
    assert_eq!(count(&v, "unchanged"), 1, "{v:#}");
    assert_eq!(snapshot_count(&w), 6);
}
