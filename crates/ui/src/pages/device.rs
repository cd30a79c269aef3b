//! `/device/{udid}`: a device's snapshots, newest first, with tags and pins; two of them can be
//! compared.

use crate::auth::CheckedForm;
use crate::error::UiError;
use crate::format::{bytes, time};
use crate::page::{Section, csrf_field, layout, post_button};
use crate::state::App;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use std::sync::Arc;

pub async fn page(
    State(app): State<Arc<App>>,
    Path(udid): Path<String>,
) -> Result<Markup, UiError> {
    let (snapshots, pins) = {
        let udid = udid.clone();
        app.read(move |app| {
            let snapshots: Vec<_> = app
                .repo
                .snapshots()?
                .into_iter()
                .filter(|(_, s)| s.device.udid == udid)
                .collect();
            Ok((snapshots, app.repo.pins()?))
        })
        .await?
    };
    let Some((_, latest)) = snapshots.last() else {
        return Err(UiError::NotFound(format!("device {udid}")));
    };
    let d = latest.device.clone();
    let body = html! {
        p.muted { (crate::format::model(&d.product_type)) " · iOS " (d.ios_version) " · " (d.udid) }
        // The compare form holds no rows: a form inside a form is dropped by the HTML parser
        // (and its `</form>` closes the outer one), so each row's Pin form stands alone and
        // the radios and the button join this form through their `form` attribute.
        form #compare method="get" action="/diff" {}
        table.timeline {
            thead { tr {
                th { "From" } th { "To" } th { "When" } th { "Snapshot" } th.num { "Files" } th.num { "Size" }
                th.num { "Added" } th { "Tags" } th { "Pinned" } th {}
            } }
            tbody {
                @for (i, (id, s)) in snapshots.iter().enumerate().rev() {
                    @let hex = id.to_hex();
                    @let pinned = pins.contains(id);
                    tr data-snapshot=(hex) {
                        td { input type="radio" form="compare" name="from" value=(hex) checked[i + 2 == snapshots.len()]; }
                        td { input type="radio" form="compare" name="to" value=(hex) checked[i + 1 == snapshots.len()]; }
                        td { (time(s.time)) }
                        td { a href={"/snapshot/" (hex) "/tree/"} { code { (id.short()) } } }
                        td.num { (s.summary.files) }
                        td.num { (bytes(s.summary.bytes)) }
                        td.num { (bytes(s.summary.bytes_added)) }
                        td { @for t in &s.tags { span.badge { (t) } " " } }
                        td.pin { @if pinned { span.badge.good { "pinned" } } }
                        td {
                            @if pinned {
                                (post_button(&app, &format!("/snapshot/{hex}/unpin"), "Unpin", &[]))
                            } @else {
                                (post_button(&app, &format!("/snapshot/{hex}/pin"), "Pin", &[]))
                            }
                            " " a.button href={"/restore?snapshot=" (hex)} { "Restore…" }
                        }
                    }
                }
            }
        }
        @if snapshots.len() > 1 {
            p { button.primary type="submit" form="compare" { "Compare the two chosen" } }
        }
        p.muted { "A pinned snapshot is kept whatever the retention policy says." }
        (csrf_field(&app))
    };
    Ok(layout(&app, Section::Overview, d.label(), body))
}

/// POST `/snapshot/{id}/pin` and `/unpin`: as `hearth pin` and `hearth unpin`.
pub async fn pin(
    State(app): State<Arc<App>>,
    Path((hex, action)): Path<(String, String)>,
    // Only its CSRF check: the action is in the path.
    _checked: CheckedForm,
) -> Response {
    let done = app
        .read(move |app| {
            let (id, snapshot) = super::snapshot(app, &hex)?;
            match action.as_str() {
                "pin" => app.repo.pin(&id)?,
                "unpin" => app.repo.unpin(&id)?,
                other => return Err(UiError::NotFound(format!("no action {other:?}"))),
            };
            Ok(snapshot.device.udid)
        })
        .await;
    match done {
        Ok(udid) => Redirect::to(&format!("/device/{udid}")).into_response(),
        Err(e) => e.into_response(),
    }
}
