//! Contacts: `AddressBook.sqlitedb` and `AddressBookImages.sqlitedb` as iOS 15 and 16 write
//! them (the tables and columns of the real databases in `shared/fixtures/ios-databases`,
//! without the full-text index, whose tokenizer only iOS has).
//!
//! A person is an `ABPerson` row; phone numbers, e-mail addresses, postal addresses, URLs,
//! dates and related names are `ABMultiValue` rows (`property` 3, 4, 5, 22, 12, 23) whose
//! `label` is the ROWID of an `ABMultiValueLabel` row (`_$!<Mobile>!$_`, or a label of the
//! user's own); a postal address's parts are `ABMultiValueEntry` rows keyed by
//! `ABMultiValueEntryKey`. Birthdays are seconds since 2001 at noon UTC written as text, in
//! year 1604 when the year is not known. Photos are real JPEGs ([`super::contact_photo`]):
//! a full-size image and two thumbnails, or thumbnails only.
//!
//! The first people of every address book are the same few shapes, so that every generated
//! device has what an exporter must get right: an organisation whose name needs escaping
//! (`,` `;` `\`), a long Unicode name that must be folded, a photo of each kind, a birthday
//! without a year, a multi-line note and a two-line street.

use rand::RngExt;
use rusqlite::{Connection, OptionalExtension, params};

use super::contact_photo::jpeg;
use super::{close, create};
use crate::content::plists::APPLE_EPOCH;
use crate::content::{Rng, Seeds, text};
use crate::error::{Context, Error};
use std::path::Path;

pub(crate) const SCHEMA: &str = "
CREATE TABLE _SqliteDatabaseProperties (key TEXT, value TEXT, UNIQUE(key));
CREATE TABLE ABStore (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, Name TEXT, ExternalIdentifier TEXT, Type INTEGER,
  ConstraintsPath TEXT, ExternalModificationTag TEXT, ExternalSyncTag TEXT, StoreInternalIdentifier TEXT,
  AccountID INTEGER DEFAULT -1, Enabled INTEGER DEFAULT 1, SyncData BLOB, MeIdentifier INTEGER DEFAULT -1,
  Capabilities INTEGER DEFAULT 0, guid TEXT NOT NULL, LastSyncDate TEXT, UNIQUE(StoreInternalIdentifier), UNIQUE(guid));
CREATE TABLE ABPerson (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, First TEXT, Last TEXT, Middle TEXT, FirstPhonetic TEXT,
  MiddlePhonetic TEXT, LastPhonetic TEXT, Organization TEXT, Department TEXT, Note TEXT, Kind INTEGER, Birthday TEXT,
  JobTitle TEXT, Nickname TEXT, Prefix TEXT, Suffix TEXT, FirstSort TEXT, LastSort TEXT, CreationDate INTEGER,
  ModificationDate INTEGER, CompositeNameFallback TEXT, ExternalIdentifier TEXT, ExternalModificationTag TEXT,
  ExternalUUID TEXT, StoreID INTEGER, DisplayName TEXT, ExternalRepresentation BLOB, FirstSortSection TEXT,
  LastSortSection TEXT, FirstSortLanguageIndex INTEGER DEFAULT 2147483647, LastSortLanguageIndex INTEGER DEFAULT 2147483647,
  PersonLink INTEGER DEFAULT -1, ImageURI TEXT, IsPreferredName INTEGER DEFAULT 1, guid TEXT NOT NULL, PhonemeData TEXT,
  AlternateBirthday TEXT, MapsData TEXT, FirstPronunciation TEXT, MiddlePronunciation TEXT, LastPronunciation TEXT,
  OrganizationPhonetic TEXT, OrganizationPronunciation TEXT, PreviousFamilyName TEXT, PreferredLikenessSource TEXT,
  PreferredPersonaIdentifier TEXT, PreferredChannel TEXT, DowntimeWhitelist TEXT, ImageType TEXT, ImageHash BLOB,
  MemojiMetadata BLOB, UNIQUE(guid));
