//! `hearth find PATTERN`: where matching paths are across the household's history: the
//! snapshots of each device that hold them, when they were first and last seen, and the
//! snapshots where their content changed.
//!
//! Every chosen snapshot's tree is streamed (one entry in memory at a time), a few snapshots at
//! once on threads of their own (reading a tree is mostly opening and decompressing its blobs),
//! and what matched in each is folded in, device by device, oldest first. Only matches are
//! kept: each path as runs of the device's snapshots that hold it and a hash of its last chunk
//! list (not the list). A snapshot whose tree is the device's previous one's (the same tree
//! blobs: a backup stored again with other tags) is not read: it holds what that one held.
//! Trees that share only some blobs are read whole: nightly changes are spread over the
//! file ids that order a tree, so consecutive snapshots share few tree blobs
//! (`docs/benchmarks.md`).
//!
//! A pattern with a `/` is matched against the relative path, and against `<Domain>/<relative
//! path>` (`Library/SMS/*`, `HomeDomain/Library/SMS/sms.db`, `*/Library/**/*.sqlite`); one
//! without, against the name (`sms.db`, `IMG_47*.HEIC`). `*` stays within a name, `**`
//! crosses folders. The backup folder's own files (`Manifest.db`, `Info.plist`) are matched by
//! their path in it.

use crate::error::BrowseError;
use crate::files::plaintext_len;
use crate::stream::Stream;
use globset::{GlobBuilder, GlobMatcher};
use hearth_format::{Content, DeviceIdentity, Entry, Snapshot, SnapshotId};
use hearth_repo::{Progress, Repository};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

/// A glob, and what it is matched against.
#[derive(Debug, Clone)]
pub struct FindPattern {
    matcher: GlobMatcher,
    /// Matched against the name instead of the path.
    by_name: bool,
}

impl FindPattern {
    pub fn new(pattern: &str, ignore_case: bool) -> Result<Self, BrowseError> {
        let trimmed = pattern.trim_start_matches('/').trim_end_matches('/');
        let glob = GlobBuilder::new(trimmed)
            .literal_separator(true)
            .backslash_escape(true)
            .case_insensitive(ignore_case)
            .build()
            .map_err(|e| BrowseError::BadPattern {
                pattern: pattern.to_string(),
                detail: e.kind().to_string(),
            })?;
        Ok(Self {
            matcher: glob.compile_matcher(),
            by_name: !trimmed.contains('/'),
        })
    }

    /// Whether the entry of `domain` (`None`: a backup folder file) at `relative_path` matches;
    /// `scratch` is a buffer the match may use.
    pub fn matches(&self, domain: Option<&str>, relative_path: &str, scratch: &mut String) -> bool {
        if self.by_name {
            let name = relative_path.rsplit('/').next().unwrap_or("");
            return !name.is_empty() && self.matcher.is_match(name);
        }
        if self.matcher.is_match(relative_path) {
            return true;
        }
        let Some(domain) = domain else { return false };
        scratch.clear();
        scratch.push_str(domain);
        if !relative_path.is_empty() {
            scratch.push('/');
            scratch.push_str(relative_path);
        }
        self.matcher.is_match(scratch.as_str())
    }
}

/// What a matching path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoundKind {
    File,
    Folder,
    Link,
    /// A row of another kind, or one whose file's bytes are not in the snapshot.
    Other,
}

impl FoundKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Folder => "folder",
            Self::Link => "link",
            Self::Other => "other",
        }
    }

    fn of(e: &Entry) -> Self {
        match (e.row.as_ref().map(|r| r.flags), &e.content) {
            (None | Some(1), Some(_)) => Self::File,
            (Some(2), _) => Self::Folder,
            (Some(4), _) => Self::Link,
            _ => Self::Other,
        }
    }
}

/// One content a file had: from the snapshot that first held it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub snapshot: SnapshotId,
    /// The snapshot's time (the device's), Unix microseconds.
    pub time: i64,
    /// Its plaintext length.
    pub bytes: u64,
}

