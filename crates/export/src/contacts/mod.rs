//! The address book (`HomeDomain Library/AddressBook/AddressBook.sqlitedb`) as vCard 4.0
//! (RFC 6350), and the names other exports show for phone numbers and e-mail addresses.
//!
//! Output: `--out NAME.vcf` (one snapshot) writes every contact into that one file. A folder
//! gets `contacts.vcf` with every contact (what Contacts, Outlook or Google import at once)
//! and one `<Name>.vcf` per contact beside it, named by the contact's display name (`Mum.vcf`,
//! `Mum (2).vcf` for a second Mum, in ROWID order, so that a second export writes the same
//! names). Both are rewritten whole by a second export.
//!
//! Each card holds what the address book has of: name (N, FN, NICKNAME), organisation (ORG
//! with department, TITLE, KIND:org for a company's card), phone numbers, e-mail addresses,
//! postal addresses and URLs with their labels (TYPE=cell/home/work/fax/pager where vCard has
//! the word, else Apple's `itemN.X-ABLabel`), birthday, anniversary and other dates, related
//! names, note, photo (a `data:` URI with its media type), UID and REV. Not exported: instant
//! messaging and social-profile fields, groups, and linked cards merged (each `ABPerson` row is
//! one card, as the device stores it).

mod book;
mod names;
mod vcard;

pub use book::{AddressBook, Labelled, Person, Photos, apple_date, image_type, property};
pub use names::{ContactNames, normalize_handle};

use crate::SnapshotOut;
use crate::content_line::escape_text;
use crate::error::ExportError;
use crate::report::Tally;
use crate::source::Source;
use crate::unique::{UniqueNames, file_name};
use base64::Engine as _;
use names::display_name;
use vcard::{VCard, plain_label};

/// The file with every contact, in a folder export.
pub const ALL_CONTACTS: &str = "contacts.vcf";

/// Exports the snapshot's address book into `out`; counts `contacts` and `photos`.
pub(crate) fn export(
    src: &Source<'_>,
    out: &SnapshotOut,
    tally: &mut Tally,
) -> Result<(), ExportError> {
    tally.add("contacts", 0);
    tally.add("photos", 0);
    let Some(book) = AddressBook::open(src)? else {
        return Ok(());
    };
    let people = book.people()?;
    let photos = match Photos::open(src) {
        Ok(p) => p,
        Err(e) => {
            tally.warn(format!("contact photos left out: {e}"));
            Photos::new(None)?
        }
    };
    if photos.unknown_schema() && !people.is_empty() {
        tally.warn(format!(
            "{}: {} has neither ABFullSizeImage nor ABThumbnailImage (a schema this exporter does not know, \
             or an empty file whose content is in a -wal the backup lacks): contacts exported without photos",
            src.device(),
            book::IMAGES
        ));
    }
    let cards = Cards {
        people: &people,
        photos: &photos,
        device: src.device(),
    };
    match &out.file {
        Some(file) => write_one_file(out, file, &cards, tally),
        None if people.is_empty() => Ok(()),
        None => write_folder(out, &cards, tally),
    }
}

/// The cards of one address book, made one at a time (a photo is read only for its card).
struct Cards<'a> {
    people: &'a [Person],
    photos: &'a Photos,
    device: &'a str,
}

impl Cards<'_> {
    /// Calls `each` with every person's display name and card, in ROWID order; counts them.
    fn each(
        &self,
        tally: &mut Tally,
        mut each: impl FnMut(&str, &str) -> Result<(), ExportError>,
    ) -> Result<(), ExportError> {
        for person in self.people {
            let photo = self.photo(person, tally);
            let name = formatted_name(person);
            let card = card(person, &name, photo.as_ref());
            each(&name, &card)?;
            tally.add("contacts", 1);
            if photo.is_some() {
                tally.add("photos", 1);
            }
        }
        Ok(())
    }

    /// The person's photo and its media type; a photo that cannot be read or is of no known
    /// image type is left out with a warning naming the contact.
    fn photo(&self, person: &Person, tally: &mut Tally) -> Option<(&'static str, Vec<u8>)> {
        let bytes = match self.photos.photo(person.id) {
            Ok(b) => b?,
            Err(e) => {
                tally.warn(format!(
                    "the photo of contact {} ({}) left out: {e}",
                    person.id,
                    formatted_name(person)
                ));
                return None;
            }
        };
        match image_type(&bytes) {
            Some(t) => Some((t, bytes)),
            None => {
                tally.warn(format!(
                    "{}: the photo of contact {} ({}) is not an image of a known type ({} bytes starting {:02x?}); left out",
                    self.device,
                    person.id,
                    formatted_name(person),
                    bytes.len(),
                    &bytes[..bytes.len().min(8)]
                ));
                None
            }
        }
    }
}

