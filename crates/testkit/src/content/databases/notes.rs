//! `AppDomainGroup-group.com.apple.notes NoteStore.sqlite`: the Notes app's Core Data store as
//! iOS 17 writes it, with note bodies as Notes keeps them (gzipped protobuf).
//!
//! The schema is a subset of the real iOS 17.3 store (shared/fixtures/ios-databases/
//! hickman-ios17.3-iphone11): its tables, and of `ZICCLOUDSYNCINGOBJECT`'s 201 columns the 50
//! that notes, folders, accounts and attachments fill, with their names, types, order and
//! entity numbers (`Z_PRIMARYKEY`) as iOS 17 has them. Core Data numbers colliding attribute
//! columns, so a note's title is `ZTITLE1`, a folder's `ZTITLE2`, an attachment's `ZTITLE`; a
//! note's dates are `ZCREATIONDATE3` and `ZMODIFICATIONDATE1`.
//!
//! The bodies are written by a small protobuf encoder of the Notes document (the field numbers
//! of threeplanetssoftware/apple_cloud_notes_parser's `notestore.proto`, checked against the
//! real fixtures): the text, one CRDT substring (real stores hold many; readers skip them) and
//! attribute runs with paragraph styles (title, heading, monospaced, dotted, dashed and numbered
//! lists, checklists with their done state), bold, italic, strikethrough, links and attachment
//! references at U+FFFC. A locked note's data is random bytes, as an encrypted one looks.
//!
//! Every device holds a fixed set of notes that exercises all of that (see [`FIXED_NOTES`]),
//! and a few more of random text.

use std::io::Write;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use rand::RngExt;
use rusqlite::{Connection, params};

use super::{close, create};
use crate::content::plists::APPLE_EPOCH;
use crate::content::{Rng, Seeds, text};
use crate::error::{Context, Error};

const SCHEMA: &str = "
CREATE TABLE ZICCLOUDSYNCINGOBJECT ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
  ZCRYPTOITERATIONCOUNT INTEGER, ZISPASSWORDPROTECTED INTEGER, ZMARKEDFORDELETION INTEGER,
  ZMINIMUMSUPPORTEDNOTESVERSION INTEGER, ZCLOUDSTATE INTEGER, ZACCOUNT INTEGER, ZFILESIZE INTEGER,
  ZNOTE INTEGER, ZATTACHMENT INTEGER, ZACCOUNT2 INTEGER, ZNOTE1 INTEGER, ZTYPE INTEGER,
  ZHASCHECKLIST INTEGER, ZHASCHECKLISTINPROGRESS INTEGER, ZISPINNED INTEGER, ZACCOUNT7 INTEGER,
  ZFOLDER INTEGER, ZNOTEDATA INTEGER, ZSORTORDER INTEGER, ZOWNER INTEGER, ZACCOUNTTYPE INTEGER,
  ZFOLDERTYPE INTEGER, ZACCOUNT8 INTEGER, ZPARENT INTEGER, ZCREATIONDATE TIMESTAMP,
  ZMODIFICATIONDATE TIMESTAMP, ZCREATIONDATE1 TIMESTAMP, ZCREATIONDATE3 TIMESTAMP,
  ZMODIFICATIONDATE1 TIMESTAMP, ZIDENTIFIER VARCHAR, ZSUMMARY VARCHAR, ZTITLE VARCHAR,
  ZTYPEUTI VARCHAR, ZURLSTRING VARCHAR, ZUSERTITLE VARCHAR, ZALTTEXT VARCHAR,
  ZTOKENCONTENTIDENTIFIER VARCHAR, ZTYPEUTI1 VARCHAR, ZSNIPPET VARCHAR, ZTITLE1 VARCHAR,
  ZNAME VARCHAR, ZTITLE2 VARCHAR, ZCRYPTOINITIALIZATIONVECTOR BLOB, ZCRYPTOSALT BLOB,
  ZCRYPTOTAG BLOB, ZCRYPTOWRAPPEDKEY BLOB, ZMERGEABLEDATA1 BLOB );
