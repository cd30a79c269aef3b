//! The frame every page shares: head, navigation, the running job's bar, and small pieces.

use crate::state::App;
use axum::http::StatusCode;
use maud::{DOCTYPE, Markup, PreEscaped, html};

/// The sections of the navigation bar.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Overview,
    Photos,
    Messages,
    Restore,
    Jobs,
    None,
}

const SECTIONS: [(Section, &str, &str); 5] = [
    (Section::Overview, "/", "Overview"),
    (Section::Photos, "/photos", "Photos"),
    (Section::Messages, "/messages", "Messages"),
    (Section::Restore, "/restore", "Restore"),
    (Section::Jobs, "/jobs", "Activity"),
];

/// A whole page: `title` in the tab and as the heading, `body` under it.
pub fn layout(app: &App, section: Section, title: &str, body: Markup) -> Markup {
    let running = app.jobs.running().map(|j| j.view());
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="csrf-token" content=(app.auth.csrf());
                title { (title) " · Hearth" }
                link rel="stylesheet" href="/assets/app.css";
                script src="/assets/app.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/" { "Hearth" }
                    nav {
                        @for (s, href, name) in SECTIONS {
                            a href=(href) class=[(s == section).then_some("active")] { (name) }
                        }
                    }
                }
                div #job-banner data-running=[running.as_ref().map(|j| j.id)] {
                    @if let Some(job) = &running {
                        a href={"/jobs/" (job.id)} { (job.title) ": " span.phase { (job.phase) } }
                        progress max="1" value=[job.fraction] {}
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A page for an error, without the navigation's state (the app may not be at hand).
pub fn error_page(status: StatusCode, text: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (status.as_u16()) " · Hearth" }
                link rel="stylesheet" href="/assets/app.css";
            }
            body {
                header.top { a.brand href="/" { "Hearth" } }
                main {
                    h1 { (status.canonical_reason().unwrap_or("Error")) }
                    p.error { (text) }
                    p { a href="/" { "Back to the overview" } }
                }
            }
        }
    }
}

/// A form that POSTs to `action` with the CSRF token, as one button.
pub fn post_button(app: &App, action: &str, label: &str, fields: &[(&str, &str)]) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            input type="hidden" name="csrf" value=(app.auth.csrf());
            @for (name, value) in fields {
                input type="hidden" name=(name) value=(value);
            }
            button type="submit" { (label) }
        }
    }
}

/// The hidden CSRF field of a hand-written form.
pub fn csrf_field(app: &App) -> Markup {
    html! { input type="hidden" name="csrf" value=(app.auth.csrf()); }
}

/// Text that is already HTML (an SVG chart made here).
pub fn raw(s: String) -> PreEscaped<String> {
    PreEscaped(s)
}
