//! `hearth export calendar`: the Calendar app's events as iCalendar (RFC 5545) files, one
//! `<calendar>.ics` per calendar, or every calendar of one snapshot in the one file asked for
//! (`--out family.ics`).
//!
//! Read from `HomeDomain` `Library/Calendar/Calendar.sqlitedb` (CalendarDatabase's own SQLite
//! schema, not Core Data): `Calendar` (title), `CalendarItem` (the events: summary, start and
//! end as seconds since 2001, `start_tz`, `all_day`, description, URL, UID), `Location`,
//! `Recurrence` (see [`rrule`]), `ExceptionDate`, `Alarm`, `Participant` and `Identity`.
//! Columns are those public forensic tools read (iLEAPP's `scripts/artifacts/calendarAll.py`,
//! MIT) and are detected, not assumed.
//!
//! **Tested on generated databases only**: no Calendar.sqlitedb from a real iPhone could be
//! used (shared/fixtures/ios-databases/PROVENANCE.md, "Not found"). The test kit writes the
//! schema above with the conventions below, which come from public descriptions rather than a
//! real device.
//!
//! How events are written:
//! * Timed events in UTC (`DTSTART:20240601T170000Z`), so no VTIMEZONE is needed; the time
//!   is the same instant in every program. A floating event (`start_tz` `_float`: the same
//!   wall-clock time in every zone) is written floating (`DTSTART:20240601T170000`).
//! * All-day events as dates (`DTSTART;VALUE=DATE:20240601`), DTEND the day after the last
//!   (iOS stores the end as the last day's 23:59:59). The date is taken in the event's zone
//!   when it names one, else in UTC (where iOS keeps floating all-day events).
//! * A changed occurrence of a repeating event (`orig_item_id`) becomes a VEVENT with the
//!   series' UID and a RECURRENCE-ID; deleted occurrences (`ExceptionDate`) become EXDATEs.
//! * Alarms become VALARMs (ACTION:DISPLAY), relative to the start or at a date.
//!
//! Reminders (`entity_type` 3, kept here before iOS 13) are not events and are left out;
//! attachments, travel time and the occurrence cache are not exported.

mod ics;
mod rrule;

use crate::SnapshotOut;
use crate::cell::{flag, integer, number, text};
use crate::database::{Columns, Database};
use crate::error::ExportError;
use crate::report::Tally;
use crate::source::Source;
use crate::time::from_apple_seconds;
use ics::Ics;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use rrule::Recurrence;
use std::collections::{BTreeMap, HashMap, HashSet};

pub const DOMAIN: &str = "HomeDomain";
pub const CALENDAR_DB: &str = "Library/Calendar/Calendar.sqlitedb";

/// `CalendarItem.entity_type` of an event (3 is a reminder).
const EVENT: i64 = 2;
/// `start_tz` of a floating event.
const FLOATING: &str = "_float";
const PRODID: &str = "-//Hearth//hearth export calendar//EN";

pub fn export(src: &Source<'_>, out: &SnapshotOut, tally: &mut Tally) -> Result<(), ExportError> {
    tally.add("calendars", 0);
    tally.add("events", 0);
    let Some(db) = src.database(DOMAIN, CALENDAR_DB)? else {
        tally.remark(format!(
            "no calendar database ({DOMAIN} {CALENDAR_DB}) in this snapshot: no events to export"
        ));
        return Ok(());
    };
    let data = CalendarData::load(&db)?;
    if data.reminders > 0 {
        tally.remark(format!(
            "reminders kept in {CALENDAR_DB} (as iOS 12 and earlier did), which are not events and are not exported: {}",
            data.reminders
        ));
    }
    let mut by_calendar: BTreeMap<Option<i64>, Vec<&EventRow>> = BTreeMap::new();
    for ev in &data.events {
        if ev.start.and_then(from_apple_seconds).is_none() {
            tally.warn(format!(
                "event {} (\"{}\") of {CALENDAR_DB} has no start date; not exported",
                ev.rowid,
                ev.summary.as_deref().unwrap_or("")
            ));
            continue;
        }
        let cal = Some(ev.calendar_id).filter(|c| data.calendars.contains_key(c));
        by_calendar.entry(cal).or_default().push(ev);
    }
    if by_calendar.is_empty() {
        // An iCalendar object holds at least one component (RFC 5545 §3.6): no empty files.
        tally.remark(format!("{CALENDAR_DB} holds no events: nothing written"));
        return Ok(());
    }
    match &out.file {
        Some(name) => {
            let mut ics = calendar_begin(None);
            let mut uids = HashSet::new();
            for events in by_calendar.values() {
                write_events(&mut ics, events, &data, &mut uids, tally);
            }
            ics.end("VCALENDAR");
            out.dir.replace(name, ics.into_string().as_bytes())?;
            tally.add("calendars", by_calendar.len() as u64);
        }
        None => {
            let mut taken = HashSet::new();
            for (cal, events) in &by_calendar {
                let title = cal
                    .and_then(|c| data.calendars.get(&c))
                    .map_or("Unknown calendar", String::as_str);
                let mut ics = calendar_begin(Some(title));
                write_events(&mut ics, events, &data, &mut HashSet::new(), tally);
                ics.end("VCALENDAR");
                let name = unique_name(title, &mut taken);
                out.dir.replace(&name, ics.into_string().as_bytes())?;
                tally.add("calendars", 1);
            }
        }
    }
    Ok(())
}

