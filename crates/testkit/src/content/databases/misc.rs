//! The smaller system and app databases: contacts, call history, Safari history, voice memos,
//! data usage and a generic app Core Data store. Sized by row count, not bytes.

use std::path::Path;

use rand::RngExt;
use rusqlite::{Connection, params};

use super::{RowEdits, close, create};
use crate::content::plists::APPLE_EPOCH;
use crate::content::{Rng, Seeds, text};
use crate::error::{Context, Error};

/// Which small database to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SmallDb {
    AddressBook,
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
            SmallDb::AddressBook => "
CREATE TABLE ABPerson (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, First TEXT, Last TEXT, Organization TEXT,
  Note TEXT, Birthday TEXT, CreationDate INTEGER, ModificationDate INTEGER, DisplayName TEXT);
CREATE TABLE ABMultiValue (UID INTEGER PRIMARY KEY, record_id INTEGER, property INTEGER,
  identifier INTEGER, label INTEGER, value TEXT, guid TEXT);
CREATE INDEX ABMultiValueRecordIDIndex ON ABMultiValue(record_id);",
            SmallDb::CallHistory => "
CREATE TABLE ZCALLRECORD (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZANSWERED INTEGER,
  ZCALLTYPE INTEGER, ZORIGINATED INTEGER, ZREAD INTEGER, ZDATE TIMESTAMP, ZDURATION FLOAT,
  ZADDRESS VARCHAR, ZNAME VARCHAR, ZSERVICE_PROVIDER VARCHAR, ZUNIQUE_ID VARCHAR, ZISO_COUNTRY_CODE VARCHAR);
CREATE INDEX ZCALLRECORD_ZDATE ON ZCALLRECORD (ZDATE);",
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
    let conn = create(path, kind.schema())?;
    let mut rng = seeds.rng();
    populate(&conn, kind, &mut rng, rows, now).at(path)?;
    close(conn, path)
}

fn populate(
    conn: &Connection,
    kind: SmallDb,
    rng: &mut Rng,
    rows: usize,
    now: i64,
) -> rusqlite::Result<()> {
    let tx = conn.unchecked_transaction()?;
    for i in 0..rows {
        let at = now - rng.random_range(0..2 * 365 * 86_400);
        match kind {
            SmallDb::AddressBook => insert_contact(conn, rng, at)?,
            SmallDb::CallHistory => insert_call(conn, rng, at)?,
            SmallDb::SafariHistory => insert_visit(conn, rng, at)?,
            SmallDb::DataUsage => insert_usage(conn, rng, i, at)?,
            SmallDb::AppStore => insert_item(conn, rng, at)?,
            SmallDb::HealthSecure => insert_sample(conn, rng, at)?,
        }
    }
    tx.commit()
}

fn insert_contact(conn: &Connection, rng: &mut Rng, at: i64) -> rusqlite::Result<()> {
    let (first, last) = (text::first_name(rng), text::last_name(rng));
    conn.prepare_cached(
        "INSERT INTO ABPerson (First, Last, Organization, Note, CreationDate, ModificationDate, DisplayName)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
    )?
    .execute(params![
        first,
        last,
        rng.random_bool(0.2).then(|| format!("{} Ltd", text::last_name(rng))),
        rng.random_bool(0.1).then(|| text::sentence(rng, 3, 12)),
        at - APPLE_EPOCH,
        format!("{first} {last}"),
    ])?;
    let person = conn.last_insert_rowid();
    for (property, value) in [(3, text::phone_number(rng)), (4, text::email(rng))] {
        conn.prepare_cached(
            "INSERT INTO ABMultiValue (record_id, property, identifier, label, value, guid) VALUES (?1, ?2, 0, 1, ?3, ?4)",
        )?
        .execute(params![person, property, value, text::uuid(rng)])?;
    }
    Ok(())
}

fn insert_call(conn: &Connection, rng: &mut Rng, at: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO ZCALLRECORD (Z_ENT, Z_OPT, ZANSWERED, ZCALLTYPE, ZORIGINATED, ZREAD, ZDATE, ZDURATION,
           ZADDRESS, ZNAME, ZSERVICE_PROVIDER, ZUNIQUE_ID, ZISO_COUNTRY_CODE)
         VALUES (2, 1, ?1, 1, ?2, 1, ?3, ?4, ?5, ?6, 'com.apple.Telephony', ?7, 'gb')",
    )?
    .execute(params![
        rng.random_bool(0.8),
        rng.random_bool(0.5),
        (at - APPLE_EPOCH) as f64,
        rng.random_range(0.0..1800.0),
        text::phone_number(rng),
        text::first_name(rng),
        text::uuid(rng),
    ])?;
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
            SmallDb::CallHistory => insert_call(conn, rng, at)?,
            SmallDb::SafariHistory => insert_visit(conn, rng, at)?,
            SmallDb::AddressBook => insert_contact(conn, rng, at)?,
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
