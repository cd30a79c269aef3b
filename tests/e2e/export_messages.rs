//! `hearth export messages` and `hearth export whatsapp` through the real binary: device
//! backups made of the real `sms.db` and `ChatStorage.sqlite` fixtures (iOS 12 to 15; main file
//! alone and with its WAL) and generated households (one of them encrypted), counts checked
//! against plain SQL on copies of the source databases, every page read by html5lib
//! (tests/python/verify_export_messages.py).

use crate::common;

use common::ios_databases::{device_of, fixture, sql_copy};
use common::{World, s, tree, u};
use hearth_testkit::third_party::python;
use rusqlite::Connection;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const NOT_REACTION: &str = "NOT (COALESCE(m.associated_message_type, 0) BETWEEN 2000 AND 3999)";

/// What html5lib found in an export folder.
fn verify(out: &Path) -> Value {
    let python = python().expect("a Python with html5lib");
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/verify_export_messages.py");
    let run = Command::new(python).arg(&script).arg(out).output().unwrap();
    let v: Value = serde_json::from_slice(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "verify_export_messages.py printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        )
    });
    assert_eq!(v["problems"], serde_json::json!([]), "{}", out.display());
    assert_eq!(run.status.code(), Some(0));
    v
}

/// Each conversation's JSON `id` → its page file name and message count.
fn pages_by_id(out: &Path) -> BTreeMap<String, (String, u64)> {
    let mut by_id = BTreeMap::new();
    for e in std::fs::read_dir(out.join("json")).unwrap() {
        let p = e.unwrap().path();
        let doc: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
        let n = doc["messages"].as_array().unwrap().len() as u64;
        let id = doc["id"].as_str().unwrap().to_string();
        assert!(by_id.insert(id, (format!("{stem}.html"), n)).is_none());
    }
    by_id
}

use crate::common::ios_databases::sql_count as count;

