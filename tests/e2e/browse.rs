//! Getting single files and folders back, through the real binary: `dump` of one file (by
//! path or file id) and of a folder as tar and zip (read back by GNU tar and Python's
//! zipfile), `restore --files` with `--include`/`--exclude` as a plain tree with the device's
//! mtimes, an encrypted backup given back as plaintext, and hostile paths kept inside `--out`.

use crate::common;
use crate::handmade;

use common::{World, describe, mvt_fixture, s};
use hearth_mobilesync::{FileId, MbFile};
use hearth_testkit::{HouseholdSpec, generate_with_twin};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::UNIX_EPOCH;

const IOS_PASSWORD: &str = "dump and restore --files";

/// A device's files as its Manifest.db (read with plain SQL) lists them: `Domain/relative
/// path` → (the blob in the folder, the MBFile's LastModified).
fn manifest_files(device: &Path) -> BTreeMap<String, (PathBuf, Option<i64>)> {
    // Read-only and immutable: the fixtures are shared, and a reader that writes `-shm` beside
    // them makes a backup running at the same time see a folder still being written.
    let uri = format!("file:{}?immutable=1", device.join("Manifest.db").display());
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI;
    let db = rusqlite::Connection::open_with_flags(uri, flags).expect("open Manifest.db");
    let mut q = db
        .prepare("SELECT fileID, domain, relativePath, file FROM Files WHERE flags = 1")
        .unwrap();
    let rows = q
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Vec<u8>>(3)?,
            ))
        })
        .unwrap();
    rows.map(|r| {
        let (id, domain, rel, file) = r.unwrap();
        let mtime = MbFile::decode(&file).ok().and_then(|f| f.last_modified);
        let blob = device.join(&id[..2]).join(&id);
        (format!("{domain}/{rel}"), (blob, mtime))
    })
    .filter(|(_, (blob, _))| blob.is_file())
    .collect()
}

/// Every file under `dir`, by path relative to it.
fn files_under(dir: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            match e.file_type().unwrap().is_dir() {
                true => stack.push(p),
                false => {
                    let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                    out.insert(rel, p);
                }
            }
        }
    }
    out
}

