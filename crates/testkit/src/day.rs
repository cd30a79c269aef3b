//! One night in the life of a household: edit the device folders in place the way an
//! incremental Finder backup rewrites them.
//!
//! Per device, a [`DayPlan`] (pure: which rows change, from Manifest.db and a seed) is carried
//! out as: new photos and thumbnails; a few hundred rows inserted and updated inside the big
//! SQLite databases (opened at their blob with a rollback journal, so no `-wal`/`-journal`
//! remains); small files rewritten; cache files deleted; each touched row's MBFile rewritten
//! (Size, LastModified); then Status.plist, Info.plist and Manifest.plist re-dated.
//!
//! On an encrypted device every file (Manifest.db included) is decrypted into a scratch folder
//! outside the device folder, edited there and encrypted back under the key it had; new files
//! get new random keys from a seed stream of their own, so a device and its plaintext twin
//! ([`crate::generate_twin`]) stay twins night after night.
//!
//! Invariants after `next_day`: every `flags = 1` row has a blob of exactly its `Size` (padded to
//! whole AES blocks when encrypted), no blob
//! lacks a row, and every changed blob's mtime is the night's backup time (later than any
//! earlier night's), so a size+mtime scan notices it.

use std::collections::BTreeSet;
use std::path::Path;

use hearth_mobilesync::{FileId, INFO_PLIST, MANIFEST_DB, MANIFEST_PLIST, MbFile, STATUS_PLIST};
use rand::RngExt;
use rusqlite::{Connection, params};

use crate::content::apps::WHATSAPP;
use crate::content::databases::misc::{self, SmallDb};
use crate::content::databases::photos::Asset;
use crate::content::databases::{self, RowEdits, photos, sms, whatsapp};
use crate::content::{Rng, Seeds, small};
use crate::crypt::{self, Sealer};
use crate::device::camera::{self, MediaSource};
use crate::device::writer::{CLASS_DEFAULT, CLASS_NONE, MODE_DIR, MODE_FILE, blob_path, metadata};
use crate::device::{apps, backup_time, home, metadata as plists};
use crate::error::{Context, Error};
use crate::household::{GeneratedDevice, Household};
use crate::tree::set_mtime;

/// How much a night changes.
#[derive(Debug, Clone, PartialEq)]
pub struct DayOptions {
    /// Mixed with the day number and each UDID; the same options on the same folders give the
    /// same bytes.
    pub seed: u64,
    /// Share of each device's regular files changed, added or deleted (0.02 = 2%).
    pub changed_fraction: f64,
    /// Rows inserted into sms.db and ChatStorage.sqlite each (half as many more are updated).
    pub db_rows: usize,
}

impl Default for DayOptions {
    fn default() -> Self {
        DayOptions {
            seed: 0,
            changed_fraction: 0.02,
            db_rows: 200,
        }
    }
}

/// What one night changed, per device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayChanges {
    pub day: u32,
    pub devices: Vec<DeviceChanges>,
}

/// What one night changed on one device.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceChanges {
    pub udid: String,
    /// Regular-file rows before the night.
    pub files_before: usize,
    /// Files whose bytes changed (databases included).
    pub modified: Vec<ChangedFile>,
    /// New files (photos, thumbnails).
    pub added: Vec<ChangedFile>,
    /// Files removed with their rows (their `size` is the size they had).
    pub deleted: Vec<ChangedFile>,
    /// Rows inserted into and updated in the device's SQLite databases.
    pub rows_inserted: usize,
    pub rows_updated: usize,
    /// Bytes of the modified and added files as they now are.
    pub bytes_written: u64,
}

/// One file a night touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedFile {
    pub domain: String,
    pub relative_path: String,
    pub file_id: String,
    pub size: u64,
}

impl DeviceChanges {
    /// Files modified, added or deleted.
    pub fn changed_files(&self) -> usize {
        self.modified.len() + self.added.len() + self.deleted.len()
    }
}

