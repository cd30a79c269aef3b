//! Storing the content of a device folder's files: in parallel, largest first, reusing the
//! parent snapshot's chunks for unchanged files, and decrypting an encrypted backup's blobs so
//! their plaintext deduplicates.

use crate::entries::PlannedEntry;
use crate::error::IngestError;
use crate::walk::FoundFile;
use hearth_format::entry::SIZE_ABSENT;
use hearth_format::{BlobKind, Cipher, Content, Entry, RowState, Warning};
use hearth_mobilesync::MANIFEST_DB;
use hearth_mobilesync::encryption::{ClassKeys, DecryptingReader, EncryptionError, WrappedKey};
use hearth_repo::{Progress, RepoError, StoreFileError, Tally};
use rayon::prelude::*;
use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Mutex;

/// What an encrypted backup needs to be read: its class keys and its decrypted Manifest.db.
pub(crate) struct Decryption {
    pub keys: ClassKeys,
    /// Decrypted, padding kept: encrypting it again without padding gives back the file.
    pub manifest_db: Vec<u8>,
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
    fn of<'p>(p: &'p PlannedEntry, d: Option<&'p Decryption>) -> Reading<'p> {
        let row_ok = p.row.as_ref().is_some_and(|r| r.state == RowState::Ok);
        match (d, &p.encryption_key, &p.row) {
            (None, _, _) => Reading::AsFound,
            (Some(d), _, None) if p.path == MANIFEST_DB => Reading::ManifestDb(&d.manifest_key.0),
            (Some(_), Some(key), Some(row)) if row_ok => {
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

/// Stores the content of every planned file and returns the entries (sorted as planned) with
/// how each content was obtained.
pub(crate) fn store_contents(
    session: &Tally<'_, '_>,
    folder: &Path,
    planned: Vec<PlannedEntry>,
    parent: &HashMap<String, Content>,
    decryption: Option<&Decryption>,
    warnings: &mut Vec<Warning>,
    progress: &dyn Progress,
) -> Result<(Vec<Entry>, Vec<Option<Origin>>), IngestError> {
    let readings: Vec<Reading<'_>> = planned.iter().map(|p| Reading::of(p, decryption)).collect();
    let mut reusable: Vec<Option<&Content>> = (planned.iter().zip(&readings))
        .map(|(p, r)| unchanged(parent, p.file.as_ref()?, r.wrapped_key()))
        .collect();
    if session.damage_suspected() {
        forget_unsound(session, &mut reusable)?;
    }
    let reuse = |i: usize| reusable[i];
    let mut to_read: Vec<usize> = (0..planned.len())
        .filter(|&i| planned[i].file.is_some() && reuse(i).is_none())
        .collect();
    to_read.sort_by_key(|&i| std::cmp::Reverse(planned[i].file.as_ref().map_or(0, |f| f.size)));
    let total: u64 = to_read
        .iter()
        .filter_map(|&i| planned[i].file.as_ref())
        .map(|f| f.size)
        .sum();
    progress.start("reading files", Some(total));
    let read_warnings = Mutex::new(Vec::new());
    // Files are taken one at a time, largest first, by whichever thread is free (`par_bridge`
    // pulls from the shared iterator in order): splitting the list in halves up front would
    // leave one thread with every large file and the other idle.
    let read: Vec<(usize, Outcome)> = to_read
        .iter()
        .par_bridge()
        .map(|&i| {
            let f = planned[i].file.as_ref().expect("filtered on file");
            let outcome = read_one(session, folder, f, readings[i], decryption)?;
            if let Some(message) = &outcome.warning {
                read_warnings.lock().expect("warnings").push(Warning {
                    path: f.path.clone(),
                    message: message.clone(),
                });
            }
            progress.advance(f.size);
            Ok((i, outcome))
        })
        .collect::<Result<_, RepoError>>()?;
    progress.finish();
    warnings.extend(read_warnings.into_inner().expect("warnings"));

    let reused: Vec<Option<Content>> = (0..planned.len()).map(|i| reuse(i).cloned()).collect();
    let mut fresh: HashMap<usize, Outcome> = read.into_iter().collect();
    let mut entries = Vec::with_capacity(planned.len());
    let mut origins = Vec::with_capacity(planned.len());
    for ((i, p), reused) in planned.into_iter().enumerate().zip(reused) {
        let mut row = p.row;
        let (content, origin) = match fresh.remove(&i) {
            Some(outcome) => {
                if outcome.undecryptable
                    && let Some(r) = &mut row
                {
                    r.state = RowState::Undecryptable;
                }
                let origin = if parent.contains_key(&p.path) {
                    Origin::Changed
                } else {
                    Origin::New
                };
                (outcome.content, Some(origin))
            }
            None if p.file.is_some() => (reused, Some(Origin::Unmodified)),
            None => (None, None),
        };
        origins.push(content.as_ref().and(origin));
        entries.push(Entry {
            path: p.path,
            row,
            content,
        });
    }
    Ok((entries, origins))
}

/// Drops the parent's contents that name a chunk the repository no longer has a sound copy
/// of (lost or damaged): those files are read again, which stores the chunk again.
fn forget_unsound(
    session: &Tally<'_, '_>,
    reusable: &mut [Option<&Content>],
) -> Result<(), RepoError> {
    for slot in reusable.iter_mut() {
        if let Some(c) = slot {
            let mut sound = true;
            for id in &c.chunks {
                sound &= session.is_stored(id)?;
            }
            if !sound {
                *slot = None;
            }
        }
    }
    Ok(())
}

/// The parent's content for `f` when size, mtime and mode are unchanged and it was stored the
/// way this file would be (decrypted under the same wrapped key, or as found).
fn unchanged<'a>(
    parent: &'a HashMap<String, Content>,
    f: &FoundFile,
    wrapped_key: Option<Vec<u8>>,
) -> Option<&'a Content> {
    parent.get(&f.path).filter(|c| {
        c.size == f.size
            && c.mtime_ns == f.mtime_ns
            && c.mode == f.mode
            && c.cipher.map(|c| c.wrapped_key.to_vec()) == wrapped_key
    })
}

fn read_one(
    session: &Tally<'_, '_>,
    folder: &Path,
    f: &FoundFile,
    reading: Reading<'_>,
    decryption: Option<&Decryption>,
) -> Result<Outcome, RepoError> {
    let stored = |content, warning| Outcome {
        content,
        warning,
        undecryptable: false,
    };
    match (reading, decryption) {
        (Reading::ManifestDb(_), Some(d)) => {
            let chunks = session.store_bytes(&d.manifest_db, BlobKind::Data)?;
            let cipher = Cipher {
                wrapped_key: d.manifest_key.0,
                pkcs7: false,
            };
            let content = content_of(f, chunks, Some(cipher));
            Ok(stored(Some(content), None))
        }
        (Reading::Decrypt(key, size), Some(d)) => {
            match decrypt_one(session, folder, f, key, size, &d.keys) {
                Err(ReadFailure::Undecryptable(why)) => {
                    let found = read_as_found(session, folder, f)?;
                    let message = format!(
                        "does not decrypt with its key ({why}); kept as found: restores byte-exact, not deduplicated"
                    );
                    Ok(Outcome {
                        undecryptable: found.content.is_some(),
                        ..stored(found.content, Some(found.warning.unwrap_or(message)))
                    })
                }
                other => outcome(other),
            }
        }
        _ => read_as_found(session, folder, f),
    }
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
        Ok(c) => Ok(Outcome {
            content: Some(c),
            warning: None,
            undecryptable: false,
        }),
        Err(ReadFailure::Source(msg)) => Ok(Outcome {
            content: None,
            warning: Some(msg),
            undecryptable: false,
        }),
        Err(ReadFailure::Repo(e)) => Err(e),
        Err(ReadFailure::Undecryptable(e)) => Ok(Outcome {
            content: None,
            warning: Some(format!("cannot decrypt: {e}; not backed up")),
            undecryptable: true,
        }),
    }
}

fn read_as_found(
    session: &Tally<'_, '_>,
    folder: &Path,
    f: &FoundFile,
) -> Result<Outcome, RepoError> {
    let r = open(folder, f).and_then(|file| store(session, f, file, None));
    outcome(r)
}

fn decrypt_one(
    session: &Tally<'_, '_>,
    folder: &Path,
    f: &FoundFile,
    wrapped: &[u8],
    size: Option<u64>,
    keys: &ClassKeys,
) -> Result<Content, ReadFailure> {
    let wrapped = WrappedKey::parse(wrapped).map_err(ReadFailure::Undecryptable)?;
    let key = keys.unwrap(&wrapped).map_err(ReadFailure::Undecryptable)?;
    let file = open(folder, f)?;
    let reader =
        DecryptingReader::new(file, &key, f.size, size).map_err(ReadFailure::Undecryptable)?;
    let cipher = Cipher {
        wrapped_key: wrapped.0,
        pkcs7: true,
    };
    store(session, f, reader, Some(cipher))
}

fn open(folder: &Path, f: &FoundFile) -> Result<File, ReadFailure> {
    File::open(folder.join(&f.path))
        .map_err(|e| ReadFailure::Source(format!("cannot open: {e}; not backed up")))
}

fn store(
    session: &Tally<'_, '_>,
    f: &FoundFile,
    reader: impl std::io::Read,
    cipher: Option<Cipher>,
) -> Result<Content, ReadFailure> {
    let (chunks, _) = session
        .store_reader(reader, BlobKind::Data)
        .map_err(|e| match e {
            StoreFileError::Read(e) => match encryption_error(&e) {
                Some(why) => ReadFailure::Undecryptable(why),
                None => ReadFailure::Source(format!("read failed: {e}; not backed up")),
            },
            StoreFileError::Repo(e) => ReadFailure::Repo(e),
        })?;
    Ok(content_of(f, chunks, cipher))
}

/// The decryption problem an I/O error from a [`DecryptingReader`] carries, if any.
fn encryption_error(e: &std::io::Error) -> Option<EncryptionError> {
    e.get_ref()?.downcast_ref::<EncryptionError>().cloned()
}

fn content_of(
    f: &FoundFile,
    chunks: Vec<hearth_format::ChunkId>,
    cipher: Option<Cipher>,
) -> Content {
    Content {
        size: f.size,
        mtime_ns: f.mtime_ns,
        mode: f.mode,
        chunks,
        cipher,
    }
}
