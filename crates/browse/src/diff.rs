//! `hearth diff A B`: the files added, removed and changed between two snapshots (of one
//! device or of two), summed per domain and per app, with what grew most.
//!
//! Both snapshots' trees come sorted by path (the file's place in the backup folder,
//! `ab/ab12…`, which is a hash of its domain and relative path, so the same file has the same
//! path on every device), so the diff is a merge join of the two entry streams: one entry of
//! each in memory, and no file's bytes read. A file is an entry with content; two files differ
//! when their chunk lists do, since a chunk id is a keyed hash of the chunk's bytes (equal lists
//! are equal bytes). A file whose bytes are the same but whose other metadata is not (its
//! mtime, mode, an encrypted file's key) is counted as such and is not a change.
//!
//! What is kept grows with the number of changes, not of files: each change (to be listed
//! sorted, as people read them) and a tally per domain.

use crate::error::BrowseError;
use crate::files::plaintext_len;
use crate::stream::Stream;
use hearth_format::{Content, Entry, Snapshot};
use hearth_repo::{Progress, Repository};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    Added,
    Removed,
    /// The bytes differ.
    Changed,
}

impl ChangeKind {
    /// The name scripts see (`diff --json`'s `change`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::Removed => "removed",
            Self::Changed => "changed",
        }
    }
}

/// One file added, removed or changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The Manifest.db row's domain; `None` for the backup folder's own files (`Manifest.db`,
    /// `Info.plist`) and blobs no row names.
    pub domain: Option<String>,
    /// The row's relative path, else the file's path in the backup folder.
    pub relative_path: String,
    /// The file's path in the backup folder (`ab/ab12…` for a row's).
    pub folder_path: String,
    pub kind: ChangeKind,
    /// Plaintext lengths in A and B (`None` where the file is not).
    pub bytes_before: Option<u64>,
    pub bytes_after: Option<u64>,
}

impl Change {
    /// How many bytes the file grew (negative: shrank).
    pub fn delta(&self) -> i64 {
        signed(
            self.bytes_after.unwrap_or(0),
            self.bytes_before.unwrap_or(0),
        )
    }
}

/// `after - before`, saturated to `i64`.
fn signed(after: u64, before: u64) -> i64 {
    let d = i128::from(after) - i128::from(before);
    i64::try_from(d).unwrap_or(if d < 0 { i64::MIN } else { i64::MAX })
}

/// Files of a group (a domain, an app, everything) by what happened to them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
    /// The same bytes with other metadata (mtime, mode, an encrypted file's key).
    pub metadata_only: u64,
    /// Everything the same.
    pub unchanged: u64,
    /// Plaintext bytes in A of the removed and changed files.
    pub bytes_before: u64,
    /// Plaintext bytes in B of the added and changed files.
    pub bytes_after: u64,
}

impl Tally {
    /// Bytes the group grew by (negative: shrank).
    pub fn delta(&self) -> i64 {
        signed(self.bytes_after, self.bytes_before)
    }

    /// Files in A and in B.
    pub fn files_before(&self) -> u64 {
        self.removed + self.changed + self.metadata_only + self.unchanged
    }
    pub fn files_after(&self) -> u64 {
        self.added + self.changed + self.metadata_only + self.unchanged
    }

    /// Whether any file of the group was added, removed or changed.
    pub fn has_changes(&self) -> bool {
        self.added + self.removed + self.changed > 0
    }

    fn add(&mut self, o: &Tally) {
        self.added += o.added;
        self.removed += o.removed;
        self.changed += o.changed;
        self.metadata_only += o.metadata_only;
        self.unchanged += o.unchanged;
        self.bytes_before += o.bytes_before;
        self.bytes_after += o.bytes_after;
    }
}

/// A file or folder that grew, for the lists of what grew most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Growth {
    pub domain: Option<String>,
    /// A file's relative path, or a folder's (empty: the domain's root).
    pub path: String,
    /// Files added, removed or changed in it (1 for a file).
    pub files: u64,
    pub delta: i64,
}

