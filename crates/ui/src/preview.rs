//! What a file page shows of a file: the picture, video or sound (from its raw URL), its text
//! (a plist as XML text), a SQLite database's tables with their row counts, or nothing but its
//! size. Every preview is bounded: text and plists read at most [`TEXT_MAX`] bytes, a database
//! at most [`SQLITE_MAX`] (copied into a private temporary file first: SQLite wants a file,
//! and the repository's bytes are never opened in place).

use crate::content::{SNIFF_LEN, browser_shows, is_text, media_type};
use crate::error::UiError;
use hearth_browse::{FileReader, NodeId, SnapshotFiles};
use hearth_repo::{NoProgress, Repository};
use std::io::Write;

/// The most of a file shown as text (and of a plist parsed).
pub const TEXT_MAX: u64 = 1 << 20;
/// The largest database whose tables are listed.
pub const SQLITE_MAX: u64 = 512 << 20;
/// The most tables listed of one database.
pub const TABLES_MAX: usize = 1000;

const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";
const BPLIST_MAGIC: &[u8] = b"bplist00";

pub enum Preview {
    /// An image, video or sound the browser shows, of this media type.
    Media(&'static str),
    /// Text (a plist's as XML); `cut` when only the first part is shown.
    Text { text: String, cut: bool },
    /// A SQLite database's tables and their rows (`None`: the count failed).
    Sqlite(Vec<(String, Option<u64>)>),
    /// Nothing to show, and why.
    None(String),
}

/// The preview of the file `node` of `files`.
pub fn preview(repo: &Repository, files: &SnapshotFiles, node: NodeId) -> Result<Preview, UiError> {
    let Some(file) = files.file(node) else {
        return Ok(Preview::None("a folder".into()));
    };
    let name = &files.node(node).name;
    let mut reader = FileReader::open(repo, file)?;
    // The first bytes tell media (shown from the raw URL, not read here) from the rest.
    let mut head = vec![0; file.size.min(SNIFF_LEN as u64) as usize];
    let n = reader.read_at(0, &mut head)?;
    head.truncate(n);
    if let Some(media) = media_type(name, &head) {
        return Ok(match browser_shows(media) {
            true => Preview::Media(media),
            false => Preview::None(format!("a browser cannot show {media}; download it")),
        });
    }
    let mut head = vec![0; file.size.min(TEXT_MAX) as usize];
    let n = reader.read_at(0, &mut head)?;
    head.truncate(n);
    let cut = file.size > head.len() as u64;
    if head.starts_with(SQLITE_MAGIC) {
        return sqlite(repo, files, node, file.size);
    }
    if head.starts_with(BPLIST_MAGIC) {
        if cut {
            return Ok(Preview::None(format!(
                "a binary plist over {} is not shown; download it",
                crate::format::bytes(TEXT_MAX)
            )));
        }
        return Ok(plist_xml(&head));
    }
    if is_text(&head) {
        let text = String::from_utf8_lossy(&head).into_owned();
        return Ok(Preview::Text { text, cut });
    }
    Ok(Preview::None("not text, a picture or a database".into()))
}

/// A binary plist as XML text, the XML cut at [`TEXT_MAX`].
fn plist_xml(bytes: &[u8]) -> Preview {
    let value = match hearth_mobilesync::parse_plist(bytes) {
        Ok(v) => v,
        Err(e) => return Preview::None(format!("a plist that does not read: {e}")),
    };
    let mut out = Capped(Vec::new());
    let cut = value.to_writer_xml(&mut out).is_err();
    let text = String::from_utf8_lossy(&out.0).into_owned();
    Preview::Text { text, cut }
}

/// A writer that refuses to grow past [`TEXT_MAX`] (keeping what fits).
struct Capped(Vec<u8>);

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = TEXT_MAX as usize - self.0.len();
        if room == 0 {
            return Err(std::io::Error::other("preview cut"));
        }
        let n = buf.len().min(room);
        self.0.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The tables of the database `node`, from a private copy.
fn sqlite(
    repo: &Repository,
    files: &SnapshotFiles,
    node: NodeId,
    size: u64,
) -> Result<Preview, UiError> {
    if size > SQLITE_MAX {
        return Ok(Preview::None(format!(
            "a database over {} is not opened here; download it",
            crate::format::bytes(SQLITE_MAX)
        )));
    }
    let copy = tempfile::Builder::new()
        .prefix("hearth-ui-")
        .suffix(".sqlite")
        .tempfile()
        .map_err(|e| UiError::Internal(format!("a temporary file for the database: {e}")))?;
    {
        let mut out = std::io::BufWriter::new(copy.as_file());
        hearth_browse::dump_file(repo, files, node, &mut out, &NoProgress)?;
        out.flush()
            .map_err(|e| UiError::Internal(format!("writing the database's copy: {e}")))?;
    }
    Ok(match tables(copy.path()) {
        Ok(t) => Preview::Sqlite(t),
        Err(e) => Preview::None(format!("a database that does not open: {e}")),
    })
}

/// Every table of the database at `path` (opened read-only) with its row count.
pub fn tables(path: &std::path::Path) -> rusqlite::Result<Vec<(String, Option<u64>)>> {
    use rusqlite::{Connection, OpenFlags};
    let db = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let names: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .take(TABLES_MAX)
        .collect::<rusqlite::Result<_>>()?;
    Ok(names
        .into_iter()
        .map(|name| {
            let quoted = name.replace('"', "\"\"");
            let rows = db
                .query_row(&format!("SELECT count(*) FROM \"{quoted}\""), [], |r| {
                    r.get::<_, i64>(0)
                })
                .ok()
                .and_then(|n| u64::try_from(n).ok());
            (name, rows)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_databases_tables_are_listed_with_their_rows_odd_names_included() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch(
            "CREATE TABLE message (a); INSERT INTO message VALUES (1), (2), (3);
             CREATE TABLE \"we\"\"ird\" (b); INSERT INTO \"we\"\"ird\" VALUES (1);
             CREATE TABLE empty (c);",
        )
        .unwrap();
        drop(db);
        let t = tables(&path).unwrap();
        assert_eq!(
            t,
            [
                ("empty".to_string(), Some(0)),
                ("message".to_string(), Some(3)),
                ("we\"ird".to_string(), Some(1)),
            ]
        );
    }

    #[test]
    fn a_binary_plist_reads_as_xml_and_garbage_is_refused() {
        let mut dict = plist::Dictionary::new();
        dict.insert("Name".into(), plist::Value::String("<Phone>".into()));
        let mut bin = Vec::new();
        plist::Value::Dictionary(dict)
            .to_writer_binary(&mut bin)
            .unwrap();
        let Preview::Text { text, cut } = plist_xml(&bin) else {
            panic!("not text");
        };
        assert!(!cut);
        assert!(text.contains("<key>Name</key>"), "{text}");
        assert!(text.contains("&lt;Phone&gt;"), "{text}");
        assert!(matches!(plist_xml(b"bplist00\xFF\xFF"), Preview::None(_)));
    }
}