/// A path that matched, on one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The device as its latest chosen snapshot names it (shared by its paths).
    pub device: Arc<DeviceIdentity>,
    /// The Manifest.db row's domain; `None` for the backup folder's own files.
    pub domain: Option<String>,
    /// The row's relative path, else the file's path in the backup folder.
    pub relative_path: String,
    /// What it is in the last snapshot that holds it.
    pub kind: FoundKind,
    /// The snapshots that hold it, oldest first.
    pub snapshots: Vec<SnapshotId>,
    /// Times (the device's, Unix microseconds) of the first and last of them.
    pub first_seen: i64,
    pub last_seen: i64,
    /// Each content it had: the first snapshot that held it with content, then each snapshot
    /// where its content differs from the last one it had (so `versions[1..]` are the
    /// snapshots where its content changed). Empty for folders and links.
    pub versions: Vec<Version>,
}

/// Snapshots read at once (each on a thread of its own), at most: reading a tree is mostly
/// opening and decompressing its blobs, which takes a core.
const READERS: usize = 4;

/// The paths `pattern` matches in `snapshots` (any order; each device's are read oldest
/// first), sorted by device (name, then UDID), domain (the backup folder's files first) and
/// relative path.
pub fn find(
    repo: &Repository,
    snapshots: &[(SnapshotId, Snapshot)],
    pattern: &FindPattern,
    progress: &dyn Progress,
) -> Result<Vec<Found>, BrowseError> {
    let total = snapshots.iter().map(|(_, s)| s.tree_len).sum();
    progress.start("reading file lists", Some(total));
    let readers = std::thread::available_parallelism().map_or(1, |n| n.get().min(READERS));
    let mut found = Vec::new();
    for device in by_device(snapshots) {
        found.extend(find_in_device(repo, &device, pattern, readers, progress)?);
    }
    progress.finish();
    sort(&mut found);
    Ok(found)
}

/// [`find`] in one device's snapshots (oldest first), `readers` of them read at once and their
/// matches folded in order.
fn find_in_device(
    repo: &Repository,
    device: &[&(SnapshotId, Snapshot)],
    pattern: &FindPattern,
    readers: usize,
    progress: &dyn Progress,
) -> Result<Vec<Found>, BrowseError> {
    let read = |i: usize| {
        let (_, s) = device[i];
        let previous = i.checked_sub(1).map(|p| &device[p].1);
        read_or_skip(previous, s, progress, || {
            let size = |e: &Entry, c: &Content| plaintext_len(repo, e, c);
            read_hits(Stream::new(repo, s, progress), pattern, size)
        })
    };
    let read = &read;
    let mut fold = DeviceFold::default();
    for start in (0..device.len()).step_by(readers.max(1)) {
        let batch = start..(start + readers.max(1)).min(device.len());
        let reads: Vec<Result<Read, BrowseError>> = match batch.len() {
            1 => vec![read(start)],
            _ => std::thread::scope(|scope| {
                let threads: Vec<_> = (batch.clone())
                    .map(|i| scope.spawn(move || read(i)))
                    .collect();
                (threads.into_iter())
                    .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            }),
        };
        for (i, r) in batch.zip(reads) {
            fold.add(device[i].0, &device[i].1, r?);
        }
    }
    Ok(fold.finish())
}

/// The snapshots grouped by device (UDID), each group oldest first.
fn by_device(snapshots: &[(SnapshotId, Snapshot)]) -> Vec<Vec<&(SnapshotId, Snapshot)>> {
    let mut sorted: Vec<&(SnapshotId, Snapshot)> = snapshots.iter().collect();
    // As `Repository::snapshots` orders them.
    sorted.sort_by_key(|(id, s)| (s.time, s.stored_at, *id));
    let mut devices: Vec<Vec<&(SnapshotId, Snapshot)>> = Vec::new();
    for s in sorted {
        match devices
            .iter_mut()
            .find(|d| d[0].1.device.udid == s.1.device.udid)
        {
            Some(d) => d.push(s),
            None => devices.push(vec![s]),
        }
    }
    devices
}

fn sort(found: &mut [Found]) {
    fn key(f: &Found) -> (&str, &str, Option<&str>, &str) {
        let d = &f.device;
        (d.label(), &d.udid, f.domain.as_deref(), &f.relative_path)
    }
    found.sort_by(|x, y| key(x).cmp(&key(y)));
}

