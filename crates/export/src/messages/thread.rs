//! Messages read without writing anything: a snapshot's conversations as a list, and one
//! conversation's messages, a window at a time, in the model the export writes
//! ([`Message`]), read by the export's own [`Reader`] (the dashboard's Messages pages).
//!
//! An attachment's [`Attachment::path`](crate::conversation::Attachment) is here its path in
//! the snapshot (`MediaDomain/Library/SMS/Attachments/...`), when the backup holds it.

use super::schema::Schema;
use super::{ATTACHMENTS_DOMAIN, DOMAIN, Feed, Reader, SMS_DB, Span, backup_path, handles};
use crate::contacts::ContactNames;
use crate::conversation::{Conversation, Message};
use crate::database::Database;
use crate::error::ExportError;
use crate::report::Tally;
use crate::source::Source;
use crate::time::from_apple_sms;
use jiff::Timestamp;
use std::collections::{HashMap, VecDeque};

/// One conversation of the list.
#[derive(Debug, Clone)]
pub struct ConversationSummary {
    /// The chat's row in `sms.db`: how [`conversation`] names it.
    pub chat: i64,
    pub conversation: Conversation,
    /// Its messages, as the export counts them (events included, reactions not).
    pub messages: u64,
    /// When the last one was sent.
    pub last: Option<Timestamp>,
}

/// Which messages of a conversation to read: the `len` before the `end`th (all the last
/// `len` when `end` is `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageWindow {
    pub end: Option<u64>,
    pub len: u64,
}

/// A window of a conversation's messages.
#[derive(Debug, Clone)]
pub struct ThreadPage {
    pub conversation: Conversation,
    /// Messages in the whole conversation.
    pub total: u64,
    /// The index (from 0) of `messages[0]` in the conversation.
    pub first: u64,
    /// Oldest first.
    pub messages: Vec<Message>,
    /// What could not be read (a message body that does not decode, the address book).
    pub warnings: Vec<String>,
}

/// The snapshot's Messages conversations, the last active first; none when it has no sms.db.
pub fn conversations(src: &Source<'_>) -> Result<Vec<ConversationSummary>, ExportError> {
    let Some(db) = src.database(DOMAIN, SMS_DB)? else {
        return Ok(Vec::new());
    };
    let names = ContactNames::load_or_none(src, &mut Tally::default());
    list(&db, &names)
}

/// The `window` of the conversation `chat` (a [`ConversationSummary::chat`]); `None` when
/// the snapshot has no such conversation.
pub fn conversation(
    src: &Source<'_>,
    chat: i64,
    window: MessageWindow,
) -> Result<Option<ThreadPage>, ExportError> {
    let Some(db) = src.database(DOMAIN, SMS_DB)? else {
        return Ok(None);
    };
    let mut tally = Tally::default();
    let names = ContactNames::load_or_none(src, &mut tally);
    let held = |p: &str| src.file(ATTACHMENTS_DOMAIN, p).is_some();
    let page = read(&db, &names, chat, window, &held)?;
    Ok(page.map(|mut p| {
        tally.warnings.append(&mut p.warnings);
        p.warnings = tally.warnings;
        p
    }))
}

fn list(db: &Database, names: &ContactNames) -> Result<Vec<ConversationSummary>, ExportError> {
    let schema = Schema::of(db)?;
    let reader = Reader {
        db,
        schema: &schema,
        handles: handles(db, &schema, names)?,
    };
    let counts = counts(db, &schema)?;
    let mut out: Vec<ConversationSummary> = reader
        .chats()?
        .into_iter()
        .map(|chat| {
            let (messages, last) = counts.get(&chat.rowid).copied().unwrap_or((0, None));
            ConversationSummary {
                chat: chat.rowid,
                conversation: chat.conversation,
                messages,
                last,
            }
        })
        .collect();
    out.sort_by(|a, b| b.last.cmp(&a.last).then_with(|| a.chat.cmp(&b.chat)));
    Ok(out)
}

/// Each chat's message count and last date.
fn counts(
    db: &Database,
    schema: &Schema,
) -> Result<HashMap<i64, (u64, Option<Timestamp>)>, ExportError> {
    let mut stmt = db.conn().prepare(&schema.counts).map_err(|e| db.err(e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<i64>>(2)?,
            ))
        })
        .map_err(|e| db.err(e))?;
    let mut out = HashMap::new();
    for row in rows {
        let (chat, n, last) = row.map_err(|e| db.err(e))?;
        out.insert(chat, (n.max(0) as u64, last.and_then(from_apple_sms)));
    }
    Ok(out)
}