fn calendar_begin(title: Option<&str>) -> Ics {
    let mut ics = Ics::new();
    ics.begin("VCALENDAR");
    ics.raw("VERSION", &[], "2.0");
    ics.raw("PRODID", &[], PRODID);
    ics.raw("CALSCALE", &[], "GREGORIAN");
    if let Some(t) = title {
        ics.text("X-WR-CALNAME", &[], t);
    }
    ics
}

/// `<title>.ics`, numbered when another calendar of the export has the name (case folded).
fn unique_name(title: &str, taken: &mut HashSet<String>) -> String {
    let stem = crate::out::safe_name(title);
    (1..)
        .map(|n| match n {
            1 => format!("{stem}.ics"),
            n => format!("{stem} ({n}).ics"),
        })
        .find(|name| taken.insert(name.to_lowercase()))
        .unwrap_or_default()
}

fn write_events(
    ics: &mut Ics,
    events: &[&EventRow],
    data: &CalendarData,
    uids: &mut HashSet<String>,
    tally: &mut Tally,
) {
    let in_file: HashMap<i64, &EventRow> = events.iter().map(|e| (e.rowid, *e)).collect();
    // Series first, so that a changed occurrence can use its series' UID.
    let mut series_uid: HashMap<i64, String> = HashMap::new();
    let (detached, masters): (Vec<&EventRow>, Vec<&EventRow>) = events
        .iter()
        .partition(|e| e.orig_item_id.is_some_and(|o| in_file.contains_key(&o)));
    for ev in masters {
        let mut uid = ev.uid();
        if !uids.insert(uid.clone()) {
            uid = format!("{uid}-{}", ev.rowid);
            uids.insert(uid.clone());
        }
        series_uid.insert(ev.rowid, uid.clone());
        write_event(ics, ev, &uid, None, data, tally);
    }
    for ev in detached {
        let master = ev.orig_item_id.and_then(|o| in_file.get(&o)).copied();
        let uid = master.and_then(|m| series_uid.get(&m.rowid)).cloned();
        match (master, uid) {
            (Some(m), Some(uid)) => write_event(ics, ev, &uid, Some(m), data, tally),
            _ => write_event(ics, ev, &ev.uid(), None, data, tally),
        }
    }
}

