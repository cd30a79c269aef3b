//! The config file (`config.toml`): its keys, read strictly. A key the file does not know, or a
//! value of the wrong kind, is an error naming the file, the line and the key, never ignored:
//! a typo would otherwise leave a scheduled backup without its repository.
//!
//! Paths may start with `~/` (the home folder); a relative path is taken from the config
//! file's folder, since a service has no meaningful working folder.

use crate::cli::{parse_span, parse_wait};
use anyhow::{Result, bail};
use hearth_repo::retention::Policy;
use serde::{Deserialize, Deserializer};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file as written: every key optional.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub repo: Option<String>,
    pub password_file: Option<String>,
    /// Run with `sh -c`; its stdout (less the final newline) is the repository password.
    pub password_command: Option<String>,
    pub ios_password_file: Option<String>,
    pub cache_dir: Option<String>,
    #[serde(default, deserialize_with = "wait")]
    pub lock_wait: Option<Duration>,
    #[serde(default)]
    pub watch: WatchSection,
    #[serde(default)]
    pub notify: NotifySection,
    pub retention: Option<RetentionSection>,
}

/// `[watch]`: what `hearth watch` follows and how.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WatchSection {
    pub folders: Option<Vec<String>>,
    #[serde(default, deserialize_with = "wait")]
    pub settle: Option<Duration>,
    #[serde(default, deserialize_with = "wait")]
    pub rescan: Option<Duration>,
    pub log: Option<String>,
}

/// `[notify]`: where failures and overdue devices are reported.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NotifySection {
    pub urls: Option<Vec<String>>,
    #[serde(default, deserialize_with = "span")]
    pub overdue: Option<Duration>,
}

/// `[retention]`: the `hearth forget --keep-*` flags, for a `forget` given none.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RetentionSection {
    #[serde(default)]
    pub keep_last: usize,
    #[serde(default)]
    pub keep_hourly: usize,
    #[serde(default)]
    pub keep_daily: usize,
    #[serde(default)]
    pub keep_weekly: usize,
    #[serde(default)]
    pub keep_monthly: usize,
    #[serde(default)]
    pub keep_yearly: usize,
    /// Microseconds, as `Policy::within`.
    #[serde(default, deserialize_with = "span_micros")]
    pub keep_within: Option<i64>,
}

impl RetentionSection {
    pub fn policy(&self) -> Policy {
        Policy {
            last: self.keep_last,
            hourly: self.keep_hourly,
            daily: self.keep_daily,
            weekly: self.keep_weekly,
            monthly: self.keep_monthly,
            yearly: self.keep_yearly,
            within: self.keep_within,
            tags: Vec::new(),
        }
    }
}

/// A wait as `--lock-wait` takes it (`90s`, `10m`, `1h`), or a number of seconds.
fn wait<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text = text_or_seconds(d)?;
    parse_wait(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// A span as `--keep-within` takes it (`12h`, `7d`, `2w`, `6m`, `1y`).
fn span<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let micros = span_micros(d)?.unwrap_or(0);
    Ok(Some(Duration::from_micros(micros.unsigned_abs())))
}

fn span_micros<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let text = String::deserialize(d)?;
    parse_span(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn text_or_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum TextOrSeconds {
        Text(String),
        Seconds(u64),
    }
    match TextOrSeconds::deserialize(d) {
        Ok(TextOrSeconds::Text(t)) => Ok(t),
        Ok(TextOrSeconds::Seconds(s)) => Ok(s.to_string()),
        Err(_) => Err(serde::de::Error::custom(
            "expected a duration such as \"90s\", \"10m\" or \"1h\"",
        )),
    }
}

impl ConfigFile {
    /// Parses `text`, the contents of `path`; errors name the file, line and column.
    pub fn parse(text: &str, path: &Path) -> Result<ConfigFile> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| line_and_column(text, s.start));
            let message = e.message().trim_end();
            match at {
                Some((line, column)) => anyhow::anyhow!(
                    "config file {}: line {line}, column {column}: {message}",
                    path.display()
                ),
                None => anyhow::anyhow!("config file {}: {message}", path.display()),
            }
        })?;
        if file.password_file.is_some() && file.password_command.is_some() {
            bail!(
                "config file {}: both password_file and password_command are set; keep one",
                path.display()
            );
        }
        Ok(file)
    }
}