impl DayChanges {
    pub fn changed_files(&self) -> usize {
        self.devices.iter().map(DeviceChanges::changed_files).sum()
    }

    pub fn bytes_written(&self) -> u64 {
        self.devices.iter().map(|d| d.bytes_written).sum()
    }
}

/// Applies night `day` (1, 2, …) to every device folder of `household`, devices in parallel.
/// Call with increasing days: each night's mtimes are later than the previous night's.
/// Encrypted devices need their keys ([`GeneratedDevice::keys`]); without them this fails with
/// [`Error::Locked`] before any folder is touched.
pub fn next_day(
    household: &Household,
    day: u32,
    options: &DayOptions,
) -> Result<DayChanges, Error> {
    if let Some(d) = household
        .devices
        .iter()
        .find(|d| d.encrypted && d.keys.is_none())
    {
        return Err(Error::Locked {
            path: d.folder.clone(),
        });
    }
    let devices = std::thread::scope(|s| {
        let handles: Vec<_> = household
            .devices
            .iter()
            .enumerate()
            .map(|(i, d)| s.spawn(move || device_night(d, backup_time(i, day), day, options)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a device editor panicked"))
            .collect::<Result<Vec<_>, Error>>()
    })?;
    Ok(DayChanges { day, devices })
}

/// One `Files` row, with its MBFile decoded.
#[derive(Debug, Clone)]
struct Row {
    file_id: String,
    domain: String,
    path: String,
    flags: i64,
    file: MbFile,
}

impl Row {
    fn size(&self) -> u64 {
        self.file.size.unwrap_or(0)
    }

    fn encryption_key(&self) -> Option<&[u8]> {
        self.file.encryption_key.as_deref()
    }

    fn changed(&self) -> ChangedFile {
        ChangedFile {
            domain: self.domain.clone(),
            relative_path: self.path.clone(),
            file_id: self.file_id.clone(),
            size: self.size(),
        }
    }
}

/// A database edited in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DbEdit {
    Sms,
    ChatStorage,
    Photos,
    Small(SmallDb),
}

/// Which rows a night touches: indexes into the device's rows. Pure data.
#[derive(Debug, Default)]
struct DayPlan {
    databases: Vec<(usize, DbEdit)>,
    new_photos: usize,
    rewrites: Vec<usize>,
    deletes: Vec<usize>,
}

fn device_night(
    device: &GeneratedDevice,
    now: i64,
    day: u32,
    options: &DayOptions,
) -> Result<DeviceChanges, Error> {
    let folder = &device.folder;
    let seeds = Seeds::new(options.seed)
        .label("day")
        .child(u64::from(day))
        .label(&device.udid);
    let sealer = Sealer::new(device.keys.as_ref())?;
    let manifest_key = match device.keys {
        Some(_) => crypt::manifest_key(folder)?,
        None => None,
    };
    let db_path = folder.join(MANIFEST_DB);
    let (changes, _) = sealer.edit(&db_path, manifest_key.as_deref(), |db_path| {
        let start = NightStart {
            device,
            sealer: &sealer,
            db_path,
            now,
            seeds,
        };
        start.edit_manifest(options)
    })?;
    redate(folder, &mut seeds.label("status").rng(), now)?;
    Ok(changes)
}

fn load_rows(db: &Connection, path: &Path) -> Result<Vec<Row>, Error> {
    let mut stmt = db
        .prepare("SELECT fileID, domain, relativePath, flags, file FROM Files ORDER BY rowid")
        .at(path)?;
    let raw = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get::<_, Vec<u8>>(4)?,
            ))
        })
        .at(path)?
        .collect::<Result<Vec<(String, String, String, i64, Vec<u8>)>, _>>()
        .at(path)?;
    raw.into_iter()
        .map(|(file_id, domain, path_, flags, blob)| {
            let file = MbFile::decode(&blob).map_err(|e| Error::NotGenerated {
                path: path.to_path_buf(),
                reason: format!("row {file_id}: {e}"),
            })?;
            Ok(Row {
                file_id,
                domain,
                path: path_,
                flags,
                file,
            })
        })
        .collect()
}

