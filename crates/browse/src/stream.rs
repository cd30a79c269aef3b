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
