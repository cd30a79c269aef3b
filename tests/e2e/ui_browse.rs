//! `hearth ui`'s snapshot browser and diff, through the real binary and plain HTTP (ureq): a
//! handmade device backed up twice; the first snapshot's tree's folder sizes are the sums of the source files,
//! a raw download is `hearth dump`'s bytes, a range is exactly that slice (206), a folder's zip
//! reads back in Python's zipfile with the same files, a device's HTML is an attachment under a
//! sandbox CSP, a SQLite database's page lists its tables with their row counts, the diff page
//! lists the file the second backup added, and hostile paths or an unknown snapshot are 404s.

use crate::common;
use crate::handmade::{HandDevice, text};

use common::dashboard::Dashboard;
use common::{World, describe, s};
use hearth_testkit::bytes::noise;
use std::collections::BTreeMap;
use std::process::Command;

const UDID: &str = "5eb0a5e0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6";
const NOTES: &str = "HomeDomain/Library/Notes";
const SMS: &str = "HomeDomain/Library/SMS/sms.db";
const PHOTO: &str = "CameraRollDomain/Media/DCIM/100APPLE/IMG_0001.JPG";

/// `GET path` with the session and `headers`: status, headers, body.
fn get(
    ui: &Dashboard,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, ureq::http::HeaderMap, Vec<u8>) {
    ui.request("GET", path, headers, b"").parts()
}

/// The `<tr data-path="PATH" ...>...</tr>` of a tree page.
fn row<'h>(html: &'h str, path: &str) -> &'h str {
    let start = html
        .find(&format!("<tr data-path=\"{path}\""))
        .unwrap_or_else(|| panic!("no row {path:?} in:\n{html}"));
    let end = start + html[start..].find("</tr>").unwrap();
    &html[start..end]
}

/// The value of `attr="..."` in `html` after `from`.
fn attr<'h>(html: &'h str, name: &str) -> &'h str {
    let key = format!("{name}=\"");
    let start = html
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + key.len();
    &html[start..start + html[start..].find('"').unwrap()]
}

/// A SQLite database with tables of known row counts, as bytes.
fn database(w: &World) -> Vec<u8> {
    let path = w.path("sms.db");
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(
        "CREATE TABLE message (text TEXT);
         CREATE TABLE handle (id TEXT);
         CREATE TABLE chat (id INTEGER);
         INSERT INTO handle VALUES ('+44 7700 900123'), ('mum@example.com');",
    )
    .unwrap();
    for i in 0..37 {
        db.execute("INSERT INTO message VALUES (?1)", [format!("message {i}")])
            .unwrap();
    }
    drop(db);
    std::fs::read(&path).unwrap()
}

