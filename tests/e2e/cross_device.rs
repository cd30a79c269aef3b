//! Restoring a snapshot onto another device, through the real `hearth` binary: Apple's rules
//! for another kind of device (photos, Messages, Voice Memos and incompatible apps do not
//! transfer), the iOS version gate, the target's capacity, and the image itself (only the kept
//! rows, blobs and apps), down to an encrypted image read back by a reader nobody here wrote.
//!
//! Every expectation is computed here from the source folder (its Manifest.db and Info.plist),
//! independently of the planner: which rows each rule takes, their bytes, which apps an iPhone,
//! an iPad or an iPod touch can run.
//!
//! Readings of the contract these tests take (where it leaves room):
//! * `kept.files` and `kept.bytes` count what the restore writes (issue 11): the kept file
//!   rows' blobs and the backup's own files (Manifest.db and the plists, at their size in the
//!   source); `kept.device_files` and `kept.device_bytes` count the kept file rows (flags = 1)
//!   and their `Size`s, so `kept.device_bytes + sum(skipped.bytes)` is the source's file-row
//!   bytes, and `skipped` counts Manifest.db rows, not the folder's plists;
//! * `skipped` must list every skipped file row; it may also list the skipped directory and
//!   symlink rows (0 bytes), which the counts then ignore; `rules[].files` counts file rows;
//! * a capacity fit is over `kept.device_bytes`; `fit.needed` is the plan's bytes before any category
//!   is dropped or after (both accepted); a fit drop removes file rows (whether the emptied
//!   directory rows go too is not checked);
//! * sizes: `K`/`KB`/`MB`/`GB` are powers of 1000, `KiB`/`MiB`/`GiB` powers of 1024.

use crate::common;

use common::s;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{World, describe};
use hearth_mobilesync::encryption::strip_pkcs7;
use hearth_mobilesync::{
    DeviceFolder, EntryKind, FileId, INFO_PLIST, MANIFEST_DB, MANIFEST_PLIST, ManifestDb,
    ManifestRow, SQLITE_MAGIC, STATUS_PLIST, parse_dictionary, read_plist_dictionary,
};
use hearth_testkit::plist::{Dictionary, Value};
use hearth_testkit::third_party::{assert_verified_exactly, python};
use hearth_testkit::{
    FINAL_CUT_PRO, FileDigest, Household, HouseholdSpec, SIDELOADED_APP, files_under, generate,
    generate_with_twin, remove_app_metadata, set_ios_version, tree_digest,
};
use serde_json::Value as Json;

/// Apple's support article every rule for another kind of device comes from.
const APPLE: &str = "Backup methods for iPhone, iPad, and iPod touch";
const VOICE_MEMOS_GROUP: &str = "AppDomainGroup-group.com.apple.VoiceMemos.shared";
const IOS_PASSWORD: &str = "family iPad pässword";

/// Devices of `HouseholdSpec::tiny_cross`.
const IPAD: usize = 0;
const DAD: usize = 1;
const MUM: usize = 2;

const APPLE_RULES: [&str; 4] = ["photos", "messages", "voice-memos", "incompatible-app"];
const IPAD_ONLY_APPS: [&str; 3] = [
    "com.savageinteractive.procreate",
    "com.apple.mobilelogic",
    FINAL_CUT_PRO,
];

// ------------------------------------------------------------------------------------------
// Set-up

/// A repository holding the latest snapshot of `devices` of the `tiny_cross` household.
fn household(devices: &[usize]) -> (World, Household) {
    household_with(devices, |_| {})
}

/// [`household`], after `edit` changed the generated folders (an iOS update, …).
fn household_with(devices: &[usize], edit: impl FnOnce(&Household)) -> (World, Household) {
    let w = World::with_repo();
    let h = generate(&HouseholdSpec::tiny_cross(), &w.path("house")).unwrap();
    edit(&h);
    backup(&w, &h, devices);
    (w, h)
}

fn backup(w: &World, h: &Household, devices: &[usize]) {
    let mut args = vec!["backup"];
    args.extend(devices.iter().map(|&i| s(&h.devices[i].folder)));
    w.ok(&args);
}

/// `hearth [--json] restore SNAPSHOT ARGS` (the caller adds --dry-run, --out, targets).
fn restore(w: &World, json: bool, snapshot: &str, args: &[&str]) -> Output {
    let mut all = Vec::new();
    if json {
        all.push("--json");
    }
    all.extend(["restore", snapshot]);
    all.extend_from_slice(args);
    w.run(&all)
}

/// `--json restore SNAPSHOT --dry-run ARGS`, exit `status`, parsed.
fn dry_run(w: &World, snapshot: &str, args: &[&str], status: i32) -> Json {
    let mut all = vec!["restore", snapshot, "--dry-run"];
    all.extend_from_slice(args);
    w.json(&all, status)
}

/// `restore SNAPSHOT --out OUT ARGS`, asserting success; returns `OUT/<udid>`.
fn restore_image(w: &World, snapshot: &str, out: &str, args: &[&str], udid: &str) -> PathBuf {
    let dir = w.path(out);
    let mut all = vec!["--out", s(&dir)];
    all.extend_from_slice(args);
    let o = restore(w, false, snapshot, &all);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    dir.join(udid)
}

fn latest(name: &str) -> String {
    format!("{name}@latest")
}

