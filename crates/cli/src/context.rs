//! Turning global options into an open repository: location, password, cache folder.

use crate::cli::Global;
use anyhow::{Context as _, Result, bail};
use hearth_crypto::KdfParams;
use hearth_repo::{RepoOptions, Repository};
use hearth_storage::{Backend, LocalBackend, S3Backend, S3Location};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

pub struct Context {
    pub global: Global,
}

/// Where the repository is.
pub enum Location {
    Local(PathBuf),
    S3(S3Location),
}

impl Context {
    /// `--repo`/`HEARTH_REPO`: a folder, or `s3:<endpoint URL>/<bucket>/<prefix>`.
    pub fn location(&self) -> Result<Location> {
        match &self.global.repo {
            Some(r) if r.starts_with("s3:") => Ok(Location::S3(
                S3Location::parse(r).map_err(anyhow::Error::msg)?,
            )),
            Some(r) => Ok(Location::Local(PathBuf::from(r))),
            None => Ok(Location::Local(default_repo())),
        }
    }

    pub fn options(&self) -> RepoOptions {
        let mut kdf = KdfParams::default();
        if let Some(m) = std::env::var("HEARTH_KDF_MEMORY_KIB")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            kdf.memory_kib = m;
            kdf.time = 1;
        }
        RepoOptions {
            kdf,
            cache_root: self.global.cache_dir.clone(),
        }
    }

    pub fn backend(&self) -> Result<Arc<dyn Backend>> {
        Ok(match self.location()? {
            Location::Local(path) => Arc::new(LocalBackend::open(&path)),
            Location::S3(l) => Arc::new(S3Backend::open(&l)?),
        })
    }

    /// The backend for a new repository: a local folder is created; a bucket must exist.
    pub fn create_backend(&self) -> Result<Arc<dyn Backend>> {
        Ok(match self.location()? {
            Location::Local(path) => Arc::new(LocalBackend::create(&path)?),
            Location::S3(l) => {
                let b = S3Backend::open(&l)?;
                eprintln!(
                    "{}: conditional writes: {}",
                    l.display(),
                    if b.conditional_writes()? {
                        "supported"
                    } else {
                        "not supported (the server ignores If-None-Match; Hearth looks before it writes, which is safe for its objects)"
                    }
                );
                Arc::new(b)
            }
        })
    }

    /// The repository password: HEARTH_PASSWORD, --password-file, or a prompt on a terminal.
    pub fn password(&self, confirm: bool) -> Result<Vec<u8>> {
        if let Ok(p) = std::env::var("HEARTH_PASSWORD") {
            return Ok(p.into_bytes());
        }
        if let Some(f) = &self.global.password_file {
            return read_password_file(f);
        }
        prompt("repository password", confirm)
    }

    /// Opens the repository and says on stderr which damaged objects were skipped.
    pub fn open(&self) -> Result<Repository> {
        let repo = self.open_quietly()?;
        for o in repo.unreadable_objects() {
            let advice = if o.object.starts_with("index/") {
                "`hearth repair index` rebuilds the index from the packs"
            } else {
                "`hearth repair snapshots` removes it (or rewrites it from this computer's cache)"
            };
            eprintln!("warning: {}: {}; skipped ({advice})", o.object, o.problem);
        }
        Ok(repo)
    }

    /// How a command that lists snapshots ended: with warnings when a snapshot that does not
    /// read was left out of the list.
    pub fn listing_outcome(repo: &Repository) -> crate::Outcome {
        let skipped =
            (repo.unreadable_objects().iter()).any(|o| o.object.starts_with("snapshots/"));
        match skipped {
            true => crate::Outcome::Warnings,
            false => crate::Outcome::Success,
        }
    }

    /// Opens the repository; the command reports damaged objects itself.
    pub fn open_quietly(&self) -> Result<Repository> {
        let backend = self.backend()?;
        let password = self.password(false)?;
        Ok(Repository::open(backend, &password, &self.options())?)
    }
}

impl Context {
    /// A repository lock, waiting up to --lock-wait for a conflicting one (saying so once), with
    /// a note about locks left by processes that no longer run.
    pub fn lock(&self, repo: &Repository, exclusive: bool) -> Result<hearth_repo::LockGuard> {
        for stale in repo.locks()?.stale {
            eprintln!(
                "note: lock {} of pid {} on {} is stale ({}); it does not block, and `hearth unlock` removes it",
                stale.id.short(),
                stale.info.pid,
                stale.info.host,
                stale.reason
            );
        }
        let waiting = |holder: &hearth_format::LockInfo| {
            eprintln!(
                "waiting for {} (pid {} on {}) to finish (up to {} s, --lock-wait)",
                if holder.exclusive {
                    "a prune or forget"
                } else {
                    "a running backup"
                },
                holder.pid,
                holder.host,
                self.global.lock_wait.as_secs()
            );
        };
        Ok(repo.lock(exclusive, self.global.lock_wait, &waiting)?)
    }
}

pub fn read_password_file(f: &std::path::Path) -> Result<Vec<u8>> {
    let text = std::fs::read_to_string(f)
        .with_context(|| format!("{}: cannot read password file", f.display()))?;
    Ok(text.trim_end_matches(['\n', '\r']).as_bytes().to_vec())
}

pub fn prompt(what: &str, confirm: bool) -> Result<Vec<u8>> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "no {what}: set HEARTH_PASSWORD or HEARTH_PASSWORD_FILE (or --password-file), or run on a terminal"
        );
    }
    let first = rpassword::prompt_password(format!("Enter {what}: "))?;
    if confirm && rpassword::prompt_password(format!("Repeat {what}: "))? != first {
        bail!("the passwords differ");
    }
    Ok(first.into_bytes())
}

/// `$XDG_DATA_HOME/hearth/repo`, else `~/.local/share/hearth/repo`.
fn default_repo() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("hearth/repo")
}
