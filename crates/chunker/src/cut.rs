//! Cutting files into chunks: FastCDC over a reader with large sequential reads and no
//! per-chunk copies, with the cut chosen from each file's first bytes (`docs/format.md` §6):
//! SQLite databases in whole pages, media in larger content-defined chunks.

use fastcdc::v2020::{FastCDC, Normalization};
use std::io::{self, Read};

/// What is known about a chunk's compressibility before trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// Test a sample first: photos, videos and archives skip zstd.
    Unknown,
    /// Always try zstd (SQLite pages, whose byte entropy can pass for random while zstd still
    /// finds matches).
    Compressible,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkerParams {
    pub min: u32,
    pub avg: u32,
    pub max: u32,
    /// Keys the gear table so boundaries depend on the repository key.
    pub seed: u64,
}

/// Cuts for particular contents, recognised by their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRules {
    /// FastCDC sizes (min, avg, max) for photos, videos and audio (JPEG, PNG, GIF, ISO BMFF
    /// and QuickTime files): they never change in place, so larger chunks cost nothing in
    /// deduplication and save per-chunk work.
    pub media: (u32, u32, u32),
    /// Fixed chunk size for SQLite databases, a power of two: a database changes in whole
    /// pages at fixed offsets, so page-aligned small chunks store a day's edits in a fraction
    /// of the bytes that content-defined ones do. Databases whose page is larger use the page.
    pub sqlite_chunk: u32,
}

/// How one file is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// FastCDC with these min, avg, max.
    Cdc(u32, u32, u32),
    /// Fixed-size chunks from offset 0 (SQLite pages).
    Fixed(u32),
}

impl Cut {
    /// What is known about the compressibility of the chunks this cut makes.
    pub fn content(self) -> Content {
        match self {
            Cut::Fixed(_) => Content::Compressible,
            Cut::Cdc(..) => Content::Unknown,
        }
    }
}

/// Reads fill at least this much, so a cut never waits on a small read.
const MIN_BUFFER: usize = 4 << 20;
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// QuickTime / ISO BMFF box types that open a media file (at byte 4).
const MEDIA_BOXES: [&[u8; 4]; 5] = [b"ftyp", b"moov", b"mdat", b"wide", b"free"];

/// Why cutting a reader stopped.
#[derive(Debug)]
pub enum ReadError<E> {
    /// Reading failed.
    Io(io::Error),
    /// The caller's handling of a chunk failed.
    Chunk(E),
}

