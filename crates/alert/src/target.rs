//! Where a notification goes, and how, chosen by its URL:
//!
//! | URL | kind | what is sent |
//! |---|---|---|
//! | `ntfy+https://…`, `ntfy+http://…`, or host `ntfy.sh` | ntfy | problems only: `POST` of the plain-text body to the topic URL, with `Title`, `Priority` and `Tags` headers |
//! | `hc+https://…`, `hc+http://…`, or host `hc-ping.com` | Healthchecks-style ping | a success: `POST URL` with the body; a problem: `POST URL/fail` |
//! | any other `http(s)://` URL | webhook | problems only: `POST` of the JSON document, `Content-Type: application/json` |
//!
//! Credentials in the URL's userinfo (`https://user:pass@host/…`) are sent as HTTP basic
//! authentication. Every URL is shown (in errors and failures) as its kind, scheme and host
//! only: a topic name, a ping UUID or a webhook path is as good as a password.

use crate::error::AlertError;
use crate::event::Stamped;
use base64::Engine as _;
use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ntfy,
    Healthchecks,
    Webhook,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Ntfy => "ntfy",
            Kind::Healthchecks => "healthchecks",
            Kind::Webhook => "webhook",
        }
    }
}

/// One `--notify` URL, parsed.
#[derive(Debug, Clone)]
pub struct Target {
    pub kind: Kind,
    /// Without the `ntfy+`/`hc+` prefix and without userinfo.
    url: Url,
    /// `Basic …`, from the URL's userinfo.
    authorization: Option<String>,
    shown: String,
}

/// One HTTP request to make (always a POST).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Target {
    pub fn parse(text: &str) -> Result<Target, AlertError> {
        let (forced, rest) = split_prefix(text.trim());
        let bad = |problem: &str| AlertError::BadUrl {
            shown: shown_of_text(text),
            problem: problem.to_owned(),
        };
        let mut url = Url::parse(rest).map_err(|e| bad(&format!("not a URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("only http and https URLs can be notified"));
        }
        let host = url.host_str().ok_or_else(|| bad("no host"))?.to_owned();
        let kind = forced.unwrap_or(match host.as_str() {
            "ntfy.sh" => Kind::Ntfy,
            "hc-ping.com" => Kind::Healthchecks,
            _ => Kind::Webhook,
        });
        let authorization = basic_auth(&url);
        // Both always succeed on an http(s) URL with a host.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        let shown = format!("{} {}://{host}{port}/…", kind.name(), url.scheme());
        Ok(Target {
            kind,
            url,
            authorization,
            shown,
        })
    }

    /// The kind, scheme and host, nothing secret: how messages name this target.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The request that tells this target of `event`; `None` when this kind is not told of
    /// such events (ntfy and webhooks hear of problems only).
    pub fn request(&self, event: &Stamped) -> Option<Request> {
        let problem = event.event.is_problem();
        let mut r = match self.kind {
            Kind::Ntfy if problem => self.ntfy(event),
            Kind::Webhook if problem => Request {
                url: self.url.to_string(),
                headers: vec![("Content-Type", "application/json".into())],
                body: event.json().to_string().into_bytes(),
            },
            Kind::Healthchecks => Request {
                url: if problem {
                    self.fail_url()
                } else {
                    self.url.to_string()
                },
                headers: vec![("Content-Type", "text/plain; charset=utf-8".into())],
                body: event.text().into_bytes(),
            },
            Kind::Ntfy | Kind::Webhook => return None,
        };
        if let Some(a) = &self.authorization {
            r.headers.push(("Authorization", a.clone()));
        }
        Some(r)
    }

    fn ntfy(&self, event: &Stamped) -> Request {
        let e = &event.event;
        Request {
            url: self.url.to_string(),
            headers: vec![
                ("Title", header_text(&e.title())),
                (
                    "Priority",
                    if e.is_problem() { "high" } else { "default" }.into(),
                ),
                ("Tags", e.tags().into()),
                ("Content-Type", "text/plain; charset=utf-8".into()),
            ],
            body: e.body().into_bytes(),
        }
    }

    /// The ping URL with `/fail` appended to its path (a query stays after it).
    fn fail_url(&self) -> String {
        let mut u = self.url.clone();
        let path = format!("{}/fail", u.path().trim_end_matches('/'));
        u.set_path(&path);
        u.to_string()
    }

    /// The full URL, to scrub from error texts.
    pub(crate) fn secret_url(&self) -> &str {
        self.url.as_str()
    }
}

/// `ntfy+` or `hc+` forces the kind.
fn split_prefix(text: &str) -> (Option<Kind>, &str) {
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("ntfy+") {
        (Some(Kind::Ntfy), &text[5..])
    } else if lower.starts_with("hc+") {
        (Some(Kind::Healthchecks), &text[3..])
    } else {
        (None, text)
    }
}

fn basic_auth(url: &Url) -> Option<String> {
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let pair = format!(
        "{}:{}",
        decode(url.username()),
        decode(url.password().unwrap_or(""))
    );
    Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    ))
}

/// A URL that did not parse, shown as its scheme and host as far as they can be told apart.
fn shown_of_text(text: &str) -> String {
    let (_, rest) = split_prefix(text.trim());
    let Some((scheme, after)) = rest.split_once("://") else {
        return "(not a URL)".into();
    };
    let authority = after.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    format!("{scheme}://{host}/…")
}

