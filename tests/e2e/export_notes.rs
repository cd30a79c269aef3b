//! `hearth export notes` and `hearth export calendar`, through the real binary.
//!
//! Notes on the real NoteStore.sqlite of two of Josh Hickman's public images (iOS 17.3 with and
//! without its `-wal`, and the older iOS 15 schema): one Markdown file per note that is neither
//! locked nor thrown away, counted against plain SQL on a copy, known titles and text present,
//! locked notes named in warnings. Calendar on generated households only (no real
//! Calendar.sqlitedb could be used, see shared/fixtures/ios-databases/PROVENANCE.md): an
//! encrypted iPhone (checked against SQL on its plaintext twin's database) and an unencrypted
//! iPad, per calendar and into one `.ics`, every file parsed by Python's icalendar
//! (tests/python/verify_export_notes.py).

use crate::common;
use crate::common::ios_databases::{device_of, fixture, sql_copy};

use common::{World, describe, s, u};
use hearth_mobilesync::FileId;
use hearth_testkit::third_party::python;
use hearth_testkit::{HouseholdSpec, generate_with_twin};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::UNIX_EPOCH;

const IOS17: &str = "ios-databases/hickman-ios17.3-iphone11";
const IOS17_STORE: &str =
    "Containers/Shared/AppGroup/72DA7FCC-4DD6-458D-A328-D7CD7ED267D2/NoteStore.sqlite";
const IOS15: &str = "ios-databases-extra/hickman-ios15-notes-via-plaso";
const IOS_PASSWORD: &str = "notes and calendars";
const NOTES_GROUP: &str = "AppDomainGroup-group.com.apple.notes";
const CALENDAR_DB: &str = "Library/Calendar/Calendar.sqlitedb";

/// Notes Notes shows, in plain SQL: not password-protected, not marked for deletion.
const SHOWN_NOTES: &str = "SELECT count(*) FROM ZICCLOUDSYNCINGOBJECT
    WHERE Z_ENT = (SELECT Z_ENT FROM Z_PRIMARYKEY WHERE Z_NAME = 'ICNote')
      AND coalesce(ZISPASSWORDPROTECTED, 0) = 0 AND coalesce(ZMARKEDFORDELETION, 0) = 0";
const LOCKED_NOTES: &str = "SELECT count(*) FROM ZICCLOUDSYNCINGOBJECT
    WHERE Z_ENT = (SELECT Z_ENT FROM Z_PRIMARYKEY WHERE Z_NAME = 'ICNote')
      AND ZISPASSWORDPROTECTED = 1 AND coalesce(ZMARKEDFORDELETION, 0) = 0";
/// Events in plain SQL: CalendarItem rows of entity_type 2 (3 is a reminder) with a start.
const EVENTS: &str =
    "SELECT count(*) FROM CalendarItem WHERE entity_type = 2 AND start_date IS NOT NULL";

fn count(db: &Path, sql: &str) -> u64 {
    crate::common::ios_databases::sql_count(&rusqlite::Connection::open(db).unwrap(), sql)
}

/// `hearth --json export KIND SNAPSHOT --out OUT`, asserting `status`.
fn export(w: &World, kind: &str, snapshot: &str, out: &Path, status: i32) -> Value {
    w.json(&["export", kind, snapshot, "--out", s(out)], status)
}

/// Every file under `dir`, by path relative to it.
fn files(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            match p.is_dir() {
                true => stack.push(p),
                false => {
                    out.insert(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
                }
            }
        }
    }
    out
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// tests/python/verify_export_notes.py `args`: its JSON verdict, asserted free of problems.
fn verify(python: &Path, kind: &str, args: &[&Path]) -> Value {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/verify_export_notes.py");
    let out = Command::new(python)
        .arg(script)
        .arg(kind)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "not one line of JSON ({e}): {stdout}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        out.status.success() && v["problems"] == serde_json::json!([]),
        "{v:#}"
    );
    v
}

fn warnings(report: &Value) -> Vec<String> {
    report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect()
}

