//! Apple's NSArchiver "typedstream" format, read far enough to take the text out of a
//! Messages `attributedBody` (an archived `NSAttributedString`), which iOS 16 and later store
//! instead of `message.text`.
//!
//! Written from the format as public write-ups describe it (no GPL code was read):
//!
//! ```text
//! stream    = version:u8 (4)  signature:shared-string ("streamtyped")  system:int (1000)
//!             group*
//! group     = types:shared-string  value(type)...      one value per type in the string
//! int       = i8                         -128..=-111 are tags, so:
//!           | 0x81 i16-le | 0x82 i32-le  (0x83 then f32/f64-le for `f`/`d` values)
//! shared-string (type strings, class names)
//!           = 0x84 (NEW) length:int bytes     appended to the string table
//!           | 0x85 (NIL)
//!           | int                             reference: table index = int + 110 (0x92 is 0)
//! object (`@`)
//!           = 0x84 (NEW) class group* 0x86 (END)   takes the next object-table slot first
//!           | 0x85 (NIL) | int (reference into the object table, as above)
//! class     = 0x84 (NEW) name:shared-string version:int superclass:class
//!           | 0x85 (NIL, the end of the chain) | int (reference; classes share the object table)
//! `+`       = length:int bytes       (an NSString's UTF-8 bytes)
//! `*`       = 0x85 | 0x84 shared-string | int (a C string: nil; new, which takes the next
//!             object-table slot; or a reference into the object table)
//! `[Nt]`    = N values of t (N raw bytes for `c`/`C`);  `{name=t...}` = each field in turn
//! ```
//!
//! An `NSAttributedString` archives its string first: the root object's first group is one
//! `@` value, an `NSString` (or `NSMutableString`) whose first group is `+` with the UTF-8
//! text. The attribute runs (ranges and dictionaries) follow and are not needed for the text.
//!
//! Every read is bounds-checked: damaged or truncated bytes are an error, never a panic or a
//! read past the end; nesting is limited to [`MAX_DEPTH`].

use std::fmt;

/// Tags among the one-byte integers (as unsigned bytes).
const TAG_I16: u8 = 0x81;
const TAG_I32: u8 = 0x82;
const TAG_FLOAT: u8 = 0x83;
const TAG_NEW: u8 = 0x84;
const TAG_NIL: u8 = 0x85;
const TAG_END: u8 = 0x86;
/// A reference `r` is written as the integer `r + FIRST_REF` (so reference 0 is the byte 0x92).
const FIRST_REF: i64 = -110;

const SIGNATURE: &[u8] = b"streamtyped";
const STREAMER_VERSION: u8 = 4;
/// Objects within objects, arrays and structs: deeper than any archive Messages writes.
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypedStreamError {
    /// The bytes end before what they announce.
    Truncated { at: usize },
    /// Not a typedstream (wrong version or signature).
    NotTypedStream,
    /// Bytes that are not what the format allows at this place.
    Unexpected { at: usize, what: &'static str },
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep { at: usize },
    /// An archived object that is not an attributed string with a string in it.
    NotAttributedString,
}

impl fmt::Display for TypedStreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { at } => write!(f, "typedstream ends early (at byte {at})"),
            Self::NotTypedStream => write!(f, "not a typedstream (no `streamtyped` header)"),
            Self::Unexpected { at, what } => write!(f, "typedstream: {what} at byte {at}"),
            Self::TooDeep { at } => write!(f, "typedstream nested too deep at byte {at}"),
            Self::NotAttributedString => {
                write!(f, "typedstream holds no attributed string with text")
            }
        }
    }
}

impl std::error::Error for TypedStreamError {}

type Result<T> = std::result::Result<T, TypedStreamError>;

