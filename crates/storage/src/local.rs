//! A repository in a local folder. Put-if-absent is a temporary file, fsync, then `link(2)` to
//! the final name (which fails if the name exists), so a reader never sees a partial object and
//! an existing object is never replaced. A staged object is a temporary file in its type's
//! folder, written at offsets (`pwrite`), whose writeback starts when it is named and is waited
//! for (fsync, link into `<pp>/`, folder fsync) at commit.

use crate::backend::{
    Backend, FileType, ObjectInfo, PutOutcome, Staged, Staging, StorageError, valid_name,
};
use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const TMP_PREFIX: &str = ".tmp-";

pub struct LocalBackend {
    disk: Arc<Disk>,
}

/// The folder and what this process knows of it; shared with the objects it stages.
struct Disk {
    root: PathBuf,
    /// Set after a failed fsync: from then on this process refuses to write.
    poisoned: Mutex<Option<String>>,
}

impl LocalBackend {
    /// Creates the repository folder layout. Fails if `root` already holds a `config`.
    pub fn create(root: &Path) -> Result<Self, StorageError> {
        let b = Self::open(root);
        if b.disk.root.join("config").exists() {
            return Err(StorageError::RepositoryExists {
                path: root.to_owned(),
            });
        }
        for t in FileType::ALL {
            let dir = b.disk.root.join(t.dir());
            fs::create_dir_all(&dir).map_err(|e| io_err("create folder", &dir, e))?;
        }
        Ok(b)
    }

    /// Opens an existing folder; checks nothing (the repository reads `config` next).
    pub fn open(root: &Path) -> Self {
        let disk = Disk {
            root: root.to_path_buf(),
            poisoned: Mutex::new(None),
        };
        Self {
            disk: Arc::new(disk),
        }
    }

    pub fn root(&self) -> &Path {
        &self.disk.root
    }
}

impl Disk {
    fn path(&self, t: FileType, name: &str) -> Result<PathBuf, StorageError> {
        if !valid_name(t, name) {
            return Err(StorageError::InvalidName {
                path: format!("{}/{name}", t.dir()),
            });
        }
        Ok(match t {
            FileType::Config => self.root.join("config"),
            FileType::Pack => self.root.join(t.dir()).join(&name[..2]).join(name),
            _ => self.root.join(t.dir()).join(name),
        })
    }

    fn check_poisoned(&self) -> Result<(), StorageError> {
        match &*self.poisoned.lock().expect("poison flag lock") {
            Some(detail) => Err(StorageError::Poisoned {
                path: self.root.clone(),
                detail: detail.clone(),
            }),
            None => Ok(()),
        }
    }

    fn fsync(&self, f: &File, path: &Path) -> Result<(), StorageError> {
        f.sync_all().map_err(|e| {
            *self.poisoned.lock().expect("poison flag lock") =
                Some(format!("{}: {e}", path.display()));
            io_err("fsync", path, e)
        })
    }

    fn write_tmp(&self, dir: &Path, bytes: &[u8]) -> Result<PathBuf, StorageError> {
        let (mut f, tmp) = self.create_tmp(dir)?;
        f.write_all(bytes).map_err(|e| io_err("write", &tmp, e))?;
        self.fsync(&f, &tmp)?;
        Ok(tmp)
    }

