//! `hearth export contacts`, `calls` and `voicemail` through the real binary: device backups
//! made of the real `AddressBook.sqlitedb` (iOS 13.4.1 to 16.3), `CallHistory.storedata`
//! (iOS 13.4.1, 14.3) and `voicemail.db` fixtures, each with and without its WAL where that
//! changes what there is, and a generated household with an encrypted phone. Counts are
//! checked against plain SQL on copies of the source databases; the vCards are read by Python's
//! vobject, the CSV files by Python's csv, transcripts by plistlib
//! (tests/python/verify_export_contacts.py), which checks every card and record against the
//! database rows.

use crate::common;

use common::ios_databases::{device_of, fixture, sql_copy};
use common::{World, s, u};
use hearth_mobilesync::FileId;
use hearth_testkit::third_party::python;
use rusqlite::Connection;
use serde_json::Value;
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

const AB: &str = "Library/AddressBook/AddressBook.sqlitedb";
const AB_IMAGES: &str = "Library/AddressBook/AddressBookImages.sqlitedb";
const CALLS: &str = "Library/CallHistoryDB/CallHistory.storedata";
const VOICEMAIL: &str = "Library/Voicemail/voicemail.db";
const IOS_PASSWORD: &str = "contacts, calls & voicemail";

/// What tests/python/verify_export_contacts.py found; it must have found no problem.
fn verify(args: &[&OsStr]) -> Value {
    let python = python().expect("a Python with vobject");
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/verify_export_contacts.py");
    let run = Command::new(python)
        .arg(&script)
        .args(args)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "verify_export_contacts.py printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        )
    });
    assert_eq!(v["problems"], serde_json::json!([]), "{args:?}");
    assert_eq!(run.status.code(), Some(0));
    v
}

fn os(p: &Path) -> &OsStr {
    p.as_os_str()
}

fn count(db: &Path, sql: &str) -> u64 {
    crate::common::ios_databases::sql_count(&Connection::open(db).unwrap(), sql)
}

/// People with a photo, as the export picks them (a full-size image or a thumbnail).
fn people_with_photos(images: &Path, book: &Path) -> u64 {
    let db = Connection::open(images).unwrap();
    let mut ids = BTreeSet::new();
    for table in ["ABFullSizeImage", "ABThumbnailImage"] {
        let exists: i64 = db
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = ?1",
                [table],
                |r| r.get(0),
            )
            .unwrap();
        if exists == 0 {
            continue;
        }
        let mut q = db
            .prepare(&format!(
                "SELECT DISTINCT record_id FROM {table} WHERE length(data) > 0"
            ))
            .unwrap();
        ids.extend(
            q.query_map([], |r| r.get::<_, i64>(0))
                .unwrap()
                .map(Result::unwrap),
        );
    }
    let book = Connection::open(book).unwrap();
    ids.iter()
        .filter(|id| {
            book.query_row(
                "SELECT count(*) FROM ABPerson WHERE ROWID = ?1",
                [**id],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
                == 1
        })
        .count() as u64
}

/// The people of a verified export named `fn`.
fn named<'a>(found: &'a Value, name: &str) -> Vec<&'a Value> {
    found["people"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["fn"] == name)
        .collect()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

fn vcf_files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".vcf"))
        .collect()
}

struct Book {
    image: &'static str,
    with_wal: bool,
    people: u64,
    photos: u64,
    /// Exit status: 3 when the backup lacks the WAL that holds the photos' tables.
    status: i32,
}

