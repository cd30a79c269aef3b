//! Reading `Manifest.db`, the SQLite index of a device folder (format reference §2).
//!
//! The source folder must never change: the file is opened through SQLite's URI
//! `file:<path>?mode=ro&immutable=1`, which tells SQLite the file cannot change, so it takes no
//! locks and creates no `-wal`, `-shm` or `-journal` file, and works in a read-only folder (Apple's
//! own Manifest.db is in WAL mode; without `immutable` SQLite would try to create `-shm`).
//!
//! Rows come from an attacker-controllable database. Column values are read leniently (a NULL or
//! non-text value becomes a string, see [`RawRow`]) and one undecodable `file` blob does not fail
//! the others; callers validate `fileID` with [`crate::FileId::parse`] and paths with
//! [`crate::check_relative_path`] before touching the file system.

use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::config::DbConfig;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::decrypting_vfs::{self, Registered};
use crate::encryption::CipherFile;
use crate::error::Error;
use crate::mbfile::{MbFile, MbFileError};
use crate::regular::{Links, MANIFEST_DB_MAX_BYTES, open_regular};

/// The first 16 bytes of every SQLite database file.
pub const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Byte offsets of the file-format write/read version in the SQLite header: 1 = rollback
/// journal, 2 = WAL.
const HEADER_WRITE_VERSION: usize = 18;
const HEADER_READ_VERSION: usize = 19;

/// Columns the reader needs, in query order.
const FILES_COLUMNS: [&str; 5] = ["fileID", "domain", "relativePath", "flags", "file"];

/// What a row describes. `flags` decides; other values fall back to the MBFile `Mode` type bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    File,
    Directory,
    Symlink,
    Unknown,
}

impl EntryKind {
    /// The Manifest `flags` value: 1 file, 2 directory, 4 symlink.
    pub fn from_flags(flags: i64) -> Option<EntryKind> {
        match flags {
            1 => Some(EntryKind::File),
            2 => Some(EntryKind::Directory),
            4 => Some(EntryKind::Symlink),
            _ => None,
        }
    }

    /// From `st_mode & S_IFMT`.
    pub fn from_mode(mode: u32) -> EntryKind {
        match mode & 0o170000 {
            0o100000 => EntryKind::File,
            0o040000 => EntryKind::Directory,
            0o120000 => EntryKind::Symlink,
            _ => EntryKind::Unknown,
        }
    }

    /// The `flags` value Apple writes for this kind (`None` for `Unknown`).
    pub fn to_flags(self) -> Option<i64> {
        match self {
            EntryKind::File => Some(1),
            EntryKind::Directory => Some(2),
            EntryKind::Symlink => Some(4),
            EntryKind::Unknown => None,
        }
    }
}

/// One row of `Files`, with the `file` column decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestRow {
    /// As stored; not validated.
    pub file_id: String,
    pub domain: String,
    pub relative_path: String,
    pub flags: i64,
    pub file: Result<MbFile, MbFileError>,
}

impl ManifestRow {
    pub fn kind(&self) -> EntryKind {
        if let Some(kind) = EntryKind::from_flags(self.flags) {
            return kind;
        }
        match &self.file {
            Ok(MbFile {
                mode: Some(mode), ..
            }) => EntryKind::from_mode(*mode),
            _ => EntryKind::Unknown,
        }
    }
}

/// One row of `Files` with the `file` column as stored, for byte-faithful copies
/// ([`crate::ManifestDbWriter::insert_raw`]).
///
/// Text columns are read leniently: NULL becomes `""`, numbers their decimal text, and invalid
/// UTF-8 is replaced (U+FFFD), which makes `file_id != FileId::for_path(..)` and so is caught by
/// the caller's fileID check. A non-integer `flags` becomes 0, so [`ManifestRow::kind`] falls back
/// to the MBFile mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRow {
    pub file_id: String,
    pub domain: String,
    pub relative_path: String,
    pub flags: i64,
    /// `None` when the column is NULL.
    pub file: Option<Vec<u8>>,
}

impl RawRow {
    /// Decodes the `file` column.
    pub fn decode(self) -> ManifestRow {
        let file = match &self.file {
            Some(bytes) => MbFile::decode(bytes),
            None => Err(MbFileError::Missing),
        };
        ManifestRow {
            file_id: self.file_id,
            domain: self.domain,
            relative_path: self.relative_path,
            flags: self.flags,
            file,
        }
    }
}

/// SQL that holds exactly for the fileIDs [`crate::FileId::parse`] accepts: text of 40
/// characters, none outside `0-9a-f` (`GLOB` compares bytes, so no other byte passes).
/// [`is_valid_file_id`] says the same in Rust, at a fraction of the cost.
const VALID_FILE_ID: &str =
    "typeof(fileID) = 'text' AND length(fileID) = 40 AND fileID NOT GLOB '*[^0-9a-f]*'";

/// Whether a `fileID` value is one [`crate::FileId::parse`] accepts ([`VALID_FILE_ID`]).
fn is_valid_file_id(value: ValueRef<'_>) -> bool {
    match value {
        ValueRef::Text(t) => {
            t.len() == 40 && t.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        }
        _ => false,
    }
}

/// What [`ManifestDb::rebuilt`] makes of a row's `file` column, given its fileID.
type RebuildFile<'a> = dyn FnMut(&str, &[u8]) -> Option<Vec<u8>> + 'a;