fn snapshot_id(w: &World, udid: &str) -> String {
    let list = w.json(&["snapshots"], 0);
    list.as_array()
        .unwrap()
        .iter()
        .filter(|s| s["device"]["udid"] == udid)
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .next_back()
        .unwrap_or_else(|| panic!("no snapshot of {udid}: {list:#}"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

// ------------------------------------------------------------------------------------------
// The source, read here (not by hearth)

/// A source device folder (plaintext, or an encrypted device's twin): its rows and apps.
struct Source {
    folder: PathBuf,
    /// The folder that was backed up: `folder`, or the encrypted device whose twin it is.
    backed_up: PathBuf,
    rows: Vec<ManifestRow>,
    info: Dictionary,
    /// Every app the backup names (Installed Applications and Applications), with its
    /// `softwareSupportedDeviceIds` when Info.plist has App Store metadata for it.
    apps: BTreeMap<String, Option<Vec<i64>>>,
}

impl Source {
    fn read(folder: &Path) -> Source {
        let rows = ManifestDb::open(&folder.join(MANIFEST_DB))
            .unwrap()
            .rows()
            .unwrap();
        let info = read_plist_dictionary(&folder.join(INFO_PLIST)).unwrap();
        let mut apps = BTreeMap::new();
        if let Some(installed) = info.get("Installed Applications").and_then(Value::as_array) {
            for id in installed {
                apps.insert(id.as_string().unwrap().to_owned(), None);
            }
        }
        if let Some(dict) = info.get("Applications").and_then(Value::as_dictionary) {
            for (id, entry) in dict {
                let ids = entry
                    .as_dictionary()
                    .and_then(|e| e.get("iTunesMetadata"))
                    .and_then(Value::as_data)
                    .map(|blob| parse_dictionary(blob, Path::new("iTunesMetadata")).unwrap())
                    .and_then(|m| m.get("softwareSupportedDeviceIds").cloned())
                    .map(|ids| {
                        ids.as_array()
                            .unwrap()
                            .iter()
                            .map(|i| i.as_signed_integer().unwrap())
                            .collect()
                    });
                apps.insert(id.clone(), ids);
            }
        }
        Source {
            folder: folder.to_path_buf(),
            backed_up: folder.to_path_buf(),
            rows,
            info,
            apps,
        }
    }

    /// The twin of the encrypted device folder `backed_up`.
    fn twin_of(self, backed_up: &Path) -> Source {
        Source {
            backed_up: backed_up.to_path_buf(),
            ..self
        }
    }

    fn files(&self) -> impl Iterator<Item = &ManifestRow> {
        self.rows.iter().filter(|r| r.kind() == EntryKind::File)
    }

    fn file_bytes(&self) -> u64 {
        self.files().map(size).sum()
    }

    fn row(&self, domain: &str, path: &str) -> Option<&ManifestRow> {
        self.rows
            .iter()
            .find(|r| r.domain == domain && r.relative_path == path)
    }

    /// The installed app a domain belongs to: `AppDomain-<id>`, `AppDomainPlugin-<id>.<ext>`,
    /// or `AppDomainGroup-<group>` whose group id contains `<id>`.
    fn owner(&self, domain: &str) -> Option<&str> {
        let (kind, rest) = domain.split_once('-')?;
        self.apps.keys().map(String::as_str).find(|id| match kind {
            "AppDomain" => rest == *id,
            "AppDomainPlugin" => rest.starts_with(&format!("{id}.")),
            "AppDomainGroup" => rest.contains(id),
            _ => false,
        })
    }

    /// Apps whose App Store metadata says they do not run on `family`.
    fn incompatible(&self, family: &str) -> BTreeSet<String> {
        self.apps
            .iter()
            .filter(|(_, ids)| ids.as_ref().is_some_and(|ids| !runs_on(ids, family)))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Apps whose compatibility nothing in the backup tells.
    fn unknown(&self) -> BTreeSet<String> {
        self.apps
            .iter()
            .filter(|(_, ids)| ids.is_none())
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// What a restore onto a device of `family` must skip, by Apple's rules.
    fn expect(&self, family: &str) -> Expect {
        let source_family = family_of(self.info["Product Type"].as_string().unwrap());
        let mut skipped = BTreeMap::new();
        let mut dropped_apps = BTreeSet::new();
        if source_family != family {
            dropped_apps = self.incompatible(family);
            for r in &self.rows {
                if let Some(rule) = self.rule(r, &dropped_apps) {
                    skipped.insert(key(r), rule.to_owned());
                }
            }
        }
        Expect {
            skipped,
            dropped_apps,
            dirs_checked: true,
        }
    }

    /// The rule that takes `r` away from another kind of device, if any.
    fn rule(&self, r: &ManifestRow, incompatible: &BTreeSet<String>) -> Option<&'static str> {
        let (d, p) = (r.domain.as_str(), r.relative_path.as_str());
        let under = |root: &str| p == root || p.starts_with(&format!("{root}/"));
        if d == "CameraRollDomain" {
            Some("photos")
        } else if (d == "HomeDomain" || d == "MediaDomain") && under("Library/SMS") {
            Some("messages")
        } else if (d == "MediaDomain" && under("Media/Recordings")) || d == VOICE_MEMOS_GROUP {
            Some("voice-memos")
        } else if self.owner(d).is_some_and(|id| incompatible.contains(id)) {
            Some("incompatible-app")
        } else {
            None
        }
    }

    /// The fit category of a file row, in drop order (`None`: never dropped to fit).
    fn category(r: &ManifestRow) -> Option<&'static str> {
        let (d, p) = (r.domain.as_str(), r.relative_path.as_str());
        let lower = p.to_ascii_lowercase();
        if d == "CameraRollDomain" {
            let video = [".mov", ".mp4", ".m4v"].iter().any(|e| lower.ends_with(e));
            Some(if video { "videos" } else { "photos" })
        } else if d == "MediaDomain" && p.starts_with("Library/SMS/Attachments/") {
            Some("message-attachments")
        } else if (d == "MediaDomain" && p.starts_with("Media/Recordings/"))
            || d == VOICE_MEMOS_GROUP
        {
            Some("voice-memos")
        } else if d.starts_with("AppDomain") {
            Some("app-data")
        } else {
            None
        }
    }

    /// Files and bytes of each fit category, among the files `expect` keeps.
    fn categories(&self, expect: &Expect) -> BTreeMap<&'static str, (u64, u64)> {
        let mut out = BTreeMap::new();
        for r in self
            .files()
            .filter(|r| !expect.skipped.contains_key(&key(r)))
        {
            if let Some(c) = Source::category(r) {
                let e = out.entry(c).or_insert((0, 0));
                e.0 += 1;
                e.1 += size(r);
            }
        }
        out
    }
}

/// Rows a restore must skip (by `(domain, relative_path)`, with the rule) and apps it drops.
#[derive(Debug, Clone)]
struct Expect {
    /// Every skipped row (files, and for Apple's rules directories and symlinks too).
    skipped: BTreeMap<(String, String), String>,
    dropped_apps: BTreeSet<String>,
    /// Whether `skipped` says which directory rows go (Apple's rules: yes; fit drops: files).
    dirs_checked: bool,
}

impl Expect {
    fn is_empty(&self) -> bool {
        self.skipped.is_empty()
    }

    /// Adds a fit drop of `category`: its kept files, under rule `fit-<category>`.
    fn drop_category(&mut self, src: &Source, category: &str) {
        self.dirs_checked = false;
        for r in src.files() {
            if Source::category(r) == Some(category) {
                self.skipped
                    .entry(key(r))
                    .or_insert_with(|| format!("fit-{category}"));
            }
        }
    }

    fn skipped_files<'a>(&self, src: &'a Source) -> Vec<&'a ManifestRow> {
        src.files()
            .filter(|r| self.skipped.contains_key(&key(r)))
            .collect()
    }
}

fn key(r: &ManifestRow) -> (String, String) {
    (r.domain.clone(), r.relative_path.clone())
}

fn size(r: &ManifestRow) -> u64 {
    r.file.as_ref().unwrap().size.unwrap_or(0)
}

fn family_of(product_type: &str) -> &'static str {
    ["iPhone", "iPad", "iPod"]
        .into_iter()
        .find(|f| product_type.starts_with(f))
        .unwrap_or_else(|| panic!("no family for {product_type}"))
}

/// `softwareSupportedDeviceIds`: 1 and 9 iPhone, 2 iPod touch, 4 iPad; iPads run iPhone apps.
fn runs_on(ids: &[i64], family: &str) -> bool {
    let any = |wanted: &[i64]| ids.iter().any(|i| wanted.contains(i));
    match family {
        "iPhone" => any(&[1, 9]),
        "iPod" => any(&[2]),
        "iPad" => any(&[4, 1, 9]),
        other => panic!("family {other}"),
    }
}

// ------------------------------------------------------------------------------------------
// Checks of a plan (the dry-run JSON) and of an image

