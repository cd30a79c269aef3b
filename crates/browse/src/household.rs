//! The household as one read-only tree, what `hearth mount` and `hearth webdav` serve:
//!
//! ```text
//! /<device name>/<snapshot time>/<Domain>/<relative path>
//! /<device name>/<snapshot time>/Manifest.db, Info.plist, ...   (the backup folder's own files)
//! /<device name>/latest/...                                      (the device's latest snapshot)
//! ```
//!
//! Snapshot folders are named by the device's time of the backup in the local time zone,
//! `2026-11-01T10.20.30` (no `:`, which Windows and macOS Finder do not show), with `-2`, `-3`
//! after a time two snapshots share. Device folders are named by the device's name, made a
//! safe name, with the start of the UDID after a name two devices share.
//!
//! A snapshot's files are read from the repository the first time its folder is opened and
//! kept for later listings, a few snapshots at a time ([`KEPT_SNAPSHOTS`]).

use crate::error::BrowseError;
use crate::files::{NodeId, SnapshotFiles, is_safe_name};
use hearth_format::{Snapshot, SnapshotId};
use hearth_repo::Repository;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Snapshots whose files are kept in memory at once (least recently used go first).
pub const KEPT_SNAPSHOTS: usize = 8;

/// The name of each device's folder for its latest snapshot.
pub const LATEST: &str = "latest";

pub struct DeviceFolder {
    pub name: String,
    pub udid: String,
    /// Oldest first; the last one is also `latest`.
    pub snapshots: Vec<SnapshotFolder>,
}

pub struct SnapshotFolder {
    pub name: String,
    pub id: SnapshotId,
    pub snapshot: Snapshot,
}

/// Where a path of the household tree leads.
#[derive(Clone)]
pub enum Place {
    Root,
    Device(usize),
    /// A node of a snapshot's files (its root is the snapshot's folder).
    Files {
        device: usize,
        snapshot: usize,
        files: Arc<SnapshotFiles>,
        node: NodeId,
    },
}

pub struct Household<'r> {
    repo: &'r Repository,
    devices: Vec<DeviceFolder>,
    loaded: Mutex<Vec<(SnapshotId, Arc<SnapshotFiles>)>>,
}

impl<'r> Household<'r> {
    /// Every device and snapshot of the repository (the files are read when first needed).
    pub fn open(repo: &'r Repository) -> Result<Self, BrowseError> {
        Ok(Self {
            repo,
            devices: device_folders(repo.snapshots()?),
            loaded: Mutex::default(),
        })
    }

    pub fn repo(&self) -> &'r Repository {
        self.repo
    }

    pub fn devices(&self) -> &[DeviceFolder] {
        &self.devices
    }

    /// The snapshot's files, read now or kept from an earlier read.
    pub fn files(&self, device: usize, snapshot: usize) -> Result<Arc<SnapshotFiles>, BrowseError> {
        let s = &self.devices[device].snapshots[snapshot];
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(i) = loaded.iter().position(|(id, _)| *id == s.id) {
            let hit = loaded.remove(i);
            loaded.push(hit.clone());
            return Ok(hit.1);
        }
        // Read without the lock held would let two threads read the same snapshot at once;
        // with it, other snapshots' listings wait. Reading is the rarer case.
        let files = Arc::new(SnapshotFiles::load(self.repo, &s.snapshot)?);
        if loaded.len() >= KEPT_SNAPSHOTS {
            loaded.remove(0);
        }
        loaded.push((s.id, files.clone()));
        Ok(files)
    }

    /// The place `path` (`/`-separated, leading and repeated `/` ignored) names, if any.
    pub fn resolve(&self, path: &str) -> Result<Option<Place>, BrowseError> {
        let mut names = path.split('/').filter(|c| !c.is_empty());
        let Some(device_name) = names.next() else {
            return Ok(Some(Place::Root));
        };
        let Some(device) = self.devices.iter().position(|d| d.name == device_name) else {
            return Ok(None);
        };
        let Some(snapshot_name) = names.next() else {
            return Ok(Some(Place::Device(device)));
        };
        let Some(snapshot) = self.snapshot_named(device, snapshot_name) else {
            return Ok(None);
        };
        let files = self.files(device, snapshot)?;
        let mut node = SnapshotFiles::ROOT;
        for name in names {
            match files.child(node, name) {
                Some(child) => node = child,
                None => return Ok(None),
            }
        }
        Ok(Some(Place::Files {
            device,
            snapshot,
            files,
            node,
        }))
    }

    /// The snapshot a device folder's child `name` is (`latest` is the last).
    pub fn snapshot_named(&self, device: usize, name: &str) -> Option<usize> {
        let snapshots = &self.devices[device].snapshots;
        match name {
            LATEST => snapshots.len().checked_sub(1),
            _ => snapshots.iter().position(|s| s.name == name),
        }
    }

    /// The names in a device's folder: its snapshots' and `latest`.
    pub fn device_listing(&self, device: usize) -> Vec<&str> {
        let snapshots = &self.devices[device].snapshots;
        let mut names: Vec<&str> = snapshots.iter().map(|s| s.name.as_str()).collect();
        if !snapshots.is_empty() {
            names.push(LATEST);
        }
        names
    }
}

