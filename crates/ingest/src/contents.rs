//! Storing the content of a device folder's files: in parallel, largest first, reusing the
//! parent snapshot's chunks for unchanged files, and decrypting an encrypted backup's blobs so
//! their plaintext deduplicates. A file that is not what the folder scan saw, or changes while
//! it is read, stops the read of the device: the folder is being written (see `watch`).

use crate::entries::{PlannedEntry, blob_state, settle};
use crate::error::IngestError;
use crate::prefetch::Prefetch;
use crate::walk::FoundFile;
use hearth_format::entry::SIZE_ABSENT;
use hearth_format::{BlobKind, Cipher, Content, Entry, RowState, SnapshotSummary, Warning};
use hearth_mobilesync::encryption::{ClassKeys, DecryptingReader, EncryptionError, WrappedKey};
use hearth_mobilesync::{MANIFEST_DB, STATUS_PLIST};
use hearth_repo::{Entries, Progress, RepoError, StoreFileError, Tally};
use rayon::prelude::*;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// What an encrypted backup needs to be read: its class keys and its decrypted Manifest.db,
/// stored when the backup was opened (so that its plaintext is not kept in memory meanwhile).
pub(crate) struct Decryption {
    pub keys: ClassKeys,
    /// The chunks of the decrypted Manifest.db, padding kept (encrypting it again without
    /// padding gives back the file), and the length of the ciphertext read.
    pub manifest_db: (Vec<hearth_format::ChunkId>, u64),
    pub manifest_key: WrappedKey,
}

/// How a file's content was obtained.
pub(crate) enum Origin {
    New,
    Changed,
    Unmodified,
}

/// How a file becomes stored content.
#[derive(Clone, Copy)]
enum Reading<'a> {
    /// The bytes as they are in the folder.
    AsFound,
    /// The plaintext of an encrypted blob with this `EncryptionKey` and recorded `Size`.
    Decrypt(&'a [u8], Option<u64>),
    /// An encrypted backup's Manifest.db (already decrypted in memory) and its ManifestKey.
    ManifestDb(&'a [u8]),
}

impl Reading<'_> {
    /// How `p` is read when its blob is `size` bytes long: decrypted only when that length is
    /// the one its row implies (else the plaintext could not be encrypted back to the file).
    fn of<'p>(p: &'p PlannedEntry, size: u64, d: Option<&'p Decryption>) -> Reading<'p> {
        let length_ok = p
            .expected
            .is_some_and(|e| blob_state(e, size) == RowState::Ok);
        match (d, &p.encryption_key, &p.row) {
            (None, _, _) => Reading::AsFound,
            (Some(d), _, None) if p.path == MANIFEST_DB => Reading::ManifestDb(&d.manifest_key.0),
            (Some(_), Some(key), Some(row)) if length_ok => {
                Reading::Decrypt(key, Some(row.recorded_size).filter(|&s| s != SIZE_ABSENT))
            }
            _ => Reading::AsFound,
        }
    }

    /// The wrapped key a parent's content must carry to be reused as is.
    fn wrapped_key(self) -> Option<Vec<u8>> {
        match self {
            Reading::Decrypt(key, _) | Reading::ManifestDb(key) => Some(key.to_vec()),
            Reading::AsFound => None,
        }
    }
}

/// What reading one file produced.
struct Outcome {
    content: Option<Content>,
    warning: Option<String>,
    undecryptable: bool,
}

impl Outcome {
    fn stored(content: Content) -> Self {
        Outcome {
            content: Some(content),
            warning: None,
            undecryptable: false,
        }
    }

    fn not_stored(warning: String) -> Self {
        Outcome {
            content: None,
            warning: Some(warning),
            undecryptable: false,
        }
    }
}

/// Where files are read from and stored to, and the first change seen while reading them.
struct Source<'a, 's, 'r> {
    session: &'a Tally<'s, 'r>,
    folder: &'a Path,
    decryption: Option<&'a Decryption>,
    changed: Mutex<Option<String>>,
    /// Set with `changed`: the files not read yet are not read.
    stop: AtomicBool,
}