    /// A new, empty temporary file in `dir`.
    fn create_tmp(&self, dir: &Path) -> Result<(File, PathBuf), StorageError> {
        let tmp = dir.join(format!("{TMP_PREFIX}{}", hex_random()));
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| io_err("create", &tmp, e))?;
        Ok((f, tmp))
    }

    /// Links a synced temporary file as `path` unless `path` exists, then removes it.
    fn link(&self, tmp: &Path, path: &Path) -> Result<PutOutcome, StorageError> {
        let linked = fs::hard_link(tmp, path);
        let _ = fs::remove_file(tmp);
        match linked {
            Ok(()) => Ok(PutOutcome::Created),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(PutOutcome::AlreadyExists),
            Err(e) => Err(io_err("link", path, e)),
        }
    }

    fn fsync_dir(&self, dir: &Path) -> Result<(), StorageError> {
        let d = File::open(dir).map_err(|e| io_err("open folder", dir, e))?;
        self.fsync(&d, dir)
    }

    fn list_dir(
        &self,
        dir: &Path,
        t: FileType,
        out: &mut Vec<ObjectInfo>,
    ) -> Result<(), StorageError> {
        let rd = match fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err("list", dir, e)),
        };
        for item in rd {
            let item = item.map_err(|e| io_err("list", dir, e))?;
            let name = item.file_name().to_string_lossy().into_owned();
            let meta = item
                .metadata()
                .map_err(|e| io_err("stat", &item.path(), e))?;
            if t == FileType::Pack && meta.is_dir() && name.len() == 2 {
                self.list_dir(&item.path(), t, out)?;
            } else if meta.is_file() && valid_name(t, &name) {
                out.push(ObjectInfo {
                    name,
                    size: meta.len(),
                });
            }
        }
        Ok(())
    }

    /// Removes temporary files left by killed writers. Only safe when no writer runs (the
    /// caller holds an exclusive lock). `locks/` is left alone: other processes write locks
    /// there while they wait for that lock.
    fn remove_temporary(&self) -> Result<usize, StorageError> {
        let mut removed = 0;
        let mut dirs = vec![self.root.clone()];
        while let Some(dir) = dirs.pop() {
            for item in fs::read_dir(&dir)
                .map_err(|e| io_err("list", &dir, e))?
                .flatten()
            {
                let path = item.path();
                if path.is_dir() {
                    if item.file_name() != FileType::Lock.dir() {
                        dirs.push(path);
                    }
                } else if item.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                    fs::remove_file(&path).map_err(|e| io_err("remove", &path, e))?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

/// The most a ranged read reserves before reading (a span or a pack header is far less).
const RESERVE_MAX: u64 = 64 << 20;

impl Backend for LocalBackend {
    fn remove_temporary_files(&self) -> Result<usize, StorageError> {
        self.disk.remove_temporary()
    }

    fn location(&self) -> String {
        self.disk.root.display().to_string()
    }

    fn put_if_absent(
        &self,
        t: FileType,
        name: &str,
        bytes: &[u8],
    ) -> Result<PutOutcome, StorageError> {
        self.disk.check_poisoned()?;
        let path = self.disk.path(t, name)?;
        let dir = path.parent().expect("object paths have a folder");
        if path.exists() {
            return Ok(PutOutcome::AlreadyExists);
        }
        fs::create_dir_all(dir).map_err(|e| io_err("create folder", dir, e))?;
        let tmp = self.disk.write_tmp(dir, bytes)?;
        let outcome = self.disk.link(&tmp, &path)?;
        if outcome == PutOutcome::Created {
            self.disk.fsync_dir(dir)?;
        }
        Ok(outcome)
    }

    /// Publishes every local staged object, then syncs each folder that changed once (a batch
    /// of packs shares `packs/`, and sometimes a `<pp>` folder).
    fn commit(&self, staged: Vec<Box<dyn Staged>>) -> Result<(), StorageError> {
        let mut local = Vec::with_capacity(staged.len());
        for s in staged {
            let any: Box<dyn std::any::Any + Send> = s;
            match any.downcast::<LocalStaged>() {
                Ok(s) => local.push(s),
                Err(_) => {
                    return Err(StorageError::ForeignStaging {
                        location: self.location(),
                    });
                }
            }
        }
        let mut dirs = BTreeSet::new();
        for s in &local {
            dirs.extend(s.publish()?.into_iter().map(Path::to_path_buf));
        }
        dirs.iter().try_for_each(|d| self.disk.fsync_dir(d))
    }

    fn create_staging(&self, t: FileType) -> Result<Box<dyn Staging>, StorageError> {
        self.disk.check_poisoned()?;
        let dir = self.disk.root.join(t.dir());
        fs::create_dir_all(&dir).map_err(|e| io_err("create folder", &dir, e))?;
        let (file, tmp) = self.disk.create_tmp(&dir)?;
        Ok(Box::new(LocalStaging {
            t,
            file,
            tmp,
            disk: Arc::clone(&self.disk),
        }))
    }

    fn get(&self, t: FileType, name: &str) -> Result<Vec<u8>, StorageError> {
        let path = self.disk.path(t, name)?;
        fs::read(&path).map_err(|e| not_found_or(e, "read", &path))
    }

    fn get_into(&self, t: FileType, name: &str, buf: &mut Vec<u8>) -> Result<(), StorageError> {
        buf.clear();
        let path = self.disk.path(t, name)?;
        let mut f = File::open(&path).map_err(|e| not_found_or(e, "open", &path))?;
        f.read_to_end(buf).map_err(|e| io_err("read", &path, e))?;
        Ok(())
    }

    fn will_read(&self, t: FileType, name: &str, offset: u64, len: u64) {
        let Ok(file) = self
            .disk
            .path(t, name)
            .and_then(|p| File::open(&p).map_err(|e| io_err("open", &p, e)))
        else {
            return; // the read that follows says what is wrong
        };
        let (offset, len) = (offset.min(i64::MAX as u64), len.min(i64::MAX as u64));
        // SAFETY: a plain system call on a descriptor this function owns.
        unsafe {
            libc::posix_fadvise(
                file.as_raw_fd(),
                offset as libc::off_t,
                len as libc::off_t,
                libc::POSIX_FADV_WILLNEED,
            )
        };
    }

    fn read_range_into(
        &self,
        t: FileType,
        name: &str,
        offset: u64,
        len: u64,
        buf: &mut Vec<u8>,
    ) -> Result<(), StorageError> {
        buf.clear();
        let path = self.disk.path(t, name)?;
        let mut f = File::open(&path).map_err(|e| not_found_or(e, "open", &path))?;
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| io_err("seek", &path, e))?;
        // `len` comes from index entries; a damaged one must not reserve gigabytes up front.
        buf.reserve_exact(len.min(RESERVE_MAX) as usize);
        f.take(len)
            .read_to_end(buf)
            .map_err(|e| io_err("read", &path, e))?;
        if (buf.len() as u64) < len {
            return Err(StorageError::ShortRead {
                path: path.display().to_string(),
                offset,
                len,
            });
        }
        Ok(())
    }

    fn list(&self, t: FileType) -> Result<Vec<ObjectInfo>, StorageError> {
        let mut out = Vec::new();
        if t == FileType::Config {
            if let Ok(m) = fs::metadata(self.disk.root.join("config")) {
                out.push(ObjectInfo {
                    name: "config".into(),
                    size: m.len(),
                });
            }
            return Ok(out);
        }
        self.disk
            .list_dir(&self.disk.root.join(t.dir()), t, &mut out)?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn delete(&self, t: FileType, name: &str) -> Result<(), StorageError> {
        self.disk.check_poisoned()?;
        let path = self.disk.path(t, name)?;
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("remove", &path, e)),
            _ => Ok(()),
        }
    }
}

/// A temporary file in its type's folder, written at offsets.
#[derive(Debug)]
struct LocalStaging {
    t: FileType,
    file: File,
    tmp: PathBuf,
    disk: Arc<Disk>,
}

impl Staging for LocalStaging {
    fn write_at(&self, offset: u64, bytes: &[u8]) -> Result<(), StorageError> {
        std::os::unix::fs::FileExt::write_all_at(&self.file, bytes, offset)
            .map_err(|e| io_err("write", &self.tmp, e))
    }

    /// Starts the file's writeback; the name is linked at commit.
    fn finish(&self, _store: &dyn Backend, name: &str) -> Result<Box<dyn Staged>, StorageError> {
        let path = self.disk.path(self.t, name)?;
        let dir = path.parent().expect("object paths have a folder");
        fs::create_dir_all(dir).map_err(|e| io_err("create folder", dir, e))?;
        start_writeback(&self.file);
        let file = self
            .file
            .try_clone()
            .map_err(|e| io_err("reopen", &self.tmp, e))?;
        Ok(Box::new(LocalStaged {
            file,
            tmp: self.tmp.clone(),
            path,
            disk: Arc::clone(&self.disk),
        }))
    }
}

/// A staged file, written and flushing, to be linked as `path`.
#[derive(Debug)]
struct LocalStaged {
    file: File,
    tmp: PathBuf,
    path: PathBuf,
    disk: Arc<Disk>,
}

impl LocalStaged {
    /// Makes the file durable and links it under its name; returns the folders whose entries
    /// changed (its folder, and the one above, which may hold a `<pp>` folder that `finish`
    /// has just made), which must be synced before the object counts as committed.
    fn publish(&self) -> Result<Vec<&Path>, StorageError> {
        self.disk.fsync(&self.file, &self.tmp)?;
        if self.disk.link(&self.tmp, &self.path)? == PutOutcome::AlreadyExists {
            return Ok(Vec::new());
        }
        Ok((self.path.ancestors().skip(1).take(2))
            .filter(|dir| dir.starts_with(&self.disk.root))
            .collect())
    }
}

impl Staged for LocalStaged {
    fn commit(self: Box<Self>) -> Result<(), StorageError> {
        let dirs = self.publish()?;
        dirs.iter().try_for_each(|d| self.disk.fsync_dir(d))
    }
}

impl std::fmt::Debug for Disk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Disk").field("root", &self.root).finish()
    }
}

