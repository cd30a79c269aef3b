//! Inode numbers of the household's tree, stable for as long as it is mounted, and computed,
//! never stored: the kernel may ask about any inode it has seen, in any order.
//!
//! ```text
//! 1                          the root
//! 2 + d                      device d's folder
//! (slot + 1) << 32 | node    node of a snapshot's files; slot = 2 × snapshot + view
//! ```
//!
//! `snapshot` counts the household's snapshots device by device; `view` is 0 under the
//! snapshot's own folder and 1 under its device's `latest`. `latest` gets inodes of its own,
//! not the snapshot folder's: the kernel allows one parent per folder, and an inode seen under
//! two names would be moved between them. Node ids are `u32`, so the two halves never mix.

use hearth_browse::{Household, NodeId};

pub(crate) const ROOT: u64 = 1;
const FIRST_DEVICE: u64 = 2;

/// What an inode number names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ino {
    Root,
    Device(usize),
    Files {
        device: usize,
        snapshot: usize,
        latest: bool,
        node: NodeId,
    },
}

/// The household's shape, for numbering: where each device's snapshots start in the count.
pub(crate) struct Inodes {
    /// `starts[d]` is the number of snapshots of devices before `d`; one more entry at the end.
    starts: Vec<usize>,
}

impl Inodes {
    pub(crate) fn new(household: &Household<'_>) -> Self {
        let mut starts = vec![0];
        for d in household.devices() {
            starts.push(starts.last().copied().unwrap_or(0) + d.snapshots.len());
        }
        Inodes { starts }
    }

    fn devices(&self) -> usize {
        self.starts.len() - 1
    }

    pub(crate) fn number(&self, ino: Ino) -> u64 {
        match ino {
            Ino::Root => ROOT,
            Ino::Device(d) => FIRST_DEVICE + d as u64,
            Ino::Files {
                device,
                snapshot,
                latest,
                node,
            } => {
                let slot = 2 * (self.starts[device] + snapshot) as u64 + u64::from(latest);
                ((slot + 1) << 32) | u64::from(node)
            }
        }
    }

    /// What `n` names; `None` for a number no inode of this household has.
    pub(crate) fn parse(&self, n: u64) -> Option<Ino> {
        if n == ROOT {
            return Some(Ino::Root);
        }
        if n < 1 << 32 {
            let d = usize::try_from(n.checked_sub(FIRST_DEVICE)?).ok()?;
            return (d < self.devices()).then_some(Ino::Device(d));
        }
        let slot = usize::try_from((n >> 32) - 1).ok()?;
        let (global, latest) = (slot / 2, slot % 2 == 1);
        let device = self
            .starts
            .partition_point(|&s| s <= global)
            .checked_sub(1)?;
        if device >= self.devices() {
            return None;
        }
        let snapshot = global - self.starts[device];
        let last = self.starts[device + 1] - self.starts[device] - 1;
        if latest && snapshot != last {
            return None;
        }
        Some(Ino::Files {
            device,
            snapshot,
            latest,
            node: (n & 0xffff_ffff) as NodeId,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(snapshots: &[usize]) -> Inodes {
        let mut starts = vec![0];
        for s in snapshots {
            starts.push(starts.last().unwrap() + s);
        }
        Inodes { starts }
    }

    #[test]
    fn every_inode_parses_back_to_what_it_numbers() {
        let inodes = shape(&[2, 1, 3]);
        let mut seen = std::collections::HashSet::new();
        let mut all = vec![Ino::Root, Ino::Device(0), Ino::Device(1), Ino::Device(2)];
        for (device, count) in [2usize, 1, 3].into_iter().enumerate() {
            for snapshot in 0..count {
                for node in [0, 1, 7, u32::MAX] {
                    for latest in [false, true] {
                        if latest && snapshot != count - 1 {
                            continue;
                        }
                        all.push(Ino::Files {
                            device,
                            snapshot,
                            latest,
                            node,
                        });
                    }
                }
            }
        }
        for ino in all {
            let n = inodes.number(ino);
            assert!(seen.insert(n), "{ino:?} shares {n:#x}");
            assert_eq!(inodes.parse(n), Some(ino), "{n:#x}");
        }
    }

    #[test]
    fn numbers_of_no_inode_parse_to_none() {
        let inodes = shape(&[2, 1]);
        assert_eq!(inodes.parse(0), None);
        assert_eq!(inodes.parse(4), None, "only two devices");
        // Device 0's first snapshot is not its latest.
        assert_eq!(inodes.parse(2 << 32), None);
        // Slot 6 would be a fourth snapshot; there are three.
        assert_eq!(inodes.parse(7 << 32), None);
        assert_eq!(inodes.parse(u64::MAX), None);
    }
}
