//! The photos and videos of a snapshot as a list, without writing anything: what the export
//! would write, each photo once, with its capture date (the dashboard's photo grid).
//!
//! It is the export's own first stages: [`scan`] is how the export finds a snapshot's items
//! and reads its Photos.sqlite, [`capture_of`](super::capture_of) how it dates them, and a
//! photo's identity is the export's [`ContentId`] of its original, so the catalogue lists
//! exactly the photos and videos `hearth export photos` counts (`photos` + `videos`), with
//! the dates its `photos.json` records.

use super::library::{DOMAIN, Library, PHOTOS_DB};
use super::scan::{self, Item, ORIGINALS, Role};
use super::state::ContentId;
use crate::source::Source;
use crate::time::local_zone;
use hearth_browse::NodeId;
use hearth_format::SnapshotId;
use jiff::Timestamp;
use rayon::prelude::*;
use std::collections::HashSet;

/// A snapshot's items as the export's first stage finds them.
pub(crate) struct Scanned {
    pub library: Library,
    /// In path order, "Recently Deleted" included.
    pub items: Vec<Item<NodeId>>,
    /// Originals Photos.sqlite lists that the backup lacks (kept in iCloud only).
    pub not_in_backup: u64,
    /// Why Photos.sqlite could not be read, when it could not.
    pub warning: Option<String>,
}

/// Finds the originals, Live Photo videos and edited versions of `src` and reads its
/// Photos.sqlite (an unreadable one is a warning: the files' own dates serve).
pub(crate) fn scan(src: &Source<'_>) -> Scanned {
    let (library, warning) = match src.database(DOMAIN, PHOTOS_DB).and_then(|db| match db {
        Some(db) => Library::read(&db),
        None => Ok(Library::default()),
    }) {
        Ok(l) => (l, None),
        Err(e) => (
            Library::default(),
            Some(format!("{e}; capture dates come from the files themselves")),
        ),
    };
    let under = |folder: &str| -> Vec<(String, NodeId)> {
        src.files_under(DOMAIN, &format!("Media/{folder}"))
            .into_iter()
            .map(|(rel, f)| (format!("{folder}/{rel}"), f.node))
            .collect()
    };
    let originals: Vec<_> = ORIGINALS.iter().flat_map(|f| under(f)).collect();
    let renders = under(scan::MUTATIONS);
    let own_asset = |rel: &str| library.get(rel).is_some();
    let items = scan::group(originals, renders, &own_asset);
    let not_in_backup = library
        .assets
        .iter()
        .filter(|(rel, a)| {
            !a.trashed && ORIGINALS.iter().any(|o| rel.starts_with(&format!("{o}/")))
        })
        .filter(|(rel, _)| src.file(DOMAIN, &format!("Media/{rel}")).is_none())
        .count() as u64;
    Scanned {
        library,
        items,
        not_in_backup,
        warning,
    }
}

/// Whether `item` is in "Recently Deleted" (never exported, never listed).
pub(crate) fn trashed<T>(library: &Library, item: &Item<T>) -> bool {
    library
        .get(&item.original().media_rel)
        .is_some_and(|a| a.trashed)
}

/// One photo or video of the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoEntry {
    /// Its original's identity: equal for equal bytes on any device or snapshot.
    pub content: ContentId,
    /// The snapshot it was listed from (the first that holds it, household-wide).
    pub snapshot: SnapshotId,
    /// That snapshot's device's name.
    pub device: String,
    /// The original's path in the snapshot (`CameraRollDomain/Media/DCIM/100APPLE/IMG_0001.HEIC`).
    pub path: String,
    pub size: u64,
    /// A video rather than a photo.
    pub video: bool,
    /// A Live Photo's motion part, its path in the snapshot.
    pub live_video: Option<String>,
    /// Edited versions (`FullSizeRender`), their paths in the snapshot.
    pub edited: Vec<String>,
    /// When it was taken.
    pub taken: Option<Timestamp>,
    /// The date as the export's `photos.json` writes it (RFC 3339 with the capture's offset).
    pub date: Option<String>,
    /// Where the date came from (`photos-db`, `exif`, `quicktime`, `file-time`).
    pub date_source: Option<&'static str>,
}

/// Photos and videos, each once, newest first (undated last).
#[derive(Debug, Clone, Default)]
pub struct PhotoCatalogue {
    pub photos: Vec<PhotoEntry>,
    /// Items in "Recently Deleted", left out.
    pub recently_deleted: u64,
    /// Items whose original another listed item holds the same bytes of, left out.
    pub duplicates: u64,
    /// Originals Photos.sqlite lists that the backup lacks.
    pub not_in_backup: u64,
    pub warnings: Vec<String>,
}