/// A read-only Manifest.db.
#[derive(Debug)]
pub struct ManifestDb {
    conn: Connection,
    /// The file (or, for `from_plaintext`, the name) used in error messages.
    path: PathBuf,
    /// What an encrypted database reads through; dropped after `conn` closed.
    _decrypting: Option<Registered>,
}

impl ManifestDb {
    /// Opens `path` read-only and immutable (module docs). Fails with [`Error::NotSqlite`] when
    /// the file lacks the SQLite magic (typically an encrypted backup) and with
    /// [`Error::NotManifestDb`] when it has no usable `Files` table.
    pub fn open(path: &Path) -> Result<ManifestDb, Error> {
        let magic = read_magic(path)?;
        if magic.as_slice() != SQLITE_MAGIC {
            return Err(Error::NotSqlite {
                path: path.to_path_buf(),
            });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(immutable_uri(path), flags)
            .map_err(|source| corrupt(path, "opening", source))?;
        distrust_schema(&conn).map_err(|source| corrupt(path, "configuring", source))?;
        let db = ManifestDb {
            conn,
            path: path.to_path_buf(),
            _decrypting: None,
        };
        db.check_schema()?;
        Ok(db)
    }

    /// Opens a plaintext database held in memory (e.g. a decrypted Manifest.db, which must not
    /// touch the disk). `name_for_errors` is only used in messages.
    pub fn from_plaintext(mut bytes: Vec<u8>, name_for_errors: &Path) -> Result<ManifestDb, Error> {
        if !bytes.starts_with(SQLITE_MAGIC) {
            return Err(Error::NotSqlite {
                path: name_for_errors.to_path_buf(),
            });
        }
        force_rollback_journal_header(&mut bytes);
        let mut conn = Connection::open_in_memory()
            .map_err(|source| corrupt(name_for_errors, "opening in memory", source))?;
        distrust_schema(&conn).map_err(|source| corrupt(name_for_errors, "configuring", source))?;
        conn.deserialize_read_exact(rusqlite::MAIN_DB, bytes.as_slice(), bytes.len(), true)
            .map_err(|source| corrupt(name_for_errors, "loading into memory", source))?;
        let db = ManifestDb {
            conn,
            path: name_for_errors.to_path_buf(),
            _decrypting: None,
        };
        db.check_schema()?;
        Ok(db)
    }

    /// Opens an encrypted backup's Manifest.db, reading the plaintext of only the pages SQLite
    /// asks for (`crate::decrypting_vfs`): nothing of it is written anywhere, and memory does
    /// not grow with the file. Fails as [`Self::open`] does, with [`Error::ManifestDbUndecryptable`]
    /// when the plaintext is not SQLite (a wrong key).
    pub fn open_encrypted(file: CipherFile, path: &Path) -> Result<ManifestDb, Error> {
        let io = |what, source| Error::Io {
            path: path.to_path_buf(),
            what,
            source,
        };
        let mut magic = [0; SQLITE_MAGIC.len()];
        let read = file
            .read_at(0, &mut magic)
            .map_err(|e| io("cannot read", e))?;
        if read < magic.len() || magic != *SQLITE_MAGIC {
            return Err(Error::ManifestDbUndecryptable {
                path: path.to_path_buf(),
            });
        }
        // A database is whole pages (of 512 bytes or a larger power of two), so a ciphertext of
        // whole pages carries no padding, whatever its last bytes look like.
        let len = match file.cipher_len() % 512 {
            0 => file.cipher_len(),
            _ => file.plain_len().map_err(|e| io("cannot read", e))?,
        };
        let registered = decrypting_vfs::register(decrypting_vfs::Source {
            file,
            len,
            patch_header: rollback_journal_at,
        })
        .map_err(|source| corrupt(path, "registering the decrypting reader", source))?;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(registered.uri(), flags)
            .map_err(|source| corrupt(path, "opening", source))?;
        // Sorts and temporary tables in memory: the VFS refuses temporary files, which would
        // hold plaintext.
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(|source| corrupt(path, "configuring", source))?;
        distrust_schema(&conn).map_err(|source| corrupt(path, "configuring", source))?;
        let db = ManifestDb {
            conn,
            path: path.to_path_buf(),
            _decrypting: Some(registered),
        };
        db.check_schema()?;
        Ok(db)
    }

    /// A copy of the plaintext database `bytes` without the rows whose fileID is in `dropped`,
    /// for a restore image that leaves some entries out.
    ///
    /// The copy is a fresh database made with Hearth's own schema (Apple's, as
    /// [`crate::ManifestDbWriter`] writes it), into which the kept `Files` rows and the
    /// `Properties` rows are copied value by value, types kept, with the header's
    /// `user_version` and `application_id`. Nothing of the source's schema is ever evaluated
    /// (its index expressions, partial indexes, triggers, views, generated columns, defaults
    /// and checks are not copied, and the source is only read: a plain scan of each table),
    /// and no dropped row survives anywhere in the bytes.
    pub fn without_rows(
        bytes: Vec<u8>,
        dropped: &std::collections::BTreeSet<String>,
        name_for_errors: &Path,
    ) -> Result<Vec<u8>, Error> {
        Self::rebuilt(bytes, dropped, |_, _| None, name_for_errors)
    }

    /// As [`Self::without_rows`], with each kept row's `file` column (its MBFile) replaced by
    /// what `file` returns for it, given the row's fileID (as snapshots name it) and the
    /// column's bytes; `None` keeps the column as it is. A restore image of an encrypted
    /// backup's plaintext rebuilds every MBFile without its key ([`crate::unencrypted_mbfile`]).
    pub fn rebuilt(
        bytes: Vec<u8>,
        dropped: &std::collections::BTreeSet<String>,
        mut file: impl FnMut(&str, &[u8]) -> Option<Vec<u8>>,
        name_for_errors: &Path,
    ) -> Result<Vec<u8>, Error> {
        let source = ManifestDb::from_plaintext(bytes, name_for_errors)?;
        let fail = |what| move |source| corrupt(name_for_errors, what, source);
        let mut out = Connection::open_in_memory().map_err(fail("opening in memory"))?;
        let tx = out.transaction().map_err(fail("starting a transaction"))?;
        tx.execute_batch(crate::manifest_writer::SCHEMA)
            .map_err(fail("creating the schema"))?;
        source.copy_files(&tx, dropped, &mut file)?;
        source.copy_properties(&tx)?;
        for pragma in ["user_version", "application_id"] {
            let value: i64 = source
                .conn
                .query_row(&format!("PRAGMA {pragma}"), [], |r| r.get(0))
                .map_err(fail("reading the header"))?;
            tx.execute_batch(&format!("PRAGMA {pragma} = {value}"))
                .map_err(fail("writing the header"))?;
        }
        tx.commit().map_err(fail("committing"))?;
        let data = out
            .serialize(rusqlite::MAIN_DB)
            .map_err(fail("serializing"))?;
        Ok(data.to_vec())
    }

    /// Copies the rows of `Files` whose fileID is not in `dropped` into `to`'s `Files`, each
    /// `file` column as `file` rebuilds it (see [`Self::rebuilt`]).
    fn copy_files(
        &self,
        to: &Connection,
        dropped: &std::collections::BTreeSet<String>,
        file: &mut RebuildFile<'_>,
    ) -> Result<(), Error> {
        let fail = |what| move |source| corrupt(&self.path, what, source);
        let mut insert = to
            .prepare(crate::manifest_writer::INSERT_FILE)
            .map_err(fail("preparing the copy"))?;
        // A plain scan: no WHERE or ORDER BY that an index on an expression could serve.
        let mut select = self
            .conn
            .prepare("SELECT fileID, domain, relativePath, flags, file FROM Files")
            .map_err(fail("reading Files"))?;
        let mut rows = select.query([]).map_err(fail("reading Files"))?;
        while let Some(row) = rows.next().map_err(fail("reading Files"))? {
            let mut values: Vec<Value> = (0..FILES_COLUMNS.len())
                .map(|i| row.get(i))
                .collect::<Result<_, _>>()
                .map_err(fail("reading Files"))?;
            // Snapshot rows name a fileID as `lenient_text` reads it.
            let id = lenient_text(ValueRef::from(&values[0]));
            if dropped.contains(&id) {
                continue;
            }
            if let Value::Blob(bytes) = &values[4]
                && let Some(rebuilt) = file(&id, bytes)
            {
                values[4] = Value::Blob(rebuilt);
            }
            insert
                .execute(rusqlite::params_from_iter(&values))
                .map_err(fail("copying a row"))?;
        }
        Ok(())
    }

    /// Copies the rows of `Properties`, when the source has that table, into `to`'s.
    fn copy_properties(&self, to: &Connection) -> Result<(), Error> {
        if self.columns("Properties")?.is_empty() {
            return Ok(());
        }
        let fail = |what| move |source| corrupt(&self.path, what, source);
        let mut insert = to
            .prepare(crate::manifest_writer::INSERT_PROPERTY)
            .map_err(fail("preparing the copy"))?;
        let mut select = self
            .conn
            .prepare("SELECT key, value FROM Properties")
            .map_err(fail("reading Properties"))?;
        let mut rows = select.query([]).map_err(fail("reading Properties"))?;
        while let Some(row) = rows.next().map_err(fail("reading Properties"))? {
            let (key, value): (Value, Value) = (
                row.get(0).map_err(fail("reading Properties"))?,
                row.get(1).map_err(fail("reading Properties"))?,
            );
            insert
                .execute(rusqlite::params![key, value])
                .map_err(fail("copying a property"))?;
        }
        Ok(())
    }

    /// The path (or name) this database was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// All rows, `ORDER BY fileID`, with the `file` column decoded.
    pub fn rows(&self) -> Result<Vec<ManifestRow>, Error> {
        Ok(self.raw_rows()?.into_iter().map(RawRow::decode).collect())
    }

    /// All rows, `ORDER BY fileID`, with the `file` column as stored.
    pub fn raw_rows(&self) -> Result<Vec<RawRow>, Error> {
        let mut all = Vec::new();
        self.each_raw_row(
            "1",
            |_| true,
            |row| {
                all.push(row);
                Ok::<_, Error>(())
            },
        )?;
        Ok(all)
    }

    /// The rows whose fileID is a valid file id (40 lower-case hex digits, [`crate::FileId`]),
    /// `ORDER BY fileID`, which is the order of their blob paths: one row in memory at a time.
    /// Stops at `f`'s first error.
    pub fn each_valid_row<E: From<Error>>(
        &self,
        mut f: impl FnMut(ManifestRow) -> Result<(), E>,
    ) -> Result<(), E> {
        self.each_raw_row("1", is_valid_file_id, |row| f(row.decode()))
    }

    /// The rows [`ManifestDb::each_valid_row`] leaves out, `ORDER BY fileID` (a damaged or
    /// hand-made backup's; real ones have none). A fileID stored as a blob of 40 hex digits is
    /// among them though it reads as a valid id.
    pub fn invalid_rows(&self) -> Result<Vec<ManifestRow>, Error> {
        let mut all = Vec::new();
        if self.every_file_id_valid()? {
            return Ok(all);
        }
        let invalid = format!("NOT ({VALID_FILE_ID})");
        self.each_raw_row(
            &invalid,
            |_| true,
            |row| {
                all.push(row.decode());
                Ok::<_, Error>(())
            },
        )?;
        Ok(all)
    }

    /// Whether every row's fileID is valid: one pass over the fileIDs alone (the primary key's
    /// index, when the table has one), the answer for every real backup.
    fn every_file_id_valid(&self) -> Result<bool, Error> {
        let reading = |source| corrupt(&self.path, "reading Files", source);
        let mut stmt = self
            .conn
            .prepare("SELECT fileID FROM Files")
            .map_err(reading)?;
        let mut rows = stmt.query([]).map_err(reading)?;
        while let Some(row) = rows.next().map_err(reading)? {
            if !is_valid_file_id(row.get_ref(0).map_err(reading)?) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The rows for which the SQL expression `filter` holds and `keep` holds of the fileID,
    /// `ORDER BY fileID`, one at a time.
    fn each_raw_row<E: From<Error>>(
        &self,
        filter: &str,
        keep: fn(ValueRef<'_>) -> bool,
        mut f: impl FnMut(RawRow) -> Result<(), E>,
    ) -> Result<(), E> {
        let sql = format!(
            "SELECT fileID, domain, relativePath, flags, file FROM Files WHERE {filter} ORDER BY fileID"
        );
        let reading = |source| corrupt(&self.path, "reading Files", source);
        let mut stmt = self.conn.prepare(&sql).map_err(reading)?;
        let mut rows = stmt.query([]).map_err(reading)?;
        while let Some(row) = rows.next().map_err(reading)? {
            if !keep(row.get_ref(0).map_err(reading)?) {
                continue;
            }
            let raw = (|| {
                Ok(RawRow {
                    file_id: lenient_text(row.get_ref(0)?),
                    domain: lenient_text(row.get_ref(1)?),
                    relative_path: lenient_text(row.get_ref(2)?),
                    flags: lenient_integer(row.get_ref(3)?),
                    file: lenient_blob(row.get_ref(4)?),
                })
            })()
            .map_err(reading)?;
            f(raw)?;
        }
        Ok(())
    }

    /// `SELECT count(*) FROM Files`.
    pub fn row_count(&self) -> Result<u64, Error> {
        let count: i64 = self
            .conn
            .query_row("SELECT count(*) FROM Files", [], |r| r.get(0))
            .map_err(|source| corrupt(&self.path, "counting Files", source))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Rows of the optional `Properties` table (empty when the table is absent).
    pub fn properties(&self) -> Result<Vec<(String, Vec<u8>)>, Error> {
        if self.columns("Properties")?.is_empty() {
            return Ok(Vec::new());
        }
        let reading = |source| corrupt(&self.path, "reading Properties", source);
        let mut stmt = self
            .conn
            .prepare("SELECT key, value FROM Properties ORDER BY key")
            .map_err(reading)?;
        let rows = stmt.query_map([], |row| {
            Ok((
                lenient_text(row.get_ref(0)?),
                lenient_blob(row.get_ref(1)?).unwrap_or_default(),
            ))
        });
        rows.map_err(reading)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(reading)
    }

    /// Column names of `table` (empty when there is no such table).
    fn columns(&self, table: &str) -> Result<Vec<String>, Error> {
        let reading = |source| corrupt(&self.path, "reading the schema", source);
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM pragma_table_info(?1)")
            .map_err(reading)?;
        let names = stmt.query_map([table], |row| row.get::<_, String>(0));
        names
            .map_err(reading)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(reading)
    }

    /// `Files` must exist with the five columns Apple writes (names compared case-insensitively,
    /// as SQLite does; type names are not checked since third-party tools write `text`/`blob`).
    /// `pragma_table_info` lists no generated column, so a `Files` whose needed column is
    /// computed (and would be evaluated when read) is refused here too.
    fn check_schema(&self) -> Result<(), Error> {
        Self::check_files_is_a_table(&self.conn, &self.path)?;
        let columns = self.columns("Files")?;
        if columns.is_empty() {
            return Err(self.not_manifest("it has no Files table".to_owned()));
        }
        for needed in FILES_COLUMNS {
            if !columns.iter().any(|c| c.eq_ignore_ascii_case(needed)) {
                return Err(self.not_manifest(format!("the Files table has no {needed} column")));
            }
        }
        Ok(())
    }

    /// A view named `Files` could yield rows without end, and a virtual table runs its
    /// module's code; Apple writes a plain table.
    fn check_files_is_a_table(conn: &Connection, path: &Path) -> Result<(), Error> {
        let kind: Option<(String, Option<String>)> = conn
            .query_row(
                "SELECT type, sql FROM sqlite_master WHERE name = 'Files' COLLATE NOCASE",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(|source| corrupt(path, "reading the schema", source))?;
        let not_a_table = |what: &str| Error::NotManifestDb {
            path: path.to_path_buf(),
            detail: format!("Files is a {what}, not a table"),
        };
        match kind {
            None => Ok(()),
            Some((t, sql)) if t == "table" => {
                let virtual_table = sql.is_some_and(|sql| {
                    let words: Vec<String> = sql
                        .split_whitespace()
                        .take(2)
                        .map(str::to_ascii_uppercase)
                        .collect();
                    words == ["CREATE", "VIRTUAL"]
                });
                if virtual_table {
                    Err(not_a_table("virtual table"))
                } else {
                    Ok(())
                }
            }
            Some((other, _)) => Err(not_a_table(&other)),
        }
    }

    fn not_manifest(&self, detail: String) -> Error {
        Error::NotManifestDb {
            path: self.path.clone(),
            detail,
        }
    }
}

/// The schema comes from a backup: nothing in it may run. Triggers and views are off (a
/// trigger would fire on `without_rows`' DELETE; a view could compute without end), and the
/// schema may call no function with side effects.
fn distrust_schema(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_VIEW, false)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    Ok(())
}

fn corrupt(path: &Path, what: &str, source: rusqlite::Error) -> Error {
    Error::CorruptManifestDb {
        path: path.to_path_buf(),
        what: what.to_owned(),
        source,
    }
}

/// Up to the first 16 bytes of `path` (fewer if the file is shorter), which must be a regular
/// file (not a link) of at most [`MANIFEST_DB_MAX_BYTES`]: every use of a Manifest.db of a
/// folder starts here, so SQLite is never handed a FIFO or a device.
/// Its first bytes, and asks the kernel to read the whole file ahead: the rows are read in
/// path order, which in a cold page cache is a random read of the file's pages, one at a time;
/// read ahead, it is one sequential read (a third of a cold unchanged backup's time went there).
pub(crate) fn read_magic(path: &Path) -> Result<Vec<u8>, Error> {
    let (file, _) = open_regular(path, MANIFEST_DB_MAX_BYTES, Links::Refuse)?;
    read_ahead(&file);
    let mut magic = Vec::with_capacity(SQLITE_MAGIC.len());
    file.take(SQLITE_MAGIC.len() as u64)
        .read_to_end(&mut magic)
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            what: "cannot read",
            source,
        })?;
    Ok(magic)
}

/// An in-memory database cannot use WAL, so a WAL-mode header (versions 2/2, as Apple writes)
/// is switched to rollback-journal mode (1/1). Only the mode bytes change; the pages are identical.
fn force_rollback_journal_header(bytes: &mut [u8]) {
    rollback_journal_at(0, bytes);
}

/// [`force_rollback_journal_header`] for the part of a database at `offset`.
fn rollback_journal_at(offset: u64, bytes: &mut [u8]) {
    for at in [HEADER_WRITE_VERSION, HEADER_READ_VERSION] {
        let Some(i) = (at as u64).checked_sub(offset) else {
            continue;
        };
        if let Some(b) = usize::try_from(i).ok().and_then(|i| bytes.get_mut(i))
            && *b == 2
        {
            *b = 1;
        }
    }
}

/// Starts reading `file` into the page cache in the background (a hint: it changes nothing).
fn read_ahead(file: &std::fs::File) {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain system call on a descriptor this function borrows.
    unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_WILLNEED) };
}

/// `file:<percent-encoded path>?mode=ro&immutable=1`.
///
/// Every byte except unreserved characters and `/` is percent-encoded, so `?`, `#`, `%` and spaces
/// in the path cannot end the path part of the URI.
pub(crate) fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for &byte in path_bytes(path).iter() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'/' | b'-' | b'_' | b'.' | b'~') {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri.push_str("?mode=ro&immutable=1");
    uri
}

