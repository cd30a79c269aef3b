//! `/diff?from=HEX&to=HEX`: what changed between two snapshots (of one device or of two), as
//! `hearth diff` reports it (the same `hearth_browse::diff`): the counts, the files added,
//! removed and changed ([`PAGE_ROWS`] a page), per domain and per app, and what grew most.

use crate::content::snapshot_url;
use crate::error::UiError;
use crate::format::{bytes, time};
use crate::page::{Section, layout};
use crate::state::App;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use hearth_browse::{Change, ChangeKind, DiffOptions, DiffReport, Growth, Tally};
use hearth_format::Snapshot;
use hearth_repo::NoProgress;
use maud::{Markup, html};
use serde::Deserialize;
use std::sync::Arc;

/// Changes listed on one page.
pub const PAGE_ROWS: usize = 1000;
/// How many files and folders the "grew most" tables hold.
const TOP: usize = 20;

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/diff", get(page))
}

#[derive(Deserialize)]
pub struct DiffQuery {
    from: String,
    to: String,
    page: Option<usize>,
}

struct Side {
    hex: String,
    snapshot: Snapshot,
}

async fn page(State(app): State<Arc<App>>, Query(q): Query<DiffQuery>) -> Result<Markup, UiError> {
    let (from, to) = (q.from.clone(), q.to.clone());
    let (a, b, report) = app
        .read(move |app| {
            let (a_id, a) = super::snapshot(app, &from)?;
            let (b_id, b) = super::snapshot(app, &to)?;
            let options = DiffOptions { top: TOP };
            let report = hearth_browse::diff(app.repo, &a, &b, &options, &NoProgress)?;
            let side = |id: hearth_format::SnapshotId, snapshot| Side {
                hex: id.to_hex(),
                snapshot,
            };
            Ok((side(a_id, a), side(b_id, b), report))
        })
        .await?;
    let pages = report.changes.len().div_ceil(PAGE_ROWS).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let shown =
        &report.changes[(page - 1) * PAGE_ROWS..(page * PAGE_ROWS).min(report.changes.len())];
    let t = &report.total;
    let body = html! {
        p {
            "From " (about(&a)) " to " (about(&b)) "."
        }
        (summary(t))
        h2 { "Changes" }
        @if report.changes.is_empty() {
            p.muted { "No file was added, removed or changed." }
        } @else {
            table.diff {
                thead { tr { th { "" } th { "Path" } th.num { "Before" } th.num { "After" } th.num { "Delta" } } }
                tbody { @for c in shown { (change_row(c, &a, &b)) } }
            }
            @if pages > 1 {
                p.pages {
                    "Page " (page) " of " (pages) " (" (report.changes.len()) " changes) "
                    @if page > 1 { a href=(page_url(&q, page - 1)) { "← previous" } " " }
                    @if page < pages { a href=(page_url(&q, page + 1)) { "next →" } }
                }
            }
        }
        (growth(&report))
        (tallies("By domain", &report.domains.iter().map(|(d, t)| {
            (d.clone().unwrap_or_else(|| "(backup folder files)".into()), t)
        }).collect::<Vec<_>>()))
        (tallies("By app", &report.apps.iter().map(|(a, t)| (a.clone(), t)).collect::<Vec<_>>()))
    };
    let title = format!("Changes: {}", a.snapshot.device.label());
    Ok(layout(&app, Section::Overview, &title, body))
}

fn about(s: &Side) -> Markup {
    html! {
        a href=(snapshot_url(&s.hex, "tree", "")) {
            (s.snapshot.device.label()) ", " (time(s.snapshot.time))
        }
    }
}

fn summary(t: &Tally) -> Markup {
    html! {
        p #diff-summary {
            span.added { (t.added) " added" } ", "
            span.removed { (t.removed) " removed" } ", "
            span.changed { (t.changed) " changed" } ", "
            (t.metadata_only) " with only metadata changed, " (t.unchanged) " unchanged; "
            (t.files_before()) " files before, " (t.files_after()) " after; "
            strong { (signed_bytes(t.delta())) }
            " (" (bytes(t.bytes_before)) " → " (bytes(t.bytes_after)) " in the files that differ)"
        }
    }
}