#[test]
fn every_real_address_book_exports_one_vcard_per_person_that_vobject_reads() {
    let w = World::with_repo();
    let books = [
        Book {
            image: "ios-databases/hickman-ios15.3.1-iphone8",
            with_wal: true,
            people: 9,
            photos: 2,
            status: 0,
        },
        Book {
            image: "ios-databases/hickman-ios15.3.1-iphone8",
            with_wal: false,
            people: 9,
            photos: 0,
            status: 3,
        },
        Book {
            image: "ios-databases/belkactf6-ios16.3",
            with_wal: true,
            people: 1,
            photos: 0,
            status: 0,
        },
        Book {
            image: "ios-databases-extra/hickman-ios13.4.1-iphonese",
            with_wal: true,
            people: 2,
            photos: 0,
            status: 0,
        },
        Book {
            image: "ios-databases/hickman-ios14.3-iphonese",
            with_wal: true,
            people: 4,
            photos: 0,
            status: 0,
        },
        Book {
            image: "ios-databases-extra/magnet-mvs2023-ios16.1.1",
            with_wal: true,
            people: 0,
            photos: 0,
            status: 0,
        },
    ];
    let udid = |i: usize| format!("00008030-0000000000000C{i:02}");
    for (i, b) in books.iter().enumerate() {
        device_of(
            &w.path("devices"),
            &udid(i),
            &format!("Phone {i}"),
            &fixture(b.image),
            b.with_wal,
        );
    }
    w.ok(&["backup", s(&w.path("devices"))]);

    for (i, b) in books.iter().enumerate() {
        let sql = w.path(&format!("sql-{i}"));
        let book = sql_copy(&fixture(b.image).join(AB), &sql, b.with_wal);
        let people = count(&book, "SELECT count(*) FROM ABPerson");
        assert_eq!(people, b.people, "{} ({} WAL)", b.image, b.with_wal);
        let images_src = fixture(b.image).join(AB_IMAGES);
        let images = images_src
            .exists()
            .then(|| sql_copy(&images_src, &sql.join("images"), b.with_wal));
        let photos = images
            .as_deref()
            .map_or(0, |img| people_with_photos(img, &book));
        assert_eq!(photos, b.photos, "{}", b.image);

        let out = w.path(&format!("out-{i}"));
        let snapshot = format!("{}@latest", udid(i));
        let report = w.json(
            &["export", "contacts", &snapshot, "--out", s(&out)],
            b.status,
        );
        assert_eq!(u(&report["contacts"]), people, "{report:#}");
        assert_eq!(u(&report["photos"]), photos, "{report:#}");
        assert!(report["snapshots"][0]["failed"].is_null(), "{report:#}");
        if b.status == 3 {
            let warnings = report["warnings"].to_string();
            assert!(
                warnings.contains(AB_IMAGES) && warnings.contains("-wal"),
                "{warnings}"
            );
        } else {
            assert_eq!(report["warnings"], serde_json::json!([]), "{report:#}");
        }
        if people == 0 {
            // Nothing to export is said cleanly: no file, no warning.
            assert!(vcf_files(&out).is_empty());
            continue;
        }
        let mut args = vec![OsStr::new("contacts"), os(&out), os(&book)];
        args.extend(images.as_deref().map(os));
        let found = verify(&args);
        assert_eq!(u(&found["cards"]), people);
        assert_eq!(u(&found["files"]), people, "one .vcf per contact");
        assert_eq!(u(&found["photos"]), photos);
        check_people(b.image, &found, &out);
    }

    // One file: every card of the iOS 15 book in josh.vcf, as in the folder.
    let sql = w.path("sql-0");
    let file = w.path("one/josh.vcf");
    let report = w.json(
        &[
            "export",
            "contacts",
            &format!("{}@latest", udid(0)),
            "--out",
            s(&file),
        ],
        0,
    );
    assert_eq!(u(&report["contacts"]), 9);
    assert_eq!(
        vcf_files(&w.path("one")),
        BTreeSet::from(["josh.vcf".to_string()])
    );
    let found = verify(&[
        OsStr::new("contacts"),
        os(&file),
        os(&sql.join("AddressBook.sqlitedb")),
        os(&sql.join("images/AddressBookImages.sqlitedb")),
    ]);
    assert_eq!(u(&found["cards"]), 9);
    assert_eq!(
        std::fs::read(&file).unwrap(),
        std::fs::read(w.path("out-0/contacts.vcf")).unwrap()
    );

    // A second export into the same folder rewrites the same files.
    let before = vcf_files(&w.path("out-0"));
    w.json(
        &[
            "export",
            "contacts",
            &format!("{}@latest", udid(0)),
            "--out",
            s(&w.path("out-0")),
        ],
        0,
    );
    assert_eq!(vcf_files(&w.path("out-0")), before);
}

