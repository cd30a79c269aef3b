//! `HomeDomain Library/Calendar/Calendar.sqlitedb`: the Calendar app's database
//! (CalendarDatabase's own SQLite schema, not Core Data).
//!
//! No Calendar.sqlitedb of a real iPhone could be used as a fixture (shared/fixtures/
//! ios-databases/PROVENANCE.md, "Not found"), so this one is built from public descriptions:
//! the tables and columns of a published schema dump of Calendar.sqlitedb (Store, Calendar,
//! CalendarItem, Location, Recurrence, ExceptionDate, Alarm, Participant, Identity,
//! OccurrenceCache), plus the columns newer iOS versions added that iLEAPP's
//! `scripts/artifacts/calendarAll.py` (MIT, tested on iOS 17 and 18 images) reads:
//! `Location.address`, `CalendarItem.conference_url_detected`, `calendar_scale`. Conventions
//! taken from those sources: dates are seconds since 2001; `start_tz` is an IANA zone or
//! `_float`; all-day events start at UTC midnight and end at 23:59:59 of their last day;
//! `entity_type` 2 is an event, 3 a reminder; `Recurrence.frequency` 1-4 is daily to yearly
//! and `specifier` holds the BY-parts (`D=0MO,0WE`, `M=1`); `Participant.status` 1 accepted,
//! 2 declined, 3 maybe. These are not checked against a real device.
//!
//! Every device holds the fixed events of [`FIXED_EVENTS`] (repeating, all-day, located,
//! alarmed, with attendees, a changed and a deleted occurrence, floating time, text that needs
//! escaping and folding, a reminder that is not an event), then a few dozen random ones.

use std::path::Path;

use rand::RngExt;
use rusqlite::{Connection, params};

use super::{close, create};
use crate::content::plists::APPLE_EPOCH;
use crate::content::{Rng, Seeds, text};
use crate::error::{Context, Error};

const SCHEMA: &str = "
CREATE TABLE _SqliteDatabaseProperties (key TEXT, value TEXT, UNIQUE(key));
CREATE TABLE Store (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, default_alarm_offset INTEGER,
  type INTEGER, constraint_path TEXT, disabled INTEGER, external_id TEXT, persistent_id TEXT, flags INTEGER);
CREATE TABLE Calendar (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, store_id INTEGER, title TEXT, flags INTEGER,
  color TEXT, color_is_display INTEGER, type TEXT, supported_entity_types INTEGER, external_id TEXT,
  external_mod_tag TEXT, external_id_tag TEXT, external_rep BLOB, display_order INTEGER, UUID TEXT,
  shared_owner_name TEXT, shared_owner_email TEXT, sharing_status INTEGER, sharing_invitation_response INTEGER,
  published_URL TEXT, is_published INTEGER, invitation_status INTEGER, sync_token TEXT,
  self_identity_id INTEGER, self_identity_email TEXT, owner_identity_id INTEGER, owner_identity_email TEXT,
  notes TEXT);
CREATE INDEX CalendarStoreId on Calendar(store_id);
CREATE INDEX CalendarUUID on Calendar(UUID);
CREATE TABLE Recurrence (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, frequency INTEGER, interval INTEGER,
  week_start INTEGER, count INTEGER, cached_end_date REAL, cached_end_date_tz TEXT, end_date REAL,
  specifier TEXT, by_month_months INTEGER, owner_id INTEGER, external_id TEXT, external_mod_tag TEXT,
  external_id_tag TEXT, external_rep BLOB, UUID TEXT);
CREATE INDEX RecurrenceOwnerIdIndex on Recurrence(owner_id);
CREATE TABLE Alarm (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, trigger_date REAL, trigger_interval INTEGER,
  type INTEGER, owner_id INTEGER, external_id TEXT, external_mod_tag TEXT, external_id_tag TEXT,
  external_rep BLOB, UUID TEXT, proximity INTEGER, disabled INTEGER, location_id INTEGER,
  acknowledgedDate REAL, default_alarm INTEGER, orig_alarm_id INTEGER);