/// What is kept of one matching path while a device's snapshots are read.
struct Track {
    kind: FoundKind,
    /// Runs of the device's snapshots (by position, oldest 0) that hold it, inclusive.
    runs: Vec<(u32, u32)>,
    /// A hash of the chunk list it had last, if it had content.
    last_content: Option<u64>,
    /// (snapshot position, bytes) of each content it had.
    versions: Vec<(u32, u64)>,
}

impl Track {
    fn held_in(&self, at: u32) -> bool {
        self.runs.last().is_some_and(|&(_, end)| end == at)
    }

    fn hold(&mut self, at: u32) {
        match self.runs.last_mut() {
            Some((_, end)) if *end + 1 == at => *end = at,
            _ => self.runs.push((at, at)),
        }
    }
}

/// An entry of a snapshot that matched.
struct Hit {
    domain: Option<String>,
    relative_path: String,
    kind: FoundKind,
    /// A hash of its chunk list (equal lists hash equal; two lists of one path hash equal with
    /// a chance of 2^-64) and its plaintext length, when it has content.
    content: Option<(u64, u64)>,
}

/// What a snapshot gives the fold: the entries that match, or `Same`: its tree is the
/// device's previous snapshot's (the same blobs), so it holds what that one held.
enum Read {
    Hits(Vec<Hit>),
    Same,
}

/// `Same` when the tree of `snapshot` is that of `previous` (and `progress` is told it is
/// done), else what `read` finds.
fn read_or_skip(
    previous: Option<&Snapshot>,
    snapshot: &Snapshot,
    progress: &dyn Progress,
    read: impl FnOnce() -> Result<Vec<Hit>, BrowseError>,
) -> Result<Read, BrowseError> {
    let same = previous.is_some_and(|p| p.tree == snapshot.tree && p.tree_len == snapshot.tree_len);
    if same {
        progress.advance(snapshot.tree_len);
        return Ok(Read::Same);
    }
    read().map(Read::Hits)
}

/// The entries of a snapshot that `pattern` matches, with `size` their plaintext lengths.
fn read_hits(
    entries: impl Iterator<Item = Result<Entry, BrowseError>>,
    pattern: &FindPattern,
    mut size: impl FnMut(&Entry, &Content) -> Result<u64, BrowseError>,
) -> Result<Vec<Hit>, BrowseError> {
    let mut scratch = String::new();
    let mut hits = Vec::new();
    for e in entries {
        let e = e?;
        let (domain, relative_path) = match &e.row {
            Some(r) => (Some(r.domain.as_str()), r.relative_path.as_str()),
            None => (None, e.path.as_str()),
        };
        if !pattern.matches(domain, relative_path, &mut scratch) {
            continue;
        }
        let content = match &e.content {
            Some(c) => {
                let mut h = DefaultHasher::new();
                c.chunks.hash(&mut h);
                Some((h.finish(), size(&e, c)?))
            }
            None => None,
        };
        hits.push(Hit {
            kind: FoundKind::of(&e),
            content,
            domain: domain.map(str::to_string),
            relative_path: relative_path.to_string(),
        });
    }
    Ok(hits)
}

/// One device's matches, gathered from its snapshots oldest first.
#[derive(Default)]
struct DeviceFold<'s> {
    tracks: HashMap<(Option<String>, String), Track>,
    seen: Vec<(SnapshotId, &'s Snapshot)>,
}

impl<'s> DeviceFold<'s> {
    fn add(&mut self, id: SnapshotId, snapshot: &'s Snapshot, read: Read) {
        let at = u32::try_from(self.seen.len()).expect("fewer than 4 billion snapshots");
        self.seen.push((id, snapshot));
        let hits = match read {
            Read::Hits(hits) => hits,
            Read::Same => {
                for t in self.tracks.values_mut().filter(|t| t.held_in(at - 1)) {
                    t.hold(at);
                }
                return;
            }
        };
        for hit in hits {
            let key = (hit.domain, hit.relative_path);
            let track = self.tracks.entry(key).or_insert_with(|| Track {
                kind: hit.kind,
                runs: Vec::new(),
                last_content: None,
                versions: Vec::new(),
            });
            if track.held_in(at) {
                // A damaged Manifest.db that names one path twice: the first one counts.
                continue;
            }
            track.hold(at);
            track.kind = hit.kind;
            if let Some((hash, bytes)) = hit.content
                && track.last_content != Some(hash)
            {
                track.versions.push((at, bytes));
                track.last_content = Some(hash);
            }
        }
    }

