//! Turning global options into an open repository: location, password, cache folder.

use crate::cli::Global;
use crate::output::esc;
use crate::settings::{PasswordFrom, Settings, Source};
use anyhow::{Context as _, Result, bail};
use hearth_crypto::KdfParams;
use hearth_format::LockInfo;
use hearth_repo::{ExclusiveLock, LockGuard, LockTimes, RepoOptions, Repository};
use hearth_storage::{Backend, LocalBackend, S3Backend, S3Location};
use std::ffi::OsString;
use std::io::IsTerminal;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct Context {
    pub global: Global,
    /// The values of the global options, with the config file's applied.
    pub settings: Settings,
}

/// Where the repository is.
pub enum Location {
    Local(PathBuf),
    S3(S3Location),
}

impl Context {
    /// The repository setting: a folder, or `s3:<endpoint URL>/<bucket>/<prefix>` (UTF-8, as
    /// the settings made sure).
    pub fn location(&self) -> Result<Location> {
        Location::parse(&self.settings.repo.value)
    }

    pub fn options(&self) -> RepoOptions {
        let lowered = std::env::var("HEARTH_KDF_MEMORY_KIB").ok();
        RepoOptions {
            kdf: kdf_params(lowered.as_deref(), cfg!(debug_assertions)),
            cache_root: self.settings.cache_dir.value.clone(),
            lock_times: lock_times(),
        }
    }

    pub fn backend(&self) -> Result<Arc<dyn Backend>> {
        self.location()?.backend()
    }

    /// The backend for a new repository: a local folder is created; a bucket must exist.
    pub fn create_backend(&self) -> Result<Arc<dyn Backend>> {
        self.location()?.create_backend()
    }

    /// Another repository than --repo (`init --like`, `copy --to`), opened with its own
    /// password; damaged objects it skipped are named on stderr, as for --repo.
    pub fn open_other(
        &self,
        location: &std::ffi::OsStr,
        sources: &PasswordSources,
        password_file: Option<&Path>,
    ) -> Result<Repository> {
        let backend = Location::parse(location)?.backend()?;
        let password = sources.read(password_file, false)?;
        let repo = Repository::open(backend, &password, &self.options())?;
        warn_unreadable(&repo);
        Ok(repo)
    }

    /// The repository password: the `--password-file` flag, else HEARTH_PASSWORD, else
    /// HEARTH_PASSWORD_FILE, else the config file's password_file or password_command, else a
    /// prompt on a terminal (an empty variable counts as unset).
    pub fn password(&self, confirm: bool) -> Result<Vec<u8>> {
        match self.settings.password_from() {
            PasswordFrom::File { path, .. } => read_password_file(&path),
            PasswordFrom::Variable(name) => Ok(env_set(name).unwrap_or_default().into_vec()),
            PasswordFrom::Command { command, source } => run_password_command(&command, &source),
            PasswordFrom::Prompt => {
                let sources = PasswordSources {
                    what: "repository password",
                    flag: "--password-file",
                    variable: "HEARTH_PASSWORD",
                    file_variable: "HEARTH_PASSWORD_FILE",
                    also: format!(
                        ", or set password_file or password_command in the config file {}",
                        self.settings.config.path.display()
                    )
                    .into(),
                };
                sources.read(None, confirm)
            }
        }
    }