/// The window of `chat`; `held(path)` says whether the backup holds the `MediaDomain` file.
fn read(
    db: &Database,
    names: &ContactNames,
    chat: i64,
    window: MessageWindow,
    held: &dyn Fn(&str) -> bool,
) -> Result<Option<ThreadPage>, ExportError> {
    let schema = Schema::of(db)?;
    let reader = Reader {
        db,
        schema: &schema,
        handles: handles(db, &schema, names)?,
    };
    let Some(found) = reader.chats()?.into_iter().find(|c| c.rowid == chat) else {
        return Ok(None);
    };
    let total = counts(db, &schema)?.get(&chat).map_or(0, |(n, _)| *n);
    let end = window.end.unwrap_or(total).min(total);
    let first = end.saturating_sub(window.len);
    let span = Span {
        skip: first,
        take: end - first,
    };
    let reactions = reader.reactions(chat)?;
    let mut tally = Tally::default();
    let mut feed = Collect {
        held,
        messages: VecDeque::new(),
    };
    reader.messages(&found, &reactions, &mut feed, &mut tally, span)?;
    Ok(Some(ThreadPage {
        conversation: found.conversation,
        total,
        first,
        messages: feed.messages.into(),
        warnings: tally.warnings,
    }))
}

/// The thread's feed: messages kept in memory, attachments named by their snapshot path.
struct Collect<'h> {
    held: &'h dyn Fn(&str) -> bool,
    messages: VecDeque<Message>,
}

impl Feed for Collect<'_> {
    fn attach(&mut self, filename: &str, _name: &str) -> Result<Option<String>, ExportError> {
        Ok(backup_path(filename)
            .filter(|p| (self.held)(p))
            .map(|p| format!("{ATTACHMENTS_DOMAIN}/{p}")))
    }

    fn message(&mut self, m: &Message) -> Result<(), ExportError> {
        self.messages.push_back(m.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::open;

    const IOS14: &str = "ios-databases/hickman-ios14.3-iphonese/Library/SMS/sms.db";

    fn sql_count(db: &Database, sql: &str) -> u64 {
        db.conn()
            .query_row(sql, [], |r| r.get::<_, i64>(0))
            .unwrap() as u64
    }

    #[test]
    fn the_list_has_every_chat_with_the_exports_counts_last_active_first() {
        let db = open(IOS14, true);
        let list = list(&db, &ContactNames::default()).unwrap();
        assert_eq!(
            list.len() as u64,
            sql_count(&db, "SELECT count(*) FROM chat")
        );
        let messages: u64 = list.iter().map(|c| c.messages).sum();
        let expected = sql_count(
            &db,
            "SELECT count(*) FROM chat_message_join j JOIN message m ON m.ROWID = j.message_id \
             WHERE COALESCE(m.associated_message_type, 0) NOT BETWEEN 2000 AND 3999",
        );
        assert_eq!(messages, expected);
        assert!(list.windows(2).all(|w| w[0].last >= w[1].last));
        assert!(list.iter().all(|c| !c.conversation.title.is_empty()));
    }

    #[test]
    fn a_window_reads_the_last_messages_and_earlier_ones_on_asking() {
        let db = open(IOS14, true);
        let names = ContactNames::default();
        let busiest = list(&db, &names)
            .unwrap()
            .into_iter()
            .max_by_key(|c| c.messages)
            .unwrap();
        assert!(busiest.messages > 3, "{}", busiest.messages);
        let no_files = |_: &str| false;
        let all = MessageWindow {
            end: None,
            len: u64::MAX,
        };
        let whole = read(&db, &names, busiest.chat, all, &no_files)
            .unwrap()
            .unwrap();
        assert_eq!(whole.messages.len() as u64, busiest.messages);
        assert_eq!((whole.total, whole.first), (busiest.messages, 0));
        let last = MessageWindow { end: None, len: 2 };
        let tail = read(&db, &names, busiest.chat, last, &no_files)
            .unwrap()
            .unwrap();
        assert_eq!(tail.first, busiest.messages - 2);
        let ids = |p: &ThreadPage| p.messages.iter().map(|m| m.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&tail), ids(&whole)[whole.messages.len() - 2..]);
        let earlier = MessageWindow {
            end: Some(tail.first),
            len: 2,
        };
        let before = read(&db, &names, busiest.chat, earlier, &no_files)
            .unwrap()
            .unwrap();
        assert_eq!(
            ids(&before),
            ids(&whole)[whole.messages.len() - 4..whole.messages.len() - 2]
        );
        assert!(read(&db, &names, -1, last, &no_files).unwrap().is_none());
    }

    #[test]
    fn attachments_the_backup_holds_are_named_by_their_snapshot_path() {
        let db = open(IOS14, true);
        let names = ContactNames::default();
        let all = MessageWindow {
            end: None,
            len: u64::MAX,
        };
        let held = |p: &str| p.starts_with("Library/SMS/Attachments/");
        let mut seen = 0;
        for c in list(&db, &names).unwrap() {
            let page = read(&db, &names, c.chat, all, &held).unwrap().unwrap();
            for a in page.messages.iter().flat_map(|m| &m.attachments) {
                if let Some(p) = &a.path {
                    assert!(p.starts_with("MediaDomain/Library/SMS/Attachments/"), "{p}");
                    seen += 1;
                }
            }
        }
        assert!(seen > 0);
        let none = |_: &str| false;
        for c in list(&db, &names).unwrap() {
            let page = read(&db, &names, c.chat, all, &none).unwrap().unwrap();
            assert!(
                page.messages
                    .iter()
                    .flat_map(|m| &m.attachments)
                    .all(|a| a.path.is_none())
            );
        }
    }
}
