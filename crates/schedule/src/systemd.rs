//! systemd user units: `hearth-watch.service` (kept running), or `hearth-backup.service` (a
//! oneshot) started by `hearth-backup.timer`.

use crate::{Job, MARKER};
use std::time::Duration;

pub const WATCH: &str = "hearth-watch.service";
pub const BACKUP: &str = "hearth-backup.service";
pub const TIMER: &str = "hearth-backup.timer";

/// The unit to enable for `job` (the timer starts the backup service).
pub fn enabled_unit(job: Job) -> &'static str {
    match job {
        Job::Watch => WATCH,
        Job::Every(_) => TIMER,
    }
}

/// The units for `job`, as (file name, text).
pub fn units(program: &str, config: &str, job: Job, forget: bool) -> Vec<(&'static str, String)> {
    let hearth = |args: &str| format!("{} --config {} {args}", quote(program), quote(config));
    match job {
        Job::Watch => vec![(
            WATCH,
            format!(
                "# {MARKER}\n\
                 [Unit]\n\
                 Description=Hearth: back up iPhones and iPads when their backups finish\n\
                 \n\
                 [Service]\n\
                 Type=simple\n\
                 ExecStart={}\n\
                 Restart=on-failure\n\
                 RestartSec=30s\n\
                 Nice=10\n\
                 \n\
                 [Install]\n\
                 WantedBy=default.target\n",
                hearth("watch")
            ),
        )],
        Job::Every(every) => {
            // Exit status 3 (done with warnings) still lets forget run.
            let forget = match forget {
                true => format!("ExecStart={}\n", hearth("forget --prune")),
                false => String::new(),
            };
            let service = format!(
                "# {MARKER}\n\
                 [Unit]\n\
                 Description=Hearth: back up iPhones and iPads (started by {TIMER})\n\
                 \n\
                 [Service]\n\
                 Type=oneshot\n\
                 ExecStart={}\n\
                 {forget}\
                 SuccessExitStatus=3\n\
                 Nice=10\n",
                hearth("backup")
            );
            let span = span(every);
            let timer = format!(
                "# {MARKER}\n\
                 [Unit]\n\
                 Description=Hearth: back up iPhones and iPads every {span}\n\
                 \n\
                 [Timer]\n\
                 OnBootSec=5min\n\
                 OnUnitActiveSec={span}\n\
                 Persistent=true\n\
                 Unit={BACKUP}\n\
                 \n\
                 [Install]\n\
                 WantedBy=timers.target\n"
            );
            vec![(BACKUP, service), (TIMER, timer)]
        }
    }
}

/// An interval in systemd's time-span syntax (`6h`, `90min`, `45s`; `m` would be read as
/// minutes but `M` as months, so minutes are spelt out).
fn span(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s % 86400 == 0 => format!("{}d", s / 86400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}min", s / 60),
        s => format!("{s}s"),
    }
}

/// A systemd time span back as a duration (what [`span`] writes).
pub fn parse_span(text: &str) -> Option<Duration> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n: u64 = t[..digits].parse().ok()?;
    let unit = match &t[digits..] {
        "" | "s" => 1,
        "min" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return None,
    };
    Some(Duration::from_secs(n * unit))
}

/// One `ExecStart=` word: quoted when it holds a space, a quote or a backslash; `%` and `$`
/// doubled, as systemd would otherwise expand them.
fn quote(word: &str) -> String {
    let escaped = word.replace('%', "%%").replace('$', "$$");
    if !escaped.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\' || c == '\'') {
        return escaped;
    }
    format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The value of `key=` in a unit's text.
pub fn value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watch_service_runs_hearth_watch_with_the_config_file_only() {
        let units = units(
            "/usr/bin/hearth",
            "/home/ann/.config/hearth/config.toml",
            Job::Watch,
            false,
        );
        assert_eq!(units.len(), 1);
        let (name, text) = &units[0];
        assert_eq!(*name, WATCH);
        assert!(text.starts_with(&format!("# {MARKER}\n")));
        assert_eq!(
            value(text, "ExecStart"),
            Some("/usr/bin/hearth --config /home/ann/.config/hearth/config.toml watch")
        );
        assert_eq!(value(text, "Restart"), Some("on-failure"));
        assert_eq!(value(text, "WantedBy"), Some("default.target"));
        assert!(!text.contains("Environment"), "{text}");
    }

    #[test]
    fn the_timer_starts_a_oneshot_backup_then_forget() {
        let every = units(
            "/bin/hearth",
            "/c.toml",
            Job::Every(Duration::from_secs(6 * 3600)),
            true,
        );
        let (_, service) = &every[0];
        let (_, timer) = &every[1];
        assert_eq!(value(service, "Type"), Some("oneshot"));
        let execs: Vec<_> = service
            .lines()
            .filter(|l| l.starts_with("ExecStart="))
            .collect();
        assert_eq!(
            execs,
            [
                "ExecStart=/bin/hearth --config /c.toml backup",
                "ExecStart=/bin/hearth --config /c.toml forget --prune"
            ]
        );
        assert_eq!(value(service, "SuccessExitStatus"), Some("3"));
        assert_eq!(value(timer, "OnUnitActiveSec"), Some("6h"));
        assert_eq!(value(timer, "OnBootSec"), Some("5min"));
        assert_eq!(value(timer, "Persistent"), Some("true"));
        assert_eq!(parse_span("6h"), Some(Duration::from_secs(6 * 3600)));
        assert_eq!(parse_span("90min"), Some(Duration::from_secs(5400)));
        assert_eq!(span(Duration::from_secs(5400)), "90min");
        let no_forget = units(
            "/bin/hearth",
            "/c.toml",
            Job::Every(Duration::from_secs(60)),
            false,
        );
        assert!(!no_forget[0].1.contains("forget"));
    }

    #[test]
    fn odd_paths_are_quoted_and_escaped() {
        assert_eq!(quote("/opt/hearth"), "/opt/hearth");
        assert_eq!(
            quote("/Volumes/My Disk/hearth"),
            "\"/Volumes/My Disk/hearth\""
        );
        assert_eq!(quote("/a\"b\\c"), "\"/a\\\"b\\\\c\"");
        assert_eq!(quote("/100%/$HOME"), "/100%%/$$HOME");
    }
}
