//! The protobuf wire format, read by hand (no schema compiler), and the part of Apple's Notes
//! document that Hearth exports: the text and its attribute runs.
//!
//! The wire format (protobuf's "Encoding" guide): a message is a sequence of fields, each a
//! varint key `field_number << 3 | wire_type` and a value; wire type 0 is a varint, 1 eight
//! little-endian bytes, 2 a varint length and that many bytes (strings, bytes, messages), 5 four
//! little-endian bytes. Types 3 and 4 (groups) are not used by Notes and are an error here.
//!
//! The Notes document (`ZICNOTEDATA.ZDATA` once gunzipped), as documented by
//! threeplanetssoftware/apple_cloud_notes_parser's `proto/notestore.proto` (MIT; read, not
//! copied), and checked against the iOS 15 and 17.3 fixtures:
//!
//! ```text
//! NoteStoreProto { 2: Document }
//! Document       { 2: version (varint), 3: Note }
//! Note           { 2: note_text (string), 5: AttributeRun (repeated) }
//! AttributeRun   { 1: length (UTF-16 units), 2: ParagraphStyle, 5: font_weight
//!                  (1 bold, 2 italic, 3 both), 6: underlined, 7: strikethrough,
//!                  9: link (string), 12: AttachmentInfo }
//! ParagraphStyle { 1: style_type (absent: body; 0 title, 1 heading, 2 subheading,
//!                  4 monospaced, 100 dotted list, 101 dashed list, 102 numbered list,
//!                  103 checklist), 4: indent_amount, 5: Checklist, 8: block_quote }
//! Checklist      { 1: uuid (bytes), 2: done (varint) }
//! AttachmentInfo { 1: attachment_identifier (string), 2: type_uti (string) }
//! ```
//!
//! Other fields (the CRDT substrings of field 3 of Note, colours, fonts, timestamps) are
//! skipped. Invariant: no input makes these readers panic or read out of bounds; bytes that
//! are not a Notes document give a [`WireError`].

use std::fmt;

/// Why bytes are not a protobuf message (or not a Notes document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// The bytes end inside a field.
    Truncated,
    /// A varint of more than ten bytes.
    LongVarint,
    /// A wire type Notes never writes (groups, or 6 and 7).
    WireType(u8),
    /// A field of the wrong wire type where the document needs a value.
    Shape(&'static str),
    /// The document has no text.
    NoText,
    /// The text is not UTF-8.
    NotUtf8,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated => write!(f, "the protobuf ends inside a field"),
            WireError::LongVarint => write!(f, "a protobuf varint longer than ten bytes"),
            WireError::WireType(t) => write!(f, "protobuf wire type {t}, which Notes never writes"),
            WireError::Shape(what) => write!(f, "{what} is not of the expected protobuf type"),
            WireError::NoText => write!(f, "the note document has no text"),
            WireError::NotUtf8 => write!(f, "the note text is not UTF-8"),
        }
    }
}

/// One field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// The fields of one message, in order.
pub struct Fields<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Fields<'a> {
    pub fn new(message: &'a [u8]) -> Self {
        Self {
            rest: message,
            failed: false,
        }
    }

    fn next_field(&mut self) -> Result<(u64, Value<'a>), WireError> {
        let key = varint(&mut self.rest)?;
        let value = match key & 7 {
            0 => Value::Varint(varint(&mut self.rest)?),
            1 => Value::Fixed64(u64::from_le_bytes(take_array(&mut self.rest)?)),
            2 => {
                let len = varint(&mut self.rest)?;
                let len = usize::try_from(len).map_err(|_| WireError::Truncated)?;
                Value::Bytes(take(&mut self.rest, len)?)
            }
            5 => Value::Fixed32(u32::from_le_bytes(take_array(&mut self.rest)?)),
            t => return Err(WireError::WireType(t as u8)),
        };
        Ok((key >> 3, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Value<'a>), WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        let field = self.next_field();
        self.failed = field.is_err();
        Some(field)
    }
}

fn varint(buf: &mut &[u8]) -> Result<u64, WireError> {
    let mut value = 0u64;
    for i in 0..10 {
        let (&byte, rest) = buf.split_first().ok_or(WireError::Truncated)?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Ok(value);
        }
    }
    Err(WireError::LongVarint)
}

