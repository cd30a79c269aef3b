//! `mount`: every snapshot as a read-only FUSE tree, until unmounted or stopped.

use super::serving::{Stderr, summary};
use crate::Outcome;
use crate::cli::MountArgs;
use crate::context::Context;
use crate::output::esc;
use crate::signals::{self, Stop};
use anyhow::Result;
use hearth_browse::Household;
use hearth_mount::fuse::{MountOptions, Unmounted, mount};
use hearth_repo::Repository;
use std::io::Write;
use std::sync::Arc;

pub fn run(ctx: &Context, args: &MountArgs) -> Result<Outcome> {
    // First: every thread started from here on leaves the stop signals to the signal thread.
    let stop = Stop::install()?;
    // The mount lives until the process ends; so may the repository it reads.
    let repo: &'static Repository = Box::leak(Box::new(ctx.open()?));
    // Files are read from packs for as long as it is mounted: a prune waits until unmounted.
    let lock = ctx.shared_lock(repo)?;
    let household = Household::open(repo)?;
    let summary = summary(&household);
    let options = MountOptions {
        allow_other: args.allow_other,
        ..MountOptions::default()
    };
    let mounted = mount(household, &args.dir, &options, Arc::new(Stderr))?;
    let dir = esc(&mounted.dir().display().to_string()).into_owned();
    println!("mounted {summary} read-only at {dir}");
    println!(
        "unmount with `fusermount -u {dir}` (or `umount {dir}` as root), or press Ctrl-C; a prune waits until then"
    );
    std::io::stdout().flush()?;

    let unmounter = mounted.unmounter();
    let mut stops = 0;
    let shown = dir.clone();
    stop.on_signal(move |signal| {
        stops += 1;
        if stops > 1 {
            eprintln!("{}: ending without waiting for {shown}", signals::name(signal));
            std::process::exit(1);
        }
        eprintln!("{}: unmounting {shown}", signals::name(signal));
        match unmounter.unmount() {
            Ok(Unmounted::Now) => {}
            Ok(Unmounted::Detached) => eprintln!(
                "{shown} is in use: detached now; it ends when the programs using it close their files (signal again to end at once)"
            ),
            Err(e) => eprintln!("error: {}", crate::output::source_text(&e)),
        }
    });
    mounted.join()?;
    drop(lock);
    println!("unmounted {dir}");
    Ok(Outcome::Success)
}
