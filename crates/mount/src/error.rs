use hearth_browse::BrowseError;
use std::net::SocketAddr;
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum MountError {
    #[error(transparent)]
    Browse(#[from] BrowseError),
    #[error("{}: {detail}", dir.display())]
    BadMountPoint { dir: PathBuf, detail: String },
    #[error(
        "cannot mount at {}: {source}{}",
        dir.display(),
        mount_hint(source)
    )]
    Mount {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot unmount {}: {source}", dir.display())]
    Unmount {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the file system at {} stopped: {source}", dir.display())]
    Session {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the WebDAV server failed: {0}")]
    Server(#[source] std::io::Error),
}

/// What to do about a mount that failed, by its error.
fn mount_hint(e: &std::io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENODEV) => {
            " (FUSE is missing: load the kernel module with `modprobe fuse`, and install fusermount: `apt-get install fuse3`)"
        }
        Some(libc::EPERM) | Some(libc::EACCES) => {
            " (not allowed: as a user, mounting needs fusermount (`apt-get install fuse3`) and access to /dev/fuse; --allow-other also needs `user_allow_other` in /etc/fuse.conf)"
        }
        Some(libc::EBUSY) => " (something is already mounted there)",
        _ => "",
    }
}

/// The errno a failed read of the household gives a program: `ENOENT` for what is not there,
/// `EIO` for data that does not read (a missing or damaged blob, a short file).
pub(crate) fn errno(e: &BrowseError) -> i32 {
    match e {
        BrowseError::NotFound { .. } => libc::ENOENT,
        BrowseError::IsAFolder { .. } => libc::EISDIR,
        BrowseError::NotAFolder { .. } => libc::ENOTDIR,
        BrowseError::Io { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
        _ => libc::EIO,
    }
}