    fn finish(self) -> Vec<Found> {
        let Some((_, latest)) = self.seen.last() else {
            return Vec::new();
        };
        let (device, seen) = (Arc::new(latest.device.clone()), &self.seen);
        let time = |at: u32| seen[at as usize].1.time;
        let id = |at: u32| seen[at as usize].0;
        let found = self.tracks.into_iter().map(|((domain, relative_path), t)| {
            let held: Vec<u32> = t.runs.iter().flat_map(|&(a, b)| a..=b).collect();
            Found {
                device: device.clone(),
                domain,
                relative_path,
                kind: t.kind,
                first_seen: time(held[0]),
                last_seen: time(*held.last().expect("held at least once")),
                snapshots: held.iter().map(|&at| id(at)).collect(),
                versions: (t.versions.iter())
                    .map(|&(at, bytes)| Version {
                        snapshot: id(at),
                        time: time(at),
                        bytes,
                    })
                    .collect(),
            }
        });
        found.collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_format::{ChunkId, Row, RowState};
    use std::sync::atomic::{AtomicU64, Ordering};

    fn entry(domain: &str, rel: &str, chunks: &[u8], len: u64) -> Entry {
        Entry {
            path: format!("{:02x}/{domain}{rel}", rel.len()),
            row: Some(Row {
                file_id: String::new(),
                domain: domain.into(),
                relative_path: rel.into(),
                flags: 1,
                recorded_size: len,
                recorded_mtime: 0,
                state: RowState::Ok,
            }),
            content: Some(Content {
                size: len,
                mtime_ns: 0,
                mode: 0o644,
                chunks: chunks.iter().map(|&n| ChunkId([n; 32])).collect(),
                cipher: None,
            }),
        }
    }

    fn snapshot(time: i64, tree: u8) -> Snapshot {
        let mut s = Snapshot {
            time,
            stored_at: time,
            host: String::new(),
            device: DeviceIdentity::default(),
            parent: None,
            tags: Vec::new(),
            summary: Default::default(),
            warnings: Vec::new(),
            tree_len: 1,
            tree: vec![ChunkId([tree; 32])],
        };
        s.device.udid = "u1".into();
        s.device.name = "Phone".into();
        s
    }

    fn id(n: u8) -> SnapshotId {
        SnapshotId([n; 32])
    }

    /// A device's history folded as `find` folds it: a snapshot with the tree of the one
    /// before is not read (its entries must be empty); also how many were not.
    fn run(history: Vec<(Snapshot, Vec<Entry>)>, pattern: &str) -> (Vec<Found>, usize) {
        let p = FindPattern::new(pattern, false).unwrap();
        let skipped = AtomicU64::new(0);
        let progress = Skips(&skipped);
        let mut fold = DeviceFold::default();
        for (i, (s, entries)) in history.iter().enumerate() {
            let previous = i.checked_sub(1).map(|p| &history[p].0);
            let read = read_or_skip(previous, s, &progress, || {
                let entries = entries.clone().into_iter().map(Ok);
                read_hits(entries, &p, |_, c| Ok(c.size))
            })
            .unwrap();
            if matches!(read, Read::Same) {
                assert!(
                    entries.is_empty(),
                    "a skipped snapshot's entries are not read"
                );
            }
            fold.add(id(i as u8), s, read);
        }
        let mut found = fold.finish();
        sort(&mut found);
        (found, skipped.into_inner() as usize)
    }

    /// Counts the snapshots it is told were not read (each tree is 1 byte long here).
    struct Skips<'a>(&'a AtomicU64);