CREATE TABLE ABGroup (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, Name TEXT, ExternalIdentifier TEXT, StoreID INTEGER,
  ExternalModificationTag TEXT, ExternalRepresentation BLOB, ExternalUUID TEXT, guid TEXT NOT NULL, UNIQUE(guid));
CREATE TABLE ABGroupMembers (UID INTEGER PRIMARY KEY, group_id INTEGER, member_type INTEGER, member_id INTEGER,
  UNIQUE(group_id, member_type, member_id));
CREATE TABLE ABMultiValue (UID INTEGER PRIMARY KEY, record_id INTEGER, property INTEGER, identifier INTEGER,
  label INTEGER, value TEXT, guid TEXT NOT NULL, UNIQUE(guid));
CREATE TABLE ABMultiValueLabel (value TEXT, UNIQUE(value));
CREATE TABLE ABMultiValueEntry (parent_id INTEGER, key INTEGER, value TEXT, UNIQUE(parent_id, key));
CREATE TABLE ABMultiValueEntryKey (value TEXT, UNIQUE(value));
CREATE TABLE ABPhoneLastFour (multivalue_id INTEGER PRIMARY KEY, value TEXT);
CREATE INDEX ABMultiValueRecordIDIndex ON ABMultiValue(record_id);
CREATE INDEX ABMultiValueEntryParentIDIndex ON ABMultiValueEntry(parent_id);
CREATE INDEX ABPersonStoreIDIndex ON ABPerson(StoreID);
INSERT INTO _SqliteDatabaseProperties VALUES ('_ClientVersion', '83');
INSERT INTO ABMultiValueEntryKey (value) VALUES ('Street'), ('ZIP'), ('City'), ('CountryCode'), ('State'), ('Country');";

pub(crate) const IMAGES_SCHEMA: &str = "
CREATE TABLE _SqliteDatabaseProperties (key TEXT, value TEXT, UNIQUE(key));
CREATE TABLE ABThumbnailImage (ROWID INTEGER PRIMARY KEY, record_id INTEGER, format INTEGER, derived_from_format INTEGER,
  data BLOB);
CREATE TABLE ABFullSizeImage (ROWID INTEGER PRIMARY KEY, record_id INTEGER, crop_x INTEGER, crop_y INTEGER,
  crop_width INTEGER, data BLOB);
CREATE UNIQUE INDEX ABImageRecordIDFormatIndex ON ABThumbnailImage(record_id, format);
CREATE UNIQUE INDEX ABFullSizeImageRecordIDIndex ON ABFullSizeImage(record_id);";

const PHONE: i64 = 3;
const EMAIL: i64 = 4;
const ADDRESS: i64 = 5;
const DATE: i64 = 12;
const URL: i64 = 22;
const RELATED: i64 = 23;

const FIRST: &[&str] = &[
    "Olivia", "Amelia", "Isla", "Ava", "Zoë", "Siobhán", "Anaïs", "José", "Łukasz", "Søren",
    "Ngozi", "Chloé", "Mohammed", "Noah", "Oliver", "George", "Björn", "Renée", "Aoife", "Priya",
];
const LAST: &[&str] = &[
    "Smith",
    "Jones",
    "Taylor",
    "O'Brien",
    "Müller",
    "García-López",
    "Nguyễn",
    "Kowalski",
    "Øvergaard",
    "Patel",
    "Murphy",
    "van der Berg",
    "MacDonald",
    "Dubois",
    "Rossi",
    "Evans",
];
const ORGS: &[&str] = &[
    "Acme Widgets Ltd",
    "Café Müller",
    "St Mary's Primary School",
    "Greenway Surgery",
    "Northern Rail",
];
const TITLES: &[&str] = &[
    "Nurse",
    "Head of Sales",
    "Plumber",
    "Teacher",
    "Receptionist",
];
const NICKNAMES: &[&str] = &["Mum", "Dad", "Gran", "Bestie", "Coach", "Aunty Jo"];
const STREETS: &[&str] = &[
    "10 Downing Street",
    "Flat 2\n221B Baker Street",
    "1 Rue de la Paix, Apt 3",
    "Hauptstraße 5",
];
const CITIES: &[(&str, &str, &str)] = &[
    ("London", "SW1A 2AA", "United Kingdom"),
    ("Manchester", "M1 1AE", "United Kingdom"),
    ("Cardiff", "CF10 1EP", "United Kingdom"),
    ("Edinburgh", "EH1 1YZ", "United Kingdom"),
];
const PHONE_LABELS: &[&str] = &[
    "_$!<Mobile>!$_",
    "_$!<iPhone>!$_",
    "_$!<Home>!$_",
    "_$!<Work>!$_",
    "_$!<Main>!$_",
    "_$!<HomeFAX>!$_",
    "Boat",
];