CREATE TABLE ZICNOTEDATA ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZNOTE INTEGER,
  ZCRYPTOINITIALIZATIONVECTOR BLOB, ZCRYPTOTAG BLOB, ZDATA BLOB );
CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR, Z_SUPER INTEGER, Z_MAX INTEGER);
CREATE TABLE Z_METADATA (Z_VERSION INTEGER PRIMARY KEY, Z_UUID VARCHAR(255), Z_PLIST BLOB);
CREATE INDEX ZICCLOUDSYNCINGOBJECT_ZNOTE_INDEX ON ZICCLOUDSYNCINGOBJECT (ZNOTE);
CREATE INDEX ZICCLOUDSYNCINGOBJECT_ZFOLDER_INDEX ON ZICCLOUDSYNCINGOBJECT (ZFOLDER);
CREATE INDEX ZICCLOUDSYNCINGOBJECT_ZNOTEDATA_INDEX ON ZICCLOUDSYNCINGOBJECT (ZNOTEDATA);
CREATE INDEX ZICCLOUDSYNCINGOBJECT_ZOWNER_INDEX ON ZICCLOUDSYNCINGOBJECT (ZOWNER);
CREATE INDEX ZICCLOUDSYNCINGOBJECT_ZPARENT_INDEX ON ZICCLOUDSYNCINGOBJECT (ZPARENT);
CREATE INDEX ZICCLOUDSYNCINGOBJECT_Z_ENT_INDEX ON ZICCLOUDSYNCINGOBJECT (Z_ENT);
CREATE UNIQUE INDEX Z_ICCloudSyncingObject_UNIQUE_identifier ON ZICCLOUDSYNCINGOBJECT (ZIDENTIFIER COLLATE BINARY ASC);
CREATE INDEX ZICNOTEDATA_ZNOTE_INDEX ON ZICNOTEDATA (ZNOTE);
";

/// `Z_PRIMARYKEY` of iOS 17.3 (entity number, name, super-entity).
const ENTITIES: &[(i64, &str, i64)] = &[
    (1, "ICCloudState", 0),
    (2, "ICCloudSyncingObject", 0),
    (3, "ICAccountData", 2),
    (4, "ICAttachment", 2),
    (5, "ICAttachmentPreviewImage", 2),
    (6, "ICDeviceMigrationState", 2),
    (7, "ICHashtag", 2),
    (8, "ICInlineAttachment", 2),
    (9, "ICLegacyTombstone", 2),
    (10, "ICMedia", 2),
    (11, "ICNote", 2),
    (12, "ICNoteContainer", 2),
    (13, "ICAccount", 12),
    (14, "ICFolder", 12),
    (15, "ICInvitation", 0),
    (16, "ICLocation", 0),
    (17, "ICAttachmentLocation", 16),
    (18, "ICNoteData", 0),
    (19, "ICNoteParticipant", 0),
    (20, "ICServerChangeToken", 0),
];
const ATTACHMENT: i64 = 4;
const INLINE_ATTACHMENT: i64 = 8;
const NOTE: i64 = 11;
const ACCOUNT: i64 = 13;
const FOLDER: i64 = 14;
const NOTE_DATA: i64 = 18;

/// Paragraph styles (`ParagraphStyle.style_type`).
const TITLE: i64 = 0;
const HEADING: i64 = 1;
const MONOSPACED: i64 = 4;
const DOTTED: i64 = 100;
const DASHED: i64 = 101;
const NUMBERED: i64 = 102;
const CHECKLIST: i64 = 103;

/// Folders: (title, parent index, `ZFOLDERTYPE`: 1 is Recently Deleted).
const FOLDERS: &[(&str, Option<usize>, i64)] = &[
    ("Notes", None, 0),
    ("Recently Deleted", None, 1),
    ("Recipes", None, 0),
    ("Trips", None, 0),
    ("2024", Some(3), 0),
];

