//! Visual voicemail (`HomeDomain Library/Voicemail/voicemail.db`, table `voicemail`) as audio
//! files and a CSV list.
//!
//! Each message's audio is `Library/Voicemail/<ROWID>.amr` (AMR-NB, which VLC, ffmpeg and
//! QuickTime play); it is copied as `YYYY-MM-DD HHMM <sender>.amr` (the household's time zone;
//! the sender by the contact's name when the same snapshot's address book knows the number,
//! else the number) with the message's date as its mtime. `voicemail.csv` lists every message,
//! oldest first: `date_utc`, `date_local`, `sender`, `name`, `callback_number`,
//! `duration_seconds`, `deleted` (in the phone's deleted messages: `trashed_date` set),
//! `audio_file` (empty when the backup lacks the audio) and `transcript` (iOS 10 and later
//! keep the transcription beside the audio as `<ROWID>.transcript`, an NSKeyedArchiver plist
//! whose `transcriptionString` is the text).
//!
//! `date` counts Unix seconds (not Apple's 2001 epoch). A second export rewrites the same
//! files.

use crate::SnapshotOut;
use crate::cell;
use crate::contacts::ContactNames;
use crate::error::ExportError;
use crate::out::set_mtime;
use crate::report::Tally;
use crate::rfc4180::CsvWriter;
use crate::source::Source;
use crate::time::{local_zone, rfc3339};
use crate::unique::{UniqueNames, file_name};
use jiff::Timestamp;
use plist::Value;

pub const DOMAIN: &str = "HomeDomain";
pub const FOLDER: &str = "Library/Voicemail";
pub const VOICEMAIL_DB: &str = "Library/Voicemail/voicemail.db";
pub const VOICEMAIL_CSV: &str = "voicemail.csv";

pub const HEADER: [&str; 9] = [
    "date_utc",
    "date_local",
    "sender",
    "name",
    "callback_number",
    "duration_seconds",
    "deleted",
    "audio_file",
    "transcript",
];

/// A transcript larger than this is not one (they are a few KiB).
const TRANSCRIPT_LIMIT: u64 = 4 << 20;

/// One row of `voicemail`.
#[derive(Debug, Clone, PartialEq)]
pub struct Voicemail {
    pub id: i64,
    pub date: Option<Timestamp>,
    pub sender: Option<String>,
    pub callback: Option<String>,
    pub duration: i64,
    pub deleted: bool,
}

/// Exports the snapshot's voicemail into `out`; counts `voicemails`.
pub(crate) fn export(
    src: &Source<'_>,
    out: &SnapshotOut,
    tally: &mut Tally,
) -> Result<(), ExportError> {
    tally.add("voicemails", 0);
    let Some(db) = src.database(DOMAIN, VOICEMAIL_DB)? else {
        return Ok(());
    };
    let messages = read(&db)?;
    if messages.is_empty() {
        return Ok(());
    }
    let names = ContactNames::load_or_none(src, tally);
    let zone = local_zone();
    let mut files = UniqueNames::default();
    files.take(VOICEMAIL_CSV);
    let mut rows = Vec::with_capacity(messages.len());
    for m in &messages {
        let name = m
            .sender
            .as_deref()
            .and_then(|s| names.name_for(s))
            .map(str::to_string);
        let audio = copy_audio(src, out, m, name.as_deref(), &mut files, tally)?;
        let transcript = transcript_of(src, m, tally)?;
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        rows.push(vec![
            m.date.map(rfc3339).unwrap_or_default(),
            m.date
                .map(|t| {
                    t.to_zoned(zone.clone())
                        .strftime("%Y-%m-%d %H:%M:%S")
                        .to_string()
                })
                .unwrap_or_default(),
            opt(&m.sender),
            opt(&name),
            opt(&m.callback),
            m.duration.to_string(),
            if m.deleted { "yes" } else { "no" }.to_string(),
            audio.unwrap_or_default(),
            transcript.unwrap_or_default(),
        ]);
        tally.add("voicemails", 1);
    }
    let path = out.dir.root().join(VOICEMAIL_CSV);
    out.dir.replace_with(VOICEMAIL_CSV, |w| {
        let mut csv = CsvWriter::new(w, &path, &HEADER)?;
        rows.iter().try_for_each(|r| csv.record(r))
    })?;
    Ok(())
}

