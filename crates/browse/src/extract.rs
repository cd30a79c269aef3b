//! `restore --files`: the chosen files of a snapshot as a plain, browsable tree,
//! `OUT/<Domain>/<relative path>` (and the backup folder's own files at their folder paths),
//! with the device's mtimes and the stored permission bits.
//!
//! Invariants: nothing is written outside `OUT`. Every name comes from [`SnapshotFiles`]
//! (safe components only), every folder on the way is created or must be a real folder (a
//! link is never followed), and files are created with `O_EXCL | O_NOFOLLOW`: an existing file
//! is never written through or over, except one a stopped run of the same restore left (the
//! marker [`MARKER`] in `OUT` says which snapshot it was). A file already there with the
//! snapshot's size and mtime counts as restored, so a stopped run, run again, finishes; a file
//! that could not be written whole is removed again. Files are written in the order their
//! bytes lie in the packs, by a few threads at once.

use crate::error::BrowseError;
use crate::files::{FileData, NodeId, NodeKind, SnapshotFiles};
use crate::read::copy_file;
use globset::{Glob, GlobBuilder, GlobMatcher};
use hearth_format::ChunkId;
use hearth_repo::{Progress, Repository, SpanReader};
use std::collections::HashSet;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Which files of a snapshot: those an include pattern matches (all when there is none) and no
/// exclude pattern does.
///
/// A pattern with a `/` is matched against a path from the snapshot's root
/// (`CameraRollDomain/Media/DCIM/**`; `*` stays within one name, `**` crosses folders); one
/// without is matched against each name on the path (`IMG_47*`, `*.sqlite`). A pattern that
/// matches a folder takes everything under it.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    include: Vec<Pattern>,
    exclude: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    matcher: GlobMatcher,
    /// Matched against each name on the path instead of the whole path.
    by_name: bool,
}

impl Pattern {
    fn new(pattern: &str) -> Result<Self, BrowseError> {
        let bad = |e: globset::Error| BrowseError::BadPattern {
            pattern: pattern.to_string(),
            detail: e.kind().to_string(),
        };
        let trimmed = pattern.trim_start_matches('/').trim_end_matches('/');
        let glob: Glob = GlobBuilder::new(trimmed)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(bad)?;
        Ok(Self {
            matcher: glob.compile_matcher(),
            by_name: !trimmed.contains('/'),
        })
    }

    /// Whether the pattern matches `path` or a folder it is in.
    fn matches(&self, path: &str) -> bool {
        match self.by_name {
            true => path.split('/').any(|name| self.matcher.is_match(name)),
            false => {
                let mut prefix_ends = path.match_indices('/').map(|(i, _)| i);
                self.matcher.is_match(path)
                    || prefix_ends.any(|end| self.matcher.is_match(&path[..end]))
            }
        }
    }
}

impl Selection {
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, BrowseError> {
        let compile = |patterns: &[String]| {
            patterns
                .iter()
                .map(|p| Pattern::new(p))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self {
            include: compile(include)?,
            exclude: compile(exclude)?,
        })
    }

    /// Whether the file at `path` (from the snapshot's root) is chosen.
    pub fn matches(&self, path: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| p.matches(path)))
            && !self.exclude.iter().any(|p| p.matches(path))
    }
}

#[derive(Debug, Default)]
pub struct ExtractReport {
    /// Files written now.
    pub files: u64,
    pub bytes: u64,
    /// Files already there whole (an earlier run's).
    pub already: u64,
    /// Files not written because their stored bytes do not read (damaged or lost in the
    /// repository): each path and what is wrong. Every other file is written.
    pub damaged: Vec<(String, String)>,
}

/// The marker an unfinished `restore --files` leaves in its output folder: the snapshot's id.
pub const MARKER: &str = ".hearth-restore-files";