/// What the fixtures' PROVENANCE.md says specific people hold.
fn check_people(image: &str, found: &Value, out: &Path) {
    let one = |name: &str| -> &Value {
        let all = named(found, name);
        assert_eq!(all.len(), 1, "{name} in {image}");
        all[0]
    };
    match image {
        "ios-databases/hickman-ios15.3.1-iphone8" => {
            let josh = one("Josh Hickman");
            assert_eq!(strings(&josh["tel"]), ["(919) 579-0479", "(919) 391-2507"]);
            assert_eq!(strings(&josh["email"]), ["joshuahickman957@gmail.com"]);
            let apple = one("Apple Inc.");
            assert_eq!(apple["org"][0][0], "Apple Inc.");
            assert_eq!(strings(&apple["tel"]), ["1-800-MY-APPLE"]);
            assert_eq!(strings(&apple["url"]), ["http://www.apple.com"]);
            assert_eq!(
                apple["adr"][0],
                serde_json::json!([
                    "One Apple Park Way",
                    "Cupertino",
                    "CA",
                    "95014",
                    "United States"
                ])
            );
            assert_eq!(strings(&one("Thom De'Fer")["tel"]), ["(919) 802-7080"]);
            assert_eq!(strings(&one("Liz")["tel"]), ["+1 (919) 208-4530"]);
            assert_eq!(
                named(found, "This Is DFIR Two").len(),
                2,
                "the duplicate stays"
            );
            if found["photos"] == 2 {
                assert_eq!(one("This Is DFIR")["photo_bytes"], 208_637, "the PNG");
                assert_eq!(one("This DFIR")["photo_bytes"], 130_830, "the JPEG");
            }
            let files = vcf_files(out);
            for f in [
                "contacts.vcf",
                "Josh Hickman.vcf",
                "Apple Inc.vcf",
                "This Is DFIR Two.vcf",
                "This Is DFIR Two (2).vcf",
            ] {
                assert!(files.contains(f), "{f} in {files:?}");
            }
        }
        "ios-databases/belkactf6-ios16.3" => {
            let bill = one("William Phorger");
            assert_eq!(strings(&bill["email"]), ["billthemegakill@icloud.com"]);
            assert!(strings(&bill["tel"]).is_empty());
        }
        "ios-databases-extra/hickman-ios13.4.1-iphonese" => {
            let josh = one("Josh Hickman");
            assert_eq!(strings(&josh["email"]), ["joshua.hickman1@me.com"]);
            assert_eq!(strings(&josh["tel"]), ["(919) 579-0479", "(919) 391-2507"]);
            one("This Is DFIR");
        }
        "ios-databases/hickman-ios14.3-iphonese" => {
            // One of the two has First = "This Is " with a trailing space.
            let twins = named(found, "This Is DFIR Two");
            assert_eq!(twins.len(), 2);
            for t in twins {
                assert_eq!(strings(&t["tel"]), ["(919) 888-7386"]);
                assert_eq!(strings(&t["email"]), ["thisisdfirtwo@gmail.com"]);
            }
        }
        _ => {}
    }
}

