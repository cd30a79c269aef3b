//! `AppDomainGroup-group.net.whatsapp.WhatsApp.shared ChatStorage.sqlite`: WhatsApp's Core
//! Data store, sessions and messages, with thumbnail blobs on media messages.

use std::path::Path;

use rand::RngExt;
use rusqlite::{Connection, params};

use super::{RowEdits, close, create, fill, max_rowid};
use crate::content::media::{MediaKind, media_bytes};
use crate::content::plists::APPLE_EPOCH;
use crate::content::{Rng, Seeds, text};
use crate::error::{Context, Error};

const SCHEMA: &str = "
CREATE TABLE ZWACHATSESSION (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZARCHIVED INTEGER,
  ZMESSAGECOUNTER INTEGER, ZUNREADCOUNT INTEGER, ZSESSIONTYPE INTEGER, ZLASTMESSAGEDATE TIMESTAMP,
  ZCONTACTJID VARCHAR, ZPARTNERNAME VARCHAR, ZLASTMESSAGETEXT VARCHAR);
CREATE TABLE ZWAMESSAGE (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZISFROMME INTEGER,
  ZMESSAGESTATUS INTEGER, ZMESSAGETYPE INTEGER, ZSORT INTEGER, ZSTARRED INTEGER, ZCHATSESSION INTEGER,
  ZMEDIAITEM INTEGER, ZGROUPMEMBER INTEGER, ZGROUPEVENTTYPE INTEGER, ZMESSAGEDATE TIMESTAMP, ZSENTDATE TIMESTAMP, ZFROMJID VARCHAR, ZPUSHNAME VARCHAR,
  ZSTANZAID VARCHAR, ZTEXT VARCHAR, ZTOJID VARCHAR);
CREATE TABLE ZWAMEDIAITEM (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZMESSAGE INTEGER,
  ZFILESIZE INTEGER, ZMOVIEDURATION INTEGER, ZLATITUDE FLOAT, ZLONGITUDE FLOAT, ZMEDIALOCALPATH VARCHAR,
  ZMEDIAURL VARCHAR, ZTITLE VARCHAR, ZMETADATA BLOB);
CREATE TABLE ZWAGROUPMEMBER (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZISACTIVE INTEGER,
  ZISADMIN INTEGER, ZCHATSESSION INTEGER, ZCONTACTNAME VARCHAR, ZFIRSTNAME VARCHAR, ZMEMBERJID VARCHAR);
CREATE INDEX Z_WAGROUPMEMBER_ZCHATSESSION ON ZWAGROUPMEMBER (ZCHATSESSION);
CREATE INDEX Z_WAMESSAGE_ZCHATSESSION ON ZWAMESSAGE (ZCHATSESSION);
CREATE INDEX Z_WAMESSAGE_ZSTANZAID ON ZWAMESSAGE (ZSTANZAID);
CREATE INDEX Z_WAMEDIAITEM_ZMESSAGE ON ZWAMEDIAITEM (ZMESSAGE);
";

const HISTORY_SECS: i64 = 2 * 365 * 86_400;

pub(crate) fn create_db(path: &Path, seeds: Seeds, target: u64, now: i64) -> Result<(), Error> {
    let conn = create(path, SCHEMA)?;
    let mut rng = seeds.rng();
    populate(&conn, &mut rng, target, now).at(path)?;
    close(conn, path)
}

fn populate(conn: &Connection, rng: &mut Rng, target: u64, now: i64) -> rusqlite::Result<()> {
    let sessions = rng.random_range(15..45);
    conn.execute_batch("BEGIN")?;
    for pk in 1..=sessions {
        conn.execute(
            "INSERT INTO ZWACHATSESSION VALUES (?1, 5, 1, 0, 0, 0, 0, NULL, ?2, ?3, NULL)",
            params![
                pk,
                jid(rng),
                format!("{} {}", text::first_name(rng), text::last_name(rng))
            ],
        )?;
    }
    // Group chats (ZSESSIONTYPE 1): a subject as partner name, members in ZWAGROUPMEMBER.
    for (i, subject) in ["Cousins", "Football parents"].iter().enumerate() {
        let pk = sessions + 1 + i as i64;
        conn.execute(
            "INSERT INTO ZWACHATSESSION VALUES (?1, 5, 1, 0, 0, 0, 1, NULL, ?2, ?3, NULL)",
            params![
                pk,
                format!(
                    "1203630{:011}@g.us",
                    rng.random_range(0..100_000_000_000u64)
                ),
                subject
            ],
        )?;
        for _ in 0..rng.random_range(3..6) {
            conn.execute(
                "INSERT INTO ZWAGROUPMEMBER (Z_ENT, Z_OPT, ZISACTIVE, ZISADMIN, ZCHATSESSION, ZCONTACTNAME, ZFIRSTNAME, ZMEMBERJID)
                 VALUES (6, 1, 1, 0, ?1, ?2, ?3, ?4)",
                params![pk, text::last_name(rng), text::first_name(rng), jid(rng)],
            )?;
        }
    }
    conn.execute_batch("COMMIT")?;
    let est_rows = (target / 350).max(50) as i64;
    let step = (HISTORY_SECS / est_rows).max(1);
    let mut at = now - HISTORY_SECS;
    fill(conn, target, 60, |_| {
        at = (at + rng.random_range(0..2 * step)).min(now);
        insert_message(conn, rng, at).map(|_| ())
    })?;
    conn.execute_batch(
        "UPDATE ZWACHATSESSION SET
           ZMESSAGECOUNTER = (SELECT count(*) FROM ZWAMESSAGE WHERE ZCHATSESSION = ZWACHATSESSION.Z_PK),
           ZLASTMESSAGEDATE = (SELECT max(ZMESSAGEDATE) FROM ZWAMESSAGE WHERE ZCHATSESSION = ZWACHATSESSION.Z_PK)",
    )
}

