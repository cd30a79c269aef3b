//! A [`Backend`] that fails the Nth put, delete or list: write-order and rerun properties,
//! tried at every step of an operation in the test's own process, where the real-process kill
//! tests (`tests/e2e/crash.rs`, `prune_crash.rs`) reach the moments a poll happens to see.
//!
//! [`FaultyBackend`] wraps another backend and counts the calls that change or list the
//! repository. Armed with a [`Fault`], it fails the `nth` call of one kind (optionally of one
//! [`FileType`] only) without passing it on, and then, by [`After`], either lets later calls
//! through (a passing error) or fails every later put and delete too (the store, or the
//! process, is gone: what is on storage is what a kill at that moment leaves).
//!
//! Objects are staged in memory and put when named (the trait's default, as on S3), so every
//! object the repository writes, packs included, is one counted put.
//!
//! ```
//! use hearth_storage::{Backend, FileType, LocalBackend};
//! use hearth_testkit::{After, Fault, FaultyBackend, StorageCall};
//! use std::sync::Arc;
//! let dir = tempfile::tempdir().unwrap();
//! let local = Arc::new(LocalBackend::create(dir.path()).unwrap());
//! let b = FaultyBackend::new(local);
//! b.arm(Fault::nth(StorageCall::Put, 2).of(FileType::Snapshot).then(After::StopWriting));
//! let name = |c: char| c.to_string().repeat(64);
//! b.put(FileType::Pack, &name('a'), b"p").unwrap(); // not a snapshot: not counted
//! b.put(FileType::Snapshot, &name('b'), b"1").unwrap();
//! assert!(b.put(FileType::Snapshot, &name('c'), b"2").is_err()); // the 2nd: fails
//! assert!(b.delete(FileType::Pack, &name('a')).is_err()); // and every write after it
//! assert!(b.tripped());
//! b.disarm();
//! assert!(b.delete(FileType::Pack, &name('a')).is_ok());
//! ```

use hearth_storage::{Backend, FileType, ObjectInfo, PutOutcome, StorageError};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

/// The calls a [`Fault`] can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StorageCall {
    /// `put_if_absent` (and so `put`, and a staged object when it is named).
    Put,
    Delete,
    List,
}

/// What happens after the fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Later calls go through: the fault was a passing error.
    Recover,
    /// Every later put and delete fails as well (reads and lists still work): the state on
    /// storage is what a crash at the fault leaves.
    StopWriting,
}

/// Which call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub call: StorageCall,
    /// Counted from 1, over calls of `call` (of type `of`, if given) since [`FaultyBackend::arm`].
    pub nth: u64,
    pub of: Option<FileType>,
    pub after: After,
}

impl Fault {
    /// The `nth` call of kind `call`, of any type; later calls go through.
    pub fn nth(call: StorageCall, nth: u64) -> Fault {
        Fault {
            call,
            nth,
            of: None,
            after: After::Recover,
        }
    }

    /// Counts only calls on objects of type `t`.
    pub fn of(self, t: FileType) -> Fault {
        Fault {
            of: Some(t),
            ..self
        }
    }

    pub fn then(self, after: After) -> Fault {
        Fault { after, ..self }
    }
}

/// One call the backend saw since it was last armed or reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenCall {
    pub call: StorageCall,
    pub t: FileType,
    /// The object's name (empty for a list).
    pub name: String,
    /// Whether the call failed (by the fault, or after it).
    pub failed: bool,
}

#[derive(Debug, Default)]
struct State {
    fault: Option<Fault>,
    /// Calls the fault counts, so far.
    counted: u64,
    tripped: bool,
    seen: Vec<SeenCall>,
}

/// A backend that fails the calls a [`Fault`] names; see the module docs.
pub struct FaultyBackend {
    inner: Arc<dyn Backend>,
    state: Mutex<State>,
}

