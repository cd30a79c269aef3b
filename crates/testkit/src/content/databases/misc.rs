//! The smaller system and app databases: call history, Safari history, voice memos, data usage
//! and a generic app Core Data store. Sized by row count, not bytes. (Contacts are in
//! [`super::address_book`], voicemail in [`super::voicemail`].)

use std::path::Path;

use rand::RngExt;
use rusqlite::{Connection, OptionalExtension, params};

use super::{RowEdits, close, create};
use crate::content::plists::APPLE_EPOCH;
use crate::content::{Rng, Seeds, text};
use crate::error::{Context, Error};

/// Which small database to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SmallDb {
    CallHistory,
    SafariHistory,
    DataUsage,
    AppStore,
    /// Health's `healthdb_secure.sqlite` (encrypted backups only).
    HealthSecure,
}

impl SmallDb {
    fn schema(self) -> &'static str {
        match self {
            // iOS 14's Core Data store (the real one in shared/fixtures/ios-databases).
            SmallDb::CallHistory => "
CREATE TABLE ZCALLDBPROPERTIES (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZTIMER_ALL FLOAT,
  ZTIMER_INCOMING FLOAT, ZTIMER_LAST FLOAT, ZTIMER_LIFETIME FLOAT, ZTIMER_OUTGOING FLOAT);
CREATE TABLE ZCALLRECORD (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZANSWERED INTEGER,
  ZCALL_CATEGORY INTEGER, ZCALLTYPE INTEGER, ZDISCONNECTED_CAUSE INTEGER, ZFACE_TIME_DATA INTEGER,
  ZFILTERED_OUT_REASON INTEGER, ZHANDLE_TYPE INTEGER, ZJUNKCONFIDENCE INTEGER, ZNUMBER_AVAILABILITY INTEGER,
  ZORIGINATED INTEGER, ZREAD INTEGER, ZVERIFICATIONSTATUS INTEGER, ZDATE TIMESTAMP, ZDURATION FLOAT,
  ZISO_COUNTRY_CODE VARCHAR, ZLOCATION VARCHAR, ZNAME VARCHAR, ZSERVICE_PROVIDER VARCHAR, ZUNIQUE_ID VARCHAR,
  ZLOCALPARTICIPANTUUID BLOB, ZOUTGOINGLOCALPARTICIPANTUUID BLOB, ZADDRESS BLOB);
CREATE TABLE Z_2REMOTEPARTICIPANTHANDLES (Z_2REMOTEPARTICIPANTCALLS INTEGER, Z_3REMOTEPARTICIPANTHANDLES INTEGER,
  PRIMARY KEY (Z_2REMOTEPARTICIPANTCALLS, Z_3REMOTEPARTICIPANTHANDLES));
CREATE TABLE ZHANDLE (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZTYPE INTEGER,
  ZNORMALIZEDVALUE VARCHAR, ZVALUE BLOB);
CREATE INDEX Z_CallRecord_byDateIndex ON ZCALLRECORD (ZDATE COLLATE BINARY ASC);
CREATE UNIQUE INDEX Z_CallRecord_UNIQUE_unique_id ON ZCALLRECORD (ZUNIQUE_ID COLLATE BINARY ASC);
CREATE INDEX Z_Handle_byNormalizedValueIndex ON ZHANDLE (ZNORMALIZEDVALUE COLLATE BINARY ASC);
CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR, Z_SUPER INTEGER, Z_MAX INTEGER);
CREATE TABLE Z_METADATA (Z_VERSION INTEGER PRIMARY KEY, Z_UUID VARCHAR(255), Z_PLIST BLOB);
INSERT INTO Z_PRIMARYKEY VALUES (1, 'CallDBProperties', 0, 0), (2, 'CallRecord', 0, 0), (3, 'Handle', 0, 0);",
            SmallDb::SafariHistory => "
CREATE TABLE history_items (id INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL UNIQUE,
  domain_expansion TEXT NULL, visit_count INTEGER NOT NULL, daily_visit_counts BLOB NOT NULL,
  should_recompute_derived_visit_counts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE history_visits (id INTEGER PRIMARY KEY AUTOINCREMENT, history_item INTEGER NOT NULL
  REFERENCES history_items(id) ON DELETE CASCADE, visit_time REAL NOT NULL, title TEXT NULL,
  load_successful BOOLEAN NOT NULL DEFAULT 1, http_non_get INTEGER NOT NULL DEFAULT 0);
CREATE INDEX history_visits__last_visit ON history_visits (history_item, visit_time DESC);",
            SmallDb::DataUsage => "
CREATE TABLE ZPROCESS (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZFIRSTTIMESTAMP TIMESTAMP,
  ZTIMESTAMP TIMESTAMP, ZBUNDLENAME VARCHAR, ZPROCNAME VARCHAR);
CREATE TABLE ZLIVEUSAGE (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZKIND INTEGER,
  ZHASPROCESS INTEGER, ZTIMESTAMP TIMESTAMP, ZWIFIIN FLOAT, ZWIFIOUT FLOAT, ZWWANIN FLOAT, ZWWANOUT FLOAT);",
            SmallDb::AppStore => "
CREATE TABLE ZITEM (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZCREATED TIMESTAMP,
  ZTITLE VARCHAR, ZBODY VARCHAR, ZIDENTIFIER VARCHAR, ZPAYLOAD BLOB);
CREATE TABLE Z_METADATA (Z_VERSION INTEGER PRIMARY KEY, Z_UUID VARCHAR(255), Z_PLIST BLOB);",
            SmallDb::HealthSecure => "
CREATE TABLE samples (data_id INTEGER PRIMARY KEY AUTOINCREMENT, start_date REAL, end_date REAL,
  data_type INTEGER);
CREATE TABLE quantity_samples (data_id INTEGER PRIMARY KEY, quantity REAL, original_quantity REAL,
  original_unit INTEGER);
CREATE TABLE data_provenances (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, origin_product_type TEXT,
  origin_build TEXT, source_version TEXT, device_id TEXT);
CREATE INDEX samples_type_date ON samples (data_type, start_date);",
        }
    }
}

