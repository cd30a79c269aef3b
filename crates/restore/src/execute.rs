//! Writing a [`RestorePlan`] to disk.

use crate::apps::without_apps;
use crate::error::RestoreError;
use crate::order::{Sorted, Sorter, unlocated};
use crate::plan::{PlannedFile, RestorePlan, Rewrite, read_chunks, stream};
use hearth_format::entry::is_safe_path;
use hearth_format::{ChunkId, Content};
use hearth_mobilesync::encryption::strip_pkcs7;
use hearth_mobilesync::encryption::{ClassKeys, EncryptingWriter, WrappedKey};
use hearth_mobilesync::{
    ManifestDb, STATUS_PLIST, parse_dictionary, unencrypted_manifest, unencrypted_mbfile,
};
use hearth_repo::{Progress, RepoError, Repository, SpanReader};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, UNIX_EPOCH};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    pub folder: PathBuf,
    /// Files the image holds now (written by this run or by the unfinished run it resumed).
    pub files: u64,
    pub bytes: u64,
    /// Files an unfinished earlier run had already written whole, left as they were.
    pub resumed: u64,
    /// Files that could not be written because their stored bytes are damaged or lost.
    pub damaged: Vec<DamagedFile>,
    /// Windows of files the image was written in (see [`execute`]).
    pub windows: u64,
    /// The most files planned in memory at once: those of two windows at most.
    pub most_files_held: u64,
    /// What whoever made the image must know about it ([`RestorePlan::notice`]): above all,
    /// that an unencrypted image of an encrypted backup holds its private data in the clear.
    pub notice: Option<String>,
}

/// A file of the plan that the image lacks: what it is, and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedFile {
    /// Its path in the device folder.
    pub path: String,
    /// Its Manifest.db domain and relative path, for a file a row describes.
    pub source: Option<(String, String)>,
    pub problem: String,
}

/// Beside the device folder while a restore into it is unfinished: the plan it writes, so that
/// the same restore run again finishes it, and nothing else is written into that folder.
fn marker_path(out: &Path, folder_name: &str) -> PathBuf {
    out.join(format!(".{folder_name}.hearth-restore"))
}

const MARKER_TEXT: &str = "Hearth is restoring into the folder beside this file, or a restore into it did not finish.\nRun the same `hearth restore` again to finish it, or remove this file and that folder.\n";

/// Writes the plan's files under `<out>/<folder name>/`. The folder must not exist, unless it
/// is an unfinished restore of the same plan (it is then finished: whole files are kept, the
/// rest written). A file whose stored bytes are damaged or lost is left out and listed in the
/// report; everything else is written. A restore that stops on another error (storage that
/// does not answer, a full disk) leaves the marker: run again, it finishes.
///
/// Memory does not grow with the number of files: the snapshot's entries are read again as a
/// stream, put in the order of their stored bytes in the packs (an external sort, on disk in
/// the cache folder beyond a few MiB), and written a window of files at a time
/// ([`WINDOW_FILES`]), two windows at most in memory, so that both threads stay busy across
/// the end of a window.
pub fn execute(
    repo: &Repository,
    plan: &RestorePlan,
    out: &Path,
    progress: &dyn Progress,
) -> Result<RestoreReport, RestoreError> {
    let io = |path: &Path, what, source| RestoreError::Io {
        path: path.to_path_buf(),
        what,
        source,
    };
    fs::create_dir_all(out).map_err(|e| io(out, "cannot create the output folder", e))?;
    if let Some(reason) = &plan.refused {
        return Err(RestoreError::Refused(reason.clone()));
    }
    let root = out.join(&plan.folder_name);
    // What can fail before a file is written fails before the device folder exists.
    let keys = class_keys(repo, plan)?;
    let survey = survey(repo, plan)?;
    let marker = marker_path(out, &plan.folder_name);
    let resuming = begin(&survey.fingerprint, &root, &marker)?;
    let image = Image {
        root: &root,
        marker: &marker,
        resuming,
        keys: keys.as_ref(),
    };
    image
        .write(repo, plan, survey, progress)
        .map_err(|e| e.unfinished(&root, &marker))
}

