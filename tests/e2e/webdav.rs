//! `hearth webdav`: a real WebDAV client (rclone, from the test venv) copies devices out of
//! the server, an encrypted backup's among them, and the copies are compared with the source
//! folders (the encrypted one's unencrypted twin) byte for byte; requests of the test's own
//! (ureq) check ranges, PROPFIND depths, refused writes and refused foreign `Host`s; SIGTERM
//! ends the server with 0.

use crate::common;

use common::procs::Proc;
use common::served::{Expect, assert_serves};
use common::{World, s};
use hearth_testkit::servers::find_venv_bin;
use hearth_testkit::{HouseholdSpec, generate_with_twin};
use std::path::Path;
use std::process::Command;

const IOS_PASSWORD: &str = "served as plaintext";

/// `hearth webdav` on a free loopback port; its base URL (`http://127.0.0.1:PORT`).
fn serve(w: &World) -> (Proc, String) {
    let mut proc = Proc::run(w, "webdav", &["webdav", "--listen", "127.0.0.1:0"]);
    let line = proc.wait_for_stdout("read-only at http://");
    let url = line
        .rsplit_once(" at ")
        .map(|(_, u)| u.trim_end_matches('/').to_owned())
        .unwrap();
    (proc, url)
}

/// rclone from the test venv. Missing, the test fails, unless HEARTH_ALLOW_MISSING_PYTHON=1
/// outside CI, when it is skipped loudly (`None`), as the S3 tests are.
fn rclone() -> Option<std::path::PathBuf> {
    match find_venv_bin(&["rclone"]) {
        Ok(bin) => Some(bin.join("rclone")),
        Err(why)
            if std::env::var_os("CI").is_none()
                && std::env::var("HEARTH_ALLOW_MISSING_PYTHON").as_deref() == Ok("1") =>
        {
            eprintln!("\n*** SKIPPED: {why} (HEARTH_ALLOW_MISSING_PYTHON=1) ***\n");
            None
        }
        Err(why) => panic!(
            "{why}: run `export HEARTH_PYTHON=\"$(scripts/python-env)\"` (scripts/test and .ci/run do)"
        ),
    }
}

