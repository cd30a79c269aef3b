//! `restore`: a same-device image, or one for another device (`--to`, `--to-model`), as the
//! backup was (encrypted or not) or an encrypted backup's plaintext (`--decrypted`).

use crate::Outcome;
use crate::cli::RestoreArgs;
use crate::context::Context;
use crate::output::{bytes, device_json, esc, esc_text, print_json};
use crate::progress::Bars;
use anyhow::{Context as _, Result, bail};
use hearth_format::SnapshotId;
use hearth_repo::Repository;
use hearth_restore::{
    Decryption, PlanOptions, RestorePlan, RestoreReport, Target, TargetError, execute,
    household_devices, plan_restore,
};
use serde_json::{Value, json};

pub fn run(ctx: &Context, args: &RestoreArgs) -> Result<Outcome> {
    let repo = ctx.open()?;
    // What is restored is read from packs: a prune waits until the restore is done.
    let lock = ctx.shared_lock(&repo)?;
    let (id, snap) = repo.find_snapshot(&args.snapshot)?;
    let options = PlanOptions {
        target: target(&repo, args)?,
        capacity: args.to_capacity,
        fit: args.fit,
        decrypt: args.decrypted,
    };
    let plan = plan_restore(&repo, &snap, &options)?;
    if args.dry_run {
        if ctx.global.json {
            print_json(&plan_json(&id, &plan));
        } else {
            print_plan(&plan);
        }
        if let Some(reason) = &plan.refused {
            bail!("refused: {reason}");
        }
        return Ok(Outcome::Success);
    }
    if let Some(reason) = &plan.refused {
        bail!("refused: {reason}");
    }
    if !ctx.global.json && (plan.target.is_some() || plan.fit.is_some() || !plan.skipped.is_empty())
    {
        print_plan(&plan);
    }
    let out = args
        .out
        .as_ref()
        .expect("clap requires --out without --dry-run");
    let done = execute(&repo, &plan, out, &Bars::new());
    // Data that did not read once the lock was lost may have been pruned by another computer,
    // not damaged: that is what to say (the same command run again finishes the restore).
    if done.as_ref().map_or(true, |r| !r.damaged.is_empty()) {
        lock.check()
            .context("the restore did not finish; the same command run again finishes it")?;
    }
    let report = done?;
    // On stderr whatever the output: the one thing not to miss about this folder.
    if let Some(notice) = &report.notice {
        let kind = match plan.decryption {
            Decryption::Decrypted => "warning",
            _ => "note",
        };
        eprintln!("{kind}: {}", esc_text(notice));
    }
    if ctx.global.json {
        print_json(&json!({
            "snapshot": id.to_hex(),
            "folder": report.folder,
            "files": report.files,
            "bytes": report.bytes,
            "resumed": report.resumed,
            "decrypted": plan.decrypts(),
            "notice": report.notice,
            "damaged": report.damaged.iter().map(|d| json!({
                "path": d.path,
                "domain": d.source.as_ref().map(|s| &s.0),
                "relative_path": d.source.as_ref().map(|s| &s.1),
                "problem": d.problem,
            })).collect::<Vec<_>>(),
            "plan": plan_json(&id, &plan),
        }));
    } else {
        print_report(snap.device.label(), &report);
    }
    Ok(match report.damaged.is_empty() {
        true => Outcome::Success,
        false => Outcome::Warnings,
    })
}

fn print_report(device: &str, report: &RestoreReport) {
    let device = esc(device);
    let resumed = match report.resumed {
        0 => String::new(),
        n => format!(" ({n} of them already written by an earlier run)"),
    };
    println!(
        "restored {} files ({}) of {device} into {}{resumed}",
        report.files,
        bytes(report.bytes),
        esc(&report.folder.display().to_string())
    );
    if report.damaged.is_empty() {
        return;
    }
    for d in &report.damaged {
        let what = match &d.source {
            Some((domain, path)) => format!("{domain}/{path} ({})", d.path),
            None => d.path.clone(),
        };
        eprintln!(
            "damaged: {device}: {}: {}",
            esc(&what),
            esc_text(&d.problem)
        );
    }
    eprintln!(
        "warning: {} file(s) of {device} could not be restored: their stored bytes are damaged or lost in the repository (`hearth check` says more). \
         Everything else is written. Once the repository has healed (see \"When the repository is damaged\" in the user guide), \
         run the same command again: it writes only what is missing.",
        report.damaged.len()
    );
}

/// `--to DEVICE` (its latest snapshot's model and iOS) or `--to-model M --to-ios V`.
fn target(repo: &Repository, args: &RestoreArgs) -> Result<Option<Target>> {
    if let Some(device) = &args.to {
        return Ok(Some(Target::household(repo, device)?));
    }
    let (Some(model), Some(ios)) = (&args.to_model, &args.to_ios) else {
        return Ok(None);
    };
    match Target::model(model, ios) {
        Ok(t) => Ok(Some(t)),
        Err(e @ TargetError::UnknownModel { .. }) => {
            bail!("--to-model: {e}{}", household_models(repo)?)
        }
        Err(e @ TargetError::BadIosVersion { .. }) => bail!("--to-ios: {e}"),
    }
}