impl FaultyBackend {
    /// Passes everything through (and records it) until armed.
    pub fn new(inner: Arc<dyn Backend>) -> FaultyBackend {
        FaultyBackend {
            inner,
            state: Mutex::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts counting from zero, to fail as `fault` says.
    pub fn arm(&self, fault: Fault) {
        *self.state() = State {
            fault: Some(fault),
            ..State::default()
        };
    }

    /// Lets every call through again (what was seen is kept).
    pub fn disarm(&self) {
        let mut s = self.state();
        s.fault = None;
    }

    /// Forgets what was seen (and any fault).
    pub fn reset(&self) {
        *self.state() = State::default();
    }

    /// Whether the fault has fired.
    pub fn tripped(&self) -> bool {
        self.state().tripped
    }

    /// Every put, delete and list since the last arm or reset, in order.
    pub fn seen(&self) -> Vec<SeenCall> {
        self.state().seen.clone()
    }

    /// How many calls of kind `call` (on type `of`, if given) were seen.
    pub fn count(&self, call: StorageCall, of: Option<FileType>) -> u64 {
        let s = self.state();
        let n = s
            .seen
            .iter()
            .filter(|c| c.call == call && of.is_none_or(|t| c.t == t))
            .count();
        n as u64
    }

    /// Decides whether this call fails, and records it.
    fn enter(&self, call: StorageCall, t: FileType, name: &str) -> Result<(), StorageError> {
        let mut s = self.state();
        let fails = match s.fault {
            None => false,
            Some(f) if s.tripped => f.after == After::StopWriting && call != StorageCall::List,
            Some(f) if f.call == call && f.of.is_none_or(|o| o == t) => {
                s.counted += 1;
                s.tripped = s.counted == f.nth;
                s.tripped
            }
            Some(_) => false,
        };
        s.seen.push(SeenCall {
            call,
            t,
            name: name.to_owned(),
            failed: fails,
        });
        if !fails {
            return Ok(());
        }
        let op = match call {
            StorageCall::Put => "put",
            StorageCall::Delete => "delete",
            StorageCall::List => "list",
        };
        Err(StorageError::Io {
            op,
            path: PathBuf::from(t.dir()).join(name),
            source: std::io::Error::other(format!(
                "fault injected by the test ({op} {} of the armed kind)",
                s.counted
            )),
        })
    }
}

impl Backend for FaultyBackend {
    fn location(&self) -> String {
        format!("{} (with injected faults)", self.inner.location())
    }

    fn put_if_absent(
        &self,
        t: FileType,
        name: &str,
        bytes: &[u8],
    ) -> Result<PutOutcome, StorageError> {
        self.enter(StorageCall::Put, t, name)?;
        self.inner.put_if_absent(t, name, bytes)
    }

    fn get(&self, t: FileType, name: &str) -> Result<Vec<u8>, StorageError> {
        self.inner.get(t, name)
    }

    fn get_into(&self, t: FileType, name: &str, buf: &mut Vec<u8>) -> Result<(), StorageError> {
        self.inner.get_into(t, name, buf)
    }

    fn read_range_into(
        &self,
        t: FileType,
        name: &str,
        offset: u64,
        len: u64,
        buf: &mut Vec<u8>,
    ) -> Result<(), StorageError> {
        self.inner.read_range_into(t, name, offset, len, buf)
    }

    fn will_read(&self, t: FileType, name: &str, offset: u64, len: u64) {
        self.inner.will_read(t, name, offset, len);
    }

    fn list(&self, t: FileType) -> Result<Vec<ObjectInfo>, StorageError> {
        self.enter(StorageCall::List, t, "")?;
        self.inner.list(t)
    }

    fn delete(&self, t: FileType, name: &str) -> Result<(), StorageError> {
        self.enter(StorageCall::Delete, t, name)?;
        self.inner.delete(t, name)
    }

    // Staging: the trait's defaults (in memory, put when named), so that a staged pack is one
    // counted put.

    fn remove_temporary_files(&self) -> Result<usize, StorageError> {
        self.inner.remove_temporary_files()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_storage::LocalBackend;

    fn name(c: char) -> String {
        c.to_string().repeat(64)
    }

    fn backend() -> (tempfile::TempDir, FaultyBackend) {
        let dir = tempfile::tempdir().unwrap();
        let local = Arc::new(LocalBackend::create(dir.path()).unwrap());
        (dir, FaultyBackend::new(local))
    }

    #[test]
    fn a_passing_fault_fails_one_call_and_stores_nothing_of_it() {
        let (_dir, b) = backend();
        b.arm(Fault::nth(StorageCall::Put, 2));
        b.put(FileType::Pack, &name('a'), b"1").unwrap();
        let e = b.put(FileType::Index, &name('b'), b"2").unwrap_err();
        assert!(e.to_string().contains("index/bbbb"), "{e}");
        assert!(e.to_string().contains("fault injected"), "{e}");
        b.put(FileType::Snapshot, &name('c'), b"3").unwrap();
        b.delete(FileType::Pack, &name('a')).unwrap();
        assert!(b.tripped());
        assert!(
            b.list(FileType::Index).unwrap().is_empty(),
            "the failed put stored nothing"
        );
        assert_eq!(b.count(StorageCall::Put, None), 3);
        assert_eq!(b.count(StorageCall::Put, Some(FileType::Index)), 1);
        let failed: Vec<bool> = b.seen().iter().map(|s| s.failed).collect();
        assert_eq!(failed, [false, true, false, false, false]);
    }

    #[test]
    fn after_a_stopping_fault_every_write_fails_but_reads_and_lists_work() {
        let (_dir, b) = backend();
        b.put(FileType::Pack, &name('a'), b"kept").unwrap();
        b.arm(Fault::nth(StorageCall::Delete, 1).then(After::StopWriting));
        b.put(FileType::Pack, &name('b'), b"before").unwrap();
        assert!(b.delete(FileType::Pack, &name('a')).is_err());
        assert!(b.put(FileType::Pack, &name('c'), b"after").is_err());
        assert!(b.delete(FileType::Pack, &name('b')).is_err());
        assert_eq!(b.get(FileType::Pack, &name('a')).unwrap(), b"kept");
        assert_eq!(b.list(FileType::Pack).unwrap().len(), 2);
        b.disarm();
        b.delete(FileType::Pack, &name('b')).unwrap();
        assert_eq!(b.list(FileType::Pack).unwrap().len(), 1);
    }

    #[test]
    fn a_fault_of_one_type_counts_only_that_type_and_lists_can_fail() {
        let (_dir, b) = backend();
        b.arm(Fault::nth(StorageCall::List, 2).of(FileType::Pack));
        b.list(FileType::Index).unwrap();
        b.list(FileType::Pack).unwrap();
        b.list(FileType::Snapshot).unwrap();
        assert!(b.list(FileType::Pack).is_err());
        b.list(FileType::Pack).unwrap();
        assert_eq!(b.count(StorageCall::List, Some(FileType::Pack)), 3);
        b.reset();
        assert!(b.seen().is_empty() && !b.tripped());
    }

    #[test]
    fn staged_objects_are_counted_puts() {
        let (_dir, b) = backend();
        b.arm(Fault::nth(StorageCall::Put, 1).of(FileType::Pack));
        let staging = b.create_staging(FileType::Pack).unwrap();
        staging.write_at(0, b"sealed blobs").unwrap();
        assert!(staging.finish(&b, &name('d')).is_err());
        let staging = b.create_staging(FileType::Pack).unwrap();
        staging.write_at(0, b"sealed blobs").unwrap();
        let staged = staging.finish(&b, &name('d')).unwrap();
        b.commit(vec![staged]).unwrap();
        assert_eq!(b.get(FileType::Pack, &name('d')).unwrap(), b"sealed blobs");
    }
}
