//! How the way SQLite databases are cut decides what a nightly backup stores.
//!
//! `chunking_report DAY1 DAY2` takes two copies of a household (the second edited by
//! `gen DAY2 --day 1`), finds every SQLite database in DAY1 (by its 16-byte header) and its
//! counterpart in DAY2, and for each way of cutting them prints: the bytes the first backup
//! stores for them (distinct chunks, zstd-3 when it saves at least 2%, plus each blob's
//! 40-byte seal and 48-byte pack entry), and the bytes the second day adds (chunks not stored
//! on day 1, plus 32 bytes per chunk id in the changed files' snapshot entries).

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
    let mut out = Vec::new();
    let mut dirs = vec![day1.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
                continue;
            }
            let mut head = [0u8; 16];
            let is_db = std::fs::File::open(&p)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
                .is_ok()
                && &head == SQLITE_MAGIC;
            let twin = day2.join(p.strip_prefix(day1).expect("under day1"));
            if is_db && twin.exists() {
                out.push((p, twin));
            }
        }
    }
    out.sort();
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, day1, day2] = &args[..] else {
        eprintln!("usage: chunking_report DAY1 DAY2");
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
