//! `export KIND [SNAPSHOT...] --out PATH`: glue over `hearth_export::export`.

use crate::Outcome;
use crate::cli::{ExportArgs, ExportKind};
use crate::context::Context;
use crate::output::{esc, print_json, time};
use crate::progress::Bars;
use anyhow::Result;
use hearth_export::{ExportReport, Kind, Tally};
use hearth_format::{Snapshot, SnapshotId};
use hearth_repo::Repository;
use serde_json::{Map, Value, json};

pub fn run(ctx: &Context, args: &ExportArgs) -> Result<Outcome> {
    let repo = ctx.open()?;
    // The files are read from packs: a prune waits.
    let _lock = ctx.shared_lock(&repo)?;
    let snapshots = chosen_snapshots(&repo, args)?;
    if snapshots.is_empty() {
        anyhow::bail!("the repository holds no snapshot to export from");
    }
    let report =
        hearth_export::export(&repo, kind(args.kind), &snapshots, &args.out, &Bars::new())?;
    match ctx.global.json {
        true => print_json(&report_json(&report)),
        false => print_text(&report),
    }
    Ok(match report.has_problems() {
        true => Outcome::Warnings,
        false => Outcome::Success,
    })
}

fn kind(k: ExportKind) -> Kind {
    match k {
        ExportKind::Photos => Kind::Photos,
        ExportKind::Messages => Kind::Messages,
        ExportKind::Contacts => Kind::Contacts,
        ExportKind::Calls => Kind::Calls,
        ExportKind::Voicemail => Kind::Voicemail,
        ExportKind::Notes => Kind::Notes,
        ExportKind::Calendar => Kind::Calendar,
        ExportKind::Whatsapp => Kind::Whatsapp,
    }
}

/// The snapshots named, else every snapshot (`--all`), else each device's latest; of
/// `--device` only when given.
fn chosen_snapshots(repo: &Repository, args: &ExportArgs) -> Result<Vec<(SnapshotId, Snapshot)>> {
    if !args.snapshots.is_empty() {
        return args
            .snapshots
            .iter()
            .map(|r| Ok(repo.find_snapshot(r)?))
            .collect();
    }
    let all = match &args.device {
        Some(d) => repo.device_snapshots(d)?,
        None => repo.snapshots()?,
    };
    if args.all {
        return Ok(all);
    }
    Ok(hearth_export::latest_of_each_device(all))
}

/// The counts at the top level (`"messages": 340`), as the contract's summaries are.
fn counts_json(tally: &Tally) -> Map<String, Value> {
    tally
        .counts
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect()
}

fn report_json(report: &ExportReport) -> Value {
    let mut top = counts_json(&report.total);
    top.insert("kind".into(), json!(report.kind));
    top.insert("out".into(), json!(report.out));
    top.insert("warnings".into(), json!(report.total.warnings));
    top.insert("remarks".into(), json!(report.total.remarks));
    let snapshots: Vec<Value> = report
        .snapshots
        .iter()
        .map(|s| {
            let mut v = counts_json(&s.tally);
            v.insert("id".into(), json!(s.snapshot.to_hex()));
            v.insert("udid".into(), json!(s.udid));
            v.insert("device".into(), json!(s.device));
            v.insert("time".into(), json!(time(s.time)));
            v.insert("out".into(), json!(s.out));
            v.insert("warnings".into(), json!(s.tally.warnings));
            v.insert("remarks".into(), json!(s.tally.remarks));
            v.insert("failed".into(), json!(s.failed));
            Value::Object(v)
        })
        .collect();
    top.insert("snapshots".into(), json!(snapshots));
    Value::Object(top)
}

fn counts_line(tally: &Tally) -> String {
    match tally.counts.is_empty() {
        true => "nothing found".to_string(),
        false => tally
            .counts
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn print_text(report: &ExportReport) {
    for s in &report.snapshots {
        println!(
            "{} ({}): {} -> {}",
            esc(&s.device),
            time(s.time),
            counts_line(&s.tally),
            esc(&s.out.display().to_string())
        );
        for r in &s.tally.remarks {
            println!("  remark: {}", esc(r));
        }
        for w in &s.tally.warnings {
            println!("  warning: {}", esc(w));
        }
        if let Some(f) = &s.failed {
            println!("  not exported: {}", esc(f));
        }
    }
    if report.snapshots.len() > 1 {
        println!("In all: {}", counts_line(&report.total));
    }
}
