//! `hearth ui` run as a real process, and a client holding its session: what every dashboard
//! test starts from. The security tests (tests/e2e/ui.rs) speak raw HTTP beside it.

use super::http::{Reply, request};
use super::procs::Proc;
use super::{World, s};
use serde_json::Value;
use std::time::{Duration, Instant};

/// A running `hearth ui --no-browser`, signed in: the token URL's cookie and the pages' CSRF
/// token. The process is killed and reaped when this is dropped, a panicking test included.
pub struct Dashboard {
    _proc: Proc,
    /// The first stdout line: `http://127.0.0.1:PORT/?token=T`.
    pub url: String,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// `127.0.0.1:PORT`.
    pub host: String,
    pub token: String,
    /// `hearth_session=T`, as the token URL set it.
    pub cookie: String,
    pub csrf: String,
}

impl Dashboard {
    /// `hearth GLOBAL ui --no-browser ARGS` in `w` (process name `name`): asserts that the
    /// first stdout line is the URL with its token, then signs in with it.
    pub fn start(w: &World, name: &str, global: &[&str], args: &[&str]) -> Dashboard {
        let mut all: Vec<&str> = global.to_vec();
        all.extend(["ui", "--no-browser"]);
        all.extend_from_slice(args);
        let mut cmd = w.cmd(&all);
        cmd.env_remove("HEARTH_UI_PASSWORD_FILE");
        let mut proc = Proc::spawn(cmd, w, name);
        proc.wait_for_stdout("http://");
        let stdout = proc.stdout();
        let url = stdout.lines().next().unwrap_or_default().to_owned();
        assert!(
            url.starts_with("http://127.0.0.1:") && url.contains("/?token="),
            "the FIRST stdout line is the dashboard's URL with its token:\n{stdout}"
        );
        let (base, token) = url.split_once("/?token=").unwrap();
        let signed_in = request("GET", &url, &[], b"");
        assert_eq!(
            signed_in.status, 303,
            "the token URL moves the token into a cookie"
        );
        let cookie = signed_in.header("set-cookie").expect("a session cookie");
        let mut d = Dashboard {
            _proc: proc,
            host: base.strip_prefix("http://").unwrap().to_owned(),
            base: base.to_owned(),
            token: token.to_owned(),
            cookie: cookie.split(';').next().unwrap().trim().to_owned(),
            csrf: String::new(),
            url: url.clone(),
        };
        let home = d.page("/");
        d.csrf = between(&home, "name=\"csrf-token\" content=\"", "\"")
            .expect("the page's CSRF token")
            .to_owned();
        d
    }

    /// `hearth ui --no-browser --library W/library ARGS`.
    pub fn with_library(w: &World, args: &[&str]) -> Dashboard {
        let library = w.path("library");
        let mut all = vec!["--library", s(&library)];
        all.extend_from_slice(args);
        Dashboard::start(w, "ui", &[], &all)
    }

    /// A request with the session cookie.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let mut all = vec![("Cookie", self.cookie.as_str())];
        all.extend_from_slice(headers);
        request(method, &format!("{}{path}", self.base), &all, body)
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], b"")
    }

    /// A page's HTML; asserts 200.
    pub fn page(&self, path: &str) -> String {
        let r = self.get(path);
        assert_eq!(r.status, 200, "GET {path}:\n{}", r.text());
        r.text()
    }

    /// A form POST of `fields` as they are (no CSRF token added).
    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let form = [("Content-Type", "application/x-www-form-urlencoded")];
        self.request("POST", path, &form, body.as_bytes())
    }

    /// POST `/jobs/start/KIND` with the CSRF token; the job's id (the redirect's).
    pub fn start_job(&self, kind: &str, fields: &[(&str, &str)]) -> u64 {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        let r = self.post(&format!("/jobs/start/{kind}"), &all);
        assert_eq!(r.status, 303, "{kind} starts: {}", r.text());
        let location = r.location();
        location
            .strip_prefix("/jobs/")
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("a job's page: {location}"))
    }

    /// `/api/jobs/ID` once it is no longer running.
    pub fn wait_job(&self, id: u64) -> Value {
        let start = Instant::now();
        loop {
            let r = self.get(&format!("/api/jobs/{id}"));
            assert_eq!(r.status, 200, "{}", r.text());
            let job: Value = serde_json::from_slice(&r.body).unwrap();
            if job["state"] != "running" {
                return job;
            }
            assert!(
                start.elapsed() < Duration::from_secs(300),
                "job {id}: {job}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `application/x-www-form-urlencoded`'s encoding of one name or value.
pub fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The text between the first `start` and the next `end`.
pub fn between<'t>(text: &'t str, start: &str, end: &str) -> Option<&'t str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

/// Every value of `attr="..."` in `html`, in order.
pub fn attrs(html: &str, attr: &str) -> Vec<String> {
    let key = format!("{attr}=\"");
    html.match_indices(&key)
        .map(|(i, _)| {
            let rest = &html[i + key.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}
