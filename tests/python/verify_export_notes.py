#!/usr/bin/env python3
"""Checks what `hearth export notes` and `hearth export calendar` wrote against the source
databases, with readers nobody on this project wrote: the PyPI package icalendar parses every
ICS file, and Python's sqlite3 reads the databases.

    verify_export_notes.py calendar DB ICS_FILE...
    verify_export_notes.py notes DB OUT_FOLDER

DB is a copy of the snapshot's database the caller made (this script opens it read-write, so
that SQLite can replay a -wal beside it; never give it a shared fixture).

calendar: every file must be CRLF-terminated content lines of at most 75 octets that icalendar
parses; the VEVENTs must be exactly the events of Calendar.sqlitedb (CalendarItem rows with
entity_type 2 and a start date), found by UID (unique_identifier, else UUID) and, for a changed
occurrence of a repeating event (orig_item_id), by the series' UID and RECURRENCE-ID. For each:
SUMMARY and DESCRIPTION equal to the database's text character for character; LOCATION starting
with Location.title; DTSTART/DTEND a DATE for all-day events (the start's day, and the day after
the end's), a UTC date-time for timed events, a floating one for `_float` events; RRULE with the
Recurrence row's frequency, interval, count or until and BY-parts; one EXDATE per ExceptionDate
row; one VALARM per Alarm row with its trigger; one ATTENDEE per participant other than the
organizer.

notes: the Markdown files under OUT_FOLDER must be exactly one per note of NoteStore.sqlite that
is neither password-protected (ZISPASSWORDPROTECTED) nor marked for deletion
(ZMARKEDFORDELETION); each note's title (when it has one) must head one file (`# title`), and
the files' modification times must be the notes' modification dates (whole seconds).

Prints one line of JSON with the counts and "problems" (a list of strings), and exits 1 when
there are problems, 2 on bad arguments.
"""

import datetime as dt
import importlib.metadata
import json
import os
import sqlite3
import sys
from collections import Counter
from zoneinfo import ZoneInfo

import icalendar

APPLE_EPOCH = 978307200
UTC = dt.timezone.utc
FREQ = {1: "DAILY", 2: "WEEKLY", 3: "MONTHLY", 4: "YEARLY"}


def apple(secs):
    return dt.datetime.fromtimestamp(APPLE_EPOCH + secs, UTC)


def rows(db, sql, *args):
    db.row_factory = sqlite3.Row
    return db.execute(sql, args).fetchall()


def columns(db, table):
    return {r[1] for r in db.execute(f"PRAGMA table_info({table})")}


# --- calendar ---------------------------------------------------------------------------------


def check_lines(path, problems):
    raw = open(path, "rb").read()
    if not raw.endswith(b"\r\n"):
        problems.append(f"{path}: does not end with CRLF")
    for i, line in enumerate(raw.split(b"\r\n")[:-1]):
        if len(line) > 75:
            problems.append(f"{path}: line {i + 1} is {len(line)} octets")
        if b"\n" in line or b"\r" in line:
            problems.append(f"{path}: line {i + 1} holds a bare line break")
    return raw


def by_owner(db, table, cols):
    out = {}
    if table not in {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}:
        return out
    for r in rows(db, f"SELECT owner_id, {cols} FROM {table} ORDER BY ROWID"):
        out.setdefault(r["owner_id"], []).append(r)
    return out


def expected_rrule(rec, form):
    want = {"FREQ": [FREQ[rec["frequency"]]]}
    if (rec["interval"] or 1) > 1:
        want["INTERVAL"] = [rec["interval"]]
    if (rec["count"] or 0) > 0:
        want["COUNT"] = [rec["count"]]
    elif rec["end_date"]:
        want["UNTIL"] = [form(rec["end_date"])]
    for part in (rec["specifier"] or "").split(";"):
        if not part.strip():
            continue
        key, values = part.split("=", 1)
        values = values.split(",")
        if key == "D":
            want["BYDAY"] = [v[-2:] if int(v[:-2] or 0) == 0 else f"{int(v[:-2])}{v[-2:]}" for v in values]
        elif key == "M":
            want["BYMONTHDAY"] = [int(v) for v in values]
        elif key == "O":
            want["BYMONTH"] = [int(v) for v in values]
        elif key == "S":
            want["BYSETPOS"] = [int(v) for v in values]
    return want


