//! The modern Notes store (`NoteStore.sqlite`, iOS 9 and later): a Core Data database whose
//! notes, folders, accounts and attachments all live in one table, `ZICCLOUDSYNCINGOBJECT`,
//! told apart by `Z_ENT`.
//!
//! Entity numbers differ between iOS versions (ICNote is 11 on iOS 15 and 17, ICNoteData 17 on
//! iOS 15 and 18 on iOS 17), so they are looked up by name in `Z_PRIMARYKEY`. Core Data also
//! numbers the columns of attributes that several entities share by name (`ZTITLE1` is a
//! note's title, `ZTITLE2` a folder's; a note's creation date is `ZCREATIONDATE3` on iOS 15
//! and 17, `ZCREATIONDATE1` on older stores), and which number goes to which entity changes
//! with the model: of the candidate columns a table has, the one the entity's rows fill is
//! taken.

use crate::cell::{bytes, flag, integer, number, text};
use crate::database::{Columns, Database};
use crate::error::ExportError;
use std::collections::HashMap;

pub const TABLE: &str = "ZICCLOUDSYNCINGOBJECT";
pub const NOTE_DATA: &str = "ZICNOTEDATA";

/// One note row.
#[derive(Debug, Clone)]
pub struct NoteRow {
    pub pk: i64,
    pub title: Option<String>,
    pub folder: Option<i64>,
    /// Core Data seconds since 2001.
    pub created: Option<f64>,
    pub modified: Option<f64>,
    pub locked: bool,
    /// Removed from Recently Deleted (or replaced), waiting for iCloud to forget it: Notes
    /// shows it nowhere.
    pub marked_for_deletion: bool,
    /// `ZICNOTEDATA.ZDATA`: gzipped protobuf (encrypted when locked); `None` when NULL.
    pub data: Option<Vec<u8>>,
}

/// One folder row.
#[derive(Debug, Clone)]
pub struct FolderRow {
    pub title: Option<String>,
    pub parent: Option<i64>,
    pub account: Option<i64>,
}

/// What the store holds that the export reads.
#[derive(Debug, Default)]
pub struct Store {
    pub notes: Vec<NoteRow>,
    pub folders: HashMap<i64, FolderRow>,
    /// Account names by primary key.
    pub accounts: HashMap<i64, String>,
    /// What an attachment shows as in the text, by its `ZIDENTIFIER`.
    pub attachments: HashMap<String, String>,
}

/// The `Z_ENT` numbers of the entities read.
struct Entities {
    note: i64,
    folder: i64,
    account: Option<i64>,
    attachment: Option<i64>,
    inline_attachment: Option<i64>,
}

impl Entities {
    fn load(db: &Database) -> Result<Self, ExportError> {
        let pk = db.table("Z_PRIMARYKEY")?;
        pk.require("Z_ENT")?;
        pk.require("Z_NAME")?;
        let mut stmt = db
            .conn()
            .prepare("SELECT Z_ENT, Z_NAME FROM Z_PRIMARYKEY")
            .map_err(|e| db.err(e))?;
        let by_name: HashMap<String, i64> = stmt
            .query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, i64>(0)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| db.err(e))?;
        let required = |name: &str| {
            by_name.get(name).copied().ok_or_else(|| {
                db.bad_data(format!(
                    "Z_PRIMARYKEY names no entity {name}: a Notes schema this exporter does not know"
                ))
            })
        };
        Ok(Self {
            note: required("ICNote")?,
            folder: required("ICFolder")?,
            account: by_name.get("ICAccount").copied(),
            attachment: by_name.get("ICAttachment").copied(),
            inline_attachment: by_name.get("ICInlineAttachment").copied(),
        })
    }
}

impl Store {
    pub fn load(db: &Database) -> Result<Self, ExportError> {
        let ents = Entities::load(db)?;
        let objects = db.table(TABLE)?;
        for c in ["Z_PK", "Z_ENT"] {
            objects.require(c)?;
        }
        let mut store = Store {
            notes: load_notes(db, &objects, ents.note)?,
            folders: load_folders(db, &objects, ents.folder)?,
            ..Store::default()
        };
        if let Some(account) = ents.account {
            store.accounts = load_accounts(db, &objects, account)?;
        }
        if let Some(ent) = ents.attachment {
            load_attachments(db, &objects, ent, &mut store.attachments)?;
        }
        if let Some(ent) = ents.inline_attachment {
            load_inline_attachments(db, &objects, ent, &mut store.attachments)?;
        }
        Ok(store)
    }
}