fn take<'a>(buf: &mut &'a [u8], len: usize) -> Result<&'a [u8], WireError> {
    if buf.len() < len {
        return Err(WireError::Truncated);
    }
    let (head, rest) = buf.split_at(len);
    *buf = rest;
    Ok(head)
}

fn take_array<const N: usize>(buf: &mut &[u8]) -> Result<[u8; N], WireError> {
    let bytes = take(buf, N)?;
    let mut out = [0u8; N];
    out.copy_from_slice(bytes);
    Ok(out)
}

/// The last value of field `number` that is a length-delimited field (protobuf's rule for a
/// non-repeated field seen twice: the last wins).
fn message_field<'a>(
    message: &'a [u8],
    number: u64,
    what: &'static str,
) -> Result<Option<&'a [u8]>, WireError> {
    let mut found = None;
    for field in Fields::new(message) {
        match field? {
            (n, Value::Bytes(b)) if n == number => found = Some(b),
            (n, _) if n == number => return Err(WireError::Shape(what)),
            _ => {}
        }
    }
    Ok(found)
}

/// A note's text and how it is styled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoteBody {
    pub text: String,
    pub runs: Vec<Run>,
}

/// A stretch of the text with one style; `len` counts UTF-16 code units, as Apple's NSString.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Run {
    pub len: u64,
    pub paragraph: Paragraph,
    pub bold: bool,
    pub italic: bool,
    pub underline: bool,
    pub strikethrough: bool,
    pub link: Option<String>,
    pub attachment: Option<AttachmentRef>,
}

/// How the paragraph holding a run is styled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Paragraph {
    pub style: Style,
    pub indent: u64,
    pub block_quote: bool,
}

/// Paragraph styles (`ParagraphStyle.style_type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Style {
    #[default]
    Body,
    Title,
    Heading,
    Subheading,
    Monospaced,
    Dotted,
    Dashed,
    Numbered,
    Checklist {
        done: bool,
    },
}

impl Style {
    /// The style of `style_type` (an unknown number is body text).
    pub fn from_type(style_type: i64, checklist_done: bool) -> Style {
        match style_type {
            0 => Style::Title,
            1 => Style::Heading,
            2 => Style::Subheading,
            4 => Style::Monospaced,
            100 => Style::Dotted,
            101 => Style::Dashed,
            102 => Style::Numbered,
            103 => Style::Checklist {
                done: checklist_done,
            },
            _ => Style::Body,
        }
    }
}

/// An attachment the text holds at a U+FFFC (OBJECT REPLACEMENT CHARACTER).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttachmentRef {
    pub identifier: Option<String>,
    pub type_uti: Option<String>,
}

/// Reads a gunzipped `ZICNOTEDATA.ZDATA`.
pub fn decode_note(bytes: &[u8]) -> Result<NoteBody, WireError> {
    let document =
        message_field(bytes, 2, "the document")?.ok_or(WireError::Shape("the document"))?;
    let note = message_field(document, 3, "the note")?.ok_or(WireError::Shape("the note"))?;
    let mut text = None;
    let mut runs = Vec::new();
    for field in Fields::new(note) {
        match field? {
            (2, Value::Bytes(b)) => text = Some(b),
            (2, _) => return Err(WireError::Shape("the note text")),
            (5, Value::Bytes(b)) => runs.push(decode_run(b)?),
            (5, _) => return Err(WireError::Shape("an attribute run")),
            _ => {}
        }
    }
    let text = text.ok_or(WireError::NoText)?;
    let text = std::str::from_utf8(text).map_err(|_| WireError::NotUtf8)?;
    Ok(NoteBody {
        text: text.to_string(),
        runs,
    })
}

