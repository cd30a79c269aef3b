//! Every URL the server answers, and the layers every request passes.

use crate::state::App;
use crate::{assets, auth, pages};
use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use std::sync::Arc;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(pages::overview::page))
        .route("/storage", get(pages::overview::storage_fragment))
        .route("/login", get(pages::login::form).post(pages::login::submit))
        .route("/device/{udid}", get(pages::device::page))
        .route("/snapshot/{id}/{action}", post(pages::device::pin))
        .route("/jobs", get(pages::jobs::list))
        .route("/jobs/{id}", get(pages::jobs::one))
        .route("/jobs/start/{kind}", post(pages::jobs::start))
        .route("/api/jobs/{id}", get(pages::jobs::api))
        .route("/assets/app.css", get(assets::css))
        .route("/assets/app.js", get(assets::js))
        .merge(pages::browse::routes())
        .merge(pages::diff::routes())
        .merge(pages::restore::routes())
        .merge(pages::photos::routes())
        .merge(pages::messages::routes())
        .fallback(pages::not_found)
        .layer(from_fn_with_state(app.clone(), auth::gate))
        .layer(from_fn(auth::hardened))
        .with_state(app)
}
