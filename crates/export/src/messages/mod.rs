//! `hearth export messages`: every conversation of `HomeDomain Library/SMS/sms.db` (SMS, MMS,
//! iMessage) through the conversation writers, attachments copied out of
//! `MediaDomain Library/SMS/Attachments/`.
//!
//! What counts (the `--json` summary):
//! - `conversations`: rows of `chat`.
//! - `messages`: rows of `chat_message_join` joined to a `message` that is not a reaction
//!   (`associated_message_type` 2000–3999: tapbacks added and removed); events such as a
//!   group's renaming count, as they are shown in their place. A message in two chats is in
//!   both pages and counted twice; one in no chat is not exported (a warning says how many).
//! - `attachments`: rows of `message_attachment_join` of those messages, listed on the pages;
//!   `attachments_missing` of them are not in the backup (listed, not copied).
//! - `reactions`: tapbacks shown, after their removals.
//!
//! The text is `message.text`, else the string archived in `attributedBody` (iOS 16 and
//! later leave `text` NULL), decoded by [`typedstream`].

mod schema;
pub(crate) mod summary;
mod thread;
pub mod typedstream;

pub use thread::{ConversationSummary, MessageWindow, ThreadPage, conversation, conversations};

use crate::SnapshotOut;
use crate::contacts::ContactNames;
use crate::conversation::{
    Attachment, Conversation, Conversations, Message, Missing, Person, Reaction, Reply, Sink,
    excerpt,
};
use crate::database::Database;
use crate::error::ExportError;
use crate::report::Tally;
use crate::source::Source;
use crate::time::from_apple_sms;
use rusqlite::Row;
use schema::Schema;
use std::collections::HashMap;

pub const DOMAIN: &str = "HomeDomain";
pub const SMS_DB: &str = "Library/SMS/sms.db";
/// Where the backup keeps `~/Library/SMS/Attachments/...`.
pub const ATTACHMENTS_DOMAIN: &str = "MediaDomain";

/// Characters of the quoted message shown with a reply.
const REPLY_EXCERPT: usize = 80;

pub fn export(src: &Source<'_>, out: &SnapshotOut, tally: &mut Tally) -> Result<(), ExportError> {
    for what in ["conversations", "messages", "attachments", "reactions"] {
        tally.add(what, 0);
    }
    let Some(db) = src.database(DOMAIN, SMS_DB)? else {
        return Ok(());
    };
    let schema = Schema::of(&db)?;
    let names = ContactNames::load_or_none(src, tally);
    let reader = Reader {
        db: &db,
        schema: &schema,
        handles: handles(&db, &schema, &names)?,
    };
    let mut conversations = Conversations::new(&out.dir, "Messages");
    let mut missing = (0u64, None::<String>);
    for chat in reader.chats()? {
        let reactions = reader.reactions(chat.rowid)?;
        let written = conversations.write(&chat.conversation, |sink| {
            let mut pages = Pages {
                src,
                sink,
                missing: &mut missing,
            };
            reader.messages(&chat, &reactions, &mut pages, tally, ALL)
        })?;
        tally.add("conversations", 1);
        tally.add("messages", written.messages);
        tally.add("attachments", written.attachments);
        tally.add("reactions", written.reactions);
    }
    conversations.finish()?;
    if missing.0 > 0 {
        tally.add("attachments_missing", missing.0);
        tally.remark(format!(
            "{} Messages attachments are not in the backup (kept in iCloud only, or deleted), \
             for example {}: listed on the pages, not copied",
            missing.0,
            missing.1.unwrap_or_default()
        ));
    }
    let orphans = reader.orphans()?;
    if orphans > 0 {
        tally.warn(format!(
            "{orphans} messages of {SMS_DB} belong to no conversation: not exported"
        ));
    }
    Ok(())
}

/// A handle's text and how it is shown.
struct Handle {
    person: Person,
}

fn handles(
    db: &Database,
    schema: &Schema,
    names: &ContactNames,
) -> Result<HashMap<i64, Handle>, ExportError> {
    let mut stmt = db.conn().prepare(&schema.handles).map_err(|e| db.err(e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
        })
        .map_err(|e| db.err(e))?;
    let mut out = HashMap::new();
    for row in rows {
        let (rowid, id) = row.map_err(|e| db.err(e))?;
        let handle = id.unwrap_or_default();
        let name = names.name_for(&handle).map(str::to_string);
        out.insert(
            rowid,
            Handle {
                person: Person { handle, name },
            },
        );
    }
    Ok(out)
}

struct Chat {
    rowid: i64,
    conversation: Conversation,
}

