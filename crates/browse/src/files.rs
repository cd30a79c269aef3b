//! A snapshot's files as people name them: a tree of `<Domain>/<relative path>` (the device's
//! own files, from the Manifest.db rows) beside the backup folder's own files (`Manifest.db`,
//! `Info.plist`, ...) at their folder paths, each file with its plaintext size and stored chunks.
//!
//! Invariants: every name in the tree is one safe path component (not empty, `.` or `..`, no
//! `/`, `\` or NUL), so a path made of tree names never leaves the folder it is joined to; each
//! folder's children are sorted by name, so lookups are binary searches and listings need no
//! sorting; a name is in a folder once. Entries that cannot be shown (a path that is not
//! safe, a link, whose target the snapshot does not keep, a file whose bytes were not stored, a
//! name already taken) are counted in [`SnapshotFiles::hidden`], never silently dropped.

use crate::error::BrowseError;
use hearth_format::entry::{MTIME_ABSENT, SIZE_ABSENT};
use hearth_format::{ChunkId, Content, Entry, Snapshot};
use hearth_repo::Repository;
use std::collections::HashMap;

/// A node of a [`SnapshotFiles`] tree; the root is [`SnapshotFiles::ROOT`].
pub type NodeId = u32;

/// Manifest.db's `flags` of a folder.
const ROW_FOLDER: i64 = 2;
/// Manifest.db's `flags` of a file.
const ROW_FILE: i64 = 1;
/// Manifest.db's `flags` of a symbolic link.
const ROW_LINK: i64 = 4;

#[derive(Debug, Clone)]
pub struct Node {
    pub name: Box<str>,
    pub parent: NodeId,
    /// The device's mtime (Manifest.db's), else the backup folder's, in Unix nanoseconds.
    pub mtime_ns: i128,
    pub kind: NodeKind,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    /// Children sorted by name.
    Folder(Vec<NodeId>),
    File(FileData),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileData {
    /// The plaintext's length: what reading the file gives.
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
    /// The stored bytes, of which the file is the first `size`.
    pub chunks: Box<[ChunkId]>,
    /// Where the file is in the backup folder (`ab/ab12...` for a device file).
    pub folder_path: Box<str>,
    /// A file a Manifest.db row describes (a device's file, not the backup folder's own).
    pub in_manifest: bool,
}

/// Why an entry of the snapshot is not in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hidden {
    /// Its domain or relative path is not a safe path.
    UnsafePath,
    /// A symbolic link: the snapshot keeps no target for it.
    Link,
    /// A Manifest.db row of a kind (`flags`) other than file, folder and link.
    OtherKind,
    /// A Manifest.db row whose bytes the snapshot does not hold.
    NoContent,
    /// Its name is already taken in its folder (a damaged Manifest.db lists it twice).
    NameTaken,
}

/// What a node holds: a file its own size, a folder the files anywhere under it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Plaintext bytes.
    pub bytes: u64,
    pub files: u64,
}

#[derive(Debug, Clone)]
pub struct SnapshotFiles {
    nodes: Vec<Node>,
    /// Per node, summed once when the tree is built (a folder's size is asked on every listing).
    totals: Box<[Totals]>,
    /// Entries not in the tree, by reason: (reason, count, first few paths).
    hidden: Vec<(Hidden, u64, Vec<String>)>,
    device: String,
}

/// How many hidden paths are kept per reason, to name in a report.
const HIDDEN_NAMED: usize = 5;

impl SnapshotFiles {
    pub const ROOT: NodeId = 0;

    /// Reads the snapshot's entries (streamed) into the tree.
    pub fn load(repo: &Repository, snapshot: &Snapshot) -> Result<Self, BrowseError> {
        let device = snapshot.device.label().to_string();
        let entries = repo.entries(snapshot).map(|e| {
            e.map_err(|source| BrowseError::FileListLost {
                device: device.clone(),
                source,
            })
        });
        Self::build(repo, snapshot, entries)
    }

    /// The tree of `entries` (a snapshot's). Sizes the entries do not give are read from the
    /// repository's index, and an encrypted backup's Manifest.db's padding from its last blob.
    pub fn build(
        repo: &Repository,
        snapshot: &Snapshot,
        entries: impl Iterator<Item = Result<Entry, BrowseError>>,
    ) -> Result<Self, BrowseError> {
        let mut b = Builder::new(snapshot);
        for e in entries {
            b.add(repo, e?)?;
        }
        Ok(b.finish())
    }