/// 1-based line and column (in characters) of byte `offset`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

/// A path from the config file: `~` and `~/...` are under `home`; a relative path is under the
/// config file's folder `base`.
pub fn resolve_path(value: &str, base: &Path, home: Option<&Path>) -> PathBuf {
    let home_part = match value {
        "~" => Some(""),
        _ => value.strip_prefix("~/"),
    };
    match (home_part, home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => base.join(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ConfigFile> {
        ConfigFile::parse(text, Path::new("/etc/hearth.toml"))
    }

    #[test]
    fn every_key_of_the_documented_example_parses() {
        let file = parse(
            r#"
repo = "/backups/hearth"
password_command = "pass show hearth"
ios_password_file = "~/.config/hearth/ios-passwords"
cache_dir = "~/.cache/hearth"
lock_wait = "10m"

[watch]
folders = ["~/Library/Application Support/MobileSync/Backup"]
settle = "90s"
rescan = 600
log = "~/.local/state/hearth/watch.log"

[notify]
urls = ["https://ntfy.example.org/family-backups"]
overdue = "3d"

[retention]
keep_daily = 7
keep_weekly = 4
keep_within = "2w"
"#,
        )
        .unwrap();
        assert_eq!(file.repo.as_deref(), Some("/backups/hearth"));
        assert_eq!(file.lock_wait, Some(Duration::from_secs(600)));
        assert_eq!(file.watch.settle, Some(Duration::from_secs(90)));
        assert_eq!(file.watch.rescan, Some(Duration::from_secs(600)));
        assert_eq!(file.notify.overdue, Some(Duration::from_secs(3 * 86400)));
        let policy = file.retention.unwrap().policy();
        assert_eq!((policy.daily, policy.weekly, policy.last), (7, 4, 0));
        assert_eq!(policy.within, Some(14 * 86400 * 1_000_000));
    }

    #[test]
    fn an_empty_file_has_no_values() {
        assert_eq!(parse("").unwrap(), ConfigFile::default());
    }

    #[test]
    fn an_unknown_key_names_the_file_line_and_key() {
        let err = parse("repo = \"/r\"\n\n[watch]\nsettel = \"60s\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("config file /etc/hearth.toml: line 4, column 1:"),
            "{err}"
        );
        assert!(err.contains("unknown field `settel`"), "{err}");
        let top = parse("repository = \"/r\"\n").unwrap_err().to_string();
        assert!(
            top.contains("line 1") && top.contains("`repository`"),
            "{top}"
        );
    }

    #[test]
    fn bad_values_and_syntax_name_the_line() {
        let err = parse("repo = \"/r\"\nlock_wait = \"soon\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("not a duration"),
            "{err}"
        );
        let err = parse("[retention]\nkeep_daily = \"seven\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        let err = parse("repo = /r\n").unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
        let err = parse("[notify]\noverdue = \"7 days\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("not a span"),
            "{err}"
        );
    }

    #[test]
    fn a_password_file_and_a_password_command_together_are_refused() {
        let err = parse("password_file = \"p\"\npassword_command = \"echo x\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("both password_file and password_command"),
            "{err}"
        );
    }

    #[test]
    fn tilde_is_home_and_relative_paths_are_beside_the_file() {
        let base = Path::new("/etc/hearth");
        let home = Some(Path::new("/home/ann"));
        assert_eq!(
            resolve_path("~/b", base, home),
            PathBuf::from("/home/ann/b")
        );
        assert_eq!(resolve_path("~", base, home), PathBuf::from("/home/ann"));
        assert_eq!(resolve_path("/abs", base, home), PathBuf::from("/abs"));
        assert_eq!(
            resolve_path("rel/x", base, home),
            PathBuf::from("/etc/hearth/rel/x")
        );
        // `~user/` is not expanded: it is a relative name like any other.
        assert_eq!(
            resolve_path("~bob/x", base, home),
            PathBuf::from("/etc/hearth/~bob/x")
        );
    }
}
