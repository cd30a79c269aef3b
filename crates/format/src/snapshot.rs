//! Snapshot payload (`docs/format.md` §9).

use crate::codec::{DecodeError, Reader, Writer};
use crate::header::ObjectKind;
use crate::{ChunkId, SnapshotId};

/// Who a snapshot belongs to, from the backup's Info.plist.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceIdentity {
    pub udid: String,
    pub name: String,
    pub product_type: String,
    pub ios_version: String,
    pub build: String,
}

impl DeviceIdentity {
    /// How text output names the device: its name, else (a backup whose Info.plist names none)
    /// its UDID.
    pub fn label(&self) -> &str {
        if self.name.is_empty() {
            &self.udid
        } else {
            &self.name
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnapshotSummary {
    pub files: u64,
    pub bytes: u64,
    pub files_new: u64,
    pub files_changed: u64,
    pub files_unmodified: u64,
    pub bytes_read: u64,
    pub bytes_added: u64,
}

/// Something the backup could not capture as it should, recorded for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub path: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// When the device was backed up (its backup's `Status.plist` `Date`, else Info.plist's
    /// `Last Backup Date`, else Manifest.db's mtime): Unix microseconds, UTC. What retention,
    /// `D@latest` and listings go by.
    pub time: i64,
    /// When Hearth stored it: Unix microseconds, UTC. (A layout-1 snapshot has only one time,
    /// Hearth's; it is read as both.)
    pub stored_at: i64,
    pub host: String,
    pub device: DeviceIdentity,
    pub parent: Option<SnapshotId>,
    pub tags: Vec<String>,
    pub summary: SnapshotSummary,
    pub warnings: Vec<Warning>,
    /// Length of the encoded entry stream.
    pub tree_len: u64,
    /// The entry stream's blobs, in order.
    pub tree: Vec<ChunkId>,
}

impl Snapshot {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.i64(self.time);
        w.i64(self.stored_at);
        w.string(&self.host);
        let d = &self.device;
        for s in [&d.udid, &d.name, &d.product_type, &d.ios_version, &d.build] {
            w.string(s);
        }
        match &self.parent {
            Some(p) => {
                w.u8(1);
                w.id(&p.0);
            }
            None => w.u8(0),
        }
        w.count(self.tags.len());
        self.tags.iter().for_each(|t| w.string(t));
        let s = &self.summary;
        for v in [
            s.files,
            s.bytes,
            s.files_new,
            s.files_changed,
            s.files_unmodified,
            s.bytes_read,
            s.bytes_added,
        ] {
            w.u64(v);
        }
        w.count(self.warnings.len());
        for warning in &self.warnings {
            w.string(&warning.path);
            w.lstring(&warning.message);
        }
        w.u64(self.tree_len);
        w.count(self.tree.len());
        self.tree.iter().for_each(|id| w.id(&id.0));
        w.finish()
    }

    /// Decodes a payload of the current layout (what [`Snapshot::encode`] writes).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_layout(bytes, ObjectKind::Snapshot.version())
    }

    /// Decodes a payload of layout `version` (the object's header says which, §3): layout 1
    /// has no `stored_at`.
    pub fn decode_layout(bytes: &[u8], version: u8) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let time = r.i64()?;
        let stored_at = if version >= 2 { r.i64()? } else { time };
        let host = r.string()?;
        let device = DeviceIdentity {
            udid: r.string()?,
            name: r.string()?,
            product_type: r.string()?,
            ios_version: r.string()?,
            build: r.string()?,
        };
        let parent = match r.u8()? {
            0 => None,
            1 => Some(SnapshotId(r.id()?)),
            v => {
                return Err(DecodeError::Invalid {
                    field: "parent flag",
                    value: v.into(),
                });
            }
        };
        let n = r.count(2)?;
        let tags = (0..n).map(|_| r.string()).collect::<Result<_, _>>()?;
        let summary = SnapshotSummary {
            files: r.u64()?,
            bytes: r.u64()?,
            files_new: r.u64()?,
            files_changed: r.u64()?,
            files_unmodified: r.u64()?,
            bytes_read: r.u64()?,
            bytes_added: r.u64()?,
        };
        let n = r.count(6)?;
        let warnings = (0..n)
            .map(|_| {
                Ok(Warning {
                    path: r.string()?,
                    message: r.lstring()?,
                })
            })
            .collect::<Result<_, DecodeError>>()?;
        let tree_len = r.u64()?;
        let tree = r.ids()?.into_iter().map(ChunkId).collect();
        r.finish()?;
        Ok(Self {
            time,
            stored_at,
            host,
            device,
            parent,
            tags,
            summary,
            warnings,
            tree_len,
            tree,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_round_trips() {
        let s = Snapshot {
            time: 1_700_000_000_000_000,
            stored_at: 1_700_000_123_000_000,
            host: "kitchen-mac".into(),
            device: DeviceIdentity {
                udid: "00008110-AAAA".into(),
                name: "Mum's iPhone".into(),
                product_type: "iPhone15,2".into(),
                ios_version: "17.5.1".into(),
                build: "21F90".into(),
            },
            parent: Some(SnapshotId([9; 32])),
            tags: vec!["nightly".into()],
            summary: SnapshotSummary {
                files: 3,
                bytes: 10,
                ..Default::default()
            },
            warnings: vec![Warning {
                path: "ab/abcd".into(),
                message: "blob missing".into(),
            }],
            tree_len: 123,
            tree: vec![ChunkId([1; 32]), ChunkId([2; 32])],
        };
        assert_eq!(Snapshot::decode(&s.encode()).unwrap(), s);
        let bytes = s.encode();
        for cut in [0, 7, bytes.len() - 1] {
            assert!(Snapshot::decode(&bytes[..cut]).is_err());
        }
        // Layout 1: the same without `stored_at`, which reads as the one time it has.
        let mut v1 = bytes[..8].to_vec();
        v1.extend_from_slice(&bytes[16..]);
        let old = Snapshot::decode_layout(&v1, 1).unwrap();
        assert_eq!(old.stored_at, s.time);
        assert_eq!(
            Snapshot {
                stored_at: s.stored_at,
                ..old
            },
            s
        );
        assert!(Snapshot::decode_layout(&v1, 2).is_err());
    }
}
