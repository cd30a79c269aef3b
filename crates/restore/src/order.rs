//! The files of an image in the order their first stored bytes lie in the packs, with memory
//! that does not grow with the number of files: an external merge sort of the encoded entries.
//!
//! A snapshot lists its entries by path; the packs hold a file's chunks where the backup put
//! them (largest files first, then by path, interleaved by the threads that stored them, or
//! from an older snapshot's packs for an unchanged file). Reading files in pack order lets a
//! restore fetch each span of a pack about once ([`hearth_repo::SpanReader`]) whatever that
//! layout. Entries are encoded ([`Entry::encode`]) into runs of [`RUN_BYTES`]; a run that fills
//! is sorted and written to an anonymous temporary file (gone when closed, also after a
//! crash); the runs are then merged. A snapshot whose entries fit one run (about 25,000 files)
//! is sorted in memory. Memory: one run, plus a [`MERGE_BUFFER`] per run while merging (1/128
//! of the sorted bytes).

use hearth_format::Entry;
use hearth_format::codec::{Reader, Writer};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Where a file's first chunk lies (pack id, offset in it), then its place in the snapshot:
/// files sort by it. A file whose first chunk the index does not know sorts last.
pub(crate) type Key = ([u8; 32], u32, u64);

/// The key of a file whose first chunk has no known location.
pub(crate) fn unlocated(seq: u64) -> Key {
    ([0xff; 32], u32::MAX, seq)
}

/// Encoded entries held before a run is sorted and written out.
pub(crate) const RUN_BYTES: usize = 4 << 20;
/// Read buffer per run while merging.
pub(crate) const MERGE_BUFFER: usize = 32 << 10;

const KEY_LEN: usize = 32 + 4 + 8;

/// Takes entries with their keys; [`Sorter::finish`] gives them back in key order.
pub(crate) struct Sorter {
    dir: PathBuf,
    /// One entry being encoded.
    scratch: Vec<u8>,
    encoded: Vec<u8>,
    /// Key, start and length in `encoded` of each entry of the current run.
    records: Vec<(Key, u32, u32)>,
    runs: Vec<File>,
}

impl Sorter {
    /// Spilled runs go into `dir` (the repository's cache folder).
    pub(crate) fn new(dir: &Path) -> Self {
        Sorter {
            dir: dir.to_path_buf(),
            scratch: Vec::new(),
            encoded: Vec::new(),
            records: Vec::new(),
            runs: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, key: Key, entry: &Entry) -> io::Result<()> {
        let mut w = Writer::with_buffer(std::mem::take(&mut self.scratch));
        entry.encode(&mut w);
        self.scratch = w.finish();
        let (start, len) = (self.encoded.len(), self.scratch.len());
        self.encoded.extend_from_slice(&self.scratch);
        self.records.push((key, to_u32(start)?, to_u32(len)?));
        if self.encoded.len() >= RUN_BYTES {
            self.spill()?;
        }
        Ok(())
    }

    /// How many runs went to temporary files.
    #[cfg(test)]
    pub(crate) fn runs(&self) -> usize {
        self.runs.len()
    }

    fn spill(&mut self) -> io::Result<()> {
        self.records.sort_unstable_by_key(|r| r.0);
        let file = tempfile::tempfile_in(&self.dir)?;
        let mut w = BufWriter::with_capacity(MERGE_BUFFER, file);
        for &(key, start, len) in &self.records {
            w.write_all(&key.0)?;
            w.write_all(&key.1.to_le_bytes())?;
            w.write_all(&key.2.to_le_bytes())?;
            w.write_all(&len.to_le_bytes())?;
            w.write_all(&self.encoded[start as usize..(start + len) as usize])?;
        }
        let mut file = w.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.seek(SeekFrom::Start(0))?;
        self.runs.push(file);
        self.encoded.clear();
        self.records.clear();
        Ok(())
    }

    /// The entries in key order.
    pub(crate) fn finish(mut self) -> io::Result<Sorted> {
        if self.runs.is_empty() {
            self.records
                .sort_unstable_by_key(|r| std::cmp::Reverse(r.0));
            return Ok(Sorted::Memory {
                encoded: self.encoded,
                records: self.records,
            });
        }
        if !self.records.is_empty() {
            self.spill()?;
        }
        let mut runs = Vec::with_capacity(self.runs.len());
        let mut heap = BinaryHeap::new();
        for (i, file) in self.runs.into_iter().enumerate() {
            let mut run = Run {
                reader: BufReader::with_capacity(MERGE_BUFFER, file),
                bytes: Vec::new(),
            };
            if let Some(key) = run.next_key()? {
                heap.push(Reverse((key, i)));
            }
            runs.push(run);
        }
        Ok(Sorted::Merge { runs, heap })
    }
}

fn to_u32(n: usize) -> io::Result<u32> {
    u32::try_from(n).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "entry too long"))
}