/// Of `candidates`, the column the rows of entity `ent` fill most (ties: the first listed);
/// when none is filled, the first the table has; `None` when it has none of them.
fn column_for<'c>(
    db: &Database,
    objects: &Columns<'_>,
    ent: i64,
    candidates: &[&'c str],
) -> Result<Option<&'c str>, ExportError> {
    let present: Vec<&'c str> = candidates
        .iter()
        .copied()
        .filter(|c| objects.has(c))
        .collect();
    if present.len() < 2 {
        return Ok(present.first().copied());
    }
    let counts = present
        .iter()
        .map(|c| format!("count({c})"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("SELECT {counts} FROM {TABLE} WHERE Z_ENT = ?1");
    let filled: Vec<i64> = db
        .conn()
        .query_row(&sql, [ent], |r| {
            (0..present.len()).map(|i| r.get::<_, i64>(i)).collect()
        })
        .map_err(|e| db.err(e))?;
    let mut best = 0;
    for (i, n) in filled.iter().enumerate() {
        if *n > filled[best] {
            best = i;
        }
    }
    Ok(Some(present[best]))
}

fn load_notes(db: &Database, objects: &Columns<'_>, ent: i64) -> Result<Vec<NoteRow>, ExportError> {
    let data = db.table(NOTE_DATA)?;
    data.require("ZDATA")?;
    let title = column_for(db, objects, ent, &["ZTITLE1", "ZTITLE"])?;
    let created = column_for(
        db,
        objects,
        ent,
        &[
            "ZCREATIONDATE3",
            "ZCREATIONDATE1",
            "ZCREATIONDATE2",
            "ZCREATIONDATE",
        ],
    )?;
    let modified = column_for(
        db,
        objects,
        ent,
        &["ZMODIFICATIONDATE1", "ZMODIFICATIONDATE"],
    )?;
    let folder = objects.require("ZFOLDER")?;
    // The note points at its data (ZNOTEDATA), and the data at its note (ZNOTE): either joins.
    let join = match (objects.has("ZNOTEDATA"), data.has("ZNOTE")) {
        (true, _) => "d.Z_PK = n.ZNOTEDATA",
        (false, true) => "d.ZNOTE = n.Z_PK",
        (false, false) => return Err(db.bad_data(format!(
            "neither {TABLE}.ZNOTEDATA nor {NOTE_DATA}.ZNOTE links notes to their text: a Notes schema this exporter does not know"
        ))),
    };
    let n = |c: Option<&str>| c.map_or_else(|| "NULL".to_string(), |c| format!("n.{c}"));
    let optional = |c: &str| n(objects.has(c).then_some(c));
    let sql = format!(
        "SELECT n.Z_PK, {title}, n.{folder}, {created}, {modified}, {locked}, {deleted}, d.ZDATA \
         FROM {TABLE} n LEFT JOIN {NOTE_DATA} d ON {join} WHERE n.Z_ENT = ?1 ORDER BY n.Z_PK",
        title = n(title),
        created = n(created),
        modified = n(modified),
        locked = optional("ZISPASSWORDPROTECTED"),
        deleted = optional("ZMARKEDFORDELETION"),
    );
    let mut stmt = db.conn().prepare(&sql).map_err(|e| db.err(e))?;
    let rows = stmt
        .query_map([ent], |r| {
            Ok(NoteRow {
                pk: r.get(0)?,
                title: text(r, 1)?,
                folder: r.get(2)?,
                created: number(r, 3)?,
                modified: number(r, 4)?,
                locked: flag(r, 5)?,
                marked_for_deletion: flag(r, 6)?,
                data: bytes(r, 7)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| db.err(e))?;
    Ok(rows)
}

fn load_folders(
    db: &Database,
    objects: &Columns<'_>,
    ent: i64,
) -> Result<HashMap<i64, FolderRow>, ExportError> {
    let title = column_for(db, objects, ent, &["ZTITLE2", "ZTITLE1", "ZTITLE"])?;
    let account = column_for(db, objects, ent, &["ZOWNER", "ZACCOUNT"])?;
    let sql = format!(
        "SELECT Z_PK, {title}, {parent}, {account} FROM {TABLE} WHERE Z_ENT = ?1",
        title = title.unwrap_or("NULL"),
        parent = objects.or_null("ZPARENT"),
        account = account.unwrap_or("NULL"),
    );
    let mut stmt = db.conn().prepare(&sql).map_err(|e| db.err(e))?;
    let rows = stmt
        .query_map([ent], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                FolderRow {
                    title: text(r, 1)?,
                    parent: integer(r, 2)?,
                    account: integer(r, 3)?,
                },
            ))
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| db.err(e))?;
    Ok(rows)
}

fn load_accounts(
    db: &Database,
    objects: &Columns<'_>,
    ent: i64,
) -> Result<HashMap<i64, String>, ExportError> {
    let Some(name) = column_for(db, objects, ent, &["ZNAME", "ZNAME1"])? else {
        return Ok(HashMap::new());
    };
    let sql = format!("SELECT Z_PK, {name} FROM {TABLE} WHERE Z_ENT = ?1 AND {name} IS NOT NULL");
    let mut stmt = db.conn().prepare(&sql).map_err(|e| db.err(e))?;
    let rows = stmt
        .query_map([ent], |r| {
            Ok((r.get::<_, i64>(0)?, text(r, 1)?.unwrap_or_default()))
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| db.err(e))?;
    Ok(rows)
}

/// Attachments (photos, scans, drawings, files, links, tables) show as their name, a link as
/// its URL.
fn load_attachments(
    db: &Database,
    objects: &Columns<'_>,
    ent: i64,
    out: &mut HashMap<String, String>,
) -> Result<(), ExportError> {
    if !objects.has("ZIDENTIFIER") {
        return Ok(());
    }
    let uti = column_for(db, objects, ent, &["ZTYPEUTI", "ZTYPEUTI1"])?;
    let title = column_for(db, objects, ent, &["ZTITLE", "ZTITLE1"])?;
    let sql = format!(
        "SELECT ZIDENTIFIER, {uti}, {user_title}, {title}, {url} FROM {TABLE} \
         WHERE Z_ENT = ?1 AND ZIDENTIFIER IS NOT NULL",
        uti = uti.unwrap_or("NULL"),
        user_title = objects.or_null("ZUSERTITLE"),
        title = title.unwrap_or("NULL"),
        url = objects.or_null("ZURLSTRING"),
    );
    let mut stmt = db.conn().prepare(&sql).map_err(|e| db.err(e))?;
    let rows = stmt
        .query_map([ent], |r| {
            Ok((
                text(r, 0)?.unwrap_or_default(),
                text(r, 1)?,
                text(r, 2)?.or(text(r, 3)?),
                text(r, 4)?,
            ))
        })
        .map_err(|e| db.err(e))?;
    for row in rows {
        let (id, uti, name, url) = row.map_err(|e| db.err(e))?;
        let shown = match (url, name, uti) {
            (Some(url), _, Some(uti)) if uti == "public.url" => url,
            (_, Some(name), _) if !name.trim().is_empty() => format!("[attachment: {name}]"),
            (_, _, Some(uti)) => format!("[attachment: {uti}]"),
            _ => "[attachment]".to_string(),
        };
        out.insert(id, shown);
    }
    Ok(())
}

/// Inline attachments (hashtags, mentions, links to other notes) show as their text.
fn load_inline_attachments(
    db: &Database,
    objects: &Columns<'_>,
    ent: i64,
    out: &mut HashMap<String, String>,
) -> Result<(), ExportError> {
    if !objects.has("ZIDENTIFIER") || !objects.has("ZALTTEXT") {
        return Ok(());
    }
    let sql = format!(
        "SELECT ZIDENTIFIER, ZALTTEXT FROM {TABLE} \
         WHERE Z_ENT = ?1 AND ZIDENTIFIER IS NOT NULL AND ZALTTEXT IS NOT NULL"
    );
    let mut stmt = db.conn().prepare(&sql).map_err(|e| db.err(e))?;
    let rows = stmt
        .query_map([ent], |r| {
            Ok((
                text(r, 0)?.unwrap_or_default(),
                text(r, 1)?.unwrap_or_default(),
            ))
        })
        .map_err(|e| db.err(e))?;
    for row in rows {
        let (id, alt) = row.map_err(|e| db.err(e))?;
        out.insert(id, alt);
    }
    Ok(())
}