impl Source<'_, '_, '_> {
    /// Records the first change seen; reading stops.
    fn changed(&self, what: String) {
        self.changed.lock().expect("changed").get_or_insert(what);
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Planned entries taken at a time: their files are read in parallel, largest first, and
/// their entries handed on in path order. Memory holds about one window.
const WINDOW: usize = 2048;

/// Why storing a device folder's files stopped before the end.
pub(crate) enum Stop {
    /// A file was not what the scan saw, or changed while it was read: what, for a message.
    /// What was stored so far is in the session, named by nothing.
    Changed(String),
    Failed(IngestError),
}

/// The parent snapshot's entries, walked beside the planned ones (both in path order).
pub(crate) struct ParentCursor<'r> {
    /// `None` once there is nothing more to take: no parent, its end, or it stopped reading.
    entries: Option<Entries<'r>>,
    head: Option<Entry>,
    /// Every entry so far equals the parent's at its path, and the parent has no other.
    pub(crate) same: bool,
    /// Why the parent's file list stopped reading, if it did (its files after that point are
    /// read again).
    pub(crate) unreadable: Option<String>,
}

impl<'r> ParentCursor<'r> {
    pub(crate) fn new(entries: Option<Entries<'r>>) -> Self {
        ParentCursor {
            same: entries.is_some(),
            entries,
            head: None,
            unreadable: None,
        }
    }

    /// The parent's entry at `path`; entries before it, which nothing matched, are passed.
    fn at(&mut self, path: &str) -> Result<Option<Entry>, RepoError> {
        loop {
            let Some(head) = self
                .head
                .take()
                .map_or_else(|| self.pull(), |h| Ok(Some(h)))?
            else {
                return Ok(None);
            };
            match head.path.as_str().cmp(path) {
                std::cmp::Ordering::Less => self.same = false,
                std::cmp::Ordering::Equal => return Ok(Some(head)),
                std::cmp::Ordering::Greater => {
                    self.head = Some(head);
                    return Ok(None);
                }
            }
        }
    }

    fn pull(&mut self) -> Result<Option<Entry>, RepoError> {
        let Some(entries) = &mut self.entries else {
            return Ok(None);
        };
        match entries.next() {
            Some(Ok(entry)) => Ok(Some(entry)),
            None => {
                self.entries = None;
                Ok(None)
            }
            Some(Err(e)) if e.is_damage() => {
                self.unreadable = Some(e.to_string());
                self.entries = None;
                self.same = false;
                Ok(None)
            }
            Some(Err(e)) => Err(e),
        }
    }

    /// At the end of the planned entries: a parent entry left means the backups differ.
    fn finish(&mut self) -> Result<(), RepoError> {
        if self.head.is_some() || self.pull()?.is_some() {
            self.same = false;
        }
        Ok(())
    }
}

/// The entries of a device folder, in path order, each file's content stored (or the parent
/// snapshot's reused) as the entries are taken, one window at a time. It ends early when
/// storing stops ([`Storing::stop`]).
pub(crate) struct Storing<'a, 's, 'r, P: Iterator<Item = PlannedEntry>> {
    src: Source<'a, 's, 'r>,
    pub(crate) planned: P,
    pub(crate) parent: ParentCursor<'r>,
    ready: std::collections::VecDeque<Entry>,
    /// The snapshot's counts so far (but `bytes_added`).
    pub(crate) summary: SnapshotSummary,
    pub(crate) warnings: Vec<Warning>,
    /// A file was read (new or changed); an unchanged device backup reads none.
    pub(crate) read_any: bool,
    pub(crate) stop: Option<Stop>,
    progress: &'a dyn Progress,
}

impl<'a, 's, 'r, P: Iterator<Item = PlannedEntry>> Storing<'a, 's, 'r, P> {
    pub(crate) fn new(
        session: &'a Tally<'s, 'r>,
        folder: &'a Path,
        planned: P,
        parent: ParentCursor<'r>,
        decryption: Option<&'a Decryption>,
        progress: &'a dyn Progress,
    ) -> Self {
        progress.start("reading files", None);
        Storing {
            src: Source {
                session,
                folder,
                decryption,
                changed: Mutex::new(None),
                stop: AtomicBool::new(false),
            },
            planned,
            parent,
            ready: std::collections::VecDeque::new(),
            summary: SnapshotSummary::default(),
            warnings: Vec::new(),
            read_any: false,
            stop: None,
            progress,
        }
    }

