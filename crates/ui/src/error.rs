//! What can go wrong serving a page, and the status each is answered with.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hearth_browse::BrowseError;
use hearth_export::ExportError;
use hearth_repo::RepoError;
use hearth_restore::RestoreError;

#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error(
        "{0} is not a loopback address: serving there needs a login password (--login-password-file FILE, or HEARTH_UI_PASSWORD_FILE)"
    )]
    RemoteWithoutPassword(std::net::SocketAddr),
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Busy(String),
    #[error("this request lacks the page's CSRF token (reload the page and try again)")]
    Forbidden,
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Browse(#[from] BrowseError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error(transparent)]
    Restore(#[from] RestoreError),
    #[error("a page's work stopped unexpectedly: {0}")]
    Internal(String),
}

impl UiError {
    pub fn status(&self) -> StatusCode {
        match self {
            UiError::NotFound(_) => StatusCode::NOT_FOUND,
            UiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            UiError::Busy(_) => StatusCode::CONFLICT,
            UiError::Forbidden => StatusCode::FORBIDDEN,
            UiError::Repo(e) if e.kind() == hearth_repo::ErrorKind::NotFound => {
                StatusCode::NOT_FOUND
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = crate::page::error_page(status, &error_text(&self));
        (status, body).into_response()
    }
}

/// The error and its causes, one sentence after the other.
pub fn error_text(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}