/// Messages per chat GUID, as the export counts them.
fn sql_per_chat(db: &Connection) -> BTreeMap<String, u64> {
    let sql = format!(
        "SELECT c.guid, count(m.ROWID) FROM chat c LEFT JOIN chat_message_join j ON j.chat_id = c.ROWID \
         LEFT JOIN message m ON m.ROWID = j.message_id AND {NOT_REACTION} GROUP BY c.ROWID"
    );
    let mut q = db.prepare(&sql).unwrap();
    q.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

struct SmsCase {
    image: &'static str,
    with_wal: bool,
}

#[test]
fn every_real_sms_db_exports_every_conversation_as_plain_sql_counts_them() {
    let w = World::with_repo();
    let cases = [
        SmsCase {
            image: "ios-databases/hickman-ios14.3-iphonese",
            with_wal: false,
        },
        SmsCase {
            image: "ios-databases/hickman-ios14.3-iphonese",
            with_wal: true,
        },
        SmsCase {
            image: "ios-databases/hickman-ios13.4.1-iphonese",
            with_wal: false,
        },
        SmsCase {
            image: "ios-databases/hickman-ios13.4.1-iphonese",
            with_wal: true,
        },
        SmsCase {
            image: "ios-databases-extra/magnet-ctf2020-ios12",
            with_wal: false,
        },
    ];
    let mut udids = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let udid = format!("00008030-00000000000000{i:02}");
        let dev = device_of(
            &w.path("devices"),
            &udid,
            &format!("Phone {i}"),
            &fixture(c.image),
            c.with_wal,
        );
        w.ok(&["backup", s(&dev)]);
        udids.push(udid);
    }
    let mut seen_text = false;
    for (c, udid) in cases.iter().zip(&udids) {
        let db_path = fixture(c.image).join("Library/SMS/sms.db");
        let copy = sql_copy(&db_path, &w.path(&format!("sql-{udid}")), c.with_wal);
        let db = Connection::open(&copy).unwrap();
        let conversations = count(&db, "SELECT count(*) FROM chat");
        let messages = count(
            &db,
            &format!(
                "SELECT count(*) FROM chat_message_join j JOIN message m ON m.ROWID = j.message_id WHERE {NOT_REACTION}"
            ),
        );
        let attachments = count(
            &db,
            &format!(
                "SELECT count(*) FROM message_attachment_join a JOIN chat_message_join j ON j.message_id = a.message_id \
                 JOIN message m ON m.ROWID = a.message_id WHERE {NOT_REACTION}"
            ),
        );
        let out = w.path(&format!("out-{udid}"));
        // The fixtures carry no attachment files: listed, not copied, and said so in a note (an
        // attachment kept in iCloud only is no fault of the backup: exit 0).
        let report = w.json(
            &[
                "export",
                "messages",
                &format!("{udid}@latest"),
                "--out",
                s(&out),
            ],
            0,
        );
        let what = format!("{} (WAL: {})", c.image, c.with_wal);
        assert_eq!(u(&report["conversations"]), conversations, "{what}");
        assert_eq!(u(&report["messages"]), messages, "{what}");
        assert_eq!(u(&report["attachments"]), attachments, "{what}");
        assert_eq!(u(&report["attachments_missing"]), attachments, "{what}");
        assert_eq!(
            u(&report["reactions"]),
            0,
            "{what}: the fixtures have no tapbacks"
        );
        assert_eq!(report["warnings"], serde_json::json!([]), "{what}");
        let notes = report["remarks"].as_array().unwrap();
        assert_eq!(notes.len(), 1, "{what}: {notes:?}");
        assert!(notes[0].as_str().unwrap().contains("are not in the backup"));
        assert!(report["snapshots"][0]["failed"].is_null());

        let found = verify(&out);
        let by_id = pages_by_id(&out);
        let per_chat = sql_per_chat(&db);
        assert_eq!(by_id.len() as u64, conversations, "{what}");
        assert_eq!(u(&found["index_links"]), conversations, "{what}");
        for (guid, n) in &per_chat {
            let (page, in_json) = &by_id[guid];
            assert_eq!(in_json, n, "{what}: {guid}");
            assert_eq!(u(&found["pages"][page]["messages"]), *n, "{what}: {page}");
        }
        if c.image.contains("14.3") && c.with_wal {
            // A known message, its sender shown by the address book's name.
            let page = &found["pages"]["This Is DFIR Two.html"];
            assert_eq!(u(&page["messages"]), 25);
            assert!(u(&page["senders"]["This Is DFIR Two"]) > 0, "{page}");
            assert!(u(&page["senders"]["Me"]) > 0, "{page}");
            let texts: Vec<&str> = page["texts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap())
                .collect();
            assert!(
                texts
                    .iter()
                    .any(|t| t.starts_with("This is a reply to the message at 13:09.")),
                "{texts:?}"
            );
            let josh = &found["pages"]["Josh Hickman.html"];
            assert_eq!(
                u(&josh["messages"]),
                3,
                "+19195790479 is Josh Hickman's number"
            );
            seen_text = true;
        }
    }
    assert!(seen_text);
}

#[test]
fn a_schema_without_a_needed_column_is_named_and_other_snapshots_still_export() {
    let w = World::with_repo();
    let good = device_of(
        &w.path("devices"),
        "00008030-0000000000000001",
        "Good",
        &fixture("ios-databases/hickman-ios13.4.1-iphonese"),
        false,
    );
    // A second device whose sms.db lacks message.is_from_me.
    let image = w.path("broken-image");
    let sms = image.join("Library/SMS");
    std::fs::create_dir_all(&sms).unwrap();
    let copy = sql_copy(
        &fixture("ios-databases/hickman-ios13.4.1-iphonese/Library/SMS/sms.db"),
        &sms,
        true,
    );
    let db = Connection::open(&copy).unwrap();
    db.execute_batch(
        "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE;
         DROP TABLE IF EXISTS message_tmp;
         CREATE TABLE message_tmp AS SELECT ROWID AS ROWID, guid, text, handle_id, date FROM message;",
    )
    .unwrap();
    let triggers: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for t in triggers {
        db.execute_batch(&format!("DROP TRIGGER \"{t}\"")).unwrap();
    }
    db.execute_batch("DROP TABLE message; ALTER TABLE message_tmp RENAME TO message;")
        .unwrap();
    drop(db);
    let broken = device_of(
        &w.path("devices"),
        "00008030-0000000000000002",
        "Broken",
        &image,
        false,
    );
    w.ok(&["backup", s(&good)]);
    w.ok(&["backup", s(&broken)]);
    let out = w.path("out");
    let report = w.json(&["export", "messages", "--out", s(&out)], 3);
    let snaps = report["snapshots"].as_array().unwrap();
    let by_device = |name: &str| snaps.iter().find(|s| s["device"] == name).unwrap();
    assert_eq!(
        by_device("Broken")["failed"],
        "HomeDomain/Library/SMS/sms.db in the snapshot of Broken has no column is_from_me in table message: a schema this exporter does not know"
    );
    assert!(by_device("Good")["failed"].is_null());
    assert_eq!(u(&by_device("Good")["messages"]), 44);
    assert_eq!(u(&report["messages"]), 44);
    verify(&out.join("Good"));
}

const IOS_PASSWORD: &str = "export messages";

/// A copy of the plaintext twin's `HomeDomain/Library/SMS/sms.db` (its blob by file id).
fn twin_db(device: &Path, domain_path: &str, dir: &Path) -> Connection {
    let id = hearth_mobilesync::FileId::for_path(
        domain_path.split_once('/').unwrap().0,
        domain_path.split_once('/').unwrap().1,
    );
    let blob = device.join(&id.as_str()[..2]).join(id.as_str());
    std::fs::create_dir_all(dir).unwrap();
    let copy = dir.join("db");
    std::fs::copy(&blob, &copy).unwrap();
    Connection::open(&copy).unwrap()
}

/// Every message of an export's JSON files, by id.
fn json_messages(out: &Path) -> BTreeMap<String, Value> {
    let mut all = BTreeMap::new();
    for e in std::fs::read_dir(out.join("json")).unwrap() {
        let doc: Value =
            serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap();
        for m in doc["messages"].as_array().unwrap() {
            all.insert(m["id"].as_str().unwrap().to_string(), m.clone());
        }
    }
    all
}

/// The last 9 digits of a phone number: how Messages' handles and the address book's
/// numbers are matched.
fn last_digits(number: &str) -> String {
    let d: String = number.chars().filter(char::is_ascii_digit).collect();
    d[d.len().saturating_sub(9)..].to_string()
}

/// The address book's people by their phone numbers: first and last name, else organisation.
fn address_book_names(book: &Connection) -> BTreeMap<String, String> {
    let mut q = book
        .prepare(
            "SELECT m.value, trim(coalesce(p.First, '') || ' ' || coalesce(p.Last, '')), p.Organization \
             FROM ABMultiValue m JOIN ABPerson p ON p.ROWID = m.record_id WHERE m.property = 3",
        )
        .unwrap();
    let rows = q
        .query_map([], |r| {
            let (number, full, org): (String, String, Option<String>) =
                (r.get(0)?, r.get(1)?, r.get(2)?);
            let name = match full.is_empty() {
                true => org.unwrap_or_default(),
                false => full,
            };
            Ok((last_digits(&number), name))
        })
        .unwrap();
    let mut names = BTreeMap::new();
    for (number, name) in rows.map(Result::unwrap) {
        names.entry(number).or_insert(name);
    }
    names
}

fn guids(db: &Connection, sql: &str) -> Vec<String> {
    let mut q = db.prepare(sql).unwrap();
    q.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn an_encrypted_households_messages_export_as_its_plaintext_twins_do() {
    let w = World::with_repo();
    let twin_world = World::with_repo();
    let spec = hearth_testkit::HouseholdSpec::tiny_mixed(IOS_PASSWORD);
    let (household, twin) = hearth_testkit::generate_with_twin(&spec, &w.path("gen")).unwrap();
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
    twin_world.ok(&["backup", s(&twin.root)]);
    assert!(household.devices[0].encrypted);
    let mut removed = 0;
    for (device, plain) in household.devices.iter().zip(&twin.devices) {
        let snapshot = format!("{}@latest", device.udid);
        let out = w.path(&format!("out-{}", device.udid));
        let report = w.json(&["export", "messages", &snapshot, "--out", s(&out)], 0);
        let twin_out = twin_world.path("out");
        twin_world.json(&["export", "messages", &snapshot, "--out", s(&twin_out)], 0);
        // The encrypted device's export is byte for byte its plaintext twin's.
        let (got, want) = (tree(&out), tree(&twin_out));
        assert!(
            got == want,
            "{}: the export differs from the twin's",
            device.name
        );
        std::fs::remove_dir_all(&twin_out).unwrap();

        let db = twin_db(
            &plain.folder,
            "HomeDomain/Library/SMS/sms.db",
            &w.path(&format!("sql-{}", device.udid)),
        );
        assert_eq!(
            u(&report["conversations"]),
            count(&db, "SELECT count(*) FROM chat")
        );
        assert_eq!(
            u(&report["messages"]),
            count(
                &db,
                &format!(
                    "SELECT count(*) FROM chat_message_join j JOIN message m ON m.ROWID = j.message_id WHERE {NOT_REACTION}"
                )
            )
        );
        let attachments = count(&db, "SELECT count(*) FROM message_attachment_join");
        assert!(attachments > 0);
        assert_eq!(u(&report["attachments"]), attachments);
        assert!(
            report["attachments_missing"].is_null(),
            "the kit writes every attachment"
        );
        let found = verify(&out);
        let images: u64 = found["pages"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| u(&p["images"]))
            .sum();
        assert_eq!(images, attachments, "every JPEG attachment shown inline");

        // Named group chats: their name, their members.
        let page = &found["pages"]["Family.html"];
        assert!(u(&page["messages"]) > 0);
        assert!(u(&page["events"]) >= 1, "the naming event");
        let family = std::fs::read_to_string(out.join("json/Family.json")).unwrap();
        let family: Value = serde_json::from_str(&family).unwrap();
        assert_eq!(family["group"], true);
        let members = guids(
            &db,
            "SELECT h.id FROM chat c JOIN chat_handle_join j ON j.chat_id = c.ROWID JOIN handle h ON h.ROWID = j.handle_id \
             WHERE c.display_name = 'Family' ORDER BY h.ROWID",
        );
        let got: Vec<&str> = family["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["handle"].as_str().unwrap())
            .collect();
        assert_eq!(got, members);
        assert_eq!(members.len(), 4);

        // Members the same snapshot's address book knows are shown by its name for them (half
        // the kit's handles are its contacts' mobile numbers); the others by their number.
        let book = twin_db(
            &plain.folder,
            "HomeDomain/Library/AddressBook/AddressBook.sqlitedb",
            &w.path(&format!("book-{}", device.udid)),
        );
        let names = address_book_names(&book);
        let mut named = 0;
        for e in std::fs::read_dir(out.join("json")).unwrap() {
            let doc: Value =
                serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap();
            for m in doc["members"].as_array().unwrap() {
                let handle = m["handle"].as_str().unwrap();
                match names.get(&last_digits(handle)) {
                    Some(name) => {
                        assert_eq!(m["name"], name.as_str(), "{handle}");
                        named += 1;
                    }
                    None => assert!(m["name"].is_null(), "{handle}: {m}"),
                }
            }
        }
        assert!(named >= 10, "{}: {named} members named", device.name);

        let messages = json_messages(&out);
        // attributedBody-only messages come out with their text.
        let body_only = guids(
            &db,
            "SELECT guid FROM message WHERE text IS NULL AND attributedBody IS NOT NULL AND item_type = 0 \
             AND associated_message_type = 0 AND date_retracted = 0",
        );
        assert!(
            body_only.len() > 10,
            "{} attributedBody-only messages",
            body_only.len()
        );
        for g in &body_only {
            let t = messages[g]["text"].as_str().unwrap_or_default();
            assert!(!t.is_empty(), "{g}: {}", messages[g]);
        }
        // Edited messages carry their marker and earlier version; unsent ones say so.
        let edited = guids(
            &db,
            "SELECT guid FROM message WHERE date_edited > 0 AND date_retracted = 0",
        );
        assert!(!edited.is_empty());
        for g in &edited {
            assert!(messages[g]["edited"].is_string(), "{}", messages[g]);
            assert_eq!(
                messages[g]["edits"].as_array().unwrap().len(),
                1,
                "{}",
                messages[g]
            );
        }
        let unsent = guids(&db, "SELECT guid FROM message WHERE date_retracted > 0");
        for g in &unsent {
            assert_eq!(messages[g]["unsent"], true);
            assert!(messages[g]["text"].is_null());
        }
        // Replies point at the message they quote.
        let replies = guids(
            &db,
            "SELECT guid FROM message WHERE thread_originator_guid IS NOT NULL",
        );
        assert!(!replies.is_empty());
        for g in &replies {
            let to = messages[g]["reply_to"]["id"].as_str().unwrap();
            assert!(messages.contains_key(to));
        }
        // Tapbacks: the last word of each sender on each message, removals taken out.
        let mut q = db
            .prepare(
                "SELECT associated_message_guid, associated_message_type, is_from_me, handle_id FROM message \
                 WHERE associated_message_type BETWEEN 2000 AND 3999 ORDER BY date, ROWID",
            )
            .unwrap();
        let mut state: BTreeMap<(String, bool, i64), bool> = BTreeMap::new();
        for row in q
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, bool>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .unwrap()
        {
            let (target, kind, me, handle) = row.unwrap();
            state.insert((target, me, if me { 0 } else { handle }), kind < 3000);
        }
        let shown = state.values().filter(|on| **on).count() as u64;
        assert!(shown > 0, "the kit writes tapbacks");
        removed += state.len() as u64 - shown;
        assert_eq!(u(&report["reactions"]), shown);
        let li: u64 = found["pages"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| u(&p["reactions"]))
            .sum();
        assert_eq!(li, shown);
    }
    assert!(removed > 0, "the kit takes some tapbacks back");
}

const WHATSAPP: &str = "AppDomainGroup-group.net.whatsapp.WhatsApp.shared/ChatStorage.sqlite";

/// (conversations, messages, media files) of a ChatStorage.sqlite, as the export counts them.
fn whatsapp_counts(db: &Connection) -> (u64, u64, u64) {
    (
        count(db, "SELECT count(*) FROM ZWACHATSESSION"),
        count(
            db,
            "SELECT count(*) FROM ZWAMESSAGE m JOIN ZWACHATSESSION s ON s.Z_PK = m.ZCHATSESSION",
        ),
        count(
            db,
            "SELECT count(*) FROM ZWAMESSAGE m JOIN ZWACHATSESSION s ON s.Z_PK = m.ZCHATSESSION \
             JOIN ZWAMEDIAITEM i ON i.Z_PK = m.ZMEDIAITEM WHERE i.ZMEDIALOCALPATH <> ''",
        ),
    )
}

#[test]
fn the_real_whatsapp_store_exports_its_chats_with_contact_names() {
    let w = World::with_repo();
    let image = fixture("ios-databases/hickman-ios15.3.1-iphone8");
    let db_path = image
        .join("Containers/Shared/AppGroup/694FBBC5-2E69-480A-A25B-FF8CC038BEF8/ChatStorage.sqlite");
    for (i, with_wal) in [false, true].into_iter().enumerate() {
        let udid = format!("00008030-00000000000000{i:02}");
        let dev = device_of(&w.path("devices"), &udid, "Josh's iPhone", &image, with_wal);
        w.ok(&["backup", s(&dev)]);
        let db =
            Connection::open(sql_copy(&db_path, &w.path(&format!("sql-{i}")), with_wal)).unwrap();
        let (conversations, messages, media) = whatsapp_counts(&db);
        assert_eq!((conversations, messages, media), (5, 32, 2));
        let out = w.path(&format!("out-{i}"));
        let report = w.json(
            &[
                "export",
                "whatsapp",
                &format!("{udid}@latest"),
                "--out",
                s(&out),
            ],
            0,
        );
        assert_eq!(u(&report["conversations"]), conversations);
        assert_eq!(u(&report["messages"]), messages);
        assert_eq!(u(&report["attachments"]), media);
        assert_eq!(
            u(&report["attachments_missing"]),
            media,
            "the fixture has no media files"
        );
        let found = verify(&out);
        // The 1:1 chat, named by the address book of the same snapshot.
        let page = &found["pages"]["This Is DFIR Two.html"];
        assert_eq!(u(&page["messages"]), 22);
        assert_eq!(u(&page["senders"]["Me"]), 11, "{page}");
        assert!(u(&page["senders"]["This Is DFIR Two"]) > 0, "{page}");
        let texts: Vec<&str> = page["texts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert!(texts.contains(&"QNAP is the way, my friend."), "{texts:?}");
        for (group, n) in [
            ("Our Test Group", 3),
            ("Med Report Review", 2),
            ("Med Report 2", 2),
            ("Working Group", 3),
        ] {
            assert_eq!(
                u(&found["pages"][format!("{group}.html")]["messages"]),
                n,
                "{group}"
            );
        }
        let json: Value =
            serde_json::from_slice(&std::fs::read(out.join("json/This Is DFIR Two.json")).unwrap())
                .unwrap();
        let located = json["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["location"].is_array())
            .count();
        assert_eq!(located, 4, "the four shared locations");
    }
}

#[test]
fn a_generated_households_whatsapp_exports_as_sql_counts_it() {
    let w = World::with_repo();
    let twin_world = World::with_repo();
    let spec = hearth_testkit::HouseholdSpec::tiny_mixed(IOS_PASSWORD);
    let (household, twin) = hearth_testkit::generate_with_twin(&spec, &w.path("gen")).unwrap();
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
    twin_world.ok(&["backup", s(&twin.root)]);
    let mut with_whatsapp = 0;
    let mut member_messages = 0;
    for (device, plain) in household.devices.iter().zip(&twin.devices) {
        let snapshot = format!("{}@latest", device.udid);
        let id = hearth_mobilesync::FileId::for_path(
            WHATSAPP.split_once('/').unwrap().0,
            "ChatStorage.sqlite",
        );
        if !plain
            .folder
            .join(&id.as_str()[..2])
            .join(id.as_str())
            .is_file()
        {
            continue;
        }
        with_whatsapp += 1;
        let db = twin_db(
            &plain.folder,
            WHATSAPP,
            &w.path(&format!("wsql-{}", device.udid)),
        );
        let (conversations, messages, media) = whatsapp_counts(&db);
        assert!(messages > 50 && media > 0);
        let out = w.path(&format!("wa-{}", device.udid));
        // The kit writes no WhatsApp media files: listed, not copied, in a note (exit 0).
        let report = w.json(&["export", "whatsapp", &snapshot, "--out", s(&out)], 0);
        assert_eq!(u(&report["conversations"]), conversations);
        assert_eq!(u(&report["messages"]), messages);
        assert_eq!(u(&report["attachments"]), media);
        let found = verify(&out);
        let shown: u64 = found["pages"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| u(&p["messages"]))
            .sum();
        assert_eq!(shown, messages);
        // A group: its subject, its members, messages by members (not by the group).
        let cousins: Value =
            serde_json::from_slice(&std::fs::read(out.join("json/Cousins.json")).unwrap()).unwrap();
        assert_eq!(cousins["group"], true);
        let members = count(
            &db,
            "SELECT count(*) FROM ZWAGROUPMEMBER g JOIN ZWACHATSESSION s ON s.Z_PK = g.ZCHATSESSION \
             WHERE s.ZPARTNERNAME = 'Cousins'",
        );
        assert_eq!(cousins["members"].as_array().unwrap().len() as u64, members);
        for group in ["Cousins", "Football parents"] {
            let from_members = count(
                &db,
                &format!(
                    "SELECT count(*) FROM ZWAMESSAGE m JOIN ZWACHATSESSION s ON s.Z_PK = m.ZCHATSESSION \
                     WHERE s.ZPARTNERNAME = '{group}' AND m.ZGROUPMEMBER IS NOT NULL"
                ),
            );
            let senders = &found["pages"][format!("{group}.html")]["senders"];
            let by_members: u64 = senders
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter(|(k, _)| *k != "Me" && *k != group)
                        .map(|(_, n)| u(n))
                        .sum()
                })
                .unwrap_or(0);
            assert_eq!(by_members, from_members, "{group}: {senders}");
            member_messages += from_members;
        }
        let twin_out = twin_world.path("wa");
        twin_world.json(&["export", "whatsapp", &snapshot, "--out", s(&twin_out)], 0);
        assert!(
            tree(&out) == tree(&twin_out),
            "{}: the export differs from the twin's",
            device.name
        );
        std::fs::remove_dir_all(&twin_out).unwrap();
    }
    assert!(with_whatsapp > 0, "the household has WhatsApp");
    assert!(member_messages > 0, "group messages by members");
}
