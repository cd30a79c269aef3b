//! One module per page (or family of pages). Handlers find what to show through the library
//! crates and render it; nothing here is logic the command line lacks.

pub mod browse;
pub mod device;
pub mod diff;
pub mod jobs;
pub mod login;
pub mod media;
pub mod messages;
pub mod overview;
pub mod photos;
pub mod restore;

use crate::error::UiError;
use crate::state::App;
use hearth_format::{Snapshot, SnapshotId};

pub async fn not_found() -> UiError {
    UiError::NotFound("no page here".into())
}

/// The snapshot a URL names by its full hex id.
pub fn snapshot(app: &App, hex: &str) -> Result<(SnapshotId, Snapshot), UiError> {
    let id = SnapshotId::from_hex(hex)
        .ok_or_else(|| UiError::BadRequest(format!("{hex:?} is not a snapshot id")))?;
    app.repo
        .snapshots()?
        .into_iter()
        .find(|(i, _)| *i == id)
        .ok_or_else(|| UiError::NotFound(format!("snapshot {}", id.short())))
}

/// Every device's snapshots, oldest first, devices by name.
pub fn devices(app: &App) -> Result<Vec<Vec<(SnapshotId, Snapshot)>>, UiError> {
    let mut by_udid: std::collections::BTreeMap<String, Vec<(SnapshotId, Snapshot)>> =
        Default::default();
    for (id, s) in app.repo.snapshots()? {
        by_udid
            .entry(s.device.udid.clone())
            .or_default()
            .push((id, s));
    }
    let mut devices: Vec<_> = by_udid.into_values().collect();
    devices.sort_by(|a, b| {
        let name =
            |d: &[(SnapshotId, Snapshot)]| d.last().map(|(_, s)| s.device.label().to_lowercase());
        name(a).cmp(&name(b))
    });
    Ok(devices)
}
