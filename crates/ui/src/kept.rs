//! What pages read of a snapshot, kept for the next request: its file tree, its photo
//! catalogue.
//!
//! Reading a 200,000-file snapshot's tree takes a second or more, and browsing asks for it on
//! every click; a snapshot never changes, so what was read of it stays true. The last few are
//! kept, by snapshot id, most recently used last.

use crate::error::UiError;
use hearth_format::SnapshotId;
use std::sync::{Arc, Mutex, PoisonError};

/// File trees kept (each about 200 bytes a file).
pub const TREES: usize = 4;
/// Photo catalogues kept.
pub const CATALOGUES: usize = 8;

pub struct Kept<T> {
    most: usize,
    kept: Mutex<Vec<(SnapshotId, Arc<T>)>>,
}

impl<T> Kept<T> {
    pub fn new(most: usize) -> Self {
        Self {
            most,
            kept: Mutex::default(),
        }
    }

    /// What is kept for `id`, else what `read` makes of it (then kept).
    pub fn get(
        &self,
        id: SnapshotId,
        read: impl FnOnce() -> Result<T, UiError>,
    ) -> Result<Arc<T>, UiError> {
        {
            let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(i) = kept.iter().position(|(k, _)| *k == id) {
                let hit = kept.remove(i);
                kept.push(hit.clone());
                return Ok(hit.1);
            }
        }
        // Read without the lock held: pages of other snapshots do not wait for this one.
        let value = Arc::new(read()?);
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if !kept.iter().any(|(k, _)| *k == id) {
            if kept.len() >= self.most {
                kept.remove(0);
            }
            kept.push((id, value.clone()));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_goes_first() {
        let kept = Kept::new(2);
        let id = |n: u8| SnapshotId::from_hex(&format!("{n:02x}").repeat(32)).unwrap();
        let mut reads = 0;
        let mut get = |n: u8| {
            *kept
                .get(id(n), || {
                    reads += 1;
                    Ok(n)
                })
                .unwrap()
        };
        assert_eq!((get(1), get(2), get(1)), (1, 2, 1));
        get(3); // 2 was used least lately
        get(1);
        get(2);
        assert_eq!(reads, 4, "1, 2, 3 read once each, 2 again");
    }
}
