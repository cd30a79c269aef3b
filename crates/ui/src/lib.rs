//! `hearth ui`: the household's dashboard in the browser.
//!
//! A local web server ([`Server`]) renders pages on the server (HTML written with `maud`, a
//! little JavaScript for live progress, CSS and script embedded in the binary: no CDN, no
//! build step). Everything a page shows comes from the library crates the command line uses:
//! snapshots and pins from `hearth-repo`, trees, files and diffs from `hearth-browse`, photos
//! and conversations from `hearth-export`, plans and images from `hearth-restore`, backups from
//! `hearth-ingest`. Handlers only choose what to call and how to show it.
//!
//! Invariants:
//! - Only a browser that holds the session token talks to it: the URL `hearth ui` opens carries
//!   the token once, the server moves it into an `HttpOnly`, `SameSite=Strict` cookie; every
//!   other request without it is refused ([`auth`]). Every state-changing request is a POST
//!   that also carries the CSRF token. The repository password never leaves the process.
//! - Pages read packs under the repository's shared lock, held as a lease while requests come
//!   and let go when idle, so a prune from another process is never blocked for long
//!   ([`reads::Reads`]).
//! - Long operations (backup, check, prune, export, restore) are jobs: at most one at a time
//!   per repository, run on their own thread, their progress kept in the server, so a reloaded
//!   page finds them ([`jobs::Jobs`]).

mod assets;
pub mod auth;
mod body;
mod charts;
mod content;
mod error;
mod format;
pub mod jobs;
mod kept;
mod operations;
mod page;
mod pages;
mod preview;
pub mod reads;
mod routes;
mod server;
mod state;
mod storage;

pub use content::encode_path;
pub use error::UiError;
pub use server::{Server, Stopper, UiOptions};
