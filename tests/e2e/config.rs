//! The config file (issue 18, item 5): it supplies the repository, the password (a file or a
//! command) and the retention policy; environment variables beat it and flags beat them, and
//! `hearth config --json` says which won each time. A file with a typo is an error naming the
//! file and the line. `World::cmd` points XDG_CONFIG_HOME into the world, so
//! `<world>/config/hearth/config.toml` is the default file here.

use crate::common::{PASSWORD, World, describe, s};
use crate::handmade::good_device;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

const UDID: &str = "00008110-000C11223344801E";

fn config_path(w: &World) -> PathBuf {
    w.path("config/hearth/config.toml")
}

fn write_config(w: &World, text: &str) {
    let p = config_path(w);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// `hearth ARGS` with neither HEARTH_REPO nor HEARTH_PASSWORD: only the config file says.
fn bare(w: &World, args: &[&str]) -> Command {
    let mut c = w.cmd(args);
    c.env_remove("HEARTH_REPO").env_remove("HEARTH_PASSWORD");
    c
}

fn json_of(c: &mut Command) -> Value {
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The `source` (and `value`) of `key` in `hearth config --json`.
fn source_of(doc: &Value, key: &str) -> (String, Value) {
    let v = (doc["values"].as_array().unwrap().iter())
        .find(|v| v["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {doc:#}"));
    (v["source"].as_str().unwrap().to_owned(), v["value"].clone())
}

#[test]
fn a_config_file_with_repo_and_password_file_is_all_a_command_needs() {
    let w = World::with_repo();
    // `pw` is beside the config file: relative paths are read from the file's folder.
    write_config(
        &w,
        &format!("repo = {:?}\npassword_file = \"pw\"\n", s(&w.repo())),
    );
    std::fs::write(w.path("config/hearth/pw"), format!("{PASSWORD}\n")).unwrap();
    let listed = json_of(&mut bare(&w, &["--json", "snapshots"]));
    assert_eq!(listed, serde_json::json!([]));

    let doc = json_of(&mut bare(&w, &["config", "--json"]));
    let file = format!("config file {}", s(&config_path(&w)));
    assert_eq!(doc["file"]["path"], s(&config_path(&w)));
    assert_eq!(doc["file"]["exists"], true);
    assert_eq!(
        source_of(&doc, "repo"),
        (file.clone(), Value::from(s(&w.repo())))
    );
    let (source, value) = source_of(&doc, "password");
    assert_eq!(source, file);
    // Where it is read from, never the password.
    assert!(value.as_str().unwrap().starts_with("set"), "{value}");
    let all = doc.to_string();
    assert!(!all.contains(PASSWORD), "{all}");
}

#[test]
fn a_variable_beats_the_file_and_a_flag_beats_the_variable() {
    let w = World::with_repo();
    write_config(
        &w,
        "repo = \"/nowhere/hearth\"\nlock_wait = \"5m\"\ncache_dir = \"/nowhere/cache\"\n",
    );
    let file = format!("config file {}", s(&config_path(&w)));
    // The file alone: its values, which `config` shows without opening anything.
    let mut c = bare(&w, &["config", "--json"]);
    c.env_remove("HEARTH_CACHE_DIR");
    let doc = json_of(&mut c);
    assert_eq!(
        source_of(&doc, "repo"),
        (file.clone(), "/nowhere/hearth".into())
    );
    assert_eq!(source_of(&doc, "lock_wait"), (file.clone(), "5m".into()));
    assert_eq!(source_of(&doc, "cache_dir").0, file);
    assert_eq!(source_of(&doc, "password").0, "default");

    // HEARTH_REPO (World::cmd sets it) beats the file, and the command works.
    w.ok(&["snapshots"]);
    let mut c = w.cmd(&["config", "--json"]);
    c.env("HEARTH_LOCK_WAIT", "2m");
    let doc = json_of(&mut c);
    assert_eq!(
        source_of(&doc, "repo"),
        ("HEARTH_REPO".into(), Value::from(s(&w.repo())))
    );
    assert_eq!(
        source_of(&doc, "lock_wait"),
        ("HEARTH_LOCK_WAIT".into(), "2m".into())
    );
    assert_eq!(source_of(&doc, "cache_dir").0, "HEARTH_CACHE_DIR");
    assert_eq!(source_of(&doc, "password").0, "HEARTH_PASSWORD");

    // A flag beats the variable.
    let other = w.path("other");
    let mut c = w.cmd(&["config", "--json", "--repo", s(&other), "--lock-wait", "0"]);
    c.env("HEARTH_LOCK_WAIT", "2m");
    let doc = json_of(&mut c);
    assert_eq!(
        source_of(&doc, "repo"),
        ("flag --repo".into(), Value::from(s(&other)))
    );
    assert_eq!(
        source_of(&doc, "lock_wait"),
        ("flag --lock-wait".into(), "0s".into())
    );

    // HEARTH_CONFIG and --config name another file.
    std::fs::write(w.path("elsewhere.toml"), "repo = \"/elsewhere\"\n").unwrap();
    let mut c = bare(&w, &["config", "--json"]);
    c.env("HEARTH_CONFIG", w.path("elsewhere.toml"));
    let doc = json_of(&mut c);
    assert_eq!(doc["file"]["path"], s(&w.path("elsewhere.toml")));
    assert_eq!(source_of(&doc, "repo").1, "/elsewhere");
    let mut c = bare(&w, &["config", "--json", "--config", s(&config_path(&w))]);
    c.env("HEARTH_CONFIG", w.path("elsewhere.toml"));
    assert_eq!(source_of(&json_of(&mut c), "repo").1, "/nowhere/hearth");
    // A file named on purpose that is not there is an error, not silently no values.
    let out = bare(&w, &["snapshots", "--config", s(&w.path("typo.toml"))])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("typo.toml") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn a_password_command_opens_the_repository_and_a_failing_one_is_named() {
    let w = World::with_repo();
    let repo = s(&w.repo()).to_owned();
    write_config(
        &w,
        &format!("repo = {repo:?}\npassword_command = \"printf '%s\\\\n' '{PASSWORD}'\"\n"),
    );
    let out = bare(&w, &["snapshots"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let doc = json_of(&mut bare(&w, &["config", "--json"]));
    let (source, value) = source_of(&doc, "password");
    assert_eq!(source, format!("config file {}", s(&config_path(&w))));
    assert_eq!(value, "set, printed by password_command");
    assert!(!doc.to_string().contains(PASSWORD));

    write_config(
        &w,
        &format!("repo = {repo:?}\npassword_command = \"echo no keyring >&2; exit 3\"\n"),
    );
    let out = bare(&w, &["snapshots"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("password_command `echo no keyring >&2; exit 3`")
            && err.contains(s(&config_path(&w)))
            && err.contains("failed (exit status: 3)"),
        "{err}"
    );
    // The command's own complaint reaches the user.
    assert!(err.contains("no keyring"), "{err}");
}

#[test]
fn a_bad_config_file_is_an_error_naming_the_file_and_line() {
    let w = World::with_repo();
    write_config(&w, "repo = \"/r\"\n\n[watch]\nsettel = \"60s\"\n");
    for args in [&["config"][..], &["snapshots"]] {
        let out = w.run(args);
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        let at = format!("config file {}: line 4", s(&config_path(&w)));
        assert!(err.contains(&at) && err.contains("`settel`"), "{err}");
    }
}

#[test]
fn forget_with_no_keep_flags_keeps_what_the_config_file_says() {
    let w = World::with_repo();
    good_device(&w.path("Backup"), UDID);
    w.ok(&["backup", s(&w.path("Backup"))]);
    // Another tag makes another snapshot of the same backup.
    w.ok(&["backup", "--tag", "second", s(&w.path("Backup"))]);
    let out = w.run(&["forget"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no --keep-* option given and no [retention]"),
        "{err}"
    );

    write_config(&w, "[retention]\nkeep_last = 1\n");
    let out = w.cmd(&["--json", "forget"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("keeping by [retention] of the config file"),
        "{err}"
    );
    let snaps = w.json(&["snapshots"], 0);
    let snaps = snaps.as_array().unwrap();
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    // A flag replaces the file's policy: keep-last 0 of the file is not applied.
    w.ok(&["backup", "--tag", "third", s(&w.path("Backup"))]);
    let doc = w.json(&["forget", "--dry-run", "--keep-last", "5"], 0);
    let kept = &doc["groups"][0]["snapshots"];
    assert_eq!(kept.as_array().unwrap().len(), 2, "{doc:#}");
    assert!(
        kept.as_array().unwrap().iter().all(|d| d["keep"] == true),
        "{doc:#}"
    );
}
