//! The address book's people (`HomeDomain Library/AddressBook/AddressBook.sqlitedb`) and their
//! photos (`AddressBookImages.sqlitedb` beside it), read as every iOS version from 6 to 17
//! stores them.
//!
//! A person is a row of `ABPerson`; their phone numbers, e-mail addresses, postal addresses,
//! URLs, dates and related names are rows of `ABMultiValue` (`property` says which), each with
//! a label (the ROWID of an `ABMultiValueLabel` row: Apple's own `_$!<Mobile>!$_` or the user's
//! own text). A postal address has no `value`: its parts are `ABMultiValueEntry` rows keyed by
//! `ABMultiValueEntryKey` (`Street`, `City`, `ZIP`, ...). Only `ABPerson` and the three columns
//! of `ABMultiValue` that say whose, what and which value are required; every other table and
//! column is read when present.

use crate::cell;
use crate::database::Database;
use crate::error::ExportError;
use crate::source::Source;
use std::collections::HashMap;

pub const DOMAIN: &str = "HomeDomain";
pub const ADDRESS_BOOK: &str = "Library/AddressBook/AddressBook.sqlitedb";
pub const IMAGES: &str = "Library/AddressBook/AddressBookImages.sqlitedb";

/// `ABMultiValue.property`: what a value is.
pub mod property {
    pub const PHONE: i64 = 3;
    pub const EMAIL: i64 = 4;
    pub const ADDRESS: i64 = 5;
    pub const DATE: i64 = 12;
    pub const URL: i64 = 22;
    pub const RELATED_NAME: i64 = 23;
}

/// `ABPerson.Kind` of an organisation (a person is 0).
const KIND_ORGANIZATION: i64 = 1;

/// One person of the address book.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Person {
    /// `ABPerson.ROWID`.
    pub id: i64,
    pub prefix: Option<String>,
    pub first: Option<String>,
    pub middle: Option<String>,
    pub last: Option<String>,
    pub suffix: Option<String>,
    pub nickname: Option<String>,
    pub organization: Option<String>,
    pub department: Option<String>,
    pub job_title: Option<String>,
    pub note: Option<String>,
    /// An organisation's card rather than a person's (`Kind` = 1).
    pub is_organization: bool,
    /// As stored: seconds since 2001 written as text (see [`apple_date`]).
    pub birthday: Option<String>,
    /// `guid`, without the `:ABPerson` some versions append.
    pub guid: Option<String>,
    /// `ModificationDate`, seconds since 2001.
    pub modified: Option<f64>,
    /// Phone numbers, e-mail addresses, ... in the order the device keeps them.
    pub values: Vec<Labelled>,
}

/// One `ABMultiValue` row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Labelled {
    pub property: i64,
    /// As stored: `_$!<Home>!$_`, or the user's own label.
    pub label: Option<String>,
    pub value: Option<String>,
    /// A postal address's parts (`ABMultiValueEntry`), by key name (`Street`, `City`, ...).
    pub parts: Vec<(String, String)>,
}

impl Person {
    /// The values of one kind (`property::PHONE`, ...).
    pub fn of(&self, property: i64) -> impl Iterator<Item = &Labelled> {
        self.values.iter().filter(move |v| v.property == property)
    }

    /// A part of a postal address by key.
    pub fn part<'a>(value: &'a Labelled, key: &str) -> Option<&'a str> {
        value
            .parts
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

pub struct AddressBook {
    db: Database,
}

impl AddressBook {
    /// The snapshot's address book; `None` when it has none. A file with no tables at all (the
    /// main file of a database whose content is all in a `-wal` the backup lacks) is an error
    /// rather than an empty address book.
    pub fn open(src: &Source<'_>) -> Result<Option<Self>, ExportError> {
        let Some(db) = src.database(DOMAIN, ADDRESS_BOOK)? else {
            return Ok(None);
        };
        Self::new(db).map(Some)
    }

    /// An address book opened by the caller (tests open copies of real ones).
    pub fn new(db: Database) -> Result<Self, ExportError> {
        let tables: i64 = db
            .conn()
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(|e| db.err(e))?;
        if tables == 0 {
            return Err(db.bad_data(
                "holds no tables at all: its content is in a write-ahead log (AddressBook.sqlitedb-wal) \
                 that this backup does not hold, so there is nothing to export",
            ));
        }
        Ok(Self { db })
    }

    /// Every person, by ROWID, with their values.
    pub fn people(&self) -> Result<Vec<Person>, ExportError> {
        let mut values = self.values()?;
        let mut people = self.persons()?;
        for p in &mut people {
            p.values = values.remove(&p.id).unwrap_or_default();
        }
        Ok(people)
    }