/// What the generated address book holds that the device's other databases refer to.
#[derive(Debug, Default, Clone)]
pub(crate) struct Book {
    /// The people's mobile numbers in E.164 (`+447…`), as calls and voicemail record them;
    /// the address book keeps them as people type them (`+44 7… …`).
    pub(crate) mobiles: Vec<String>,
    pub(crate) photos: Vec<Photo>,
}

/// A person's photo: a full-size image and thumbnails, or thumbnails only.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Photo {
    pub(crate) person: i64,
    pub(crate) full_size: bool,
    seeds: Seeds,
}

/// The first people of every book (see the module docs), then random ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    EscapedOrganisation,
    LongUnicodeName,
    FullSizePhoto,
    ThumbnailOnly,
    Random,
}

/// Creates `AddressBook.sqlitedb` with `people` people.
pub(crate) fn create_db(path: &Path, seeds: Seeds, people: usize, now: i64) -> Result<Book, Error> {
    let conn = create(path, SCHEMA)?;
    let mut rng = seeds.rng();
    let mut book = Book::default();
    let fill = |book: &mut Book, rng: &mut Rng| -> rusqlite::Result<()> {
        let tx = conn.unchecked_transaction()?;
        conn.execute(
            "INSERT INTO ABStore (Name, Type, StoreInternalIdentifier, guid) VALUES ('Local', 0, 'Local', ?1)",
            [text::uuid(rng)],
        )?;
        for i in 0..people {
            let shape = match i {
                0 => Shape::EscapedOrganisation,
                1 => Shape::LongUnicodeName,
                2 => Shape::FullSizePhoto,
                3 => Shape::ThumbnailOnly,
                _ => Shape::Random,
            };
            let at = now - rng.random_range(0..3 * 365 * 86_400);
            let (id, mobile) = insert(&conn, rng, at, shape)?;
            book.mobiles.extend(mobile);
            let photo = match shape {
                Shape::FullSizePhoto => Some(true),
                Shape::ThumbnailOnly => Some(false),
                Shape::Random if rng.random_bool(0.3) => Some(rng.random_bool(0.6)),
                _ => None,
            };
            if let Some(full_size) = photo {
                conn.execute(
                    "UPDATE ABPerson SET ImageType = 'PHOTO' WHERE ROWID = ?1",
                    [id],
                )?;
                book.photos.push(Photo {
                    person: id,
                    full_size,
                    seeds: seeds.label("photo").child(id as u64),
                });
            }
        }
        tx.commit()
    };
    fill(&mut book, &mut rng).at(path)?;
    close(conn, path)?;
    Ok(book)
}

