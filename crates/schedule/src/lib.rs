//! Running Hearth by itself: the user-level service files that run `hearth watch` (a
//! long-running service) or `hearth backup` at an interval (a timer), for systemd on Linux and
//! launchd on macOS; writing them, finding them again, removing them, and asking the service
//! manager to start, stop and describe them.
//!
//! It is not a scheduler: the service manager runs Hearth. The files carry no repository
//! arguments and nothing secret; the config file they name supplies the repository and the
//! password. Every file written starts with [`MARKER`], and only files that carry it are ever
//! replaced or removed.
//!
//! ```
//! use hearth_schedule::{Job, Platform, ServiceSpec, unit_files};
//! use std::path::Path;
//! let spec = ServiceSpec {
//!     program: "/usr/local/bin/hearth".into(),
//!     config: "/home/ann/.config/hearth/config.toml".into(),
//!     job: Job::Watch,
//!     forget: false,
//!     log: "/home/ann/Library/Logs/hearth/hearth.log".into(),
//! };
//! let files = unit_files(Platform::Linux, &spec, Path::new("/home/ann/.config/systemd/user")).unwrap();
//! assert!(files[0].text.contains("ExecStart=/usr/local/bin/hearth --config /home/ann/.config/hearth/config.toml watch"));
//! ```

mod files;
mod launchd;
mod manager;
mod systemd;

pub use files::{Installed, find_installed, remove, write};
pub use manager::{ManagerError, UnitState, activate, deactivate, manual_commands, state};

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The first line (as a comment) of every file Hearth writes; what `uninstall` looks for.
pub const MARKER: &str =
    "Written by `hearth schedule install`; `hearth schedule uninstall` removes it.";

/// The shortest interval `--every` takes.
pub const MIN_EVERY: Duration = Duration::from_secs(60);

/// Which service manager the files are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// systemd user units.
    Linux,
    /// launchd user agents.
    MacOs,
}

impl Platform {
    /// The platform this program runs on (launchd on macOS, systemd elsewhere).
    pub fn current() -> Platform {
        if cfg!(target_os = "macos") {
            Platform::MacOs
        } else {
            Platform::Linux
        }
    }

    /// Where a user's service files live: `$XDG_CONFIG_HOME/systemd/user` (given as
    /// `config_home`) or `~/Library/LaunchAgents`.
    pub fn units_dir(self, home: &Path, config_home: &Path) -> PathBuf {
        match self {
            Platform::Linux => config_home.join("systemd/user"),
            Platform::MacOs => home.join("Library/LaunchAgents"),
        }
    }

    /// The file names Hearth may write there, for either job.
    pub fn file_names(self) -> &'static [&'static str] {
        match self {
            Platform::Linux => &[systemd::WATCH, systemd::BACKUP, systemd::TIMER],
            Platform::MacOs => &[launchd::WATCH_FILE, launchd::BACKUP_FILE],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Platform::Linux => "linux",
            Platform::MacOs => "macos",
        }
    }
}

/// What the service does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// `hearth watch`, kept running.
    Watch,
    /// `hearth backup` (and `forget --prune` when asked), every so often.
    Every(Duration),
}

/// What to install.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// The `hearth` binary, absolute.
    pub program: PathBuf,
    /// The config file the service reads, absolute.
    pub config: PathBuf,
    pub job: Job,
    /// With [`Job::Every`]: run `hearth forget --prune` (the config file's retention) after a
    /// backup that succeeded.
    pub forget: bool,
    /// launchd only: where the agent's stdout and stderr go (systemd keeps them in the journal).
    pub log: PathBuf,
}

/// A service file: where it goes and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFile {
    pub path: PathBuf,
    pub text: String,
}

/// What can go wrong writing, reading or removing service files.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: exists and was not written by hearth schedule install; move it away first")]
    NotOurs { path: PathBuf },
    #[error("{what} {path:?} is not UTF-8 text; a service file needs it as text")]
    NotUtf8 { what: &'static str, path: PathBuf },
    #[error("{path}: cannot write the launchd agent: {message}")]
    Plist { path: PathBuf, message: String },
}

/// The files for `spec`, to be written into `dir` (see [`Platform::units_dir`]).
pub fn unit_files(
    platform: Platform,
    spec: &ServiceSpec,
    dir: &Path,
) -> Result<Vec<UnitFile>, ScheduleError> {
    let text = |what: &'static str, p: &Path| {
        p.to_str()
            .map(str::to_owned)
            .ok_or_else(|| ScheduleError::NotUtf8 {
                what,
                path: p.to_owned(),
            })
    };
    let program = text("the hearth binary's path", &spec.program)?;
    let config = text("the config file's path", &spec.config)?;
    match platform {
        Platform::Linux => Ok(systemd::units(&program, &config, spec.job, spec.forget)
            .into_iter()
            .map(|(name, text)| UnitFile {
                path: dir.join(name),
                text,
            })
            .collect()),
        Platform::MacOs => {
            let log = text("the log file's path", &spec.log)?;
            let (name, text) = launchd::agent(&program, &config, spec.job, spec.forget, &log)
                .map_err(|message| ScheduleError::Plist {
                    path: dir.to_owned(),
                    message,
                })?;
            Ok(vec![UnitFile {
                path: dir.join(name),
                text,
            }])
        }
    }
}

/// An interval as `--every` takes it: `30m`, `6h`, `1d`, `90s`, or combinations (`1h30m`).
pub fn parse_every(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not an interval (e.g. 30m, 6h, 1d)");
    let mut secs: u64 = 0;
    let mut number = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        number.clear();
        secs = n
            .checked_mul(unit)
            .and_then(|v| v.checked_add(secs))
            .ok_or_else(bad)?;
    }
    if !number.is_empty() || secs == 0 {
        return Err(bad());
    }
    let every = Duration::from_secs(secs);
    if every < MIN_EVERY {
        return Err(format!("{s:?} is too often (at least 1m)"));
    }
    Ok(every)
}

/// An interval as text: the largest of `d`, `h`, `m`, `s` that divides it (`6h`, `90m`).
pub fn every_text(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s % 86400 == 0 => format!("{}d", s / 86400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_and_print_back() {
        assert_eq!(parse_every("6h"), Ok(Duration::from_secs(6 * 3600)));
        assert_eq!(parse_every("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_every("1d"), Ok(Duration::from_secs(86400)));
        assert!(parse_every("30s").unwrap_err().contains("too often"));
        assert!(parse_every("6 hours").is_err());
        assert!(parse_every("h").is_err());
        assert!(parse_every("").is_err());
        assert_eq!(every_text(Duration::from_secs(5400)), "90m");
        assert_eq!(every_text(Duration::from_secs(6 * 3600)), "6h");
    }
}
