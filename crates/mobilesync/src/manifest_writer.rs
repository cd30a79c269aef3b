//! Writing a `Manifest.db` with Apple's schema (format reference §2).
//!
//! Used by the test kit to generate synthetic backups and to rebuild the index of a restore
//! image. Invariants: the writer only ever creates a new file (it refuses to overwrite), all rows
//! go into one transaction, and the database uses a rollback journal (`journal_mode=DELETE`) so
//! that after [`ManifestDbWriter::finish`] the folder holds exactly one file, `Manifest.db`.
//! Dropping the writer without `finish` rolls back and leaves an empty database file behind.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, params};

use crate::error::Error;
use crate::mbfile::MbFile;

/// Apple's schema, verbatim from a real iOS 14.3 Manifest.db. Also the schema of every
/// Manifest.db a restore image rebuilds ([`crate::ManifestDb::without_rows`]).
pub(crate) const SCHEMA: &str = "
CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB);
CREATE INDEX FilesDomainIdx ON Files(domain);
CREATE INDEX FilesRelativePathIdx ON Files(relativePath);
CREATE INDEX FilesFlagsIdx ON Files(flags);
CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB);
";

pub(crate) const INSERT_FILE: &str =
    "INSERT INTO Files (fileID, domain, relativePath, flags, file) VALUES (?1, ?2, ?3, ?4, ?5)";
pub(crate) const INSERT_PROPERTY: &str = "INSERT INTO Properties (key, value) VALUES (?1, ?2)";

/// Writes a new Manifest.db in one transaction.
#[derive(Debug)]
pub struct ManifestDbWriter {
    conn: Connection,
    path: PathBuf,
}

impl ManifestDbWriter {
    /// Creates `path` (which must not exist), the schema, and opens the transaction.
    pub fn create(path: &Path) -> Result<Self, Error> {
        create_empty_file(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|source| sqlite(path, "creating the database", source))?;
        let writer = ManifestDbWriter {
            conn,
            path: path.to_path_buf(),
        };
        writer.set_rollback_journal()?;
        writer
            .conn
            .execute_batch(&format!("BEGIN;{SCHEMA}"))
            .map_err(|source| sqlite(path, "creating the schema", source))?;
        Ok(writer)
    }

    fn set_rollback_journal(&self) -> Result<(), Error> {
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode=DELETE", [], |row| row.get(0))
            .map_err(|source| sqlite(&self.path, "setting journal_mode", source))?;
        debug_assert!(
            mode.eq_ignore_ascii_case("delete"),
            "journal_mode is {mode}"
        );
        Ok(())
    }

    /// Inserts one row, encoding `file` as Apple does. The values are written as given (no
    /// validation), so tests can build hostile indexes.
    pub fn insert(
        &mut self,
        file_id: &str,
        domain: &str,
        relative_path: &str,
        flags: i64,
        file: &MbFile,
    ) -> Result<(), Error> {
        self.insert_raw(file_id, domain, relative_path, flags, &file.encode())
    }

    /// Inserts one row with the `file` column exactly as given.
    pub fn insert_raw(
        &mut self,
        file_id: &str,
        domain: &str,
        relative_path: &str,
        flags: i64,
        file_blob: &[u8],
    ) -> Result<(), Error> {
        let what = || format!("inserting row {file_id:?}");
        let mut stmt = self
            .conn
            .prepare_cached(INSERT_FILE)
            .map_err(|source| sqlite(&self.path, &what(), source))?;
        stmt.execute(params![file_id, domain, relative_path, flags, file_blob])
            .map_err(|source| sqlite(&self.path, &what(), source))?;
        Ok(())
    }

    /// Inserts one row into `Properties`.
    pub fn insert_property(&mut self, key: &str, value: &[u8]) -> Result<(), Error> {
        let what = || format!("inserting property {key:?}");
        let mut stmt = self
            .conn
            .prepare_cached(INSERT_PROPERTY)
            .map_err(|source| sqlite(&self.path, &what(), source))?;
        stmt.execute(params![key, value])
            .map_err(|source| sqlite(&self.path, &what(), source))?;
        Ok(())
    }

    /// Commits and closes. Only after this returns `Ok` is the file complete.
    pub fn finish(self) -> Result<(), Error> {
        self.conn
            .execute_batch("COMMIT")
            .map_err(|source| sqlite(&self.path, "committing", source))?;
        let path = self.path;
        self.conn
            .close()
            .map_err(|(_, source)| sqlite(&path, "closing", source))
    }
}

/// Creates the file with `create_new`, so an existing file is never touched (no check-then-open
/// race).
fn create_empty_file(path: &Path) -> Result<(), Error> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::AlreadyExists {
            path: path.to_path_buf(),
        }),
        Err(source) => Err(Error::Io {
            path: path.to_path_buf(),
            what: "cannot create",
            source,
        }),
    }
}

fn sqlite(path: &Path, what: &str, source: rusqlite::Error) -> Error {
    Error::Sqlite {
        path: path.to_path_buf(),
        what: what.to_owned(),
        source,
    }
}
