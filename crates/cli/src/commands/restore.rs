//! `restore`.

use crate::Outcome;
use crate::cli::RestoreArgs;
use crate::context::Context;
use crate::output::{bytes, device_json, print_json};
use crate::progress::Bars;
use anyhow::Result;
use hearth_restore::{execute, plan_restore};
use serde_json::json;

pub fn run(ctx: &Context, args: &RestoreArgs) -> Result<Outcome> {
    let repo = ctx.open()?;
    let (id, snap) = repo.find_snapshot(&args.snapshot)?;
    let plan = plan_restore(&repo, &snap)?;
    if args.dry_run {
        if ctx.global.json {
            print_json(&json!({
                "source": { "snapshot": id.to_hex(), "device": device_json(&snap.device) },
                "target": device_json(&snap.device),
                "kept": { "files": plan.files.len(), "bytes": plan.bytes() },
                "skipped": plan.skipped.iter().map(|s| json!({"domain": s.domain, "relative_path": s.relative_path, "bytes": s.bytes, "reason": s.reason})).collect::<Vec<_>>(),
                "refused": null,
            }));
        } else {
            println!(
                "would restore {} files ({}) of {} into <out>/{}/",
                plan.files.len(),
                bytes(plan.bytes()),
                snap.device.name,
                plan.folder_name
            );
        }
        return Ok(Outcome::Success);
    }
    let out = args
        .out
        .as_ref()
        .expect("clap requires --out without --dry-run");
    let report = execute(&repo, &plan, out, &Bars::new())?;
    if ctx.global.json {
        print_json(
            &json!({ "snapshot": id.to_hex(), "folder": report.folder, "files": report.files, "bytes": report.bytes }),
        );
    } else {
        println!(
            "restored {} files ({}) of {} into {}",
            report.files,
            bytes(report.bytes),
            snap.device.name,
            report.folder.display()
        );
    }
    Ok(Outcome::Success)
}