fn write_event(
    ics: &mut Ics,
    ev: &EventRow,
    uid: &str,
    series: Option<&EventRow>,
    data: &CalendarData,
    tally: &mut Tally,
) {
    let form = ev.form();
    let Some(start) = ev.start.and_then(from_apple_seconds) else {
        return;
    };
    ics.begin("VEVENT");
    ics.text("UID", &[], uid);
    let stamp = [ev.modified, ev.created]
        .into_iter()
        .flatten()
        .find_map(from_apple_seconds)
        .unwrap_or(start);
    ics.raw("DTSTAMP", &[], &ics::utc(stamp));
    form.write(ics, "DTSTART", start);
    if let Some(end) = ev.end.and_then(from_apple_seconds) {
        match &form {
            Form::Date(zone) => {
                let (first, last) = (day_of(start, zone), day_after(end, zone));
                let end_day = if last > first {
                    last
                } else {
                    first.tomorrow().unwrap_or(first)
                };
                ics.raw("DTEND", &[("VALUE", "DATE")], &ics::date(end_day));
            }
            _ if end >= start => form.write(ics, "DTEND", end),
            _ => {}
        }
    }
    if let (Some(series), Some(orig)) = (series, ev.orig_date.and_then(from_apple_seconds)) {
        series.form().write(ics, "RECURRENCE-ID", orig);
    }
    for (name, value) in [("SUMMARY", &ev.summary), ("DESCRIPTION", &ev.description)] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            ics.text(name, &[], v);
        }
    }
    if let Some(loc) = ev.location_id.and_then(|l| data.locations.get(&l)) {
        loc.write(ics);
    }
    if let Some(url) = ev.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        ics.raw("URL", &[], &url.replace(' ', "%20"));
    }
    if let Some(status) = ev.status.and_then(status_name) {
        ics.raw("STATUS", &[], status);
    }
    if let Some(c) = ev.created.and_then(from_apple_seconds) {
        ics.raw("CREATED", &[], &ics::utc(c));
    }
    if let Some(m) = ev.modified.and_then(from_apple_seconds) {
        ics.raw("LAST-MODIFIED", &[], &ics::utc(m));
    }
    if series.is_none() {
        write_recurrence(ics, ev, &form, data, tally);
    }
    write_people(ics, ev, data);
    for alarm in data.alarms.get(&ev.rowid).into_iter().flatten() {
        alarm.write(ics, ev.summary.as_deref());
    }
    ics.end("VEVENT");
    tally.add("events", 1);
}

fn write_recurrence(
    ics: &mut Ics,
    ev: &EventRow,
    form: &Form,
    data: &CalendarData,
    tally: &mut Tally,
) {
    for rec in data.recurrences.get(&ev.rowid).into_iter().flatten() {
        let until = |secs: f64| from_apple_seconds(secs).map(|t| form.value(t));
        match rrule::rrule(rec, &until) {
            Ok(rule) => ics.raw("RRULE", &[], &rule),
            Err(why) => tally.warn(format!(
                "event {} (\"{}\") of {CALENDAR_DB}: {why}; written without its repetition",
                ev.rowid,
                ev.summary.as_deref().unwrap_or("")
            )),
        }
    }
    for date in data.exceptions.get(&ev.rowid).into_iter().flatten() {
        if let Some(t) = from_apple_seconds(*date) {
            form.write(ics, "EXDATE", t);
        }
    }
}

fn write_people(ics: &mut Ics, ev: &EventRow, data: &CalendarData) {
    let organizer = ev.organizer_id.and_then(|o| data.people.get(&o));
    if let Some((p, address)) = organizer.and_then(|p| Some((p, p.address()?))) {
        match p.name.as_deref() {
            Some(cn) => ics.raw("ORGANIZER", &[("CN", cn)], &address),
            None => ics.raw("ORGANIZER", &[], &address),
        }
    }
    for p in data.attendees.get(&ev.rowid).into_iter().flatten() {
        if Some(p.rowid) == ev.organizer_id {
            continue;
        }
        let Some(address) = p.address() else {
            continue;
        };
        let partstat = match p.status {
            Some(1) => "ACCEPTED",
            Some(2) => "DECLINED",
            Some(3) => "TENTATIVE",
            _ => "NEEDS-ACTION",
        };
        let mut params = vec![("PARTSTAT", partstat)];
        if let Some(cn) = p.name.as_deref() {
            params.insert(0, ("CN", cn));
        }
        ics.raw("ATTENDEE", &params, &address);
    }
}

/// EventKit's `EKEventStatus`: 1 confirmed, 2 tentative, 3 cancelled (0: none).
fn status_name(status: i64) -> Option<&'static str> {
    match status {
        1 => Some("CONFIRMED"),
        2 => Some("TENTATIVE"),
        3 => Some("CANCELLED"),
        _ => None,
    }
}

/// How an event's times are written.
#[derive(Debug, Clone)]
enum Form {
    /// All-day: dates, taken in this zone.
    Date(TimeZone),
    Floating,
    Utc,
}

