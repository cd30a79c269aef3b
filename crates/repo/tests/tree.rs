//! A snapshot's tree written and read one entry at a time (issue 13): the same blobs as the
//! whole stream cut at once, every entry back in order across blob boundaries, and a tree that
//! does not add up to its recorded length refused.

mod common;

use common::{options, shared};
use hearth_format::{BlobKind, Content, Entry, Row, RowState, Snapshot};
use hearth_repo::Repository;
use hearth_storage::LocalBackend;
use std::sync::Arc;

/// Entries of a device of `n` files, with rows, paths of varied length and a few chunks each.
fn entries(n: usize) -> Vec<Entry> {
    (0..n)
        .map(|i| {
            let id = format!("{:040x}", (i as u128) * 0x9E37_79B9_7F4A_7C15);
            Entry {
                path: format!("{}/{id}", &id[..2]),
                row: Some(Row {
                    file_id: id.clone(),
                    domain: format!("AppDomain-com.example.app{}", i % 37),
                    relative_path: format!("Library/Caches/{}", "x".repeat(i % 90)),
                    flags: 1,
                    recorded_size: i as u64,
                    recorded_mtime: 1_700_000_000 + i as i64,
                    state: RowState::Ok,
                }),
                content: Some(Content {
                    size: i as u64,
                    mtime_ns: i as i128 * 1_000,
                    mode: 0o644,
                    chunks: (0..i % 4)
                        .map(|c| hearth_format::ChunkId([(i + c) as u8; 32]))
                        .collect(),
                    cipher: None,
                }),
            }
        })
        .collect()
}

fn snapshot(tree: Vec<hearth_format::ChunkId>, tree_len: u64) -> Snapshot {
    Snapshot {
        time: 1,
        stored_at: 1,
        host: "h".into(),
        device: Default::default(),
        parent: None,
        tags: vec![],
        summary: Default::default(),
        warnings: vec![],
        tree_len,
        tree,
    }
}

#[test]
fn a_tree_written_entry_by_entry_is_the_whole_stream_cut_at_once_and_reads_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(LocalBackend::create(&dir.path().join("repo")).unwrap());
    let repo = Repository::init(backend, b"pw", &options(dir.path())).unwrap();
    let lock = shared(&repo);
    let session = repo.write_session(&lock).unwrap();
    let all = entries(30_000);

    let whole = Entry::encode_all(&all);
    let at_once = session.store_bytes(&whole, BlobKind::Tree).unwrap();
    let streamed = session.store_tree(all.iter()).unwrap();
    assert!(
        at_once.len() > 20,
        "the tree spans many blobs: {}",
        at_once.len()
    );
    assert_eq!(streamed.blobs, at_once);
    assert_eq!(streamed.len, whole.len() as u64);
    session.flush().unwrap();

    let snap = snapshot(streamed.blobs.clone(), streamed.len);
    let back: Vec<Entry> = repo.entries(&snap).collect::<Result<_, _>>().unwrap();
    assert_eq!(back, all);

    // An empty tree: no blobs, no entries.
    let empty = session.store_tree(std::iter::empty::<Entry>()).unwrap();
    assert_eq!((empty.blobs.len(), empty.len), (0, 0));
    assert_eq!(repo.entries(&snapshot(vec![], 0)).count(), 0);

    // A recorded length that the blobs do not add up to is corruption, and so is a tree cut
    // inside an entry; the iteration ends with the error.
    for (tree, len) in [
        (streamed.blobs.clone(), streamed.len + 1),
        (streamed.blobs.clone(), streamed.len - 1),
        (
            streamed.blobs[..streamed.blobs.len() - 1].to_vec(),
            streamed.len,
        ),
    ] {
        let got: Vec<_> = repo.entries(&snapshot(tree, len)).collect();
        let last = got.last().expect("an error at least");
        let err = last.as_ref().expect_err("the last item is the error");
        assert!(err.to_string().contains("snapshot tree"), "{err}");
        assert_eq!(got.iter().filter(|r| r.is_err()).count(), 1);
    }
    session.finish().unwrap();
}
