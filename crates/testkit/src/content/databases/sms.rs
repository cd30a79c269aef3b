//! `HomeDomain Library/SMS/sms.db`: handles, chats and thousands of messages.

use std::path::Path;

use rand::RngExt;
use rusqlite::{Connection, OptionalExtension, params};

use super::{RowEdits, close, create, fill, max_rowid};
use crate::content::plists::APPLE_EPOCH;
use crate::content::{Rng, Seeds, text};
use crate::error::{Context, Error};

const SCHEMA: &str = "
CREATE TABLE handle (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, id TEXT NOT NULL, country TEXT,
  service TEXT NOT NULL, uncanonicalized_id TEXT, person_centric_id TEXT, UNIQUE (id, service));
CREATE TABLE chat (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, style INTEGER,
  state INTEGER, account_id TEXT, properties BLOB, chat_identifier TEXT, service_name TEXT,
  room_name TEXT, account_login TEXT, is_archived INTEGER DEFAULT 0, last_addressed_handle TEXT,
  display_name TEXT, group_id TEXT, is_filtered INTEGER DEFAULT 0, successful_query INTEGER,
  last_read_message_timestamp INTEGER DEFAULT 0, is_blackholed INTEGER DEFAULT 0);
CREATE TABLE message (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, text TEXT,
  replace INTEGER DEFAULT 0, service_center TEXT, handle_id INTEGER DEFAULT 0, subject TEXT,
  country TEXT, attributedBody BLOB, version INTEGER DEFAULT 0, type INTEGER DEFAULT 0, service TEXT,
  account TEXT, account_guid TEXT, error INTEGER DEFAULT 0, date INTEGER, date_read INTEGER,
  date_delivered INTEGER, is_delivered INTEGER DEFAULT 0, is_finished INTEGER DEFAULT 0,
  is_emote INTEGER DEFAULT 0, is_from_me INTEGER DEFAULT 0, is_empty INTEGER DEFAULT 0,
  is_read INTEGER DEFAULT 0, is_system_message INTEGER DEFAULT 0, is_sent INTEGER DEFAULT 0,
  cache_has_attachments INTEGER DEFAULT 0, cache_roomnames TEXT, item_type INTEGER DEFAULT 0,
  other_handle INTEGER DEFAULT 0, group_title TEXT, group_action_type INTEGER DEFAULT 0,
  associated_message_guid TEXT DEFAULT NULL, associated_message_type INTEGER DEFAULT 0,
  balloon_bundle_id TEXT DEFAULT NULL, payload_data BLOB, expressive_send_style_id TEXT DEFAULT NULL,
  associated_message_range_location INTEGER DEFAULT 0, associated_message_range_length INTEGER DEFAULT 0,
  message_summary_info BLOB DEFAULT NULL, destination_caller_id TEXT DEFAULT NULL,
  is_corrupt INTEGER DEFAULT 0, reply_to_guid TEXT DEFAULT NULL, sort_id INTEGER, is_spam INTEGER DEFAULT 0,
  has_unseen_mention INTEGER DEFAULT 0, thread_originator_guid TEXT DEFAULT NULL,
  thread_originator_part TEXT DEFAULT NULL, date_retracted INTEGER DEFAULT 0,
  date_edited INTEGER DEFAULT 0, part_count INTEGER DEFAULT 0);
CREATE TABLE chat_message_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE,
  message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE, message_date INTEGER DEFAULT 0,
  PRIMARY KEY (chat_id, message_id));
CREATE TABLE chat_handle_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE,
  handle_id INTEGER REFERENCES handle (ROWID) ON DELETE CASCADE, UNIQUE(chat_id, handle_id));
CREATE TABLE attachment (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL,
  created_date INTEGER DEFAULT 0, start_date INTEGER DEFAULT 0, filename TEXT, uti TEXT, mime_type TEXT,
  transfer_state INTEGER DEFAULT 0, is_outgoing INTEGER DEFAULT 0, user_info BLOB, transfer_name TEXT,
  total_bytes INTEGER DEFAULT 0, is_sticker INTEGER DEFAULT 0, hide_attachment INTEGER DEFAULT 0);
CREATE TABLE message_attachment_join (message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE,
  attachment_id INTEGER REFERENCES attachment (ROWID) ON DELETE CASCADE, UNIQUE(message_id, attachment_id));
CREATE INDEX message_idx_handle ON message(handle_id, date);
CREATE INDEX message_idx_associated_message ON message(associated_message_guid);
CREATE INDEX chat_message_join_idx_message_date_id_chat_id ON chat_message_join(chat_id, message_date, message_id);
CREATE INDEX chat_message_join_idx_message_id_only ON chat_message_join(message_id);
CREATE INDEX message_attachment_join_idx_message_id ON message_attachment_join(message_id);
";