CREATE INDEX AlarmOwnerId on Alarm(owner_id);
CREATE TABLE Participant (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, entity_type INTEGER, type INTEGER,
  status INTEGER, pending_status INTEGER, role INTEGER, identity_id INTEGER, owner_id INTEGER,
  external_rep BLOB, UUID TEXT, email TEXT, is_self INTEGER, phone_number TEXT);
CREATE INDEX ParticipantOwnerId on Participant(owner_id);
CREATE TABLE Identity (display_name TEXT, address TEXT, first_name TEXT, last_name TEXT,
  UNIQUE (display_name, address, first_name, last_name));
CREATE TABLE CalendarItem (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, summary TEXT, location_id INTEGER,
  description TEXT, start_date REAL, start_tz TEXT, end_date REAL, all_day INTEGER, calendar_id INTEGER,
  orig_item_id INTEGER, orig_date REAL, organizer_id INTEGER, self_attendee_id INTEGER, status INTEGER,
  invitation_status INTEGER, availability INTEGER, privacy_level INTEGER, url TEXT, last_modified REAL,
  sequence_num INTEGER, birthday_id INTEGER, modified_properties INTEGER, external_tracking_status INTEGER,
  external_id TEXT, external_mod_tag TEXT, unique_identifier TEXT, external_schedule_id TEXT,
  external_rep BLOB, response_comment TEXT, hidden INTEGER, has_recurrences INTEGER, has_attendees INTEGER,
  UUID TEXT, entity_type INTEGER, priority INTEGER, due_date REAL, due_tz TEXT, due_all_day INTEGER,
  completion_date REAL, creation_date REAL, conference TEXT, display_order INTEGER, created_by_id INTEGER,
  modified_by_id INTEGER, shared_item_created_date REAL, shared_item_created_tz TEXT,
  shared_item_modified_date REAL, shared_item_modified_tz TEXT, invitation_changed_properties INTEGER,
  default_alarm_removed INTEGER, phantom_master INTEGER, end_tz TEXT, calendar_scale TEXT,
  conference_url_detected TEXT);
CREATE INDEX EventCalendarIdHiddenEndDateStartDate on CalendarItem(calendar_id, hidden, end_date, start_date);
CREATE INDEX EventUUID on CalendarItem(UUID);
CREATE INDEX CalendarItemOriginalItemId on CalendarItem(orig_item_id);
CREATE TABLE ExceptionDate (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, owner_id INTEGER, date REAL,
  sync_order INTEGER);
CREATE INDEX ExceptionDateOwnerId on ExceptionDate(owner_id);
CREATE TABLE Location (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT, latitude REAL, longitude REAL,
  address_book_id TEXT, radius INTEGER, item_owner_id INTEGER, alarm_owner_id INTEGER, address TEXT,
  map_kit_handle BLOB);
CREATE INDEX LocationOwnerItemId on Location(item_owner_id);
CREATE TABLE OccurrenceCache (day REAL, event_id INTEGER, calendar_id INTEGER, store_id INTEGER,
  occurrence_date REAL, occurrence_start_date REAL, occurrence_end_date REAL);
CREATE INDEX OccurrenceCacheEventId on OccurrenceCache(event_id);
";

/// Calendars: (store, title). Two are titled "Home" (iCloud and on the iPhone).
const CALENDARS: &[(i64, &str)] = &[
    (2, "Home"),
    (2, "Work"),
    (2, "Family 👪"),
    (2, "Reminders"),
    (1, "Home"),
];
const HOME: i64 = 1;
const WORK: i64 = 2;
const FAMILY: i64 = 3;
const REMINDERS: i64 = 4;
const LOCAL_HOME: i64 = 5;

const EVENT: i64 = 2;
const REMINDER: i64 = 3;
const FLOATING: &str = "_float";
const DAY: i64 = 86_400;

