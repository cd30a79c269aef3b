//! Reading the files of a backup folder that are read whole (the plists, Manifest.db) only when
//! they are regular files, and within fixed limits. A source folder may be hostile: a FIFO in
//! the place of `Info.plist` would block a plain `open` for ever, and a link to `/dev/zero`
//! would be read until memory runs out.
//!
//! Invariant: nothing but a regular file is ever opened. The file is looked at first without
//! following a link (`lstat`), then opened with `O_NOFOLLOW | O_NONBLOCK` and looked at again
//! (`fstat`), so a file swapped for a link or a FIFO between the two is refused too (a device
//! node swapped in between would be opened, but not read). The limits are far above what real
//! devices write and far below a machine's memory.

use crate::error::Error;
use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Longest `Info.plist` read. It holds an icon and App Store metadata per installed app: real
/// ones, of devices with hundreds of apps, stay in the tens of MiB.
pub const INFO_PLIST_MAX_BYTES: u64 = 256 << 20;
/// Longest `Manifest.plist` read: the keybag and one small dictionary per app (real ones are
/// a few MiB at most).
pub const MANIFEST_PLIST_MAX_BYTES: u64 = 64 << 20;
/// Longest `Status.plist` read: a dozen keys (real ones are under 1 KiB).
pub const STATUS_PLIST_MAX_BYTES: u64 = 1 << 20;
/// Longest `Manifest.db`: about 1 KiB per file of the device, so 1 GiB is a million files.
/// An encrypted one is decrypted in memory.
pub const MANIFEST_DB_MAX_BYTES: u64 = 4 << 30;

/// Whether the last component of the path may be a symbolic link (to a regular file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// A file of a backup folder: a link is refused (blobs that are links are skipped too).
    Refuse,
    /// A file the user names (a password file): a link to a regular file is fine.
    Follow,
}

/// Opens `path` for reading when it is a regular file of at most `limit` bytes; its metadata.
pub fn open_regular(path: &Path, limit: u64, links: Links) -> Result<(File, Metadata), Error> {
    let looked = match links {
        Links::Refuse => std::fs::symlink_metadata(path),
        Links::Follow => std::fs::metadata(path),
    };
    let meta = looked.map_err(|e| open_error(path, e))?;
    check(path, &meta, limit)?;
    let mut flags = libc::O_NONBLOCK;
    if links == Links::Refuse {
        flags |= libc::O_NOFOLLOW;
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|e| open_error(path, e))?;
    let meta = file.metadata().map_err(|source| Error::Io {
        path: path.to_path_buf(),
        what: "cannot stat",
        source,
    })?;
    check(path, &meta, limit)?;
    Ok((file, meta))
}

/// The whole of `path`, a regular file of at most `limit` bytes (also when it grows while read).
pub fn read_regular(path: &Path, limit: u64, links: Links) -> Result<Vec<u8>, Error> {
    let (file, meta) = open_regular(path, limit, links)?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            what: "cannot read",
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            len: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

fn check(path: &Path, meta: &Metadata, limit: u64) -> Result<(), Error> {
    if !meta.is_file() {
        return Err(Error::NotRegularFile {
            path: path.to_path_buf(),
            kind: kind(meta),
        });
    }
    if meta.len() > limit {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            len: meta.len(),
            limit,
        });
    }
    Ok(())
}

fn kind(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

fn open_error(path: &Path, source: std::io::Error) -> Error {
    match source.raw_os_error() {
        _ if source.kind() == std::io::ErrorKind::NotFound => Error::NotFound {
            path: path.to_path_buf(),
        },
        // O_NOFOLLOW met a link put there after the lstat.
        Some(libc::ELOOP) => Error::NotRegularFile {
            path: path.to_path_buf(),
            kind: "a symbolic link",
        },
        _ => Error::Io {
            path: path.to_path_buf(),
            what: "cannot open",
            source,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;

    fn mkfifo(path: &Path) {
        let c = CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    }

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"12345").unwrap();
        assert_eq!(read_regular(&plain, 5, Links::Refuse).unwrap(), b"12345");

        let e = read_regular(&plain, 4, Links::Refuse).unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(
                e,
                Error::TooLarge {
                    len: 5,
                    limit: 4,
                    ..
                }
            ),
            "{msg}"
        );
        assert!(
            msg.starts_with(&format!("{}: 5 bytes", plain.display())),
            "{msg}"
        );

        let fifo = dir.path().join("fifo");
        mkfifo(&fifo);
        for links in [Links::Refuse, Links::Follow] {
            let msg = read_regular(&fifo, 5, links).unwrap_err().to_string();
            assert!(msg.contains("not a regular file (a FIFO)"), "{msg}");
        }

        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let msg = read_regular(&zero, 5, Links::Refuse)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("not a regular file (a symbolic link)"),
            "{msg}"
        );
        let msg = read_regular(&zero, 5, Links::Follow)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("not a regular file (a device)"), "{msg}");

        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&plain, &link).unwrap();
        assert!(read_regular(&link, 5, Links::Refuse).is_err());
        assert_eq!(read_regular(&link, 5, Links::Follow).unwrap(), b"12345");

        let missing = dir.path().join("missing");
        let e = read_regular(&missing, 5, Links::Refuse).unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e}");
    }
}