fn backup(w: &World, d: &mut HandDevice) {
    // Manifest.db is written whole again by finish().
    let _ = std::fs::remove_file(d.folder.join("Manifest.db"));
    d.finish();
    let out = w.run(&["backup", s(&d.folder)]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

fn snapshot_ids(w: &World) -> Vec<String> {
    let v = w.json(&["snapshots", "--device", UDID], 0);
    (v.as_array().unwrap().iter())
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_snapshot_browsed_downloaded_and_diffed_over_http_is_its_backups_bytes() {
    let w = World::with_repo();
    let mut d = HandDevice::new(&w.path("Backup"), UDID, "Browsed iPhone");
    let notes: BTreeMap<&str, Vec<u8>> = [
        ("notes.txt", text(1, 40_000)),
        ("a b ü.txt", text(2, 3_000)),
        (
            "page.html",
            b"<html><script>alert(document.cookie)</script></html>".to_vec(),
        ),
    ]
    .into_iter()
    .collect();
    for (name, bytes) in &notes {
        d.file("HomeDomain", &format!("Library/Notes/{name}"), bytes);
    }
    d.file("HomeDomain", "Library/SMS/sms.db", &database(&w));
    let mut photo = b"\xFF\xD8\xFF\xE0".to_vec();
    photo.extend(noise(3, 300_000));
    d.file(
        "CameraRollDomain",
        &PHOTO["CameraRollDomain/".len()..],
        &photo,
    );
    backup(&w, &mut d);
    // A second backup adds a file (for the diff). Both come before the server starts: it sees
    // another process's snapshots when its read lease is next taken, not at once.
    d.file("HomeDomain", "Library/Notes/later.txt", &text(4, 12_345));
    backup(&w, &mut d);
    let ids = snapshot_ids(&w);
    assert_eq!(ids.len(), 2);
    let ui = Dashboard::start(&w, "ui", &[], &[]);
    let snap = ids[0].clone();
    let tree = |p: &str| ui.page(&format!("/snapshot/{snap}/tree/{p}"));

    // The tree: the folder's rows, folders first, and its size the sum of its files.
    let home = tree("HomeDomain/Library");
    let notes_row = row(&home, NOTES);
    assert!(notes_row.contains("data-kind=\"dir\""), "{notes_row}");
    let sum: usize = notes.values().map(Vec::len).sum();
    assert_eq!(attr(notes_row, "data-bytes"), sum.to_string());
    assert!(home.find(NOTES) < home.find("HomeDomain/Library/SMS\""));
    let listing = tree("HomeDomain/Library/Notes");
    for (name, bytes) in &notes {
        let r = row(&listing, &format!("{NOTES}/{name}"));
        assert!(r.contains("data-kind=\"file\""), "{r}");
        assert_eq!(attr(r, "data-bytes"), bytes.len().to_string());
    }
    // Names are percent-encoded in links, and such a link leads to the file.
    let odd = format!("/snapshot/{snap}/file/{NOTES}/a%20b%20%C3%BC.txt");
    assert!(listing.contains(&odd), "{listing}");
    assert!(ui.page(&odd).contains("<pre class=\"text\">"));
    assert!(listing.contains(&format!(
        "class=\"download-zip\" href=\"/snapshot/{snap}/zip/{NOTES}\""
    )));

    // Raw bytes are `hearth dump`'s; a range is exactly its slice.
    let dumped = w.cmd(&["dump", &snap, PHOTO]).output().unwrap();
    assert_eq!(dumped.status.code(), Some(0), "{}", describe(&dumped));
    assert!(dumped.stdout == photo, "dump gives the source bytes");
    let raw = format!("/snapshot/{snap}/raw/{PHOTO}");
    let (status, headers, body) = get(&ui, &raw, &[]);
    assert_eq!(status, 200);
    assert!(body == dumped.stdout, "raw gives dump's bytes");
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(headers["content-security-policy"], "sandbox");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );
    let (status, headers, body) = get(&ui, &raw, &[("Range", "bytes=123456-200000")]);
    assert_eq!(status, 206);
    assert!(body == photo[123_456..=200_000], "the range's bytes");
    assert_eq!(
        headers["content-range"],
        format!("bytes 123456-200000/{}", photo.len()).as_str()
    );
    let (status, _, _) = get(&ui, &raw, &[("Range", "bytes=999999999-")]);
    assert_eq!(status, 416);
    let (_, headers, _) = get(&ui, &format!("{raw}?download=1"), &[]);
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"IMG_0001.JPG\"; filename*=UTF-8''IMG_0001.JPG"
    );
    let file_page = ui.page(&format!("/snapshot/{snap}/file/{PHOTO}"));
    assert!(
        file_page.contains(&format!("<img src=\"{raw}\"")),
        "{file_page}"
    );

    // The device's HTML never runs as the dashboard: an attachment, sandboxed.
    let (status, headers, body) = get(&ui, &format!("/snapshot/{snap}/raw/{NOTES}/page.html"), &[]);
    assert_eq!(status, 200);
    assert!(body == notes["page.html"]);
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(headers["content-security-policy"], "sandbox");
    assert_eq!(headers["x-content-type-options"], "nosniff");

    // A SQLite database: its tables and their rows.
    let db_page = ui.page(&format!("/snapshot/{snap}/file/{SMS}"));
    for (table, rows) in [("message", 37), ("handle", 2), ("chat", 0)] {
        let start = db_page
            .find(&format!("<tr data-table=\"{table}\">"))
            .unwrap_or_else(|| panic!("no table {table}:\n{db_page}"));
        let tr = &db_page[start..start + db_page[start..].find("</tr>").unwrap()];
        assert!(
            tr.contains(&format!("<td class=\"rows num\">{rows}</td>")),
            "{tr}"
        );
    }

    // A folder as a zip: Python's zipfile reads it, and it holds the folder's files.
    let (status, headers, zip) = get(&ui, &format!("/snapshot/{snap}/zip/{NOTES}"), &[]);
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/zip");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("filename=\"Notes.zip\"")
    );
    std::fs::write(w.path("notes.zip"), &zip).unwrap();
    let python = hearth_testkit::third_party::python().expect("python");
    let out = Command::new(python)
        .args([
            "-c",
            "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nz.extractall(sys.argv[2])",
            s(&w.path("notes.zip")),
            s(&w.path("unzipped")),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    for (name, bytes) in &notes {
        let got = std::fs::read(w.path("unzipped").join(NOTES).join(name)).unwrap();
        assert!(got == *bytes, "{name} in the zip");
    }
    let unzipped = std::fs::read_dir(w.path("unzipped").join(NOTES))
        .unwrap()
        .count();
    assert_eq!(unzipped, notes.len());

    // Hostile paths and unknown snapshots are 404s, not a file of the server and not a panic.
    let unknown = "0".repeat(64);
    for path in [
        format!("/snapshot/{snap}/raw/{NOTES}/../../../../etc/passwd"),
        format!("/snapshot/{snap}/raw/%2E%2E/%2E%2E/etc/passwd"),
        format!("/snapshot/{snap}/tree/HomeDomain/..%2F..%2F"),
        format!("/snapshot/{snap}/file/HomeDomain/Nope"),
        format!("/snapshot/{unknown}/tree/"),
        format!("/snapshot/{unknown}/raw/{SMS}"),
    ] {
        let (status, _, _) = get(&ui, &path, &[]);
        assert_eq!(status, 404, "{path}");
    }

    // The diff lists the file the second backup added, and what grew.
    let diff = ui.page(&format!("/diff?from={}&to={}", ids[0], ids[1]));
    assert!(diff.contains("id=\"diff-summary\""), "{diff}");
    let added = diff
        .find("<tr data-change=\"added\"")
        .expect("an added row");
    let tr = &diff[added..added + diff[added..].find("</tr>").unwrap()];
    assert!(tr.contains(&format!("{NOTES}/later.txt")), "{tr}");
    assert!(diff.contains("<table class=\"growth\">"), "{diff}");
}