/// The notes every generated device holds, by title (`None`: a note whose title Notes did not
/// store), with the folder (index into [`FOLDERS`]), whether it is locked and whether Notes
/// has thrown it away (`ZMARKEDFORDELETION`). Their bodies are in [`fixed_body`].
pub(crate) const FIXED_NOTES: &[(Option<&str>, usize, Locked, Deleted)] = &[
    (Some("Shopping list"), 0, Locked(false), Deleted(false)),
    (Some("Meeting notes"), 0, Locked(false), Deleted(false)),
    (Some("Crème brûlée ☕"), 2, Locked(false), Deleted(false)),
    (Some("Bank PINs"), 0, Locked(true), Deleted(false)),
    (Some("Old draft"), 1, Locked(false), Deleted(false)),
    (Some("Purged note"), 1, Locked(false), Deleted(true)),
    (None, 4, Locked(false), Deleted(false)),
    (Some("Ideas"), 0, Locked(false), Deleted(false)),
    (Some("Ideas"), 0, Locked(false), Deleted(false)),
];

/// Whether a note is password-protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Locked(pub(crate) bool);

/// Whether Notes marked a note for deletion (shown nowhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deleted(pub(crate) bool);

pub(crate) fn create_db(path: &Path, seeds: Seeds, now: i64) -> Result<(), Error> {
    let conn = create(path, SCHEMA)?;
    let mut rng = seeds.rng();
    populate(&conn, &mut rng, now).at(path)?;
    close(conn, path)
}

fn populate(conn: &Connection, rng: &mut Rng, now: i64) -> rusqlite::Result<()> {
    let tx = conn.unchecked_transaction()?;
    let mut pk = Pks::default();
    let account = pk.next();
    conn.execute(
        "INSERT INTO ZICCLOUDSYNCINGOBJECT (Z_PK, Z_ENT, Z_OPT, ZACCOUNTTYPE, ZIDENTIFIER, ZNAME)
         VALUES (?1, ?2, 1, 1, ?3, 'iCloud')",
        params![account, ACCOUNT, text::uuid(rng)],
    )?;
    let mut folders = Vec::new();
    for (i, (title, parent, kind)) in FOLDERS.iter().enumerate() {
        let id = match (i, kind) {
            (0, _) => "DefaultFolder-CloudKit".to_string(),
            (_, 1) => "TrashFolder-CloudKit".to_string(),
            _ => text::uuid(rng),
        };
        let folder = pk.next();
        conn.execute(
            "INSERT INTO ZICCLOUDSYNCINGOBJECT (Z_PK, Z_ENT, Z_OPT, ZMARKEDFORDELETION, ZOWNER,
               ZACCOUNT8, ZFOLDERTYPE, ZPARENT, ZIDENTIFIER, ZTITLE2, ZSORTORDER)
             VALUES (?1, ?2, 1, 0, ?3, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                folder,
                FOLDER,
                account,
                kind,
                parent.map(|p| folders[p]),
                id,
                title,
                i as i64
            ],
        )?;
        folders.push(folder);
    }
    let notes = Notes { conn, account };
    for (i, (title, folder, locked, deleted)) in FIXED_NOTES.iter().enumerate() {
        let at = now - 86_400 * (400 - 30 * i as i64);
        let body = fixed_body(i, rng);
        notes.insert(
            rng,
            &mut pk,
            NewNote {
                title: *title,
                folder: folders[*folder],
                locked: locked.0,
                deleted: deleted.0,
                created: at,
                modified: at + 3_600 + i as i64 * 61,
                body,
            },
        )?;
    }
    for _ in 0..rng.random_range(3..9) {
        let title = text::sentence(rng, 2, 6).trim_end_matches('.').to_string();
        let mut doc = Doc::default();
        doc.para(Some(TITLE), vec![Span::plain(&title)]);
        for _ in 0..rng.random_range(1..5) {
            doc.para(None, vec![Span::plain(&text::sentence(rng, 4, 20))]);
        }
        let created = now - rng.random_range(86_400..700 * 86_400);
        let folder = folders[[0, 0, 2, 3][rng.random_range(0..4)]];
        let modified = created + rng.random_range(0..86_400);
        notes.insert(
            rng,
            &mut pk,
            NewNote {
                title: Some(&title),
                folder,
                locked: false,
                deleted: false,
                created,
                modified,
                body: Body::Doc(doc),
            },
        )?;
    }
    for (ent, name, sup) in ENTITIES {
        let max = match *ent {
            NOTE_DATA => pk.data,
            2 => pk.object,
            _ => 0,
        };
        conn.execute(
            "INSERT INTO Z_PRIMARYKEY VALUES (?1, ?2, ?3, ?4)",
            params![ent, name, sup, max],
        )?;
    }
    conn.execute(
        "INSERT INTO Z_METADATA VALUES (1, ?1, NULL)",
        [text::uuid(rng)],
    )?;
    tx.commit()
}