#[derive(Debug, Clone, Copy)]
pub struct DiffOptions {
    /// How many files and folders the lists of what grew most hold.
    pub top: usize,
}

impl Default for DiffOptions {
    fn default() -> Self {
        Self { top: 10 }
    }
}

#[derive(Debug, Clone, Default)]
pub struct DiffReport {
    /// Sorted by domain (the backup folder's own files first), then relative path.
    pub changes: Vec<Change>,
    pub total: Tally,
    /// Per domain (`None`: the backup folder's own files), sorted; only domains where a file
    /// was added, removed or changed, or changed its metadata.
    pub domains: Vec<(Option<String>, Tally)>,
    /// Per app (bundle id), sorted: its `AppDomain-`, and the extensions' and app groups'
    /// domains it owns ([`app_of`]); only apps where something changed.
    pub apps: Vec<(String, Tally)>,
    /// The files that grew most, most first (at most [`DiffOptions::top`]).
    pub grew_files: Vec<Growth>,
    /// The folders whose files (directly in them) grew most together, most first.
    pub grew_folders: Vec<Growth>,
}

/// Compares the snapshots `a` and `b` (of any devices), reading their trees only.
pub fn diff(
    repo: &Repository,
    a: &Snapshot,
    b: &Snapshot,
    options: &DiffOptions,
    progress: &dyn Progress,
) -> Result<DiffReport, BrowseError> {
    progress.start("comparing file lists", Some(a.tree_len + b.tree_len));
    let size = |e: &Entry, c: &Content| plaintext_len(repo, e, c);
    let report = diff_entries(
        Stream::new(repo, a, progress),
        Stream::new(repo, b, progress),
        size,
        options,
    );
    progress.finish();
    report
}

/// [`diff`] of two entry streams sorted by path, with `size` the plaintext length of a file.
pub(crate) fn diff_entries(
    a: impl Iterator<Item = Result<Entry, BrowseError>>,
    b: impl Iterator<Item = Result<Entry, BrowseError>>,
    mut size: impl FnMut(&Entry, &Content) -> Result<u64, BrowseError>,
    options: &DiffOptions,
) -> Result<DiffReport, BrowseError> {
    let mut acc = Accumulator::default();
    merge_join(a, b, |pair| acc.add(pair, &mut size))?;
    Ok(acc.finish(options))
}