/// Creates `AddressBookImages.sqlitedb` holding `photos`.
pub(crate) fn create_images(path: &Path, photos: &[Photo]) -> Result<(), Error> {
    let conn = create(path, IMAGES_SCHEMA)?;
    let fill = || -> rusqlite::Result<()> {
        let tx = conn.unchecked_transaction()?;
        for p in photos {
            for (format, side) in [(0, 16), (5, 32)] {
                conn.execute(
                    "INSERT INTO ABThumbnailImage (record_id, format, derived_from_format, data) VALUES (?1, ?2, 0, ?3)",
                    params![p.person, format, jpeg(side, p.seeds.child(format as u64))],
                )?;
            }
            if p.full_size {
                conn.execute(
                    "INSERT INTO ABFullSizeImage (record_id, crop_x, crop_y, crop_width, data) VALUES (?1, 0, 0, 48, ?2)",
                    params![p.person, jpeg(48, p.seeds.label("full size"))],
                )?;
            }
        }
        tx.commit()
    };
    fill().at(path)?;
    close(conn, path)
}

/// One person and their values; their ROWID and mobile number (E.164), if they have one.
fn insert(
    conn: &Connection,
    rng: &mut Rng,
    at: i64,
    shape: Shape,
) -> rusqlite::Result<(i64, Option<String>)> {
    let mut p = Fields::random(rng, shape);
    if shape == Shape::EscapedOrganisation {
        p.organization = Some("Smith, Jones & Partners; Solicitors \\ Notaries".into());
    }
    let guid = match rng.random_bool(0.5) {
        true => format!("{}:ABPerson", text::uuid(rng)),
        false => text::uuid(rng),
    };
    let created = at - APPLE_EPOCH;
    conn.prepare_cached(
        "INSERT INTO ABPerson (First, Last, Middle, Organization, Department, Note, Kind, Birthday, JobTitle,
           Nickname, Prefix, Suffix, CreationDate, ModificationDate, ExternalUUID, StoreID, guid)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 1, ?16)",
    )?
    .execute(params![
        p.first,
        p.last,
        p.middle,
        p.organization,
        p.department,
        p.note,
        i64::from(p.kind_org),
        p.birthday,
        p.job_title,
        p.nickname,
        p.prefix,
        p.suffix,
        created,
        created + rng.random_range(0..86_400 * 30),
        text::uuid(rng),
        guid,
    ])?;
    let person = conn.last_insert_rowid();
    let mut values = Values {
        conn,
        person,
        identifiers: [0; 24],
    };
    let mut mobile = None;
    let phones = if p.kind_org {
        1
    } else {
        rng.random_range(1..=3)
    };
    for i in 0..phones {
        let e164 = text::phone_number(rng);
        let label = match i {
            0 => "_$!<Mobile>!$_",
            _ => text::pick(rng, PHONE_LABELS),
        };
        if i == 0 {
            mobile = Some(e164.clone());
        }
        // As people type them: `+44 7700 900123`.
        let typed = format!("{} {} {}", &e164[..3], &e164[3..7], &e164[7..]);
        values.add(rng, PHONE, Some(label), Some(&typed))?;
    }
    for _ in 0..rng.random_range(0..=2) {
        let label = match rng.random_range(0..3) {
            0 => Some("_$!<Home>!$_"),
            1 => Some("_$!<Work>!$_"),
            _ => None,
        };
        let email = text::email(rng);
        values.add(rng, EMAIL, label, Some(&email))?;
    }
    if rng.random_bool(0.4) || shape == Shape::LongUnicodeName {
        let label = text::pick(rng, &["_$!<Home>!$_", "_$!<Work>!$_"]);
        let parent = values.add(rng, ADDRESS, Some(label), None)?;
        let (city, zip, country) = CITIES[rng.random_range(0..CITIES.len())];
        let street = match shape {
            Shape::LongUnicodeName => STREETS[1],
            _ => text::pick(rng, STREETS),
        };
        for (key, value) in [
            ("Street", street),
            ("City", city),
            ("ZIP", zip),
            ("Country", country),
            ("CountryCode", "gb"),
        ] {
            conn.prepare_cached(
                "INSERT INTO ABMultiValueEntry (parent_id, key, value)
                 VALUES (?1, (SELECT ROWID FROM ABMultiValueEntryKey WHERE value = ?2), ?3)",
            )?
            .execute(params![parent, key, value])?;
        }
    }
    if p.kind_org || rng.random_bool(0.1) {
        let site = format!("https://{}", text::site(rng));
        values.add(rng, URL, Some("_$!<HomePage>!$_"), Some(&site))?;
    }
    if !p.kind_org && rng.random_bool(0.08) {
        let date = apple_noon(rng.random_range(1975..2020), rng);
        values.add(rng, DATE, Some("_$!<Anniversary>!$_"), Some(&date))?;
    }
    if !p.kind_org && rng.random_bool(0.08) {
        let label = text::pick(
            rng,
            &["_$!<Mother>!$_", "_$!<Spouse>!$_", "_$!<Partner>!$_"],
        );
        let name = text::first_name(rng);
        values.add(rng, RELATED, Some(label), Some(name))?;
    }
    Ok((person, mobile))
}

