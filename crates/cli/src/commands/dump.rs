//! `dump` (one file or a folder of a snapshot) and `restore --files` (chosen files as a plain
//! tree): glue over `hearth-browse`.

use crate::Outcome;
use crate::cli::{ArchiveArg, DumpArgs, RestoreArgs};
use crate::context::Context;
use crate::output::{bytes, esc, esc_text, print_json};
use crate::progress::Bars;
use anyhow::{Context as _, Result, bail};
use hearth_browse::{ArchiveFormat, Hidden, Selection, SnapshotFiles};
use serde_json::json;
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};

pub fn run(ctx: &Context, args: &DumpArgs) -> Result<Outcome> {
    if ctx.global.json && args.out.is_none() {
        bail!("--json needs --out FILE: stdout carries the file's bytes");
    }
    if args.out.is_none() && std::io::stdout().is_terminal() {
        bail!("stdout is a terminal: redirect it (hearth dump ... > FILE) or give --out FILE");
    }
    let repo = ctx.open()?;
    // What is read comes from packs: a prune waits until the dump is done.
    let _lock = ctx.shared_lock(&repo)?;
    let (id, snap) = repo.find_snapshot(&args.snapshot)?;
    let files = SnapshotFiles::load(&repo, &snap)?;
    let node = hearth_browse::locate(&files, &args.path)?;
    let is_file = files.file(node).is_some();
    let archive = match (args.archive, is_file) {
        (Some(ArchiveArg::Zip), _) => Some(ArchiveFormat::Zip),
        (Some(ArchiveArg::Tar), _) | (None, false) => Some(ArchiveFormat::Tar),
        (None, true) => None,
    };
    let sink: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(
            File::create(path).with_context(|| format!("{}: cannot create", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(1 << 20, sink);
    let written = write(&repo, &files, node, archive, &mut out)
        .and_then(|r| out.flush().context("writing the output failed").map(|()| r));
    drop(out);
    let report = match (written, &args.out) {
        (Ok(r), _) => r,
        (Err(e), Some(path)) => {
            // Ours: a file that could not be written whole is not left half written.
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
        (Err(e), None) => return Err(e),
    };
    if ctx.global.json {
        print_json(&json!({
            "snapshot": id.to_hex(),
            "path": files.path(node),
            "archive": archive.map(|a| match a { ArchiveFormat::Tar => "tar", ArchiveFormat::Zip => "zip" }),
            "files": report.files,
            "folders": report.folders,
            "bytes": report.bytes,
        }));
    }
    Ok(Outcome::Success)
}

fn write(
    repo: &hearth_repo::Repository,
    files: &SnapshotFiles,
    node: hearth_browse::NodeId,
    archive: Option<ArchiveFormat>,
    out: &mut dyn Write,
) -> Result<hearth_browse::DumpReport> {
    Ok(match archive {
        None => hearth_browse::DumpReport {
            files: 1,
            folders: 0,
            bytes: hearth_browse::dump_file(repo, files, node, out, &Bars::new())?,
        },
        Some(format) => hearth_browse::dump_archive(repo, files, node, format, out, &Bars::new())?,
    })
}

pub fn restore_files(ctx: &Context, args: &RestoreArgs) -> Result<Outcome> {
    let selection = Selection::new(&args.include, &args.exclude)?;
    let repo = ctx.open()?;
    let lock = ctx.shared_lock(&repo)?;
    let (id, snap) = repo.find_snapshot(&args.snapshot)?;
    let files = SnapshotFiles::load(&repo, &snap)?;
    let hidden_note = hidden(&files);
    if args.dry_run {
        return dry_run(ctx, &files, &selection);
    }
    let out = args
        .out
        .as_ref()
        .expect("clap requires --out without --dry-run");
    let report = hearth_browse::extract(&repo, &files, &id.to_hex(), &selection, out, &Bars::new());
    // Data that did not read once the lock was lost may have been pruned, not damaged.
    if report.as_ref().map_or(true, |r| !r.damaged.is_empty()) {
        lock.check()
            .context("the restore did not finish; the same command run again finishes it")?;
    }
    let report = report?;
    if ctx.global.json {
        print_json(&json!({
            "snapshot": id.to_hex(),
            "folder": out,
            "files": report.files,
            "bytes": report.bytes,
            "already": report.already,
            "damaged": report.damaged.iter().map(|(path, problem)| json!({
                "path": path, "problem": problem,
            })).collect::<Vec<_>>(),
        }));
    } else {
        let already = match report.already {
            0 => String::new(),
            n => format!(" ({n} more already there from an earlier run)"),
        };
        println!(
            "restored {} files ({}) of {} into {}{already}",
            report.files,
            bytes(report.bytes),
            esc(snap.device.label()),
            esc(&out.display().to_string())
        );
        if report.files + report.already == 0 {
            eprintln!("warning: no file of the snapshot matches the --include/--exclude patterns");
        }
    }
    for line in &hidden_note {
        eprintln!("{line}");
    }
    if report.damaged.is_empty() {
        return Ok(Outcome::Success);
    }
    for (path, problem) in &report.damaged {
        eprintln!("damaged: {}: {}", esc(path), esc_text(problem));
    }
    eprintln!(
        "warning: {} file(s) could not be written: their stored bytes are damaged or lost in the repository (`hearth check` says more); every other file is written. \
         Once the repository has healed, run the same command again: it writes only what is missing.",
        report.damaged.len()
    );
    Ok(Outcome::Warnings)
}

/// The files `--files` would write, one path per line (or a JSON list).
fn dry_run(ctx: &Context, files: &SnapshotFiles, selection: &Selection) -> Result<Outcome> {
    let chosen = files
        .walk(SnapshotFiles::ROOT)
        .filter_map(|n| files.file(n).map(|f| (files.path(n), f.size)))
        .filter(|(path, _)| selection.matches(path));
    if ctx.global.json {
        let list: Vec<_> = chosen
            .map(|(path, size)| json!({"path": path, "bytes": size}))
            .collect();
        print_json(&json!({ "files": list }));
        return Ok(Outcome::Success);
    }
    let mut out = std::io::stdout().lock();
    for (path, size) in chosen {
        writeln!(out, "{size:>12}  {}", esc(&path))?;
    }
    Ok(Outcome::Success)
}

/// Notes on the entries of the snapshot that are not files of the tree.
fn hidden(files: &SnapshotFiles) -> Vec<String> {
    files
        .hidden()
        .iter()
        .map(|(why, n, examples)| {
            let why = match why {
                Hidden::UnsafePath => "have a path that could leave the output folder",
                Hidden::Link => "are links (the snapshot keeps no target)",
                Hidden::OtherKind => "are Manifest.db rows of an unknown kind (flags)",
                Hidden::NoContent => "have no stored bytes (see `hearth ls`)",
                Hidden::NameTaken => "repeat a path already taken",
            };
            let examples: Vec<String> = examples.iter().map(|e| esc(e).into_owned()).collect();
            format!(
                "note: {n} entries {why}, not written: {}",
                examples.join(", ")
            )
        })
        .collect()
}