/// What a pass over the snapshot's entries finds before anything is written.
struct Survey {
    /// The big files ([`BIG_FILE`] and more), to be put largest first: the order a backup
    /// stores them in, two or more at once, so that their chunks lie interleaved in the packs
    /// and are best read at once again.
    big: Sorter,
    /// The other files whose stored bytes are read through spans, to be put in pack order.
    sorter: Sorter,
    /// Where the sorter keeps its runs.
    scratch: PathBuf,
    /// Files rebuilt without skipped entries (read on their own) and Status.plist (written
    /// last), in plan order.
    aside: Vec<PlannedFile>,
    /// The parent folder of each file.
    folders: BTreeSet<String>,
    fingerprint: String,
    files: u64,
}

/// One pass over the snapshot's entries: every path is checked, the plan's fingerprint taken,
/// and each kept file given to the sorter under the location of its first chunk.
fn survey(repo: &Repository, plan: &RestorePlan) -> Result<Survey, RestoreError> {
    let scratch = (repo.cache().path().parent()).map_or_else(std::env::temp_dir, Path::to_path_buf);
    let index = repo.cache().reader().map_err(RepoError::from)?;
    let mut survey = Survey {
        big: Sorter::new(&scratch),
        sorter: Sorter::new(&scratch),
        scratch,
        aside: Vec::new(),
        folders: BTreeSet::new(),
        fingerprint: String::new(),
        files: 0,
    };
    let mut fingerprint = Fingerprint::new(repo, plan);
    for (seq, e) in stream(repo, &plan.snapshot).enumerate() {
        let e = e?;
        if !plan.keeps(&e) {
            continue;
        }
        if !is_safe_path(&e.path) {
            return Err(RestoreError::UnsafePath { path: e.path });
        }
        let Some(c) = &e.content else { continue };
        let rewrite = plan.rewrite_for(&e.path);
        fingerprint.add(&e.path, c, rewrite);
        if let Some((dir, _)) = e.path.rsplit_once('/') {
            survey.folders.insert(dir.to_string());
        }
        survey.files += 1;
        if rewrite.is_some() || e.path == STATUS_PLIST {
            survey.aside.extend(plan.planned_file(e));
            continue;
        }
        let seq = seq as u64;
        if c.size >= BIG_FILE {
            let key = (largest_first(c.size), 0, seq);
            (survey.big.push(key, &e)).map_err(|e| scratch_error(&survey.scratch, e))?;
            continue;
        }
        let key = match c.chunks.first() {
            Some(id) => index
                .lookup(id)
                .map_err(RepoError::from)?
                .map_or(unlocated(seq), |l| (l.pack.0, l.entry.offset, seq)),
            None => unlocated(seq),
        };
        (survey.sorter.push(key, &e)).map_err(|e| scratch_error(&survey.scratch, e))?;
    }
    survey.fingerprint = fingerprint.finish();
    Ok(survey)
}

/// A key's first bytes for a file of `size`: bigger files sort first.
fn largest_first(size: u64) -> [u8; 32] {
    let mut key = [0u8; 32];
    let smaller = u64::MAX - size;
    for (i, b) in key.iter_mut().take(8).enumerate() {
        *b = (smaller >> (56 - 8 * i)) as u8;
    }
    key
}

fn scratch_error(dir: &Path, source: std::io::Error) -> RestoreError {
    RestoreError::Io {
        path: dir.to_path_buf(),
        what: "cannot keep the restore's file order in a temporary file there",
        source,
    }
}

/// Names a plan: the same snapshot for the same target gives the same fingerprint. (The
/// keyed hash of one line per file, in plan order, as whole plans were named before.)
struct Fingerprint(blake3::Hasher);

impl Fingerprint {
    fn new(repo: &Repository, plan: &RestorePlan) -> Self {
        let mut h = repo.keys().object_id_hasher();
        h.update(format!("{}\n{:?}\n", plan.folder_name, plan.target).as_bytes());
        // An encrypted backup's plaintext is another image than the backup itself (whose
        // fingerprint stays as it was): neither run finishes the other's.
        if plan.decrypts() {
            h.update(b"decrypted\n");
        }
        Fingerprint(h)
    }

    fn add(&mut self, path: &str, c: &Content, rewrite: Option<Rewrite>) {
        let line = format!(
            "{} {} {} {} {:?} {:?} {:?}\n",
            path, c.size, c.mtime_ns, c.mode, c.chunks, c.cipher, rewrite
        );
        self.0.update(line.as_bytes());
    }

    fn finish(self) -> String {
        hex_id(self.0.finalize().as_bytes())
    }
}