/// The next primary keys: Core Data numbers rows per table.
#[derive(Default)]
struct Pks {
    object: i64,
    data: i64,
}

impl Pks {
    fn next(&mut self) -> i64 {
        self.object += 1;
        self.object
    }
}

/// What a note's data holds.
enum Body {
    Doc(Doc),
    /// Encrypted with the note's password: random bytes here.
    Locked(Vec<u8>),
    /// No data row content (NULL ZDATA).
    Missing,
}

struct NewNote<'t> {
    title: Option<&'t str>,
    folder: i64,
    locked: bool,
    deleted: bool,
    created: i64,
    modified: i64,
    body: Body,
}

struct Notes<'c> {
    conn: &'c Connection,
    account: i64,
}

impl Notes<'_> {
    fn insert(&self, rng: &mut Rng, pk: &mut Pks, note: NewNote<'_>) -> rusqlite::Result<()> {
        let id = pk.next();
        pk.data += 1;
        let data_pk = pk.data;
        let (data, snippet, checklist) = match &note.body {
            Body::Doc(doc) => (Some(doc.gzipped()), doc.snippet(), doc.has_checklist),
            Body::Locked(bytes) => (Some(bytes.clone()), None, false),
            Body::Missing => (None, None, false),
        };
        let crypto = |n: usize, rng: &mut Rng| note.locked.then(|| text::bytes(rng, n));
        let (iv, tag, salt, key) = (
            crypto(16, rng),
            crypto(16, rng),
            crypto(16, rng),
            crypto(24, rng),
        );
        self.conn.execute(
            "INSERT INTO ZICCLOUDSYNCINGOBJECT (Z_PK, Z_ENT, Z_OPT, ZCRYPTOITERATIONCOUNT,
               ZISPASSWORDPROTECTED, ZMARKEDFORDELETION, ZMINIMUMSUPPORTEDNOTESVERSION, ZHASCHECKLIST,
               ZISPINNED, ZACCOUNT7, ZFOLDER, ZNOTEDATA, ZCREATIONDATE3, ZMODIFICATIONDATE1,
               ZIDENTIFIER, ZSNIPPET, ZTITLE1, ZCRYPTOINITIALIZATIONVECTOR, ZCRYPTOSALT, ZCRYPTOTAG,
               ZCRYPTOWRAPPEDKEY)
             VALUES (?1, ?2, 3, ?3, ?4, ?5, 0, ?6, 0, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
               ?17, ?18)",
            params![
                id,
                NOTE,
                note.locked.then_some(20_000),
                note.locked,
                note.deleted,
                checklist,
                self.account,
                note.folder,
                data_pk,
                (note.created - APPLE_EPOCH) as f64 + 0.25,
                (note.modified - APPLE_EPOCH) as f64 + 0.5,
                text::uuid(rng).to_uppercase(),
                snippet,
                note.title,
                iv,
                salt,
                tag,
                key,
            ],
        )?;
        self.conn.execute(
            "INSERT INTO ZICNOTEDATA VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6)",
            params![
                data_pk,
                NOTE_DATA,
                id,
                note.locked.then(|| text::bytes(rng, 12)),
                note.locked.then(|| text::bytes(rng, 16)),
                data
            ],
        )?;
        if let Body::Doc(doc) = &note.body {
            for a in &doc.attachments {
                self.attachment(pk, id, a, note.created)?;
            }
        }
        Ok(())
    }

    fn attachment(&self, pk: &mut Pks, note: i64, a: &Attachment, at: i64) -> rusqlite::Result<()> {
        let row = pk.next();
        let date = (at - APPLE_EPOCH) as f64;
        match a.alt_text {
            Some(alt) => self.conn.execute(
                "INSERT INTO ZICCLOUDSYNCINGOBJECT (Z_PK, Z_ENT, Z_OPT, ZNOTE1, ZIDENTIFIER, ZALTTEXT,
                   ZTOKENCONTENTIDENTIFIER, ZTYPEUTI1, ZCREATIONDATE1)
                 VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![row, INLINE_ATTACHMENT, note, a.id, alt, alt.to_uppercase(), a.uti, date],
            )?,
            None => self.conn.execute(
                "INSERT INTO ZICCLOUDSYNCINGOBJECT (Z_PK, Z_ENT, Z_OPT, ZNOTE, ZFILESIZE, ZIDENTIFIER,
                   ZTITLE, ZTYPEUTI, ZURLSTRING, ZCREATIONDATE, ZMODIFICATIONDATE)
                 VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
                params![row, ATTACHMENT, note, 182_733, a.id, a.title, a.uti, a.url, date],
            )?,
        };
        Ok(())
    }
}