/// Where the messages a [`Reader`] reads go: the export's pages, or a page of a thread in
/// memory ([`thread`]).
trait Feed {
    /// Where the attachment the device keeps at `filename` (`~/Library/SMS/Attachments/...`),
    /// sent as `name`, is for whoever reads the messages; `None` when the backup lacks it.
    fn attach(&mut self, filename: &str, name: &str) -> Result<Option<String>, ExportError>;
    fn message(&mut self, m: &Message) -> Result<(), ExportError>;
}

/// The export's feed: attachments copied beside the pages.
struct Pages<'a, 's> {
    src: &'a Source<'a>,
    sink: &'a mut Sink<'s>,
    missing: &'a mut Missing,
}

impl Feed for Pages<'_, '_> {
    fn attach(&mut self, filename: &str, name: &str) -> Result<Option<String>, ExportError> {
        let file = backup_path(filename).and_then(|p| self.src.file(ATTACHMENTS_DOMAIN, &p));
        self.sink
            .attach(self.src, file, name, filename, self.missing)
    }

    fn message(&mut self, m: &Message) -> Result<(), ExportError> {
        self.sink.message(m)
    }
}

/// The messages of a chat a reader hands on: from the `skip`th, at most `take`.
#[derive(Debug, Clone, Copy)]
struct Span {
    skip: u64,
    take: u64,
}

const ALL: Span = Span {
    skip: 0,
    take: u64::MAX,
};

struct Reader<'a> {
    db: &'a Database,
    schema: &'a Schema,
    handles: HashMap<i64, Handle>,
}

/// One `message` row as the export reads it.
struct MessageRow {
    rowid: i64,
    guid: String,
    text: Option<String>,
    body: Option<Vec<u8>>,
    date: i64,
    from_me: bool,
    handle: i64,
    service: Option<String>,
    item_type: i64,
    group_title: Option<String>,
    group_action: i64,
    other_handle: i64,
    date_edited: i64,
    date_retracted: i64,
    summary: Option<Vec<u8>>,
    thread_originator: Option<String>,
}

impl MessageRow {
    fn read(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            rowid: r.get(0)?,
            guid: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            text: r.get(2)?,
            body: r.get(3)?,
            date: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
            from_me: r.get::<_, Option<i64>>(5)?.unwrap_or(0) != 0,
            handle: r.get::<_, Option<i64>>(6)?.unwrap_or(0),
            service: r.get(7)?,
            item_type: r.get::<_, Option<i64>>(8)?.unwrap_or(0),
            group_title: r.get(9)?,
            group_action: r.get::<_, Option<i64>>(10)?.unwrap_or(0),
            other_handle: r.get::<_, Option<i64>>(11)?.unwrap_or(0),
            date_edited: r.get::<_, Option<i64>>(12)?.unwrap_or(0),
            date_retracted: r.get::<_, Option<i64>>(13)?.unwrap_or(0),
            summary: r.get(14)?,
            thread_originator: r.get(15)?,
        })
    }
}

