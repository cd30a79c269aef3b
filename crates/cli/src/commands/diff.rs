//! `diff A B`: glue over `hearth_browse::diff`.

use crate::Outcome;
use crate::cli::DiffArgs;
use crate::context::Context;
use crate::output::{bytes, device_json, esc, print_json_with_list, time};
use crate::progress::Bars;
use anyhow::Result;
use hearth_browse::{Change, ChangeKind, DiffOptions, DiffReport, Growth, Tally};
use hearth_format::{Snapshot, SnapshotId};
use serde_json::{Value, json};
use std::io::Write as _;

pub fn run(ctx: &Context, args: &DiffArgs) -> Result<Outcome> {
    let repo = ctx.open()?;
    // The file lists are read from packs: a prune waits.
    let _lock = ctx.shared_lock(&repo)?;
    let (a_id, a) = repo.find_snapshot(&args.a)?;
    let (b_id, b) = repo.find_snapshot(&args.b)?;
    let options = DiffOptions { top: args.top };
    let report = hearth_browse::diff(&repo, &a, &b, &options, &Bars::new())?;
    if ctx.global.json {
        let head = json!({
            "a": a_id.to_hex(),
            "b": b_id.to_hex(),
            "a_snapshot": snapshot_brief(&a_id, &a),
            "b_snapshot": snapshot_brief(&b_id, &b),
            "total": tally_json(&report.total),
            "domains": report.domains.iter().map(|(d, t)| {
                let mut v = tally_json(t);
                v["domain"] = json!(d);
                v
            }).collect::<Vec<_>>(),
            "apps": report.apps.iter().map(|(app, t)| {
                let mut v = tally_json(t);
                v["app"] = json!(app);
                v
            }).collect::<Vec<_>>(),
            "grew": {
                "files": report.grew_files.iter().map(growth_json).collect::<Vec<_>>(),
                "folders": report.grew_folders.iter().map(growth_json).collect::<Vec<_>>(),
            },
        });
        let changes = report.changes.iter().map(|c| Ok(change_json(c)));
        print_json_with_list(&head, "changes", changes)?;
        return Ok(Outcome::Success);
    }
    print_text(&report, (&a_id, &a), (&b_id, &b))?;
    Ok(Outcome::Success)
}

fn snapshot_brief(id: &SnapshotId, s: &Snapshot) -> Value {
    json!({ "id": id.to_hex(), "time": time(s.time), "device": device_json(&s.device) })
}

fn tally_json(t: &Tally) -> Value {
    json!({
        "files_before": t.files_before(),
        "files_after": t.files_after(),
        "added": t.added,
        "removed": t.removed,
        "changed": t.changed,
        "metadata_only": t.metadata_only,
        "unchanged": t.unchanged,
        "bytes_before": t.bytes_before,
        "bytes_after": t.bytes_after,
        "delta": t.delta(),
    })
}

fn change_json(c: &Change) -> Value {
    json!({
        "domain": c.domain,
        "relative_path": c.relative_path,
        "change": c.kind.as_str(),
        "bytes_before": c.bytes_before,
        "bytes_after": c.bytes_after,
        "delta": c.delta(),
        "path": c.folder_path,
    })
}

fn growth_json(g: &Growth) -> Value {
    json!({ "domain": g.domain, "relative_path": g.path, "files": g.files, "delta": g.delta })
}

/// `+1.2 MiB`, `-300 B`, `0 B`.
fn signed_bytes(delta: i64) -> String {
    match delta {
        0 => "0 B".into(),
        d if d > 0 => format!("+{}", bytes(d.unsigned_abs())),
        d => format!("-{}", bytes(d.unsigned_abs())),
    }
}

/// `Domain/relative path`, or a backup folder file's path.
fn shown(domain: Option<&str>, path: &str) -> String {
    match domain {
        Some(d) if path.is_empty() => esc(d).into_owned(),
        Some(d) => format!("{}/{}", esc(d), esc(path)),
        None => esc(path).into_owned(),
    }
}

fn print_text(
    r: &DiffReport,
    (a_id, a): (&SnapshotId, &Snapshot),
    (b_id, b): (&SnapshotId, &Snapshot),
) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let about = |id: &SnapshotId, s: &Snapshot| {
        format!(
            "{} ({}, {})",
            id.short(),
            esc(s.device.label()),
            time(s.time)
        )
    };
    writeln!(out, "comparing {} with {}", about(a_id, a), about(b_id, b))?;
    if !r.changes.is_empty() {
        writeln!(out)?;
    }
    for c in &r.changes {
        let (mark, size) = match c.kind {
            ChangeKind::Added => ('+', bytes(c.bytes_after.unwrap_or(0))),
            ChangeKind::Removed => ('-', bytes(c.bytes_before.unwrap_or(0))),
            ChangeKind::Changed => ('M', signed_bytes(c.delta())),
        };
        let path = shown(c.domain.as_deref(), &c.relative_path);
        writeln!(out, "{mark} {size:>11}  {path}")?;
    }
    let table = |out: &mut dyn std::io::Write, title: &str, rows: Vec<(String, &Tally)>| {
        if rows.is_empty() {
            return Ok::<_, std::io::Error>(());
        }
        writeln!(out, "\n{title}")?;
        writeln!(
            out,
            "  {:>8} {:>7} {:>7} {:>7} {:>8} {:>11}  name",
            "files", "added", "removed", "changed", "metadata", "delta"
        )?;
        for (name, t) in rows {
            writeln!(
                out,
                "  {:>8} {:>7} {:>7} {:>7} {:>8} {:>11}  {name}",
                t.files_after(),
                t.added,
                t.removed,
                t.changed,
                t.metadata_only,
                signed_bytes(t.delta())
            )?;
        }
        Ok(())
    };
    let domains = (r.domains.iter())
        .map(|(d, t)| {
            (
                d.as_deref()
                    .map_or("(backup folder files)".into(), |d| esc(d).into_owned()),
                t,
            )
        })
        .collect();
    table(&mut out, "By domain:", domains)?;
    let apps = (r.apps.iter())
        .map(|(a, t)| (esc(a).into_owned(), t))
        .collect();
    table(
        &mut out,
        "By app (its own, its extensions' and its groups' domains):",
        apps,
    )?;
    let growths = |out: &mut dyn std::io::Write, title: &str, list: &[Growth], folders: bool| {
        if list.is_empty() {
            return Ok::<_, std::io::Error>(());
        }
        writeln!(out, "\n{title}")?;
        for g in list {
            let files = match folders {
                true => format!(
                    "  ({} file{})",
                    g.files,
                    if g.files == 1 { "" } else { "s" }
                ),
                false => String::new(),
            };
            let path = shown(g.domain.as_deref(), &g.path);
            writeln!(out, "  {:>11}  {path}{files}", signed_bytes(g.delta))?;
        }
        Ok(())
    };
    growths(&mut out, "Files that grew most:", &r.grew_files, false)?;
    growths(
        &mut out,
        "Folders that grew most (files directly in them):",
        &r.grew_folders,
        true,
    )?;
    let t = &r.total;
    writeln!(
        out,
        "\n{} added, {} removed, {} changed, {} with only metadata changed, {} unchanged; {} files before, {} after; {} ({} -> {} in the files that differ)",
        t.added,
        t.removed,
        t.changed,
        t.metadata_only,
        t.unchanged,
        t.files_before(),
        t.files_after(),
        signed_bytes(t.delta()),
        bytes(t.bytes_before),
        bytes(t.bytes_after),
    )?;
    out.flush()?;
    Ok(())
}