    /// Stores the files of the next window; false at the end (or when storing stopped).
    fn next_window(&mut self) -> bool {
        let window: Vec<PlannedEntry> = self.planned.by_ref().take(WINDOW).collect();
        let stored = if window.is_empty() {
            self.parent.finish().map_err(|e| Stop::Failed(e.into()))
        } else {
            self.store_window(window)
        };
        match stored {
            Ok(()) => !self.ready.is_empty(),
            Err(stop) => {
                self.stop = Some(stop);
                false
            }
        }
    }

    /// Stores the content of every planned file of `window` (Status.plist, which says which
    /// device backup this is, is read every time; it counts as unmodified when it holds
    /// exactly the parent's bytes), and queues their entries.
    fn store_window(&mut self, window: Vec<PlannedEntry>) -> Result<(), Stop> {
        let failed = |e: RepoError| Stop::Failed(e.into());
        let mut parents = Vec::with_capacity(window.len());
        for p in &window {
            parents.push(self.parent.at(&p.path).map_err(failed)?);
        }
        let decryption = self.src.decryption;
        let reuse = |(p, parent): (&PlannedEntry, &Option<Entry>)| -> Option<Content> {
            let f = p.file.as_ref().filter(|f| f.path != STATUS_PLIST)?;
            let key = Reading::of(p, f.size, decryption).wrapped_key();
            unchanged(parent.as_ref()?.content.as_ref()?, f, key).cloned()
        };
        let mut reused: Vec<Option<Content>> = window.iter().zip(&parents).map(reuse).collect();
        forget_unsound(self.src.session, &mut reused).map_err(failed)?;
        let mut to_read: Vec<usize> = (0..window.len())
            .filter(|&i| window[i].file.is_some() && reused[i].is_none())
            .collect();
        to_read.sort_by_key(|&i| std::cmp::Reverse(window[i].file.as_ref().map_or(0, |f| f.size)));
        // Files are taken one at a time, largest first, by whichever thread is free
        // (`par_bridge` pulls from the shared iterator in order): splitting the list in halves
        // up front would leave one thread with every large file and the other idle.
        let (src, progress) = (&self.src, self.progress);
        // Every file read is opened once, ahead of its reader (`prefetch`), but an encrypted
        // backup's Manifest.db, read when the backup was opened.
        let paths: Vec<Option<&str>> = to_read
            .iter()
            .map(|&i| {
                let f = window[i].file.as_ref().expect("filtered on file");
                let reading = Reading::of(&window[i], f.size, src.decryption);
                (!matches!(reading, Reading::ManifestDb(_))).then_some(window[i].path.as_str())
            })
            .collect();
        let read: Vec<(usize, Outcome)> = Prefetch::run(src.folder, &paths, &src.stop, |opened| {
            to_read
                .iter()
                .enumerate()
                .par_bridge()
                .map(|(k, &i)| {
                    let f = window[i].file.as_ref().expect("filtered on file");
                    if src.stop.load(Ordering::Relaxed) {
                        return Ok((i, Outcome::not_stored("not read".into())));
                    }
                    let outcome = read_one(src, &window[i], f, || opened.take(k))?;
                    progress.advance(f.size);
                    Ok((i, outcome))
                })
                .collect::<Result<_, RepoError>>()
        })
        .map_err(failed)?;
        if let Some(what) = self.src.changed.lock().expect("changed").take() {
            return Err(Stop::Changed(what));
        }
        let mut fresh: HashMap<usize, Outcome> = read.into_iter().collect();
        for (((i, p), reused), parent) in window.into_iter().enumerate().zip(reused).zip(parents) {
            let entry = self.settle_entry(p, fresh.remove(&i), reused, parent.as_ref());
            self.parent.same &= parent.as_ref() == Some(&entry);
            self.ready.push_back(entry);
        }
        Ok(())
    }

