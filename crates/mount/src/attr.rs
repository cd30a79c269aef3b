//! What both views show of a place in the household: folder or file, size, time, permissions.
//!
//! Everything is read-only: folders are `r-xr-xr-x`, files `r--r--r--`, or `r-xr-xr-x` when the
//! device's file had an execute bit. Times are the device's (Manifest.db's) where it gives
//! them; a snapshot's folder, and folders Manifest.db does not list, have the time of the
//! backup; a device's folder has its latest snapshot's, the root the latest of all.

use hearth_browse::{Household, NodeId, NodeKind, Place, SnapshotFiles};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Folder,
    File,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr {
    pub kind: Kind,
    /// Bytes of a file's plaintext; 0 for a folder.
    pub size: u64,
    pub mtime: SystemTime,
    /// Permission bits (`0o555` or `0o444`).
    pub perm: u16,
    /// Links: a folder's are 2 and one per folder in it, as on a disk.
    pub nlink: u32,
}

const FOLDER_PERM: u16 = 0o555;
const FILE_PERM: u16 = 0o444;

impl Attr {
    fn folder(mtime: SystemTime, subfolders: usize) -> Self {
        Attr {
            kind: Kind::Folder,
            size: 0,
            mtime,
            perm: FOLDER_PERM,
            nlink: u32::try_from(subfolders.saturating_add(2)).unwrap_or(u32::MAX),
        }
    }

    pub fn is_folder(&self) -> bool {
        self.kind == Kind::Folder
    }

    /// The root: a folder per device.
    pub fn of_root(household: &Household<'_>) -> Self {
        let devices = household.devices();
        let newest = (0..devices.len())
            .map(|d| Self::device_time(household, d))
            .max()
            .unwrap_or(UNIX_EPOCH);
        Self::folder(newest, devices.len())
    }

    /// A snapshot's folder (or its device's `latest`), without reading its file list: what
    /// [`Attr::of_node`] gives its root.
    pub fn of_snapshot(household: &Household<'_>, device: usize, snapshot: usize) -> Self {
        let s = &household.devices()[device].snapshots[snapshot];
        Self {
            nlink: 1,
            ..Self::folder(from_nanos(i128::from(s.snapshot.time) * 1000), 0)
        }
    }

    /// A device's folder: a folder per snapshot, and `latest`.
    pub fn of_device(household: &Household<'_>, device: usize) -> Self {
        let folders = household.device_listing(device).len();
        Self::folder(Self::device_time(household, device), folders)
    }

    fn device_time(household: &Household<'_>, device: usize) -> SystemTime {
        let snapshots = &household.devices()[device].snapshots;
        snapshots.last().map_or(UNIX_EPOCH, |s| {
            from_nanos(i128::from(s.snapshot.time) * 1000)
        })
    }

    /// A node of a snapshot's files (its root is the snapshot's folder).
    pub fn of_node(files: &SnapshotFiles, node: NodeId) -> Self {
        let n = files.node(node);
        let mtime = from_nanos(n.mtime_ns);
        match &n.kind {
            // A snapshot's folder has 1 link, what file systems that do not count folders give
            // (find(1) knows it): counting would read the file list of every snapshot of a
            // device to list the device's folder.
            NodeKind::Folder(_) if node == SnapshotFiles::ROOT => Self {
                nlink: 1,
                ..Self::folder(mtime, 0)
            },
            NodeKind::Folder(children) => {
                let subfolders = children
                    .iter()
                    .filter(|&&c| matches!(files.node(c).kind, NodeKind::Folder(_)))
                    .count();
                Self::folder(mtime, subfolders)
            }
            NodeKind::File(f) => Attr {
                kind: Kind::File,
                size: f.size,
                mtime,
                perm: if f.mode & 0o111 != 0 {
                    0o555
                } else {
                    FILE_PERM
                },
                nlink: 1,
            },
        }
    }

    pub fn of_place(household: &Household<'_>, place: &Place) -> Self {
        match place {
            Place::Root => Self::of_root(household),
            Place::Device(d) => Self::of_device(household, *d),
            Place::Files { files, node, .. } => Self::of_node(files, *node),
        }
    }
}

/// Unix nanoseconds (before 1970 too) as a time; a time the system cannot hold is 1970.
pub(crate) fn from_nanos(ns: i128) -> SystemTime {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000) as u32;
    let Ok(whole) = u64::try_from(secs.unsigned_abs()) else {
        return UNIX_EPOCH;
    };
    let t = if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(whole))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(whole))
    };
    t.and_then(|t| t.checked_add(Duration::from_nanos(u64::from(nanos))))
        .unwrap_or(UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_before_and_after_1970_convert_exactly() {
        assert_eq!(from_nanos(0), UNIX_EPOCH);
        assert_eq!(
            from_nanos(1_500_000_000_250_000_000),
            UNIX_EPOCH + Duration::new(1_500_000_000, 250_000_000)
        );
        // -1.5 s is 2 s before 1970 plus half a second.
        assert_eq!(
            from_nanos(-1_500_000_000),
            UNIX_EPOCH - Duration::from_secs(2) + Duration::from_millis(500)
        );
        assert_eq!(from_nanos(i128::MAX), UNIX_EPOCH, "out of range is 1970");
    }
}