/// The summaries of the fixed events, in ROWID order (row 9 is the changed occurrence of
/// row 8, row 10 a reminder, which is not an event).
pub(crate) const FIXED_EVENTS: &[&str] = &[
    "Weekly team sync",
    "Bin day",
    "Summer holiday 🏖️",
    "Mum's birthday",
    "Dentist",
    "Morning run",
    "Pay rent",
    "Piano lesson",
    "Piano lesson (moved)",
    "Buy stamps",
    "Boiler service",
];

/// The description of "Dentist": every character TEXT escapes, line breaks, and a line longer
/// than a folded content line, of multi-byte characters.
pub(crate) const DENTIST_NOTES: &str = "Bring: X-rays, insurance card; ID.\nCall if late \\ ring twice.\n\
    Adresse : 12 rue de l'Église, 75001 Paris — bâtiment B, 3ᵉ étage, porte à droite après l'ascenseur 🦷";

pub(crate) fn create_db(path: &Path, seeds: Seeds, now: i64) -> Result<(), Error> {
    let conn = create(path, SCHEMA)?;
    let mut rng = seeds.rng();
    populate(&conn, &mut rng, now).at(path)?;
    close(conn, path)
}

/// Seconds since 2001 of Unix time `t`.
fn apple(t: i64) -> f64 {
    (t - APPLE_EPOCH) as f64
}

/// A new event row; its ROWID.
#[derive(Default)]
struct Item<'a> {
    summary: &'a str,
    calendar: i64,
    start: i64,
    end: i64,
    tz: &'a str,
    all_day: bool,
    description: Option<&'a str>,
    url: Option<&'a str>,
    location: Option<i64>,
    orig: Option<(i64, i64)>,
    entity: i64,
    cal_dav: bool,
    recurring: bool,
    attendees: bool,
}