    /// The entry of `p`: its content read (`outcome`), reused from the parent, or none; its
    /// row's state following the length of what was stored. Counts it in the summary.
    fn settle_entry(
        &mut self,
        p: PlannedEntry,
        outcome: Option<Outcome>,
        reused: Option<Content>,
        parent: Option<&Entry>,
    ) -> Entry {
        let parent_content = parent.and_then(|e| e.content.as_ref());
        let (content, origin, undecryptable) = match outcome {
            Some(outcome) => {
                if let Some(message) = outcome.warning {
                    self.warnings.push(Warning {
                        path: p.path.clone(),
                        message,
                    });
                }
                // Status.plist, read every time, is unmodified when it is the parent's.
                let origin = match parent_content {
                    Some(c) if p.path == STATUS_PLIST && outcome.content.as_ref() == Some(c) => {
                        Origin::Unmodified
                    }
                    Some(_) => Origin::Changed,
                    None => Origin::New,
                };
                (outcome.content, origin, outcome.undecryptable)
            }
            None => (reused, Origin::Unmodified, false),
        };
        let mut row = p.row;
        if let (Some(r), Some(expected), Some(f)) = (&mut row, p.expected, &p.file) {
            let size = content.as_ref().map_or(f.size, |c| c.size);
            if let Some(message) = settle(r, expected, size, undecryptable) {
                self.warnings.push(Warning {
                    path: p.path.clone(),
                    message,
                });
            }
        }
        if let Some(c) = &content {
            let s = &mut self.summary;
            s.files += 1;
            s.bytes += c.size;
            match origin {
                Origin::New => s.files_new += 1,
                Origin::Changed => s.files_changed += 1,
                Origin::Unmodified => s.files_unmodified += 1,
            }
            if matches!(origin, Origin::New | Origin::Changed) {
                s.bytes_read += c.size;
                self.read_any = true;
            }
        }
        Entry {
            path: p.path,
            row,
            content,
        }
    }
}

impl<P: Iterator<Item = PlannedEntry>> Iterator for Storing<'_, '_, '_, P> {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        if self.ready.is_empty() && (self.stop.is_some() || !self.next_window()) {
            self.progress.finish();
            return None;
        }
        self.ready.pop_front()
    }
}

/// Drops the parent's contents that name a chunk the repository no longer has a sound copy
/// of (lost or damaged): those files are read again, which stores the chunk again.
fn forget_unsound(
    session: &Tally<'_, '_>,
    reusable: &mut [Option<Content>],
) -> Result<(), RepoError> {
    for slot in reusable.iter_mut() {
        if let Some(c) = slot
            && !session.reusable(&c.chunks)?
        {
            *slot = None;
        }
    }
    Ok(())
}

/// The parent's content `c` for `f` when size, mtime and mode are unchanged and it was stored
/// the way this file would be (decrypted under the same wrapped key, or as found).
fn unchanged<'a>(
    c: &'a Content,
    f: &FoundFile,
    wrapped_key: Option<Vec<u8>>,
) -> Option<&'a Content> {
    (c.size == f.size
        && c.mtime_ns == f.mtime_ns
        && c.mode == f.mode
        && c.cipher.map(|c| c.wrapped_key.to_vec()) == wrapped_key)
        .then_some(c)
}

/// Reads and stores one file. What is stored is what was read: the content's size is the count
/// of bytes taken from the file (beneath any decryption). A file that is not what the folder
/// scan saw, or changes while it is read, is recorded in `src` as a change (its outcome is then
/// never used).
fn read_one(
    src: &Source<'_, '_, '_>,
    p: &PlannedEntry,
    walked: &FoundFile,
    open: impl FnOnce() -> Result<File, String>,
) -> Result<Outcome, RepoError> {
    if let Reading::ManifestDb(_) = Reading::of(p, walked.size, src.decryption) {
        return read_manifest_db(src, p, walked);
    }
    match read_pass(src, p, walked, open())? {
        Ok(pass) if pass.changed() => {
            src.changed(format!(
                "{} changed while it was read ({} bytes when the folder was scanned, {} when the read ended)",
                p.path, walked.size, pass.after.size
            ));
            Ok(pass.outcome)
        }
        Ok(pass) => Ok(pass.outcome),
        Err(outcome) => Ok(outcome),
    }
}