/// Creates `kind` with about `rows` rows of content.
pub(crate) fn create_db(
    path: &Path,
    kind: SmallDb,
    seeds: Seeds,
    rows: usize,
    now: i64,
) -> Result<(), Error> {
    create_with_callers(path, kind, seeds, rows, now, &[])
}

/// The call history, most calls with `callers` (E.164 numbers: the address book's people).
pub(crate) fn create_call_history(
    path: &Path,
    seeds: Seeds,
    rows: usize,
    now: i64,
    callers: &[String],
) -> Result<(), Error> {
    create_with_callers(path, SmallDb::CallHistory, seeds, rows, now, callers)
}

fn create_with_callers(
    path: &Path,
    kind: SmallDb,
    seeds: Seeds,
    rows: usize,
    now: i64,
    callers: &[String],
) -> Result<(), Error> {
    let conn = create(path, kind.schema())?;
    let mut rng = seeds.rng();
    populate(&conn, kind, &mut rng, rows, now, callers).at(path)?;
    close(conn, path)
}

fn populate(
    conn: &Connection,
    kind: SmallDb,
    rng: &mut Rng,
    rows: usize,
    now: i64,
    callers: &[String],
) -> rusqlite::Result<()> {
    let tx = conn.unchecked_transaction()?;
    for i in 0..rows {
        let at = now - rng.random_range(0..2 * 365 * 86_400);
        match kind {
            SmallDb::CallHistory => {
                let caller = (!callers.is_empty() && rng.random_bool(0.7))
                    .then(|| callers[rng.random_range(0..callers.len())].clone());
                insert_call(conn, rng, at, caller)?
            }
            SmallDb::SafariHistory => insert_visit(conn, rng, at)?,
            SmallDb::DataUsage => insert_usage(conn, rng, i, at)?,
            SmallDb::AppStore => insert_item(conn, rng, at)?,
            SmallDb::HealthSecure => insert_sample(conn, rng, at)?,
        }
    }
    tx.commit()
}

