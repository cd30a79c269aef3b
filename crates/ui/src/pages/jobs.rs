//! The activity pages: the running job and the ones before it; where an operation is started.

use crate::auth::CheckedForm;
use crate::error::UiError;
use crate::format::time;
use crate::jobs::{JobState, JobView};
use crate::operations;
use crate::page::{Section, layout};
use crate::state::App;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use std::sync::Arc;

pub async fn list(State(app): State<Arc<App>>) -> Markup {
    let jobs: Vec<JobView> = app.jobs.all().iter().map(|j| j.view()).collect();
    let body = html! {
        p.muted { "Backups, checks, prunes, exports and restores run here one at a time, and go on when this page is closed." }
        (start_buttons(&app))
        (export_form(&app))
        @if jobs.is_empty() { p { "Nothing has run since the dashboard started." } }
        @for job in &jobs { (job_panel(job)) }
    };
    layout(&app, Section::Jobs, "Activity", body)
}

pub async fn one(State(app): State<Arc<App>>, Path(id): Path<u64>) -> Result<Markup, UiError> {
    let job = app
        .jobs
        .get(id)
        .ok_or_else(|| UiError::NotFound(format!("operation {id}")))?;
    let view = job.view();
    Ok(layout(&app, Section::Jobs, &view.title, job_panel(&view)))
}

pub async fn api(
    State(app): State<Arc<App>>,
    Path(id): Path<u64>,
) -> Result<Json<JobView>, UiError> {
    let job = app
        .jobs
        .get(id)
        .ok_or_else(|| UiError::NotFound(format!("operation {id}")))?;
    Ok(Json(job.view()))
}

/// POST `/jobs/start/{kind}`: starts the operation and shows its page.
pub async fn start(
    State(app): State<Arc<App>>,
    Path(kind): Path<String>,
    CheckedForm(fields): CheckedForm,
) -> Response {
    let started = {
        let app = app.clone();
        tokio::task::spawn_blocking(move || operations::start(&app, &kind, &fields)).await
    };
    match started {
        Ok(Ok(job)) => Redirect::to(&format!("/jobs/{}", job.id)).into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(e) => UiError::Internal(e.to_string()).into_response(),
    }
}

/// A job with its live progress (app.js follows `data-job`).
pub fn job_panel(job: &JobView) -> Markup {
    let (state, outcome) = match &job.state {
        JobState::Running => ("running", String::new()),
        JobState::Finished { summary, .. } => ("finished", summary.clone()),
        JobState::Failed { error } => ("failed", error.clone()),
    };
    html! {
        section.job data-job=[(state == "running").then_some(job.id)] data-state=(state) id={"job-" (job.id)} {
            h2 { a href={"/jobs/" (job.id)} { (job.title) } " " span.badge.state { (state) } }
            p.muted { "started " (time(job.started * 1_000_000)) }
            p { span.phase { (job.phase) } " " span.count {
                @if let Some(t) = job.total { (job.done) " of " (t) } }
            }
            // Without a known total a running bar moves; an ended job's is full.
            progress max="1" value=[if state == "running" { job.fraction } else { Some(1.0) }] {}
            p.outcome { (outcome) }
            a.result href=(job.link.as_deref().unwrap_or("#")) hidden[job.link.is_none()] { "See the result" }
            @if !job.log.is_empty() || state == "running" {
                pre.log { (job.log.join("\n")) }
            }
        }
    }
}

/// Any kind of `hearth export`, of every device's latest snapshot, into the library.
fn export_form(app: &App) -> Markup {
    html! {
        form.export method="post" action="/jobs/start/export" {
            (crate::page::csrf_field(app))
            input type="hidden" name="scope" value="household";
            label { "Export every device's latest " select name="kind" {
                @for kind in hearth_export::Kind::ALL { option value=(kind.name()) { (kind.name()) } }
            } }
            " " button type="submit" { "Export" }
            " " span.muted { "into " code { (app.options.library.display()) } }
        }
    }
}

/// The operations any page may start: back up now, check, prune.
pub fn start_buttons(app: &App) -> Markup {
    html! {
        div.actions {
            @if app.options.backup_sources.is_empty() {
                span.muted title="hearth ui --source FOLDER names the MobileSync folder to back up" {
                    "(no backup folder: start with --source to back up from here) "
                }
            } @else {
                (crate::page::post_button(app, "/jobs/start/backup", "Back up now", &[]))
                " "
            }
            (crate::page::post_button(app, "/jobs/start/check", "Check", &[]))
            " "
            (crate::page::post_button(app, "/jobs/start/check", "Check and read 5% of the data", &[("read_data", "5%")]))
            " "
            form.inline method="post" action="/jobs/start/prune" data-confirm="Prune deletes what no snapshot uses. Go on?" {
                (crate::page::csrf_field(app))
                button type="submit" { "Prune" }
            }
        }
    }
}
