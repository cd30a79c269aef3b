//! A snapshot's files: `/snapshot/HEX/tree/PATH` (a folder's contents with sizes),
//! `/snapshot/HEX/file/PATH` (a file shown as well as a browser can), `/snapshot/HEX/raw/PATH`
//! (its exact bytes, ranges for video) and `/snapshot/HEX/zip/PATH` (a folder as a zip, as
//! `hearth dump --archive zip` writes it). Paths are resolved in the snapshot's tree only,
//! never on a file system; the trees are kept ([`Kept`](crate::kept::Kept)).

use crate::body::streamed;
use crate::content::{
    OPAQUE, RAW_CSP, RangeAsk, SNIFF_LEN, disposition, media_type, parse_range, snapshot_url,
};
use crate::error::UiError;
use crate::format::{bytes, time};
use crate::page::{Section, layout};
use crate::preview::{Preview, TEXT_MAX, preview};
use crate::state::App;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use hearth_browse::{ArchiveFormat, FileReader, NodeId, NodeKind, SnapshotFiles};
use hearth_format::{Snapshot, SnapshotId};
use hearth_repo::NoProgress;
use maud::{Markup, html};
use serde::Deserialize;
use std::sync::Arc;

/// Rows of a folder listed on one page.
pub const PAGE_ROWS: usize = 1000;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/snapshot/{id}/tree/", get(tree_root))
        .route("/snapshot/{id}/tree", get(tree_root))
        .route("/snapshot/{id}/tree/{*path}", get(tree))
        .route("/snapshot/{id}/file/{*path}", get(file))
        .route("/snapshot/{id}/raw/{*path}", get(raw))
        .route("/snapshot/{id}/zip/", get(zip_root))
        .route("/snapshot/{id}/zip/{*path}", get(zip))
}

#[derive(Deserialize, Default)]
pub struct PageQuery {
    page: Option<usize>,
}

#[derive(Deserialize, Default)]
pub struct RawQuery {
    download: Option<String>,
}

/// A snapshot's tree and the node a path names in it.
struct Found {
    hex: String,
    snapshot: Snapshot,
    files: Arc<SnapshotFiles>,
    node: NodeId,
    path: String,
}

fn find(app: &App, hex: &str, path: &str) -> Result<Found, UiError> {
    let (id, snapshot): (SnapshotId, Snapshot) = super::snapshot(app, hex)?;
    let files = app.snapshot_files(id, &snapshot)?;
    let node = files.lookup(path).ok_or_else(|| {
        UiError::NotFound(format!(
            "{path:?} is not in the snapshot of {}",
            files.device()
        ))
    })?;
    Ok(Found {
        hex: id.to_hex(),
        path: files.path(node),
        snapshot,
        files,
        node,
    })
}

async fn found(app: &Arc<App>, hex: String, path: String) -> Result<Found, UiError> {
    app.read(move |app| find(app, &hex, &path)).await
}