    pub fn device(&self) -> &str {
        &self.device
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    /// The node `id`, if the tree has one (for ids that come from outside, such as inode
    /// numbers).
    pub fn get(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id as usize)
    }

    /// The children of a folder, sorted by name (none for a file).
    pub fn children(&self, id: NodeId) -> &[NodeId] {
        match &self.node(id).kind {
            NodeKind::Folder(c) => c,
            NodeKind::File(_) => &[],
        }
    }

    pub fn child(&self, dir: NodeId, name: &str) -> Option<NodeId> {
        let c = self.children(dir);
        c.binary_search_by(|&id| (*self.node(id).name).cmp(name))
            .ok()
            .map(|i| c[i])
    }

    /// The node at `path` (`Domain/relative/path`, or a backup folder file's path; `/`-separated,
    /// empty components ignored, the empty path is the root).
    pub fn lookup(&self, path: &str) -> Option<NodeId> {
        path.split('/')
            .filter(|c| !c.is_empty())
            .try_fold(Self::ROOT, |dir, name| self.child(dir, name))
    }

    /// The file a Manifest.db file id (40 hex digits) names.
    pub fn by_file_id(&self, file_id: &str) -> Option<NodeId> {
        let id = file_id.to_ascii_lowercase();
        (0..self.nodes.len() as NodeId).find(|&n| match &self.node(n).kind {
            NodeKind::File(f) => f.in_manifest && f.folder_path.ends_with(id.as_str()),
            NodeKind::Folder(_) => false,
        })
    }

    /// The node's path from the root, `/`-separated (empty for the root).
    pub fn path(&self, mut id: NodeId) -> String {
        let mut names = Vec::new();
        while id != Self::ROOT {
            let n = self.node(id);
            names.push(&*n.name);
            id = n.parent;
        }
        names.reverse();
        names.join("/")
    }

    /// The bytes and files under `id` (a file: its own), without walking the subtree.
    pub fn totals(&self, id: NodeId) -> Totals {
        self.totals[id as usize]
    }

    pub fn file(&self, id: NodeId) -> Option<&FileData> {
        match &self.node(id).kind {
            NodeKind::File(f) => Some(f),
            NodeKind::Folder(_) => None,
        }
    }

    /// Every node under `id` (itself included), folders before what they hold, by name.
    pub fn walk(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        let mut stack = vec![id];
        std::iter::from_fn(move || {
            let next = stack.pop()?;
            stack.extend(self.children(next).iter().rev());
            Some(next)
        })
    }

    /// Entries not shown, by reason: how many, and the first few of their paths.
    pub fn hidden(&self) -> &[(Hidden, u64, Vec<String>)] {
        &self.hidden
    }

    /// Up to `n` existing paths closest to `path` (for "not found" errors): the deepest folder
    /// of it that exists, and the names there most like the next component.
    pub fn closest(&self, path: &str, n: usize) -> Vec<String> {
        let mut dir = Self::ROOT;
        let mut rest = path.split('/').filter(|c| !c.is_empty()).peekable();
        while let Some(name) = rest.peek() {
            match self.child(dir, name) {
                Some(c) if matches!(self.node(c).kind, NodeKind::Folder(_)) => {
                    dir = c;
                    rest.next();
                }
                _ => break,
            }
        }
        let want = rest.next().unwrap_or("").to_lowercase();
        let mut scored: Vec<(usize, NodeId)> = self
            .children(dir)
            .iter()
            .map(|&c| (edit_distance(&want, &self.node(c).name.to_lowercase()), c))
            .collect();
        scored.sort();
        scored
            .into_iter()
            .take(n)
            .map(|(_, c)| self.path(c))
            .collect()
    }
}

/// Levenshtein distance, on chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (prev + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// Whether `name` may be one component of a path written to disk or shown in a tree.
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

