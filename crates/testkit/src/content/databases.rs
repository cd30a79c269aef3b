//! Real SQLite databases filled with real rows until they reach a target size.
//!
//! Invariants: page size 4096; created with `journal_mode=OFF` so no journal file is ever
//! left beside a blob; rows are inserted in one transaction per database, so a file's bytes
//! depend only on its seed and target. Each database module also offers a `nightly` edit
//! (insert and update a few hundred rows) used by [`crate::next_day`].

pub(crate) mod address_book;
pub(crate) mod calendar;
pub(crate) mod contact_photo;
pub(crate) mod misc;
pub(crate) mod notes;
pub(crate) mod photos;
pub(crate) mod sms;
pub(crate) mod voicemail;
pub(crate) mod whatsapp;

use std::path::Path;

use rusqlite::Connection;

use crate::error::{Context, Error};

pub(crate) const PAGE_SIZE: u64 = 4096;

/// Creates a new database file (replacing any) with the kit's page size and no journal.
pub(crate) fn create(path: &Path, schema: &str) -> Result<Connection, Error> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e).at(path),
        _ => {}
    }
    let conn = Connection::open(path).at(path)?;
    conn.execute_batch(&format!(
        "PRAGMA page_size={PAGE_SIZE}; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; {schema}"
    ))
    .at(path)?;
    Ok(conn)
}

/// Opens an existing database for a nightly edit: rollback journal (deleted at commit), so
/// closing leaves no `-wal`, `-shm` or `-journal` file.
pub(crate) fn open_for_edit(path: &Path) -> Result<Connection, Error> {
    let conn = Connection::open(path).at(path)?;
    conn.query_row("PRAGMA journal_mode=DELETE", [], |_| Ok(()))
        .at(path)?;
    Ok(conn)
}

/// Closes a connection, reporting the error instead of swallowing it in `Drop`.
pub(crate) fn close(conn: Connection, path: &Path) -> Result<(), Error> {
    conn.close().map_err(|(_, e)| e).at(path)
}

pub(crate) fn size_bytes(conn: &Connection) -> rusqlite::Result<u64> {
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    Ok(pages as u64 * PAGE_SIZE)
}

/// Calls `insert` at least `min_rows` times, then until the database reaches `target` bytes,
/// all in one transaction. Returns how many rows were inserted.
pub(crate) fn fill(
    conn: &Connection,
    target: u64,
    min_rows: usize,
    mut insert: impl FnMut(usize) -> rusqlite::Result<()>,
) -> rusqlite::Result<usize> {
    conn.execute_batch("BEGIN")?;
    let mut n = 0;
    loop {
        if n >= min_rows && n % 32 == 0 && size_bytes(conn)? >= target {
            break;
        }
        insert(n)?;
        n += 1;
    }
    conn.execute_batch("COMMIT")?;
    Ok(n)
}

/// Largest rowid of a table (0 when empty).
pub(crate) fn max_rowid(conn: &Connection, table: &str) -> rusqlite::Result<i64> {
    conn.query_row(
        &format!("SELECT coalesce(max(rowid), 0) FROM {table}"),
        [],
        |r| r.get(0),
    )
}

/// Rows touched by a nightly edit.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RowEdits {
    pub(crate) inserted: usize,
    pub(crate) updated: usize,
}

impl std::ops::AddAssign for RowEdits {
    fn add_assign(&mut self, rhs: Self) {
        self.inserted += rhs.inserted;
        self.updated += rhs.updated;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_reaches_target_and_leaves_no_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = create(&path, "CREATE TABLE t (x TEXT);").unwrap();
        let n = fill(&conn, 100_000, 10, |i| {
            conn.execute(
                "INSERT INTO t VALUES (?1)",
                [format!("row {i} {}", "x".repeat(100))],
            )
            .map(|_| ())
        })
        .unwrap();
        close(conn, &path).unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        assert!((100_000..120_000).contains(&len), "{len} after {n} rows");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