def calendar(db_path, files):
    problems = []
    db = sqlite3.connect(db_path)
    item_cols = columns(db, "CalendarItem")
    where = "WHERE coalesce(entity_type, 2) = 2 AND start_date IS NOT NULL" if "entity_type" in item_cols else "WHERE start_date IS NOT NULL"
    events = rows(db, f"SELECT * FROM CalendarItem {where} ORDER BY ROWID")
    locations = {r["ROWID"]: r for r in rows(db, "SELECT ROWID, * FROM Location")}
    recurrences = by_owner(db, "Recurrence", "frequency, interval, count, end_date, specifier")
    exceptions = by_owner(db, "ExceptionDate", "date")
    alarms = by_owner(db, "Alarm", "trigger_interval, trigger_date")
    participants = by_owner(db, "Participant", "ROWID AS rowid, email")

    found = {}
    vevents = 0
    for path in files:
        raw = check_lines(path, problems)
        try:
            cal = icalendar.Calendar.from_ical(raw.decode("utf-8"))
        except Exception as e:  # noqa: BLE001 - any parse failure is the finding
            problems.append(f"{path}: icalendar cannot parse it: {e}")
            continue
        if str(cal.get("VERSION")) != "2.0" or not cal.get("PRODID"):
            problems.append(f"{path}: VERSION 2.0 and PRODID are required")
        for ev in cal.walk("VEVENT"):
            vevents += 1
            if not ev.get("DTSTAMP"):
                problems.append(f"{path}: a VEVENT without DTSTAMP")
            rid = ev.get("RECURRENCE-ID")
            key = (str(ev.get("UID")), rid.dt if rid is not None else None)
            if key in found:
                problems.append(f"{path}: two VEVENTs are {key}")
            found[key] = ev

    by_rowid = {e["ROWID"]: e for e in events}
    stats = Counter()
    for e in events:
        uid = next((u.strip() for u in (e["unique_identifier"], e["UUID"]) if u and u.strip()),
                   f"hearth-calendar-item-{e['ROWID']}")
        zone = UTC
        if e["start_tz"] and e["start_tz"] != "_float":
            try:
                zone = ZoneInfo(e["start_tz"])
            except Exception:  # noqa: BLE001
                zone = UTC
        master = by_rowid.get(e["orig_item_id"]) if e["orig_item_id"] else None
        if master is not None and master["calendar_id"] == e["calendar_id"]:
            muid = next((u.strip() for u in (master["unique_identifier"], master["UUID"]) if u and u.strip()),
                        f"hearth-calendar-item-{master['ROWID']}")
            orig = apple(e["orig_date"])
            if master["all_day"]:
                rid = orig.date()
            elif master["start_tz"] == "_float":
                rid = orig.replace(tzinfo=None)
            else:
                rid = orig
            key = (muid, rid)
        else:
            key = (uid, None)
        ev = found.get(key)
        name = f"event {e['ROWID']} ({e['summary']!r})"
        if ev is None:
            problems.append(f"{name}: no VEVENT {key}")
            continue
        if (e["summary"] or "") != str(ev.get("SUMMARY", "")):
            problems.append(f"{name}: SUMMARY {str(ev.get('SUMMARY'))!r}")
        if (e["description"] or "") != str(ev.get("DESCRIPTION", "")):
            problems.append(f"{name}: DESCRIPTION {str(ev.get('DESCRIPTION'))!r} is not {e['description']!r}")
        loc = locations.get(e["location_id"])
        if loc is not None and loc["title"]:
            stats["located"] += 1
            if not str(ev.get("LOCATION", "")).startswith(loc["title"]):
                problems.append(f"{name}: LOCATION {str(ev.get('LOCATION'))!r}")
            if loc["latitude"] and loc["longitude"]:
                geo = ev.get("GEO")
                if geo is None or (round(geo.latitude, 4), round(geo.longitude, 4)) != (round(loc["latitude"], 4), round(loc["longitude"], 4)):
                    problems.append(f"{name}: GEO {geo}")
        start, end = apple(e["start_date"]), apple(e["end_date"])
        got_start, got_end = ev.decoded("DTSTART"), ev.decoded("DTEND") if ev.get("DTEND") else None
        if e["all_day"]:
            stats["all_day"] += 1
            first = start.astimezone(zone).date()
            last_end = end.astimezone(zone)
            after = last_end.date() + (dt.timedelta(days=0) if last_end.time() == dt.time(0) else dt.timedelta(days=1))
            if after <= first:
                after = first + dt.timedelta(days=1)
            if type(got_start) is not dt.date or got_start != first:
                problems.append(f"{name}: DTSTART {got_start!r} is not the date {first}")
            if type(got_end) is not dt.date or got_end != after:
                problems.append(f"{name}: DTEND {got_end!r} is not the date {after}")
            form = lambda s: apple(s).astimezone(zone).date()  # noqa: E731
        elif e["start_tz"] == "_float":
            stats["floating"] += 1
            if got_start != start.replace(tzinfo=None) or got_end != end.replace(tzinfo=None):
                problems.append(f"{name}: floating DTSTART/DTEND {got_start!r} {got_end!r}")
            form = lambda s: apple(s).replace(tzinfo=None)  # noqa: E731
        else:
            if got_start != start or got_start.utcoffset() != dt.timedelta(0) or got_end != end:
                problems.append(f"{name}: DTSTART/DTEND {got_start!r} {got_end!r} are not {start} {end} in UTC")
            form = apple
        recs = recurrences.get(e["ROWID"], []) if key[1] is None else []
        rrule = ev.get("RRULE")
        if recs:
            stats["recurring"] += 1
            want = expected_rrule(recs[0], form)
            got = {k: list(v) for k, v in rrule.items()} if rrule is not None else None
            if got != want:
                problems.append(f"{name}: RRULE {got} is not {want}")
        elif rrule is not None:
            problems.append(f"{name}: an RRULE it should not have: {rrule.to_ical()!r}")
        exdates = ev.get("EXDATE")
        exdates = exdates if isinstance(exdates, list) else ([exdates] if exdates is not None else [])
        got_ex = sorted(d.dt for x in exdates for d in x.dts)
        want_ex = sorted(form(r["date"]) for r in exceptions.get(e["ROWID"], [])) if key[1] is None else []
        stats["exdates"] += len(got_ex)
        if got_ex != want_ex:
            problems.append(f"{name}: EXDATE {got_ex} is not {want_ex}")
        valarms = [a for a in ev.subcomponents if a.name == "VALARM"]
        want_alarms = alarms.get(e["ROWID"], [])
        stats["alarms"] += len(valarms)
        if len(valarms) != len(want_alarms):
            problems.append(f"{name}: {len(valarms)} VALARMs for {len(want_alarms)} alarms")
        for a, row in zip(valarms, want_alarms):
            trigger = a.decoded("TRIGGER")
            want_t = apple(row["trigger_date"]) if row["trigger_date"] else dt.timedelta(seconds=row["trigger_interval"] or 0)
            if trigger != want_t or str(a.get("ACTION")) != "DISPLAY":
                problems.append(f"{name}: VALARM TRIGGER {trigger!r} is not {want_t!r}")
        attendees = ev.get("ATTENDEE")
        attendees = attendees if isinstance(attendees, list) else ([attendees] if attendees is not None else [])
        want_att = [p for p in participants.get(e["ROWID"], []) if p["rowid"] != e["organizer_id"] and p["email"]]
        stats["attendees"] += len(attendees)
        if sorted(str(a).lower() for a in attendees) != sorted(f"mailto:{p['email']}".lower() for p in want_att):
            problems.append(f"{name}: ATTENDEEs {attendees} are not {[p['email'] for p in want_att]}")
    if vevents != len(events):
        problems.append(f"{vevents} VEVENTs for {len(events)} events in the database")
    return {
        "reader": f"icalendar {importlib.metadata.version('icalendar')}",
        "files": len(files),
        "events": vevents,
        "sql_events": len(events),
        **stats,
        "problems": problems,
    }


