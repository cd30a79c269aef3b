//! What happened, and how it reads: a short title and plain-text body for a person on a phone,
//! and a JSON document for programs.

use hearth_format::DeviceIdentity;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};

/// A device as messages name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRef {
    pub name: String,
    pub udid: String,
}

impl DeviceRef {
    /// Its name, else (a backup that names none) its UDID.
    pub fn label(&self) -> &str {
        if self.name.is_empty() {
            &self.udid
        } else {
            &self.name
        }
    }
}

impl From<&DeviceIdentity> for DeviceRef {
    fn from(d: &DeviceIdentity) -> Self {
        DeviceRef {
            name: d.name.clone(),
            udid: d.udid.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A device backed up (or found unchanged since its latest snapshot, `unchanged`).
    BackupSucceeded {
        device: DeviceRef,
        /// The snapshot's short id.
        snapshot: String,
        files: u64,
        bytes_added: u64,
        unchanged: bool,
    },
    /// A device could not be backed up. `name` is the device's name, else its folder.
    BackupFailed {
        name: String,
        udid: Option<String>,
        error: String,
    },
    /// A device not backed up for `days` days, last at `last_backup` (Unix seconds).
    Overdue {
        device: DeviceRef,
        last_backup: i64,
        days: i64,
    },
    /// What `hearth check` found wrong, in a few lines.
    Damage { summary: String },
}

/// Problems a damage summary lists before "and N more".
const LISTED: usize = 3;

impl Event {
    /// What `hearth check` found in the repository at `location`: how many problems, the first
    /// few.
    pub fn damage(location: &str, problems: &[String]) -> Event {
        let mut summary = format!("{location}: {} problem(s)", problems.len());
        for p in problems.iter().take(LISTED) {
            summary.push_str("\n- ");
            summary.push_str(p);
        }
        if problems.len() > LISTED {
            summary.push_str(&format!("\n... and {} more", problems.len() - LISTED));
        }
        Event::Damage { summary }
    }

    /// The JSON document's `event`.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::BackupSucceeded { .. } => "backup_succeeded",
            Event::BackupFailed { .. } => "backup_failed",
            Event::Overdue { .. } => "overdue",
            Event::Damage { .. } => "damage",
        }
    }

    /// Whether someone should act: everything but a success.
    pub fn is_problem(&self) -> bool {
        !matches!(self, Event::BackupSucceeded { .. })
    }

    pub fn title(&self) -> String {
        match self {
            Event::BackupSucceeded { device, .. } => format!("Backed up {}", device.label()),
            Event::BackupFailed { name, .. } => format!("Backup of {name} failed"),
            Event::Overdue { device, days, .. } => {
                format!("{} not backed up for {days} days", device.label())
            }
            Event::Damage { .. } => "Hearth check found damage".into(),
        }
    }

    pub fn body(&self) -> String {
        match self {
            Event::BackupSucceeded {
                device,
                snapshot,
                unchanged: true,
                ..
            } => format!(
                "{} is unchanged since snapshot {snapshot}; nothing new to store.",
                device.label()
            ),
            Event::BackupSucceeded {
                snapshot,
                files,
                bytes_added,
                ..
            } => format!(
                "Snapshot {snapshot}: {files} files, {} added.",
                bytes(*bytes_added)
            ),
            Event::BackupFailed { error, .. } => error.clone(),
            Event::Overdue {
                device,
                last_backup,
                ..
            } => format!(
                "The last backup of {} was on {}. Connect it to this computer (or let it sync) to back it up.",
                device.label(),
                local_time(*last_backup)
            ),
            Event::Damage { summary } => {
                format!("{summary}\nRun `hearth check` on the computer for the details.")
            }
        }
    }

    /// ntfy's tags (emoji short codes) for this kind of event.
    pub fn tags(&self) -> &'static str {
        match self {
            Event::BackupSucceeded { .. } => "white_check_mark",
            Event::BackupFailed { .. } => "rotating_light",
            Event::Overdue { .. } => "hourglass",
            Event::Damage { .. } => "warning",
        }
    }

    fn device_json(&self) -> Value {
        match self {
            Event::BackupSucceeded { device, .. } | Event::Overdue { device, .. } => {
                json!({"name": device.name, "udid": device.udid})
            }
            Event::BackupFailed { name, udid, .. } => json!({"name": name, "udid": udid}),
            Event::Damage { .. } => Value::Null,
        }
    }

    /// The fields only this kind of event has.
    fn details(&self) -> Value {
        match self {
            Event::BackupSucceeded {
                snapshot,
                files,
                bytes_added,
                unchanged,
                ..
            } => {
                json!({"snapshot": snapshot, "files": files, "bytes_added": bytes_added, "unchanged": unchanged})
            }
            Event::BackupFailed { error, .. } => json!({"error": error}),
            Event::Overdue {
                last_backup, days, ..
            } => json!({"last_backup": rfc3339(*last_backup), "days": days}),
            Event::Damage { summary } => json!({"summary": summary}),
        }
    }
}