/// The JSON plan skips what `expect` says, with the right rule, bytes and reason per entry, and
/// sums them up per rule (see [`assert_kept`] for the kept counts).
fn assert_plan(plan: &Json, src: &Source, expect: &Expect) {
    assert!(
        plan["refused"].is_null(),
        "not refused: {:#}",
        plan["refused"]
    );
    let skipped = plan["skipped"].as_array().expect("skipped is an array");
    let mut skipped_files = BTreeMap::new();
    for e in skipped {
        let (domain, path) = (
            e["domain"].as_str().expect("domain"),
            e["relative_path"].as_str().expect("relative_path"),
        );
        let row = src
            .row(domain, path)
            .unwrap_or_else(|| panic!("skipped entry is no source row: {e}"));
        let rule = e["rule"].as_str().expect("rule");
        let reason = e["reason"].as_str().expect("reason");
        assert!(!reason.is_empty(), "{e}");
        if APPLE_RULES.contains(&rule) {
            assert!(
                reason.contains(APPLE),
                "the reason cites Apple's article: {e}"
            );
        }
        if row.kind() == EntryKind::File {
            assert_eq!(e["bytes"].as_u64(), Some(size(row)), "{e}");
            assert!(
                skipped_files.insert(key(row), rule.to_owned()).is_none(),
                "listed twice: {e}"
            );
        } else {
            assert_eq!(e["bytes"].as_u64(), Some(0), "{e}");
            if expect.dirs_checked {
                assert_eq!(
                    expect.skipped.get(&key(row)).map(String::as_str),
                    Some(rule),
                    "a {:?} row skipped: {e}",
                    row.kind()
                );
            }
        }
    }
    let expected_files: BTreeMap<(String, String), String> = expect
        .skipped_files(src)
        .into_iter()
        .map(|r| (key(r), expect.skipped[&key(r)].clone()))
        .collect();
    if skipped_files != expected_files {
        let wrong: Vec<_> = skipped_files
            .iter()
            .filter(|(k, v)| expected_files.get(*k) != Some(*v))
            .collect();
        let missing: Vec<_> = expected_files
            .iter()
            .filter(|(k, _)| !skipped_files.contains_key(*k))
            .collect();
        panic!(
            "skipped file rows differ\nnot expected (or wrong rule): {wrong:#?}\nmissing: {missing:#?}"
        );
    }

    // One `rules` line per rule that skipped something, with its source; others at zero.
    let rules = plan["rules"].as_array().expect("rules is an array");
    let mut per_rule: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for r in expect.skipped_files(src) {
        let e = per_rule
            .entry(expect.skipped[&key(r)].as_str())
            .or_default();
        e.0 += 1;
        e.1 += size(r);
    }
    for (rule, (files, bytes)) in &per_rule {
        let line = rules
            .iter()
            .find(|l| l["rule"] == *rule)
            .unwrap_or_else(|| panic!("no rules line for {rule}: {rules:#?}"));
        assert_eq!(line["files"].as_u64(), Some(*files), "{line}");
        assert_eq!(line["bytes"].as_u64(), Some(*bytes), "{line}");
        let source = line["source"].as_str().expect("source");
        if APPLE_RULES.contains(rule) {
            assert!(source.contains(APPLE), "{line}");
        } else {
            assert!(!source.is_empty(), "{line}");
        }
    }
    for line in rules {
        if !per_rule.contains_key(line["rule"].as_str().unwrap()) {
            assert_eq!(
                (line["files"].as_u64(), line["bytes"].as_u64()),
                (Some(0), Some(0)),
                "a rule that skipped nothing: {line}"
            );
        }
    }
}

/// The plan's `kept`: `device_files` counts the file rows that are not skipped, and
/// `device_bytes` and the skipped bytes add up to the source's file-row bytes; `files` and
/// `bytes` count every file the restore writes (see [`written_by_restore`]).
fn assert_kept(plan: &Json, src: &Source, expect: &Expect) {
    let skipped = plan["skipped"].as_array().expect("skipped is an array");
    let skipped_bytes: u64 = expect.skipped_files(src).iter().map(|r| size(r)).sum();
    let kept_files = src.files().count() - expect.skipped_files(src).len();
    let kept = &plan["kept"];
    assert_eq!(
        kept["device_files"].as_u64(),
        Some(kept_files as u64),
        "{kept:#}"
    );
    assert_eq!(
        kept["device_bytes"].as_u64(),
        Some(src.file_bytes() - skipped_bytes),
        "{kept:#}"
    );
    let listed: u64 = skipped.iter().map(|e| e["bytes"].as_u64().unwrap()).sum();
    assert_eq!(
        kept["device_bytes"].as_u64().unwrap() + listed,
        src.file_bytes(),
        "kept.device_bytes + skipped bytes == the source's file bytes"
    );
    let (files, bytes) = written_by_restore(src, expect);
    assert_eq!(
        (kept["files"].as_u64(), kept["bytes"].as_u64()),
        (Some(files), Some(bytes)),
        "kept.files and kept.bytes count every file written: {kept:#}"
    );
}

/// The files a restore of `src` writes and their bytes, from the folder that was backed up:
/// the blob of each kept file row, and Manifest.db and the plists (a rebuilt one at its size in
/// the backup).
fn written_by_restore(src: &Source, expect: &Expect) -> (u64, u64) {
    let skipped: BTreeSet<&str> = expect
        .skipped_files(src)
        .iter()
        .map(|r| r.file_id.as_str())
        .collect();
    let blobs = src
        .files()
        .filter(|r| !skipped.contains(r.file_id.as_str()))
        .map(|r| src.backed_up.join(&r.file_id[..2]).join(&r.file_id));
    let own = [MANIFEST_DB, INFO_PLIST, STATUS_PLIST, MANIFEST_PLIST]
        .into_iter()
        .map(|name| src.backed_up.join(name))
        .filter(|p| p.is_file());
    blobs.chain(own).fold((0, 0), |(n, b), p| {
        let len = std::fs::metadata(&p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .len();
        (n + 1, b + len)
    })
}

/// A target as the plan's `target` gives it: name (`None` for --to-model), product type, iOS.
type Profile<'a> = (Option<&'a str>, &'a str, &'a str);

/// The plan's `source` and `target` objects.
fn assert_profiles(plan: &Json, w: &World, src: &GeneratedSource, target: Profile) {
    let source = &plan["source"];
    assert_eq!(source["snapshot"], snapshot_id(w, &src.udid), "{source:#}");
    assert_eq!(source["udid"], src.udid.as_str(), "{source:#}");
    assert_eq!(source["name"], src.name.as_str(), "{source:#}");
    assert_eq!(
        source["product_type"],
        src.product_type.as_str(),
        "{source:#}"
    );
    assert_eq!(
        source["ios_version"],
        src.ios_version.as_str(),
        "{source:#}"
    );
    let t = &plan["target"];
    let (name, product_type, ios) = target;
    match name {
        Some(n) => assert_eq!(t["name"], n, "{t:#}"),
        None => assert!(t["name"].is_null(), "{t:#}"),
    }
    assert_eq!(t["product_type"], product_type, "{t:#}");
    assert_eq!(t["ios_version"], ios, "{t:#}");
    assert_eq!(t["family"], family_of(product_type), "{t:#}");
}

/// The identity of a source device, as the plan's `source` must give it.
struct GeneratedSource {
    udid: String,
    name: String,
    product_type: String,
    ios_version: String,
}

impl GeneratedSource {
    fn of(h: &Household, i: usize) -> Self {
        let d = &h.devices[i];
        let device = DeviceFolder::open(&d.folder).unwrap();
        GeneratedSource {
            udid: d.udid.clone(),
            name: d.name.clone(),
            product_type: device.info.product_type.clone(),
            ios_version: device.ios_version().unwrap().to_owned(),
        }
    }
}

/// Rows of an image's Manifest.db, plaintext.
fn image_rows(image: &Path) -> Vec<ManifestRow> {
    let path = image.join(MANIFEST_DB);
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.starts_with(SQLITE_MAGIC), "Manifest.db is SQLite");
    ManifestDb::open(&path).unwrap().rows().unwrap()
}

/// Rows of an encrypted image's Manifest.db, decrypted with the device password; checks it is
/// encrypted with PKCS#7 padding under the source's keybag.
fn encrypted_image_rows(image: &Path, source: &Path, password: &str) -> Vec<ManifestRow> {
    let device = DeviceFolder::open(image).unwrap();
    assert!(device.is_encrypted(), "the image is encrypted");
    let original = DeviceFolder::open(source).unwrap();
    assert_eq!(
        device.manifest.as_ref().unwrap().backup_keybag,
        original.manifest.as_ref().unwrap().backup_keybag,
        "the image has the source's keybag"
    );
    let bag = device.keybag().unwrap();
    let keys = bag.unlock(&bag.kdf.derive(password.as_bytes())).unwrap();
    let (file, _) = device.encrypted_manifest_db(&keys).unwrap();
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut file.reader(), &mut plain).unwrap();
    assert!(
        strip_pkcs7(&plain).is_some(),
        "Manifest.db carries PKCS#7 padding"
    );
    ManifestDb::open_encrypted(file, &image.join(MANIFEST_DB))
        .unwrap()
        .rows()
        .unwrap()
}

