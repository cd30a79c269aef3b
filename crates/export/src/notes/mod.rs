//! `hearth export notes`: the Notes app's notes as Markdown, one file per note in a folder per
//! Notes folder (`<folder>/<title>.md`, nested folders nested, an account's name first when
//! the notes come from several accounts), each dated by the note's modification time.
//!
//! Read from the modern store, `AppDomainGroup-group.com.apple.notes` `NoteStore.sqlite`
//! ([`store`]); a note's text is a gzipped protobuf ([`proto`]) rendered by [`markdown`].
//!
//! What is left out, and why:
//! * Password-protected notes: their text is encrypted with the note's own password (not the
//!   backup's), so it cannot be read. Each is named in a warning and counted in
//!   `locked_notes`.
//! * Notes Notes has already thrown away (`ZMARKEDFORDELETION`: removed from Recently Deleted,
//!   or the unlocked copy of a note that was then locked): Notes shows them nowhere. Notes in
//!   Recently Deleted that Notes still shows are exported, into that folder.
//! * Attachments' files (photos, scans, drawings): a note shows where each was and its name.
//! * The legacy store of iOS 8 and earlier (`notes.sqlite`), and notes kept only on a Mac or in
//!   another account type that iOS does not back up.

mod markdown;
mod proto;
mod store;

use crate::error::ExportError;
use crate::out::{OutDir, safe_name, set_mtime};
use crate::report::Tally;
use crate::source::Source;
use crate::time::{from_apple_seconds, local_zone};
use flate2::read::GzDecoder;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::collections::HashSet;
use std::io::Read;
use store::{FolderRow, NoteRow, Store};

pub const DOMAIN: &str = "AppDomainGroup-group.com.apple.notes";
pub const NOTE_STORE: &str = "NoteStore.sqlite";

/// The count of notes written.
const NOTES_COUNT: &str = "notes";

/// Largest note text read (gunzipped): a bigger one is damage or a gzip bomb, and is left out
/// with a warning.
const MAX_NOTE_BYTES: u64 = 64 << 20;
/// Folders deeper than this (or a loop of parents) are cut: Notes nests a few levels.
const MAX_FOLDER_DEPTH: usize = 16;
/// Characters of a note's first line used as the title of a note that has none.
const TITLE_FROM_TEXT: usize = 80;

pub fn export(src: &Source<'_>, out: &OutDir, tally: &mut Tally) -> Result<(), ExportError> {
    for what in [NOTES_COUNT, "folders", "locked_notes"] {
        tally.add(what, 0);
    }
    let Some(db) = src.database(DOMAIN, NOTE_STORE)? else {
        tally.remark(format!(
            "no Notes store ({DOMAIN} {NOTE_STORE}) in this snapshot: no notes to export"
        ));
        return Ok(());
    };
    let store = Store::load(&db)?;
    let plan = NotesPlan::new(&store);
    if plan.thrown_away > 0 {
        tally.remark(format!(
            "notes Notes has already thrown away (emptied from Recently Deleted, or replaced), not exported: {}",
            plan.thrown_away
        ));
    }
    for (note, folder) in &plan.locked {
        tally.warn(format!(
            "note \"{}\" in {folder} is locked with its own password: its text is encrypted and not exported",
            note.title.as_deref().unwrap_or("(untitled)")
        ));
        tally.add("locked_notes", 1);
    }
    let zone = local_zone();
    let mut taken = HashSet::new();
    let mut folders = HashSet::new();
    for (note, folder) in &plan.notes {
        let body = match note.data.as_deref().map(note_body).transpose() {
            Ok(body) => body,
            Err(why) => {
                tally.warn(format!(
                    "note {} (\"{}\") in {folder}: {why}; not exported",
                    note.pk,
                    note.title.as_deref().unwrap_or("untitled")
                ));
                continue;
            }
        };
        if body.is_none() {
            tally.remark(format!(
                "note {} (\"{}\") in {folder} has no text in {NOTE_STORE}; exported with its title only",
                note.pk,
                note.title.as_deref().unwrap_or("untitled")
            ));
        }
        let title = title_of(note, body.as_ref());
        let rel = unique(folder, &title, &mut taken);
        let page = page(&title, note, body.as_ref(), &store, &zone);
        let path = out.replace(&rel, page.as_bytes())?;
        if let Some(t) = note.modified.and_then(from_apple_seconds) {
            set_mtime(&path, t)?;
        }
        tally.add(NOTES_COUNT, 1);
        folders.insert(folder.clone());
    }
    tally.add("folders", folders.len() as u64);
    Ok(())
}