/// Every message of the database, oldest first.
pub fn read(db: &crate::Database) -> Result<Vec<Voicemail>, ExportError> {
    let c = db.table("voicemail")?;
    c.require("date")?;
    let sql = format!(
        "SELECT ROWID, date, {sender}, {callback}, {duration}, {trashed} FROM voicemail \
         ORDER BY date, ROWID",
        sender = c.or_null("sender"),
        callback = c.or_null("callback_num"),
        duration = c.or_null("duration"),
        trashed = c.or_null("trashed_date"),
    );
    let mut stmt = db.conn().prepare(&sql).map_err(|e| db.err(e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Voicemail {
                id: r.get(0)?,
                date: cell::integer(r, 1)?
                    .filter(|&d| d > 0)
                    .and_then(|d| Timestamp::from_second(d).ok()),
                sender: cell::text(r, 2)?,
                callback: cell::text(r, 3)?,
                duration: cell::integer(r, 4)?.unwrap_or(0).max(0),
                deleted: cell::number(r, 5)?.is_some_and(|t| t != 0.0),
            })
        })
        .map_err(|e| db.err(e))?;
    rows.collect::<Result<_, _>>().map_err(|e| db.err(e))
}

/// Copies the message's audio as `YYYY-MM-DD HHMM <sender>.amr` with its date as mtime; its
/// name, or `None` (and a note) when the backup lacks it.
fn copy_audio(
    src: &Source<'_>,
    out: &SnapshotOut,
    m: &Voicemail,
    name: Option<&str>,
    files: &mut UniqueNames,
    tally: &mut Tally,
) -> Result<Option<String>, ExportError> {
    let rel = format!("{FOLDER}/{}.amr", m.id);
    let Some(audio) = src.file(DOMAIN, &rel) else {
        // The phone downloads a message's audio when it is played or on Wi-Fi: no fault of
        // the backup or the export.
        tally.remark(format!(
            "{}: voicemail {} from {}: the backup holds no {rel} (not downloaded to the phone); listed without audio",
            src.device(),
            m.id,
            m.sender.as_deref().unwrap_or("an unknown number")
        ));
        return Ok(None);
    };
    let when = m
        .date
        .map(|t| {
            t.to_zoned(local_zone())
                .strftime("%Y-%m-%d %H%M ")
                .to_string()
        })
        .unwrap_or_default();
    let who = name.or(m.sender.as_deref()).unwrap_or("Unknown");
    let file = files.take(&file_name(&format!("{when}{who}"), "amr"));
    let path = out
        .dir
        .replace_with(&file, |w| src.copy(audio.data, w).map(drop))?;
    if let Some(t) = m.date {
        set_mtime(&path, t)?;
    }
    Ok(Some(file))
}

