//! `hearth export photos`: the household's camera rolls in one folder, `YYYY/MM/<original
//! name>` by capture date, each photo once however many devices and snapshots hold it.
//!
//! Unlike the other kinds, photos are household-wide: every snapshot asked for feeds one
//! output folder. Snapshots go in batches of a few (each holds its file list in memory), and
//! each batch in stages, the shared state having one writer:
//!
//! 1. scan (parallel): a snapshot's originals, Live Photo videos and edited versions
//!    ([`scan`]), and what Photos.sqlite says of them ([`library`]);
//! 2. claim (serial): each file's content identity ([`state::ContentId`]) is exported by the
//!    first snapshot that holds it, and never when an earlier run exported it;
//! 3. date (parallel): capture dates of the claimed photos ([`date`]), reading a file's
//!    metadata only when Photos.sqlite has no date for it;
//! 4. name (serial): `YYYY/MM/` and a free name for each photo and its companions ([`naming`]);
//! 5. copy (parallel): each file through the span reader, its mtime set to the capture date;
//! 6. record (serial): the state file and the manifests, replaced whole.
//!
//! A file whose stored bytes cannot be read (damage) is left out, named in a warning, and not
//! recorded, so a later run tries it again; a failure to write the output stops the export.

mod catalogue;
mod date;
mod journal;
mod library;
mod manifest;
mod naming;
mod scan;
mod state;

use crate::error::ExportError;
use crate::out::{OutDir, set_mtime};
use crate::report::{ExportReport, SnapshotReport, Tally};
use crate::source::Source;
use crate::time::{local_zone, rfc3339};
pub use catalogue::{PhotoCatalogue, PhotoEntry, household_catalogue, photo_catalogue};
use date::{Capture, DateSource};
use hearth_browse::NodeId;
use hearth_format::{Snapshot, SnapshotId};
use hearth_repo::{Progress, Repository};
use jiff::Timestamp;
use jiff::tz::{Offset, TimeZone};
use journal::Journal;
use library::{DOMAIN, Library};
use manifest::Record;
use naming::{ext_of, free_stem, member_name, original_name, split_ext};
use rayon::prelude::*;
use scan::{Item, Role};
pub use state::ContentId;
use state::State;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;

/// Snapshots scanned and copied at once: each holds its file list (tens of MiB for a big device).
const BATCH: usize = 4;

/// One snapshot's part of the run.
struct Snap<'r> {
    src: Source<'r>,
    library: Library,
    items: Vec<Item<NodeId>>,
    report: SnapshotReport,
    /// Files to write, once claimed.
    jobs: Vec<Job>,
}

/// One item with files to write.
struct Job {
    item: usize,
    /// Members to write (indices into the item's members).
    members: Vec<usize>,
    /// Where the original went in an earlier batch or run, when only companions are new.
    anchor: Option<String>,
    capture: Option<Capture>,
    /// Output path of each member written, in `members` order.
    outs: Vec<String>,
    /// Which members were written.
    done: Vec<bool>,
}

/// Exports the photos and videos of `snapshots` into `out`, each once.
pub(crate) fn export(
    repo: &Repository,
    snapshots: &[(SnapshotId, Snapshot)],
    out: &Path,
    progress: &dyn Progress,
) -> Result<ExportReport, ExportError> {
    let dir = OutDir::create(out)?;
    let mut state = State::load(&dir)?;
    let mut warnings = Vec::new();
    let mut records = manifest::load(&dir, &mut warnings);
    recover(&dir, &mut state, &mut records);
    let journal = Journal::open(&dir)?;
    let zone = local_zone();
    let pool = crate::thread_pool(BATCH.min(snapshots.len()))?;
    let mut claimed: HashSet<ContentId> = HashSet::new();
    let mut reports = Vec::with_capacity(snapshots.len());
    for (b, batch) in snapshots.chunks(BATCH).enumerate() {
        let scanned: Vec<Result<Snap<'_>, Box<SnapshotReport>>> = pool.install(|| {
            batch
                .par_iter()
                .map(|(id, snapshot)| scan_snapshot(repo, *id, snapshot, dir.root()))
                .collect()
        });
        let mut snaps = Vec::with_capacity(scanned.len());
        for s in scanned {
            match s {
                Ok(snap) => snaps.push(snap),
                Err(failed) => reports.push(*failed),
            }
        }
        for snap in &mut snaps {
            claim(snap, &state, &mut claimed);
        }
        pool.install(|| snaps.par_iter_mut().for_each(|s| date_jobs(s, &zone)));
        let mut taken = HashSet::new();
        let mut assigned = HashMap::new();
        for snap in &mut snaps {
            name_jobs(snap, &dir, &zone, &mut taken, &mut assigned);
        }
        let bytes: u64 = snaps.iter().map(job_bytes).sum();
        let phase = format!(
            "export photos ({}-{} of {} snapshots)",
            b * BATCH + 1,
            b * BATCH + batch.len(),
            snapshots.len()
        );
        progress.start(&phase, Some(bytes));
        pool.install(|| {
            snaps
                .par_iter_mut()
                .map(|s| copy_jobs(s, &dir, &journal, progress))
                .collect::<Result<Vec<()>, ExportError>>()
        })?;
        progress.finish();
        for snap in snaps {
            record(snap, &mut state, &mut records, &mut reports);
        }
        state.save(&dir)?;
        manifest::save(&dir, &mut records)?;
        journal.clear()?;
    }
    journal.finish()?;
    if let (Some(first), false) = (reports.first_mut(), warnings.is_empty()) {
        first.tally.warnings.extend(warnings);
    }
    let mut total = Tally::default();
    for r in &reports {
        total.absorb(&r.tally);
    }
    Ok(ExportReport {
        kind: "photos",
        out: out.to_path_buf(),
        total,
        snapshots: reports,
    })
}

