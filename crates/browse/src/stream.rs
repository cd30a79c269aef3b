//! A snapshot's entries as `diff` and `find` read them: streamed from its tree one at a time,
//! the tree's bytes counted into a progress bar as they are read, and checked to come in the
//! order the format promises (sorted by path, `docs/format.md` §9), which a merge of two
//! streams relies on: a tree out of order would make a merge report files as removed and added
//! that are in both snapshots, so it is an error instead.

use crate::error::BrowseError;
use hearth_format::{Entry, Snapshot};
use hearth_repo::{Entries, Progress, RepoError, Repository};

pub(crate) struct Stream<'r, 'p> {
    entries: Entries<'r>,
    progress: &'p dyn Progress,
    /// Tree bytes already counted into `progress`.
    counted: u64,
    /// The last entry's path (empty before the first).
    previous: String,
    device: String,
    done: bool,
}

impl<'r, 'p> Stream<'r, 'p> {
    pub(crate) fn new(
        repo: &'r Repository,
        snapshot: &Snapshot,
        progress: &'p dyn Progress,
    ) -> Self {
        Self {
            entries: repo.entries(snapshot),
            progress,
            counted: 0,
            previous: String::new(),
            device: snapshot.device.label().to_string(),
            done: false,
        }
    }

    fn lost(&self, source: RepoError) -> BrowseError {
        BrowseError::FileListLost {
            device: self.device.clone(),
            source,
        }
    }
}

impl Iterator for Stream<'_, '_> {
    type Item = Result<Entry, BrowseError>;

    /// After an error, the iteration ends.
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.entries.next();
        let read = self.entries.bytes_read();
        self.progress.advance(read.saturating_sub(self.counted));
        self.counted = read;
        let item = match next {
            None => None,
            Some(Err(source)) => Some(Err(self.lost(source))),
            // Equal paths are let through (a damaged Manifest.db may name a file id twice):
            // a merge pairs them in turn.
            Some(Ok(e)) if e.path.as_str() < self.previous.as_str() => {
                let detail = format!("{:?} comes after {:?}", e.path, self.previous);
                Some(Err(self.lost(RepoError::Corrupt {
                    object: "snapshot tree".into(),
                    detail: format!("entries are not sorted by path: {detail}"),
                })))
            }
            Some(Ok(e)) => {
                self.previous.clear();
                self.previous.push_str(&e.path);
                Some(Ok(e))
            }
        };
        self.done = !matches!(item, Some(Ok(_)));
        item
    }
}

#[cfg(test)]
mod tests {
    use crate::{BrowseError, DiffOptions, FindPattern};
    use hearth_format::{BlobKind, Content, DeviceIdentity, Entry, Snapshot};
    use hearth_repo::{Progress, RepoError, RepoOptions, Repository};
    use hearth_storage::LocalBackend;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    /// Counts what it is told.
    #[derive(Default)]
    struct Counted(AtomicU64);

    impl Progress for Counted {
        fn advance(&self, n: u64) {
            self.0.fetch_add(n, Ordering::Relaxed);
        }
    }

    fn repo(dir: &std::path::Path) -> Repository {
        let backend = Arc::new(LocalBackend::create(&dir.join("repo")).unwrap());
        let mut options = RepoOptions {
            cache_root: Some(dir.join("cache")),
            ..RepoOptions::default()
        };
        (
            options.kdf.memory_kib,
            options.kdf.time,
            options.kdf.parallelism,
        ) = (64, 1, 1);
        Repository::init(backend, b"pw", &options).unwrap()
    }

