//! Visual voicemail: `Library/Voicemail/voicemail.db` with the schema of the real iOS 15 and
//! 16 databases in `shared/fixtures/ios-databases` (whose tables are empty), rows made here,
//! and each message's audio beside it as `<ROWID>.amr`: AMR-NB (RFC 4867 §5 storage format,
//! the `#!AMR\n` magic then 20 ms frames of 12.2 kbit/s, each a header byte `0x3C` and 31
//! bytes of speech bits; random bits here). Some messages have a `<ROWID>.transcript`, an
//! NSKeyedArchiver plist whose root object holds `transcriptionString` and `confidence` (the
//! keys the public forensic tools read; the class name is a guess). `date` counts Unix
//! seconds, as the real column does.

use rand::{Rng as _, RngExt};
use rusqlite::params;
use std::path::Path;

use super::{close, create};
use crate::content::{Rng, Seeds, text};
use crate::error::{Context, Error};

pub(crate) const SCHEMA: &str = "
CREATE TABLE _SqliteDatabaseProperties (key TEXT, value TEXT, UNIQUE(key));
CREATE TABLE voicemail (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, remote_uid INTEGER, date INTEGER, token TEXT,
  sender TEXT, callback_num TEXT, duration INTEGER, expiration INTEGER, trashed_date INTEGER, flags INTEGER,
  receiver TEXT, label TEXT);
CREATE TABLE deleted (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, remote_uid INTEGER, date INTEGER, token TEXT,
  sender TEXT, callback_num TEXT, duration INTEGER, expiration INTEGER, trashed_date INTEGER, flags INTEGER,
  receiver TEXT, label TEXT);
CREATE TABLE map (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT, label TEXT);
CREATE INDEX date_index on voicemail(date);
CREATE INDEX remote_uid_index on voicemail(remote_uid);
INSERT INTO _SqliteDatabaseProperties VALUES ('_ClientVersion', '10');";

/// The AMR-NB file magic (RFC 4867 §5).
pub(crate) const AMR_MAGIC: &[u8] = b"#!AMR\n";
/// Frame header of mode 7 (12.2 kbit/s, quality bit set), and its speech bytes.
const FRAME_HEADER: u8 = 0x3C;
const FRAME_BYTES: usize = 31;
const FRAMES_PER_SECOND: usize = 50;

/// One message and the files beside the database it has.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub(crate) id: i64,
    /// The audio, `None` for a message whose audio the phone has not downloaded.
    pub(crate) audio: Option<Vec<u8>>,
    pub(crate) transcript: Option<Vec<u8>>,
}

/// Creates `voicemail.db` with a few messages, mostly from `callers` (E.164 numbers), and
/// returns them with their audio and transcripts.
pub(crate) fn create_db(
    path: &Path,
    seeds: Seeds,
    callers: &[String],
    now: i64,
) -> Result<Vec<Message>, Error> {
    let conn = create(path, SCHEMA)?;
    let mut rng = seeds.rng();
    let own = text::phone_number(&mut rng);
    let n = rng.random_range(3..=6);
    let mut messages = Vec::with_capacity(n);
    let mut fill = || -> rusqlite::Result<()> {
        conn.execute(
            "INSERT INTO map (account, label) VALUES (?1, 'VM')",
            [format!(
                "8944{:015}",
                rng.random_range(0..1_000_000_000_000_000u64)
            )],
        )?;
        for i in 0..n {
            let sender = match callers.is_empty() || rng.random_bool(0.25) {
                true => text::phone_number(&mut rng),
                false => callers[rng.random_range(0..callers.len())].clone(),
            };
            let date = now - rng.random_range(3_600..180 * 86_400);
            let duration = rng.random_range(4..40usize);
            let trashed = rng.random_bool(0.2);
            conn.execute(
                "INSERT INTO voicemail (remote_uid, date, token, sender, callback_num, duration, expiration,
                   trashed_date, flags, receiver, label)
                 VALUES (?1, ?2, 'Complete', ?3, ?3, ?4, ?5, ?6, ?7, ?8, 'VM')",
                params![
                    100 + i as i64,
                    date,
                    sender,
                    duration as i64,
                    date + 30 * 86_400,
                    if trashed { date + 86_400 } else { 0 },
                    if trashed { 11 } else { 3 },
                    own,
                ],
            )?;
            let id = conn.last_insert_rowid();
            // The last message's audio is not downloaded yet.
            let audio = (i + 1 < n).then(|| amr(&mut rng, duration));
            let transcript = rng.random_bool(0.5).then(|| {
                transcript(
                    &text::sentence(&mut rng, 6, 24),
                    rng.random_range(0.5..0.99),
                )
            });
            messages.push(Message {
                id,
                audio,
                transcript,
            });
        }
        Ok(())
    };
    fill().at(path)?;
    close(conn, path)?;
    Ok(messages)
}

/// `seconds` of AMR-NB audio.
fn amr(rng: &mut Rng, seconds: usize) -> Vec<u8> {
    let frames = seconds * FRAMES_PER_SECOND;
    let mut out = Vec::with_capacity(AMR_MAGIC.len() + frames * (1 + FRAME_BYTES));
    out.extend_from_slice(AMR_MAGIC);
    let mut frame = [0u8; FRAME_BYTES];
    for _ in 0..frames {
        rng.fill_bytes(&mut frame);
        out.push(FRAME_HEADER);
        out.extend_from_slice(&frame);
    }
    out
}

/// A `.transcript` file: a binary NSKeyedArchiver plist.
fn transcript(text: &str, confidence: f64) -> Vec<u8> {
    use plist::{Dictionary, Uid, Value};
    let mut class = Dictionary::new();
    class.insert("$classname".into(), Value::String("VMTranscript".into()));
    class.insert(
        "$classes".into(),
        Value::Array(vec![
            Value::String("VMTranscript".into()),
            Value::String("NSObject".into()),
        ]),
    );
    let mut root = Dictionary::new();
    root.insert("$class".into(), Value::Uid(Uid::new(3)));
    root.insert("transcriptionString".into(), Value::Uid(Uid::new(2)));
    root.insert("confidence".into(), Value::Real(confidence));
    let mut top = Dictionary::new();
    top.insert("root".into(), Value::Uid(Uid::new(1)));
    let mut archive = Dictionary::new();
    archive.insert("$version".into(), Value::Integer(100_000.into()));
    archive.insert("$archiver".into(), Value::String("NSKeyedArchiver".into()));
    archive.insert("$top".into(), Value::Dictionary(top));
    archive.insert(
        "$objects".into(),
        Value::Array(vec![
            Value::String("$null".into()),
            Value::Dictionary(root),
            Value::String(text.to_string()),
            Value::Dictionary(class),
        ]),
    );
    let mut bytes = Vec::new();
    Value::Dictionary(archive)
        .to_writer_binary(&mut bytes)
        .expect("a plist in memory");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_amr_audio_and_some_transcripts() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("voicemail.db");
        let callers = vec!["+447700900123".to_string()];
        let messages = create_db(&db, Seeds::new(9), &callers, 1_700_000_000).unwrap();
        assert!(messages.len() >= 3);
        assert!(messages.last().unwrap().audio.is_none());
        for m in &messages[..messages.len() - 1] {
            let audio = m.audio.as_ref().unwrap();
            assert!(audio.starts_with(AMR_MAGIC));
            assert_eq!((audio.len() - AMR_MAGIC.len()) % (1 + FRAME_BYTES), 0);
        }
        let conn = rusqlite::Connection::open(&db).unwrap();
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM voicemail", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows as usize, messages.len());
    }
}