/// The body of fixed note `i` (see [`FIXED_NOTES`]).
fn fixed_body(i: usize, rng: &mut Rng) -> Body {
    let mut doc = Doc::default();
    match i {
        0 => {
            doc.para(Some(TITLE), vec![Span::plain("Shopping list")]);
            doc.checklist("Oat milk", true);
            doc.checklist("Eggs (free range)", false);
            doc.checklist("Flour, 1 kg", true);
            doc.para(None, vec![Span::plain("Ask Sam about *the* party_snacks")]);
        }
        1 => {
            doc.para(Some(TITLE), vec![Span::plain("Meeting notes")]);
            doc.para(Some(HEADING), vec![Span::plain("Agenda")]);
            doc.styled(Some(NUMBERED), 0, "Budget");
            doc.styled(Some(NUMBERED), 0, "Holidays");
            doc.styled(Some(DASHED), 0, "Kitchen");
            doc.styled(Some(DASHED), 1, "new tap");
            doc.styled(Some(DOTTED), 0, "Garden");
            doc.para(
                None,
                vec![
                    Span::plain("We "),
                    Span {
                        bold: true,
                        ..Span::plain("agreed")
                    },
                    Span::plain(" on an "),
                    Span {
                        italic: true,
                        ..Span::plain("early")
                    },
                    Span::plain(" start, "),
                    Span {
                        strike: true,
                        ..Span::plain("not Friday")
                    },
                    Span::plain(", see "),
                    Span {
                        link: Some("https://example.com/plan?a=1&b=2"),
                        ..Span::plain("the plan")
                    },
                    Span::plain("."),
                ],
            );
            doc.para(Some(MONOSPACED), vec![Span::plain("wifi: hearth-guest")]);
            doc.para(Some(MONOSPACED), vec![Span::plain("pass: 4 words `here`")]);
            doc.para(
                None,
                vec![
                    Span::plain("Photo of the whiteboard: "),
                    Span::attachment(Attachment {
                        id: "6F1C2D3E-0001-4000-8000-00000000A001",
                        uti: "public.jpeg",
                        title: Some("Whiteboard.jpeg"),
                        url: None,
                        alt_text: None,
                    }),
                ],
            );
            doc.para(
                None,
                vec![
                    Span::plain("Tagged "),
                    Span::attachment(Attachment {
                        id: "6F1C2D3E-0002-4000-8000-00000000A002",
                        uti: "com.apple.notes.inlinetextattachment.hashtag",
                        title: None,
                        url: None,
                        alt_text: Some("#family"),
                    }),
                ],
            );
        }
        2 => {
            doc.para(Some(TITLE), vec![Span::plain("Crème brûlée ☕")]);
            doc.para(
                None,
                vec![Span::plain("Für 4 Personen — 🍮 très bon, 日本語も")],
            );
            doc.styled(Some(DOTTED), 0, "500 ml crème");
            doc.styled(Some(DOTTED), 0, "5 jaunes d'œufs");
        }
        3 => return Body::Locked(text::bytes(rng, 700)),
        4 => {
            doc.para(Some(TITLE), vec![Span::plain("Old draft")]);
            doc.para(
                None,
                vec![Span::plain("Deleted, but still in Recently Deleted.")],
            );
        }
        5 => return Body::Missing,
        6 => {
            // A note whose title Notes did not store: the first line names it.
            doc.para(Some(TITLE), vec![Span::plain("Packing for Lisbon")]);
            doc.checklist("Passport", true);
            doc.checklist("Sun cream", false);
        }
        _ => {
            doc.para(Some(TITLE), vec![Span::plain("Ideas")]);
            doc.para(None, vec![Span::plain(&text::sentence(rng, 4, 12))]);
        }
    }
    Body::Doc(doc)
}