    /// A snapshot of one device at `time` holding `files` (path, bytes) in the order given.
    fn snapshot(repo: &Repository, time: i64, files: &[(&str, &[u8])]) -> Snapshot {
        let lock = repo.lock_shared(Duration::ZERO, &|_| {}).unwrap();
        let session = repo.write_session(&lock).unwrap();
        let entries: Vec<Entry> = (files.iter())
            .map(|(path, bytes)| Entry {
                path: path.to_string(),
                row: None,
                content: Some(Content {
                    size: bytes.len() as u64,
                    mtime_ns: 0,
                    mode: 0o644,
                    chunks: session.store_bytes(bytes, BlobKind::Data).unwrap(),
                    cipher: None,
                }),
            })
            .collect();
        let snapshot = Snapshot {
            time,
            stored_at: time,
            host: "h".into(),
            device: DeviceIdentity {
                udid: "0".repeat(40),
                name: "Phone".into(),
                ..Default::default()
            },
            parent: None,
            tags: vec![],
            summary: Default::default(),
            warnings: vec![],
            tree_len: 0,
            tree: vec![],
        };
        let id = repo.commit_snapshot(&session, snapshot, &entries).unwrap();
        session.finish().unwrap();
        let (_, stored) = repo.find_snapshot(&id.to_hex()).unwrap();
        stored
    }

    #[test]
    fn a_diff_reads_both_trees_and_counts_their_bytes_and_a_tree_out_of_order_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let repo = repo(dir.path());
        let a = snapshot(&repo, 1, &[("f/0", b"zero"), ("f/1", b"one")]);
        let b = snapshot(&repo, 2, &[("f/1", b"one, longer"), ("f/2", b"two")]);
        let progress = Counted::default();
        let r = crate::diff(&repo, &a, &b, &DiffOptions::default(), &progress).unwrap();
        let changes: Vec<(&str, &str)> = (r.changes.iter())
            .map(|c| (c.relative_path.as_str(), c.kind.as_str()))
            .collect();
        assert_eq!(
            changes,
            [("f/0", "removed"), ("f/1", "changed"), ("f/2", "added")]
        );
        assert_eq!(r.total.delta(), 11 + 3 - 4 - 3);
        assert_eq!(progress.0.into_inner(), a.tree_len + b.tree_len);

        let unsorted = snapshot(&repo, 3, &[("f/2", b"two"), ("f/1", b"one")]);
        let err = crate::diff(
            &repo,
            &a,
            &unsorted,
            &DiffOptions::default(),
            &Counted::default(),
        )
        .unwrap_err();
        let BrowseError::FileListLost { device, source } = &err else {
            panic!("{err}");
        };
        assert_eq!(device, "Phone");
        assert!(matches!(source, RepoError::Corrupt { .. }), "{source}");
        assert!(err.to_string().contains("Phone"), "{err}");
        assert!(
            source.to_string().contains("not sorted by path"),
            "{source}"
        );

        let all: Vec<_> = repo.snapshots().unwrap();
        let pattern = FindPattern::new("f/*", false).unwrap();
        let found = crate::find(&repo, &all[..2], &pattern, &Counted::default()).unwrap();
        assert_eq!(found.len(), 3);
        assert!(crate::find(&repo, &all, &pattern, &Counted::default()).is_err());
    }

    #[test]
    fn a_folders_totals_are_the_files_under_it() {
        let dir = tempfile::tempdir().unwrap();
        let repo = repo(dir.path());
        let files: &[(&str, &[u8])] = &[
            ("D/a/x", b"xxx"),
            ("D/a/y", b"yyyy"),
            ("D/b", b"bbbbb"),
            ("E/c/d/e", b""),
            ("Info.plist", b"pl"),
        ];
        let s = snapshot(&repo, 1, files);
        let tree = crate::SnapshotFiles::load(&repo, &s).unwrap();
        let t = |path: &str| {
            let t = tree.totals(tree.lookup(path).unwrap());
            (t.bytes, t.files)
        };
        assert_eq!(t(""), (14, 5));
        assert_eq!(t("D"), (12, 3));
        assert_eq!(t("D/a"), (7, 2));
        assert_eq!(t("D/a/y"), (4, 1));
        assert_eq!(t("E/c"), (0, 1));
        assert_eq!(t("Info.plist"), (2, 1));
        let walked: u64 = (tree.walk(tree.lookup("D").unwrap()))
            .filter_map(|n| tree.file(n).map(|f| f.size))
            .sum();
        assert_eq!(walked, 12);
    }
}
