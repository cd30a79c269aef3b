//! The household's data out of its snapshots, in formats every program reads: photos and videos
//! by capture date, Messages and WhatsApp conversations as HTML, text and JSON, contacts as
//! vCards, calls and voicemail as CSV, notes as Markdown and calendars as ICS.
//!
//! Each exporter reads a snapshot through a [`Source`]: its files by domain and path, bytes
//! through the repository's span reader, and Apple's SQLite databases opened from a private
//! copy with their schema checked ([`Database`]) rather than assumed, because every iOS version
//! changes it. Everything is written through an [`OutDir`], which never writes outside the
//! output folder.
//!
//! [`export`] runs one kind over many snapshots, devices in parallel, and reports counts per
//! snapshot and in all ([`ExportReport`]). The CLI and the dashboard are glue over it.
//!
//! Without writing anything, the same code lists what an export would hold, for the
//! dashboard: [`photo_catalogue`] (a snapshot's photos and videos, each once, with capture
//! dates; [`household_catalogue`] across snapshots), [`conversations`] and
//! [`read_conversation`] (a window of one thread, in the exporters' [`Message`] model).

mod calendar;
mod calls;
mod cell;
mod contacts;
mod content_line;
mod conversation;
mod database;
mod error;
mod messages;
mod notes;
mod out;
mod photos;
mod report;
mod rfc4180;
mod source;
#[cfg(test)]
mod test_fixtures;
mod time;
mod unique;
mod voicemail;
mod whatsapp;

pub use contacts::{ContactNames, normalize_handle};
pub use conversation::{Attachment, Conversation, Edit, Message, Person, Reaction, Reply};
pub use database::{Columns, Database};
pub use error::ExportError;
pub use messages::typedstream;
pub use messages::{
    ConversationSummary, MessageWindow, ThreadPage, conversation as read_conversation,
    conversations,
};
pub use out::{OutDir, safe_name, set_mtime};
pub use photos::{ContentId, PhotoCatalogue, PhotoEntry, household_catalogue, photo_catalogue};
pub use report::{ExportReport, SnapshotReport, Tally};
pub use source::{Source, SourceFile};
pub use time::{APPLE_EPOCH, from_apple_seconds, from_apple_sms, human, local_zone, rfc3339};

use hearth_browse::snapshot_folder_name;
use hearth_format::{Snapshot, SnapshotId};
use hearth_repo::{Progress, Repository};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::Path;

/// Snapshots exported at once: each holds its file list (tens of MiB for a big device).
const PARALLEL_SNAPSHOTS: usize = 4;

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Photos,
    Messages,
    Contacts,
    Calls,
    Voicemail,
    Notes,
    Calendar,
    Whatsapp,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Photos,
        Kind::Messages,
        Kind::Contacts,
        Kind::Calls,
        Kind::Voicemail,
        Kind::Notes,
        Kind::Calendar,
        Kind::Whatsapp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Photos => "photos",
            Kind::Messages => "messages",
            Kind::Contacts => "contacts",
            Kind::Calls => "calls",
            Kind::Voicemail => "voicemail",
            Kind::Notes => "notes",
            Kind::Calendar => "calendar",
            Kind::Whatsapp => "whatsapp",
        }
    }

    /// The extension of the one file a kind can be written as (`--out dad.vcf`).
    pub fn file_extension(self) -> Option<&'static str> {
        match self {
            Kind::Contacts => Some("vcf"),
            Kind::Calendar => Some("ics"),
            Kind::Calls => Some("csv"),
            _ => None,
        }
    }
}

/// Where one snapshot's export goes: a folder, or one file in it (`--out dad.vcf`).
#[derive(Debug, Clone)]
pub struct SnapshotOut {
    pub dir: OutDir,
    /// The one file asked for, in `dir`, when the kind has one and a single snapshot is
    /// exported to a path with its extension.
    pub file: Option<String>,
}

