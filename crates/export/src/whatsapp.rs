//! `hearth export whatsapp`: the chats of WhatsApp's Core Data store
//! (`AppDomainGroup-group.net.whatsapp.WhatsApp.shared ChatStorage.sqlite`) through the same
//! conversation writers as Messages, media copied out of the group's `Message/Media/`.
//!
//! What counts: `conversations` are rows of `ZWACHATSESSION`; `messages` the rows of
//! `ZWAMESSAGE` in them (system rows, such as group events, included: they are shown in their
//! place); `attachments` their media items with a local file path (`attachments_missing` of
//! them are not in the backup). Senders in groups come from `ZWAGROUPMEMBER`; names from the
//! snapshot's address book by phone number, else WhatsApp's own.

use crate::SnapshotOut;
use crate::contacts::ContactNames;
use crate::conversation::{
    Attachment, Conversation, Conversations, Message, Missing, Person, Sink,
};
use crate::database::{Columns, Database};
use crate::error::ExportError;
use crate::report::Tally;
use crate::source::Source;
use crate::time::from_apple_seconds;
use std::collections::HashMap;

pub const DOMAIN: &str = "AppDomainGroup-group.net.whatsapp.WhatsApp.shared";
pub const CHAT_STORAGE: &str = "ChatStorage.sqlite";
/// `ZMEDIALOCALPATH` (`Media/<jid>/...`) is relative to this folder of the group.
const MEDIA_FOLDER: &str = "Message";

/// `ZMESSAGETYPE` of a shared location, a group event and a system notice.
const LOCATION: i64 = 5;
const GROUP_EVENT: i64 = 6;
const SYSTEM: i64 = 10;

fn opt(c: &Columns<'_>, alias: &str, column: &str) -> String {
    match c.has(column) {
        true => format!("{alias}.{column}"),
        false => "NULL".into(),
    }
}

struct Queries {
    sessions: String,
    members: Option<String>,
    messages: String,
    media: Option<String>,
}

impl Queries {
    fn of(db: &Database) -> Result<Self, ExportError> {
        let session = db.table("ZWACHATSESSION")?;
        for c in ["Z_PK", "ZCONTACTJID"] {
            session.require(c)?;
        }
        let message = db.table("ZWAMESSAGE")?;
        for c in ["Z_PK", "ZCHATSESSION", "ZISFROMME", "ZMESSAGEDATE", "ZTEXT"] {
            message.require(c)?;
        }
        let m = |c: &str| opt(&message, "m", c);
        let members = match db.columns("ZWAGROUPMEMBER")? {
            Some(g) => {
                g.require("Z_PK")?;
                g.require("ZMEMBERJID")?;
                Some(format!(
                    "SELECT g.Z_PK, g.ZMEMBERJID, {}, {} FROM ZWAGROUPMEMBER g ORDER BY g.Z_PK",
                    opt(&g, "g", "ZCHATSESSION"),
                    opt(&g, "g", "ZCONTACTNAME"),
                ))
            }
            None => None,
        };
        let media = match db.columns("ZWAMEDIAITEM")? {
            Some(i) => {
                i.require("Z_PK")?;
                Some(format!(
                    "SELECT {}, {}, {}, {} FROM ZWAMEDIAITEM i WHERE i.Z_PK = ?1",
                    opt(&i, "i", "ZMEDIALOCALPATH"),
                    opt(&i, "i", "ZLATITUDE"),
                    opt(&i, "i", "ZLONGITUDE"),
                    opt(&i, "i", "ZFILESIZE"),
                ))
            }
            None => None,
        };
        Ok(Self {
            sessions: format!(
                "SELECT s.Z_PK, s.ZCONTACTJID, {}, {} FROM ZWACHATSESSION s ORDER BY s.Z_PK",
                opt(&session, "s", "ZPARTNERNAME"),
                opt(&session, "s", "ZSESSIONTYPE"),
            ),
            members,
            messages: format!(
                "SELECT m.Z_PK, m.ZISFROMME, m.ZMESSAGEDATE, m.ZTEXT, {}, {}, {}, {}, {} \
                 FROM ZWAMESSAGE m WHERE m.ZCHATSESSION = ?1 ORDER BY m.ZMESSAGEDATE, m.Z_PK",
                m("ZMESSAGETYPE"),
                m("ZFROMJID"),
                m("ZGROUPMEMBER"),
                m("ZMEDIAITEM"),
                m("ZSTANZAID"),
            ),
            media,
        })
    }
}

