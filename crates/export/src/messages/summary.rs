//! `message.message_summary_info` (iOS 16 and later): a binary plist about a message's edits
//! and unsent parts, as public forensic write-ups describe it.
//!
//! ```text
//! { "ec": { "<part index>": [ { "d": <date>, "t": <attributedBody typedstream> }, ... ] },
//!   "rp": [ <part index>, ... ],            parts unsent (retracted)
//!   "ep": [ <part index>, ... ], ... }      parts edited
//! ```
//!
//! Each `ec` list holds the versions of one part, oldest first, the last being the text the
//! message shows now.

use super::typedstream::attributed_string_text;
use crate::conversation::Edit;
use crate::time::{from_apple_seconds, from_apple_sms};
use plist::Value;
use std::io::Cursor;

/// What a message's summary says about it.
#[derive(Debug, Default, PartialEq)]
pub struct Summary {
    /// Every version of the message's text, oldest first (parts joined).
    pub versions: Vec<Edit>,
    /// Some part was unsent.
    pub retracted: bool,
}

/// Reads a summary; `Err` names what is wrong with it.
pub fn read(blob: &[u8]) -> Result<Summary, String> {
    let value = Value::from_reader(Cursor::new(blob)).map_err(|e| format!("not a plist: {e}"))?;
    let dict = value
        .as_dictionary()
        .ok_or("a plist that is not a dictionary")?;
    let retracted = dict
        .get("rp")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let mut versions = Vec::new();
    if let Some(ec) = dict.get("ec").and_then(Value::as_dictionary) {
        let mut parts: Vec<(u64, &Value)> = ec
            .iter()
            .map(|(k, v)| (k.parse().unwrap_or(u64::MAX), v))
            .collect();
        parts.sort_by_key(|(k, _)| *k);
        for (_, list) in parts {
            for entry in list.as_array().map(Vec::as_slice).unwrap_or_default() {
                let Some(e) = entry.as_dictionary() else {
                    continue;
                };
                let time = match e.get("d") {
                    Some(Value::Integer(i)) => i.as_signed().and_then(from_apple_sms),
                    Some(Value::Real(r)) => from_apple_seconds(*r),
                    Some(Value::Date(d)) => {
                        let st: std::time::SystemTime = (*d).into();
                        jiff::Timestamp::try_from(st).ok()
                    }
                    _ => None,
                };
                let text = match e.get("t") {
                    Some(Value::Data(t)) => {
                        attributed_string_text(t).map_err(|err| format!("an edit's text: {err}"))?
                    }
                    Some(Value::String(s)) => s.clone(),
                    _ => continue,
                };
                versions.push(Edit {
                    time,
                    text: text.replace('\u{fffc}', "").trim().to_string(),
                });
            }
        }
    }
    Ok(Summary {
        versions,
        retracted,
    })
}
