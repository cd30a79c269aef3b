//! `unlock` and `repair index`.

use crate::Outcome;
use crate::cli::RepairCommand;
use crate::context::Context;
use crate::output::esc;
use anyhow::Result;

pub fn unlock(ctx: &Context) -> Result<Outcome> {
    let repo = ctx.open()?;
    let removed = repo.remove_stale_locks()?;
    for l in &removed {
        println!(
            "removed lock {} of pid {} on {}: {}",
            l.id.short(),
            l.info.pid,
            esc(&l.info.host),
            l.reason
        );
    }
    let live = repo.locks()?.live;
    for (id, l) in &live {
        println!(
            "kept live lock {} of pid {} on {}",
            id.short(),
            l.pid,
            esc(&l.host)
        );
    }
    if removed.is_empty() {
        println!("no stale locks");
    }
    Ok(Outcome::Success)
}

pub fn run(ctx: &Context, command: RepairCommand) -> Result<Outcome> {
    match command {
        RepairCommand::Index => {
            let mut repo = ctx.open()?;
            repo.rebuild_cache()?;
            println!(
                "rebuilt the index cache: {} blobs in {} packs, {} snapshots",
                repo.cache().blob_count()?,
                repo.cache().packs()?.len(),
                repo.snapshots()?.len()
            );
        }
    }
    Ok(Outcome::Success)
}
