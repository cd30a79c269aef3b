//! A generated household must be a set of valid, self-consistent MobileSync backups, the same
//! bytes for the same seed, and stay consistent through nightly edits.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, SystemTime};

use hearth_mobilesync::{DeviceFolder, EntryKind, FileId, ManifestDb, ManifestRow};
use hearth_testkit::{
    DayOptions, Error, Household, HouseholdSpec, copy_tree, generate, next_day, tree_digest,
};

fn tiny(dir: &Path) -> Household {
    generate(&HouseholdSpec::tiny(), dir).expect("tiny household generates")
}

fn rows(folder: &Path) -> Vec<ManifestRow> {
    let device = DeviceFolder::open(folder).expect("DeviceFolder::open accepts the folder");
    ManifestDb::open(&device.manifest_db_path())
        .unwrap()
        .rows()
        .unwrap()
}

/// Every row's fileID matches its domain and path, every file row has a blob of exactly its
/// Size, every blob has a row, and every row's parent directory has a row.
fn assert_consistent(folder: &Path) {
    let rows = rows(folder);
    let mut blobs_expected = BTreeSet::new();
    let dirs: BTreeSet<(String, String)> = rows
        .iter()
        .filter(|r| r.kind() == EntryKind::Directory)
        .map(|r| (r.domain.clone(), r.relative_path.clone()))
        .collect();
    for r in &rows {
        let id = FileId::for_path(&r.domain, &r.relative_path);
        assert_eq!(r.file_id, id.as_str(), "{} {}", r.domain, r.relative_path);
        let file = r.file.as_ref().expect("MBFile decodes");
        assert_eq!((file.user_id, file.group_id), (Some(501), Some(501)));
        assert!(
            file.last_modified.is_some() && file.birth.is_some() && file.inode_number.is_some()
        );
        let parent = r.relative_path.rsplit_once('/').map_or("", |(p, _)| p);
        if !r.relative_path.is_empty() {
            assert!(
                dirs.contains(&(r.domain.clone(), parent.to_owned())),
                "no parent row for {}",
                r.relative_path
            );
        }
        match r.kind() {
            EntryKind::File => {
                let blob = folder.join(id.blob_path());
                let len = std::fs::metadata(&blob).map(|m| m.len());
                assert_eq!(
                    len.ok(),
                    file.size,
                    "blob of {} {}",
                    r.domain,
                    r.relative_path
                );
                blobs_expected.insert(id.blob_path());
            }
            EntryKind::Symlink => {
                assert!(file.target.as_deref().is_some_and(|t| t.starts_with('/')))
            }
            EntryKind::Directory => assert_eq!(file.mode.map(|m| m & 0o170000), Some(0o040000)),
            EntryKind::Unknown => panic!("row of unknown kind: {}", r.relative_path),
        }
    }
    let on_disk: BTreeSet<String> = tree_digest(folder)
        .unwrap()
        .into_keys()
        .filter(|k| k.contains('/'))
        .collect();
    assert_eq!(on_disk, blobs_expected, "blobs on disk == file rows");
}

fn assert_no_journals(dir: &Path) {
    let digest = tree_digest(dir).unwrap();
    let journals: Vec<_> = digest
        .keys()
        .filter(|k| k.ends_with("-wal") || k.ends_with("-shm") || k.ends_with("-journal"))
        .collect();
    assert!(journals.is_empty(), "{journals:?}");
}

#[test]
fn generation_is_deterministic_and_seed_dependent() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let start = std::time::Instant::now();
    tiny(a.path());
    eprintln!("tiny generated in {:?}", start.elapsed());
    tiny(b.path());
    generate(&HouseholdSpec::tiny().with_seed(99), c.path()).unwrap();
    let (da, db, dc) = (
        tree_digest(a.path()).unwrap(),
        tree_digest(b.path()).unwrap(),
        tree_digest(c.path()).unwrap(),
    );
    assert_eq!(da, db);
    assert_ne!(
        da.keys().next(),
        dc.keys().next(),
        "UDIDs depend on the seed"
    );
    let contents =
        |d: &BTreeMap<String, (u64, String)>| d.values().cloned().collect::<BTreeSet<_>>();
    assert!(contents(&da).intersection(&contents(&dc)).count() < da.len() / 10);
}

