//! Issue 11: terminal control characters in device names and paths are escaped when printed.
//! A hostile backup names its device `ESC ] 0;pwned BEL ... ESC [2J ...` (retitle the window,
//! clear the screen), holds a file whose path carries colours, a bell and a fake line, and sits
//! in a folder whose own path holds an escape sequence. Every text output of the real `hearth`
//! binary that names them (backup reports, warnings and errors, snapshots, devices, ls, stats,
//! forget, pin, restore plans and reports) shows them escaped, and not one raw control
//! character reaches stdout or stderr; JSON output keeps the exact strings (the control
//! characters serde leaves raw, DEL, C1 and bidirectional marks, written as `\u` escapes).

use crate::common;
use crate::handmade;

use common::{World, describe, s};
use handmade::{HandDevice, text};
use hearth_mobilesync::FileId;
use hearth_testkit::bytes::noise;
use std::path::PathBuf;
use std::process::Output;

const UDID: &str = "E5C00000E5C00000E5C00000E5C00000E5C00000";
const BROKEN: &str = "B0B00000B0B00000B0B00000B0B00000B0B00000";

/// Retitles the window, clears the screen, starts red through the 8-bit CSI, reverses the line.
const NAME: &str = "\x1b]0;pwned\x07Evil \x1b[2JiPhone\u{9b}31m\u{202e}";
const NAME_SHOWN: &str = "\\x1b]0;pwned\\x07Evil \\x1b[2JiPhone\\u{9b}31m\\u{202e}";
/// Colours, a bell and a fake second line.
const PATH: &str = "Library/Notes/\x1b[31mred\x07\r\nfake: line.txt";
const PATH_SHOWN: &str = "Library/Notes/\\x1b[31mred\\x07\\r\\nfake: line.txt";
/// A row whose blob is missing: a warning names it.
const MISSING: &str = "Library/\x1b[5mblink\x07.db";
const MISSING_SHOWN: &str = "Library/\\x1b[5mblink\\x07.db";
/// The folder that holds the device folders.
const ROOT: &str = "Back\x1b[2Jup";
const ROOT_SHOWN: &str = "Back\\x1b[2Jup";

struct Hostile {
    w: World,
    root: PathBuf,
}

/// A repository and, in `ROOT`, the hostile device and a device whose Info.plist is cut short.
fn hostile() -> Hostile {
    let w = World::with_repo();
    let root = w.path(ROOT);
    let mut d = HandDevice::new(&root, UDID, NAME);
    d.dir("HomeDomain", "Library")
        .file("HomeDomain", PATH, &text(31, 20_000))
        .file(
            "MediaDomain",
            "Media/Recordings/memo.m4a",
            &noise(32, 30_000),
        )
        .row(
            FileId::for_path("HomeDomain", MISSING).as_str(),
            "HomeDomain",
            MISSING,
            1,
            4_000,
        );
    d.finish();
    let mut b = HandDevice::new(&root, BROKEN, "Broken iPhone");
    let folder = b.finish();
    let info = folder.join("Info.plist");
    let bytes = std::fs::read(&info).unwrap();
    std::fs::write(&info, &bytes[..bytes.len() / 2]).unwrap();
    Hostile { w, root }
}

/// Not one raw control character (but the line breaks of the output itself) on either stream.
fn assert_clean(out: &Output, what: &str) {
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        let raw: Vec<char> = text
            .chars()
            .filter(|c| (c.is_control() && *c != '\n') || ('\u{202a}'..='\u{202e}').contains(c))
            .collect();
        assert!(
            raw.is_empty(),
            "{what}: raw control characters {raw:?} on {stream}:\n{}",
            text.escape_debug()
        );
    }
}

