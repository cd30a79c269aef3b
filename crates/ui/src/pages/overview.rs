//! `/`: every device at a glance, the storage over time, the last check.

use crate::charts::{self, Series};
use crate::error::UiError;
use crate::format::{age, bytes, days, time};
use crate::page::{Section, layout, raw};
use crate::state::App;
use crate::storage::{Figures, StorageFigures};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hearth_format::{Snapshot, SnapshotId};
use maud::{Markup, html};
use std::sync::Arc;

pub async fn page(State(app): State<Arc<App>>) -> Result<Markup, UiError> {
    let devices = app.read(super::devices).await?;
    let ids = devices.iter().flatten().map(|(id, _)| *id).collect();
    let figures = StorageFigures::get(&app, ids);
    let now = hearth_repo::unix_now();
    let last_check = app.repo.last_check();
    let body = html! {
        (super::jobs::start_buttons(&app))
        h2 { "Devices" }
        @if devices.is_empty() {
            p { "No backups yet. Back up a device with " code { "hearth backup" } "." }
        }
        div.cards { @for d in &devices { (device_card(d, now, strip_span(&devices, now))) } }
        h2 { "Storage" }
        (storage(&devices, &figures))
        h2 { "Last check" }
        @match &last_check {
            None => p { "This computer has not checked the repository yet." },
            Some(c) => p #last-check data-ok=(c.ok) data-snapshots=(c.snapshots) {
                @if c.ok { span.badge.good { "no errors" } } @else { span.badge.bad { (c.problems.len()) " problem(s)" } }
                " " (time(c.time * 1_000_000)) " (" (age(now, c.time)) "): "
                (c.snapshots) " snapshots, " (c.packs) " packs, data read: " (c.read_data)
            }
        }
        @if let Some(c) = &last_check { @if !c.problems.is_empty() {
            ul.error { @for p in &c.problems { li { (p) } } }
        } }
    };
    Ok(layout(&app, Section::Overview, "Household", body))
}

/// `/storage`: the storage section alone, which the overview fetches while it is computed.
pub async fn storage_fragment(State(app): State<Arc<App>>) -> Result<Response, UiError> {
    let devices = app.read(super::devices).await?;
    let ids = devices.iter().flatten().map(|(id, _)| *id).collect();
    let figures = StorageFigures::get(&app, ids);
    let status = match figures {
        Figures::Pending => StatusCode::ACCEPTED,
        _ => StatusCode::OK,
    };
    Ok((status, storage(&devices, &figures)).into_response())
}

/// The time every card's strip spans (Unix microseconds): from the household's first snapshot
/// to now, so that the strips line up.
fn strip_span(devices: &[Vec<(SnapshotId, Snapshot)>], now: i64) -> (i64, i64) {
    let times = devices.iter().flatten().map(|(_, s)| s.time);
    let first = times.clone().min().unwrap_or(now * 1_000_000);
    let last = times.max().unwrap_or(first).max(now * 1_000_000);
    (first, last)
}

fn device_card(snapshots: &[(SnapshotId, Snapshot)], now: i64, (from, to): (i64, i64)) -> Markup {
    let Some((_, latest)) = snapshots.last() else {
        return html! {};
    };
    let d = &latest.device;
    let latest_secs = latest.time / 1_000_000;
    // The notifications' rule, at their default span.
    let overdue = hearth_alert::is_overdue(
        latest_secs,
        now,
        hearth_alert::DEFAULT_OVERDUE_DAYS * 86_400,
    );
    let ticks: Vec<(i64, String)> = snapshots
        .iter()
        .map(|(id, s)| (s.time, format!("{} · {}", time(s.time), id.short())))
        .collect();
    html! {
        div.card.overdue[overdue] data-device=(d.udid) {
            h3 { a href={"/device/" (d.udid)} { (d.label()) } }
            p.muted {
                (crate::format::model(&d.product_type)) @if !d.ios_version.is_empty() { " · iOS " (d.ios_version) }
            }
            p {
                "Latest backup " strong { (age(now, latest_secs)) }
                @if overdue { " " span.badge.bad { "not backed up for " (days(now - latest_secs)) " days" } }
            }
            p { (snapshots.len()) " snapshot" @if snapshots.len() != 1 { "s" } ", " (bytes(latest.summary.bytes)) " in the latest" }
            (raw(charts::strip(&ticks, from, to)))
            div.strip-ends { span { (date(from)) } span { "now" } }
        }
    }
}

