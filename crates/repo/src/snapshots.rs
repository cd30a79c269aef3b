//! The snapshot catalog, snapshot references, trees, and reading blobs back.

use crate::error::RepoError;
use crate::lock::LockGuard;
use crate::objects::put_sealed;
use crate::repository::Repository;
use crate::writer::WriteSession;
use hearth_format::{Entry, ObjectKind, Snapshot, SnapshotId};
use hearth_storage::FileType;

/// How a user names a snapshot (`shared/DESIGN.md`): an id or unique prefix (6+ hex digits),
/// `DEVICE@latest`, `DEVICE@latest~N` (the Nth before the latest), or `DEVICE@YYYY-MM-DD`
/// (the device's last snapshot on or before that day, local time). Times are the device's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotRef {
    Prefix(String),
    /// A device and how many snapshots before its latest.
    Latest(String, usize),
    /// A device and a day, `YYYY-MM-DD`.
    OnOrBefore(String, String),
}

impl SnapshotRef {
    pub fn parse(s: &str) -> Self {
        let Some((device, which)) = s.rsplit_once('@') else {
            return Self::Prefix(s.to_ascii_lowercase());
        };
        let (device, which) = (device.to_string(), which.to_string());
        match which.strip_prefix("latest") {
            Some("") => Self::Latest(device, 0),
            Some(back) => match back.strip_prefix('~').and_then(|n| n.parse().ok()) {
                Some(n) => Self::Latest(device, n),
                None => Self::OnOrBefore(device, which),
            },
            None => Self::OnOrBefore(device, which),
        }
    }
}

const SELECTORS: &str =
    "give at least 6 hex digits of an id, or DEVICE@latest, DEVICE@latest~N or DEVICE@YYYY-MM-DD";