/// The image holds exactly the kept rows (identical to the source's, but for `EncryptionKey`
/// when `rows` were decrypted from an encrypted image), a blob for each kept file row and none
/// for a skipped one, and Info.plist without the dropped apps; Manifest.plist and Status.plist
/// are the source's. Unencrypted images also have every blob byte-identical to the source's.
fn assert_image(
    image: &Path,
    rows: Vec<ManifestRow>,
    src: &Source,
    expect: &Expect,
    encrypted: Option<&Path>,
) {
    let strip = |mut r: ManifestRow| {
        if let Ok(f) = &mut r.file {
            f.encryption_key = None;
        }
        r
    };
    if encrypted.is_some() {
        for r in rows.iter().filter(|r| r.kind() == EntryKind::File) {
            assert!(
                r.file.as_ref().unwrap().encryption_key.is_some(),
                "a file row of an encrypted image has its key: {} {}",
                r.domain,
                r.relative_path
            );
        }
    }
    let got: BTreeMap<String, ManifestRow> = rows
        .into_iter()
        .map(|r| (r.file_id.clone(), strip(r)))
        .collect();
    let want: BTreeMap<String, ManifestRow> = src
        .rows
        .iter()
        .filter(|r| !expect.skipped.contains_key(&key(r)))
        .filter(|r| expect.dirs_checked || r.kind() == EntryKind::File)
        .map(|r| (r.file_id.clone(), strip(r.clone())))
        .collect();
    let got_checked: BTreeMap<&String, &ManifestRow> = got
        .iter()
        .filter(|(_, r)| expect.dirs_checked || r.kind() == EntryKind::File)
        .collect();
    let missing: Vec<_> = want
        .iter()
        .filter(|(id, _)| !got.contains_key(*id))
        .map(|(_, r)| (&r.domain, &r.relative_path))
        .collect();
    let extra: Vec<_> = got_checked
        .iter()
        .filter(|(id, _)| !want.contains_key(**id))
        .map(|(_, r)| (&r.domain, &r.relative_path))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "image Manifest.db rows == source rows - skipped\nmissing {missing:#?}\nnot expected {extra:#?}"
    );
    for (id, r) in &got_checked {
        assert_eq!(*r, &want[*id], "the image's row is the source's");
    }
    if !expect.dirs_checked {
        let source_ids: BTreeSet<&String> = src.rows.iter().map(|r| &r.file_id).collect();
        assert!(
            got.keys().all(|id| source_ids.contains(id)),
            "only source rows"
        );
    }

    // Blobs: one per kept file row, none for a skipped one, nothing else but the four files.
    let digest = tree_digest(image).unwrap();
    let blobs: BTreeSet<&String> = digest.keys().filter(|k| k.contains('/')).collect();
    let kept_blobs: BTreeSet<String> = want
        .values()
        .filter(|r| r.kind() == EntryKind::File)
        .map(|r| FileId::parse(&r.file_id).unwrap().blob_path())
        .collect();
    for r in expect.skipped_files(src) {
        let blob = FileId::parse(&r.file_id).unwrap().blob_path();
        assert!(
            !image.join(&blob).exists(),
            "no blob of the skipped {} {}",
            r.domain,
            r.relative_path
        );
    }
    assert_eq!(
        blobs,
        kept_blobs.iter().collect(),
        "blobs == kept file rows"
    );
    let top: BTreeSet<&str> = digest
        .keys()
        .filter(|k| !k.contains('/'))
        .map(String::as_str)
        .collect();
    assert_eq!(
        top,
        BTreeSet::from([INFO_PLIST, MANIFEST_DB, MANIFEST_PLIST, STATUS_PLIST])
    );
    let original = encrypted.unwrap_or(&src.folder);
    if encrypted.is_none() {
        let source_digest = tree_digest(original).unwrap();
        for blob in &kept_blobs {
            assert_eq!(digest[blob], source_digest[blob], "{blob} byte-identical");
        }
    }

    // Plists: Status.plist and Manifest.plist as the source's (an encrypted image may wrap its
    // re-encrypted Manifest.db under a new ManifestKey); Info.plist without the dropped apps.
    let read = |folder: &Path, name: &str| std::fs::read(folder.join(name)).unwrap();
    assert!(
        read(image, STATUS_PLIST) == read(original, STATUS_PLIST),
        "Status.plist is the source's"
    );
    if encrypted.is_none() {
        assert!(
            read(image, MANIFEST_PLIST) == read(original, MANIFEST_PLIST),
            "Manifest.plist is the source's"
        );
    } else {
        let without_key = |folder: &Path| {
            let mut d = read_plist_dictionary(&folder.join(MANIFEST_PLIST)).unwrap();
            d.remove("ManifestKey");
            d
        };
        assert_eq!(
            without_key(image),
            without_key(original),
            "Manifest.plist is the source's"
        );
    }
    let mut info = read_plist_dictionary(&original.join(INFO_PLIST)).unwrap();
    if let Some(apps) = info
        .get_mut("Applications")
        .and_then(Value::as_dictionary_mut)
    {
        for id in &expect.dropped_apps {
            apps.remove(id);
        }
    }
    if let Some(list) = info
        .get_mut("Installed Applications")
        .and_then(Value::as_array_mut)
    {
        list.retain(|v| !expect.dropped_apps.contains(v.as_string().unwrap()));
    }
    let got_info = read_plist_dictionary(&image.join(INFO_PLIST)).unwrap();
    assert_eq!(
        got_info, info,
        "Info.plist is the source's without the dropped apps"
    );
}

fn domains(rows: &[ManifestRow]) -> BTreeSet<&str> {
    rows.iter().map(|r| r.domain.as_str()).collect()
}

fn digest(dir: &Path) -> BTreeMap<String, FileDigest> {
    tree_digest(dir).unwrap()
}

// ------------------------------------------------------------------------------------------
// Family iPad → Dad's iPhone: each rule

/// The iPad and Dad's iPhone backed up; the plan and image of the iPad for the iPhone.
struct IpadOntoIphone {
    w: World,
    h: Household,
    src: Source,
    expect: Expect,
    plan: Json,
    image: PathBuf,
    image_rows: Vec<ManifestRow>,
}

fn ipad_onto_dads_iphone() -> IpadOntoIphone {
    ipad_onto_dads_iphone_with(|_| {})
}

fn ipad_onto_dads_iphone_with(edit: impl FnOnce(&Household)) -> IpadOntoIphone {
    let (w, h) = household_with(&[IPAD, DAD], edit);
    let (ipad, dad) = (&h.devices[IPAD], &h.devices[DAD]);
    let src = Source::read(&ipad.folder);
    let expect = src.expect("iPhone");
    let plan = dry_run(&w, &latest(&ipad.name), &["--to", &dad.name], 0);
    let image = restore_image(
        &w,
        &latest(&ipad.name),
        "restored",
        &["--to", &dad.name],
        &ipad.udid,
    );
    let image_rows = image_rows(&image);
    IpadOntoIphone {
        w,
        h,
        src,
        expect,
        plan,
        image,
        image_rows,
    }
}

