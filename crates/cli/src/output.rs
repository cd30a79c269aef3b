//! Shared formatting: byte sizes, times, JSON shapes of the contract, and the escaping of
//! terminal control characters in text output.

use hearth_format::{DeviceIdentity, Snapshot, SnapshotId};
use serde_json::{Value, json};
use std::borrow::Cow;
use std::fmt::Write as _;

/// A name or path as text output shows it: every character that could drive a terminal is
/// escaped (`\x1b`, `\n`, `\u{9b}`, `\u{202e}`), so a device name or a file path from a backup
/// can neither move the cursor, retitle the window, clear the screen, nor fake a line. Text
/// output prints every name and path through this (or [`esc_text`]); JSON output never does:
/// serde escapes control characters itself, and the values must stay exact.
pub fn esc(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// A whole message (an error, a warning) that may name devices and paths: as [`esc`], but its
/// own line breaks stay.
pub fn esc_text(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

fn escape(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    let hostile = |c: char| is_terminal_control(c) && !(keep_newlines && c == '\n');
    if !s.chars().any(hostile) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            c if !hostile(c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii() => write!(out, "\\x{:02x}", u32::from(c)).expect("to a String"),
            c => write!(out, "\\u{{{:x}}}", u32::from(c)).expect("to a String"),
        }
    }
    Cow::Owned(out)
}

/// C0 and C1 control characters and DEL, and the Unicode marks that reorder how a line is
/// shown (bidirectional embeddings, overrides and isolates).
fn is_terminal_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// An error and its causes joined by ": ", each cause left out when the text before it already
/// ends with it, or with all of it after its subject ("PATH: what is wrong"): library errors
/// often quote their source in their own message.
pub fn error_text(e: &anyhow::Error) -> String {
    chain_text(e.chain())
}

/// A library error and its causes, as [`error_text`] joins them.
pub fn source_text(e: &(dyn std::error::Error + 'static)) -> String {
    chain_text(std::iter::successors(Some(e), |e| e.source()))
}

fn chain_text<'a>(chain: impl Iterator<Item = &'a (dyn std::error::Error + 'static)>) -> String {
    let mut text = String::new();
    for cause in chain {
        let said = cause.to_string();
        let predicate = said.split_once(": ").map_or(said.as_str(), |(_, p)| p);
        if text.ends_with(&said) || text.ends_with(predicate) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&said);
    }
    text
}

pub use hearth_repo::human::bytes;

/// RFC 3339 UTC from Unix microseconds.
pub fn time(micros: i64) -> String {
    hearth_repo::local_time::rfc3339(micros)
}

/// "Name (UDID, model iOS version)", leaving out what the backup did not say.
pub fn device_line(d: &DeviceIdentity) -> String {
    let ios = (!d.ios_version.is_empty()).then(|| format!("iOS {}", d.ios_version));
    let model = [Some(d.product_type.clone()).filter(|m| !m.is_empty()), ios]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let about = [d.udid.as_str(), model.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    if d.name.is_empty() {
        esc(&about).into_owned()
    } else {
        format!("{} ({})", esc(&d.name), esc(&about))
    }
}

pub fn device_json(d: &DeviceIdentity) -> Value {
    json!({ "udid": d.udid, "name": d.name, "product_type": d.product_type, "ios_version": d.ios_version, "build": d.build })
}

pub fn snapshot_json(id: &SnapshotId, s: &Snapshot) -> Value {
    json!({
        "id": id.to_hex(),
        "time": time(s.time),
        "stored_at": time(s.stored_at),
        "device": device_json(&s.device),
        "tags": s.tags,
        "parent": s.parent.map(|p| p.to_hex()),
        "summary": {
            "files": s.summary.files, "bytes": s.summary.bytes,
            "files_new": s.summary.files_new, "files_changed": s.summary.files_changed,
            "files_unmodified": s.summary.files_unmodified, "bytes_read": s.summary.bytes_read,
            "bytes_added": s.summary.bytes_added,
        },
        "warnings": s.warnings.len(),
    })
}

pub fn print_json(v: &Value) {
    let text = serde_json::to_string_pretty(v).expect("JSON values serialize");
    println!("{}", json_escape_controls(&text));
}

/// Prints `{"<field>": [items...]}` exactly as [`print_json`] prints that document, one item at
/// a time, so that a list of any length is never held. An item that fails stops the printing
/// (a caller that must not print half a document checks its items first).
pub fn print_json_list(
    field: &str,
    items: impl Iterator<Item = anyhow::Result<Value>>,
) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let key = serde_json::to_string(field)?;
    let mut first = true;
    for item in items {
        let text = serde_json::to_string_pretty(&item?)?;
        match first {
            true => write!(out, "{{\n  {key}: [\n")?,
            false => out.write_all(b",\n")?,
        }
        first = false;
        // JSON strings hold no raw newline: each line of the text is one of its structure.
        for (i, line) in json_escape_controls(&text).lines().enumerate() {
            if i > 0 {
                out.write_all(b"\n")?;
            }
            write!(out, "    {line}")?;
        }
    }
    match first {
        true => writeln!(out, "{{\n  {key}: []\n}}")?,
        false => writeln!(out, "\n  ]\n}}")?,
    }
    out.flush()?;
    Ok(())
}

/// Prints the object `head` with `field: [items...]` added as its last member, one item at a
/// time (as [`print_json_list`], whose caveat about failing items holds here too).
pub fn print_json_with_list(
    head: &Value,
    field: &str,
    items: impl Iterator<Item = anyhow::Result<Value>>,
) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    write_json_with_list(&mut out, head, field, items)?;
    Ok(std::io::Write::flush(&mut out)?)
}