/// Decides the night's edits: the big databases always (when present), about one new photo per
/// ten changes, one deletion per twenty, call and Safari history, then small-file rewrites up to
/// `fraction` of the regular files.
fn plan(rows: &[Row], fraction: f64, rng: &mut Rng) -> DayPlan {
    let files = rows.iter().filter(|r| r.flags == 1).count();
    let target = (files as f64 * fraction).round() as usize;
    let mut plan = DayPlan::default();
    if target == 0 {
        return plan;
    }
    let find = |domain: &str, path: &str| {
        rows.iter()
            .position(|r| r.flags == 1 && r.domain == domain && r.path == path)
    };
    let whatsapp_domain = apps::group_domain(&WHATSAPP);
    let mandatory = [
        (home::HOME, home::SMS_DB, DbEdit::Sms),
        (
            whatsapp_domain.as_str(),
            apps::CHAT_STORAGE,
            DbEdit::ChatStorage,
        ),
        (camera::DOMAIN, camera::PHOTOS_DB, DbEdit::Photos),
    ];
    plan.databases = mandatory
        .iter()
        .filter_map(|&(d, p, e)| Some((find(d, p)?, e)))
        .collect();
    if plan.databases.iter().any(|&(_, e)| e == DbEdit::Photos) {
        plan.new_photos = (target / 10).max(1);
    }
    let mut budget = target.saturating_sub(plan.databases.len() + 2 * plan.new_photos);
    let caches: Vec<usize> = (0..rows.len()).filter(|&i| is_cache(&rows[i])).collect();
    plan.deletes = pick(rng, &caches, (target / 20).max(1));
    budget = budget.saturating_sub(plan.deletes.len());
    for (path, kind) in [
        (home::CALL_HISTORY, SmallDb::CallHistory),
        (home::SAFARI_HISTORY, SmallDb::SafariHistory),
    ] {
        if let Some(i) = find(home::HOME, path).filter(|_| budget > 0) {
            plan.databases.push((i, DbEdit::Small(kind)));
            budget -= 1;
        }
    }
    let deleted: BTreeSet<usize> = plan.deletes.iter().copied().collect();
    let small: Vec<usize> = (0..rows.len())
        .filter(|i| is_rewritable(&rows[*i]) && !deleted.contains(i))
        .collect();
    plan.rewrites = pick(rng, &small, budget);
    plan
}

fn pick(rng: &mut Rng, from: &[usize], n: usize) -> Vec<usize> {
    let mut chosen: Vec<usize> = rand::seq::index::sample(rng, from.len(), n.min(from.len()))
        .into_iter()
        .map(|i| from[i])
        .collect();
    chosen.sort_unstable();
    chosen
}

fn is_cache(r: &Row) -> bool {
    r.flags == 1
        && (r.domain.starts_with("AppDomain-") || r.domain == home::HOME)
        && r.path.starts_with("Library/Caches/")
}

const DB_EXTENSIONS: &[&str] = &[".sqlite", ".db", ".sqlitedb", ".storedata"];

/// Small non-database files outside the camera roll and media.
fn is_rewritable(r: &Row) -> bool {
    r.flags == 1
        && r.size() <= 256 * 1024
        && r.domain != camera::DOMAIN
        && r.domain != home::MEDIA
        && !DB_EXTENSIONS.iter().any(|ext| r.path.ends_with(ext))
}

/// What one device's night starts from.
struct NightStart<'a> {
    device: &'a GeneratedDevice,
    sealer: &'a Sealer,
    /// Manifest.db, or its plaintext when the device is encrypted.
    db_path: &'a Path,
    now: i64,
    seeds: Seeds,
}