/// The message's transcript, if the backup has one; a file that does not decode is a warning.
fn transcript_of(
    src: &Source<'_>,
    m: &Voicemail,
    tally: &mut Tally,
) -> Result<Option<String>, ExportError> {
    let rel = format!("{FOLDER}/{}.transcript", m.id);
    let Some(file) = src.file(DOMAIN, &rel) else {
        return Ok(None);
    };
    let bytes = match src.read(file, TRANSCRIPT_LIMIT) {
        Ok(b) => b,
        Err(e @ ExportError::BadData { .. }) => {
            tally.warn(e.to_string());
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    match transcript(&bytes) {
        Ok(t) => Ok(t),
        Err(why) => {
            tally.warn(format!(
                "{}: {rel} (voicemail {}): {why}; exported without its transcript",
                src.device(),
                m.id
            ));
            Ok(None)
        }
    }
}

/// The text of a `.transcript` file: an NSKeyedArchiver plist whose root object's
/// `transcriptionString` is (a reference to) the text. `None` when it has no text.
pub fn transcript(bytes: &[u8]) -> Result<Option<String>, String> {
    let plist = Value::from_reader(std::io::Cursor::new(bytes))
        .map_err(|e| format!("not a property list ({e})"))?;
    let archive = plist.as_dictionary().ok_or("not a keyed archive")?;
    let objects = archive
        .get("$objects")
        .and_then(Value::as_array)
        .ok_or("a keyed archive without $objects")?;
    let resolve = |v: &'_ Value| -> Option<Value> {
        match v {
            Value::Uid(uid) => objects.get(usize::try_from(uid.get()).ok()?).cloned(),
            other => Some(other.clone()),
        }
    };
    let root = archive
        .get("$top")
        .and_then(Value::as_dictionary)
        .and_then(|top| top.get("root"))
        .and_then(resolve)
        .ok_or("a keyed archive without a root object")?;
    let root = root
        .as_dictionary()
        .ok_or("a root object that is not an object")?;
    let Some(text) = root.get("transcriptionString").and_then(resolve) else {
        return Ok(None);
    };
    let text = match text {
        Value::String(s) => Some(s),
        // An NSMutableString is archived as an object holding `NS.string`.
        Value::Dictionary(d) => d
            .get("NS.string")
            .and_then(resolve)
            .and_then(|v| v.as_string().map(str::to_string)),
        _ => None,
    };
    Ok(text.filter(|t| t != "$null" && !t.trim().is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::open;
    use plist::{Dictionary, Uid};

    #[test]
    fn real_voicemail_databases_have_the_schema_and_no_rows() {
        for image in [
            "ios-databases/hickman-ios15.3.1-iphone8",
            "ios-databases/belkactf6-ios16.3",
            "ios-databases-extra/magnet-mvs2023-ios16.1.1",
        ] {
            let db = open(&format!("{image}/Library/Voicemail/voicemail.db"), false);
            assert_eq!(read(&db).unwrap(), [], "{image}");
        }
    }

    fn archive(root: Dictionary, mut objects: Vec<Value>) -> Vec<u8> {
        objects.insert(0, Value::String("$null".into()));
        objects.insert(1, Value::Dictionary(root));
        let mut top = Dictionary::new();
        top.insert("root".into(), Value::Uid(Uid::new(1)));
        let mut d = Dictionary::new();
        d.insert("$archiver".into(), Value::String("NSKeyedArchiver".into()));
        d.insert("$version".into(), Value::Integer(100_000.into()));
        d.insert("$top".into(), Value::Dictionary(top));
        d.insert("$objects".into(), Value::Array(objects));
        let mut bytes = Vec::new();
        Value::Dictionary(d).to_writer_binary(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn transcripts_are_read_through_references() {
        let mut root = Dictionary::new();
        root.insert("transcriptionString".into(), Value::Uid(Uid::new(2)));
        root.insert("confidence".into(), Value::Real(0.87));
        let bytes = archive(
            root,
            vec![Value::String("Hi, it's Mum. Call me back.".into())],
        );
        assert_eq!(
            transcript(&bytes).unwrap().as_deref(),
            Some("Hi, it's Mum. Call me back.")
        );

        let mut mutable = Dictionary::new();
        mutable.insert("NS.string".into(), Value::String("mutable".into()));
        let mut root = Dictionary::new();
        root.insert("transcriptionString".into(), Value::Uid(Uid::new(2)));
        let bytes = archive(root, vec![Value::Dictionary(mutable)]);
        assert_eq!(transcript(&bytes).unwrap().as_deref(), Some("mutable"));

        let mut root = Dictionary::new();
        root.insert("transcriptionString".into(), Value::Uid(Uid::new(0)));
        assert_eq!(transcript(&archive(root, vec![])).unwrap(), None);
        assert!(transcript(b"#!AMR\n").is_err());
    }

    proptest::proptest! {
        /// A damaged transcript is an error or no text, never a panic.
        #[test]
        fn damaged_transcripts_never_panic(cut in 0usize..400, flip in 0usize..400, junk in proptest::collection::vec(0u8.., 0..64)) {
            let mut root = Dictionary::new();
            root.insert("transcriptionString".into(), Value::Uid(Uid::new(2)));
            let mut bytes = archive(root, vec![Value::String("Call me back".into())]);
            if let Some(b) = bytes.get_mut(flip) {
                *b ^= 0x5A;
            }
            bytes.truncate(cut.max(1));
            let _ = transcript(&bytes);
            let _ = transcript(&junk);
        }
    }
}