#[test]
fn tiny_is_two_valid_consistent_device_folders() {
    let dir = tempfile::tempdir().unwrap();
    let h = tiny(dir.path());
    assert_eq!(h.devices.len(), 2);
    assert!(
        (2_000_000..6_000_000).contains(&h.bytes()),
        "{} bytes",
        h.bytes()
    );
    assert_eq!(Household::load(dir.path()).unwrap(), h);
    for d in &h.devices {
        assert_eq!(d.folder, dir.path().join(&d.udid));
        let device = DeviceFolder::open(&d.folder).unwrap();
        assert_eq!(device.info.udid, d.udid);
        assert_eq!(device.info.device_name, d.name);
        assert_eq!(device.info.product_version, d.ios_version);
        assert!(device.status.as_ref().is_some_and(|s| s.is_finished()));
        let manifest = device.manifest.as_ref().unwrap();
        assert!(!manifest.is_encrypted);
        assert_eq!(manifest.lockdown_udid.as_deref(), Some(d.udid.as_str()));
        assert_eq!(
            device.info.installed_applications.len(),
            device.info.applications.len()
        );
        assert_consistent(&d.folder);
        let kinds: BTreeSet<i64> = rows(&d.folder).iter().map(|r| r.flags).collect();
        assert_eq!(kinds, BTreeSet::from([1, 2, 4]));
    }
}

#[test]
fn info_plist_carries_host_keys_and_app_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = HouseholdSpec::tiny();
    spec.devices[1].product_type = "iPad13,1".into();
    spec.devices[1].apps = 3;
    let h = generate(&spec, dir.path()).unwrap();
    let info =
        hearth_mobilesync::read_plist_dictionary(&h.devices[1].folder.join("Info.plist")).unwrap();
    for key in [
        "GUID",
        "iTunes Version",
        "Target Identifier",
        "Serial Number",
        "Last Backup Date",
    ] {
        assert!(info.contains_key(key), "{key}");
    }
    let apps = info["Applications"].as_dictionary().unwrap();
    let device_ids: Vec<Vec<i64>> = apps
        .values()
        .map(|a| {
            let blob = a.as_dictionary().unwrap()["iTunesMetadata"]
                .as_data()
                .unwrap();
            let meta = plist::Value::from_reader(std::io::Cursor::new(blob)).unwrap();
            let ids = meta.as_dictionary().unwrap()["softwareSupportedDeviceIds"]
                .as_array()
                .unwrap()
                .clone();
            ids.iter().map(|v| v.as_signed_integer().unwrap()).collect()
        })
        .collect();
    assert!(device_ids.contains(&vec![1, 2, 4, 9]), "{device_ids:?}");
    assert!(
        device_ids.contains(&vec![4]),
        "an iPad-only app on the iPad: {device_ids:?}"
    );
}

#[test]
fn shared_photos_are_byte_identical_across_devices() {
    let dir = tempfile::tempdir().unwrap();
    let h = tiny(dir.path());
    let photo_digests = |folder: &Path| -> BTreeSet<(u64, String)> {
        let digest = tree_digest(folder).unwrap();
        rows(folder)
            .iter()
            .filter(|r| r.kind() == EntryKind::File && r.domain == "CameraRollDomain")
            .filter(|r| r.relative_path.starts_with("Media/DCIM/"))
            .map(|r| digest[&FileId::for_path(&r.domain, &r.relative_path).blob_path()].clone())
            .collect()
    };
    let a = photo_digests(&h.devices[0].folder);
    let b = photo_digests(&h.devices[1].folder);
    let spec = HouseholdSpec::tiny();
    let expected = spec
        .devices
        .iter()
        .map(|d| (d.photos as f64 * 0.4).round() as usize)
        .min()
        .unwrap();
    assert_eq!(a.intersection(&b).count(), expected);
}

