//! `copy_snapshots` between repositories made alike (`docs/format.md` §11c): what is sent,
//! that a second copy sends and writes nothing, and that an unlike destination is refused.

mod common;

use common::{options, snapshot};
use hearth_format::{DeviceKey, SnapshotId};
use hearth_repo::{CheckOptions, CopyStatus, NoProgress, ReadData, RepoError, Repository};
use hearth_storage::{Backend, FileType, LocalBackend};
use hearth_testkit::bytes;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

fn repo_at(dir: &Path, name: &str) -> Arc<LocalBackend> {
    Arc::new(LocalBackend::create(&dir.join(name)).unwrap())
}

/// A snapshot of device `name` at `time` holding one file of `content` (compressible text).
fn backup(repo: &Repository, name: &str, time: i64, content: &[u8]) -> SnapshotId {
    let parent = repo.latest_for_udid(&format!("UDID-{name}")).unwrap();
    let snap = hearth_format::Snapshot {
        time,
        parent: parent.map(|(id, _)| id),
        ..snapshot(name)
    };
    common::commit_one_file(repo, snap, content)
}

/// Every object file in a local repository, by its path.
fn objects(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            match e.file_type().unwrap().is_dir() {
                true => stack.push(e.path()),
                false => {
                    let rel = e.path().strip_prefix(root).unwrap().to_owned();
                    out.insert(rel.to_string_lossy().into_owned());
                }
            }
        }
    }
    out
}

fn copy_all(from: &Repository, to: &Repository) -> Result<hearth_repo::CopyReport, RepoError> {
    let ids: Vec<SnapshotId> = from.snapshots()?.into_iter().map(|(id, _)| id).collect();
    let (a, b) = (common::shared(from), common::shared(to));
    from.copy_snapshots(to, &a, &b, &ids, &NoProgress)
}

fn file_of(repo: &Repository, id: &SnapshotId) -> Vec<u8> {
    let (_, snap) = repo
        .snapshots()
        .unwrap()
        .into_iter()
        .find(|(i, _)| i == id)
        .unwrap();
    let entries = repo.load_entries(&snap).unwrap();
    let mut out = Vec::new();
    for c in &entries[0].content.as_ref().unwrap().chunks {
        out.extend(repo.read_blob(c).unwrap());
    }
    out
}

#[test]
fn a_copy_restores_from_the_destination_alone_and_a_second_copy_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path());
    let from = Repository::init(repo_at(dir.path(), "a"), b"pw-a", &opts).unwrap();
    let one = bytes::letters(1, 600_000);
    let mut two = one.clone();
    two.extend(bytes::letters(2, 300_000));
    let first = backup(&from, "iPad", 10, &one);
    let second = backup(&from, "iPad", 20, &two);
    from.save_device_key(&DeviceKey {
        udid: "UDID-iPad".into(),
        created: 5,
        kdf_digest: [3; 32],
        kek: [4; 32],
    })
    .unwrap();
    from.pin(&first).unwrap();

    let to_backend = repo_at(dir.path(), "b");
    let to = Repository::init_like(to_backend.clone(), b"pw-b", &from, &opts).unwrap();
    assert_ne!(to.config().repository_id, from.config().repository_id);
    let report = copy_all(&from, &to).unwrap();
    assert_eq!(report.snapshots.len(), 2);
    assert!(
        report
            .snapshots
            .iter()
            .all(|s| s.status == CopyStatus::Copied)
    );
    assert!(report.chunks_sent > 2, "{report:?}");
    assert!(
        report.chunks_present > 0,
        "the second snapshot shares chunks: {report:?}"
    );
    assert_eq!((report.device_keys_sent, report.pins_sent), (1, 1));
    drop((from, to));

    // The destination alone, from a fresh cache: every byte, the parent mapped, the pin moved,
    // the device key there, and check reads every blob.
    std::fs::remove_dir_all(dir.path().join("cache")).unwrap();
    let to = Repository::open(to_backend.clone(), b"pw-b", &opts).unwrap();
    let copied = to.snapshots().unwrap();
    assert_eq!(copied.len(), 2);
    assert_eq!(file_of(&to, &copied[0].0), one);
    assert_eq!(file_of(&to, &copied[1].0), two);
    assert_eq!(copied[1].1.parent, Some(copied[0].0));
    assert_eq!(to.pins().unwrap(), BTreeSet::from([copied[0].0]));
    assert_eq!(to.device_keys(&[3; 32]).unwrap(), vec![[4; 32]]);
    let check = to
        .check(
            CheckOptions {
                read_data: ReadData::All,
            },
            &NoProgress,
        )
        .unwrap();
    assert!(check.is_ok(), "{check:?}");

    // Copying again sends nothing and writes no object.
    let from_backend = Arc::new(LocalBackend::open(&dir.path().join("a")));
    let from = Repository::open(from_backend, b"pw-a", &opts).unwrap();
    let before = objects(&dir.path().join("b"));
    let again = copy_all(&from, &to).unwrap();
    assert_eq!((again.chunks_sent, again.bytes_sent), (0, 0), "{again:?}");
    assert!(
        again
            .snapshots
            .iter()
            .all(|s| s.status == CopyStatus::Present)
    );
    assert_eq!(
        again
            .snapshots
            .iter()
            .map(|s| s.copied_id)
            .collect::<Vec<_>>(),
        vec![copied[0].0, copied[1].0]
    );
    assert_eq!(objects(&dir.path().join("b")), before);

    // One more backup: only its new chunks are sent.
    let mut three = two.clone();
    three.extend(bytes::letters(3, 200_000));
    backup(&from, "iPad", 30, &three);
    let more = copy_all(&from, &to).unwrap();
    assert_eq!(more.snapshots[2].status, CopyStatus::Copied);
    assert!(
        more.chunks_sent > 0 && more.chunks_sent < report.chunks_sent,
        "{more:?}"
    );
    assert!(more.chunks_present > 0, "{more:?}");
    let _ = (first, second);
}

#[test]
fn a_destination_not_made_alike_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path());
    let from = Repository::init(repo_at(dir.path(), "a"), b"pw", &opts).unwrap();
    backup(&from, "iPhone", 10, &bytes::letters(9, 100_000));
    let to = Repository::init(repo_at(dir.path(), "b"), b"pw", &opts).unwrap();
    let before = objects(&dir.path().join("b"));
    let err = copy_all(&from, &to).unwrap_err();
    assert!(matches!(err, RepoError::NotAlike { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&from.location()) && text.contains(&to.location()),
        "{text}"
    );
    assert!(text.contains("init --like"), "{text}");
    assert_eq!(objects(&dir.path().join("b")), before);
}

/// A repository made before config layout 2 (its config of layout 1) derives its content keys
/// from its master secret: they are what a new repository stores, so chunk ids are unchanged.
#[test]
fn a_fresh_repository_stores_the_content_keys_its_master_secret_derives() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path());
    let backend = repo_at(dir.path(), "a");
    let repo = Repository::init(backend.clone(), b"pw", &opts).unwrap();
    let like = Repository::init_like(repo_at(dir.path(), "b"), b"other", &repo, &opts).unwrap();
    assert_eq!(like.keys().chunk_id(b"x"), repo.keys().chunk_id(b"x"));
    assert_eq!(like.keys().chunker_seed(), repo.keys().chunker_seed());
    assert_ne!(like.keys().object_id(b"x"), repo.keys().object_id(b"x"));
    let config = backend.get(FileType::Config, "config").unwrap();
    assert_eq!(&config[..6], b"HRTHC\x02", "init writes layout 2");
}
