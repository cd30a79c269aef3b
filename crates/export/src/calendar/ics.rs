//! An iCalendar (RFC 5545) writer: content lines ended by CRLF and folded at 75 octets
//! (§3.1, never inside a UTF-8 character), TEXT values escaped (§3.3.11), parameter values
//! quoted where they must be (§3.2), dates and UTC date-times (§3.3.4, §3.3.5).

use crate::content_line::{escape_text, fold, strip_controls};
use jiff::Timestamp;
use jiff::civil::Date;

/// An iCalendar object being written.
#[derive(Debug, Default)]
pub struct Ics {
    out: String,
}

impl Ics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn into_string(self) -> String {
        self.out
    }

    pub fn begin(&mut self, component: &str) {
        self.line(&format!("BEGIN:{component}"));
    }

    pub fn end(&mut self, component: &str) {
        self.line(&format!("END:{component}"));
    }

    /// `NAME;PARAM=VALUE...:VALUE`, with `value` written as is (already in its type's form).
    pub fn raw(&mut self, name: &str, params: &[(&str, &str)], value: &str) {
        let mut line = name.to_string();
        for (p, v) in params {
            line.push(';');
            line.push_str(p);
            line.push('=');
            line.push_str(&param_value(v));
        }
        line.push(':');
        line.push_str(&strip_controls(value));
        self.line(&line);
    }

    /// A TEXT property, escaped.
    pub fn text(&mut self, name: &str, params: &[(&str, &str)], value: &str) {
        self.raw(name, params, &escape_text(value));
    }

    /// A content line, folded.
    fn line(&mut self, line: &str) {
        fold(line, &mut self.out);
    }
}

/// A parameter value (§3.2): quoted when it holds `:`, `;` or `,`; a DQUOTE cannot be written
/// in one and is dropped, as are control characters.
fn param_value(value: &str) -> String {
    let clean: String = strip_controls(value)
        .chars()
        .filter(|&c| c != '"')
        .collect();
    match clean.contains([':', ';', ',']) {
        true => format!("\"{clean}\""),
        false => clean,
    }
}

/// `20240601T170000Z`.
pub fn utc(t: Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// A floating date-time (no zone: the same wall-clock time wherever the reader is):
/// `20240601T170000`, from the UTC fields of `t`.
pub fn floating(t: Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%S").to_string()
}

/// `20240601`.
pub fn date(d: Date) -> String {
    d.strftime("%Y%m%d").to_string()
}

/// A DURATION (§3.3.6) of `secs` seconds: `-PT15M`, `P1D`, `PT0S`.
pub fn duration(secs: i64) -> String {
    let sign = if secs < 0 { "-" } else { "" };
    let mut s = secs.unsigned_abs();
    if s == 0 {
        return "PT0S".into();
    }
    let mut out = format!("{sign}P");
    let (days, rest) = (s / 86_400, s % 86_400);
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    s = rest;
    if s > 0 {
        out.push('T');
        let (h, m, sec) = (s / 3600, s % 3600 / 60, s % 60);
        if h > 0 {
            out.push_str(&format!("{h}H"));
        }
        if m > 0 {
            out.push_str(&format!("{m}M"));
        }
        if sec > 0 {
            out.push_str(&format!("{sec}S"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parameters_are_quoted_where_needed() {
        let mut ics = Ics::new();
        ics.raw(
            "ATTENDEE",
            &[("CN", "Doe, \"Jane\""), ("PARTSTAT", "ACCEPTED")],
            "mailto:j@example.com",
        );
        assert_eq!(
            ics.into_string(),
            "ATTENDEE;CN=\"Doe, Jane\";PARTSTAT=ACCEPTED:mailto:j@example.com\r\n"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(duration(-900), "-PT15M");
        assert_eq!(duration(0), "PT0S");
        assert_eq!(duration(86_400), "P1D");
        assert_eq!(duration(-(2 * 86_400 + 3600 + 1)), "-P2DT1H1S");
    }

    proptest! {
        #[test]
        fn folding_round_trips_any_text(text in "\\PC{0,300}") {
            let mut ics = Ics::new();
            ics.text("DESCRIPTION", &[], &text);
            let out = ics.into_string();
            for l in out.split("\r\n") {
                prop_assert!(l.len() <= 75);
            }
            let unfolded = out.replace("\r\n ", "");
            prop_assert_eq!(unfolded, format!("DESCRIPTION:{}\r\n", strip_controls(&escape_text(&text))));
        }
    }
}