fn write_one_file(
    out: &SnapshotOut,
    file: &str,
    cards: &Cards<'_>,
    tally: &mut Tally,
) -> Result<(), ExportError> {
    let path = out.dir.root().join(file);
    out.dir.replace_with(file, |w| {
        cards.each(tally, |_, card| {
            w.write_all(card.as_bytes())
                .map_err(ExportError::io(&path, "writing"))
        })
    })?;
    Ok(())
}

fn write_folder(
    out: &SnapshotOut,
    cards: &Cards<'_>,
    tally: &mut Tally,
) -> Result<(), ExportError> {
    let all_path = out.dir.root().join(ALL_CONTACTS);
    let mut names = UniqueNames::default();
    names.take(ALL_CONTACTS);
    out.dir.replace_with(ALL_CONTACTS, |all| {
        cards.each(tally, |name, card| {
            all.write_all(card.as_bytes())
                .map_err(ExportError::io(&all_path, "writing"))?;
            let file = names.take(&file_name(name, "vcf"));
            out.dir.replace(&file, card.as_bytes()).map(drop)
        })
    })?;
    Ok(())
}

/// How a card is titled (FN, and its file name): the full name (prefix, first, middle, last,
/// suffix), else the organisation, nickname, first e-mail address or phone number, else
/// `No Name` as the Contacts app shows it. An organisation's card is titled by the
/// organisation.
pub fn formatted_name(p: &Person) -> String {
    let org = p.organization.clone().filter(|o| !o.trim().is_empty());
    if p.is_organization
        && let Some(org) = &org
    {
        return org.trim().to_string();
    }
    let parts: Vec<&str> = [&p.prefix, &p.first, &p.middle, &p.last, &p.suffix]
        .into_iter()
        .flatten()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if !parts.is_empty() {
        return parts.join(" ");
    }
    let handle = || {
        p.of(property::EMAIL)
            .chain(p.of(property::PHONE))
            .find_map(|v| v.value.clone())
    };
    display_name(None, None, org, p.nickname.clone())
        .or_else(handle)
        .unwrap_or_else(|| "No Name".to_string())
}

