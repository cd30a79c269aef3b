//! `/messages`: a snapshot's Messages conversations (`?snapshot=HEX`; by default every
//! device's latest), and `/messages/HEX/ID`: one conversation as a thread, read by the
//! Messages export's own reader, the last [`WINDOW`] messages at a time.

use super::media::{Shown, chosen, ext_label, raw_url, shown, source, when};
use crate::error::UiError;
use crate::page::{Section, layout, post_button};
use crate::state::App;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use hearth_export::{
    Attachment, ConversationSummary, Message, MessageWindow, ThreadPage, conversations,
    read_conversation,
};
use hearth_format::{Snapshot, SnapshotId};
use maud::{Markup, html};
use serde::Deserialize;
use std::sync::Arc;

/// Messages on a thread's page.
pub const WINDOW: u64 = 500;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/messages", get(list))
        .route("/messages/{snapshot}/{chat}", get(thread))
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub snapshot: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ThreadQuery {
    /// Show the messages before this one (an index in the conversation).
    pub end: Option<u64>,
}

type DeviceConversations = ((SnapshotId, Snapshot), Vec<ConversationSummary>);

async fn list(State(app): State<Arc<App>>, Query(q): Query<ListQuery>) -> Result<Markup, UiError> {
    let hex = q.snapshot.filter(|h| !h.is_empty());
    let devices: Vec<DeviceConversations> = {
        let hex = hex.clone();
        app.read(move |app| {
            chosen(app, hex.as_deref())?
                .into_iter()
                .map(|(id, s)| {
                    let found = conversations(&source(app, id, &s)?)?;
                    Ok(((id, s), found))
                })
                .collect()
        })
        .await?
    };
    let export_fields: Vec<(&str, &str)> = match &hex {
        Some(h) => vec![("kind", "messages"), ("snapshot", h.as_str())],
        None => vec![("kind", "messages"), ("scope", "household")],
    };
    let total: usize = devices.iter().map(|(_, c)| c.len()).sum();
    let body = html! {
        p #conversation-count data-count=(total) {
            (total) " conversations "
            (post_button(&app, "/jobs/start/export", "Export messages", &export_fields))
        }
        @for ((id, s), found) in &devices {
            @let hex = id.to_hex();
            section.device data-snapshot=(hex) {
                h2 { a href={"/messages?snapshot=" (hex)} { (s.device.label()) } " " span.muted { (crate::format::time(s.time)) } }
                @if found.is_empty() { p.muted { "No Messages conversations in this backup." } }
                ul.conversations {
                    @for c in found {
                        li {
                            a.conversation data-chat=(c.chat) href={"/messages/" (hex) "/" (c.chat)} {
                                span.title { (c.conversation.title) }
                                " " span.muted.count { (c.messages) " messages" }
                                @if let Some(t) = c.last { " " span.muted.last { (when(t)) } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout(&app, Section::Messages, "Messages", body))
}

async fn thread(
    State(app): State<Arc<App>>,
    Path((hex, chat)): Path<(String, i64)>,
    Query(q): Query<ThreadQuery>,
) -> Result<Markup, UiError> {
    let window = MessageWindow {
        end: q.end,
        len: WINDOW,
    };
    let (id, snapshot, page) = {
        let hex = hex.clone();
        app.read(move |app| {
            let (id, s) = super::snapshot(app, &hex)?;
            let page = read_conversation(&source(app, id, &s)?, chat, window)?;
            Ok((id, s, page))
        })
        .await?
    };
    let Some(page) = page else {
        return Err(UiError::NotFound(format!(
            "conversation {chat} in snapshot {}",
            id.short()
        )));
    };
    let title = page.conversation.title.clone();
    let body = html! {
        p.muted {
            a href={"/messages?snapshot=" (hex)} { "← " (snapshot.device.label()) "'s conversations" }
            @if !page.conversation.members.is_empty() {
                " · " @for (i, m) in page.conversation.members.iter().enumerate() {
                    @if i > 0 { ", " }
                    (m.display()) @if m.name.is_some() { " (" (m.handle) ")" }
                }
            }
        }
        p #thread-count data-count=(page.total) {
            (page.total) " messages"
            @if page.first > 0 || (page.first + page.messages.len() as u64) < page.total {
                ", showing " (page.first + 1) "–" (page.first + page.messages.len() as u64)
            }
        }
        @if page.first > 0 {
            p { a.earlier href={"/messages/" (hex) "/" (chat) "?end=" (page.first)} { "Earlier messages" } }
        }
        (thread_body(&id, &page))
        @if page.first + (page.messages.len() as u64) < page.total {
            p { a.later href={"/messages/" (hex) "/" (chat)} { "Latest messages" } }
        }
    };
    Ok(layout(&app, Section::Messages, &title, body))
}

fn thread_body(snapshot: &SnapshotId, page: &ThreadPage) -> Markup {
    html! {
        div.thread data-total=(page.total) {
            @for m in &page.messages { (message(snapshot, m)) }
        }
    }
}

fn message(snapshot: &SnapshotId, m: &Message) -> Markup {
    let class = match (m.event, m.from_me) {
        (true, _) => "msg event",
        (false, true) => "msg me",
        (false, false) => "msg",
    };
    html! {
        div class=(class) id=(format!("m-{}", m.id)) {
            @if let Some(r) = &m.reply_to {
                div.reply {
                    "↪ " @if let Some(s) = &r.sender { (s) ": " }
                    (r.excerpt.as_deref().unwrap_or("an earlier message"))
                }
            }
            div.bubble {
                @if m.unsent { em.muted { "unsent" } }
                @if let Some(t) = &m.text { span.text { (t) } }
                @for a in &m.attachments { (attachment(snapshot, a)) }
                @if let Some((lat, lon)) = m.location { span.location { "📍 " (lat) ", " (lon) } }
            }
            @if !m.reactions.is_empty() {
                div.reactions {
                    @for r in &m.reactions {
                        span.reaction title=(r.sender) { (r.emoji) }
                    }
                }
            }
            div.meta {
                span.sender { (m.sender) }
                @if let Some(t) = m.time {
                    " · " time datetime=(t.to_string()) { (when(t)) }
                }
                @if m.edited.is_some() { " · edited" }
                @if let Some(s) = &m.service { " · " (s) }
            }
        }
    }
}

fn attachment(snapshot: &SnapshotId, a: &Attachment) -> Markup {
    let Some(path) = &a.path else {
        return html! { span.attachment.missing { "📎 " (a.name) " (not in the backup)" } };
    };
    let raw = raw_url(snapshot, path, false);
    let download = raw_url(snapshot, path, true);
    let file = path.rsplit('/').next().unwrap_or_default();
    html! {
        div.attachment {
            @match shown(file) {
                Shown::Image => a href=(raw) { img src=(raw) alt=(a.name) loading="lazy"; },
                Shown::Video => video src=(raw) preload="none" controls {},
                Shown::Download => a.placeholder href=(download) {
                    span.ext { (ext_label(file)) } " " span.name { (a.name) }
                },
            }
        }
    }
}