fn decode_run(bytes: &[u8]) -> Result<Run, WireError> {
    let mut run = Run::default();
    for field in Fields::new(bytes) {
        match field? {
            (1, Value::Varint(v)) => run.len = v,
            (2, Value::Bytes(b)) => run.paragraph = decode_paragraph(b)?,
            (5, Value::Varint(w)) => {
                run.bold = matches!(w, 1 | 3);
                run.italic = matches!(w, 2 | 3);
            }
            (6, Value::Varint(u)) => run.underline = u != 0,
            (7, Value::Varint(s)) => run.strikethrough = s != 0,
            (9, Value::Bytes(b)) => run.link = Some(String::from_utf8_lossy(b).into_owned()),
            (12, Value::Bytes(b)) => run.attachment = Some(decode_attachment(b)?),
            (1 | 2 | 5 | 6 | 7 | 9 | 12, _) => return Err(WireError::Shape("an attribute run")),
            _ => {}
        }
    }
    Ok(run)
}

fn decode_paragraph(bytes: &[u8]) -> Result<Paragraph, WireError> {
    let mut style_type = -1i64;
    let mut done = false;
    let mut paragraph = Paragraph::default();
    for field in Fields::new(bytes) {
        match field? {
            // An int32: negative values are ten-byte varints (two's complement).
            (1, Value::Varint(v)) => style_type = v as i64,
            (4, Value::Varint(v)) => paragraph.indent = v,
            (5, Value::Bytes(b)) => done = decode_checklist_done(b)?,
            (8, Value::Varint(v)) => paragraph.block_quote = v != 0,
            (1 | 4 | 5 | 8, _) => return Err(WireError::Shape("a paragraph style")),
            _ => {}
        }
    }
    paragraph.style = Style::from_type(style_type, done);
    Ok(paragraph)
}

fn decode_checklist_done(bytes: &[u8]) -> Result<bool, WireError> {
    let mut done = false;
    for field in Fields::new(bytes) {
        match field? {
            (2, Value::Varint(v)) => done = v != 0,
            (2, _) => return Err(WireError::Shape("a checklist item")),
            _ => {}
        }
    }
    Ok(done)
}