/// A window holds this many files, or fewer when they hold [`WINDOW_MAX_CHUNKS`] chunks. A cut
/// between two windows costs no bytes read twice: each window plans the spans of its own
/// blobs, which in pack order lie beside, not over, the next window's (only a file whose
/// chunks lie in several places, stored at different times, reaches into another's spans).
pub const WINDOW_FILES: usize = 4096;
pub const WINDOW_MAX_CHUNKS: usize = 64 * 1024;
/// The span budget of each window's reader: the whole of it. (With half of it, a restore of a
/// 79,000-file device read 26% more pack bytes: spans a thread still needed were dropped while
/// the other filled the budget.) Two windows at once may hold twice this.
const WINDOW_SPAN_BUDGET: u64 = hearth_repo::SPAN_BUDGET;

/// The files in order (the big ones largest first, then the rest in pack order), cut into
/// windows.
struct Windows<'p> {
    plan: &'p RestorePlan,
    sorted: std::iter::Chain<Sorted, Sorted>,
    scratch: &'p Path,
}

impl Windows<'_> {
    /// The next window's files, in pack order; empty at the end.
    fn next_window(&mut self) -> Result<Vec<PlannedFile>, RestoreError> {
        let (mut files, mut chunks) = (Vec::new(), 0);
        while files.len() < WINDOW_FILES && chunks < WINDOW_MAX_CHUNKS {
            let Some(next) = self.sorted.next() else {
                break;
            };
            let (_, entry) = next.map_err(|e| scratch_error(self.scratch, e))?;
            if let Some(f) = self.plan.planned_file(entry) {
                chunks += f.chunks.len();
                files.push(f);
            }
        }
        Ok(files)
    }
}

/// A window of files being written, and the reader of their spans.
struct Window<'r> {
    number: usize,
    /// In the order they are handed out: big files largest first, then by first span.
    files: Vec<PlannedFile>,
    spans: SpanReader<'r>,
    /// Files not written yet.
    left: AtomicUsize,
}

/// What the writing threads share.
#[derive(Default)]
struct Shared {
    damaged: Mutex<Vec<(DamagedFile, u64)>>,
    /// fileID → length written, of the decrypted files whose row records no Size (for the
    /// Manifest.db rebuilt after them).
    sizes: Mutex<BTreeMap<String, u64>>,
    resumed: AtomicU64,
    failed: Mutex<Option<RestoreError>>,
    stop: AtomicBool,
}

impl Shared {
    fn fail(&self, e: RestoreError) {
        self.stop.store(true, Ordering::Release);
        let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
        failed.get_or_insert(e);
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}

/// A device folder being written: a new one, or an unfinished one being finished.
struct Image<'a> {
    root: &'a Path,
    marker: &'a Path,
    resuming: bool,
    keys: Option<&'a ClassKeys>,
}