/// Exports `kind` out of `snapshots` into `out`, devices in parallel.
///
/// One snapshot goes straight into `out`; several go into a folder per device (and per
/// snapshot time when a device has several). A snapshot that cannot be exported (a database of
/// a schema the exporter does not know, damaged data) is reported and the others go on; a
/// failure to write the output stops the export.
pub fn export(
    repo: &Repository,
    kind: Kind,
    snapshots: &[(SnapshotId, Snapshot)],
    out: &Path,
    progress: &dyn Progress,
) -> Result<ExportReport, ExportError> {
    if kind == Kind::Photos {
        // Household-wide: one folder for every snapshot, each photo once.
        return photos::export(repo, snapshots, out, progress);
    }
    let (root, file) = split_out(kind, out, snapshots.len())?;
    let dir = OutDir::create(&root)?;
    let folders = snapshot_folders(snapshots);
    progress.start(
        &format!("export {}", kind.name()),
        Some(snapshots.len() as u64),
    );
    let pool = thread_pool(PARALLEL_SNAPSHOTS.min(snapshots.len()))?;
    let reports = pool.install(|| {
        snapshots
            .par_iter()
            .zip(folders)
            .map(|((id, snapshot), folder)| {
                let target = SnapshotOut {
                    dir: dir.sub(&folder)?,
                    file: file.clone(),
                };
                let mut report = SnapshotReport::new(*id, snapshot, target.dir.root().into());
                let done = Source::load(repo, *id, snapshot)
                    .and_then(|src| export_snapshot(kind, &src, &target, &mut report.tally));
                match done {
                    Ok(()) => {}
                    Err(e) if e.is_output_failure() => return Err(e),
                    Err(e) => report.fail(&e),
                }
                progress.advance(1);
                Ok(report)
            })
            .collect::<Result<Vec<_>, ExportError>>()
    })?;
    progress.finish();
    let mut total = Tally::default();
    for r in &reports {
        total.absorb(&r.tally);
    }
    Ok(ExportReport {
        kind: kind.name(),
        out: out.to_path_buf(),
        total,
        snapshots: reports,
    })
}

/// Each device's latest snapshot of `snapshots`, devices by name: what an export of "the
/// household" reads when no snapshot is named.
pub fn latest_of_each_device(
    snapshots: Vec<(SnapshotId, Snapshot)>,
) -> Vec<(SnapshotId, Snapshot)> {
    let mut latest: HashMap<String, (SnapshotId, Snapshot)> = HashMap::new();
    for (id, s) in snapshots {
        match latest.get(&s.device.udid) {
            Some((_, l)) if l.time >= s.time => {}
            _ => {
                latest.insert(s.device.udid.clone(), (id, s));
            }
        }
    }
    let mut chosen: Vec<_> = latest.into_values().collect();
    chosen.sort_by(|a, b| a.1.device.label().cmp(b.1.device.label()));
    chosen
}

/// The threads that read `n` snapshots at once (at least one).
fn thread_pool(n: usize) -> Result<rayon::ThreadPool, ExportError> {
    Ok(rayon::ThreadPoolBuilder::new()
        .num_threads(n.max(1))
        .build()?)
}

/// One snapshot's export of `kind`.
fn export_snapshot(
    kind: Kind,
    src: &Source<'_>,
    out: &SnapshotOut,
    tally: &mut Tally,
) -> Result<(), ExportError> {
    match kind {
        Kind::Messages => messages::export(src, out, tally),
        Kind::Whatsapp => whatsapp::export(src, out, tally),
        Kind::Contacts => contacts::export(src, out, tally),
        Kind::Calls => calls::export(src, out, tally),
        Kind::Voicemail => voicemail::export(src, out, tally),
        Kind::Notes => notes::export(src, &out.dir, tally),
        Kind::Calendar => calendar::export(src, out, tally),
        // Household-wide, never per snapshot: `export` hands photos to `photos::export`.
        Kind::Photos => Err(ExportError::Usage(
            "photos are exported for the household at once, not per snapshot".into(),
        )),
    }
}

/// The folder the export goes into and the one file asked for, if `out` names one.
fn split_out(
    kind: Kind,
    out: &Path,
    snapshots: usize,
) -> Result<(std::path::PathBuf, Option<String>), ExportError> {
    let ext = out.extension().and_then(|e| e.to_str());
    match kind.file_extension() {
        Some(want) if ext.is_some_and(|e| e.eq_ignore_ascii_case(want)) => {
            if snapshots != 1 {
                return Err(ExportError::Usage(format!(
                    "{} is one .{want} file, which holds one snapshot's {}; name one snapshot, or give a folder for {snapshots} snapshots",
                    out.display(),
                    kind.name()
                )));
            }
            let name = out
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let parent = out.parent().filter(|p| !p.as_os_str().is_empty());
            Ok((parent.unwrap_or(Path::new(".")).to_path_buf(), Some(name)))
        }
        _ => Ok((out.to_path_buf(), None)),
    }
}

