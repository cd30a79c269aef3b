//! `stats`: logical and stored bytes, per device, shared versus unique.

use crate::error::RepoError;
use crate::repository::Repository;
use hearth_format::{ChunkId, Snapshot, SnapshotId};
use hearth_index::UsageSet;
use std::collections::HashSet;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceStats {
    pub udid: String,
    pub name: String,
    pub snapshots: u64,
    /// Sum of file sizes over all of the device's snapshots.
    pub logical_bytes: u64,
    /// Plaintext bytes of chunks only this device's snapshots reference.
    pub unique_bytes: u64,
    /// Plaintext bytes of chunks this device shares with other devices.
    pub shared_bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoStats {
    /// Bytes of every object in the repository.
    pub stored_bytes: u64,
    /// Sum of file sizes over all snapshots.
    pub logical_bytes: u64,
    /// Plaintext bytes of distinct chunks referenced by snapshots.
    pub unique_chunk_bytes: u64,
    /// Sealed bytes of those chunks in packs.
    pub packed_bytes: u64,
    pub snapshots: u64,
    pub devices: Vec<DeviceStats>,
    /// Snapshots whose file list cannot be read (damage): counted by their summaries only, with
    /// why.
    pub unreadable: Vec<(SnapshotId, String)>,
}

impl RepoStats {
    /// logical / distinct plaintext.
    pub fn dedup_ratio(&self) -> f64 {
        ratio(self.logical_bytes, self.unique_chunk_bytes)
    }
    /// distinct plaintext / sealed bytes.
    pub fn compression_ratio(&self) -> f64 {
        ratio(self.unique_chunk_bytes, self.packed_bytes)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

impl Repository {
    /// What the repository holds, per device. The chunks each device uses are kept in a file
    /// (a [`UsageSet`]), not in memory, and recorded snapshot after snapshot of each device as
    /// what a snapshot adds to its predecessor (consecutive snapshots share most chunks): memory
    /// holds two snapshots' chunk lists at a time, whatever the repository's size or its number
    /// of devices.
    pub fn stats(&self) -> Result<RepoStats, RepoError> {
        let mut stats = RepoStats {
            stored_bytes: self.stored_size()?,
            ..RepoStats::default()
        };
        let uses = UsageSet::create(&self.scratch_file("uses"))?;
        let mut devices: Vec<DeviceStats> = Vec::new();
        for (number, group) in by_device(self.snapshots()?).into_iter().enumerate() {
            let mut device = DeviceStats::default();
            let mut previous: HashSet<ChunkId> = HashSet::new();
            for (id, snap) in group {
                device.udid.clone_from(&snap.device.udid);
                device.name.clone_from(&snap.device.name);
                device.snapshots += 1;
                device.logical_bytes += snap.summary.bytes;
                stats.snapshots += 1;
                stats.logical_bytes += snap.summary.bytes;
                let entries = match self.load_entries(&snap) {
                    Ok(entries) => entries,
                    Err(e) if e.is_damage() => {
                        stats.unreadable.push((id, e.to_string()));
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let chunks: HashSet<ChunkId> = (entries.iter())
                    .filter_map(|e| e.content.as_ref())
                    .flat_map(|c| c.chunks.iter().copied())
                    .collect();
                let device_number = u32::try_from(number).expect("fewer than 2^32 devices");
                uses.insert_all(device_number, chunks.difference(&previous))?;
                previous = chunks;
            }
            devices.push(device);
        }
        let index = self.cache.reader()?;
        uses.for_each_chunk(|chunk, users| {
            let loc = index.lookup(chunk)?;
            let raw = loc.map_or(0, |l| u64::from(l.entry.raw_length));
            stats.unique_chunk_bytes += raw;
            stats.packed_bytes += loc.map_or(0, |l| u64::from(l.entry.length));
            for &d in users {
                let device = &mut devices[d as usize];
                match users.len() {
                    1 => device.unique_bytes += raw,
                    _ => device.shared_bytes += raw,
                }
            }
            Ok(())
        })?;
        stats.devices = devices;
        Ok(stats)
    }
}

/// Snapshots grouped by device (in the order devices first appear), each group oldest first.
fn by_device(snapshots: Vec<(SnapshotId, Snapshot)>) -> Vec<Vec<(SnapshotId, Snapshot)>> {
    let mut groups: Vec<Vec<(SnapshotId, Snapshot)>> = Vec::new();
    for (id, snap) in snapshots {
        match groups
            .iter_mut()
            .find(|g| g[0].1.device.udid == snap.device.udid)
        {
            Some(g) => g.push((id, snap)),
            None => groups.push(vec![(id, snap)]),
        }
    }
    groups
}