/// The entries at one path: in A only, in B only, or in both.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pair<'e> {
    Before(&'e Entry),
    After(&'e Entry),
    Both(&'e Entry, &'e Entry),
}

/// Walks two entry streams sorted by path side by side, calling `each` once per path (once
/// per entry of a path that a stream repeats, paired in turn).
pub(crate) fn merge_join(
    mut a: impl Iterator<Item = Result<Entry, BrowseError>>,
    mut b: impl Iterator<Item = Result<Entry, BrowseError>>,
    mut each: impl FnMut(Pair<'_>) -> Result<(), BrowseError>,
) -> Result<(), BrowseError> {
    let mut x = a.next().transpose()?;
    let mut y = b.next().transpose()?;
    loop {
        let order = match (&x, &y) {
            (None, None) => return Ok(()),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(e), Some(f)) => e.path.cmp(&f.path),
        };
        let pair = match (order, &x, &y) {
            (Ordering::Less, Some(e), _) => Pair::Before(e),
            (Ordering::Greater, _, Some(f)) => Pair::After(f),
            (Ordering::Equal, Some(e), Some(f)) => Pair::Both(e, f),
            _ => unreachable!("an order is of the entries there are"),
        };
        each(pair)?;
        if order.is_le() {
            x = a.next().transpose()?;
        }
        if order.is_ge() {
            y = b.next().transpose()?;
        }
    }
}

/// What happened to the file at one path, if it is a file on either side.
enum Outcome {
    Change(ChangeKind),
    MetadataOnly,
    Unchanged,
}

fn outcome(pair: Pair<'_>) -> Option<Outcome> {
    let kind = |k| Some(Outcome::Change(k));
    match pair {
        Pair::Before(e) => e.content.as_ref().and(kind(ChangeKind::Removed)),
        Pair::After(f) => f.content.as_ref().and(kind(ChangeKind::Added)),
        Pair::Both(e, f) => match (&e.content, &f.content) {
            (None, None) => None,
            (Some(_), None) => kind(ChangeKind::Removed),
            (None, Some(_)) => kind(ChangeKind::Added),
            (Some(c), Some(d)) if c.chunks != d.chunks => kind(ChangeKind::Changed),
            (Some(c), Some(d)) if c != d || e.row != f.row => Some(Outcome::MetadataOnly),
            (Some(_), Some(_)) => Some(Outcome::Unchanged),
        },
    }
}

/// A file's domain (`None`: a backup folder file) and relative path (else its folder path).
fn names(e: &Entry) -> (Option<&str>, &str) {
    match &e.row {
        Some(r) => (Some(&r.domain), &r.relative_path),
        None => (None, &e.path),
    }
}

#[derive(Default)]
struct Accumulator {
    changes: Vec<Change>,
    domains: HashMap<String, Tally>,
    /// The backup folder's own files.
    folder_files: Tally,
}

impl Accumulator {
    fn add(
        &mut self,
        pair: Pair<'_>,
        size: &mut impl FnMut(&Entry, &Content) -> Result<u64, BrowseError>,
    ) -> Result<(), BrowseError> {
        let Some(outcome) = outcome(pair) else {
            return Ok(());
        };
        let (before, after) = match pair {
            Pair::Before(e) => (Some(e), None),
            Pair::After(f) => (None, Some(f)),
            Pair::Both(e, f) => (Some(e), Some(f)),
        };
        // Where a file is on one side only, the names are that side's; else B's.
        let named = after
            .filter(|f| f.content.is_some())
            .or(before)
            .expect("a pair has an entry");
        let (domain, relative_path) = names(named);
        let tally = match domain {
            None => &mut self.folder_files,
            Some(d) => match self.domains.get_mut(d) {
                Some(t) => t,
                None => self.domains.entry(d.to_string()).or_default(),
            },
        };
        let kind = match outcome {
            Outcome::Unchanged => {
                tally.unchanged += 1;
                return Ok(());
            }
            Outcome::MetadataOnly => {
                tally.metadata_only += 1;
                return Ok(());
            }
            Outcome::Change(kind) => kind,
        };
        let mut len = |e: Option<&Entry>| match e.and_then(|e| Some((e, e.content.as_ref()?))) {
            Some((e, c)) => size(e, c).map(Some),
            None => Ok(None),
        };
        let (bytes_before, bytes_after) = (len(before)?, len(after)?);
        match kind {
            ChangeKind::Added => tally.added += 1,
            ChangeKind::Removed => tally.removed += 1,
            ChangeKind::Changed => tally.changed += 1,
        }
        tally.bytes_before += bytes_before.unwrap_or(0);
        tally.bytes_after += bytes_after.unwrap_or(0);
        self.changes.push(Change {
            domain: domain.map(str::to_string),
            relative_path: relative_path.to_string(),
            folder_path: named.path.clone(),
            kind,
            bytes_before,
            bytes_after,
        });
        Ok(())
    }

    fn finish(mut self, options: &DiffOptions) -> DiffReport {
        let mut domains: Vec<(Option<String>, Tally)> = Vec::new();
        domains.push((None, self.folder_files));
        let mut named: Vec<(String, Tally)> = self.domains.into_iter().collect();
        named.sort_by(|x, y| x.0.cmp(&y.0));
        let catalog: BTreeSet<&str> = named
            .iter()
            .filter_map(|(d, _)| d.strip_prefix("AppDomain-"))
            .collect();
        let mut apps: BTreeMap<String, Tally> = BTreeMap::new();
        for (d, t) in &named {
            if let Some(app) = app_of(d, &catalog) {
                apps.entry(app.to_string()).or_default().add(t);
            }
        }
        domains.extend(named.into_iter().map(|(d, t)| (Some(d), t)));
        let mut total = Tally::default();
        domains.iter().for_each(|(_, t)| total.add(t));
        let touched = |t: &Tally| t.has_changes() || t.metadata_only > 0;
        self.changes.sort_by(|x, y| {
            (&x.domain, &x.relative_path, &x.folder_path).cmp(&(
                &y.domain,
                &y.relative_path,
                &y.folder_path,
            ))
        });
        DiffReport {
            grew_files: grew_files(&self.changes, options.top),
            grew_folders: grew_folders(&self.changes, options.top),
            changes: self.changes,
            total,
            domains: domains.into_iter().filter(|(_, t)| touched(t)).collect(),
            apps: apps.into_iter().filter(|(_, t)| touched(t)).collect(),
        }
    }
}

/// The `top` files that grew most.
fn grew_files(changes: &[Change], top: usize) -> Vec<Growth> {
    let mut grew: Vec<&Change> = changes.iter().filter(|c| c.delta() > 0).collect();
    grew.sort_by_key(|c| std::cmp::Reverse(c.delta()));
    grew.into_iter()
        .take(top)
        .map(|c| Growth {
            domain: c.domain.clone(),
            path: c.relative_path.clone(),
            files: 1,
            delta: c.delta(),
        })
        .collect()
}

/// The `top` folders whose files (directly in them) grew most together. The backup folder's
/// own files are in no folder of the device's.
fn grew_folders(changes: &[Change], top: usize) -> Vec<Growth> {
    let mut folders: HashMap<(&str, &str), (u64, i64)> = HashMap::new();
    for c in changes {
        let Some(domain) = &c.domain else { continue };
        let folder = c.relative_path.rsplit_once('/').map_or("", |(f, _)| f);
        let slot = folders.entry((domain, folder)).or_default();
        slot.0 += 1;
        slot.1 = slot.1.saturating_add(c.delta());
    }
    let mut grew: Vec<Growth> = folders
        .into_iter()
        .filter(|(_, (_, delta))| *delta > 0)
        .map(|((domain, path), (files, delta))| Growth {
            domain: Some(domain.to_string()),
            path: path.to_string(),
            files,
            delta,
        })
        .collect();
    grew.sort_by(|x, y| {
        (y.delta.cmp(&x.delta)).then_with(|| (&x.domain, &x.path).cmp(&(&y.domain, &y.path)))
    });
    grew.truncate(top);
    grew
}

/// The app (bundle id) a domain belongs to: `AppDomain-<id>` is the app's own container; an
/// extension's `AppDomainPlugin-<id>.<name>` belongs to the longest app id in `apps` it starts
/// with, else is an app of its own; an app group's `AppDomainGroup-<group>` to the longest app
/// id in `apps` it holds as whole dot-separated names (`group.net.whatsapp.WhatsApp.shared`
/// holds `net.whatsapp.WhatsApp`), else it is its own. `None` for the system's domains.
/// (`hearth-restore` decides the same from the apps Info.plist lists; here the apps are the
/// `AppDomain-` domains of the snapshots, which needs no file read.)
pub fn app_of<'a>(domain: &'a str, apps: &BTreeSet<&'a str>) -> Option<&'a str> {
    let longest = |fits: &dyn Fn(&str) -> bool| {
        apps.iter()
            .copied()
            .filter(|id| fits(id))
            .max_by_key(|id| id.len())
    };
    if let Some(id) = domain.strip_prefix("AppDomain-") {
        return Some(id);
    }
    if let Some(plugin) = domain.strip_prefix("AppDomainPlugin-") {
        let owner =
            longest(&|id| (plugin.strip_prefix(id)).is_some_and(|rest| rest.starts_with('.')));
        return Some(owner.unwrap_or(plugin));
    }
    if let Some(group) = domain.strip_prefix("AppDomainGroup-") {
        let dotted = format!(".{group}.");
        let owner = longest(&|id| dotted.contains(&format!(".{id}.")));
        return Some(owner.unwrap_or(group));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_format::{ChunkId, Row, RowState};

    fn chunk(n: u8) -> ChunkId {
        ChunkId([n; 32])
    }

    /// A file row of `domain`/`rel` at folder path `path`, `len` bytes in `chunks`.
    fn file(path: &str, domain: &str, rel: &str, chunks: &[u8], len: u64) -> Entry {
        Entry {
            path: path.into(),
            row: Some(Row {
                file_id: path.rsplit('/').next().unwrap().into(),
                domain: domain.into(),
                relative_path: rel.into(),
                flags: 1,
                recorded_size: len,
                recorded_mtime: 1_700_000_000,
                state: RowState::Ok,
            }),
            content: Some(Content {
                size: len,
                mtime_ns: 1_700_000_000_000_000_000,
                mode: 0o644,
                chunks: chunks.iter().map(|&n| chunk(n)).collect(),
                cipher: None,
            }),
        }
    }

    fn folder(path: &str, domain: &str, rel: &str) -> Entry {
        let mut e = file(path, domain, rel, &[], 0);
        e.row.as_mut().unwrap().flags = 2;
        e.content = None;
        e
    }

    /// A file of the backup folder (no row).
    fn plain(path: &str, chunks: &[u8], len: u64) -> Entry {
        let mut e = file(path, "", "", chunks, len);
        e.row = None;
        e
    }

    /// The diff of `a` and `b`, each put in path order as a tree has it.
    fn run(mut a: Vec<Entry>, mut b: Vec<Entry>, top: usize) -> Result<DiffReport, BrowseError> {
        a.sort_by(|x, y| x.path.cmp(&y.path));
        b.sort_by(|x, y| x.path.cmp(&y.path));
        diff_entries(
            a.into_iter().map(Ok),
            b.into_iter().map(Ok),
            |_, c| Ok(c.size),
            &DiffOptions { top },
        )
    }

    /// (domain, relative path, change, bytes before, bytes after)
    type Brief<'r> = (Option<&'r str>, &'r str, &'r str, Option<u64>, Option<u64>);

    fn brief(r: &DiffReport) -> Vec<Brief<'_>> {
        r.changes
            .iter()
            .map(|c| {
                (
                    c.domain.as_deref(),
                    c.relative_path.as_str(),
                    c.kind.as_str(),
                    c.bytes_before,
                    c.bytes_after,
                )
            })
            .collect()
    }

    #[test]
    fn a_merge_pairs_equal_paths_and_keeps_the_rest_on_their_side() {
        let e = |p: &str| plain(p, &[1], 1);
        let (a, b) = (
            vec![e("a"), e("c"), e("d"), e("d"), e("f")],
            vec![e("b"), e("c"), e("d"), e("g")],
        );
        let mut seen = Vec::new();
        merge_join(a.into_iter().map(Ok), b.into_iter().map(Ok), |p| {
            seen.push(match p {
                Pair::Before(e) => format!("-{}", e.path),
                Pair::After(f) => format!("+{}", f.path),
                Pair::Both(e, f) => format!("={}{}", e.path, f.path),
            });
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, ["-a", "+b", "=cc", "=dd", "-d", "-f", "+g"]);
    }

    #[test]
    fn files_are_added_removed_or_changed_by_their_chunk_lists() {
        let a = vec![
            plain("Info.plist", &[1], 100),
            file("00/00aa", "HomeDomain", "Library/gone.txt", &[2], 10),
            file("11/11aa", "HomeDomain", "Library/same.txt", &[3], 20),
            file("22/22aa", "HomeDomain", "Library/sms.db", &[4, 5], 1000),
            folder("33/33aa", "HomeDomain", "Library"),
            file("44/44aa", "MediaDomain", "Media/touched.jpg", &[6], 30),
        ];
        let mut touched = file("44/44aa", "MediaDomain", "Media/touched.jpg", &[6], 30);
        touched.content.as_mut().unwrap().mtime_ns += 1;
        let b = vec![
            plain("Info.plist", &[1], 100),
            plain("Manifest.db", &[9], 4096),
            file("11/11aa", "HomeDomain", "Library/same.txt", &[3], 20),
            file("22/22aa", "HomeDomain", "Library/sms.db", &[4, 7], 1500),
            folder("33/33aa", "HomeDomain", "Library"),
            touched,
            file(
                "55/55aa",
                "CameraRollDomain",
                "Media/DCIM/IMG_1.HEIC",
                &[8],
                300,
            ),
        ];
        let r = run(a, b, 10).unwrap();
        assert_eq!(
            brief(&r),
            [
                (None, "Manifest.db", "added", None, Some(4096)),
                (
                    Some("CameraRollDomain"),
                    "Media/DCIM/IMG_1.HEIC",
                    "added",
                    None,
                    Some(300)
                ),
                (
                    Some("HomeDomain"),
                    "Library/gone.txt",
                    "removed",
                    Some(10),
                    None
                ),
                (
                    Some("HomeDomain"),
                    "Library/sms.db",
                    "changed",
                    Some(1000),
                    Some(1500)
                ),
            ]
        );
        let t = r.total;
        assert_eq!(
            (t.added, t.removed, t.changed, t.metadata_only, t.unchanged),
            (2, 1, 1, 1, 2)
        );
        assert_eq!((t.files_before(), t.files_after()), (5, 6));
        assert_eq!(t.delta(), 4096 + 300 - 10 + 500);
        let domains: Vec<_> = r.domains.iter().map(|(d, _)| d.as_deref()).collect();
        assert_eq!(
            domains,
            [
                None,
                Some("CameraRollDomain"),
                Some("HomeDomain"),
                Some("MediaDomain")
            ]
        );
        let home = &r.domains[2].1;
        assert_eq!((home.removed, home.changed, home.unchanged), (1, 1, 1));
        assert_eq!(home.delta(), 490);
        assert_eq!(
            r.domains[3].1.metadata_only, 1,
            "a new mtime is not a change"
        );
        assert_eq!(r.grew_files[0].path, "Manifest.db");
        assert_eq!(r.grew_files.len(), 3, "{:?}", r.grew_files);
    }

    #[test]
    fn a_file_that_became_a_folder_is_removed_and_one_that_has_no_content_is_no_file() {
        let a = vec![
            file("00/00aa", "HomeDomain", "x", &[1], 5),
            folder("11/11aa", "HomeDomain", "y"),
        ];
        let b = vec![
            folder("00/00aa", "HomeDomain", "x"),
            file("11/11aa", "HomeDomain", "y", &[2], 7),
        ];
        let r = run(a, b, 10).unwrap();
        assert_eq!(
            brief(&r),
            [
                (Some("HomeDomain"), "x", "removed", Some(5), None),
                (Some("HomeDomain"), "y", "added", None, Some(7)),
            ]
        );
    }

    #[test]
    fn the_same_snapshot_twice_has_no_changes() {
        let a = vec![
            plain("Info.plist", &[1], 100),
            file("22/22aa", "HomeDomain", "Library/sms.db", &[4, 5], 1000),
        ];
        let r = run(a.clone(), a, 10).unwrap();
        assert!(r.changes.is_empty());
        assert!(r.domains.is_empty() && r.apps.is_empty() && r.grew_files.is_empty());
        assert_eq!(r.total.unchanged, 2);
    }

    #[test]
    fn apps_gather_their_own_their_extensions_and_their_groups_domains() {
        let a = vec![];
        let b = vec![
            file(
                "00/00",
                "AppDomain-net.whatsapp.WhatsApp",
                "Documents/a",
                &[1],
                10,
            ),
            file(
                "01/01",
                "AppDomainGroup-group.net.whatsapp.WhatsApp.shared",
                "Media/b",
                &[2],
                20,
            ),
            file(
                "02/02",
                "AppDomainPlugin-net.whatsapp.WhatsApp.ShareExtension",
                "c",
                &[3],
                40,
            ),
            file(
                "03/03",
                "AppDomainPlugin-com.other.app.Widget",
                "d",
                &[4],
                80,
            ),
            file("04/04", "HomeDomain", "e", &[5], 160),
        ];
        let r = run(a, b, 10).unwrap();
        let apps: Vec<(&str, u64, i64)> = r
            .apps
            .iter()
            .map(|(id, t)| (id.as_str(), t.added, t.delta()))
            .collect();
        assert_eq!(
            apps,
            [
                ("com.other.app.Widget", 1, 80),
                ("net.whatsapp.WhatsApp", 3, 70)
            ]
        );
    }

    #[test]
    fn domains_map_to_apps_by_whole_names() {
        let apps: BTreeSet<&str> = ["com.example.pad", "com.example.padonly", "net.x.X"].into();
        assert_eq!(app_of("AppDomain-com.y", &apps), Some("com.y"));
        assert_eq!(
            app_of("AppDomainPlugin-com.example.padonly.widget", &apps),
            Some("com.example.padonly")
        );
        assert_eq!(
            app_of("AppDomainPlugin-com.example.padonlyx.widget", &apps),
            Some("com.example.padonlyx.widget")
        );
        assert_eq!(
            app_of("AppDomainGroup-group.net.x.X.shared", &apps),
            Some("net.x.X")
        );
        assert_eq!(
            app_of("AppDomainGroup-group.net.x.Xy", &apps),
            Some("group.net.x.Xy")
        );
        assert_eq!(app_of("HomeDomain", &apps), None);
    }

    #[test]
    fn what_grew_most_comes_first_by_file_and_by_folder() {
        let b = vec![
            file(
                "00/00",
                "CameraRollDomain",
                "Media/DCIM/100APPLE/1.HEIC",
                &[1],
                500,
            ),
            file(
                "01/01",
                "CameraRollDomain",
                "Media/DCIM/100APPLE/2.HEIC",
                &[2],
                400,
            ),
            file("02/02", "HomeDomain", "Library/big.db", &[3], 800),
            file("03/03", "HomeDomain", "top.txt", &[4], 5),
        ];
        let r = run(vec![], b, 2).unwrap();
        let files: Vec<(&str, i64)> = (r.grew_files.iter())
            .map(|g| (g.path.as_str(), g.delta))
            .collect();
        assert_eq!(
            files,
            [("Library/big.db", 800), ("Media/DCIM/100APPLE/1.HEIC", 500)]
        );
        let folders: Vec<(&str, u64, i64)> = (r.grew_folders.iter())
            .map(|g| (g.path.as_str(), g.files, g.delta))
            .collect();
        assert_eq!(
            folders,
            [("Media/DCIM/100APPLE", 2, 900), ("Library", 1, 800)]
        );
    }

    #[test]
    fn an_error_in_either_stream_ends_the_diff() {
        let bad = || {
            vec![
                Ok(plain("a", &[1], 1)),
                Err(BrowseError::BadPattern {
                    pattern: "x".into(),
                    detail: "test".into(),
                }),
            ]
            .into_iter()
        };
        let good = || vec![Ok(plain("b", &[1], 1))].into_iter();
        let size = |_: &Entry, c: &Content| Ok(c.size);
        let o = DiffOptions::default();
        assert!(diff_entries(bad(), good(), size, &o).is_err());
        assert!(diff_entries(good(), bad(), size, &o).is_err());
    }
}
