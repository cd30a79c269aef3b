//! The `fileID` of a Manifest.db row: `hex(sha1(domain + "-" + relativePath))`.
//!
//! A fileID names a blob on disk (`<device folder>/<first two chars>/<fileID>`), and it comes from
//! a database an attacker can write, so it is only ever used as a path after [`FileId::parse`] has
//! checked that it is exactly 40 lower-case hex characters (format reference §1, §11.11).

use std::fmt;
use std::str::FromStr;

use sha1::{Digest, Sha1};

/// Length of a fileID in characters (a SHA-1 digest in hex).
pub const FILE_ID_LEN: usize = 40;

/// A validated fileID.
///
/// Invariant: the inner string is exactly [`FILE_ID_LEN`] characters from `[0-9a-f]`, so it is a
/// safe single path component and `blob_path` can slice it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct FileId(String);

/// Why a string is not a fileID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fileID {shown:?}: expected exactly 40 lower-case hex characters ({problem})")]
pub struct InvalidFileId {
    /// The offending input, cut to 64 characters so a hostile value cannot flood a log.
    pub shown: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl FileId {
    /// Accepts exactly 40 characters from `[0-9a-f]`; upper case is rejected because Apple
    /// writes lower case and the blob file name must match byte for byte.
    pub fn parse(s: &str) -> Result<FileId, InvalidFileId> {
        let problem = if s.len() != FILE_ID_LEN {
            Some("wrong length")
        } else if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Some("upper case")
        } else if !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Some("not hex")
        } else {
            None
        };
        match problem {
            None => Ok(FileId(s.to_owned())),
            Some(problem) => Err(InvalidFileId {
                shown: s.chars().take(64).collect(),
                problem,
            }),
        }
    }

    /// The fileID Apple derives for a row: `hex(sha1(domain + "-" + relative_path))`.
    /// The domain root row has `relative_path == ""` and hashes `"<domain>-"`.
    pub fn for_path(domain: &str, relative_path: &str) -> FileId {
        let mut hasher = Sha1::new();
        hasher.update(domain.as_bytes());
        hasher.update(b"-");
        hasher.update(relative_path.as_bytes());
        FileId(hex::encode(hasher.finalize()))
    }

    /// The 40-character lower-case hex string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Relative path of the blob inside the device folder: `"ab/ab12…"` (iOS 10+ layout).
    pub fn blob_path(&self) -> String {
        format!("{}/{}", &self.0[..2], self.0)
    }
}

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for FileId {
    type Err = InvalidFileId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FileId::parse(s)
    }
}

impl AsRef<str> for FileId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMS: &str = "3d0d7e5fb2ce288813306e4d4636395e047a3d28";

    #[test]
    fn for_path_matches_apple() {
        assert_eq!(
            FileId::for_path("HomeDomain", "Library/SMS/sms.db").as_str(),
            SMS
        );
    }

    #[test]
    fn root_row_hashes_domain_and_dash() {
        // sha1("HomeDomain-"), the fileID of the HomeDomain root row in the mvt fixture.
        let expected = "70765829101933f25994c71bbee6dfd685535bff";
        assert_eq!(FileId::for_path("HomeDomain", "").as_str(), expected);
    }

    #[test]
    fn parse_accepts_lower_hex() {
        let id = FileId::parse(SMS).unwrap();
        assert_eq!(id.as_str(), SMS);
        assert_eq!(id.to_string(), SMS);
        assert_eq!(id.blob_path(), format!("3d/{SMS}"));
    }

    #[test]
    fn parse_rejects_upper_case() {
        let err = FileId::parse(&SMS.to_uppercase()).unwrap_err();
        assert_eq!(err.problem, "upper case");
        assert!(err.to_string().contains("40 lower-case hex"), "{err}");
    }

    #[test]
    fn parse_rejects_wrong_length() {
        assert_eq!(
            FileId::parse(&SMS[..39]).unwrap_err().problem,
            "wrong length"
        );
        assert_eq!(
            FileId::parse(&format!("{SMS}0")).unwrap_err().problem,
            "wrong length"
        );
        assert_eq!(FileId::parse("").unwrap_err().problem, "wrong length");
    }

    #[test]
    fn parse_rejects_non_hex_and_traversal() {
        let non_hex = format!("g{}", &SMS[1..]);
        assert_eq!(FileId::parse(&non_hex).unwrap_err().problem, "not hex");
        assert!(FileId::parse("../..").is_err());
        let traversal = format!("../{}", &SMS[3..]);
        assert_eq!(FileId::parse(&traversal).unwrap_err().problem, "not hex");
        // Multi-byte characters must not be miscounted as 40 "characters".
        assert!(FileId::parse(&"é".repeat(20)).is_err());
    }

    #[test]
    fn error_message_is_bounded() {
        let long = "x".repeat(10_000);
        let err = FileId::parse(&long).unwrap_err();
        assert!(err.to_string().len() < 200);
    }
}
