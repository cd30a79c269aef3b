//! What a snapshot's file is, as the browser will be told: its media type (from its first
//! bytes, else its name), whether it may be shown inline, the range of it asked for, its
//! name in a download, and snapshot paths as URL paths.
//!
//! Invariant: bytes from a device are hostile. Only images, videos and audio are ever served
//! as what they are (inline); everything else is `application/octet-stream` as an attachment,
//! so nothing a device holds runs as this server's origin (the raw responses also carry
//! `Content-Security-Policy: sandbox`, [`RAW_CSP`]).

/// The policy of every response that carries a snapshot's bytes: no script, no same origin.
pub const RAW_CSP: &str = "sandbox";

/// The type of whatever may not be shown inline.
pub const OPAQUE: &str = "application/octet-stream";

/// How many first bytes [`media_type`] looks at.
pub const SNIFF_LEN: usize = 64;

/// The media type a file is served as inline, when it is an image, a video or audio: what its
/// first bytes say, else what its name's extension says. `None`: an attachment.
///
/// SVG is not among them: it is an image that may hold scripts.
pub fn media_type(name: &str, head: &[u8]) -> Option<&'static str> {
    sniff(head).or_else(|| by_extension(name))
}

/// The type the magic numbers of `head` give (media only).
fn sniff(head: &[u8]) -> Option<&'static str> {
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    if at(0, b"\xFF\xD8\xFF") {
        return Some("image/jpeg");
    }
    if at(0, b"\x89PNG\r\n\x1A\n") {
        return Some("image/png");
    }
    if at(0, b"GIF87a") || at(0, b"GIF89a") {
        return Some("image/gif");
    }
    if at(0, b"RIFF") && at(8, b"WEBP") {
        return Some("image/webp");
    }
    if at(0, b"RIFF") && at(8, b"WAVE") {
        return Some("audio/wav");
    }
    if at(0, b"BM") && head.len() >= 26 && at(6, b"\0\0\0\0") {
        return Some("image/bmp");
    }
    if at(0, b"caff") {
        return Some("audio/x-caf");
    }
    if at(0, b"ID3") {
        return Some("audio/mpeg");
    }
    if at(4, b"ftyp") {
        let brand = head.get(8..12)?;
        return Some(match brand {
            b"heic" | b"heix" | b"heim" | b"heis" | b"mif1" | b"msf1" => "image/heic",
            b"avif" | b"avis" => "image/avif",
            b"qt  " => "video/quicktime",
            b"M4A " | b"M4B " => "audio/mp4",
            _ => "video/mp4",
        });
    }
    None
}

/// The media type an extension names (media only).
fn by_extension(name: &str) -> Option<&'static str> {
    let (_, ext) = name.rsplit_once('.')?;
    Some(match ext.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" | "heif" => "image/heic",
        "mov" => "video/quicktime",
        "mp4" | "m4v" => "video/mp4",
        "m4a" => "audio/mp4",
        "mp3" => "audio/mpeg",
        "caf" => "audio/x-caf",
        "wav" => "audio/wav",
        "amr" => "audio/amr",
        _ => return None,
    })
}

/// Whether a browser shows this type in an `img` or plays it in `video`/`audio` (HEIC and
/// CAF it does not, except Safari).
pub fn browser_shows(media: &str) -> bool {
    !matches!(media, "image/heic" | "audio/x-caf" | "audio/amr")
}

/// The one range of a file a `Range` header asks for, `start..end` (end exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAsk {
    /// No range, or one this server ignores (several ranges, another unit, not parseable):
    /// the whole file, 200.
    Whole,
    Part {
        start: u64,
        end: u64,
    },
    /// A range wholly past the end: 416.
    Unsatisfiable,
}

/// The range `header` (a `Range` value) asks of a file of `size` bytes.
pub fn parse_range(header: Option<&str>, size: u64) -> RangeAsk {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeAsk::Whole;
    };
    if spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAsk::Whole;
    };
    let num = |s: &str| match s.trim() {
        "" => Ok(None),
        t if t.bytes().all(|b| b.is_ascii_digit()) => t.parse::<u64>().map(Some).map_err(drop),
        _ => Err(()),
    };
    let (Ok(first), Ok(last)) = (num(first), num(last)) else {
        return RangeAsk::Whole;
    };
    let (start, end) = match (first, last) {
        // The last n bytes.
        (None, Some(0)) => return RangeAsk::Unsatisfiable,
        (None, Some(n)) => (size.saturating_sub(n), size),
        (Some(a), None) => (a, size),
        (Some(a), Some(b)) if b < a => return RangeAsk::Whole,
        (Some(a), Some(b)) => (a, b.saturating_add(1).min(size)),
        (None, None) => return RangeAsk::Whole,
    };
    match start < size {
        true => RangeAsk::Part { start, end },
        false => RangeAsk::Unsatisfiable,
    }
}

/// A `Content-Disposition` value naming `name` safely: an ASCII fallback with everything
/// doubtful replaced by `_`, and the exact name as RFC 5987's `filename*`.
pub fn disposition(kind: &str, name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '.' | '-' | '_' | ' ' | '(' | ')' => c,
            _ => '_',
        })
        .collect();
    let fallback = match fallback.trim_matches(['.', ' ']) {
        "" => "file".to_string(),
        f => f.to_string(),
    };
    format!(
        "{kind}; filename=\"{fallback}\"; filename*=UTF-8''{}",
        encode_component(name)
    )
}

