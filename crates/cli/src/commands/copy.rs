//! `copy --to REPO2 [--device D] [SNAPSHOT...]`: snapshots into a repository made with
//! `init --like` this one, sending only the chunks it lacks (`hearth-repo`'s `copy_snapshots`).

use crate::Outcome;
use crate::cli::CopyArgs;
use crate::context::{Context, PasswordSources};
use crate::output::{bytes, device_json, device_line, esc, print_json};
use crate::progress::Bars;
use anyhow::Result;
use hearth_format::SnapshotId;
use hearth_repo::{CopyReport, CopyStatus, Repository};
use serde_json::json;

/// The destination's password.
const TO_PASSWORD: PasswordSources = PasswordSources {
    what: "password of the --to repository",
    flag: "--to-password-file",
    variable: "HEARTH_TO_PASSWORD",
    file_variable: "HEARTH_TO_PASSWORD_FILE",
    also: std::borrow::Cow::Borrowed(""),
};

pub fn run(ctx: &Context, args: &CopyArgs) -> Result<Outcome> {
    let from = ctx.open()?;
    let ids = chosen(&from, args)?;
    let to = ctx.open_other(&args.to, &TO_PASSWORD, args.to_password_file.as_deref())?;
    let from_lock = ctx.shared_lock(&from)?;
    let to_lock = ctx.shared_lock(&to)?;
    let report = from.copy_snapshots(&to, &from_lock, &to_lock, &ids, &Bars::new())?;
    match ctx.global.json {
        true => print_json(&report_json(&report)),
        false => print_report(&report, &to.location()),
    }
    Ok(Outcome::Success)
}

/// The snapshots named, or every snapshot of `--device`, or every snapshot.
fn chosen(repo: &Repository, args: &CopyArgs) -> Result<Vec<SnapshotId>> {
    if !args.snapshots.is_empty() {
        let found: Result<Vec<_>, _> = (args.snapshots.iter())
            .map(|s| repo.find_snapshot(s).map(|(id, _)| id))
            .collect();
        return Ok(found?);
    }
    let all = match &args.device {
        Some(d) => repo.device_snapshots(d)?,
        None => repo.snapshots()?,
    };
    Ok(all.into_iter().map(|(id, _)| id).collect())
}

fn status(s: CopyStatus) -> &'static str {
    match s {
        CopyStatus::Copied => "copied",
        CopyStatus::Present => "present",
    }
}

fn report_json(r: &CopyReport) -> serde_json::Value {
    let snapshots: Vec<_> = (r.snapshots.iter())
        .map(|s| {
            json!({
                "id": s.id.to_hex(),
                "copied_id": s.copied_id.to_hex(),
                "device": device_json(&s.device),
                "status": status(s.status),
            })
        })
        .collect();
    json!({
        "snapshots": snapshots,
        "chunks_sent": r.chunks_sent,
        "chunks_present": r.chunks_present,
        "bytes_sent": r.bytes_sent,
        "device_keys_sent": r.device_keys_sent,
        "pins_sent": r.pins_sent,
    })
}

fn print_report(r: &CopyReport, to: &str) {
    for s in &r.snapshots {
        println!(
            "{} {} -> {} {}",
            s.id.short(),
            device_line(&s.device),
            s.copied_id.short(),
            match s.status {
                CopyStatus::Copied => "copied",
                CopyStatus::Present => "already there",
            }
        );
    }
    let copied = (r.snapshots.iter())
        .filter(|s| s.status == CopyStatus::Copied)
        .count();
    println!(
        "{copied} of {} snapshot(s) copied to {}: {} chunk(s) sent ({}), {} already there",
        r.snapshots.len(),
        esc(to),
        r.chunks_sent,
        bytes(r.bytes_sent),
        r.chunks_present
    );
}