/// One person's vCard.
fn card(p: &Person, formatted: &str, photo: Option<&(&'static str, Vec<u8>)>) -> String {
    let mut c = VCard::new();
    if let Some(guid) = &p.guid {
        match is_uuid(guid) {
            true => c.raw("UID", &[], &format!("urn:uuid:{}", guid.to_lowercase())),
            false => c.text("UID", &["VALUE=text"], guid),
        }
    }
    if p.is_organization {
        c.raw("KIND", &[], "org");
    }
    let s = |v: &Option<String>| v.as_deref().map(str::trim).unwrap_or("").to_string();
    c.structured(
        "N",
        &[],
        &[
            &s(&p.last),
            &s(&p.first),
            &s(&p.middle),
            &s(&p.prefix),
            &s(&p.suffix),
        ],
    );
    c.text("FN", &[], formatted);
    if let Some(nick) = p.nickname.as_deref().filter(|n| !n.trim().is_empty()) {
        c.text("NICKNAME", &[], nick.trim());
    }
    if p.organization.is_some() || p.department.is_some() {
        let (org, dept) = (s(&p.organization), s(&p.department));
        match dept.is_empty() {
            true => c.structured("ORG", &[], &[&org]),
            false => c.structured("ORG", &[], &[&org, &dept]),
        }
    }
    if let Some(title) = p.job_title.as_deref() {
        c.text("TITLE", &[], title.trim());
    }
    if let Some(bday) = p.birthday.as_deref().and_then(apple_date) {
        c.raw("BDAY", &[], &bday);
    }
    for v in &p.values {
        value(&mut c, v);
    }
    if let Some(note) = &p.note {
        c.text("NOTE", &[], note);
    }
    if let Some((media_type, bytes)) = photo {
        let data = base64::engine::general_purpose::STANDARD.encode(bytes);
        c.raw("PHOTO", &[], &format!("data:{media_type};base64,{data}"));
    }
    if let Some(rev) = p.modified.and_then(crate::time::from_apple_seconds) {
        c.raw("REV", &[], &rev.strftime("%Y%m%dT%H%M%SZ").to_string());
    }
    c.finish()
}

/// One phone number, e-mail address, postal address, URL, date or related name.
fn value(c: &mut VCard, v: &Labelled) {
    let label = v.label.as_deref().map(plain_label);
    let text = v.value.as_deref().map(str::trim).filter(|t| !t.is_empty());
    match v.property {
        property::PHONE | property::EMAIL | property::URL => {
            let Some(text) = text else { return };
            let name = match v.property {
                property::PHONE => "TEL",
                property::EMAIL => "EMAIL",
                _ => "URL",
            };
            // TEL and EMAIL are text; a URL is a URI, which RFC 6350 does not escape (only
            // line breaks, which cannot be in one line, go).
            let value = match v.property {
                property::URL => text.chars().filter(|c| !c.is_control()).collect(),
                _ => escape_text(text),
            };
            let (types, custom) = types(label, v.property);
            c.labelled(name, &types, &value, custom);
        }
        property::ADDRESS => {
            let part = |k: &str| Person::part(v, k).unwrap_or("").trim().to_string();
            let country = match part("Country") {
                c if c.is_empty() => part("CountryCode").to_uppercase(),
                c => c,
            };
            let parts = [
                String::new(),
                String::new(),
                part("Street"),
                part("City"),
                part("State"),
                part("ZIP"),
                country,
            ];
            if parts.iter().all(String::is_empty) {
                return;
            }
            let escaped: Vec<String> = parts.iter().map(|p| escape_text(p)).collect();
            let (types, custom) = types(label, v.property);
            c.labelled("ADR", &types, &escaped.join(";"), custom);
        }
        property::DATE => {
            let Some(date) = text.and_then(apple_date) else {
                return;
            };
            match label {
                Some("Anniversary") => c.raw("ANNIVERSARY", &[], &date),
                other => c.labelled("X-ABDATE", &[], &date, Some(other.unwrap_or("Other"))),
            }
        }
        property::RELATED_NAME => {
            let Some(text) = text else { return };
            let related = label.and_then(related_type);
            let mut params = vec!["VALUE=text"];
            params.extend(related.map(|t| match t {
                "parent" => "TYPE=parent",
                "sibling" => "TYPE=sibling",
                "child" => "TYPE=child",
                "friend" => "TYPE=friend",
                "spouse" => "TYPE=spouse",
                _ => "TYPE=contact",
            }));
            let custom = match related {
                Some(_) => None,
                None => Some(label.unwrap_or("Other")),
            };
            c.labelled("RELATED", &params, &escape_text(text), custom);
        }
        _ => {}
    }
}

/// The TYPE parameters of a label, and the label itself when vCard has no word for it.
fn types(label: Option<&str>, property: i64) -> (Vec<&'static str>, Option<&str>) {
    let Some(label) = label else {
        return (Vec::new(), None);
    };
    let t: &[&'static str] = match (label.to_lowercase().as_str(), property) {
        ("mobile" | "iphone" | "cell", property::PHONE) => &["TYPE=cell"],
        ("homefax", property::PHONE) => &["TYPE=fax,home"],
        ("workfax", property::PHONE) => &["TYPE=fax,work"],
        ("otherfax", property::PHONE) => &["TYPE=fax"],
        ("pager", property::PHONE) => &["TYPE=pager"],
        ("home", _) => &["TYPE=home"],
        ("work", _) => &["TYPE=work"],
        _ => return (Vec::new(), Some(label)),
    };
    (t.to_vec(), None)
}

/// RFC 6350's word for a related name's label, if it has one.
fn related_type(label: &str) -> Option<&'static str> {
    Some(match label.to_lowercase().as_str() {
        "mother" | "father" | "parent" => "parent",
        "brother" | "sister" | "sibling" => "sibling",
        "child" | "son" | "daughter" => "child",
        "friend" => "friend",
        "spouse" | "husband" | "wife" => "spouse",
        _ => return None,
    })
}

