//! `hearth ui`, the household's dashboard: a real browser (headless Chromium driven by
//! tests/python/drive_ui.py through Selenium and the system's chromedriver) goes through the
//! overview, a device's timeline, pinning, a Check job reloaded while it runs, a snapshot's tree,
//! a SQLite file's tables, a download (its bytes' SHA-256 compared), the photo grid and a photo
//! the browser shows, a message thread, and a plan for restoring onto another kind of device;
//! a screenshot of every page is kept in `target/ui-screenshots/<test>/` for a person to look
//! at. What the pages must show comes from the command line (`snapshots --json`, `dump`,
//! `restore --dry-run`) and SQL on a dumped copy, never from the dashboard.
//!
//! The security tests speak raw HTTP (std's `TcpStream`): no token, no page; the token URL
//! becomes an `HttpOnly`, `SameSite=Strict` cookie and a URL without it; a POST without the CSRF
//! token or from another origin changes nothing; a foreign `Host` is refused; beyond loopback
//! only the login password opens it; no page holds the repository password.

use crate::common;
use crate::handmade;

use common::dashboard::Dashboard;
use common::served::source_files;
use common::{PASSWORD, World, describe, s};
use hearth_testkit::third_party::python;
use hearth_testkit::{Household, HouseholdSpec, generate};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `tiny_cross`'s devices the browser test keeps: an iPad with iPad-only apps, and an iPhone.
const IPAD: usize = 0;
const IPHONE: usize = 1;
const SMS_DB: &str = "HomeDomain/Library/SMS/sms.db";
const NOTES: &str = "HomeDomain/Library/Notes/notes.txt";

// ------------------------------------------------------------------------------------------
// The server

/// A request as a browser holding no session sends it (our `Host`, no cookie).
fn anonymous(d: &Dashboard, method: &str, path: &str) -> Reply {
    http(&d.host, method, path, &[("Host", &d.host)], b"")
}

/// A request with the session cookie and our `Host`, and `headers` besides.
fn with_session(
    d: &Dashboard,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut all = vec![("Host", d.host.as_str()), ("Cookie", d.cookie.as_str())];
    all.extend_from_slice(headers);
    http(&d.host, method, path, &all, body)
}