/// Which notes go out, into which folder (pure: no I/O).
struct NotesPlan<'s> {
    /// Notes to write, with their folder path relative to the output (`a/b`).
    notes: Vec<(&'s NoteRow, String)>,
    /// Locked notes, with the folder they are in.
    locked: Vec<(&'s NoteRow, String)>,
    /// Notes marked for deletion, which Notes shows nowhere.
    thrown_away: usize,
}

impl<'s> NotesPlan<'s> {
    fn new(store: &'s Store) -> Self {
        let shown: Vec<&NoteRow> = store
            .notes
            .iter()
            .filter(|n| !n.marked_for_deletion)
            .collect();
        let accounts: HashSet<i64> = shown
            .iter()
            .filter_map(|n| {
                n.folder
                    .and_then(|f| store.folders.get(&f))
                    .and_then(|f| f.account)
            })
            .collect();
        let with_account = accounts.len() > 1;
        let mut plan = Self {
            notes: Vec::new(),
            locked: Vec::new(),
            thrown_away: store.notes.len() - shown.len(),
        };
        for note in shown {
            let folder = folder_path(store, note.folder, with_account);
            match note.locked {
                true => plan.locked.push((note, folder)),
                false => plan.notes.push((note, folder)),
            }
        }
        plan
    }
}

/// The folder path of a Notes folder: its parents' names first, its account's name first of
/// all when `with_account`; each name made safe.
fn folder_path(store: &Store, folder: Option<i64>, with_account: bool) -> String {
    let Some(row) = folder.and_then(|f| store.folders.get(&f)) else {
        return "Notes without a folder".to_string();
    };
    let mut names = vec![folder_name(row)];
    let mut seen = HashSet::from([folder]);
    let mut top = row;
    while let Some(parent) = top.parent.filter(|p| seen.insert(Some(*p))) {
        let Some(p) = store.folders.get(&parent) else {
            break;
        };
        if names.len() >= MAX_FOLDER_DEPTH {
            break;
        }
        names.push(folder_name(p));
        top = p;
    }
    if with_account {
        let account = row.account.and_then(|a| store.accounts.get(&a));
        names.push(safe_name(account.map_or("Unknown account", String::as_str)));
    }
    names.reverse();
    names.join("/")
}

fn folder_name(row: &FolderRow) -> String {
    safe_name(row.title.as_deref().unwrap_or("Untitled folder"))
}

/// A file name for `title` in `folder` that no other note of this export has (case folded:
/// macOS and Windows file systems ignore case), as `folder/name.md`.
fn unique(folder: &str, title: &str, taken: &mut HashSet<String>) -> String {
    let stem = safe_name(title);
    let mut n = 1;
    loop {
        let name = match n {
            1 => format!("{stem}.md"),
            n => format!("{stem} ({n}).md"),
        };
        let rel = format!("{folder}/{name}");
        if taken.insert(rel.to_lowercase()) {
            return rel;
        }
        n += 1;
    }
}

/// The note's title, else its first line, else "Untitled note".
fn title_of(note: &NoteRow, body: Option<&proto::NoteBody>) -> String {
    if let Some(t) = note
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        return t.to_string();
    }
    let first_line = body.and_then(|b| {
        b.text
            .split('\n')
            .map(|l| l.replace('\u{FFFC}', "").trim().to_string())
            .find(|l| !l.is_empty())
    });
    match first_line {
        Some(line) => line.chars().take(TITLE_FROM_TEXT).collect(),
        None => "Untitled note".to_string(),
    }
}

