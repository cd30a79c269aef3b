//! `hearth schedule` (issue 18, item 2): the systemd user units it writes pass
//! `systemd-analyze verify`, the launchd agent parses with the `plist` crate and with Python's
//! plistlib, `uninstall` removes exactly what `install` wrote, and `status` reports it.
//!
//! HOME, XDG_CONFIG_HOME, XDG_STATE_HOME and XDG_RUNTIME_DIR point into the world, and the
//! session bus nowhere: no test ever reaches this computer's own service manager, so install
//! writes the files and ends with exit 3, naming the commands to run.

use crate::common::{PASSWORD, World, describe, s};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `hearth ARGS` in the world's own home, with the repository and password only in the config
/// file (a service sees nothing else).
fn scheduled(w: &World, args: &[&str]) -> Output {
    let mut c = w.cmd(args);
    c.env_remove("HEARTH_REPO")
        .env_remove("HEARTH_PASSWORD")
        .env("HOME", w.path("home"))
        .env("XDG_STATE_HOME", w.path("state"))
        .env("XDG_RUNTIME_DIR", w.path("run"))
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    std::fs::create_dir_all(w.path("run")).unwrap();
    c.output().expect("hearth runs")
}

fn config_path(w: &World) -> PathBuf {
    w.path("config/hearth/config.toml")
}

fn write_config(w: &World, text: &str) {
    std::fs::create_dir_all(w.path("config/hearth")).unwrap();
    std::fs::write(config_path(w), text).unwrap();
}

fn good_config(w: &World, extra: &str) {
    std::fs::write(w.path("pw"), PASSWORD).unwrap();
    let text = format!(
        "repo = {:?}\npassword_file = {:?}\n{extra}",
        s(&w.repo()),
        s(&w.path("pw"))
    );
    write_config(w, &text);
}

