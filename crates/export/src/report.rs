//! What an export did: counts by what was exported (`photos`, `messages`, `contacts`, ...), per
//! snapshot and in all, and the problems met on the way.

use crate::error::ExportError;
use hearth_format::{Snapshot, SnapshotId};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The counts and notes of one piece of work (a snapshot's export, or a whole export).
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// What was exported, by name (`conversations`, `messages`, `attachments`, ...).
    pub counts: BTreeMap<&'static str, u64>,
    /// Things left out, each naming what and why (an attachment the backup lacks, a message
    /// body that does not decode, a table of a schema the exporter does not know).
    pub warnings: Vec<String>,
    /// What a reader should know that is no fault of the export or of the backup (attachments
    /// a phone keeps in iCloud only): shown, but not a warning.
    pub remarks: Vec<String>,
}

impl Tally {
    pub fn add(&mut self, what: &'static str, n: u64) {
        *self.counts.entry(what).or_default() += n;
    }

    pub fn count(&self, what: &str) -> u64 {
        self.counts.get(what).copied().unwrap_or(0)
    }

    pub fn warn(&mut self, warning: impl Into<String>) {
        self.warnings.push(warning.into());
    }

    pub fn remark(&mut self, remark: impl Into<String>) {
        self.remarks.push(remark.into());
    }

    pub fn absorb(&mut self, other: &Tally) {
        for (k, v) in &other.counts {
            self.add(k, *v);
        }
        self.warnings.extend(other.warnings.iter().cloned());
        self.remarks.extend(other.remarks.iter().cloned());
    }
}

/// One snapshot's part of an export.
#[derive(Debug, Clone)]
pub struct SnapshotReport {
    pub snapshot: SnapshotId,
    pub udid: String,
    pub device: String,
    /// When the device was backed up, Unix microseconds.
    pub time: i64,
    /// Where its files went.
    pub out: PathBuf,
    pub tally: Tally,
    /// Why this snapshot's export stopped short, if it did (a database it cannot read).
    pub failed: Option<String>,
}

impl SnapshotReport {
    pub(crate) fn new(id: SnapshotId, snapshot: &Snapshot, out: PathBuf) -> Self {
        Self {
            snapshot: id,
            udid: snapshot.device.udid.clone(),
            device: snapshot.device.label().to_string(),
            time: snapshot.time,
            out,
            tally: Tally::default(),
            failed: None,
        }
    }

    pub(crate) fn fail(&mut self, error: &ExportError) {
        self.failed = Some(error.to_string());
    }
}

/// A whole export.
#[derive(Debug, Clone)]
pub struct ExportReport {
    pub kind: &'static str,
    pub out: PathBuf,
    /// All snapshots' counts together.
    pub total: Tally,
    pub snapshots: Vec<SnapshotReport>,
}

impl ExportReport {
    /// Whether anything was left out or failed: the CLI's exit status 3.
    pub fn has_problems(&self) -> bool {
        !self.total.warnings.is_empty() || self.snapshots.iter().any(|s| s.failed.is_some())
    }
}