#[test]
fn next_day_changes_the_asked_share_and_stays_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let h = tiny(dir.path());
    let before = tree_digest(dir.path()).unwrap();
    let sms_before = sms_messages(&h.devices[0].folder);
    let options = DayOptions {
        changed_fraction: 0.1,
        ..DayOptions::default()
    };
    let night = next_day(&h, 1, &options).unwrap();
    assert_eq!(night.devices.len(), 2);
    for d in &night.devices {
        let share = d.changed_files() as f64 / d.files_before as f64;
        assert!(
            (0.07..0.14).contains(&share),
            "{share} of {}",
            d.files_before
        );
        assert!(!d.added.is_empty() && !d.deleted.is_empty() && d.modified.len() > 5);
        assert!(d.rows_inserted >= 200 && d.rows_updated >= 100);
    }
    let after = tree_digest(dir.path()).unwrap();
    let changed: BTreeSet<&String> = before
        .iter()
        .filter(|(k, v)| after.get(*k) != Some(v))
        .map(|(k, _)| k)
        .chain(after.keys().filter(|k| !before.contains_key(*k)))
        .collect();
    let mut expected = BTreeSet::new();
    for (d, dev) in night.devices.iter().zip(&h.devices) {
        for f in d.modified.iter().chain(&d.added).chain(&d.deleted) {
            expected.insert(format!(
                "{}/{}",
                dev.udid,
                FileId::parse(&f.file_id).unwrap().blob_path()
            ));
        }
        for name in [
            "Manifest.db",
            "Info.plist",
            "Manifest.plist",
            "Status.plist",
        ] {
            expected.insert(format!("{}/{name}", dev.udid));
        }
    }
    assert_eq!(changed, expected.iter().collect());
    for dev in &h.devices {
        assert_consistent(&dev.folder);
    }
    assert_no_journals(dir.path());
    assert!(sms_messages(&h.devices[0].folder) > sms_before);
}

#[test]
fn next_day_dates_the_backup_and_moves_mtimes_forward() {
    let dir = tempfile::tempdir().unwrap();
    let h = tiny(dir.path());
    let dev = &h.devices[0];
    let status = |f: &Path| DeviceFolder::open(f).unwrap().status.unwrap().date.unwrap();
    let day0 = status(&dev.folder);
    let night = next_day(&h, 1, &DayOptions::default()).unwrap();
    let day1 = status(&dev.folder);
    assert_eq!(
        day1.duration_since(day0).unwrap(),
        Duration::from_secs(86_400)
    );
    let info = DeviceFolder::open(&dev.folder).unwrap().info;
    assert_eq!(info.last_backup_date, Some(day1));
    let mtime = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let changed = &night.devices[0];
    let share = changed.changed_files() as f64 / changed.files_before as f64;
    assert!((0.01..0.05).contains(&share), "{share}");
    for f in changed.modified.iter().chain(&changed.added) {
        let blob = dev
            .folder
            .join(FileId::parse(&f.file_id).unwrap().blob_path());
        assert_eq!(mtime(&blob), day1, "{}", f.relative_path);
    }
    assert!(
        mtime(&dev.folder.join("Manifest.db"))
            > SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    );
    next_day(&h, 2, &DayOptions::default()).unwrap();
    assert_eq!(
        status(&dev.folder).duration_since(day1).unwrap(),
        Duration::from_secs(86_400)
    );
    assert_consistent(&dev.folder);
}

