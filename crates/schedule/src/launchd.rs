//! launchd user agents: `org.hearth.watch` (kept alive) or `org.hearth.backup` (every
//! `StartInterval` seconds).

use crate::{Job, MARKER};
use plist::{Dictionary, Value};
use std::time::Duration;

pub const WATCH_LABEL: &str = "org.hearth.watch";
pub const BACKUP_LABEL: &str = "org.hearth.backup";
pub const WATCH_FILE: &str = "org.hearth.watch.plist";
pub const BACKUP_FILE: &str = "org.hearth.backup.plist";

pub fn label(job: Job) -> &'static str {
    match job {
        Job::Watch => WATCH_LABEL,
        Job::Every(_) => BACKUP_LABEL,
    }
}

/// After a backup that succeeded (0) or ended with warnings (3), forget by the config file's
/// retention; `$0` is the hearth binary and `$1` the config file, so nothing is quoted.
const BACKUP_THEN_FORGET: &str = "\"$0\" --config \"$1\" backup; s=$?; \
    if [ $s -eq 0 ] || [ $s -eq 3 ]; then exec \"$0\" --config \"$1\" forget --prune; fi; exit $s";

/// The agent for `job`: (file name, XML text).
pub fn agent(
    program: &str,
    config: &str,
    job: Job,
    forget: bool,
    log: &str,
) -> Result<(&'static str, String), String> {
    let strings = |items: &[&str]| Value::Array(items.iter().map(|s| Value::from(*s)).collect());
    let mut d = Dictionary::new();
    d.insert("Label".into(), label(job).into());
    let file = match job {
        Job::Watch => {
            d.insert(
                "ProgramArguments".into(),
                strings(&[program, "--config", config, "watch"]),
            );
            // Started again when it stops with a failure, as systemd's Restart=on-failure.
            let mut keep_alive = Dictionary::new();
            keep_alive.insert("SuccessfulExit".into(), false.into());
            d.insert("KeepAlive".into(), keep_alive.into());
            d.insert("ThrottleInterval".into(), 30.into());
            WATCH_FILE
        }
        Job::Every(every) => {
            let args: Vec<&str> = match forget {
                true => vec!["/bin/sh", "-c", BACKUP_THEN_FORGET, program, config],
                false => vec![program, "--config", config, "backup"],
            };
            d.insert("ProgramArguments".into(), strings(&args));
            d.insert("StartInterval".into(), every.as_secs().into());
            BACKUP_FILE
        }
    };
    d.insert("RunAtLoad".into(), true.into());
    d.insert("ProcessType".into(), "Background".into());
    d.insert("StandardOutPath".into(), log.into());
    d.insert("StandardErrorPath".into(), log.into());
    let mut xml = Vec::new();
    Value::Dictionary(d)
        .to_writer_xml(&mut xml)
        .map_err(|e| e.to_string())?;
    let xml = String::from_utf8(xml).map_err(|e| e.to_string())?;
    Ok((file, with_marker(&xml)))
}

/// The XML with the marker as a comment after its DOCTYPE line.
fn with_marker(xml: &str) -> String {
    let comment = format!("<!-- {MARKER} -->\n");
    match xml.find("<plist") {
        Some(at) => format!("{}{comment}{}\n", &xml[..at], &xml[at..]),
        None => format!("{comment}{xml}\n"),
    }
}

/// The job an agent file describes (None: not one of ours, or unreadable).
pub fn job_of(bytes: &[u8]) -> Option<Job> {
    let v = Value::from_reader_xml(bytes).ok()?;
    let d = v.as_dictionary()?;
    match d.get("Label")?.as_string()? {
        WATCH_LABEL => Some(Job::Watch),
        BACKUP_LABEL => {
            let secs = d.get("StartInterval")?.as_unsigned_integer()?;
            Some(Job::Every(Duration::from_secs(secs)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Dictionary {
        Value::from_reader_xml(text.as_bytes())
            .unwrap()
            .into_dictionary()
            .unwrap()
    }

    #[test]
    fn the_watch_agent_is_kept_alive_and_logs() {
        let (file, text) = agent(
            "/usr/local/bin/hearth",
            "/Users/ann/.config/hearth/config.toml",
            Job::Watch,
            false,
            "/Users/ann/Library/Logs/hearth/hearth.log",
        )
        .unwrap();
        assert_eq!(file, WATCH_FILE);
        assert!(text.contains(&format!("<!-- {MARKER} -->")), "{text}");
        let d = parse(&text);
        assert_eq!(d["Label"].as_string(), Some(WATCH_LABEL));
        let args: Vec<_> = d["ProgramArguments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_string().unwrap())
            .collect();
        assert_eq!(
            args,
            [
                "/usr/local/bin/hearth",
                "--config",
                "/Users/ann/.config/hearth/config.toml",
                "watch"
            ]
        );
        assert_eq!(d["RunAtLoad"].as_boolean(), Some(true));
        assert!(d["KeepAlive"].as_dictionary().is_some());
        assert_eq!(
            d["StandardErrorPath"].as_string(),
            Some("/Users/ann/Library/Logs/hearth/hearth.log")
        );
        assert_eq!(job_of(text.as_bytes()), Some(Job::Watch));
    }

    #[test]
    fn the_backup_agent_runs_at_an_interval() {
        let every = Duration::from_secs(6 * 3600);
        let (file, text) = agent("/h", "/c", Job::Every(every), true, "/l").unwrap();
        assert_eq!(file, BACKUP_FILE);
        let d = parse(&text);
        assert_eq!(d["StartInterval"].as_unsigned_integer(), Some(21600));
        assert!(d.get("KeepAlive").is_none());
        let args = d["ProgramArguments"].as_array().unwrap();
        assert_eq!(args[0].as_string(), Some("/bin/sh"));
        assert_eq!(args[3].as_string(), Some("/h"));
        assert_eq!(job_of(text.as_bytes()), Some(Job::Every(every)));
    }
}
