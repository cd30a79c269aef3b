//! `HomeDomain Library/SMS/sms.db`: handles, chats and thousands of messages.

use std::path::Path;

use rand::RngExt;
use rusqlite::{Connection, params};

use super::{RowEdits, close, create, fill, max_rowid};
use crate::content::plists::APPLE_EPOCH;
use crate::content::{Rng, Seeds, text};
use crate::error::{Context, Error};

const SCHEMA: &str = "
CREATE TABLE handle (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, id TEXT NOT NULL, country TEXT,
  service TEXT NOT NULL, uncanonicalized_id TEXT, person_centric_id TEXT, UNIQUE (id, service));
CREATE TABLE chat (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, style INTEGER,
  state INTEGER, account_id TEXT, properties BLOB, chat_identifier TEXT, service_name TEXT,
  room_name TEXT, is_archived INTEGER DEFAULT 0, display_name TEXT, group_id TEXT,
  last_read_message_timestamp INTEGER DEFAULT 0);
CREATE TABLE message (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, text TEXT,
  replace INTEGER DEFAULT 0, handle_id INTEGER DEFAULT 0, subject TEXT, attributedBody BLOB,
  version INTEGER DEFAULT 0, type INTEGER DEFAULT 0, service TEXT, account TEXT, error INTEGER DEFAULT 0,
  date INTEGER, date_read INTEGER, date_delivered INTEGER, is_delivered INTEGER DEFAULT 0,
  is_finished INTEGER DEFAULT 0, is_from_me INTEGER DEFAULT 0, is_read INTEGER DEFAULT 0,
  is_sent INTEGER DEFAULT 0, cache_has_attachments INTEGER DEFAULT 0, item_type INTEGER DEFAULT 0,
  message_summary_info BLOB);
CREATE TABLE chat_message_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE,
  message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE, message_date INTEGER DEFAULT 0,
  PRIMARY KEY (chat_id, message_id));
CREATE TABLE chat_handle_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE,
  handle_id INTEGER REFERENCES handle (ROWID) ON DELETE CASCADE, UNIQUE(chat_id, handle_id));
CREATE TABLE attachment (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL,
  created_date INTEGER DEFAULT 0, filename TEXT, uti TEXT, mime_type TEXT, transfer_name TEXT,
  total_bytes INTEGER DEFAULT 0);
CREATE TABLE message_attachment_join (message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE,
  attachment_id INTEGER REFERENCES attachment (ROWID) ON DELETE CASCADE, UNIQUE(message_id, attachment_id));
CREATE INDEX message_idx_handle ON message(handle_id, date);
CREATE INDEX chat_message_join_idx_message_date_id_chat_id ON chat_message_join(chat_id, message_date, message_id);
";

/// A Messages attachment, as written under `MediaDomain Library/SMS/Attachments/`.
#[derive(Debug, Clone)]
pub(crate) struct Attachment {
    pub(crate) relative_path: String,
    pub(crate) transfer_name: String,
    pub(crate) bytes: u64,
}

/// Messages span the three years before `now`.
const HISTORY_SECS: i64 = 3 * 365 * 86_400;

pub(crate) fn create_db(
    path: &Path,
    seeds: Seeds,
    target: u64,
    now: i64,
    attachments: &[Attachment],
) -> Result<(), Error> {
    let conn = create(path, SCHEMA)?;
    let mut rng = seeds.rng();
    populate(&conn, &mut rng, target, now, attachments).at(path)?;
    close(conn, path)
}

fn populate(
    conn: &Connection,
    rng: &mut Rng,
    target: u64,
    now: i64,
    attachments: &[Attachment],
) -> rusqlite::Result<()> {
    let contacts = rng.random_range(25..60);
    conn.execute_batch("BEGIN")?;
    for i in 1..=contacts {
        insert_handle_and_chat(conn, rng, i)?;
    }
    conn.execute_batch("COMMIT")?;
    let est_rows = (target / 420).max(50) as i64;
    let step = (HISTORY_SECS / est_rows).max(1);
    let mut at = now - HISTORY_SECS;
    fill(conn, target, 100, |_| {
        at = (at + rng.random_range(0..2 * step)).min(now);
        insert_message(conn, rng, at).map(|_| ())
    })?;
    conn.execute_batch("BEGIN")?;
    for a in attachments {
        let at = now - rng.random_range(0..HISTORY_SECS);
        insert_attachment(conn, rng, a, at)?;
    }
    conn.execute_batch("COMMIT")
}