// ------------------------------------------------------------------------------------------
// Raw HTTP

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request on a fresh connection to `addr`, exactly as given (the caller writes
/// `Host`). Every reply is checked for the repository password: no page may hold it.
fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{method} {path}: no header end in {raw:?}"));
    let head = String::from_utf8(raw[..end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    let reply = Reply {
        status,
        headers,
        body,
    };
    assert!(
        !reply.text().contains(PASSWORD),
        "{method} {path}: the reply holds the repository password"
    );
    reply
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size_text = std::str::from_utf8(&data[..line_end]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

// ------------------------------------------------------------------------------------------
// The household and what the pages must show

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A `width`×`height` RGB PNG of a colour gradient (stored deflate blocks): an image any
/// browser decodes, unlike the generated photos (a real header, then random bytes).
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut raw = Vec::new();
    for y in 0..height {
        raw.push(0); // filter: none
        for x in 0..width {
            raw.extend_from_slice(&[(x * 255 / width) as u8, (y * 255 / height) as u8, 160]);
        }
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        let len = block.len() as u16;
        zlib.push(u8::from(i + 1 == blocks.len()));
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend_from_slice(&network_order((b << 16) | a));
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&network_order(width));
    ihdr.extend_from_slice(&network_order(height));
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, no interlace
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", ihdr), (b"IDAT", zlib), (b"IEND", Vec::new())] {
        out.extend_from_slice(&network_order(data.len() as u32));
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(&data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&network_order(crc));
    }
    out
}

/// PNG's integers are big-endian (network order), written byte by byte.
fn network_order(v: u32) -> [u8; 4] {
    [(v >> 24) as u8, (v >> 16) as u8, (v >> 8) as u8, v as u8]
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// The iPad and iPhone of `tiny_cross` in a repository, one of the iPad's photos made an
/// image the browser can show (padded to its size: a browser stops at IEND); returns the
/// household and that photo's snapshot path.
fn household(w: &World) -> (Household, String) {
    let mut spec = HouseholdSpec::tiny_cross();
    spec.devices.truncate(2);
    let h = generate(&spec, &w.path("house")).unwrap();
    let files = source_files(&h.devices[IPAD].folder);
    let dcim = "CameraRollDomain/Media/DCIM/100APPLE/";
    let photos: Vec<_> = files
        .iter()
        .filter(|(p, _)| p.starts_with(dcim) && (p.ends_with(".PNG") || p.ends_with(".JPG")))
        .collect();
    let (path, file) = photos
        .iter()
        .find(|(p, _)| p.ends_with(".PNG"))
        .or(photos.first())
        .expect("the iPad has a JPEG or PNG photo");
    let len = std::fs::metadata(&file.blob).unwrap().len() as usize;
    let mut image = png(96, 64);
    assert!(image.len() <= len, "{path} is smaller than the image");
    image.resize(len, 0);
    std::fs::write(&file.blob, &image).unwrap();
    w.ok(&[
        "backup",
        s(&h.devices[IPAD].folder),
        s(&h.devices[IPHONE].folder),
    ]);
    (h, path.to_string())
}

/// Snapshot ids by UDID, from `hearth snapshots --json`.
fn snapshots(w: &World) -> Vec<(String, String, bool)> {
    w.json(&["snapshots"], 0)
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["device"]["udid"].as_str().unwrap().to_owned(),
                s["id"].as_str().unwrap().to_owned(),
                s["pinned"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn snapshot_of(w: &World, udid: &str) -> String {
    let all = snapshots(w);
    let mine: Vec<_> = all.iter().filter(|(u, _, _)| u == udid).collect();
    assert_eq!(mine.len(), 1, "{all:?}");
    mine[0].1.clone()
}

/// What the SMS database of `snapshot` holds, by SQL on a dumped copy: its SHA-256, rows of
/// `message` and `chat`, and the conversation a thread page shows (its ids, how many messages
/// besides tapbacks, how many sent).
fn sms_expectations(w: &World, snapshot: &str) -> (Value, Value) {
    let copy = w.path("sms-copy.db");
    w.ok(&["dump", snapshot, SMS_DB, "--out", s(&copy)]);
    let bytes = std::fs::read(&copy).unwrap();
    let db = rusqlite::Connection::open(&copy).unwrap();
    let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    let file = json!({
        "path": SMS_DB,
        "sha256": sha256(&bytes),
        "sqlite_rows": {
            "message": count("SELECT count(*) FROM message"),
            "chat": count("SELECT count(*) FROM chat"),
        },
    });
    let shown = "FROM chat_message_join j JOIN message m ON m.ROWID = j.message_id
        WHERE j.chat_id = c.ROWID AND NOT (m.associated_message_type BETWEEN 2000 AND 3999)";
    let sql = format!(
        "SELECT c.ROWID, c.guid, c.chat_identifier, (SELECT count(*) {shown}) AS n,
           (SELECT count(*) {shown} AND m.is_from_me = 1)
         FROM chat c WHERE n BETWEEN 1 AND 50 ORDER BY n DESC, c.ROWID LIMIT 1"
    );
    let conversation = db
        .query_row(&sql, [], |r| {
            Ok(json!({
                "ids": [r.get::<_, i64>(0)?.to_string(), r.get::<_, String>(1)?, r.get::<_, String>(2)?],
                "messages": r.get::<_, i64>(3)?,
                "sent": r.get::<_, i64>(4)?,
            }))
        })
        .expect("a conversation of 1 to 50 messages (one page of any thread)");
    (file, conversation)
}

/// The rules `restore --dry-run --to TARGET` skips files by.
fn skipped_rules(w: &World, snapshot: &str, target: &str) -> Vec<String> {
    let plan = w.json(&["restore", snapshot, "--dry-run", "--to", target], 0);
    let rules: BTreeSet<String> = plan["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["rule"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !rules.is_empty(),
        "the iPad's plan for an iPhone skips something: {plan:#}"
    );
    rules.into_iter().collect()
}

/// `target/ui-screenshots/<test>/`, emptied.
fn screenshots(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("ui-screenshots")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// tests/python/drive_ui.py on the dashboard; its summary.
fn drive(python: &Path, w: &World, url: &str, out: &Path, expect: &Value) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/drive_ui.py");
    // Beside the screenshots, for a person to see what the pages were held to.
    let expect_file = out.join("expect.json");
    std::fs::write(&expect_file, serde_json::to_vec_pretty(expect).unwrap()).unwrap();
    let home = w.path("browser-home");
    std::fs::create_dir_all(&home).unwrap();
    let run = std::process::Command::new(python)
        .arg(&script)
        .arg(url)
        .arg(out)
        .arg(&expect_file)
        .env("HOME", &home)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    serde_json::from_slice(&run.stdout)
        .unwrap_or_else(|e| panic!("drive_ui.py printed no summary ({e}):\n{}", describe(&run)))
}

// ------------------------------------------------------------------------------------------
// The browser

#[test]
fn the_dashboard_in_a_real_browser() {
    let started = Instant::now();
    // The test venv's Python (with Selenium); skipped loudly only as [`python`] says.
    let Some(python) = python() else { return };
    let w = World::with_repo();
    let (h, photo) = household(&w);
    let (ipad, iphone) = (&h.devices[IPAD], &h.devices[IPHONE]);
    let ipad_snapshot = snapshot_of(&w, &ipad.udid);
    let (file, conversation) = sms_expectations(&w, &ipad_snapshot);
    let rules = skipped_rules(&w, &ipad_snapshot, &iphone.udid);
    let dashboard = Dashboard::with_library(&w, &["--source", s(&w.path("house"))]);
    let expect = json!({
        "devices": [ipad.udid, iphone.udid],
        // The generated backups are dated 2024: both stand out.
        "overdue": [ipad.udid, iphone.udid],
        "device": ipad.udid,
        "snapshots": [ipad_snapshot],
        "pin": ipad_snapshot,
        "snapshot": ipad_snapshot,
        "file": file,
        "photo": photo,
        "conversation": conversation,
        "restore": {"snapshot": ipad_snapshot, "target": iphone.udid, "rules": rules},
        "secrets": [PASSWORD],
    });
    let out = screenshots("the_dashboard_in_a_real_browser");
    println!("screenshots: {}", out.display());
    let summary = drive(&python, &w, &dashboard.url, &out, &expect);
    let failed: Vec<String> = summary["steps"]
        .as_object()
        .unwrap_or_else(|| panic!("no steps: {summary:#}"))
        .iter()
        .filter(|(_, r)| r["ok"] != true)
        .map(|(name, r)| format!("{name}: {} (screenshot {})", r["error"], r["screenshot"]))
        .collect();
    assert!(
        failed.is_empty(),
        "steps failed in the browser (screenshots in {}):\n{}",
        out.display(),
        failed.join("\n")
    );
    for step in [
        "overview", "timeline", "pin", "check", "tree", "file", "download", "photos", "photo",
        "messages", "restore",
    ] {
        assert_eq!(
            summary["steps"][step]["ok"], true,
            "{step} ran: {summary:#}"
        );
        assert!(out.join(format!("{step}.png")).is_file(), "{step}.png");
    }

    // The repository afterwards: the pin the page set is the repository's.
    let pinned: Vec<_> = snapshots(&w)
        .into_iter()
        .filter(|(_, _, p)| *p)
        .map(|(_, id, _)| id)
        .collect();
    assert_eq!(pinned, vec![ipad_snapshot.clone()]);
    // The check the page ran is the overview's last check.
    let overview = with_session(&dashboard, "GET", "/", &[], b"").text();
    assert!(overview.contains("no errors"), "{overview}");
    // The downloaded bytes are the snapshot's.
    let saved = summary["steps"]["download"]["saved"].as_str().unwrap();
    assert_eq!(
        sha256(&std::fs::read(saved).unwrap()),
        file["sha256"].as_str().unwrap()
    );

    // Raw bytes never run as the dashboard: a database is an attachment, an image is shown,
    // both sandboxed; a range is served for video players.
    let raw = |path: &str, headers: &[(&str, &str)]| {
        with_session(
            &dashboard,
            "GET",
            &format!("/snapshot/{ipad_snapshot}/raw/{path}"),
            headers,
            b"",
        )
    };
    let db = raw(SMS_DB, &[]);
    assert_eq!(db.status, 200);
    assert_eq!(sha256(&db.body), file["sha256"].as_str().unwrap());
    assert_eq!(db.header("content-type"), Some("application/octet-stream"));
    assert!(
        db.header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment"))
    );
    assert!(
        db.header("content-security-policy")
            .is_some_and(|c| c.contains("sandbox"))
    );
    let image = raw(&photo, &[]);
    assert_eq!(image.status, 200);
    assert!(
        image
            .header("content-type")
            .is_some_and(|t| t.starts_with("image/")),
        "{:?}",
        image.headers
    );
    assert!(
        image
            .header("content-security-policy")
            .is_some_and(|c| c.contains("sandbox"))
    );
    let part = raw(SMS_DB, &[("Range", "bytes=100-199")]);
    assert_eq!(part.status, 206);
    assert_eq!(part.body.len(), 100);
    println!(
        "the browser test took {:?} (the check's page reloaded while it ran: {})",
        started.elapsed(),
        summary["steps"]["check"]["reloaded_while_running"]
    );
}

// ------------------------------------------------------------------------------------------
// Security

/// A repository holding one small handmade device; its snapshot id.
fn small_repo(w: &World) -> String {
    let device = handmade::good_device(&w.path("src"), "00008030-000A1B2C3D4E5F60");
    w.ok(&["backup", s(&device.folder)]);
    snapshot_of(w, "00008030-000A1B2C3D4E5F60")
}

#[test]
fn no_page_without_the_token_and_the_token_becomes_a_strict_cookie() {
    let w = World::with_repo();
    let snapshot = small_repo(&w);
    let d = Dashboard::with_library(&w, &[]);
    let raw = format!("/snapshot/{snapshot}/raw/{NOTES}");
    for path in [
        "/",
        "/api/jobs/1",
        raw.as_str(),
        "/assets/app.js",
        "/device/00008030-000A1B2C3D4E5F60",
    ] {
        let r = anonymous(&d, "GET", path);
        assert_eq!(
            r.status,
            403,
            "GET {path} without the session: {}",
            r.text()
        );
        assert!(!r.text().contains("notes"), "{path}: {}", r.text());
    }
    let r = anonymous(&d, "POST", "/jobs/start/check");
    assert_eq!(r.status, 403, "a POST without the session");
    let wrong = anonymous(&d, "GET", &format!("/?token={}", "0".repeat(64)));
    assert_eq!(wrong.status, 403, "a wrong token");
    assert!(wrong.header("set-cookie").is_none());

    // The token URL: a cookie scripts cannot read and other sites' requests do not carry, and a
    // redirect to the same page without the token (the rest of the query kept).
    let r = anonymous(&d, "GET", &format!("/?token={}", d.token));
    assert!(matches!(r.status, 302 | 303 | 307), "{}", r.status);
    assert_eq!(r.header("location"), Some("/"));
    let cookie = r.header("set-cookie").unwrap();
    assert!(cookie.contains(&d.token), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let r = anonymous(&d, "GET", &format!("/jobs?a=1&token={}&b=2", d.token));
    assert_eq!(r.header("location"), Some("/jobs?a=1&b=2"));

    // With the cookie: the page, hardened, without the token in it.
    let page = with_session(&d, "GET", "/", &[], b"");
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(
        !page.text().contains(&d.token),
        "the page holds the session token"
    );
    assert!(
        page.header("content-security-policy")
            .is_some_and(|c| c.contains("frame-ancestors 'none'"))
    );
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    // Not `no-referrer`: under it a browser's form POSTs carry `Origin: null`, which the CSRF
    // check refuses (the browser test's Pin and Check found that).
    assert_eq!(page.header("referrer-policy"), Some("same-origin"));
    for path in [
        "/jobs",
        "/device/00008030-000A1B2C3D4E5F60",
        "/assets/app.js",
    ] {
        let r = with_session(&d, "GET", path, &[], b"");
        assert_eq!(r.status, 200, "{path}");
    }
}

#[test]
fn a_post_without_the_csrf_token_or_from_another_origin_changes_nothing() {
    let w = World::with_repo();
    let snapshot = small_repo(&w);
    let d = Dashboard::with_library(&w, &[]);
    let csrf = d.csrf.clone();
    let pin = format!("/snapshot/{snapshot}/pin");
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let origin = format!("http://{}", d.host);
    let pinned = || snapshots(&w).iter().any(|(_, _, p)| *p);

    let r = with_session(&d, "POST", &pin, &form, b"");
    assert_eq!(r.status, 403, "no CSRF token: {}", r.text());
    let r = with_session(&d, "POST", &pin, &form, b"csrf=0000");
    assert_eq!(r.status, 403, "a wrong CSRF token: {}", r.text());
    let body = format!("csrf={csrf}");
    let foreign = [form[0], ("Origin", "http://evil.example")];
    let r = with_session(&d, "POST", &pin, &foreign, body.as_bytes());
    assert_eq!(r.status, 403, "another origin: {}", r.text());
    let r = with_session(&d, "POST", "/jobs/start/check", &foreign, body.as_bytes());
    assert_eq!(r.status, 403, "another origin starting a job: {}", r.text());
    assert!(!pinned(), "a refused POST pinned the snapshot");
    let jobs = with_session(&d, "GET", "/jobs", &[], b"").text();
    assert!(
        jobs.contains("Nothing has run"),
        "a refused POST started a job:\n{jobs}"
    );

    // The same POST with the token from our origin is what pins (the refusals were not about
    // anything else).
    let ours = [form[0], ("Origin", origin.as_str())];
    let r = with_session(&d, "POST", &pin, &ours, body.as_bytes());
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(pinned());
}

#[test]
fn a_foreign_host_name_is_refused() {
    let w = World::with_repo();
    small_repo(&w);
    let d = Dashboard::with_library(&w, &[]);
    let cookie = d.cookie.clone();
    for host in ["evil.example", "evil.example:80", "127.0.0.1:1"] {
        let r = http(
            &d.host,
            "GET",
            "/",
            &[("Host", host), ("Cookie", &cookie)],
            b"",
        );
        assert_eq!(r.status, 421, "Host: {host}: {}", r.text());
        assert!(
            !r.text().contains("Household"),
            "Host: {host}: {}",
            r.text()
        );
        let r = http(
            &d.host,
            "GET",
            &format!("/?token={}", d.token),
            &[("Host", host)],
            b"",
        );
        assert_eq!(r.status, 421, "Host: {host} with the token");
        assert!(
            r.header("set-cookie").is_none(),
            "a foreign host got the cookie"
        );
    }
    let port = d.host.rsplit_once(':').unwrap().1;
    let localhost = format!("localhost:{port}");
    let r = http(
        &d.host,
        "GET",
        "/",
        &[("Host", &localhost), ("Cookie", &cookie)],
        b"",
    );
    assert_eq!(r.status, 200, "localhost is this server");
}

#[test]
fn beyond_loopback_the_dashboard_needs_a_password_and_takes_only_it() {
    let w = World::with_repo();
    small_repo(&w);
    let run = w
        .cmd(&["ui", "--no-browser", "--listen", "0.0.0.0:0"])
        .env_remove("HEARTH_UI_PASSWORD_FILE")
        .output()
        .unwrap();
    assert_ne!(run.status.code(), Some(0), "{}", describe(&run));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("--login-password-file"),
        "the message names the way out:\n{err}"
    );
    assert!(
        run.stdout.is_empty(),
        "no URL is printed:\n{}",
        describe(&run)
    );

    let login_password = "kitchen table 42";
    let file = w.path("ui-password");
    std::fs::write(&file, format!("{login_password}\n")).unwrap();
    let d = Dashboard::with_library(
        &w,
        &["--listen", "0.0.0.0:0", "--login-password-file", s(&file)],
    );
    let host = d.host.as_str();
    let r = http(host, "GET", "/", &[("Host", host)], b"");
    assert!(
        matches!(r.status, 302 | 303 | 307),
        "no session: to the login page ({})",
        r.status
    );
    assert_eq!(r.header("location"), Some("/login"));
    let r = http(host, "GET", "/login", &[("Host", host)], b"");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("type=\"password\""), "{}", r.text());
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    for wrong in ["kitchen table 4", "", "kitchen table 42 ", PASSWORD] {
        let body = format!("password={}", wrong.replace(' ', "+"));
        let r = http(
            host,
            "POST",
            "/login",
            &[("Host", host), form],
            body.as_bytes(),
        );
        assert_eq!(r.status, 401, "{wrong:?}");
        assert!(r.header("set-cookie").is_none(), "{wrong:?} opened it");
    }
    let body = format!("password={}", login_password.replace(' ', "+"));
    let r = http(
        host,
        "POST",
        "/login",
        &[("Host", host), form],
        body.as_bytes(),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let cookie = r.header("set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let page = http(
        host,
        "GET",
        "/",
        &[("Host", host), ("Cookie", &cookie)],
        b"",
    );
    assert_eq!(page.status, 200);
    assert!(
        !page.text().contains(login_password),
        "a page holds the login password"
    );
}

/// The overview's figures are `hearth stats`'s, device by device and byte for byte; its last
/// check is the one `hearth check` recorded; a device last backed up more than 7 days ago
/// stands out (the test kit's backups are dated 2024).
#[test]
fn the_overview_shows_what_stats_and_check_say() {
    let w = World::with_repo();
    let h = generate(&HouseholdSpec::tiny_cross(), &w.path("house")).unwrap();
    w.ok(&["backup", s(&h.root)]);
    w.ok(&["check"]);
    let stats = w.json(&["stats"], 0);
    let d = Dashboard::with_library(&w, &[]);
    let start = Instant::now();
    let storage = loop {
        let r = d.get("/storage");
        if r.status == 200 {
            break r.text();
        }
        assert_eq!(r.status, 202, "{}", r.text());
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "storage figures never came"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let devices = stats["devices"].as_array().unwrap();
    assert_eq!(devices.len(), h.devices.len());
    for device in devices {
        let udid = device["udid"].as_str().unwrap();
        let row = common::dashboard::between(&storage, &format!("data-udid=\"{udid}\""), "</tr>")
            .unwrap_or_else(|| panic!("no row for {udid}:\n{storage}"));
        let cells: Vec<u64> = common::dashboard::attrs(row, "data-bytes")
            .iter()
            .map(|b| b.parse().unwrap())
            .collect();
        let expected =
            ["logical_bytes", "unique_bytes", "shared_bytes"].map(|k| device[k].as_u64().unwrap());
        assert_eq!(cells, expected, "{udid}: logical, unique, shared");
    }
    let dedup = format!("{:.1}×", stats["dedup_ratio"].as_f64().unwrap());
    assert!(storage.contains(&dedup), "dedup {dedup}:\n{storage}");

    let overview = d.page("/");
    let check =
        common::dashboard::between(&overview, "id=\"last-check\"", ">").expect("a last check");
    assert!(check.contains("data-ok=\"true\""), "{check}");
    let snapshots = stats["snapshots"].as_u64().unwrap();
    assert!(
        check.contains(&format!("data-snapshots=\"{snapshots}\"")),
        "{check}"
    );
    let cards = common::dashboard::attrs(&overview, "data-device");
    for device in &h.devices {
        let shown = cards.iter().filter(|u| **u == device.udid).count();
        assert_eq!(shown, 1, "one card for {}", device.udid);
    }
    assert_eq!(
        overview.matches("class=\"card overdue\"").count(),
        h.devices.len(),
        "every test-kit device was last backed up in 2024"
    );
}
