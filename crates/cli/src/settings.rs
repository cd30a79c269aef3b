//! Every setting's value and where it came from, in one place. The order is the same for every
//! value: a flag, else an environment variable, else the config file, else a built-in default.
//! An empty environment variable counts as unset.
//!
//! Commands take their values from here, never from the environment or the file themselves, so
//! `hearth config` shows exactly what a command would use. Accessors that take a `flag` are
//! for commands that have that flag (`hearth watch --settle`, `--notify`): pass what the flag
//! parsed to (None or empty when not given; the flag must have no default of its own).

use crate::cli::{Global, RepoLocation};
use crate::config_file::{ConfigFile, resolve_path};
use anyhow::{Context as _, Result};
use hearth_repo::retention::Policy;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `hearth watch`'s quiet period after a device backup finished.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(60);
/// How often `hearth watch` looks at its folders when no event came.
pub const DEFAULT_RESCAN: Duration = Duration::from_secs(300);
/// A device not backed up for this long is overdue.
pub const DEFAULT_OVERDUE: Duration = Duration::from_secs(7 * 86400);
/// `--lock-wait`'s default.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(30 * 60);

/// An environment variable that no command could use (exit status 2, as a bad flag).
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag, e.g. `--repo`.
    Flag(&'static str),
    /// An environment variable.
    Env(&'static str),
    /// The config file at this path.
    File(PathBuf),
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(name) => write!(f, "flag {name}"),
            Source::Env(name) => f.write_str(name),
            Source::File(path) => write!(f, "config file {}", path.display()),
            Source::Default => f.write_str("default"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting<T> {
    pub value: T,
    pub source: Source,
}

/// The config file used: named by `--config`, `HEARTH_CONFIG`, or the default place.
#[derive(Debug, Clone)]
pub struct ConfigLocation {
    pub path: PathBuf,
    pub exists: bool,
    pub named_by: Source,
}

/// Where the repository password is read from, decided before anything is read.
#[derive(Debug, Clone, PartialEq)]
pub enum PasswordFrom {
    /// A file holding the password (its first line).
    File { path: PathBuf, source: Source },
    /// The password itself, in this environment variable.
    Variable(&'static str),
    /// The config file's `password_command`, run with `sh -c`.
    Command { command: String, source: Source },
    /// Asked for on a terminal.
    Prompt,
}

/// Looks up an environment variable; None when unset or empty.
type Env = Box<dyn Fn(&str) -> Option<OsString> + Send + Sync>;

pub struct Settings {
    pub config: ConfigLocation,
    file: ConfigFile,
    home: Option<PathBuf>,
    env: Env,
    /// `--repo`, `HEARTH_REPO`, `repo`, else `$XDG_DATA_HOME/hearth/repo`.
    pub repo: Setting<OsString>,
    /// `--cache-dir`, `HEARTH_CACHE_DIR`, `cache_dir`; None: `$XDG_CACHE_HOME/hearth`.
    pub cache_dir: Setting<Option<PathBuf>>,
    /// `--lock-wait`, `HEARTH_LOCK_WAIT`, `lock_wait`, else 30 minutes.
    pub lock_wait: Setting<Duration>,
    password_flag: Option<PathBuf>,
}

impl Settings {
    /// The settings of this process: its flags, its environment, its config file.
    pub fn load(global: &Global) -> Result<Settings> {
        let env: Env = Box::new(|name| std::env::var_os(name).filter(|v| !v.is_empty()));
        let home = std::env::var_os("HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let config = locate(global.config.clone(), &env, home.as_deref());
        let text = match std::fs::read_to_string(&config.path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("config file {}: cannot read it", config.path.display())
                });
            }
        };
        Settings::new(global, config, text.as_deref(), env, home)
    }

    /// The settings from `global`'s flags, `env`, and the config file's `text` (None: absent).
    fn new(
        global: &Global,
        mut config: ConfigLocation,
        text: Option<&str>,
        env: Env,
        home: Option<PathBuf>,
    ) -> Result<Settings> {
        config.exists = text.is_some();
        let file = match text {
            Some(t) => ConfigFile::parse(t, &config.path)?,
            None => ConfigFile::default(),
        };
        let from_file = Source::File(config.path.clone());
        let base = config.path.parent().unwrap_or(Path::new("/")).to_owned();
        let file_path = |v: &Option<String>| {
            v.as_deref()
                .map(|v| resolve_path(v, &base, home.as_deref()))
        };

        let repo = match (&global.repo, env("HEARTH_REPO"), &file.repo) {
            (Some(r), _, _) => setting(r.clone(), Source::Flag("--repo")),
            (None, Some(r), _) => {
                RepoLocation::check(&r).map_err(|note| {
                    let shown = r.as_encoded_bytes().escape_ascii();
                    UsageError(format!(
                        "invalid value for '--repo <REPO>' from HEARTH_REPO: \"{shown}\" is not UTF-8 text{note}"
                    ))
                })?;
                setting(r, Source::Env("HEARTH_REPO"))
            }
            (None, None, Some(r)) if r.starts_with("s3:") => setting(r.into(), from_file.clone()),
            (None, None, Some(r)) => setting(
                resolve_path(r, &base, home.as_deref()).into_os_string(),
                from_file.clone(),
            ),
            (None, None, None) => setting(
                default_repo(&*env, home.as_deref()).into_os_string(),
                Source::Default,
            ),
        };
        let cache_dir = match (
            &global.cache_dir,
            env("HEARTH_CACHE_DIR"),
            file_path(&file.cache_dir),
        ) {
            (Some(c), _, _) => setting(Some(c.clone()), Source::Flag("--cache-dir")),
            (None, Some(c), _) => setting(Some(c.into()), Source::Env("HEARTH_CACHE_DIR")),
            (None, None, Some(c)) => setting(Some(c), from_file.clone()),
            (None, None, None) => setting(None, Source::Default),
        };
        let lock_wait = match (global.lock_wait, env("HEARTH_LOCK_WAIT"), file.lock_wait) {
            (Some(w), _, _) => setting(w, Source::Flag("--lock-wait")),
            (None, Some(w), _) => {
                let w = w.to_str().map(crate::cli::parse_wait);
                match w {
                    Some(Ok(w)) => setting(w, Source::Env("HEARTH_LOCK_WAIT")),
                    Some(Err(e)) => return Err(UsageError(format!("HEARTH_LOCK_WAIT: {e}")).into()),
                    None => {
                        return Err(UsageError("HEARTH_LOCK_WAIT is not UTF-8 text".into()).into());
                    }
                }
            }
            (None, None, Some(w)) => setting(w, from_file.clone()),
            (None, None, None) => setting(DEFAULT_LOCK_WAIT, Source::Default),
        };
        Ok(Settings {
            config,
            file,
            home,
            env,
            repo,
            cache_dir,
            lock_wait,
            password_flag: global.password_file.clone(),
        })
    }

    fn file_source(&self) -> Source {
        Source::File(self.config.path.clone())
    }

    /// A path the config file gives, resolved (`~/`, relative to the file's folder).
    fn file_path(&self, value: &Option<String>) -> Option<PathBuf> {
        let base = self.config.path.parent().unwrap_or(Path::new("/"));
        value
            .as_deref()
            .map(|v| resolve_path(v, base, self.home.as_deref()))
    }

    /// The first of `flag`, the config file's value and `default` that is there.
    fn layer<T>(&self, flag: Option<(T, &'static str)>, file: Option<T>, default: T) -> Setting<T> {
        match (flag, file) {
            (Some((v, name)), _) => setting(v, Source::Flag(name)),
            (None, Some(v)) => setting(v, self.file_source()),
            (None, None) => setting(default, Source::Default),
        }
    }

    /// Where the repository password comes from: `--password-file`, `HEARTH_PASSWORD`,
    /// `HEARTH_PASSWORD_FILE`, the config file's `password_file` or `password_command`, else a
    /// prompt on a terminal.
    pub fn password_from(&self) -> PasswordFrom {
        if let Some(path) = &self.password_flag {
            return PasswordFrom::File {
                path: path.clone(),
                source: Source::Flag("--password-file"),
            };
        }
        if (self.env)("HEARTH_PASSWORD").is_some() {
            return PasswordFrom::Variable("HEARTH_PASSWORD");
        }
        if let Some(path) = (self.env)("HEARTH_PASSWORD_FILE") {
            return PasswordFrom::File {
                path: path.into(),
                source: Source::Env("HEARTH_PASSWORD_FILE"),
            };
        }
        self.unattended_password().unwrap_or(PasswordFrom::Prompt)
    }

    /// The config file's own password source (`password_file` or `password_command`): what a
    /// service, which has no terminal and none of the shell's variables, would use.
    pub fn unattended_password(&self) -> Option<PasswordFrom> {
        if let Some(path) = self.file_path(&self.file.password_file) {
            return Some(PasswordFrom::File {
                path,
                source: self.file_source(),
            });
        }
        (self.file.password_command.clone()).map(|command| PasswordFrom::Command {
            command,
            source: self.file_source(),
        })
    }

    /// The home folder (HOME).
    pub fn home(&self) -> Option<&Path> {
        self.home.as_deref()
    }

    /// `$XDG_CONFIG_HOME`, else `~/.config`.
    pub fn config_home(&self) -> PathBuf {
        config_home(&*self.env, self.home.as_deref())
    }

    /// Whether the config file itself names a repository (a service needs it to).
    pub fn file_names_repo(&self) -> bool {
        self.file.repo.is_some()
    }

    /// Passwords of encrypted iOS backups: `--ios-password-file`,
    /// `HEARTH_IOS_PASSWORD_FILE`, the config file's `ios_password_file`.
    pub fn ios_password_file(&self, flag: Option<PathBuf>) -> Setting<Option<PathBuf>> {
        if let Some(f) = flag {
            return setting(Some(f), Source::Flag("--ios-password-file"));
        }
        if let Some(f) = (self.env)("HEARTH_IOS_PASSWORD_FILE") {
            return setting(Some(f.into()), Source::Env("HEARTH_IOS_PASSWORD_FILE"));
        }
        let file = self.file_path(&self.file.ios_password_file).map(Some);
        self.layer(None, file, None)
    }

    /// The MobileSync folders to watch (and that `backup` with no PATH backs up): the
    /// command's PATH arguments, else `[watch] folders`; empty means the platform's folder.
    pub fn watch_folders(&self, paths: &[PathBuf]) -> Setting<Vec<PathBuf>> {
        let flag = (!paths.is_empty()).then(|| (paths.to_vec(), "PATH"));
        let file = (self.file.watch.folders.as_ref()).map(|fs| {
            fs.iter()
                .filter_map(|f| self.file_path(&Some(f.clone())))
                .collect()
        });
        self.layer(flag, file, Vec::new())
    }

    /// `--settle`, `[watch] settle`, else 60 s.
    pub fn watch_settle(&self, flag: Option<Duration>) -> Setting<Duration> {
        self.layer(
            flag.map(|v| (v, "--settle")),
            self.file.watch.settle,
            DEFAULT_SETTLE,
        )
    }

    /// `--rescan`, `[watch] rescan`, else 5 minutes.
    pub fn watch_rescan(&self, flag: Option<Duration>) -> Setting<Duration> {
        self.layer(
            flag.map(|v| (v, "--rescan")),
            self.file.watch.rescan,
            DEFAULT_RESCAN,
        )
    }

    /// `--log`, `[watch] log`, else `$XDG_STATE_HOME/hearth/watch.log` (else
    /// `~/.local/state/hearth/watch.log`).
    pub fn watch_log(&self, flag: Option<PathBuf>) -> Setting<PathBuf> {
        let default = state_dir(&*self.env, self.home.as_deref()).join("hearth/watch.log");
        let file = self.file_path(&self.file.watch.log);
        self.layer(flag.map(|v| (v, "--log")), file, default)
    }

    /// `--notify URL...`, `HEARTH_NOTIFY` (URLs separated by white space), `[notify] urls`,
    /// else none.
    pub fn notify_urls(&self, flag: &[String]) -> Setting<Vec<String>> {
        if let Some(v) = (self.env)("HEARTH_NOTIFY").filter(|_| flag.is_empty()) {
            let urls = v
                .to_string_lossy()
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            return setting(urls, Source::Env("HEARTH_NOTIFY"));
        }
        let flag = (!flag.is_empty()).then(|| (flag.to_vec(), "--notify"));
        self.layer(flag, self.file.notify.urls.clone(), Vec::new())
    }

    /// `--overdue`, `[notify] overdue`, else 7 days.
    pub fn notify_overdue(&self, flag: Option<Duration>) -> Setting<Duration> {
        self.layer(
            flag.map(|v| (v, "--overdue")),
            self.file.notify.overdue,
            DEFAULT_OVERDUE,
        )
    }

    /// `[retention]`, for a `forget` given no `--keep-*` flag; None when the file has none
    /// (or keeps nothing).
    pub fn retention(&self) -> Option<Setting<Policy>> {
        let policy = self.file.retention.as_ref()?.policy();
        (!policy.is_empty()).then(|| setting(policy, self.file_source()))
    }
}

fn setting<T>(value: T, source: Source) -> Setting<T> {
    Setting { value, source }
}

/// `--config`, else `HEARTH_CONFIG`, else `$XDG_CONFIG_HOME/hearth/config.toml`, else
/// `~/.config/hearth/config.toml`.
fn locate(flag: Option<PathBuf>, env: &Env, home: Option<&Path>) -> ConfigLocation {
    let (path, named_by) = match (flag, env("HEARTH_CONFIG")) {
        (Some(p), _) => (p, Source::Flag("--config")),
        (None, Some(p)) => (PathBuf::from(p), Source::Env("HEARTH_CONFIG")),
        (None, None) => (
            config_home(&**env, home).join("hearth/config.toml"),
            Source::Default,
        ),
    };
    ConfigLocation {
        path,
        exists: false,
        named_by,
    }
}

/// `$XDG_CONFIG_HOME`, else `~/.config`.
pub fn config_home(env: &dyn Fn(&str) -> Option<OsString>, home: Option<&Path>) -> PathBuf {
    xdg(env, "XDG_CONFIG_HOME", home, ".config")
}

/// `$XDG_STATE_HOME`, else `~/.local/state`.
fn state_dir(env: &dyn Fn(&str) -> Option<OsString>, home: Option<&Path>) -> PathBuf {
    xdg(env, "XDG_STATE_HOME", home, ".local/state")
}

/// `$XDG_DATA_HOME/hearth/repo`, else `~/.local/share/hearth/repo`.
fn default_repo(env: &dyn Fn(&str) -> Option<OsString>, home: Option<&Path>) -> PathBuf {
    xdg(env, "XDG_DATA_HOME", home, ".local/share").join("hearth/repo")
}

fn xdg(
    env: &dyn Fn(&str) -> Option<OsString>,
    variable: &str,
    home: Option<&Path>,
    under_home: &str,
) -> PathBuf {
    env(variable)
        .map(PathBuf::from)
        .or_else(|| home.map(|h| h.join(under_home)))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// A duration as the config file takes it: `7d`, `6h`, `10m`, `90s`.
pub fn duration_text(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0s".to_owned(),
        s if s % 86400 == 0 => format!("{}d", s / 86400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Settings for tests: these flags, variables and config file text.
#[cfg(test)]
pub fn for_test(global: &Global, vars: &[(&str, &str)], text: Option<&str>) -> Result<Settings> {
    let vars: std::collections::HashMap<String, OsString> = (vars.iter())
        .map(|(k, v)| (k.to_string(), OsString::from(v)))
        .collect();
    let env: Env = Box::new(move |name| vars.get(name).filter(|v| !v.is_empty()).cloned());
    let home = Some(PathBuf::from("/home/ann"));
    let config = locate(global.config.clone(), &env, home.as_deref());
    Settings::new(global, config, text, env, home)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_flags() -> Global {
        Global {
            repo: None,
            password_file: None,
            cache_dir: None,
            json: false,
            lock_wait: None,
            config: None,
        }
    }

    const FILE: &str = "repo = \"~/backups/hearth\"\npassword_command = \"echo pw\"\n\
        cache_dir = \"cache\"\nlock_wait = \"5m\"\n[retention]\nkeep_daily = 7\n";
    const CONFIG: &str = "/home/ann/.config/hearth/config.toml";

    #[test]
    fn the_config_file_is_found_by_flag_variable_or_xdg() {
        let s = for_test(&no_flags(), &[], None).unwrap();
        assert_eq!(s.config.path, PathBuf::from(CONFIG));
        assert!(!s.config.exists);
        let s = for_test(&no_flags(), &[("XDG_CONFIG_HOME", "/x")], None).unwrap();
        assert_eq!(s.config.path, PathBuf::from("/x/hearth/config.toml"));
        let s = for_test(
            &no_flags(),
            &[("HEARTH_CONFIG", "/e.toml"), ("XDG_CONFIG_HOME", "/x")],
            None,
        )
        .unwrap();
        assert_eq!(
            (s.config.path.to_str(), &s.config.named_by),
            (Some("/e.toml"), &Source::Env("HEARTH_CONFIG"))
        );
        let flags = Global {
            config: Some("/f.toml".into()),
            ..no_flags()
        };
        let s = for_test(&flags, &[("HEARTH_CONFIG", "/e.toml")], None).unwrap();
        assert_eq!(
            (s.config.path.to_str(), &s.config.named_by),
            (Some("/f.toml"), &Source::Flag("--config"))
        );
    }

    #[test]
    fn with_nothing_set_every_value_is_its_default() {
        let s = for_test(&no_flags(), &[], None).unwrap();
        assert_eq!(
            s.repo,
            setting("/home/ann/.local/share/hearth/repo".into(), Source::Default)
        );
        assert_eq!(s.cache_dir, setting(None, Source::Default));
        assert_eq!(s.lock_wait, setting(DEFAULT_LOCK_WAIT, Source::Default));
        assert_eq!(s.password_from(), PasswordFrom::Prompt);
        assert_eq!(
            s.watch_settle(None),
            setting(DEFAULT_SETTLE, Source::Default)
        );
        assert_eq!(s.notify_overdue(None).value, DEFAULT_OVERDUE);
        assert_eq!(
            s.watch_log(None).value,
            PathBuf::from("/home/ann/.local/state/hearth/watch.log")
        );
        assert!(s.retention().is_none());
    }

    #[test]
    fn the_file_beats_the_default() {
        let s = for_test(&no_flags(), &[], Some(FILE)).unwrap();
        let file = Source::File(CONFIG.into());
        assert!(s.config.exists);
        assert_eq!(
            s.repo,
            setting("/home/ann/backups/hearth".into(), file.clone())
        );
        assert_eq!(
            s.cache_dir,
            setting(Some("/home/ann/.config/hearth/cache".into()), file.clone())
        );
        assert_eq!(s.lock_wait, setting(Duration::from_secs(300), file.clone()));
        assert_eq!(
            s.password_from(),
            PasswordFrom::Command {
                command: "echo pw".into(),
                source: file.clone()
            }
        );
        assert_eq!(s.retention().unwrap().value.daily, 7);
    }

    #[test]
    fn a_variable_beats_the_file() {
        let vars = [
            ("HEARTH_REPO", "s3:http://127.0.0.1:9000/b/p"),
            ("HEARTH_CACHE_DIR", "/c"),
            ("HEARTH_LOCK_WAIT", "1h"),
            ("HEARTH_PASSWORD_FILE", "/pw"),
        ];
        let s = for_test(&no_flags(), &vars, Some(FILE)).unwrap();
        assert_eq!(
            s.repo,
            setting(
                "s3:http://127.0.0.1:9000/b/p".into(),
                Source::Env("HEARTH_REPO")
            )
        );
        assert_eq!(
            s.cache_dir,
            setting(Some("/c".into()), Source::Env("HEARTH_CACHE_DIR"))
        );
        assert_eq!(
            s.lock_wait,
            setting(Duration::from_secs(3600), Source::Env("HEARTH_LOCK_WAIT"))
        );
        assert_eq!(
            s.password_from(),
            PasswordFrom::File {
                path: "/pw".into(),
                source: Source::Env("HEARTH_PASSWORD_FILE")
            }
        );
        // HEARTH_PASSWORD beats HEARTH_PASSWORD_FILE; an empty one counts as unset.
        let s = for_test(
            &no_flags(),
            &[("HEARTH_PASSWORD", "x"), ("HEARTH_PASSWORD_FILE", "/pw")],
            None,
        )
        .unwrap();
        assert_eq!(s.password_from(), PasswordFrom::Variable("HEARTH_PASSWORD"));
        let s = for_test(
            &no_flags(),
            &[("HEARTH_PASSWORD", ""), ("HEARTH_REPO", "")],
            Some(FILE),
        )
        .unwrap();
        assert!(matches!(s.password_from(), PasswordFrom::Command { .. }));
        assert_eq!(s.repo.source, Source::File(CONFIG.into()));
        let bad = for_test(&no_flags(), &[("HEARTH_LOCK_WAIT", "soon")], None);
        assert!(
            bad.err()
                .unwrap()
                .to_string()
                .starts_with("HEARTH_LOCK_WAIT:")
        );
    }

    #[test]
    fn a_flag_beats_the_variable() {
        let flags = Global {
            repo: Some("/flag-repo".into()),
            password_file: Some("/flag-pw".into()),
            cache_dir: Some("/flag-cache".into()),
            lock_wait: Some(Duration::ZERO),
            ..no_flags()
        };
        let vars = [
            ("HEARTH_REPO", "/env"),
            ("HEARTH_PASSWORD", "x"),
            ("HEARTH_LOCK_WAIT", "1h"),
        ];
        let s = for_test(&flags, &vars, Some(FILE)).unwrap();
        assert_eq!(s.repo, setting("/flag-repo".into(), Source::Flag("--repo")));
        assert_eq!(s.cache_dir.source, Source::Flag("--cache-dir"));
        assert_eq!(
            s.lock_wait,
            setting(Duration::ZERO, Source::Flag("--lock-wait"))
        );
        assert_eq!(
            s.password_from(),
            PasswordFrom::File {
                path: "/flag-pw".into(),
                source: Source::Flag("--password-file")
            }
        );
        assert_eq!(
            s.watch_settle(Some(Duration::from_secs(5))),
            setting(Duration::from_secs(5), Source::Flag("--settle"))
        );
        assert_eq!(
            s.notify_urls(&["https://n".into()]).source,
            Source::Flag("--notify")
        );
    }

    #[test]
    fn watch_and_notify_values_come_from_their_sections() {
        let text = "[watch]\nfolders = [\"~/MobileSync\", \"/mnt/b\"]\nsettle = \"2m\"\n\
            [notify]\nurls = [\"https://ntfy.example.org/t\"]\noverdue = \"3d\"\n";
        let s = for_test(
            &no_flags(),
            &[("HEARTH_IOS_PASSWORD_FILE", "/ios")],
            Some(text),
        )
        .unwrap();
        let folders = s.watch_folders(&[]);
        assert_eq!(
            folders.value,
            [
                PathBuf::from("/home/ann/MobileSync"),
                PathBuf::from("/mnt/b")
            ]
        );
        assert_eq!(s.watch_folders(&["/x".into()]).source, Source::Flag("PATH"));
        assert_eq!(s.watch_settle(None).value, Duration::from_secs(120));
        assert_eq!(s.watch_rescan(None).source, Source::Default);
        assert_eq!(s.notify_urls(&[]).value, ["https://ntfy.example.org/t"]);
        assert_eq!(s.notify_overdue(None).value, Duration::from_secs(3 * 86400));
        assert_eq!(
            s.ios_password_file(None).source,
            Source::Env("HEARTH_IOS_PASSWORD_FILE")
        );
        assert_eq!(
            s.ios_password_file(Some("/f".into())).source,
            Source::Flag("--ios-password-file")
        );
    }

    #[test]
    fn durations_print_as_the_file_takes_them() {
        assert_eq!(duration_text(Duration::from_secs(7 * 86400)), "7d");
        assert_eq!(duration_text(Duration::from_secs(1800)), "30m");
        assert_eq!(duration_text(Duration::from_secs(90)), "90s");
        assert_eq!(duration_text(Duration::ZERO), "0s");
    }
}