/// An attachment a note shows at a U+FFFC.
#[derive(Clone, Copy)]
struct Attachment {
    id: &'static str,
    uti: &'static str,
    title: Option<&'static str>,
    url: Option<&'static str>,
    /// Inline attachments (hashtags, mentions) show their text.
    alt_text: Option<&'static str>,
}

/// A stretch of text with one inline style.
#[derive(Clone)]
struct Span<'a> {
    text: &'a str,
    bold: bool,
    italic: bool,
    strike: bool,
    link: Option<&'a str>,
    attachment: Option<Attachment>,
}

impl<'a> Span<'a> {
    fn plain(text: &'a str) -> Self {
        Span {
            text,
            bold: false,
            italic: false,
            strike: false,
            link: None,
            attachment: None,
        }
    }

    fn attachment(a: Attachment) -> Self {
        Span {
            attachment: Some(a),
            ..Span::plain("\u{FFFC}")
        }
    }
}

/// A Notes document being written: text and attribute runs.
#[derive(Default)]
struct Doc {
    text: String,
    runs: Vec<Vec<u8>>,
    attachments: Vec<Attachment>,
    has_checklist: bool,
    checklist_ids: u8,
}

impl Doc {
    /// A paragraph of `spans` in style `style` (`None`: body text), ended by a newline.
    fn para(&mut self, style: Option<i64>, spans: Vec<Span<'_>>) {
        self.paragraph(style, 0, None, spans);
    }

    fn styled(&mut self, style: Option<i64>, indent: u64, text: &str) {
        self.paragraph(style, indent, None, vec![Span::plain(text)]);
    }

    fn checklist(&mut self, item: &str, done: bool) {
        self.has_checklist = true;
        self.checklist_ids += 1;
        let mut uuid = [0x5au8; 16];
        uuid[15] = self.checklist_ids;
        self.paragraph(
            Some(CHECKLIST),
            0,
            Some((uuid, done)),
            vec![Span::plain(item)],
        );
    }

    fn paragraph(
        &mut self,
        style: Option<i64>,
        indent: u64,
        checklist: Option<([u8; 16], bool)>,
        spans: Vec<Span<'_>>,
    ) {
        let mut para = Vec::new();
        if let Some(s) = style {
            varint_field(&mut para, 1, s as u64);
        }
        if indent > 0 {
            varint_field(&mut para, 4, indent);
        }
        if let Some((uuid, done)) = checklist {
            let mut c = Vec::new();
            bytes_field(&mut c, 1, &uuid);
            varint_field(&mut c, 2, u64::from(done));
            bytes_field(&mut para, 5, &c);
        }
        let last = spans.len().saturating_sub(1);
        for (i, span) in spans.into_iter().enumerate() {
            let mut text = span.text.to_string();
            if i == last {
                text.push('\n');
            }
            self.text.push_str(&text);
            let mut run = Vec::new();
            varint_field(&mut run, 1, text.encode_utf16().count() as u64);
            bytes_field(&mut run, 2, &para);
            let weight = match (span.bold, span.italic) {
                (true, true) => 3,
                (true, false) => 1,
                (false, true) => 2,
                (false, false) => 0,
            };
            if weight != 0 {
                varint_field(&mut run, 5, weight);
            }
            if span.strike {
                varint_field(&mut run, 7, 1);
            }
            if let Some(link) = span.link {
                bytes_field(&mut run, 9, link.as_bytes());
            }
            if let Some(a) = span.attachment {
                let mut info = Vec::new();
                bytes_field(&mut info, 1, a.id.as_bytes());
                bytes_field(&mut info, 2, a.uti.as_bytes());
                bytes_field(&mut run, 12, &info);
                self.attachments.push(a);
            }
            self.runs.push(run);
        }
    }

