//! One model of a conversation, shared by Messages and WhatsApp, and its writers: one HTML page
//! (self-contained, no script), one plain-text file and one JSON file per conversation, plus an
//! `index.html` listing them all.
//!
//! Output layout, under the snapshot's export folder:
//!
//! ```text
//! index.html                       every conversation, newest first
//! <title>.html                     one page per conversation
//! text/<title>.txt                 the same as plain text
//! json/<title>.json                the same as JSON (streamed: one message at a time)
//! attachments/<title>/<file>       attachments, linked relatively from the page
//! ```
//!
//! A reader hands [`Conversations::write`] the conversation and a closure that feeds its
//! messages one at a time in order; the three files are written side by side as messages
//! arrive, so a 100,000-message chat is never held in memory. Names come from titles through
//! [`safe_name`], made unique (`Mum (2)`), and a second run replaces the files it wrote.

mod html;
mod json;
mod text;

use crate::error::ExportError;
use crate::out::{OutDir, safe_name};
use crate::source::{Source, SourceFile};
use crate::unique::UniqueNames;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::io::Write;

/// A conversation: who is in it and what it is called.
#[derive(Debug, Clone, Default)]
pub struct Conversation {
    /// The group's name, else its members' names, else the handle.
    pub title: String,
    /// The other people in it (not the device's owner).
    pub members: Vec<Person>,
    pub group: bool,
    /// `iMessage`, `SMS`, `WhatsApp`...
    pub service: String,
    /// The source's identifier (a chat GUID, a WhatsApp JID).
    pub id: String,
}

/// Someone in a conversation: their handle (phone number, e-mail address, JID) and the
/// address book's name for it when it has one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    pub handle: String,
    pub name: Option<String>,
}

impl Person {
    /// The name when known, else the handle.
    pub fn display(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.handle)
    }
}

/// One message (or one event line, such as "named the conversation").
#[derive(Debug, Clone, Default)]
pub struct Message {
    /// Unique in the conversation (a GUID): the page's anchor for replies.
    pub id: String,
    pub time: Option<Timestamp>,
    pub from_me: bool,
    /// Who sent it: "Me", a contact's name, or the handle.
    pub sender: String,
    /// The sender's handle, when known and not the owner.
    pub handle: Option<String>,
    pub text: Option<String>,
    /// A system event rather than something someone wrote.
    pub event: bool,
    /// Unsent (retracted) by its sender: the text is gone.
    pub unsent: bool,
    pub attachments: Vec<Attachment>,
    pub reactions: Vec<Reaction>,
    /// When it was last edited.
    pub edited: Option<Timestamp>,
    /// Earlier versions of the text, oldest first, where the database keeps them.
    pub edits: Vec<Edit>,
    pub reply_to: Option<Reply>,
    /// The service of this message when it differs within a conversation (SMS fallback).
    pub service: Option<String>,
    /// A shared location (latitude, longitude).
    pub location: Option<(f64, f64)>,
}

#[derive(Debug, Clone, Default)]
pub struct Attachment {
    /// The file's name as sent.
    pub name: String,
    pub mime: Option<String>,
    /// Where the copy is, relative to the export folder; `None` when the backup lacks it.
    pub path: Option<String>,
    pub size: Option<u64>,
}

impl Attachment {
    fn kind(&self) -> &'static str {
        let mime = self.mime.as_deref().unwrap_or("").to_ascii_lowercase();
        let ext = self
            .name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        match () {
            _ if mime.starts_with("image/") => "image",
            _ if mime.starts_with("video/") => "video",
            _ if mime.starts_with("audio/") => "audio",
            _ if ["jpg", "jpeg", "png", "gif", "heic", "webp"].contains(&ext.as_str()) => "image",
            _ if ["mov", "mp4", "m4v"].contains(&ext.as_str()) => "video",
            _ if ["m4a", "mp3", "caf", "amr", "opus", "aac"].contains(&ext.as_str()) => "audio",
            _ => "file",
        }
    }
}

/// A reaction (tapback) on a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Reaction {
    /// The emoji shown (❤️, 👍, ...).
    pub emoji: String,
    pub sender: String,
    pub time: Option<Timestamp>,
}

/// An earlier version of an edited message.
#[derive(Debug, Clone, PartialEq)]
pub struct Edit {
    pub time: Option<Timestamp>,
    pub text: String,
}

/// What a message replies to.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// The [`Message::id`] replied to.
    pub id: String,
    pub sender: Option<String>,
    /// The start of its text.
    pub excerpt: Option<String>,
}

/// The start of `text` for a reply's quote: at most `chars` characters.
pub fn excerpt(text: &str, chars: usize) -> String {
    let t = text.trim();
    match t.char_indices().nth(chars) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
    }
}

/// The conversations of one export, written into one folder.
pub struct Conversations<'o> {
    out: &'o OutDir,
    /// "Messages" or "WhatsApp": the index page's title.
    app: &'static str,
    zone: TimeZone,
    names: UniqueNames,
    index: Vec<IndexEntry>,
}

/// What the index page lists of one conversation.
struct IndexEntry {
    name: String,
    conversation: Conversation,
    messages: u64,
    last: Option<Timestamp>,
}