#[test]
fn an_address_book_whose_content_is_in_a_wal_the_backup_lacks_fails_by_name() {
    let w = World::with_repo();
    let image = fixture("ios-databases/belkactf6-ios16.3");
    let udid = "00008030-0000000000000B01";
    let dev = device_of(&w.path("devices"), udid, "Bill's iPhone", &image, false);
    w.ok(&["backup", s(&dev)]);
    let out = w.path("out");
    let report = w.json(
        &[
            "export",
            "contacts",
            &format!("{udid}@latest"),
            "--out",
            s(&out),
        ],
        3,
    );
    assert_eq!(u(&report["contacts"]), 0);
    let failed = report["snapshots"][0]["failed"].as_str().unwrap();
    for needle in [
        "HomeDomain/Library/AddressBook/AddressBook.sqlitedb",
        "no tables at all",
        "-wal",
    ] {
        assert!(failed.contains(needle), "{needle:?} in {failed}");
    }
    assert!(vcf_files(&out).is_empty());
}

struct CallHistory {
    image: &'static str,
    with_wal: bool,
    calls: u64,
}

#[test]
fn every_real_call_history_exports_one_csv_record_per_call() {
    let w = World::with_repo();
    let histories = [
        CallHistory {
            image: "ios-databases/hickman-ios14.3-iphonese",
            with_wal: true,
            calls: 25,
        },
        CallHistory {
            image: "ios-databases/hickman-ios14.3-iphonese",
            with_wal: false,
            calls: 23,
        },
        CallHistory {
            image: "ios-databases-extra/hickman-ios13.4.1-iphonese",
            with_wal: true,
            calls: 37,
        },
        CallHistory {
            image: "ios-databases-extra/hickman-ios13.4.1-iphonese",
            with_wal: false,
            calls: 0,
        },
    ];
    let udid = |i: usize| format!("00008030-0000000000000D{i:02}");
    for (i, h) in histories.iter().enumerate() {
        device_of(
            &w.path("devices"),
            &udid(i),
            &format!("Phone {i}"),
            &fixture(h.image),
            h.with_wal,
        );
    }
    w.ok(&["backup", s(&w.path("devices"))]);
    for (i, h) in histories.iter().enumerate() {
        let sql = w.path(&format!("sql-{i}"));
        let db = sql_copy(&fixture(h.image).join(CALLS), &sql, h.with_wal);
        let calls = count(&db, "SELECT count(*) FROM ZCALLRECORD");
        assert_eq!(calls, h.calls, "{} ({} WAL)", h.image, h.with_wal);
        let book = sql_copy(&fixture(h.image).join(AB), &sql.join("ab"), h.with_wal);
        // The first as one named file, the others into folders.
        let (out, csv) = match i {
            0 => (w.path("one/phone.csv"), w.path("one/phone.csv")),
            _ => (
                w.path(&format!("out-{i}")),
                w.path(&format!("out-{i}/calls.csv")),
            ),
        };
        let report = w.json(
            &[
                "export",
                "calls",
                &format!("{}@latest", udid(i)),
                "--out",
                s(&out),
            ],
            0,
        );
        assert_eq!(u(&report["calls"]), calls, "{report:#}");
        assert_eq!(report["warnings"], serde_json::json!([]), "{report:#}");
        if calls == 0 {
            // All 37 calls of iOS 13.4.1 are in the WAL: none without it, said cleanly.
            assert!(!csv.exists());
            continue;
        }
        let found = verify(&[OsStr::new("calls"), os(&csv), os(&db), os(&book)]);
        assert_eq!(u(&found["records"]), calls);
        let durations = count(
            &db,
            "SELECT coalesce(sum(CAST(round(ZDURATION) AS INTEGER)), 0) FROM ZCALLRECORD",
        );
        assert_eq!(u(&found["duration_seconds"]), durations);
        if h.image.contains("ios14.3") {
            // PROVENANCE.md: 1275.791 s in all with the WAL; 14 calls of 0 s.
            if h.with_wal {
                assert!((1274..=1278).contains(&durations), "{durations}");
            }
            // "This Is DFIR Two" ((919) 888-7386) called as +19198887386 and 9198887386.
            assert!(u(&found["named_from_contacts"]) > 0, "{found}");
            let text = std::fs::read_to_string(&csv).unwrap();
            assert!(text.contains(",This Is DFIR Two,"), "{text}");
            assert!(text.contains(",FaceTime Audio,") && text.contains(",FaceTime Video,"));
        }
    }
}