/// One call: mostly phone calls, some FaceTime audio and video, a few through a VoIP app;
/// `ZADDRESS` a BLOB of UTF-8 as iOS 13 and 14 write it, with its `ZHANDLE` row.
fn insert_call(
    conn: &Connection,
    rng: &mut Rng,
    at: i64,
    caller: Option<String>,
) -> rusqlite::Result<()> {
    let number = caller.unwrap_or_else(|| text::phone_number(rng));
    let outgoing = rng.random_bool(0.4);
    let answered = !outgoing && rng.random_bool(0.6);
    let lasted = answered || (outgoing && rng.random_bool(0.8));
    let (call_type, provider) = match rng.random_range(0..20) {
        0..=15 => (1, "com.apple.Telephony"),
        16 => (8, "com.apple.FaceTime"),
        17 | 18 => (16, "com.apple.FaceTime"),
        _ => (1, "net.whatsapp.WhatsApp"),
    };
    // CallKit apps name the other party; the phone leaves ZNAME empty.
    let name = (provider == "net.whatsapp.WhatsApp")
        .then(|| format!("{} {}", text::first_name(rng), text::last_name(rng)));
    let location = rng
        .random_bool(0.3)
        .then(|| text::pick(rng, &["London", "Manchester, England", "Cardiff"]).to_string());
    conn.prepare_cached(
        "INSERT INTO ZCALLRECORD (Z_ENT, Z_OPT, ZANSWERED, ZCALL_CATEGORY, ZCALLTYPE, ZDISCONNECTED_CAUSE,
           ZHANDLE_TYPE, ZJUNKCONFIDENCE, ZNUMBER_AVAILABILITY, ZORIGINATED, ZREAD, ZVERIFICATIONSTATUS, ZDATE,
           ZDURATION, ZISO_COUNTRY_CODE, ZLOCATION, ZNAME, ZSERVICE_PROVIDER, ZUNIQUE_ID, ZADDRESS)
         VALUES (2, 1, ?1, ?2, ?3, ?4, 2, 0, 0, ?5, 1, 4, ?6, ?7, 'gb', ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        answered,
        if call_type == 8 { 2 } else { 1 },
        call_type,
        if lasted { 0 } else { 6 },
        outgoing,
        (at - APPLE_EPOCH) as f64 + rng.random_range(0.0..1.0),
        if lasted { rng.random_range(2.0..1800.0) } else { 0.0 },
        location,
        name,
        provider,
        text::uuid(rng),
        number.as_bytes(),
    ])?;
    let call = conn.last_insert_rowid();
    conn.prepare_cached(
        "INSERT INTO ZHANDLE (Z_PK, Z_ENT, Z_OPT, ZTYPE, ZNORMALIZEDVALUE, ZVALUE) VALUES (?1, 3, 1, 2, ?2, ?3)",
    )?
    .execute(params![call, number, number.as_bytes()])?;
    conn.prepare_cached(
        "INSERT INTO Z_2REMOTEPARTICIPANTHANDLES (Z_2REMOTEPARTICIPANTCALLS, Z_3REMOTEPARTICIPANTHANDLES) VALUES (?1, ?1)",
    )?
    .execute([call])?;
    conn.prepare_cached("UPDATE Z_PRIMARYKEY SET Z_MAX = ?1 WHERE Z_ENT IN (2, 3)")?
        .execute([call])?;
    Ok(())
}

fn insert_visit(conn: &Connection, rng: &mut Rng, at: i64) -> rusqlite::Result<()> {
    let url = text::url(rng);
    conn.prepare_cached(
        "INSERT INTO history_items (url, domain_expansion, visit_count, daily_visit_counts) VALUES (?1, ?2, 1, ?3)
         ON CONFLICT(url) DO UPDATE SET visit_count = visit_count + 1",
    )?
    .execute(params![url, text::site(rng), text::bytes(rng, 8)])?;
    let item: i64 = conn.query_row("SELECT id FROM history_items WHERE url = ?1", [&url], |r| {
        r.get(0)
    })?;
    conn.prepare_cached(
        "INSERT INTO history_visits (history_item, visit_time, title) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![
        item,
        (at - APPLE_EPOCH) as f64,
        text::sentence(rng, 2, 8)
    ])?;
    Ok(())
}

fn insert_usage(conn: &Connection, rng: &mut Rng, i: usize, at: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO ZPROCESS (Z_ENT, Z_OPT, ZFIRSTTIMESTAMP, ZTIMESTAMP, ZBUNDLENAME, ZPROCNAME) VALUES (9, 1, ?1, ?1, ?2, ?3)",
    )?
    .execute(params![(at - APPLE_EPOCH) as f64, format!("com.apple.process{i}"), format!("process{i}")])?;
    conn.prepare_cached(
        "INSERT INTO ZLIVEUSAGE (Z_ENT, Z_OPT, ZKIND, ZHASPROCESS, ZTIMESTAMP, ZWIFIIN, ZWIFIOUT, ZWWANIN, ZWWANOUT)
         VALUES (7, 1, 0, ?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        conn.last_insert_rowid(),
        (at - APPLE_EPOCH) as f64,
        rng.random_range(0.0..1e9),
        rng.random_range(0.0..1e8),
        rng.random_range(0.0..1e9),
        rng.random_range(0.0..1e8),
    ])?;
    Ok(())
}

