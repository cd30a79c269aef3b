//! Issue 11, the command line's smaller defects, through the real `hearth` binary: an empty
//! repository password is refused (`init`, `key add`, `key passwd`); `--password-file` wins
//! over HEARTH_PASSWORD, which wins over HEARTH_PASSWORD_FILE (and likewise for new
//! passwords); a value that is not UTF-8 is an error naming its argument (and a local `--repo`
//! may be any path); an unknown `--to-model` or an invalid `--to-ios` is refused with what
//! Hearth knows; a number too big for `--keep-within`, `--lock-wait` or `--to-capacity` is a
//! usage error, never a wrap or a panic.

use crate::common;
use crate::handmade;

use common::{PASSWORD, World, describe, s};
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Output};

const UDID: &str = "C11C0000C11C0000C11C0000C11C0000C11C0000";

fn backed_up() -> World {
    let w = World::with_repo();
    handmade::good_device(&w.path("Backup"), UDID);
    w.ok(&["backup", s(&w.path("Backup"))]);
    w
}

fn output(mut c: Command) -> Output {
    c.output().expect("hearth runs")
}

/// Asserts the exit status; returns stderr.
fn status(out: &Output, code: i32) -> String {
    assert_eq!(out.status.code(), Some(code), "{}", describe(out));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn file(w: &World, name: &str, text: &str) -> String {
    let p = w.path(name);
    fs::write(&p, text).unwrap();
    s(&p).to_owned()
}

fn key_count(w: &World) -> usize {
    fs::read_dir(w.repo().join("keys")).unwrap().count()
}

/// `snapshots` with the password from `env` (variables) and `args` (before the command).
fn opens(w: &World, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.push("snapshots");
    let mut c = w.cmd(&all);
    c.env_remove("HEARTH_PASSWORD");
    for (k, v) in env {
        c.env(k, v);
    }
    output(c)
}

#[test]
fn an_empty_password_is_refused_at_init_and_nothing_is_written() {
    let w = World::new();
    let empty = file(&w, "empty", "\n");
    let mut c = w.cmd(&["init", "--password-file", &empty]);
    c.env_remove("HEARTH_PASSWORD");
    let err = status(&output(c), 1);
    assert!(
        err.contains("an empty password is refused") && err.contains("Choose a password"),
        "{err}"
    );
    assert!(!w.repo().exists(), "init made nothing");

    // HEARTH_PASSWORD set but empty counts as unset, and says so.
    let mut c = w.cmd(&["init"]);
    c.env("HEARTH_PASSWORD", "");
    let err = status(&output(c), 1);
    assert!(
        err.contains("no repository password") && err.contains("HEARTH_PASSWORD is set but empty"),
        "{err}"
    );
    assert!(!w.repo().exists(), "init made nothing");
    w.ok(&["init"]);
}

#[test]
fn an_empty_new_password_is_refused_at_key_add_and_key_passwd() {
    let w = World::with_repo();
    let empty = file(&w, "empty", "");
    for args in [&["key", "add"][..], &["key", "passwd"]] {
        let mut all = args.to_vec();
        all.extend(["--new-password-file", &empty]);
        let err = status(&w.run(&all), 1);
        assert!(
            err.contains("an empty password is refused"),
            "{args:?}: {err}"
        );
        let mut c = w.cmd(args);
        c.env("HEARTH_NEW_PASSWORD_FILE", &empty);
        let err = status(&output(c), 1);
        assert!(
            err.contains("an empty password is refused"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(key_count(&w), 1, "no key added, none removed");
    w.ok(&["snapshots"]);
}

#[test]
fn the_password_file_flag_wins_over_hearth_password_which_wins_over_the_file_variable() {
    let w = World::with_repo();
    let right = file(&w, "right", &format!("{PASSWORD}\n"));
    let wrong = file(&w, "wrong", "not the password\n");
    let ok = |out: Output, what: &str| {
        assert_eq!(out.status.code(), Some(0), "{what}: {}", describe(&out));
    };
    let refused = |out: Output, what: &str| {
        let err = status(&out, 1);
        assert!(err.contains("wrong password"), "{what}: {err}");
    };
    // The flag beats HEARTH_PASSWORD, either way round.
    ok(
        opens(
            &w,
            &[("HEARTH_PASSWORD", "not the password")],
            &["--password-file", &right],
        ),
        "flag right, variable wrong",
    );
    refused(
        opens(
            &w,
            &[("HEARTH_PASSWORD", PASSWORD)],
            &["--password-file", &wrong],
        ),
        "flag wrong, variable right",
    );
    // HEARTH_PASSWORD beats HEARTH_PASSWORD_FILE, either way round.
    ok(
        opens(
            &w,
            &[
                ("HEARTH_PASSWORD", PASSWORD),
                ("HEARTH_PASSWORD_FILE", &wrong),
            ],
            &[],
        ),
        "variable right, file variable wrong",
    );
    refused(
        opens(
            &w,
            &[
                ("HEARTH_PASSWORD", "not the password"),
                ("HEARTH_PASSWORD_FILE", &right),
            ],
            &[],
        ),
        "variable wrong, file variable right",
    );
    // The file variable alone, and behind an empty HEARTH_PASSWORD.
    ok(
        opens(&w, &[("HEARTH_PASSWORD_FILE", &right)], &[]),
        "file variable",
    );
    ok(
        opens(
            &w,
            &[("HEARTH_PASSWORD", ""), ("HEARTH_PASSWORD_FILE", &right)],
            &[],
        ),
        "empty variable, file variable",
    );

    // New passwords: --new-password-file beats HEARTH_NEW_PASSWORD.
    let third = file(&w, "third", "third password\n");
    let mut c = w.cmd(&["key", "add", "--new-password-file", &third]);
    c.env("HEARTH_NEW_PASSWORD", "second password");
    status(&output(c), 0);
    ok(
        opens(&w, &[("HEARTH_PASSWORD", "third password")], &[]),
        "the flag's new password",
    );
    refused(
        opens(&w, &[("HEARTH_PASSWORD", "second password")], &[]),
        "the variable's",
    );
}

fn non_utf8(text: &[u8]) -> &OsStr {
    OsStr::from_bytes(text)
}

#[test]
fn a_value_that_is_not_utf8_names_its_argument() {
    let w = backed_up();
    let bad = non_utf8(b"Good\xffiPhone");
    let source = w.path("Backup");
    let cases: [(&[&str], &[&str], &str); 6] = [
        (&["ls"], &[], "'<SNAPSHOT>'"),
        (&["snapshots", "--device"], &[], "'--device <DEVICE>'"),
        (&["pin"], &[], "'<SNAPSHOT>'"),
        (
            &["restore", "Good iPhone@latest", "--dry-run", "--to"],
            &[],
            "'--to <TO>'",
        ),
        (
            &[
                "restore",
                "Good iPhone@latest",
                "--dry-run",
                "--to-ios",
                "18.1",
                "--to-model",
            ],
            &[],
            "'--to-model <TO_MODEL>'",
        ),
        (&["backup", s(&source), "--tag"], &[], "'--tag <TAGS>'"),
    ];
    for (before, after, names) in cases {
        let mut c = w.cmd(before);
        c.arg(bad).args(after);
        let err = status(&output(c), 2);
        assert!(
            err.contains(&format!(
                "invalid value for {names}: \"Good\\xffiPhone\" is not UTF-8 text"
            )),
            "{before:?}: {err}"
        );
        assert!(!err.contains("invalid UTF-8 was detected"), "{err}");
    }

    // An s3: location is a URL: UTF-8 or an error naming --repo, from the flag or HEARTH_REPO.
    let url = non_utf8(b"s3:http://127.0.0.1:9/bucket/\xfe");
    let mut c = w.cmd(&["snapshots", "--repo"]);
    c.arg(url);
    let err = status(&output(c), 2);
    assert!(
        err.contains("invalid value for '--repo <REPO>': \"s3:http://127.0.0.1:9/bucket/\\xfe\" is not UTF-8 text"),
        "{err}"
    );
    let mut c = w.cmd(&["snapshots"]);
    c.env("HEARTH_REPO", url);
    let err = status(&output(c), 2);
    assert!(err.contains("'--repo <REPO>'"), "{err}");

    // An iOS backup password that is not UTF-8 is named, not ignored.
    let mut c = w.cmd(&["backup", s(&source)]);
    c.env("HEARTH_IOS_PASSWORD", bad);
    let err = status(&output(c), 1);
    assert!(
        err.contains("HEARTH_IOS_PASSWORD is not UTF-8 text"),
        "{err}"
    );
    assert_eq!(snapshot_count(&w), 1, "nothing changed");
}

fn snapshot_count(w: &World) -> usize {
    w.json(&["snapshots"], 0).as_array().unwrap().len()
}

/// A folder's path may hold any bytes: a repository there works like any other.
#[test]
fn a_local_repository_whose_path_is_not_utf8_works() {
    let w = World::new();
    handmade::good_device(&w.path("Backup"), UDID);
    let mut name = w.dir.path().as_os_str().as_bytes().to_vec();
    name.extend_from_slice(b"/repo-\xff\xfe");
    let repo = Path::new(non_utf8(&name));
    let run = |args: &[&str]| {
        let mut c = w.cmd(args);
        c.env("HEARTH_REPO", repo);
        output(c)
    };
    status(&run(&["init"]), 0);
    assert!(repo.join("config").is_file());
    status(&run(&["backup", s(&w.path("Backup"))]), 0);
    let out = run(&["--json", "snapshots"]);
    status(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["device"]["udid"], UDID, "{v:#}");
}

#[test]
fn an_unknown_model_or_an_invalid_ios_version_is_refused_with_what_is_known() {
    let w = backed_up();
    let out = w.path("out");
    let restore = |model: &str, ios: &str| {
        w.run(&[
            "restore",
            "Good iPhone@latest",
            "--to-model",
            model,
            "--to-ios",
            ios,
            "--out",
            s(&out),
        ])
    };
    for model in ["Watch6,1", "iPhone", "Pixel 8", "iPhone16"] {
        let err = status(&restore(model, "18.1"), 1);
        assert!(
            err.contains(&format!("--to-model: unknown model {model:?}")),
            "{model}: {err}"
        );
        assert!(
            err.contains("iPhone<N>,<M>, iPad<N>,<M> or iPod<N>,<M> (e.g. iPhone16,1"),
            "the models Hearth knows: {err}"
        );
        assert!(
            err.contains("this household's devices: iPhone14,5 (Good iPhone)"),
            "the household's models: {err}"
        );
    }
    for ios in ["banana", "18.x", "0", "18.1.1.1", "18..1"] {
        let err = status(&restore("iPhone16,1", ios), 1);
        assert!(
            err.contains(&format!("--to-ios: invalid iOS version {ios:?}"))
                && err.contains("(e.g. 18, 18.1 or 17.4.1)"),
            "{ios}: {err}"
        );
    }
    assert!(!out.exists(), "a refused target writes nothing");

    // Apple's product type in any case; the plan names it as Apple writes it.
    let plan = w.json(
        &[
            "restore",
            "Good iPhone@latest",
            "--to-model",
            "ipad13,1",
            "--to-ios",
            "18",
            "--dry-run",
        ],
        0,
    );
    assert_eq!(plan["target"]["product_type"], "iPad13,1", "{plan:#}");
    assert_eq!(plan["target"]["family"], "iPad", "{plan:#}");
}

#[test]
fn numbers_too_big_for_their_option_are_usage_errors() {
    let w = backed_up();
    let cases: [(&[&str], &str); 4] = [
        (
            &["forget", "--keep-within", "99999999999y"],
            "too long a span",
        ),
        (
            &["forget", "--keep-within", "1y99999999999999999999d"],
            "too long a span",
        ),
        (
            &["--lock-wait", "99999999999999999h", "snapshots"],
            "too long a wait",
        ),
        (
            &[
                "restore",
                "Good iPhone@latest",
                "--dry-run",
                "--to-capacity",
                "99999999999999999999T",
            ],
            "too big a size",
        ),
    ];
    for (args, says) in cases {
        let err = status(&w.run(args), 2);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert_eq!(snapshot_count(&w), 1, "forget removed nothing");
    // The largest span that fits keeps everything.
    w.ok(&["forget", "--keep-within", "292471y"]);
    assert_eq!(snapshot_count(&w), 1);
}