/// The columns of one `ABPerson` row.
#[derive(Default)]
struct Fields {
    prefix: Option<String>,
    first: Option<String>,
    middle: Option<String>,
    last: Option<String>,
    suffix: Option<String>,
    nickname: Option<String>,
    organization: Option<String>,
    department: Option<String>,
    job_title: Option<String>,
    note: Option<String>,
    birthday: Option<String>,
    kind_org: bool,
}

impl Fields {
    fn random(rng: &mut Rng, shape: Shape) -> Self {
        let s = |v: &str| Some(v.to_string());
        if shape == Shape::EscapedOrganisation || (shape == Shape::Random && rng.random_bool(0.05))
        {
            return Fields {
                organization: s(text::pick(rng, ORGS)),
                kind_org: true,
                note: rng
                    .random_bool(0.5)
                    .then(|| "Open 9–5; closed Sundays, bank holidays".into()),
                ..Fields::default()
            };
        }
        let mut f = Fields {
            first: s(text::pick(rng, FIRST)),
            last: s(text::pick(rng, LAST)),
            ..Fields::default()
        };
        if shape == Shape::LongUnicodeName {
            f.prefix = s("Dr");
            f.first = s("Maximiliana-Konstantina");
            f.middle = s("Zoë Siobhán Anaïs");
            f.last = s("Øvergaard-Nguyễn-García-López 山田");
            f.suffix = s("Jr., PhD");
            f.nickname = s("Max \\ Mo");
            f.note = Some(format!(
                "Met at the conference; lovely person, knows everyone.\nDietary: vegetarian, no nuts.\n{}",
                "Long note line that goes on and on. ".repeat(4)
            ));
            f.birthday = Some(apple_noon(1604, rng));
            return f;
        }
        if rng.random_bool(0.05) {
            f.prefix = s(text::pick(rng, &["Dr", "Mrs", "Prof."]));
        }
        if rng.random_bool(0.1) {
            f.middle = s(text::pick(rng, FIRST));
        }
        if rng.random_bool(0.03) {
            f.suffix = s("Jr.");
        }
        if rng.random_bool(0.2) {
            f.nickname = s(text::pick(rng, NICKNAMES));
        }
        if rng.random_bool(0.25) {
            f.organization = s(text::pick(rng, ORGS));
            f.department = rng.random_bool(0.4).then(|| "Accounts, R&D".to_string());
            f.job_title = rng
                .random_bool(0.6)
                .then(|| text::pick(rng, TITLES).to_string());
        }
        if rng.random_bool(0.1) {
            f.note = Some(text::sentence(rng, 3, 20));
        }
        if rng.random_bool(0.4) {
            let year = match rng.random_bool(0.2) {
                true => 1604,
                false => rng.random_range(1940..2016),
            };
            f.birthday = Some(apple_noon(year, rng));
        }
        f
    }
}

