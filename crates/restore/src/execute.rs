//! Writing a [`RestorePlan`] to disk.

use crate::apps::without_apps;
use crate::error::RestoreError;
use crate::plan::{PlannedFile, RestorePlan, Rewrite, read_chunks};
use hearth_format::entry::is_safe_path;
use hearth_mobilesync::encryption::strip_pkcs7;
use hearth_mobilesync::encryption::{ClassKeys, EncryptingWriter, WrappedKey};
use hearth_mobilesync::{ManifestDb, STATUS_PLIST, parse_dictionary};
use hearth_repo::{Progress, Repository, SpanReader};
use rayon::prelude::*;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
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
    // The stored bytes are read through spans of their packs, shared between files (chunks of
    // files backed up at the same time are interleaved in the packs); a rewritten file's are
    // read on their own.
    let stored: Vec<_> = plan
        .files
        .iter()
        .filter(|f| f.rewrite.is_none())
        .flat_map(|f| f.chunks.iter().copied())
        .collect();
    let spans = repo.span_reader(&stored)?;
    drop(stored);
    let marker = marker_path(out, &plan.folder_name);
    let resuming = begin(repo, plan, &root, &marker)?;
    let image = Image {
        root: &root,
        marker: &marker,
        resuming,
        keys: keys.as_ref(),
        spans: &spans,
    };
    image
        .write(repo, plan, progress)
        .map_err(|e| e.unfinished(&root, &marker))
}

/// A device folder being written: a new one, or an unfinished one being finished.
struct Image<'a> {
    root: &'a Path,
    marker: &'a Path,
    resuming: bool,
    keys: Option<&'a ClassKeys>,
    spans: &'a SpanReader<'a>,
}

impl Image<'_> {
    /// Writes every file of the plan the folder lacks; removes the marker once nothing is.
    fn write(
        &self,
        repo: &Repository,
        plan: &RestorePlan,
        progress: &dyn Progress,
    ) -> Result<RestoreReport, RestoreError> {
        let io = |path: &Path, what, source| RestoreError::Io {
            path: path.to_path_buf(),
            what,
            source,
        };
        let (root, marker, resuming, keys, spans) =
            (self.root, self.marker, self.resuming, self.keys, self.spans);
        make_folders(root, &plan.files)?;
        progress.start("restoring files", Some(plan.bytes()));
        // Each file to whichever thread is free (see ingest's `store_contents`): big files largest
        // first, so that the threads finish together, then small ones in the order of their first
        // span, so that each span is fetched about once.
        // Invariant: Status.plist is written last, once every other file is, so that a restore
        // that stopped short never leaves an image Finder or idevicebackup2 takes as finished.
        let (status, files): (Vec<&PlannedFile>, Vec<&PlannedFile>) =
            plan.files.iter().partition(|f| f.path == STATUS_PLIST);
        let (mut big, mut small): (Vec<&PlannedFile>, Vec<&PlannedFile>) =
            files.into_iter().partition(|f| f.size >= BIG_FILE);
        big.sort_by_key(|f| std::cmp::Reverse(f.size));
        small.sort_by_cached_key(|f| spans.first_span(&f.chunks));
        let damaged = Mutex::new(Vec::new());
        let resumed = AtomicU64::new(0);
        let restore_one = |f: &PlannedFile| {
            let path = root.join(&f.path);
            if resuming && is_whole(&path, f) {
                resumed.fetch_add(1, Ordering::Relaxed);
            } else {
                remove_leftover(&path).map_err(|e| io(&path, "cannot replace it", e))?;
                match write_file(repo, spans, plan, root, f, keys) {
                    Ok(()) => {}
                    Err(e) if e.is_damage() => {
                        remove_leftover(&path).map_err(|e| io(&path, "cannot remove it", e))?;
                        damaged
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(DamagedFile {
                                path: f.path.clone(),
                                source: f.source.clone(),
                                problem: e.to_string(),
                            });
                    }
                    Err(e) => return Err(e),
                }
            }
            progress.advance(f.size);
            Ok::<_, RestoreError>(())
        };
        big.into_iter()
            .chain(small)
            .par_bridge()
            .try_for_each(restore_one)?;
        status.into_iter().try_for_each(restore_one)?;
        progress.finish();
        let mut damaged = damaged.into_inner().unwrap_or_else(PoisonError::into_inner);
        damaged.sort_by(|a, b| a.path.cmp(&b.path));
        if damaged.is_empty() {
            fs::remove_file(marker).map_err(|e| io(marker, "cannot remove it", e))?;
        }
        let lost: u64 = (plan.files.iter())
            .filter(|f| damaged.binary_search_by(|d| d.path.cmp(&f.path)).is_ok())
            .map(|f| f.size)
            .sum();
        Ok(RestoreReport {
            folder: root.to_path_buf(),
            files: plan.files.len() as u64 - damaged.len() as u64,
            bytes: plan.bytes() - lost,
            resumed: resumed.into_inner(),
            damaged,
        })
    }
}