/// The household's device folders, from its snapshots (oldest first).
fn device_folders(snapshots: Vec<(SnapshotId, Snapshot)>) -> Vec<DeviceFolder> {
    let mut devices: Vec<DeviceFolder> = Vec::new();
    for (id, snapshot) in snapshots {
        let udid = &snapshot.device.udid;
        let i = match devices.iter().position(|d| d.udid == *udid) {
            Some(i) => i,
            None => {
                devices.push(DeviceFolder {
                    name: String::new(),
                    udid: udid.clone(),
                    snapshots: Vec::new(),
                });
                devices.len() - 1
            }
        };
        let name = snapshot_folder_name(snapshot.time);
        devices[i]
            .snapshots
            .push(SnapshotFolder { name, id, snapshot });
    }
    for d in &mut devices {
        // The name the device has now, from its latest snapshot.
        let label = d.snapshots.last().map_or("", |s| s.snapshot.device.label());
        d.name = safe_name(label, &d.udid);
        number_repeats(d.snapshots.iter_mut().map(|s| &mut s.name));
    }
    let mut taken: HashMap<String, usize> = HashMap::new();
    for d in &devices {
        *taken.entry(d.name.clone()).or_default() += 1;
    }
    for d in &mut devices {
        if taken[&d.name] > 1 {
            let short: String = d.udid.chars().take(8).collect();
            d.name = format!("{} ({})", d.name, safe_name(&short, "device"));
        }
    }
    devices.sort_by(|a, b| a.name.cmp(&b.name));
    devices
}

/// `name` with what cannot be in a path component replaced, or `fallback` when nothing is left.
fn safe_name(name: &str, fallback: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if matches!(c, '/' | '\\' | '\0') || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    match is_safe_name(&cleaned) && cleaned != LATEST {
        true => cleaned,
        false => fallback.replace(['/', '\\', '\0'], "_"),
    }
}

/// Second and later repeats of a name get `-2`, `-3`, ... (names come sorted by time).
fn number_repeats<'a>(names: impl Iterator<Item = &'a mut String>) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for name in names {
        let n = seen.entry(name.clone()).or_default();
        *n += 1;
        if *n > 1 {
            name.push_str(&format!("-{n}"));
        }
    }
}

/// A snapshot's folder name: the device's time of the backup, local time, to the second.
pub fn snapshot_folder_name(micros: i64) -> String {
    let t = jiff::Timestamp::from_microsecond(micros).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let zone = jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC);
    t.to_zoned(zone).strftime("%Y-%m-%dT%H.%M.%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_safe_and_repeats_numbered() {
        assert_eq!(safe_name("Mum's iPhone", "u"), "Mum's iPhone");
        assert_eq!(safe_name("a/b", "u"), "a_b");
        assert_eq!(safe_name("..", "udid1"), "udid1");
        assert_eq!(safe_name("latest", "udid1"), "udid1");
        assert_eq!(safe_name("", "udid1"), "udid1");
        let mut names = vec!["t1".to_string(), "t1".into(), "t2".into(), "t1".into()];
        number_repeats(names.iter_mut());
        assert_eq!(names, ["t1", "t1-2", "t2", "t1-3"]);
    }
}