fn insert_handle_and_chat(conn: &Connection, rng: &mut Rng, i: i64) -> rusqlite::Result<()> {
    let id = text::phone_number(rng);
    let service = if rng.random_bool(0.8) {
        "iMessage"
    } else {
        "SMS"
    };
    conn.execute(
        "INSERT INTO handle (ROWID, id, country, service, uncanonicalized_id) VALUES (?1, ?2, 'gb', ?3, ?2)",
        params![i, id, service],
    )?;
    conn.execute(
        "INSERT INTO chat (ROWID, guid, style, state, account_id, chat_identifier, service_name, display_name, group_id)
         VALUES (?1, ?2, 45, 3, ?3, ?4, ?5, '', ?6)",
        params![i, format!("{service};-;{id}"), text::uuid(rng), id, service, text::uuid(rng)],
    )?;
    conn.execute("INSERT INTO chat_handle_join VALUES (?1, ?1)", [i])?;
    Ok(())
}

/// Nanoseconds since 2001-01-01, as iOS 11+ stores message dates.
fn apple_ns(unix: i64) -> i64 {
    (unix - APPLE_EPOCH) * 1_000_000_000
}

/// Inserts one message into a random existing chat; returns its ROWID.
pub(crate) fn insert_message(conn: &Connection, rng: &mut Rng, at: i64) -> rusqlite::Result<i64> {
    let chats = max_rowid(conn, "chat")?.max(1);
    let chat = rng.random_range(1..=chats);
    let body = text::sentence(rng, 1, 40);
    let from_me = rng.random_bool(0.45);
    let date = apple_ns(at) + rng.random_range(0..1_000_000_000);
    conn.prepare_cached(
        "INSERT INTO message (guid, text, handle_id, attributedBody, service, account, date, date_read,
           date_delivered, is_delivered, is_finished, is_from_me, is_read, is_sent)
         VALUES (?1, ?2, ?3, ?4, 'iMessage', ?5, ?6, ?7, ?6, 1, 1, ?8, 1, ?8)",
    )?
    .execute(params![
        text::uuid(rng),
        body,
        chat,
        attributed_body(&body),
        "E:mum@example.com",
        date,
        date + rng.random_range(0..600_000_000_000i64),
        from_me,
    ])?;
    let id = conn.last_insert_rowid();
    conn.prepare_cached("INSERT INTO chat_message_join VALUES (?1, ?2, ?3)")?
        .execute(params![chat, id, date])?;
    Ok(id)
}

fn insert_attachment(
    conn: &Connection,
    rng: &mut Rng,
    a: &Attachment,
    at: i64,
) -> rusqlite::Result<()> {
    let message = insert_message(conn, rng, at)?;
    conn.execute(
        "INSERT INTO attachment (guid, created_date, filename, uti, mime_type, transfer_name, total_bytes)
         VALUES (?1, ?2, ?3, 'public.jpeg', 'image/jpeg', ?4, ?5)",
        params![
            text::uuid(rng),
            apple_ns(at) / 1_000_000_000,
            format!("~/{}", a.relative_path),
            a.transfer_name,
            a.bytes as i64
        ],
    )?;
    conn.execute(
        "INSERT INTO message_attachment_join VALUES (?1, ?2)",
        params![message, conn.last_insert_rowid()],
    )?;
    conn.execute(
        "UPDATE message SET cache_has_attachments = 1 WHERE ROWID = ?1",
        [message],
    )?;
    Ok(())
}

/// The `NSAttributedString` typedstream iOS stores beside the plain text.
fn attributed_body(body: &str) -> Vec<u8> {
    const HEAD: &[u8] = b"\x04\x0bstreamtyped\x81\xe8\x03\x84\x01@\x84\x84\x84\x12NSAttributedString\x00\x84\x84\x08NSObject\x00\x85\x92\x84\x84\x84\x08NSString\x01\x94\x84\x01+";
    const TAIL: &[u8] = b"\x86\x84\x02iI\x01\x01\x92\x84\x84\x84\x0cNSDictionary\x00\x94\x84\x01i\x01\x92\x84\x96\x96\x1d__kIMMessagePartAttributeName\x86\x92\x84\x84\x84\x08NSNumber\x00\x84\x84\x07NSValue\x00\x94\x84\x01*\x84\x99\x99\x00\x86\x86\x86";
    let text = body.as_bytes();
    let mut out = Vec::with_capacity(HEAD.len() + text.len() + TAIL.len() + 3);
    out.extend_from_slice(HEAD);
    if text.len() < 0x80 {
        out.push(text.len() as u8);
    } else {
        out.push(0x81);
        out.extend_from_slice(&(text.len() as u16).to_le_bytes());
    }
    out.extend_from_slice(text);
    out.extend_from_slice(TAIL);
    out
}

/// A night's traffic: `rows` new messages and about half as many marked read.
pub(crate) fn nightly(
    conn: &Connection,
    rng: &mut Rng,
    rows: usize,
    now: i64,
) -> rusqlite::Result<RowEdits> {
    let tx = conn.unchecked_transaction()?;
    let last = max_rowid(conn, "message")?.max(1);
    let updates = rows / 2;
    for _ in 0..updates {
        let id = rng.random_range(1..=last);
        conn.prepare_cached("UPDATE message SET is_read = 1, date_read = ?1 WHERE ROWID = ?2")?
            .execute(params![apple_ns(now), id])?;
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