/// One archived value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Int(i64),
    Float(f64),
    /// `+` values and byte arrays (`[Nc]`).
    Bytes(&'a [u8]),
    /// A C string, a selector or an atom (`None` when nil).
    Str(Option<&'a [u8]>),
    Object(Option<Box<Object<'a>>>),
    /// A class (`#`): its chain of names, most derived first.
    Class(Vec<&'a [u8]>),
    /// An object or class archived earlier, by its index in the object table.
    Ref(usize),
    Array(Vec<Value<'a>>),
    Struct(Vec<Value<'a>>),
}

/// An archived object: its class chain (most derived first) and its groups of values.
#[derive(Debug, Clone, PartialEq)]
pub struct Object<'a> {
    pub classes: Vec<&'a [u8]>,
    pub groups: Vec<Vec<Value<'a>>>,
}

impl Object<'_> {
    pub fn is_a(&self, class: &str) -> bool {
        self.classes.contains(&class.as_bytes())
    }
}

/// The text of an archived `NSAttributedString` (U+FFFC marks where attachments go).
pub fn attributed_string_text(blob: &[u8]) -> Result<String> {
    let mut r = Reader::new(blob)?;
    let types = r.type_string()?;
    if types.as_slice() != [Type::Object] || r.byte()? != TAG_NEW {
        return Err(TypedStreamError::NotAttributedString);
    }
    r.objects.push(Entry::Object);
    let classes = r.class(0)?;
    if !classes.iter().any(|c| *c == b"NSAttributedString") {
        return Err(TypedStreamError::NotAttributedString);
    }
    // The root's first group: the string.
    if r.peek()? == TAG_END || r.type_string()?.as_slice() != [Type::Object] {
        return Err(TypedStreamError::NotAttributedString);
    }
    let Value::Object(Some(string)) = r.value(&Type::Object, 1)? else {
        return Err(TypedStreamError::NotAttributedString);
    };
    if !string.is_a("NSString") {
        return Err(TypedStreamError::NotAttributedString);
    }
    match string.groups.first().map(Vec::as_slice) {
        Some([Value::Bytes(bytes)]) => Ok(String::from_utf8_lossy(bytes).into_owned()),
        _ => Err(TypedStreamError::NotAttributedString),
    }
}

/// Every top-level group of a typedstream, read to its last byte.
pub fn parse(blob: &[u8]) -> Result<Vec<Vec<Value<'_>>>> {
    let mut r = Reader::new(blob)?;
    let mut groups = Vec::new();
    while r.pos < blob.len() {
        groups.push(r.group(0)?);
    }
    Ok(groups)
}

/// A type of the Objective-C type encoding, as typedstream groups use them.
#[derive(Debug, Clone, PartialEq)]
enum Type {
    Int,
    Float,
    Double,
    Object,
    Class,
    /// `*`: a C string.
    CString,
    /// `:` (selector) and `%` (atom): a shared string.
    Shared,
    /// `+`: length-prefixed bytes.
    Bytes,
    /// `[Nc]`: N raw bytes.
    ByteArray(usize),
    Array(usize, Box<Type>),
    Struct(Vec<Type>),
}

/// What an object-table slot holds: a class (its chain of names) or an object.
#[derive(Debug, Clone)]
enum Entry<'a> {
    Class(Vec<&'a [u8]>),
    Object,
    CString(Option<&'a [u8]>),
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    strings: Vec<&'a [u8]>,
    objects: Vec<Entry<'a>>,
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Result<Self> {
        let mut r = Reader {
            b,
            pos: 0,
            strings: Vec::new(),
            objects: Vec::new(),
        };
        let header = (|| {
            let version = r.byte()?;
            let len = r.int()?;
            let signature = r.take(usize::try_from(len).map_err(|_| r.bad("length"))?)?;
            let _system = r.int()?;
            Ok((version, signature))
        })();
        match header {
            Ok((STREAMER_VERSION, SIGNATURE)) => Ok(r),
            Ok(_) => Err(TypedStreamError::NotTypedStream),
            Err(TypedStreamError::Truncated { .. }) if b.len() < 16 => {
                Err(TypedStreamError::NotTypedStream)
            }
            Err(e) => Err(e),
        }
    }

    fn bad(&self, what: &'static str) -> TypedStreamError {
        TypedStreamError::Unexpected { at: self.pos, what }
    }

    fn peek(&self) -> Result<u8> {
        self.b
            .get(self.pos)
            .copied()
            .ok_or(TypedStreamError::Truncated { at: self.pos })
    }

    fn byte(&mut self) -> Result<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or(TypedStreamError::Truncated { at: self.b.len() })?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// An integer whose first byte was `first`.
    fn int_from(&mut self, first: u8) -> Result<i64> {
        match first {
            TAG_I16 => Ok(i64::from(i16::from_le_bytes(self.array()?))),
            TAG_I32 => Ok(i64::from(i32::from_le_bytes(self.array()?))),
            TAG_FLOAT..=TAG_END => Err(self.bad("a tag where an integer goes")),
            b => Ok(i64::from(b as i8)),
        }
    }

    fn int(&mut self) -> Result<i64> {
        let first = self.byte()?;
        self.int_from(first)
    }

    fn length(&mut self) -> Result<usize> {
        let n = self.int()?;
        usize::try_from(n).map_err(|_| self.bad("a negative length"))
    }

    fn reference(&mut self, first: u8) -> Result<usize> {
        let v = self.int_from(first)?;
        usize::try_from(v - FIRST_REF).map_err(|_| self.bad("a reference below 0"))
    }

    /// A shared string: new (added to the string table), nil, or a reference to the table.
    fn shared_string(&mut self) -> Result<Option<&'a [u8]>> {
        match self.byte()? {
            TAG_NIL => Ok(None),
            TAG_NEW => {
                let n = self.length()?;
                let s = self.take(n)?;
                self.strings.push(s);
                Ok(Some(s))
            }
            first => {
                let at = self.pos;
                let i = self.reference(first)?;
                match self.strings.get(i) {
                    Some(s) => Ok(Some(s)),
                    None => Err(TypedStreamError::Unexpected {
                        at,
                        what: "a reference to a string not yet read",
                    }),
                }
            }
        }
    }

    fn type_string(&mut self) -> Result<Vec<Type>> {
        let s = self
            .shared_string()?
            .ok_or_else(|| self.bad("a nil type string"))?;
        let at = self.pos;
        let mut p = TypeParser { s, i: 0, at };
        let mut types = Vec::new();
        while p.i < s.len() {
            types.push(p.one(0)?);
        }
        match types.is_empty() {
            true => Err(self.bad("an empty type string")),
            false => Ok(types),
        }
    }

    fn group(&mut self, depth: usize) -> Result<Vec<Value<'a>>> {
        let types = self.type_string()?;
        types.iter().map(|t| self.value(t, depth)).collect()
    }

    fn value(&mut self, t: &Type, depth: usize) -> Result<Value<'a>> {
        if depth > MAX_DEPTH {
            return Err(TypedStreamError::TooDeep { at: self.pos });
        }
        Ok(match t {
            Type::Int => Value::Int(self.int()?),
            Type::Float => match self.byte()? {
                TAG_FLOAT => Value::Float(f64::from(f32::from_le_bytes(self.array()?))),
                first => Value::Float(self.int_from(first)? as f64),
            },
            Type::Double => match self.byte()? {
                TAG_FLOAT => Value::Float(f64::from_le_bytes(self.array()?)),
                first => Value::Float(self.int_from(first)? as f64),
            },
            Type::Bytes => {
                let n = self.length()?;
                Value::Bytes(self.take(n)?)
            }
            Type::Shared => Value::Str(self.shared_string()?),
            Type::CString => match self.byte()? {
                TAG_NIL => Value::Str(None),
                TAG_NEW => {
                    let s = self.shared_string()?;
                    self.objects.push(Entry::CString(s));
                    Value::Str(s)
                }
                // A C string archived before: a reference into the object table.
                first => {
                    let at = self.pos;
                    let i = self.reference(first)?;
                    match self.objects.get(i) {
                        Some(Entry::CString(s)) => Value::Str(*s),
                        _ => {
                            return Err(TypedStreamError::Unexpected {
                                at,
                                what: "a C string reference to something not a C string",
                            });
                        }
                    }
                }
            },
            Type::Object => self.object(depth)?,
            Type::Class => match self.peek()? {
                TAG_NIL => {
                    self.pos += 1;
                    Value::Class(Vec::new())
                }
                _ => Value::Class(self.class(depth)?),
            },
            Type::ByteArray(n) => Value::Bytes(self.take(*n)?),
            Type::Array(n, elem) => {
                // Every value takes at least one byte: a longer array cannot be there.
                if *n > self.b.len() - self.pos {
                    return Err(TypedStreamError::Truncated { at: self.b.len() });
                }
                let mut items = Vec::with_capacity(*n);
                for _ in 0..*n {
                    items.push(self.value(elem, depth + 1)?);
                }
                Value::Array(items)
            }
            Type::Struct(fields) => Value::Struct(
                fields
                    .iter()
                    .map(|f| self.value(f, depth + 1))
                    .collect::<Result<_>>()?,
            ),
        })
    }

    fn object(&mut self, depth: usize) -> Result<Value<'a>> {
        match self.byte()? {
            TAG_NIL => Ok(Value::Object(None)),
            TAG_NEW => {
                self.objects.push(Entry::Object);
                let classes = self.class(depth)?;
                let mut groups = Vec::new();
                loop {
                    if self.peek()? == TAG_END {
                        self.pos += 1;
                        break;
                    }
                    groups.push(self.group(depth + 1)?);
                }
                Ok(Value::Object(Some(Box::new(Object { classes, groups }))))
            }
            first => {
                let at = self.pos;
                let i = self.reference(first)?;
                match i < self.objects.len() {
                    true => Ok(Value::Ref(i)),
                    false => Err(TypedStreamError::Unexpected {
                        at,
                        what: "a reference to an object not yet read",
                    }),
                }
            }
        }
    }

    /// A class and its superclasses: their names, most derived first.
    fn class(&mut self, depth: usize) -> Result<Vec<&'a [u8]>> {
        if depth > MAX_DEPTH {
            return Err(TypedStreamError::TooDeep { at: self.pos });
        }
        match self.byte()? {
            TAG_NIL => Ok(Vec::new()),
            TAG_NEW => {
                let slot = self.objects.len();
                self.objects.push(Entry::Class(Vec::new()));
                let name = self
                    .shared_string()?
                    .ok_or_else(|| self.bad("a class without a name"))?;
                let _version = self.int()?;
                let mut chain = vec![name];
                chain.extend(self.class(depth + 1)?);
                self.objects[slot] = Entry::Class(chain.clone());
                Ok(chain)
            }
            first => {
                let at = self.pos;
                let i = self.reference(first)?;
                match self.objects.get(i) {
                    Some(Entry::Class(chain)) => Ok(chain.clone()),
                    _ => Err(TypedStreamError::Unexpected {
                        at,
                        what: "a class reference to something not a class",
                    }),
                }
            }
        }
    }
}