/// Named group chats: (`display_name`, members).
const GROUPS: &[(&str, usize)] = &[("Family", 4), ("Book club", 3), ("Weekend plans", 5)];

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
    contacts: &[String],
) -> Result<(), Error> {
    let conn = create(path, SCHEMA)?;
    let mut rng = seeds.rng();
    populate(&conn, &mut rng, target, now, attachments, contacts).at(path)?;
    close(conn, path)
}

fn populate(
    conn: &Connection,
    rng: &mut Rng,
    target: u64,
    now: i64,
    attachments: &[Attachment],
    known: &[String],
) -> rusqlite::Result<()> {
    let contacts = rng.random_range(25..60);
    conn.execute_batch("BEGIN")?;
    for i in 1..=contacts {
        // Every other handle is an address book number (as Messages stores it: digits with
        // their `+`), the rest numbers the address book does not know.
        let known = known.get(i as usize / 2).filter(|_| i % 2 == 0);
        insert_handle_and_chat(conn, rng, i, known.map(|n| handle_of(n)))?;
    }
    let start = now - HISTORY_SECS;
    for (name, members) in GROUPS {
        insert_group(conn, rng, Some(name), *members, contacts, start)?;
    }
    insert_group(conn, rng, None, 3, contacts, start)?;
    conn.execute_batch("COMMIT")?;
    let est_rows = (target / 420).max(50) as i64;
    let step = (HISTORY_SECS / est_rows).max(1);
    let mut at = start;
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

/// A phone number as Messages keeps it in `handle.id`: `+` and digits.
fn handle_of(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    match number.trim_start().starts_with('+') {
        true => format!("+{digits}"),
        false => digits,
    }
}

fn insert_handle_and_chat(
    conn: &Connection,
    rng: &mut Rng,
    i: i64,
    known: Option<String>,
) -> rusqlite::Result<()> {
    let random = text::phone_number(rng);
    let id = known.unwrap_or(random);
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

/// A group chat (style 43) of `members` handles, named by an event as iOS records it.
fn insert_group(
    conn: &Connection,
    rng: &mut Rng,
    name: Option<&str>,
    members: usize,
    handles: i64,
    at: i64,
) -> rusqlite::Result<()> {
    let identifier = format!(
        "chat{}",
        rng.random_range(100_000_000_000u64..999_999_999_999)
    );
    conn.execute(
        "INSERT INTO chat (guid, style, state, account_id, chat_identifier, service_name, display_name, group_id)
         VALUES (?1, 43, 3, ?2, ?3, 'iMessage', ?4, ?5)",
        params![
            format!("iMessage;+;{identifier}"),
            text::uuid(rng),
            identifier,
            name.unwrap_or(""),
            text::uuid(rng)
        ],
    )?;
    let chat = conn.last_insert_rowid();
    let first = rng.random_range(1..=handles - members as i64);
    for h in first..first + members as i64 {
        conn.execute("INSERT INTO chat_handle_join VALUES (?1, ?2)", [chat, h])?;
    }
    if let Some(name) = name {
        insert_row(
            conn,
            rng,
            chat,
            &Row {
                date: apple_ns(at),
                from_me: true,
                item_type: 2,
                group_title: Some(name.to_string()),
                ..Row::default()
            },
        )?;
    }
    Ok(())
}

/// Nanoseconds since 2001-01-01, as iOS 11+ stores message dates.
fn apple_ns(unix: i64) -> i64 {
    (unix - APPLE_EPOCH) * 1_000_000_000
}

/// The columns of one `message` row that vary.
#[derive(Default)]
struct Row {
    date: i64,
    from_me: bool,
    handle: i64,
    /// `None`: NULL, as iOS 16 and later leave it when the text is in `attributedBody` only.
    text: Option<String>,
    /// The text archived in `attributedBody`.
    body: Option<String>,
    item_type: i64,
    group_title: Option<String>,
    associated_guid: Option<String>,
    associated_type: i64,
    thread_originator: Option<String>,
    date_edited: i64,
    date_retracted: i64,
    summary: Option<Vec<u8>>,
}

fn insert_row(conn: &Connection, rng: &mut Rng, chat: i64, r: &Row) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO message (guid, text, handle_id, attributedBody, service, account, date, date_read,
           date_delivered, is_delivered, is_finished, is_from_me, is_read, is_sent, item_type,
           group_title, associated_message_guid, associated_message_type, thread_originator_guid,
           thread_originator_part, date_edited, date_retracted, message_summary_info, part_count)
         VALUES (?1, ?2, ?3, ?4, 'iMessage', ?5, ?6, ?7, ?6, 1, 1, ?8, 1, ?8, ?9, ?10, ?11, ?12, ?13,
           ?14, ?15, ?16, ?17, 1)",
    )?
    .execute(params![
        text::uuid(rng),
        r.text,
        if r.from_me { 0 } else { r.handle },
        r.body.as_deref().map(attributed_body),
        "E:mum@example.com",
        r.date,
        r.date + rng.random_range(0..600_000_000_000i64),
        r.from_me,
        r.item_type,
        r.group_title,
        r.associated_guid,
        r.associated_type,
        r.thread_originator,
        r.thread_originator.as_ref().map(|_| "0:0:1"),
        r.date_edited,
        r.date_retracted,
        r.summary,
    ])?;
    let id = conn.last_insert_rowid();
    conn.prepare_cached("INSERT INTO chat_message_join VALUES (?1, ?2, ?3)")?
        .execute(params![chat, id, r.date])?;
    Ok(id)
}