    fn persons(&self) -> Result<Vec<Person>, ExportError> {
        let db = &self.db;
        let c = db.table("ABPerson")?;
        let columns = [
            "Prefix",
            "First",
            "Middle",
            "Last",
            "Suffix",
            "Nickname",
            "Organization",
            "Department",
            "JobTitle",
            "Note",
            "Birthday",
            "guid",
            "Kind",
            "ModificationDate",
        ];
        let select: Vec<&str> = columns.iter().map(|col| c.or_null(col)).collect();
        let sql = format!(
            "SELECT ROWID, {} FROM ABPerson ORDER BY ROWID",
            select.join(", ")
        );
        let mut stmt = db.conn().prepare(&sql).map_err(|e| db.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                let t = |i| cell::text(r, i);
                Ok(Person {
                    id: r.get(0)?,
                    prefix: t(1)?,
                    first: t(2)?,
                    middle: t(3)?,
                    last: t(4)?,
                    suffix: t(5)?,
                    nickname: t(6)?,
                    organization: t(7)?,
                    department: t(8)?,
                    job_title: t(9)?,
                    note: t(10)?,
                    birthday: t(11)?,
                    guid: t(12)?.map(|g| g.trim_end_matches(":ABPerson").to_string()),
                    is_organization: cell::integer(r, 13)? == Some(KIND_ORGANIZATION),
                    modified: cell::number(r, 14)?,
                    values: Vec::new(),
                })
            })
            .map_err(|e| db.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| db.err(e))
    }

    /// Every `ABMultiValue` row by person, labels and address parts resolved.
    fn values(&self) -> Result<HashMap<i64, Vec<Labelled>>, ExportError> {
        let db = &self.db;
        let c = db.table("ABMultiValue")?;
        for col in ["record_id", "property", "value"] {
            c.require(col)?;
        }
        let labels = self.strings("ABMultiValueLabel")?;
        let mut parts = self.parts()?;
        let sql = format!(
            "SELECT ROWID, record_id, property, {label}, value FROM ABMultiValue \
             ORDER BY record_id, property, {identifier}, ROWID",
            label = c.or_null("label"),
            identifier = c.pick(&["identifier"]).unwrap_or("ROWID"),
        );
        let mut stmt = db.conn().prepare(&sql).map_err(|e| db.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| db.err(e))?;
        let mut by_person: HashMap<i64, Vec<Labelled>> = HashMap::new();
        while let Some(r) = rows.next().map_err(|e| db.err(e))? {
            let read = || -> rusqlite::Result<_> {
                Ok((
                    r.get::<_, i64>(0)?,
                    cell::integer(r, 1)?,
                    cell::integer(r, 2)?,
                    label_of(r, 3, &labels)?,
                    cell::text(r, 4)?,
                ))
            };
            let (uid, person, property, label, value) = read().map_err(|e| db.err(e))?;
            let (Some(person), Some(property)) = (person, property) else {
                continue;
            };
            by_person.entry(person).or_default().push(Labelled {
                property,
                label,
                value,
                parts: parts.remove(&uid).unwrap_or_default(),
            });
        }
        Ok(by_person)
    }

    /// A table of strings by ROWID (`ABMultiValueLabel`, `ABMultiValueEntryKey`); empty when
    /// the database has no such table.
    fn strings(&self, table: &str) -> Result<HashMap<i64, String>, ExportError> {
        let db = &self.db;
        let Some(c) = db.columns(table)? else {
            return Ok(HashMap::new());
        };
        c.require("value")?;
        let mut stmt = db
            .conn()
            .prepare(&format!("SELECT ROWID, value FROM {table}"))
            .map_err(|e| db.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, cell::text(r, 1)?)))
            .map_err(|e| db.err(e))?;
        let mut out = HashMap::new();
        for row in rows {
            if let (id, Some(s)) = row.map_err(|e| db.err(e))? {
                out.insert(id, s);
            }
        }
        Ok(out)
    }

    /// The parts of postal addresses (and other many-part values) by `ABMultiValue` ROWID.
    fn parts(&self) -> Result<HashMap<i64, Vec<(String, String)>>, ExportError> {
        let db = &self.db;
        let Some(c) = db.columns("ABMultiValueEntry")? else {
            return Ok(HashMap::new());
        };
        for col in ["parent_id", "key", "value"] {
            c.require(col)?;
        }
        let keys = self.strings("ABMultiValueEntryKey")?;
        let mut stmt = db
            .conn()
            .prepare("SELECT parent_id, key, value FROM ABMultiValueEntry ORDER BY parent_id, key")
            .map_err(|e| db.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    cell::integer(r, 0)?,
                    label_of(r, 1, &keys)?,
                    cell::text(r, 2)?,
                ))
            })
            .map_err(|e| db.err(e))?;
        let mut out: HashMap<i64, Vec<(String, String)>> = HashMap::new();
        for row in rows {
            if let (Some(parent), Some(key), Some(value)) = row.map_err(|e| db.err(e))? {
                out.entry(parent).or_default().push((key, value));
            }
        }
        Ok(out)
    }
}

