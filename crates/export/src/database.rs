//! An Apple SQLite database out of a snapshot, and what its schema has.
//!
//! Schemas change with every iOS version, so exporters ask for the tables and columns they read
//! ([`Database::table`], [`Columns::require`], [`Columns::pick`]) instead of assuming them: a
//! schema they do not know is an [`ExportError::Schema`] naming the table or column, never an
//! empty export.

use crate::error::ExportError;
use crate::source::Source;
use hearth_browse::FileData;
use rusqlite::{Connection, OpenFlags};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use tempfile::TempDir;

pub struct Database {
    conn: Connection,
    /// `<Domain>/<relative path>`: how errors name it.
    name: String,
    device: String,
    /// The private copy SQLite reads; removed on drop.
    _dir: TempDir,
}

impl Database {
    /// Copies `main` (and `wal`) out of the snapshot into a temporary folder and opens the copy.
    pub(crate) fn copy_of(
        source: &Source<'_>,
        name: &str,
        main: &FileData,
        wal: Option<&FileData>,
    ) -> Result<Self, ExportError> {
        let dir = tempfile::Builder::new()
            .prefix("hearth-export-")
            .tempdir()
            .map_err(ExportError::io(
                std::env::temp_dir(),
                "making a temporary folder",
            ))?;
        let path = dir.path().join("db");
        copy_out(source, main, &path)?;
        if let Some(wal) = wal {
            copy_out(source, wal, &dir.path().join("db-wal"))?;
        }
        Self::open(&path, name, source.device(), dir)
    }

    /// A database file on disk (a copy the caller owns), for tests of the readers.
    pub fn open_copy(path: &Path, name: &str, device: &str) -> Result<Self, ExportError> {
        let dir = tempfile::Builder::new()
            .prefix("hearth-export-")
            .tempdir()
            .map_err(ExportError::io(
                std::env::temp_dir(),
                "making a temporary folder",
            ))?;
        let copy = dir.path().join("db");
        std::fs::copy(path, &copy).map_err(ExportError::io(path, "copying"))?;
        let wal = path.with_file_name(format!(
            "{}-wal",
            path.file_name().unwrap_or_default().to_string_lossy()
        ));
        if wal.exists() {
            std::fs::copy(&wal, dir.path().join("db-wal"))
                .map_err(ExportError::io(&wal, "copying"))?;
        }
        Self::open(&copy, name, device, dir)
    }

    fn open(path: &Path, name: &str, device: &str, dir: TempDir) -> Result<Self, ExportError> {
        let err = |source| ExportError::Sqlite {
            device: device.to_string(),
            database: name.to_string(),
            source,
        };
        // Read-write on the private copy, so that SQLite can replay the WAL; nothing is written
        // through it (`query_only`).
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        conn.pragma_update(None, "query_only", true).map_err(err)?;
        // A file that is not a database fails here rather than at the first query.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .map_err(err)?;
        Ok(Self {
            conn,
            name: name.to_string(),
            device: device.to_string(),
            _dir: dir,
        })
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// An SQLite failure on this database, named.
    pub fn err(&self, source: rusqlite::Error) -> ExportError {
        ExportError::Sqlite {
            device: self.device.clone(),
            database: self.name.clone(),
            source,
        }
    }

    /// Bytes of this database that are not what they should be.
    pub fn bad_data(&self, what: impl Into<String>) -> ExportError {
        ExportError::BadData {
            device: self.device.clone(),
            database: self.name.clone(),
            what: what.into(),
        }
    }

    /// The columns of `table`, or `None` when there is no such table.
    pub fn columns(&self, table: &str) -> Result<Option<Columns<'_>>, ExportError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM pragma_table_info(?1)")
            .map_err(|e| self.err(e))?;
        let names = stmt
            .query_map([table], |row| row.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<BTreeSet<_>, _>>())
            .map_err(|e| self.err(e))?;
        Ok((!names.is_empty()).then(|| Columns {
            db: self,
            table: table.to_string(),
            names,
        }))
    }

    /// The columns of `table`, which the exporter cannot do without.
    pub fn table(&self, table: &str) -> Result<Columns<'_>, ExportError> {
        self.columns(table)?
            .ok_or_else(|| self.missing(table, None))
    }

    /// The first of `tables` the database has (schemas rename tables across iOS versions).
    pub fn first_table(&self, tables: &[&str]) -> Result<Columns<'_>, ExportError> {
        for t in tables {
            if let Some(c) = self.columns(t)? {
                return Ok(c);
            }
        }
        Err(self.missing(&tables.join(" or "), None))
    }

    fn missing(&self, table: &str, column: Option<&str>) -> ExportError {
        ExportError::Schema {
            device: self.device.clone(),
            database: self.name.clone(),
            table: table.to_string(),
            column: column.map(str::to_string),
        }
    }
}

/// The columns one table has.
pub struct Columns<'d> {
    db: &'d Database,
    table: String,
    names: BTreeSet<String>,
}

impl Columns<'_> {
    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn has(&self, column: &str) -> bool {
        self.names.contains(column)
    }

    /// `column`, which the exporter cannot do without.
    pub fn require<'c>(&self, column: &'c str) -> Result<&'c str, ExportError> {
        match self.has(column) {
            true => Ok(column),
            false => Err(self.db.missing(&self.table, Some(column))),
        }
    }

    /// The first of `columns` the table has (a column renamed across iOS versions).
    pub fn pick<'c>(&self, columns: &[&'c str]) -> Option<&'c str> {
        columns.iter().copied().find(|c| self.has(c))
    }

    /// `column` if the table has it, else the SQL `NULL`: for optional columns in a SELECT.
    pub fn or_null<'c>(&self, column: &'c str) -> &'c str {
        match self.has(column) {
            true => column,
            false => "NULL",
        }
    }
}

fn copy_out(source: &Source<'_>, file: &FileData, path: &Path) -> Result<(), ExportError> {
    let f = File::create(path).map_err(ExportError::io(path, "writing a temporary copy"))?;
    let mut w = BufWriter::new(f);
    source.copy(file, &mut w)?;
    w.into_inner().map(drop).map_err(|e| ExportError::Io {
        path: path.to_path_buf(),
        what: "writing a temporary copy",
        source: e.into_error(),
    })
}