fn populate(conn: &Connection, rng: &mut Rng, now: i64) -> rusqlite::Result<()> {
    let tx = conn.unchecked_transaction()?;
    conn.execute_batch(
        "INSERT INTO _SqliteDatabaseProperties VALUES ('_ClientVersion', '32');
         INSERT INTO Store (ROWID, name, type, disabled, flags) VALUES (1, 'Default', 0, 0, 0);
         INSERT INTO Store (ROWID, name, type, disabled, flags) VALUES (2, 'iCloud', 1, 0, 0);",
    )?;
    for (i, (store, title)) in CALENDARS.iter().enumerate() {
        let entity_types = if i as i64 + 1 == REMINDERS { 2 } else { 1 };
        conn.execute(
            "INSERT INTO Calendar (ROWID, store_id, title, flags, color, type, supported_entity_types,
               display_order, UUID, sharing_status)
             VALUES (?1, ?2, ?3, 0, ?4, 'calendar', ?5, ?1, ?6, 0)",
            params![i as i64 + 1, store, title, format!("#{}", text::hex_token(rng, 6).to_uppercase()), entity_types, uuid(rng)],
        )?;
    }
    let today = now - now.rem_euclid(DAY);
    let w = Writer { conn };
    // 1: every Monday and Wednesday, with an alarm, a location and attendees.
    let room = w.location("Room 4.2, Building B", None, None)?;
    let sync = w.item(
        rng,
        &Item {
            summary: FIXED_EVENTS[0],
            calendar: WORK,
            start: today - 30 * DAY + 9 * 3600 + 1800,
            end: today - 30 * DAY + 10 * 3600,
            tz: "Europe/London",
            description: Some("Agenda: budget; hiring, misc."),
            location: Some(room),
            cal_dav: true,
            recurring: true,
            attendees: true,
            ..Item::default()
        },
    )?;
    w.recurrence(sync, 2, 1, 0, None, Some("D=0MO,0WE"))?;
    w.alarm(sync, Some(-900), None)?;
    let me = w.participant(sync, "Alex Morgan", "alex.morgan@example.com", 1)?;
    conn.execute(
        "UPDATE CalendarItem SET organizer_id = ?1 WHERE ROWID = ?2",
        params![me, sync],
    )?;
    w.participant(sync, "Doe, Jane", "jane.doe@example.com", 1)?;
    w.participant(sync, "Søren Ølgaard", "soren@example.dk", 3)?;
    // 2: ten weeks of bin days, alarmed the evening before.
    let bins = w.item(
        rng,
        &Item {
            summary: FIXED_EVENTS[1],
            calendar: HOME,
            start: today - 14 * DAY + 7 * 3600,
            end: today - 14 * DAY + 7 * 3600 + 900,
            tz: "Europe/London",
            cal_dav: true,
            recurring: true,
            ..Item::default()
        },
    )?;
    w.recurrence(bins, 2, 1, 10, None, None)?;
    w.alarm(bins, None, Some(today - 15 * DAY + 20 * 3600))?;
    // 3: three days, all day, somewhere with coordinates.
    let lisbon = w.location("Lisbon; Portugal", Some(38.7223), Some(-9.1393))?;
    let holiday = today + 20 * DAY;
    w.item(
        rng,
        &Item {
            summary: FIXED_EVENTS[2],
            calendar: FAMILY,
            start: holiday,
            end: holiday + 3 * DAY - 1,
            tz: FLOATING,
            all_day: true,
            location: Some(lisbon),
            cal_dav: true,
            ..Item::default()
        },
    )?;
    // 4: yearly, all day.
    let birthday = w.item(
        rng,
        &Item {
            summary: FIXED_EVENTS[3],
            calendar: FAMILY,
            start: today - 100 * DAY,
            end: today - 99 * DAY - 1,
            tz: FLOATING,
            all_day: true,
            cal_dav: true,
            recurring: true,
            ..Item::default()
        },
    )?;
    w.recurrence(birthday, 4, 1, 0, None, None)?;
    w.alarm(birthday, Some(-DAY + 9 * 3600), None)?;
    // 5: text that needs escaping and folding, and a URL.
    let dentist = w.location("Cabinet dentaire", None, None)?;
    conn.execute(
        "UPDATE Location SET address = '12 rue de l''Église, 75001 Paris' WHERE ROWID = ?1",
        [dentist],
    )?;
    w.item(
        rng,
        &Item {
            summary: FIXED_EVENTS[4],
            calendar: HOME,
            start: today + 5 * DAY + 14 * 3600 + 1800,
            end: today + 5 * DAY + 15 * 3600,
            tz: "Europe/Paris",
            description: Some(DENTIST_NOTES),
            url: Some("https://dentist.example/appointments?id=42&lang=fr"),
            location: Some(dentist),
            cal_dav: false,
            ..Item::default()
        },
    )?;
    // 6: floating time, every other day for a month.
    let run = w.item(
        rng,
        &Item {
            summary: FIXED_EVENTS[5],
            calendar: LOCAL_HOME,
            start: today - 3 * DAY + 6 * 3600 + 1800,
            end: today - 3 * DAY + 7 * 3600 + 900,
            tz: FLOATING,
            recurring: true,
            ..Item::default()
        },
    )?;
    w.recurrence(run, 1, 2, 0, Some(today + 27 * DAY + 6 * 3600 + 1800), None)?;
    // 7: the first of every month for a year.
    let rent = w.item(
        rng,
        &Item {
            summary: FIXED_EVENTS[6],
            calendar: HOME,
            start: today - 40 * DAY + 8 * 3600,
            end: today - 40 * DAY + 8 * 3600 + 1800,
            tz: "Europe/London",
            cal_dav: true,
            recurring: true,
            ..Item::default()
        },
    )?;
    w.recurrence(
        rent,
        3,
        1,
        0,
        Some(today + 325 * DAY + 8 * 3600),
        Some("M=1"),
    )?;
    // 8 and 9: a weekly lesson, one occurrence deleted and one moved a day later.
    let lesson_start = today - 21 * DAY + 16 * 3600;
    let lesson = w.item(
        rng,
        &Item {
            summary: FIXED_EVENTS[7],
            calendar: FAMILY,
            start: lesson_start,
            end: lesson_start + 2700,
            tz: "Europe/Paris",
            cal_dav: true,
            recurring: true,
            ..Item::default()
        },
    )?;
    w.recurrence(lesson, 2, 1, 0, None, None)?;
    conn.execute(
        "INSERT INTO ExceptionDate (owner_id, date, sync_order) VALUES (?1, ?2, 0)",
        params![lesson, apple(lesson_start + 7 * DAY)],
    )?;
    let moved = lesson_start + 14 * DAY;
    w.item(
        rng,
        &Item {
            summary: FIXED_EVENTS[8],
            calendar: FAMILY,
            start: moved + DAY,
            end: moved + DAY + 2700,
            tz: "Europe/Paris",
            orig: Some((lesson, moved)),
            cal_dav: true,
            ..Item::default()
        },
    )?;
    // 10: a reminder (iOS 12 and earlier kept them here): not an event.
    w.item(
        rng,
        &Item {
            summary: FIXED_EVENTS[9],
            calendar: REMINDERS,
            start: today + DAY,
            end: today + DAY,
            tz: "Europe/London",
            entity: REMINDER,
            ..Item::default()
        },
    )?;
    // 11: on the iPhone only, no CalDAV UID.
    w.item(
        rng,
        &Item {
            summary: FIXED_EVENTS[10],
            calendar: LOCAL_HOME,
            start: today + 9 * DAY + 10 * 3600,
            end: today + 9 * DAY + 12 * 3600,
            tz: "Europe/London",
            ..Item::default()
        },
    )?;
    random_events(&w, rng, today)?;
    tx.commit()
}

