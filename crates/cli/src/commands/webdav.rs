//! `webdav`: every snapshot as a read-only WebDAV tree, until stopped.

use super::serving::{Stderr, stop_on_signal, summary};
use crate::Outcome;
use crate::cli::WebdavArgs;
use crate::context::Context;
use crate::signals::Stop;
use anyhow::{Result, bail};
use hearth_browse::Household;
use hearth_mount::webdav::{Hosts, WebDav};
use hearth_repo::Repository;
use std::io::Write;
use std::sync::Arc;

pub fn run(ctx: &Context, args: &WebdavArgs) -> Result<Outcome> {
    let loopback = args.listen.ip().is_loopback();
    if !loopback && !args.allow_remote {
        bail!(
            "{} is not a loopback address: the WebDAV server has no password and no TLS, so anyone who reaches it reads every snapshot; give --allow-remote to serve there anyway, or reach a loopback server through an SSH tunnel",
            args.listen
        );
    }
    // First: every thread started from here on leaves the stop signals to the signal thread.
    let stop = Stop::install()?;
    // The server lives until the process ends; so may the repository it reads.
    let repo: &'static Repository = Box::leak(Box::new(ctx.open()?));
    // Files are read from packs for as long as it serves: a prune waits until it stops.
    let lock = ctx.shared_lock(repo)?;
    let household = Household::open(repo)?;
    let summary = summary(&household);
    let hosts = match loopback {
        true => Hosts::Loopback,
        false => Hosts::Any,
    };
    let server = WebDav::bind(household, args.listen, hosts, Arc::new(Stderr))?;
    let addr = server.local_addr();
    if !loopback {
        eprintln!(
            "warning: serving on {addr} without a password or TLS: anyone who reaches this address reads every snapshot"
        );
    }
    println!("serving {summary} read-only at http://{addr}/");
    println!("stop with Ctrl-C; a prune waits until then");
    std::io::stdout().flush()?;
    let stopper = server.stopper();
    stop_on_signal(&stop, "the WebDAV server", move || stopper.stop());
    server.run()?;
    drop(lock);
    println!("stopped");
    Ok(Outcome::Success)
}