    /// Opens the repository and says on stderr which damaged objects were skipped.
    pub fn open(&self) -> Result<Repository> {
        let repo = self.open_quietly()?;
        warn_unreadable(&repo);
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

impl Location {
    /// A folder, or `s3:<endpoint URL>/<bucket>/<prefix>` (UTF-8, as the argument parser made
    /// sure).
    pub fn parse(r: &std::ffi::OsStr) -> Result<Self> {
        match r.to_str() {
            Some(url) if url.starts_with("s3:") => Ok(Location::S3(
                S3Location::parse(url).map_err(anyhow::Error::msg)?,
            )),
            _ => Ok(Location::Local(PathBuf::from(r))),
        }
    }

    pub fn backend(self) -> Result<Arc<dyn Backend>> {
        Ok(match self {
            Location::Local(path) => Arc::new(LocalBackend::open(&path)),
            Location::S3(l) => Arc::new(S3Backend::open(&l)?),
        })
    }

    /// The backend for a new repository: a local folder is created; a bucket must exist.
    pub fn create_backend(self) -> Result<Arc<dyn Backend>> {
        Ok(match self {
            Location::Local(path) => Arc::new(LocalBackend::create(&path)?),
            Location::S3(l) => {
                let b = S3Backend::open(&l)?;
                eprintln!(
                    "{}: conditional writes: {}",
                    esc(&l.display()),
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
}

impl Context {
    /// A shared lock: for a backup, and for a command that reads packs, so that a prune waits
    /// for it instead of deleting packs under it. Waits up to --lock-wait for a prune.
    pub fn shared_lock(&self, repo: &Repository) -> Result<LockGuard> {
        self.note_stale_locks(repo)?;
        let waiting = |holder: &LockInfo| self.announce_wait(holder);
        Ok(repo.lock_shared(self.settings.lock_wait.value, &waiting)?)
    }

    /// The exclusive lock (forget, prune, repairs). Waits up to --lock-wait for every other
    /// command that holds a lock.
    pub fn exclusive_lock(&self, repo: &Repository) -> Result<ExclusiveLock> {
        self.note_stale_locks(repo)?;
        let waiting = |holder: &LockInfo| self.announce_wait(holder);
        Ok(repo.lock_exclusive(self.settings.lock_wait.value, &waiting)?)
    }

    /// A note about each lock left by a process that no longer runs.
    fn note_stale_locks(&self, repo: &Repository) -> Result<()> {
        for stale in repo.locks()?.stale {
            eprintln!(
                "note: lock {} of pid {} on {} is stale ({}); it does not block, and `hearth unlock` removes it",
                stale.id.short(),
                stale.info.pid,
                esc(&stale.info.host),
                stale.reason
            );
        }
        Ok(())
    }

    /// Said once, when a lock is waited for.
    fn announce_wait(&self, holder: &LockInfo) {
        eprintln!(
            "waiting for {} (pid {} on {}) to finish (up to {} s, --lock-wait)",
            if holder.exclusive {
                "a prune or forget"
            } else {
                "a running backup, restore or check"
            },
            holder.pid,
            esc(&holder.host),
            self.settings.lock_wait.value.as_secs()
        );
    }
}

/// The format's lock times (stale after 30 minutes). A debug build, which the tests run,
/// honours HEARTH_TEST_LOCK_STALE_SECS, so that a test sees a lock go stale and be given up in
/// seconds; a release build never does, since every computer that uses a repository must agree
/// on when a lock is stale.
fn lock_times() -> LockTimes {
    #[cfg(debug_assertions)]
    if let Some(secs) = std::env::var("HEARTH_TEST_LOCK_STALE_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| *s > 0)
    {
        return LockTimes::scaled(std::time::Duration::from_secs(secs));
    }
    LockTimes::default()
}

pub fn read_password_file(f: &std::path::Path) -> Result<Vec<u8>> {
    let text = std::fs::read_to_string(f)
        .with_context(|| format!("{}: cannot read password file", f.display()))?;
    Ok(text.trim_end_matches(['\n', '\r']).as_bytes().to_vec())
}

/// Where a password comes from, in this order: the flag's file, the variable, the variable
/// naming a file, a prompt on a terminal.
pub struct PasswordSources {
    pub what: &'static str,
    pub flag: &'static str,
    pub variable: &'static str,
    pub file_variable: &'static str,
    /// More ways to give it, for the error when there is none (", or ...").
    pub also: std::borrow::Cow<'static, str>,
}

impl PasswordSources {
    pub fn read(&self, flag_file: Option<&Path>, confirm: bool) -> Result<Vec<u8>> {
        if let Some(f) = flag_file {
            return read_password_file(f);
        }
        if let Some(p) = env_set(self.variable) {
            return Ok(p.into_vec());
        }
        if let Some(f) = env_set(self.file_variable) {
            return read_password_file(Path::new(&f));
        }
        if !std::io::stdin().is_terminal() {
            let empty = std::env::var_os(self.variable).is_some_and(|v| v.is_empty());
            bail!(
                "no {}: set {} or {} (or pass {}){}, or run on a terminal{}",
                self.what,
                self.variable,
                self.file_variable,
                self.flag,
                self.also,
                if empty {
                    format!(
                        " ({} is set but empty, which counts as unset)",
                        self.variable
                    )
                } else {
                    String::new()
                }
            );
        }
        prompt(self.what, confirm)
    }
}

/// An environment variable's value, unless it is unset or empty; any bytes (a password need
/// not be UTF-8).
fn env_set(name: &str) -> Option<OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

fn prompt(what: &str, confirm: bool) -> Result<Vec<u8>> {
    let first = rpassword::prompt_password(format!("Enter {what}: "))?;
    if confirm && rpassword::prompt_password(format!("Repeat {what}: "))? != first {
        bail!("the passwords differ");
    }
    Ok(first.into_bytes())
}

/// The password `command` prints (run with `sh -c`; its stdout less the final newline). The
/// password is never shown; a command that fails or prints nothing is an error naming it.
fn run_password_command(command: &str, source: &Source) -> Result<Vec<u8>> {
    let failed = |why: String| anyhow::anyhow!("password_command `{command}` ({source}) {why}");
    let out = std::process::Command::new("sh")
        .args(["-c", command])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| failed(format!("could not be run: {e}")))?;
    if !out.status.success() {
        return Err(failed(format!("failed ({})", out.status)));
    }
    let mut password = out.stdout;
    while password.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
        password.pop();
    }
    if password.is_empty() {
        return Err(failed("printed no password".into()));
    }
    Ok(password)
}

/// The Argon2id parameters of new key files: the format's defaults. Only a debug build (what
/// the tests run) honours `HEARTH_KDF_MEMORY_KIB`, which lowers the memory for tests that open
/// repositories hundreds of times; a release build never writes a key file weaker than the
/// defaults.
fn kdf_params(lowered_memory_kib: Option<&str>, debug_build: bool) -> KdfParams {
    let mut kdf = KdfParams::default();
    if debug_build && let Some(m) = lowered_memory_kib.and_then(|v| v.parse().ok()) {
        kdf.memory_kib = m;
        kdf.time = 1;
    }
    kdf
}

/// Says on stderr which damaged objects opening `repo` skipped, and what mends them.
fn warn_unreadable(repo: &Repository) {
    for o in repo.unreadable_objects() {
        let advice = if o.object.starts_with("index/") {
            "`hearth repair index` rebuilds the index from the packs"
        } else {
            "`hearth repair snapshots` writes it again from this computer's cache if it holds it; with `--forget` it removes it"
        };
        eprintln!(
            "warning: {}: {}; skipped ({advice})",
            o.object,
            crate::output::esc_text(&o.problem)
        );
    }
}

#[cfg(test)]
mod kdf_tests {
    use super::*;

    #[test]
    fn only_a_debug_build_lowers_the_key_derivation_cost() {
        let lowered = kdf_params(Some("1024"), true);
        assert_eq!((lowered.memory_kib, lowered.time), (1024, 1));
        assert_eq!(kdf_params(Some("1024"), false), KdfParams::default());
        assert_eq!(kdf_params(None, true), KdfParams::default());
        assert_eq!(kdf_params(Some("lots"), true), KdfParams::default());
    }
}
