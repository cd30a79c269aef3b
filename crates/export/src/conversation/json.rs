//! A conversation as JSON, written one message at a time:
//!
//! ```json
//! {"title": "...", "service": "iMessage", "group": false, "id": "...",
//!  "members": [{"handle": "+44...", "name": "Mum"}],
//!  "messages": [{"id", "time", "from_me", "sender", "handle", "text", "event", "unsent",
//!                "attachments": [{"name", "mime", "path", "size"}],
//!                "reactions": [{"emoji", "sender", "time"}], "edited", "edits": [{"time", "text"}],
//!                "reply_to": {"id", "sender", "excerpt"}, "service", "location": [lat, lon]}]}
//! ```
//!
//! Times are RFC 3339 in UTC; absent values are `null` (or `[]`).

use super::{Conversation, Message, io, put};
use crate::error::ExportError;
use crate::time::rfc3339;
use jiff::Timestamp;
use serde_json::{Value, json};
use std::io::Write;

const WHAT: &str = "a conversation's JSON file";

pub(super) struct File<'w> {
    w: &'w mut dyn Write,
    first: bool,
}

fn time(t: Option<Timestamp>) -> Value {
    t.map(|t| json!(rfc3339(t))).unwrap_or(Value::Null)
}

impl<'w> File<'w> {
    pub(super) fn start(w: &'w mut dyn Write, c: &Conversation) -> Result<Self, ExportError> {
        let members: Vec<Value> = c
            .members
            .iter()
            .map(|p| json!({"handle": p.handle, "name": p.name}))
            .collect();
        let head = json!({
            "title": c.title,
            "service": c.service,
            "group": c.group,
            "id": c.id,
            "members": members,
        });
        // The head object without its closing brace, then the messages array streamed.
        let s = head.to_string();
        let open = s.strip_suffix('}').unwrap_or(&s);
        put(w, &format!("{open},\"messages\":[\n"), WHAT)?;
        Ok(Self { w, first: true })
    }

    pub(super) fn message(&mut self, m: &Message) -> Result<(), ExportError> {
        let v = json!({
            "id": m.id,
            "time": time(m.time),
            "from_me": m.from_me,
            "sender": m.sender,
            "handle": m.handle,
            "text": if m.unsent { None } else { m.text.as_deref() },
            "event": m.event,
            "unsent": m.unsent,
            "attachments": m.attachments.iter().map(|a| json!({
                "name": a.name, "mime": a.mime, "path": a.path, "size": a.size,
            })).collect::<Vec<_>>(),
            "reactions": m.reactions.iter().map(|r| json!({
                "emoji": r.emoji, "sender": r.sender, "time": time(r.time),
            })).collect::<Vec<_>>(),
            "edited": time(m.edited),
            "edits": m.edits.iter().map(|e| json!({"time": time(e.time), "text": e.text}))
                .collect::<Vec<_>>(),
            "reply_to": m.reply_to.as_ref().map(|r| json!({
                "id": r.id, "sender": r.sender, "excerpt": r.excerpt,
            })),
            "service": m.service,
            "location": m.location.map(|(a, b)| json!([a, b])),
        });
        if !self.first {
            put(self.w, ",\n", WHAT)?;
        }
        self.first = false;
        serde_json::to_writer(&mut *self.w, &v).map_err(|e| io(WHAT)(e.into()))
    }

    pub(super) fn finish(self) -> Result<(), ExportError> {
        put(self.w, "\n]}\n", WHAT)
    }
}