async fn tree_root(
    State(app): State<Arc<App>>,
    Path(hex): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, UiError> {
    tree(State(app), Path((hex, String::new())), Query(q)).await
}

async fn tree(
    State(app): State<Arc<App>>,
    Path((hex, path)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
) -> Result<Response, UiError> {
    let f = found(&app, hex, path).await?;
    if f.files.file(f.node).is_some() {
        return Ok(Redirect::to(&snapshot_url(&f.hex, "file", &f.path)).into_response());
    }
    let files = &f.files;
    // Folders first, then files; each already sorted by name.
    let (mut rows, file_rows): (Vec<NodeId>, Vec<NodeId>) = (files.children(f.node).iter())
        .partition(|&&c| matches!(files.node(c).kind, NodeKind::Folder(_)));
    rows.extend(file_rows);
    let pages = rows.len().div_ceil(PAGE_ROWS).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let shown = &rows[(page - 1) * PAGE_ROWS..(page * PAGE_ROWS).min(rows.len())];
    let totals = files.totals(f.node);
    let body = html! {
        (crumbs(&f))
        p.muted {
            (totals.files) " files, " (bytes(totals.bytes)) " · "
            a.download-zip href=(snapshot_url(&f.hex, "zip", &f.path)) { "Download this folder (zip)" }
        }
        table.tree {
            thead { tr { th { "Name" } th.num { "Files" } th.num { "Size" } th { "Modified" } } }
            tbody {
                @for &c in shown {
                    @let node = files.node(c);
                    @let path = files.path(c);
                    @let t = files.totals(c);
                    @match &node.kind {
                        NodeKind::Folder(_) => tr data-path=(path) data-kind="dir" {
                            td { a href=(snapshot_url(&f.hex, "tree", &path)) { (node.name) "/" } }
                            td.num { (t.files) }
                            td.size.num data-bytes=(t.bytes) { (bytes(t.bytes)) }
                            td {}
                        },
                        NodeKind::File(_) => tr data-path=(path) data-kind="file" {
                            td { a href=(snapshot_url(&f.hex, "file", &path)) { (node.name) } }
                            td.num {}
                            td.size.num data-bytes=(t.bytes) { (bytes(t.bytes)) }
                            td { (time_ns(node.mtime_ns)) }
                        },
                    }
                }
            }
        }
        @if pages > 1 {
            p.pages {
                "Page " (page) " of " (pages) " (" (rows.len()) " entries) "
                @if page > 1 { a href={"?page=" (page - 1)} { "← previous" } " " }
                @if page < pages { a href={"?page=" (page + 1)} { "next →" } }
            }
        }
        @if f.node == SnapshotFiles::ROOT {
            @for (why, n, first) in files.hidden() {
                p.muted { (n) " entries not shown (" (format!("{why:?}")) "), such as " (first.join(", ")) }
            }
        }
    };
    let title = title(&f);
    Ok(layout(&app, Section::Overview, &title, body).into_response())
}

async fn file(
    State(app): State<Arc<App>>,
    Path((hex, path)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let f = found(&app, hex, path).await?;
    let Some(data) = f.files.file(f.node) else {
        return Ok(Redirect::to(&snapshot_url(&f.hex, "tree", &f.path)).into_response());
    };
    let size = data.size;
    let shown = {
        let files = f.files.clone();
        let node = f.node;
        app.read(move |app| preview(app.repo, &files, node)).await?
    };
    let raw = snapshot_url(&f.hex, "raw", &f.path);
    let body = html! {
        (crumbs(&f))
        p.muted {
            (bytes(size)) " · modified " (time_ns(f.files.node(f.node).mtime_ns)) " · "
            a.download.button href={(raw) "?download=1"} { "Download" }
        }
        div #preview .preview {
            @match &shown {
                Preview::Media(m) if m.starts_with("image/") => img src=(raw) alt=(f.files.node(f.node).name);
                Preview::Media(m) if m.starts_with("video/") => video src=(raw) controls preload="metadata" {}
                Preview::Media(_) => audio src=(raw) controls preload="metadata" {},
                Preview::Text { text, cut } => {
                    @if *cut { p.muted { "The first " (bytes(TEXT_MAX)) " is shown." } }
                    pre.text { (text) }
                },
                Preview::Sqlite(tables) => {
                    p.muted { "A SQLite database with " (tables.len()) " tables." }
                    table.sqlite {
                        thead { tr { th { "Table" } th.num { "Rows" } } }
                        tbody {
                            @for (name, rows) in tables {
                                tr data-table=(name) {
                                    td { (name) }
                                    td.rows.num { @match rows { Some(n) => (n), None => "?" } }
                                }
                            }
                        }
                    }
                },
                Preview::None(why) => p.muted { "No preview: " (why) "." },
            }
        }
    };
    let title = title(&f);
    Ok(layout(&app, Section::Overview, &title, body).into_response())
}

async fn raw(
    State(app): State<Arc<App>>,
    Path((hex, path)): Path<(String, String)>,
    Query(q): Query<RawQuery>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    let f = found(&app, hex, path).await?;
    let Some(data) = f.files.file(f.node) else {
        return Err(UiError::NotFound(format!("{:?} is a folder", f.path)));
    };
    let size = data.size;
    let name = f.files.node(f.node).name.to_string();
    let head = {
        let files = f.files.clone();
        let node = f.node;
        app.read(move |app| {
            let file = files.file(node).expect("a file, looked at above");
            let mut head = vec![0; SNIFF_LEN];
            let n = FileReader::open(app.repo, file)?.read_at(0, &mut head)?;
            head.truncate(n);
            Ok(head)
        })
        .await?
    };
    let media = media_type(&name, &head);
    let download = q.download.is_some_and(|d| d != "0");
    let inline = media.is_some() && !download;
    let range = parse_range(
        headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
        size,
    );
    let (status, start, end) = match range {
        RangeAsk::Whole => (StatusCode::OK, 0, size),
        RangeAsk::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end),
        RangeAsk::Unsatisfiable => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            let h = r.headers_mut();
            h.insert(header::CONTENT_RANGE, value(&format!("bytes */{size}")));
            h.insert(header::CONTENT_SECURITY_POLICY, value(RAW_CSP));
            return Ok(r);
        }
    };
    let files = f.files.clone();
    let node = f.node;
    let body = streamed(&app, move |app, out| {
        let file = files.file(node).expect("a file, looked at above");
        let mut reader = FileReader::open(app.repo, file)?;
        let mut buf = vec![0; crate::body::PIECE];
        let mut at = start;
        while at < end {
            let want = ((end - at) as usize).min(buf.len());
            let n = reader.read_at(at, &mut buf[..want])?;
            if n == 0 {
                return Err(UiError::Internal(format!(
                    "{}: ends early",
                    files.path(node)
                )));
            }
            out.write_all(&buf[..n])
                .map_err(|e| UiError::Internal(e.to_string()))?;
            at += n as u64;
        }
        Ok(())
    });
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    let kind = if inline { "inline" } else { "attachment" };
    h.insert(
        header::CONTENT_TYPE,
        value(media.filter(|_| inline).unwrap_or(OPAQUE)),
    );
    h.insert(header::CONTENT_LENGTH, value(&(end - start).to_string()));
    h.insert(header::ACCEPT_RANGES, value("bytes"));
    h.insert(
        header::CONTENT_DISPOSITION,
        value(&disposition(kind, &name)),
    );
    h.insert(header::CONTENT_SECURITY_POLICY, value(RAW_CSP));
    if status == StatusCode::PARTIAL_CONTENT {
        let range = format!("bytes {start}-{}/{size}", end - 1);
        h.insert(header::CONTENT_RANGE, value(&range));
    }
    Ok(r)
}