impl NightStart<'_> {
    /// Plans and carries out the night in one transaction on Manifest.db.
    fn edit_manifest(self, options: &DayOptions) -> Result<DeviceChanges, Error> {
        let db_path = self.db_path;
        let manifest = databases::open_for_edit(db_path)?;
        let rows = load_rows(&manifest, db_path)?;
        let seeds = self.seeds;
        let plan = plan(
            &rows,
            options.changed_fraction,
            &mut seeds.label("plan").rng(),
        );
        let mut night = Night {
            folder: &self.device.folder,
            db: &manifest,
            db_path,
            rows: &rows,
            now: self.now,
            rng: seeds.label("edits").rng(),
            keys: seeds.label("keys").rng(),
            sealer: self.sealer,
            seeds,
            changes: DeviceChanges {
                udid: self.device.udid.clone(),
                files_before: rows.iter().filter(|r| r.flags == 1).count(),
                ..DeviceChanges::default()
            },
        };
        let tx = manifest.unchecked_transaction().at(db_path)?;
        night.carry_out(&plan, options.db_rows)?;
        tx.commit().at(db_path)?;
        let changes = night.changes;
        databases::close(manifest, db_path)?;
        Ok(changes)
    }
}

/// The state of one device's night while it is carried out.
struct Night<'a> {
    folder: &'a Path,
    db: &'a Connection,
    db_path: &'a Path,
    rows: &'a [Row],
    now: i64,
    rng: Rng,
    /// Keys of new files on an encrypted device.
    keys: Rng,
    sealer: &'a Sealer,
    seeds: Seeds,
    changes: DeviceChanges,
}