#[test]
fn big_databases_stay_valid_sqlite_after_edits() {
    let dir = tempfile::tempdir().unwrap();
    let h = tiny(dir.path());
    for day in 1..=3 {
        next_day(&h, day, &DayOptions::default()).unwrap();
    }
    let targets = [
        ("HomeDomain", "Library/SMS/sms.db"),
        ("CameraRollDomain", "Media/PhotoData/Photos.sqlite"),
        (
            "AppDomainGroup-group.net.whatsapp.WhatsApp.shared",
            "ChatStorage.sqlite",
        ),
        ("HomeDomain", "Library/CallHistoryDB/CallHistory.storedata"),
    ];
    for dev in &h.devices {
        for (domain, path) in targets {
            let blob = dev.folder.join(FileId::for_path(domain, path).blob_path());
            let conn = rusqlite::Connection::open_with_flags(
                &blob,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .unwrap();
            let check: String = conn
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .unwrap();
            assert_eq!(check, "ok", "{path}");
            let page_size: i64 = conn
                .query_row("PRAGMA page_size", [], |r| r.get(0))
                .unwrap();
            assert_eq!(page_size, 4096);
            let mode: String = conn
                .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .unwrap();
            assert_eq!(mode, "delete", "{path}");
        }
    }
    assert_no_journals(dir.path());
}

#[test]
fn next_day_is_deterministic() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ha = tiny(a.path());
    copy_tree(a.path(), b.path()).unwrap();
    let hb = Household::load(b.path()).unwrap();
    let (na, nb) = (
        next_day(&ha, 1, &DayOptions::default()).unwrap(),
        next_day(&hb, 1, &DayOptions::default()).unwrap(),
    );
    assert_eq!(na.changed_files(), nb.changed_files());
    assert_eq!(
        tree_digest(a.path()).unwrap(),
        tree_digest(b.path()).unwrap()
    );
}

#[test]
fn generating_over_an_existing_household_fails_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    tiny(dir.path());
    let before = tree_digest(dir.path()).unwrap();
    let err = generate(&HouseholdSpec::tiny(), dir.path()).unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }));
    assert!(
        err.to_string().contains("already holds a device backup"),
        "{err}"
    );
    assert_eq!(tree_digest(dir.path()).unwrap(), before);
}

#[test]
fn loading_an_empty_folder_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let err = Household::load(dir.path()).unwrap_err();
    assert!(err.to_string().contains("generate"), "{err}");
}

fn sms_messages(folder: &Path) -> i64 {
    let blob = folder.join(FileId::for_path("HomeDomain", "Library/SMS/sms.db").blob_path());
    let conn = rusqlite::Connection::open(blob).unwrap();
    conn.query_row("SELECT count(*) FROM message", [], |r| r.get(0))
        .unwrap()
}

