//! `/photos`: the camera rolls as a grid, newest first, each photo once: one snapshot's
//! (`?snapshot=HEX`) or every device's latest (`?scope=household`, the default), from the
//! export library's catalogue, so the grid shows what "Export photos" writes.
//!
//! A snapshot's catalogue (Photos.sqlite read, undated files' metadata read) is kept for the
//! next page ([`crate::kept::CATALOGUES`] snapshots); the household's is merged from them on each request.

use super::media::{Shown, chosen, ext_label, raw_url, shown, source};
use crate::error::UiError;
use crate::page::{Section, layout, post_button};
use crate::state::App;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use hearth_export::{PhotoCatalogue, PhotoEntry, household_catalogue, photo_catalogue};
use hearth_format::{Snapshot, SnapshotId};
use maud::{Markup, html};
use serde::Deserialize;
use std::sync::Arc;

/// Figures on a page.
pub const PAGE: usize = 200;

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/photos", get(page))
}

#[derive(Debug, Default, Deserialize)]
pub struct PhotosQuery {
    pub snapshot: Option<String>,
    pub scope: Option<String>,
    pub page: Option<usize>,
}

/// A snapshot's catalogue, read once.
fn catalogue(
    app: &App,
    id: SnapshotId,
    snapshot: &Snapshot,
) -> Result<Arc<PhotoCatalogue>, UiError> {
    app.catalogues
        .get(id, || Ok(photo_catalogue(&source(app, id, snapshot)?)))
}

/// The catalogue of `snapshots`, each photo once.
fn catalogue_of(
    app: &App,
    snapshots: &[(SnapshotId, Snapshot)],
) -> Result<PhotoCatalogue, UiError> {
    let parts = snapshots
        .iter()
        .map(|(id, s)| catalogue(app, *id, s).map(|c| (*c).clone()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(household_catalogue(parts))
}

async fn page(
    State(app): State<Arc<App>>,
    Query(q): Query<PhotosQuery>,
) -> Result<Markup, UiError> {
    // `scope=household` wins over a snapshot named too.
    let hex = match q.scope.as_deref() {
        Some("household") => None,
        _ => q.snapshot.clone().filter(|h| !h.is_empty()),
    };
    let (snapshots, catalogue, latest) = {
        let hex = hex.clone();
        app.read(move |app| {
            let snapshots = chosen(app, hex.as_deref())?;
            let catalogue = catalogue_of(app, &snapshots)?;
            let latest = hearth_export::latest_of_each_device(app.repo.snapshots()?);
            Ok((snapshots, catalogue, latest))
        })
        .await?
    };
    let total = catalogue.photos.len();
    let pages = total.div_ceil(PAGE).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let shown_photos = &catalogue.photos[(page - 1) * PAGE..(page * PAGE).min(total)];
    let here = |page: usize| match &hex {
        Some(h) => format!("/photos?snapshot={h}&page={page}"),
        None => format!("/photos?scope=household&page={page}"),
    };
    let export_fields: Vec<(&str, &str)> = match &hex {
        Some(h) => vec![("kind", "photos"), ("snapshot", h.as_str())],
        None => vec![("kind", "photos"), ("scope", "household")],
    };
    let title = match (&hex, snapshots.first()) {
        (Some(_), Some((_, s))) => format!("Photos of {}", s.device.label()),
        _ => "Photos".to_string(),
    };
    let body = html! {
        p.scope {
            a href="/photos?scope=household" class=[hex.is_none().then_some("active")] { "The household" }
            @for (id, s) in &latest {
                " · "
                @let h = id.to_hex();
                a href={"/photos?snapshot=" (h)} class=[(hex.as_deref() == Some(h.as_str())).then_some("active")] {
                    (s.device.label())
                }
            }
        }
        p #photo-count data-count=(total) {
            (total) " photos and videos"
            @if hex.is_none() { ", each once, from every device's latest backup" }
            @if catalogue.recently_deleted > 0 { " (" (catalogue.recently_deleted) " in Recently Deleted left out)" }
            " "
            (post_button(&app, "/jobs/start/export", "Export photos", &export_fields))
        }
        @for w in &catalogue.warnings { p.warning { (w) } }
        div.grid {
            @for p in shown_photos { (figure(p)) }
        }
        @if pages > 1 {
            nav.pages {
                @if page > 1 { a.prev href=(here(page - 1)) { "← Newer" } " " }
                span { "Page " (page) " of " (pages) }
                @if page < pages { " " a.next href=(here(page + 1)) { "Older →" } }
            }
        }
    };
    Ok(layout(&app, Section::Photos, &title, body))
}

/// One tile: the photo (or video, or a placeholder the browser cannot show) and its date.
fn figure(p: &PhotoEntry) -> Markup {
    let name = p.path.rsplit('/').next().unwrap_or_default();
    let raw = raw_url(&p.snapshot, &p.path, false);
    let download = raw_url(&p.snapshot, &p.path, true);
    html! {
        figure data-path=(p.path) data-snapshot=(p.snapshot.to_hex()) data-kind=(if p.video { "video" } else { "photo" }) {
            @match shown(name) {
                Shown::Image => a href=(raw) { img src=(raw) alt=(name) loading="lazy"; },
                Shown::Video => video src=(raw) preload="none" controls {},
                Shown::Download => a.placeholder href=(download) title={"Download " (name)} {
                    span.ext { (ext_label(name)) }
                    span.name { (name) }
                },
            }
            figcaption {
                @match &p.date {
                    Some(date) => time datetime=(date) { (wall(date)) },
                    None => span.muted { "date unknown" },
                }
                @if p.live_video.is_some() { " " span.badge { "Live" } }
                @if !p.edited.is_empty() { " " span.badge { "Edited" } }
                " " a.download href=(download) title={"Download " (name)} { "↓" }
            }
        }
    }
}

/// `2021-04-11T15:47:53-05:00` as the wall clock where it was taken: `2021-04-11 15:47`.
fn wall(rfc3339: &str) -> String {
    rfc3339.get(..16).unwrap_or(rfc3339).replacen('T', " ", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captions_read_the_wall_clock_where_it_was_taken() {
        assert_eq!(wall("2021-04-11T15:47:53-05:00"), "2021-04-11 15:47");
        assert_eq!(wall("short"), "short");
    }
}
