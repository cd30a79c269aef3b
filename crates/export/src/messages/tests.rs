use super::*;
use std::path::{Path, PathBuf};

/// The three real `sms.db` of the fixtures (iOS 12, 13.4.1, 14.3): three schema generations.
fn fixtures() -> Vec<PathBuf> {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures");
    let dbs: Vec<PathBuf> = [
        "ios-databases/hickman-ios14.3-iphonese",
        "ios-databases/hickman-ios13.4.1-iphonese",
        "ios-databases-extra/magnet-ctf2020-ios12",
    ]
    .iter()
    .map(|d| shared.join(d).join(SMS_DB))
    .collect();
    for db in &dbs {
        assert!(db.is_file(), "the fixture {} is required", db.display());
    }
    dbs
}

#[test]
fn every_attributed_body_of_the_real_databases_holds_the_message_text() {
    let mut checked = 0;
    for path in fixtures() {
        let db = Database::open_copy(&path, SMS_DB, "test").unwrap();
        let mut stmt = db
            .conn()
            .prepare("SELECT ROWID, text, attributedBody FROM message WHERE attributedBody IS NOT NULL AND length(attributedBody) > 0")
            .unwrap();
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })
            .unwrap();
        for row in rows {
            let (rowid, text, body) = row.unwrap();
            assert_eq!(
                typedstream::attributed_string_text(&body).as_deref(),
                Ok(text.as_str()),
                "{} message {rowid}",
                path.display()
            );
            checked += 1;
        }
    }
    // 102 (iOS 14.3 with its WAL) + 44 (iOS 13.4.1) + 105 (iOS 12).
    assert_eq!(checked, 102 + 44 + 105);
}

#[test]
fn the_three_schema_generations_are_known() {
    for path in fixtures() {
        let db = Database::open_copy(&path, SMS_DB, "test").unwrap();
        let schema = Schema::of(&db).unwrap();
        for sql in [&schema.messages, &schema.reactions] {
            db.conn().prepare(sql).unwrap();
        }
    }
}

#[test]
fn a_missing_column_is_named_with_its_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sms.db");
    std::fs::copy(&fixtures()[0], &path).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("DROP TRIGGER IF EXISTS before_delete_on_attachment; ALTER TABLE handle RENAME COLUMN id TO address;")
        .unwrap();
    drop(conn);
    let db = Database::open_copy(&path, SMS_DB, "Mum's iPhone").unwrap();
    let e = Schema::of(&db).err().expect("a schema error");
    assert!(
        matches!(&e, ExportError::Schema { table, column: Some(c), .. } if table == "handle" && c == "id")
    );
    assert_eq!(
        e.to_string(),
        "Library/SMS/sms.db in the snapshot of Mum's iPhone has no column id in table handle: a schema this exporter does not know"
    );
}

#[test]
fn reactions_name_the_message_they_react_to() {
    assert_eq!(
        reaction_target("p:0/4C59B642-185E-4C5F-9622-D0116266E4BB"),
        "4C59B642-185E-4C5F-9622-D0116266E4BB"
    );
    assert_eq!(reaction_target("bp:4C59B642"), "4C59B642");
    assert_eq!(reaction_target("4C59B642"), "4C59B642");
    assert_eq!(tapback(2000, None), "❤️");
    assert_eq!(tapback(2006, Some("🦆")), "🦆");
}

#[test]
fn attachments_are_found_in_the_media_domain() {
    assert_eq!(
        backup_path("~/Library/SMS/Attachments/9e/14/X/IMG_0066.HEIC").as_deref(),
        Some("Library/SMS/Attachments/9e/14/X/IMG_0066.HEIC")
    );
    assert_eq!(
        backup_path("/var/mobile/Library/SMS/Attachments/a/b.jpg").as_deref(),
        Some("Library/SMS/Attachments/a/b.jpg")
    );
    assert_eq!(backup_path("/var/tmp/com.apple.messages/x.jpg"), None);
    assert_eq!(backup_path("~/../../etc/passwd"), None);
}

#[test]
fn an_edit_history_is_read_from_the_summary() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures");
    let old = std::fs::read(
        shared
            .join("ios-databases/imessage-exporter-typedstream/typedstream/AttributedBodyTextOnly"),
    )
    .unwrap();
    let new =
        std::fs::read(shared.join(
            "ios-databases/imessage-exporter-typedstream/typedstream/AttributedBodyTextOnly2",
        ))
        .unwrap();
    let entry = |d: i64, t: &[u8]| {
        let mut e = plist::Dictionary::new();
        e.insert("d".into(), plist::Value::Integer(d.into()));
        e.insert("t".into(), plist::Value::Data(t.to_vec()));
        plist::Value::Dictionary(e)
    };
    let mut ec = plist::Dictionary::new();
    ec.insert(
        "0".into(),
        plist::Value::Array(vec![
            entry(700_000_000_000_000_000, &old),
            entry(700_000_060_000_000_000, &new),
        ]),
    );
    let mut top = plist::Dictionary::new();
    top.insert("ec".into(), plist::Value::Dictionary(ec));
    let mut blob = Vec::new();
    plist::Value::Dictionary(top)
        .to_writer_binary(&mut blob)
        .unwrap();
    let s = summary::read(&blob).unwrap();
    assert!(!s.retracted);
    let texts: Vec<&str> = s.versions.iter().map(|v| v.text.as_str()).collect();
    assert_eq!(texts, ["Noter test", "Test 3"]);
    assert_eq!(
        crate::time::rfc3339(s.versions[0].time.unwrap()),
        "2023-03-08T20:26:40Z"
    );
    assert!(summary::read(b"not a plist").is_err());
}