/// A random day of `year` at noon UTC, as the address book writes dates: seconds since 2001
/// as text (sometimes with a fraction, as older versions wrote them).
fn apple_noon(year: i16, rng: &mut Rng) -> String {
    let day = jiff::civil::date(year, rng.random_range(1..=12), rng.random_range(1..=28));
    let secs = day
        .at(12, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp().as_second())
        .unwrap_or(APPLE_EPOCH)
        - APPLE_EPOCH;
    match rng.random_bool(0.5) {
        true => secs.to_string(),
        false => format!("{secs}.000000"),
    }
}

/// The `ABMultiValue` rows of one person, numbered per property as iOS does.
struct Values<'c> {
    conn: &'c Connection,
    person: i64,
    identifiers: [i64; 24],
}

impl Values<'_> {
    /// Adds a value with its label (made if new); returns its UID.
    fn add(
        &mut self,
        rng: &mut Rng,
        property: i64,
        label: Option<&str>,
        value: Option<&str>,
    ) -> rusqlite::Result<i64> {
        let label = label.map(|l| label_id(self.conn, l)).transpose()?;
        let identifier = &mut self.identifiers[property as usize];
        self.conn
            .prepare_cached(
                "INSERT INTO ABMultiValue (record_id, property, identifier, label, value, guid)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                self.person,
                property,
                *identifier,
                label,
                value,
                text::uuid(rng)
            ])?;
        *identifier += 1;
        let uid = self.conn.last_insert_rowid();
        if property == PHONE
            && let Some(v) = value
        {
            let digits: String = v.chars().filter(char::is_ascii_digit).collect();
            self.conn
                .prepare_cached(
                    "INSERT INTO ABPhoneLastFour (multivalue_id, value) VALUES (?1, ?2)",
                )?
                .execute(params![uid, &digits[digits.len().saturating_sub(4)..]])?;
        }
        Ok(uid)
    }
}

/// The ROWID of `label` in `ABMultiValueLabel`, added when new.
fn label_id(conn: &Connection, label: &str) -> rusqlite::Result<i64> {
    let existing = conn
        .prepare_cached("SELECT ROWID FROM ABMultiValueLabel WHERE value = ?1")?
        .query_row([label], |r| r.get(0))
        .optional()?;
    match existing {
        Some(id) => Ok(id),
        None => {
            conn.prepare_cached("INSERT INTO ABMultiValueLabel (value) VALUES (?1)")?
                .execute([label])?;
            Ok(conn.last_insert_rowid())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_book_has_the_hard_cases_and_photos() {
        let dir = tempfile::tempdir().unwrap();
        let (db, images) = (dir.path().join("ab"), dir.path().join("img"));
        let book = create_db(&db, Seeds::new(3), 40, 1_700_000_000).unwrap();
        create_images(&images, &book.photos).unwrap();
        assert!(book.mobiles.len() >= 38);
        assert!(
            book.photos.iter().any(|p| p.full_size) && book.photos.iter().any(|p| !p.full_size)
        );
        let conn = Connection::open(&db).unwrap();
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(count("SELECT count(*) FROM ABPerson"), 40);
        assert!(count("SELECT count(*) FROM ABPerson WHERE Organization LIKE '%,%;%\\%'") >= 1);
        assert!(count("SELECT count(*) FROM ABMultiValueEntry") >= 5);
        assert!(count("SELECT count(*) FROM ABPerson WHERE Birthday IS NOT NULL") >= 1);
        let conn = Connection::open(&images).unwrap();
        let full: i64 = conn
            .query_row("SELECT count(*) FROM ABFullSizeImage", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            full as usize,
            book.photos.iter().filter(|p| p.full_size).count()
        );
        // Same seed, same bytes.
        let again = dir.path().join("ab2");
        create_db(&again, Seeds::new(3), 40, 1_700_000_000).unwrap();
        assert_eq!(std::fs::read(&db).unwrap(), std::fs::read(&again).unwrap());
    }
}