fn change_row(c: &Change, a: &Side, b: &Side) -> Markup {
    let path = shown(c.domain.as_deref(), &c.relative_path);
    let (side, before, after) = match c.kind {
        ChangeKind::Added => (b, None, c.bytes_after),
        ChangeKind::Removed => (a, c.bytes_before, None),
        ChangeKind::Changed => (b, c.bytes_before, c.bytes_after),
    };
    let kind = c.kind.as_str();
    html! {
        tr data-change=(kind) {
            td class=(kind) { (kind) }
            td.path { a href=(snapshot_url(&side.hex, "file", &path)) { (path) } }
            td.num { @if let Some(n) = before { (bytes(n)) } }
            td.num { @if let Some(n) = after { (bytes(n)) } }
            td.num { (signed_bytes(c.delta())) }
        }
    }
}

fn growth(r: &DiffReport) -> Markup {
    let rows = |list: &[Growth], folders: bool| {
        html! {
            @for g in list {
                tr {
                    td.path { (shown(g.domain.as_deref(), &g.path)) @if folders { "/" } }
                    td.num { @if folders { (g.files) } }
                    td.num { (signed_bytes(g.delta)) }
                }
            }
        }
    };
    html! {
        @if !r.grew_files.is_empty() || !r.grew_folders.is_empty() {
            h2 { "What grew the most" }
            table.growth {
                thead { tr { th { "File or folder (files directly in it)" } th.num { "Files" } th.num { "Grew" } } }
                tbody {
                    (rows(&r.grew_files, false))
                    (rows(&r.grew_folders, true))
                }
            }
        }
    }
}

fn tallies(title: &str, rows: &[(String, &Tally)]) -> Markup {
    html! {
        @if !rows.is_empty() {
            h2 { (title) }
            table.tally {
                thead { tr {
                    th { "Name" } th.num { "Files" } th.num { "Added" } th.num { "Removed" }
                    th.num { "Changed" } th.num { "Metadata" } th.num { "Delta" }
                } }
                tbody {
                    @for (name, t) in rows {
                        tr {
                            td { (name) } td.num { (t.files_after()) } td.num { (t.added) }
                            td.num { (t.removed) } td.num { (t.changed) } td.num { (t.metadata_only) }
                            td.num { (signed_bytes(t.delta())) }
                        }
                    }
                }
            }
        }
    }
}

fn page_url(q: &DiffQuery, page: usize) -> String {
    format!(
        "/diff?from={}&to={}&page={page}",
        crate::content::encode_component(&q.from),
        crate::content::encode_component(&q.to)
    )
}

/// `Domain/relative path` (a snapshot tree's path), or a backup folder file's path.
fn shown(domain: Option<&str>, path: &str) -> String {
    match domain {
        Some(d) if path.is_empty() => d.to_string(),
        Some(d) => format!("{d}/{path}"),
        None => path.to_string(),
    }
}

/// `+1.2 MiB`, `-300 B`, `0 B`.
fn signed_bytes(delta: i64) -> String {
    match delta {
        0 => "0 B".into(),
        d if d > 0 => format!("+{}", bytes(d.unsigned_abs())),
        d => format!("-{}", bytes(d.unsigned_abs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_carry_their_sign_and_paths_read_as_the_tree_names_them() {
        assert_eq!(signed_bytes(0), "0 B");
        assert_eq!(signed_bytes(1536), "+1.5 KiB");
        assert_eq!(signed_bytes(-300), "-300 B");
        assert_eq!(
            shown(Some("HomeDomain"), "Library/x"),
            "HomeDomain/Library/x"
        );
        assert_eq!(shown(Some("HomeDomain"), ""), "HomeDomain");
        assert_eq!(shown(None, "Manifest.db"), "Manifest.db");
    }
}