impl Form {
    fn value(&self, t: Timestamp) -> String {
        match self {
            Form::Date(zone) => ics::date(day_of(t, zone)),
            Form::Floating => ics::floating(t),
            Form::Utc => ics::utc(t),
        }
    }

    fn write(&self, ics: &mut Ics, name: &str, t: Timestamp) {
        match self {
            Form::Date(_) => ics.raw(name, &[("VALUE", "DATE")], &self.value(t)),
            _ => ics.raw(name, &[], &self.value(t)),
        }
    }
}

fn day_of(t: Timestamp, zone: &TimeZone) -> Date {
    t.to_zoned(zone.clone()).date()
}

/// The day after the one `end` falls in, unless `end` is that day's midnight (an exclusive end).
fn day_after(end: Timestamp, zone: &TimeZone) -> Date {
    let z = end.to_zoned(zone.clone());
    let day = z.date();
    match z.time() == jiff::civil::Time::midnight() {
        true => day,
        false => day.tomorrow().unwrap_or(day),
    }
}

/// What the export reads out of Calendar.sqlitedb.
#[derive(Debug, Default)]
struct CalendarData {
    calendars: HashMap<i64, String>,
    events: Vec<EventRow>,
    /// Rows of `CalendarItem` that are reminders, not events.
    reminders: u64,
    locations: HashMap<i64, Location>,
    recurrences: HashMap<i64, Vec<Recurrence>>,
    exceptions: HashMap<i64, Vec<f64>>,
    alarms: HashMap<i64, Vec<Alarm>>,
    /// Participants by ROWID, and each event's participants.
    people: HashMap<i64, Person>,
    attendees: HashMap<i64, Vec<Person>>,
}

#[derive(Debug, Clone)]
struct EventRow {
    rowid: i64,
    calendar_id: i64,
    summary: Option<String>,
    description: Option<String>,
    url: Option<String>,
    start: Option<f64>,
    end: Option<f64>,
    start_tz: Option<String>,
    all_day: bool,
    location_id: Option<i64>,
    unique_identifier: Option<String>,
    uuid: Option<String>,
    orig_item_id: Option<i64>,
    orig_date: Option<f64>,
    created: Option<f64>,
    modified: Option<f64>,
    status: Option<i64>,
    organizer_id: Option<i64>,
}

impl EventRow {
    /// The event's iCalendar UID (`unique_identifier`, the CalDAV UID), else its UUID.
    fn uid(&self) -> String {
        [&self.unique_identifier, &self.uuid]
            .into_iter()
            .flatten()
            .map(|u| u.trim())
            .find(|u| !u.is_empty())
            .map_or_else(
                || format!("hearth-calendar-item-{}", self.rowid),
                str::to_string,
            )
    }

    fn zone(&self) -> Option<TimeZone> {
        let tz = self.start_tz.as_deref().filter(|z| *z != FLOATING)?;
        TimeZone::get(tz).ok()
    }

    fn form(&self) -> Form {
        match (self.all_day, self.start_tz.as_deref()) {
            (true, _) => Form::Date(self.zone().unwrap_or(TimeZone::UTC)),
            (false, Some(FLOATING)) => Form::Floating,
            (false, _) => Form::Utc,
        }
    }
}

#[derive(Debug, Clone)]
struct Location {
    title: Option<String>,
    address: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
}

impl Location {
    fn write(&self, ics: &mut Ics) {
        let title = self
            .title
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let address = self
            .address
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty());
        let text = match (title, address) {
            (Some(t), Some(a)) if !t.contains(a) => Some(format!("{t}, {a}")),
            (Some(t), _) => Some(t.to_string()),
            (None, a) => a.map(str::to_string),
        };
        if let Some(text) = text {
            ics.text("LOCATION", &[], &text);
        }
        if let (Some(lat), Some(lon)) = (self.latitude, self.longitude)
            && (lat != 0.0 || lon != 0.0)
            && lat.abs() <= 90.0
            && lon.abs() <= 180.0
        {
            ics.raw("GEO", &[], &format!("{lat};{lon}"));
        }
    }
}

#[derive(Debug, Clone)]
struct Alarm {
    /// Seconds from the event's start (negative: before).
    trigger_interval: Option<i64>,
    /// An absolute time, seconds since 2001.
    trigger_date: Option<f64>,
}