/// One path segment `%`-encoded: all but RFC 3986's unreserved characters.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A snapshot path (`/`-separated names) as a URL path, each name encoded.
pub fn encode_path(path: &str) -> String {
    path.split('/')
        .filter(|c| !c.is_empty())
        .map(encode_component)
        .collect::<Vec<_>>()
        .join("/")
}

/// `/snapshot/HEX/VIEW/PATH`: the URL of a path of a snapshot in one view (`tree`, `file`,
/// `raw`, `zip`).
pub fn snapshot_url(hex: &str, view: &str, path: &str) -> String {
    format!("/snapshot/{hex}/{view}/{}", encode_path(path))
}

/// Whether `head` (a file's first bytes, maybe cut mid-character) reads as text.
pub fn is_text(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        // Cut in the middle of a character at the end only.
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_come_from_magic_then_name_and_nothing_else_is_inline() {
        assert_eq!(
            media_type("x.bin", b"\xFF\xD8\xFF\xE0..."),
            Some("image/jpeg")
        );
        assert_eq!(
            media_type("IMG_0001.HEIC", b"\0\0\0\x18ftypheic\0\0\0\0"),
            Some("image/heic")
        );
        assert_eq!(
            media_type("IMG_0002.MOV", b"\0\0\0\x14ftypqt  \0\0\0\0"),
            Some("video/quicktime")
        );
        assert_eq!(
            media_type("a", b"\0\0\0\x20ftypisom\0\0\0\0"),
            Some("video/mp4")
        );
        // The bytes win over the name: a PNG called .jpg is a PNG.
        assert_eq!(
            media_type("a.jpg", b"\x89PNG\r\n\x1A\n\0\0"),
            Some("image/png")
        );
        // A name alone makes media of bytes nothing recognises (served with nosniff).
        assert_eq!(media_type("song.MP3", b"\xFF\xFBxx"), Some("audio/mpeg"));
        for hostile in [
            "page.html",
            "x.svg",
            "script.js",
            "a.xml",
            "noext",
            "Info.plist",
        ] {
            assert_eq!(media_type(hostile, b"<html><script>"), None, "{hostile}");
        }
        assert_eq!(media_type("evil.svg", b"<svg onload=alert(1)>"), None);
        assert!(browser_shows("image/jpeg") && !browser_shows("image/heic"));
    }

    #[test]
    fn one_range_is_parsed_and_the_rest_is_the_whole_file() {
        let r = |h: &str| parse_range(Some(h), 1000);
        assert_eq!(parse_range(None, 1000), RangeAsk::Whole);
        assert_eq!(r("bytes=0-99"), RangeAsk::Part { start: 0, end: 100 });
        assert_eq!(
            r("bytes=900-"),
            RangeAsk::Part {
                start: 900,
                end: 1000
            }
        );
        assert_eq!(
            r("bytes=-100"),
            RangeAsk::Part {
                start: 900,
                end: 1000
            }
        );
        assert_eq!(
            r("bytes=-5000"),
            RangeAsk::Part {
                start: 0,
                end: 1000
            }
        );
        assert_eq!(
            r("bytes=990-5000"),
            RangeAsk::Part {
                start: 990,
                end: 1000
            }
        );
        assert_eq!(r("bytes=1000-"), RangeAsk::Unsatisfiable);
        assert_eq!(r("bytes=-0"), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-"), 0), RangeAsk::Unsatisfiable);
        for ignored in [
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=5-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=+1-2",
            "bytes=99999999999999999999999-",
        ] {
            assert_eq!(r(ignored), RangeAsk::Whole, "{ignored}");
        }
    }

    #[test]
    fn paths_are_encoded_per_name_and_download_names_cannot_break_the_header() {
        assert_eq!(
            encode_path("HomeDomain/Library/SMS/sms.db"),
            "HomeDomain/Library/SMS/sms.db"
        );
        assert_eq!(encode_path("A B/%/ü?#"), "A%20B/%25/%C3%BC%3F%23");
        assert_eq!(encode_path("/a//b/"), "a/b");
        assert_eq!(
            snapshot_url("ab", "tree", "D/x y"),
            "/snapshot/ab/tree/D/x%20y"
        );
        assert_eq!(snapshot_url("ab", "tree", ""), "/snapshot/ab/tree/");
        let d = disposition("attachment", "a\"b\r\nc;é.html");
        assert_eq!(
            d,
            "attachment; filename=\"a_b__c_é.html\"; filename*=UTF-8''a%22b%0D%0Ac%3B%C3%A9.html"
                .replace('é', "_")
        );
        assert!(axum::http::HeaderValue::from_str(&d).is_ok());
        assert_eq!(
            disposition("inline", ".."),
            "inline; filename=\"file\"; filename*=UTF-8''.."
        );
    }

    #[test]
    fn text_is_utf8_without_nul_even_when_cut_mid_character() {
        assert!(is_text(b"hello\n"));
        assert!(is_text("é".as_bytes()));
        assert!(is_text(&"aé".as_bytes()[..2]));
        assert!(!is_text(b"a\0b"));
        assert!(!is_text(b"\xFF\xFE"));
    }
}