impl<E: std::fmt::Display> std::fmt::Display for ReadError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "reading failed: {e}"),
            ReadError::Chunk(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for ReadError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io(e) => Some(e),
            ReadError::Chunk(e) => Some(e),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Chunker {
    params: ChunkerParams,
    rules: Option<ContentRules>,
}

thread_local! {
    static READ_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Chunker {
    /// Cuts every file with FastCDC and `params`.
    pub fn new(params: ChunkerParams) -> Self {
        Self {
            params,
            rules: None,
        }
    }

    /// Cuts databases and media by `rules`, everything else with FastCDC and `params`.
    pub fn with_rules(params: ChunkerParams, rules: ContentRules) -> Self {
        Self {
            params,
            rules: Some(rules),
        }
    }

    pub fn params(&self) -> ChunkerParams {
        self.params
    }

    /// The cut for a file that starts with `head` (its first bytes, as many as are at hand:
    /// 18 are enough to decide).
    pub fn cut_for(&self, head: &[u8]) -> Cut {
        let p = self.params;
        let general = Cut::Cdc(p.min, p.avg, p.max);
        let Some(rules) = self.rules else {
            return general;
        };
        if let Some(page) = sqlite_page_size(head) {
            return Cut::Fixed(rules.sqlite_chunk.max(page));
        }
        if is_media(head) {
            let (min, avg, max) = rules.media;
            return Cut::Cdc(min, avg, max);
        }
        general
    }

    /// The largest chunk any cut can produce.
    fn max_chunk(&self) -> usize {
        let rules = self
            .rules
            .map_or(0, |r| r.media.2.max(r.sqlite_chunk).max(1 << 16));
        self.params.max.max(rules) as usize
    }

    /// Cuts an in-memory buffer; `f` sees every chunk in order.
    pub fn chunk_slice<E>(
        &self,
        data: &[u8],
        mut f: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.cut_slice(data, |_, chunk| f(chunk))
    }

    /// [`Chunker::chunk_slice`], telling `f` how the input is cut.
    pub fn cut_slice<E>(
        &self,
        data: &[u8],
        mut f: impl FnMut(Cut, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let cut = self.cut_for(data);
        for (offset, len) in boundaries(cut, self.params.seed, data, true) {
            f(cut, &data[offset..offset + len])?;
        }
        Ok(())
    }

    /// Cuts everything `reader` yields; `f` sees every chunk in order. Returns the byte count.
    ///
    /// Invariant: the chunks are exactly those of `chunk_slice` on the whole input, because the
    /// cut is chosen from the first bytes (the first buffer holds the whole input or 4 MiB),
    /// and a chunk ending at the buffer's end is only emitted at end of input (else it is
    /// carried over; the buffer holds at least two of the largest chunks, so some complete).
    pub fn chunk_reader<R: Read, E>(
        &self,
        reader: R,
        mut f: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<u64, ReadError<E>> {
        self.cut_reader(reader, |_, chunk| f(chunk))
    }

    /// [`Chunker::chunk_reader`], telling `f` how the input is cut.
    pub fn cut_reader<R: Read, E>(
        &self,
        mut reader: R,
        mut f: impl FnMut(Cut, &[u8]) -> Result<(), E>,
    ) -> Result<u64, ReadError<E>> {
        let cap = (2 * self.max_chunk()).max(MIN_BUFFER);
        // One buffer per thread, reused from file to file: allocating (and returning) several
        // MiB per file cost more than reading a small file.
        let mut buf = READ_BUFFER.with_borrow_mut(std::mem::take);
        if buf.len() < cap {
            buf.resize(cap, 0);
        }
        let result = self.chunk_buffered(&mut reader, &mut buf[..cap], &mut f);
        READ_BUFFER.with_borrow_mut(|b| *b = buf);
        result
    }

    fn chunk_buffered<R: Read, E>(
        &self,
        reader: &mut R,
        buf: &mut [u8],
        f: &mut impl FnMut(Cut, &[u8]) -> Result<(), E>,
    ) -> Result<u64, ReadError<E>> {
        let cap = buf.len();
        let (mut len, mut total, mut eof) = (0usize, 0u64, false);
        let mut cut = None;
        loop {
            while !eof && len < cap {
                match reader.read(&mut buf[len..]) {
                    Ok(0) => eof = true,
                    Ok(n) => len += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(ReadError::Io(e)),
                }
            }
            let cut = *cut.get_or_insert_with(|| self.cut_for(&buf[..len]));
            let mut consumed = 0;
            for (offset, n) in boundaries(cut, self.params.seed, &buf[..len], eof) {
                f(cut, &buf[offset..offset + n]).map_err(ReadError::Chunk)?;
                consumed = offset + n;
            }
            total += consumed as u64;
            buf.copy_within(consumed..len, 0);
            len -= consumed;
            if eof && len == 0 {
                return Ok(total);
            }
        }
    }
}

/// `(offset, length)` of the chunks of `data` under `cut`; unless `last`, a chunk that ends
/// at the end of `data` is left out (more input may move its end).
fn boundaries(
    cut: Cut,
    seed: u64,
    data: &[u8],
    last: bool,
) -> Box<dyn Iterator<Item = (usize, usize)> + '_> {
    let complete = move |&(offset, len): &(usize, usize)| last || offset + len < data.len();
    match cut {
        Cut::Fixed(size) => {
            let size = size as usize;
            Box::new(
                (0..data.len())
                    .step_by(size)
                    .map(move |o| (o, size.min(data.len() - o)))
                    .take_while(complete),
            )
        }
        Cut::Cdc(min, avg, max) => Box::new(
            FastCDC::with_level_and_seed(
                data,
                min as usize,
                avg as usize,
                max as usize,
                Normalization::Level1,
                seed,
            )
            .map(|c| (c.offset, c.length))
            .take_while(complete),
        ),
    }
}

/// The page size of a SQLite database file starting with `head`, if it is one.
fn sqlite_page_size(head: &[u8]) -> Option<u32> {
    if head.len() < 18 || &head[..16] != SQLITE_MAGIC {
        return None;
    }
    // Big-endian, as everything in SQLite's header.
    let page = match (u32::from(head[16]) << 8) | u32::from(head[17]) {
        1 => 65_536,
        n => n,
    };
    (page.is_power_of_two() && (512..=65_536).contains(&page)).then_some(page)
}

/// JPEG, PNG, GIF, or an ISO BMFF / QuickTime file (HEIC, MOV, MP4, M4A, 3GP).
fn is_media(head: &[u8]) -> bool {
    head.starts_with(&[0xFF, 0xD8, 0xFF])
        || head.starts_with(b"\x89PNG\r\n\x1a\n")
        || head.starts_with(b"GIF8")
        || (head.len() >= 8 && MEDIA_BOXES.iter().any(|b| &head[4..8] == *b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn small() -> Chunker {
        Chunker::new(ChunkerParams {
            min: 256,
            avg: 1024,
            max: 4096,
            seed: 1,
        })
    }

    fn pseudo_random(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn cuts(c: &Chunker, data: &[u8], read_size: usize) -> Vec<usize> {
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(self.1);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut out = Vec::new();
        c.chunk_reader(Trickle(data, read_size), |ch| {
            out.push(ch.len());
            Ok::<_, ()>(())
        })
        .unwrap();
        out
    }

    #[test]
    fn golden_boundaries_from_a_seeded_generator() {
        // Pinned: changing the chunker changes every id in every repository.
        let data = pseudo_random(20_000, 42);
        let c = small();
        let got = cuts(&c, &data, usize::MAX);
        assert_eq!(got.iter().sum::<usize>(), 20_000);
        assert_eq!(
            got,
            [
                531, 677, 1493, 1572, 573, 279, 1033, 1147, 1367, 1249, 1767, 1036, 777, 1054,
                1639, 1117, 2590, 99
            ]
        );
        let again = cuts(&c, &data, 777);
        assert_eq!(got, again);
        let other_seed = Chunker::new(ChunkerParams {
            seed: 2,
            ..c.params()
        });
        assert_ne!(
            cuts(&other_seed, &data, usize::MAX),
            got,
            "the gear table is keyed"
        );
    }

    #[test]
    fn an_edit_changes_only_nearby_chunks() {
        let c = small();
        let a = pseudo_random(200_000, 3);
        let mut b = a.clone();
        b[100_000] ^= 0xff;
        let ca = cuts(&c, &a, usize::MAX);
        let cb = cuts(&c, &b, usize::MAX);
        let common = ca.iter().zip(&cb).take_while(|(x, y)| x == y).count();
        assert!(
            common > ca.len() / 3,
            "prefix chunks survive an edit in the middle"
        );
    }

    fn with_rules() -> Chunker {
        Chunker::with_rules(
            small().params(),
            ContentRules {
                media: (4096, 16384, 65536),
                sqlite_chunk: 8192,
            },
        )
    }

    fn sqlite_file(len: usize, page: u16) -> Vec<u8> {
        let mut data = pseudo_random(len, 9);
        data[..16].copy_from_slice(SQLITE_MAGIC);
        data[16] = (page >> 8) as u8;
        data[17] = page as u8;
        data
    }

    #[test]
    fn the_cut_follows_the_first_bytes() {
        let c = with_rules();
        assert_eq!(c.cut_for(&sqlite_file(100, 4096)), Cut::Fixed(8192));
        assert_eq!(
            c.cut_for(&sqlite_file(100, 1)),
            Cut::Fixed(65536),
            "1 means 64 KiB"
        );
        assert_eq!(c.cut_for(&sqlite_file(100, 16384)), Cut::Fixed(16384));
        let general = Cut::Cdc(256, 1024, 4096);
        assert_eq!(
            c.cut_for(&sqlite_file(100, 1000)),
            general,
            "not a page size"
        );
        assert_eq!(
            c.cut_for(&sqlite_file(100, 4096)[..17]),
            general,
            "too short to tell"
        );
        let media = Cut::Cdc(4096, 16384, 65536);
        assert_eq!(c.cut_for(b"\xff\xd8\xff\xe1\x00\x10Exif"), media);
        assert_eq!(c.cut_for(b"\x00\x00\x00\x18ftypheic\x00\x00"), media);
        assert_eq!(c.cut_for(b"\x00\x00\x00\x14ftypqt  \x00\x00"), media);
        assert_eq!(c.cut_for(b"\x89PNG\r\n\x1a\n\x00\x00"), media);
        assert_eq!(c.cut_for(b"bplist00\xd1\x01\x02"), general);
        assert_eq!(
            small().cut_for(&sqlite_file(100, 4096)),
            general,
            "no rules"
        );
    }

    #[test]
    fn a_database_is_cut_in_pages_and_an_edit_changes_one_chunk() {
        let c = with_rules();
        // Longer than the 4 MiB read buffer, so chunks are carried across reads.
        let a = sqlite_file(9 << 20, 4096);
        let ca = cuts(&c, &a, 1 << 20);
        assert!(ca[..ca.len() - 1].iter().all(|&n| n == 8192));
        assert_eq!(ca.iter().sum::<usize>(), a.len());
        let mut b = a.clone();
        b[5_000_000] ^= 1;
        let hashes = |d: &[u8]| {
            let mut out = Vec::new();
            c.chunk_slice(d, |ch| {
                out.push(ch.to_vec());
                Ok::<_, ()>(())
            })
            .unwrap();
            out
        };
        let (ha, hb) = (hashes(&a), hashes(&b));
        assert_eq!(ha.len(), hb.len());
        let differ: Vec<usize> = (0..ha.len()).filter(|&i| ha[i] != hb[i]).collect();
        assert_eq!(differ, [5_000_000 / 8192]);
    }

    #[test]
    fn media_is_cut_in_larger_chunks_the_same_way_streamed_or_whole() {
        let c = with_rules();
        let mut photo = pseudo_random(9 << 20, 4);
        photo[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
        let streamed = cuts(&c, &photo, 3 << 20);
        let mut whole = Vec::new();
        c.chunk_slice(&photo, |ch| {
            whole.push(ch.len());
            Ok::<_, ()>(())
        })
        .unwrap();
        assert_eq!(streamed, whole);
        assert!(whole.iter().all(|&n| n <= 65536));
        let mean = photo.len() / whole.len();
        assert!((8192..=40_000).contains(&mean), "mean chunk {mean}");
    }

    proptest! {
        #[test]
        fn streaming_equals_whole_buffer(len in 0usize..60_000, read in 1usize..9000, seed in 1u64..1000) {
            let c = small();
            let data = pseudo_random(len, seed);
            let mut whole = Vec::new();
            c.chunk_slice(&data, |ch| { whole.push(ch.len()); Ok::<_, ()>(()) }).unwrap();
            prop_assert_eq!(cuts(&c, &data, read), whole);
        }
    }
}