impl Reader<'_> {
    fn err(&self) -> impl Fn(rusqlite::Error) -> ExportError + '_ {
        |e| self.db.err(e)
    }

    fn chats(&self) -> Result<Vec<Chat>, ExportError> {
        let mut members: HashMap<i64, Vec<Person>> = HashMap::new();
        let mut stmt = self
            .db
            .conn()
            .prepare(&self.schema.members)
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
            .map_err(self.err())?;
        for row in rows {
            let (chat, handle) = row.map_err(self.err())?;
            if let Some(h) = self.handles.get(&handle) {
                members.entry(chat).or_default().push(h.person.clone());
            }
        }
        let mut stmt = self
            .db
            .conn()
            .prepare(&self.schema.chats)
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .map_err(self.err())?;
        let mut chats = Vec::new();
        for row in rows {
            let (rowid, identifier, display_name, style, service, guid) =
                row.map_err(self.err())?;
            let members = members.remove(&rowid).unwrap_or_default();
            let identifier = identifier.unwrap_or_default();
            let title = match display_name.as_deref().map(str::trim) {
                Some(n) if !n.is_empty() => n.to_string(),
                _ if !members.is_empty() => members
                    .iter()
                    .map(Person::display)
                    .collect::<Vec<_>>()
                    .join(", "),
                _ if !identifier.is_empty() => identifier.clone(),
                _ => format!("Conversation {rowid}"),
            };
            chats.push(Chat {
                rowid,
                conversation: Conversation {
                    title,
                    // 43 is a group chat's style, 45 a chat with one person.
                    group: style == Some(43) || members.len() > 1,
                    members,
                    service: service.unwrap_or_else(|| "Messages".into()),
                    id: guid.unwrap_or(identifier),
                },
            });
        }
        Ok(chats)
    }

    /// The tapbacks of a chat by the GUID of the message they react to, after removals.
    fn reactions(&self, chat: i64) -> Result<HashMap<String, Vec<Reaction>>, ExportError> {
        let mut by_target: HashMap<String, Vec<(String, Reaction)>> = HashMap::new();
        let mut stmt = self
            .db
            .conn()
            .prepare(&self.schema.reactions)
            .map_err(self.err())?;
        let rows = stmt
            .query_map([chat], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<i64>>(2)?.unwrap_or(0) != 0,
                    r.get::<_, Option<i64>>(3)?.unwrap_or(0),
                    r.get::<_, Option<i64>>(4)?.unwrap_or(0),
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .map_err(self.err())?;
        for row in rows {
            let (target, kind, from_me, handle, date, emoji) = row.map_err(self.err())?;
            let Some(target) = target.as_deref().map(reaction_target) else {
                continue;
            };
            let who = match from_me {
                true => "me".to_string(),
                false => handle.to_string(),
            };
            let list = by_target.entry(target.to_string()).or_default();
            list.retain(|(w, _)| *w != who);
            if (2000..3000).contains(&kind) {
                list.push((
                    who,
                    Reaction {
                        emoji: tapback(kind, emoji.as_deref()),
                        sender: self.sender(from_me, handle, None),
                        time: from_apple_sms(date),
                    },
                ));
            }
        }
        Ok(by_target
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().map(|(_, r)| r).collect()))
            .filter(|(_, v): &(String, Vec<Reaction>)| !v.is_empty())
            .collect())
    }

    fn sender(&self, from_me: bool, handle: i64, chat: Option<&Chat>) -> String {
        if from_me {
            return "Me".into();
        }
        if let Some(h) = self.handles.get(&handle) {
            return h.person.display().to_string();
        }
        match chat.map(|c| c.conversation.members.as_slice()) {
            Some([only]) => only.display().to_string(),
            _ => "Unknown".into(),
        }
    }

    fn messages(
        &self,
        chat: &Chat,
        reactions: &HashMap<String, Vec<Reaction>>,
        feed: &mut dyn Feed,
        tally: &mut Tally,
        span: Span,
    ) -> Result<(), ExportError> {
        let mut stmt = self
            .db
            .conn()
            .prepare(&self.schema.messages)
            .map_err(self.err())?;
        let mut rows = stmt.query([chat.rowid]).map_err(self.err())?;
        let mut index = 0u64;
        while let Some(r) = rows.next().map_err(self.err())? {
            index += 1;
            if index <= span.skip {
                continue;
            }
            if index - span.skip > span.take {
                break;
            }
            let row = MessageRow::read(r).map_err(self.err())?;
            let mut m = self.message(chat, &row, tally);
            m.reactions = reactions.get(&row.guid).cloned().unwrap_or_default();
            m.attachments = self.attachments(row.rowid, feed)?;
            feed.message(&m)?;
        }
        Ok(())
    }

    /// The message of `row`, without its attachments and reactions.
    fn message(&self, chat: &Chat, row: &MessageRow, tally: &mut Tally) -> Message {
        let sender = self.sender(row.from_me, row.handle, Some(chat));
        let mut m = Message {
            id: row.guid.clone(),
            time: from_apple_sms(row.date),
            from_me: row.from_me,
            handle: (!row.from_me)
                .then(|| {
                    self.handles
                        .get(&row.handle)
                        .map(|h| h.person.handle.clone())
                })
                .flatten(),
            service: row
                .service
                .clone()
                .filter(|s| !s.is_empty() && *s != chat.conversation.service),
            edited: (row.date_edited > 0)
                .then(|| from_apple_sms(row.date_edited))
                .flatten(),
            unsent: row.date_retracted > 0,
            ..Message::default()
        };
        let where_ = || format!("{SMS_DB} message {} ({})", row.rowid, row.guid);
        if let Some(blob) = row.summary.as_deref().filter(|b| !b.is_empty()) {
            match summary::read(blob) {
                Ok(s) => {
                    m.unsent |= s.retracted;
                    m.edits = s.versions;
                }
                Err(e) => tally.warn(format!("{}: message_summary_info: {e}", where_())),
            }
        }
        m.text = match row.text.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => clean(t),
            None => match row.body.as_deref().filter(|b| !b.is_empty()) {
                Some(b) => match typedstream::attributed_string_text(b) {
                    Ok(t) => clean(&t),
                    Err(e) => {
                        tally.warn(format!("{}: attributedBody: {e}", where_()));
                        None
                    }
                },
                None => None,
            },
        };
        // The last version is the text shown; the others are the history.
        if m.edits.last().map(|e| Some(&e.text) == m.text.as_ref()) == Some(true) {
            m.edits.pop();
        }
        if row.item_type != 0 {
            m.event = true;
            let other = self
                .handles
                .get(&row.other_handle)
                .map(|h| h.person.display());
            m.text = Some(event_text(row, &sender, other));
        }
        m.sender = sender;
        if let Some(g) = row.thread_originator.as_deref().filter(|g| !g.is_empty()) {
            m.reply_to = Some(self.reply(g));
        }
        m
    }

    fn reply(&self, guid: &str) -> Reply {
        let found = self
            .db
            .conn()
            .prepare_cached(&self.schema.reply)
            .and_then(|mut s| {
                s.query_row([guid], |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<Vec<u8>>>(1)?,
                        r.get::<_, Option<i64>>(2)?.unwrap_or(0) != 0,
                        r.get::<_, Option<i64>>(3)?.unwrap_or(0),
                    ))
                })
            });
        let mut reply = Reply {
            id: guid.to_string(),
            ..Reply::default()
        };
        if let Ok((text, body, from_me, handle)) = found {
            let text = text
                .filter(|t| !t.is_empty())
                .or_else(|| body.and_then(|b| typedstream::attributed_string_text(&b).ok()));
            reply.sender = Some(self.sender(from_me, handle, None));
            reply.excerpt = text
                .as_deref()
                .and_then(clean)
                .map(|t| excerpt(&t, REPLY_EXCERPT));
        }
        reply
    }

    fn attachments(
        &self,
        message: i64,
        feed: &mut dyn Feed,
    ) -> Result<Vec<Attachment>, ExportError> {
        let mut stmt = self
            .db
            .conn()
            .prepare_cached(&self.schema.attachments)
            .map_err(self.err())?;
        let rows = stmt
            .query_map([message], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                ))
            })
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        let mut out = Vec::with_capacity(rows.len());
        for (filename, mime, transfer_name, size) in rows {
            let filename = filename.unwrap_or_default();
            let name = transfer_name
                .filter(|n| !n.is_empty())
                .or_else(|| filename.rsplit('/').next().map(str::to_string))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "attachment".into());
            let path = feed.attach(&filename, &name)?;
            out.push(Attachment {
                name,
                mime,
                path,
                size: size.and_then(|s| u64::try_from(s).ok()),
            });
        }
        Ok(out)
    }

    /// Messages (not reactions) in no chat.
    fn orphans(&self) -> Result<u64, ExportError> {
        self.db
            .conn()
            .query_row(&self.schema.orphans, [], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
            .map_err(self.err())
    }
}