#[cfg(unix)]
fn path_bytes(path: &Path) -> std::borrow::Cow<'_, [u8]> {
    use std::os::unix::ffi::OsStrExt;
    std::borrow::Cow::Borrowed(path.as_os_str().as_bytes())
}

#[cfg(not(unix))]
fn path_bytes(path: &Path) -> std::borrow::Cow<'_, [u8]> {
    std::borrow::Cow::Owned(path.to_string_lossy().replace('\\', "/").into_bytes())
}

fn lenient_text(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => String::new(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(r) => r.to_string(),
        ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
    }
}

fn lenient_integer(value: ValueRef<'_>) -> i64 {
    match value {
        ValueRef::Integer(i) => i,
        _ => 0,
    }
}

fn lenient_blob(value: ValueRef<'_>) -> Option<Vec<u8>> {
    match value {
        ValueRef::Null => None,
        ValueRef::Blob(b) | ValueRef::Text(b) => Some(b.to_vec()),
        ValueRef::Integer(i) => Some(i.to_string().into_bytes()),
        ValueRef::Real(r) => Some(r.to_string().into_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_escapes_special_characters() {
        let uri = immutable_uri(Path::new("/a b/c?d#e%f/Manifest.db"));
        assert_eq!(
            uri,
            "file:/a%20b/c%3Fd%23e%25f/Manifest.db?mode=ro&immutable=1"
        );
    }

    #[test]
    fn uri_escapes_non_ascii() {
        let uri = immutable_uri(Path::new("/Büro/Manifest.db"));
        assert_eq!(uri, "file:/B%C3%BCro/Manifest.db?mode=ro&immutable=1");
    }

    #[test]
    fn kind_prefers_flags_then_mode() {
        let row = |flags, mode| ManifestRow {
            file_id: String::new(),
            domain: String::new(),
            relative_path: String::new(),
            flags,
            file: Ok(MbFile {
                mode,
                ..MbFile::default()
            }),
        };
        assert_eq!(row(1, Some(0o040755)).kind(), EntryKind::File);
        assert_eq!(row(2, None).kind(), EntryKind::Directory);
        assert_eq!(row(4, None).kind(), EntryKind::Symlink);
        assert_eq!(row(0, Some(0o100644)).kind(), EntryKind::File);
        assert_eq!(row(0, Some(0o040755)).kind(), EntryKind::Directory);
        assert_eq!(row(0, Some(0o120755)).kind(), EntryKind::Symlink);
        assert_eq!(row(0, Some(0o060000)).kind(), EntryKind::Unknown);
        assert_eq!(row(7, None).kind(), EntryKind::Unknown);
        let mut broken = row(0, None);
        broken.file = Err(MbFileError::Missing);
        assert_eq!(broken.kind(), EntryKind::Unknown);
    }

    #[test]
    fn wal_header_is_switched_to_rollback() {
        let mut header = vec![0u8; 100];
        header[18] = 2;
        header[19] = 2;
        force_rollback_journal_header(&mut header);
        assert_eq!((header[18], header[19]), (1, 1));
    }

    #[test]
    fn rows_are_dropped_in_memory_and_the_rest_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Manifest.db");
        let mut w = crate::ManifestDbWriter::create(&path).unwrap();
        for (i, secret) in ["keep-a", "drop-b", "keep-c"].iter().enumerate() {
            let id = format!("{i:040}");
            w.insert_raw(&id, "HomeDomain", secret, 1, secret.as_bytes())
                .unwrap();
        }
        w.insert_property("salt", b"s").unwrap();
        w.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let dropped = [format!("{:040}", 1)].into_iter().collect();
        let out = ManifestDb::without_rows(bytes, &dropped, &path).unwrap();
        let text = String::from_utf8_lossy(&out);
        assert!(
            !text.contains("drop-b"),
            "VACUUM leaves no trace of a dropped row"
        );
        let db = ManifestDb::from_plaintext(out, &path).unwrap();
        let paths: Vec<_> = db
            .rows()
            .unwrap()
            .into_iter()
            .map(|r| r.relative_path)
            .collect();
        assert_eq!(paths, ["keep-a", "keep-c"]);
        assert_eq!(
            db.properties().unwrap(),
            vec![("salt".to_string(), b"s".to_vec())]
        );
        assert!(ManifestDb::without_rows(b"not sqlite".to_vec(), &dropped, &path).is_err());
    }

    /// What `hearth restore --decrypted` makes of an encrypted backup's Manifest.db: the rows
    /// kept, every MBFile without its key, the rest of each row as it was.
    #[test]
    fn a_rebuilt_database_carries_each_file_column_as_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Manifest.db");
        let mut w = crate::ManifestDbWriter::create(&path).unwrap();
        let file = |name: &str, size| MbFile {
            relative_path: Some(name.into()),
            size,
            mode: Some(0o100644),
            protection_class: Some(3),
            encryption_key: Some([vec![3, 0, 0, 0], vec![7; 40]].concat()),
            ..MbFile::default()
        };
        w.insert(
            "a".repeat(40).as_str(),
            "HealthDomain",
            "a",
            1,
            &file("a", Some(5)),
        )
        .unwrap();
        w.insert(
            "b".repeat(40).as_str(),
            "HomeDomain",
            "b",
            1,
            &file("b", None),
        )
        .unwrap();
        w.insert(
            "c".repeat(40).as_str(),
            "HomeDomain",
            "c",
            1,
            &file("c", Some(1)),
        )
        .unwrap();
        w.insert_raw(&"d".repeat(40), "HomeDomain", "d", 1, b"not an archive")
            .unwrap();
        w.finish().unwrap();
        let dropped = ["c".repeat(40)].into_iter().collect();
        let sizes = |id: &str| (id == "b".repeat(40)).then_some(17);
        let out = ManifestDb::rebuilt(
            std::fs::read(&path).unwrap(),
            &dropped,
            |id, bytes| crate::unencrypted_mbfile(bytes, sizes(id)).ok().flatten(),
            &path,
        )
        .unwrap();
        let db = ManifestDb::from_plaintext(out, &path).unwrap();
        let rows = db.raw_rows().unwrap();
        let ids: Vec<_> = rows.iter().map(|r| r.file_id.clone()).collect();
        assert_eq!(ids, ["a".repeat(40), "b".repeat(40), "d".repeat(40)]);
        let decoded: Vec<_> = rows.into_iter().map(RawRow::decode).collect();
        let a = decoded[0].file.as_ref().unwrap();
        assert_eq!(
            (a.size, a.protection_class, &a.encryption_key),
            (Some(5), Some(3), &None)
        );
        let b = decoded[1].file.as_ref().unwrap();
        assert_eq!((b.size, b.encryption_key.is_none()), (Some(17), true));
        assert!(
            decoded[2].file.is_err(),
            "what is not an MBFile is copied as it was"
        );
        assert_eq!(decoded[1].domain, "HomeDomain");
    }

    /// An encrypted database sorts in memory (its VFS refuses the temporary files a sort
    /// could spill plaintext into), and a name of the VFS that is not registered opens nothing.
    #[test]
    fn an_encrypted_database_sorts_in_memory_and_opens_only_registered_names() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Manifest.db");
        let mut w = crate::ManifestDbWriter::create(&path).unwrap();
        for i in 0..2_000u32 {
            let id = format!("{:040x}", u128::from(i) * 7_919);
            w.insert_raw(&id, "HomeDomain", &format!("f{}", i % 97), 1, b"x")
                .unwrap();
        }
        w.finish().unwrap();
        let key = [3; 32];
        let cipher =
            crate::encryption::encrypt(&key, &std::fs::read(&path).unwrap(), true).unwrap();
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&cipher).unwrap();
        let file = CipherFile::new(f, &key, cipher.len() as u64).unwrap();
        let db = ManifestDb::open_encrypted(file, Path::new("encrypted")).unwrap();
        let temp_store: i64 = db
            .conn
            .query_row("PRAGMA temp_store", [], |r| r.get(0))
            .unwrap();
        assert_eq!(temp_store, 2, "MEMORY");
        let sorted: Vec<String> = db
            .conn
            .prepare("SELECT relativePath FROM Files ORDER BY relativePath DESC, fileID")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(sorted.len(), 2_000);
        assert!(sorted.windows(2).all(|w| w[0] >= w[1]));
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI;
        let stale = format!(
            "file:{}-999999999?vfs={}&mode=ro",
            decrypting_vfs::VFS_NAME,
            decrypting_vfs::VFS_NAME
        );
        let refused = Connection::open_with_flags(stale, flags)
            .and_then(|c| c.query_row("SELECT count(*) FROM Files", [], |r| r.get::<_, i64>(0)));
        assert!(refused.is_err(), "{refused:?}");
    }

    #[test]
    fn valid_and_invalid_rows_split_exactly_as_file_id_parse_does_each_in_file_id_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Manifest.db");
        let mut w = crate::ManifestDbWriter::create(&path).unwrap();
        let hex = "0123456789abcdef0123456789abcdef01234567";
        let ids = [
            hex.to_string(),
            hex.replace('0', "f"),
            hex.to_uppercase(),
            hex[..39].to_string(),
            format!("{hex}0"),
            hex.replace('a', "g"),
            hex.replacen('1', "é", 1),
            hex.replacen('1', "\u{0}", 1),
            String::new(),
            format!("{}/", &hex[..39]),
        ];
        for id in &ids {
            w.insert_raw(id, "HomeDomain", id, 1, b"x").unwrap();
        }
        w.finish().unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "INSERT INTO Files VALUES (NULL, 'D', 'null', 1, NULL);
             INSERT INTO Files VALUES (1234, 'D', 'integer', 1, NULL);
             INSERT INTO Files VALUES (x'30313233343536373839616263646566303132333435363738396162636465663031323334353637', 'D', 'blob', 1, NULL);",
        )
        .unwrap();
        drop(conn);
        let db = ManifestDb::open(&path).unwrap();
        let mut valid = Vec::new();
        db.each_valid_row(|r| {
            valid.push(r.file_id);
            Ok::<_, Error>(())
        })
        .unwrap();
        let invalid: Vec<String> = db
            .invalid_rows()
            .unwrap()
            .into_iter()
            .map(|r| r.file_id)
            .collect();
        let mut expected: Vec<&String> = ids
            .iter()
            .filter(|id| crate::FileId::parse(id).is_ok())
            .collect();
        expected.sort();
        assert_eq!(valid.iter().collect::<Vec<_>>(), expected);
        assert!(valid.iter().all(|id| crate::FileId::parse(id).is_ok()));
        assert_eq!(valid.len() + invalid.len(), ids.len() + 3, "{invalid:?}");
        // Only a fileID stored as a blob reads as a valid id among the others: SQL sorts blobs
        // after all text, so it cannot come in the valid rows' order.
        let parsed: Vec<&String> = (invalid.iter())
            .filter(|id| crate::FileId::parse(id).is_ok())
            .collect();
        assert_eq!(parsed, [hex]);
    }

    /// A database written by something other than Apple: code in its schema never runs.
    #[test]
    fn a_view_named_files_is_refused_and_triggers_never_fire() {
        let dir = tempfile::tempdir().unwrap();
        let endless = dir.path().join("view.db");
        let conn = Connection::open(&endless).unwrap();
        conn.execute_batch(
            "CREATE VIEW Files AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)
             SELECT printf('%040d', i) AS fileID, 'HomeDomain' AS domain, '' AS relativePath,
                    1 AS flags, NULL AS file FROM n;",
        )
        .unwrap();
        drop(conn);
        let Err(e) = ManifestDb::open(&endless) else {
            panic!("a view named Files was accepted")
        };
        assert!(e.to_string().contains("Files is a view"), "{e}");
        let bytes = std::fs::read(&endless).unwrap();
        assert!(ManifestDb::from_plaintext(bytes.clone(), &endless).is_err());
        let none = std::collections::BTreeSet::new();
        assert!(ManifestDb::without_rows(bytes, &none, &endless).is_err());

        let trapped = dir.path().join("Manifest.db");
        let mut w = crate::ManifestDbWriter::create(&trapped).unwrap();
        w.insert_raw(&format!("{:040}", 1), "HomeDomain", "a", 1, b"a")
            .unwrap();
        w.finish().unwrap();
        let conn = Connection::open(&trapped).unwrap();
        conn.execute_batch(
            "CREATE TABLE Fired(x); CREATE TRIGGER trap BEFORE DELETE ON Files
             BEGIN INSERT INTO Fired VALUES (1); END;",
        )
        .unwrap();
        drop(conn);
        let dropped = [format!("{:040}", 1)].into_iter().collect();
        let out =
            ManifestDb::without_rows(std::fs::read(&trapped).unwrap(), &dropped, &trapped).unwrap();
        let mut check = Connection::open_in_memory().unwrap();
        check
            .deserialize_read_exact(rusqlite::MAIN_DB, out.as_slice(), out.len(), true)
            .unwrap();
        let source_objects: i64 = check
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name IN ('Fired', 'trap')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let left: i64 = check
            .query_row("SELECT count(*) FROM Files", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            (source_objects, left),
            (0, 0),
            "the row is gone, and neither the trigger nor its table came along"
        );
    }

    /// A Manifest.db with Apple's three rows and a Properties row, then a schema that would
    /// fail or leave a trace if anything of it were evaluated: an index whose expression
    /// overflows (put in through `writable_schema`, as a crafted file can hold anything), and a
    /// trigger on DELETE.
    fn hostile_manifest(dir: &Path) -> PathBuf {
        let path = dir.join("Manifest.db");
        let mut w = crate::ManifestDbWriter::create(&path).unwrap();
        for (i, name) in ["keep-a", "drop-b", "keep-c"].iter().enumerate() {
            w.insert_raw(&format!("{i:040}"), "HomeDomain", name, 1, name.as_bytes())
                .unwrap();
        }
        w.insert_property("salt", b"s").unwrap();
        w.finish().unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA user_version = 2;
             CREATE INDEX trap ON Files(flags + 0);
             CREATE TABLE Fired(x);
             CREATE TRIGGER fire BEFORE DELETE ON Files BEGIN INSERT INTO Fired VALUES (1); END;
             PRAGMA writable_schema = ON;
             UPDATE sqlite_master SET sql = 'CREATE INDEX trap ON Files(abs(flags - 9223372036854775807 - 2))'
              WHERE name = 'trap';
             PRAGMA writable_schema = OFF;",
        )
        .unwrap();
        drop(conn);
        path
    }

    #[test]
    fn the_hostile_schema_really_fails_when_evaluated() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(hostile_manifest(dir.path())).unwrap();
        let e = conn
            .execute("DELETE FROM Files WHERE relativePath = 'drop-b'", [])
            .unwrap_err();
        assert!(e.to_string().contains("integer overflow"), "{e}");
    }

    #[test]
    fn rows_are_copied_into_a_fresh_database_and_nothing_of_the_source_schema_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = hostile_manifest(dir.path());
        let dropped = [format!("{:040}", 1)].into_iter().collect();
        let out = ManifestDb::without_rows(std::fs::read(&path).unwrap(), &dropped, &path).unwrap();
        assert!(!String::from_utf8_lossy(&out).contains("drop-b"));
        let mut check = Connection::open_in_memory().unwrap();
        check
            .deserialize_read_exact(rusqlite::MAIN_DB, out.as_slice(), out.len(), true)
            .unwrap();
        let names: Vec<String> = check
            .prepare("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            names,
            [
                "Files",
                "FilesDomainIdx",
                "FilesFlagsIdx",
                "FilesRelativePathIdx",
                "Properties"
            ],
            "Hearth's schema only: no trap index, no trigger, no Fired table"
        );
        let version: i64 = check
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 2, "the header's user_version is kept");
        let db = ManifestDb::from_plaintext(out, &path).unwrap();
        let rows = db.raw_rows().unwrap();
        let paths: Vec<_> = rows.iter().map(|r| r.relative_path.as_str()).collect();
        assert_eq!(paths, ["keep-a", "keep-c"]);
        assert_eq!(
            rows[1].file.as_deref(),
            Some(&b"keep-c"[..]),
            "values as they were"
        );
        assert_eq!(
            db.properties().unwrap(),
            vec![("salt".into(), b"s".to_vec())]
        );
    }

    #[test]
    fn generated_or_virtual_files_columns_are_refused_before_they_are_read() {
        let dir = tempfile::tempdir().unwrap();
        for (i, sql) in [
            "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER,
               file BLOB GENERATED ALWAYS AS (zeroblob(1000000000)) VIRTUAL)",
            "CREATE VIRTUAL TABLE Files USING fts4(fileID, domain, relativePath, flags, file)",
        ]
        .iter()
        .enumerate()
        {
            let path = dir.path().join(format!("{i}.db"));
            Connection::open(&path).unwrap().execute_batch(sql).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            let none = std::collections::BTreeSet::new();
            let Err(e) = ManifestDb::without_rows(bytes, &none, &path) else {
                panic!("{sql}: accepted")
            };
            assert!(matches!(e, Error::NotManifestDb { .. }), "{sql}: {e}");
            assert!(ManifestDb::open(&path).is_err(), "{sql}");
        }
    }
}