/// Runs `args`, asserts the status and clean output; returns stdout and stderr together.
fn shown(w: &World, args: &[&str], status: i32) -> String {
    let out = w.run(args);
    assert_eq!(
        out.status.code(),
        Some(status),
        "{args:?}: {}",
        describe(&out)
    );
    assert_clean(&out, &format!("{args:?}"));
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_shows(text: &str, what: &str, args: &str) {
    assert!(text.contains(what), "{args} shows {what:?}:\n{text}");
}

#[test]
fn names_and_paths_are_escaped_in_every_text_output() {
    let Hostile { w, root } = hostile();
    let latest = format!("{UDID}@latest");

    // The backup: the report, the warning about the missing blob, the error naming the broken
    // device's folder (exit 1: one device failed).
    let text = shown(&w, &["backup", s(&root)], 1);
    assert_shows(&text, &format!("{NAME_SHOWN} ({UDID}"), "backup");
    assert_shows(&text, MISSING_SHOWN, "backup's warning");
    assert_shows(&text, &format!("{ROOT_SHOWN}/{BROKEN}"), "backup's error");

    let text = shown(&w, &["snapshots"], 0);
    assert_shows(&text, NAME_SHOWN, "snapshots");
    let text = shown(&w, &["devices"], 0);
    assert_shows(&text, NAME_SHOWN, "devices");
    let text = shown(&w, &["stats"], 0);
    assert_shows(&text, NAME_SHOWN, "stats");
    let text = shown(&w, &["ls", &latest], 0);
    assert_shows(&text, &format!("HomeDomain/{PATH_SHOWN}"), "ls");
    assert_shows(&text, &format!("HomeDomain/{MISSING_SHOWN}"), "ls");
    let text = shown(&w, &["ls", &latest, "HomeDomain/Library/Notes"], 0);
    assert_shows(&text, PATH_SHOWN, "ls with a filter");
    let text = shown(&w, &["forget", "--keep-last", "1", "--dry-run"], 0);
    assert_shows(&text, &format!("{NAME_SHOWN} ({UDID}):"), "forget");
    let text = shown(&w, &["pin", &latest], 0);
    assert_shows(&text, NAME_SHOWN, "pin");
    let ipad = [
        "restore",
        &latest,
        "--to-model",
        "iPad13,1",
        "--to-ios",
        "18",
        "--dry-run",
    ];
    let text = shown(&w, &ipad, 0);
    assert_shows(&text, &format!("{NAME_SHOWN} (iPhone14,5"), "restore plan");
    let out = w.path("out\x07put");
    let text = shown(&w, &["restore", &latest, "--out", s(&out)], 0);
    assert_shows(
        &text,
        &format!("of {NAME_SHOWN} into {}", s(&w.path("out\\x07put"))),
        "restore",
    );
    let id = FileId::for_path("HomeDomain", PATH);
    let blob = out.join(UDID).join(&id.as_str()[..2]).join(id.as_str());
    assert_eq!(
        std::fs::read(blob).unwrap(),
        handmade::text(31, 20_000),
        "the file itself is restored as it was"
    );
    shown(&w, &["check", "--read-data"], 0);
    // A selector that names no device echoes it escaped.
    let text = shown(&w, &["ls", "\x1b[2J@latest"], 1);
    assert_shows(
        &text,
        "[2J\" in this repository",
        "a selector that matches nothing",
    );
}

#[test]
fn json_output_keeps_the_exact_strings() {
    let Hostile { w, root } = hostile();
    let out = w.run(&["--json", "backup", s(&root)]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_clean(&out, "backup --json");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["snapshots"][0]["device"]["name"], NAME, "{v:#}");

    let v = w.json(&["snapshots"], 0);
    assert_eq!(v[0]["device"]["name"], NAME, "{v:#}");
    let v = w.json(&["devices"], 0);
    assert_eq!(v["devices"][0]["name"], NAME, "{v:#}");
    let v = w.json(&["ls", &format!("{UDID}@latest")], 0);
    let paths: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["relative_path"].as_str())
        .collect();
    assert!(
        paths.contains(&PATH) && paths.contains(&MISSING),
        "{paths:?}"
    );
}
