//! `/login`: the password of a server listening beyond loopback.

use crate::page::{Section, layout};
use crate::state::App;
use axum::Form;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use std::sync::Arc;

pub async fn form(State(app): State<Arc<App>>) -> Response {
    if !app.auth.has_password() {
        return (StatusCode::NOT_FOUND, "open the link `hearth ui` printed\n").into_response();
    }
    login_page(&app, None)
}

#[derive(Deserialize)]
pub struct Login {
    password: String,
}

pub async fn submit(State(app): State<Arc<App>>, Form(login): Form<Login>) -> Response {
    if !app.auth.password_matches(login.password.as_bytes()) {
        // Guessing is slowed down; the comparison itself takes the same time either way.
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        return login_page(&app, Some("That is not the password."));
    }
    let mut r = Redirect::to("/").into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, app.auth.session_cookie());
    r
}

fn login_page(app: &App, problem: Option<&str>) -> Response {
    let body = html! {
        form method="post" action="/login" {
            @if let Some(p) = problem { p.error { (p) } }
            label { "Password " input type="password" name="password" autofocus; }
            " "
            button.primary type="submit" { "Open" }
        }
    };
    let status = match problem {
        Some(_) => StatusCode::UNAUTHORIZED,
        None => StatusCode::OK,
    };
    (status, layout(app, Section::None, "Sign in", body)).into_response()
}