/// Parses Objective-C type encodings (`iI`, `@`, `[650c]`, `{_NSRange=QQ}`).
struct TypeParser<'a> {
    s: &'a [u8],
    i: usize,
    at: usize,
}

impl TypeParser<'_> {
    fn bad(&self, what: &'static str) -> TypedStreamError {
        TypedStreamError::Unexpected { at: self.at, what }
    }

    fn next(&mut self) -> Result<u8> {
        let c = *self
            .s
            .get(self.i)
            .ok_or(self.bad("a type string cut short"))?;
        self.i += 1;
        Ok(c)
    }

    fn one(&mut self, depth: usize) -> Result<Type> {
        if depth > MAX_DEPTH {
            return Err(TypedStreamError::TooDeep { at: self.at });
        }
        Ok(match self.next()? {
            b'c' | b'C' | b's' | b'S' | b'i' | b'I' | b'l' | b'L' | b'q' | b'Q' | b'B' => Type::Int,
            b'f' => Type::Float,
            b'd' => Type::Double,
            b'@' => Type::Object,
            b'#' => Type::Class,
            b'*' => Type::CString,
            b':' | b'%' => Type::Shared,
            b'+' => Type::Bytes,
            // Qualifiers (const, in, out, by copy...) change nothing in the bytes.
            b'r' | b'n' | b'N' | b'o' | b'O' | b'R' | b'V' => self.one(depth)?,
            b'[' => {
                let mut n: usize = 0;
                while let Some(d) = self.s.get(self.i).filter(|c| c.is_ascii_digit()) {
                    n = n
                        .checked_mul(10)
                        .and_then(|n| n.checked_add(usize::from(d - b'0')))
                        .ok_or(self.bad("an array too long"))?;
                    self.i += 1;
                }
                // `c` and `C` arrays are raw bytes.
                if matches!(self.s.get(self.i..self.i + 2), Some(b"c]" | b"C]")) {
                    self.i += 2;
                    return Ok(Type::ByteArray(n));
                }
                let elem = self.one(depth + 1)?;
                if self.next()? != b']' {
                    return Err(self.bad("an array type without `]`"));
                }
                Type::Array(n, Box::new(elem))
            }
            b'{' => {
                while self.next()? != b'=' {
                    if self.s.get(self.i - 1) == Some(&b'}') {
                        return Ok(Type::Struct(Vec::new()));
                    }
                }
                let mut fields = Vec::new();
                while self.s.get(self.i) != Some(&b'}') {
                    fields.push(self.one(depth + 1)?);
                }
                self.i += 1;
                Type::Struct(fields)
            }
            _ => return Err(self.bad("a type this reader does not know")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::PathBuf;

    const OBJ: char = '\u{fffc}';

    fn fixtures() -> Vec<PathBuf> {
        let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures");
        ["ios-databases", "ios-databases-extra"]
            .iter()
            .map(|set| {
                shared
                    .join(set)
                    .join("imessage-exporter-typedstream/typedstream")
            })
            .collect()
    }

    fn blob(name: &str) -> Vec<u8> {
        for dir in fixtures() {
            if let Ok(b) = std::fs::read(dir.join(name)) {
                return b;
            }
        }
        panic!("the fixture blob {name} is required (../shared/fixtures)");
    }

    /// Every blob of both fixture sets.
    fn all_blobs() -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for dir in fixtures() {
            let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
                panic!("the fixture folder {} is required: {e}", dir.display())
            });
            for e in entries {
                let p = e.unwrap().path();
                out.push((
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
        out.sort();
        out
    }

    /// The text each blob holds: the fixtures' PROVENANCE.md table, and a naive scan of the
    /// ten blobs the extra set adds.
    fn expected() -> Vec<(&'static str, String)> {
        let o = OBJ;
        vec![
            ("0123456789", "0123456789".into()),
            (
                "35123",
                "0123456789\nBold Italics Underline Strikethrough\u{a0}\u{a0}Big Small Shake Nod Explode Ripple Bloom Jitter".into(),
            ),
            ("AppMessage", format!("{o}")),
            (
                "AppleMusicLyrics",
                "https://music.apple.com/us/lyrics/1329891623?ts=11.108&te=16.031&l=en&tk=2.v1.VsuX9f%2BaT1PyrgMgIT7ANQ%3D%3D&itsct=sharing_msg_lyrics&itscg=50401".into(),
            ),
            ("Array", "A single ChatGPT instance takes 5MW of power to run".into()),
            (
                "Attachment",
                format!("{o}This is how the notes look to me fyi, in case it helps make sense of anything"),
            ),
            ("AttributedBodyTextOnly", "Noter test".into()),
            ("AttributedBodyTextOnly2", "Test 3".into()),
            ("Blank", "".into()),
            (
                "CustomReaction",
                format!("Reacted with a sticker to \u{201c}Like I wonder if the stickers can be reactions \u{201d}{o}"),
            ),
            ("Date", "Hi. Right now or tomorrow?".into()),
            ("EditedWithFormatting", "Test".into()),
            ("Email", "asdfghjklq@gmail.com might work".into()),
            ("EmojiBoldUnderline", "\u{1f171}\u{fe0f}Bold_Underline".into()),
            ("Formatted", "Big small".into()),
            ("MultiAttachment", OBJ.to_string().repeat(19)),
            ("MultiPart", format!("{o}test 1{o}test 2 {o}test 3")),
            (
                "SingleLink",
                "https://www.ghacks.net/2020/01/23/lastpass-no-longer-listed-on-the-chrome-web-store/".into(),
            ),
            ("TextEffects", "Big small shake nod explode ripple bloom jitter".into()),
            ("TextStyles", "Bold underline italic strikethrough all four".into()),
            ("TextStylesSingleRange", "Everything".into()),
            ("Transcription", format!("{o}")),
            ("URL", "https://github.com/ReagentX/Logria".into()),
            ("URLMessage", "https://twitter.com/xxxxxxxxx/status/0000223300009216128".into()),
            ("AttachmentI16", format!("{o}")),
            ("Code", "000123 is your security code. Don't share your code.".into()),
            ("Mention", "Test Dad ".into()),
            (
                "MultiPartWithDeleted",
                format!("From arbitrary byte stream:\r{o}To native Rust data structures:\r"),
            ),
            ("OverlappingFormat", "8:00 pm".into()),
            ("PhoneNumber", "What about 0000000000".into()),
            ("StyledLink", "https://github.com/ReagentX/imessage-exporter/discussions/553".into()),
            ("TextStylesMixed", "Underline normal jitter normal".into()),
            (
                "WeirdText",
                "\u{1d58d}\u{1d58a}\u{1d591}\u{1d591}\u{1d594} \u{1d59c}\u{1d594}\u{1d597}\u{1d591}\u{1d589}".into(),
            ),
        ]
    }

    #[test]
    fn every_real_blob_decodes_to_its_text() {
        let blobs = all_blobs();
        assert_eq!(blobs.len(), 35, "25 + 10 fixture blobs");
        let expected = expected();
        for (name, text) in &expected {
            assert_eq!(
                attributed_string_text(&blob(name)).as_deref(),
                Ok(text.as_str()),
                "{name}"
            );
        }
        // LongMessage's 2,359 bytes of text use the two-byte length.
        let long = attributed_string_text(&blob("LongMessage")).unwrap();
        assert_eq!(long.len(), 2359);
        assert!(long.starts_with("Sed nibh velit, sodales et facilisis ut"));
        assert!(long.ends_with("Curabitur consectetur cursus sem nec accumsan."));
        // ExtraData was cut by hand upstream: its string claims 157 bytes where 16 are left
        // before the attributes, and the blob ends first. Which bytes were text is lost: an
        // error, not attribute bytes passed off as text.
        assert!(matches!(
            attributed_string_text(&blob("ExtraData")),
            Err(TypedStreamError::Truncated { .. })
        ));
        let named: Vec<&str> = expected.iter().map(|(n, _)| *n).collect();
        for (name, _) in &blobs {
            assert!(
                named.contains(&name.as_str())
                    || ["LongMessage", "ExtraData"].contains(&name.as_str()),
                "{name} has no expected text"
            );
        }
    }

    #[test]
    fn every_real_blob_parses_to_its_last_byte() {
        for (name, b) in all_blobs() {
            let parsed = parse(&b);
            if name == "ExtraData" {
                continue;
            }
            let groups = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
            let Some([Value::Object(Some(root))]) = groups.first().map(Vec::as_slice) else {
                panic!("{name}: the root is not one object");
            };
            assert!(root.is_a("NSAttributedString"), "{name}");
        }
    }

    #[test]
    fn no_prefix_of_a_real_blob_panics_or_invents_text() {
        for (name, b) in all_blobs() {
            let full = attributed_string_text(&b);
            for end in 0..b.len() {
                let cut = &b[..end];
                let _ = parse(cut);
                // A prefix either fails or, once the string is whole, gives the same text.
                if let Ok(text) = attributed_string_text(cut) {
                    assert_eq!(Ok(text), full.clone(), "{name}[..{end}]");
                }
            }
        }
    }

    #[test]
    fn a_stream_that_is_not_typedstream_is_said_so() {
        assert_eq!(
            attributed_string_text(b"bplist00"),
            Err(TypedStreamError::NotTypedStream)
        );
        assert_eq!(
            attributed_string_text(b""),
            Err(TypedStreamError::NotTypedStream)
        );
        let mut b = blob("Blank");
        b[0] = 3;
        assert_eq!(
            attributed_string_text(&b),
            Err(TypedStreamError::NotTypedStream)
        );
    }

    #[test]
    fn nesting_is_bounded() {
        // An object whose first group is an object whose first group is an object...
        let mut b = b"\x04\x0bstreamtyped\x81\xe8\x03\x84\x01@".to_vec();
        b.extend_from_slice(b"\x84\x84\x84\x08NSObject\x00\x85");
        for _ in 0..200 {
            b.extend_from_slice(b"\x92\x84\x93");
        }
        assert!(matches!(parse(&b), Err(TypedStreamError::TooDeep { .. })));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn damaged_blobs_never_panic(
            which in 0usize..35,
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            cut in any::<prop::sample::Index>(),
        ) {
            let blobs = all_blobs();
            let mut b = blobs[which % blobs.len()].1.clone();
            for (at, byte) in flips {
                let i = at.index(b.len());
                b[i] = byte;
            }
            let _ = attributed_string_text(&b);
            let _ = parse(&b);
            let end = cut.index(b.len() + 1);
            let _ = attributed_string_text(&b[..end]);
            let _ = parse(&b[..end]);
        }

        #[test]
        fn random_bytes_after_a_header_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut b = b"\x04\x0bstreamtyped\x81\xe8\x03".to_vec();
            b.extend_from_slice(&tail);
            let _ = attributed_string_text(&b);
            let _ = parse(&b);
        }
    }
}
