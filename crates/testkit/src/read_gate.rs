//! Holding another process at the moment it opens or reads one file, to change the file right
//! then: the real binary, paused by the kernel at an exact point, with no test hook in it.
//!
//! Linux fanotify permission events (`FAN_OPEN_PERM`, `FAN_ACCESS_PERM`) stop the process in
//! its `open(2)` or `read(2)` of the marked file until this side answers; [`ReadGate`] calls the
//! test's function with each event, then lets the call go on. The `read(2)` then sees the file
//! as the function left it. This needs `CAP_SYS_ADMIN` (tests run as root) and a kernel with
//! `CONFIG_FANOTIFY_ACCESS_PERMISSIONS`; [`ReadGate::new`] fails clearly otherwise.
//!
//! The function must change the file through a handle it opened before the gate (a `File` it
//! keeps, `set_len`, `write_at`, `set_modified`): opening the file again would wait for the
//! gate itself. Events of the test's own process are let through without calling it.
//!
//! ```no_run
//! use hearth_testkit::{Access, ReadGate};
//! use std::os::unix::fs::FileExt;
//! # fn main() -> std::io::Result<()> {
//! let file = std::fs::OpenOptions::new().write(true).open("/tmp/device/ab/ab12")?;
//! let mut reads = 0;
//! let gate = ReadGate::new("/tmp/device/ab/ab12".as_ref(), move |access| {
//!     if access == Access::Read {
//!         reads += 1;
//!         if reads == 2 {
//!             file.set_len(1 << 20).unwrap(); // shrinks under the reader's feet
//!         }
//!     }
//! })?;
//! // ... run `hearth backup` ...
//! let seen = gate.finish()?;
//! # Ok(()) }
//! ```

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// What another process was about to do with the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Open,
    Read,
}

/// Holds every open and read of one file by other processes until the test's function has
/// run. Dropping it (or [`ReadGate::finish`]) lets everything through again.
pub struct ReadGate {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<Vec<Access>>>>,
}

impl ReadGate {
    /// Starts holding opens and reads of `path` (the inode it names now).
    pub fn new(path: &Path, on: impl FnMut(Access) + Send + 'static) -> io::Result<ReadGate> {
        let fan = fanotify(path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || serve(&fan, &stopping, on));
        Ok(ReadGate {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops holding, and returns what other processes did, in order.
    pub fn finish(mut self) -> io::Result<Vec<Access>> {
        self.stop_thread()
            .unwrap_or_else(|| Err(io::Error::other("already finished")))
    }

    fn stop_thread(&mut self) -> Option<io::Result<Vec<Access>>> {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.take()?;
        Some(
            thread
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the gate's function panicked"))),
        )
    }
}

impl Drop for ReadGate {
    fn drop(&mut self) {
        let _ = self.stop_thread();
    }
}

/// A fanotify group holding opens and reads of `path`.
fn fanotify(path: &Path) -> io::Result<OwnedFd> {
    // SAFETY: plain flags; the result is checked.
    let fd = unsafe {
        libc::fanotify_init(
            libc::FAN_CLASS_CONTENT | libc::FAN_CLOEXEC,
            libc::O_RDONLY as libc::c_uint,
        )
    };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("fanotify_init (needs CAP_SYS_ADMIN: run the tests as root): {e}"),
        ));
    }
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    let fan = unsafe { OwnedFd::from_raw_fd(fd) };
    let c = CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)?;
    let mask = libc::FAN_OPEN_PERM | libc::FAN_ACCESS_PERM;
    // SAFETY: a valid descriptor and NUL-terminated path; the result is checked.
    let rc = unsafe {
        libc::fanotify_mark(
            fan.as_raw_fd(),
            libc::FAN_MARK_ADD,
            mask,
            libc::AT_FDCWD,
            c.as_ptr(),
        )
    };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("fanotify_mark {}: {e}", path.display()),
        ));
    }
    Ok(fan)
}

/// Answers events until `stop`; every event is allowed, after `on` for other processes'.
fn serve(fan: &OwnedFd, stop: &AtomicBool, mut on: impl FnMut(Access)) -> io::Result<Vec<Access>> {
    let me = std::process::id() as i32;
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        if !readable(fan, 20)? {
            continue;
        }
        // SAFETY: reads into a buffer of the given length.
        let n = unsafe { libc::read(fan.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in events(&buf[..n as usize]) {
            let access = if event.mask & libc::FAN_OPEN_PERM != 0 {
                Access::Open
            } else {
                Access::Read
            };
            if event.pid != me {
                on(access);
                seen.push(access);
            }
            allow(fan, event.fd)?;
        }
    }
    Ok(seen)
}

/// True when `fan` has events within `ms` milliseconds.
fn readable(fan: &OwnedFd, ms: i32) -> io::Result<bool> {
    let mut poll = libc::pollfd {
        fd: fan.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let rc = unsafe { libc::poll(&mut poll, 1, ms) };
    match rc {
        0 => Ok(false),
        n if n > 0 => Ok(true),
        _ => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            }
        }
    }
}

/// The event records in `bytes` (whole records, as `read` returns them).
fn events(bytes: &[u8]) -> Vec<libc::fanotify_event_metadata> {
    let size = std::mem::size_of::<libc::fanotify_event_metadata>();
    let mut out = Vec::new();
    let mut at = 0;
    while at + size <= bytes.len() {
        // SAFETY: `size` bytes are there; read_unaligned needs no alignment.
        let event: libc::fanotify_event_metadata =
            unsafe { std::ptr::read_unaligned(bytes[at..].as_ptr().cast()) };
        assert_eq!(event.vers, libc::FANOTIFY_METADATA_VERSION, "fanotify ABI");
        if (event.event_len as usize) < size {
            break;
        }
        out.push(event);
        at += event.event_len as usize;
    }
    out
}

/// Lets the held call go on and closes the event's descriptor.
fn allow(fan: &OwnedFd, fd: i32) -> io::Result<()> {
    let response = libc::fanotify_response {
        fd,
        response: libc::FAN_ALLOW,
    };
    let len = std::mem::size_of::<libc::fanotify_response>();
    // SAFETY: writes one response struct; the event's fd is ours to close.
    let n = unsafe { libc::write(fan.as_raw_fd(), (&raw const response).cast(), len) };
    unsafe { libc::close(fd) };
    if n as usize != len {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::sync::Mutex;

    /// A child process (`cat`) reads a 3 MiB file; at its second read the file is cut to
    /// 1.5 MiB. The gate sees its open and reads, and `cat` gets exactly the bytes left.
    #[test]
    fn a_reader_is_held_and_sees_the_file_as_changed_at_its_second_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![7u8; 3 << 20]).unwrap();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let reads = Arc::new(Mutex::new(0));
        let counted = Arc::clone(&reads);
        let gate = ReadGate::new(&path, move |access| {
            if access == Access::Read {
                let mut n = counted.lock().unwrap();
                *n += 1;
                if *n == 2 {
                    file.set_len(3 << 19).unwrap();
                }
            }
        })
        .unwrap();
        let mut child = std::process::Command::new("cat")
            .arg(&path)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = Vec::new();
        child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
        assert!(child.wait().unwrap().success());
        let seen = gate.finish().unwrap();
        assert_eq!(seen.first(), Some(&Access::Open), "{seen:?}");
        assert!(*reads.lock().unwrap() >= 2, "{seen:?}");
        assert_eq!(out.len(), 3 << 19, "cat read what was left after the cut");
    }
}
