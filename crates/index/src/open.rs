//! Opening the cache file: every page verified, a damaged file an error and never a panic, and a
//! file of another schema version emptied before any of its tables is read (`docs/format.md`
//! §12).

use crate::cache::{BAD_BLOBS, LOST_PACKS, create_database};
use redb::{
    Database, DatabaseError, ReadableDatabase, TableDefinition, TableError, TableHandle,
    WriteTransaction,
};
use std::any::Any;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

/// `layout` → the file's schema version ([`SCHEMA_VERSION`]). This table's name, types and key
/// never change, so that any version of Hearth reads the version of a file another left.
pub(crate) const META: TableDefinition<&str, u32> = TableDefinition::new("meta");
const VERSION_KEY: &str = "layout";

/// The schema of the cache file: the names, types and encodings of all its tables. Raise it with
/// any change to any of them. A file of another version, older or newer, is emptied and merged
/// again from the repository's objects.
///
/// 1: no `meta` table (before 2026-12). 2: `snapshots` rows hold payloads of snapshot layout 2
/// (with `stored_at`, `docs/format.md` §9); every other table as in 1.
pub(crate) const SCHEMA_VERSION: u32 = 2;

/// Why the file did not open.
#[derive(Debug)]
pub(crate) enum OpenFailure {
    /// Another process holds it.
    Busy,
    /// redb's error, or its panic: the file is damaged (or cannot be read).
    Failed(String),
}

thread_local! {
    /// Set while this thread opens and verifies a cache file ([`redb_panic_is_caught`]).
    static OPENING: Cell<bool> = const { Cell::new(false) };
}

/// Whether a panic on this thread, now, is one of redb's on a damaged cache file, which
/// [`crate::IndexCache::open`] catches and turns into [`crate::IndexError::Db`] (the caller
/// rebuilds the cache). A program's panic hook may leave such a panic unreported; this crate never
/// touches the hook.
pub fn redb_panic_is_caught() -> bool {
    OPENING.get()
}

/// Opens (or creates) the file and verifies every page against redb's checksums.
///
/// redb 4.1 panics on some damaged files instead of returning an error: while it opens one cut
/// short (an assertion on the file's length), and in `Database::drop` after `check_integrity`
/// failed (its closing commit meets the allocator state the failed check left; redb PR #1305
/// refuses that commit, after 4.1). The panic is caught, so a damaged cache is an error the caller
/// deletes and rebuilds. Its message goes through the process's panic hook, untouched: swapping
/// the hook here, to silence redb, raced with every other thread's panics and lost their
/// messages. A program that wants quiet (the `hearth` binary does) installs its own hook once and
/// asks [`redb_panic_is_caught`], which is true only on this thread, only meanwhile.
pub(crate) fn open_verified(path: &Path) -> Result<Database, OpenFailure> {
    OPENING.set(true);
    let opened = catch_unwind(AssertUnwindSafe(|| {
        let mut db = create_database(path)?;
        // On a panic `db` is dropped while the thread unwinds, and redb skips its closing commit.
        if let Err(e) = db.check_integrity() {
            // Its drop may panic (above); the check's error says more.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(db)));
            return Err(e);
        }
        Ok(db)
    }));
    OPENING.set(false);
    match opened {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(DatabaseError::DatabaseAlreadyOpen)) => Err(OpenFailure::Busy),
        Ok(Err(e)) => Err(OpenFailure::Failed(e.to_string())),
        Err(panic) => Err(OpenFailure::Failed(format!(
            "damaged ({})",
            panic_message(&*panic)
        ))),
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    (panic.downcast_ref::<&str>().copied())
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic in redb")
}

/// What a file says of its schema.
enum Found {
    Version(u32),
    /// No `meta` row: a file of version 1, or a new one.
    None,
    /// A `meta` table of other types: not a schema any version wrote.
    Unknown,
}

fn found_version(db: &Database) -> Result<Found, redb::Error> {
    let tx = db.begin_read()?;
    let table = match tx.open_table(META) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => return Ok(Found::None),
        Err(TableError::Storage(e)) => return Err(e.into()),
        Err(_) => return Ok(Found::Unknown),
    };
    Ok(match table.get(VERSION_KEY)? {
        Some(v) => Found::Version(v.value()),
        None => Found::None,
    })
}

