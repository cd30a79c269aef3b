//! "Export": `hearth export KIND` into the export library (`library/photos`,
//! `library/messages`, ...), from one snapshot (`snapshot=HEX`) or each device's latest
//! (`scope=household`, the default), the export's progress on the job's bar.

use super::{Fields, busy, field};
use crate::error::{UiError, error_text};
use crate::jobs::{Finished, Job};
use crate::state::App;
use hearth_export::{Kind, Tally};
use std::path::Path;
use std::sync::Arc;

pub fn start(app: &Arc<App>, fields: &Fields) -> Result<Arc<Job>, UiError> {
    let name = field(fields, "kind")?;
    let kind = Kind::ALL
        .into_iter()
        .find(|k| k.name() == name)
        .ok_or_else(|| UiError::BadRequest(format!("nothing exports {name:?}")))?;
    let hex = match fields.get("scope").map(String::as_str) {
        Some("household") => None,
        _ => fields.get("snapshot").filter(|h| !h.is_empty()).cloned(),
    };
    let snapshots = app
        .reads
        .read(|| super::super::pages::media::chosen(app, hex.as_deref()))?;
    if snapshots.is_empty() {
        return Err(UiError::BadRequest(
            "the repository holds no snapshot to export from".into(),
        ));
    }
    let out = app.options.library.join(kind.name());
    let title = match (&hex, snapshots.first()) {
        (Some(_), Some((_, s))) => format!("Export {} of {}", kind.name(), s.device.label()),
        _ => format!("Export the household's {}", kind.name()),
    };
    let runner = app.clone();
    app.jobs
        .start(title, move |progress| {
            let report = runner
                .reads
                .read(|| hearth_export::export(runner.repo, kind, &snapshots, &out, progress))
                .map_err(|e| error_text(&e))?;
            for s in &report.snapshots {
                if let Some(f) = &s.failed {
                    progress.log(format!("{}: {f}", s.device));
                }
                for w in &s.tally.warnings {
                    progress.log(format!("{}: {w}", s.device));
                }
            }
            Ok(Finished {
                summary: format!("{} into {}", counts(&report.total), out.display()),
                warnings: report.has_problems(),
                link: Some(file_url(&out)),
            })
        })
        .map_err(busy)
}

/// "3 photos, 1 videos": what was exported, zero counts left out.
fn counts(tally: &Tally) -> String {
    let parts: Vec<String> = tally
        .counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{n} {}", k.replace('_', " ")))
        .collect();
    match parts.is_empty() {
        true => "nothing new".into(),
        false => parts.join(", "),
    }
}

/// `file:///…` of a local folder, each byte outside the unreserved set percent-encoded.
fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                url.push(b as char)
            }
            _ => url.push_str(&format!("%{b:02X}")),
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_what_was_exported_and_the_folder_is_a_file_url() {
        let mut t = Tally::default();
        t.add("photos", 3);
        t.add("already_exported", 0);
        t.add("live_photos", 1);
        assert_eq!(counts(&t), "1 live photos, 3 photos");
        assert_eq!(counts(&Tally::default()), "nothing new");
        assert_eq!(
            file_url(Path::new("/home/a b/library/photos")),
            "file:///home/a%20b/library/photos"
        );
    }
}
