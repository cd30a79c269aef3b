//! A vCard 4.0 writer (RFC 6350), just what the address book needs.
//!
//! Invariants, each tested below:
//! - lines end with CRLF and are folded so that no line is longer than 75 octets (a
//!   continuation starts with one space and holds at most 74 more), never inside a UTF-8
//!   sequence (§3.2);
//! - in text values a backslash, comma, semicolon and line break are escaped (`\\`, `\,`,
//!   `\;`, `\n`), in every component of a structured value too (§3.4), so that `N`, `ADR` and
//!   `ORG` keep their shape whatever a name holds;
//! - URI and date values (`PHOTO:data:…`, `UID:urn:uuid:…`, `BDAY:--0515`) are written as they
//!   are: they contain none of those characters or must not be escaped.

use crate::content_line::{escape_text, fold, strip_controls};

/// One vCard being written.
pub(crate) struct VCard {
    text: String,
    /// Groups given so far (`item1`, `item2`, ...): a value with a label vCard has no TYPE for
    /// is written as `itemN.TEL:…` and `itemN.X-ABLabel:…`, as Apple's Contacts does.
    groups: u32,
}

impl VCard {
    pub(crate) fn new() -> Self {
        let mut card = Self {
            text: String::new(),
            groups: 0,
        };
        card.line("BEGIN:VCARD");
        card.line("VERSION:4.0");
        card
    }

    /// `NAME;PARAMS:value` with `value` escaped as text.
    pub(crate) fn text(&mut self, name: &str, params: &[&str], value: &str) {
        self.property(None, name, params, &escape_text(value));
    }

    /// `NAME;PARAMS:c1;c2;…` with each component escaped as text.
    pub(crate) fn structured(&mut self, name: &str, params: &[&str], components: &[&str]) {
        let value: Vec<String> = components.iter().map(|c| escape_text(c)).collect();
        self.property(None, name, params, &value.join(";"));
    }

    /// `NAME;PARAMS:value` with `value` already in its value syntax (a URI, a date).
    pub(crate) fn raw(&mut self, name: &str, params: &[&str], value: &str) {
        self.property(None, name, params, value);
    }

    /// A text value with a label: TYPE parameters when vCard has them, else a group with an
    /// `X-ABLabel` (which Apple's Contacts and most readers show as the label).
    pub(crate) fn labelled(
        &mut self,
        name: &str,
        params: &[&str],
        value: &str,
        custom_label: Option<&str>,
    ) {
        match custom_label {
            None => self.property(None, name, params, value),
            Some(label) => {
                self.groups += 1;
                let group = format!("item{}", self.groups);
                self.property(Some(&group), name, params, value);
                self.property(Some(&group), "X-ABLabel", &[], &escape_text(label));
            }
        }
    }

    pub(crate) fn finish(mut self) -> String {
        self.line("END:VCARD");
        self.text
    }

    fn property(&mut self, group: Option<&str>, name: &str, params: &[&str], value: &str) {
        let mut line = String::with_capacity(name.len() + value.len() + 16);
        if let Some(g) = group {
            line.push_str(g);
            line.push('.');
        }
        line.push_str(name);
        for p in params {
            line.push(';');
            line.push_str(p);
        }
        line.push(':');
        line.push_str(&strip_controls(value));
        self.line(&line);
    }

    fn line(&mut self, line: &str) {
        fold(line, &mut self.text);
    }
}

/// The label Apple stores (`_$!<Mobile>!$_`, or the user's own `TextNow`) as people read it:
/// `Mobile`, `TextNow`.
pub(crate) fn plain_label(label: &str) -> &str {
    label
        .strip_prefix("_$!<")
        .and_then(|l| l.strip_suffix(">!$_"))
        .unwrap_or(label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The logical lines of a card: unfolded (RFC 6350 §3.2), without their CRLF.
    fn unfold(card: &str) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        for physical in card.split("\r\n").filter(|l| !l.is_empty()) {
            match physical.strip_prefix(' ') {
                Some(more) => lines.last_mut().unwrap().push_str(more),
                None => lines.push(physical.to_string()),
            }
        }
        lines
    }

    fn unescape(value: &str) -> String {
        let mut out = String::new();
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            match (c, c == '\\') {
                (_, true) => match chars.next() {
                    Some('n' | 'N') => out.push('\n'),
                    Some(e) => out.push(e),
                    None => {}
                },
                (c, false) => out.push(c),
            }
        }
        out
    }

    #[test]
    fn special_characters_are_escaped_in_every_component() {
        let mut card = VCard::new();
        card.structured("N", &[], &["De'Fer; Jr", "Thom", "", "", ""]);
        card.text("NOTE", &[], "a, b\\c\r\nline two\rthree");
        card.labelled("TEL", &[], "+1 555", Some("Text;Now"));
        let text = card.finish();
        assert_eq!(
            text,
            "BEGIN:VCARD\r\nVERSION:4.0\r\nN:De'Fer\\; Jr;Thom;;;\r\n\
             NOTE:a\\, b\\\\c\\nline two\\nthree\r\n\
             item1.TEL:+1 555\r\nitem1.X-ABLabel:Text\\;Now\r\nEND:VCARD\r\n"
        );
    }

    #[test]
    fn long_lines_fold_at_75_octets_between_characters() {
        let mut card = VCard::new();
        let name = "Zoë Ångström-Łukasiewicz 山田太郎 ".repeat(6);
        card.text("FN", &[], &name);
        let text = card.finish();
        for line in text.split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
        }
        let lines = unfold(&text);
        assert_eq!(lines[2], format!("FN:{name}"));
    }

    #[test]
    fn apple_labels_read_plainly() {
        assert_eq!(plain_label("_$!<Mobile>!$_"), "Mobile");
        assert_eq!(plain_label("TextNow"), "TextNow");
        assert_eq!(plain_label("_$!<Odd"), "_$!<Odd");
    }

    proptest! {
        /// Whatever the text, a folded and escaped line reads back as the same value.
        #[test]
        fn any_text_round_trips(value in "\\PC{0,300}|[,;\\\\\r\n a-zé山]{0,200}") {
            let mut card = VCard::new();
            card.text("NOTE", &[], &value);
            let text = card.finish();
            for line in text.split("\r\n") {
                prop_assert!(line.len() <= 75);
                prop_assert!(!line.contains('\r') && !line.contains('\n'));
            }
            let lines = unfold(&text);
            prop_assert_eq!(lines.len(), 4);
            let got = unescape(lines[2].strip_prefix("NOTE:").unwrap());
            prop_assert_eq!(got, value.replace("\r\n", "\n").replace('\r', "\n"));
        }
    }
}
