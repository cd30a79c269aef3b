//! A conversation as plain text: a header, then one block per message.

use super::{Conversation, Message, put};
use crate::error::ExportError;
use crate::time::human;
use jiff::tz::TimeZone;
use std::fmt::Write as _;
use std::io::Write;

const WHAT: &str = "a conversation's text file";

pub(super) struct File<'w> {
    w: &'w mut dyn Write,
    zone: TimeZone,
}

impl<'w> File<'w> {
    pub(super) fn start(
        w: &'w mut dyn Write,
        c: &Conversation,
        zone: &TimeZone,
    ) -> Result<Self, ExportError> {
        let mut s = format!("{}\n", c.title);
        let members: Vec<String> = c
            .members
            .iter()
            .map(|p| match &p.name {
                Some(n) => format!("{n} ({})", p.handle),
                None => p.handle.clone(),
            })
            .collect();
        let _ = writeln!(s, "Members: {}", members.join(", "));
        let _ = writeln!(
            s,
            "Service: {}{}\n",
            c.service,
            if c.group { " (group)" } else { "" }
        );
        put(w, &s, WHAT)?;
        Ok(Self {
            w,
            zone: zone.clone(),
        })
    }

    pub(super) fn message(&mut self, m: &Message) -> Result<(), ExportError> {
        let when = m
            .time
            .map(|t| human(t, &self.zone))
            .unwrap_or_else(|| "no date".into());
        let mut s = match m.event {
            true => format!("[{when}] * {}", m.sender),
            false => format!("[{when}] {}:", m.sender),
        };
        if let Some(r) = &m.reply_to {
            let _ = write!(
                s,
                " (reply to {}{})",
                r.sender.as_deref().unwrap_or("a message"),
                r.excerpt
                    .as_deref()
                    .map(|e| format!(": \"{e}\""))
                    .unwrap_or_default()
            );
        }
        if m.unsent {
            s.push_str(" (unsent)");
        } else if let Some(text) = m.text.as_deref().filter(|t| !t.is_empty()) {
            // Continuation lines are indented so that a message's lines stay together.
            let _ = write!(s, " {}", text.replace('\n', "\n    "));
        }
        s.push('\n');
        if let Some((lat, lon)) = m.location {
            let _ = writeln!(s, "    [location: {lat:.5}, {lon:.5}]");
        }
        for a in &m.attachments {
            let _ = match &a.path {
                Some(p) => writeln!(s, "    [attachment: {} -> ../{p}]", a.name),
                None => writeln!(s, "    [attachment not in the backup: {}]", a.name),
            };
        }
        if let Some(t) = m.edited {
            let _ = writeln!(s, "    (edited {})", human(t, &self.zone));
        }
        for e in &m.edits {
            let when = e.time.map(|t| human(t, &self.zone)).unwrap_or_default();
            let _ = writeln!(s, "    (earlier version {when}: {})", e.text);
        }
        if !m.reactions.is_empty() {
            let r: Vec<String> = m
                .reactions
                .iter()
                .map(|r| format!("{} {}", r.emoji, r.sender))
                .collect();
            let _ = writeln!(s, "    (reactions: {})", r.join(", "));
        }
        put(self.w, &s, WHAT)
    }

    pub(super) fn finish(self) -> Result<(), ExportError> {
        Ok(())
    }
}
