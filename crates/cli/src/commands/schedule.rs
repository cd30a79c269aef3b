//! `schedule install | uninstall | status`: the user service that runs `hearth watch`, or the
//! timer that runs `hearth backup`, with the config file as the only source of the repository.

use crate::Outcome;
use crate::cli::{PlatformArg, PlatformName, ScheduleCommand, ScheduleInstallArgs};
use crate::context::Context;
use crate::output::{esc, esc_text, print_json, time};
use crate::settings::PasswordFrom;
use anyhow::{Context as _, Result, bail};
use hearth_schedule::{Installed, Job, Platform, ServiceSpec, every_text};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Lines of the watch log `status` shows.
const LOG_LINES: usize = 5;

pub fn run(ctx: &Context, command: ScheduleCommand) -> Result<Outcome> {
    match command {
        ScheduleCommand::Install(args) => install(ctx, &args),
        ScheduleCommand::Uninstall(p) => uninstall(ctx, &p),
        ScheduleCommand::Status(p) => status(ctx, &p),
    }
}

fn platform(arg: &PlatformArg) -> Platform {
    match arg.platform {
        Some(PlatformName::Linux) => Platform::Linux,
        Some(PlatformName::Macos) => Platform::MacOs,
        None => Platform::current(),
    }
}

fn home(ctx: &Context) -> Result<PathBuf> {
    match ctx.settings.home() {
        Some(h) => Ok(h.to_owned()),
        None => bail!("HOME is not set: the user's service folder is under it"),
    }
}

fn units_dir(ctx: &Context, platform: Platform) -> Result<PathBuf> {
    Ok(platform.units_dir(&home(ctx)?, &ctx.settings.config_home()))
}

/// A service reads only the config file: it must exist, name the repository, and say how to
/// get the password without a terminal.
fn check_config_for_service(ctx: &Context) -> Result<PathBuf> {
    let s = &ctx.settings;
    let path = &s.config.path;
    if !s.config.exists {
        bail!(
            "no config file at {}: a service has no terminal and none of this shell's variables, so the config file must name the repository (repo = \"...\") and its password (password_file or password_command); see \"The config file\" in the user guide",
            path.display()
        );
    }
    if !s.file_names_repo() {
        bail!(
            "config file {} names no repository: add repo = \"...\" (a service does not see --repo or HEARTH_REPO)",
            path.display()
        );
    }
    if !matches!(
        s.unattended_password(),
        Some(PasswordFrom::File { .. } | PasswordFrom::Command { .. })
    ) {
        bail!(
            "config file {} has no password_file or password_command: a service cannot be asked for the password, nor see HEARTH_PASSWORD",
            path.display()
        );
    }
    std::fs::canonicalize(path).with_context(|| format!("config file {}", path.display()))
}

fn install(ctx: &Context, args: &ScheduleInstallArgs) -> Result<Outcome> {
    let platform = platform(&args.platform);
    let config = check_config_for_service(ctx)?;
    let job = args.every.map_or(Job::Watch, Job::Every);
    let program = std::env::current_exe().context("cannot find the path of this hearth binary")?;
    let home = home(ctx)?;
    let spec = ServiceSpec {
        program,
        config,
        job,
        forget: matches!(job, Job::Every(_)) && ctx.settings.retention().is_some(),
        log: home.join("Library/Logs/hearth/hearth.log"),
    };
    let dir = units_dir(ctx, platform)?;
    let files = hearth_schedule::unit_files(platform, &spec, &dir)?;
    // Whatever was installed before (the other job) goes first.
    let before = hearth_schedule::find_installed(platform, &dir)?;
    let stale: Vec<Installed> = (before.into_iter())
        .filter(|i| !files.iter().any(|f| f.path == i.path))
        .collect();
    let _ = hearth_schedule::deactivate(platform, &stale);
    hearth_schedule::remove(&stale)?;
    if platform == Platform::MacOs
        && let Some(logs) = spec.log.parent()
    {
        std::fs::create_dir_all(logs).with_context(|| format!("{}", logs.display()))?;
    }
    hearth_schedule::write(&files)?;
    let activated = hearth_schedule::activate(platform, job, &dir);
    let commands = hearth_schedule::manual_commands(platform, job, &dir);
    if ctx.global.json {
        print_json(&json!({
            "platform": platform.name(),
            "job": job_json(Some(job)),
            "files": files.iter().map(|f| &f.path).collect::<Vec<_>>(),
            "started": activated.is_ok(),
            "error": activated.as_ref().err().map(|e| e.to_string()),
            "run": if activated.is_ok() { Vec::new() } else { commands.clone() },
        }));
    } else {
        for f in &files {
            println!("wrote {}", esc(&f.path.to_string_lossy()));
        }
        if spec.forget {
            println!("after each backup: forget --prune by [retention] of the config file");
        }
    }
    match activated {
        Ok(()) => {
            if !ctx.global.json {
                println!("started: {}", describe(job));
            }
            Ok(Outcome::Success)
        }
        Err(e) => {
            eprintln!(
                "warning: the files are written but the service is not started: {}\nto start it, run:\n  {}",
                esc_text(&e.to_string()),
                commands.join("\n  ")
            );
            Ok(Outcome::Warnings)
        }
    }
}