/// A random chat and who in it sends: a member of a group, the one person of a chat.
fn chat_and_sender(conn: &Connection, rng: &mut Rng) -> rusqlite::Result<(i64, i64)> {
    let chats = max_rowid(conn, "chat")?.max(1);
    let chat = rng.random_range(1..=chats);
    let members: Vec<i64> = conn
        .prepare_cached(
            "SELECT handle_id FROM chat_handle_join WHERE chat_id = ?1 ORDER BY handle_id",
        )?
        .query_map([chat], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let handle = match members.len() {
        0 => chat,
        n => members[rng.random_range(0..n)],
    };
    Ok((chat, handle))
}

/// The GUID of one of the last few messages (not reactions) of `chat`.
fn recent_guid(conn: &Connection, rng: &mut Rng, chat: i64) -> rusqlite::Result<Option<String>> {
    let offset = rng.random_range(0..5);
    conn.prepare_cached(
        "SELECT m.guid FROM chat_message_join j JOIN message m ON m.ROWID = j.message_id
         WHERE j.chat_id = ?1 AND m.associated_message_type = 0 AND m.item_type = 0
         ORDER BY j.message_date DESC LIMIT 1 OFFSET ?2",
    )?
    .query_row(params![chat, offset], |r| r.get(0))
    .optional()
}

/// Inserts one message into a random existing chat; returns its ROWID. Most are plain text
/// (a third with `text` NULL and the text only in `attributedBody`, as iOS 16+ writes);
/// some are tapbacks (and their removal), replies, edited or unsent messages.
pub(crate) fn insert_message(conn: &Connection, rng: &mut Rng, at: i64) -> rusqlite::Result<i64> {
    let (chat, handle) = chat_and_sender(conn, rng)?;
    let date = apple_ns(at) + rng.random_range(0..1_000_000_000);
    let from_me = rng.random_bool(0.45);
    let roll = rng.random_range(0..100);
    let target = match roll {
        0..=9 => recent_guid(conn, rng, chat)?,
        _ => None,
    };
    let mut row = Row {
        date,
        from_me,
        handle,
        ..Row::default()
    };
    match (roll, target) {
        (0..=5, Some(target)) => {
            // A tapback; half of them taken back later by the same sender.
            let kind = 2000 + rng.random_range(0..6);
            row.associated_guid = Some(format!("p:0/{target}"));
            row.associated_type = kind;
            row.text = Some(format!(
                "Reacted to \u{201c}{}\u{201d}",
                text::sentence(rng, 1, 4)
            ));
            let id = insert_row(conn, rng, chat, &row)?;
            if rng.random_bool(0.5) {
                row.associated_type = kind + 1000;
                row.date = date + 5_000_000_000;
                insert_row(conn, rng, chat, &row)?;
            }
            return Ok(id);
        }
        (6..=9, Some(target)) => {
            row.thread_originator = Some(target);
            plain(rng, &mut row);
        }
        (10..=11, _) => {
            // Edited: the text only in attributedBody, its history in message_summary_info.
            let (old, new) = (text::sentence(rng, 1, 20), text::sentence(rng, 1, 20));
            row.date_edited = date + 60_000_000_000;
            row.summary = Some(edit_summary(&[(date, &old), (row.date_edited, &new)]));
            row.body = Some(new);
        }
        (12, _) => {
            // Unsent: the text gone from both columns.
            row.date_retracted = date + 30_000_000_000;
            row.date_edited = row.date_retracted;
            row.summary = Some(retracted_summary());
        }
        _ => plain(rng, &mut row),
    }
    insert_row(conn, rng, chat, &row)
}

/// A text message: both columns, or (a third) `attributedBody` alone.
fn plain(rng: &mut Rng, row: &mut Row) {
    let body = text::sentence(rng, 1, 40);
    if rng.random_bool(0.65) {
        row.text = Some(body.clone());
    }
    row.body = Some(body);
}

/// `message_summary_info` of an edited message: every version of part 0, oldest first.
fn edit_summary(versions: &[(i64, &str)]) -> Vec<u8> {
    let list = versions
        .iter()
        .map(|(d, t)| {
            let mut e = plist::Dictionary::new();
            e.insert("d".into(), plist::Value::Integer((*d).into()));
            e.insert("t".into(), plist::Value::Data(attributed_body(t)));
            plist::Value::Dictionary(e)
        })
        .collect();
    let mut ec = plist::Dictionary::new();
    ec.insert("0".into(), plist::Value::Array(list));
    let mut top = plist::Dictionary::new();
    top.insert("ec".into(), plist::Value::Dictionary(ec));
    top.insert(
        "ep".into(),
        plist::Value::Array(vec![plist::Value::Integer(0.into())]),
    );
    binary_plist(top)
}

fn retracted_summary() -> Vec<u8> {
    let mut top = plist::Dictionary::new();
    top.insert(
        "rp".into(),
        plist::Value::Array(vec![plist::Value::Integer(0.into())]),
    );
    binary_plist(top)
}

fn binary_plist(d: plist::Dictionary) -> Vec<u8> {
    let mut out = Vec::new();
    plist::Value::Dictionary(d)
        .to_writer_binary(&mut out)
        .expect("a plist in memory");
    out
}

fn insert_attachment(
    conn: &Connection,
    rng: &mut Rng,
    a: &Attachment,
    at: i64,
) -> rusqlite::Result<()> {
    let (chat, handle) = chat_and_sender(conn, rng)?;
    let row = Row {
        date: apple_ns(at),
        from_me: rng.random_bool(0.45),
        handle,
        text: Some("\u{fffc}".into()),
        body: Some("\u{fffc}".into()),
        ..Row::default()
    };
    let message = insert_row(conn, rng, chat, &row)?;
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

/// A typedstream integer: one byte, else a tag and two or four bytes, little-endian.
fn typedstream_int(out: &mut Vec<u8>, v: i64) {
    match v {
        -110..=127 => out.push(v as i8 as u8),
        -32768..=32767 => {
            out.push(0x81);
            out.extend_from_slice(&(v as i16).to_le_bytes());
        }
        _ => {
            out.push(0x82);
            out.extend_from_slice(&(v as i32).to_le_bytes());
        }
    }
}

/// The `NSAttributedString` typedstream (NSArchiver) iOS stores in `attributedBody`: the
/// string, then one attribute run over all of it with `__kIMMessagePartAttributeName` = 0.
/// The layout is what real iOS 14 rows hold, byte for byte, for texts of any length.
fn attributed_body(body: &str) -> Vec<u8> {
    // Header, root object (class chain NSAttributedString > NSObject), then its first value:
    // a new NSString (superclass: a reference to the NSObject class) whose `+` group follows.
    const HEAD: &[u8] = b"\x04\x0bstreamtyped\x81\xe8\x03\x84\x01@\x84\x84\x84\x12NSAttributedString\x00\x84\x84\x08NSObject\x00\x85\x92\x84\x84\x84\x08NSString\x01\x94\x84\x01+";
    // The run's `iI` group (attribute index 1, then the length), then its dictionary.
    const RUN: &[u8] = b"\x86\x84\x02iI\x01";
    const TAIL: &[u8] = b"\x92\x84\x84\x84\x0cNSDictionary\x00\x94\x84\x01i\x01\x92\x84\x96\x96\x1d__kIMMessagePartAttributeName\x86\x92\x84\x84\x84\x08NSNumber\x00\x84\x84\x07NSValue\x00\x94\x84\x01*\x84\x99\x99\x00\x86\x86\x86";
    let text = body.as_bytes();
    let mut out = Vec::with_capacity(HEAD.len() + text.len() + TAIL.len() + 12);
    out.extend_from_slice(HEAD);
    typedstream_int(&mut out, text.len() as i64);
    out.extend_from_slice(text);
    out.extend_from_slice(RUN);
    // Attribute ranges count UTF-16 code units.
    typedstream_int(&mut out, body.encode_utf16().count() as i64);
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
