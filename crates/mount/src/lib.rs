//! The household as a read-only tree that other programs browse: a FUSE file system
//! ([`fuse`], `hearth mount`) and a WebDAV server ([`webdav`], `hearth webdav`), both over
//! hearth-browse's [`Household`](hearth_browse::Household):
//!
//! ```text
//! /<device name>/<snapshot time>/<Domain>/<relative path>
//! /<device name>/<snapshot time>/Manifest.db, Info.plist, ...
//! /<device name>/latest/...          (the device's latest snapshot)
//! ```
//!
//! What it is not: a way to change anything. Every write is refused (`EROFS`; `405 Method Not
//! Allowed`), and the tree is the one the repository held when it was opened: a backup made
//! while it is served shows after a restart. The servers do not take the repository's lock
//! themselves; the program that runs them holds a shared lock for as long as they serve, so
//! that a prune waits.
//!
//! Both read a file's bytes through [`FileReader`](hearth_browse::FileReader), a chunk at a
//! time, so memory does not grow with a file's size; the FUSE side keeps one reader per open
//! file, so a program copying a file reads it through the span reader in order.
//!
//! ```no_run
//! # fn serve(repo: &'static hearth_repo::Repository) -> Result<(), Box<dyn std::error::Error>> {
//! use hearth_browse::{BrowseError, Household};
//! use hearth_mount::webdav::{Hosts, WebDav};
//!
//! struct Stderr;
//! impl hearth_mount::Report for Stderr {
//!     fn unreadable(&self, path: &str, error: &BrowseError) {
//!         eprintln!("{path}: {error}");
//!     }
//! }
//!
//! let household = Household::open(repo)?;
//! let server = WebDav::bind(household, "127.0.0.1:8090".parse()?, Hosts::Loopback, std::sync::Arc::new(Stderr))?;
//! let stop = server.stopper();
//! std::thread::spawn(move || {
//!     std::thread::sleep(std::time::Duration::from_secs(60));
//!     stop.stop();
//! });
//! server.run()?; // serves until stopped
//! # Ok(())
//! # }
//! ```

mod attr;
mod error;
#[cfg(target_os = "linux")]
pub mod fuse;
#[cfg(target_os = "linux")]
mod inode;
pub mod webdav;

pub use attr::{Attr, Kind};
pub use error::MountError;

use hearth_browse::BrowseError;

/// Where the servers tell of a file or folder that does not read; they never print. The
/// program that runs them says it to its user (`hearth` prints it on stderr); the client only
/// gets `EIO` or a failed response.
pub trait Report: Send + Sync {
    /// `path` is the tree's (`/<device>/<snapshot>/<Domain>/<path>`).
    fn unreadable(&self, path: &str, error: &BrowseError);
}
