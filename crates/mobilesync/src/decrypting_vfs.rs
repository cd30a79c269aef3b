//! An encrypted backup's Manifest.db read in place: a read-only SQLite VFS, `hearth-cbc`, whose
//! files decrypt the blocks SQLite asks for ([`CipherFile`]), so the plaintext is neither written
//! to disk nor held whole in memory (SQLite's page cache keeps what it keeps of any database).
//!
//! A file is registered under a unique name ([`register`]) for as long as its database is open;
//! SQLite opens `file:<name>?vfs=hearth-cbc&mode=ro&immutable=1`. The VFS opens nothing else:
//! a temporary file (a sorter's) would hold plaintext on disk, so it is refused, and the
//! connection keeps its temporary data in memory (`PRAGMA temp_store = MEMORY`,
//! [`crate::ManifestDb::open_encrypted`]). Every other method is the default VFS's: the VFS is
//! a copy of it with `xOpen` and `xFullPathname` replaced.
//!
//! The database reads as it is except for the header's journal-mode bytes, which read as a
//! rollback journal ([`crate::manifest_db`]): a WAL database would need shared memory, which an
//! immutable read needs nothing of.

use crate::encryption::CipherFile;
use rusqlite::ffi;
use std::collections::BTreeMap;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The VFS's name in SQLite URIs.
pub(crate) const VFS_NAME: &str = "hearth-cbc";

/// Open databases' files by name.
static FILES: Mutex<BTreeMap<String, Arc<Source>>> = Mutex::new(BTreeMap::new());

/// What one registered name reads: the plaintext of `file` up to `len` (its padding cut off),
/// with the header's journal mode as `patch_header` leaves it.
pub(crate) struct Source {
    pub file: CipherFile,
    pub len: u64,
    pub patch_header: fn(offset: u64, bytes: &mut [u8]),
}

/// A registered name, unregistered when dropped (after the connection that opened it closed:
/// its open file keeps its own reference).
pub(crate) struct Registered(String);

impl Registered {
    pub fn uri(&self) -> String {
        format!("file:{}?vfs={VFS_NAME}&mode=ro&immutable=1", self.0)
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        files().remove(&self.0);
    }
}

impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Registered").field(&self.0).finish()
    }
}

fn files() -> std::sync::MutexGuard<'static, BTreeMap<String, Arc<Source>>> {
    FILES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Makes `source` openable through the VFS (registered with SQLite on first use); fails only