impl Alarm {
    fn write(&self, ics: &mut Ics, summary: Option<&str>) {
        ics.begin("VALARM");
        ics.raw("ACTION", &[], "DISPLAY");
        ics.text(
            "DESCRIPTION",
            &[],
            summary.filter(|s| !s.is_empty()).unwrap_or("Reminder"),
        );
        match self.trigger_date.and_then(from_apple_seconds) {
            Some(at) => ics.raw("TRIGGER", &[("VALUE", "DATE-TIME")], &ics::utc(at)),
            None => ics.raw(
                "TRIGGER",
                &[],
                &ics::duration(self.trigger_interval.unwrap_or(0)),
            ),
        }
        ics.end("VALARM");
    }
}

#[derive(Debug, Clone)]
struct Person {
    rowid: i64,
    email: Option<String>,
    /// `Identity.address` (`mailto:`, `tel:` or another URI).
    identity_address: Option<String>,
    name: Option<String>,
    status: Option<i64>,
}

impl Person {
    /// The calendar address (a URI).
    fn address(&self) -> Option<String> {
        if let Some(e) = self
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            return Some(match e.contains(':') {
                true => e.to_string(),
                false => format!("mailto:{e}"),
            });
        }
        self.identity_address
            .as_deref()
            .map(str::trim)
            .filter(|a| a.contains(':'))
            .map(str::to_string)
    }
}

impl CalendarData {
    fn load(db: &Database) -> Result<Self, ExportError> {
        let mut data = CalendarData {
            calendars: load_calendars(db)?,
            events: load_events(db)?,
            reminders: count_reminders(db)?,
            ..CalendarData::default()
        };
        if let Some(cols) = db.columns("Location")? {
            data.locations = load_locations(db, &cols)?;
        }
        if let Some(cols) = db.columns("Recurrence")? {
            data.recurrences = load_recurrences(db, &cols)?;
        }
        if let Some(cols) = db.columns("ExceptionDate")? {
            data.exceptions = by_owner(db, &cols, "date", |r| number(r, 1))?
                .into_iter()
                .map(|(k, v)| (k, v.into_iter().flatten().collect()))
                .collect();
        }
        if let Some(cols) = db.columns("Alarm")? {
            let sql_cols = format!(
                "{}, {}",
                cols.or_null("trigger_interval"),
                cols.or_null("trigger_date")
            );
            data.alarms = by_owner(db, &cols, &sql_cols, |r| {
                Ok(Alarm {
                    trigger_interval: integer(r, 1)?,
                    trigger_date: number(r, 2)?,
                })
            })?;
        }
        if let Some(cols) = db.columns("Participant")? {
            load_people(db, &cols, &mut data)?;
        }
        Ok(data)
    }
}

fn load_calendars(db: &Database) -> Result<HashMap<i64, String>, ExportError> {
    let cols = db.table("Calendar")?;
    cols.require("title")?;
    let mut stmt = db
        .conn()
        .prepare("SELECT ROWID, title FROM Calendar")
        .map_err(|e| db.err(e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get::<_, i64>(0)?, text(r, 1)?.unwrap_or_default()))
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| db.err(e))?;
    Ok(rows)
}