fn write_json_with_list(
    out: &mut dyn std::io::Write,
    head: &Value,
    field: &str,
    items: impl Iterator<Item = anyhow::Result<Value>>,
) -> anyhow::Result<()> {
    let head = json_escape_controls(&serde_json::to_string_pretty(head)?).into_owned();
    // A pretty object is `{` and its members, then `\n}` (`{}` when it has none).
    let members = head
        .strip_prefix('{')
        .and_then(|h| h.strip_suffix('}'))
        .ok_or_else(|| anyhow::anyhow!("the head of a JSON document must be an object"))?
        .trim_end();
    out.write_all(b"{")?;
    if !members.is_empty() {
        write!(out, "{members},")?;
    }
    write!(out, "\n  {}: [", serde_json::to_string(field)?)?;
    match write_items(out, items, b"\n", "    ")? {
        false => writeln!(out, "]\n}}")?,
        true => writeln!(out, "\n  ]\n}}")?,
    }
    Ok(())
}

/// Prints a JSON array of `items` exactly as [`print_json`] prints that array, one item at a
/// time, so that a list of any length is never held as one document (the caveat of
/// [`print_json_list`] about failing items holds here too).
pub fn print_json_array(items: impl Iterator<Item = anyhow::Result<Value>>) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    write_json_array(&mut out, items)?;
    Ok(std::io::Write::flush(&mut out)?)
}

fn write_json_array(
    out: &mut dyn std::io::Write,
    items: impl Iterator<Item = anyhow::Result<Value>>,
) -> anyhow::Result<()> {
    match write_items(out, items, b"[\n", "  ")? {
        false => writeln!(out, "[]")?,
        true => writeln!(out, "\n]")?,
    }
    Ok(())
}

/// Writes each item as pretty JSON indented by `indent`, `open` before the first and `,\n`
/// between them; false when there was none.
fn write_items(
    out: &mut dyn std::io::Write,
    items: impl Iterator<Item = anyhow::Result<Value>>,
    open: &[u8],
    indent: &str,
) -> anyhow::Result<bool> {
    let mut first = true;
    for item in items {
        let text = serde_json::to_string_pretty(&item?)?;
        out.write_all(if first { open } else { b",\n" })?;
        first = false;
        for (i, line) in json_escape_controls(&text).lines().enumerate() {
            if i > 0 {
                out.write_all(b"\n")?;
            }
            write!(out, "{indent}{line}")?;
        }
    }
    Ok(!first)
}