/// A JID's phone number (`19195550100@s.whatsapp.net` → `+19195550100`), if it is one.
fn phone_of(jid: &str) -> Option<String> {
    let (user, server) = jid.split_once('@')?;
    (server == "s.whatsapp.net" && !user.is_empty() && user.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("+{user}"))
}

/// A person by JID: the address book's name for the number, else WhatsApp's.
fn person(jid: &str, whatsapp_name: Option<&str>, names: &ContactNames) -> Person {
    let handle = phone_of(jid).unwrap_or_else(|| jid.to_string());
    let name = names
        .name_for(&handle)
        .map(str::to_string)
        .filter(|_| phone_of(jid).is_some())
        .or_else(|| {
            whatsapp_name
                .filter(|n| !n.trim().is_empty())
                .map(str::to_string)
        });
    Person { handle, name }
}

struct Member {
    session: Option<i64>,
    person: Person,
}

pub fn export(src: &Source<'_>, out: &SnapshotOut, tally: &mut Tally) -> Result<(), ExportError> {
    for what in ["conversations", "messages", "attachments"] {
        tally.add(what, 0);
    }
    let Some(db) = src.database(DOMAIN, CHAT_STORAGE)? else {
        return Ok(());
    };
    let q = Queries::of(&db)?;
    let names = ContactNames::load_or_none(src, tally);
    let err = |e| db.err(e);
    let mut members: HashMap<i64, Member> = HashMap::new();
    if let Some(sql) = &q.members {
        let mut stmt = db.conn().prepare(sql).map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            })
            .map_err(err)?;
        for row in rows {
            let (pk, jid, session, name) = row.map_err(err)?;
            let person = person(jid.as_deref().unwrap_or(""), name.as_deref(), &names);
            members.insert(pk, Member { session, person });
        }
    }
    let mut sessions = Vec::new();
    {
        let mut stmt = db.conn().prepare(&q.sessions).map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                ))
            })
            .map_err(err)?;
        for row in rows {
            sessions.push(row.map_err(err)?);
        }
    }
    let mut conversations = Conversations::new(&out.dir, "WhatsApp");
    let mut missing = (0u64, None::<String>);
    for (pk, jid, partner, kind) in sessions {
        let group = kind == Some(1) || jid.ends_with("@g.us");
        let mut in_group: Vec<Person> = members
            .values()
            .filter(|m| m.session == Some(pk))
            .map(|m| m.person.clone())
            .collect();
        in_group.sort_by(|a, b| a.handle.cmp(&b.handle));
        in_group.dedup();
        let partner_person = person(&jid, partner.as_deref(), &names);
        let conversation = Conversation {
            title: match (&partner, group) {
                (Some(p), _) if !p.trim().is_empty() && group => p.clone(),
                _ => partner_person.display().to_string(),
            },
            members: match group {
                true => in_group,
                false => vec![partner_person.clone()],
            },
            group,
            service: "WhatsApp".into(),
            id: jid.clone(),
        };
        let ctx = Ctx {
            src,
            db: &db,
            q: &q,
            members: &members,
            partner: &partner_person,
            names: &names,
        };
        let written =
            conversations.write(&conversation, |sink| ctx.messages(pk, sink, &mut missing))?;
        tally.add("conversations", 1);
        tally.add("messages", written.messages);
        tally.add("attachments", written.attachments);
    }
    conversations.finish()?;
    if missing.0 > 0 {
        tally.add("attachments_missing", missing.0);
        tally.remark(format!(
            "{} WhatsApp media files are not in the backup, for example {}: listed on the pages, not copied",
            missing.0,
            missing.1.unwrap_or_default()
        ));
    }
    Ok(())
}

struct Ctx<'a> {
    src: &'a Source<'a>,
    db: &'a Database,
    q: &'a Queries,
    members: &'a HashMap<i64, Member>,
    partner: &'a Person,
    names: &'a ContactNames,
}