fn load_events(db: &Database) -> Result<Vec<EventRow>, ExportError> {
    let c = db.table("CalendarItem")?;
    for col in ["summary", "start_date", "end_date", "calendar_id"] {
        c.require(col)?;
    }
    let only_events = match c.has("entity_type") {
        true => format!("WHERE coalesce(entity_type, {EVENT}) = {EVENT}"),
        false => String::new(),
    };
    let sql = format!(
        "SELECT ROWID, calendar_id, summary, {description}, {url}, start_date, end_date, {start_tz}, \
         {all_day}, {location_id}, {unique_identifier}, {uuid}, {orig_item_id}, {orig_date}, \
         {creation_date}, {last_modified}, {status}, {organizer_id} \
         FROM CalendarItem {only_events} ORDER BY ROWID",
        description = c.or_null("description"),
        url = c.or_null("url"),
        start_tz = c.or_null("start_tz"),
        all_day = c.or_null("all_day"),
        location_id = c.or_null("location_id"),
        unique_identifier = c.or_null("unique_identifier"),
        uuid = c.or_null("UUID"),
        orig_item_id = c.or_null("orig_item_id"),
        orig_date = c.or_null("orig_date"),
        creation_date = c.or_null("creation_date"),
        last_modified = c.or_null("last_modified"),
        status = c.or_null("status"),
        organizer_id = c.or_null("organizer_id"),
    );
    let mut stmt = db.conn().prepare(&sql).map_err(|e| db.err(e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(EventRow {
                rowid: r.get(0)?,
                calendar_id: integer(r, 1)?.unwrap_or(-1),
                summary: text(r, 2)?,
                description: text(r, 3)?,
                url: text(r, 4)?,
                start: number(r, 5)?,
                end: number(r, 6)?,
                start_tz: text(r, 7)?,
                all_day: flag(r, 8)?,
                location_id: integer(r, 9)?.filter(|&l| l > 0),
                unique_identifier: text(r, 10)?,
                uuid: text(r, 11)?,
                orig_item_id: integer(r, 12)?.filter(|&o| o > 0),
                orig_date: number(r, 13)?,
                created: number(r, 14)?,
                modified: number(r, 15)?,
                status: integer(r, 16)?,
                organizer_id: integer(r, 17)?.filter(|&o| o > 0),
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| db.err(e))?;
    Ok(rows)
}

fn count_reminders(db: &Database) -> Result<u64, ExportError> {
    let items = db.table("CalendarItem")?;
    if !items.has("entity_type") {
        return Ok(0);
    }
    let sql = format!(
        "SELECT count(*) FROM CalendarItem WHERE entity_type IS NOT NULL AND entity_type != {EVENT}"
    );
    let n: i64 = db
        .conn()
        .query_row(&sql, [], |r| r.get(0))
        .map_err(|e| db.err(e))?;
    Ok(n as u64)
}

fn load_locations(db: &Database, c: &Columns<'_>) -> Result<HashMap<i64, Location>, ExportError> {
    let sql = format!(
        "SELECT ROWID, {}, {}, {}, {} FROM Location",
        c.or_null("title"),
        c.or_null("address"),
        c.or_null("latitude"),
        c.or_null("longitude"),
    );
    let mut stmt = db.conn().prepare(&sql).map_err(|e| db.err(e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                Location {
                    title: text(r, 1)?,
                    address: text(r, 2)?,
                    latitude: number(r, 3)?,
                    longitude: number(r, 4)?,
                },
            ))
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| db.err(e))?;
    Ok(rows)
}

fn load_recurrences(
    db: &Database,
    c: &Columns<'_>,
) -> Result<HashMap<i64, Vec<Recurrence>>, ExportError> {
    c.require("frequency")?;
    let cols = format!(
        "frequency, {}, {}, {}, {}",
        c.or_null("interval"),
        c.or_null("count"),
        c.or_null("end_date"),
        c.or_null("specifier"),
    );
    by_owner(db, c, &cols, |r| {
        Ok(Recurrence {
            frequency: integer(r, 1)?.unwrap_or(0),
            interval: integer(r, 2)?,
            count: integer(r, 3)?,
            end_date: number(r, 4)?,
            specifier: text(r, 5)?,
        })
    })
}

/// Rows of a table keyed by `owner_id` (the event), in ROWID order; `cols` are selected after
/// `owner_id` (so the first is column 1).
fn by_owner<T>(
    db: &Database,
    c: &Columns<'_>,
    cols: &str,
    row: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<HashMap<i64, Vec<T>>, ExportError> {
    c.require("owner_id")?;
    let sql = format!("SELECT owner_id, {cols} FROM {} ORDER BY ROWID", c.table());
    let mut stmt = db.conn().prepare(&sql).map_err(|e| db.err(e))?;
    let mut rows = stmt.query([]).map_err(|e| db.err(e))?;
    let mut out: HashMap<i64, Vec<T>> = HashMap::new();
    while let Some(r) = rows.next().map_err(|e| db.err(e))? {
        let Some(owner) = integer(r, 0).map_err(|e| db.err(e))? else {
            continue;
        };
        out.entry(owner)
            .or_default()
            .push(row(r).map_err(|e| db.err(e))?);
    }
    Ok(out)
}

fn load_people(db: &Database, c: &Columns<'_>, data: &mut CalendarData) -> Result<(), ExportError> {
    let identity = db.columns("Identity")?;
    let (join, name, address) = match &identity {
        Some(i) => (
            match c.has("identity_id") {
                true => "LEFT JOIN Identity i ON i.rowid = p.identity_id",
                false => "LEFT JOIN Identity i ON 0",
            },
            match i.has("display_name") {
                true => "i.display_name",
                false => "NULL",
            },
            match i.has("address") {
                true => "i.address",
                false => "NULL",
            },
        ),
        None => ("", "NULL", "NULL"),
    };
    let p = |col: &str| match c.has(col) {
        true => format!("p.{col}"),
        false => "NULL".to_string(),
    };
    let sql = format!(
        "SELECT p.ROWID, {owner}, {email}, {address}, {name}, {status} FROM Participant p {join} ORDER BY p.ROWID",
        owner = p("owner_id"),
        email = p("email"),
        status = p("status"),
    );
    let mut stmt = db.conn().prepare(&sql).map_err(|e| db.err(e))?;
    let mut rows = stmt.query([]).map_err(|e| db.err(e))?;
    while let Some(r) = rows.next().map_err(|e| db.err(e))? {
        let read = || -> rusqlite::Result<(Option<i64>, Person)> {
            Ok((
                integer(r, 1)?,
                Person {
                    rowid: r.get(0)?,
                    email: text(r, 2)?,
                    identity_address: text(r, 3)?,
                    name: text(r, 4)?.filter(|n| !n.trim().is_empty()),
                    status: integer(r, 5)?,
                },
            ))
        };
        let (owner, person) = read().map_err(|e| db.err(e))?;
        if let Some(owner) = owner {
            data.attendees
                .entry(owner)
                .or_default()
                .push(person.clone());
        }
        data.people.insert(person.rowid, person);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn all_day_events_end_the_day_after_their_last() {
        let utc = TimeZone::UTC;
        // iOS: the last day's 23:59:59.
        assert_eq!(
            day_after(at("2024-06-02T23:59:59Z"), &utc).to_string(),
            "2024-06-03"
        );
        // An exclusive midnight end.
        assert_eq!(
            day_after(at("2024-06-03T00:00:00Z"), &utc).to_string(),
            "2024-06-03"
        );
        let paris = TimeZone::get("Europe/Paris").unwrap();
        assert_eq!(
            day_of(at("2024-05-31T22:00:00Z"), &paris).to_string(),
            "2024-06-01"
        );
    }

    #[test]
    fn a_database_of_an_unknown_schema_names_what_it_lacks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Calendar.sqlitedb");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE Calendar (ROWID INTEGER PRIMARY KEY, title TEXT);
             CREATE TABLE CalendarItem (ROWID INTEGER PRIMARY KEY, summary TEXT, end_date REAL,
               calendar_id INTEGER);",
        )
        .unwrap();
        drop(conn);
        let db = Database::open_copy(&path, CALENDAR_DB, "test").unwrap();
        let err = CalendarData::load(&db).unwrap_err();
        assert!(
            matches!(&err, ExportError::Schema { table, column: Some(c), .. } if table == "CalendarItem" && c == "start_date"),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("has no column start_date in table CalendarItem"),
            "{err}"
        );
    }

    #[test]
    fn uids_fall_back_to_the_uuid_then_the_row() {
        let mut ev = EventRow {
            rowid: 7,
            calendar_id: 1,
            summary: None,
            description: None,
            url: None,
            start: Some(1.0),
            end: None,
            start_tz: Some(FLOATING.into()),
            all_day: false,
            location_id: None,
            unique_identifier: Some(" ".into()),
            uuid: Some("ABC".into()),
            orig_item_id: None,
            orig_date: None,
            created: None,
            modified: None,
            status: None,
            organizer_id: None,
        };
        assert_eq!(ev.uid(), "ABC");
        assert!(matches!(ev.form(), Form::Floating));
        ev.uuid = None;
        assert_eq!(ev.uid(), "hearth-calendar-item-7");
        ev.start_tz = Some("Europe/Paris".into());
        assert!(matches!(ev.form(), Form::Utc));
    }
}