fn random_events(w: &Writer<'_>, rng: &mut Rng, today: i64) -> rusqlite::Result<()> {
    let zones = [
        "Europe/London",
        "Europe/Paris",
        "America/New_York",
        "Asia/Tokyo",
        FLOATING,
    ];
    for _ in 0..rng.random_range(15..40) {
        let summary = text::sentence(rng, 2, 5).trim_end_matches('.').to_string();
        let description = rng.random_bool(0.3).then(|| text::sentence(rng, 5, 30));
        let all_day = rng.random_bool(0.2);
        let day = today + rng.random_range(-200..200) * DAY;
        let (start, end, tz) = match all_day {
            true => (day, day + rng.random_range(1..4) * DAY - 1, FLOATING),
            false => {
                let start = day + rng.random_range(7 * 4..21 * 4) * 900;
                (
                    start,
                    start + rng.random_range(1..12) * 900,
                    zones[rng.random_range(0..zones.len())],
                )
            }
        };
        let location = match rng.random_bool(0.15) {
            true => {
                Some(w.location(&format!("{} {}", text::last_name(rng), "Hall"), None, None)?)
            }
            false => None,
        };
        let recurring = rng.random_bool(0.1);
        let calendar = [HOME, WORK, FAMILY, LOCAL_HOME][rng.random_range(0..4)];
        let cal_dav = rng.random_bool(0.8);
        let row = w.item(
            rng,
            &Item {
                summary: &summary,
                calendar,
                start,
                end,
                tz,
                all_day,
                description: description.as_deref(),
                location,
                cal_dav,
                recurring,
                ..Item::default()
            },
        )?;
        if recurring {
            w.recurrence(
                row,
                2,
                rng.random_range(1..3),
                rng.random_range(0..6),
                None,
                None,
            )?;
        }
        if rng.random_bool(0.1) {
            w.alarm(row, Some(-60 * rng.random_range(5..120)), None)?;
        }
    }
    Ok(())
}

fn uuid(rng: &mut Rng) -> String {
    text::uuid(rng).to_uppercase()
}

struct Writer<'c> {
    conn: &'c Connection,
}