impl Image<'_> {
    /// Writes every file of the plan the folder lacks; removes the marker once nothing is.
    fn write(
        &self,
        repo: &Repository,
        plan: &RestorePlan,
        survey: Survey,
        progress: &dyn Progress,
    ) -> Result<RestoreReport, RestoreError> {
        let io = |path: &Path, what, source| RestoreError::Io {
            path: path.to_path_buf(),
            what,
            source,
        };
        let (root, marker) = (self.root, self.marker);
        make_folders(root, &survey.folders)?;
        progress.start("restoring files", Some(plan.bytes()));
        let shared = Shared::default();
        let sorted = |s: Sorter| s.finish().map_err(|e| scratch_error(&survey.scratch, e));
        let windows = Windows {
            plan,
            sorted: sorted(survey.big)?.chain(sorted(survey.sorter)?),
            scratch: &survey.scratch,
        };
        let held = self.write_windows(repo, plan, windows, &shared, progress)?;
        // Invariant: Status.plist is written last, once every other file is, so that a restore
        // that stopped short never leaves an image Finder or idevicebackup2 takes as finished.
        let (status, rebuilt): (Vec<&PlannedFile>, Vec<&PlannedFile>) =
            survey.aside.iter().partition(|f| f.path == STATUS_PLIST);
        for f in rebuilt.into_iter().chain(status) {
            self.restore_one(repo, None, plan, f, &shared, progress)?;
        }
        progress.finish();
        let mut damaged = shared
            .damaged
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        damaged.sort_by(|a, b| a.0.path.cmp(&b.0.path));
        if damaged.is_empty() {
            fs::remove_file(marker).map_err(|e| io(marker, "cannot remove it", e))?;
        }
        let lost: u64 = damaged.iter().map(|(_, size)| size).sum();
        Ok(RestoreReport {
            folder: root.to_path_buf(),
            files: survey.files - damaged.len() as u64,
            bytes: plan.bytes() - lost,
            resumed: shared.resumed.into_inner(),
            damaged: damaged.into_iter().map(|(d, _)| d).collect(),
            windows: held.windows,
            most_files_held: held.most_files,
            notice: plan.notice(root),
        })
    }

    /// Writes the windows' files: this thread cuts the windows and plans their spans, the
    /// writing threads take each file from a queue (see ingest's `store_contents`). A window
    /// is planned once the one before the last is written, so at most two are in memory.
    fn write_windows(
        &self,
        repo: &Repository,
        plan: &RestorePlan,
        mut windows: Windows<'_>,
        shared: &Shared,
        progress: &dyn Progress,
    ) -> Result<Held, RestoreError> {
        let threads = rayon::current_num_threads().max(1);
        let (jobs, queue) = crossbeam_channel::bounded::<(Arc<Window<'_>>, usize)>(2 * threads);
        let (done, finished) = crossbeam_channel::unbounded::<usize>();
        let produced = std::thread::scope(|scope| {
            for _ in 0..threads {
                let (queue, done) = (queue.clone(), done.clone());
                scope.spawn(move || {
                    for (window, i) in queue {
                        if !shared.stopped() {
                            let f = &window.files[i];
                            let r = self.restore_one(
                                repo,
                                Some(&window.spans),
                                plan,
                                f,
                                shared,
                                progress,
                            );
                            if let Err(e) = r {
                                shared.fail(e);
                            }
                        }
                        if window.left.fetch_sub(1, Ordering::AcqRel) == 1 {
                            let _ = done.send(window.number);
                        }
                    }
                });
            }
            drop((queue, done));
            let produced = produce(repo, &mut windows, &jobs, &finished, shared);
            drop(jobs);
            produced
        });
        let held = produced?;
        let failed = shared.failed.lock().map(|mut f| f.take());
        match failed.unwrap_or_else(|p| p.into_inner().take()) {
            Some(e) => Err(e),
            None => Ok(held),
        }
    }

    /// Writes one file (or finds it whole from an unfinished run); a file whose stored bytes
    /// are damaged is left out and listed.
    fn restore_one(
        &self,
        repo: &Repository,
        spans: Option<&SpanReader>,
        plan: &RestorePlan,
        f: &PlannedFile,
        shared: &Shared,
        progress: &dyn Progress,
    ) -> Result<(), RestoreError> {
        let io = |path: &Path, what, source| RestoreError::Io {
            path: path.to_path_buf(),
            what,
            source,
        };
        let path = self.root.join(&f.path);
        let written = if let Some(len) = self.resuming.then(|| whole_len(&path, f)).flatten() {
            shared.resumed.fetch_add(1, Ordering::Relaxed);
            Some(len)
        } else {
            remove_leftover(&path).map_err(|e| io(&path, "cannot replace it", e))?;
            match self.write_file(repo, spans, plan, f, &shared.sizes) {
                Ok(len) => Some(len),
                Err(e) if e.is_damage() => {
                    remove_leftover(&path).map_err(|e| io(&path, "cannot remove it", e))?;
                    let file = DamagedFile {
                        path: f.path.clone(),
                        source: f.source.clone(),
                        problem: e.to_string(),
                    };
                    (shared.damaged.lock())
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((file, f.size));
                    None
                }
                Err(e) => return Err(e),
            }
        };
        if let (Some(len), Some(id)) = (written, &f.unsized_row) {
            (shared.sizes.lock())
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id.clone(), len);
        }
        progress.advance(f.size);
        Ok(())
    }

    /// Writes one file of the plan; the bytes written.
    fn write_file(
        &self,
        repo: &Repository,
        spans: Option<&SpanReader>,
        plan: &RestorePlan,
        f: &PlannedFile,
        sizes: &Mutex<BTreeMap<String, u64>>,
    ) -> Result<u64, RestoreError> {
        let path = self.root.join(&f.path);
        let io = |what, source| RestoreError::Io {
            path: path.clone(),
            what,
            source,
        };
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| io("cannot create", e))?;
        let mut out = Output::new(&file, f, self.keys).map_err(|detail| RestoreError::FileKey {
            path: path.clone(),
            detail,
        })?;
        match f.rewrite {
            None => {
                let own;
                let spans = match spans {
                    Some(spans) => spans,
                    None => {
                        own = repo.span_reader(&f.chunks)?;
                        &own
                    }
                };
                spans.read_blobs(&f.chunks, |data| {
                    out.write_all(data).map_err(|e| io("write failed", e))
                })?
            }
            Some(how) => {
                let sizes = sizes.lock().unwrap_or_else(PoisonError::into_inner);
                let data = rewritten(repo, plan, f, how, &sizes)?;
                out.write_all(&data).map_err(|e| io("write failed", e))?;
            }
        }
        let written = out.finish().map_err(|e| io("write failed", e))?;
        if f.rewrite.is_none() && f.backup_len(written) != f.size {
            return Err(match f.decrypted {
                Some(_) => RestoreError::PlaintextSizeMismatch {
                    path,
                    written,
                    encrypted: f.backup_len(written),
                    expected: f.size,
                },
                None => RestoreError::SizeMismatch {
                    path,
                    written,
                    expected: f.size,
                },
            });
        }
        finish_file(&file, f).map_err(|e| io("cannot set mode and time", e))?;
        Ok(written)
    }
}