impl IpadOntoIphone {
    fn skipped_with(&self, rule: &str) -> Vec<(&str, &str)> {
        self.plan["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["rule"] == rule)
            .map(|e| {
                (
                    e["domain"].as_str().unwrap(),
                    e["relative_path"].as_str().unwrap(),
                )
            })
            .collect()
    }

    fn image_has(&self, domain: &str, path: &str) -> bool {
        self.image_rows
            .iter()
            .any(|r| r.domain == domain && r.relative_path == path)
    }
}

#[test]
fn photos_do_not_transfer_to_another_kind_of_device() {
    let t = ipad_onto_dads_iphone();
    assert_plan(&t.plan, &t.src, &t.expect);
    let photos = t.skipped_with("photos");
    let camera_files = t
        .src
        .files()
        .filter(|r| r.domain == "CameraRollDomain")
        .count();
    assert!(camera_files >= 20, "the iPad has a camera roll");
    assert_eq!(
        photos
            .iter()
            .filter(|(d, p)| t.src.row(d, p).unwrap().kind() == EntryKind::File)
            .count(),
        camera_files
    );
    assert!(photos.iter().all(|(d, _)| *d == "CameraRollDomain"));
    assert!(
        !domains(&t.image_rows).contains("CameraRollDomain"),
        "no CameraRollDomain row, not even its root"
    );
}

#[test]
fn messages_and_their_attachments_do_not_transfer() {
    let t = ipad_onto_dads_iphone();
    assert_plan(&t.plan, &t.src, &t.expect);
    let messages = t.skipped_with("messages");
    assert!(
        messages.contains(&("HomeDomain", "Library/SMS/sms.db")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|(d, p)| *d == "MediaDomain" && p.starts_with("Library/SMS/Attachments/")),
        "{messages:?}"
    );
    for r in &t.image_rows {
        let p = r.relative_path.as_str();
        assert!(
            !(["HomeDomain", "MediaDomain"].contains(&r.domain.as_str())
                && (p == "Library/SMS" || p.starts_with("Library/SMS/"))),
            "{} {p} is in the image",
            r.domain
        );
    }
    // What merely looks like Messages stays: the Messages app's preferences, Library itself.
    assert!(t.image_has(
        "HomeDomain",
        "Library/Preferences/com.apple.MobileSMS.plist"
    ));
    assert!(t.image_has("HomeDomain", "Library"));
    assert!(t.image_has("MediaDomain", "Library"));
    assert!(t.image_has("HomeDomain", "Library/AddressBook/AddressBook.sqlitedb"));
}

#[test]
fn voice_memos_do_not_transfer_from_either_place() {
    let t = ipad_onto_dads_iphone();
    assert_plan(&t.plan, &t.src, &t.expect);
    let memos = t.skipped_with("voice-memos");
    for (domain, path) in [
        ("MediaDomain", "Media/Recordings/CloudRecordings.db"),
        (VOICE_MEMOS_GROUP, "Recordings/CloudRecordings.db"),
    ] {
        assert!(
            memos.contains(&(domain, path)),
            "{domain} {path} in {memos:?}"
        );
    }
    let m4a = |domain: &str| {
        memos
            .iter()
            .filter(|(d, p)| *d == domain && p.ends_with(".m4a"))
            .count()
    };
    assert!(
        m4a("MediaDomain") >= 2 && m4a(VOICE_MEMOS_GROUP) >= 2,
        "{memos:?}"
    );
    assert!(!domains(&t.image_rows).contains(VOICE_MEMOS_GROUP));
    assert!(
        !t.image_rows
            .iter()
            .any(|r| r.domain == "MediaDomain" && r.relative_path.starts_with("Media/Recordings")),
        "no MediaDomain Media/Recordings row"
    );
    assert!(t.image_has("MediaDomain", "Media"), "Media itself stays");
}

#[test]
fn ipad_only_apps_do_not_transfer_with_their_groups_and_extensions() {
    let t = ipad_onto_dads_iphone();
    assert_plan(&t.plan, &t.src, &t.expect);
    assert_eq!(
        t.expect.dropped_apps,
        IPAD_ONLY_APPS.iter().map(|a| a.to_string()).collect(),
        "the oracle sees exactly the three iPad-only apps"
    );
    let skipped_domains: BTreeSet<&str> = t
        .skipped_with("incompatible-app")
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    for d in [
        format!("AppDomain-{FINAL_CUT_PRO}"),
        format!("AppDomainGroup-group.{FINAL_CUT_PRO}.shared"),
        format!("AppDomainPlugin-{FINAL_CUT_PRO}.ShareExtension"),
        "AppDomain-com.savageinteractive.procreate".to_owned(),
        "AppDomainPlugin-com.savageinteractive.procreate.ShareExtension".to_owned(),
        "AppDomain-com.apple.mobilelogic".to_owned(),
    ] {
        assert!(
            skipped_domains.contains(d.as_str()),
            "{d} skipped: {skipped_domains:?}"
        );
        assert!(
            !domains(&t.image_rows).contains(d.as_str()),
            "{d} not in the image"
        );
    }
    // Universal apps come along, with their groups and extensions.
    for d in [
        "AppDomain-net.whatsapp.WhatsApp",
        "AppDomainGroup-group.net.whatsapp.WhatsApp.shared",
        "AppDomainPlugin-net.whatsapp.WhatsApp.ShareExtension",
    ] {
        assert!(domains(&t.image_rows).contains(d), "{d} kept");
    }
    assert!(t.image_has(
        "AppDomainGroup-group.net.whatsapp.WhatsApp.shared",
        "ChatStorage.sqlite"
    ));
    let info = read_plist_dictionary(&t.image.join(INFO_PLIST)).unwrap();
    let apps = info["Applications"].as_dictionary().unwrap();
    let installed: Vec<&str> = info["Installed Applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_string().unwrap())
        .collect();
    for id in IPAD_ONLY_APPS {
        assert!(
            !apps.contains_key(id) && !installed.contains(&id),
            "{id} dropped from Info.plist"
        );
    }
    assert!(
        apps.contains_key("net.whatsapp.WhatsApp") && installed.contains(&"net.whatsapp.WhatsApp")
    );
    assert_image(&t.image, t.image_rows.clone(), &t.src, &t.expect, None);
}

#[test]
fn an_app_without_app_store_metadata_is_kept_and_reported_unknown() {
    let t = ipad_onto_dads_iphone();
    assert_eq!(
        t.plan["unknown_apps"],
        serde_json::json!([SIDELOADED_APP]),
        "{:#}",
        t.plan
    );
    assert!(domains(&t.image_rows).contains(format!("AppDomain-{SIDELOADED_APP}").as_str()));
    assert!(
        domains(&t.image_rows)
            .contains(format!("AppDomainPlugin-{SIDELOADED_APP}.FileProvider").as_str())
    );
    let info = read_plist_dictionary(&t.image.join(INFO_PLIST)).unwrap();
    assert!(
        info["Applications"]
            .as_dictionary()
            .unwrap()
            .contains_key(SIDELOADED_APP)
    );
    // The plan in words names it too.
    let o = restore(
        &t.w,
        false,
        &latest(&t.h.devices[IPAD].name),
        &["--dry-run", "--to", &t.h.devices[DAD].name],
    );
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(text.contains(SIDELOADED_APP), "{text}");
}

#[test]
fn a_source_without_applications_metadata_keeps_every_app_as_unknown() {
    let t = ipad_onto_dads_iphone_with(|h| remove_app_metadata(&h.devices[IPAD].folder).unwrap());
    assert!(t.expect.dropped_apps.is_empty());
    assert_plan(&t.plan, &t.src, &t.expect);
    assert!(t.skipped_with("incompatible-app").is_empty());
    let unknown: BTreeSet<String> = t.plan["unknown_apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        unknown,
        t.src.unknown(),
        "every installed app is of unknown compatibility"
    );
    for id in IPAD_ONLY_APPS {
        assert!(unknown.contains(id));
        assert!(
            domains(&t.image_rows).contains(format!("AppDomain-{id}").as_str()),
            "{id} kept"
        );
    }
    assert_image(&t.image, t.image_rows.clone(), &t.src, &t.expect, None);
}

#[test]
fn the_dry_run_plan_adds_up_and_writes_nothing() {
    let (w, h) = household(&[IPAD, DAD]);
    let (ipad, dad) = (&h.devices[IPAD], &h.devices[DAD]);
    let src = Source::read(&ipad.folder);
    let expect = src.expect("iPhone");
    let out = w.path("not-written");
    let snapshot = latest(&ipad.name);
    let plan = dry_run(&w, &snapshot, &["--to", &dad.name, "--out", s(&out)], 0);
    assert!(
        !out.exists(),
        "--dry-run writes nothing, not even the --out folder"
    );
    assert_plan(&plan, &src, &expect);
    assert_kept(&plan, &src, &expect);
    assert_profiles(
        &plan,
        &w,
        &GeneratedSource::of(&h, IPAD),
        (Some(&dad.name), "iPhone14,5", "17.5.1"),
    );
    let rules: BTreeSet<&str> = plan["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        APPLE_RULES.into_iter().collect(),
        "every rule has something to skip"
    );
    assert!(
        plan["fit"].is_null(),
        "no capacity, no fit: {:#}",
        plan["fit"]
    );
    assert_eq!(plan["unknown_apps"], serde_json::json!([SIDELOADED_APP]));

    // In words, on stdout: each rule and where it comes from.
    let o = restore(
        &w,
        false,
        &snapshot,
        &["--dry-run", "--to", &dad.name, "--out", s(&out)],
    );
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    for rule in APPLE_RULES {
        assert!(text.contains(rule), "{rule} in:\n{text}");
    }
    assert!(text.contains(APPLE), "{text}");
    assert!(!out.exists());
}

#[test]
fn the_image_holds_exactly_the_kept_rows_blobs_and_apps() {
    let t = ipad_onto_dads_iphone();
    assert_image(&t.image, t.image_rows.clone(), &t.src, &t.expect, None);
    assert_eq!(
        t.image.parent().unwrap(),
        t.w.path("restored"),
        "written to OUT/<source UDID>"
    );
    let kept = t
        .image_rows
        .iter()
        .filter(|r| r.kind() == EntryKind::File)
        .count();
    assert_eq!(t.plan["kept"]["device_files"].as_u64(), Some(kept as u64));
    // Issue 11: the plan's "keep N files" is what the restore writes, to the file.
    let written = files_under(&t.image).unwrap();
    assert_eq!(
        t.plan["kept"]["files"].as_u64(),
        Some(written.len() as u64),
        "{:#}",
        t.plan["kept"]
    );
    // The image backs up again as a device of its own (a valid MobileSync folder).
    let w2 = World::with_repo();
    w2.ok(&["backup", s(&t.image)]);
}

#[test]
fn iphone_apps_are_kept_on_an_ipad() {
    let (w, h) = household(&[DAD]);
    let dad = &h.devices[DAD];
    let src = Source::read(&dad.folder);
    let expect = src.expect("iPad");
    assert!(expect.dropped_apps.is_empty(), "iPads run iPhone apps");
    assert!(
        src.apps["com.burbn.instagram"]
            .as_ref()
            .is_some_and(|ids| !ids.contains(&4))
    );
    let target = ["--to-model", "iPad13,1", "--to-ios", "17.6"];
    let plan = dry_run(&w, &latest(&dad.name), &target, 0);
    assert_plan(&plan, &src, &expect);
    assert_profiles(
        &plan,
        &w,
        &GeneratedSource::of(&h, DAD),
        (None, "iPad13,1", "17.6"),
    );
    let image = restore_image(&w, &latest(&dad.name), "restored", &target, &dad.udid);
    let rows = image_rows(&image);
    assert!(domains(&rows).contains("AppDomain-com.burbn.instagram"));
    assert!(domains(&rows).contains("AppDomainGroup-group.com.burbn.instagram.shared"));
    assert!(
        !domains(&rows).contains("CameraRollDomain"),
        "photos still stay behind"
    );
    assert_image(&image, rows, &src, &expect, None);
}

#[test]
fn an_ipod_touch_is_another_kind_of_device_that_runs_no_ipad_only_app() {
    let (w, h) = household_with(&[IPAD], |h| {
        set_ios_version(&h.devices[IPAD].folder, "15.7", "19H12").unwrap()
    });
    let ipad = &h.devices[IPAD];
    let src = Source::read(&ipad.folder);
    let expect = src.expect("iPod");
    assert_eq!(
        expect.dropped_apps,
        IPAD_ONLY_APPS.iter().map(|a| a.to_string()).collect()
    );
    let plan = dry_run(
        &w,
        &latest(&ipad.name),
        &["--to-model", "iPod9,1", "--to-ios", "15.8"],
        0,
    );
    assert_eq!(plan["target"]["family"], "iPod");
    assert_plan(&plan, &src, &expect);
}

// ------------------------------------------------------------------------------------------
// Same family

#[test]
fn the_same_kind_of_device_gets_a_byte_exact_image_and_nothing_skipped() {
    let (w, h) = household(&[IPAD, DAD, MUM]);
    let (ipad, dad, mum) = (&h.devices[IPAD], &h.devices[DAD], &h.devices[MUM]);
    // Mum's iPhone (17.4.1) onto Dad's (17.5.1); onto a new iPhone on the same iOS; the iPad
    // onto another iPad.
    let cases: [(&_, Vec<&str>, Profile); 3] = [
        (
            mum,
            vec!["--to", &dad.name],
            (Some(&dad.name), "iPhone14,5", "17.5.1"),
        ),
        (
            mum,
            vec!["--to-model", "iPhone16,1", "--to-ios", "17.4.1"],
            (None, "iPhone16,1", "17.4.1"),
        ),
        (
            ipad,
            vec!["--to-model", "iPad14,1", "--to-ios", "18.0"],
            (None, "iPad14,1", "18.0"),
        ),
    ];
    for (i, (source, target, profile)) in cases.into_iter().enumerate() {
        let src = Source::read(&source.folder);
        let expect = src.expect(family_of(profile.1));
        assert!(expect.is_empty());
        let plan = dry_run(&w, &latest(&source.name), &target, 0);
        assert_eq!(plan["skipped"], serde_json::json!([]), "case {i}: {plan:#}");
        assert_plan(&plan, &src, &expect);
        assert_kept(&plan, &src, &expect);
        let index = h
            .devices
            .iter()
            .position(|d| d.udid == source.udid)
            .unwrap();
        assert_profiles(&plan, &w, &GeneratedSource::of(&h, index), profile);
        let image = restore_image(
            &w,
            &latest(&source.name),
            &format!("out{i}"),
            &target,
            &source.udid,
        );
        assert_eq!(
            digest(&image),
            digest(&source.folder),
            "case {i}: byte-exact"
        );
    }
}

// ------------------------------------------------------------------------------------------
// The iOS version gate

/// A refused restore: exit 1, stderr names both versions and says to update the target,
/// nothing written; the dry-run JSON says the same in `refused`.
fn assert_refused(w: &World, snapshot: &str, target: &[&str], newer: &str, older: &str) {
    let out = w.path("refused");
    let mut args = vec!["--out", s(&out)];
    args.extend_from_slice(target);
    let o = restore(w, false, snapshot, &args);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let err = stderr(&o);
    assert!(
        err.contains(newer) && err.contains(older) && err.to_lowercase().contains("update"),
        "names iOS {newer} and {older} and says to update the target first:\n{err}"
    );
    assert!(
        !out.exists() || std::fs::read_dir(&out).unwrap().next().is_none(),
        "nothing written"
    );
    let mut args = vec!["--out", s(&out)];
    args.extend_from_slice(target);
    let plan = dry_run(w, snapshot, &args, 1);
    let refused = plan["refused"]
        .as_str()
        .unwrap_or_else(|| panic!("refused: {plan:#}"));
    assert!(
        refused.contains(newer) && refused.contains(older),
        "{refused}"
    );
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());
}

fn assert_allowed(w: &World, snapshot: &str, target: &[&str]) -> Json {
    let plan = dry_run(w, snapshot, target, 0);
    assert!(plan["refused"].is_null(), "{target:?}: {plan:#}");
    plan
}

#[test]
fn a_backup_from_a_newer_ios_is_refused_with_both_versions_and_what_to_do() {
    let (w, h) = household(&[IPAD, MUM]);
    let (ipad, mum) = (&h.devices[IPAD], &h.devices[MUM]);
    // 17.5 onto 17.4.1, by model and by household device.
    let snapshot = latest(&ipad.name);
    assert_refused(
        &w,
        &snapshot,
        &["--to-model", "iPhone14,5", "--to-ios", "17.4.1"],
        "17.5",
        "17.4.1",
    );
    assert_refused(&w, &snapshot, &["--to", &mum.name], "17.5", "17.4.1");
    // Same family too: the version gate is not about the kind of device.
    assert_refused(
        &w,
        &snapshot,
        &["--to-model", "iPad13,1", "--to-ios", "17.4"],
        "17.5",
        "17.4",
    );
}

#[test]
fn ios_versions_compare_numerically_per_component() {
    let (w, h) = household(&[IPAD, MUM]);
    let (ipad, mum) = (latest(&h.devices[IPAD].name), latest(&h.devices[MUM].name));
    // 17.5 == 17.5 == 17.5.0.
    for ios in ["17.5", "17.5.0"] {
        assert_allowed(&w, &ipad, &["--to-model", "iPad13,1", "--to-ios", ios]);
        assert_allowed(&w, &ipad, &["--to-model", "iPhone15,2", "--to-ios", ios]);
    }
    // 17.4.1 onto 17.5, and onto 17.10 (newer, though "17.10" < "17.5" as strings).
    assert_allowed(&w, &mum, &["--to-model", "iPhone15,2", "--to-ios", "17.5"]);
    assert_allowed(&w, &mum, &["--to-model", "iPhone15,2", "--to-ios", "17.10"]);
    assert_allowed(&w, &mum, &["--to-model", "iPhone15,2", "--to-ios", "18"]);
    // 17.5 onto 17.10 is fine, onto 17.4.9 is not.
    assert_allowed(&w, &ipad, &["--to-model", "iPad13,1", "--to-ios", "17.10"]);
    assert_refused(
        &w,
        &ipad,
        &["--to-model", "iPad13,1", "--to-ios", "17.4.9"],
        "17.5",
        "17.4.9",
    );
}

#[test]
fn ios_17_10_is_newer_than_17_9() {
    let (w, h) = household_with(&[DAD, MUM], |h| {
        set_ios_version(&h.devices[DAD].folder, "17.10", "21Z10").unwrap();
        set_ios_version(&h.devices[MUM].folder, "17.9", "21Z9").unwrap();
    });
    let (dad, mum) = (&h.devices[DAD], &h.devices[MUM]);
    assert_refused(
        &w,
        &latest(&dad.name),
        &["--to", &mum.name],
        "17.10",
        "17.9",
    );
    let plan = assert_allowed(&w, &latest(&mum.name), &["--to", &dad.name]);
    assert_eq!(plan["target"]["ios_version"], "17.10");
    assert_eq!(plan["source"]["ios_version"], "17.9");
    let image = restore_image(
        &w,
        &latest(&mum.name),
        "restored",
        &["--to", &dad.name],
        &mum.udid,
    );
    assert_eq!(digest(&image), digest(&mum.folder));
}

// ------------------------------------------------------------------------------------------
// The target profile

#[test]
fn to_a_household_device_uses_its_latest_snapshot() {
    // Dad's iPhone is first backed up on iOS 17.4: too old for the iPad's 17.5 backup.
    let (w, h) = household_with(&[IPAD, DAD], |h| {
        set_ios_version(&h.devices[DAD].folder, "17.4", "21E219").unwrap()
    });
    let (ipad, dad) = (&h.devices[IPAD], &h.devices[DAD]);
    let snapshot = latest(&ipad.name);
    assert_refused(&w, &snapshot, &["--to", &dad.name], "17.5", "17.4");
    // Then updated to 17.6 and backed up again: the latest snapshot is the profile.
    set_ios_version(&dad.folder, "17.6", "21G80").unwrap();
    backup(&w, &h, &[DAD]);
    for to in [dad.name.as_str(), dad.udid.as_str()] {
        let plan = assert_allowed(&w, &snapshot, &["--to", to]);
        let t = &plan["target"];
        assert_eq!(
            (
                &t["name"],
                &t["product_type"],
                &t["ios_version"],
                &t["family"]
            ),
            (
                &Json::from(dad.name.as_str()),
                &Json::from("iPhone14,5"),
                &Json::from("17.6"),
                &Json::from("iPhone")
            ),
            "{t:#}"
        );
    }
}

#[test]
fn target_flags_are_checked() {
    let (w, h) = household(&[IPAD]);
    let snapshot = latest(&h.devices[IPAD].name);
    let out = w.path("out");
    for args in [
        vec!["--to-model", "iPhone14,5"],
        vec!["--to-ios", "17.5"],
        vec![
            "--to",
            "Family iPad",
            "--to-model",
            "iPhone14,5",
            "--to-ios",
            "18.0",
        ],
    ] {
        let mut all = vec!["--out", s(&out)];
        all.extend(args.iter().copied());
        let o = restore(&w, false, &snapshot, &all);
        assert_eq!(
            o.status.code(),
            Some(2),
            "usage error for {args:?}: {}",
            describe(&o)
        );
    }
    let o = restore(
        &w,
        false,
        &snapshot,
        &["--out", s(&out), "--to", "Grandpa's iPhone"],
    );
    assert!(
        matches!(o.status.code(), Some(1 | 2)),
        "an unknown device fails: {}",
        describe(&o)
    );
    assert!(stderr(&o).contains("Grandpa's iPhone"), "{}", describe(&o));
    assert!(!out.exists());
}

// ------------------------------------------------------------------------------------------
// Encrypted source

#[test]
fn an_encrypted_ipad_restored_onto_an_iphone_is_encrypted_and_reads_back() {
    let w = World::with_repo();
    let spec = HouseholdSpec::tiny_cross().encrypt_device(IPAD, IOS_PASSWORD);
    let (h, twin) = generate_with_twin(&spec, &w.path("house")).unwrap();
    let (ipad, dad) = (&h.devices[IPAD], &h.devices[DAD]);
    assert!(ipad.encrypted);
    let mut cmd = w.cmd(&["backup", s(&ipad.folder), s(&dad.folder)]);
    cmd.env("HEARTH_IOS_PASSWORD", IOS_PASSWORD);
    let o = cmd.output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));

    let src = Source::read(&twin.devices[IPAD].folder).twin_of(&h.devices[IPAD].folder);
    let expect = src.expect("iPhone");
    assert!(
        src.files().any(|r| r.domain == "HealthDomain"),
        "encrypted backups hold Health data"
    );
    let snapshot = latest(&ipad.name);
    let plan = dry_run(&w, &snapshot, &["--to", &dad.name], 0);
    assert_plan(&plan, &src, &expect);
    assert_kept(&plan, &src, &expect);
    let image = restore_image(&w, &snapshot, "restored", &["--to", &dad.name], &ipad.udid);
    let rows = encrypted_image_rows(&image, &ipad.folder, IOS_PASSWORD);
    assert!(
        domains(&rows).contains("HealthDomain"),
        "Health data is kept"
    );
    assert_image(&image, rows.clone(), &src, &expect, Some(&ipad.folder));

    let Some(python) = python() else { return };
    let kept: BTreeSet<String> = rows
        .iter()
        .filter(|r| r.kind() == EntryKind::File)
        .map(|r| r.file_id.clone())
        .collect();
    let expected: BTreeSet<String> = src
        .files()
        .filter(|r| !expect.skipped.contains_key(&key(r)))
        .map(|r| r.file_id.clone())
        .collect();
    assert_eq!(kept, expected);
    assert_verified_exactly(
        &python,
        &image,
        IOS_PASSWORD,
        &twin.devices[IPAD].folder,
        &expected,
    );
    // And so no skipped file is there for the reader.
    assert!(
        expect
            .skipped_files(&src)
            .iter()
            .all(|r| !expected.contains(&r.file_id))
    );
}

