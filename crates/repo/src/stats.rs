//! `stats`: logical and stored bytes, per device, shared versus unique.

use crate::error::RepoError;
use crate::repository::Repository;
use hearth_format::{ChunkId, Snapshot, SnapshotId};
use hearth_index::UsageSet;

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
    /// what a snapshot changes from its predecessor: the two snapshots' entries are streamed
    /// side by side in path order, and only the chunks of entries that are new or whose chunks
    /// differ are recorded ([`USAGE_BATCH`] at a time). Memory holds a few entries and one
    /// batch, whatever the repository's size or its number of devices.
    pub fn stats(&self) -> Result<RepoStats, RepoError> {
        let mut stats = RepoStats {
            stored_bytes: self.stored_size()?,
            ..RepoStats::default()
        };
        let mut uses = UsageSet::create(&self.scratch_file("uses"));
        let mut devices: Vec<DeviceStats> = Vec::new();
        for (number, group) in by_device(self.snapshots()?).into_iter().enumerate() {
            let mut device = DeviceStats::default();
            let device_number = u32::try_from(number).expect("fewer than 2^32 devices");
            // The last snapshot of the device whose file list read.
            let mut previous: Option<Snapshot> = None;
            for (id, snap) in group {
                device.udid.clone_from(&snap.device.udid);
                device.name.clone_from(&snap.device.name);
                device.snapshots += 1;
                device.logical_bytes += snap.summary.bytes;
                stats.snapshots += 1;
                stats.logical_bytes += snap.summary.bytes;
                match self.record_uses(&mut uses, device_number, &snap, previous.as_ref()) {
                    Ok(()) => previous = Some(snap),
                    Err(e) if e.is_damage() => stats.unreadable.push((id, e.to_string())),
                    Err(e) => return Err(e),
                }
            }
            devices.push(device);
        }
        let index = self.cache.reader()?;
        let mut lookups = index.sorted_lookups()?;
        uses.finish()?.for_each_chunk(|chunk, users| {
            let loc = lookups.lookup(chunk)?;
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

/// Chunk ids recorded in one transaction.
const USAGE_BATCH: usize = 64 * 1024;

impl Repository {
    /// Records in `uses` that `device` uses the chunks of `snap`'s entries that are not in
    /// `previous` (an earlier snapshot of the device, already recorded) at the same path with
    /// the same chunks. A file list that stops reading has recorded the chunks before it.
    fn record_uses(
        &self,
        uses: &mut UsageSet,
        device: u32,
        snap: &Snapshot,
        previous: Option<&Snapshot>,
    ) -> Result<(), RepoError> {
        // An earlier file list that stops reading only means more is recorded again.
        let mut before = (previous.map(|p| self.entries(p).map_while(Result::ok)))
            .into_iter()
            .flatten()
            .peekable();
        let mut batch: Vec<ChunkId> = Vec::new();
        for entry in self.entries(snap) {
            let entry = entry?;
            let Some(content) = &entry.content else {
                continue;
            };
            while before.next_if(|b| b.path < entry.path).is_some() {}
            let same = before
                .next_if(|b| b.path == entry.path)
                .is_some_and(|b| b.content.is_some_and(|c| c.chunks == content.chunks));
            if same {
                continue;
            }
            batch.extend_from_slice(&content.chunks);
            if batch.len() >= USAGE_BATCH {
                uses.insert_all(device, &batch)?;
                batch.clear();
            }
        }
        uses.insert_all(device, &batch)?;
        Ok(())
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