/// Writes the chosen files of `files` (the snapshot `snapshot_id`) under `out` (created if
/// missing), a few files at a time on threads of their own.
pub fn extract(
    repo: &Repository,
    files: &SnapshotFiles,
    snapshot_id: &str,
    selection: &Selection,
    out: &Path,
    progress: &dyn Progress,
) -> Result<ExtractReport, BrowseError> {
    let chosen: Vec<(NodeId, String)> = files
        .walk(SnapshotFiles::ROOT)
        .filter(|&n| files.file(n).is_some())
        .map(|n| (n, files.path(n)))
        .filter(|(_, path)| selection.matches(path))
        .collect();
    let had_files = fs::read_dir(out).is_ok_and(|mut d| d.next().is_some());
    fs::create_dir_all(out).map_err(BrowseError::io(out, "cannot create the output folder"))?;
    let resuming = begin(out, snapshot_id)?;
    let mut report = ExtractReport::default();
    let mut todo = Vec::new();
    // The folder of every chosen file, to get its time at the end (also after a stopped run).
    let mut folders: Vec<NodeId> = Vec::new();
    for (n, path) in chosen {
        let f = files.file(n).expect("chosen files are files");
        let target = out.join(&path);
        folders.push(files.node(n).parent);
        // Only a folder that held files can hold one of them already.
        match had_files && is_whole(&target, f, files.node(n).mtime_ns, resuming)? {
            true => report.already += 1,
            false => todo.push((n, path, target)),
        }
    }
    let chunks: Vec<ChunkId> = todo
        .iter()
        .flat_map(|(n, _, _)| files.file(*n).expect("files").chunks.iter().copied())
        .collect();
    let total = todo
        .iter()
        .map(|(n, _, _)| files.file(*n).expect("files").size)
        .sum();
    let spans = repo.span_reader(&chunks)?;
    // In the order the files' bytes lie in the packs, so that each span is fetched about once
    // (in path order, small files from all over the packs fetch and drop spans again and again).
    todo.sort_by_cached_key(|(n, _, _)| spans.first_span(&files.file(*n).expect("files").chunks));
    progress.start("restore files", Some(total));
    let writers = Writers {
        files,
        out,
        spans: &spans,
        todo: &todo,
        next: AtomicUsize::new(0),
        made: Mutex::default(),
        done: Mutex::new(report),
        failed: Mutex::new(None),
        progress,
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_WRITERS));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| writers.run());
        }
    });
    if let Some(e) = writers
        .failed
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
    {
        return Err(e);
    }
    let report = writers
        .done
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    set_folder_times(files, out, folders)?;
    if report.damaged.is_empty() {
        let marker = out.join(MARKER);
        fs::remove_file(&marker).map_err(BrowseError::io(marker, "cannot remove"))?;
    }
    progress.finish();
    Ok(report)
}

/// Threads that write files at once: the span reader's bytes are ready far faster than one
/// thread creates small files.
const MAX_WRITERS: usize = 4;

/// The files to write, shared by the writing threads: each takes the next one in pack order.
struct Writers<'a, 'r> {
    files: &'a SnapshotFiles,
    out: &'a Path,
    spans: &'a SpanReader<'r>,
    todo: &'a [(NodeId, String, PathBuf)],
    next: AtomicUsize,
    /// Folders made (or found to be real folders) already.
    made: Mutex<HashSet<NodeId>>,
    done: Mutex<ExtractReport>,
    /// The first error that stops the job; the other threads stop at their next file.
    failed: Mutex<Option<BrowseError>>,
    progress: &'a dyn Progress,
}

impl Writers<'_, '_> {
    fn run(&self) {
        loop {
            if (self.failed.lock().unwrap_or_else(PoisonError::into_inner)).is_some() {
                return;
            }
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some((n, path, target)) = self.todo.get(i) else {
                return;
            };
            if let Err(e) = self.write(*n, path, target) {
                let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
                failed.get_or_insert(e);
                return;
            }
        }
    }