/// Logical and stored bytes over time (from the snapshots' summaries), then the figures of
/// `hearth stats` per device, when computed.
fn storage(devices: &[Vec<(SnapshotId, Snapshot)>], figures: &Figures) -> Markup {
    let mut all: Vec<&Snapshot> = devices.iter().flatten().map(|(_, s)| s).collect();
    all.sort_by_key(|s| s.stored_at);
    let (mut logical, mut stored) = (0u64, 0u64);
    let mut logical_points = Vec::new();
    let mut stored_points = Vec::new();
    // Logical over stored, in hundredths: how many times smaller the repository is.
    let mut ratio_points = Vec::new();
    for s in &all {
        logical += s.summary.bytes;
        stored += s.summary.bytes_added;
        logical_points.push((s.stored_at, logical));
        stored_points.push((s.stored_at, stored));
        ratio_points.push((s.stored_at, logical * 100 / stored.max(1)));
    }
    let ratio_over_time = charts::lines(
        &[Series {
            name: "logical ÷ stored",
            colour: "var(--chart-3)",
            points: ratio_points,
        }],
        date,
        |hundredths| format!("{:.1}×", hundredths as f64 / 100.0),
    );
    let over_time = charts::lines(
        &[
            Series {
                name: "logical (sum of every snapshot's files)",
                colour: "var(--chart-2)",
                points: logical_points,
            },
            Series {
                name: "stored (bytes each backup added)",
                colour: "var(--chart-1)",
                points: stored_points,
            },
        ],
        date,
        bytes,
    );
    html! {
        div #storage data-pending=[matches!(figures, Figures::Pending).then_some("/storage")] {
            @if !over_time.is_empty() { div.chart-row {
                div.chart {
                    (raw(over_time))
                    div.legend {
                        span { i.sw-2 {} "logical: every snapshot's files added up" }
                        span { i.sw-1 {} "stored: what each backup added (before any prune)" }
                    }
                }
                div.chart {
                    (raw(ratio_over_time))
                    div.legend {
                        span { i.sw-3 {} "deduplication and compression together: the files added up, over what was stored" }
                    }
                }
            } }
            @match figures {
                Figures::Pending => p.muted { "Counting what each device shares… (this page fills it in)" },
                Figures::Failed(e) => p.error { "The storage figures could not be computed: " (e) },
                Figures::Ready(s) => (figures_table(s)),
            }
        }
    }
}

fn figures_table(s: &hearth_repo::RepoStats) -> Markup {
    let rows: Vec<(String, Vec<u64>)> = s
        .devices
        .iter()
        .map(|d| (d.name.clone(), vec![d.unique_bytes, d.shared_bytes]))
        .collect();
    html! {
        p {
            strong { (bytes(s.logical_bytes)) } " of files in " (s.snapshots) " snapshots are kept in "
            strong { (bytes(s.stored_bytes)) } ": deduplication " strong.ratio-dedup { (format!("{:.1}×", s.dedup_ratio())) }
            ", compression " strong.ratio-compression { (format!("{:.2}×", s.compression_ratio())) } "."
        }
        div.chart {
            (raw(charts::stacked_bars(&rows, &["var(--chart-3)", "var(--chart-4)"])))
            div.legend {
                span { i.sw-3 {} "unique to the device" }
                span { i.sw-4 {} "shared with another device" }
            }
        }
        table {
            thead { tr { th { "Device" } th.num { "Snapshots" } th.num { "Logical" } th.num { "Unique" } th.num { "Shared" } } }
            tbody { @for d in &s.devices {
                tr data-udid=(d.udid) {
                    td { (d.name) } td.num { (d.snapshots) }
                    td.num data-bytes=(d.logical_bytes) { (bytes(d.logical_bytes)) }
                    td.num data-bytes=(d.unique_bytes) { (bytes(d.unique_bytes)) }
                    td.num data-bytes=(d.shared_bytes) { (bytes(d.shared_bytes)) }
                }
            } }
        }
        @if !s.unreadable.is_empty() {
            p.error { (s.unreadable.len()) " snapshot(s) could not be read and are counted by their summaries only." }
        }
    }
}

/// The day of a time (Unix microseconds), "2026-12-06".
fn date(micros: i64) -> String {
    time(micros).chars().take(10).collect()
}
