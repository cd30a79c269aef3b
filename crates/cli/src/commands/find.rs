//! `find PATTERN`: glue over `hearth_browse::find`.

use crate::Outcome;
use crate::cli::FindArgs;
use crate::context::Context;
use crate::output::{bytes, device_json, device_line, esc, print_json_array, time};
use crate::progress::Bars;
use anyhow::Result;
use hearth_browse::{FindPattern, Found};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::Write as _;

pub fn run(ctx: &Context, args: &FindArgs) -> Result<Outcome> {
    let pattern = FindPattern::new(&args.pattern, args.ignore_case)?;
    let repo = ctx.open()?;
    // The file lists are read from packs: a prune waits.
    let _lock = ctx.shared_lock(&repo)?;
    let snapshots = match &args.device {
        Some(d) => repo.device_snapshots(d)?,
        None => repo.snapshots()?,
    };
    let found = hearth_browse::find(&repo, &snapshots, &pattern, &Bars::new())?;
    if ctx.global.json {
        // The contract's shape (`shared/DESIGN.md`): a bare array, as `snapshots` prints;
        // printed one path at a time (a broad pattern matches many paths in many snapshots).
        print_json_array(found.iter().map(|f| Ok(found_json(f))))?;
        return Ok(Context::listing_outcome(&repo));
    }
    let mut per_device: HashMap<&str, usize> = HashMap::new();
    for (_, s) in &snapshots {
        *per_device.entry(s.device.udid.as_str()).or_default() += 1;
    }
    print_text(&found, &per_device, snapshots.len())?;
    Ok(Context::listing_outcome(&repo))
}

fn found_json(f: &Found) -> Value {
    json!({
        "device": device_json(&f.device),
        "domain": f.domain,
        "relative_path": f.relative_path,
        "kind": f.kind.as_str(),
        "snapshots": f.snapshots.iter().map(|id| id.to_hex()).collect::<Vec<_>>(),
        "first_seen": time(f.first_seen),
        "last_seen": time(f.last_seen),
        "versions": f.versions.iter().map(|v| json!({
            "snapshot": v.snapshot.to_hex(),
            "time": time(v.time),
            "bytes": v.bytes,
        })).collect::<Vec<_>>(),
        "content_changed_in": f.versions.iter().skip(1).map(|v| v.snapshot.to_hex()).collect::<Vec<_>>(),
    })
}

fn print_text(found: &[Found], per_device: &HashMap<&str, usize>, searched: usize) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut device: Option<&str> = None;
    for f in found {
        if device != Some(f.device.udid.as_str()) {
            device = Some(&f.device.udid);
            writeln!(out, "{}:", device_line(&f.device))?;
        }
        let path = match &f.domain {
            Some(d) if f.relative_path.is_empty() => esc(d).into_owned(),
            Some(d) => format!("{}/{}", esc(d), esc(&f.relative_path)),
            None => esc(&f.relative_path).into_owned(),
        };
        let kind = match f.kind {
            hearth_browse::FoundKind::File => String::new(),
            k => format!(" ({})", k.as_str()),
        };
        writeln!(out, "  {path}{kind}")?;
        let of = per_device.get(f.device.udid.as_str()).copied().unwrap_or(0);
        let (first, last) = (&f.snapshots[0], f.snapshots.last().expect("seen once"));
        writeln!(
            out,
            "    in {} of {of} snapshots; first seen {} ({}), last seen {} ({})",
            f.snapshots.len(),
            time(f.first_seen),
            first.short(),
            time(f.last_seen),
            last.short()
        )?;
        if let [only] = f.versions.as_slice() {
            writeln!(out, "    content unchanged ({})", bytes(only.bytes))?;
        }
        if f.versions.len() > 1 {
            writeln!(out, "    content changed in {}:", f.versions.len() - 1)?;
            for (i, v) in f.versions.iter().enumerate() {
                let what = if i == 0 { "first" } else { "changed" };
                writeln!(
                    out,
                    "      {what:<7}  {}  {}  {}",
                    time(v.time),
                    v.snapshot.short(),
                    bytes(v.bytes)
                )?;
            }
        }
    }
    let devices = found
        .iter()
        .map(|f| f.device.udid.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    writeln!(
        out,
        "{} path(s) on {devices} device(s) matched, in {searched} snapshot(s) searched",
        found.len()
    )?;
    out.flush()?;
    Ok(())
}
