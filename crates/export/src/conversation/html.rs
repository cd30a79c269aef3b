//! A conversation as one HTML5 page: inline CSS, no script; images inline, videos and audio
//! with their elements, other attachments linked. Every message is one
//! `<article class="message">` (events carry the class `event` too).

use super::{Attachment, Conversation, Message, put};
use crate::error::ExportError;
use crate::time::{human, rfc3339};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::fmt::Write as _;
use std::io::Write;

const WHAT: &str = "a conversation page";

const STYLE: &str = "
body{font:15px/1.4 -apple-system,system-ui,'Segoe UI',sans-serif;margin:0;background:#f2f2f7;color:#111}
header{background:#fff;border-bottom:1px solid #ddd;padding:12px 20px}
header h1{margin:0;font-size:20px}
header p{margin:4px 0;color:#555}
main{max-width:760px;margin:0 auto;padding:10px 16px 40px}
h2.day{font-size:12px;color:#777;text-align:center;margin:18px 0 8px;font-weight:600}
article.message{background:#e5e5ea;border-radius:14px;padding:6px 12px;margin:6px 30% 6px 0;overflow-wrap:anywhere}
article.message.from-me{background:#0a84ff;color:#fff;margin:6px 0 6px 30%}
article.message.event{background:none;color:#666;text-align:center;margin:6px 10%;font-size:13px}
article.message.unsent{background:none;border:1px dashed #aaa;color:#777}
.meta{font-size:11px;opacity:.75;margin:0 0 2px}
.sender{font-weight:600;margin-right:6px}
p.text{margin:2px 0;white-space:pre-wrap}
.reply{font-size:13px;border-left:3px solid #999;padding-left:8px;margin:4px 0;opacity:.85}
.reply a{color:inherit}
figure{margin:6px 0}
figure img,figure video{max-width:100%;max-height:480px;border-radius:8px;display:block}
figcaption{font-size:11px;opacity:.75}
.from-me a{color:#fff}
.edited{font-size:11px;opacity:.75;margin:2px 0}
details{font-size:12px}
ul.reactions{list-style:none;margin:4px 0 0;padding:0;font-size:12px}
ul.reactions li{display:inline-block;background:#fff;color:#111;border-radius:10px;padding:0 6px;margin-right:4px}
table{border-collapse:collapse;width:100%;background:#fff}
td,th{padding:6px 10px;border-bottom:1px solid #eee;text-align:left}
";

/// Escapes text for HTML content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and newline are not allowed in HTML text.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A relative link to a file of the export: each path component percent-encoded.
pub(crate) fn href(rel: &str) -> String {
    let mut out = String::new();
    for (i, part) in rel.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        for b in part.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    out.push(b as char)
                }
                b => {
                    let _ = write!(out, "%{b:02X}");
                }
            }
        }
    }
    out
}

/// The anchor of a message id (ids are GUIDs, but from the device: keep them safe).
pub(crate) fn anchor(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() || c == '-' {
            true => c,
            false => '_',
        })
        .collect();
    format!("m-{safe}")
}

fn time_tag(t: Option<Timestamp>, zone: &TimeZone) -> String {
    match t {
        Some(t) => format!(
            "<time datetime=\"{}\">{}</time>",
            rfc3339(t),
            esc(&human(t, zone))
        ),
        None => "<time>(no date)</time>".into(),
    }
}

fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n",
        esc(title)
    )
}

pub(super) struct Page<'w> {
    w: &'w mut dyn Write,
    zone: TimeZone,
    day: Option<String>,
}

impl<'w> Page<'w> {
    pub(super) fn start(
        w: &'w mut dyn Write,
        c: &Conversation,
        zone: &TimeZone,
        app: &str,
    ) -> Result<Self, ExportError> {
        let mut s = head(&c.title);
        let _ = write!(
            s,
            "<body>\n<header>\n<h1>{}</h1>\n<p class=\"members\">",
            esc(&c.title)
        );
        let members: Vec<String> = c
            .members
            .iter()
            .map(|p| match &p.name {
                Some(n) => format!("{} ({})", esc(n), esc(&p.handle)),
                None => esc(&p.handle),
            })
            .collect();
        let _ = write!(
            s,
            "{}</p>\n<p class=\"service\">{}{}</p>\n<p><a href=\"index.html\">All {} conversations</a></p>\n</header>\n<main>\n",
            members.join(", "),
            esc(&c.service),
            if c.group { " · group" } else { "" },
            esc(app)
        );
        put(w, &s, WHAT)?;
        Ok(Self {
            w,
            zone: zone.clone(),
            day: None,
        })
    }

    pub(super) fn message(&mut self, m: &Message) -> Result<(), ExportError> {
        let mut s = String::new();
        if let Some(t) = m.time {
            let day = t
                .to_zoned(self.zone.clone())
                .strftime("%A %-d %B %Y")
                .to_string();
            if self.day.as_ref() != Some(&day) {
                let _ = writeln!(s, "<h2 class=\"day\">{}</h2>", esc(&day));
                self.day = Some(day);
            }
        }
        let mut class = String::from("message");
        for (on, c) in [
            (m.from_me, " from-me"),
            (m.event, " event"),
            (m.unsent, " unsent"),
        ] {
            if on {
                class.push_str(c);
            }
        }
        let _ = write!(
            s,
            "<article class=\"{class}\" id=\"{}\">\n<p class=\"meta\"><span class=\"sender\">{}</span>{}",
            anchor(&m.id),
            esc(&m.sender),
            time_tag(m.time, &self.zone)
        );
        if let Some(service) = &m.service {
            let _ = write!(s, " · {}", esc(service));
        }
        s.push_str("</p>\n");
        if let Some(r) = &m.reply_to {
            let quote = [r.sender.as_deref(), r.excerpt.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": ");
            let _ = writeln!(
                s,
                "<p class=\"reply\">Reply to <a href=\"#{}\">{}</a></p>",
                anchor(&r.id),
                esc(if quote.is_empty() {
                    "a message"
                } else {
                    &quote
                })
            );
        }
        if m.unsent {
            s.push_str("<p class=\"text\"><em>This message was unsent.</em></p>\n");
        } else if let Some(text) = m.text.as_deref().filter(|t| !t.is_empty()) {
            let _ = writeln!(s, "<p class=\"text\">{}</p>", esc(text));
        }
        if let Some((lat, lon)) = m.location {
            let _ = writeln!(
                s,
                "<p class=\"location\"><a href=\"https://maps.apple.com/?ll={lat},{lon}\">Location {lat:.5}, {lon:.5}</a></p>"
            );
        }
        for a in &m.attachments {
            attachment(&mut s, a);
        }
        if let Some(t) = m.edited {
            let _ = writeln!(
                s,
                "<p class=\"edited\">Edited {}</p>",
                time_tag(Some(t), &self.zone)
            );
        }
        if !m.edits.is_empty() {
            s.push_str("<details class=\"edits\"><summary>Earlier versions</summary><ol>\n");
            for e in &m.edits {
                let _ = writeln!(
                    s,
                    "<li>{} {}</li>",
                    time_tag(e.time, &self.zone),
                    esc(&e.text)
                );
            }
            s.push_str("</ol></details>\n");
        }
        if !m.reactions.is_empty() {
            s.push_str("<ul class=\"reactions\">");
            for r in &m.reactions {
                let _ = write!(
                    s,
                    "<li class=\"reaction\" title=\"{}\">{} {}</li>",
                    esc(&r.sender),
                    esc(&r.emoji),
                    esc(&r.sender)
                );
            }
            s.push_str("</ul>\n");
        }
        s.push_str("</article>\n");
        put(self.w, &s, WHAT)
    }

    pub(super) fn finish(self) -> Result<(), ExportError> {
        put(
            self.w,
            "</main>\n<footer><p class=\"meta\">Exported by Hearth</p></footer>\n</body>\n</html>\n",
            WHAT,
        )
    }
}

fn attachment(s: &mut String, a: &Attachment) {
    let name = esc(&a.name);
    let Some(path) = &a.path else {
        let _ = writeln!(
            s,
            "<p class=\"attachment missing\">Attachment not in the backup: {name}</p>"
        );
        return;
    };
    let src = href(path);
    let _ = match a.kind() {
        "image" => writeln!(
            s,
            "<figure class=\"attachment\"><a href=\"{src}\"><img src=\"{src}\" alt=\"{name}\" loading=\"lazy\"></a><figcaption>{name}</figcaption></figure>"
        ),
        "video" => writeln!(
            s,
            "<figure class=\"attachment\"><video controls preload=\"metadata\" src=\"{src}\"></video><figcaption><a href=\"{src}\">{name}</a></figcaption></figure>"
        ),
        "audio" => writeln!(
            s,
            "<figure class=\"attachment\"><audio controls preload=\"none\" src=\"{src}\"></audio><figcaption><a href=\"{src}\">{name}</a></figcaption></figure>"
        ),
        _ => writeln!(
            s,
            "<p class=\"attachment\"><a href=\"{src}\">{name}</a></p>"
        ),
    };
}

/// One conversation as the index lists it.
pub(super) struct IndexRow<'c> {
    pub(super) file: String,
    pub(super) conversation: &'c Conversation,
    pub(super) messages: u64,
    pub(super) last: Option<Timestamp>,
}

pub(super) fn write_index(
    w: &mut dyn Write,
    app: &str,
    rows: &[IndexRow<'_>],
    zone: &TimeZone,
) -> Result<(), ExportError> {
    let title = format!("{app} conversations");
    let mut s = head(&title);
    let _ = write!(
        s,
        "<body>\n<header><h1>{}</h1><p>{} conversations</p></header>\n<main>\n<table>\n\
         <thead><tr><th>Conversation</th><th>Members</th><th>Service</th><th>Messages</th><th>Last message</th></tr></thead>\n<tbody>\n",
        esc(&title),
        rows.len()
    );
    for r in rows {
        let c = r.conversation;
        let members: Vec<&str> = c.members.iter().map(|p| p.display()).collect();
        let _ = writeln!(
            s,
            "<tr class=\"conversation\"><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            href(&r.file),
            esc(&c.title),
            esc(&members.join(", ")),
            esc(&c.service),
            r.messages,
            time_tag(r.last, zone)
        );
    }
    s.push_str("</tbody>\n</table>\n</main>\n</body>\n</html>\n");
    put(w, &s, "the index page")
}