/// `8-4-4-4-12` hexadecimal digits.
fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person() -> Person {
        let v = |property, label: &str, value: &str| Labelled {
            property,
            label: Some(label.to_string()),
            value: Some(value.to_string()),
            parts: Vec::new(),
        };
        Person {
            id: 7,
            first: Some("Thom".into()),
            last: Some("De'Fer, Jr; II".into()),
            organization: Some("Acme".into()),
            department: Some("R&D".into()),
            job_title: Some("Engineer".into()),
            nickname: Some("T".into()),
            note: Some("line one\nline two".into()),
            birthday: Some("-335534400".into()),
            guid: Some("F02D3403-71FF-4024-AADA-02A5EA06CC1C".into()),
            modified: Some(704_051_995.0),
            values: vec![
                v(property::PHONE, "_$!<Mobile>!$_", "(919) 802-7080"),
                v(property::PHONE, "TextNow", "(919) 391-2507"),
                v(property::EMAIL, "_$!<Home>!$_", "thom@example.org"),
                Labelled {
                    property: property::ADDRESS,
                    label: Some("_$!<Work>!$_".into()),
                    value: None,
                    parts: vec![
                        ("Street".into(), "1 Main St, Apt 2".into()),
                        ("City".into(), "Durham".into()),
                        ("CountryCode".into(), "us".into()),
                    ],
                },
                v(property::URL, "_$!<HomePage>!$_", "http://example.org/a,b"),
                v(property::DATE, "_$!<Anniversary>!$_", "-12516465600"),
                v(property::RELATED_NAME, "_$!<Mother>!$_", "Ann"),
            ],
            ..Person::default()
        }
    }

    #[test]
    fn a_card_holds_every_field_escaped() {
        let p = person();
        let text = card(
            &p,
            &formatted_name(&p),
            Some(&("image/png", b"\x89PNG".to_vec())),
        );
        assert_eq!(
            text,
            "BEGIN:VCARD\r\nVERSION:4.0\r\n\
             UID:urn:uuid:f02d3403-71ff-4024-aada-02a5ea06cc1c\r\n\
             N:De'Fer\\, Jr\\; II;Thom;;;\r\n\
             FN:Thom De'Fer\\, Jr\\; II\r\n\
             NICKNAME:T\r\n\
             ORG:Acme;R&D\r\n\
             TITLE:Engineer\r\n\
             BDAY:19900515\r\n\
             TEL;TYPE=cell:(919) 802-7080\r\n\
             item1.TEL:(919) 391-2507\r\nitem1.X-ABLabel:TextNow\r\n\
             EMAIL;TYPE=home:thom@example.org\r\n\
             ADR;TYPE=work:;;1 Main St\\, Apt 2;Durham;;;US\r\n\
             item2.URL:http://example.org/a,b\r\nitem2.X-ABLabel:HomePage\r\n\
             ANNIVERSARY:--0515\r\n\
             RELATED;VALUE=text;TYPE=parent:Ann\r\n\
             NOTE:line one\\nline two\r\n\
             PHOTO:data:image/png;base64,iVBORw==\r\n\
             REV:20230424T175955Z\r\n\
             END:VCARD\r\n"
        );
    }

    #[test]
    fn every_card_has_a_name() {
        let mut p = Person {
            id: 1,
            organization: Some("Apple Inc.".into()),
            is_organization: true,
            ..Person::default()
        };
        assert_eq!(formatted_name(&p), "Apple Inc.");
        p.is_organization = false;
        p.first = Some("This Is ".into());
        p.last = Some("DFIR Two".into());
        assert_eq!(formatted_name(&p), "This Is DFIR Two");
        let bare = Person {
            values: vec![Labelled {
                property: property::PHONE,
                value: Some("+1 555".into()),
                ..Labelled::default()
            }],
            ..Person::default()
        };
        assert_eq!(formatted_name(&bare), "+1 555");
        assert_eq!(formatted_name(&Person::default()), "No Name");
    }

    #[test]
    fn a_photo_of_no_known_type_is_a_warning_naming_the_contact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("AddressBookImages.sqlitedb");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE ABFullSizeImage (ROWID INTEGER PRIMARY KEY, record_id INTEGER, data BLOB);
             INSERT INTO ABFullSizeImage (record_id, data) VALUES (1, x'62706C6973743030'), (2, x'FFD8FFE0');",
        )
        .unwrap();
        drop(conn);
        let db = crate::Database::open_copy(&path, "AddressBookImages.sqlitedb", "Mum's iPhone")
            .unwrap();
        let photos = Photos::new(Some(db)).unwrap();
        let people = [
            Person {
                id: 1,
                first: Some("Ann".into()),
                ..Person::default()
            },
            Person {
                id: 2,
                first: Some("Bob".into()),
                ..Person::default()
            },
        ];
        let cards = Cards {
            people: &people,
            photos: &photos,
            device: "Mum's iPhone",
        };
        let mut tally = Tally::default();
        assert_eq!(cards.photo(&people[0], &mut tally), None);
        assert_eq!(tally.warnings.len(), 1);
        let w = &tally.warnings[0];
        assert!(
            w.contains("contact 1 (Ann)") && w.contains("not an image"),
            "{w}"
        );
        let (media_type, bytes) = cards.photo(&people[1], &mut tally).unwrap();
        assert_eq!((media_type, bytes.len()), ("image/jpeg", 4));
        let mut written = Vec::new();
        cards
            .each(&mut tally, |_, card| {
                written.push(card.to_string());
                Ok(())
            })
            .unwrap();
        assert_eq!((tally.count("contacts"), tally.count("photos")), (2, 1));
        assert!(
            !written[0].contains("PHOTO")
                && written[1].contains("PHOTO:data:image/jpeg;base64,/9j/4A==")
        );
    }

    #[test]
    fn uids_are_urns_when_they_are_uuids() {
        assert!(is_uuid("F02D3403-71FF-4024-AADA-02A5EA06CC1C"));
        assert!(!is_uuid("2a0876e80e4a4f77"));
        let p = Person {
            guid: Some("2a0876e80e4a4f77".into()),
            ..Person::default()
        };
        assert!(card(&p, "x", None).contains("\r\nUID;VALUE=text:2a0876e80e4a4f77\r\n"));
    }
}