/// One spilled run being read: the entry bytes of its current record.
pub(crate) struct Run {
    reader: BufReader<File>,
    bytes: Vec<u8>,
}

impl Run {
    /// Reads the next record; its key, or `None` at the end of the run.
    fn next_key(&mut self) -> io::Result<Option<Key>> {
        let mut head = [0u8; KEY_LEN + 4];
        match self.reader.read_exact(&mut head) {
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            other => other?,
        }
        let pack: [u8; 32] = head[..32].try_into().expect("32 bytes");
        let offset = u32::from_le_bytes(head[32..36].try_into().expect("4 bytes"));
        let seq = u64::from_le_bytes(head[36..44].try_into().expect("8 bytes"));
        let len = u32::from_le_bytes(head[44..48].try_into().expect("4 bytes"));
        self.bytes.resize(len as usize, 0);
        self.reader.read_exact(&mut self.bytes)?;
        Ok(Some((pack, offset, seq)))
    }
}

/// The sorted entries.
pub(crate) enum Sorted {
    /// Records in reverse key order (popped from the end).
    Memory {
        encoded: Vec<u8>,
        records: Vec<(Key, u32, u32)>,
    },
    Merge {
        runs: Vec<Run>,
        heap: BinaryHeap<Reverse<(Key, usize)>>,
    },
}

fn decode(bytes: &[u8]) -> io::Result<Entry> {
    Entry::decode(&mut Reader::new(bytes))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

impl Iterator for Sorted {
    type Item = io::Result<(Key, Entry)>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Sorted::Memory { encoded, records } => {
                let (key, start, len) = records.pop()?;
                Some(decode(&encoded[start as usize..(start + len) as usize]).map(|e| (key, e)))
            }
            Sorted::Merge { runs, heap } => {
                let Reverse((key, i)) = heap.pop()?;
                let entry = decode(&runs[i].bytes);
                match runs[i].next_key() {
                    Ok(Some(next)) => heap.push(Reverse((next, i))),
                    Ok(None) => runs[i].bytes = Vec::new(),
                    Err(e) => return Some(Err(e)),
                }
                Some(entry.map(|e| (key, e)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_format::{ChunkId, Content};

    fn entry(n: u64) -> Entry {
        Entry {
            path: format!("{n:02x}/{:0>38}", n),
            row: None,
            content: Some(Content {
                size: n,
                mtime_ns: i128::from(n),
                mode: 0o644,
                chunks: vec![ChunkId([n as u8; 32]); (n % 5) as usize],
                cipher: None,
            }),
        }
    }

    /// A key that scatters entries: neighbours in path order land far apart.
    fn key(n: u64) -> Key {
        let scattered = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut pack = [0u8; 32];
        pack[..8].copy_from_slice(&(scattered >> 40).to_le_bytes());
        (pack, (scattered & 0xffff) as u32, n)
    }

    fn sorted_back(count: u64) -> (Vec<Entry>, usize) {
        let dir = tempfile::tempdir().unwrap();
        let mut sorter = Sorter::new(dir.path());
        for n in 0..count {
            sorter.push(key(n), &entry(n)).unwrap();
        }
        let runs = sorter.runs();
        let back = (sorter.finish().unwrap())
            .map(|r| r.map(|(_, e)| e))
            .collect::<io::Result<_>>()
            .unwrap();
        (back, runs)
    }

    fn expected(count: u64) -> Vec<Entry> {
        let mut all: Vec<u64> = (0..count).collect();
        all.sort_by_key(|&n| key(n));
        all.into_iter().map(entry).collect()
    }

    #[test]
    fn few_entries_sort_in_memory() {
        let (back, runs) = sorted_back(1000);
        assert_eq!(runs, 0);
        assert_eq!(back, expected(1000));
    }

    #[test]
    fn many_entries_merge_from_runs_on_disk_in_key_order() {
        // About 130 bytes an entry: several runs.
        let count = 100_000;
        let (back, runs) = sorted_back(count);
        assert!(runs >= 3, "{runs} runs");
        assert_eq!(back.len() as u64, count);
        assert_eq!(back, expected(count));
    }
}