async fn zip_root(
    State(app): State<Arc<App>>,
    Path(hex): Path<String>,
) -> Result<Response, UiError> {
    zip(State(app), Path((hex, String::new()))).await
}

async fn zip(
    State(app): State<Arc<App>>,
    Path((hex, path)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let f = found(&app, hex, path).await?;
    let name = match f.node {
        SnapshotFiles::ROOT => format!("{} {}", f.files.device(), &f.hex[..8]),
        n => f.files.node(n).name.to_string(),
    };
    let files = f.files.clone();
    let node = f.node;
    let body = streamed(&app, move |app, out| {
        hearth_browse::dump_archive(app.repo, &files, node, ArchiveFormat::Zip, out, &NoProgress)?;
        Ok(())
    });
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, value("application/zip"));
    let d = disposition("attachment", &format!("{name}.zip"));
    h.insert(header::CONTENT_DISPOSITION, value(&d));
    h.insert(header::CONTENT_SECURITY_POLICY, value(RAW_CSP));
    Ok(r)
}

/// A header value made of what [`disposition`] and numbers make (always valid).
fn value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static(""))
}

fn title(f: &Found) -> String {
    match f.node {
        SnapshotFiles::ROOT => format!("{}: {}", f.snapshot.device.label(), time(f.snapshot.time)),
        n => f.files.node(n).name.to_string(),
    }
}

/// The device, the snapshot, then each folder on the way to the node.
fn crumbs(f: &Found) -> Markup {
    let names: Vec<&str> = f.path.split('/').filter(|s| !s.is_empty()).collect();
    html! {
        nav.crumbs {
            a href={"/device/" (f.snapshot.device.udid)} { (f.snapshot.device.label()) }
            " › "
            a href=(snapshot_url(&f.hex, "tree", "")) { (time(f.snapshot.time)) }
            @for (i, name) in names.iter().enumerate() {
                " / "
                @if i + 1 == names.len() {
                    span { (name) }
                } @else {
                    a href=(snapshot_url(&f.hex, "tree", &names[..=i].join("/"))) { (name) }
                }
            }
        }
    }
}

/// Unix nanoseconds as the household's local time.
fn time_ns(ns: i128) -> String {
    let micros = i64::try_from(ns.div_euclid(1000)).unwrap_or(0);
    time(micros)
}