/// Makes the device folder, or finds the unfinished restore of this same plan in it (true).
/// The marker is written first, so a crash at any moment leaves a folder a rerun finishes.
fn begin(
    repo: &Repository,
    plan: &RestorePlan,
    root: &Path,
    marker: &Path,
) -> Result<bool, RestoreError> {
    let io = |path: &Path, what, source| RestoreError::Io {
        path: path.to_path_buf(),
        what,
        source,
    };
    let text = format!("{MARKER_TEXT}plan {}\n", fingerprint(repo, plan));
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

/// Names a plan: the same snapshot for the same target gives the same fingerprint.
fn fingerprint(repo: &Repository, plan: &RestorePlan) -> String {
    let mut text = format!("{}\n{:?}\n", plan.folder_name, plan.target);
    for f in &plan.files {
        text.push_str(&format!(
            "{} {} {} {} {:?} {:?} {:?}\n",
            f.path, f.size, f.mtime_ns, f.mode, f.chunks, f.cipher, f.rewrite
        ));
    }
    hex_id(&repo.keys().object_id(text.as_bytes()))
}

fn hex_id(id: &[u8; 32]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file an earlier run finished: the right size, mode and time (set last, once written).
/// A rewritten file's size is known only once written, so it is always written again.
fn is_whole(path: &Path, f: &PlannedFile) -> bool {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return false;
    };
    f.rewrite.is_none()
        && meta.is_file()
        && meta.len() == f.size
        && meta.permissions().mode() & 0o777 == f.mode & 0o777
        && meta.modified().ok() == system_time(f.mtime_ns)
}

/// Removes what an unfinished run (or a damaged read) left at `path`: a file or a link, never
/// what a link points to.
fn remove_leftover(path: &Path) -> std::io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Creates each parent folder once, refusing any path that is not safe. A folder that is
/// there already (a restore being finished) must be a folder, not a link to elsewhere.
fn make_folders(root: &Path, files: &[PlannedFile]) -> Result<(), RestoreError> {
    let mut made = std::collections::HashSet::new();
    for f in files {
        if !is_safe_path(&f.path) {
            return Err(RestoreError::UnsafePath {
                path: f.path.clone(),
            });
        }
        let Some((dir, _)) = f.path.rsplit_once('/') else {
            continue;
        };
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

fn write_file(
    repo: &Repository,
    spans: &SpanReader,
    plan: &RestorePlan,
    root: &Path,
    f: &PlannedFile,
    keys: Option<&ClassKeys>,
) -> Result<(), RestoreError> {
    let path = root.join(&f.path);
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
    let mut out = Output::new(&file, f, keys).map_err(|detail| RestoreError::FileKey {
        path: path.clone(),
        detail,
    })?;
    match f.rewrite {
        None => spans.read_blobs(&f.chunks, |data| {
            out.write_all(data).map_err(|e| io("write failed", e))
        })?,
        Some(how) => {
            let data = rewritten(repo, plan, f, how)?;
            out.write_all(&data).map_err(|e| io("write failed", e))?;
        }
    }
    let written = out.finish().map_err(|e| io("write failed", e))?;
    if f.rewrite.is_none() && written != f.size {
        return Err(RestoreError::SizeMismatch {
            path,
            written,
            expected: f.size,
        });
    }
    finish_file(&file, f).map_err(|e| io("cannot set mode and time", e))
}

/// The plaintext of a file the image rebuilds without the skipped entries.
fn rewritten(
    repo: &Repository,
    plan: &RestorePlan,
    f: &PlannedFile,
    how: Rewrite,
) -> Result<Vec<u8>, RestoreError> {
    let stored = read_chunks(repo, &f.chunks, f.size)?;
    let bad = |detail: String| RestoreError::BadSnapshot {
        device: plan.device.name.clone(),
        detail: format!("{}: {detail}", f.path),
    };
    match how {
        Rewrite::ManifestDb => {
            // An encrypted Manifest.db is stored with its padding: SQLite gets the database only.
            let db = match f.cipher {
                Some(_) => strip_pkcs7(&stored).unwrap_or(&stored),
                None => &stored,
            };
            ManifestDb::without_rows(db.to_vec(), &plan.dropped_rows, f.path.as_ref())
                .map_err(|e| bad(e.to_string()))
        }
        Rewrite::InfoPlist => {
            let info =
                parse_dictionary(&stored, f.path.as_ref()).map_err(|e| bad(e.to_string()))?;
            let value = plist::Value::Dictionary(without_apps(&info, &plan.dropped_apps));
            let mut out = Vec::new();
            let written = if stored.starts_with(b"bplist00") {
                value.to_writer_binary(&mut out)
            } else {
                value.to_writer_xml(&mut out)
            };
            written.map_err(|e| bad(e.to_string()))?;
            Ok(out)
        }
    }
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
