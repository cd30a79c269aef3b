//! The queries the Messages export runs, built from the columns this `sms.db` has: iOS 12 to 17
//! add columns (`thread_originator_guid` in 14, `date_edited`, `date_retracted` and
//! `message_summary_info` contents in 16, `associated_message_emoji` in 17) and the export
//! reads each one only where it exists. What it cannot do without is required: a database
//! lacking it is an [`ExportError::Schema`] naming the table and column.

use crate::database::{Columns, Database};
use crate::error::ExportError;

/// Tapbacks added (2000–2999) and removed (3000–3999) are reactions, not messages.
const IS_REACTION: &str = "COALESCE(m.associated_message_type, 0) BETWEEN 2000 AND 3999";

pub(super) struct Schema {
    pub handles: String,
    pub members: String,
    pub chats: String,
    pub messages: String,
    pub reactions: String,
    pub reply: String,
    pub attachments: String,
    pub orphans: String,
    /// Each chat's messages (as `messages` counts them) and the last one's date.
    pub counts: String,
}

/// `alias.column` when the table has it, else `NULL`.
fn opt(c: &Columns<'_>, alias: &str, column: &str) -> String {
    match c.has(column) {
        true => format!("{alias}.{column}"),
        false => "NULL".into(),
    }
}

fn require_all(c: &Columns<'_>, columns: &[&str]) -> Result<(), ExportError> {
    columns.iter().try_for_each(|col| c.require(col).map(drop))
}

impl Schema {
    pub(super) fn of(db: &Database) -> Result<Self, ExportError> {
        let message = db.table("message")?;
        require_all(
            &message,
            &["ROWID", "guid", "text", "date", "is_from_me", "handle_id"],
        )?;
        let chat = db.table("chat")?;
        require_all(&chat, &["ROWID", "chat_identifier"])?;
        let handle = db.table("handle")?;
        require_all(&handle, &["ROWID", "id"])?;
        require_all(&db.table("chat_handle_join")?, &["chat_id", "handle_id"])?;
        require_all(&db.table("chat_message_join")?, &["chat_id", "message_id"])?;
        let attachment = db.table("attachment")?;
        require_all(&attachment, &["ROWID", "filename"])?;
        require_all(
            &db.table("message_attachment_join")?,
            &["message_id", "attachment_id"],
        )?;

        let m = |c: &str| opt(&message, "m", c);
        // Without associated_message_type (iOS before 10) nothing is a reaction.
        let is_reaction = match message.has("associated_message_type") {
            true => IS_REACTION.to_string(),
            false => "0".to_string(),
        };
        let messages = format!(
            "SELECT m.ROWID, m.guid, m.text, {body}, m.date, m.is_from_me, m.handle_id, {service}, \
             {item_type}, {group_title}, {group_action}, {other}, {edited}, {retracted}, {summary}, \
             {thread} \
             FROM chat_message_join j JOIN message m ON m.ROWID = j.message_id \
             WHERE j.chat_id = ?1 AND NOT ({is_reaction}) ORDER BY m.date, m.ROWID",
            body = m("attributedBody"),
            service = m("service"),
            item_type = m("item_type"),
            group_title = m("group_title"),
            group_action = m("group_action_type"),
            other = m("other_handle"),
            edited = m("date_edited"),
            retracted = m("date_retracted"),
            summary = m("message_summary_info"),
            thread = m("thread_originator_guid"),
        );
        let reactions = format!(
            "SELECT {guid}, {kind}, m.is_from_me, m.handle_id, m.date, {emoji} \
             FROM chat_message_join j JOIN message m ON m.ROWID = j.message_id \
             WHERE j.chat_id = ?1 AND {is_reaction} ORDER BY m.date, m.ROWID",
            guid = m("associated_message_guid"),
            kind = m("associated_message_type"),
            emoji = m("associated_message_emoji"),
        );
        let c = |col: &str| opt(&chat, "c", col);
        let a = |col: &str| opt(&attachment, "a", col);
        Ok(Self {
            handles: "SELECT ROWID, id FROM handle".into(),
            members: "SELECT chat_id, handle_id FROM chat_handle_join ORDER BY chat_id, handle_id"
                .into(),
            chats: format!(
                "SELECT c.ROWID, c.chat_identifier, {}, {}, {}, {} FROM chat c ORDER BY c.ROWID",
                c("display_name"),
                c("style"),
                c("service_name"),
                c("guid"),
            ),
            messages,
            reactions,
            reply: format!(
                "SELECT m.text, {}, m.is_from_me, m.handle_id FROM message m WHERE m.guid = ?1",
                m("attributedBody")
            ),
            attachments: format!(
                "SELECT a.filename, {}, {}, {} FROM message_attachment_join j \
                 JOIN attachment a ON a.ROWID = j.attachment_id WHERE j.message_id = ?1 \
                 ORDER BY a.ROWID",
                a("mime_type"),
                a("transfer_name"),
                a("total_bytes"),
            ),
            counts: format!(
                "SELECT j.chat_id, count(*), max(m.date) FROM chat_message_join j \
                 JOIN message m ON m.ROWID = j.message_id WHERE NOT ({is_reaction}) \
                 GROUP BY j.chat_id"
            ),
            orphans: format!(
                "SELECT count(*) FROM message m WHERE NOT ({is_reaction}) AND NOT EXISTS \
                 (SELECT 1 FROM chat_message_join j WHERE j.message_id = m.ROWID)"
            ),
        })
    }
}