/// What one conversation's files hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub messages: u64,
    pub attachments: u64,
    pub reactions: u64,
}

impl<'o> Conversations<'o> {
    pub fn new(out: &'o OutDir, app: &'static str) -> Self {
        Self {
            out,
            app,
            zone: crate::time::local_zone(),
            names: UniqueNames::reserving(&["index", "attachments"]),
            index: Vec::new(),
        }
    }

    /// Writes `conversation`'s three files; `feed` hands its messages, in order, to the
    /// [`Sink`] it is given.
    pub fn write(
        &mut self,
        conversation: &Conversation,
        feed: impl FnOnce(&mut Sink<'_>) -> Result<(), ExportError>,
    ) -> Result<Written, ExportError> {
        let name = self.unique_name(&conversation.title);
        let zone = self.zone.clone();
        let app = self.app;
        let out = self.out;
        let mut stats = (Written::default(), None);
        out.replace_with(&format!("{name}.html"), |h| {
            out.replace_with(&format!("text/{name}.txt"), |t| {
                out.replace_with(&format!("json/{name}.json"), |j| {
                    let mut sink = Sink {
                        out,
                        folder: format!("attachments/{name}"),
                        attachment_names: UniqueNames::default(),
                        html: html::Page::start(h, conversation, &zone, app)?,
                        text: text::File::start(t, conversation, &zone)?,
                        json: json::File::start(j, conversation)?,
                        written: Written::default(),
                        last: None,
                    };
                    feed(&mut sink)?;
                    sink.html.finish()?;
                    sink.text.finish()?;
                    sink.json.finish()?;
                    stats = (sink.written, sink.last);
                    Ok(())
                })
                .map(drop)
            })
            .map(drop)
        })?;
        self.index.push(IndexEntry {
            name,
            conversation: conversation.clone(),
            messages: stats.0.messages,
            last: stats.1,
        });
        Ok(stats.0)
    }

    /// Writes `index.html`, newest conversation first.
    pub fn finish(mut self) -> Result<(), ExportError> {
        self.index
            .sort_by(|a, b| b.last.cmp(&a.last).then_with(|| a.name.cmp(&b.name)));
        let entries: Vec<html::IndexRow<'_>> = self
            .index
            .iter()
            .map(|e| html::IndexRow {
                file: format!("{}.html", e.name),
                conversation: &e.conversation,
                messages: e.messages,
                last: e.last,
            })
            .collect();
        self.out.replace_with("index.html", |w| {
            html::write_index(w, self.app, &entries, &self.zone)
        })?;
        Ok(())
    }

    fn unique_name(&mut self, title: &str) -> String {
        self.names.take_stem(&safe_name(title))
    }
}

/// Attachments the backup lacks: how many, and the first one's path on the device.
pub type Missing = (u64, Option<String>);

/// Where a conversation's messages go, one at a time.
pub struct Sink<'w> {
    out: &'w OutDir,
    folder: String,
    attachment_names: UniqueNames,
    html: html::Page<'w>,
    text: text::File<'w>,
    json: json::File<'w>,
    written: Written,
    last: Option<Timestamp>,
}

impl Sink<'_> {
    /// A free place for an attachment named `name` (from the device: made safe), relative to
    /// the export folder: `attachments/<conversation>/<name>`, numbered when taken.
    fn attachment_place(&mut self, name: &str) -> String {
        let name = self.attachment_names.take(&safe_name(name));
        format!("{}/{name}", self.folder)
    }

    /// Copies an attachment the backup holds (`file`) beside the pages and returns where it
    /// went; one the backup lacks is counted in `missing` (`path` names the first) and has no
    /// place.
    pub fn attach(
        &mut self,
        src: &Source<'_>,
        file: Option<SourceFile<'_>>,
        name: &str,
        path: &str,
        missing: &mut Missing,
    ) -> Result<Option<String>, ExportError> {
        let Some(file) = file else {
            missing.0 += 1;
            missing.1.get_or_insert_with(|| path.to_string());
            return Ok(None);
        };
        let place = self.attachment_place(name);
        self.out
            .replace_with(&place, |w| src.copy(file.data, w).map(drop))?;
        Ok(Some(place))
    }

    pub fn message(&mut self, m: &Message) -> Result<(), ExportError> {
        self.html.message(m)?;
        self.text.message(m)?;
        self.json.message(m)?;
        self.written.messages += 1;
        self.written.attachments += m.attachments.len() as u64;
        self.written.reactions += m.reactions.len() as u64;
        if m.time.is_some() && m.time > self.last {
            self.last = m.time;
        }
        Ok(())
    }
}

/// An I/O error while writing `what` of the export.
fn io(what: &'static str) -> impl Fn(std::io::Error) -> ExportError {
    move |source| ExportError::Io {
        path: what.into(),
        what: "writing",
        source,
    }
}

/// Writes `s` to `w`, naming `what` on failure.
fn put(w: &mut dyn Write, s: &str, what: &'static str) -> Result<(), ExportError> {
    w.write_all(s.as_bytes()).map_err(io(what))
}