impl Night<'_> {
    fn carry_out(&mut self, plan: &DayPlan, db_rows: usize) -> Result<(), Error> {
        let assets = self.add_photos(plan.new_photos)?;
        for &(i, edit) in &plan.databases {
            self.edit_database(i, edit, db_rows, &assets)?;
        }
        for &i in &plan.rewrites {
            self.rewrite(i)?;
        }
        for &i in &plan.deletes {
            self.delete(i)?;
        }
        Ok(())
    }

    fn blob(&self, row: &Row) -> Result<std::path::PathBuf, Error> {
        blob_path(self.folder, &row.domain, &row.path)
    }

    fn edit_database(
        &mut self,
        i: usize,
        edit: DbEdit,
        db_rows: usize,
        assets: &[Asset],
    ) -> Result<(), Error> {
        let row = &self.rows[i];
        let blob = self.blob(row)?;
        let (rng, now) = (&mut self.rng, self.now);
        let (edits, size) = self.sealer.edit(&blob, row.encryption_key(), |path| {
            let conn = databases::open_for_edit(path)?;
            let edits = match edit {
                DbEdit::Sms => sms::nightly(&conn, rng, db_rows, now),
                DbEdit::ChatStorage => whatsapp::nightly(&conn, rng, db_rows, now),
                DbEdit::Photos => photos::nightly(&conn, rng, db_rows / 2, now, assets),
                DbEdit::Small(kind) => {
                    let n = rng.random_range(3..30);
                    misc::nightly(&conn, kind, rng, n, now)
                }
            }
            .at(path)?;
            databases::close(conn, path)?;
            Ok(edits)
        })?;
        self.count(edits);
        self.touched(i, &blob, size)
    }

    fn count(&mut self, edits: RowEdits) {
        self.changes.rows_inserted += edits.inserted;
        self.changes.rows_updated += edits.updated;
    }

    fn rewrite(&mut self, i: usize) -> Result<(), Error> {
        let row = &self.rows[i];
        let blob = self.blob(row)?;
        let (rng, now) = (&mut self.rng, self.now);
        let ((), size) = self.sealer.edit(&blob, row.encryption_key(), |path| {
            let old = std::fs::read(path).at(path)?;
            let new = small::modify(rng, &row.path, &old, now);
            std::fs::write(path, new).at(path)
        })?;
        self.touched(i, &blob, size)
    }

    /// Records a modified file of plaintext `size`: new Size and dates in its row, blob mtime
    /// set to tonight.
    fn touched(&mut self, i: usize, blob: &Path, size: u64) -> Result<(), Error> {
        let row = &self.rows[i];
        set_mtime(blob, self.now)?;
        let file = MbFile {
            size: Some(size),
            last_modified: Some(self.now),
            last_status_change: Some(self.now),
            ..row.file.clone()
        };
        self.db
            .prepare_cached("UPDATE Files SET file = ?1 WHERE fileID = ?2")
            .and_then(|mut s| s.execute(params![file.encode(), row.file_id]))
            .at(self.db_path)?;
        self.changes.bytes_written += size;
        self.changes.modified.push(ChangedFile {
            size,
            ..row.changed()
        });
        Ok(())
    }

    fn delete(&mut self, i: usize) -> Result<(), Error> {
        let row = &self.rows[i];
        let blob = self.blob(row)?;
        std::fs::remove_file(&blob).at(&blob)?;
        self.db
            .execute("DELETE FROM Files WHERE fileID = ?1", [&row.file_id])
            .at(self.db_path)?;
        self.changes.deleted.push(row.changed());
        Ok(())
    }

    /// Writes `n` new photos after the highest IMG number, each with its thumbnail, and their rows.
    fn add_photos(&mut self, n: usize) -> Result<Vec<Asset>, Error> {
        let last = self.rows.iter().filter_map(img_number).max().unwrap_or(0);
        let avg = self.average_photo_bytes();
        let mut dirs: BTreeSet<(String, String)> = self
            .rows
            .iter()
            .filter(|r| r.flags == 2)
            .map(|r| (r.domain.clone(), r.path.clone()))
            .collect();
        let mut assets = Vec::with_capacity(n);
        for k in 0..n {
            let src = MediaSource::photo(self.seeds.label("photo").child(k as u64), avg);
            let name = camera::file_name(last + 1 + k as u32, src.kind);
            let photo = format!("{}/{name}", camera::DCIM);
            let created = self.now - 3_600;
            let media = self.add_file(&photo, CLASS_NONE, &mut dirs, |blob| {
                src.write(blob, created)
            })?;
            let thumb = src.thumbnail();
            self.add_file(
                &camera::thumbnail_path(&name),
                CLASS_DEFAULT,
                &mut dirs,
                |blob| std::fs::write(blob, &thumb).at(blob),
            )?;
            assets.push(Asset::new(name, src.kind, media, created));
        }
        Ok(assets)
    }

    fn average_photo_bytes(&self) -> u64 {
        let sizes: Vec<u64> = self
            .rows
            .iter()
            .filter(|r| img_number(r).is_some())
            .map(Row::size)
            .collect();
        (sizes.iter().sum::<u64>() / sizes.len().max(1) as u64).max(4_096)
    }

    /// Writes a new camera roll file and inserts its row (and any missing directory rows).
    fn add_file(
        &mut self,
        path: &str,
        class: u32,
        dirs: &mut BTreeSet<(String, String)>,
        write: impl FnOnce(&Path) -> Result<(), Error>,
    ) -> Result<u64, Error> {
        let domain = camera::DOMAIN;
        let blob = blob_path(self.folder, domain, path)?;
        let (size, key) = self.sealer.create(&blob, class, &mut self.keys, write)?;
        set_mtime(&blob, self.now)?;
        let mut parent = path;
        while let Some((p, _)) = parent.rsplit_once('/') {
            if dirs.insert((domain.to_owned(), p.to_owned())) {
                let dir = MbFile {
                    mode: Some(MODE_DIR),
                    protection_class: Some(0),
                    ..metadata(p, self.now, self.now, 0)
                };
                self.insert_row(domain, p, 2, &dir)?;
            }
            parent = p;
        }
        let file = MbFile {
            mode: Some(MODE_FILE),
            protection_class: Some(class),
            encryption_key: key,
            ..metadata(path, self.now, self.now, size)
        };
        let file_id = self.insert_row(domain, path, 1, &file)?;
        self.changes.bytes_written += size;
        let (domain, relative_path) = (domain.to_owned(), path.to_owned());
        self.changes.added.push(ChangedFile {
            domain,
            relative_path,
            file_id,
            size,
        });
        Ok(size)
    }

    fn insert_row(
        &mut self,
        domain: &str,
        path: &str,
        flags: i64,
        file: &MbFile,
    ) -> Result<String, Error> {
        let id = FileId::for_path(domain, path);
        let inode = self.rng.random_range(1_000_000..9_000_000u64);
        let file = MbFile {
            inode_number: Some(inode),
            ..file.clone()
        };
        self.db
            .prepare_cached("INSERT INTO Files (fileID, domain, relativePath, flags, file) VALUES (?1, ?2, ?3, ?4, ?5)")
            .and_then(|mut s| s.execute(params![id.as_str(), domain, path, flags, file.encode()]))
            .at(self.db_path)?;
        Ok(id.as_str().to_owned())
    }
}