/// The plaintext twin's file `domain`/`rel`, copied to `to`.
fn twin_file(device: &Path, domain: &str, rel: &str, to: &Path) -> PathBuf {
    let id = FileId::for_path(domain, rel);
    let blob = device.join(&id.as_str()[..2]).join(id.as_str());
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(&blob, to).unwrap();
    to.to_path_buf()
}

/// The twin's `Library/Voicemail/<ROWID>.amr` and `.transcript` files, copied into `to` by name.
fn twin_voicemail_files(device: &Path, to: &Path) -> usize {
    let uri = format!("file:{}?immutable=1", device.join("Manifest.db").display());
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI;
    let db = Connection::open_with_flags(uri, flags).unwrap();
    let mut q = db
        .prepare(
            "SELECT relativePath FROM Files WHERE domain = 'HomeDomain' AND flags = 1 \
             AND relativePath LIKE 'Library/Voicemail/%' AND relativePath NOT LIKE '%.db'",
        )
        .unwrap();
    let rels: Vec<String> = q
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    std::fs::create_dir_all(to).unwrap();
    for rel in &rels {
        let name = rel.rsplit('/').next().unwrap();
        twin_file(device, "HomeDomain", rel, &to.join(name));
    }
    rels.len()
}

#[test]
fn an_encrypted_households_contacts_calls_and_voicemail_export_as_the_plaintext_says() {
    let w = World::with_repo();
    let spec = hearth_testkit::HouseholdSpec::tiny_mixed(IOS_PASSWORD);
    let (household, twin) = hearth_testkit::generate_with_twin(&spec, &w.path("gen")).unwrap();
    assert!(household.devices[0].encrypted);
    let backup = w
        .cmd(&["backup", s(&household.root)])
        .env("HEARTH_IOS_PASSWORD", IOS_PASSWORD)
        .output()
        .unwrap();
    assert_eq!(
        backup.status.code(),
        Some(0),
        "{}",
        common::describe(&backup)
    );
    for (device, plain) in household.devices.iter().zip(&twin.devices) {
        let snapshot = format!("{}@latest", device.udid);
        let sql = w.path(&format!("sql-{}", device.udid));
        let home =
            |rel: &str, name: &str| twin_file(&plain.folder, "HomeDomain", rel, &sql.join(name));
        let book = home(AB, "AddressBook.sqlitedb");
        let images = home(AB_IMAGES, "AddressBookImages.sqlitedb");

        // Contacts, with photos equal to the kit's bytes.
        let out = w.path(&format!("contacts-{}", device.udid));
        let report = w.json(&["export", "contacts", &snapshot, "--out", s(&out)], 0);
        let people = count(&book, "SELECT count(*) FROM ABPerson");
        let photos = people_with_photos(&images, &book);
        assert!(
            people >= 30 && photos >= 2,
            "{people} people, {photos} photos"
        );
        assert_eq!(u(&report["contacts"]), people);
        assert_eq!(u(&report["photos"]), photos);
        let found = verify(&[OsStr::new("contacts"), os(&out), os(&book), os(&images)]);
        assert_eq!((u(&found["cards"]), u(&found["photos"])), (people, photos));
        let long = named(
            &found,
            "Dr Maximiliana-Konstantina Zoë Siobhán Anaïs Øvergaard-Nguyễn-García-López 山田 Jr., PhD",
        );
        assert_eq!(long.len(), 1, "the long Unicode name, folded and read back");
        assert!(
            long[0]["bday"].as_str().unwrap().starts_with("--"),
            "no year"
        );
        assert!(long[0]["note"].as_str().unwrap().contains("\nDietary"));
        assert_eq!(long[0]["adr"][0][0], "Flat 2\n221B Baker Street");
        let org = "Smith, Jones & Partners; Solicitors \\ Notaries";
        assert_eq!(named(&found, org).len(), 1, "escaped , ; and \\ read back");
        let contacts_vcf = std::fs::read(out.join("contacts.vcf")).unwrap();
        assert!(
            contacts_vcf.windows(3).any(|w| w == b"\r\n "),
            "folded lines"
        );

        // Calls, named from the address book.
        let calls_db = home(CALLS, "CallHistory.storedata");
        let csv = w.path(&format!("calls-{}.csv", device.udid));
        let report = w.json(&["export", "calls", &snapshot, "--out", s(&csv)], 0);
        let calls = count(&calls_db, "SELECT count(*) FROM ZCALLRECORD");
        assert!(calls >= 60, "{calls}");
        assert_eq!(u(&report["calls"]), calls);
        let found = verify(&[OsStr::new("calls"), os(&csv), os(&calls_db), os(&book)]);
        assert!(
            u(&found["named_from_contacts"]) >= calls / 3,
            "most calls are with contacts: {found}"
        );

        // Voicemail: audio byte for byte, dates as mtimes, transcripts; the one message whose
        // audio the phone never downloaded is a note.
        let vm_db = home(VOICEMAIL, "voicemail.db");
        let source = sql.join("voicemail");
        assert!(twin_voicemail_files(&plain.folder, &source) >= 2);
        let out = w.path(&format!("voicemail-{}", device.udid));
        let report = w.json(&["export", "voicemail", &snapshot, "--out", s(&out)], 0);
        let messages = count(&vm_db, "SELECT count(*) FROM voicemail");
        assert!(messages >= 3);
        assert_eq!(u(&report["voicemails"]), messages);
        let notes = report["remarks"].to_string();
        assert!(notes.contains("not downloaded"), "{report:#}");
        let found = verify(&[
            OsStr::new("voicemail"),
            os(&out),
            os(&vm_db),
            os(&source),
            os(&book),
        ]);
        assert_eq!(u(&found["records"]), messages);
        assert_eq!(u(&found["audio_files"]), messages - 1);
    }
}

