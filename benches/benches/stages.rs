//! Raw throughput of each stage of the backup pipeline, one core, on realistic inputs.
//!
//! Run: `cargo bench -p hearth-benches --bench stages` (about a minute). Every figure
//! is bytes of *plaintext input* per second, so stages compare directly: the pipeline can go no
//! faster, per core, than the sum of the per-byte costs of the stages a byte passes through.
//! `docs/benchmarks.md` records the figures and what they mean.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use hearth_benches::{MIB, chunks_of, photo_like, sqlite_like, total_len};
use hearth_chunker::{Chunker, ChunkerParams};
use hearth_crypto::{Keys, MasterKey};
use hearth_format::{BlobKind, ChunkId, Compression, Config, PackEntry};
use hearth_repo::prepare;
use hearth_storage::{Backend, FileType, LocalBackend};
use std::hint::black_box;
use std::io::Read;
use std::time::Duration;

/// The repository's default chunker (format config), keyed like a real repository.
fn chunker(keys: &Keys) -> Chunker {
    let c = Config::new([0; 32], keys.content().clone());
    Chunker::new(ChunkerParams {
        min: c.chunk_min,
        avg: c.chunk_avg,
        max: c.chunk_max,
        seed: keys.chunker_seed(),
    })
}

struct Inputs {
    keys: Keys,
    chunker: Chunker,
    photo: Vec<u8>,
    db: Vec<u8>,
    photo_chunks: Vec<Vec<u8>>,
    db_chunks: Vec<Vec<u8>>,
}

fn inputs() -> Inputs {
    let keys = MasterKey::generate().keys();
    let chunker = chunker(&keys);
    let photo = photo_like(64 * MIB, 1);
    let db = sqlite_like(64 * MIB, 2);
    let photo_chunks = chunks_of(&chunker, &photo);
    let db_chunks = chunks_of(&chunker, &db);
    Inputs {
        keys,
        chunker,
        photo,
        db,
        photo_chunks,
        db_chunks,
    }
}

fn stages(c: &mut Criterion) {
    let inp = inputs();
    let zstd_ratio = inp.db.len() as f64 / zstd::bulk::compress(&inp.db, 3).unwrap().len() as f64;
    eprintln!(
        "inputs: photo-like {} MiB in {} chunks; SQLite-like {} MiB in {} chunks, zstd-3 ratio {zstd_ratio:.2}",
        inp.photo.len() / MIB,
        inp.photo_chunks.len(),
        inp.db.len() / MIB,
        inp.db_chunks.len()
    );
    let mut g = c.benchmark_group("stage");

    for (name, data) in [("cdc/photo", &inp.photo), ("cdc/sqlite", &inp.db)] {
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut n = 0usize;
                inp.chunker
                    .chunk_slice(data, |ch| {
                        n += ch.len();
                        Ok::<_, ()>(())
                    })
                    .unwrap();
                black_box(n)
            })
        });
    }

    // A household is mostly small files (preferences, caches, app containers): 2,048 files
    // of 8 KiB through the streaming reader, as `WriteSession::store_reader` cuts them.
    let small: Vec<&[u8]> = inp.db.chunks(8 * 1024).take(2048).collect();
    g.throughput(Throughput::Bytes(
        small.iter().map(|f| f.len() as u64).sum(),
    ));
    g.bench_function("cdc_reader/small_files_8KiB", |b| {
        b.iter(|| {
            for f in &small {
                let n = inp.chunker.chunk_reader(*f, |ch| {
                    black_box(ch);
                    Ok::<_, ()>(())
                });
                black_box(n.unwrap());
            }
        })
    });

    g.throughput(Throughput::Bytes(total_len(&inp.photo_chunks)));
    g.bench_function("blake3_keyed_id/photo", |b| {
        b.iter(|| {
            for ch in &inp.photo_chunks {
                black_box(inp.keys.chunk_id(ch));
            }
        })
    });

    g.throughput(Throughput::Bytes(total_len(&inp.db_chunks)));
    g.bench_function("zstd3/sqlite", |b| {
        b.iter(|| {
            for ch in &inp.db_chunks {
                black_box(zstd::bulk::compress(ch, 3).unwrap());
            }
        })
    });
    // The same with one reused context: shows what a fresh context per chunk costs.
    g.bench_function("zstd3_reused_ctx/sqlite", |b| {
        let mut z = zstd::bulk::Compressor::new(3).unwrap();
        b.iter(|| {
            for ch in &inp.db_chunks {
                black_box(z.compress(ch).unwrap());
            }
        })
    });

    let aad = PackEntry::blob_aad(&ChunkId([7; 32]), BlobKind::Data, Compression::None);
    g.throughput(Throughput::Bytes(total_len(&inp.photo_chunks)));
    g.bench_function("xchacha20poly1305_seal/photo", |b| {
        b.iter(|| {
            for ch in &inp.photo_chunks {
                black_box(inp.keys.seal(&aad, ch));
            }
        })
    });

    for (name, chunks) in [
        ("prepare/photo", &inp.photo_chunks),
        ("prepare/sqlite", &inp.db_chunks),
    ] {
        let ids: Vec<ChunkId> = chunks.iter().map(|c| inp.keys.chunk_id(c)).collect();
        g.throughput(Throughput::Bytes(total_len(chunks)));
        g.bench_function(name, |b| {
            b.iter(|| {
                for (ch, id) in chunks.iter().zip(&ids) {
                    black_box(prepare(&inp.keys, 3, BlobKind::Data, *id, ch));
                }
            })
        });
    }
    drop(inp);

    let dir = tempfile::tempdir().unwrap();
    read_page_cache(&mut g, dir.path());
    pack_put(&mut g, dir.path());
    g.finish();
}

/// Reading a 256 MiB file that is in the page cache, in the chunker's 4 MiB reads.
fn read_page_cache(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    dir: &std::path::Path,
) {
    let path = dir.join("big.bin");
    std::fs::write(&path, photo_like(256 * MIB, 3)).unwrap();
    let mut buf = vec![0u8; 4 * MIB];
    g.throughput(Throughput::Bytes(256 * MIB as u64));
    g.bench_function("read/page_cache", |b| {
        b.iter(|| {
            let mut f = std::fs::File::open(&path).unwrap();
            let mut n = 0;
            loop {
                match f.read(&mut buf).unwrap() {
                    0 => break,
                    k => n += k,
                }
            }
            black_box(n)
        })
    });
    std::fs::remove_file(&path).unwrap();
}

/// Putting one 16 MiB pack into a local backend: write, fsync, rename.
fn pack_put(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    dir: &std::path::Path,
) {
    let backend = LocalBackend::create(&dir.join("repo")).unwrap();
    let pack = photo_like(16 * MIB, 4);
    let mut n = 0u64;
    g.throughput(Throughput::Bytes(pack.len() as u64));
    g.bench_function("pack_put_fsync/16MiB", |b| {
        b.iter_batched(
            || {
                n += 1;
                format!("{n:064x}")
            },
            |name| backend.put(FileType::Pack, &name, &pack).unwrap(),
            BatchSize::PerIteration,
        )
    });
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = stages
}
criterion_main!(benches);