impl Writer<'_> {
    fn item(&self, rng: &mut Rng, it: &Item<'_>) -> rusqlite::Result<i64> {
        let id = uuid(rng);
        let uid = it
            .cal_dav
            .then(|| format!("{}@hearth.test", text::uuid(rng)));
        let created = it.start.min(it.end) - rng.random_range(DAY..60 * DAY);
        self.conn.execute(
            "INSERT INTO CalendarItem (summary, location_id, description, start_date, start_tz, end_date,
               all_day, calendar_id, orig_item_id, orig_date, organizer_id, self_attendee_id, status,
               invitation_status, availability, privacy_level, url, last_modified, sequence_num,
               birthday_id, modified_properties, unique_identifier, hidden, has_recurrences,
               has_attendees, UUID, entity_type, priority, creation_date, end_tz, phantom_master)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, 0, 0, 0, 0, 0, ?11, ?12, 0, 0, 0, ?13,
               0, ?14, ?15, ?16, ?17, 0, ?18, ?5, 0)",
            params![
                it.summary,
                it.location.unwrap_or(0),
                it.description,
                apple(it.start),
                it.tz,
                apple(it.end),
                it.all_day,
                it.calendar,
                it.orig.map_or(0, |o| o.0),
                it.orig.map(|o| apple(o.1)),
                it.url,
                apple(created) + rng.random_range(0.0..DAY as f64).floor(),
                uid,
                it.recurring,
                it.attendees,
                id,
                if it.entity == 0 { EVENT } else { it.entity },
                apple(created),
            ],
        )?;
        let row = self.conn.last_insert_rowid();
        if let Some(loc) = it.location {
            self.conn.execute(
                "UPDATE Location SET item_owner_id = ?1 WHERE ROWID = ?2",
                [row, loc],
            )?;
        }
        Ok(row)
    }

    fn location(&self, title: &str, lat: Option<f64>, lon: Option<f64>) -> rusqlite::Result<i64> {
        self.conn.execute(
            "INSERT INTO Location (title, latitude, longitude, radius) VALUES (?1, ?2, ?3, 0)",
            params![title, lat, lon],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn recurrence(
        &self,
        owner: i64,
        frequency: i64,
        interval: i64,
        count: i64,
        end: Option<i64>,
        specifier: Option<&str>,
    ) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT INTO Recurrence (frequency, interval, week_start, count, end_date, specifier, owner_id)
             VALUES (?1, ?2, 0, ?3, ?4, ?5, ?6)",
            params![frequency, interval, count, end.map(apple), specifier, owner],
        )?;
        Ok(())
    }

    fn alarm(&self, owner: i64, interval: Option<i64>, at: Option<i64>) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT INTO Alarm (trigger_date, trigger_interval, type, owner_id, disabled, default_alarm)
             VALUES (?1, ?2, 0, ?3, 0, 0)",
            params![at.map(apple), interval, owner],
        )?;
        Ok(())
    }

    /// An attendee of `owner`; the Participant ROWID.
    fn participant(
        &self,
        owner: i64,
        name: &str,
        email: &str,
        status: i64,
    ) -> rusqlite::Result<i64> {
        self.conn.execute(
            "INSERT INTO Identity (display_name, address) VALUES (?1, ?2)",
            params![name, format!("mailto:{email}")],
        )?;
        let identity = self.conn.last_insert_rowid();
        self.conn.execute(
            "INSERT INTO Participant (entity_type, type, status, role, identity_id, owner_id, email, is_self)
             VALUES (7, 1, ?1, 1, ?2, ?3, ?4, 0)",
            params![status, identity, owner, email],
        )?;
        Ok(self.conn.last_insert_rowid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_is_deterministic_and_holds_the_fixed_events() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
        create_db(&a, Seeds::new(5), 1_717_268_400).unwrap();
        create_db(&b, Seeds::new(5), 1_717_268_400).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let conn = Connection::open(&a).unwrap();
        let summaries: Vec<String> = conn
            .prepare("SELECT summary FROM CalendarItem ORDER BY ROWID LIMIT 11")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(summaries, FIXED_EVENTS);
        let events: i64 = conn
            .query_row(
                "SELECT count(*) FROM CalendarItem WHERE entity_type = 2",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(events >= 10 + 15, "{events}");
    }
}