# --- notes ------------------------------------------------------------------------------------


def notes(db_path, out):
    problems = []
    db = sqlite3.connect(db_path)
    ent = {r[1]: r[0] for r in db.execute("SELECT Z_ENT, Z_NAME FROM Z_PRIMARYKEY")}
    cols = columns(db, "ZICCLOUDSYNCINGOBJECT")
    title = "ZTITLE1" if "ZTITLE1" in cols else "ZTITLE"
    modified = "ZMODIFICATIONDATE1" if "ZMODIFICATIONDATE1" in cols else "ZMODIFICATIONDATE"
    shown = rows(
        db,
        f"SELECT {title} AS title, {modified} AS modified FROM ZICCLOUDSYNCINGOBJECT "
        "WHERE Z_ENT = ? AND coalesce(ZISPASSWORDPROTECTED, 0) = 0 AND coalesce(ZMARKEDFORDELETION, 0) = 0",
        ent["ICNote"],
    )
    locked = db.execute(
        "SELECT count(*) FROM ZICCLOUDSYNCINGOBJECT WHERE Z_ENT = ? AND ZISPASSWORDPROTECTED = 1 "
        "AND coalesce(ZMARKEDFORDELETION, 0) = 0",
        (ent["ICNote"],),
    ).fetchone()[0]
    files = []
    for root, _dirs, names in os.walk(out):
        files += [os.path.join(root, n) for n in names if n.endswith(".md")]
    headings = Counter()
    mtimes = Counter()
    for f in files:
        with open(f, encoding="utf-8") as fh:
            first = fh.readline().rstrip("\n")
        if not first.startswith("# "):
            problems.append(f"{f}: does not start with a '# ' heading")
        headings[first[2:].replace("\\", "")] += 1
        mtimes[int(os.stat(f).st_mtime)] += 1
    for n in shown:
        if n["title"] and headings[n["title"].strip().replace("\\", "")] == 0:
            problems.append(f"no file is headed {n['title']!r}")
    want_mtimes = Counter(int(APPLE_EPOCH + n["modified"]) for n in shown if n["modified"])
    if want_mtimes != mtimes:
        problems.append(f"file times {sorted(mtimes.elements())} are not the notes' {sorted(want_mtimes.elements())}")
    if len(files) != len(shown):
        problems.append(f"{len(files)} Markdown files for {len(shown)} notes")
    return {"files": len(files), "sql_notes": len(shown), "locked": locked, "problems": problems}


def main(argv):
    if len(argv) < 3 or argv[0] not in ("calendar", "notes") or (argv[0] == "notes" and len(argv) != 3):
        print(__doc__, file=sys.stderr)
        return 2
    verdict = calendar(argv[1], argv[2:]) if argv[0] == "calendar" else notes(argv[1], argv[2])
    print(json.dumps(verdict, ensure_ascii=False, default=str))
    return 1 if verdict["problems"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