/// Stage 1: a snapshot's items and library. A snapshot whose file list cannot be read is its
/// failed report; a Photos.sqlite that cannot be read is a warning (the files' own dates serve).
fn scan_snapshot<'r>(
    repo: &'r Repository,
    id: SnapshotId,
    snapshot: &Snapshot,
    out: &Path,
) -> Result<Snap<'r>, Box<SnapshotReport>> {
    let mut report = SnapshotReport::new(id, snapshot, out.to_path_buf());
    let src = match Source::load(repo, id, snapshot) {
        Ok(src) => src,
        Err(e) => {
            report.fail(&e);
            return Err(Box::new(report));
        }
    };
    let scanned = catalogue::scan(&src);
    if let Some(w) = scanned.warning {
        report.tally.warn(w);
    }
    if scanned.not_in_backup > 0 {
        report.tally.add("not_in_backup", scanned.not_in_backup);
    }
    let (library, items) = (scanned.library, scanned.items);
    Ok(Snap {
        src,
        library,
        items,
        report,
        jobs: Vec::new(),
    })
}

/// Stage 2: which members of each item this snapshot writes.
fn claim(snap: &mut Snap<'_>, state: &State, claimed: &mut HashSet<ContentId>) {
    for (i, item) in snap.items.iter().enumerate() {
        let original = item.original();
        if catalogue::trashed(&snap.library, item) {
            snap.report.tally.add("recently_deleted", 1);
            continue;
        }
        let mut members = Vec::new();
        for (m, member) in item.members.iter().enumerate() {
            let Some(file) = snap.src.source_file(member.file) else {
                continue;
            };
            let id = ContentId::of(file.data);
            if claimed.contains(&id) {
                snap.report.tally.add("duplicates", 1);
            } else if state.exported.contains_key(&id) {
                snap.report.tally.add("already_exported", 1);
            } else {
                claimed.insert(id);
                members.push(m);
            }
        }
        if members.is_empty() {
            continue;
        }
        let anchor = match members[0] {
            0 => None,
            _ => snap
                .src
                .source_file(original.file)
                .and_then(|f| state.exported.get(&ContentId::of(f.data)).cloned()),
        };
        snap.jobs.push(Job {
            item: i,
            members,
            anchor,
            capture: None,
            outs: Vec::new(),
            done: Vec::new(),
        });
    }
}

/// Stage 3: each job's capture date.
fn date_jobs(snap: &mut Snap<'_>, zone: &TimeZone) {
    for job in &mut snap.jobs {
        let original = snap.items[job.item].original();
        job.capture = capture_of(&snap.src, &snap.library, original, zone);
    }
}

/// Photos.sqlite's date, else the file's metadata, else the device's file time.
fn capture_of(
    src: &Source<'_>,
    library: &Library,
    original: &scan::Member<NodeId>,
    zone: &TimeZone,
) -> Option<Capture> {
    let file = src.source_file(original.file)?;
    let asset = library.get(&original.media_rel);
    if let Some(time) = asset.and_then(|a| a.date) {
        let offset = asset
            .and_then(|a| a.offset)
            .and_then(|o| Offset::from_seconds(o).ok());
        if let Some(c) = Capture::new(time, offset, DateSource::PhotosDb) {
            return Some(c);
        }
    }
    if let Some(c) = date::from_metadata(src.repo(), file.data, zone) {
        return Some(c);
    }
    let mtime = Timestamp::from_nanosecond(file.mtime_ns).ok()?;
    Capture::new(mtime, None, DateSource::FileTime)
}