/// when SQLite cannot register it.
pub(crate) fn register(source: Source) -> Result<Registered, rusqlite::Error> {
    install().map_err(|rc| rusqlite::Error::SqliteFailure(ffi::Error::new(rc), None))?;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!("{VFS_NAME}-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    files().insert(name.clone(), Arc::new(source));
    Ok(Registered(name))
}

/// The default VFS, once `hearth-cbc` is registered beside it.
struct Installed(*mut ffi::sqlite3_vfs);
// SAFETY: SQLite's VFS objects are immutable once registered and meant for every thread.
unsafe impl Send for Installed {}
unsafe impl Sync for Installed {}

fn install() -> Result<*mut ffi::sqlite3_vfs, c_int> {
    static INSTALLED: OnceLock<Result<Installed, c_int>> = OnceLock::new();
    let installed = INSTALLED.get_or_init(|| {
        // SAFETY: looks up the default VFS (initialising SQLite), then registers a leaked copy
        // of it whose replaced methods are this module's; SQLite keeps the pointer for ever.
        unsafe {
            let default = ffi::sqlite3_vfs_find(std::ptr::null());
            if default.is_null() {
                return Err(ffi::SQLITE_ERROR);
            }
            let mut vfs = *default;
            vfs.iVersion = vfs.iVersion.min(2);
            vfs.szOsFile = vfs.szOsFile.max(size_of::<OpenFile>() as c_int);
            vfs.pNext = std::ptr::null_mut();
            vfs.zName = c"hearth-cbc".as_ptr();
            vfs.xOpen = Some(open);
            vfs.xFullPathname = Some(full_pathname);
            match ffi::sqlite3_vfs_register(Box::into_raw(Box::new(vfs)), 0) {
                ffi::SQLITE_OK => Ok(Installed(default)),
                rc => Err(rc),
            }
        }
    });
    installed.as_ref().map(|i| i.0).map_err(|&rc| rc)
}

fn default_vfs() -> *mut ffi::sqlite3_vfs {
    install().expect("the VFS is used only once it is installed")
}

/// The registered source named `name`, if any.
///
/// # Safety
/// `name` is null or a NUL-terminated string.
unsafe fn registered(name: *const c_char) -> Option<Arc<Source>> {
    if name.is_null() {
        return None;
    }
    // SAFETY: the caller's promise.
    let name = unsafe { CStr::from_ptr(name) }.to_str().ok()?;
    files().get(name).cloned()
}

/// An open file of the VFS: SQLite allocates `szOsFile` bytes for it and hands them to `xOpen`.
#[repr(C)]
struct OpenFile {
    base: ffi::sqlite3_file,
    /// From `Arc::into_raw`; released by `xClose`.
    source: *const Source,
}

unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: SQLite passes `szOsFile` bytes for `file`; a failed open leaves no methods, so
    // SQLite never closes it.
    unsafe { (*file).pMethods = std::ptr::null() };
    // SAFETY: SQLite passes a file name, or null for a temporary file.
    let Some(source) = (unsafe { registered(name) }) else {
        return ffi::SQLITE_CANTOPEN;
    };
    if flags & ffi::SQLITE_OPEN_READWRITE != 0 {
        return ffi::SQLITE_READONLY;
    }
    let open = file.cast::<OpenFile>();
    // SAFETY: `file` is ours to fill; `METHODS` lives for ever.
    unsafe {
        (*open).base.pMethods = &METHODS;
        (*open).source = Arc::into_raw(source);
        if !out_flags.is_null() {
            *out_flags = ffi::SQLITE_OPEN_READONLY;
        }
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn full_pathname(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    n_out: c_int,
    out: *mut c_char,
) -> c_int {
    // SAFETY: SQLite passes a NUL-terminated name and `n_out` bytes at `out`.
    unsafe {
        if registered(name).is_none() {
            let default = default_vfs();
            return ((*default).xFullPathname.expect("xFullPathname"))(default, name, n_out, out);
        }
        let bytes = CStr::from_ptr(name).to_bytes_with_nul();
        if bytes.len() > usize::try_from(n_out).unwrap_or(0) {
            return ffi::SQLITE_CANTOPEN;
        }
        std::ptr::copy_nonoverlapping(bytes.as_ptr().cast(), out, bytes.len());
    }
    ffi::SQLITE_OK
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 1,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(lock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: None,
    xShmLock: None,
    xShmBarrier: None,
    xShmUnmap: None,
    xFetch: None,
    xUnfetch: None,
};

/// The source of an open file.
///
/// # Safety
/// `file` was opened by [`open`] and is not closed.
unsafe fn source<'a>(file: *mut ffi::sqlite3_file) -> &'a Source {
    // SAFETY: the caller's promise: `source` came from `Arc::into_raw` and is still held.
    unsafe { &*(*file.cast::<OpenFile>()).source }
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes each file it opened once; this releases `open`'s reference.
    unsafe { drop(Arc::from_raw((*file.cast::<OpenFile>()).source)) };
    ffi::SQLITE_OK
}

unsafe extern "C" fn read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: an open file, and `amount` writable bytes at `buf`.
    let (source, out) = unsafe {
        (
            source(file),
            std::slice::from_raw_parts_mut(buf.cast::<u8>(), usize::try_from(amount).unwrap_or(0)),
        )
    };
    let Ok(offset) = u64::try_from(offset) else {
        return ffi::SQLITE_IOERR_READ;
    };
    let left = usize::try_from(source.len.saturating_sub(offset)).unwrap_or(usize::MAX);
    let wanted = out.len().min(left);
    match source.file.read_at(offset, &mut out[..wanted]) {
        Ok(n) if n == out.len() => {
            (source.patch_header)(offset, out);
            ffi::SQLITE_OK
        }
        Ok(n) => {
            // SQLite requires the rest zeroed on a short read.
            out[n..].fill(0);
            (source.patch_header)(offset, out);
            ffi::SQLITE_IOERR_SHORT_READ
        }
        Err(_) => ffi::SQLITE_IOERR_READ,
    }
}

unsafe extern "C" fn write(
    _file: *mut ffi::sqlite3_file,
    _buf: *const c_void,
    _amount: c_int,
    _offset: ffi::sqlite3_int64,
) -> c_int {
    ffi::SQLITE_READONLY
}

unsafe extern "C" fn truncate(_file: *mut ffi::sqlite3_file, _size: ffi::sqlite3_int64) -> c_int {
    ffi::SQLITE_READONLY
}

unsafe extern "C" fn sync(_file: *mut ffi::sqlite3_file, _flags: c_int) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn file_size(
    file: *mut ffi::sqlite3_file,
    size: *mut ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: an open file, and a place for the size.
    unsafe { *size = i64::try_from(source(file).len).unwrap_or(i64::MAX) };
    ffi::SQLITE_OK
}

/// Locks and unlocks: nothing to do, nothing else writes the file (it is immutable).
unsafe extern "C" fn lock(_file: *mut ffi::sqlite3_file, _level: c_int) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn check_reserved_lock(_file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    // SAFETY: a place for the answer.
    unsafe { *out = 0 };
    ffi::SQLITE_OK
}

unsafe extern "C" fn file_control(
    _file: *mut ffi::sqlite3_file,
    _op: c_int,
    _arg: *mut c_void,
) -> c_int {
    ffi::SQLITE_NOTFOUND
}

unsafe extern "C" fn sector_size(_file: *mut ffi::sqlite3_file) -> c_int {
    512
}

unsafe extern "C" fn device_characteristics(_file: *mut ffi::sqlite3_file) -> c_int {
    ffi::SQLITE_IOCAP_IMMUTABLE
}
