//! Writing a [`RestorePlan`] to disk.

use crate::apps::without_apps;
use crate::error::RestoreError;
use crate::plan::{PlannedFile, RestorePlan, Rewrite, read_chunks};
use hearth_format::entry::is_safe_path;
use hearth_mobilesync::encryption::strip_pkcs7;
use hearth_mobilesync::encryption::{ClassKeys, EncryptingWriter, WrappedKey};
use hearth_mobilesync::{ManifestDb, parse_dictionary};
use hearth_repo::{Progress, Repository, SpanReader};
use rayon::prelude::*;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    pub folder: PathBuf,
    pub files: u64,
    pub bytes: u64,
}

/// Writes the plan's files under `<out>/<folder name>/`, which must not exist yet.
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
    match fs::create_dir(&root) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(RestoreError::TargetExists { path: root });
        }
        Err(e) => return Err(io(&root, "cannot create the device folder", e)),
    }
    make_folders(&root, &plan.files)?;
    progress.start("restoring files", Some(plan.bytes()));
    // Each file to whichever thread is free (see ingest's `store_contents`): big files largest
    // first, so that the threads finish together, then small ones in the order of their first
    // span, so that each span is fetched about once.
    let (mut big, mut small): (Vec<&PlannedFile>, Vec<&PlannedFile>) =
        plan.files.iter().partition(|f| f.size >= BIG_FILE);
    big.sort_by_key(|f| std::cmp::Reverse(f.size));
    small.sort_by_cached_key(|f| spans.first_span(&f.chunks));
    big.into_iter()
        .chain(small)
        .par_bridge()
        .try_for_each(|f| {
            write_file(repo, &spans, plan, &root, f, keys.as_ref())?;
            progress.advance(f.size);
            Ok::<_, RestoreError>(())
        })?;
    progress.finish();
    Ok(RestoreReport {
        folder: root,
        files: plan.files.len() as u64,
        bytes: plan.bytes(),
    })
}

/// Creates each parent folder once, refusing any path that is not safe.
fn make_folders(root: &Path, files: &[PlannedFile]) -> Result<(), RestoreError> {
    let mut made = std::collections::HashSet::new();
    for f in files {
        if !is_safe_path(&f.path) {
            return Err(RestoreError::UnsafePath {
                path: f.path.clone(),
            });
        }
        if let Some((dir, _)) = f.path.rsplit_once('/')
            && made.insert(dir.to_string())
        {
            let p = root.join(dir);
            fs::create_dir_all(&p).map_err(|e| RestoreError::Io {
                path: p,
                what: "cannot create folder",
                source: e,
            })?;
        }
    }
    Ok(())
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
    let invalid = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "the snapshot records an mtime of {} ns, which no clock holds",
                f.mtime_ns
            ),
        )
    };
    let (secs, nanos) = hearth_format::entry::split_mtime(f.mtime_ns).ok_or_else(invalid)?;
    let whole = Duration::from_secs(secs.unsigned_abs());
    let seconds = if secs >= 0 {
        UNIX_EPOCH.checked_add(whole)
    } else {
        UNIX_EPOCH.checked_sub(whole)
    };
    let mtime = seconds
        .and_then(|t| t.checked_add(Duration::from_nanos(nanos.into())))
        .ok_or_else(invalid)?;
    file.set_modified(mtime)
}