fn describe(job: Job) -> String {
    match job {
        Job::Watch => "hearth watch, kept running".to_owned(),
        Job::Every(every) => format!("hearth backup every {}", every_text(every)),
    }
}

fn job_json(job: Option<Job>) -> Value {
    match job {
        Some(Job::Watch) => json!({"kind": "watch", "every": null}),
        Some(Job::Every(e)) => json!({"kind": "backup", "every": every_text(e)}),
        None => Value::Null,
    }
}

fn uninstall(ctx: &Context, arg: &PlatformArg) -> Result<Outcome> {
    let platform = platform(arg);
    let dir = units_dir(ctx, platform)?;
    let installed = hearth_schedule::find_installed(platform, &dir)?;
    let problems = hearth_schedule::deactivate(platform, &installed);
    let removed = hearth_schedule::remove(&installed)?;
    if ctx.global.json {
        print_json(&json!({
            "removed": removed,
            "warnings": problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        }));
    } else if removed.is_empty() {
        println!(
            "nothing of hearth's is installed in {}",
            esc(&dir.to_string_lossy())
        );
    } else {
        for p in &removed {
            println!("removed {}", esc(&p.to_string_lossy()));
        }
    }
    for p in &problems {
        eprintln!(
            "warning: {} (the files are removed; a service that still runs stops at the next log-out or reboot)",
            esc_text(&p.to_string())
        );
    }
    Ok(match problems.is_empty() {
        true => Outcome::Success,
        false => Outcome::Warnings,
    })
}

fn status(ctx: &Context, arg: &PlatformArg) -> Result<Outcome> {
    let platform = platform(arg);
    let dir = units_dir(ctx, platform)?;
    let installed = hearth_schedule::find_installed(platform, &dir)?;
    let units: Vec<Value> = (installed.iter())
        .map(|i| {
            let state = hearth_schedule::state(platform, i);
            json!({
                "name": i.name(),
                "path": i.path,
                "job": job_json(i.job),
                "active": state.as_ref().ok().map(|s| &s.active),
                "last_run": state.as_ref().ok().and_then(|s| s.last_run.clone()),
                "next_run": state.as_ref().ok().and_then(|s| s.next_run.clone()),
                "result": state.as_ref().ok().and_then(|s| s.result.clone()),
                "manager_error": state.as_ref().err().map(|e| e.to_string()),
            })
        })
        .collect();
    let log = ctx.settings.watch_log(None).value;
    let log_tail = tail(&log, LOG_LINES);
    let latest = latest_snapshot(ctx);
    if ctx.global.json {
        print_json(&json!({
            "platform": platform.name(),
            "dir": dir,
            "units": units,
            "log": {"path": log, "last_lines": log_tail},
            "repository": match &latest {
                Ok(t) => json!({"reachable": true, "last_snapshot": t, "error": null}),
                Err(e) => json!({"reachable": false, "last_snapshot": null, "error": e}),
            },
        }));
        return Ok(Outcome::Success);
    }
    if units.is_empty() {
        println!(
            "nothing of hearth's is installed in {}",
            esc(&dir.to_string_lossy())
        );
    }
    for u in &units {
        let what = match u["job"]["kind"].as_str() {
            Some("watch") => "runs hearth watch".to_owned(),
            Some(_) => format!(
                "backs up every {}",
                u["job"]["every"].as_str().unwrap_or("?")
            ),
            None => "the backup the timer starts".to_owned(),
        };
        println!("{}: {what}", esc(u["path"].as_str().unwrap_or_default()));
        match u["manager_error"].as_str() {
            Some(e) => println!("  state unknown: {}", esc_text(e)),
            None => {
                println!("  {}", u["active"].as_str().unwrap_or_default());
                for (key, label) in [
                    ("last_run", "last run"),
                    ("next_run", "next run"),
                    ("result", "result"),
                ] {
                    if let Some(v) = u[key].as_str() {
                        println!("  {label}: {}", esc(v));
                    }
                }
            }
        }
    }
    match &latest {
        Ok(Some(t)) => println!("latest snapshot: {t}"),
        Ok(None) => println!("latest snapshot: none yet"),
        Err(e) => println!("latest snapshot: unknown ({})", esc_text(e)),
    }
    if log_tail.is_empty() {
        println!("watch log {}: empty or absent", esc(&log.to_string_lossy()));
    } else {
        println!("watch log {} ends:", esc(&log.to_string_lossy()));
        for l in &log_tail {
            println!("  {}", esc(l));
        }
    }
    Ok(Outcome::Success)
}

/// The last `n` lines of a file (none when it is absent or unreadable).
fn tail(path: &Path, n: usize) -> Vec<String> {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

/// When the repository's newest snapshot was taken, when the password comes without a prompt.
fn latest_snapshot(ctx: &Context) -> Result<Option<String>, String> {
    if ctx.settings.password_from() == PasswordFrom::Prompt {
        return Err("no password without a prompt".into());
    }
    let repo = ctx
        .open_quietly()
        .map_err(|e| crate::output::error_text(&e))?;
    let snaps = repo.snapshots().map_err(|e| e.to_string())?;
    Ok(snaps.iter().map(|(_, s)| s.time).max().map(time))
}
