//! Whole-pipeline throughput, both cores, into a fresh local repository each iteration.
//!
//! - `pipeline/write_session/mixed_256MiB`: photos and SQLite databases stored through one
//!   [`WriteSession`](hearth_repo::WriteSession), files in parallel on rayon as ingest does;
//! - `pipeline/backup/demo_household`: `backup_device` of every device of
//!   `HouseholdSpec::demo()` (generated once, outside the timing) into an empty repository;
//! - `pipeline/restore/device`: `plan_restore` + `execute` of the first device into a fresh
//!   folder.
//!
//! Run: `cargo bench -p hearth-benches --bench pipeline`. Inputs are read from the page cache
//! (they were just written); packs are fsynced to the disk as in real use.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use hearth_benches::{
    MIB, backup_household, fresh_repo, settle_disk, total_size, write_mixed_files,
};
use hearth_format::BlobKind;
use hearth_ingest::{IngestOptions, backup_device};
use hearth_repo::NoProgress;
use hearth_testkit::{HouseholdSpec, generate};
use rayon::prelude::*;
use std::fs::File;
use std::time::Duration;

fn write_session(c: &mut Criterion) {
    let input = tempfile::tempdir().unwrap();
    let mut files = write_mixed_files(input.path(), 256 * MIB, 0.3, 11);
    // Largest first, as ingest orders its work.
    files.sort_by_key(|p| std::cmp::Reverse(std::fs::metadata(p).unwrap().len()));
    let bytes = total_size(&files);
    settle_disk();
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("write_session/mixed_256MiB", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |dir| {
                let repo = fresh_repo(dir.path());
                let lock = repo.lock_shared(Duration::ZERO, &|_| {}).unwrap();
                let session = repo.write_session(&lock).unwrap();
                files.par_iter().for_each(|p| {
                    session
                        .store_reader(File::open(p).unwrap(), BlobKind::Data)
                        .unwrap();
                });
                session.finish().unwrap();
                (repo, dir)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn household(c: &mut Criterion) {
    let input = tempfile::tempdir().unwrap();
    let household = generate(&HouseholdSpec::demo(), input.path()).unwrap();
    settle_disk();
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Bytes(household.bytes()));
    g.bench_function("backup/demo_household", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |dir| {
                let repo = fresh_repo(dir.path());
                backup_household(&repo, &household);
                (repo, dir)
            },
            BatchSize::PerIteration,
        )
    });

    let dir = tempfile::tempdir().unwrap();
    let repo = fresh_repo(dir.path());
    let lock = repo.lock_shared(Duration::ZERO, &|_| {}).unwrap();
    let session = repo.write_session(&lock).unwrap();
    let device = &household.devices[0];
    let report = backup_device(
        &repo,
        &session,
        &device.folder,
        &IngestOptions::default(),
        &NoProgress,
    )
    .unwrap()
    .into_report()
    .expect("a finished backup");
    session.finish().unwrap();
    let (_, snap) = repo.find_snapshot(&report.snapshot.to_string()).unwrap();
    let plan = hearth_restore::plan_restore(&repo, &snap, &Default::default()).unwrap();
    g.throughput(Throughput::Bytes(plan.bytes()));
    g.bench_function("restore/device", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |out| {
                let plan = hearth_restore::plan_restore(&repo, &snap, &Default::default()).unwrap();
                hearth_restore::execute(&repo, &plan, out.path(), &NoProgress).unwrap();
                out
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
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
    targets = write_session, household
}
criterion_main!(benches);