impl Ctx<'_> {
    fn messages(
        &self,
        session: i64,
        sink: &mut Sink<'_>,
        missing: &mut Missing,
    ) -> Result<(), ExportError> {
        let err = |e| self.db.err(e);
        let mut stmt = self.db.conn().prepare(&self.q.messages).map_err(err)?;
        let mut rows = stmt.query([session]).map_err(err)?;
        while let Some(r) = rows.next().map_err(err)? {
            let pk: i64 = r.get(0).map_err(err)?;
            let from_me = r.get::<_, Option<i64>>(1).map_err(err)?.unwrap_or(0) != 0;
            let date: Option<f64> = r.get(2).map_err(err)?;
            let text: Option<String> = r.get(3).map_err(err)?;
            let kind = r.get::<_, Option<i64>>(4).map_err(err)?.unwrap_or(0);
            let from_jid: Option<String> = r.get(5).map_err(err)?;
            let member: Option<i64> = r.get(6).map_err(err)?;
            let media: Option<i64> = r.get(7).map_err(err)?;
            let stanza: Option<String> = r.get(8).map_err(err)?;
            let sender = match (from_me, member.and_then(|m| self.members.get(&m))) {
                (true, _) => Person {
                    handle: String::new(),
                    name: Some("Me".into()),
                },
                (false, Some(m)) => m.person.clone(),
                (false, None) => match from_jid.as_deref() {
                    Some(j) if !j.ends_with("@g.us") && j != self.partner.handle => {
                        person(j, None, self.names)
                    }
                    _ => self.partner.clone(),
                },
            };
            let mut m = Message {
                id: stanza
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| pk.to_string()),
                time: date.and_then(from_apple_seconds),
                from_me,
                sender: sender.display().to_string(),
                handle: (!from_me).then(|| sender.handle.clone()),
                text: text.filter(|t| !t.trim().is_empty()),
                ..Message::default()
            };
            if kind == GROUP_EVENT || kind == SYSTEM {
                m.event = true;
                m.text = Some(m.text.unwrap_or_else(|| match kind {
                    GROUP_EVENT => "Group event".into(),
                    _ => "System message".into(),
                }));
            }
            if let Some(item) = media {
                self.media(item, kind, &mut m, sink, missing)?;
            }
            sink.message(&m)?;
        }
        Ok(())
    }

    fn media(
        &self,
        item: i64,
        kind: i64,
        m: &mut Message,
        sink: &mut Sink<'_>,
        missing: &mut Missing,
    ) -> Result<(), ExportError> {
        let Some(sql) = &self.q.media else {
            return Ok(());
        };
        let found = self.db.conn().prepare_cached(sql).and_then(|mut s| {
            s.query_row([item], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<f64>>(1)?,
                    r.get::<_, Option<f64>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                ))
            })
        });
        let (path, lat, lon, size) = match found {
            Ok(v) => v,
            Err(rusqlite::Error::QueryReturnedNoRows) => return Ok(()),
            Err(e) => return Err(self.db.err(e)),
        };
        if let (LOCATION, Some(a), Some(b)) = (kind, lat, lon) {
            m.location = Some((a, b));
        }
        let Some(path) = path.filter(|p| !p.is_empty()) else {
            return Ok(());
        };
        let name = path.rsplit('/').next().unwrap_or(&path).to_string();
        let safe = !path.starts_with('/') && !path.split('/').any(|c| c == ".." || c.is_empty());
        let file = safe
            .then(|| self.src.file(DOMAIN, &format!("{MEDIA_FOLDER}/{path}")))
            .flatten();
        let out = sink.attach(self.src, file, &name, &path, missing)?;
        m.attachments.push(Attachment {
            mime: None,
            name,
            path: out,
            size: size.and_then(|s| u64::try_from(s).ok()),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jid_is_a_phone_number_or_itself() {
        assert_eq!(
            phone_of("19198887386@s.whatsapp.net").as_deref(),
            Some("+19198887386")
        );
        assert_eq!(phone_of("120363023356659014@g.us"), None);
        assert_eq!(phone_of("205690463334636@lid"), None);
        let mut names = ContactNames::default();
        names.insert("(919) 888-7386", "This Is DFIR Two".into());
        let p = person("19198887386@s.whatsapp.net", Some("DFIR"), &names);
        assert_eq!(p.display(), "This Is DFIR Two");
        assert_eq!(p.handle, "+19198887386");
        assert_eq!(
            person("205690463334636@lid", None, &names).display(),
            "205690463334636@lid"
        );
    }
}