fn jid(rng: &mut Rng) -> String {
    format!("{}@s.whatsapp.net", &text::phone_number(rng)[1..])
}

/// Inserts one message (a tenth with a media item and thumbnail); returns its Z_PK.
pub(crate) fn insert_message(conn: &Connection, rng: &mut Rng, at: i64) -> rusqlite::Result<i64> {
    let sessions = max_rowid(conn, "ZWACHATSESSION")?.max(1);
    let session = rng.random_range(1..=sessions);
    let from_me = rng.random_bool(0.5);
    let date = (at - APPLE_EPOCH) as f64 + rng.random_range(0.0..1.0);
    // In a group, who wrote it: one of its members.
    let member: Option<i64> = conn
        .prepare_cached("SELECT Z_PK FROM ZWAGROUPMEMBER WHERE ZCHATSESSION = ?1 ORDER BY Z_PK")?
        .query_map([session], |r| r.get(0))?
        .collect::<Result<Vec<i64>, _>>()?
        .first()
        .map(|first| first + rng.random_range(0..3))
        .filter(|_| !from_me);
    let media = rng.random_bool(0.1);
    conn.prepare_cached(
        "INSERT INTO ZWAMESSAGE (Z_ENT, Z_OPT, ZISFROMME, ZMESSAGESTATUS, ZMESSAGETYPE, ZSORT, ZSTARRED,
           ZCHATSESSION, ZMESSAGEDATE, ZSENTDATE, ZFROMJID, ZPUSHNAME, ZSTANZAID, ZTEXT, ZTOJID, ZGROUPMEMBER)
         VALUES (9, 3, ?1, ?2, ?3, 0, 0, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        from_me,
        if from_me { 8 } else { 0 },
        if media { 1 } else { 0 },
        session,
        date,
        if from_me { None } else { Some(jid(rng)) },
        text::first_name(rng),
        text::hex_token(rng, 10).to_uppercase(),
        if media { None } else { Some(text::sentence(rng, 1, 30)) },
        if from_me { Some(jid(rng)) } else { None },
        member,
    ])?;
    let id = conn.last_insert_rowid();
    if media {
        insert_media(conn, rng, id)?;
    }
    Ok(id)
}

fn insert_media(conn: &Connection, rng: &mut Rng, message: i64) -> rusqlite::Result<()> {
    let thumb_len = rng.random_range(1_500..6_000);
    let seed = Seeds::new(rng.random());
    conn.prepare_cached(
        "INSERT INTO ZWAMEDIAITEM (Z_ENT, Z_OPT, ZMESSAGE, ZFILESIZE, ZMEDIALOCALPATH, ZMEDIAURL, ZMETADATA)
         VALUES (7, 2, ?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        message,
        rng.random_range(20_000..3_000_000i64),
        format!("Media/{}/{}.jpg", text::phone_number(rng), text::uuid(rng)),
        format!("https://mmg.whatsapp.net/v/t62/{}.enc", text::hex_token(rng, 24)),
        media_bytes(MediaKind::Jpeg, thumb_len, seed),
    ])?;
    conn.execute(
        "UPDATE ZWAMESSAGE SET ZMEDIAITEM = ?1 WHERE Z_PK = ?2",
        params![conn.last_insert_rowid(), message],
    )?;
    Ok(())
}

/// A night's traffic: `rows` new messages and about half as many status updates.
pub(crate) fn nightly(
    conn: &Connection,
    rng: &mut Rng,
    rows: usize,
    now: i64,
) -> rusqlite::Result<RowEdits> {
    let tx = conn.unchecked_transaction()?;
    let last = max_rowid(conn, "ZWAMESSAGE")?.max(1);
    let updates = rows / 2;
    for _ in 0..updates {
        conn.prepare_cached(
            "UPDATE ZWAMESSAGE SET ZMESSAGESTATUS = 13, Z_OPT = Z_OPT + 1 WHERE Z_PK = ?1",
        )?
        .execute([rng.random_range(1..=last)])?;
    }
    for i in 0..rows {
        insert_message(
            conn,
            rng,
            now - 86_400 + (i as i64 * 86_400 / rows.max(1) as i64),
        )?;
    }
    tx.commit()?;
    Ok(RowEdits {
        inserted: rows,
        updated: updates,
    })
}
