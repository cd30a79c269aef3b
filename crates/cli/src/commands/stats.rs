//! `stats`.

use crate::Outcome;
use crate::context::Context;
use crate::output::{bytes, esc, print_json};
use anyhow::Result;
use serde_json::json;

pub fn run(ctx: &Context) -> Result<Outcome> {
    let repo = ctx.open()?;
    let s = repo.stats()?;
    if ctx.global.json {
        print_json(&json!({
            "stored_bytes": s.stored_bytes,
            "logical_bytes": s.logical_bytes,
            "unique_bytes": s.unique_chunk_bytes,
            "snapshots": s.snapshots,
            "dedup_ratio": s.dedup_ratio(),
            "compression_ratio": s.compression_ratio(),
            "devices": s.devices.iter().map(|d| json!({
                "udid": d.udid, "name": d.name, "snapshots": d.snapshots,
                "logical_bytes": d.logical_bytes, "unique_bytes": d.unique_bytes, "shared_bytes": d.shared_bytes,
            })).collect::<Vec<_>>(),
        }));
        return Ok(Context::listing_outcome(&repo));
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
    Ok(Context::listing_outcome(&repo))
}