struct Builder {
    nodes: Vec<Node>,
    /// Every node's path → the node, while building: an entry's folder is found with one
    /// lookup of its parent's path (entries come in file id order, not path order).
    by_path: HashMap<Box<str>, NodeId>,
    hidden: Vec<(Hidden, u64, Vec<String>)>,
    device: String,
    time_ns: i128,
}

impl Builder {
    fn new(snapshot: &Snapshot) -> Self {
        let time_ns = i128::from(snapshot.time) * 1000;
        Self {
            nodes: vec![Node {
                name: "".into(),
                parent: SnapshotFiles::ROOT,
                mtime_ns: time_ns,
                kind: NodeKind::Folder(Vec::new()),
            }],
            by_path: HashMap::new(),
            hidden: Vec::new(),
            device: snapshot.device.label().to_string(),
            time_ns,
        }
    }

    fn hide(&mut self, why: Hidden, path: String) {
        let slot = match self.hidden.iter().position(|(h, _, _)| *h == why) {
            Some(i) => i,
            None => {
                self.hidden.push((why, 0, Vec::new()));
                self.hidden.len() - 1
            }
        };
        let (_, n, named) = &mut self.hidden[slot];
        *n += 1;
        if named.len() < HIDDEN_NAMED {
            named.push(path);
        }
    }

    fn add(&mut self, repo: &Repository, e: Entry) -> Result<(), BrowseError> {
        let path = match &e.row {
            Some(r) if r.relative_path.is_empty() => r.domain.clone(),
            Some(r) => format!("{}/{}", r.domain, r.relative_path),
            None => e.path.clone(),
        };
        if !path.split('/').all(is_safe_name) {
            self.hide(Hidden::UnsafePath, path);
            return Ok(());
        }
        let mtime_ns = match &e.row {
            Some(r) if r.recorded_mtime != MTIME_ABSENT => {
                i128::from(r.recorded_mtime) * 1_000_000_000
            }
            _ => e.content.as_ref().map_or(self.time_ns, |c| c.mtime_ns),
        };
        let flags = e.row.as_ref().map(|r| r.flags);
        match (flags, &e.content) {
            (Some(ROW_FOLDER), _) => match self.folder(&path) {
                Some(id) => self.nodes[id as usize].mtime_ns = mtime_ns,
                None => self.hide(Hidden::NameTaken, path),
            },
            (None | Some(ROW_FILE), Some(c)) => {
                let data = FileData {
                    size: plaintext_len(repo, &e, c)?,
                    mode: c.mode & 0o777,
                    chunks: c.chunks.clone().into_boxed_slice(),
                    folder_path: e.path.into(),
                    in_manifest: e.row.is_some(),
                };
                if !self.file(&path, mtime_ns, data) {
                    self.hide(Hidden::NameTaken, path);
                }
            }
            (Some(ROW_FILE), None) => self.hide(Hidden::NoContent, path),
            (Some(ROW_LINK), _) => self.hide(Hidden::Link, path),
            (Some(_), _) => self.hide(Hidden::OtherKind, path),
            (None, None) => {}
        }
        Ok(())
    }

    /// The folder at `path` (safe names), made (with its parents) when missing; `None` when a
    /// file has a name on the way.
    fn folder(&mut self, path: &str) -> Option<NodeId> {
        if path.is_empty() {
            return Some(SnapshotFiles::ROOT);
        }
        if let Some(&id) = self.by_path.get(path) {
            return matches!(self.nodes[id as usize].kind, NodeKind::Folder(_)).then_some(id);
        }
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        let dir = self.folder(parent)?;
        let time = self.time_ns;
        Some(self.push(dir, path, name, time, NodeKind::Folder(Vec::new())))
    }

    /// Adds a file; false when its path is taken (or a file is where a folder of it goes).
    fn file(&mut self, path: &str, mtime_ns: i128, data: FileData) -> bool {
        if self.by_path.contains_key(path) {
            return false;
        }
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        let Some(dir) = self.folder(parent) else {
            return false;
        };
        self.push(dir, path, name, mtime_ns, NodeKind::File(data));
        true
    }