/// How many windows were written, and the most files two windows in a row held.
#[derive(Default)]
struct Held {
    windows: u64,
    most_files: u64,
}

/// Cuts the windows, plans each one's spans and queues its files, big files largest first
/// (so that the threads finish a window together), then small ones in the order of their first
/// span, so that each span is fetched about once.
fn produce<'r>(
    repo: &'r Repository,
    windows: &mut Windows<'_>,
    jobs: &crossbeam_channel::Sender<(Arc<Window<'r>>, usize)>,
    finished: &crossbeam_channel::Receiver<usize>,
    shared: &Shared,
) -> Result<Held, RestoreError> {
    let (mut done, mut held, mut last) = (BTreeSet::new(), Held::default(), 0);
    for number in 0.. {
        // At most two windows at once: the one before the last must be written.
        while number >= 2 && !done.contains(&(number - 2)) {
            match finished.recv() {
                Ok(n) => drop(done.insert(n)),
                Err(_) => return Ok(held),
            }
        }
        done = done.split_off(&number.saturating_sub(2));
        if shared.stopped() {
            return Ok(held);
        }
        let files = windows.next_window()?;
        if files.is_empty() {
            return Ok(held);
        }
        held.windows += 1;
        held.most_files = held.most_files.max((last + files.len()) as u64);
        last = files.len();
        let stored: Vec<ChunkId> = (files.iter())
            .flat_map(|f| f.chunks.iter().copied())
            .collect();
        let spans = repo.span_reader_within(&stored, WINDOW_SPAN_BUDGET)?;
        drop(stored);
        let (mut big, mut small): (Vec<PlannedFile>, Vec<PlannedFile>) =
            files.into_iter().partition(|f| f.size >= BIG_FILE);
        big.sort_by_key(|f| std::cmp::Reverse(f.size));
        small.sort_by_cached_key(|f| spans.first_span(&f.chunks));
        big.append(&mut small);
        let window = Arc::new(Window {
            number,
            left: AtomicUsize::new(big.len()),
            files: big,
            spans,
        });
        for i in 0..window.files.len() {
            if jobs.send((Arc::clone(&window), i)).is_err() || shared.stopped() {
                return Ok(held);
            }
        }
    }
    Ok(held)
}

/// Makes the device folder, or finds the unfinished restore of this same plan in it (true).
/// The marker is written first, so a crash at any moment leaves a folder a rerun finishes.
fn begin(fingerprint: &str, root: &Path, marker: &Path) -> Result<bool, RestoreError> {
    let io = |path: &Path, what, source| RestoreError::Io {
        path: path.to_path_buf(),
        what,
        source,
    };
    let text = format!("{MARKER_TEXT}plan {fingerprint}\n");
    match fs::symlink_metadata(root) {
        Ok(meta) => {
            return match read_marker(marker) {
                Some(t) if t == text && meta.is_dir() => Ok(true),
                Some(_) => Err(RestoreError::OtherUnfinished {
                    path: root.to_path_buf(),
                    marker: marker.to_path_buf(),
                }),
                None => Err(RestoreError::TargetExists {
                    path: root.to_path_buf(),
                }),
            };
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(root, "cannot look at it", e)),
    }
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(marker)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| io(marker, "cannot write it", e))?;
    match fs::create_dir(root) {
        Ok(()) => Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(RestoreError::TargetExists {
                path: root.to_path_buf(),
            })
        }
        Err(e) => Err(io(root, "cannot create the device folder", e)),
    }
}