/// One read of an open file: what it produced, the file as fstat saw it when the read ended
/// (`after`), and the bytes read.
struct Pass<'w> {
    outcome: Outcome,
    /// The file as the folder scan saw it.
    seen: &'w FoundFile,
    after: FoundFile,
    read: u64,
    /// The read went to the end of the file (an error stops it early).
    completed: bool,
}

impl Pass<'_> {
    /// True when the file is not as `seen`, or what was read is not as long as it: it changed.
    fn changed(&self) -> bool {
        self.after.size != self.seen.size
            || self.after.mtime_ns != self.seen.mtime_ns
            || (self.completed && self.read != self.seen.size)
    }
}

/// Reads the file of `p`, just opened (`opened`, see [`crate::prefetch::open`]), once, taking it to
/// be as the folder scan saw it (`seen`). `Err`: it could not be opened.
fn read_pass<'w>(
    src: &Source<'_, '_, '_>,
    p: &PlannedEntry,
    seen: &'w FoundFile,
    opened: Result<File, String>,
) -> Result<Result<Pass<'w>, Outcome>, RepoError> {
    let file = match opened {
        Ok(file) => file,
        Err(message) => return Ok(Err(Outcome::not_stored(message))),
    };
    let reading = Reading::of(p, seen.size, src.decryption);
    let (outcome, read, completed) = read_open(src, &file, seen, reading)?;
    let after = match file.metadata() {
        Ok(meta) => FoundFile::new(p.path.clone(), &meta),
        Err(e) => {
            return Ok(Err(Outcome::not_stored(format!(
                "cannot stat: {e}; not backed up"
            ))));
        }
    };
    Ok(Ok(Pass {
        outcome,
        seen,
        after,
        read,
        completed,
    }))
}

/// An encrypted backup's Manifest.db, decrypted and stored when the backup was opened: its
/// size is that of the ciphertext that was read then.
fn read_manifest_db(
    src: &Source<'_, '_, '_>,
    p: &PlannedEntry,
    walked: &FoundFile,
) -> Result<Outcome, RepoError> {
    let d = src
        .decryption
        .expect("ManifestDb reading needs a decryption");
    let (chunks, read) = d.manifest_db.clone();
    let cipher = Cipher {
        wrapped_key: d.manifest_key.0,
        pkcs7: false,
    };
    if read != walked.size {
        src.changed(format!(
            "{} changed while it was read ({read} bytes when it was decrypted, {} when the folder was scanned)",
            p.path, walked.size
        ));
    }
    Ok(Outcome::stored(content_of(
        walked,
        read,
        chunks,
        Some(cipher),
    )))
}

enum ReadFailure {
    /// The source file could not be read: a warning, the file is not backed up.
    Source(String),
    /// The blob does not decrypt: it is stored as found instead.
    Undecryptable(EncryptionError),
    Repo(RepoError),
}

fn outcome(r: Result<Content, ReadFailure>) -> Result<Outcome, RepoError> {
    match r {
        Ok(c) => Ok(Outcome::stored(c)),
        Err(ReadFailure::Source(msg)) => Ok(Outcome::not_stored(msg)),
        Err(ReadFailure::Repo(e)) => Err(e),
        Err(ReadFailure::Undecryptable(e)) => Ok(Outcome {
            content: None,
            warning: Some(format!("cannot decrypt: {e}; not backed up")),
            undecryptable: true,
        }),
    }
}

