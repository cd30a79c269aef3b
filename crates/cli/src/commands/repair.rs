//! `unlock`, `repair index` and `repair snapshots`.

use crate::Outcome;
use crate::cli::RepairCommand;
use crate::context::Context;
use crate::output::{esc, esc_text, print_json};
use crate::progress::Bars;
use anyhow::Result;
use hearth_format::SnapshotId;
use hearth_repo::{RepairIndexOptions, RepairIndexReport, RepairSnapshotsPlan, SnapshotRepair};
use serde_json::json;

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
        RepairCommand::Index { read_all_packs } => index(ctx, read_all_packs),
        RepairCommand::Snapshots { dry_run, forget } => snapshots(ctx, dry_run, forget),
    }
}

fn snapshots(ctx: &Context, dry_run: bool, forget: bool) -> Result<Outcome> {
    let repo = ctx.open_quietly()?;
    let bars = Bars::new();
    let (plan, done) = match dry_run {
        // The plan reads packs: under a shared lock, a prune waits.
        true => (
            repo.repair_snapshots_plan(&ctx.shared_lock(&repo)?, &bars)?,
            Vec::new(),
        ),
        false => {
            let lock = ctx.exclusive_lock(&repo)?;
            let plan = repo.repair_snapshots_plan(&lock, &bars)?;
            let done = repo.repair_snapshots(&lock, &plan, forget, &bars)?;
            (plan, done)
        }
    };
    let new_id = |old: &SnapshotId| done.iter().find(|(o, _)| o == old).and_then(|(_, n)| *n);
    if ctx.global.json {
        let repairs: Vec<_> = plan
            .repairs
            .iter()
            .map(|r| {
                let (action, why, lost) = match r {
                    SnapshotRepair::FromCache { .. } => ("rewritten from cache", None, Vec::new()),
                    SnapshotRepair::Remove { why, .. } => match forget {
                        true => ("removed", Some(why.clone()), Vec::new()),
                        false => ("kept (remove with --forget)", Some(why.clone()), Vec::new()),
                    },
                    SnapshotRepair::Rewrite { lost, .. } => ("rewritten", None, lost.clone()),
                };
                json!({
                    "id": r.id().to_hex(),
                    "action": action,
                    "why": why,
                    "lost_files": lost,
                    "new_id": new_id(&r.id()).map(|n| n.to_hex()),
                })
            })
            .collect();
        print_json(&json!({"dry_run": dry_run, "sound": plan.sound, "repairs": repairs}));
    } else {
        print_snapshot_repairs(&plan, dry_run, forget, &new_id);
    }
    Ok(if plan.repairs.is_empty() {
        Outcome::Success
    } else {
        Outcome::Warnings
    })
}

fn print_snapshot_repairs(
    plan: &RepairSnapshotsPlan,
    dry_run: bool,
    forget: bool,
    new_id: &dyn Fn(&SnapshotId) -> Option<SnapshotId>,
) {
    let now = |old: &SnapshotId| match new_id(old) {
        Some(n) => format!(" (now {})", n.short()),
        None => String::new(),
    };
    for r in &plan.repairs {
        let id = r.id();
        match r {
            SnapshotRepair::FromCache { snapshot, .. } => println!(
                "snapshot {} of {}: its object does not read; written again from this computer's cache{}",
                id.short(),
                esc(snapshot.device.label()),
                now(&id)
            ),
            SnapshotRepair::Remove { why, .. } if forget => {
                println!("snapshot {}: removed: {}", id.short(), esc_text(why))
            }
            SnapshotRepair::Remove { why, .. } => println!(
                "snapshot {}: kept; it cannot be written again, and --forget removes it: {}",
                id.short(),
                esc_text(why)
            ),
            SnapshotRepair::Rewrite { snapshot, lost, .. } => {
                println!(
                    "snapshot {} of {}: written again without the {} file(s) whose stored bytes are lost{}:",
                    id.short(),
                    esc(snapshot.device.label()),
                    lost.len(),
                    now(&id)
                );
                for f in lost {
                    println!("  lost: {}", esc(f));
                }
            }
        }
    }
    let kept = match forget {
        true => 0,
        false => (plan.repairs.iter())
            .filter(|r| matches!(r, SnapshotRepair::Remove { .. }))
            .count(),
    };
    let verb = if dry_run { "to repair" } else { "repaired" };
    println!(
        "{} snapshot(s) sound, {} {verb}, {kept} that only --forget removes{}",
        plan.sound,
        plan.repairs.len() - kept,
        if dry_run {
            " (dry run: nothing changed)"
        } else {
            ""
        }
    );
}

fn index(ctx: &Context, read_all_packs: bool) -> Result<Outcome> {
    let repo = ctx.open_quietly()?;
    let lock = ctx.exclusive_lock(&repo)?;
    let options = RepairIndexOptions { read_all_packs };
    let r = repo.repair_index(&lock, options, &Bars::new())?;
    let lost = !r.packs_dropped.is_empty() || !r.packs_unreadable.is_empty();
    if ctx.global.json {
        print_json(&json!({
            "segments_read": r.segments_read,
            "segments_damaged": r.segments_damaged.iter().map(|(id, why)| json!({"id": id.to_hex(), "problem": why})).collect::<Vec<_>>(),
            "headers_read": r.headers_read,
            "packs_indexed": r.packs_indexed.iter().map(|p| p.to_hex()).collect::<Vec<_>>(),
            "packs_dropped": r.packs_dropped.iter().map(|p| p.to_hex()).collect::<Vec<_>>(),
            "packs_unreadable": r.packs_unreadable.iter().map(|(p, why)| json!({"id": p.to_hex(), "problem": why})).collect::<Vec<_>>(),
            "segments_written": r.segments_written,
            "segments_deleted": r.segments_deleted,
            "blobs": r.blobs,
            "packs": r.packs,
            "snapshots": r.snapshots,
        }));
    } else {
        print_index_repair(&r);
    }
    Ok(if lost {
        Outcome::Warnings
    } else {
        Outcome::Success
    })
}

fn print_index_repair(r: &RepairIndexReport) {
    println!(
        "read {} index segment(s); {} could not be read",
        r.segments_read,
        r.segments_damaged.len()
    );
    for (id, why) in &r.segments_damaged {
        println!(
            "  index/{id}: {} (removed: its packs are listed anew)",
            esc_text(why)
        );
    }
    println!(
        "read the headers of {} pack(s); listed {} pack(s) that no index segment named",
        r.headers_read,
        r.packs_indexed.len()
    );
    for p in &r.packs_dropped {
        eprintln!(
            "warning: packs/{p} is named by the index but storage does not have it: dropped from the index; its blobs are lost, and the next backup of the devices that still hold them stores them again"
        );
    }
    for (p, why) in &r.packs_unreadable {
        eprintln!(
            "warning: packs/{p}: its header cannot be read ({}): what it holds is unknown; it is left as it is",
            esc_text(why)
        );
    }
    println!(
        "wrote {} index segment(s), removed {}; rebuilt the index cache: {} blobs in {} packs, {} snapshots",
        r.segments_written, r.segments_deleted, r.blobs, r.packs, r.snapshots
    );
}
