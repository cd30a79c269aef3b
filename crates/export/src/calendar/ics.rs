//! An iCalendar (RFC 5545) writer: content lines ended by CRLF and folded at 75 octets
//! (§3.1, never inside a UTF-8 character), TEXT values escaped (§3.3.11), parameter values
//! quoted where they must be (§3.2), dates and UTC date-times (§3.3.4, §3.3.5).

use jiff::Timestamp;
use jiff::civil::Date;

/// Longest content line, in octets, before the CRLF (§3.1).
const LINE_OCTETS: usize = 75;

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
        let mut room = LINE_OCTETS;
        let mut used = 0;
        for c in line.chars() {
            if used + c.len_utf8() > room {
                self.out.push_str("\r\n ");
                // The leading space of a continuation line counts.
                room = LINE_OCTETS - 1;
                used = 0;
            }
            self.out.push(c);
            used += c.len_utf8();
        }
        self.out.push_str("\r\n");
    }
}

/// A TEXT value (§3.3.11): backslash, semicolon and comma escaped, line breaks as `\n`.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
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

/// Control characters other than HTAB are not allowed in a content line (§3.1).
fn strip_controls(value: &str) -> String {
    value
        .chars()
        .filter(|&c| c == '\t' || !c.is_control())
        .collect()
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
    fn text_is_escaped() {
        assert_eq!(
            escape_text("a,b;c\\d\ne\r\nf\rg"),
            "a\\,b\\;c\\\\d\\ne\\nf\\ng"
        );
    }

    #[test]
    fn long_lines_fold_at_75_octets_and_never_inside_a_character() {
        let mut ics = Ics::new();
        ics.text("SUMMARY", &[], &"é".repeat(100));
        let out = ics.into_string();
        let lines: Vec<&str> = out.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert!(lines.len() > 2);
        for (i, l) in lines.iter().enumerate() {
            assert!(l.len() <= 75, "line {i} is {} octets", l.len());
            assert_eq!(i > 0, l.starts_with(' '));
        }
        let unfolded = out.replace("\r\n ", "");
        assert_eq!(unfolded, format!("SUMMARY:{}\r\n", "é".repeat(100)));
    }

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