/// The marker's text, if it is a file (never through a link) of a marker's size.
fn read_marker(marker: &Path) -> Option<String> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(marker)
        .ok()?;
    let mut text = String::new();
    file.take(4096).read_to_string(&mut text).ok()?;
    Some(text)
}

fn hex_id(id: &[u8; 32]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// The length of a file an earlier run finished: the right size (for a decrypted file, a
/// plaintext that encrypts to the backup's length), mode and time (set last, once written).
/// A rewritten file's size is known only once written, so it is always written again.
fn whole_len(path: &Path, f: &PlannedFile) -> Option<u64> {
    let meta = fs::symlink_metadata(path).ok()?;
    let whole = f.rewrite.is_none()
        && meta.is_file()
        && f.backup_len(meta.len()) == f.size
        && meta.permissions().mode() & 0o777 == f.mode & 0o777
        && meta.modified().ok() == system_time(f.mtime_ns);
    whole.then_some(meta.len())
}

/// Removes what an unfinished run (or a damaged read) left at `path`: a file or a link, never
/// what a link points to.
fn remove_leftover(path: &Path) -> std::io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Creates each parent folder once (the paths were checked). A folder that is there already
/// (a restore being finished) must be a folder, not a link to elsewhere.
fn make_folders(root: &Path, folders: &BTreeSet<String>) -> Result<(), RestoreError> {
    let mut made = std::collections::HashSet::new();
    for dir in folders {
        let mut p = root.to_path_buf();
        for part in dir.split('/') {
            p.push(part);
            if made.insert(p.clone()) {
                make_folder(&p)?;
            }
        }
    }
    Ok(())
}

fn make_folder(p: &Path) -> Result<(), RestoreError> {
    let io = |source| RestoreError::Io {
        path: p.to_path_buf(),
        what: "cannot create folder",
        source,
    };
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(RestoreError::NotAFolder {
            path: p.to_path_buf(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fs::create_dir(p).map_err(io),
        Err(e) => Err(io(e)),
    }
}

/// The class keys of an encrypted backup, from the key the repository keeps for its keybag.
fn class_keys(repo: &Repository, plan: &RestorePlan) -> Result<Option<ClassKeys>, RestoreError> {
    let Some(bag) = &plan.keybag else {
        return Ok(None);
    };
    bag.unlock_any(repo.device_keys(&bag.kdf.digest())?)
        .map(Some)
        .ok_or_else(|| RestoreError::NoDeviceKey {
            device: plan.device.name.clone(),
        })
}

/// Files at least this big are restored first, largest first.
const BIG_FILE: u64 = 4 << 20;

/// The plaintext of a file the image rebuilds: without the skipped entries, or as an
/// unencrypted backup has it. `sizes` gives the length written of each decrypted file whose
/// row records no Size (the rebuilt Manifest.db records it).
fn rewritten(
    repo: &Repository,
    plan: &RestorePlan,
    f: &PlannedFile,
    how: Rewrite,
    sizes: &BTreeMap<String, u64>,
) -> Result<Vec<u8>, RestoreError> {
    let stored = read_chunks(repo, &f.chunks, f.size)?;
    let bad = |detail: String| RestoreError::BadSnapshot {
        device: plan.device.name.clone(),
        detail: format!("{}: {detail}", f.path),
    };
    let name: &Path = f.path.as_ref();
    match how {
        Rewrite::ManifestDb => {
            let db = match f.cipher.or(f.decrypted) {
                Some(_) => database_of(&stored),
                None => &stored,
            };
            let rebuilt = match plan.decrypts() {
                true => ManifestDb::rebuilt(
                    db.to_vec(),
                    &plan.dropped_rows,
                    |id, file| unencrypted_mbfile(file, sizes.get(id).copied()).ok()?,
                    name,
                ),
                false => ManifestDb::without_rows(db.to_vec(), &plan.dropped_rows, name),
            };
            rebuilt.map_err(|e| bad(e.to_string()))
        }
        Rewrite::InfoPlist => {
            let info = parse_dictionary(&stored, name).map_err(|e| bad(e.to_string()))?;
            plist_like(&stored, without_apps(&info, &plan.dropped_apps)).map_err(bad)
        }
        Rewrite::ManifestPlist => {
            let manifest = parse_dictionary(&stored, name).map_err(|e| bad(e.to_string()))?;
            plist_like(&stored, unencrypted_manifest(&manifest)).map_err(bad)
        }
    }
}

/// An encrypted backup's Manifest.db as stored (its plaintext, with the padding that makes the
/// ciphertext whole blocks when it has one), without that padding: the database alone. A
/// database is whole pages (512 bytes or a larger power of two), so a plaintext of whole pages
/// has no padding, whatever its last bytes look like (as `ManifestDb::open_encrypted` reads it).
fn database_of(stored: &[u8]) -> &[u8] {
    match stored.len() % 512 {
        0 => stored,
        _ => strip_pkcs7(stored).unwrap_or(stored),
    }
}

/// `dict` as a property list of the format `like` is in: binary, else XML.
fn plist_like(like: &[u8], dict: plist::Dictionary) -> Result<Vec<u8>, String> {
    let value = plist::Value::Dictionary(dict);
    let mut out = Vec::new();
    let written = if like.starts_with(b"bplist00") {
        value.to_writer_binary(&mut out)
    } else {
        value.to_writer_xml(&mut out)
    };
    written.map_err(|e| e.to_string())?;
    Ok(out)
}

/// Where a file's stored bytes go: straight to the file, or through AES-256-CBC.
enum Output<'f> {
    Plain(CountingWriter<&'f File>),
    Encrypted(Box<EncryptingWriter<CountingWriter<&'f File>>>, bool),
}

impl<'f> Output<'f> {
    fn new(file: &'f File, f: &PlannedFile, keys: Option<&ClassKeys>) -> Result<Self, String> {
        let out = CountingWriter {
            inner: file,
            count: 0,
        };
        let Some(cipher) = &f.cipher else {
            return Ok(Output::Plain(out));
        };
        let keys = keys.ok_or("an encrypted file in a snapshot without a keybag")?;
        let key = keys
            .unwrap(&WrappedKey(cipher.wrapped_key))
            .map_err(|e| e.to_string())?;
        // A rebuilt file is padded: readers require PKCS#7 on what a writer emits.
        let pkcs7 = cipher.pkcs7 || f.rewrite.is_some();
        Ok(Output::Encrypted(
            Box::new(EncryptingWriter::new(out, &key)),
            pkcs7,
        ))
    }

    fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Output::Plain(w) => w.write_all(data),
            Output::Encrypted(w, _) => w.write_all(data),
        }
    }

    /// Bytes written to the file.
    fn finish(self) -> std::io::Result<u64> {
        Ok(match self {
            Output::Plain(w) => w.count,
            Output::Encrypted(w, pkcs7) => w.finish(pkcs7)?.count,
        })
    }
}

struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(data)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Sets the permission bits and the exact mtime (to the nanosecond, any i64 of seconds) of a
/// written file. Only the permission bits (0o777): whatever the snapshot records, a restored file
/// never gets setuid, setgid or sticky.
fn finish_file(file: &File, f: &PlannedFile) -> std::io::Result<()> {
    file.set_permissions(Permissions::from_mode(f.mode & 0o777))?;
    let mtime = system_time(f.mtime_ns).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "the snapshot records an mtime of {} ns, which no clock holds",
                f.mtime_ns
            ),
        )
    })?;
    file.set_modified(mtime)
}

/// The time `mtime_ns` (nanoseconds since 1970, any i64 of seconds) names, if a clock holds it.
fn system_time(mtime_ns: i128) -> Option<std::time::SystemTime> {
    let (secs, nanos) = hearth_format::entry::split_mtime(mtime_ns)?;
    let whole = Duration::from_secs(secs.unsigned_abs());
    let seconds = if secs >= 0 {
        UNIX_EPOCH.checked_add(whole)
    } else {
        UNIX_EPOCH.checked_sub(whole)
    };
    seconds.and_then(|t| t.checked_add(Duration::from_nanos(nanos.into())))
}