impl Repository {
    /// Every snapshot, oldest first by the device's time (from the cache, which `open` brought
    /// up to date).
    pub fn snapshots(&self) -> Result<Vec<(SnapshotId, Snapshot)>, RepoError> {
        let mut out = self
            .cache
            .snapshots()?
            .into_iter()
            .map(|(id, payload)| {
                Snapshot::decode(&payload)
                    .map(|s| (id, s))
                    .map_err(|e| RepoError::corrupt(format!("cached snapshot {id}"), e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // By the device's time; of two backups made at the same time, the one stored last is
        // the newer.
        out.sort_by_key(|(id, s)| (s.time, s.stored_at, *id));
        Ok(out)
    }

    /// The snapshots of one device (name, UDID, or a unique UDID prefix), oldest first.
    pub fn device_snapshots(&self, device: &str) -> Result<Vec<(SnapshotId, Snapshot)>, RepoError> {
        let all = self.snapshots()?;
        let udid = resolve_device(&all, device)?;
        Ok(all
            .into_iter()
            .filter(|(_, s)| s.device.udid == udid)
            .collect())
    }

    /// The newest snapshot of a device, for the incremental fast path.
    pub fn latest_for_udid(&self, udid: &str) -> Result<Option<(SnapshotId, Snapshot)>, RepoError> {
        Ok(self
            .snapshots()?
            .into_iter()
            .rfind(|(_, s)| s.device.udid == udid))
    }

    pub fn find_snapshot(&self, reference: &str) -> Result<(SnapshotId, Snapshot), RepoError> {
        let not_found = |why: &str| RepoError::SnapshotNotFound(format!("{reference} ({why})"));
        match SnapshotRef::parse(reference) {
            SnapshotRef::Latest(device, back) => {
                let mut all = self.device_snapshots(&device)?;
                let n = all.len();
                match back < n {
                    true => Ok(all.swap_remove(n - 1 - back)),
                    false => Err(not_found(&format!("{device} has {n} snapshot(s)"))),
                }
            }
            SnapshotRef::OnOrBefore(device, day) => {
                let end =
                    crate::local_time::end_of_day(&day).ok_or_else(|| not_found(SELECTORS))?;
                (self.device_snapshots(&device)?.into_iter())
                    .rfind(|(_, s)| s.time < end)
                    .ok_or_else(|| {
                        not_found(&format!("{device} has no snapshot on or before {day}"))
                    })
            }
            SnapshotRef::Prefix(prefix) => {
                if prefix.len() < 6 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(not_found(SELECTORS));
                }
                let mut hits: Vec<_> = self
                    .snapshots()?
                    .into_iter()
                    .filter(|(id, _)| id.to_hex().starts_with(&prefix))
                    .collect();
                match hits.len() {
                    0 => Err(RepoError::SnapshotNotFound(reference.to_string())),
                    1 => Ok(hits.remove(0)),
                    _ => Err(RepoError::AmbiguousSnapshot(reference.to_string())),
                }
            }
        }
    }

    /// The id of a snapshot object, also of one that does not read (to forget it): an id or
    /// unique prefix among the objects in `snapshots/`, or `DEVICE@latest`.
    pub fn find_snapshot_id(&self, reference: &str) -> Result<SnapshotId, RepoError> {
        let SnapshotRef::Prefix(prefix) = SnapshotRef::parse(reference) else {
            return self.find_snapshot(reference).map(|(id, _)| id);
        };
        if prefix.len() < 6 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return self.find_snapshot(reference).map(|(id, _)| id);
        }
        let mut hits: Vec<SnapshotId> = (self.backend.list(FileType::Snapshot)?.iter())
            .filter(|o| o.name.starts_with(&prefix))
            .filter_map(|o| SnapshotId::from_hex(&o.name))
            .collect();
        match hits.len() {
            0 => Err(RepoError::SnapshotNotFound(reference.to_string())),
            1 => Ok(hits.remove(0)),
            _ => Err(RepoError::AmbiguousSnapshot(reference.to_string())),
        }
    }

    /// The snapshot's entries, decoded from its tree blobs, all in memory: for small snapshots
    /// and tests; [`Repository::entries`] streams them.
    pub fn load_entries(&self, snapshot: &Snapshot) -> Result<Vec<Entry>, RepoError> {
        self.entries(snapshot).collect()
    }

    /// Stores the tree, flushes (packs and index first), then writes the snapshot: the commit,
    /// under the session's lock (see [`Repository::put_snapshot`]).
    pub fn commit_snapshot(
        &self,
        session: &WriteSession<'_>,
        mut snapshot: Snapshot,
        entries: &[Entry],
    ) -> Result<SnapshotId, RepoError> {
        let tree = session.store_tree(entries.iter())?;
        snapshot.tree = tree.blobs;
        snapshot.tree_len = tree.len;
        self.commit_tree(session, &snapshot)
    }

    /// Commits a snapshot whose tree the session stored ([`WriteSession::store_tree`]): once
    /// every blob of the session is in a committed pack and an index segment, the snapshot
    /// object is written.
    pub fn commit_tree(
        &self,
        session: &WriteSession<'_>,
        snapshot: &Snapshot,
    ) -> Result<SnapshotId, RepoError> {
        session.flush()?;
        self.put_snapshot(session.lock(), snapshot)
    }

    /// Writes a snapshot object whose tree is stored and indexed, if `lock` protects the
    /// writer before the put and still after it. A put that returned only once the lock may
    /// have gone stale (the computer slept in it) is deleted again: a prune elsewhere may have
    /// deleted blobs it names meanwhile, and a snapshot must never name what is gone.
    pub(crate) fn put_snapshot(
        &self,
        lock: &LockGuard,
        snapshot: &Snapshot,
    ) -> Result<SnapshotId, RepoError> {
        let payload = snapshot.encode();
        self.held(lock)?;
        let freshness = lock.freshness();
        let id = SnapshotId(put_sealed(
            self.backend.as_ref(),
            &self.keys,
            Some(&freshness),
            ObjectKind::Snapshot,
            &payload,
        )?);
        self.cache.add_snapshot(&id, &payload)?;
        Ok(id)
    }
}

/// A device given by name, UDID or a unique UDID prefix → its UDID.
fn resolve_device(all: &[(SnapshotId, Snapshot)], device: &str) -> Result<String, RepoError> {
    let mut udids: Vec<&str> = all
        .iter()
        .map(|(_, s)| &s.device)
        .filter(|d| d.name == device || d.udid.eq_ignore_ascii_case(device))
        .map(|d| d.udid.as_str())
        .collect();
    if udids.is_empty() && device.len() >= 4 {
        udids = all
            .iter()
            .map(|(_, s)| s.device.udid.as_str())
            .filter(|u| {
                u.to_ascii_lowercase()
                    .starts_with(&device.to_ascii_lowercase())
            })
            .collect();
    }
    udids.sort_unstable();
    udids.dedup();
    match udids.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(RepoError::DeviceNotFound(device.to_string())),
        _ => Err(RepoError::DeviceNotFound(format!(
            "{device} (several devices match; give the UDID)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_an_id_the_latest_the_nth_before_it_or_a_day() {
        let r = |s: &str| SnapshotRef::parse(s);
        assert_eq!(r("3F9C2A"), SnapshotRef::Prefix("3f9c2a".into()));
        assert_eq!(
            r("Mum's iPhone@latest"),
            SnapshotRef::Latest("Mum's iPhone".into(), 0)
        );
        assert_eq!(
            r("Mum@Home@latest~2"),
            SnapshotRef::Latest("Mum@Home".into(), 2)
        );
        assert_eq!(
            r("iPad@2026-06-02"),
            SnapshotRef::OnOrBefore("iPad".into(), "2026-06-02".into())
        );
        // Not a number of snapshots back: taken as a day, which then does not parse.
        assert_eq!(
            r("iPad@latest~x"),
            SnapshotRef::OnOrBefore("iPad".into(), "latest~x".into())
        );
    }
}
