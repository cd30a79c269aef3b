//! How the way SQLite databases are cut decides what a nightly backup stores, and where a
//! first backup's stored bytes go.
//!
//! `chunking_report DAY1 DAY2` takes two copies of a household (the second edited by
//! `gen DAY2 --day 1`), finds every SQLite database in DAY1 (by its 16-byte header) and its
//! counterpart in DAY2, and for each way of cutting them prints: the bytes the first backup
//! stores for them (distinct chunks, zstd-3 when it saves at least 2%, plus each blob's
//! 40-byte seal and 48-byte pack entry), and the bytes the second day adds (chunks not stored
//! on day 1, plus 32 bytes per chunk id in the changed files' snapshot entries).
//!
//! `chunking_report --household DAY1` cuts every file of a household as a repository with the
//! default config does (SQLite in 8 KiB pages, media in 1 MiB FastCDC chunks, the rest in
//! 64 KiB ones) and, for comparison, in 1 MiB FastCDC chunks (512 KiB-8 MiB, restic's sizes)
//! with zstd-3 tried on every chunk; per kind of file it prints the bytes, the distinct bytes
//! and what each way stores (blobs deduplicated across the household, 88 bytes per blob).

use hearth_testkit::files_under;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// AEAD nonce and tag, and the pack entry, per stored blob.
const BLOB_OVERHEAD: u64 = 40 + 48;
const ID_LEN: u64 = 32;

#[derive(Clone, Copy)]
enum Cut {
    Cdc { min: u32, avg: u32, max: u32 },
    Fixed(usize),
}

impl Cut {
    fn name(self) -> String {
        match self {
            Cut::Cdc { min, avg, max } => {
                format!("FastCDC {}/{}/{} KiB", min / 1024, avg / 1024, max / 1024)
            }
            Cut::Fixed(n) => format!("fixed {} KiB (page-aligned)", n / 1024),
        }
    }

    fn chunks(self, data: &[u8]) -> Vec<&[u8]> {
        match self {
            Cut::Fixed(n) => data.chunks(n).collect(),
            Cut::Cdc { min, avg, max } => {
                let c = hearth_chunker::Chunker::new(hearth_chunker::ChunkerParams {
                    min,
                    avg,
                    max,
                    seed: 7,
                });
                let mut out = Vec::new();
                let mut at = 0;
                c.chunk_slice(data, |ch| {
                    out.push(&data[at..at + ch.len()]);
                    at += ch.len();
                    Ok::<_, ()>(())
                })
                .expect("infallible");
                out
            }
        }
    }
}

fn stored(chunk: &[u8]) -> u64 {
    let z = zstd::bulk::compress(chunk, 3).expect("zstd");
    let body = if z.len() + chunk.len() / 50 < chunk.len() {
        z.len()
    } else {
        chunk.len()
    };
    body as u64 + BLOB_OVERHEAD
}

fn databases(day1: &Path, day2: &Path) -> Vec<(PathBuf, PathBuf)> {
    let is_db = |p: &Path| {
        let mut head = [0u8; 16];
        std::fs::File::open(p)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
            .is_ok()
            && &head == SQLITE_MAGIC
    };
    files_under(day1)
        .expect("listing the household")
        .into_iter()
        .filter(|p| is_db(p))
        .map(|p| {
            let twin = day2.join(p.strip_prefix(day1).expect("under day1"));
            (p, twin)
        })
        .filter(|(_, twin)| twin.exists())
        .collect()
}

/// Stored bytes of one chunk as a repository stores it: zstd is tried where the cut says the
/// content compresses or the entropy test allows.
fn stored_hearth(chunk: &[u8], content: hearth_chunker::Content) -> u64 {
    let sample = content == hearth_chunker::Content::Unknown;
    if sample && hearth_repo::looks_incompressible(chunk) {
        chunk.len() as u64 + BLOB_OVERHEAD
    } else {
        stored(chunk)
    }
}