// ------------------------------------------------------------------------------------------
// Capacity

/// The iPad onto another iPad (nothing skipped by Apple's rules), with its category sizes.
struct FitSetup {
    w: World,
    h: Household,
    src: Source,
    total: u64,
    categories: BTreeMap<&'static str, (u64, u64)>,
}

const IPAD_TARGET: [&str; 4] = ["--to-model", "iPad14,1", "--to-ios", "17.5"];
const FIT_ORDER: [&str; 5] = [
    "videos",
    "photos",
    "message-attachments",
    "voice-memos",
    "app-data",
];

fn fit_setup() -> FitSetup {
    let (w, h) = household(&[IPAD]);
    let src = Source::read(&h.devices[IPAD].folder);
    let categories = src.categories(&src.expect("iPad"));
    for c in FIT_ORDER {
        assert!(
            categories.get(c).is_some_and(|&(n, b)| n > 0 && b > 0),
            "{c}: {categories:?}"
        );
    }
    let videos = src
        .files()
        .filter(|r| Source::category(r) == Some("videos"))
        .map(|r| r.relative_path.rsplit('.').next().unwrap().to_owned())
        .collect::<BTreeSet<_>>();
    assert_eq!(
        videos,
        BTreeSet::from(["MOV".into(), "MP4".into(), "m4v".into()])
    );
    let total = src.file_bytes();
    FitSetup {
        w,
        h,
        src,
        total,
        categories,
    }
}

