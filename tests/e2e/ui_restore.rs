//! The dashboard's restore planner, its restore job and "Back up now", through the real
//! `hearth ui --no-browser` and HTTP requests of the test's own (ureq), compared with what the
//! command line does for the same choice: the plan's skipped rules and counts are those of
//! `hearth restore --dry-run --json`, the image written is `hearth restore`'s file for file,
//! "Back up now" stores exactly the snapshots `hearth backup` would. Also: a POST without the
//! CSRF token is refused (403), and a second operation while one runs is refused (409).

use crate::common;

use common::dashboard::{Dashboard, between};
use common::{World, s, u};
use hearth_testkit::{DayOptions, HouseholdSpec, generate, next_day, tree_digest};
use serde_json::Value;
use std::collections::BTreeMap;

/// Devices of `HouseholdSpec::tiny_cross`.
const IPAD: usize = 0;
const DAD: usize = 1;
const MUM: usize = 2;

/// The plan page's skipped rules: `tr[data-rule]` → `td.count`.
fn page_rules(page: &str) -> BTreeMap<String, u64> {
    let table = between(page, "<table class=\"skipped\">", "</table>").unwrap_or("");
    table
        .split("<tr data-rule=\"")
        .skip(1)
        .map(|row| {
            let rule = row.split('"').next().unwrap().to_owned();
            let count = between(row, "<td class=\"count num\">", "<").unwrap();
            (rule, count.parse().unwrap())
        })
        .collect()
}

fn cli_rules(plan: &Value) -> BTreeMap<String, u64> {
    plan["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["rule"].as_str().unwrap().to_owned(), u(&r["files"])))
        .collect()
}

/// `?a=b&c=d` with each value %-encoded.
fn query(pairs: &[(&str, &str)]) -> String {
    let enc = |v: &str| {
        v.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let parts: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect();
    format!("?{}", parts.join("&"))
}

fn latest_id(w: &World, udid: &str) -> String {
    let list = w.json(&["snapshots"], 0);
    list.as_array()
        .unwrap()
        .iter()
        .rfind(|s| s["device"]["udid"] == udid)
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .expect("a snapshot of the device")
}

fn snapshot_count(w: &World) -> usize {
    w.json(&["snapshots"], 0).as_array().unwrap().len()
}

#[test]
fn the_planner_shows_the_cli_plan_and_its_job_writes_the_cli_image() {
    let w = World::with_repo();
    let h = generate(&HouseholdSpec::tiny_cross(), &w.path("house")).unwrap();
    let (ipad, mum) = (&h.devices[IPAD], &h.devices[MUM]);
    w.ok(&["backup", s(&ipad.folder), s(&mum.folder)]);
    let phone = latest_id(&w, &mum.udid);
    let ui = Dashboard::start(&w, "ui", &[], &["--library", s(&w.path("library"))]);

    // iPhone → iPad: the rules and counts `restore --dry-run --json --to` gives.
    let cli = w.json(&["restore", &phone, "--dry-run", "--to", &ipad.udid], 0);
    let (status, page) = ui
        .get(&format!(
            "/restore{}",
            query(&[("snapshot", &phone), ("target", &ipad.udid)])
        ))
        .pair();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"plan\""), "{page}");
    let rules = page_rules(&page);
    assert!(
        rules.contains_key("photos") && rules.contains_key("messages"),
        "{rules:?}"
    );
    assert_eq!(rules, cli_rules(&cli));
    let kept = between(&page, "id=\"plan-kept\"", "</p>").unwrap();
    let kept_files = format!("{} files", u(&cli["kept"]["files"]));
    assert!(kept.contains(&kept_files), "{kept} vs {kept_files}");
    assert!(page.contains("id=\"plan-capacity\""), "{page}");

    // The same for a model typed in; an older iOS is refused on the page, not with a 500.
    let typed = query(&[
        ("snapshot", &phone),
        ("target", "model"),
        ("model", "iPad13,1"),
        ("ios", "17.5"),
    ]);
    let (status, page) = ui.get(&format!("/restore{typed}")).pair();
    assert_eq!(status, 200, "{page}");
    let cli_model = w.json(
        &[
            "restore",
            &phone,
            "--dry-run",
            "--to-model",
            "iPad13,1",
            "--to-ios",
            "17.5",
        ],
        0,
    );
    assert_eq!(page_rules(&page), cli_rules(&cli_model));
    let old = query(&[
        ("snapshot", &phone),
        ("target", "model"),
        ("model", "iPad13,1"),
        ("ios", "16.0"),
    ]);
    let (status, page) = ui.get(&format!("/restore{old}")).pair();
    assert_eq!(status, 200, "{page}");
    let refused = between(&page, "id=\"plan-refused\">", "</p>").expect("a refusal");
    assert!(refused.contains("16.0"), "{refused}");
    assert!(
        !page.contains("Write the image"),
        "no write form under a refusal"
    );
    let (status, page) = ui
        .get(&format!(
            "/restore{}",
            query(&[("target", "model"), ("model", "Pixel7"), ("ios", "17")])
        ))
        .pair();
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("unknown model"), "{page}");
    // The bare page offers every snapshot, the latest of the first device chosen.
    let (status, page) = ui.get("/restore").pair();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<select name=\"snapshot\">"), "{page}");
    assert!(
        !page.contains("id=\"plan\""),
        "no plan before one is asked for"
    );

    // Without the CSRF token, nothing starts.
    let (status, _) = ui
        .post(
            "/jobs/start/restore",
            &[("snapshot", phone.as_str()), ("target", &ipad.udid)],
        )
        .pair();
    assert_eq!(status, 403);

    // The image the job writes is `hearth restore`'s, file for file.
    let folder = w.path("ui-image");
    let job = ui.start_job(
        "restore",
        &[
            ("snapshot", &phone),
            ("target", &ipad.udid),
            ("model", ""),
            ("ios", ""),
            ("folder", s(&folder)),
        ],
    );
    let done = ui.wait_job(job);
    assert_eq!(done["state"], "finished", "{done}");
    let summary = done["summary"].as_str().unwrap();
    assert!(summary.contains(s(&folder)), "{summary}");
    w.ok(&[
        "restore",
        &phone,
        "--to",
        &ipad.udid,
        "--out",
        s(&w.path("cli-image")),
    ]);
    let ui_image = tree_digest(&folder.join(&mum.udid)).unwrap();
    let cli_image = tree_digest(&w.path("cli-image").join(&mum.udid)).unwrap();
    assert!(ui_image.len() > 5, "{ui_image:?}");
    assert_eq!(ui_image, cli_image);
    assert!(
        summary.contains(&format!("{} files", ui_image.len())),
        "{summary}"
    );

    // A folder that holds something already is refused, and named.
    let (status, body) = ui
        .post(
            "/jobs/start/restore",
            &[
                ("csrf", ui.csrf.as_str()),
                ("snapshot", &phone),
                ("folder", s(&folder)),
            ],
        )
        .pair();
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("is not empty") && body.contains(s(&folder)),
        "{body}"
    );
}

