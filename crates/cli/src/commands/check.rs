//! `check`.

use super::notify;
use crate::Outcome;
use crate::cli::NotifyArgs;
use crate::context::Context;
use crate::output::{bytes, esc_text, print_json};
use crate::progress::Bars;
use anyhow::{Result, bail};
use hearth_alert::{Event, Notifier};
use hearth_repo::{CheckOptions, ReadData};
use serde_json::json;

pub fn run(
    ctx: &Context,
    all: bool,
    subset: Option<ReadData>,
    notify: &NotifyArgs,
) -> Result<Outcome> {
    let notifier = notify::notifier(ctx, notify)?;
    let outcome = check(ctx, all, subset, &notifier);
    notify::finish(notifier);
    outcome
}

fn check(
    ctx: &Context,
    all: bool,
    subset: Option<ReadData>,
    notifier: &Notifier,
) -> Result<Outcome> {
    let read_data = match subset {
        Some(s) => s,
        None if all => ReadData::All,
        None => ReadData::None,
    };
    let repo = ctx.open_quietly()?;
    // A prune waits, and deletes no pack that check is reading (and would find gone).
    let _lock = ctx.shared_lock(&repo)?;
    let report = match repo.check(CheckOptions { read_data }, &Bars::new()) {
        Ok(report) => report,
        Err(e) => {
            let why = format!("check could not finish: {e}");
            notifier.send(Event::damage(&repo.location(), &[why]));
            return Err(e.into());
        }
    };
    if !report.is_ok() {
        let problems: Vec<String> = (report.damage.iter())
            .map(|d| format!("{}: {}", d.object, d.problem))
            .collect();
        notifier.send(Event::damage(&repo.location(), &problems));
    }
    // For the dashboard's "last check"; a cache that cannot be written costs only that note.
    if let Err(e) = repo.record_check(&report, read_data) {
        eprintln!("warning: {}", esc_text(&e.to_string()));
    }
    if ctx.global.json {
        print_json(&json!({
            "ok": report.is_ok(),
            "snapshots": report.snapshots, "index_segments": report.index_segments, "packs": report.packs,
            "read_data": read_data.to_string(), "packs_read": report.packs_read,
            "blobs_checked": report.blobs_checked, "bytes_read": report.bytes_read,
            "damage": report.damage.iter().map(|d| json!({"object": d.object, "problem": d.problem, "affected": d.affected})).collect::<Vec<_>>(),
            "notes": report.notes,
        }));
    } else {
        println!(
            "{} snapshots, {} index segments, {} packs",
            report.snapshots, report.index_segments, report.packs
        );
        match read_data {
            ReadData::None => {}
            ReadData::All => println!(
                "read {} in {} blobs",
                bytes(report.bytes_read),
                report.blobs_checked
            ),
            subset => println!(
                "read {} in {} blobs of {} packs ({subset})",
                bytes(report.bytes_read),
                report.blobs_checked,
                report.packs_read
            ),
        }
        for n in &report.notes {
            println!("note: {}", esc_text(n));
        }
        for d in &report.damage {
            eprintln!("damaged: {}: {}", esc_text(&d.object), esc_text(&d.problem));
            for a in &d.affected {
                eprintln!("  affects {}", esc_text(a));
            }
        }
    }
    if !report.is_ok() {
        bail!(
            "the repository has {} problem(s); see above",
            report.damage.len()
        );
    }
    if !ctx.global.json {
        println!("no errors found");
    }
    Ok(Outcome::Success)
}
