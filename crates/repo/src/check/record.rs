//! The last check's outcome, kept in this computer's cache folder (`last-check`), so that the
//! dashboard and `hearth stats`-like views can say when the repository was last checked and
//! what was found, whichever program ran it. It is a note, not part of the repository: another
//! computer keeps its own, and a lost note only means "never checked here".
//!
//! The file is lines of `key=value` (values one line each, `problem` repeated):
//! `time`, `ok`, `read_data`, `snapshots`, `packs`, `problem`.

use super::{CheckReport, ReadData};
use crate::error::RepoError;
use crate::repository::Repository;

const FILE: &str = "last-check";

/// What the last check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRecord {
    /// When it ended (Unix seconds).
    pub time: i64,
    pub ok: bool,
    /// What of the data it read (`ReadData`'s text).
    pub read_data: String,
    pub snapshots: u64,
    pub packs: u64,
    /// Each damaged object and what is wrong with it.
    pub problems: Vec<String>,
}

impl CheckRecord {
    fn encode(&self) -> String {
        let mut text = format!(
            "time={}\nok={}\nread_data={}\nsnapshots={}\npacks={}\n",
            self.time, self.ok, self.read_data, self.snapshots, self.packs
        );
        for p in &self.problems {
            text.push_str("problem=");
            text.push_str(&p.replace(['\n', '\r'], " "));
            text.push('\n');
        }
        text
    }

    fn decode(text: &str) -> Option<Self> {
        let mut r = CheckRecord {
            time: 0,
            ok: false,
            read_data: String::new(),
            snapshots: 0,
            packs: 0,
            problems: Vec::new(),
        };
        let mut seen_time = false;
        for line in text.lines() {
            let (key, value) = line.split_once('=')?;
            match key {
                "time" => (r.time, seen_time) = (value.parse().ok()?, true),
                "ok" => r.ok = value.parse().ok()?,
                "read_data" => r.read_data = value.to_owned(),
                "snapshots" => r.snapshots = value.parse().ok()?,
                "packs" => r.packs = value.parse().ok()?,
                "problem" => r.problems.push(value.to_owned()),
                _ => {}
            }
        }
        seen_time.then_some(r)
    }
}

impl Repository {
    /// Keeps `report` as the last check (written beside, then renamed).
    pub fn record_check(&self, report: &CheckReport, read_data: ReadData) -> Result<(), RepoError> {
        let record = CheckRecord {
            time: crate::lock::unix_now(),
            ok: report.is_ok(),
            read_data: read_data.to_string(),
            snapshots: report.snapshots as u64,
            packs: report.packs as u64,
            problems: (report.damage.iter())
                .map(|d| format!("{}: {}", d.object, d.problem))
                .collect(),
        };
        let path = self.cache_folder().join(FILE);
        let beside = path.with_extension("new");
        std::fs::write(&beside, record.encode())
            .and_then(|()| std::fs::rename(&beside, &path))
            .map_err(|source| RepoError::CacheWrite { path, source })
    }

    /// The last check this computer recorded, if any (an unreadable note counts as none).
    pub fn last_check(&self) -> Option<CheckRecord> {
        let text = std::fs::read_to_string(self.cache_folder().join(FILE)).ok()?;
        CheckRecord::decode(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_and_a_damaged_one_is_none() {
        let r = CheckRecord {
            time: 1_765_000_000,
            ok: false,
            read_data: "10%".into(),
            snapshots: 7,
            packs: 40,
            problems: vec![
                "data/ab/cd: truncated\nat 10".into(),
                "index/ef: missing".into(),
            ],
        };
        let back = CheckRecord::decode(&r.encode()).unwrap();
        assert_eq!(back.problems[0], "data/ab/cd: truncated at 10");
        assert_eq!(
            (back.time, back.ok, back.snapshots, back.packs),
            (r.time, false, 7, 40)
        );
        assert_eq!(back.read_data, "10%");
        assert_eq!(CheckRecord::decode("ok=true\n"), None);
        assert_eq!(CheckRecord::decode("time=x\n"), None);
        assert_eq!(CheckRecord::decode("garbage"), None);
    }
}