/// Makes the file one of [`SCHEMA_VERSION`], before any other table is opened with its types: a
/// file of another version loses every table (whatever its types), then is stamped with this
/// version, in one transaction. The caller creates the tables and merges the objects again.
///
/// What is known about damaged copies is learnt only by reading them, never from the objects: a
/// file of version 1, whose damage tables are this version's, keeps them.
pub(crate) fn ensure_schema(db: &Database) -> Result<(), redb::Error> {
    let keep_damage = match found_version(db)? {
        Found::Version(SCHEMA_VERSION) => return Ok(()),
        Found::None => true,
        Found::Version(_) | Found::Unknown => false,
    };
    let kept = |name: &str| keep_damage && [LOST_PACKS.name(), BAD_BLOBS.name()].contains(&name);
    let tx = db.begin_write()?;
    let tables: Vec<_> = tx.list_tables()?.collect();
    for table in tables.into_iter().filter(|t| !kept(t.name())) {
        tx.delete_table(table)?;
    }
    let multimap_tables: Vec<_> = tx.list_multimap_tables()?.collect();
    for table in multimap_tables {
        tx.delete_multimap_table(table)?;
    }
    if keep_damage {
        delete_unless_readable(&tx, LOST_PACKS)?;
        delete_unless_readable(&tx, BAD_BLOBS)?;
    }
    tx.open_table(META)?.insert(VERSION_KEY, SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// Deletes the table unless it has the types of `def` (a development build may have left others).
fn delete_unless_readable<K: redb::Key + 'static, V: redb::Value + 'static>(
    tx: &WriteTransaction,
    def: TableDefinition<K, V>,
) -> Result<(), redb::Error> {
    match tx.open_table(def) {
        Ok(_) => Ok(()),
        Err(TableError::Storage(e)) => Err(e.into()),
        Err(_) => {
            tx.delete_table(def)?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IndexCache;
    use hearth_format::{
        BlobKind, ChunkId, Compression, IndexId, IndexSegment, PackEntry, PackId, PackRecord,
        SnapshotId,
    };

    fn segment(n: u8, blobs: u32) -> IndexSegment {
        let entry = |b: u32| {
            let mut id = [n; 32];
            id[..4].copy_from_slice(&b.to_le_bytes());
            PackEntry {
                id: ChunkId(id),
                kind: BlobKind::Data,
                compression: Compression::Zstd,
                offset: 8 + 100 * b,
                length: 90,
                raw_length: 100,
            }
        };
        IndexSegment {
            packs: vec![PackRecord {
                pack: PackId([n; 32]),
                length: 8 + 100 * blobs,
                entries: (0..blobs).map(entry).collect(),
            }],
        }
    }

    /// A cache with a segment, a snapshot and a record of damage.
    fn filled(path: &Path) {
        let c = IndexCache::open(path).unwrap();
        c.add_segment(&IndexId([9; 32]), &segment(1, 3)).unwrap();
        c.add_snapshot(&SnapshotId([5; 32]), b"payload").unwrap();
        c.record_lost_pack(&PackId([1; 32]), "missing").unwrap();
        c.record_bad_blob(&ChunkId([2; 32]), &PackId([1; 32]), "flipped")
            .unwrap();
    }

    /// Changes the file as `f` says, in one transaction of redb's.
    fn rewrite(path: &Path, f: impl FnOnce(&WriteTransaction) -> Result<(), redb::Error>) {
        let db = Database::create(path).unwrap();
        let tx = db.begin_write().unwrap();
        f(&tx).unwrap();
        tx.commit().unwrap();
    }

    /// The names of the file's tables, and its schema version.
    fn tables_and_version(path: &Path) -> (Vec<String>, Option<u32>) {
        let db = Database::create(path).unwrap();
        let tx = db.begin_read().unwrap();
        let mut names: Vec<String> = (tx.list_tables().unwrap())
            .map(|t| t.name().to_string())
            .collect();
        names.sort();
        let version = match found_version(&db).unwrap() {
            Found::Version(v) => Some(v),
            Found::None | Found::Unknown => None,
        };
        (names, version)
    }

    fn assert_empty(c: &IndexCache) {
        assert_eq!(c.blob_count().unwrap(), 0);
        assert!(c.segments().unwrap().is_empty());
        assert!(c.packs().unwrap().is_empty());
        assert!(c.snapshots().unwrap().is_empty());
    }

    const TABLES: [&str; 8] = [
        "bad_blobs",
        "blobs",
        "copies",
        "lost_packs",
        "meta",
        "packs",
        "segments",
        "snapshots",
    ];

    #[test]
    fn a_new_cache_has_this_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.redb");
        drop(IndexCache::open(&path).unwrap());
        assert_eq!(
            tables_and_version(&path),
            (TABLES.map(String::from).to_vec(), Some(SCHEMA_VERSION))
        );
    }

    #[test]
    fn a_cache_of_another_schema_version_is_emptied_whole_then_stamped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.redb");
        filled(&path);
        // As a later Hearth might leave it: version 3, `packs` of other types, a table unknown
        // here.
        rewrite(&path, |tx| {
            tx.open_table(META)?.insert(VERSION_KEY, 3)?;
            tx.delete_table(TableDefinition::<&[u8; 32], u32>::new("packs"))?;
            (tx.open_table(TableDefinition::<u64, u64>::new("packs"))?).insert(1, 2)?;
            (tx.open_table(TableDefinition::<&str, &str>::new("later"))?).insert("a", "b")?;
            Ok(())
        });
        let c = IndexCache::open(&path).unwrap();
        assert_empty(&c);
        assert!(
            c.damage().is_empty(),
            "what another schema says of damage is not read"
        );
        c.add_segment(&IndexId([9; 32]), &segment(1, 3)).unwrap();
        assert_eq!(
            c.lookup(&segment(1, 3).packs[0].entries[2].id)
                .unwrap()
                .unwrap()
                .entry
                .offset,
            208
        );
        drop(c);
        assert_eq!(
            tables_and_version(&path),
            (TABLES.map(String::from).to_vec(), Some(SCHEMA_VERSION))
        );
        assert_eq!(
            IndexCache::open(&path).unwrap().blob_count().unwrap(),
            3,
            "kept once stamped"
        );
    }

    #[test]
    fn a_meta_table_of_other_types_is_no_schema_and_the_cache_is_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.redb");
        filled(&path);
        rewrite(&path, |tx| {
            tx.delete_table(META)?;
            (tx.open_table(TableDefinition::<&str, u64>::new("meta"))?).insert(VERSION_KEY, 2)?;
            Ok(())
        });
        let c = IndexCache::open(&path).unwrap();
        assert_empty(&c);
        assert!(c.damage().is_empty());
        drop(c);
        assert_eq!(tables_and_version(&path).1, Some(SCHEMA_VERSION));
    }

    #[test]
    fn a_cache_of_version_1_is_emptied_but_keeps_what_it_knows_of_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.redb");
        filled(&path);
        // Version 1 had no `meta` table.
        rewrite(&path, |tx| {
            tx.delete_table(META)?;
            Ok(())
        });
        let c = IndexCache::open(&path).unwrap();
        assert_empty(&c);
        assert!(c.damage().lost(&PackId([1; 32])).is_some());
        assert_eq!(c.damage().bad_blob_count(), 1);
        drop(c);
        assert_eq!(tables_and_version(&path).1, Some(SCHEMA_VERSION));

        // A development build's damage table of other types is not read, and not kept.
        filled(&path);
        rewrite(&path, |tx| {
            tx.delete_table(META)?;
            tx.delete_table(BAD_BLOBS)?;
            (tx.open_table(TableDefinition::<&[u8; 32], &str>::new("bad_blobs"))?)
                .insert(&[2; 32], "flipped")?;
            Ok(())
        });
        let c = IndexCache::open(&path).unwrap();
        assert_empty(&c);
        assert!(c.damage().lost(&PackId([1; 32])).is_some());
        assert_eq!(c.damage().bad_blob_count(), 0);
    }

    /// redb 4.1 panics on about half of these (a file cut short; a damaged page, while it checks
    /// the file or in `Database::drop` after the check failed): every one is an error or a
    /// cache that reads, never a panic out of `open`, and the caller's rebuild (delete, open)
    /// then works. Before the panics were caught in `Database::drop`, 48 of them escaped.
    #[test]
    fn no_damaged_page_or_cut_makes_open_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.redb");
        {
            let c = IndexCache::open(&path).unwrap();
            for n in 1..=4 {
                c.add_segment(&IndexId([n; 32]), &segment(n, 400)).unwrap();
            }
        }
        let good = std::fs::read(&path).unwrap();
        let page = 4096;
        // A whole page, or 64 bytes inside one, flipped: each meets other checks of redb's.
        let flipped = |at: usize, len: usize| {
            let mut b = good.clone();
            b[at..][..len].iter_mut().for_each(|x| *x ^= 0x5a);
            b
        };
        let pages = (0..good.len() / page).map(|p| p * page);
        let mut damaged: Vec<Vec<u8>> = (pages.clone().map(|at| flipped(at, page)))
            .chain(pages.map(|at| flipped(at + 1024, 64)))
            .collect();
        damaged.extend((1..8).map(|k| good[..good.len() * k / 8].to_vec()));
        let mut failed = 0;
        for bytes in &damaged {
            std::fs::write(&path, bytes).unwrap();
            match IndexCache::open(&path) {
                Ok(c) => drop(c),
                Err(crate::IndexError::Db { .. }) => {
                    failed += 1;
                    std::fs::remove_file(&path).unwrap();
                    let c = IndexCache::open(&path).unwrap();
                    assert_eq!(c.blob_count().unwrap(), 0);
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert!(!redb_panic_is_caught());
        // The cuts fail, and (redb 4.1, this file) about half the flips.
        assert!(failed > 7, "{failed} of {} failed", damaged.len());
    }
}
