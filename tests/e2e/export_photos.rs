//! `hearth export photos` through the real binary: real Photos.sqlite libraries (iOS 14.3
//! `ZASSET`, iOS 13.4.1 `ZGENERICASSET`) with real iPhone HEIC/JPEG files and counts checked
//! against plain SQL; a generated household of two devices sharing photos, one encrypted, over
//! two nights, each photo exported once and only once; damage costing only the photo it hits.
//! Dates are checked with exiftool and the manifests with Python's csv and json
//! (tests/python/verify_export_photos.py).

use crate::common;
use crate::handmade::{self, HandDevice};

use common::ios_databases::{fixture, sql_copy};
use common::{World, describe, s, u};
use hearth_mobilesync::MbFile;
use hearth_testkit::third_party::python;
use hearth_testkit::{DayOptions, HouseholdSpec, generate_with_twin, next_day};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

const IOS_PASSWORD: &str = "photos once and only once";
const APPLE_EPOCH: i64 = 978_307_200;
/// The files' time in a handmade device's Manifest.db rows (2023-11-14T22:13:20Z).
const HANDMADE_MTIME: i64 = 1_700_000_000;

/// `hearth --json export photos ARGS --out OUT` in UTC, asserting `status`.
fn export(w: &World, args: &[&str], out: &Path, status: i32) -> Value {
    let mut all = vec!["--json", "export", "photos"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", s(out)]);
    let run = w.cmd(&all).env("TZ", "UTC").output().unwrap();
    assert_eq!(run.status.code(), Some(status), "{}", describe(&run));
    serde_json::from_slice(&run.stdout).unwrap()
}

/// What tests/python/verify_export_photos.py says of `out`; it must find no problem.
fn verify(out: &Path) -> Value {
    let python = python().expect("the Python readers are required");
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/verify_export_photos.py");
    let run = std::process::Command::new(python)
        .arg(&script)
        .arg(out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", describe(&run));
    let v: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(v["problems"], Value::Array(vec![]), "{v:#}");
    assert_eq!(v["rows"], v["files"], "{v:#}");
    v
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Every exported file (manifests and state aside) by path relative to `out`.
fn exported(out: &Path) -> BTreeMap<String, PathBuf> {
    handmade::all_paths(out)
        .into_iter()
        .map(|p| (p.to_string_lossy().into_owned(), out.join(&p)))
        .filter(|(rel, p)| {
            p.is_file()
                && !["photos.csv", "photos.json", ".hearth-export-photos.json"]
                    .contains(&rel.as_str())
        })
        .collect()
}

fn manifest(out: &Path) -> Vec<Value> {
    let v: Value =
        serde_json::from_slice(&std::fs::read(out.join("photos.json")).unwrap()).unwrap();
    v["items"].as_array().unwrap().clone()
}

fn mtime(p: &Path) -> i64 {
    let t = std::fs::metadata(p).unwrap().modified().unwrap();
    t.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// One Photos.sqlite asset row.
struct Row {
    pk: i64,
    dir: String,
    file: String,
    kind: i64,
    subtype: i64,
    trashed: bool,
    /// Unix seconds (whole) and the capture's offset.
    date: i64,
    offset: Option<i64>,
    original: Option<String>,
}

fn rows(db: &Path, table: &str) -> Vec<Row> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let sql = format!(
        "SELECT z.Z_PK, z.ZDIRECTORY, z.ZFILENAME, z.ZKIND, z.ZKINDSUBTYPE, z.ZTRASHEDSTATE,
           z.ZDATECREATED, a.ZTIMEZONEOFFSET, a.ZORIGINALFILENAME
         FROM {table} z LEFT JOIN ZADDITIONALASSETATTRIBUTES a ON a.Z_PK = z.ZADDITIONALATTRIBUTES
         ORDER BY z.Z_PK"
    );
    let mut q = conn.prepare(&sql).unwrap();
    q.query_map([], |r| {
        Ok(Row {
            pk: r.get(0)?,
            dir: r.get(1)?,
            file: r.get(2)?,
            kind: r.get(3)?,
            subtype: r.get(4)?,
            trashed: r.get::<_, i64>(5)? != 0,
            date: r.get::<_, f64>(6)?.floor() as i64 + APPLE_EPOCH,
            offset: r.get(7)?,
            original: r.get(8)?,
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// A row the exporter reads: in the camera roll or iCloud's originals.
fn exported_place(r: &Row) -> bool {
    r.dir.starts_with("DCIM/") || r.dir.starts_with("PhotoData/CPLAssets/")
}

/// `YYYY/MM` and RFC 3339 of `secs` at `offset` seconds from UTC.
fn wall(secs: i64, offset: i64) -> (String, String) {
    let t = jiff::Timestamp::from_second(secs).unwrap();
    let o = jiff::tz::Offset::from_seconds(offset as i32).unwrap();
    let z = t.to_zoned(jiff::tz::TimeZone::fixed(o));
    let date = match offset {
        0 => z.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
        _ => z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
    };
    (z.strftime("%Y/%m").to_string(), date)
}

/// A device of one real Photos.sqlite (with its WAL) and a file at the place of each of its
/// asset rows: `real` ones (row Z_PK → bytes) for some, small distinct bytes for the others;
/// plus `extra` files no row describes; plus a `.MOV` beside each Live Photo row and an edited
/// version of `edited` (a Z_PK). Returns the folder and the rows.
struct RealDevice {
    rows: Vec<Row>,
}

#[allow(clippy::too_many_arguments)]
fn real_device(
    parent: &Path,
    udid: &str,
    name: &str,
    image: &str,
    table: &str,
    real: &BTreeMap<i64, Vec<u8>>,
    extra: &[(&str, Vec<u8>)],
    edited: i64,
    scratch: &Path,
) -> RealDevice {
    let db = fixture(&format!("{image}/Media/PhotoData/Photos.sqlite"));
    let copy = sql_copy(&db, scratch, true);
    let rows = rows(&copy, table);
    let mut d = HandDevice::new(parent, udid, name);
    let camera = "CameraRollDomain";
    d.file(
        camera,
        "Media/PhotoData/Photos.sqlite",
        &std::fs::read(&db).unwrap(),
    );
    d.file(
        camera,
        "Media/PhotoData/Photos.sqlite-wal",
        &std::fs::read(db.with_file_name("Photos.sqlite-wal")).unwrap(),
    );
    for r in &rows {
        let bytes = real
            .get(&r.pk)
            .cloned()
            .unwrap_or_else(|| format!("{udid} asset {} {}", r.pk, "x".repeat(900)).into_bytes());
        let path = format!("Media/{}/{}", r.dir, r.file);
        d.file(camera, &path, &bytes);
        let stem = r.file.rsplit_once('.').unwrap().0;
        if r.subtype == 2 {
            let video = format!("{udid} live video {}", r.pk).into_bytes();
            d.file(camera, &format!("Media/{}/{stem}.MOV", r.dir), &video);
        }
        if r.pk == edited {
            let render = format!("{udid} edited {}", r.pk).into_bytes();
            let at = format!(
                "Media/PhotoData/Mutations/{}/{stem}/Adjustments/FullSizeRender.jpg",
                r.dir
            );
            d.file(camera, &at, &render);
        }
    }
    // Derivatives the export must leave alone.
    d.file(
        camera,
        "Media/PhotoData/Thumbnails/V2/DCIM/100APPLE/IMG_0001.JPG/5005.JPG",
        b"thumb",
    );
    d.file(camera, "Media/DCIM/100APPLE/IMG_0001.AAE", b"<plist/>");
    for (path, bytes) in extra {
        d.file(camera, path, bytes);
    }
    d.finish();
    RealDevice { rows }
}

#[test]
fn real_libraries_date_and_name_every_photo_as_photos_sqlite_and_exif_say() {
    let w = World::with_repo();
    let backup = w.path("Backup");
    let media = "ios-databases/exif-samples-iphone-media/IMG_5195.HEIC";
    let heic = std::fs::read(fixture(media)).unwrap();
    let jpeg = std::fs::read(fixture(
        "ios-databases-extra/exif-samples-iphone-media/iphone_hdr_NO.jpg",
    ))
    .unwrap();
    let heic13 = std::fs::read(fixture(
        "ios-databases-extra/exif-samples-iphone-media/iphone_13_pro_max.HEIC",
    ))
    .unwrap();
    let bare = b"\x89PNG\r\n\x1a\n no metadata at all".to_vec();

    // iOS 14.3: the real HEIC at a DCIM row, so Photos.sqlite's date wins over its EXIF.
    let probe = sql_copy(
        &fixture("ios-databases/hickman-ios14.3-iphonese/Media/PhotoData/Photos.sqlite"),
        &w.path("probe"),
        true,
    );
    let first_dcim_photo = rows(&probe, "ZASSET")
        .into_iter()
        .find(|r| r.dir == "DCIM/100APPLE" && r.kind == 0 && !r.trashed)
        .unwrap();
    let real14 = BTreeMap::from([(first_dcim_photo.pk, heic.clone())]);
    let d14 = real_device(
        &backup,
        "A14A14A14A14A14A14A14A14A14A14A14A14A14A",
        "Hickman iPhone (iOS 14)",
        "ios-databases/hickman-ios14.3-iphonese",
        "ZASSET",
        &real14,
        &[
            ("Media/DCIM/100APPLE/IMG_9001.JPG", jpeg.clone()),
            ("Media/DCIM/100APPLE/IMG_9002.PNG", bare.clone()),
        ],
        first_dcim_photo.pk,
        &w.path("sql14"),
    );
    let d13 = real_device(
        &backup,
        "B13B13B13B13B13B13B13B13B13B13B13B13B13B",
        "Hickman iPhone (iOS 13)",
        "ios-databases-extra/hickman-ios13.4.1-iphonese",
        "ZGENERICASSET",
        &BTreeMap::new(),
        &[("Media/DCIM/100APPLE/IMG_9101.HEIC", heic13.clone())],
        -1,
        &w.path("sql13"),
    );
    w.ok(&["backup", s(&backup)]);
    let out = w.path("Pictures");
    let j = export(&w, &[], &out, 0);

    // Counts are plain SQL counts of the libraries, plus the files no row describes.
    let all: Vec<&Row> = d14.rows.iter().chain(&d13.rows).collect();
    let count =
        |f: &dyn Fn(&Row) -> bool| all.iter().filter(|r| exported_place(r) && f(r)).count() as u64;
    let photos = count(&|r| r.kind == 0 && !r.trashed);
    let videos = count(&|r| r.kind == 1 && !r.trashed);
    let live = count(&|r| r.kind == 0 && r.subtype == 2 && !r.trashed);
    let trashed = count(&|r| r.trashed);
    assert!(
        photos > 150 && videos == 6 && live == 2 && trashed == 8,
        "{photos} {videos} {live} {trashed}"
    );
    assert_eq!(u(&j["photos"]), photos + 3, "{j:#}");
    assert_eq!(u(&j["videos"]), videos, "{j:#}");
    assert_eq!(u(&j["live_photos"]), live, "{j:#}");
    assert_eq!(u(&j["edited"]), 1, "{j:#}");
    assert_eq!(u(&j["recently_deleted"]), trashed, "{j:#}");
    assert_eq!(j["warnings"], Value::Array(vec![]), "{j:#}");
    let files = exported(&out);
    assert_eq!(files.len() as u64, photos + 3 + videos + live + 1);

    // Each row's file: its original name, its Photos.sqlite date as folder and mtime.
    let items = manifest(&out);
    let by_path: BTreeMap<(String, String), &Value> = items
        .iter()
        .map(|i| {
            (
                (
                    i["udid"].as_str().unwrap().to_string(),
                    i["path"].as_str().unwrap().to_string(),
                ),
                i,
            )
        })
        .collect();
    let mut checked = 0;
    for (udid, dev) in [
        ("A14A14A14A14A14A14A14A14A14A14A14A14A14A", &d14),
        ("B13B13B13B13B13B13B13B13B13B13B13B13B13B", &d13),
    ] {
        for r in dev.rows.iter().filter(|r| exported_place(r)) {
            let item = by_path.get(&(udid.to_string(), format!("Media/{}/{}", r.dir, r.file)));
            let Some(item) = item else {
                assert!(r.trashed, "row {} of {udid} exported", r.pk);
                continue;
            };
            assert!(!r.trashed, "trashed row {} exported", r.pk);
            let (folder, date) = wall(r.date, r.offset.unwrap());
            let rel = item["out"].as_str().unwrap();
            assert_eq!(item["date_source"], "photos-db");
            assert_eq!(item["date"], date.as_str(), "row {}", r.pk);
            assert!(rel.starts_with(&format!("{folder}/")), "{rel} for {date}");
            assert_eq!(mtime(&files[rel]), r.date, "{rel}");
            let name = rel.rsplit('/').next().unwrap();
            let want = r.original.clone().unwrap_or_else(|| r.file.clone());
            let (stem, ext) = want.rsplit_once('.').unwrap();
            assert!(
                name == want
                    || (name.starts_with(&format!("{stem} ("))
                        && name.ends_with(&format!(".{ext}"))),
                "{name} for original name {want}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, photos + videos);
    // The real HEIC is dated by the library, not its EXIF (2021-04-11 15:47:53 -05:00).
    let real = &by_path[&(
        "A14A14A14A14A14A14A14A14A14A14A14A14A14A".to_string(),
        format!("Media/DCIM/100APPLE/{}", first_dcim_photo.file),
    )];
    let real_out = real["out"].as_str().unwrap();
    assert_eq!(
        std::fs::read(&files[real_out]).unwrap(),
        heic,
        "byte for byte"
    );
    let edited = items.iter().find(|i| i["kind"] == "edited").unwrap();
    let (stem, _) = real_out.rsplit_once('.').unwrap();
    assert_eq!(edited["out"], format!("{stem} (edited).jpg").as_str());
    assert_eq!(edited["pair"], real_out);
    // The files no row describes: EXIF dates, and the file time for the one without metadata.
    let source = |p: &str| -> &Value { items.iter().find(|i| i["path"] == p).unwrap() };
    let jpg = source("Media/DCIM/100APPLE/IMG_9001.JPG");
    assert_eq!(jpg["date_source"], "exif");
    assert_eq!(
        std::fs::read(&files[jpg["out"].as_str().unwrap()]).unwrap(),
        jpeg
    );
    let h13 = source("Media/DCIM/100APPLE/IMG_9101.HEIC");
    assert_eq!(h13["date_source"], "exif");
    let png = source("Media/DCIM/100APPLE/IMG_9002.PNG");
    assert_eq!(png["date_source"], "file-time");
    assert_eq!(png["out"], "2023/11/IMG_9002.PNG");
    assert_eq!(mtime(&out.join("2023/11/IMG_9002.PNG")), HANDMADE_MTIME);
    assert!(
        !files
            .keys()
            .any(|k| k.contains("5005") || k.ends_with(".AAE")),
        "no derivatives"
    );

    let v = verify(&out);
    assert_eq!(
        v["exif_dated_checked"], 2,
        "exiftool agrees with both EXIF-dated files: {v:#}"
    );
    assert_eq!(v["live_pairs"], live, "{v:#}");
    let differs = v["exif_differs"].as_array().unwrap();
    assert_eq!(
        differs.len(),
        1,
        "only the real HEIC has an EXIF date Photos.sqlite overrides: {v:#}"
    );
    assert_eq!(differs[0][0], real_out);
    assert_eq!(differs[0][1], "2021:04:11 15:47:53 -05:00");

    // A second run finds everything exported.
    let again = export(&w, &[], &out, 0);
    assert_eq!(again.get("photos"), None, "{again:#}");
    assert_eq!(
        u(&again["already_exported"]),
        files.len() as u64,
        "{again:#}"
    );
    assert_eq!(exported(&out).len(), files.len());
}

/// Content digests of the photos a plaintext device folder holds, as an export should write
/// them: DCIM originals and Live Photo videos, edited versions, less "Recently Deleted".
fn expected_contents(folder: &Path, scratch: &Path) -> BTreeSet<String> {
    let uri = format!("file:{}?immutable=1", folder.join("Manifest.db").display());
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI;
    let db = rusqlite::Connection::open_with_flags(uri, flags).unwrap();
    let mut q = db
        .prepare("SELECT fileID, relativePath, file FROM Files WHERE domain = 'CameraRollDomain' AND flags = 1")
        .unwrap();
    let files: BTreeMap<String, PathBuf> = q
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .map(|(id, rel, file)| {
            let _ = MbFile::decode(&file).unwrap();
            (rel, folder.join(&id[..2]).join(&id))
        })
        .collect();
    let photos_db = &files["Media/PhotoData/Photos.sqlite"];
    std::fs::create_dir_all(scratch).unwrap();
    let copy = scratch.join("Photos.sqlite");
    std::fs::copy(photos_db, &copy).unwrap();
    let trashed: BTreeSet<String> = rows(&copy, "ZASSET")
        .into_iter()
        .filter(|r| r.trashed)
        .map(|r| r.file.rsplit_once('.').unwrap().0.to_string())
        .collect();
    assert!(!trashed.is_empty(), "the kit trashes some photos");
    files
        .iter()
        .filter(|(rel, _)| {
            let stem = rel.rsplit('/').next().unwrap().split('.').next().unwrap();
            let original = rel.starts_with("Media/DCIM/");
            let render =
                rel.starts_with("Media/PhotoData/Mutations/") && rel.contains("/FullSizeRender.");
            let owner = match render {
                true => rel.split('/').nth_back(2).unwrap(),
                false => stem,
            };
            (original || render) && !trashed.contains(owner)
        })
        .map(|(_, blob)| sha(&std::fs::read(blob).unwrap()))
        .collect()
}

fn contents(out: &Path) -> BTreeMap<String, String> {
    exported(out)
        .into_iter()
        .map(|(rel, p)| (rel, sha(&std::fs::read(p).unwrap())))
        .collect()
}

#[test]
fn a_household_exports_each_photo_once_across_devices_snapshots_and_runs() {
    let w = World::with_repo();
    let mut spec = HouseholdSpec::tiny_mixed(IOS_PASSWORD);
    for d in &mut spec.devices {
        d.extras.live_photos_and_edits = true;
        d.photos = 16;
    }
    let (household, twin) = generate_with_twin(&spec, &w.path("gen")).unwrap();
    assert!(household.devices[0].encrypted && !household.devices[1].encrypted);
    let backup = |w: &World| {
        let run = w
            .cmd(&["backup", s(&household.root)])
            .env("HEARTH_IOS_PASSWORD", IOS_PASSWORD)
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(0), "{}", describe(&run));
    };
    backup(&w);
    let expected = |tag: &str| -> BTreeSet<String> {
        (twin.devices.iter().enumerate())
            .flat_map(|(i, d)| expected_contents(&d.folder, &w.path(&format!("sql-{tag}-{i}"))))
            .collect()
    };
    let first = expected("1");
    let per_device: Vec<BTreeSet<String>> = (twin.devices.iter().enumerate())
        .map(|(i, d)| expected_contents(&d.folder, &w.path(&format!("sql-d-{i}"))))
        .collect();
    assert!(
        !per_device[0].is_disjoint(&per_device[1]),
        "the devices share photos"
    );

    let out = w.path("Household");
    let j = export(&w, &["--all"], &out, 0);
    let got = contents(&out);
    let distinct: BTreeSet<String> = got.values().cloned().collect();
    assert_eq!(distinct, first, "every photo of both devices, by content");
    assert_eq!(got.len(), first.len(), "each exactly once");
    let written = u(&j["photos"])
        + j["videos"].as_u64().unwrap_or(0)
        + u(&j["live_photos"])
        + u(&j["edited"]);
    assert_eq!(written, first.len() as u64, "{j:#}");
    assert!(
        u(&j["duplicates"]) > 0 && u(&j["recently_deleted"]) > 0,
        "{j:#}"
    );
    assert!(u(&j["live_photos"]) > 0 && u(&j["edited"]) > 0, "{j:#}");
    let v = verify(&out);
    assert_eq!(v["live_pairs"], j["live_photos"], "{v:#}");
    assert!(
        u(&v["exif_agree"]) > 0,
        "exiftool reads the kit's JPEG dates: {v:#}"
    );
    assert_eq!(
        v["exif_differs"],
        Value::Array(vec![]),
        "Photos.sqlite and EXIF agree: {v:#}"
    );

    // A second run writes nothing.
    let again = export(&w, &["--all"], &out, 0);
    assert_eq!(again.get("photos"), None, "{again:#}");
    assert_eq!(contents(&out), got);

    // A night later (both the household and its plaintext twin): only the new photos.
    let options = DayOptions::default();
    next_day(&household, 1, &options).unwrap();
    next_day(&twin, 1, &options).unwrap();
    backup(&w);
    let second = expected("2");
    let new: BTreeSet<String> = second.difference(&first).cloned().collect();
    assert!(!new.is_empty(), "the night took photos");
    let night = export(&w, &["--all"], &out, 0);
    let after = contents(&out);
    let added: BTreeSet<String> = after
        .iter()
        .filter(|(rel, _)| !got.contains_key(*rel))
        .map(|(_, h)| h.clone())
        .collect();
    assert_eq!(added, new, "{night:#}");
    assert_eq!(after.len(), got.len() + new.len());
    assert_eq!(u(&night["photos"]), new.len() as u64, "{night:#}");
    verify(&out);
}

/// Flips a byte of `pack` at the first tenth of it that `check --read-data` says damages only
/// `file` (as tests/e2e/browse.rs does).
fn flip_inside(w: &World, pack: &Path, file: &str) {
    let len = std::fs::metadata(pack).unwrap().len() as usize;
    let flip = |at: usize| {
        let mut bytes = std::fs::read(pack).unwrap();
        bytes[at] ^= 0x20;
        std::fs::write(pack, bytes).unwrap();
    };
    for tenth in 1..10 {
        let at = len * tenth / 10;
        flip(at);
        let mut probe = w.cmd(&["--json", "check", "--read-data"]);
        probe.env("HEARTH_CACHE_DIR", w.path(&format!("probe-{tenth}")));
        let j: Value = serde_json::from_slice(&probe.output().unwrap().stdout).unwrap();
        let affected: Vec<&str> = (j["damage"].as_array().unwrap().iter())
            .flat_map(|d| d["affected"].as_array().unwrap())
            .map(|a| a.as_str().unwrap())
            .collect();
        if !affected.is_empty() && affected.iter().all(|a| a.contains(file)) {
            return;
        }
        flip(at);
    }
    panic!("no tenth of {} lies inside {file}", pack.display());
}

#[test]
fn damage_costs_only_the_photo_it_is_in_and_the_next_run_tries_it_again() {
    let w = World::with_repo();
    let udid = "DA4A6ED0DA4A6ED0DA4A6ED0DA4A6ED0DA4A6ED0";
    let video = "Media/DCIM/100APPLE/IMG_0001.MOV";
    let photo = hearth_testkit::bytes::noise(8, 40_000);
    let mut d = HandDevice::new(&w.path("Backup"), udid, "Dented iPhone");
    d.file(
        "CameraRollDomain",
        video,
        &hearth_testkit::bytes::noise(5, 2_000_000),
    )
    .file(
        "CameraRollDomain",
        "Media/DCIM/100APPLE/IMG_0002.JPG",
        &photo,
    );
    d.finish();
    w.ok(&["backup", s(&w.path("Backup"))]);
    let packs: Vec<PathBuf> = handmade::all_paths(&w.repo().join("packs"))
        .into_iter()
        .map(|p| w.repo().join("packs").join(p))
        .filter(|p| {
            p.is_file() && common::is_object_name(&p.file_name().unwrap().to_string_lossy())
        })
        .collect();
    let [pack] = packs.try_into().expect("one pack");
    flip_inside(&w, &pack, video);

    let out = w.path("out");
    let j = export(&w, &[], &out, 3);
    assert_eq!(u(&j["photos"]), 1, "{j:#}");
    assert_eq!(j.get("videos"), None, "{j:#}");
    let warnings = j["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{j:#}");
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .contains(&format!("CameraRollDomain/{video}")),
        "{j:#}"
    );
    let files = exported(&out);
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        vec!["2023/11/IMG_0002.JPG"]
    );
    assert_eq!(
        std::fs::read(&files["2023/11/IMG_0002.JPG"]).unwrap(),
        photo
    );
    // The damaged video is not recorded: the next run tries it again, and only it.
    let again = export(&w, &[], &out, 3);
    assert_eq!(u(&again["already_exported"]), 1, "{again:#}");
    assert_eq!(again["warnings"].as_array().unwrap().len(), 1, "{again:#}");
    assert_eq!(exported(&out).len(), 1);
    assert_eq!(manifest(&out).len(), 1);
}

/// Whether `out` holds a whole video (a visible file) and another one being written (a hidden
/// file with bytes in it): the moment to kill an export to see both kinds of file left.
fn one_written_and_one_writing(out: &Path) -> bool {
    let files: Vec<(bool, u64)> = match out.is_dir() {
        false => Vec::new(),
        true => handmade::all_paths(out)
            .iter()
            .filter(|p| {
                p.extension()
                    .is_some_and(|e| e == "MOV" || e == "hearth-partial")
            })
            .filter_map(|p| {
                let hidden = p.file_name()?.to_str()?.starts_with('.');
                Some((hidden, std::fs::metadata(out.join(p)).ok()?.len()))
            })
            .collect(),
    };
    files.iter().any(|&(hidden, _)| !hidden) && files.iter().any(|&(hidden, n)| hidden && n > 0)
}

#[test]
fn a_killed_export_leaves_no_partial_photo_and_the_next_run_finishes_it() {
    let w = World::with_repo();
    let mut device = HandDevice::new(&w.path("devices"), "00008030-0000000000000077", "Videos");
    let mut want = BTreeSet::new();
    for i in 0..4u64 {
        let bytes = hearth_testkit::bytes::noise(i, 12 << 20);
        want.insert(sha(&bytes));
        let path = format!("Media/DCIM/100APPLE/IMG_{:04}.MOV", i + 1);
        device.file("CameraRollDomain", &path, &bytes);
    }
    let folder = device.finish();
    w.ok(&["backup", s(&folder)]);

    // Killed (SIGKILL, as a crash) once a video is whole and the next one is being written.
    let out = w.path("photos");
    let mut first = common::procs::Proc::run(&w, "export", &["export", "photos", "--out", s(&out)]);
    let start = std::time::Instant::now();
    while !one_written_and_one_writing(&out) {
        assert!(
            first.running(),
            "the export ended before it could be killed"
        );
        assert!(start.elapsed().as_secs() < 60, "no byte written in 60 s");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    first.kill();
    first.wait();
    for (rel, path) in exported(&out) {
        if rel.rsplit('/').next().unwrap().starts_with('.') {
            continue; // the hidden file the killed run was writing
        }
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            want.contains(&sha(&bytes)),
            "{rel}: a partial photo in the folder"
        );
    }

    // The next run writes what the killed one did not, each video once and whole: the one the
    // killed run finished is not written again (its journal line says it was exported).
    let report = export(&w, &[], &out, 0);
    let got: Vec<String> = exported(&out)
        .values()
        .map(|p| sha(&std::fs::read(p).unwrap()))
        .collect();
    assert_eq!(
        got.iter().cloned().collect::<BTreeSet<_>>(),
        want,
        "every video whole, nothing else: {report:#}"
    );
    assert_eq!(
        got.len(),
        want.len(),
        "each once (and no partial left): {report:#}"
    );
    verify(&out);
}