/// A label cell: the ROWID of a row of `strings` (as iOS stores it), or text itself.
fn label_of(
    r: &rusqlite::Row<'_>,
    idx: usize,
    strings: &HashMap<i64, String>,
) -> rusqlite::Result<Option<String>> {
    Ok(match r.get_ref(idx)? {
        rusqlite::types::ValueRef::Integer(id) => strings.get(&id).cloned(),
        _ => cell::text(r, idx)?,
    })
}

/// The photos of the address book's people: the full-size image when there is one, else the
/// largest thumbnail (`ABFullSizeImage` and `ABThumbnailImage`, each read when present).
pub struct Photos {
    db: Option<Database>,
    full_size: bool,
    thumbnails: bool,
}

impl Photos {
    /// The snapshot's `AddressBookImages.sqlitedb`; no photos when it has none.
    pub fn open(src: &Source<'_>) -> Result<Self, ExportError> {
        Self::new(src.database(DOMAIN, IMAGES)?)
    }

    pub fn new(db: Option<Database>) -> Result<Self, ExportError> {
        let has = |db: &Database, table: &str| -> Result<bool, ExportError> {
            Ok(db
                .columns(table)?
                .is_some_and(|c| c.has("record_id") && c.has("data")))
        };
        let (full_size, thumbnails) = match &db {
            Some(db) => (has(db, "ABFullSizeImage")?, has(db, "ABThumbnailImage")?),
            None => (false, false),
        };
        Ok(Self {
            db,
            full_size,
            thumbnails,
        })
    }

    /// An images database with no table of photos this reader knows (neither
    /// `ABFullSizeImage` nor `ABThumbnailImage`).
    pub fn unknown_schema(&self) -> bool {
        self.db.is_some() && !self.full_size && !self.thumbnails
    }

    /// The bytes of `person`'s photo, if there is one.
    pub fn photo(&self, person: i64) -> Result<Option<Vec<u8>>, ExportError> {
        let Some(db) = &self.db else {
            return Ok(None);
        };
        let queries = [
            (
                self.full_size,
                "SELECT data FROM ABFullSizeImage WHERE record_id = ?1 \
                 ORDER BY length(data) DESC LIMIT 1",
            ),
            (
                self.thumbnails,
                "SELECT data FROM ABThumbnailImage WHERE record_id = ?1 \
                 ORDER BY length(data) DESC LIMIT 1",
            ),
        ];
        for (_, sql) in queries.iter().filter(|(has, _)| *has) {
            let mut stmt = db.conn().prepare_cached(sql).map_err(|e| db.err(e))?;
            let mut rows = stmt.query([person]).map_err(|e| db.err(e))?;
            if let Some(row) = rows.next().map_err(|e| db.err(e))?
                && let Some(bytes) = cell::bytes(row, 0).map_err(|e| db.err(e))?
            {
                return Ok(Some(bytes));
            }
        }
        Ok(None)
    }
}

/// The media type of image bytes by their signature: JPEG, PNG, HEIC/HEIF, GIF or TIFF.
pub fn image_type(bytes: &[u8]) -> Option<&'static str> {
    let brand = bytes.get(4..12);
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n', ..] => Some("image/png"),
        [b'G', b'I', b'F', b'8', ..] => Some("image/gif"),
        [b'I', b'I', 42, 0, ..] | [b'M', b'M', 0, 42, ..] => Some("image/tiff"),
        _ => match brand {
            Some(b"ftypheic" | b"ftypheix" | b"ftyphevc") => Some("image/heic"),
            Some(b"ftypmif1" | b"ftypmsf1" | b"ftypheif") => Some("image/heif"),
            _ => None,
        },
    }
}