/// The folder of each snapshot's export, relative to the output folder: none for a single
/// snapshot, else the device's name (its UDID too when two devices share a name), and the
/// snapshot's time when one device has several.
fn snapshot_folders(snapshots: &[(SnapshotId, Snapshot)]) -> Vec<String> {
    if snapshots.len() == 1 {
        return vec![String::new()];
    }
    let mut udids_by_name: HashMap<String, Vec<&str>> = HashMap::new();
    let mut per_udid: HashMap<&str, usize> = HashMap::new();
    for (_, s) in snapshots {
        let names = udids_by_name
            .entry(safe_name(s.device.label()))
            .or_default();
        if !names.contains(&s.device.udid.as_str()) {
            names.push(&s.device.udid);
        }
        *per_udid.entry(&s.device.udid).or_default() += 1;
    }
    snapshots
        .iter()
        .map(|(_, s)| {
            let name = safe_name(s.device.label());
            let device = match udids_by_name[&name].len() {
                1 => name,
                _ => safe_name(&format!("{name} {}", s.device.udid)),
            };
            match per_udid[s.device.udid.as_str()] {
                1 => device,
                _ => format!("{device}/{}", snapshot_folder_name(s.time)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_format::DeviceIdentity;

    fn snapshot(udid: &str, name: &str, time: i64) -> (SnapshotId, Snapshot) {
        let device = DeviceIdentity {
            udid: udid.into(),
            name: name.into(),
            ..DeviceIdentity::default()
        };
        let s = Snapshot {
            time,
            stored_at: time,
            host: String::new(),
            device,
            parent: None,
            tags: Vec::new(),
            summary: Default::default(),
            warnings: Vec::new(),
            tree_len: 0,
            tree: Vec::new(),
        };
        (SnapshotId::from_bytes([time as u8; 32]), s)
    }

    #[test]
    fn one_snapshot_goes_straight_into_the_folder() {
        assert_eq!(snapshot_folders(&[snapshot("U1", "Mum", 1)]), [""]);
    }

    #[test]
    fn several_go_by_device_then_by_time() {
        let t = 1_700_000_000_000_000;
        let folders = snapshot_folders(&[
            snapshot("U1", "Mum's iPhone", t),
            snapshot("U2", "Dad/iPad", t),
            snapshot("U3", "iPhone", t),
            snapshot("U4", "iPhone", t),
            snapshot("U5", "Kid", t),
            snapshot("U5", "Kid", t + 86_400_000_000),
        ]);
        assert_eq!(folders[0], "Mum's iPhone");
        assert_eq!(folders[1], "Dad_iPad");
        assert_eq!(folders[2], "iPhone U3");
        assert_eq!(folders[3], "iPhone U4");
        assert!(folders[4].starts_with("Kid/20"), "{}", folders[4]);
        assert_ne!(folders[4], folders[5]);
    }

    #[test]
    fn one_file_holds_one_snapshot() {
        let (dir, file) = split_out(Kind::Contacts, Path::new("/x/dad.vcf"), 1).unwrap();
        assert_eq!(
            (dir.as_path(), file.as_deref()),
            (Path::new("/x"), Some("dad.vcf"))
        );
        let (dir, file) = split_out(Kind::Contacts, Path::new("dad.VCF"), 1).unwrap();
        assert_eq!(
            (dir.as_path(), file.as_deref()),
            (Path::new("."), Some("dad.VCF"))
        );
        assert!(matches!(
            split_out(Kind::Contacts, Path::new("all.vcf"), 2),
            Err(ExportError::Usage(_))
        ));
        let (dir, file) = split_out(Kind::Messages, Path::new("/x/m.vcf"), 2).unwrap();
        assert_eq!((dir.as_path(), file), (Path::new("/x/m.vcf"), None));
    }
}