#[test]
fn back_up_now_stores_what_changed_once_and_one_operation_runs_at_a_time() {
    let w = World::with_repo();
    let h = generate(&HouseholdSpec::tiny_cross(), &w.path("house")).unwrap();
    w.ok(&["backup", s(&h.root)]);
    // A new backup of every device; all but Mum's are backed up from the command line.
    next_day(&h, 1, &DayOptions::default()).unwrap();
    w.ok(&[
        "backup",
        s(&h.devices[DAD].folder),
        s(&h.devices[IPAD].folder),
    ]);
    assert_eq!(snapshot_count(&w), 5);

    let ui = Dashboard::start(
        &w,
        "ui",
        &["--lock-wait", "3s"],
        &["--source", s(&h.root), "--library", s(&w.path("library"))],
    );
    let first = ui.wait_job(ui.start_job("backup", &[]));
    assert_eq!(first["state"], "finished", "{first}");
    assert_eq!(
        first["summary"], "1 snapshot(s) stored, 2 unchanged",
        "{first}"
    );
    assert_eq!(snapshot_count(&w), 6);
    let log: Vec<&str> = first["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(log.len(), 3, "{log:?}");
    let stored: Vec<_> = log.iter().filter(|l| l.contains(" stored ")).collect();
    assert_eq!(stored.len(), 1, "{log:?}");
    assert!(stored[0].starts_with(&h.devices[MUM].name), "{log:?}");

    let second = ui.wait_job(ui.start_job("backup", &[]));
    assert_eq!(second["state"], "finished", "{second}");
    assert_eq!(second["summary"], "0 snapshot(s) stored, 3 unchanged");
    assert_eq!(snapshot_count(&w), 6);

    // A second operation while one runs is refused with 409: prune waits for the exclusive
    // lock while another dashboard's page holds the shared one.
    let other = Dashboard::start(&w, "other-ui", &[], &[]);
    assert_eq!(other.get("/").status, 200);
    let prune = ui.start_job("prune", &[]);
    let (status, body) = ui
        .post("/jobs/start/check", &[("csrf", ui.csrf.as_str())])
        .pair();
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("Prune"), "{body}");
    let pruned = ui.wait_job(prune);
    assert_eq!(pruned["state"], "failed", "{pruned}");
}