fn mtime_secs(p: &Path) -> i64 {
    let t = std::fs::metadata(p).unwrap().modified().unwrap();
    t.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn backup_encrypted(w: &World, folder: &Path) {
    let out = w
        .cmd(&["backup", s(folder)])
        .env("HEARTH_IOS_PASSWORD", IOS_PASSWORD)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

/// Backs up the mvt fixture: a partial backup, so a snapshot with warnings (exit 3).
fn backup_fixture(w: &World, fixture: &Path) {
    let out = w.run(&["backup", s(fixture)]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
}

#[test]
fn restore_files_gives_an_encrypted_backup_back_as_a_plain_tree_with_the_devices_mtimes() {
    let w = World::with_repo();
    let spec = HouseholdSpec::tiny_mixed(IOS_PASSWORD);
    let (household, twin) = generate_with_twin(&spec, &w.path("gen")).unwrap();
    backup_encrypted(&w, &household.root);
    for (device, plain) in household.devices.iter().zip(&twin.devices) {
        let expected = manifest_files(&plain.folder);
        assert!(expected.len() > 20, "the device has files to check");
        let out = w.path(&format!("files-{}", device.udid));
        let report = w.json(
            &[
                "restore",
                &format!("{}@latest", device.udid),
                "--files",
                "--out",
                s(&out),
            ],
            0,
        );
        let written = files_under(&out);
        assert_eq!(common::u(&report["files"]), written.len() as u64);
        for (path, (blob, mtime)) in &expected {
            let got = written
                .get(path)
                .unwrap_or_else(|| panic!("{path} of {} not restored", device.name));
            assert!(
                std::fs::read(got).unwrap() == std::fs::read(blob).unwrap(),
                "{path} of {} is not the plaintext",
                device.name
            );
            if let Some(mtime) = mtime {
                assert_eq!(mtime_secs(got), *mtime, "{path}: the device's mtime");
            }
        }
        // Besides the device's files: only the backup folder's own files, at its top.
        for path in written.keys().filter(|p| !expected.contains_key(*p)) {
            assert!(
                !path.contains('/') && device.folder.join(path).is_file(),
                "{path} is neither a device file nor a file of the backup folder"
            );
        }
        // An encrypted backup's Manifest.db comes back as plaintext SQLite.
        let db = rusqlite::Connection::open(out.join("Manifest.db")).unwrap();
        let rows: i64 = db
            .query_row("SELECT COUNT(*) FROM Files", [], |r| r.get(0))
            .expect("the restored Manifest.db is plaintext SQLite");
        assert!(rows as usize >= expected.len());
    }

    // --include and --exclude: only the photos but not the videos, nothing else.
    let mum = &household.devices[0];
    let out = w.path("photos");
    w.ok(&[
        "restore",
        &format!("{}@latest", mum.name),
        "--files",
        "--include",
        "CameraRollDomain/Media/DCIM/**",
        "--exclude",
        "*.MOV",
        "--out",
        s(&out),
    ]);
    let photos = files_under(&out);
    let expected: Vec<String> = manifest_files(&twin.devices[0].folder)
        .into_keys()
        .filter(|p| p.starts_with("CameraRollDomain/Media/DCIM/") && !p.ends_with(".MOV"))
        .collect();
    assert!(!expected.is_empty(), "the household has photos");
    assert_eq!(photos.into_keys().collect::<Vec<_>>(), expected);
    // Run again: everything is already there, nothing is overwritten.
    let again = w.json(
        &[
            "restore",
            &format!("{}@latest", mum.name),
            "--files",
            "--include",
            "CameraRollDomain/Media/DCIM/**",
            "--exclude",
            "*.MOV",
            "--out",
            s(&out),
        ],
        0,
    );
    assert_eq!(common::u(&again["files"]), 0);
    assert_eq!(common::u(&again["already"]), expected.len() as u64);
}

#[test]
fn dump_gives_one_file_by_path_or_file_id_and_names_the_closest_paths_when_missing() {
    let Some(fixture) = mvt_fixture() else { return };
    let w = World::with_repo();
    backup_fixture(&w, &fixture);
    let snapshot = "1CB128EAFA77C5BE74283E9A3A2130AF36A3C059@latest";
    let sms = "HomeDomain/Library/SMS/sms.db";
    let id = FileId::for_path("HomeDomain", "Library/SMS/sms.db");
    let source = std::fs::read(fixture.join(id.blob_path())).unwrap();

    let by_path = w.cmd(&["dump", snapshot, sms]).output().unwrap();
    assert_eq!(by_path.status.code(), Some(0), "{}", describe(&by_path));
    assert!(
        by_path.stdout == source,
        "dump by path gives the file's bytes"
    );
    let out = w.path("sms.db");
    let report = w.json(&["dump", snapshot, id.as_str(), "--out", s(&out)], 0);
    assert!(std::fs::read(&out).unwrap() == source, "dump by file id");
    assert_eq!(report["path"], sms);
    assert_eq!(common::u(&report["bytes"]), source.len() as u64);
    // The backup folder's own files, by their folder path.
    let info = w.cmd(&["dump", snapshot, "Info.plist"]).output().unwrap();
    assert!(info.stdout == std::fs::read(fixture.join("Info.plist")).unwrap());

    let missing = w.run(&["dump", snapshot, "HomeDomain/Library/SMS/smsdb"]);
    assert_ne!(missing.status.code(), Some(0));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.contains("HomeDomain/Library/SMS/smsdb") && err.contains(sms),
        "the error names the path and the closest one:\n{err}"
    );
    // A folder without --archive is a tar stream; a terminal never gets binary bytes.
    let folder = w
        .cmd(&["dump", snapshot, "HomeDomain/Library/SMS"])
        .output()
        .unwrap();
    assert_eq!(folder.status.code(), Some(0), "{}", describe(&folder));
    assert_eq!(&folder.stdout[257..262], b"ustar", "a tar stream");
}

#[test]
fn dump_a_folder_as_tar_and_zip_that_tar_and_python_read_back() {
    let Some(fixture) = mvt_fixture() else { return };
    let w = World::with_repo();
    backup_fixture(&w, &fixture);
    let snapshot = "1CB128EAFA77C5BE74283E9A3A2130AF36A3C059@latest";
    let expected: BTreeMap<String, (PathBuf, Option<i64>)> = manifest_files(&fixture)
        .into_iter()
        .filter(|(p, _)| p.starts_with("HomeDomain/"))
        .collect();
    assert!(expected.len() >= 3, "HomeDomain holds files: {expected:?}");

    let tar = w.path("home.tar");
    let report = w.json(&["dump", snapshot, "HomeDomain", "--out", s(&tar)], 0);
    assert_eq!(common::u(&report["files"]), expected.len() as u64);
    let untar = w.path("untar");
    std::fs::create_dir(&untar).unwrap();
    let st = Command::new("tar")
        .args(["-xf", s(&tar), "-C", s(&untar)])
        .status()
        .unwrap();
    assert!(st.success(), "GNU tar reads the archive");
    check_tree(&untar, &expected, true);

    let zip = w.path("home.zip");
    w.ok(&[
        "dump",
        snapshot,
        "HomeDomain",
        "--archive",
        "zip",
        "--out",
        s(&zip),
    ]);
    let python = hearth_testkit::third_party::python().expect("python");
    let unzip = w.path("unzip");
    let st = Command::new(python)
        .args([
            "-c",
            "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nz.extractall(sys.argv[2])",
            s(&zip),
            s(&unzip),
        ])
        .status()
        .unwrap();
    assert!(
        st.success(),
        "Python's zipfile reads the archive and its CRCs"
    );
    // zipfile does not restore mtimes; the bytes are what matters there.
    check_tree(&unzip, &expected, false);
}

/// `dir` holds exactly `expected`'s files with their bytes (and mtimes, if `mtimes`).
fn check_tree(dir: &Path, expected: &BTreeMap<String, (PathBuf, Option<i64>)>, mtimes: bool) {
    let got = files_under(dir);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (path, (blob, mtime)) in expected {
        assert!(
            std::fs::read(&got[path]).unwrap() == std::fs::read(blob).unwrap(),
            "{path}"
        );
        if let (true, Some(m)) = (mtimes, mtime) {
            assert_eq!(mtime_secs(&got[path]), *m, "{path}: mtime");
        }
        assert_ne!(
            std::fs::metadata(&got[path]).unwrap().permissions().mode() & 0o400,
            0
        );
    }
}

#[test]
fn restore_files_never_writes_outside_out_whatever_the_paths_say() {
    let w = World::with_repo();
    let udid = "F11E5000F11E5000F11E5000F11E5000F11E5000";
    let mut d = handmade::HandDevice::new(&w.path("Backup"), udid, "Odd iPhone");
    d.file("HomeDomain", "Library/ok.txt", b"kept")
        .file("HomeDomain", "../../escaped.txt", b"must not leave --out")
        .file(
            "../..",
            "escaped-domain.txt",
            b"must not leave --out either",
        )
        .file("HomeDomain", "Library//double.txt", b"odd but harmless?");
    d.finish();
    let out = w.run(&["backup", s(&w.path("Backup"))]);
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(3),
        "{}",
        describe(&out)
    );

    let target = w.path("deep/out");
    let before: Vec<String> = common::names(w.dir.path());
    let run = w.run(&[
        "restore",
        &format!("{udid}@latest"),
        "--files",
        "--out",
        s(&target),
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", describe(&run));
    assert_eq!(
        std::fs::read(target.join("HomeDomain/Library/ok.txt")).unwrap(),
        b"kept"
    );
    let mut after = common::names(w.dir.path());
    after.retain(|n| n != "deep");
    assert_eq!(before, after, "nothing appeared beside --out");
    assert!(!w.path("deep/escaped.txt").exists() && !w.path("escaped.txt").exists());
    for (rel, _) in files_under(&target) {
        assert!(!rel.contains("escaped"), "{rel} was written");
    }
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("could leave the output folder"),
        "the unsafe entries are reported:\n{err}"
    );
}

/// Flips a byte of `pack` at the first tenth of it that `check --read-data` says damages only
/// `file`.
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
        let j: serde_json::Value = serde_json::from_slice(&probe.output().unwrap().stdout).unwrap();
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
fn restore_files_writes_every_other_file_past_a_damaged_one_and_names_it() {
    let w = World::with_repo();
    let udid = "DA4A6ED0DA4A6ED0DA4A6ED0DA4A6ED0DA4A6ED0";
    let video = "CameraRollDomain/Media/DCIM/100APPLE/IMG_0001.MOV";
    let mut d = handmade::HandDevice::new(&w.path("Backup"), udid, "Dented iPhone");
    d.file(
        "CameraRollDomain",
        "Media/DCIM/100APPLE/IMG_0001.MOV",
        &hearth_testkit::bytes::noise(5, 2_000_000),
    )
    .file(
        "HomeDomain",
        "Library/Notes/notes.txt",
        &handmade::text(6, 30_000),
    )
    .file(
        "HomeDomain",
        "Library/own.bin",
        &hearth_testkit::bytes::noise(7, 300_000),
    );
    d.finish();
    w.ok(&["backup", s(&w.path("Backup"))]);
    let packs: Vec<PathBuf> = files_under(&w.repo().join("packs"))
        .into_values()
        .filter(|p| common::is_object_name(&p.file_name().unwrap().to_string_lossy()))
        .collect();
    let [pack] = packs.try_into().expect("one pack");
    flip_inside(&w, &pack, video);

    let out = w.path("out");
    let run = w.run(&[
        "--json",
        "restore",
        &format!("{udid}@latest"),
        "--files",
        "--out",
        s(&out),
    ]);
    assert_eq!(run.status.code(), Some(3), "{}", describe(&run));
    let j: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(j["damaged"][0]["path"], video, "{j:#}");
    assert_eq!(j["damaged"].as_array().unwrap().len(), 1);
    let written = files_under(&out);
    assert!(
        !written.contains_key(video),
        "the damaged file is not written"
    );
    assert!(
        written.contains_key(".hearth-restore-files"),
        "the marker stays while a file is missing: {written:?}"
    );
    assert_eq!(
        std::fs::read(&written["HomeDomain/Library/own.bin"]).unwrap(),
        hearth_testkit::bytes::noise(7, 300_000)
    );
    assert!(String::from_utf8_lossy(&run.stderr).contains(&format!("damaged: {video}")));
    // A file the stopped run left half written is replaced when the same command runs again.
    let own = out.join("HomeDomain/Library/own.bin");
    std::fs::write(&own, &hearth_testkit::bytes::noise(7, 300_000)[..1000]).unwrap();
    let again = w.run(&[
        "restore",
        &format!("{udid}@latest"),
        "--files",
        "--out",
        s(&out),
    ]);
    assert_eq!(again.status.code(), Some(3), "{}", describe(&again));
    assert_eq!(
        std::fs::read(&own).unwrap(),
        hearth_testkit::bytes::noise(7, 300_000)
    );
    // Into a folder a restore of another snapshot did not finish: refused.
    let elsewhere = w.path("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(elsewhere.join(".hearth-restore-files"), "0".repeat(64)).unwrap();
    let other = w.run(&[
        "restore",
        &format!("{udid}@latest"),
        "--files",
        "--out",
        s(&elsewhere),
    ]);
    assert_ne!(other.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("another snapshot"),
        "{}",
        describe(&other)
    );
    // dump of the damaged file fails and names it.
    let dump = w.run(&[
        "dump",
        &format!("{udid}@latest"),
        video,
        "--out",
        s(&w.path("v.mov")),
    ]);
    assert_ne!(dump.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&dump.stderr).contains(video),
        "{}",
        describe(&dump)
    );
}