/// Asks the kernel to start writing `f`'s dirty pages now, so the fsync at commit finds most
/// of them written. Advisory: an error here surfaces at that fsync.
#[cfg(target_os = "linux")]
fn start_writeback(f: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid open descriptor; the call only schedules writeback of its pages.
    unsafe {
        libc::sync_file_range(f.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_: &File) {}

fn io_err(op: &'static str, path: &Path, source: io::Error) -> StorageError {
    StorageError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn not_found_or(e: io::Error, op: &'static str, path: &Path) -> StorageError {
    if e.kind() == io::ErrorKind::NotFound {
        StorageError::NotFound {
            path: path.display().to_string(),
        }
    } else {
        io_err(op, path, e)
    }
}

pub(crate) fn hex_random() -> String {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("the operating system's random source is available");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(c: char) -> String {
        c.to_string().repeat(64)
    }

    #[test]
    fn get_into_replaces_what_the_buffer_held_and_keeps_its_capacity() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::create(dir.path()).unwrap();
        b.put(FileType::Pack, &name('e'), b"pack bytes").unwrap();
        let mut buf = Vec::with_capacity(1 << 20);
        buf.extend_from_slice(b"left over from another pack");
        b.get_into(FileType::Pack, &name('e'), &mut buf).unwrap();
        assert_eq!(buf, b"pack bytes");
        assert!(buf.capacity() >= 1 << 20, "the same allocation");
        let err = b
            .get_into(FileType::Pack, &name('f'), &mut buf)
            .unwrap_err();
        assert!(err.is_not_found(), "{err}");
    }

    #[test]
    fn a_staged_object_appears_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::create(dir.path()).unwrap();
        let staging = b.create_staging(FileType::Pack).unwrap();
        staging.write_at(2, b"llo").unwrap();
        staging.write_at(0, b"he").unwrap();
        let staged = staging.finish(&b, &name('c')).unwrap();
        let lost = b.create_staging(FileType::Pack).unwrap();
        lost.write_at(0, b"gone").unwrap();
        let lost = lost.finish(&b, &name('d')).unwrap();
        assert!(b.get(FileType::Pack, &name('c')).is_err());
        assert!(b.list(FileType::Pack).unwrap().is_empty());
        b.commit(vec![staged]).unwrap();
        assert_eq!(b.get(FileType::Pack, &name('c')).unwrap(), b"hello");
        assert_eq!(b.list(FileType::Pack).unwrap().len(), 1);
        drop(lost);
        assert!(b.get(FileType::Pack, &name('d')).is_err());
        assert_eq!(
            b.remove_temporary_files().unwrap(),
            1,
            "the uncommitted one"
        );
        assert_eq!(b.list(FileType::Pack).unwrap().len(), 1);
    }

    #[test]
    fn put_if_absent_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::create(dir.path()).unwrap();
        assert_eq!(
            b.put_if_absent(FileType::Pack, &name('a'), b"one").unwrap(),
            PutOutcome::Created
        );
        assert_eq!(
            b.put_if_absent(FileType::Pack, &name('a'), b"two").unwrap(),
            PutOutcome::AlreadyExists
        );
        assert_eq!(b.get(FileType::Pack, &name('a')).unwrap(), b"one");
        assert!(dir.path().join("packs/aa").join(name('a')).exists());
        assert_eq!(
            b.get_range(FileType::Pack, &name('a'), 1, 2).unwrap(),
            b"ne"
        );
        assert!(b.get_range(FileType::Pack, &name('a'), 2, 5).is_err());
    }

    #[test]
    fn list_skips_temporary_and_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::create(dir.path()).unwrap();
        b.put(FileType::Index, &name('b'), b"x").unwrap();
        fs::write(dir.path().join("index/.tmp-123"), b"partial").unwrap();
        fs::write(dir.path().join("index/.DS_Store"), b"junk").unwrap();
        let names: Vec<_> = b
            .list(FileType::Index)
            .unwrap()
            .into_iter()
            .map(|o| o.name)
            .collect();
        assert_eq!(names, vec![name('b')]);
        assert_eq!(b.remove_temporary_files().unwrap(), 1);
    }

    #[test]
    fn bad_names_and_missing_objects_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::create(dir.path()).unwrap();
        assert!(matches!(
            b.get(FileType::Snapshot, "../../etc/passwd"),
            Err(StorageError::InvalidName { .. })
        ));
        assert!(
            b.get(FileType::Snapshot, &name('c'))
                .unwrap_err()
                .is_not_found()
        );
        b.delete(FileType::Snapshot, &name('c')).unwrap();
        assert!(LocalBackend::create(dir.path()).is_ok(), "no config yet");
    }
}