fn remarks(report: &Value) -> String {
    report["remarks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

fn mtime(p: &Path) -> i64 {
    let t = std::fs::metadata(p).unwrap().modified().unwrap();
    t.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

#[test]
fn notes_of_ios17_with_and_without_its_wal_are_markdown_files() {
    let w = World::with_repo();
    let image = fixture(IOS17);
    let devices = w.path("devices");
    device_of(
        &devices,
        "1111111111111111111111111111111111111117",
        "iOS 17 phone",
        &image,
        true,
    );
    device_of(
        &devices,
        "2222222222222222222222222222222222222217",
        "iOS 17 phone, no WAL",
        &image,
        false,
    );
    w.ok(&["backup", s(&devices)]);
    let python = python();

    for (udid, with_wal) in [
        ("1111111111111111111111111111111111111117", true),
        ("2222222222222222222222222222222222222217", false),
    ] {
        let db = sql_copy(
            &image.join(IOS17_STORE),
            &w.path(&format!("sql-{udid}")),
            with_wal,
        );
        let shown = count(&db, SHOWN_NOTES);
        // 14 notes: 6 locked, 2 thrown away (both in Recently Deleted), 6 shown.
        assert_eq!((shown, count(&db, LOCKED_NOTES)), (6, 6));
        let out = w.path(&format!("notes-{udid}"));
        let report = export(&w, "notes", &format!("{udid}@latest"), &out, 3);
        assert_eq!(u(&report["notes"]), shown, "{report:#}");
        assert_eq!(u(&report["locked_notes"]), 6, "{report:#}");
        assert_eq!(u(&report["folders"]), 1, "{report:#}");
        assert!(
            remarks(&report).contains(
                "thrown away (emptied from Recently Deleted, or replaced), not exported: 2"
            ),
            "{report:#}"
        );
        assert_eq!(
            files(&out),
            [
                "Notes/My First Note.md",
                "Notes/My iOS 17 Note.md",
                "Notes/Shared iOS 17 Note.md",
                "Notes/iOS 14 Note.md",
                "Notes/iOS 15 Note.md",
                "Notes/iOS 16 Note.md",
            ]
            .into_iter()
            .map(String::from)
            .collect::<BTreeSet<_>>()
        );
        let warned = warnings(&report).join("\n");
        for locked in [
            "Secure iOS 15 Note",
            "iOS 14 Locked Note",
            "My Super Secret Note",
            "My Secret Note",
            "iOS 16 Secure Note",
            "iOS 17 Locked Note",
        ] {
            assert!(
                warned.contains(&format!("\"{locked}\"")),
                "{locked} in {warned}"
            );
        }
        let page = read(&out.join("Notes/iOS 16 Note.md"));
        assert!(page.starts_with("# iOS 16 Note\n\nCreated: "), "{page}");
        assert!(
            page.contains("This is DFIR Two. I wrote this sentence."),
            "{page}"
        );
        let first = read(&out.join("Notes/My First Note.md"));
        assert!(
            first.contains("This is my first note.  Nothing special."),
            "{first}"
        );
        // ZMODIFICATIONDATE1 of "My iOS 17 Note": 2024-07-28 14:21:19 UTC.
        assert_eq!(mtime(&out.join("Notes/My iOS 17 Note.md")), 1_722_176_479);
        if let Some(py) = &python {
            let v = verify(py, "notes", &[&db, &out]);
            assert_eq!((u(&v["files"]), u(&v["sql_notes"])), (6, 6), "{v:#}");
        }
        // A second run rewrites the same files, numbering none.
        export(&w, "notes", &format!("{udid}@latest"), &out, 3);
        assert_eq!(files(&out).len(), 6);
    }
}

#[test]
fn notes_of_the_older_ios15_schema() {
    let w = World::with_repo();
    let image = fixture(IOS15);
    let devices = w.path("devices");
    let udid = "1515151515151515151515151515151515151515";
    device_of(&devices, udid, "iOS 15 phone", &image, false);
    w.ok(&["backup", s(&devices)]);
    let db = sql_copy(&image.join("NoteStore.sqlite"), &w.path("sql"), false);
    // 8 notes: 4 locked, 1 thrown away (the copy Notes kept of a note before locking it).
    assert_eq!((count(&db, SHOWN_NOTES), count(&db, LOCKED_NOTES)), (3, 4));
    let out = w.path("notes");
    let report = export(&w, "notes", &format!("{udid}@latest"), &out, 3);
    assert_eq!(
        (u(&report["notes"]), u(&report["locked_notes"])),
        (3, 4),
        "{report:#}"
    );
    assert_eq!(
        files(&out),
        [
            "Notes/My First Note.md",
            "Notes/iOS 14 Note.md",
            "Notes/iOS 15 Note.md"
        ]
        .into_iter()
        .map(String::from)
        .collect::<BTreeSet<_>>()
    );
    let page = read(&out.join("Notes/iOS 14 Note.md"));
    assert!(
        page.contains("This is a note created for iOS 14.  It is created on iPhone."),
        "{page}"
    );
    assert!(
        warnings(&report)
            .join("\n")
            .contains("\"Secure iOS 15 Note\""),
        "{report:#}"
    );
    assert!(remarks(&report).ends_with("not exported: 1"), "{report:#}");
    if let Some(py) = python() {
        verify(&py, "notes", &[&db, &out]);
    }
}

/// The plaintext of `domain`/`path` in an unencrypted device folder, copied to `to`.
fn twin_file(folder: &Path, domain: &str, path: &str, to: &Path) -> PathBuf {
    let id = FileId::for_path(domain, path);
    let blob = folder.join(&id.as_str()[..2]).join(id.as_str());
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(&blob, to).unwrap_or_else(|e| panic!("{}: {e}", blob.display()));
    to.to_path_buf()
}

#[test]
fn calendars_and_notes_of_a_generated_household_with_an_encrypted_iphone() {
    let w = World::with_repo();
    let (h, twin) =
        generate_with_twin(&HouseholdSpec::tiny_mixed(IOS_PASSWORD), &w.path("house")).unwrap();
    let out = w
        .cmd(&["backup", s(&h.root)])
        .env("HEARTH_IOS_PASSWORD", IOS_PASSWORD)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{}",
        describe(&out)
    );
    let python = python();
    assert!(h.devices[0].encrypted && !h.devices[1].encrypted);

    for (device, plain) in h.devices.iter().zip(&twin.devices) {
        let snapshot = format!("{}@latest", device.udid);
        let db = twin_file(
            &plain.folder,
            "HomeDomain",
            CALENDAR_DB,
            &w.path(&format!("sql-{}/Calendar.sqlitedb", device.udid)),
        );
        let events = count(&db, EVENTS);
        assert!(events > 20, "{events}");

        // One file per calendar that holds events; the reminders' calendar holds none.
        let dir = w.path(&format!("calendar-{}", device.udid));
        let report = export(&w, "calendar", &snapshot, &dir, 0);
        assert_eq!(u(&report["events"]), events, "{report:#}");
        assert!(
            remarks(&report).ends_with("are not exported: 1"),
            "{report:#}"
        );
        let written = files(&dir);
        assert_eq!(u(&report["calendars"]), written.len() as u64, "{report:#}");
        for name in ["Home.ics", "Home (2).ics", "Work.ics", "Family 👪.ics"] {
            assert!(written.contains(name), "{name} in {written:?}");
        }
        assert!(!written.contains("Reminders.ics"), "{written:?}");
        let ics: Vec<PathBuf> = written.iter().map(|f| dir.join(f)).collect();
        let work = read(&dir.join("Work.ics"));
        assert!(work.contains("RRULE:FREQ=WEEKLY;BYDAY=MO,WE\r\n"), "{work}");
        assert!(
            work.contains("LOCATION:Room 4.2\\, Building B\r\n"),
            "{work}"
        );
        assert!(work.contains("TRIGGER:-PT15M\r\n"), "{work}");
        let family = read(&dir.join("Family 👪.ics"));
        assert!(family.contains("DTSTART;VALUE=DATE:"), "{family}");
        assert!(
            family.contains("LOCATION:Lisbon\\; Portugal\r\n"),
            "{family}"
        );
        assert!(family.contains("RECURRENCE-ID:"), "{family}");
        assert!(family.contains("EXDATE:"), "{family}");

        // All calendars in one file.
        let one = w.path(&format!("one-{}/household.ics", device.udid));
        let report = export(&w, "calendar", &snapshot, &one, 0);
        assert_eq!(u(&report["events"]), events, "{report:#}");
        assert_eq!(files(one.parent().unwrap()).len(), 1);

        if let Some(py) = &python {
            let mut args: Vec<&Path> = vec![&db];
            args.extend(ics.iter().map(PathBuf::as_path));
            let v = verify(py, "calendar", &args);
            assert_eq!(u(&v["events"]), events, "{v:#}");
            for what in [
                "recurring",
                "all_day",
                "alarms",
                "exdates",
                "attendees",
                "located",
            ] {
                assert!(u(&v[what]) > 0, "{what}: {v:#}");
            }
            let v = verify(py, "calendar", &[&db, &one]);
            assert_eq!(u(&v["events"]), events, "{v:#}");
        }

        // Notes: the test kit's store, every note but the locked and the thrown-away one.
        let notes_db = twin_file(
            &plain.folder,
            NOTES_GROUP,
            "NoteStore.sqlite",
            &w.path(&format!("sql-{}/NoteStore.sqlite", device.udid)),
        );
        let shown = count(&notes_db, SHOWN_NOTES);
        let dir = w.path(&format!("notes-{}", device.udid));
        let report = export(&w, "notes", &snapshot, &dir, 3);
        assert_eq!(u(&report["notes"]), shown, "{report:#}");
        assert_eq!(u(&report["locked_notes"]), 1, "{report:#}");
        assert!(
            warnings(&report)
                .iter()
                .any(|w| w.contains("\"Bank PINs\"")),
            "{report:#}"
        );
        let written = files(&dir);
        assert_eq!(written.len() as u64, shown);
        for name in [
            "Notes/Shopping list.md",
            "Notes/Meeting notes.md",
            "Notes/Ideas.md",
            "Notes/Ideas (2).md",
            "Recipes/Crème brûlée ☕.md",
            "Recently Deleted/Old draft.md",
            "Trips/2024/Packing for Lisbon.md",
        ] {
            assert!(written.contains(name), "{name} in {written:?}");
        }
        assert!(
            !written
                .iter()
                .any(|f| f.contains("Purged") || f.contains("Bank")),
            "{written:?}"
        );
        let shopping = read(&dir.join("Notes/Shopping list.md"));
        assert!(
            shopping.contains("- [x] Oat milk\n- [ ] Eggs (free range)\n- [x] Flour, 1 kg\n"),
            "{shopping}"
        );
        assert!(
            shopping.contains("Ask Sam about \\*the\\* party\\_snacks"),
            "{shopping}"
        );
        let meeting = read(&dir.join("Notes/Meeting notes.md"));
        for needle in [
            "## Agenda\n",
            "1. Budget\n2. Holidays\n- Kitchen\n    - new tap\n* Garden\n",
            "We **agreed** on an *early* start, ~~not Friday~~, see [the plan](<https://example.com/plan?a=1&b=2>).",
            "```\nwifi: hearth-guest\npass: 4 words `here`\n```\n",
            "Photo of the whiteboard: \\[attachment: Whiteboard.jpeg\\]",
            "Tagged #family",
        ] {
            assert!(meeting.contains(needle), "{needle:?} in\n{meeting}");
        }
        let recipe = read(&dir.join("Recipes/Crème brûlée ☕.md"));
        assert!(
            recipe.contains("Für 4 Personen — 🍮 très bon, 日本語も"),
            "{recipe}"
        );
        if let Some(py) = &python {
            verify(py, "notes", &[&notes_db, &dir]);
        }
    }
}
