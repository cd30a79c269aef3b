//! Opening the cache file: every page verified, and a damaged file an error, never a panic.

use crate::cache::create_database;
use redb::{Database, DatabaseError};
use std::any::Any;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IndexCache;
    use hearth_format::{
        BlobKind, ChunkId, Compression, IndexId, IndexSegment, PackEntry, PackId, PackRecord,
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
