//! Which devices have gone quiet: the one rule the dashboard's badge and the notifications
//! share, and a note of which were reported, so that a device is reported at most once a
//! day while it stays overdue, and again after it recovers and goes quiet once more.
//!
//! The note (`overdue-reported` in the repository's cache folder, like the last check's) is
//! this computer's: another computer reports on its own. It is written beside and renamed;
//! two processes ending at once may both report a device, never neither. An unreadable note
//! counts as empty (a device may be reported again that day).
//!
//! Its format: a first line `hearth-overdue 1`, then one line per reported device,
//! `<latest snapshot time, Unix seconds> <reported at, Unix seconds> <udid>`.

use crate::error::AlertError;
use crate::event::{DeviceRef, Event};
use hearth_format::Snapshot;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Days without a backup after which a device is overdue, unless told otherwise.
pub const DEFAULT_OVERDUE_DAYS: i64 = 7;

const SECS_PER_DAY: i64 = 86_400;
const NOTE: &str = "overdue-reported";
const MAGIC: &str = "hearth-overdue 1";

/// Whether a device last backed up at `latest` (Unix seconds) is overdue at `now`, after
/// `after` seconds without a backup.
pub fn is_overdue(latest: i64, now: i64, after: i64) -> bool {
    now.saturating_sub(latest) >= after
}

/// Whole days from `latest` to `now`.
pub fn days_since(latest: i64, now: i64) -> i64 {
    now.saturating_sub(latest) / SECS_PER_DAY
}

/// A device with no backup for too long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverdueDevice {
    pub device: DeviceRef,
    /// Its latest snapshot's `time` (the device's backup), Unix seconds.
    pub last_backup: i64,
    pub days: i64,
}

impl OverdueDevice {
    pub fn event(&self) -> Event {
        Event::Overdue {
            device: self.device.clone(),
            last_backup: self.last_backup,
            days: self.days,
        }
    }
}

/// Of the household's `snapshots`, the devices whose latest snapshot is at least `after`
/// seconds old at `now`, by UDID.
pub fn overdue_devices<'a>(
    snapshots: impl IntoIterator<Item = &'a Snapshot>,
    now: i64,
    after: i64,
) -> Vec<OverdueDevice> {
    let mut latest: BTreeMap<&str, &Snapshot> = BTreeMap::new();
    for s in snapshots {
        let slot = latest.entry(&s.device.udid).or_insert(s);
        if s.time > slot.time {
            *slot = s;
        }
    }
    (latest.into_values())
        .map(|s| (s, s.time.div_euclid(1_000_000)))
        .filter(|(_, secs)| is_overdue(*secs, now, after))
        .map(|(s, secs)| OverdueDevice {
            device: DeviceRef::from(&s.device),
            last_backup: secs,
            days: days_since(secs, now),
        })
        .collect()
}

/// What was reported of which device: the note's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reported {
    /// UDID → (its latest backup then, when reported), Unix seconds.
    devices: BTreeMap<String, (i64, i64)>,
}

impl Reported {
    fn path(cache_folder: &Path) -> PathBuf {
        cache_folder.join(NOTE)
    }

    /// The note in `cache_folder`; empty when there is none or it cannot be read.
    pub fn load(cache_folder: &Path) -> Reported {
        (std::fs::read_to_string(Self::path(cache_folder)).ok())
            .and_then(|text| Self::decode(&text))
            .unwrap_or_default()
    }

    pub fn save(&self, cache_folder: &Path) -> Result<(), AlertError> {
        let path = Self::path(cache_folder);
        let beside = path.with_extension("new");
        std::fs::write(&beside, self.encode())
            .and_then(|()| std::fs::rename(&beside, &path))
            .map_err(|source| AlertError::NoteWrite { path, source })
    }

    fn encode(&self) -> String {
        let mut text = format!("{MAGIC}\n");
        for (udid, (latest, reported)) in &self.devices {
            text.push_str(&format!("{latest} {reported} {udid}\n"));
        }
        text
    }

    fn decode(text: &str) -> Option<Reported> {
        let mut lines = text.lines();
        (lines.next()? == MAGIC).then_some(())?;
        let mut devices = BTreeMap::new();
        for line in lines {
            let mut fields = line.splitn(3, ' ');
            let latest = fields.next()?.parse().ok()?;
            let reported = fields.next()?.parse().ok()?;
            devices.insert(fields.next()?.to_owned(), (latest, reported));
        }
        Some(Reported { devices })
    }

    /// Of `overdue` (all the devices overdue at `now`), those to report now, noted as
    /// reported: a device not reported since it last went quiet, or last reported on an
    /// earlier day (in `tz`). Devices no longer overdue are forgotten.
    pub fn due(
        &mut self,
        overdue: &[OverdueDevice],
        now: i64,
        tz: &TimeZone,
    ) -> Vec<OverdueDevice> {
        self.devices
            .retain(|udid, _| overdue.iter().any(|o| &o.device.udid == udid));
        let mut due = Vec::new();
        for o in overdue {
            let again = match self.devices.get(&o.device.udid) {
                None => true,
                Some(&(latest, reported)) => {
                    latest != o.last_backup || day(reported, tz) != day(now, tz)
                }
            };
            if again {
                self.devices
                    .insert(o.device.udid.clone(), (o.last_backup, now));
                due.push(o.clone());
            }
        }
        due
    }
}

/// The calendar day of `secs` in `tz`.
fn day(secs: i64, tz: &TimeZone) -> Option<jiff::civil::Date> {
    Timestamp::from_second(secs)
        .ok()
        .map(|t| t.to_zoned(tz.clone()).date())
}

/// The overdue events to send now for the repository whose snapshots are `snapshots` and
/// whose cache folder is `cache_folder`, noting them as reported (in this computer's time
/// zone's days).
pub fn to_report<'a>(
    snapshots: impl IntoIterator<Item = &'a Snapshot>,
    cache_folder: &Path,
    now: i64,
    after: i64,
) -> Result<Vec<Event>, AlertError> {
    let overdue = overdue_devices(snapshots, now, after);
    let before = Reported::load(cache_folder);
    let mut reported = before.clone();
    let due = reported.due(&overdue, now, &TimeZone::system());
    if reported != before {
        reported.save(cache_folder)?;
    }
    Ok(due.iter().map(OverdueDevice::event).collect())
}

#[cfg(test)]
mod tests;
