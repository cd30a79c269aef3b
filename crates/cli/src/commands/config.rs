//! `config`: each effective setting, where it came from, and the config file used. Passwords
//! are never shown, only whether one is set and where it would be read from.

use crate::Outcome;
use crate::context::Context;
use crate::output::{esc, print_json};
use crate::settings::{PasswordFrom, Setting, Settings, Source, duration_text};
use anyhow::Result;
use serde_json::{Value, json};
use std::path::PathBuf;

/// One line of the listing.
struct Entry {
    key: &'static str,
    value: Value,
    source: String,
}

pub fn show(ctx: &Context) -> Result<Outcome> {
    let s = &ctx.settings;
    let entries = entries(s);
    if ctx.global.json {
        let values: Vec<Value> = (entries.iter())
            .map(|e| json!({"key": e.key, "value": e.value, "source": e.source}))
            .collect();
        print_json(&json!({
            "file": {"path": s.config.path, "exists": s.config.exists},
            "values": values,
        }));
        return Ok(Outcome::Success);
    }
    let state = match s.config.exists {
        true => "exists",
        false => "does not exist: every value is from a flag, a variable or a default",
    };
    println!(
        "config file: {} ({state}; {})",
        esc(&s.config.path.to_string_lossy()),
        match &s.config.named_by {
            Source::Default => "the default place".to_owned(),
            other => format!("named by {other}"),
        }
    );
    let width = entries.iter().map(|e| e.key.len()).max().unwrap_or(0);
    for e in &entries {
        println!(
            "{:width$}  {}  ({})",
            e.key,
            esc(&value_text(&e.value)),
            esc(&e.source)
        );
    }
    Ok(Outcome::Success)
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "(none)".to_owned(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "(none)".to_owned(),
        Value::Array(items) => (items.iter().map(value_text))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(fields) => (fields.iter())
            .map(|(k, v)| format!("{k} {}", value_text(v)))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

fn entries(s: &Settings) -> Vec<Entry> {
    let path = |p: &Option<PathBuf>| p.as_ref().map_or(Value::Null, |p| json!(p));
    let mut list = vec![
        entry(
            "repo",
            json!(s.repo.value.to_string_lossy()),
            &s.repo.source,
        ),
        password_entry(s),
        entry(
            "cache_dir",
            json!(
                s.cache_dir
                    .value
                    .clone()
                    .unwrap_or_else(hearth_repo::default_cache_root)
            ),
            &s.cache_dir.source,
        ),
        entry(
            "lock_wait",
            json!(duration_text(s.lock_wait.value)),
            &s.lock_wait.source,
        ),
    ];
    let ios = s.ios_password_file(None);
    list.push(entry("ios_password_file", path(&ios.value), &ios.source));
    let folders = s.watch_folders(&[]);
    list.push(entry(
        "watch.folders",
        json!(folders.value),
        &folders.source,
    ));
    list.push(duration_entry("watch.settle", s.watch_settle(None)));
    list.push(duration_entry("watch.rescan", s.watch_rescan(None)));
    let log = s.watch_log(None);
    list.push(entry("watch.log", json!(log.value), &log.source));
    let urls = s.notify_urls(&[]);
    list.push(entry("notify.urls", json!(urls.value), &urls.source));
    list.push(duration_entry("notify.overdue", s.notify_overdue(None)));
    list.push(match s.retention() {
        Some(r) => {
            let p = &r.value;
            let counts = [
                ("keep_last", p.last),
                ("keep_hourly", p.hourly),
                ("keep_daily", p.daily),
                ("keep_weekly", p.weekly),
                ("keep_monthly", p.monthly),
                ("keep_yearly", p.yearly),
            ];
            let mut policy = serde_json::Map::new();
            for (k, n) in counts.into_iter().filter(|(_, n)| *n > 0) {
                policy.insert(k.into(), json!(n));
            }
            if let Some(w) = p.within {
                let hours = w / 3_600_000_000;
                let span = match hours % 24 {
                    0 => format!("{}d", hours / 24),
                    _ => format!("{hours}h"),
                };
                policy.insert("keep_within".into(), json!(span));
            }
            entry("retention", Value::Object(policy), &r.source)
        }
        None => Entry {
            key: "retention",
            value: Value::Null,
            source: "default (none: forget needs --keep-* flags)".into(),
        },
    });
    list
}

fn entry(key: &'static str, value: Value, source: &Source) -> Entry {
    Entry {
        key,
        value,
        source: source.to_string(),
    }
}

fn duration_entry(key: &'static str, s: Setting<std::time::Duration>) -> Entry {
    entry(key, json!(duration_text(s.value)), &s.source)
}

/// Only where the password comes from, never the password (nor a command, which may hold one).
fn password_entry(s: &Settings) -> Entry {
    let (value, source) = match s.password_from() {
        PasswordFrom::File { path, source } => (
            format!("set, from the file {}", path.display()),
            source.to_string(),
        ),
        PasswordFrom::Variable(name) => ("set".to_owned(), name.to_owned()),
        PasswordFrom::Command { source, .. } => (
            "set, printed by password_command".to_owned(),
            source.to_string(),
        ),
        PasswordFrom::Prompt => (
            "not set: asked for on a terminal".to_owned(),
            Source::Default.to_string(),
        ),
    };
    Entry {
        key: "password",
        value: json!(value),
        source,
    }
}