    /// The second line, as Notes keeps a snippet.
    fn snippet(&self) -> Option<String> {
        self.text.lines().nth(1).map(str::to_string)
    }

    /// `NoteStoreProto { 1: 0, 2: Document { 2: 0, 3: Note { 2: text, 3: substring, 5: runs } } }`,
    /// gzipped.
    fn gzipped(&self) -> Vec<u8> {
        let mut note = Vec::new();
        bytes_field(&mut note, 2, self.text.as_bytes());
        // One CRDT substring covering the text: (replica 1, clock 0), length, no tombstone.
        let mut sub = Vec::new();
        let mut id = Vec::new();
        varint_field(&mut id, 1, 1);
        varint_field(&mut id, 2, 0);
        bytes_field(&mut sub, 1, &id);
        varint_field(&mut sub, 2, self.text.encode_utf16().count() as u64);
        bytes_field(&mut sub, 3, &id);
        bytes_field(&mut note, 3, &sub);
        for run in &self.runs {
            bytes_field(&mut note, 5, run);
        }
        let mut doc = Vec::new();
        varint_field(&mut doc, 1, 0);
        varint_field(&mut doc, 2, 0);
        bytes_field(&mut doc, 3, &note);
        let mut root = Vec::new();
        varint_field(&mut root, 1, 0);
        bytes_field(&mut root, 2, &doc);
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&root).expect("writing to memory");
        gz.finish().expect("writing to memory")
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_field(out: &mut Vec<u8>, field: u64, v: u64) {
    put_varint(out, field << 3);
    put_varint(out, v);
}

fn bytes_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_varint(out, field << 3 | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Seeds;

    #[test]
    fn the_store_holds_the_fixed_notes_and_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.sqlite"), dir.path().join("b.sqlite"));
        create_db(&a, Seeds::new(3), 1_717_268_400).unwrap();
        create_db(&b, Seeds::new(3), 1_717_268_400).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let conn = Connection::open(&a).unwrap();
        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        let notes = count("SELECT count(*) FROM ZICCLOUDSYNCINGOBJECT WHERE Z_ENT = 11");
        assert!(notes >= FIXED_NOTES.len() as i64 + 3, "{notes}");
        assert_eq!(
            count(
                "SELECT count(*) FROM ZICCLOUDSYNCINGOBJECT WHERE Z_ENT = 11 AND ZISPASSWORDPROTECTED = 1"
            ),
            1
        );
        assert_eq!(
            count("SELECT count(*) FROM ZICCLOUDSYNCINGOBJECT WHERE Z_ENT = 14"),
            5
        );
        // Every unlocked body is gzip; the locked one is not.
        assert_eq!(
            count("SELECT count(*) FROM ZICNOTEDATA d JOIN ZICCLOUDSYNCINGOBJECT n ON n.ZNOTEDATA = d.Z_PK
                   WHERE n.ZISPASSWORDPROTECTED = 0 AND hex(substr(d.ZDATA, 1, 2)) = '1F8B'"),
            notes - 2
        );
    }

    #[test]
    fn run_lengths_count_utf16_units() {
        let mut doc = Doc::default();
        doc.para(None, vec![Span::plain("☕🍮")]);
        // ☕ is one unit, 🍮 two, and the newline one.
        assert_eq!(doc.runs[0][..2], [0x08, 4]);
    }
}