/// Stage 4: output names. `taken` holds the names given in this batch, `assigned` the name
/// each content got in it (the original of a companion another snapshot of the batch writes).
fn name_jobs(
    snap: &mut Snap<'_>,
    dir: &OutDir,
    zone: &TimeZone,
    taken: &mut HashSet<String>,
    assigned: &mut HashMap<ContentId, String>,
) {
    let id_of =
        |src: &Source<'_>, node: NodeId| src.source_file(node).map(|f| ContentId::of(f.data));
    for job in &mut snap.jobs {
        let item = &snap.items[job.item];
        let original = item.original();
        if job.anchor.is_none() && job.members[0] != 0 {
            job.anchor = id_of(&snap.src, original.file).and_then(|id| assigned.get(&id).cloned());
        }
        let file_name = original.media_rel.rsplit('/').next().unwrap_or_default();
        let (folder, stem, original_ext) = match &job.anchor {
            Some(anchor) => {
                let (folder, name) = anchor.rsplit_once('/').unwrap_or(("", anchor));
                let (stem, ext) = split_ext(name);
                (folder.to_string(), stem.to_string(), ext.to_string())
            }
            None => {
                let capture = job.capture.unwrap_or(Capture {
                    time: Timestamp::UNIX_EPOCH,
                    offset: None,
                    source: DateSource::FileTime,
                });
                let db_name = snap
                    .library
                    .get(&original.media_rel)
                    .and_then(|a| a.original_name.as_deref());
                let name = original_name(file_name, db_name);
                let (stem, ext) = split_ext(&name);
                (
                    capture.month_folder(zone),
                    stem.to_string(),
                    ext.to_string(),
                )
            }
        };
        let rel = |name: &str| match folder.as_str() {
            "" => name.to_string(),
            f => format!("{f}/{name}"),
        };
        let free = |name: &str| {
            let r = rel(name);
            !taken.contains(&r) && !dir.exists(&r)
        };
        let wanted: Vec<(Role, String)> = job
            .members
            .iter()
            .map(|&m| {
                let member = &item.members[m];
                (member.role, ext_of(&member.media_rel).to_string())
            })
            .collect();
        // Companions of an original exported before keep its stem; each takes a free name.
        let outs: Vec<String> = match job.anchor {
            Some(_) => wanted
                .iter()
                .map(|(role, ext)| {
                    let name = member_name(*role, &stem, &original_ext, ext);
                    rel(&dir.free_name(&folder, &name, &|r| taken.contains(r)))
                })
                .collect(),
            None => {
                let stem = free_stem(&stem, &original_ext, &wanted, &free);
                wanted
                    .iter()
                    .map(|(role, ext)| rel(&member_name(*role, &stem, &original_ext, ext)))
                    .collect()
            }
        };
        taken.extend(outs.iter().cloned());
        for (&m, out) in job.members.iter().zip(&outs) {
            if let Some(id) = id_of(&snap.src, item.members[m].file) {
                assigned.insert(id, out.clone());
            }
        }
        job.done = vec![false; outs.len()];
        job.outs = outs;
    }
}

fn job_bytes(snap: &Snap<'_>) -> u64 {
    snap.jobs
        .iter()
        .flat_map(|j| j.members.iter().map(|&m| &snap.items[j.item].members[m]))
        .filter_map(|m| snap.src.source_file(m.file))
        .map(|f| f.data.size)
        .sum()
}

/// Stage 5: writes this snapshot's files. Damage costs the file it is in, with a warning; a
/// failure to write the output stops the export.
fn copy_jobs(
    snap: &mut Snap<'_>,
    dir: &OutDir,
    journal: &Journal,
    progress: &dyn Progress,
) -> Result<(), ExportError> {
    let device = snap.src.device().to_string();
    for job in &mut snap.jobs {
        let item = &snap.items[job.item];
        let capture = job.capture;
        for (k, &m) in job.members.iter().enumerate() {
            let member = &item.members[m];
            let Some(file) = snap.src.source_file(member.file) else {
                continue;
            };
            match copy_one(&snap.src, file.data, dir, &job.outs[k], progress) {
                Ok(path) => {
                    if let Some(c) = capture {
                        set_mtime(&path, c.time)?;
                    }
                    job.done[k] = true;
                }
                Err(e) if e.is_output_failure() => return Err(e),
                Err(e) => snap.report.tally.warn(format!(
                    "{DOMAIN}/Media/{} of {device} not exported: {e}",
                    member.media_rel
                )),
            }
        }
        for (id, _, row) in job_records(&snap.src, item, &*job) {
            journal.append(id, &row)?;
        }
    }
    Ok(())
}