    impl Progress for Skips<'_> {
        fn advance(&self, n: u64) {
            self.0.fetch_add(n, Ordering::Relaxed);
        }
    }

    #[test]
    fn names_and_paths_match_as_documented() {
        let m = |p: &str, d: Option<&str>, r: &str| {
            FindPattern::new(p, false)
                .unwrap()
                .matches(d, r, &mut String::new())
        };
        let home = Some("HomeDomain");
        assert!(m("sms.db", home, "Library/SMS/sms.db"));
        assert!(
            !m("SMS", home, "Library/SMS/sms.db"),
            "a name, not a folder on the way"
        );
        assert!(m("*.db", home, "Library/SMS/sms.db"));
        assert!(m("Library/SMS/*", home, "Library/SMS/sms.db"));
        assert!(
            !m("Library/*", home, "Library/SMS/sms.db"),
            "* stays within a name"
        );
        assert!(m("Library/**", home, "Library/SMS/sms.db"));
        assert!(m(
            "HomeDomain/Library/SMS/sms.db",
            home,
            "Library/SMS/sms.db"
        ));
        assert!(m("/HomeDomain/**/*.db", home, "Library/SMS/sms.db"));
        assert!(m("*/Library/SMS/sms.db", home, "Library/SMS/sms.db"));
        assert!(!m("MediaDomain/**", home, "Library/SMS/sms.db"));
        assert!(m("Manifest.db", None, "Manifest.db"));
        assert!(!m("*", home, ""), "a domain's root has no name");
        assert!(FindPattern::new("SMS.DB", true).unwrap().matches(
            home,
            "Library/SMS/sms.db",
            &mut String::new()
        ));
        assert!(matches!(
            FindPattern::new("a[", false),
            Err(BrowseError::BadPattern { .. })
        ));
    }

    #[test]
    fn a_file_is_followed_through_snapshots_with_its_content_changes() {
        let sms = |c: &[u8], len| entry("HomeDomain", "Library/SMS/sms.db", c, len);
        let other = || entry("HomeDomain", "Library/other.txt", &[9], 1);
        let history = vec![
            (snapshot(10, 1), vec![other()]),
            (snapshot(20, 2), vec![sms(&[1, 2], 100), other()]),
            (snapshot(30, 3), vec![sms(&[1, 2], 100), other()]),
            (snapshot(40, 4), vec![sms(&[1, 3], 120)]),
            (snapshot(50, 5), vec![other()]),
            (snapshot(60, 6), vec![sms(&[1, 3], 120)]),
            (snapshot(70, 7), vec![sms(&[4], 130)]),
        ];
        let (found, _) = run(history, "sms.db");
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert_eq!(f.domain.as_deref(), Some("HomeDomain"));
        assert_eq!(f.relative_path, "Library/SMS/sms.db");
        assert_eq!(f.kind, FoundKind::File);
        assert_eq!(f.snapshots, [id(1), id(2), id(3), id(5), id(6)]);
        assert_eq!((f.first_seen, f.last_seen), (20, 70));
        let versions: Vec<(SnapshotId, i64, u64)> = f
            .versions
            .iter()
            .map(|v| (v.snapshot, v.time, v.bytes))
            .collect();
        assert_eq!(
            versions,
            [(id(1), 20, 100), (id(3), 40, 120), (id(6), 70, 130)],
            "back after a gap with the content it had is no change"
        );
    }

    #[test]
    fn a_snapshot_whose_tree_is_the_previous_ones_is_not_read() {
        let a = || entry("HomeDomain", "a.txt", &[1], 1);
        let history = vec![
            (snapshot(10, 1), vec![a()]),
            (snapshot(20, 1), vec![]),
            (snapshot(30, 1), vec![]),
            (snapshot(40, 2), vec![]),
            (snapshot(50, 1), vec![a()]),
        ];
        let (found, skipped) = run(history, "a.txt");
        assert_eq!(skipped, 2);
        assert_eq!(found[0].snapshots, [id(0), id(1), id(2), id(4)]);
        assert_eq!(found[0].versions.len(), 1);
    }

    #[test]
    fn nothing_matches_in_no_snapshot() {
        let (found, _) = run(vec![], "*");
        assert!(found.is_empty());
        let (found, _) = run(
            vec![(snapshot(1, 1), vec![entry("D", "x/y", &[1], 1)])],
            "z",
        );
        assert!(found.is_empty());
    }

    #[test]
    fn folders_are_found_without_versions() {
        let mut dir = entry("HomeDomain", "Library/SMS", &[], 0);
        dir.row.as_mut().unwrap().flags = 2;
        dir.content = None;
        let (found, _) = run(vec![(snapshot(1, 1), vec![dir])], "SMS");
        assert_eq!(found[0].kind, FoundKind::Folder);
        assert!(found[0].versions.is_empty());
    }
}