/// `rclone copy` of `remote_path` on the server into `dest`.
fn rclone_copy(w: &World, rclone: &Path, url: &str, remote_path: &str, dest: &Path) {
    let out = Command::new(rclone)
        .args(["copy", "--config", "/dev/null", "--webdav-url", url])
        // rclone waits 10 ms between requests to a WebDAV server by default.
        .args(["--webdav-pacer-min-sleep", "1ms", "--retries", "1"])
        .arg(format!(":webdav:{remote_path}"))
        .arg(dest)
        .env("HOME", w.dir.path())
        .env_remove("RCLONE_CONFIG")
        .output()
        .expect("rclone runs");
    assert!(
        out.status.success(),
        "rclone copy {remote_path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `%`-encodes what a URL path cannot hold as is.
fn url_path(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// One request: status, headers, body.
fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, ureq::http::HeaderMap, Vec<u8>) {
    common::http::request(method, url, headers, body).parts()
}

#[test]
fn rclone_copies_devices_out_and_an_encrypted_one_reads_as_its_plaintext() {
    let Some(rclone) = rclone() else { return };
    let w = World::with_repo();
    let (h, twin) =
        generate_with_twin(&HouseholdSpec::tiny_mixed(IOS_PASSWORD), &w.path("house")).unwrap();
    let (phone, pad) = (&h.devices[0], &h.devices[1]);
    assert!(phone.encrypted && !pad.encrypted);
    let mut backup = w.cmd(&["backup", s(&phone.folder), s(&pad.folder)]);
    let out = backup
        .env("HEARTH_IOS_PASSWORD", IOS_PASSWORD)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", common::describe(&out));

    let (server, url) = serve(&w);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    // The encrypted phone, copied out through WebDAV, is its unencrypted twin's files.
    let copy = w.path("copy-phone");
    rclone_copy(&w, &rclone, &url, &format!("/{}/latest", phone.name), &copy);
    let twin_phone = &twin.devices[0].folder;
    let expect = Expect {
        source: twin_phone,
        own_bytes: false,
        mtimes: true,
    };
    let phone_files = assert_serves(&copy, &expect);
    // And the plain iPad is its own folder's, plists and Manifest.db included.
    let copy = w.path("copy-pad");
    rclone_copy(&w, &rclone, &url, &format!("/{}/latest", pad.name), &copy);
    let expect = Expect {
        source: &pad.folder,
        own_bytes: true,
        mtimes: true,
    };
    let pad_files = assert_serves(&copy, &expect);
    assert!(phone_files + pad_files > 200, "{phone_files} + {pad_files}");

    // A range of a file, as a player seeking in a video asks for it.
    let sources = common::served::source_files(twin_phone);
    let (path, big) = sources
        .iter()
        .map(|(p, f)| (p, std::fs::read(&f.blob).unwrap()))
        .max_by_key(|(_, b)| b.len())
        .unwrap();
    assert!(big.len() > 100_000, "{path}: {} bytes", big.len());
    let file_url = format!(
        "{url}{}",
        url_path(&format!("/{}/latest/{path}", phone.name))
    );
    let (status, headers, body) = request("GET", &file_url, &[("Range", "bytes=70000-99999")], b"");
    assert_eq!(status, 206);
    assert!(body == big[70_000..100_000], "the range's bytes");
    assert_eq!(
        headers["content-range"],
        format!("bytes 70000-99999/{}", big.len()).as_str()
    );
    let (status, headers, body) = request("HEAD", &file_url, &[], b"");
    assert_eq!((status, body.len()), (200, 0));
    assert_eq!(headers["content-length"], big.len().to_string().as_str());

    // PROPFIND at depth 0 (the thing itself) and 1 (and what it holds).
    let device_url = format!("{url}{}/", url_path(&format!("/{}", phone.name)));
    let (status, _, body) = request("PROPFIND", &device_url, &[("Depth", "1")], b"");
    let text = String::from_utf8(body).unwrap();
    assert_eq!(status, 207, "{text}");
    assert!(text.contains("/latest/"), "{text}");
    assert_eq!(
        text.matches("<D:response>").count(),
        3,
        "itself, one snapshot and latest: {text}"
    );
    let (status, _, body) = request("PROPFIND", &file_url, &[("Depth", "0")], b"");
    let text = String::from_utf8(body).unwrap();
    assert_eq!(status, 207, "{text}");
    assert!(
        text.contains(&format!("<D:getcontentlength>{}<", big.len())),
        "{text}"
    );
    let (status, headers, _) = request("OPTIONS", &format!("{url}/"), &[], b"");
    assert_eq!(status, 200);
    assert_eq!(
        headers["dav"], "1",
        "class 1: no locks, so Finder mounts read-only"
    );

    // Writes are refused, and the file is as it was.
    let new_url = format!("{url}{}", url_path(&format!("/{}/latest/new", phone.name)));
    for (method, at) in [
        ("PUT", &file_url),
        ("PUT", &new_url),
        ("DELETE", &file_url),
        ("MKCOL", &new_url),
        ("MOVE", &file_url),
        ("PROPPATCH", &file_url),
        ("LOCK", &file_url),
    ] {
        let (status, _, _) = request(method, at, &[("Destination", &new_url)], b"written");
        assert!(matches!(status, 403 | 405), "{method} {at}: {status}");
    }
    let (status, _, body) = request("GET", &file_url, &[], b"");
    assert_eq!(status, 200);
    assert!(body == big, "the whole file, unchanged");

    // A page of another site that resolves its own name to 127.0.0.1 gets nothing.
    let (status, _, _) = request("GET", &file_url, &[("Host", "attacker.example")], b"");
    assert_eq!(status, 403);

    server.signal(libc::SIGTERM);
    let ended = server.wait_named("hearth webdav after SIGTERM");
    ended.ok("hearth webdav after SIGTERM");
    assert!(ended.stdout.contains("stopped"), "{}", ended.describe());
    assert!(common::names(&w.repo().join("locks")).is_empty());
}

#[test]
fn a_non_loopback_address_needs_allow_remote() {
    let w = World::with_repo();
    let out = w.run(&["webdav", "--listen", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a loopback address") && err.contains("--allow-remote"),
        "{err}"
    );
}
