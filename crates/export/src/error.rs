use hearth_browse::BrowseError;
use hearth_repo::RepoError;
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ExportError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Browse(#[from] BrowseError),
    /// A database the snapshot holds that SQLite cannot read.
    #[error("{database} in the snapshot of {device}: {source}")]
    Sqlite {
        device: String,
        database: String,
        #[source]
        source: rusqlite::Error,
    },
    /// A database whose schema lacks what the exporter reads: an iOS version it does not know.
    #[error("{database} in the snapshot of {device} has no {}: a schema this exporter does not know", missing_what(table, column.as_deref()))]
    Schema {
        device: String,
        database: String,
        table: String,
        column: Option<String>,
    },
    /// Bytes in a database that are not what the exporter expects (a damaged blob).
    #[error("{database} in the snapshot of {device}: {what}")]
    BadData {
        device: String,
        database: String,
        what: String,
    },
    #[error("{}: {what}: {source}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: is not a folder (a link or a file where a folder goes); refusing to write through it", path.display())]
    NotAFolder { path: PathBuf },
    /// A file of an earlier export in the output folder that is not what it should be.
    #[error("{}: {why}", path.display())]
    BadOutput { path: PathBuf, why: String },
    #[error("starting the export's threads: {0}")]
    Threads(#[from] rayon::ThreadPoolBuildError),
    /// What was asked cannot be done (the CLI's exit status 2).
    #[error("{0}")]
    Usage(String),
}

fn missing_what(table: &str, column: Option<&str>) -> String {
    match column {
        Some(c) => format!("column {c} in table {table}"),
        None => format!("table {table}"),
    }
}

impl ExportError {
    /// A failure of the output folder (it cannot be written, or holds what it should not), as
    /// opposed to a snapshot whose data cannot be exported: the first stops an export, the
    /// second costs only what it touches.
    pub fn is_output_failure(&self) -> bool {
        matches!(
            self,
            Self::Io { .. }
                | Self::NotAFolder { .. }
                | Self::BadOutput { .. }
                | Self::Browse(BrowseError::Write(_))
        )
    }

    pub(crate) fn io(
        path: impl Into<PathBuf>,
        what: &'static str,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, what, source }
    }
}
