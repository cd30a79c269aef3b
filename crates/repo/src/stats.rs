//! `stats`: logical and stored bytes, per device, shared versus unique.

use crate::error::RepoError;
use crate::repository::Repository;
use hearth_format::{ChunkId, SnapshotId};
use std::collections::HashMap;

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

struct ChunkUse {
    raw_len: u64,
    /// Bit i set: device i references the chunk.
    devices: u64,
}

impl Repository {
    pub fn stats(&self) -> Result<RepoStats, RepoError> {
        let mut stats = RepoStats {
            stored_bytes: self.stored_size()?,
            ..RepoStats::default()
        };
        let mut devices: Vec<DeviceStats> = Vec::new();
        let mut chunks: HashMap<ChunkId, ChunkUse> = HashMap::new();
        for (id, snap) in self.snapshots()? {
            let di = match devices.iter().position(|d| d.udid == snap.device.udid) {
                Some(i) => i,
                None => {
                    devices.push(DeviceStats {
                        udid: snap.device.udid.clone(),
                        ..Default::default()
                    });
                    devices.len() - 1
                }
            };
            let dev = &mut devices[di];
            dev.name = snap.device.name.clone();
            dev.snapshots += 1;
            dev.logical_bytes += snap.summary.bytes;
            stats.logical_bytes += snap.summary.bytes;
            stats.snapshots += 1;
            let entries = match self.load_entries(&snap) {
                Ok(entries) => entries,
                Err(e) if e.is_damage() => {
                    stats.unreadable.push((id, e.to_string()));
                    continue;
                }
                Err(e) => return Err(e),
            };
            for entry in entries {
                let Some(content) = entry.content else {
                    continue;
                };
                for id in content.chunks {
                    if let Some(u) = chunks.get_mut(&id) {
                        u.devices |= 1 << (di % 64);
                        continue;
                    }
                    let loc = self.cache.lookup(&id)?;
                    let raw_len = loc.map_or(0, |l| u64::from(l.entry.raw_length));
                    stats.packed_bytes += loc.map_or(0, |l| u64::from(l.entry.length));
                    chunks.insert(
                        id,
                        ChunkUse {
                            raw_len,
                            devices: 1 << (di % 64),
                        },
                    );
                }
            }
        }
        for u in chunks.values() {
            stats.unique_chunk_bytes += u.raw_len;
            for (i, d) in devices.iter_mut().enumerate() {
                if u.devices & (1 << (i % 64)) == 0 {
                    continue;
                }
                if u.devices.count_ones() == 1 {
                    d.unique_bytes += u.raw_len;
                } else {
                    d.shared_bytes += u.raw_len;
                }
            }
        }
        stats.devices = devices;
        Ok(stats)
    }
}