    fn write(&self, n: NodeId, path: &str, target: &Path) -> Result<(), BrowseError> {
        let f = self.files.file(n).expect("files");
        let parent = self.files.node(n).parent;
        // Marked made only once it is: another thread may be making it now (both may, safely).
        let made = (self.made.lock().unwrap_or_else(PoisonError::into_inner)).contains(&parent);
        if !made {
            make_parents(self.out, path)?;
            (self.made.lock().unwrap_or_else(PoisonError::into_inner)).insert(parent);
        }
        let mtime_ns = self.files.node(n).mtime_ns;
        let written = write_file(target, f, mtime_ns, |w| copy_file(self.spans, f, path, w));
        let mut done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        match written {
            Ok(()) => {
                done.files += 1;
                done.bytes += f.size;
                self.progress.advance(f.size);
                Ok(())
            }
            Err(BrowseError::Damaged { source, .. }) => {
                done.damaged.push((path.to_string(), source.to_string()));
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// Marks `out` as holding an unfinished restore of `snapshot_id`; true when it already did
/// (an earlier run that stopped: its files that are not whole are its own, and replaced).
fn begin(out: &Path, snapshot_id: &str) -> Result<bool, BrowseError> {
    let marker = out.join(MARKER);
    match fs::read_to_string(&marker) {
        Ok(id) if id.trim() == snapshot_id => return Ok(true),
        Ok(_) => {
            return Err(BrowseError::Io {
                path: out.to_path_buf(),
                what: "holds an unfinished restore --files of another snapshot (its marker .hearth-restore-files says so); choose another --out, or remove the marker to write into it anyway",
                source: std::io::ErrorKind::AlreadyExists.into(),
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(BrowseError::io(&marker, "cannot read")(e)),
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&marker)
        .map_err(BrowseError::io(&marker, "cannot create"))?;
    file.write_all(snapshot_id.as_bytes())
        .map_err(BrowseError::io(&marker, "write failed"))?;
    Ok(false)
}

/// Whether `target` is a regular file (not a link) of the snapshot's size and mtime already.
/// Any other file there is in the way, unless `resuming` (then a regular file that is not
/// whole is the stopped run's own, and is removed).
fn is_whole(
    target: &Path,
    f: &FileData,
    mtime_ns: i128,
    resuming: bool,
) -> Result<bool, BrowseError> {
    let m = match fs::symlink_metadata(target) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(BrowseError::io(target, "cannot look at it")(e)),
    };
    let same_time = m.modified().ok() == system_time(mtime_ns);
    if m.is_file() && m.len() == f.size && same_time {
        return Ok(true);
    }
    if resuming && m.is_file() {
        fs::remove_file(target).map_err(BrowseError::io(target, "cannot remove"))?;
        return Ok(false);
    }
    Err(BrowseError::Io {
        path: target.to_path_buf(),
        what: "is in the way (not the snapshot's file); refusing to overwrite it",
        source: std::io::ErrorKind::AlreadyExists.into(),
    })
}

/// Creates the folders of `path` under `out`, each a real folder (never through a link).
fn make_parents(out: &Path, path: &str) -> Result<(), BrowseError> {
    let mut at = out.to_path_buf();
    let Some((parents, _)) = path.rsplit_once('/') else {
        return Ok(());
    };
    for name in parents.split('/') {
        at.push(name);
        let made = match fs::create_dir(&at) {
            Ok(()) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => fs::symlink_metadata(&at),
            Err(e) => return Err(BrowseError::io(&at, "cannot create the folder")(e)),
        };
        match made {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(BrowseError::NotAFolder { path: at }),
            Err(e) => return Err(BrowseError::io(&at, "cannot look at it")(e)),
        }
    }
    Ok(())
}

/// Writes a file that must not exist yet (never through a link); one that could not be
/// written whole is removed again.
fn write_file(
    target: &Path,
    f: &FileData,
    mtime_ns: i128,
    body: impl FnOnce(&mut dyn Write) -> Result<u64, BrowseError>,
) -> Result<(), BrowseError> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(target)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => BrowseError::Io {
                path: target.to_path_buf(),
                what: "is in the way (not the snapshot's file); refusing to overwrite it",
                source: e,
            },
            _ => BrowseError::io(target, "cannot create")(e),
        })?;
    // Unbuffered: the span reader hands over whole chunks, each one write.
    let written = body(&mut &file).and_then(|_| {
        finish(&file, f, mtime_ns).map_err(BrowseError::io(target, "cannot set mode and time"))
    });
    if written.is_err() {
        // Created above: a file that could not be written whole is not left half written.
        let _ = fs::remove_file(target);
    }
    written
}

fn finish(file: &File, f: &FileData, mtime_ns: i128) -> std::io::Result<()> {
    file.set_permissions(Permissions::from_mode(f.mode & 0o777))?;
    if let Some(t) = system_time(mtime_ns) {
        file.set_modified(t)?;
    }
    Ok(())
}

/// Sets the mtime of each folder that got files (and of the folders above it), deepest first,
/// once every file is in place.
fn set_folder_times(
    files: &SnapshotFiles,
    out: &Path,
    mut folders: Vec<NodeId>,
) -> Result<(), BrowseError> {
    let mut all = HashSet::new();
    while let Some(n) = folders.pop() {
        if n != SnapshotFiles::ROOT && all.insert(n) {
            folders.push(files.node(n).parent);
        }
    }
    let mut paths: Vec<(String, NodeId)> = all.into_iter().map(|n| (files.path(n), n)).collect();
    paths.sort_by(|a, b| b.0.cmp(&a.0));
    for (path, n) in paths {
        debug_assert!(matches!(files.node(n).kind, NodeKind::Folder(_)));
        let at = out.join(&path);
        let Some(t) = system_time(files.node(n).mtime_ns) else {
            continue;
        };
        let dir = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY)
            .open(&at)
            .map_err(BrowseError::io(&at, "cannot open the folder"))?;
        dir.set_modified(t)
            .map_err(BrowseError::io(&at, "cannot set the folder's time"))?;
    }
    Ok(())
}

/// The time `mtime_ns` (nanoseconds since 1970) names, if a clock holds it.
fn system_time(mtime_ns: i128) -> Option<SystemTime> {
    let (secs, nanos) = hearth_format::entry::split_mtime(mtime_ns)?;
    let whole = Duration::from_secs(secs.unsigned_abs());
    let at = match secs >= 0 {
        true => UNIX_EPOCH.checked_add(whole),
        false => UNIX_EPOCH.checked_sub(whole),
    };
    at.and_then(|t| t.checked_add(Duration::from_nanos(nanos.into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(include: &[&str], exclude: &[&str]) -> Selection {
        let s = |v: &[&str]| v.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        Selection::new(&s(include), &s(exclude)).unwrap()
    }

    #[test]
    fn patterns_with_a_slash_match_paths_and_take_what_a_folder_holds() {
        let s = sel(&["CameraRollDomain/Media/DCIM/**"], &[]);
        assert!(s.matches("CameraRollDomain/Media/DCIM/100APPLE/IMG_0001.HEIC"));
        assert!(!s.matches("CameraRollDomain/Media/PhotoData/Photos.sqlite"));
        let s = sel(&["CameraRollDomain/Media/DCIM"], &[]);
        assert!(s.matches("CameraRollDomain/Media/DCIM/100APPLE/IMG_0001.HEIC"));
        assert!(!s.matches("CameraRollDomain/Media/DCIMX/a"));
        // `*` stays within a name.
        let s = sel(&["HomeDomain/*/sms.db"], &[]);
        assert!(s.matches("HomeDomain/SMS/sms.db"));
        assert!(!s.matches("HomeDomain/Library/SMS/sms.db"));
    }

    #[test]
    fn patterns_without_a_slash_match_any_name_and_excludes_win() {
        let s = sel(&["IMG_47*"], &["*.MOV"]);
        assert!(s.matches("CameraRollDomain/Media/DCIM/100APPLE/IMG_4711.HEIC"));
        assert!(!s.matches("CameraRollDomain/Media/DCIM/100APPLE/IMG_4711.MOV"));
        assert!(!s.matches("CameraRollDomain/Media/DCIM/100APPLE/IMG_0001.HEIC"));
        assert!(sel(&[], &[]).matches("anything/at/all"));
        assert!(!sel(&[], &["HomeDomain"]).matches("HomeDomain/Library/x"));
    }

    #[test]
    fn a_bad_pattern_is_named() {
        let e = Selection::new(&["a[".to_string()], &[]).unwrap_err();
        assert!(e.to_string().contains("\"a[\""), "{e}");
    }
}
