//! `forget`, `prune`, `pin`, `unpin`.

use crate::Outcome;
use crate::cli::{ForgetArgs, GroupBy};
use crate::context::Context;
use crate::output::{bytes, device_json, esc, esc_text, print_json, time};
use crate::progress::Bars;
use anyhow::{Result, bail};
use hearth_format::{Snapshot, SnapshotId};
use hearth_repo::retention::Policy;
use hearth_repo::{
    ExclusiveLock, ForgetPlan, GroupVerdict, Grouping, PruneOptions, PrunePlan, PruneReport,
    Repository,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub fn forget(ctx: &Context, args: &ForgetArgs) -> Result<Outcome> {
    if !args.snapshots.is_empty() {
        return forget_snapshots(ctx, args);
    }
    let mut policy = policy(args);
    if policy.is_empty() {
        let Some(from_file) = ctx.settings.retention() else {
            bail!(
                "no --keep-* option given and no [retention] in the config file {}: say what to keep (e.g. --keep-daily 7 --keep-weekly 4)",
                ctx.settings.config.path.display()
            );
        };
        eprintln!("keeping by [retention] of the {}", from_file.source);
        policy = from_file.value;
    }
    let repo = ctx.open()?;
    // A dry run reads only the snapshot list; the real one forgets under the exclusive lock.
    let lock = (!args.dry_run)
        .then(|| ctx.exclusive_lock(&repo))
        .transpose()?;
    let grouping = match args.group_by {
        GroupBy::Device => Grouping::Device,
        GroupBy::None => Grouping::None,
    };
    let plan = repo.forget_plan(&policy, args.device.as_deref(), grouping)?;
    let remove = plan.remove();
    if let Some(lock) = &lock {
        repo.forget(lock, &remove)?;
    }
    // Under the same lock, on the same open repository.
    let pruned = (lock.as_ref())
        .filter(|_| args.prune)
        .map(|lock| run_prune(&repo, lock, args.max_unused))
        .transpose()?;
    if ctx.global.json {
        let mut doc = verdicts_json(&plan, args.dry_run);
        if let Some((plan, done)) = &pruned {
            doc["prune"] = prune_json(plan, Some(done));
        }
        print_json(&doc);
        return Ok(Outcome::Success);
    }
    print_verdicts(&plan);
    if !args.dry_run {
        println!("removed {} snapshot(s)", remove.len());
    }
    if let Some((plan, done)) = &pruned {
        print_prune(plan, Some(done));
    }
    Ok(Outcome::Success)
}

/// What a watcher does after each snapshot it stores, as `forget --prune` does after a
/// scheduled backup: forget by `policy` per device, then prune (5% unused may stay), under
/// the exclusive lock. Returns the snapshots removed and the bytes stored before and after.
pub fn forget_and_prune(
    ctx: &Context,
    repo: &Repository,
    policy: &Policy,
) -> Result<(usize, u64, u64)> {
    let lock = ctx.exclusive_lock(repo)?;
    let plan = repo.forget_plan(policy, None, Grouping::Device)?;
    let remove = plan.remove();
    repo.forget(&lock, &remove)?;
    let (_, (before, after, _)) = run_prune(repo, &lock, DEFAULT_MAX_UNUSED)?;
    Ok((remove.len(), before, after))
}

/// `--max-unused`'s default.
const DEFAULT_MAX_UNUSED: f64 = 0.05;

/// `forget SNAPSHOT...`: exactly those, also snapshots whose object no longer reads.
fn forget_snapshots(ctx: &Context, args: &ForgetArgs) -> Result<Outcome> {
    let repo = ctx.open()?;
    let lock = (!args.dry_run)
        .then(|| ctx.exclusive_lock(&repo))
        .transpose()?;
    let mut ids = Vec::new();
    for r in &args.snapshots {
        let id = repo.find_snapshot_id(r)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let known: BTreeMap<SnapshotId, Snapshot> = repo.snapshots()?.into_iter().collect();
    if let Some(lock) = &lock {
        repo.forget(lock, &ids)?;
    }
    let pruned = (lock.as_ref())
        .filter(|_| args.prune)
        .map(|lock| run_prune(&repo, lock, args.max_unused))
        .transpose()?;
    if ctx.global.json {
        let removed: Vec<Value> = ids
            .iter()
            .map(|id| match known.get(id) {
                Some(s) => json!({"id": id.to_hex(), "device": device_json(&s.device), "time": time(s.time)}),
                None => json!({"id": id.to_hex(), "device": null, "time": null}),
            })
            .collect();
        let mut doc = json!({ "dry_run": args.dry_run, "removed": removed });
        if let Some((plan, done)) = &pruned {
            doc["prune"] = prune_json(plan, Some(done));
        }
        print_json(&doc);
        return Ok(Outcome::Success);
    }
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for id in &ids {
        match known.get(id) {
            Some(s) => println!(
                "{verb} snapshot {} of {} ({})",
                id.short(),
                esc(s.device.label()),
                time(s.time)
            ),
            None => println!("{verb} snapshot {} (its object does not read)", id.short()),
        }
    }
    if let Some((plan, done)) = &pruned {
        print_prune(plan, Some(done));
    }
    Ok(Outcome::Success)
}

fn policy(a: &ForgetArgs) -> Policy {
    Policy {
        last: a.keep_last,
        hourly: a.keep_hourly,
        daily: a.keep_daily,
        weekly: a.keep_weekly,
        monthly: a.keep_monthly,
        yearly: a.keep_yearly,
        within: a.keep_within,
        tags: a.keep_tags.clone(),
    }
}

fn verdicts_json(plan: &ForgetPlan, dry_run: bool) -> Value {
    let groups: Vec<_> = plan
        .groups
        .iter()
        .map(
            |GroupVerdict {
                 group,
                 decisions: ds,
             }| {
                json!({
                    "group": group,
                    "snapshots": ds.iter().map(|d| json!({
                        "id": d.id.to_hex(),
                        "time": crate::output::time(d.time),
                        "keep": d.keep(),
                        "reasons": d.reasons,
                    })).collect::<Vec<_>>(),
                })
            },
        )
        .collect();
    json!({ "dry_run": dry_run, "groups": groups })
}

fn print_verdicts(plan: &ForgetPlan) {
    for GroupVerdict {
        group,
        decisions: ds,
    } in &plan.groups
    {
        println!("{}:", esc(group));
        for d in ds {
            let verdict = if d.keep() { "keep  " } else { "remove" };
            println!(
                "  {verdict} {} {}  {}",
                d.id.short(),
                crate::output::time(d.time),
                esc_text(&d.reasons.join(", "))
            );
        }
    }
}

/// What a prune did: before and after sizes and the report.
type Done = (u64, u64, PruneReport);

pub fn prune(ctx: &Context, dry_run: bool, max_unused: f64) -> Result<Outcome> {
    let repo = ctx.open()?;
    let (plan, done) = match dry_run {
        // The plan reads packs: under a shared lock, so another prune waits.
        true => {
            let lock = ctx.shared_lock(&repo)?;
            let plan = repo.prune_plan(&lock, &PruneOptions { max_unused }, &Bars::new())?;
            (plan, None)
        }
        false => {
            let (plan, done) = run_prune(&repo, &ctx.exclusive_lock(&repo)?, max_unused)?;
            (plan, Some(done))
        }
    };
    if ctx.global.json {
        print_json(&prune_json(&plan, done.as_ref()));
    } else {
        print_prune(&plan, done.as_ref());
    }
    let lost = done
        .as_ref()
        .is_some_and(|(_, _, r)| !r.blobs_lost.is_empty());
    Ok(if lost || !plan.unreadable.is_empty() {
        Outcome::Warnings
    } else {
        Outcome::Success
    })
}

/// Plans and prunes, under the exclusive lock.
fn run_prune(
    repo: &Repository,
    lock: &ExclusiveLock,
    max_unused: f64,
) -> Result<(PrunePlan, Done)> {
    let bars = Bars::new();
    let plan = repo.prune_plan(lock, &PruneOptions { max_unused }, &bars)?;
    let before = repo.stored_size()?;
    let report = repo.prune(lock, &plan, &bars)?;
    let after = repo.stored_size()?;
    Ok((plan, (before, after, report)))
}

fn prune_json(plan: &PrunePlan, done: Option<&Done>) -> Value {
    let mut doc = json!({
        "packs": plan.packs,
        "pack_bytes": plan.pack_bytes,
        "used_bytes": plan.used_bytes,
        "unused_bytes": plan.unused_bytes,
        "delete_packs": plan.delete.len(),
        "repack_packs": plan.repack.len(),
        "repack_bytes": plan.repack_bytes(),
        "unindexed_packs": plan.unindexed.len(),
        "reindex_packs": plan.reindex.iter().map(|r| r.pack.to_hex()).collect::<Vec<_>>(),
        "unreadable_packs": plan.unreadable.iter().map(|(p, why)| json!({"id": p.to_hex(), "problem": why})).collect::<Vec<_>>(),
        "damaged_segments": plan.damaged_segments.iter().map(|s| s.to_hex()).collect::<Vec<_>>(),
        "bytes_freed": plan.bytes_freed(),
        "unused_after": plan.unused_after(),
        "dry_run": done.is_none(),
    });
    if let Some((before, after, r)) = done {
        doc["repository_bytes_before"] = json!(before);
        doc["repository_bytes_after"] = json!(after);
        doc["packs_deleted"] = json!(r.packs_deleted);
        doc["packs_written"] = json!(r.packs_written);
        doc["blobs_repacked"] = json!(r.blobs_repacked);
        doc["temporary_files_removed"] = json!(r.temporary_files_removed);
        doc["packs_indexed"] = json!(r.packs_indexed);
        doc["blobs_lost"] = json!(
            r.blobs_lost
                .iter()
                .map(|(b, why)| json!({"blob": b.to_hex(), "problem": why}))
                .collect::<Vec<_>>()
        );
    }
    doc
}

fn print_prune(plan: &PrunePlan, done: Option<&Done>) {
    println!(
        "{} packs ({}), {} used; delete {} unused packs, repack {} ({} to copy), {} left by interrupted backups: frees about {}",
        plan.packs,
        bytes(plan.pack_bytes),
        bytes(plan.used_bytes),
        plan.delete.len(),
        plan.repack.len(),
        bytes(plan.repack_bytes()),
        plan.unindexed.len(),
        bytes(plan.bytes_freed())
    );
    for r in &plan.reindex {
        println!(
            "packs/{}: named by no index segment but holds data snapshots use: listed in a new segment",
            r.pack
        );
    }
    for (p, why) in &plan.unreadable {
        eprintln!(
            "warning: packs/{p}: named by no index segment and its header cannot be read ({}): kept",
            esc_text(why)
        );
    }
    for s in &plan.damaged_segments {
        println!(
            "index/{s}: cannot be read: removed (the packs it may name are judged by their own headers)"
        );
    }
    if let Some((_, _, r)) = done {
        for (blob, why) in &r.blobs_lost {
            eprintln!(
                "warning: blob {blob} could not be copied ({}): it is lost and no longer indexed; the next backup of the devices that hold it stores it again",
                esc_text(why)
            );
        }
    }
    match done {
        None => println!("dry run: nothing changed"),
        Some((before, after, r)) => println!(
            "deleted {} packs, wrote {}, rewrote {} index segments: repository {} -> {}",
            r.packs_deleted,
            r.packs_written,
            r.segments_rewritten,
            bytes(*before),
            bytes(*after)
        ),
    }
}

pub fn pin(ctx: &Context, reference: &str, pin: bool) -> Result<Outcome> {
    let repo = ctx.open()?;
    let (id, snap) = repo.find_snapshot(reference)?;
    let changed = if pin {
        repo.pin(&id)?
    } else {
        repo.unpin(&id)?
    };
    let state = if pin { "pinned" } else { "not pinned" };
    if ctx.global.json {
        print_json(&json!({ "id": id.to_hex(), "pinned": pin, "changed": changed }));
    } else {
        println!(
            "snapshot {} of {} ({}) is {state}{}",
            id.short(),
            esc(snap.device.label()),
            crate::output::time(snap.time),
            if changed { "" } else { " (already)" }
        );
    }
    Ok(Outcome::Success)
}
