//! End to end: `hearth check --read-data-subset N/M` reads each pack in exactly one of the M
//! slices (the slice named by the pack id's first 8 hex digits), `P%` reads a sample, damage
//! found in a subset names the pack and what it affects, and the JSON says what was read.

use crate::common;

use common::{s, u};

use std::path::PathBuf;

use common::{World, describe};
use hearth_testkit::{Household, HouseholdSpec, generate};
use serde_json::Value;

/// Every pack file under `<repo>/packs/<pp>/`.
fn packs(w: &World) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(w.repo().join("packs")).expect("packs folder") {
        let dir = dir.unwrap().path();
        if dir.is_dir() {
            out.extend(std::fs::read_dir(&dir).unwrap().map(|f| f.unwrap().path()));
        }
    }
    out.sort();
    out
}

/// The documented rule: slice (first 8 hex digits of the pack id as a number) % M + 1.
fn slice_of(pack_name: &str, m: u32) -> u32 {
    u32::from_str_radix(&pack_name[..8], 16).expect("hex pack name") % m + 1
}

/// Stdout and stderr of `hearth ARGS`, with its exit status.
fn run_text(w: &World, args: &[&str]) -> (Option<i32>, String) {
    let out = w.run(args);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), all)
}

fn backed_up_household(w: &World) -> Household {
    let h = generate(&HouseholdSpec::tiny(), &w.path("Backup")).expect("generate tiny household");
    w.ok(&["backup", s(&w.path("Backup"))]);
    h
}

#[test]
fn each_pack_is_read_by_exactly_one_slice_and_the_damaged_one_is_found_once() {
    let w = World::with_repo();
    let h = backed_up_household(&w);
    let all_packs = packs(&w);
    assert!(!all_packs.is_empty(), "the backup wrote packs");

    // Before any damage: the three slices together read every pack once, and all pass.
    let mut read = 0;
    for k in 1..=3u32 {
        let subset = format!("{k}/3");
        let j = w.json(&["check", "--read-data-subset", &subset], 0);
        assert_eq!(j["ok"], true, "{j:#}");
        assert_eq!(j["read_data"], format!("subset {k}/3"), "{j:#}");
        let expected = all_packs
            .iter()
            .filter(|p| slice_of(p.file_name().unwrap().to_str().unwrap(), 3) == k)
            .count() as u64;
        assert_eq!(
            u(&j["packs_read"]),
            expected,
            "slice {k}/3 reads the packs the documented rule puts in it: {j:#}"
        );
        read += u(&j["packs_read"]);
    }
    assert_eq!(read, all_packs.len() as u64, "1/3..3/3 read every pack");
    let full = w.json(&["check", "--read-data"], 0);
    assert_eq!(full["read_data"], "all");
    assert_eq!(u(&full["packs_read"]), all_packs.len() as u64);
    let none = w.json(&["check"], 0);
    assert_eq!(none["read_data"], "none");
    assert_eq!(u(&none["packs_read"]), 0);

    // Flip a byte in the middle of the biggest pack: inside one of its blobs.
    let pack = all_packs
        .iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(pack).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(pack, &bytes).unwrap();
    let pack_name = pack.file_name().unwrap().to_str().unwrap();
    let damaged_slice = slice_of(pack_name, 3);

    // Each slice with a cache of its own: what one slice finds is remembered in the cache
    // (below), and here each must find it, or not, by itself.
    let mut reported = Vec::new();
    for k in 1..=3u32 {
        let subset = format!("{k}/3");
        let cache = w.path(&format!("cache-{k}"));
        let (code, all) = run_text(
            &w,
            &[
                "--cache-dir",
                s(&cache),
                "check",
                "--read-data-subset",
                &subset,
            ],
        );
        assert!(all.contains(&format!("(subset {k}/3)")), "{all}");
        if code == Some(1) {
            assert!(all.contains(pack_name), "names the pack:\n{all}");
            assert!(
                h.devices
                    .iter()
                    .any(|d| all.contains(&format!("affects {} ({})", d.name, d.udid))),
                "names the device and files the damage affects:\n{all}"
            );
            reported.push(k);
        } else {
            assert_eq!(
                code,
                Some(0),
                "slice {k}/3 without the damaged pack:\n{all}"
            );
            assert!(!all.contains(pack_name), "{all}");
            assert!(all.contains("no errors found"), "{all}");
        }
    }
    assert_eq!(
        reported,
        [damaged_slice],
        "exactly the slice the rule names reports the damaged pack"
    );

    // The JSON of the slice that finds it: the subset, the pack, and what it affects.
    let subset = format!("{damaged_slice}/3");
    let j = w.json(&["check", "--read-data-subset", &subset], 1);
    assert_eq!(j["ok"], false);
    assert_eq!(j["read_data"], format!("subset {damaged_slice}/3"));
    assert!(u(&j["packs_read"]) >= 1);
    let damage = j["damage"].as_array().expect("damage array");
    let d = damage
        .iter()
        .find(|d| d["object"].as_str().unwrap().contains(pack_name))
        .unwrap_or_else(|| panic!("the pack is named: {j:#}"));
    assert!(
        !d["affected"].as_array().unwrap().is_empty(),
        "the damage names what it affects: {j:#}"
    );

    // With the cache that found it, a slice that does not read the pack still reports the
    // damage: it was remembered, with the files it costs.
    let other = (1..=3u32).find(|k| *k != damaged_slice).unwrap();
    let (code, all) = run_text(&w, &["check", "--read-data-subset", &format!("{other}/3")]);
    assert_eq!(code, Some(1), "{all}");
    assert!(
        all.contains("failed to read when they were last read") && all.contains("affects "),
        "{all}"
    );

    // 100% reads every pack, so it finds it too.
    let (code, all) = run_text(&w, &["check", "--read-data-subset", "100%"]);
    assert_eq!(code, Some(1), "{all}");
    assert!(all.contains(pack_name), "{all}");
    let j = w.json(&["check", "--read-data-subset", "100%"], 1);
    assert_eq!(j["read_data"], "subset 100%");
    assert_eq!(u(&j["packs_read"]), all_packs.len() as u64);

    // A small percentage still reads at least one pack.
    let out = w.run(&["--json", "check", "--read-data-subset", "0.5%"]);
    let j: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("one JSON document ({e}):\n{}", describe(&out)));
    assert_eq!(j["read_data"], "subset 0.5%");
    assert_eq!(u(&j["packs_read"]), 1, "{j:#}");
}

#[test]
fn bad_subsets_and_read_data_together_are_refused_at_argument_parsing() {
    let w = World::new();
    for (arg, says) in [
        ("4/3", "N must be between 1 and M=3"),
        ("0/3", "N must be between 1 and M=3"),
        ("1/0", "M must be at least 1"),
        ("0%", "above 0 and at most 100"),
        ("101%", "above 0 and at most 100"),
        ("half", "neither N/M"),
    ] {
        let out = w.run(&["check", "--read-data-subset", arg]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{arg}: {}", describe(&out));
        assert!(err.contains(says), "{arg}: {err}");
    }
    let out = w.run(&["check", "--read-data", "--read-data-subset", "1/2"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot be used with"),
        "{}",
        describe(&out)
    );
}
