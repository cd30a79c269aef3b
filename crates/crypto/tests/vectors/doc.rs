//! Vectors as hex rows, and their worked examples in `docs/format.md` §15.

use crate::VECTORS;

/// Bytes a row of a hex dump holds.
const PER_LINE: usize = 16;
/// Width of a full line of hex: 16 bytes as `xx` separated by spaces.
const HEX_WIDTH: usize = PER_LINE * 3 - 1;

/// Expected bytes, one row per field: the bytes as hex and what they are.
pub struct Vector {
    pub name: &'static str,
    rows: Vec<(Vec<u8>, &'static str)>,
}

impl Vector {
    /// `rows`: hex digits in pairs separated by spaces, and a label.
    pub fn new(name: &'static str, rows: &[(&str, &'static str)]) -> Self {
        let rows = rows
            .iter()
            .map(|(hex, label)| {
                let bytes = hex
                    .split(' ')
                    .map(|pair| {
                        assert_eq!(pair.len(), 2, "{name}: {label}: {pair:?} is not two digits");
                        u8::from_str_radix(pair, 16).expect("hex digits")
                    })
                    .collect();
                (bytes, *label)
            })
            .collect();
        Self { name, rows }
    }

    /// Every row's bytes, in order.
    pub fn bytes(&self) -> Vec<u8> {
        self.rows
            .iter()
            .flat_map(|(b, _)| b.iter().copied())
            .collect()
    }

    /// The bytes of row `i`.
    pub fn row(&self, i: usize) -> &[u8] {
        &self.rows[i].0
    }

    /// The worked example as `docs/format.md` shows it: `vector: NAME`, then each row's
    /// bytes 16 to a line, its label after the first.
    pub fn render(&self) -> String {
        let mut out = format!("vector: {}\n", self.name);
        for (bytes, label) in &self.rows {
            for (i, line) in bytes.chunks(PER_LINE).enumerate() {
                let hex = spaced_hex(line);
                let text = if i == 0 {
                    format!("{hex:<HEX_WIDTH$}  {label}")
                } else {
                    hex
                };
                out.push_str(text.trim_end());
                out.push('\n');
            }
        }
        out
    }

    /// Asserts `actual` is this vector's bytes and `docs/format.md` shows it.
    #[track_caller]
    pub fn check(&self, actual: &[u8]) {
        let expected = self.bytes();
        if actual != expected {
            let at = actual
                .iter()
                .zip(&expected)
                .position(|(a, e)| a != e)
                .unwrap_or(actual.len().min(expected.len()));
            panic!(
                "vector {:?}: the code's bytes differ from the expected ones at offset {at} \
                 ({} bytes, expected {}):\n  code:     {}\n  expected: {}",
                self.name,
                actual.len(),
                expected.len(),
                spaced_hex(actual),
                spaced_hex(&expected),
            );
        }
        assert_in_doc(self);
    }
}

/// `bytes` as pairs of lower-case hex digits separated by spaces.
pub fn spaced_hex(bytes: &[u8]) -> String {
    let pairs: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    pairs.join(" ")
}

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/format.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The names of the vectors the document shows: each fenced block whose first line is
/// `vector: NAME`.
fn names_in_doc(doc: &str) -> Vec<String> {
    let lines: Vec<&str> = doc.lines().collect();
    lines
        .windows(2)
        .filter(|w| w[0].starts_with("```"))
        .filter_map(|w| w[1].strip_prefix("vector: "))
        .map(str::to_owned)
        .collect()
}

#[track_caller]
fn assert_in_doc(v: &Vector) {
    assert!(VECTORS.contains(&v.name), "{:?} is not in VECTORS", v.name);
    let block = format!("```text\n{}```\n", v.render());
    assert!(
        doc().contains(&block),
        "docs/format.md §15 does not show vector {:?} as the code computes it. If the code \
         changed, the format changed: fix the code. If the document is new or was edited, this \
         is the block it must hold:\n\n{block}",
        v.name
    );
}

#[test]
fn the_document_shows_every_vector_once_and_no_other() {
    let mut in_doc = names_in_doc(&doc());
    in_doc.sort();
    let mut expected: Vec<String> = VECTORS.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(in_doc, expected);
}

#[test]
fn a_long_row_wraps_at_16_bytes_with_its_label_on_the_first_line() {
    let v = Vector::new(
        "example",
        &[
            ("01 02", "two"),
            (
                "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11",
                "eighteen",
            ),
        ],
    );
    assert_eq!(
        v.render(),
        "vector: example\n\
         01 02                                            two\n\
         00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f  eighteen\n\
         10 11\n"
    );
}