/// `; this household's devices: iPhone15,2 (Mum's iPhone), ...`, from each device's latest
/// snapshot, with `--to` as the way to name one of them.
fn household_models(repo: &Repository) -> Result<String> {
    let devices = household_devices(repo)?;
    if devices.is_empty() {
        return Ok(String::new());
    }
    let models: Vec<String> = devices
        .into_iter()
        .map(|d| format!("{} ({})", d.product_type, d.name))
        .collect();
    Ok(format!(
        "; this household's devices: {} (`--to DEVICE` takes a household device's model and iOS)",
        models.join(", ")
    ))
}

fn plan_json(id: &SnapshotId, plan: &RestorePlan) -> Value {
    let kept = plan.kept();
    let mut source = device_json(&plan.device);
    source["snapshot"] = json!(id.to_hex());
    let target = plan.target.as_ref().map_or_else(
        || {
            let mut same = device_json(&plan.device);
            same["family"] = json!(hearth_restore::Family::of(&plan.device.product_type).name());
            same
        },
        |t| {
            json!({
                "name": t.name,
                "product_type": t.product_type,
                "ios_version": t.ios_version,
                "family": t.family().name(),
            })
        },
    );
    json!({
        "source": source,
        "target": target,
        "kept": {
            "files": kept.files,
            "bytes": kept.bytes,
            "device_files": kept.device_files,
            "device_bytes": kept.device_bytes,
        },
        "skipped": plan.skipped.iter().map(|s| json!({
            "domain": s.domain,
            "relative_path": s.relative_path,
            "path": s.path,
            "bytes": s.bytes,
            "rule": s.rule,
            "reason": s.reason,
        })).collect::<Vec<_>>(),
        "rules": plan.rules().iter().map(|r| json!({
            "rule": r.rule, "source": r.source, "files": r.files, "bytes": r.bytes,
        })).collect::<Vec<_>>(),
        "dropped_apps": plan.dropped_apps,
        "unknown_apps": plan.unknown_apps,
        "refused": plan.refused,
        "decryption": match plan.decryption {
            Decryption::Off => "off",
            Decryption::Decrypted => "decrypted",
            Decryption::NothingToDecrypt => "nothing-to-decrypt",
        },
        "fit": plan.fit.as_ref().map(|f| json!({
            "capacity": f.capacity,
            "needed": f.needed,
            "breakdown": f.breakdown.iter().map(|(c, b)| json!({"category": c, "bytes": b})).collect::<Vec<_>>(),
            "dropped": f.dropped.iter().map(|(c, n, b)| json!({"category": c, "files": n, "bytes": b})).collect::<Vec<_>>(),
        })),
    })
}

fn print_plan(plan: &RestorePlan) {
    let d = &plan.device;
    let to = plan
        .target
        .as_ref()
        .map_or_else(|| "the same device".to_string(), |t| t.describe());
    let kept = plan.kept();
    let decrypted = match plan.decryption {
        Decryption::Decrypted => ", unencrypted (decrypted)",
        _ => "",
    };
    println!(
        "{} ({}, iOS {}) onto {}{decrypted}: keep {} files ({}): {} of the device's files ({} on the device){}",
        esc(&d.name),
        esc(&d.product_type),
        esc(&d.ios_version),
        esc(&to),
        kept.files,
        bytes(kept.bytes),
        kept.device_files,
        bytes(kept.device_bytes),
        backup_files_note(plan)
    );
    let rules = plan.rules();
    for r in &rules {
        println!(
            "  skip {:<24} {:>6} files {:>10}",
            r.rule,
            r.files,
            bytes(r.bytes)
        );
    }
    let mut sources: Vec<&str> = rules.iter().map(|r| r.source).collect();
    sources.dedup();
    if !sources.is_empty() {
        println!("  (rules from: {})", sources.join("; "));
    }
    if !plan.dropped_apps.is_empty() {
        println!(
            "  apps that do not run on the target, left out: {}",
            esc(&plan.dropped_apps.join(", "))
        );
    }
    if !plan.unknown_apps.is_empty() {
        println!(
            "  apps whose compatibility the backup does not record, kept: {}",
            esc(&plan.unknown_apps.join(", "))
        );
    }
    if let Some(f) = &plan.fit {
        for (category, files, size) in &f.dropped {
            eprintln!(
                "  dropped {category} ({files} files, {}) to fit {}",
                bytes(*size),
                bytes(f.capacity)
            );
        }
    }
    if plan.decryption == Decryption::NothingToDecrypt {
        println!(
            "  the backup is not encrypted: --decrypted changes nothing, the image is byte-exact"
        );
    }
    if let Some(reason) = &plan.refused {
        println!("  REFUSED: {}", crate::output::esc_text(reason));
    }
}

/// Files the backup folder itself needs: ` and the backup's Manifest.db, Info.plist, ...`.
fn backup_files_note(plan: &RestorePlan) -> String {
    const SHOWN: usize = 4;
    let names: Vec<&str> = plan.backup_files().take(SHOWN).collect();
    match plan.backup_file_count() {
        0 => String::new(),
        n if n <= SHOWN as u64 => format!(" and the backup's {}", esc(&names.join(", "))),
        n => format!(
            " and the backup's {} and {} more",
            esc(&names.join(", ")),
            n - SHOWN as u64
        ),
    }
}
