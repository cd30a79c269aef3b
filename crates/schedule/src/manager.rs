//! The service manager: `systemctl --user` or `launchctl`. Where it cannot be reached (a
//! container, CI, a session with no user bus) the caller gets a [`ManagerError`] naming the
//! command, and [`manual_commands`] says what to run instead.

use crate::{Installed, Job, Platform, launchd, systemd};
use std::path::Path;
use std::process::Command;

/// A service-manager command that did not work.
#[derive(Debug, Clone, thiserror::Error)]
#[error("`{command}` did not work: {reason}")]
pub struct ManagerError {
    pub command: String,
    pub reason: String,
}

/// What the service manager says of a unit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitState {
    /// e.g. `active (running)`, `inactive (dead)`, `running`.
    pub active: String,
    /// When it last started or ran, as the manager prints it.
    pub last_run: Option<String>,
    /// For a timer: when it runs next.
    pub next_run: Option<String>,
    /// The last exit status or result, when the manager says.
    pub result: Option<String>,
}

fn run(program: &str, args: &[&str]) -> Result<String, ManagerError> {
    let command = std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let failed = |reason: String| ManagerError {
        command: command.clone(),
        reason,
    };
    let out = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| failed(e.to_string()))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        return Err(failed(match said.is_empty() {
            true => out.status.to_string(),
            false => said,
        }));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn gui_domain() -> String {
    // SAFETY: getuid has no preconditions and cannot fail.
    format!("gui/{}", unsafe { libc::getuid() })
}

/// Loads and starts the service for `job`, whose files are in `dir`.
pub fn activate(platform: Platform, job: Job, dir: &Path) -> Result<(), ManagerError> {
    match platform {
        Platform::Linux => {
            run("systemctl", &["--user", "daemon-reload"])?;
            run(
                "systemctl",
                &["--user", "enable", "--now", systemd::enabled_unit(job)],
            )?;
        }
        Platform::MacOs => {
            let plist = dir.join(format!("{}.plist", launchd::label(job)));
            let plist = plist.to_string_lossy();
            // An agent loaded before (a reinstall) is unloaded first; it may not be loaded.
            let _ = run("launchctl", &["bootout", &gui_domain(), &plist]);
            run("launchctl", &["bootstrap", &gui_domain(), &plist])?;
        }
    }
    Ok(())
}

/// Stops and unloads what `installed` describes, before its files go; every failure is
/// returned, none stops the others (the files are removed whatever the manager says).
pub fn deactivate(platform: Platform, installed: &[Installed]) -> Vec<ManagerError> {
    let mut errors = Vec::new();
    for i in installed {
        let name = i.name();
        let result = match platform {
            Platform::Linux if name.ends_with(".timer") || name == systemd::WATCH => {
                run("systemctl", &["--user", "disable", "--now", &name]).map(drop)
            }
            Platform::Linux => continue,
            Platform::MacOs => {
                let label = name.trim_end_matches(".plist");
                run(
                    "launchctl",
                    &["bootout", &format!("{}/{label}", gui_domain())],
                )
                .map(drop)
            }
        };
        errors.extend(result.err());
    }
    if platform == Platform::Linux && !installed.is_empty() {
        errors.extend(run("systemctl", &["--user", "daemon-reload"]).err());
    }
    errors
}

/// What the manager says of the installed file `unit`.
pub fn state(platform: Platform, unit: &Installed) -> Result<UnitState, ManagerError> {
    let name = unit.name();
    match platform {
        Platform::Linux => {
            let shown = run(
                "systemctl",
                &[
                    "--user",
                    "show",
                    &name,
                    "-p",
                    "ActiveState,SubState,ExecMainStartTimestamp,LastTriggerUSec,NextElapseUSecRealtime,Result",
                ],
            )?;
            let get = |key: &str| {
                systemd::value(&shown, key)
                    .map(str::trim)
                    .filter(|v| !v.is_empty() && *v != "n/a" && *v != "0")
                    .map(str::to_owned)
            };
            Ok(UnitState {
                active: format!(
                    "{} ({})",
                    get("ActiveState").unwrap_or_default(),
                    get("SubState").unwrap_or_default()
                ),
                last_run: get("LastTriggerUSec").or_else(|| get("ExecMainStartTimestamp")),
                next_run: get("NextElapseUSecRealtime"),
                result: get("Result"),
            })
        }
        Platform::MacOs => {
            let label = name.trim_end_matches(".plist");
            let shown = run(
                "launchctl",
                &["print", &format!("{}/{label}", gui_domain())],
            )?;
            let get = |key: &str| {
                shown.lines().find_map(|l| {
                    let (k, v) = l.trim().split_once(" = ")?;
                    (k == key).then(|| v.trim().to_owned())
                })
            };
            Ok(UnitState {
                active: get("state").unwrap_or_default(),
                last_run: None,
                next_run: None,
                result: get("last exit code"),
            })
        }
    }
}

/// The commands that load and start `job`'s service by hand.
pub fn manual_commands(platform: Platform, job: Job, dir: &Path) -> Vec<String> {
    match platform {
        Platform::Linux => vec![
            "systemctl --user daemon-reload".to_owned(),
            format!(
                "systemctl --user enable --now {}",
                systemd::enabled_unit(job)
            ),
        ],
        Platform::MacOs => vec![format!(
            "launchctl bootstrap gui/$(id -u) {}",
            dir.join(format!("{}.plist", launchd::label(job))).display()
        )],
    }
}
