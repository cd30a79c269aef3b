//! `PlanOptions::decrypt` on an encrypted backup that ingest stored: the image is the backup's
//! plaintext as an unencrypted backup of the same content holds it. The test kit's plaintext
//! twin of the device is that backup (the same blobs decrypted, the same Manifest.db rows
//! but for `EncryptionKey`), so the image is checked against it byte for byte: every blob,
//! every Manifest.db row's MBFile, and Manifest.plist but for the keys only encryption adds.
//! An unfinished restore of one kind is never finished as the other.

use hearth_crypto::KdfParams;
use hearth_format::entry::SIZE_ABSENT;
use hearth_format::{DeviceIdentity, Snapshot};
use hearth_ingest::{IngestOptions, IosPasswords, backup_device};
use hearth_mobilesync::{
    INFO_PLIST, MANIFEST_DB, MANIFEST_PLIST, ManifestDb, MbFile, RawRow, SQLITE_MAGIC,
    STATUS_PLIST, read_plist_dictionary,
};
use hearth_repo::{NoProgress, Progress, RepoOptions, Repository};
use hearth_restore::{Decryption, PlanOptions, RestoreError, RestorePlan, execute, plan_restore};
use hearth_storage::{Backend, LocalBackend};
use hearth_testkit::{FileDigest, GeneratedDevice, HouseholdSpec, generate_with_twin, tree_digest};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const PASSWORD: &str = "correct horse";

#[derive(Debug)]
struct Password;

impl IosPasswords for Password {
    fn password(&self, _: &DeviceIdentity) -> Option<String> {
        Some(PASSWORD.to_owned())
    }
}

fn options(dir: &Path) -> RepoOptions {
    RepoOptions {
        kdf: KdfParams {
            memory_kib: 64,
            time: 1,
            parallelism: 1,
        },
        cache_root: Some(dir.join("cache")),
        lock_times: Default::default(),
    }
}

/// An encrypted device and its plaintext twin, the device backed up into a new repository.
struct Stored {
    dir: tempfile::TempDir,
    repo: Repository,
    device: GeneratedDevice,
    twin: GeneratedDevice,
    snapshot: Snapshot,
}

fn stored() -> Stored {
    stored_with(|_| {})
}

/// [`stored`], the device folder spoilt by `damage` before it is backed up.
fn stored_with(damage: impl FnOnce(&Path)) -> Stored {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = HouseholdSpec::tiny_mixed(PASSWORD);
    spec.devices.truncate(1);
    let (h, twin) = generate_with_twin(&spec, &dir.path().join("house")).unwrap();
    damage(&h.devices[0].folder);
    let local: Arc<dyn Backend> = Arc::new(LocalBackend::create(&dir.path().join("r")).unwrap());
    let repo = Repository::init(local, b"pw", &options(dir.path())).unwrap();
    let lock = repo
        .lock_shared(std::time::Duration::ZERO, &|_| {})
        .unwrap();
    let session = repo.write_session(&lock).unwrap();
    let ingest = IngestOptions {
        ios_passwords: Some(Arc::new(Password)),
        ..IngestOptions::default()
    };
    let device = h.devices[0].clone();
    assert!(device.encrypted);
    backup_device(&repo, &session, &device.folder, &ingest, &NoProgress).unwrap();
    session.finish().unwrap();
    drop(lock);
    let (_, snapshot) = repo.snapshots().unwrap().pop().unwrap();
    Stored {
        dir,
        repo,
        device,
        twin: twin.devices[0].clone(),
        snapshot,
    }
}

impl Stored {
    fn plan(&self, decrypt: bool) -> RestorePlan {
        let options = PlanOptions {
            decrypt,
            ..PlanOptions::default()
        };
        plan_restore(&self.repo, &self.snapshot, &options).unwrap()
    }

    fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// The blobs of a device folder (`xx/<fileID>`), by path.
fn blobs(folder: &Path) -> BTreeMap<String, FileDigest> {
    let mut all = tree_digest(folder).unwrap();
    all.retain(|path, _| path.contains('/'));
    all
}

fn rows(folder: &Path) -> Vec<RawRow> {
    let bytes = std::fs::read(folder.join(MANIFEST_DB)).unwrap();
    assert!(bytes.starts_with(SQLITE_MAGIC), "a plaintext Manifest.db");
    let db = ManifestDb::from_plaintext(bytes, MANIFEST_DB.as_ref()).unwrap();
    db.raw_rows().unwrap()
}

#[test]
fn an_encrypted_backup_restores_as_the_plaintext_backup_of_the_same_content() {
    let s = stored();
    let plan = s.plan(true);
    assert_eq!(plan.decryption, Decryption::Decrypted);
    assert!(plan.keybag.is_none(), "no key is needed to write plaintext");
    assert!(plan.skipped.is_empty());
    let report = execute(&s.repo, &plan, &s.out("out"), &NoProgress).unwrap();
    assert!(report.damaged.is_empty());
    let image = report.folder.clone();
    assert_eq!(image, s.out("out").join(&s.device.udid));
    let notice = report.notice.unwrap();
    assert!(
        notice.contains(&image.display().to_string()) && notice.contains("Health"),
        "{notice}"
    );

    // Every blob is the plaintext, as the twin holds it.
    assert_eq!(blobs(&image), blobs(&s.twin.folder));
    // Manifest.db in the clear, its rows those of the twin: every MBFile without its key,
    // byte for byte (ProtectionClass and Size kept).
    let (restored, twin) = (rows(&image), rows(&s.twin.folder));
    assert_eq!(restored.len(), twin.len());
    for (r, t) in restored.iter().zip(&twin) {
        assert_eq!(
            (&r.file_id, &r.domain, &r.relative_path, r.flags),
            (&t.file_id, &t.domain, &t.relative_path, t.flags)
        );
        assert!(
            r.file == t.file,
            "{}/{}: the MBFile",
            r.domain,
            r.relative_path
        );
    }
    let keyed = |rows: &[RawRow]| {
        rows.iter()
            .filter(|r| {
                let f = MbFile::decode(r.file.as_deref().unwrap()).unwrap();
                f.encryption_key.is_some() || (r.flags == 1 && f.protection_class.is_none())
            })
            .count()
    };
    assert_eq!(keyed(&restored), 0, "no key left, every file's class kept");

    // Manifest.plist: binary as it was, not encrypted, without the keybag or ManifestKey.
    let manifest = std::fs::read(image.join(MANIFEST_PLIST)).unwrap();
    let source = std::fs::read(s.device.folder.join(MANIFEST_PLIST)).unwrap();
    assert_eq!(
        manifest.starts_with(b"bplist00"),
        source.starts_with(b"bplist00")
    );
    let manifest = read_plist_dictionary(&image.join(MANIFEST_PLIST)).unwrap();
    assert_eq!(
        manifest.get("IsEncrypted"),
        Some(&plist::Value::Boolean(false))
    );
    assert!(!manifest.contains_key("BackupKeyBag") && !manifest.contains_key("ManifestKey"));
    let mut expected = read_plist_dictionary(&s.device.folder.join(MANIFEST_PLIST)).unwrap();
    expected.retain(|k, _| k != "BackupKeyBag" && k != "ManifestKey");
    expected.insert("IsEncrypted".into(), plist::Value::Boolean(false));
    assert_eq!(manifest, expected, "every other key as it was");

    // Info.plist and Status.plist as they are.
    let source = tree_digest(&s.device.folder).unwrap();
    let restored = tree_digest(&image).unwrap();
    for name in [INFO_PLIST, STATUS_PLIST] {
        assert_eq!(restored[name], source[name], "{name}");
    }
    assert_eq!(restored.len(), source.len(), "no file more or less");
}

/// Panics once, in the middle of a restore: a restore killed there, its marker left.
struct Interrupt {
    after: std::sync::atomic::AtomicU64,
    done: AtomicBool,
}

impl Progress for Interrupt {
    fn advance(&self, _: u64) {
        if self.after.fetch_sub(1, Ordering::AcqRel) == 1 && !self.done.swap(true, Ordering::AcqRel)
        {
            panic!("interrupted on purpose");
        }
    }
}

fn interrupted(s: &Stored, plan: &RestorePlan, out: &Path) {
    let progress = Interrupt {
        after: 20.into(),
        done: AtomicBool::new(false),
    };
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        execute(&s.repo, plan, out, &progress)
    }));
    assert!(run.is_err(), "the restore was interrupted");
    let folder = out.join(&plan.folder_name);
    assert!(!folder.join(STATUS_PLIST).exists(), "unfinished");
}

#[test]
fn an_unfinished_restore_is_finished_only_as_what_it_was_begun_as() {
    let s = stored();
    let (plain, decrypted) = (s.plan(false), s.plan(true));
    for (first, second) in [(&plain, &decrypted), (&decrypted, &plain)] {
        let out = s.out(if first.decrypts() {
            "began-decrypted"
        } else {
            "began-encrypted"
        });
        interrupted(&s, first, &out);
        let other = execute(&s.repo, second, &out, &NoProgress).unwrap_err();
        assert!(
            matches!(other, RestoreError::OtherUnfinished { .. }),
            "{other}"
        );
        let report = execute(&s.repo, first, &out, &NoProgress).unwrap();
        assert!(report.resumed > 0, "the files written whole are kept");
        let image = tree_digest(&report.folder).unwrap();
        if first.decrypts() {
            assert_eq!(blobs(&report.folder), blobs(&s.twin.folder));
        } else {
            assert_eq!(image, tree_digest(&s.device.folder).unwrap(), "byte-exact");
        }
    }
}

/// A row whose MBFile has no Size (some writers leave it out) is decrypted by its padding;
/// the image's Manifest.db records the length of the plaintext written.
#[test]
fn a_file_without_a_size_gets_the_size_of_its_plaintext() {
    let s = stored_with(|folder| {
        hearth_testkit::damage::drop_size(folder, PASSWORD, "HomeDomain", "Library/SMS/sms.db")
            .unwrap()
    });
    let id = hearth_mobilesync::FileId::for_path("HomeDomain", "Library/SMS/sms.db");
    let entry = (s.repo.entries(&s.snapshot).map(Result::unwrap))
        .find(|e| e.row.as_ref().is_some_and(|r| r.file_id == id.as_str()))
        .unwrap();
    assert_eq!(entry.row.unwrap().recorded_size, SIZE_ABSENT, "no Size");
    assert!(
        entry.content.unwrap().cipher.is_some(),
        "decrypted all the same"
    );
    let plan = s.plan(true);
    let report = execute(&s.repo, &plan, &s.out("out"), &NoProgress).unwrap();
    assert!(report.damaged.is_empty());
    let blob = report.folder.join(id.blob_path());
    let written = std::fs::metadata(&blob).unwrap().len();
    assert_eq!(
        std::fs::read(&blob).unwrap(),
        std::fs::read(s.twin.folder.join(id.blob_path())).unwrap()
    );
    let row = |folder: &Path| {
        let r = rows(folder)
            .into_iter()
            .find(|r| r.file_id == id.as_str())
            .unwrap();
        MbFile::decode(r.file.as_deref().unwrap()).unwrap()
    };
    let (restored, twin) = (row(&report.folder), row(&s.twin.folder));
    assert_eq!(restored.size, Some(written));
    assert_eq!(restored, twin, "the twin's record, Size and all");
}