/// Header values are ASCII; other text goes as an RFC 2047 encoded word, which ntfy (2.4 and
/// later) decodes.
fn header_text(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.is_ascii() {
        one_line
    } else {
        let b64 = base64::engine::general_purpose::STANDARD.encode(one_line);
        format!("=?UTF-8?B?{b64}?=")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{DeviceRef, Event};

    fn stamped(event: Event) -> Stamped {
        Stamped::new(event, 1_700_000_000, "pantry")
    }

    fn failed() -> Stamped {
        stamped(Event::BackupFailed {
            name: "Anna’s iPhone".into(),
            udid: Some("00008110-000A".into()),
            error: "Manifest.db: not a database".into(),
        })
    }

    fn succeeded() -> Stamped {
        stamped(Event::BackupSucceeded {
            device: DeviceRef {
                name: "iPad".into(),
                udid: "ab".into(),
            },
            snapshot: "1a2b3c4d".into(),
            files: 10,
            bytes_added: 2048,
            unchanged: false,
        })
    }

    #[test]
    fn the_kind_follows_the_prefix_else_the_host() {
        let kind = |u: &str| Target::parse(u).unwrap().kind;
        assert_eq!(kind("https://ntfy.sh/family"), Kind::Ntfy);
        assert_eq!(kind("ntfy+http://10.0.0.2:8080/family"), Kind::Ntfy);
        assert_eq!(kind("NTFY+https://push.example.org/x"), Kind::Ntfy);
        assert_eq!(kind("https://hc-ping.com/5f3e"), Kind::Healthchecks);
        assert_eq!(
            kind("hc+https://hc.example.org/ping/5f3e"),
            Kind::Healthchecks
        );
        assert_eq!(kind("https://hooks.example.org/abc"), Kind::Webhook);
        assert_eq!(kind("http://127.0.0.1:9/x"), Kind::Webhook);
    }

    #[test]
    fn bad_urls_are_refused_without_their_secrets() {
        for (url, problem) in [
            ("ftp://ntfy.sh/x", "only http and https"),
            ("hc+mailto:a@b", "only http and https"),
            ("ntfy.sh/family", "not a URL"),
            ("https://user:hunter2@[::1/secret-topic", "not a URL"),
        ] {
            let e = Target::parse(url).unwrap_err().to_string();
            assert!(e.contains(problem), "{url}: {e}");
            assert!(
                !e.contains("hunter2") && !e.contains("secret-topic") && !e.contains("family"),
                "{e}"
            );
        }
    }

    #[test]
    fn userinfo_becomes_basic_auth_and_is_never_shown() {
        let t =
            Target::parse("ntfy+https://anna:p%40ss@push.example.org:8443/topic-9f2?x=1").unwrap();
        assert_eq!(t.shown(), "ntfy https://push.example.org:8443/…");
        let r = t.request(&failed()).unwrap();
        assert_eq!(r.url, "https://push.example.org:8443/topic-9f2?x=1");
        let auth = r
            .headers
            .iter()
            .find(|(k, _)| *k == "Authorization")
            .unwrap();
        // anna:p@ss
        assert_eq!(auth.1, "Basic YW5uYTpwQHNz");
    }

    #[test]
    fn ntfy_gets_plain_text_with_title_priority_and_tags_and_no_successes() {
        let t = Target::parse("https://ntfy.sh/family").unwrap();
        let r = t.request(&failed()).unwrap();
        let header = |name: &str| {
            r.headers
                .iter()
                .find(|(k, _)| *k == name)
                .unwrap()
                .1
                .clone()
        };
        assert_eq!(header("Priority"), "high");
        assert_eq!(header("Tags"), "rotating_light");
        // "Backup of Anna’s iPhone failed", RFC 2047-encoded for its apostrophe.
        assert!(
            header("Title").starts_with("=?UTF-8?B?"),
            "{}",
            header("Title")
        );
        let body = String::from_utf8(r.body).unwrap();
        assert!(body.contains("Manifest.db: not a database"), "{body}");
        assert_eq!(t.request(&succeeded()), None);
    }

    #[test]
    fn healthchecks_pings_success_and_posts_problems_to_fail() {
        let t = Target::parse("hc+https://hc.example.org/ping/5f3e/?rid=1").unwrap();
        assert_eq!(
            t.request(&succeeded()).unwrap().url,
            "https://hc.example.org/ping/5f3e/?rid=1"
        );
        assert_eq!(
            t.request(&failed()).unwrap().url,
            "https://hc.example.org/ping/5f3e/fail?rid=1"
        );
        let t = Target::parse("https://hc-ping.com/5f3e").unwrap();
        assert_eq!(
            t.request(&failed()).unwrap().url,
            "https://hc-ping.com/5f3e/fail"
        );
    }

    #[test]
    fn webhooks_get_the_json_document() {
        let t = Target::parse("https://hooks.example.org/abc").unwrap();
        let r = t.request(&failed()).unwrap();
        assert_eq!(
            r.headers,
            vec![("Content-Type", "application/json".to_string())]
        );
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["event"], "backup_failed");
        assert_eq!(v["device"]["udid"], "00008110-000A");
        assert_eq!(t.request(&succeeded()), None);
    }
}