/// serde escapes C0 controls in strings but writes DEL, C1 controls and bidirectional marks as
/// they are. Outside strings JSON text is ASCII, so each of those is inside a string, where
/// `\uXXXX` stands for the same character: the values stay exact, the terminal stays safe.
fn json_escape_controls(json: &str) -> Cow<'_, str> {
    if !json.chars().any(|c| c != '\n' && is_terminal_control(c)) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if c != '\n' && is_terminal_control(c) {
            // All of them are in the Basic Multilingual Plane: one \u escape each.
            write!(out, "\\u{:04x}", u32::from(c)).expect("to a String");
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats() {
        assert_eq!(super::time(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::time(1_700_000_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(super::bytes(1536), "1.5 KiB");
    }

    #[test]
    fn control_characters_are_escaped_and_the_rest_is_left_alone() {
        use super::{esc, esc_text};
        assert!(matches!(
            esc("Mum's iPhone ✓"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(esc("\x1b]0;pwned\x07"), "\\x1b]0;pwned\\x07");
        assert_eq!(esc("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(esc("line\nfake\r\t\x7f"), "line\\nfake\\r\\t\\x7f");
        assert_eq!(esc("\u{9b}31m"), "\\u{9b}31m", "the 8-bit CSI");
        assert_eq!(esc("abc\u{202e}fdp.exe"), "abc\\u{202e}fdp.exe");
        assert_eq!(esc_text("one\ntwo\x1b[2J"), "one\ntwo\\x1b[2J");
    }

    #[test]
    fn an_object_with_a_list_printed_item_by_item_is_one_json_document() {
        let write = |head: serde_json::Value, items: Vec<serde_json::Value>| {
            let mut out = Vec::new();
            let items = items.into_iter().map(Ok);
            super::write_json_with_list(&mut out, &head, "changes", items).unwrap();
            let text = String::from_utf8(out).unwrap();
            let v: serde_json::Value = serde_json::from_str(&text).expect(&text);
            (v, text)
        };
        let (v, text) = write(
            serde_json::json!({"a": "x\x1b", "n": {"m": 1}}),
            vec![
                serde_json::json!({"p": 1}),
                serde_json::json!({"p": "\u{9b}"}),
            ],
        );
        assert_eq!(
            v,
            serde_json::json!({"a": "x\x1b", "n": {"m": 1}, "changes": [{"p": 1}, {"p": "\u{9b}"}]})
        );
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text}");
        let (v, _) = write(serde_json::json!({}), vec![]);
        assert_eq!(v, serde_json::json!({"changes": []}));
        let (v, _) = write(serde_json::json!({"a": 1}), vec![]);
        assert_eq!(v, serde_json::json!({"a": 1, "changes": []}));
    }

    #[test]
    fn an_array_printed_item_by_item_is_the_array_print_json_prints() {
        for items in [
            vec![],
            vec![
                serde_json::json!({"a": [1, {"b": "\u{9b}"}]}),
                serde_json::json!("x"),
            ],
        ] {
            let mut out = Vec::new();
            super::write_json_array(&mut out, items.clone().into_iter().map(Ok)).unwrap();
            let text = String::from_utf8(out).unwrap();
            let whole = serde_json::to_string_pretty(&serde_json::json!(items)).unwrap();
            assert_eq!(text, format!("{}\n", super::json_escape_controls(&whole)));
        }
    }

    #[test]
    fn json_text_escapes_the_controls_serde_leaves_and_keeps_the_values() {
        let v = serde_json::json!({ "name": "a\x1b[2J\x7f\u{9b}\u{202e}z", "n": [1, 2] });
        let text = serde_json::to_string_pretty(&v).unwrap();
        let safe = super::json_escape_controls(&text);
        assert!(!safe.chars().any(|c| c.is_control() && c != '\n'), "{safe}");
        assert!(safe.contains(r"a\u001b[2J\u007f\u009b\u202ez"), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, v);
    }
}