fn household(root: &Path) {
    use hearth_chunker::{Chunker, ChunkerParams, ContentRules, Cut as Rule};
    let c = hearth_format::Config::new(
        [0; 32],
        hearth_format::ContentKeys {
            chunk_id_key: [0; 32],
            chunker_seed: 0,
        },
    );
    let hearth = Chunker::with_rules(
        ChunkerParams {
            min: c.chunk_min,
            avg: c.chunk_avg,
            max: c.chunk_max,
            seed: 7,
        },
        ContentRules {
            media: (c.media_min, c.media_avg, c.media_max),
            sqlite_chunk: c.sqlite_chunk,
        },
    );
    let large = Chunker::new(ChunkerParams {
        min: 512 << 10,
        avg: 1 << 20,
        max: 8 << 20,
        seed: 7,
    });
    // kind -> [files, bytes, distinct bytes, hearth blobs, hearth stored, large blobs, large stored]
    let mut rows: std::collections::BTreeMap<&str, [u64; 7]> = Default::default();
    let (mut seen_file, mut seen_h, mut seen_l) = (HashSet::new(), HashSet::new(), HashSet::new());
    for path in files_under(root).expect("listing the household") {
        let data = std::fs::read(&path).expect("read");
        let kind = match hearth.cut_for(&data) {
            Rule::Fixed(_) => "SQLite",
            Rule::Cdc(min, ..) if min == c.media_min => "media",
            _ if data.len() < 64 << 10 => "other, < 64 KiB",
            _ => "other, >= 64 KiB",
        };
        let r = rows.entry(kind).or_default();
        r[0] += 1;
        r[1] += data.len() as u64;
        if !seen_file.insert(*blake3::hash(&data).as_bytes()) {
            continue;
        }
        r[2] += data.len() as u64;
        hearth
            .cut_slice(&data, |cut, ch| {
                if seen_h.insert(*blake3::hash(ch).as_bytes()) {
                    r[3] += 1;
                    r[4] += stored_hearth(ch, cut.content());
                }
                Ok::<_, ()>(())
            })
            .expect("infallible");
        large
            .chunk_slice(&data, |ch| {
                if seen_l.insert(*blake3::hash(ch).as_bytes()) {
                    r[5] += 1;
                    r[6] += stored(ch);
                }
                Ok::<_, ()>(())
            })
            .expect("infallible");
    }
    println!(
        "| files | count | MB | distinct MB | hearth blobs | hearth stored MB | 1 MiB blobs | 1 MiB stored MB |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut total = [0u64; 7];
    for (kind, r) in &rows {
        (0..7).for_each(|i| total[i] += r[i]);
        print_row(kind, r);
    }
    print_row("all", &total);
}

fn print_row(kind: &str, r: &[u64; 7]) {
    let mb = |b: u64| b as f64 / 1e6;
    println!(
        "| {kind} | {} | {:.1} | {:.1} | {} | {:.1} | {} | {:.1} |",
        r[0],
        mb(r[1]),
        mb(r[2]),
        r[3],
        mb(r[4]),
        r[5],
        mb(r[6])
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, root] = &args[..]
        && flag == "--household"
    {
        household(Path::new(root));
        return;
    }
    let [_, day1, day2] = &args[..] else {
        eprintln!("usage: chunking_report DAY1 DAY2 | chunking_report --household DAY1");
        std::process::exit(2);
    };
    let pairs = databases(Path::new(day1), Path::new(day2));
    let files: Vec<(Vec<u8>, Vec<u8>)> = pairs
        .iter()
        .map(|(a, b)| {
            (
                std::fs::read(a).expect("day 1"),
                std::fs::read(b).expect("day 2"),
            )
        })
        .collect();
    let bytes1: usize = files.iter().map(|(a, _)| a.len()).sum();
    let changed = files.iter().filter(|(a, b)| a != b).count();
    println!(
        "{} SQLite databases, {:.1} MB on day 1, {} changed on day 2",
        files.len(),
        bytes1 as f64 / 1e6,
        changed
    );
    println!(
        "| cut | chunks day 1 | stored day 1 MB | added day 2 MB | of which snapshot ids MB |"
    );
    println!("|---|---|---|---|---|");
    let kib = 1024;
    let cuts = [
        Cut::Cdc {
            min: 16 * kib,
            avg: 64 * kib,
            max: 256 * kib,
        },
        Cut::Cdc {
            min: 4 * kib,
            avg: 16 * kib,
            max: 64 * kib,
        },
        Cut::Fixed(4 * kib as usize),
        Cut::Fixed(8 * kib as usize),
        Cut::Fixed(16 * kib as usize),
        Cut::Fixed(32 * kib as usize),
        Cut::Fixed(64 * kib as usize),
    ];
    for cut in cuts {
        let (mut seen, mut n1, mut s1) = (HashSet::new(), 0u64, 0u64);
        for (a, _) in &files {
            for ch in cut.chunks(a) {
                n1 += 1;
                if seen.insert(*blake3::hash(ch).as_bytes()) {
                    s1 += stored(ch);
                }
            }
        }
        let (mut added, mut ids) = (0u64, 0u64);
        for (a, b) in &files {
            if a == b {
                continue;
            }
            for ch in cut.chunks(b) {
                ids += ID_LEN;
                if seen.insert(*blake3::hash(ch).as_bytes()) {
                    added += stored(ch);
                }
            }
        }
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.2} |",
            cut.name(),
            n1,
            s1 as f64 / 1e6,
            (added + ids) as f64 / 1e6,
            ids as f64 / 1e6
        );
    }
}