#[test]
fn real_voicemail_databases_without_messages_export_none_cleanly() {
    let w = World::with_repo();
    let images = [
        "ios-databases/hickman-ios15.3.1-iphone8",
        "ios-databases/belkactf6-ios16.3",
        "ios-databases-extra/magnet-mvs2023-ios16.1.1",
    ];
    let udid = |i: usize| format!("00008030-0000000000000E{i:02}");
    for (i, image) in images.iter().enumerate() {
        device_of(
            &w.path("devices"),
            &udid(i),
            &format!("Phone {i}"),
            &fixture(image),
            true,
        );
    }
    w.ok(&["backup", s(&w.path("devices"))]);
    for (i, image) in images.iter().enumerate() {
        let db = sql_copy(
            &fixture(image).join(VOICEMAIL),
            &w.path(&format!("sql-{i}")),
            false,
        );
        assert_eq!(count(&db, "SELECT count(*) FROM voicemail"), 0, "{image}");
        let out = w.path(&format!("out-{i}"));
        let report = w.json(
            &[
                "export",
                "voicemail",
                &format!("{}@latest", udid(i)),
                "--out",
                s(&out),
            ],
            0,
        );
        assert_eq!(u(&report["voicemails"]), 0, "{report:#}");
        assert_eq!(report["warnings"], serde_json::json!([]));
        assert!(report["snapshots"][0]["failed"].is_null());
        assert_eq!(
            std::fs::read_dir(&out).unwrap().count(),
            0,
            "nothing written"
        );
    }
}