    fn push(
        &mut self,
        dir: NodeId,
        path: &str,
        name: &str,
        mtime_ns: i128,
        kind: NodeKind,
    ) -> NodeId {
        let id = NodeId::try_from(self.nodes.len()).expect("fewer than 4 billion files");
        self.by_path.insert(path.into(), id);
        self.nodes.push(Node {
            name: name.into(),
            parent: dir,
            mtime_ns,
            kind,
        });
        if let NodeKind::Folder(c) = &mut self.nodes[dir as usize].kind {
            c.push(id);
        }
        id
    }

    fn finish(mut self) -> SnapshotFiles {
        drop(std::mem::take(&mut self.by_path));
        let nodes = &mut self.nodes;
        for i in 0..nodes.len() {
            if let NodeKind::Folder(c) = &mut nodes[i].kind {
                let mut children = std::mem::take(c);
                children
                    .sort_unstable_by(|a, b| nodes[*a as usize].name.cmp(&nodes[*b as usize].name));
                children.shrink_to_fit();
                nodes[i].kind = NodeKind::Folder(children);
            }
        }
        nodes.shrink_to_fit();
        let totals = sum_totals(nodes);
        SnapshotFiles {
            nodes: self.nodes,
            totals,
            hidden: self.hidden,
            device: self.device,
        }
    }
}

/// Every node's [`Totals`]. A node's parent was made before it (a folder is pushed before
/// what it holds), so one pass from the last node back adds each node into its parent after
/// everything under it was added into it.
fn sum_totals(nodes: &[Node]) -> Box<[Totals]> {
    let mut totals: Box<[Totals]> = (nodes.iter())
        .map(|n| match &n.kind {
            NodeKind::File(f) => Totals {
                bytes: f.size,
                files: 1,
            },
            NodeKind::Folder(_) => Totals::default(),
        })
        .collect();
    for id in (1..nodes.len()).rev() {
        let parent = nodes[id].parent as usize;
        debug_assert!(parent < id, "a folder is made before what it holds");
        let t = totals[id];
        totals[parent].bytes += t.bytes;
        totals[parent].files += t.files;
    }
    totals
}

/// The length of a file's plaintext. Stored bytes are the plaintext, except that an encrypted
/// file stored without PKCS#7 stripped (`cipher.pkcs7` false: Manifest.db) holds its padding.
/// An encrypted file's `Content::size` is its ciphertext's; Manifest.db's `Size` is the
/// plaintext's (decryption checked it), else the stored blobs' lengths tell.
pub(crate) fn plaintext_len(repo: &Repository, e: &Entry, c: &Content) -> Result<u64, BrowseError> {
    let Some(cipher) = c.cipher else {
        return Ok(c.size);
    };
    if cipher.pkcs7 {
        if let Some(r) = e.row.as_ref().filter(|r| r.recorded_size != SIZE_ABSENT) {
            return Ok(r.recorded_size);
        }
        return stored_len(repo, &c.chunks);
    }
    let stored = stored_len(repo, &c.chunks)?;
    let Some(last) = c.chunks.last() else {
        return Ok(0);
    };
    let tail = repo.read_blob(last)?;
    let padding = match hearth_mobilesync::encryption::strip_pkcs7(&tail) {
        Some(plain) => tail.len() - plain.len(),
        None => 0,
    };
    Ok(stored - padding as u64)
}

/// The stored length of `chunks`, from the index.
pub(crate) fn stored_len(repo: &Repository, chunks: &[ChunkId]) -> Result<u64, BrowseError> {
    let index = repo
        .cache()
        .reader()
        .map_err(hearth_repo::RepoError::from)?;
    let mut total = 0;
    for id in chunks {
        let loc = index
            .lookup(id)
            .map_err(hearth_repo::RepoError::from)?
            .ok_or(hearth_repo::RepoError::MissingBlob { blob: *id })?;
        total += u64::from(loc.entry.raw_length);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_leave_a_folder_are_not_safe() {
        for bad in ["", ".", "..", "a/b", "a\\b", "a\0"] {
            assert!(!is_safe_name(bad), "{bad:?}");
        }
        for good in ["HomeDomain", "...", "sms.db", "Ünïcode ☃", ".hidden"] {
            assert!(is_safe_name(good), "{good:?}");
        }
    }

    #[test]
    fn edit_distance_counts_single_char_edits() {
        assert_eq!(edit_distance("sms.db", "sms.db"), 0);
        assert_eq!(edit_distance("smsdb", "sms.db"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