/// The text as shown: attachment placeholders (U+FFFC) out, outer blank space trimmed.
fn clean(text: &str) -> Option<String> {
    let t = text.replace('\u{fffc}', "");
    let t = t.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// The GUID a reaction's `associated_message_guid` names: `p:0/GUID` (part 0 of a message),
/// `bp:GUID`, or the bare GUID.
fn reaction_target(associated: &str) -> &str {
    match associated.split_once(':') {
        Some((_, rest)) => rest.split_once('/').map_or(rest, |(_, g)| g),
        None => associated,
    }
}

/// The emoji of a tapback (`associated_message_type` 2000–2007; `emoji` is iOS 17's
/// `associated_message_emoji` for any emoji).
fn tapback(kind: i64, emoji: Option<&str>) -> String {
    match kind {
        2000 => "❤️",
        2001 => "👍",
        2002 => "👎",
        2003 => "😂",
        2004 => "‼️",
        2005 => "❓",
        2006 => emoji.filter(|e| !e.is_empty()).unwrap_or("🙂"),
        2007 => "sticker",
        _ => "reaction",
    }
    .to_string()
}

/// The line shown for an event (`item_type` ≠ 0).
fn event_text(row: &MessageRow, sender: &str, other: Option<&str>) -> String {
    let other = other.unwrap_or("someone");
    match (row.item_type, row.group_action) {
        (1, 1) => format!("{sender} removed {other} from the conversation"),
        (1, _) => format!("{sender} added {other} to the conversation"),
        (2, _) => match row.group_title.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => format!("{sender} named the conversation \u{201c}{t}\u{201d}"),
            None => format!("{sender} removed the conversation's name"),
        },
        (3, 1) => format!("{sender} changed the group photo"),
        (3, 2) => format!("{sender} removed the group photo"),
        (3, _) => format!("{sender} left the conversation"),
        (4, _) => format!("{sender}: location sharing ({other})"),
        (5, _) => format!("{sender} kept an audio message"),
        (6, _) => format!("{sender}: FaceTime call"),
        (t, _) => format!("{sender}: event of type {t}"),
    }
}

/// The backup's `MediaDomain` path of an attachment's `filename` (`~/Library/SMS/...`).
fn backup_path(filename: &str) -> Option<String> {
    let rel = ["~/", "/var/mobile/", "/private/var/mobile/"]
        .iter()
        .find_map(|p| filename.strip_prefix(p))?;
    rel.starts_with("Library/SMS/").then(|| rel.to_string())
}

#[cfg(test)]
mod tests;
