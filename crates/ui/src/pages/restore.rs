//! `/restore`: the restore planner. Choose a snapshot and a target (the same device, another
//! household device, or a model and iOS version), see the plan `hearth restore --dry-run`
//! prints (what is kept, what is skipped by which rule and why, whether it fits, a refusal),
//! and write the image as a job ([`crate::operations::restore`]).

use crate::error::UiError;
use crate::format::{bytes, time};
use crate::operations::Fields;
use crate::operations::restore::{Choice, TargetChoice, default_folder};
use crate::page::{Section, csrf_field, layout};
use crate::state::App;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hearth_format::{DeviceIdentity, Snapshot, SnapshotId};
use hearth_restore::{RestorePlan, plan_restore};
use maud::{Markup, html};
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/restore", get(page))
}

/// What the page found: the snapshots to choose from, the one chosen, and the plan (or why
/// there is none).
struct Found {
    devices: Vec<Vec<(SnapshotId, Snapshot)>>,
    household: Vec<DeviceIdentity>,
    chosen: Option<(SnapshotId, Snapshot)>,
    plan: Option<Result<RestorePlan, String>>,
}

pub async fn page(State(app): State<Arc<App>>, Query(fields): Query<Fields>) -> Response {
    let choice = Choice::from_fields(&fields);
    // A plan is made when the form was sent (or a link names a snapshot): planning a big
    // snapshot takes seconds.
    let asked = fields.contains_key("snapshot") || fields.contains_key("target");
    let found = {
        let choice = choice.clone();
        app.read(move |app| find(app, &choice, asked)).await
    };
    match found {
        Ok(found) => {
            let status = match &found.plan {
                Some(Err(_)) => StatusCode::BAD_REQUEST,
                _ => StatusCode::OK,
            };
            (status, render(&app, &choice, &found)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

fn find(app: &App, choice: &Choice, asked: bool) -> Result<Found, UiError> {
    let devices = super::devices(app)?;
    let household = hearth_restore::household_devices(app.repo)?;
    let chosen = match &choice.snapshot {
        Some(hex) => Some(super::snapshot(app, hex)?),
        None => devices.first().and_then(|d| d.last()).cloned(),
    };
    let plan = match (&chosen, asked) {
        (Some((_, snap)), true) => Some(match choice.plan_options(app) {
            Ok(options) => Ok(plan_restore(app.repo, snap, &options)?),
            Err(UiError::BadRequest(why)) => Err(why),
            Err(e) => return Err(e),
        }),
        _ => None,
    };
    Ok(Found {
        devices,
        household,
        chosen,
        plan,
    })
}

fn render(app: &App, choice: &Choice, found: &Found) -> Markup {
    let body = html! {
        @if found.devices.is_empty() {
            p { "No snapshot to restore yet: back a device up first." }
        } @else {
            p.muted { "An image is a device backup folder that Finder (or idevicebackup2) restores a device from. For another kind of device, what Apple does not transfer is left out." }
            (form(choice, found))
            @match &found.plan {
                Some(Ok(plan)) => (plan_section(app, choice, found, plan)),
                Some(Err(why)) => p.error #plan-error { (why) },
                None => {},
            }
        }
    };
    layout(app, Section::Restore, "Restore", body)
}

/// The GET form: snapshot, target, model and iOS, capacity.
fn form(choice: &Choice, found: &Found) -> Markup {
    let chosen = found.chosen.as_ref().map(|(id, _)| *id);
    let (target, model, ios) = match &choice.target {
        TargetChoice::Same => ("same", "", ""),
        TargetChoice::Device(udid) => (udid.as_str(), "", ""),
        TargetChoice::Model { model, ios } => ("model", model.as_str(), ios.as_str()),
    };
    html! {
        form.restore-choice method="get" action="/restore" {
            label { "Snapshot " select name="snapshot" {
                @for device in &found.devices {
                    @if let Some((_, latest)) = device.last() {
                        optgroup label=(latest.device.label()) {
                            @for (id, s) in device.iter().rev() {
                                option value=(id.to_hex()) selected[Some(*id) == chosen] {
                                    (time(s.time)) " · " (s.summary.files) " files · " (bytes(s.summary.bytes))
                                }
                            }
                        }
                    }
                }
            } }
            label { "Onto " select name="target" {
                option value="same" selected[target == "same"] { "the same device" }
                optgroup label="Another household device" {
                    @for d in &found.household {
                        option value=(d.udid) selected[target == d.udid] {
                            (d.label()) " (" (d.product_type) ", iOS " (d.ios_version) ")"
                        }
                    }
                }
                option value="model" selected[target == "model"] { "a model and iOS version…" }
            } }
            label { "Model " input type="text" name="model" value=(model) placeholder="iPad13,1" size="10"; }
            label { "iOS " input type="text" name="ios" value=(ios) placeholder="17.5" size="6"; }
            label { "Capacity " input type="text" name="capacity" value=(choice.capacity) placeholder="e.g. 128GB" size="8"; }
            label { input type="checkbox" name="fit" checked[choice.fit]; " drop videos, photos… to fit" }
            " "
            button.primary type="submit" { "Show the plan" }
        }
    }
}

fn plan_section(app: &App, choice: &Choice, found: &Found, plan: &RestorePlan) -> Markup {
    let d = &plan.device;
    let onto = plan
        .target
        .as_ref()
        .map_or_else(|| "the same device".to_owned(), |t| t.describe());
    let kept = plan.kept();
    let rules = plan.rules();
    let folder = found
        .chosen
        .as_ref()
        .map(|(_, s)| default_folder(&app.options.library, s))
        .unwrap_or_default();
    // The snapshot planned, also when the form left it to the default.
    let fields = Choice {
        snapshot: found.chosen.as_ref().map(|(id, _)| id.to_hex()),
        ..choice.clone()
    }
    .fields();
    html! {
        section #plan data-refused[plan.refused.is_some()] {
            h2 { "The plan" }
            p { (d.label()) " (" (d.product_type) ", iOS " (d.ios_version) ") onto " (onto) }
            @if let Some(reason) = &plan.refused {
                p.error #plan-refused { "This image cannot be made: " (reason) }
            }
            p #plan-kept {
                "Keeps " strong { (kept.files) " files (" (bytes(kept.bytes)) ")" }
                ": " (kept.device_files) " of the device's files (" (bytes(kept.device_bytes)) " on the device) and the backup's own files."
            }
            @if rules.is_empty() {
                p.muted { "Nothing is left out." }
            } @else {
                table.skipped {
                    thead { tr { th { "Left out" } th { "Why" } th.num { "Files" } th.num { "Size" } } }
                    tbody {
                        @for r in &rules {
                            @let reason = plan.skipped.iter().find(|s| s.rule == r.rule).map(|s| s.reason.as_str()).unwrap_or(r.source);
                            tr data-rule=(r.rule) {
                                td.rule { code { (r.rule) } }
                                td.reason { (reason) }
                                td.count.num { (r.files) }
                                td.size.num { (bytes(r.bytes)) }
                            }
                        }
                    }
                }
            }
            @if !plan.dropped_apps.is_empty() {
                p { "Apps that do not run on the target, left out: " (plan.dropped_apps.join(", ")) }
            }
            @if !plan.unknown_apps.is_empty() {
                p.muted { "Apps whose compatibility the backup does not record, kept: " (plan.unknown_apps.join(", ")) }
            }
            p #plan-capacity {
                @match &plan.fit {
                    Some(f) => {
                        "Needs " (bytes(f.needed)) " on a device of " (bytes(f.capacity)) "."
                        @for (category, files, size) in &f.dropped {
                            " Dropped " (category) " (" (files) " files, " (bytes(*size)) ") to fit."
                        }
                    }
                    None => { "Needs " (bytes(kept.device_bytes)) " on the device." }
                }
            }
            @if plan.refused.is_none() {
                form.write-image method="post" action="/jobs/start/restore" {
                    (csrf_field(app))
                    @for (name, value) in &fields {
                        input type="hidden" name=(name) value=(value);
                    }
                    label { "Into the folder " input type="text" name="folder" value=(folder.display().to_string()) size="50"; }
                    " "
                    button.primary type="submit" { "Write the image" }
                }
                p.muted { "The folder must be new or empty; the image goes into a folder named after the device's UDID inside it." }
            }
        }
    }
}
