#!/usr/bin/env python3
"""Reads `hearth export contacts`, `calls` and `voicemail` output with readers nobody on this
project wrote (Python's vobject, csv and plistlib), and checks it against plain SQL on the
source databases.

    verify_export_contacts.py contacts VCF_FILE_OR_FOLDER ADDRESSBOOK_DB [IMAGES_DB]
    verify_export_contacts.py calls CALLS_CSV CALLHISTORY_DB [ADDRESSBOOK_DB]
    verify_export_contacts.py voicemail EXPORT_FOLDER VOICEMAIL_DB SOURCE_FOLDER [ADDRESSBOOK_DB]

The databases must be copies (SQLite may write beside what it opens); a `-wal` beside one is
read with it.

contacts: every card of the file (a folder: its `contacts.vcf`) is read by vobject; there must
be one card per ABPerson row, found by its UID (the row's guid), and each card must hold the
row's family and given names (N), organisation and department (ORG), every phone number (TEL),
e-mail address (EMAIL) and URL of the row's ABMultiValue rows, its postal addresses' street,
city and postal code (ADR, from ABMultiValueEntry), its birthday (BDAY: seconds since 2001,
year 1604 meaning none) and, with IMAGES_DB, its photo: the PHOTO line's `data:` URI must
decode (base64) to exactly the bytes of the person's ABFullSizeImage, else largest
ABThumbnailImage, with the media type of those bytes. (vobject reads PHOTO as vCard 3 text and
cuts a vCard 4 data URI at its comma, so the PHOTO value is taken from vobject's own unfolded
content lines, `vobject.base.getLogicalLines` and `parseLine`.) Every physical line must end
with CRLF and be at most 75 octets (RFC 6350 3.2). In a folder, every other `*.vcf` file must
hold exactly one card, and together exactly the cards of `contacts.vcf`.

calls: Python's csv reads CALLS_CSV; it must have one record per ZCALLRECORD row, in ZDATE
order, each with the row's date (UTC, to the second), direction (ZORIGINATED), answered
(ZANSWERED, or an outgoing call with a duration), duration (rounded to the second), number
(ZADDRESS, TEXT or a BLOB of UTF-8), service (ZSERVICE_PROVIDER and ZCALLTYPE) and country;
its name must be ZNAME, else the name of an address-book person whose phone number ends with
the same digits (at least 7) or whose e-mail address it is (FaceTime calls), else empty.

voicemail: `voicemail.csv` must have one record per `voicemail` row (date in Unix seconds), in
date order, with the row's sender, callback number, duration and deleted flag (trashed_date
set); where SOURCE_FOLDER holds `<ROWID>.amr`, the record's audio file must be in
EXPORT_FOLDER with exactly those bytes and the message's date as mtime, else the record names
none; where it holds `<ROWID>.transcript` (an NSKeyedArchiver plist, read with plistlib), the
record's transcript must be its `transcriptionString`.

Prints one line of JSON with what was found (see each check's summary) and "problems": [...];
exits 1 when there are problems, 2 on bad arguments.
"""

import base64
import csv
import datetime
import glob
import io
import json
import math
import os
import plistlib
import re
import sqlite3
import sys

import vobject

APPLE_EPOCH = 978307200
UTC = datetime.timezone.utc
UUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")


def connect(path):
    return sqlite3.connect(path)


