//! What can go wrong before a notification is queued. Failures to deliver one are not errors
//! of a call: they come back from [`crate::Notifier::finish`] as [`crate::DeliveryFailure`]s.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// `shown` is the URL without its secret parts (see [`crate::Target::shown`]).
    #[error("notify URL {shown}: {problem}")]
    BadUrl { shown: String, problem: String },
    #[error("cannot start the thread that sends notifications: {0}")]
    Thread(std::io::Error),
    #[error("{}: cannot write the overdue-device note: {source}", path.display())]
    NoteWrite {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Repo(#[from] hearth_repo::RepoError),
}
