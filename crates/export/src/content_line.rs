//! Content lines as vCard (RFC 6350 §3.2-3.4) and iCalendar (RFC 5545 §3.1, §3.3.11) share
//! them: ended by CRLF, folded so that no line is longer than 75 octets (a continuation starts
//! with one space), never inside a UTF-8 character; TEXT values with backslash, comma,
//! semicolon and line breaks escaped; no control character but HTAB.

/// Longest line in octets, CRLF excluded.
const LINE_OCTETS: usize = 75;

/// Appends `line` to `out`, folded, with its CRLF.
pub(crate) fn fold(line: &str, out: &mut String) {
    let mut rest = line;
    let mut room = LINE_OCTETS;
    loop {
        if rest.len() <= room {
            out.push_str(rest);
            out.push_str("\r\n");
            return;
        }
        let mut cut = room;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        // The leading space of a continuation line counts.
        room = LINE_OCTETS - 1;
    }
}

/// A TEXT value: `\` `,` `;` escaped, line breaks (CRLF, CR or LF) as `\n`, other control
/// characters dropped.
pub(crate) fn escape_text(text: &str) -> String {
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
            c if c.is_control() && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// `value` without the control characters a content line may not hold (all but HTAB).
pub(crate) fn strip_controls(value: &str) -> String {
    value
        .chars()
        .filter(|&c| c == '\t' || !c.is_control())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn text_is_escaped_and_controls_dropped() {
        assert_eq!(
            escape_text("a,b;c\\d\ne\r\nf\rg\u{7}\th"),
            "a\\,b\\;c\\\\d\\ne\\nf\\ng\th"
        );
    }

    #[test]
    fn long_lines_fold_at_75_octets_between_characters() {
        let mut out = String::new();
        fold(&format!("SUMMARY:{}", "é".repeat(100)), &mut out);
        let lines: Vec<&str> = out.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert!(lines.len() > 2);
        for (i, l) in lines.iter().enumerate() {
            assert!(l.len() <= 75, "line {i} is {} octets", l.len());
            assert_eq!(i > 0, l.starts_with(' '));
        }
        assert_eq!(
            out.replace("\r\n ", ""),
            format!("SUMMARY:{}\r\n", "é".repeat(100))
        );
    }

    proptest! {
        #[test]
        fn folding_round_trips_any_line(text in "\\PC{0,300}") {
            let mut out = String::new();
            fold(&text, &mut out);
            for l in out.split("\r\n") {
                prop_assert!(l.len() <= 75);
            }
            prop_assert_eq!(out.replace("\r\n ", ""), format!("{text}\r\n"));
        }
    }
}