fn units(w: &World) -> PathBuf {
    w.path("config/systemd/user")
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

/// `systemd-analyze --user verify FILES` passes and says nothing (an unknown key is only a
/// warning, so silence is asserted too). Needs Debian's systemd package (`.ci/run` installs it).
fn verify(w: &World, files: &[PathBuf]) {
    let out = Command::new("systemd-analyze")
        .args(["--user", "verify"])
        .args(files)
        .env("XDG_RUNTIME_DIR", w.path("run"))
        .output()
        .expect("systemd-analyze runs (Debian's systemd package; .ci/run installs it)");
    assert_eq!(
        code(&out),
        Some(0),
        "systemd-analyze verify {files:?}:\n{}",
        describe(&out)
    );
    assert!(
        out.stderr.is_empty(),
        "systemd-analyze verify {files:?}:\n{}",
        describe(&out)
    );
}

fn canonical_hearth() -> String {
    let p = std::fs::canonicalize(env!("CARGO_BIN_EXE_hearth")).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn install_refuses_without_a_config_file_that_a_service_can_use() {
    let w = World::with_repo();
    let out = scheduled(&w, &["schedule", "install"]);
    assert_eq!(code(&out), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("no config file at {}", s(&config_path(&w)))),
        "{err}"
    );

    write_config(&w, "lock_wait = \"1m\"\n");
    let err = String::from_utf8_lossy(&scheduled(&w, &["schedule", "install"]).stderr).into_owned();
    assert!(err.contains("names no repository"), "{err}");
    write_config(&w, &format!("repo = {:?}\n", s(&w.repo())));
    let err = String::from_utf8_lossy(&scheduled(&w, &["schedule", "install"]).stderr).into_owned();
    assert!(
        err.contains("has no password_file or password_command"),
        "{err}"
    );
    assert!(
        !units(&w).exists(),
        "nothing is written when install refuses"
    );
}

#[test]
fn systemd_units_verify_and_uninstall_removes_only_them() {
    let w = World::with_repo();
    good_config(&w, "[retention]\nkeep_daily = 7\n");
    std::fs::create_dir_all(units(&w)).unwrap();
    let theirs = units(&w).join("other.service");
    std::fs::write(&theirs, "[Service]\nExecStart=/bin/true\n").unwrap();

    // The default: a watch service. No user bus here: written, not started, exit 3.
    let out = scheduled(&w, &["schedule", "install", "--platform", "linux"]);
    assert_eq!(code(&out), Some(3), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("systemctl --user enable --now hearth-watch.service"),
        "{err}"
    );
    let watch = units(&w).join("hearth-watch.service");
    let text = std::fs::read_to_string(&watch).unwrap();
    let config = std::fs::canonicalize(config_path(&w)).unwrap();
    let exec = format!(
        "ExecStart={} --config {} watch\n",
        canonical_hearth(),
        s(&config)
    );
    assert!(text.contains(&exec), "{text}");
    assert!(text.contains("Restart=on-failure"), "{text}");
    assert!(
        !text.contains(PASSWORD) && !text.contains(s(&w.repo())),
        "{text}"
    );
    verify(&w, std::slice::from_ref(&watch));

    // A timer instead: the watch service goes, the backup service and its timer come.
    let out = scheduled(
        &w,
        &[
            "--json",
            "schedule",
            "install",
            "--every",
            "6h",
            "--platform",
            "linux",
        ],
    );
    assert_eq!(code(&out), Some(3), "{}", describe(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["started"], false, "{doc:#}");
    assert_eq!(
        doc["job"],
        serde_json::json!({"kind": "backup", "every": "6h"})
    );
    assert!(!watch.exists());
    let service = units(&w).join("hearth-backup.service");
    let timer = units(&w).join("hearth-backup.timer");
    let service_text = std::fs::read_to_string(&service).unwrap();
    assert!(service_text.contains(" forget --prune\n"), "{service_text}");
    let timer_text = std::fs::read_to_string(&timer).unwrap();
    assert!(
        timer_text.contains("OnUnitActiveSec=6h\n") && timer_text.contains("Persistent=true\n")
    );
    verify(&w, &[service.clone(), timer.clone()]);

    // status: what is installed and its schedule, the repository's latest snapshot.
    std::fs::create_dir_all(w.path("state/hearth")).unwrap();
    std::fs::write(
        w.path("state/hearth/watch.log"),
        "one\ntwo\nbacked up Good iPhone\n",
    )
    .unwrap();
    let out = scheduled(&w, &["--json", "schedule", "status", "--platform", "linux"]);
    assert_eq!(code(&out), Some(0), "{}", describe(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<_> = doc["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["hearth-backup.service", "hearth-backup.timer"]);
    assert_eq!(doc["units"][1]["job"]["every"], "6h");
    assert!(doc["units"][1]["manager_error"].is_string(), "{doc:#}");
    assert_eq!(doc["repository"]["reachable"], true, "{doc:#}");
    assert_eq!(doc["repository"]["last_snapshot"], Value::Null);
    assert_eq!(doc["log"]["last_lines"][2], "backed up Good iPhone");
    let text =
        String::from_utf8(scheduled(&w, &["schedule", "status", "--platform", "linux"]).stdout)
            .unwrap();
    assert!(
        text.contains("hearth-backup.timer: backs up every 6h"),
        "{text}"
    );
    assert!(text.contains("latest snapshot: none yet"), "{text}");

    let out = scheduled(&w, &["schedule", "uninstall", "--platform", "linux"]);
    assert!(matches!(code(&out), Some(0 | 3)), "{}", describe(&out));
    assert!(!service.exists() && !timer.exists());
    assert!(theirs.exists(), "an unrelated unit stays");
    let listed: Vec<_> = std::fs::read_dir(units(&w))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(listed, ["other.service"]);
}

/// The agent's keys as Python's plistlib reads them (JSON of the parsed dictionary).
fn plistlib(path: &Path) -> Value {
    let python = hearth_testkit::third_party::python().unwrap_or_else(|| "python3".into());
    let out = Command::new(python)
        .args([
            "-c",
            "import json, plistlib, sys; print(json.dumps(plistlib.load(open(sys.argv[1], 'rb'))))",
        ])
        .arg(path)
        .output()
        .expect("python runs");
    assert_eq!(code(&out), Some(0), "plistlib:\n{}", describe(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_launchd_agent_parses_with_plist_and_plistlib() {
    let w = World::with_repo();
    good_config(&w, "");
    let out = scheduled(&w, &["schedule", "install", "--platform", "macos"]);
    // No launchctl here: written, not started.
    assert_eq!(code(&out), Some(3), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("launchctl bootstrap gui/$(id -u)"));
    let agent = w.path("home/Library/LaunchAgents/org.hearth.watch.plist");
    let ours = plist::Value::from_file(&agent).expect("the plist crate reads it");
    let d = ours.as_dictionary().unwrap();
    assert_eq!(d["Label"].as_string(), Some("org.hearth.watch"));
    assert_eq!(d["RunAtLoad"].as_boolean(), Some(true));
    assert!(d.contains_key("KeepAlive"));
    let config = std::fs::canonicalize(config_path(&w)).unwrap();
    let log = w.path("home/Library/Logs/hearth/hearth.log");
    assert!(log.parent().unwrap().is_dir(), "the log folder is made");

    let py = plistlib(&agent);
    let hearth = canonical_hearth();
    assert_eq!(
        py["ProgramArguments"],
        serde_json::json!([hearth, "--config", s(&config), "watch"])
    );
    assert_eq!(py["StandardErrorPath"], s(&log));
    assert_eq!(
        py["KeepAlive"],
        serde_json::json!({"SuccessfulExit": false})
    );
    assert_eq!(py["RunAtLoad"], true);

    // Every 6 hours instead: the watch agent is replaced by the backup agent.
    let out = scheduled(
        &w,
        &[
            "schedule",
            "install",
            "--every",
            "6h",
            "--platform",
            "macos",
        ],
    );
    assert_eq!(code(&out), Some(3), "{}", describe(&out));
    assert!(!agent.exists());
    let backup = plistlib(&w.path("home/Library/LaunchAgents/org.hearth.backup.plist"));
    assert_eq!(backup["StartInterval"], 21600);
    assert_eq!(
        backup["ProgramArguments"],
        serde_json::json!([hearth, "--config", s(&config), "backup"])
    );
    let doc: Value = serde_json::from_slice(
        &scheduled(&w, &["--json", "schedule", "status", "--platform", "macos"]).stdout,
    )
    .unwrap();
    assert_eq!(
        doc["units"][0]["job"],
        serde_json::json!({"kind": "backup", "every": "6h"})
    );
    scheduled(&w, &["schedule", "uninstall", "--platform", "macos"]);
    assert!(
        std::fs::read_dir(w.path("home/Library/LaunchAgents"))
            .unwrap()
            .next()
            .is_none()
    );
}