fn insert_item(conn: &Connection, rng: &mut Rng, at: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO ZITEM (Z_ENT, Z_OPT, ZCREATED, ZTITLE, ZBODY, ZIDENTIFIER, ZPAYLOAD) VALUES (1, 1, ?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        (at - APPLE_EPOCH) as f64,
        text::sentence(rng, 1, 5),
        text::sentence(rng, 5, 60),
        text::uuid(rng),
        rng.random_bool(0.3).then(|| text::bytes_in(rng, 16..1024)),
    ])?;
    Ok(())
}

/// A heart-rate, step-count or weight sample, with a provenance every tenth row.
fn insert_sample(conn: &Connection, rng: &mut Rng, at: i64) -> rusqlite::Result<()> {
    let (data_type, quantity) = match rng.random_range(0..3) {
        0 => (5, rng.random_range(48.0..170.0)),
        1 => (7, rng.random_range(10.0..2_000.0)),
        _ => (3, rng.random_range(50.0..100.0)),
    };
    let start = (at - APPLE_EPOCH) as f64;
    conn.prepare_cached(
        "INSERT INTO samples (start_date, end_date, data_type) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![
        start,
        start + rng.random_range(1.0..600.0),
        data_type
    ])?;
    conn.prepare_cached(
        "INSERT INTO quantity_samples (data_id, quantity, original_quantity, original_unit) VALUES (?1, ?2, ?2, ?3)",
    )?
    .execute(params![conn.last_insert_rowid(), quantity, data_type + 100])?;
    if rng.random_range(0..10) == 0 {
        conn.prepare_cached(
            "INSERT INTO data_provenances (origin_product_type, origin_build, source_version, device_id) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params!["Watch6,1", "21T576", "10.5", text::uuid(rng)])?;
    }
    Ok(())
}

/// A night's calls or browsing: `rows` new rows dated in the last day.
pub(crate) fn nightly(
    conn: &Connection,
    kind: SmallDb,
    rng: &mut Rng,
    rows: usize,
    now: i64,
) -> rusqlite::Result<RowEdits> {
    let tx = conn.unchecked_transaction()?;
    for _ in 0..rows {
        let at = now - rng.random_range(0..86_400);
        match kind {
            SmallDb::CallHistory => {
                let again = again_caller(conn, rng)?;
                insert_call(conn, rng, at, again)?
            }
            SmallDb::SafariHistory => insert_visit(conn, rng, at)?,
            SmallDb::DataUsage => insert_usage(conn, rng, rows, at)?,
            SmallDb::AppStore => insert_item(conn, rng, at)?,
            SmallDb::HealthSecure => insert_sample(conn, rng, at)?,
        }
    }
    tx.commit()?;
    Ok(RowEdits {
        inserted: rows,
        updated: 0,
    })
}

/// Half the time, the number of an earlier call (people call the same people).
fn again_caller(conn: &Connection, rng: &mut Rng) -> rusqlite::Result<Option<String>> {
    let max: i64 = conn.query_row("SELECT coalesce(max(Z_PK), 0) FROM ZCALLRECORD", [], |r| {
        r.get(0)
    })?;
    if max == 0 || rng.random_bool(0.5) {
        return Ok(None);
    }
    let pk = rng.random_range(1..=max);
    let number: Option<Vec<u8>> = conn
        .query_row(
            "SELECT ZADDRESS FROM ZCALLRECORD WHERE Z_PK = ?1",
            [pk],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    Ok(number.map(|n| String::from_utf8_lossy(&n).into_owned()))
}

/// Voice Memos' `CloudRecordings.db`, one row per recording path.
pub(crate) fn cloud_recordings(
    path: &Path,
    seeds: Seeds,
    recordings: &[(String, i64)],
) -> Result<(), Error> {
    let conn = create(
        path,
        "CREATE TABLE ZCLOUDRECORDING (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZDATE TIMESTAMP,
           ZDURATION FLOAT, ZCUSTOMLABEL VARCHAR, ZPATH VARCHAR, ZUNIQUEID VARCHAR);",
    )?;
    let mut rng = seeds.rng();
    for (file, at) in recordings {
        conn.execute(
            "INSERT INTO ZCLOUDRECORDING (Z_ENT, Z_OPT, ZDATE, ZDURATION, ZCUSTOMLABEL, ZPATH, ZUNIQUEID)
             VALUES (2, 1, ?1, ?2, ?3, ?4, ?5)",
            params![
                (at - APPLE_EPOCH) as f64,
                rng.random_range(2.0..600.0),
                text::sentence(&mut rng, 1, 4),
                file,
                text::uuid(&mut rng)
            ],
        )
        .at(path)?;
    }
    close(conn, path)
}