/// The photos and videos of one snapshot, each once. Reads only Photos.sqlite and, for a
/// photo it has no date for, the file's metadata.
pub fn photo_catalogue(src: &Source<'_>) -> PhotoCatalogue {
    let scanned = scan(src);
    let mut out = PhotoCatalogue {
        not_in_backup: scanned.not_in_backup,
        warnings: scanned.warning.clone().into_iter().collect(),
        ..PhotoCatalogue::default()
    };
    // The export's claim: the first item (in path order) holding the bytes.
    let mut seen = HashSet::new();
    let mut kept = Vec::new();
    for item in &scanned.items {
        if trashed(&scanned.library, item) {
            out.recently_deleted += 1;
            continue;
        }
        let Some(file) = src.source_file(item.original().file) else {
            continue;
        };
        match seen.insert(ContentId::of(file.data)) {
            true => kept.push((item, ContentId::of(file.data), file.data.size)),
            false => out.duplicates += 1,
        }
    }
    let zone = local_zone();
    let path = |m: &scan::Member<NodeId>| format!("{DOMAIN}/Media/{}", m.media_rel);
    let device = src.device().to_string();
    out.photos = kept
        .par_iter()
        .map(|&(item, content, size)| {
            let capture = super::capture_of(src, &scanned.library, item.original(), &zone);
            let companions = |role: Role| item.members.iter().filter(move |m| m.role == role);
            PhotoEntry {
                content,
                snapshot: src.id(),
                device: device.clone(),
                path: path(item.original()),
                size,
                video: item.original().role == Role::Video,
                live_video: companions(Role::LiveVideo).next().map(path),
                edited: companions(Role::Edited).map(path).collect(),
                taken: capture.map(|c| c.time),
                date: capture.map(|c| c.rfc3339()),
                date_source: capture.map(|c| c.source.name()),
            }
        })
        .collect();
    newest_first(&mut out.photos);
    out
}

/// Several snapshots' catalogues as one, each photo once: the first catalogue holding a
/// photo lists it (as the export writes it from the first snapshot holding it).
pub fn household_catalogue(parts: impl IntoIterator<Item = PhotoCatalogue>) -> PhotoCatalogue {
    let mut out = PhotoCatalogue::default();
    let mut seen = HashSet::new();
    for part in parts {
        out.recently_deleted += part.recently_deleted;
        out.duplicates += part.duplicates;
        out.not_in_backup += part.not_in_backup;
        out.warnings.extend(part.warnings);
        for photo in part.photos {
            match seen.insert(photo.content) {
                true => out.photos.push(photo),
                false => out.duplicates += 1,
            }
        }
    }
    newest_first(&mut out.photos);
    out
}

/// Newest first, undated last, then by path (a stable order for pages).
fn newest_first(photos: &mut [PhotoEntry]) {
    photos.sort_by(|a, b| {
        let undated = |p: &PhotoEntry| p.taken.is_none();
        undated(a)
            .cmp(&undated(b))
            .then_with(|| b.taken.cmp(&a.taken))
            .then_with(|| a.path.cmp(&b.path))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(content: u8, snapshot: u8, path: &str, taken: Option<i64>) -> PhotoEntry {
        let hex = format!("{content:02x}").repeat(16);
        PhotoEntry {
            content: ContentId::from_hex(&hex).unwrap(),
            snapshot: SnapshotId::from_bytes([snapshot; 32]),
            device: format!("device {snapshot}"),
            path: path.into(),
            size: 1,
            video: false,
            live_video: None,
            edited: Vec::new(),
            taken: taken.map(|s| Timestamp::from_second(s).unwrap()),
            date: None,
            date_source: None,
        }
    }

    fn catalogue(photos: Vec<PhotoEntry>) -> PhotoCatalogue {
        PhotoCatalogue {
            photos,
            recently_deleted: 1,
            ..PhotoCatalogue::default()
        }
    }

    #[test]
    fn the_household_lists_each_photo_once_from_the_first_snapshot_newest_first() {
        let mum = catalogue(vec![
            entry(1, 1, "a", Some(100)),
            entry(2, 1, "b", Some(300)),
        ]);
        let dad = catalogue(vec![
            entry(2, 2, "b2", Some(300)),
            entry(3, 2, "c", None),
            entry(4, 2, "d", Some(200)),
        ]);
        let all = household_catalogue([mum, dad]);
        let shape: Vec<(&str, u8)> = all
            .photos
            .iter()
            .map(|p| (p.path.as_str(), p.snapshot.as_bytes()[0]))
            .collect();
        assert_eq!(shape, [("b", 1), ("d", 2), ("a", 1), ("c", 2)]);
        assert_eq!((all.duplicates, all.recently_deleted), (1, 2));
    }

    #[test]
    fn equal_dates_keep_a_stable_order_by_path() {
        let mut photos = vec![
            entry(1, 1, "z", Some(5)),
            entry(2, 1, "a", Some(5)),
            entry(3, 1, "m", None),
        ];
        newest_first(&mut photos);
        let paths: Vec<&str> = photos.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["a", "z", "m"]);
    }
}
