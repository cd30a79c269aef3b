//! The long operations pages start: each a function that turns a submitted form into a
//! [`Job`](crate::jobs::Job) running library code under the lock it needs.

pub mod backup;
pub mod check;
pub mod export;
pub mod prune;
pub mod restore;

use crate::error::UiError;
use crate::jobs::Job;
use crate::state::App;
use std::collections::HashMap;
use std::sync::Arc;

/// A submitted form's fields.
pub type Fields = HashMap<String, String>;

/// Starts the operation `kind` names.
pub fn start(app: &Arc<App>, kind: &str, fields: &Fields) -> Result<Arc<Job>, UiError> {
    match kind {
        "backup" => backup::start(app),
        "check" => check::start(app, fields),
        "prune" => prune::start(app),
        "restore" => restore::start(app, fields),
        "export" => export::start(app, fields),
        other => Err(UiError::NotFound(format!("no operation {other:?}"))),
    }
}

/// A form field that must be there (for the operations that take one).
pub fn field<'f>(fields: &'f Fields, name: &str) -> Result<&'f str, UiError> {
    fields
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| UiError::BadRequest(format!("the form has no {name:?}")))
}

/// The job runner's refusal as an error of the page.
pub fn busy(why: String) -> UiError {
    UiError::Busy(why)
}
