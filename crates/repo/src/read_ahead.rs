//! Telling the backend what is read next: readers that take packs, or ranges of packs, in a
//! known order hint the ones a few megabytes ahead of them ([`Backend::will_read`]), so that a
//! local disk reads those while the readers open and check what they have. Without it each
//! reading thread waits for every read it makes; a virtual or networked disk answers many
//! requests at once far faster than one after another. A hint holds nothing in the process.

use hearth_format::PackId;
use hearth_storage::{Backend, FileType};
use std::sync::atomic::{AtomicBool, Ordering};

/// How far ahead of the item being read the hints reach, in bytes (at least one item).
const AHEAD_BYTES: u64 = 48 << 20;

/// Pack ranges in the order they will be read, each hinted once.
pub(crate) struct ReadAhead<'b> {
    backend: &'b dyn Backend,
    /// (pack, offset, length) in reading order.
    ranges: Vec<(PackId, u64, u64)>,
    hinted: Vec<AtomicBool>,
}

impl<'b> ReadAhead<'b> {
    /// Whole packs, given as (pack, length), in the order they will be read.
    pub(crate) fn packs<'p>(
        backend: &'b dyn Backend,
        packs: impl IntoIterator<Item = &'p (PackId, u32)>,
    ) -> Self {
        Self::ranges(
            backend,
            packs.into_iter().map(|(p, len)| (*p, 0, u64::from(*len))),
        )
    }

    /// Ranges of packs, in the order they will be read.
    pub(crate) fn ranges(
        backend: &'b dyn Backend,
        ranges: impl IntoIterator<Item = (PackId, u64, u64)>,
    ) -> Self {
        let ranges: Vec<_> = ranges.into_iter().collect();
        let hinted = ranges.iter().map(|_| AtomicBool::new(false)).collect();
        ReadAhead {
            backend,
            ranges,
            hinted,
        }
    }

    /// Item `k` is being read: hints the items after it, up to [`AHEAD_BYTES`], that no reader
    /// hinted yet (nor read: reading marks an item as hinted).
    pub(crate) fn reading(&self, k: usize) {
        if let Some(h) = self.hinted.get(k) {
            h.store(true, Ordering::Relaxed);
        }
        let mut bytes = 0;
        for (j, &(pack, offset, len)) in self.ranges.iter().enumerate().skip(k + 1) {
            if bytes > 0 && bytes + len > AHEAD_BYTES {
                break;
            }
            bytes += len.max(1);
            if !self.hinted[j].swap(true, Ordering::Relaxed) {
                self.backend
                    .will_read(FileType::Pack, &pack.to_hex(), offset, len);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_storage::{ObjectInfo, PutOutcome, StorageError};
    use std::sync::Mutex;

    /// Records the hints; reads nothing.
    #[derive(Default)]
    struct Hints(Mutex<Vec<(String, u64, u64)>>);

    impl Backend for Hints {
        fn location(&self) -> String {
            "hints".into()
        }
        fn put_if_absent(
            &self,
            _: FileType,
            _: &str,
            _: &[u8],
        ) -> Result<PutOutcome, StorageError> {
            unreachable!("only hints")
        }
        fn get(&self, _: FileType, _: &str) -> Result<Vec<u8>, StorageError> {
            unreachable!("only hints")
        }
        fn read_range_into(
            &self,
            _: FileType,
            _: &str,
            _: u64,
            _: u64,
            _: &mut Vec<u8>,
        ) -> Result<(), StorageError> {
            unreachable!("only hints")
        }
        fn list(&self, _: FileType) -> Result<Vec<ObjectInfo>, StorageError> {
            unreachable!("only hints")
        }
        fn delete(&self, _: FileType, _: &str) -> Result<(), StorageError> {
            unreachable!("only hints")
        }
        fn will_read(&self, t: FileType, name: &str, offset: u64, len: u64) {
            assert_eq!(t, FileType::Pack);
            self.0.lock().unwrap().push((name.to_string(), offset, len));
        }
    }

    fn taken(b: &Hints) -> Vec<(String, u64, u64)> {
        std::mem::take(&mut *b.0.lock().unwrap())
    }

    /// Each item is hinted once, only while it is within [`AHEAD_BYTES`] of the one being
    /// read, and never once it was read; an item larger than the reach is still hinted.
    #[test]
    fn items_are_hinted_once_within_the_reach_ahead_of_the_reader() {
        const MIB: u64 = 1 << 20;
        let b = Hints::default();
        let pack = |n: u8| PackId([n; 32]);
        let ranges = [
            (pack(0), 0, 16 * MIB),
            (pack(1), 0, 16 * MIB),
            (pack(2), 100, 16 * MIB),
            (pack(3), 0, 16 * MIB),
            (pack(4), 0, 100 * MIB),
            (pack(5), 0, MIB),
        ];
        let ahead = ReadAhead::ranges(&b, ranges);
        ahead.reading(0);
        let hinted = taken(&b);
        assert_eq!(
            hinted,
            vec![
                (pack(1).to_hex(), 0, 16 * MIB),
                (pack(2).to_hex(), 100, 16 * MIB),
                (pack(3).to_hex(), 0, 16 * MIB),
            ]
        );
        ahead.reading(1);
        assert!(taken(&b).is_empty(), "pack 4 is beyond the reach of pack 1");
        ahead.reading(3);
        assert_eq!(taken(&b), vec![(pack(4).to_hex(), 0, 100 * MIB)]);
        ahead.reading(5);
        ahead.reading(4);
        assert!(taken(&b).is_empty(), "read or hinted already");
        let whole = ReadAhead::packs(&b, &[(pack(7), 5u32), (pack(8), 6)]);
        whole.reading(0);
        assert_eq!(taken(&b), vec![(pack(8).to_hex(), 0, 6)]);
        whole.reading(9);
    }
}