fn decode_attachment(bytes: &[u8]) -> Result<AttachmentRef, WireError> {
    let mut attachment = AttachmentRef::default();
    for field in Fields::new(bytes) {
        match field? {
            (1, Value::Bytes(b)) => {
                attachment.identifier = Some(String::from_utf8_lossy(b).into_owned())
            }
            (2, Value::Bytes(b)) => {
                attachment.type_uti = Some(String::from_utf8_lossy(b).into_owned())
            }
            (1 | 2, _) => return Err(WireError::Shape("an attachment")),
            _ => {}
        }
    }
    Ok(attachment)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A minimal protobuf writer for the tests (the test kit has its own).
    fn key(out: &mut Vec<u8>, field: u64, wire: u64) {
        put_varint(out, field << 3 | wire);
    }

    fn put_varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn bytes_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
        key(out, field, 2);
        put_varint(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }

    fn varint_field(out: &mut Vec<u8>, field: u64, v: u64) {
        key(out, field, 0);
        put_varint(out, v);
    }

    fn document(text: &str, runs: &[Vec<u8>]) -> Vec<u8> {
        let mut note = Vec::new();
        bytes_field(&mut note, 2, text.as_bytes());
        // A CRDT substring, as Notes writes (skipped).
        bytes_field(
            &mut note,
            3,
            &[0x0a, 0x04, 0x08, 0x00, 0x10, 0x00, 0x10, 0x00],
        );
        for r in runs {
            bytes_field(&mut note, 5, r);
        }
        let mut doc = Vec::new();
        varint_field(&mut doc, 2, 0);
        bytes_field(&mut doc, 3, &note);
        let mut root = Vec::new();
        varint_field(&mut root, 1, 0);
        bytes_field(&mut root, 2, &doc);
        root
    }

    fn run(len: u64, style_type: Option<i64>, done: Option<bool>, weight: u64) -> Vec<u8> {
        let mut r = Vec::new();
        varint_field(&mut r, 1, len);
        let mut p = Vec::new();
        if let Some(t) = style_type {
            varint_field(&mut p, 1, t as u64);
        }
        if let Some(d) = done {
            let mut c = Vec::new();
            bytes_field(&mut c, 1, &[7; 16]);
            varint_field(&mut c, 2, u64::from(d));
            bytes_field(&mut p, 5, &c);
        }
        bytes_field(&mut r, 2, &p);
        if weight != 0 {
            varint_field(&mut r, 5, weight);
        }
        r
    }

    #[test]
    fn a_document_gives_its_text_and_runs() {
        let doc = document(
            "Shopping\nMilk\n",
            &[run(9, Some(0), None, 0), run(5, Some(103), Some(true), 3)],
        );
        let body = decode_note(&doc).unwrap();
        assert_eq!(body.text, "Shopping\nMilk\n");
        assert_eq!(body.runs.len(), 2);
        assert_eq!(body.runs[0].paragraph.style, Style::Title);
        assert_eq!(
            body.runs[1].paragraph.style,
            Style::Checklist { done: true }
        );
        assert!(body.runs[1].bold && body.runs[1].italic);
    }

    #[test]
    fn negative_style_types_are_ten_byte_varints() {
        let doc = document("x", &[run(1, Some(-1), None, 2)]);
        let body = decode_note(&doc).unwrap();
        assert_eq!(body.runs[0].paragraph.style, Style::Body);
        assert!(body.runs[0].italic && !body.runs[0].bold);
    }

    #[test]
    fn what_is_not_a_note_is_an_error() {
        assert_eq!(decode_note(&[]), Err(WireError::Shape("the document")));
        assert_eq!(decode_note(&[0x12, 0x05, 0x01]), Err(WireError::Truncated));
        assert_eq!(decode_note(&[0x13]), Err(WireError::WireType(3)));
        let mut long = vec![0x08];
        long.extend([0xff; 11]);
        assert_eq!(decode_note(&long), Err(WireError::LongVarint));
        let mut no_text = Vec::new();
        bytes_field(&mut no_text, 3, &[]);
        let mut root = Vec::new();
        bytes_field(&mut root, 2, &no_text);
        assert_eq!(decode_note(&root), Err(WireError::NoText));
        let mut doc = Vec::new();
        varint_field(&mut doc, 3, 1);
        let mut root = Vec::new();
        bytes_field(&mut root, 2, &doc);
        assert_eq!(decode_note(&root), Err(WireError::Shape("the note")));
    }

    #[test]
    fn every_truncation_of_a_document_is_an_error_not_a_panic() {
        let doc = document(
            "Title\nbody with a link\n",
            &[run(6, Some(0), None, 0), run(17, None, Some(false), 1)],
        );
        assert!(decode_note(&doc).is_ok());
        for end in 0..doc.len() {
            assert!(decode_note(&doc[..end]).is_err(), "cut at {end}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_note(&bytes);
            for f in Fields::new(&bytes) {
                if f.is_err() {
                    break;
                }
            }
        }

        #[test]
        fn flipped_bytes_of_a_document_never_panic(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut doc = document(
                "Groceries\nEggs\nflour \u{1F600}\n",
                &[run(10, Some(0), None, 0), run(5, Some(103), Some(true), 0), run(9, Some(100), None, 2)],
            );
            for (at, byte) in flips {
                let i = at.index(doc.len());
                doc[i] ^= byte;
            }
            let end = cut.index(doc.len() + 1);
            if let Ok(body) = decode_note(&doc[..end]) {
                // Whatever decodes renders without panicking too.
                let _ = super::super::markdown::render(&body, None, &|_| None);
            }
        }
    }
}