/// `1234` for `CameraRollDomain Media/DCIM/100APPLE/IMG_1234.HEIC`.
fn img_number(r: &Row) -> Option<u32> {
    if r.domain != camera::DOMAIN || r.flags != 1 {
        return None;
    }
    let name = r.path.strip_prefix(camera::DCIM)?.strip_prefix("/IMG_")?;
    name.split('.').next()?.parse().ok()
}

/// Status.plist (new UUID, date), Info.plist and Manifest.plist dates, and the mtimes of the
/// four metadata files, all set to the night's backup time.
fn redate(folder: &Path, rng: &mut Rng, now: i64) -> Result<(), Error> {
    plists::write_status(folder, rng, now)?;
    plists::set_backup_date(folder, now)?;
    for name in [MANIFEST_DB, INFO_PLIST, MANIFEST_PLIST, STATUS_PLIST] {
        set_mtime(&folder.join(name), now)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(domain: &str, path: &str, flags: i64, size: u64) -> Row {
        let file = MbFile {
            size: Some(size),
            ..MbFile::default()
        };
        let file_id = FileId::for_path(domain, path).as_str().to_owned();
        let (domain, path) = (domain.to_owned(), path.to_owned());
        Row {
            file_id,
            domain,
            path,
            flags,
            file,
        }
    }

    fn rows() -> Vec<Row> {
        let mut rows = vec![
            row(home::HOME, home::SMS_DB, 1, 100_000),
            row(camera::DOMAIN, camera::PHOTOS_DB, 1, 100_000),
            row(camera::DOMAIN, "Media/DCIM/100APPLE/IMG_0041.HEIC", 1, 10),
            row(camera::DOMAIN, "Media/DCIM/100APPLE", 2, 0),
        ];
        for i in 0..200 {
            rows.push(row(
                "AppDomain-x",
                &format!("Library/Caches/{i}.json"),
                1,
                500,
            ));
        }
        rows
    }

    #[test]
    fn plan_respects_the_fraction_and_never_rewrites_what_it_deletes() {
        let rows = rows();
        let mut rng = Seeds::new(1).rng();
        let p = plan(&rows, 0.1, &mut rng);
        let changed = p.databases.len() + 2 * p.new_photos + p.deletes.len() + p.rewrites.len();
        assert_eq!(changed, 20);
        assert!(p.deletes.iter().all(|d| !p.rewrites.contains(d)));
        assert!(p.rewrites.iter().all(|&i| is_rewritable(&rows[i])));
        let none = plan(&rows, 0.0, &mut rng);
        assert!(none.databases.is_empty() && none.rewrites.is_empty() && none.new_photos == 0);
    }

    #[test]
    fn img_numbers_come_from_camera_roll_files_only() {
        assert_eq!(img_number(&rows()[2]), Some(41));
        assert_eq!(img_number(&rows()[3]), None);
        assert_eq!(
            img_number(&row(home::HOME, "Media/DCIM/100APPLE/IMG_0001.JPG", 1, 1)),
            None
        );
    }
}