/// `tiny_cross` holds something for every cross-device rule: photos and videos of three
/// extensions, Messages, Voice Memos in both places, iPad-only apps with a group and
/// extensions, an iPhone-only app, and an app with no App Store metadata.
#[test]
fn tiny_cross_has_content_for_every_cross_device_rule() {
    let dir = tempfile::tempdir().unwrap();
    let h = generate(&HouseholdSpec::tiny_cross(), dir.path()).unwrap();
    let names: Vec<(&str, &str, &str)> = h
        .devices
        .iter()
        .map(|d| {
            (
                d.name.as_str(),
                d.product_type.as_str(),
                d.ios_version.as_str(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("Family iPad", "iPad13,1", "17.5"),
            ("Dad's iPhone", "iPhone14,5", "17.5.1"),
            ("Mum's iPhone", "iPhone15,2", "17.4.1"),
        ]
    );
    assert!(h.bytes() < 6_000_000, "{} bytes", h.bytes());
    for d in &h.devices {
        assert_consistent(&d.folder);
    }
    let ipad = &h.devices[0].folder;
    let files: BTreeSet<(String, String)> = rows(ipad)
        .into_iter()
        .filter(|r| r.kind() == EntryKind::File)
        .map(|r| (r.domain, r.relative_path))
        .collect();
    let has = |domain: &str, pred: &dyn Fn(&str) -> bool| {
        files.iter().any(|(d, p)| d == domain && pred(p))
    };
    let voice_memos = "AppDomainGroup-group.com.apple.VoiceMemos.shared";
    assert!(has(voice_memos, &|p| p == "Recordings/CloudRecordings.db"));
    assert!(has(voice_memos, &|p| p.starts_with("Recordings/")
        && p.ends_with(".m4a")));
    assert!(has("MediaDomain", &|p| p.starts_with("Media/Recordings/")));
    assert!(has("MediaDomain", &|p| p
        .starts_with("Library/SMS/Attachments/")));
    assert!(has("HomeDomain", &|p| p == "Library/SMS/sms.db"));
    for ext in [".MOV", ".MP4", ".m4v", ".HEIC"] {
        assert!(has("CameraRollDomain", &|p| p.ends_with(ext)), "{ext}");
    }
    let fcp = hearth_testkit::FINAL_CUT_PRO;
    assert!(has(&format!("AppDomain-{fcp}"), &|_| true));
    assert!(has(&format!("AppDomainGroup-group.{fcp}.shared"), &|_| {
        true
    }));
    assert!(has(
        &format!("AppDomainPlugin-{fcp}.ShareExtension"),
        &|_| true
    ));

    let device_ids = |folder: &Path| -> BTreeMap<String, Option<Vec<i64>>> {
        let info = hearth_mobilesync::read_plist_dictionary(&folder.join("Info.plist")).unwrap();
        let installed: Vec<&str> = info["Installed Applications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_string().unwrap())
            .collect();
        let apps = info["Applications"].as_dictionary().unwrap();
        assert_eq!(
            installed,
            apps.keys().map(String::as_str).collect::<Vec<_>>()
        );
        apps.iter()
            .map(|(id, a)| {
                let ids = a.as_dictionary().unwrap().get("iTunesMetadata").map(|m| {
                    let meta =
                        plist::Value::from_reader(std::io::Cursor::new(m.as_data().unwrap()))
                            .unwrap();
                    meta.as_dictionary().unwrap()["softwareSupportedDeviceIds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_signed_integer().unwrap())
                        .collect()
                });
                (id.clone(), ids)
            })
            .collect()
    };
    let pad_apps = device_ids(ipad);
    assert_eq!(pad_apps[fcp], Some(vec![4]));
    assert_eq!(pad_apps["com.savageinteractive.procreate"], Some(vec![4]));
    assert_eq!(
        pad_apps[hearth_testkit::SIDELOADED_APP],
        None,
        "no iTunesMetadata"
    );
    assert_eq!(pad_apps["net.whatsapp.WhatsApp"], Some(vec![1, 2, 4, 9]));
    let dad_apps = device_ids(&h.devices[1].folder);
    assert_eq!(dad_apps["com.burbn.instagram"], Some(vec![1, 2, 9]));
    assert!(
        dad_apps
            .values()
            .all(|ids| ids.as_ref().is_some_and(|i| i.contains(&1)))
    );
}

#[test]
fn ios_updates_and_missing_app_metadata_edit_only_the_plists() {
    let dir = tempfile::tempdir().unwrap();
    let h = tiny(dir.path());
    let d = &h.devices[0];
    let db_before = std::fs::read(d.folder.join("Manifest.db")).unwrap();
    hearth_testkit::set_ios_version(&d.folder, "18.1", "22B83").unwrap();
    hearth_testkit::remove_app_metadata(&d.folder).unwrap();
    let device = DeviceFolder::open(&d.folder).unwrap();
    assert_eq!(device.info.product_version, "18.1");
    assert_eq!(device.info.build_version, "22B83");
    let manifest = device.manifest.as_ref().unwrap();
    assert_eq!(manifest.lockdown_product_version.as_deref(), Some("18.1"));
    assert_eq!(manifest.lockdown_build_version.as_deref(), Some("22B83"));
    assert!(device.info.applications.is_empty());
    assert!(!device.info.installed_applications.is_empty());
    assert!(std::fs::read(d.folder.join("Manifest.db")).unwrap() == db_before);
    assert_eq!(
        Household::load(dir.path()).unwrap().devices[0].ios_version,
        "18.1"
    );
}