/// Writes `file` as the file `rel`: beside it first, renamed into place only once whole, so
/// that a photo in the folder is always complete, even after a crash (a killed run leaves at
/// most a hidden `.<name>.hearth-partial`, which the next run writing that photo replaces).
fn copy_one(
    src: &Source<'_>,
    file: &hearth_browse::FileData,
    dir: &OutDir,
    rel: &str,
    progress: &dyn Progress,
) -> Result<std::path::PathBuf, ExportError> {
    dir.replace_with(rel, |w| {
        let mut counted = Counting { inner: w, progress };
        src.copy(file, &mut counted).map(drop)
    })
}

/// A writer that reports the bytes through it.
struct Counting<'p, W: Write> {
    inner: W,
    progress: &'p dyn Progress,
}

impl<W: Write> Write for Counting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Takes into `state` and `records` the photos a stopped run wrote after its last save.
fn recover(dir: &OutDir, state: &mut State, records: &mut Vec<Record>) {
    let listed: HashSet<String> = records.iter().map(|r| r.out.clone()).collect();
    for (id, row) in journal::read(dir) {
        state.exported.insert(id, row.out.clone());
        if !listed.contains(&row.out) {
            records.push(row);
        }
    }
}

/// Adds what `snap` wrote to the state, the manifest rows and its report's counts.
fn record(
    mut snap: Snap<'_>,
    state: &mut State,
    records: &mut Vec<Record>,
    reports: &mut Vec<SnapshotReport>,
) {
    for job in &snap.jobs {
        for (id, role, row) in job_records(&snap.src, &snap.items[job.item], job) {
            state.exported.insert(id, row.out.clone());
            let count = match role {
                Role::Photo => "photos",
                Role::Video => "videos",
                Role::LiveVideo => "live_photos",
                Role::Edited => "edited",
            };
            snap.report.tally.add(count, 1);
            records.push(row);
        }
    }
    reports.push(snap.report);
}

/// The files `job` wrote: each one's identity, role and manifest row.
fn job_records(src: &Source<'_>, item: &Item<NodeId>, job: &Job) -> Vec<(ContentId, Role, Record)> {
    let snapshot = src.snapshot();
    let snapshot_time = Timestamp::from_microsecond(snapshot.time)
        .map(rfc3339)
        .unwrap_or_default();
    let pair_of = |role: Role| -> String {
        let find = |want: Role| {
            job.members
                .iter()
                .zip(&job.outs)
                .zip(&job.done)
                .find(|((m, _), done)| **done && item.members[**m].role == want)
                .map(|((_, out), _)| out.clone())
        };
        match role {
            Role::Photo => find(Role::LiveVideo).unwrap_or_default(),
            Role::Video => String::new(),
            Role::LiveVideo | Role::Edited => find(Role::Photo)
                .or_else(|| find(Role::Video))
                .or_else(|| job.anchor.clone())
                .unwrap_or_default(),
        }
    };
    let mut rows = Vec::new();
    for (k, &m) in job.members.iter().enumerate() {
        if !job.done[k] {
            continue;
        }
        let member = &item.members[m];
        let Some(file) = src.source_file(member.file) else {
            continue;
        };
        let row = Record {
            out: job.outs[k].clone(),
            kind: member.role.name().into(),
            date: job.capture.map(|c| c.rfc3339()).unwrap_or_default(),
            date_source: job
                .capture
                .map(|c| c.source.name())
                .unwrap_or_default()
                .into(),
            device: snapshot.device.label().into(),
            udid: snapshot.device.udid.clone(),
            snapshot: src.id().to_hex(),
            snapshot_time: snapshot_time.clone(),
            domain: DOMAIN.into(),
            path: format!("Media/{}", member.media_rel),
            size: file.data.size,
            pair: pair_of(member.role),
        };
        rows.push((ContentId::of(file.data), member.role, row));
    }
    rows
}