/// The Markdown page: the title as a heading, when it was created and modified, the text.
fn page(
    title: &str,
    note: &NoteRow,
    body: Option<&proto::NoteBody>,
    store: &Store,
    zone: &TimeZone,
) -> String {
    let mut page = format!("# {}\n\n", markdown::escape(title));
    let dates = [("Created", note.created), ("Modified", note.modified)]
        .into_iter()
        .filter_map(|(what, t)| {
            Some(format!(
                "{what}: {}",
                when(t.and_then(from_apple_seconds)?, zone)
            ))
        })
        .collect::<Vec<_>>();
    if !dates.is_empty() {
        page.push_str(&dates.join("  \n"));
        page.push_str("\n\n");
    }
    if let Some(body) = body {
        let shown = |a: &proto::AttachmentRef| {
            a.identifier
                .as_ref()
                .and_then(|id| store.attachments.get(id))
                .cloned()
                .or_else(|| a.type_uti.as_ref().map(|u| format!("[attachment: {u}]")))
        };
        page.push_str(&markdown::render(body, Some(title), &shown));
    }
    while page.ends_with("\n\n") {
        page.pop();
    }
    page
}

/// `2024-07-28 16:20 CEST`: the household's time, with its zone named.
fn when(t: Timestamp, zone: &TimeZone) -> String {
    t.to_zoned(zone.clone())
        .strftime("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// A note's text out of `ZICNOTEDATA.ZDATA`: gzipped protobuf (or, should a store keep it
/// uncompressed, the protobuf itself).
fn note_body(data: &[u8]) -> Result<proto::NoteBody, String> {
    let raw = match data.starts_with(&[0x1f, 0x8b]) {
        true => gunzip(data)?,
        false => data.to_vec(),
    };
    proto::decode_note(&raw).map_err(|e| format!("the note text does not decode: {e}"))
}

fn gunzip(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    GzDecoder::new(data)
        .take(MAX_NOTE_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("the note text does not gunzip: {e}"))?;
    match out.len() as u64 > MAX_NOTE_BYTES {
        true => Err(format!("the note text is more than {MAX_NOTE_BYTES} bytes")),
        false => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::database::Database;
    use std::path::{Path, PathBuf};

    fn fixture(rel: &str) -> PathBuf {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures")
            .join(rel);
        assert!(p.is_file(), "the fixture {} is required", p.display());
        p
    }

    const IOS17: &str = "ios-databases/hickman-ios17.3-iphone11/Containers/Shared/AppGroup/72DA7FCC-4DD6-458D-A328-D7CD7ED267D2/NoteStore.sqlite";
    const IOS15: &str = "ios-databases-extra/hickman-ios15-notes-via-plaso/NoteStore.sqlite";

    /// The store at `rel`, with its `-wal` when `with_wal`.
    fn store(rel: &str, with_wal: bool) -> Store {
        let src = fixture(rel);
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("NoteStore.sqlite");
        std::fs::copy(&src, &copy).unwrap();
        let wal = src.with_file_name("NoteStore.sqlite-wal");
        if with_wal && wal.is_file() {
            std::fs::copy(&wal, dir.path().join("NoteStore.sqlite-wal")).unwrap();
        }
        let db = Database::open_copy(&copy, "NoteStore.sqlite", "test").unwrap();
        Store::load(&db).unwrap()
    }

    fn titles(notes: &[(&NoteRow, String)]) -> Vec<String> {
        notes
            .iter()
            .map(|(n, f)| format!("{f}/{}", n.title.as_deref().unwrap_or("?")))
            .collect()
    }

    fn rendered(store: &Store, title: &str) -> String {
        let note = store
            .notes
            .iter()
            .find(|n| n.title.as_deref() == Some(title))
            .unwrap();
        let body = note_body(note.data.as_deref().unwrap()).unwrap();
        page(title, note, Some(&body), store, &TimeZone::UTC)
    }

    #[test]
    fn ios17_notes_with_and_without_the_wal() {
        for with_wal in [true, false] {
            let store = store(IOS17, with_wal);
            assert_eq!(store.notes.len(), 14);
            let plan = NotesPlan::new(&store);
            assert_eq!(
                titles(&plan.notes),
                [
                    "Notes/iOS 15 Note",
                    "Notes/My First Note",
                    "Notes/iOS 14 Note",
                    "Notes/iOS 16 Note",
                    "Notes/My iOS 17 Note",
                    "Notes/Shared iOS 17 Note",
                ]
            );
            assert_eq!(
                titles(&plan.locked),
                [
                    "Notes/Secure iOS 15 Note",
                    "Notes/iOS 14 Locked Note",
                    "My New Folder/My Super Secret Note",
                    "Notes/My Secret Note",
                    "Notes/iOS 16 Secure Note",
                    "Notes/iOS 17 Locked Note",
                ]
            );
        }
        let store = store(IOS17, true);
        let page = rendered(&store, "iOS 16 Note");
        assert!(page.starts_with("# iOS 16 Note\n\nCreated: 2024-01-17 21:52 UTC  \nModified: 2024-01-17 22:00 UTC\n\n"), "{page}");
        assert!(page.contains("Here is my first iOS 16 note."), "{page}");
        assert!(
            page.contains("This is DFIR Two. I wrote this sentence."),
            "{page}"
        );
        // The title line is the heading, not repeated.
        assert_eq!(page.matches("iOS 16 Note").count(), 1, "{page}");
        let first = rendered(&store, "My First Note");
        assert!(
            first.contains("This is my first note.  Nothing special."),
            "{first}"
        );
    }

    #[test]
    fn ios15_notes_of_the_older_schema() {
        let store = store(IOS15, false);
        assert_eq!(store.notes.len(), 8);
        let plan = NotesPlan::new(&store);
        assert_eq!(
            titles(&plan.notes),
            [
                "Notes/My First Note",
                "Notes/iOS 14 Note",
                "Notes/iOS 15 Note"
            ]
        );
        assert_eq!(plan.locked.len(), 4);
        let page = rendered(&store, "iOS 14 Note");
        assert!(
            page.contains("This is a note created for iOS 14.  It is created on iPhone."),
            "{page}"
        );
        assert!(page.contains("Created: 2021-02-15 20:21 UTC"), "{page}");
    }

    #[test]
    fn damaged_note_data_is_an_error_not_a_panic() {
        let store = store(IOS17, true);
        let data = store.notes[0].data.clone().unwrap();
        assert!(note_body(&data).is_ok());
        for end in [0, 1, 5, 10, data.len() / 2, data.len() - 1] {
            assert!(note_body(&data[..end]).is_err(), "cut at {end}");
        }
        let mut flipped = data.clone();
        let at = flipped.len() / 2;
        flipped[at] ^= 0x55;
        assert!(note_body(&flipped).is_err());
    }

    #[test]
    fn a_store_of_an_unknown_schema_names_what_it_lacks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("NoteStore.sqlite");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR);
             INSERT INTO Z_PRIMARYKEY VALUES (11, 'ICNote'), (14, 'ICFolder');
             CREATE TABLE ZICCLOUDSYNCINGOBJECT (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, ZTITLE1 VARCHAR);
             CREATE TABLE ZICNOTEDATA (Z_PK INTEGER PRIMARY KEY, ZNOTE INTEGER, ZDATA BLOB);",
        )
        .unwrap();
        drop(conn);
        let db = Database::open_copy(&path, "NoteStore.sqlite", "test").unwrap();
        let err = Store::load(&db).unwrap_err();
        assert!(
            matches!(&err, ExportError::Schema { table, column: Some(c), .. } if table == store::TABLE && c == "ZFOLDER"),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("has no column ZFOLDER in table ZICCLOUDSYNCINGOBJECT"),
            "{err}"
        );
    }

    #[test]
    fn names_are_unique_in_a_folder_whatever_their_case() {
        let mut taken = HashSet::new();
        assert_eq!(unique("Notes", "Plan", &mut taken), "Notes/Plan.md");
        assert_eq!(unique("Notes", "plan", &mut taken), "Notes/plan (2).md");
        assert_eq!(unique("Work", "Plan", &mut taken), "Work/Plan.md");
        assert_eq!(unique("Notes", "a/b", &mut taken), "Notes/a_b.md");
    }
}