impl FitSetup {
    fn snapshot(&self) -> String {
        latest(&self.h.devices[IPAD].name)
    }

    fn args<'a>(&self, capacity: &'a str, fit: bool) -> Vec<&'a str> {
        let mut a: Vec<&str> = IPAD_TARGET.to_vec();
        a.extend(["--to-capacity", capacity]);
        if fit {
            a.push("--fit");
        }
        a
    }

    fn bytes(&self, category: &str) -> u64 {
        self.categories[category].1
    }
}

#[test]
fn a_plan_over_capacity_is_refused_with_a_breakdown() {
    let f = fit_setup();
    let snapshot = f.snapshot();
    let over = (f.total - 1).to_string();
    let out = f.w.path("out");
    let mut args = f.args(&over, false);
    args.extend(["--out", s(&out)]);
    let o = restore(&f.w, false, &snapshot, &args);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let err = stderr(&o);
    for c in FIT_ORDER {
        assert!(err.contains(c), "the breakdown names {c}:\n{err}");
    }
    assert!(!out.exists(), "nothing written");

    let plan = dry_run(&f.w, &snapshot, &f.args(&over, false), 1);
    assert!(plan["refused"].is_string(), "{plan:#}");
    let fit = &plan["fit"];
    assert_eq!(fit["capacity"].as_u64(), Some(f.total - 1), "{fit:#}");
    assert_eq!(fit["needed"].as_u64(), Some(f.total), "{fit:#}");
    assert_eq!(fit["dropped"], serde_json::json!([]), "{fit:#}");

    // Exactly the capacity fits; sizes take units.
    let exact = f.total.to_string();
    let plan = dry_run(&f.w, &snapshot, &f.args(&exact, false), 0);
    assert_plan(&plan, &f.src, &f.src.expect("iPad"));
    assert_kept(&plan, &f.src, &f.src.expect("iPad"));
    assert_eq!(plan["fit"]["capacity"].as_u64(), Some(f.total));
    assert_eq!(plan["fit"]["dropped"], serde_json::json!([]));
    let plan = dry_run(&f.w, &snapshot, &f.args("1GB", false), 0);
    assert_eq!(plan["fit"]["capacity"].as_u64(), Some(1_000_000_000));
    let plan = dry_run(&f.w, &snapshot, &f.args("2GiB", false), 0);
    assert_eq!(plan["fit"]["capacity"].as_u64(), Some(2 << 30));
    let plan = dry_run(&f.w, &snapshot, &f.args("64KiB", false), 1);
    assert_eq!(plan["fit"]["capacity"].as_u64(), Some(65_536));
    let plan = dry_run(&f.w, &snapshot, &f.args("1MB", false), 1);
    assert_eq!(plan["fit"]["capacity"].as_u64(), Some(1_000_000));
    assert!(f.total > 1_000_000, "{}", f.total);
}

