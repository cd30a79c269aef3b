//! `snapshots`, `devices`, `ls`.

use crate::Outcome;
use crate::context::Context;
use crate::output::{bytes, device_json, esc, print_json, print_json_list, snapshot_json, time};
use anyhow::Result;
use hearth_format::{Entry, RowState};
use serde_json::json;
use std::io::Write as _;

pub fn snapshots(ctx: &Context, device: Option<&str>) -> Result<Outcome> {
    let repo = ctx.open()?;
    let list = match device {
        Some(d) => repo.device_snapshots(d)?,
        None => repo.snapshots()?,
    };
    let pins = repo.pins()?;
    if ctx.global.json {
        let items: Vec<_> = list
            .iter()
            .map(|(id, s)| {
                let mut v = snapshot_json(id, s);
                v["pinned"] = json!(pins.contains(id));
                v
            })
            .collect();
        // The contract's shape (`shared/DESIGN.md`): a bare array, as restic prints it.
        print_json(&json!(items));
        return Ok(Context::listing_outcome(&repo));
    }
    println!(
        "{:<10} {:<21} {:<24} {:<11} {:>8} {:>10}  tags",
        "id", "time", "device", "iOS", "files", "size"
    );
    for (id, s) in &list {
        println!(
            "{:<10} {:<21} {:<24} {:<11} {:>8} {:>10}  {}{}{}",
            id.short(),
            time(s.time),
            esc(&s.device.name),
            esc(&s.device.ios_version),
            s.summary.files,
            bytes(s.summary.bytes),
            esc(&s.tags.join(",")),
            if pins.contains(id) { " [pinned]" } else { "" },
            if s.warnings.is_empty() {
                String::new()
            } else {
                format!(" ({} warnings)", s.warnings.len())
            }
        );
    }
    println!("{} snapshot(s)", list.len());
    Ok(Context::listing_outcome(&repo))
}

pub fn devices(ctx: &Context) -> Result<Outcome> {
    let repo = ctx.open()?;
    let mut latest: Vec<(hearth_format::SnapshotId, hearth_format::Snapshot, usize)> = Vec::new();
    for (id, s) in repo.snapshots()? {
        match latest
            .iter_mut()
            .find(|(_, l, _)| l.device.udid == s.device.udid)
        {
            Some(slot) => *slot = (id, s, slot.2 + 1),
            None => latest.push((id, s, 1)),
        }
    }
    if ctx.global.json {
        let v: Vec<_> = latest
            .iter()
            .map(|(id, s, n)| {
                let mut d = device_json(&s.device);
                d["latest_snapshot"] = json!({"id": id.to_hex(), "time": time(s.time)});
                d["snapshots"] = json!(n);
                d
            })
            .collect();
        print_json(&json!({ "devices": v }));
        return Ok(Context::listing_outcome(&repo));
    }
    println!(
        "{:<24} {:<42} {:<12} {:<9} {:<10} {:<21}",
        "name", "udid", "model", "iOS", "latest", "time"
    );
    for (id, s, _) in &latest {
        let d = &s.device;
        println!(
            "{:<24} {:<42} {:<12} {:<9} {:<10} {:<21}",
            esc(&d.name),
            esc(&d.udid),
            esc(&d.product_type),
            esc(&d.ios_version),
            id.short(),
            time(s.time)
        );
    }
    Ok(Context::listing_outcome(&repo))
}

pub fn ls(ctx: &Context, snapshot: &str, filter: Option<&str>) -> Result<Outcome> {
    let repo = ctx.open()?;
    // The file list is read from packs: a prune waits.
    let _lock = ctx.shared_lock(&repo)?;
    let (_, snap) = repo.find_snapshot(snapshot)?;
    // Streamed: one entry at a time, whatever the number of files.
    let entries = || {
        repo.entries(&snap)
            .filter(|e| e.as_ref().map_or(true, |e| matches_filter(e, filter)))
    };
    if ctx.global.json {
        // The file list is read through once before anything is printed, so that one that
        // does not read prints an error, not half a document.
        for e in repo.entries(&snap) {
            e?;
        }
        print_json_list("entries", entries().map(|e| Ok(entry_json(&e?))))?;
        return Ok(Outcome::Success);
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for e in entries() {
        let e = e?;
        let size = e
            .content
            .as_ref()
            .map_or(String::from("-"), |c| c.size.to_string());
        match &e.row {
            Some(r) => {
                let kind = match r.flags {
                    1 => "file",
                    2 => "dir",
                    4 => "link",
                    _ => "?",
                };
                let state = if r.state == RowState::Ok {
                    String::new()
                } else {
                    format!("  [{}]", r.state.describe())
                };
                writeln!(
                    out,
                    "{kind:<4} {size:>10}  {}/{}{state}",
                    esc(&r.domain),
                    esc(&r.relative_path)
                )?;
            }
            None if filter.is_none() => writeln!(out, "{:<4} {size:>10}  {}", "raw", esc(&e.path))?,
            None => {}
        }
    }
    out.flush()?;
    Ok(Outcome::Success)
}

/// `DOMAIN` or `DOMAIN/PATH` prefix, matched by whole path components (`Library/SMS` is
/// `Library/SMS` and what is under it, not `Library/SMSBackup`); entries without a row (plists,
/// orphans) match only with no filter.
fn matches_filter(e: &Entry, filter: Option<&str>) -> bool {
    let Some(f) = filter else { return true };
    let Some(r) = &e.row else { return false };
    let (domain, path) = f.split_once('/').unwrap_or((f, ""));
    let path = path.trim_end_matches('/');
    let under = |rest: &str| rest.is_empty() || rest.starts_with('/');
    r.domain == domain && (path.is_empty() || r.relative_path.strip_prefix(path).is_some_and(under))
}

fn entry_json(e: &Entry) -> serde_json::Value {
    json!({
        "path": e.path,
        "domain": e.row.as_ref().map(|r| &r.domain),
        "relative_path": e.row.as_ref().map(|r| &r.relative_path),
        "flags": e.row.as_ref().map(|r| r.flags),
        "state": e.row.as_ref().map(|r| r.state.describe()),
        "size": e.content.as_ref().map(|c| c.size),
        "chunks": e.content.as_ref().map(|c| c.chunks.len()),
    })
}
