//! `hearth ui`'s Photos and Messages pages and its export jobs, through the real binary on a
//! generated household (Live Photos, edits, videos and Messages): the grid lists what
//! `hearth export photos` writes, with its dates, each photo once; the conversation list and a
//! thread count what the export and plain SQL on the device's own `sms.db` count; an export
//! started from the page writes what `hearth export` writes; a POST without the CSRF token is
//! refused.

use crate::common;

use common::dashboard::{Dashboard, attrs};
use common::ios_databases::sql_count;
use common::{World, s, tree, u};
use hearth_testkit::{HouseholdSpec, generate};
use serde_json::Value;
use std::path::Path;

const NOT_REACTION: &str = "COALESCE(m.associated_message_type, 0) NOT BETWEEN 2000 AND 3999";

/// The one value of `id`'s `data-count`.
fn data_count(html: &str, id: &str) -> u64 {
    let at = html.find(&format!("id=\"{id}\"")).expect(id);
    attrs(&html[at..], "data-count")[0].parse().unwrap()
}

/// A copy of a plaintext device folder's `HomeDomain/Library/SMS/sms.db`, opened.
fn device_sms_db(device: &Path, dir: &Path) -> rusqlite::Connection {
    let id = hearth_mobilesync::FileId::for_path("HomeDomain", "Library/SMS/sms.db");
    std::fs::create_dir_all(dir).unwrap();
    let copy = dir.join("sms.db");
    std::fs::copy(device.join(&id.as_str()[..2]).join(id.as_str()), &copy).unwrap();
    rusqlite::Connection::open(&copy).unwrap()
}

#[test]
fn photos_and_messages_pages_show_what_the_export_writes_and_export_jobs_write_it() {
    let w = World::with_repo();
    let mut spec = HouseholdSpec::tiny();
    for d in &mut spec.devices {
        d.extras.live_photos_and_edits = true;
        d.photos = 16;
    }
    let household = generate(&spec, &w.path("gen")).unwrap();
    w.ok(&["backup", s(&household.root)]);
    let cli_photos = w.path("cli-photos");
    let j = w.json(&["export", "photos", "--out", s(&cli_photos)], 0);
    let listed = u(&j["photos"]) + j["videos"].as_u64().unwrap_or(0);
    assert!(listed > 0 && listed <= 200, "{j:#}");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(cli_photos.join("photos.json")).unwrap()).unwrap();
    let mut want_dates: Vec<String> = manifest["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "photo" || r["kind"] == "video")
        .map(|r| r["date"].as_str().unwrap().to_owned())
        .collect();
    want_dates.sort();

    let library = w.path("library");
    let ui = Dashboard::start(&w, "ui", &[], &["--library", s(&library)]);

    // The household's grid: each photo once, the export's dates.
    let grid = ui.page("/photos?scope=household");
    let figures = grid.matches("<figure ").count() as u64;
    assert_eq!(figures, listed, "one figure per photo and video exported");
    assert_eq!(data_count(&grid, "photo-count"), listed);
    let paths = attrs(&grid, "data-path");
    assert_eq!(paths.len() as u64, listed);
    let mut dates = attrs(&grid, "datetime");
    dates.sort();
    assert_eq!(dates, want_dates, "captions carry photos.json's dates");
    assert_eq!(
        ui.page("/photos").matches("<figure ").count() as u64,
        listed
    );

    // One device's grid: what exporting its snapshot alone counts.
    let device = &household.devices[0];
    let snapshot = w.json(&["snapshots", "--device", &device.udid], 0);
    let snapshot = snapshot.as_array().unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let one = w.json(
        &["export", "photos", &snapshot, "--out", s(&w.path("one"))],
        0,
    );
    let one_grid = ui.page(&format!("/photos?snapshot={snapshot}"));
    assert_eq!(
        one_grid.matches("<figure ").count() as u64,
        u(&one["photos"]) + one["videos"].as_u64().unwrap_or(0)
    );
    assert!(one_grid.contains(&format!("/snapshot/{snapshot}/raw/CameraRollDomain/Media/")));

    // Messages: the list counts the export's conversations; a thread its chat's messages.
    let cli_messages = w.path("cli-messages");
    let m = w.json(
        &["export", "messages", &snapshot, "--out", s(&cli_messages)],
        0,
    );
    let list = ui.page(&format!("/messages?snapshot={snapshot}"));
    let chats = attrs(&list, "data-chat");
    assert_eq!(chats.len() as u64, u(&m["conversations"]), "{m:#}");
    assert!(!chats.is_empty());
    let db = device_sms_db(&device.folder, &w.path("sql"));
    for chat in &chats {
        let sql = format!(
            "SELECT count(*) FROM chat_message_join j JOIN message m ON m.ROWID = j.message_id \
             WHERE j.chat_id = {chat} AND {NOT_REACTION}"
        );
        let expected = sql_count(&db, &sql);
        let thread = ui.page(&format!("/messages/{snapshot}/{chat}"));
        assert_eq!(data_count(&thread, "thread-count"), expected, "chat {chat}");
        let shown = thread.matches("class=\"msg").count() as u64;
        assert_eq!(shown, expected.min(500), "chat {chat}");
    }
    assert_eq!(ui.get(&format!("/messages/{snapshot}/999999")).status, 404);

    // Exports started from the pages write what `hearth export` writes.
    let export = [("kind", "photos"), ("scope", "household")];
    let status = ui.post("/jobs/start/export", &export).status;
    assert_eq!(status, 403, "a POST without the CSRF token is refused");
    let wrong = [("kind", "photos"), ("scope", "household"), ("csrf", "0000")];
    let status = ui.post("/jobs/start/export", &wrong).status;
    assert_eq!(status, 403, "a POST with a wrong CSRF token is refused");
    assert!(!library.exists(), "nothing was written");

    let job = ui.wait_job(ui.start_job("export", &[("kind", "messages"), ("snapshot", &snapshot)]));
    assert!(job.to_string().contains("\"finished\""), "{job:#}");
    assert!(
        job.to_string().contains(s(&library.join("messages"))),
        "the summary names the folder: {job:#}"
    );
    assert_eq!(tree(&library.join("messages")), tree(&cli_messages));

    let job = ui.wait_job(ui.start_job("export", &export));
    assert!(job.to_string().contains("\"finished\""), "{job:#}");
    let names = |d: &Path| tree(d).into_keys().collect::<Vec<_>>();
    assert_eq!(names(&library.join("photos")), names(&cli_photos));
    let got = tree(&library.join("photos"));
    for (rel, bytes) in tree(&cli_photos) {
        if !rel.ends_with(".json") && !rel.ends_with(".csv") {
            assert!(got[&rel] == bytes, "{rel} differs");
        }
    }
}