/// A date the address book stores as seconds since 2001 written as text (`Birthday`, and the
/// values of `property::DATE`), as a vCard date: `19900515`, or `--0515` when the year is not
/// known (Apple stores year 1604 then). Apple keeps these dates at noon UTC, so that the day is
/// the same in every time zone; older entries saved at a local midnight are read as the day
/// that midnight begins (anything up to 12:00 UTC is that day, later is the next).
pub fn apple_date(raw: &str) -> Option<String> {
    let secs: f64 = raw.trim().parse().ok().filter(|s: &f64| s.is_finite())?;
    let unix = secs.floor() as i64 + crate::time::APPLE_EPOCH;
    let day = (unix + 43_199).div_euclid(86_400);
    let date = jiff::Timestamp::from_second(day * 86_400)
        .ok()?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    Some(match date.year() {
        1604 => format!("--{:02}{:02}", date.month(), date.day()),
        y if (1..=9999).contains(&y) => format!("{y:04}{:02}{:02}", date.month(), date.day()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::open;

    const IOS15: &str = "ios-databases/hickman-ios15.3.1-iphone8/Library/AddressBook/";

    #[test]
    fn real_ios15_people_with_labels_and_an_address() {
        let book = AddressBook::new(open(&format!("{IOS15}AddressBook.sqlitedb"), true)).unwrap();
        let people = book.people().unwrap();
        assert_eq!(people.len(), 9);
        let apple = people.iter().find(|p| p.is_organization).unwrap();
        assert_eq!(apple.organization.as_deref(), Some("Apple Inc."));
        let adr = apple.of(property::ADDRESS).next().unwrap();
        assert_eq!(adr.label.as_deref(), Some("_$!<Work>!$_"));
        assert_eq!(Person::part(adr, "Street"), Some("One Apple Park Way"));
        assert_eq!(Person::part(adr, "city"), Some("Cupertino"));
        assert_eq!(Person::part(adr, "ZIP"), Some("95014"));
        let url = apple.of(property::URL).next().unwrap();
        assert_eq!(url.value.as_deref(), Some("http://www.apple.com"));
        let josh = people
            .iter()
            .find(|p| p.last.as_deref() == Some("Hickman"))
            .unwrap();
        let phones: Vec<_> = josh
            .of(property::PHONE)
            .map(|v| (v.label.as_deref(), v.value.as_deref()))
            .collect();
        assert_eq!(
            phones,
            [
                (Some("_$!<Mobile>!$_"), Some("(919) 579-0479")),
                (Some("TextNow"), Some("(919) 391-2507"))
            ]
        );
        let email = josh.of(property::EMAIL).next().unwrap();
        assert_eq!(
            (email.label.as_deref(), email.value.is_some()),
            (None, true)
        );
    }

    #[test]
    fn real_photos_are_found_full_size_first() {
        let photos = Photos::new(Some(open(
            &format!("{IOS15}AddressBookImages.sqlitedb"),
            true,
        )))
        .unwrap();
        let four = photos.photo(4).unwrap().unwrap();
        assert_eq!(
            (four.len(), image_type(&four)),
            (130_830, Some("image/jpeg"))
        );
        let three = photos.photo(3).unwrap().unwrap();
        assert_eq!(
            (three.len(), image_type(&three)),
            (208_637, Some("image/png"))
        );
        assert_eq!(photos.photo(1).unwrap(), None);
    }

    #[test]
    fn a_stub_without_its_wal_is_an_error_not_an_empty_book() {
        let db = open(
            "ios-databases/belkactf6-ios16.3/Library/AddressBook/AddressBook.sqlitedb",
            false,
        );
        let err = AddressBook::new(db).err().unwrap();
        assert!(err.to_string().contains("no tables at all"), "{err}");
        let db = open(
            "ios-databases/belkactf6-ios16.3/Library/AddressBook/AddressBook.sqlitedb",
            true,
        );
        let people = AddressBook::new(db).unwrap().people().unwrap();
        assert_eq!(people.len(), 1);
        assert_eq!(
            people[0].guid.as_deref(),
            Some("551EB6CB-3EAC-4A5B-AA44-1346103D6D6D")
        );
    }

    #[test]
    fn birthdays_are_days_and_year_1604_means_no_year() {
        // 1990-05-15 12:00 UTC, as Apple stores it.
        assert_eq!(apple_date("-335534400").as_deref(), Some("19900515"));
        assert_eq!(apple_date("-335534400.0").as_deref(), Some("19900515"));
        // The same day saved at midnight in UTC+2 (22:00 UTC the day before) and UTC-5.
        assert_eq!(apple_date("-335584800").as_deref(), Some("19900515"));
        assert_eq!(apple_date("-335559600").as_deref(), Some("19900515"));
        // 1604-05-15 12:00 UTC: no year.
        assert_eq!(apple_date("-12516465600").as_deref(), Some("--0515"));
        assert_eq!(apple_date("not a date"), None);
    }

    #[test]
    fn images_are_known_by_their_signature() {
        assert_eq!(image_type(b"\xFF\xD8\xFF\xE0rest"), Some("image/jpeg"));
        assert_eq!(image_type(b"\x89PNG\r\n\x1A\n...."), Some("image/png"));
        assert_eq!(image_type(b"\0\0\0\x18ftypheic...."), Some("image/heic"));
        assert_eq!(image_type(b"GIF89a"), Some("image/gif"));
        assert_eq!(image_type(b"bplist00"), None);
        assert_eq!(image_type(b""), None);
    }
}