def has_table(db, table):
    return db.execute("SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone()[0] > 0


def text(v):
    if v is None:
        return None
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    v = str(v)
    return v if v.strip() else None


def digits(s):
    return "".join(c for c in s if c.isdigit())


def utc_string(unix):
    return datetime.datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def same_second(got, unix):
    """`got` (RFC 3339) is the time `unix`, to the second (rounding may differ by one)."""
    try:
        t = datetime.datetime.strptime(got, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return False
    return abs(t - math.floor(unix)) <= 1


def image_type(data):
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    return None


# ---------------------------------------------------------------------------------------------
# contacts


def people(db):
    """Every ABPerson row with its multivalues, by ROWID."""
    cols = {r[1] for r in db.execute("PRAGMA table_info(ABPerson)")}
    want = ["First", "Last", "Organization", "Department", "Nickname", "Birthday", "guid", "JobTitle"]
    sel = ", ".join(c if c in cols else "NULL" for c in want)
    out = {}
    for row in db.execute(f"SELECT ROWID, {sel} FROM ABPerson"):
        out[row[0]] = dict(zip(want, (text(v) for v in row[1:])), values=[])
    labels = dict(db.execute("SELECT ROWID, value FROM ABMultiValueLabel")) if has_table(db, "ABMultiValueLabel") else {}
    entries = {}
    if has_table(db, "ABMultiValueEntry"):
        keys = dict(db.execute("SELECT ROWID, value FROM ABMultiValueEntryKey"))
        for parent, key, value in db.execute("SELECT parent_id, key, value FROM ABMultiValueEntry"):
            entries.setdefault(parent, {})[keys.get(key, key)] = value
    for uid, record, prop, label, value in db.execute(
        "SELECT UID, record_id, property, label, value FROM ABMultiValue"
    ):
        if record in out:
            out[record]["values"].append(
                {"property": prop, "label": labels.get(label), "value": text(value), "parts": entries.get(uid, {})}
            )
    return out


def display_name(p):
    full = " ".join(s.strip() for s in (p["First"], p["Last"]) if s and s.strip())
    if full:
        return full
    for s in (p["Organization"], p["Nickname"]):
        if s and s.strip():
            return s.strip()
    return None


def expected_bday(raw):
    try:
        secs = float(raw)
    except (TypeError, ValueError):
        return None
    d = datetime.datetime(2001, 1, 1, tzinfo=UTC) + datetime.timedelta(seconds=secs)
    return f"--{d.month:02}{d.day:02}" if d.year == 1604 else f"{d.year:04}{d.month:02}{d.day:02}"


def expected_uid(guid):
    guid = guid[: -len(":ABPerson")] if guid.endswith(":ABPerson") else guid
    return "urn:uuid:" + guid.lower() if UUID.match(guid) else guid


def expected_photo(images, person):
    for sql in (
        "SELECT data FROM ABFullSizeImage WHERE record_id = ? ORDER BY length(data) DESC LIMIT 1",
        "SELECT data FROM ABThumbnailImage WHERE record_id = ? ORDER BY length(data) DESC LIMIT 1",
    ):
        table = sql.split(" FROM ")[1].split()[0]
        if not has_table(images, table):
            continue
        row = images.execute(sql, (person,)).fetchone()
        if row and row[0]:
            return bytes(row[0])
    return None


def raw_cards(vcf_text):
    """Each card's UID and PHOTO value as vobject's content-line parser reads them (no
    behaviours applied)."""
    cards, uid, photo = [], None, None
    for line, _ in vobject.base.getLogicalLines(io.StringIO(vcf_text)):
        name, params, value, group = vobject.base.parseLine(line)
        name = name.upper()
        if name == "BEGIN":
            uid, photo = None, None
        elif name == "UID":
            uid = value
        elif name == "PHOTO":
            photo = value
        elif name == "END":
            cards.append((uid, photo))
    return cards


def check_lines(path, data, problems):
    if not data:
        return
    if not data.endswith(b"\r\n"):
        problems.append(f"{path}: does not end with CRLF")
    for i, line in enumerate(data.split(b"\r\n")[:-1]):
        if len(line) > 75:
            problems.append(f"{path}: line {i + 1} is {len(line)} octets")
        if b"\n" in line or b"\r" in line:
            problems.append(f"{path}: line {i + 1} has a bare CR or LF")


def values(card, name):
    return [c.value for c in card.contents.get(name, [])]


def contacts(argv):
    if len(argv) not in (2, 3):
        return None
    target, book_path = argv[0], argv[1]
    problems = []
    folder = os.path.isdir(target)
    vcf = os.path.join(target, "contacts.vcf") if folder else target
    with open(vcf, "rb") as f:
        data = f.read()
    check_lines(vcf, data, problems)
    vcf_text = data.decode("utf-8")
    cards = list(vobject.readComponents(vcf_text)) if vcf_text else []
    raw = raw_cards(vcf_text) if vcf_text else []
    db = connect(book_path)
    rows = people(db)
    images = connect(argv[2]) if len(argv) == 3 else None
    if len(cards) != len(rows):
        problems.append(f"{len(cards)} cards, {len(rows)} ABPerson rows")
    by_uid = {}
    for card, (uid, photo) in zip(cards, raw):
        if card.name != "VCARD" or card.version.value != "4.0":
            problems.append(f"not a vCard 4.0: {card.name}")
        if not card.contents.get("fn") or not card.fn.value.strip():
            problems.append(f"a card without FN: {uid}")
        by_uid.setdefault(uid, []).append((card, photo))
    summary, photos = [], 0
    for rowid, p in sorted(rows.items()):
        uid = expected_uid(p["guid"])
        found = by_uid.get(uid, [])
        if len(found) != 1:
            problems.append(f"person {rowid} ({uid}): {len(found)} cards")
            continue
        card, photo = found[0]
        fn = card.fn.value
        n = card.n.value
        if (n.family, n.given) != ((p["Last"] or "").strip(), (p["First"] or "").strip()):
            problems.append(f"{fn}: N {n.family!r}/{n.given!r}, the row {p['Last']!r}/{p['First']!r}")
        if p["Organization"] or p["Department"]:
            org = values(card, "org")
            want = [(p["Organization"] or "").strip()] + ([p["Department"].strip()] if p["Department"] else [])
            if not org or org[0] != want:
                problems.append(f"{fn}: ORG {org}, the row {want}")
        for prop, name in ((3, "tel"), (4, "email"), (22, "url")):
            want = sorted(v["value"].strip() for v in p["values"] if v["property"] == prop and v["value"])
            got = sorted(values(card, name))
            if got != want:
                problems.append(f"{fn}: {name.upper()} {got}, the rows {want}")
        want_adr = [v["parts"] for v in p["values"] if v["property"] == 5 and v["parts"]]
        got_adr = values(card, "adr")
        if len(got_adr) != len(want_adr):
            problems.append(f"{fn}: {len(got_adr)} ADR, {len(want_adr)} addresses")
        for parts in want_adr:
            if not any(
                a.street == parts.get("Street", "") and a.city == parts.get("City", "") and a.code == parts.get("ZIP", "")
                for a in got_adr
            ):
                problems.append(f"{fn}: no ADR with {parts}")
        bday = expected_bday(p["Birthday"]) if p["Birthday"] else None
        got_bday = values(card, "bday")
        if (got_bday[0] if got_bday else None) != bday:
            problems.append(f"{fn}: BDAY {got_bday}, the row {p['Birthday']!r} ({bday})")
        photo_bytes = None
        if images is not None:
            want = expected_photo(images, rowid)
            if photo is not None:
                m = re.fullmatch(r"data:([a-z/]+);base64,([A-Za-z0-9+/=]+)", photo)
                if not m:
                    problems.append(f"{fn}: PHOTO is not a base64 data URI: {photo[:60]!r}")
                else:
                    photo_bytes = base64.b64decode(m.group(2), validate=True)
                    if m.group(1) != image_type(photo_bytes):
                        problems.append(f"{fn}: PHOTO says {m.group(1)}, its bytes are {image_type(photo_bytes)}")
                    if not card.contents.get("photo"):
                        problems.append(f"{fn}: vobject found no PHOTO")
            if photo_bytes != want:
                problems.append(
                    f"{fn}: PHOTO of {len(photo_bytes or b'')} bytes, the images database {len(want or b'')}"
                )
        if photo_bytes is not None:
            photos += 1
        summary.append(
            {
                "fn": fn,
                "n": [n.family, n.given],
                "tel": values(card, "tel"),
                "email": values(card, "email"),
                "url": values(card, "url"),
                "org": values(card, "org"),
                "bday": got_bday[0] if got_bday else None,
                "adr": [[a.street, a.city, a.region, a.code, a.country] for a in got_adr],
                "note": card.note.value if card.contents.get("note") else None,
                "photo_bytes": len(photo_bytes) if photo_bytes is not None else None,
            }
        )
    files = 0
    if folder:
        singles = []
        for path in sorted(glob.glob(os.path.join(target, "*.vcf"))):
            if os.path.basename(path) == "contacts.vcf":
                continue
            files += 1
            with open(path, "rb") as f:
                one = f.read()
            check_lines(path, one, problems)
            found = list(vobject.readComponents(one.decode("utf-8")))
            if len(found) != 1:
                problems.append(f"{os.path.basename(path)}: {len(found)} cards")
            singles.append(one)
        whole = [("BEGIN:VCARD" + c).encode() for c in vcf_text.split("BEGIN:VCARD")[1:]]
        if sorted(singles) != sorted(whole):
            problems.append("the one-card files are not the cards of contacts.vcf")
    return {"cards": len(cards), "persons": len(rows), "photos": photos, "files": files,
            "people": summary, "problems": problems}


# ---------------------------------------------------------------------------------------------
# calls


def names_by_handle(book_path):
    """(phone digits, name) and (e-mail address in lower case, name) of every person."""
    if not book_path:
        return [], []
    db = connect(book_path)
    phones, emails = [], []
    for p in people(db).values():
        name = display_name(p)
        for v in p["values"]:
            if v["value"] and name and v["property"] == 3:
                phones.append((digits(v["value"]), name))
            if v["value"] and name and v["property"] == 4:
                emails.append((v["value"].strip().lower(), name))
    return phones, emails


def service(provider, call_type):
    facetime = {8: "FaceTime Video", 16: "FaceTime Audio"}.get(call_type, "FaceTime")
    if provider == "com.apple.Telephony":
        return "Phone"
    if provider == "com.apple.FaceTime":
        return facetime
    return provider or ""


def calls(argv):
    if len(argv) not in (2, 3):
        return None
    csv_path, db_path = argv[0], argv[1]
    phones, emails = names_by_handle(argv[2] if len(argv) == 3 else None)
    problems = []
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames
        records = list(reader)
    want_header = ["date_utc", "date_local", "direction", "answered", "duration_seconds", "duration",
                   "number", "name", "service", "country", "location"]
    if header != want_header:
        problems.append(f"header {header}")
    db = connect(db_path)
    rows = db.execute(
        "SELECT ZDATE, ZDURATION, ZORIGINATED, ZANSWERED, ZADDRESS, ZNAME, ZSERVICE_PROVIDER, ZCALLTYPE, "
        "ZISO_COUNTRY_CODE FROM ZCALLRECORD ORDER BY ZDATE, Z_PK"
    ).fetchall()
    if len(records) != len(rows):
        problems.append(f"{len(records)} records, {len(rows)} ZCALLRECORD rows")
    named, duration_sum = 0, 0
    for i, (rec, row) in enumerate(zip(records, rows)):
        date, duration, originated, answered, address, zname, provider, call_type, country = row
        where = f"record {i + 1}"
        if not same_second(rec["date_utc"], date + APPLE_EPOCH):
            problems.append(f"{where}: date {rec['date_utc']}, the row {utc_string(date + APPLE_EPOCH)}")
        want_dir = "outgoing" if originated else "incoming"
        if rec["direction"] != want_dir:
            problems.append(f"{where}: direction {rec['direction']}, the row {want_dir}")
        want_answered = "yes" if answered or (originated and (duration or 0) > 0) else "no"
        if rec["answered"] != want_answered:
            problems.append(f"{where}: answered {rec['answered']}, the row {want_answered}")
        secs = math.floor((duration or 0) + 0.5)
        duration_sum += secs
        if rec["duration_seconds"] != str(secs):
            problems.append(f"{where}: duration {rec['duration_seconds']}, the row {duration} ({secs})")
        h, m, s = secs // 3600, secs // 60 % 60, secs % 60
        if rec["duration"] != f"{h}:{m:02}:{s:02}":
            problems.append(f"{where}: duration {rec['duration']} for {secs} s")
        number = (text(address) or "").strip()
        if rec["number"] != number:
            problems.append(f"{where}: number {rec['number']!r}, the row {number!r}")
        if text(zname):
            if rec["name"] != text(zname):
                problems.append(f"{where}: name {rec['name']!r}, ZNAME {zname!r}")
        else:
            d = digits(number)
            if "@" in number:
                matches = {name for e, name in emails if e == number.lower()}
            else:
                matches = {name for p, name in phones if min(len(p), len(d)) >= 7 and (p.endswith(d) or d.endswith(p))}
            if matches and rec["name"] not in matches:
                problems.append(f"{where}: name {rec['name']!r}, the address book {sorted(matches)}")
            if not matches and rec["name"]:
                problems.append(f"{where}: name {rec['name']!r} for {number}, which no contact has")
            named += bool(matches)
        if rec["service"] != service(provider, call_type):
            problems.append(f"{where}: service {rec['service']!r}, the row {provider}/{call_type}")
        if rec["country"] != (text(country) or ""):
            problems.append(f"{where}: country {rec['country']!r}, the row {country!r}")
    return {"records": len(records), "rows": len(rows), "named_from_contacts": named,
            "duration_seconds": duration_sum, "problems": problems}


# ---------------------------------------------------------------------------------------------
# voicemail


def transcript_text(path):
    with open(path, "rb") as f:
        archive = plistlib.load(f)
    objects = archive["$objects"]

    def resolve(v):
        return objects[v.data] if isinstance(v, plistlib.UID) else v

    root = resolve(archive["$top"]["root"])
    t = resolve(root.get("transcriptionString"))
    if isinstance(t, dict):
        t = resolve(t.get("NS.string"))
    return t if isinstance(t, str) and t != "$null" else ""


def voicemail(argv):
    if len(argv) not in (3, 4):
        return None
    folder, db_path, source = argv[0], argv[1], argv[2]
    problems = []
    db = connect(db_path)
    rows = db.execute(
        "SELECT ROWID, date, sender, callback_num, duration, trashed_date FROM voicemail ORDER BY date, ROWID"
    ).fetchall()
    csv_path = os.path.join(folder, "voicemail.csv")
    records = []
    if os.path.exists(csv_path):
        with open(csv_path, newline="", encoding="utf-8") as f:
            records = list(csv.DictReader(f))
    elif rows:
        problems.append("no voicemail.csv")
    if len(records) != len(rows):
        problems.append(f"{len(records)} records, {len(rows)} voicemail rows")
    audio_files, transcripts = 0, 0
    for rec, (rowid, date, sender, callback, duration, trashed) in zip(records, rows):
        where = f"voicemail {rowid}"
        if rec["date_utc"] != utc_string(date):
            problems.append(f"{where}: date {rec['date_utc']}, the row {utc_string(date)}")
        for key, want in (("sender", sender), ("callback_number", callback), ("duration_seconds", str(duration)),
                          ("deleted", "yes" if trashed else "no")):
            if rec[key] != (want or ""):
                problems.append(f"{where}: {key} {rec[key]!r}, the row {want!r}")
        amr = os.path.join(source, f"{rowid}.amr")
        if os.path.exists(amr):
            audio_files += 1
            path = os.path.join(folder, rec["audio_file"])
            if not rec["audio_file"] or not os.path.isfile(path):
                problems.append(f"{where}: no audio file {rec['audio_file']!r}")
            else:
                with open(amr, "rb") as a, open(path, "rb") as b:
                    want, got = a.read(), b.read()
                if got != want or not got.startswith(b"#!AMR\n"):
                    problems.append(f"{where}: {rec['audio_file']} is not the backup's {rowid}.amr")
                if int(os.stat(path).st_mtime) != date:
                    problems.append(f"{where}: mtime {os.stat(path).st_mtime}, the date {date}")
                if not os.path.basename(path).startswith(rec["date_local"][:10]):
                    problems.append(f"{where}: {rec['audio_file']} is not named by its date {rec['date_local']}")
        elif rec["audio_file"]:
            problems.append(f"{where}: audio file {rec['audio_file']!r} though the backup has none")
        tpath = os.path.join(source, f"{rowid}.transcript")
        want_t = transcript_text(tpath) if os.path.exists(tpath) else ""
        transcripts += bool(want_t)
        if rec["transcript"] != want_t:
            problems.append(f"{where}: transcript {rec['transcript']!r}, the file {want_t!r}")
    names = sorted(n for n in os.listdir(folder) if n.endswith(".amr")) if os.path.isdir(folder) else []
    if len(names) != audio_files:
        problems.append(f"{len(names)} .amr files exported, {audio_files} in the backup")
    return {"records": len(records), "rows": len(rows), "audio_files": audio_files,
            "transcripts": transcripts, "problems": problems}


def main():
    commands = {"contacts": contacts, "calls": calls, "voicemail": voicemail}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    result = commands[sys.argv[1]](sys.argv[2:])
    if result is None:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