/// Reads `file` the way `reading` says, from its start: the outcome, the bytes read from the
/// file, and whether the read went to its end.
fn read_open(
    src: &Source<'_, '_, '_>,
    file: &File,
    seen: &FoundFile,
    reading: Reading<'_>,
) -> Result<(Outcome, u64, bool), RepoError> {
    let (key, size, keys) = match (reading, src.decryption) {
        (Reading::Decrypt(key, size), Some(d)) => (key, size, &d.keys),
        _ => return read_as_found(src.session, file, seen),
    };
    let mut counted = Counting::new(file);
    match decrypt_one(src.session, &mut counted, seen, key, size, keys) {
        Err(ReadFailure::Undecryptable(why)) => {
            if let Err(e) = (&*file).seek(SeekFrom::Start(0)) {
                let message =
                    format!("cannot read again after a failed decryption: {e}; not backed up");
                return Ok((Outcome::not_stored(message), counted.count, false));
            }
            let (found, read, completed) = read_as_found(src.session, file, seen)?;
            let message = format!(
                "does not decrypt with its key ({why}); kept as found: restores byte-exact, not deduplicated"
            );
            let outcome = Outcome {
                undecryptable: found.content.is_some(),
                warning: Some(found.warning.unwrap_or(message)),
                content: found.content,
            };
            Ok((outcome, read, completed))
        }
        other => {
            let completed = other.is_ok();
            Ok((outcome(other)?, counted.count, completed))
        }
    }
}

fn read_as_found(
    session: &Tally<'_, '_>,
    file: &File,
    seen: &FoundFile,
) -> Result<(Outcome, u64, bool), RepoError> {
    let mut counted = Counting::new(file);
    let stored =
        store(session, &mut counted).map(|chunks| content_of(seen, counted.count, chunks, None));
    let completed = stored.is_ok();
    Ok((outcome(stored)?, counted.count, completed))
}

/// Stores the plaintext of an encrypted blob read through `counted`, which counts the
/// ciphertext bytes taken from the file.
fn decrypt_one(
    session: &Tally<'_, '_>,
    counted: &mut Counting<&File>,
    seen: &FoundFile,
    wrapped: &[u8],
    size: Option<u64>,
    keys: &ClassKeys,
) -> Result<Content, ReadFailure> {
    let wrapped = WrappedKey::parse(wrapped).map_err(ReadFailure::Undecryptable)?;
    let key = keys.unwrap(&wrapped).map_err(ReadFailure::Undecryptable)?;
    let reader = DecryptingReader::new(&mut *counted, &key, seen.size, size)
        .map_err(ReadFailure::Undecryptable)?;
    let chunks = store(session, reader)?;
    let cipher = Cipher {
        wrapped_key: wrapped.0,
        pkcs7: true,
    };
    // The plaintext re-encrypts (PKCS#7 added) to exactly the ciphertext read: the reader
    // checked that padding, and it reads whole blocks only.
    Ok(content_of(seen, counted.count, chunks, Some(cipher)))
}

fn store(
    session: &Tally<'_, '_>,
    reader: impl Read,
) -> Result<Vec<hearth_format::ChunkId>, ReadFailure> {
    let (chunks, _) = session
        .store_reader(reader, BlobKind::Data)
        .map_err(|e| match e {
            StoreFileError::Read(e) => match encryption_error(&e) {
                Some(why) => ReadFailure::Undecryptable(why),
                None => ReadFailure::Source(format!("read failed: {e}; not backed up")),
            },
            StoreFileError::Repo(e) => ReadFailure::Repo(e),
        })?;
    Ok(chunks)
}

/// The decryption problem an I/O error from a [`DecryptingReader`] carries, if any.
fn encryption_error(e: &std::io::Error) -> Option<EncryptionError> {
    e.get_ref()?.downcast_ref::<EncryptionError>().cloned()
}

/// `seen`'s mtime and mode, with `read` bytes stored as `chunks`.
fn content_of(
    seen: &FoundFile,
    read: u64,
    chunks: Vec<hearth_format::ChunkId>,
    cipher: Option<Cipher>,
) -> Content {
    Content {
        size: read,
        mtime_ns: seen.mtime_ns,
        mode: seen.mode,
        chunks,
        cipher,
    }
}

/// A reader that counts the bytes taken from the one beneath it.
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R> Counting<R> {
    fn new(inner: R) -> Self {
        Counting { inner, count: 0 }
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}
