//! `stats`.

use crate::Outcome;
use crate::context::Context;
use crate::output::{bytes, esc, esc_text, print_json};
use anyhow::Result;
use serde_json::json;

pub fn run(ctx: &Context) -> Result<Outcome> {
    let repo = ctx.open()?;
    // File lists are read from packs: a prune waits.
    let _lock = ctx.shared_lock(&repo)?;
    let s = repo.stats()?;
    if ctx.global.json {
        print_json(&json!({
            "stored_bytes": s.stored_bytes,
            "logical_bytes": s.logical_bytes,
            "unique_bytes": s.unique_chunk_bytes,
            "snapshots": s.snapshots,
            "dedup_ratio": s.dedup_ratio(),
            "compression_ratio": s.compression_ratio(),
            "unreadable_snapshots": s.unreadable.iter().map(|(id, why)| json!({"id": id.to_hex(), "problem": why})).collect::<Vec<_>>(),
            "devices": s.devices.iter().map(|d| json!({
                "udid": d.udid, "name": d.name, "snapshots": d.snapshots,
                "logical_bytes": d.logical_bytes, "unique_bytes": d.unique_bytes, "shared_bytes": d.shared_bytes,
            })).collect::<Vec<_>>(),
        }));
        return Ok(outcome(&repo, &s));
    }
    println!(
        "{:<24} {:>9} {:>12} {:>12} {:>12}",
        "device", "snapshots", "logical", "unique", "shared"
    );
    for d in &s.devices {
        println!(
            "{:<24} {:>9} {:>12} {:>12} {:>12}",
            esc(&d.name),
            d.snapshots,
            bytes(d.logical_bytes),
            bytes(d.unique_bytes),
            bytes(d.shared_bytes)
        );
    }
    println!(
        "total: {} logical in {} snapshots, {} distinct, {} stored (dedup {:.2}x, compression {:.2}x)",
        bytes(s.logical_bytes),
        s.snapshots,
        bytes(s.unique_chunk_bytes),
        bytes(s.stored_bytes),
        s.dedup_ratio(),
        s.compression_ratio()
    );
    for (id, why) in &s.unreadable {
        eprintln!(
            "warning: snapshot {}: its file list cannot be read ({}): counted by its summary only",
            id.short(),
            esc_text(why)
        );
    }
    Ok(outcome(&repo, &s))
}

/// With warnings when a snapshot was left out or counted by its summary only.
fn outcome(repo: &hearth_repo::Repository, s: &hearth_repo::RepoStats) -> Outcome {
    match Context::listing_outcome(repo) {
        Outcome::Success if s.unreadable.is_empty() => Outcome::Success,
        _ => Outcome::Warnings,
    }
}