/// An event with when and where it happened: what is queued and sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamped {
    pub event: Event,
    /// Unix seconds.
    pub time: i64,
    pub host: String,
}

impl Stamped {
    pub fn new(event: Event, time: i64, host: &str) -> Self {
        Stamped {
            event,
            time,
            host: host.to_owned(),
        }
    }

    /// Title, then body: what a Healthchecks ping carries.
    pub fn text(&self) -> String {
        format!("{}\n{}", self.event.title(), self.event.body())
    }

    /// `{"event", "device", "title", "message", "time", "host", ...details}`.
    pub fn json(&self) -> Value {
        let mut v = json!({
            "event": self.event.kind(),
            "device": self.event.device_json(),
            "title": self.event.title(),
            "message": self.event.body(),
            "time": rfc3339(self.time),
            "host": self.host,
        });
        if let (Some(all), Value::Object(more)) = (v.as_object_mut(), self.event.details()) {
            all.extend(more);
        }
        v
    }
}

/// RFC 3339, UTC, from Unix seconds.
pub fn rfc3339(secs: i64) -> String {
    Timestamp::from_second(secs)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| secs.to_string())
}

/// `2024-03-02 14:05` in this computer's time zone.
fn local_time(secs: i64) -> String {
    Timestamp::from_second(secs)
        .map(|t| {
            t.to_zoned(TimeZone::system())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| secs.to_string())
}

use hearth_repo::human::bytes;

#[cfg(test)]
mod tests {
    use super::*;

    fn anna() -> DeviceRef {
        DeviceRef {
            name: "Anna's iPhone".into(),
            udid: "00008110-000A".into(),
        }
    }

    #[test]
    fn each_event_reads_as_a_short_title_and_body() {
        let e = Event::BackupSucceeded {
            device: anna(),
            snapshot: "1a2b3c4d".into(),
            files: 1200,
            bytes_added: 5 * 1024 * 1024,
            unchanged: false,
        };
        assert_eq!(e.title(), "Backed up Anna's iPhone");
        assert_eq!(e.body(), "Snapshot 1a2b3c4d: 1200 files, 5.0 MiB added.");
        let e = Event::BackupFailed {
            name: "/backups/00008110-000A".into(),
            udid: None,
            error: "Manifest.db: file is not a database".into(),
        };
        assert_eq!(e.title(), "Backup of /backups/00008110-000A failed");
        assert_eq!(e.body(), "Manifest.db: file is not a database");
        let e = Event::Overdue {
            device: anna(),
            last_backup: 1_709_388_000,
            days: 9,
        };
        assert_eq!(e.title(), "Anna's iPhone not backed up for 9 days");
        assert!(
            e.body()
                .starts_with("The last backup of Anna's iPhone was on 2024-03-0"),
            "{}",
            e.body()
        );
        let e = Event::Damage {
            summary: "1 problem: pack 1a2b: truncated".into(),
        };
        assert!(e.body().starts_with("1 problem: pack 1a2b: truncated\n"));
        assert!(e.is_problem());
    }

    #[test]
    fn the_json_document_has_the_common_fields_and_the_events_own() {
        let s = Stamped::new(
            Event::Overdue {
                device: anna(),
                last_backup: 1_709_388_000,
                days: 9,
            },
            1_710_000_000,
            "pantry",
        );
        let v = s.json();
        assert_eq!(v["event"], "overdue");
        assert_eq!(
            v["device"],
            json!({"name": "Anna's iPhone", "udid": "00008110-000A"})
        );
        assert_eq!(v["time"], "2024-03-09T16:00:00Z");
        assert_eq!(v["last_backup"], "2024-03-02T14:00:00Z");
        assert_eq!(v["days"], 9);
        assert_eq!(v["host"], "pantry");
        assert_eq!(v["message"], s.event.body());
        let v = Stamped::new(
            Event::Damage {
                summary: "x".into(),
            },
            0,
            "h",
        )
        .json();
        assert_eq!(
            (v["event"].as_str(), &v["device"]),
            (Some("damage"), &Value::Null)
        );
    }

    #[test]
    fn a_damage_summary_lists_the_first_problems() {
        let problems: Vec<String> = (1..=5).map(|i| format!("pack {i}: truncated")).collect();
        let Event::Damage { summary } = Event::damage("/backups/hearth", &problems) else {
            panic!("not damage")
        };
        assert_eq!(
            summary,
            "/backups/hearth: 5 problem(s)\n- pack 1: truncated\n- pack 2: truncated\n- pack 3: truncated\n... and 2 more"
        );
    }

    #[test]
    fn an_unchanged_device_is_a_success_that_says_so() {
        let e = Event::BackupSucceeded {
            device: anna(),
            snapshot: "1a2b3c4d".into(),
            files: 3,
            bytes_added: 0,
            unchanged: true,
        };
        assert!(!e.is_problem());
        assert_eq!(
            e.body(),
            "Anna's iPhone is unchanged since snapshot 1a2b3c4d; nothing new to store."
        );
    }
}