#[test]
fn fit_drops_whole_categories_in_order_until_the_image_fits() {
    let f = fit_setup();
    let snapshot = f.snapshot();
    for n in 1..=3 {
        let dropped = &FIT_ORDER[..n];
        let freed: u64 = dropped.iter().map(|c| f.bytes(c)).sum();
        let capacity = (f.total - freed).to_string();
        let plan = dry_run(&f.w, &snapshot, &f.args(&capacity, true), 0);
        let mut expect = f.src.expect("iPad");
        for c in dropped {
            expect.drop_category(&f.src, c);
        }
        assert_plan(&plan, &f.src, &expect);
        assert_kept(&plan, &f.src, &expect);
        let fit = &plan["fit"];
        assert_eq!(fit["capacity"].as_u64(), Some(f.total - freed), "{fit:#}");
        let needed = fit["needed"].as_u64();
        assert!(
            needed == Some(f.total) || needed == Some(f.total - freed),
            "needed: {fit:#}"
        );
        let want: Vec<Json> = dropped
            .iter()
            .map(|c| serde_json::json!({"category": c, "files": f.categories[c].0, "bytes": f.bytes(c)}))
            .collect();
        assert_eq!(fit["dropped"], Json::Array(want), "{fit:#}");
        assert_eq!(plan["kept"]["device_bytes"].as_u64(), Some(f.total - freed));
    }

    // The real restore: the drops are reported, and the image lacks them.
    let freed = f.bytes("videos") + f.bytes("photos");
    let capacity = (f.total - freed + 1).to_string();
    let mut args = f.args(&capacity, true);
    let out = f.w.path("restored");
    args.extend(["--out", s(&out)]);
    let o = restore(&f.w, false, &snapshot, &args);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let err = stderr(&o);
    assert!(
        err.contains("videos") && err.contains("photos"),
        "reports each drop:\n{err}"
    );
    let image = out.join(&f.h.devices[IPAD].udid);
    let mut expect = f.src.expect("iPad");
    expect.drop_category(&f.src, "videos");
    expect.drop_category(&f.src, "photos");
    assert_image(&image, image_rows(&image), &f.src, &expect, None);
}

#[test]
fn fit_refuses_when_dropping_every_category_is_not_enough() {
    let f = fit_setup();
    let snapshot = f.snapshot();
    let all: u64 = FIT_ORDER.iter().map(|c| f.bytes(c)).sum();
    assert!(f.total - all > 10_000, "sms.db and the rest stay");
    let capacity = "10000";
    let out = f.w.path("out");
    let mut args = f.args(capacity, true);
    args.extend(["--out", s(&out)]);
    let o = restore(&f.w, false, &snapshot, &args);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    assert!(!out.exists(), "nothing written");
    let plan = dry_run(&f.w, &snapshot, &f.args(capacity, true), 1);
    assert!(plan["refused"].is_string(), "{plan:#}");
    assert_eq!(plan["fit"]["capacity"].as_u64(), Some(10_000));
}
